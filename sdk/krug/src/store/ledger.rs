//! Ledger rows: accounts, lots, entries and lot moves.

use sqlx::Row;
use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Stmt, args};
use super::{StoreError, TenantTx, from_ts, on, parse, ts};
use crate::ledger::{Account, Entry, EntryKind, Lot, Plan, Source};
use crate::status::HeldStatus;
use crate::types::{Bonus, BusinessId, EntryId, LotId, MemberId, PurchaseId, TierCode};

/// A member's account row.
#[derive(Debug, Clone)]
pub(crate) struct StoredAccount {
    pub(crate) balance: Bonus,
    pub(crate) debt: Bonus,
    pub(crate) held: HeldStatus,
}

/// One entry as the member's history shows it.
#[derive(Debug, Clone)]
pub(crate) struct HistoryRow {
    pub(crate) id: EntryId,
    pub(crate) kind: EntryKind,
    pub(crate) amount: Bonus,
    pub(crate) source: Source,
    pub(crate) business: Option<BusinessId>,
    pub(crate) purchase: Option<PurchaseId>,
    pub(crate) reverses: Option<EntryId>,
    pub(crate) at: OffsetDateTime,
}

type AccountTuple = (i64, i64, Option<String>, Option<i64>, Option<String>);

type LotTuple = (Uuid, Option<String>, String, Option<Uuid>, i64, i64, i64, i64);

fn lot_from(row: LotTuple) -> Result<Lot, StoreError> {
    let (id, issuer, source, purchase, amount, remaining, available_at, expires_at) = row;
    Ok(Lot {
        id: LotId::from_uuid(id),
        issuer: issuer.map(|b| parse("lot issuer", BusinessId::parse(&b))).transpose()?,
        source: Source::parse(&source).ok_or_else(|| StoreError::Corrupt(format!("lot source {source}")))?,
        purchase: purchase.map(PurchaseId::from_uuid),
        amount: parse("lot amount", Bonus::new(amount))?,
        remaining: parse("lot remaining", Bonus::new(remaining))?,
        available_at: from_ts(available_at)?,
        expires_at: from_ts(expires_at)?,
    })
}

fn account_from(row: AccountTuple) -> Result<StoredAccount, StoreError> {
    let (balance, debt, earned, below_since, invited) = row;
    Ok(StoredAccount {
        balance: parse("balance", Bonus::new(balance))?,
        debt: parse("debt", Bonus::new(debt))?,
        held: HeldStatus {
            earned: tier(earned)?,
            below_since: below_since.map(from_ts).transpose()?,
            invited: tier(invited)?,
        },
    })
}

fn tier(value: Option<String>) -> Result<Option<TierCode>, StoreError> {
    value.map(|t| parse("tier", TierCode::parse(&t))).transpose()
}

const INSERT_LOT: Stmt = Stmt::insert(
    "lots",
    "INSERT INTO lots (tenant_id, lot_id, member_id, issuer_business_id, source, purchase_id, amount, \
                 remaining, available_at, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
);

const UPDATE_LOT_REMAINING: Stmt =
    Stmt::update("lots", "UPDATE lots SET remaining = $3 WHERE tenant_id = $1 AND lot_id = $2");

const UPDATE_ACCOUNT: Stmt = Stmt::update(
    "accounts",
    "UPDATE accounts SET balance = $3, debt = $4, updated_at = $5 WHERE tenant_id = $1 AND member_id = $2",
);

const UPDATE_ACCOUNT_AND_STATUS: Stmt = Stmt::update(
    "accounts",
    "UPDATE accounts SET balance = $3, debt = $4, updated_at = $5, earned_tier = $6, below_since = $7, \
                     invited_tier = $8 WHERE tenant_id = $1 AND member_id = $2",
);

const INSERT_ENTRY: Stmt = Stmt::insert(
    "entries",
    "INSERT INTO entries (tenant_id, entry_id, member_id, kind, amount, source, business_id, purchase_id, \
             reverses_entry_id, debt_delta, reason, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
);

const INSERT_LOT_MOVE: Stmt = Stmt::insert(
    "lot_moves",
    "INSERT INTO lot_moves (tenant_id, entry_id, seq, lot_id, issuer_business_id, redeemer_business_id, \
                 amount, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
);

impl TenantTx {
    /// Opens an empty account for a new member.
    pub(crate) async fn insert_account(&mut self, member: MemberId, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO accounts (tenant_id, member_id, balance, debt, updated_at) VALUES ($1, $2, 0, 0, $3)",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Reads the member's account, locking it for the rest of the transaction so concurrent
    /// writes for the same member run one after another.
    pub(crate) async fn lock_account(&mut self, member: MemberId) -> Result<StoredAccount, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<AccountTuple> = match self.flushed().await? {
            // The SQLite write transaction already holds the database's write lock.
            super::Tx::Sqlite(t) => {
                sqlx::query_as(
                    "SELECT balance, debt, earned_tier, below_since, invited_tier FROM accounts \
                 WHERE tenant_id = $1 AND member_id = $2",
                )
                .bind(&tenant)
                .bind(member.as_uuid())
                .fetch_optional(&mut **t)
                .await?
            }
            super::Tx::Postgres(t) => {
                sqlx::query_as(
                    "SELECT balance, debt, earned_tier, below_since, invited_tier FROM accounts \
                 WHERE tenant_id = $1 AND member_id = $2 FOR UPDATE",
                )
                .bind(&tenant)
                .bind(member.as_uuid())
                .fetch_optional(&mut **t)
                .await?
            }
        };
        account_from(row.ok_or(StoreError::NotFound)?)
    }

    /// [`TenantTx::lock_account`] then [`TenantTx::load_lots`] (without `also`): the purchase
    /// path's first read. One statement on SQLite, whose single writer already excludes every
    /// other write. Two on PostgreSQL, deliberately: a statement that waited for the account's
    /// row lock re-checks only the locked row, and would join it with the lots as they were before
    /// the wait — the lots must be read by a statement that starts after the lock is held.
    pub(crate) async fn lock_account_with_lots(
        &mut self,
        member: MemberId,
    ) -> Result<(StoredAccount, Vec<Lot>), StoreError> {
        type Row = (
            i64,
            i64,
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<Uuid>,
            Option<String>,
            Option<String>,
            Option<Uuid>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
        );
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<Row> = match self.flushed().await? {
            // The SQLite write transaction already holds the database's write lock.
            super::Tx::Sqlite(t) => {
                sqlx::query_as(
                    "SELECT a.balance, a.debt, a.earned_tier, a.below_since, a.invited_tier, l.lot_id, \
                     l.issuer_business_id, l.source, l.purchase_id, l.amount, l.remaining, l.available_at, l.expires_at \
                     FROM accounts a LEFT JOIN lots l ON l.tenant_id = a.tenant_id AND l.member_id = a.member_id \
                     AND l.remaining > 0 WHERE a.tenant_id = $1 AND a.member_id = $2",
                )
                .bind(&tenant)
                .bind(member.as_uuid())
                .fetch_all(&mut **t)
                .await?
            }
            super::Tx::Postgres(_) => {
                let account = self.lock_account(member).await?;
                return Ok((account, self.load_lots(member, &[]).await?));
            }
        };
        let first = rows.first().ok_or(StoreError::NotFound)?;
        let account = account_from((first.0, first.1, first.2.clone(), first.3, first.4.clone()))?;
        let mut lots = Vec::with_capacity(rows.len());
        for row in rows {
            let (_, _, _, _, _, id, issuer, source, purchase, amount, remaining, available_at, expires_at) = row;
            let Some(id) = id else { continue };
            let missing = || StoreError::Corrupt(format!("lot {id}: a column is null"));
            lots.push(lot_from((
                id,
                issuer,
                source.ok_or_else(missing)?,
                purchase,
                amount.ok_or_else(missing)?,
                remaining.ok_or_else(missing)?,
                available_at.ok_or_else(missing)?,
                expires_at.ok_or_else(missing)?,
            ))?);
        }
        Ok((account, lots))
    }

    /// Reads the account without locking (views).
    pub(crate) async fn account(&mut self, member: MemberId) -> Result<StoredAccount, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<AccountTuple> = on!(self, c => sqlx::query_as(
            "SELECT balance, debt, earned_tier, below_since, invited_tier FROM accounts \
             WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_optional(c)
        .await)?;
        account_from(row.ok_or(StoreError::NotFound)?)
    }

    /// Loads the member's open lots (something left), plus the named lots even when empty.
    pub(crate) async fn load_lots(&mut self, member: MemberId, also: &[LotId]) -> Result<Vec<Lot>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<LotTuple> = on!(self, c => sqlx::query_as(
            "SELECT lot_id, issuer_business_id, source, purchase_id, amount, remaining, available_at, expires_at \
             FROM lots WHERE tenant_id = $1 AND member_id = $2 AND remaining > 0",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_all(c)
        .await)?;
        let mut lots = rows.into_iter().map(lot_from).collect::<Result<Vec<_>, _>>()?;
        for id in also {
            if lots.iter().any(|l| l.id == *id) {
                continue;
            }
            let row: Option<LotTuple> = on!(self, c => sqlx::query_as(
                "SELECT lot_id, issuer_business_id, source, purchase_id, amount, remaining, available_at, expires_at \
                 FROM lots WHERE tenant_id = $1 AND member_id = $2 AND lot_id = $3",
            )
            .bind(&tenant)
            .bind(member.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(c)
            .await)?;
            lots.push(lot_from(row.ok_or(StoreError::NotFound)?)?);
        }
        Ok(lots)
    }

    /// Writes what a plan decided: new lots, changed lots, entries with their moves, and the
    /// account's new balance and debt. `balance` must be the account's balance after the plan.
    pub(crate) async fn write_plan(
        &mut self,
        member: MemberId,
        plan: &Plan,
        account: &Account,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.write_plan_and_status(member, plan, account, None, now).await
    }

    /// [`TenantTx::write_plan`], storing the member's held status in the same update of her
    /// account row when `held` is given (one statement instead of two on the purchase path).
    pub(crate) async fn write_plan_and_status(
        &mut self,
        member: MemberId,
        plan: &Plan,
        account: &Account,
        held: Option<&HeldStatus>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let find = |id: &LotId| account.lots.iter().find(|l| l.id == *id).ok_or(StoreError::NotFound);
        for id in &plan.new_lots {
            let lot = find(id)?;
            self.defer(
                INSERT_LOT,
                args![
                    &tenant,
                    lot.id.as_uuid(),
                    member.as_uuid(),
                    lot.issuer.as_ref().map(BusinessId::as_str),
                    lot.source.as_str(),
                    lot.purchase.map(|p| p.as_uuid()),
                    lot.amount.get(),
                    lot.remaining.get(),
                    ts(lot.available_at),
                    ts(lot.expires_at),
                    ts(now),
                ],
            )
            .await?;
        }
        for id in &plan.touched {
            let lot = find(id)?;
            self.defer(UPDATE_LOT_REMAINING, args![&tenant, lot.id.as_uuid(), lot.remaining.get()]).await?;
        }
        for entry in &plan.entries {
            self.insert_entry(member, entry).await?;
        }
        let balance = account.balance().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match held {
            None => {
                self.defer(UPDATE_ACCOUNT, args![&tenant, member.as_uuid(), balance.get(), account.debt.get(), ts(now)])
                    .await
            }
            Some(held) => {
                self.defer(
                    UPDATE_ACCOUNT_AND_STATUS,
                    args![
                        &tenant,
                        member.as_uuid(),
                        balance.get(),
                        account.debt.get(),
                        ts(now),
                        held.earned.as_ref().map(TierCode::as_str),
                        held.below_since.map(ts),
                        held.invited.as_ref().map(TierCode::as_str),
                    ],
                )
                .await
            }
        }
    }

    async fn insert_entry(&mut self, member: MemberId, entry: &Entry) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            INSERT_ENTRY,
            args![
                &tenant,
                entry.id.as_uuid(),
                member.as_uuid(),
                entry.kind.as_str(),
                entry.amount.get(),
                entry.source.as_str(),
                entry.business.as_ref().map(BusinessId::as_str),
                entry.purchase.map(|p| p.as_uuid()),
                entry.reverses.map(|e| e.as_uuid()),
                entry.debt_delta.get(),
                entry.reason.as_deref(),
                entry.actor.as_deref(),
                ts(entry.at),
            ],
        )
        .await?;
        for (seq, mv) in entry.moves.iter().enumerate() {
            let seq = i32::try_from(seq).map_err(|_| StoreError::Corrupt("too many lot moves".into()))?;
            self.defer(
                INSERT_LOT_MOVE,
                args![
                    &tenant,
                    entry.id.as_uuid(),
                    seq,
                    mv.lot.as_uuid(),
                    mv.issuer.as_ref().map(BusinessId::as_str),
                    mv.redeemer.as_ref().map(BusinessId::as_str),
                    mv.amount.get(),
                    ts(entry.at),
                ],
            )
            .await?;
        }
        Ok(())
    }

    /// What a redemption still holds of each lot (its moves net of later give-backs), in the
    /// order the lots were consumed.
    pub(crate) async fn redemption_holdings(&mut self, redemption: EntryId) -> Result<Vec<(LotId, Bonus)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, i64)> = on!(self, c => sqlx::query_as(
            "SELECT m.lot_id, m.amount FROM lot_moves m JOIN entries e \
               ON e.tenant_id = m.tenant_id AND e.entry_id = m.entry_id \
             WHERE m.tenant_id = $1 AND (e.entry_id = $2 OR e.reverses_entry_id = $2) \
             ORDER BY e.created_at, e.entry_id, m.seq",
        )
        .bind(&tenant)
        .bind(redemption.as_uuid())
        .fetch_all(c)
        .await)?;
        let mut held: Vec<(LotId, Bonus)> = Vec::new();
        for (lot, amount) in rows {
            let lot = LotId::from_uuid(lot);
            let taken = parse("move", Bonus::new(amount))?.neg();
            match held.iter_mut().find(|(l, _)| *l == lot) {
                Some((_, b)) => {
                    *b = b.checked_add(taken).ok_or_else(|| StoreError::Corrupt("holding overflow".into()))?
                }
                None => held.push((lot, taken)),
            }
        }
        Ok(held)
    }

    /// Stores the member's held status.
    pub(crate) async fn update_status(&mut self, member: MemberId, held: &HeldStatus) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE accounts SET earned_tier = $3, below_since = $4, invited_tier = $5 WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(held.earned.as_ref().map(TierCode::as_str))
        .bind(held.below_since.map(ts))
        .bind(held.invited.as_ref().map(TierCode::as_str))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The member's entries, newest first, starting after `before` (a keyset cursor).
    pub(crate) async fn history(
        &mut self,
        member: MemberId,
        before: Option<EntryId>,
        limit: u32,
    ) -> Result<Vec<HistoryRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        type Row = (Uuid, String, i64, String, Option<String>, Option<Uuid>, Option<Uuid>, i64);
        // Entry ids are UUIDv7, so id order is creation order.
        let cursor = before.map(|e| e.as_uuid());
        let rows: Vec<Row> = on!(self, c => sqlx::query_as(
            "SELECT entry_id, kind, amount, source, business_id, purchase_id, reverses_entry_id, created_at \
             FROM entries WHERE tenant_id = $1 AND member_id = $2 AND ($3 IS NULL OR entry_id < $3) \
             ORDER BY entry_id DESC LIMIT $4",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(cursor)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await)?;
        rows.into_iter()
            .map(|(id, kind, amount, source, business, purchase, reverses, at)| {
                Ok(HistoryRow {
                    id: EntryId::from_uuid(id),
                    kind: EntryKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("entry kind {kind}")))?,
                    amount: parse("entry amount", Bonus::new(amount))?,
                    source: Source::parse(&source)
                        .ok_or_else(|| StoreError::Corrupt(format!("entry source {source}")))?,
                    business: business.map(|b| parse("entry business", BusinessId::parse(&b))).transpose()?,
                    purchase: purchase.map(PurchaseId::from_uuid),
                    reverses: reverses.map(EntryId::from_uuid),
                    at: from_ts(at)?,
                })
            })
            .collect()
    }

    /// Σ of the member's entries, and Σ of her lots' remaining amounts (for the invariant check).
    pub(crate) async fn ledger_sums(&mut self, member: MemberId) -> Result<(Bonus, Bonus), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row = on!(self, c => sqlx::query(
            "SELECT CAST(COALESCE((SELECT SUM(amount) FROM entries WHERE tenant_id = $1 AND member_id = $2), 0) AS BIGINT) AS e, \
                    CAST(COALESCE((SELECT SUM(remaining) FROM lots WHERE tenant_id = $1 AND member_id = $2), 0) AS BIGINT) AS l",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_one(c)
        .await
        .and_then(|r| Ok((r.try_get::<i64, _>("e")?, r.try_get::<i64, _>("l")?))))?;
        Ok((parse("Σ entries", Bonus::new(row.0))?, parse("Σ lots", Bonus::new(row.1))?))
    }

    /// Members with lapsed lots still holding bonus at `now`, at most `limit`.
    pub(crate) async fn members_with_lapsed_lots(
        &mut self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<MemberId>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid,)> = on!(self, c => sqlx::query_as(
            "SELECT DISTINCT member_id FROM lots WHERE tenant_id = $1 AND remaining > 0 AND expires_at <= $2 LIMIT $3",
        )
        .bind(&tenant)
        .bind(ts(now))
        .bind(i64::from(limit))
        .fetch_all(c)
        .await)?;
        Ok(rows.into_iter().map(|(m,)| MemberId::from_uuid(m)).collect())
    }

    /// Partner-to-partner settlement for `[from, to)`: what bonuses issued by one business were
    /// spent at another, net of refunds' give-backs. Ecosystem-funded lots are not a partner debt.
    pub(crate) async fn settlement(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<(BusinessId, BusinessId, Bonus)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(String, String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT issuer_business_id, redeemer_business_id, CAST(-SUM(amount) AS BIGINT) FROM lot_moves \
             WHERE tenant_id = $1 AND redeemer_business_id IS NOT NULL AND issuer_business_id IS NOT NULL \
               AND issuer_business_id <> redeemer_business_id AND created_at >= $2 AND created_at < $3 \
             GROUP BY issuer_business_id, redeemer_business_id ORDER BY issuer_business_id, redeemer_business_id",
        )
        .bind(&tenant)
        .bind(ts(from))
        .bind(ts(to))
        .fetch_all(c)
        .await)?;
        rows.into_iter()
            .filter(|(_, _, amount)| *amount != 0)
            .map(|(issuer, redeemer, amount)| {
                Ok((
                    parse("issuer", BusinessId::parse(&issuer))?,
                    parse("redeemer", BusinessId::parse(&redeemer))?,
                    parse("settlement amount", Bonus::new(amount))?,
                ))
            })
            .collect()
    }
}
