//! Purchases, spend statistics for tiers, the event-budget ledger, idempotency records and the
//! audit log.

use std::collections::BTreeSet;

use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Stmt, args};
use super::{StoreError, TenantTx, from_ts, on, parse, ts};
use crate::status::SpendStats;
use crate::types::{Bonus, BusinessId, Category, EntryId, Kopecks, LotId, MemberId, PurchaseId};

/// A purchase to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewPurchase {
    pub(crate) id: PurchaseId,
    pub(crate) member: MemberId,
    pub(crate) business: BusinessId,
    pub(crate) receipt_id: String,
    pub(crate) category: Category,
    pub(crate) amount: Kopecks,
    pub(crate) redeemed: Bonus,
    pub(crate) accrued: Bonus,
    pub(crate) contribution: Kopecks,
    pub(crate) accrual_entry: Option<EntryId>,
    pub(crate) accrual_lot: Option<LotId>,
    pub(crate) redemption_entry: Option<EntryId>,
    pub(crate) at: OffsetDateTime,
}

/// One movement of the event budget caused by a purchase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BudgetEntry<'a> {
    /// [`BudgetEntry::CONTRIBUTION`] or [`BudgetEntry::REVERSAL`].
    pub(crate) kind: &'static str,
    pub(crate) business: &'a BusinessId,
    pub(crate) purchase: PurchaseId,
    /// The magnitude; a reversal is stored negative.
    pub(crate) amount: Kopecks,
}

impl BudgetEntry<'_> {
    pub(crate) const CONTRIBUTION: &'static str = "contribution";
    pub(crate) const REVERSAL: &'static str = "reversal";
}

/// A stored purchase.
#[derive(Debug, Clone)]
pub(crate) struct PurchaseRow {
    pub(crate) id: PurchaseId,
    pub(crate) member: MemberId,
    pub(crate) business: BusinessId,
    pub(crate) amount: Kopecks,
    pub(crate) redeemed: Bonus,
    pub(crate) accrued: Bonus,
    pub(crate) refunded: Kopecks,
    pub(crate) contribution: Kopecks,
    pub(crate) accrual_entry: Option<EntryId>,
    pub(crate) accrual_lot: Option<LotId>,
    pub(crate) redemption_entry: Option<EntryId>,
}

/// One audit row: actor, action, target, detail, client address, time.
pub(crate) type AuditRow = (String, String, String, String, Option<String>, OffsetDateTime);

const INSERT_PURCHASE: Stmt = Stmt::insert(
    "purchases",
    "INSERT INTO purchases (tenant_id, purchase_id, member_id, business_id, receipt_id, category, amount, \
             redeemed, accrued, refunded, contribution, accrual_entry_id, accrual_lot_id, redemption_entry_id, purchased_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12, $13, $14, $15)",
);

const INSERT_BUDGET_ENTRY: Stmt = Stmt::insert(
    "budget_entries",
    "INSERT INTO budget_entries (tenant_id, entry_id, kind, business_id, purchase_id, amount, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
);

const INSERT_IDEMPOTENCY: Stmt = Stmt::insert(
    "idempotency",
    "INSERT INTO idempotency (tenant_id, scope, key, request_hash, response, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
);

impl TenantTx {
    /// Inserts a purchase; a receipt id already used at this business is a `Conflict`.
    pub(crate) async fn insert_purchase(&mut self, p: &NewPurchase, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(
            INSERT_PURCHASE,
            args![
                &tenant,
                p.id.as_uuid(),
                p.member.as_uuid(),
                p.business.as_str(),
                &p.receipt_id,
                p.category.as_str(),
                p.amount.get(),
                p.redeemed.get(),
                p.accrued.get(),
                p.contribution.get(),
                p.accrual_entry.map(|e| e.as_uuid()),
                p.accrual_lot.map(|l| l.as_uuid()),
                p.redemption_entry.map(|e| e.as_uuid()),
                ts(p.at),
                ts(now),
            ],
        )
        .await
    }

    /// The purchase, or `NotFound` (also for another tenant's purchase).
    pub(crate) async fn purchase(&mut self, id: PurchaseId) -> Result<PurchaseRow, StoreError> {
        let tenant = self.tenant_str().to_owned();
        type Row = (Uuid, Uuid, String, i64, i64, i64, i64, i64, Option<Uuid>, Option<Uuid>, Option<Uuid>);
        let row: Option<Row> = on!(self, c => sqlx::query_as(
            "SELECT purchase_id, member_id, business_id, amount, redeemed, accrued, refunded, contribution, accrual_entry_id, \
             accrual_lot_id, redemption_entry_id FROM purchases WHERE tenant_id = $1 AND purchase_id = $2",
        )
        .bind(&tenant)
        .bind(id.as_uuid())
        .fetch_optional(c)
        .await)?;
        let (
            id,
            member,
            business,
            amount,
            redeemed,
            accrued,
            refunded,
            contribution,
            accrual_entry,
            accrual_lot,
            redemption_entry,
        ) = row.ok_or(StoreError::NotFound)?;
        Ok(PurchaseRow {
            id: PurchaseId::from_uuid(id),
            member: MemberId::from_uuid(member),
            business: parse("business", BusinessId::parse(&business))?,
            amount: parse("amount", Kopecks::new(amount))?,
            redeemed: parse("redeemed", Bonus::new(redeemed))?,
            accrued: parse("accrued", Bonus::new(accrued))?,
            refunded: parse("refunded", Kopecks::new(refunded))?,
            contribution: parse("contribution", Kopecks::new(contribution))?,
            accrual_entry: accrual_entry.map(EntryId::from_uuid),
            accrual_lot: accrual_lot.map(LotId::from_uuid),
            redemption_entry: redemption_entry.map(EntryId::from_uuid),
        })
    }

    /// Records that `refunded` of the purchase has now been refunded in total.
    pub(crate) async fn set_refunded(&mut self, id: PurchaseId, refunded: Kopecks) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query("UPDATE purchases SET refunded = $3 WHERE tenant_id = $1 AND purchase_id = $2")
            .bind(&tenant)
            .bind(id.as_uuid())
            .bind(refunded.get())
            .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The member's net spend (purchases minus refunds) and the categories with net spend, over
    /// purchases made at or after `since` (`None`: lifetime).
    pub(crate) async fn spend_stats(
        &mut self,
        member: MemberId,
        since: Option<OffsetDateTime>,
    ) -> Result<SpendStats, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let since = since.map(ts).unwrap_or(i64::MIN);
        let rows: Vec<(String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT category, CAST(SUM(amount - refunded) AS BIGINT) FROM purchases \
             WHERE tenant_id = $1 AND member_id = $2 AND purchased_at >= $3 GROUP BY category",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(since)
        .fetch_all(c)
        .await)?;
        let mut spend = Kopecks::ZERO;
        let mut categories = BTreeSet::new();
        for (category, net) in rows {
            let net = parse("net spend", Kopecks::new(net))?;
            if net.is_zero() {
                continue;
            }
            spend = spend.checked_add(net).ok_or_else(|| StoreError::Corrupt("spend overflow".into()))?;
            categories.insert(parse("category", Category::parse(&category))?);
        }
        Ok(SpendStats { spend, categories })
    }

    /// Appends to the tenant's event-budget ledger (a contribution, or a negative reversal).
    pub(crate) async fn insert_budget_entry(
        &mut self,
        id: EntryId,
        entry: BudgetEntry<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let BudgetEntry { kind, business, purchase, amount } = entry;
        let signed = if kind == BudgetEntry::REVERSAL { -amount.get() } else { amount.get() };
        self.defer(
            INSERT_BUDGET_ENTRY,
            args![&tenant, id.as_uuid(), kind, business.as_str(), purchase.as_uuid(), signed, ts(now)],
        )
        .await
    }

    /// The event budget: total balance, and each business's net contribution in `[from, to)`.
    pub(crate) async fn budget(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<(i64, Vec<(BusinessId, i64)>), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let total: (i64,) = on!(self, c => sqlx::query_as(
            // Spending draws on an event's allocation, not on the balance (see `crate::budget`).
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM budget_entries WHERE tenant_id = $1 \
             AND kind <> 'spending'",
        )
        .bind(&tenant)
        .fetch_one(c)
        .await)?;
        let rows: Vec<(String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT business_id, CAST(SUM(amount) AS BIGINT) FROM budget_entries \
             WHERE tenant_id = $1 AND business_id IS NOT NULL AND created_at >= $2 AND created_at < $3 \
             GROUP BY business_id ORDER BY business_id",
        )
        .bind(&tenant)
        .bind(ts(from))
        .bind(ts(to))
        .fetch_all(c)
        .await)?;
        let per_business = rows
            .into_iter()
            .map(|(b, amount)| Ok((parse("business", BusinessId::parse(&b))?, amount)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((total.0, per_business))
    }

    /// The stored result of an earlier command with this key: `(request hash, response)`.
    pub(crate) async fn idempotent(&mut self, scope: &str, key: &str) -> Result<Option<(String, String)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<(String, String)> = on!(self, c => sqlx::query_as(
            "SELECT request_hash, response FROM idempotency WHERE tenant_id = $1 AND scope = $2 AND key = $3",
        )
        .bind(&tenant)
        .bind(scope)
        .bind(key)
        .fetch_optional(c)
        .await)?;
        Ok(row)
    }

    /// Records a command's result under its key, in the same transaction as its effects.
    pub(crate) async fn remember(
        &mut self,
        scope: &str,
        key: &str,
        request_hash: &str,
        response: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        self.defer(INSERT_IDEMPOTENCY, args![&tenant, scope, key, request_hash, response, ts(now)]).await
    }

    /// Appends an audit record; `client` is the actor's address when the caller knows it.
    #[allow(clippy::too_many_arguments)] // one column each; a struct would only rename them
    pub(crate) async fn audit(
        &mut self,
        id: Uuid,
        actor: &str,
        action: &str,
        target: &str,
        detail: &str,
        client: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO audit_log (tenant_id, audit_id, actor, action, target, detail, created_at, client_addr) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&tenant)
        .bind(id)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .bind(ts(now))
        .bind(client)
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Audit records, newest first: actor, action, target, detail, client address, time.
    pub(crate) async fn audit_log(&mut self, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(String, String, String, String, Option<String>, i64)> = on!(self, c => sqlx::query_as(
            "SELECT actor, action, target, detail, client_addr, created_at FROM audit_log WHERE tenant_id = $1 \
             ORDER BY created_at DESC, audit_id DESC LIMIT $2",
        )
        .bind(&tenant)
        .bind(i64::from(limit))
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(|(a, b, c, d, e, at)| Ok((a, b, c, d, e, from_ts(at)?))).collect()
    }
}
