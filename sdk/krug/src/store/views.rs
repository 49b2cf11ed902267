//! Read views: a business's clients and purchases, a member's purchases, a tenant's suspension
//! flag, and the superadmin's list of tenants.
//!
//! Invariants:
//! - a business-scoped query has `business_id = $2` in its `WHERE` unconditionally, cursor
//!   lookups included, so a partner's page can hold nothing of another business, and a cursor
//!   taken from another business's purchase resolves to nothing (it cannot even reveal *when*
//!   that purchase happened by where the page starts);
//! - listings are keyset-paginated on a unique order (`member_id`; `purchased_at DESC,
//!   purchase_id DESC`), so pages never repeat or skip a row;
//! - [`Db::tenant_summaries`] is the one query that reads across tenants (see its docs).

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Db, StoreError, TenantTx, from_ts, on, parse, ts};
use crate::types::{Bonus, BusinessId, Category, Kopecks, MemberId, PurchaseId, TenantId, TierCode};

/// One client of a business, aggregated over her purchases there only.
#[derive(Debug, Clone)]
pub(crate) struct ClientRow {
    pub(crate) member: MemberId,
    /// Her sealed phone and the id of the key that sealed it.
    pub(crate) phone: (Vec<u8>, String),
    pub(crate) earned: Option<TierCode>,
    pub(crate) invited: Option<TierCode>,
    pub(crate) last_visit: OffsetDateTime,
    pub(crate) visits: u64,
    pub(crate) spend: Kopecks,
}

/// Whose purchases a listing shows. There is no tenant-wide variant: every listing is either
/// one business's or one member's.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PurchaseScope<'a> {
    /// One business's purchases, optionally only one member's among them.
    Business(&'a BusinessId, Option<MemberId>),
    /// One member's purchases at every business (her own history).
    Member(MemberId),
}

/// Filters and position of a purchase listing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PurchaseWindow {
    /// Purchases at or after.
    pub(crate) from: Option<OffsetDateTime>,
    /// Purchases before (exclusive).
    pub(crate) to: Option<OffsetDateTime>,
    /// Continue after this purchase: its time and id (resolved by [`TenantTx::purchase_cursor`]).
    pub(crate) after: Option<(OffsetDateTime, PurchaseId)>,
    /// Rows to fetch.
    pub(crate) rows: u32,
}

/// A purchase as listings show it.
#[derive(Debug, Clone)]
pub(crate) struct PurchaseListRow {
    pub(crate) id: PurchaseId,
    pub(crate) member: MemberId,
    pub(crate) business: BusinessId,
    pub(crate) receipt_id: String,
    pub(crate) category: Category,
    pub(crate) amount: Kopecks,
    pub(crate) redeemed: Bonus,
    pub(crate) accrued: Bonus,
    pub(crate) refunded: Kopecks,
    pub(crate) at: OffsetDateTime,
}

/// A tenant's line in the superadmin's list.
#[derive(Debug, Clone)]
pub(crate) struct TenantSummaryRow {
    pub(crate) id: TenantId,
    pub(crate) name: String,
    pub(crate) suspended: bool,
    pub(crate) businesses: u64,
    pub(crate) members: u64,
}

type ClientTuple = (Uuid, Vec<u8>, String, Option<String>, Option<String>, i64, i64, i64);

type PurchaseTuple = (Uuid, Uuid, String, String, String, i64, i64, i64, i64, i64);

fn tier(value: Option<String>) -> Result<Option<TierCode>, StoreError> {
    value.map(|t| parse("tier", TierCode::parse(&t))).transpose()
}

fn count(what: &str, n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} count {n}")))
}

fn purchase_from(row: PurchaseTuple) -> Result<PurchaseListRow, StoreError> {
    let (id, member, business, receipt_id, category, amount, redeemed, accrued, refunded, at) = row;
    Ok(PurchaseListRow {
        id: PurchaseId::from_uuid(id),
        member: MemberId::from_uuid(member),
        business: parse("business", BusinessId::parse(&business))?,
        receipt_id,
        category: parse("category", Category::parse(&category))?,
        amount: parse("amount", Kopecks::new(amount))?,
        redeemed: parse("redeemed", Bonus::new(redeemed))?,
        accrued: parse("accrued", Bonus::new(accrued))?,
        refunded: parse("refunded", Kopecks::new(refunded))?,
        at: from_ts(at)?,
    })
}

impl TenantTx {
    /// Up to `rows` members who bought at `business`, by member id after `after`, each with her
    /// visits, last visit and net spend at that business only.
    pub(crate) async fn business_clients(
        &mut self,
        business: &BusinessId,
        after: Option<MemberId>,
        rows: u32,
    ) -> Result<Vec<ClientRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let found: Vec<ClientTuple> = on!(self, c => sqlx::query_as(
            "SELECT s.member_id, m.phone_ct, m.phone_key, a.earned_tier, a.invited_tier, s.last_at, s.visits, s.spend \
             FROM (SELECT member_id, MAX(purchased_at) AS last_at, COUNT(*) AS visits, \
                          CAST(SUM(amount - refunded) AS BIGINT) AS spend \
                   FROM purchases WHERE tenant_id = $1 AND business_id = $2 AND ($3 IS NULL OR member_id > $3) \
                   GROUP BY member_id ORDER BY member_id LIMIT $4) s \
             JOIN members m ON m.tenant_id = $1 AND m.member_id = s.member_id \
             JOIN accounts a ON a.tenant_id = $1 AND a.member_id = s.member_id \
             ORDER BY s.member_id",
        )
        .bind(&tenant)
        .bind(business.as_str())
        .bind(after.map(|m| m.as_uuid()))
        .bind(i64::from(rows))
        .fetch_all(c)
        .await)?;
        found
            .into_iter()
            .map(|(member, phone_ct, phone_key, earned, invited, last_at, visits, spend)| {
                Ok(ClientRow {
                    member: MemberId::from_uuid(member),
                    phone: (phone_ct, phone_key),
                    earned: tier(earned)?,
                    invited: tier(invited)?,
                    last_visit: from_ts(last_at)?,
                    visits: count("visit", visits)?,
                    spend: parse("spend", Kopecks::new(spend))?,
                })
            })
            .collect()
    }

    /// The time of `purchase` if it belongs to `scope` (else `None`): the position a listing
    /// continues from.
    pub(crate) async fn purchase_cursor(
        &mut self,
        scope: PurchaseScope<'_>,
        purchase: PurchaseId,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let at: Option<(i64,)> = match scope {
            PurchaseScope::Business(business, _) => on!(self, c => sqlx::query_as(
                "SELECT purchased_at FROM purchases WHERE tenant_id = $1 AND business_id = $2 AND purchase_id = $3",
            )
            .bind(&tenant)
            .bind(business.as_str())
            .bind(purchase.as_uuid())
            .fetch_optional(c)
            .await)?,
            PurchaseScope::Member(member) => on!(self, c => sqlx::query_as(
                "SELECT purchased_at FROM purchases WHERE tenant_id = $1 AND member_id = $2 AND purchase_id = $3",
            )
            .bind(&tenant)
            .bind(member.as_uuid())
            .bind(purchase.as_uuid())
            .fetch_optional(c)
            .await)?,
        };
        at.map(|(at,)| from_ts(at)).transpose()
    }

    /// Up to `window.rows` purchases of `scope`, newest first by purchase time (ties by id).
    pub(crate) async fn purchases_page(
        &mut self,
        scope: PurchaseScope<'_>,
        window: PurchaseWindow,
    ) -> Result<Vec<PurchaseListRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let from = window.from.map(ts);
        let to = window.to.map(ts);
        let after_at = window.after.map(|(at, _)| ts(at));
        let after_id = window.after.map(|(_, id)| id.as_uuid());
        let rows = i64::from(window.rows);
        // The scope predicate comes first and unconditionally (one text per scope), so the
        // planner uses the scope's index and no parameter can widen a listing to the tenant.
        let found: Vec<PurchaseTuple> = match scope {
            PurchaseScope::Business(business, member) => on!(self, c => sqlx::query_as(
                    "SELECT purchase_id, member_id, business_id, receipt_id, category, amount, redeemed, accrued, \
                     refunded, purchased_at FROM purchases WHERE tenant_id = $1 AND business_id = $2 \
                     AND ($3 IS NULL OR member_id = $3) \
                     AND ($4 IS NULL OR purchased_at >= $4) AND ($5 IS NULL OR purchased_at < $5) \
                     AND ($6 IS NULL OR purchased_at < $6 OR (purchased_at = $6 AND purchase_id < $7)) \
                     ORDER BY purchased_at DESC, purchase_id DESC LIMIT $8",
                )
                    .bind(&tenant)
                    .bind(business.as_str())
                    .bind(member.map(|m| m.as_uuid()))
                    .bind(from)
                    .bind(to)
                    .bind(after_at)
                    .bind(after_id)
                    .bind(rows)
                    .fetch_all(c)
                    .await)?,
            PurchaseScope::Member(member) => on!(self, c => sqlx::query_as(
                    "SELECT purchase_id, member_id, business_id, receipt_id, category, amount, redeemed, accrued, \
                     refunded, purchased_at FROM purchases WHERE tenant_id = $1 AND member_id = $2 \
                     AND ($3 IS NULL OR purchased_at >= $3) AND ($4 IS NULL OR purchased_at < $4) \
                     AND ($5 IS NULL OR purchased_at < $5 OR (purchased_at = $5 AND purchase_id < $6)) \
                     ORDER BY purchased_at DESC, purchase_id DESC LIMIT $7",
                )
                    .bind(&tenant)
                    .bind(member.as_uuid())
                    .bind(from)
                    .bind(to)
                    .bind(after_at)
                    .bind(after_id)
                    .bind(rows)
                    .fetch_all(c)
                    .await)?,
        };
        found.into_iter().map(purchase_from).collect()
    }

    /// Whether the tenant is suspended (`NotFound` before its configuration is applied).
    pub(crate) async fn tenant_suspended(&mut self) -> Result<bool, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<(bool,)> = on!(self, c => sqlx::query_as("SELECT suspended FROM tenants WHERE tenant_id = $1")
            .bind(&tenant)
            .fetch_optional(c)
            .await)?;
        row.map(|(s,)| s).ok_or(StoreError::NotFound)
    }

    /// Sets the tenant's suspension; `true` when it changed (`false`: it already was so).
    pub(crate) async fn set_suspended(&mut self, suspended: bool, now: OffsetDateTime) -> Result<bool, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let changed = on!(self, c => sqlx::query(
            "UPDATE tenants SET suspended = $2, updated_at = $3 WHERE tenant_id = $1 AND suspended <> $2",
        )
        .bind(&tenant)
        .bind(suspended)
        .bind(ts(now))
        .execute(c)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(changed == 1)
    }
}

impl Db {
    /// Every tenant in the store with its suspension, active businesses and members.
    ///
    /// The one query that is not scoped to a tenant (besides migrating at start-up): the
    /// superadmin hosts and suspends tenants, so she must see all of them — including tenants in
    /// the store that this process does not host. It returns counts and names only, never a
    /// member's or a purchase's row.
    pub(crate) async fn tenant_summaries(&self) -> Result<Vec<TenantSummaryRow>, StoreError> {
        const SQL: &str = "SELECT t.tenant_id, t.name, t.suspended, \
             (SELECT COUNT(*) FROM businesses b WHERE b.tenant_id = t.tenant_id AND b.active = TRUE), \
             (SELECT COUNT(*) FROM members m WHERE m.tenant_id = t.tenant_id) \
             FROM tenants t ORDER BY t.tenant_id";
        let rows: Vec<(String, String, bool, i64, i64)> = match self {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
        };
        rows.into_iter()
            .map(|(id, name, suspended, businesses, members)| {
                Ok(TenantSummaryRow {
                    id: parse("tenant", TenantId::parse(&id))?,
                    name,
                    suspended,
                    businesses: count("business", businesses)?,
                    members: count("member", members)?,
                })
            })
            .collect()
    }
}
