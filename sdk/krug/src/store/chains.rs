//! Cross-promo chains: definitions with their partners' approvals, members' progress, steps made
//! and rewards paid.
//!
//! Invariants:
//! - a member's progress is only changed by a transaction that holds the member's account lock
//!   (the purchase pipeline, refunds, the fan-out choice), so concurrent scans of one member
//!   advance it one after the other;
//! - a reward is paid at most once per `(chain, member, run, cycle, slot)`: the primary key of
//!   `chain_rewards` refuses a second one even if a caller forgot to check;
//! - a chain's status changes under its row's lock (`FOR UPDATE` on PostgreSQL).

use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Stmt, args};
use super::{StoreError, TenantTx, Tx, from_ts, on, parse, ts};
use crate::chain::{ChainDefinition, Progress};
use crate::types::{Bonus, BusinessId, Category, EntryId, Kopecks, LotId, MemberId, PurchaseId};

/// A stored chain.
#[derive(Debug, Clone)]
pub(crate) struct ChainRow {
    pub(crate) id: Uuid,
    pub(crate) definition: ChainDefinition,
    pub(crate) status: String,
    pub(crate) created_by: String,
    pub(crate) created_at: OffsetDateTime,
}

/// A partner of a chain and its approval.
#[derive(Debug, Clone)]
pub(crate) struct PartnerRow {
    pub(crate) business: BusinessId,
    pub(crate) approved_by: Option<String>,
    pub(crate) approved_at: Option<OffsetDateTime>,
}

/// A step made by a purchase.
#[derive(Debug, Clone)]
pub(crate) struct StepRow {
    pub(crate) chain: Uuid,
    pub(crate) member: MemberId,
    pub(crate) run: u32,
    pub(crate) cycle: u32,
    pub(crate) step: usize,
    pub(crate) seq: i64,
    pub(crate) purchase: PurchaseId,
    pub(crate) business: BusinessId,
    pub(crate) amount: Kopecks,
    /// The progress before the step (`None`: the member had none).
    pub(crate) before: Option<Progress>,
    pub(crate) made_at: OffsetDateTime,
}

/// A reward paid.
#[derive(Debug, Clone)]
pub(crate) struct RewardRow {
    pub(crate) chain: Uuid,
    pub(crate) member: MemberId,
    pub(crate) run: u32,
    pub(crate) cycle: u32,
    pub(crate) slot: usize,
    pub(crate) purchase: Option<PurchaseId>,
    pub(crate) funded_by: BusinessId,
    pub(crate) bonus: Bonus,
    pub(crate) entry: Option<EntryId>,
    pub(crate) lot: Option<LotId>,
    pub(crate) coupon: Option<String>,
    pub(crate) paid_at: OffsetDateTime,
}

/// A purchase as chain analytics sees it: who, where, under which category, when, and its
/// amount net of refunds.
#[derive(Debug, Clone)]
pub(crate) struct PurchaseFact {
    pub(crate) member: MemberId,
    pub(crate) business: BusinessId,
    pub(crate) category: Category,
    pub(crate) net: Kopecks,
    pub(crate) at: OffsetDateTime,
}

type ChainTuple = (Uuid, String, String, String, i64);

const CHAIN_SELECT: &str =
    "SELECT chain_id, definition, status, created_by, created_at FROM chains WHERE tenant_id = $1";

fn chain_from(row: ChainTuple) -> Result<ChainRow, StoreError> {
    let (id, definition, status, created_by, created_at) = row;
    Ok(ChainRow {
        id,
        definition: parse("chain definition", serde_json::from_str(&definition))?,
        status,
        created_by,
        created_at: from_ts(created_at)?,
    })
}

fn count(what: &str, v: i64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}

fn index(what: &str, v: i64) -> Result<usize, StoreError> {
    usize::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v}")))
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

type StepTuple = (Uuid, Uuid, i64, i64, i64, i64, Uuid, String, i64, Option<String>, i64);

const STEP_COLUMNS: &str =
    "chain_id, member_id, run, cycle, step, seq, purchase_id, business_id, amount, prev_progress, made_at";

fn step_from(row: StepTuple) -> Result<StepRow, StoreError> {
    let (chain, member, run, cycle, step, seq, purchase, business, amount, before, made_at) = row;
    Ok(StepRow {
        chain,
        member: MemberId::from_uuid(member),
        run: count("run", run)?,
        cycle: count("cycle", cycle)?,
        step: index("step", step)?,
        seq,
        purchase: PurchaseId::from_uuid(purchase),
        business: parse("business", BusinessId::parse(&business))?,
        amount: parse("amount", Kopecks::new(amount))?,
        before: before.map(|b| parse("progress", serde_json::from_str(&b))).transpose()?,
        made_at: from_ts(made_at)?,
    })
}

type RewardTuple =
    (Uuid, Uuid, i64, i64, i64, Option<Uuid>, String, i64, Option<Uuid>, Option<Uuid>, Option<String>, i64);

const REWARD_COLUMNS: &str =
    "chain_id, member_id, run, cycle, slot, purchase_id, funded_by, bonus, entry_id, lot_id, coupon_code, paid_at";

fn reward_from(row: RewardTuple) -> Result<RewardRow, StoreError> {
    let (chain, member, run, cycle, slot, purchase, funded_by, bonus, entry, lot, coupon, paid_at) = row;
    Ok(RewardRow {
        chain,
        member: MemberId::from_uuid(member),
        run: count("run", run)?,
        cycle: count("cycle", cycle)?,
        slot: index("slot", slot)?,
        purchase: purchase.map(PurchaseId::from_uuid),
        funded_by: parse("funded by", BusinessId::parse(&funded_by))?,
        bonus: parse("bonus", Bonus::new(bonus))?,
        entry: entry.map(EntryId::from_uuid),
        lot: lot.map(LotId::from_uuid),
        coupon,
        paid_at: from_ts(paid_at)?,
    })
}

fn signed(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

const PUT_PROGRESS: Stmt = Stmt::update(
    "chain_progress",
    "INSERT INTO chain_progress (tenant_id, chain_id, member_id, progress, updated_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, chain_id, member_id) \
     DO UPDATE SET progress = excluded.progress, updated_at = excluded.updated_at",
);

const INSERT_CHAIN_STEP: Stmt = Stmt::insert(
    "chain_steps",
    "INSERT INTO chain_steps (tenant_id, chain_id, member_id, run, cycle, step, seq, purchase_id, business_id, \
     amount, prev_progress, made_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
);

const INSERT_CHAIN_REWARD: Stmt = Stmt::insert(
    "chain_rewards",
    "INSERT INTO chain_rewards (tenant_id, chain_id, member_id, run, cycle, slot, purchase_id, funded_by, bonus, \
     entry_id, lot_id, coupon_code, paid_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
);

impl TenantTx {
    /// Stores a new draft chain with its partners (none approved yet).
    pub(crate) async fn insert_chain(
        &mut self,
        id: Uuid,
        definition: &ChainDefinition,
        created_by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let text = json(definition)?;
        on!(self, c => sqlx::query(
            "INSERT INTO chains (tenant_id, chain_id, name, kind, definition, status, starts_at, ends_at, created_by, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'draft', $6, $7, $8, $9, $9)",
        )
        .bind(&tenant)
        .bind(id)
        .bind(&definition.name)
        .bind(definition.kind.as_str())
        .bind(&text)
        .bind(ts(definition.starts_at))
        .bind(ts(definition.ends_at))
        .bind(created_by)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        for business in definition.partners() {
            on!(self, c => sqlx::query(
                "INSERT INTO chain_partners (tenant_id, chain_id, business_id) VALUES ($1, $2, $3)",
            )
            .bind(&tenant)
            .bind(id)
            .bind(business.as_str())
            .execute(c).await.map(|_| ()))?;
        }
        Ok(())
    }

    /// One chain.
    pub(crate) async fn chain(&mut self, id: Uuid) -> Result<Option<ChainRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = format!("{CHAIN_SELECT} AND chain_id = $2");
        let row: Option<ChainTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&tenant).bind(id).fetch_optional(c).await)?;
        row.map(chain_from).transpose()
    }

    /// One chain, its row locked until the transaction ends (PostgreSQL; SQLite's write
    /// transaction holds the database lock already).
    pub(crate) async fn lock_chain(&mut self, id: Uuid) -> Result<Option<ChainRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let base = format!("{CHAIN_SELECT} AND chain_id = $2");
        let row: Option<ChainTuple> = match self.flushed().await? {
            Tx::Sqlite(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(base)).bind(&tenant).bind(id).fetch_optional(&mut **t).await?
            }
            Tx::Postgres(t) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!("{base} FOR UPDATE")))
                    .bind(&tenant)
                    .bind(id)
                    .fetch_optional(&mut **t)
                    .await?
            }
        };
        row.map(chain_from).transpose()
    }

    /// Chains, newest first: all, or those a business takes part in.
    pub(crate) async fn chains(&mut self, partner: Option<&BusinessId>) -> Result<Vec<ChainRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<ChainTuple> = match partner {
            None => {
                let sql = format!("{CHAIN_SELECT} ORDER BY created_at DESC, chain_id");
                on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&tenant).fetch_all(c).await)?
            }
            Some(b) => {
                let sql = format!(
                    "{CHAIN_SELECT} AND chain_id IN (SELECT chain_id FROM chain_partners WHERE tenant_id = $1 \
                     AND business_id = $2) ORDER BY created_at DESC, chain_id"
                );
                on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(&tenant).bind(b.as_str()).fetch_all(c).await)?
            }
        };
        rows.into_iter().map(chain_from).collect()
    }

    /// A chain's partners and their approvals.
    pub(crate) async fn chain_partners(&mut self, chain: Uuid) -> Result<Vec<PartnerRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(String, Option<String>, Option<i64>)> = on!(self, c => sqlx::query_as(
            "SELECT business_id, approved_by, approved_at FROM chain_partners WHERE tenant_id = $1 AND chain_id = $2 \
             ORDER BY business_id",
        )
        .bind(&tenant).bind(chain).fetch_all(c).await)?;
        rows.into_iter()
            .map(|(b, by, at)| {
                Ok(PartnerRow {
                    business: parse("business", BusinessId::parse(&b))?,
                    approved_by: by,
                    approved_at: at.map(from_ts).transpose()?,
                })
            })
            .collect()
    }

    /// Records a partner's approval (kept from the first time).
    pub(crate) async fn approve_chain(
        &mut self,
        chain: Uuid,
        business: &BusinessId,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE chain_partners SET approved_by = $4, approved_at = $5 WHERE tenant_id = $1 AND chain_id = $2 \
             AND business_id = $3 AND approved_at IS NULL",
        )
        .bind(&tenant).bind(chain).bind(business.as_str()).bind(by).bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Sets a chain's status.
    pub(crate) async fn set_chain_status(
        &mut self,
        chain: Uuid,
        status: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query("UPDATE chains SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND chain_id = $2")
            .bind(&tenant).bind(chain).bind(status).bind(ts(now))
            .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The running chains with the member's progress in each (one statement: this runs on
    /// every purchase).
    pub(crate) async fn active_chains_for(
        &mut self,
        member: MemberId,
    ) -> Result<Vec<(ChainRow, Option<Progress>)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, String, String, String, i64, Option<String>)> = on!(self, c => sqlx::query_as(
            "SELECT c.chain_id, c.definition, c.status, c.created_by, c.created_at, p.progress FROM chains c \
             LEFT JOIN chain_progress p ON p.tenant_id = c.tenant_id AND p.chain_id = c.chain_id AND p.member_id = $2 \
             WHERE c.tenant_id = $1 AND c.status = 'active' ORDER BY c.chain_id",
        )
        .bind(&tenant).bind(member.as_uuid()).fetch_all(c).await)?;
        rows.into_iter()
            .map(|(id, d, st, by, at, p)| {
                let progress = p.map(|p| parse("progress", serde_json::from_str(&p))).transpose()?;
                Ok((chain_from((id, d, st, by, at))?, progress))
            })
            .collect()
    }

    /// The member's progress in every chain she entered.
    pub(crate) async fn member_progress(&mut self, member: MemberId) -> Result<Vec<(Uuid, Progress)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, String)> = on!(self, c => sqlx::query_as(
            "SELECT chain_id, progress FROM chain_progress WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(&tenant).bind(member.as_uuid()).fetch_all(c).await)?;
        rows.into_iter().map(|(id, p)| Ok((id, parse("progress", serde_json::from_str(&p))?))).collect()
    }

    /// Writes (or replaces) the member's progress in a chain (deferred); `None` removes it.
    pub(crate) async fn put_progress(
        &mut self,
        chain: Uuid,
        member: MemberId,
        progress: Option<&Progress>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        match progress {
            Some(p) => {
                let text = json(p)?;
                self.defer(PUT_PROGRESS, args![&tenant, chain, member.as_uuid(), &text, ts(now)]).await?;
            }
            None => {
                on!(self, c => sqlx::query(
                    "DELETE FROM chain_progress WHERE tenant_id = $1 AND chain_id = $2 AND member_id = $3",
                )
                .bind(&tenant).bind(chain).bind(member.as_uuid())
                .execute(c).await.map(|_| ()))?;
            }
        }
        Ok(())
    }

    /// The member's standing in every chain she made a step in: the ordinal of her latest step
    /// per chain, and the reward slots paid to her as `(chain, run, cycle, slot)` — one statement.
    pub(crate) async fn chain_standing(
        &mut self,
        member: MemberId,
    ) -> Result<(Vec<(Uuid, i64)>, Vec<(Uuid, u32, u32, usize)>), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, i64, i64, i64, i64)> = on!(self, c => sqlx::query_as(
            "SELECT chain_id, CAST(0 AS BIGINT), CAST(MAX(seq) AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT) \
             FROM chain_steps WHERE tenant_id = $1 AND member_id = $2 GROUP BY chain_id \
             UNION ALL SELECT chain_id, CAST(1 AS BIGINT), CAST(run AS BIGINT), CAST(cycle AS BIGINT), CAST(slot AS BIGINT) \
             FROM chain_rewards WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(&tenant).bind(member.as_uuid()).fetch_all(c).await)?;
        let (mut seqs, mut paid) = (Vec::new(), Vec::new());
        for (chain, kind, a, b, c) in rows {
            if kind == 0 {
                seqs.push((chain, a));
            } else {
                let n = |v: i64| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("chain reward key {v}")));
                let slot = usize::try_from(c).map_err(|_| StoreError::Corrupt(format!("chain reward slot {c}")))?;
                paid.push((chain, n(a)?, n(b)?, slot));
            }
        }
        Ok((seqs, paid))
    }

    /// The ordinal of the member's latest step in a chain (0: none).
    pub(crate) async fn last_step_seq(&mut self, chain: Uuid, member: MemberId) -> Result<i64, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let v: Option<i64> = on!(self, c => sqlx::query_scalar(
            "SELECT MAX(seq) FROM chain_steps WHERE tenant_id = $1 AND chain_id = $2 AND member_id = $3",
        )
        .bind(&tenant).bind(chain).bind(member.as_uuid()).fetch_one(c).await)?;
        Ok(v.unwrap_or(0))
    }

    /// Records a step made (deferred).
    pub(crate) async fn insert_chain_step(&mut self, s: &StepRow) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let before = s.before.as_ref().map(json).transpose()?;
        self.defer(
            INSERT_CHAIN_STEP,
            args![
                &tenant,
                s.chain,
                s.member.as_uuid(),
                i64::from(s.run),
                i64::from(s.cycle),
                signed(s.step),
                s.seq,
                s.purchase.as_uuid(),
                s.business.as_str(),
                s.amount.get(),
                before.as_deref(),
                ts(s.made_at),
            ],
        )
        .await
    }

    /// The steps a purchase made.
    pub(crate) async fn chain_steps_of(&mut self, purchase: PurchaseId) -> Result<Vec<StepRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = format!("SELECT {STEP_COLUMNS} FROM chain_steps WHERE tenant_id = $1 AND purchase_id = $2");
        let rows: Vec<StepTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&tenant).bind(purchase.as_uuid()).fetch_all(c).await)?;
        rows.into_iter().map(step_from).collect()
    }

    /// Every step made in a chain.
    pub(crate) async fn chain_steps(&mut self, chain: Uuid) -> Result<Vec<StepRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = format!("SELECT {STEP_COLUMNS} FROM chain_steps WHERE tenant_id = $1 AND chain_id = $2 ORDER BY seq");
        let rows: Vec<StepTuple> = on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&tenant).bind(chain).fetch_all(c).await)?;
        rows.into_iter().map(step_from).collect()
    }

    /// Removes a step (a refund rolled it back).
    pub(crate) async fn delete_chain_step(&mut self, s: &StepRow) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "DELETE FROM chain_steps WHERE tenant_id = $1 AND chain_id = $2 AND member_id = $3 AND run = $4 \
             AND cycle = $5 AND step = $6",
        )
        .bind(&tenant).bind(s.chain).bind(s.member.as_uuid()).bind(i64::from(s.run)).bind(i64::from(s.cycle))
        .bind(signed(s.step))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Whether a reward slot was paid in this run and cycle.
    pub(crate) async fn chain_reward_paid(
        &mut self,
        chain: Uuid,
        member: MemberId,
        (run, cycle, slot): (u32, u32, usize),
    ) -> Result<bool, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let n: i64 = on!(self, c => sqlx::query_scalar(
            "SELECT COUNT(*) FROM chain_rewards WHERE tenant_id = $1 AND chain_id = $2 AND member_id = $3 \
             AND run = $4 AND cycle = $5 AND slot = $6",
        )
        .bind(&tenant).bind(chain).bind(member.as_uuid()).bind(i64::from(run)).bind(i64::from(cycle))
        .bind(signed(slot))
        .fetch_one(c).await)?;
        Ok(n > 0)
    }

    /// Records a reward paid (deferred); a second reward for the same slot is a `Conflict`.
    pub(crate) async fn insert_chain_reward(&mut self, r: &RewardRow) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            INSERT_CHAIN_REWARD,
            args![
                &tenant,
                r.chain,
                r.member.as_uuid(),
                i64::from(r.run),
                i64::from(r.cycle),
                signed(r.slot),
                r.purchase.map(|p| p.as_uuid()),
                r.funded_by.as_str(),
                r.bonus.get(),
                r.entry.map(|e| e.as_uuid()),
                r.lot.map(|l| l.as_uuid()),
                r.coupon.as_deref(),
                ts(r.paid_at),
            ],
        )
        .await
    }

    /// Rewards paid: by a purchase, to a member, or in a chain.
    pub(crate) async fn chain_rewards(&mut self, by: RewardsBy) -> Result<Vec<RewardRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let (filter, id) = match by {
            RewardsBy::Purchase(p) => ("purchase_id", p.as_uuid()),
            RewardsBy::Member(m) => ("member_id", m.as_uuid()),
            RewardsBy::Chain(c) => ("chain_id", c),
        };
        let sql = format!(
            "SELECT {REWARD_COLUMNS} FROM chain_rewards WHERE tenant_id = $1 AND {filter} = $2 ORDER BY paid_at"
        );
        let rows: Vec<RewardTuple> =
            on!(self, c => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(&tenant).bind(id).fetch_all(c).await)?;
        rows.into_iter().map(reward_from).collect()
    }

    /// Removes a reward (a refund took it back).
    pub(crate) async fn delete_chain_reward(&mut self, r: &RewardRow) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "DELETE FROM chain_rewards WHERE tenant_id = $1 AND chain_id = $2 AND member_id = $3 AND run = $4 \
             AND cycle = $5 AND slot = $6",
        )
        .bind(&tenant).bind(r.chain).bind(r.member.as_uuid()).bind(i64::from(r.run)).bind(i64::from(r.cycle))
        .bind(signed(r.slot))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Revokes a coupon when it was never used; returns whether it did.
    pub(crate) async fn revoke_unused_coupon(&mut self, code: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let done = on!(self, c => sqlx::query(
            "UPDATE coupons SET revoked_at = $3 WHERE tenant_id = $1 AND code = $2 AND uses = 0 AND revoked_at IS NULL",
        )
        .bind(&tenant).bind(code).bind(ts(now))
        .execute(c).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// What the coupons a chain gave cost when used: Σ discount + bonus of their redemptions
    /// not restored, per reward funder.
    pub(crate) async fn chain_coupon_cost(&mut self, chain: Uuid) -> Result<Vec<(BusinessId, i64)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT r.funded_by, CAST(COALESCE(SUM(d.discount + d.bonus), 0) AS BIGINT) FROM chain_rewards r \
             JOIN coupon_redemptions d ON d.tenant_id = r.tenant_id AND d.code = r.coupon_code \
             WHERE r.tenant_id = $1 AND r.chain_id = $2 AND d.restored_at IS NULL GROUP BY r.funded_by",
        )
        .bind(&tenant).bind(chain).fetch_all(c).await)?;
        rows.into_iter().map(|(b, v)| Ok((parse("business", BusinessId::parse(&b))?, v))).collect()
    }

    /// For each step a chain's members made: whether it was the member's first purchase at that
    /// business (no earlier purchase there), and the purchase's amount net of refunds — keyed
    /// by (member, run, cycle, step).
    pub(crate) async fn chain_step_facts(
        &mut self,
        chain: Uuid,
    ) -> Result<Vec<(MemberId, u32, u32, usize, bool, Kopecks)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, i64, i64, i64, i64, i64)> = on!(self, c => sqlx::query_as(
            "SELECT s.member_id, s.run, s.cycle, s.step, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM purchases q WHERE q.tenant_id = s.tenant_id AND q.member_id = s.member_id \
               AND q.business_id = s.business_id AND q.purchased_at < p.purchased_at) THEN 0 ELSE 1 END AS BIGINT), \
             p.amount - p.refunded \
             FROM chain_steps s JOIN purchases p ON p.tenant_id = s.tenant_id AND p.purchase_id = s.purchase_id \
             WHERE s.tenant_id = $1 AND s.chain_id = $2",
        )
        .bind(&tenant).bind(chain).fetch_all(c).await)?;
        rows.into_iter()
            .map(|(m, run, cycle, step, first, net)| {
                Ok((
                    MemberId::from_uuid(m),
                    count("run", run)?,
                    count("cycle", cycle)?,
                    index("step", step)?,
                    first == 1,
                    parse("amount", Kopecks::new(net))?,
                ))
            })
            .collect()
    }

    /// Purchases made in `[from, until)`, oldest first (baseline cross-purchase rates).
    pub(crate) async fn purchases_between(
        &mut self,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<PurchaseFact>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, String, String, i64, i64)> = on!(self, c => sqlx::query_as(
            "SELECT member_id, business_id, category, amount - refunded, purchased_at FROM purchases \
             WHERE tenant_id = $1 AND purchased_at >= $2 AND purchased_at < $3 ORDER BY purchased_at, purchase_id",
        )
        .bind(&tenant).bind(ts(from)).bind(ts(until)).fetch_all(c).await)?;
        rows.into_iter()
            .map(|(m, b, cat, net, at)| {
                Ok(PurchaseFact {
                    member: MemberId::from_uuid(m),
                    business: parse("business", BusinessId::parse(&b))?,
                    category: parse("category", Category::parse(&cat))?,
                    net: parse("amount", Kopecks::new(net))?,
                    at: from_ts(at)?,
                })
            })
            .collect()
    }
}

/// Which rewards to read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RewardsBy {
    Purchase(PurchaseId),
    Member(MemberId),
    Chain(Uuid),
}
