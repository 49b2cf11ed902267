//! Read views — a business's clients and purchases, a member's purchases, the catalogue and the
//! tier ladder — and tenant administration (list, suspend, resume).
//!
//! Medical secrecy (compliance §2.3) holds by construction: a partner's view is resolved for that
//! one business in the store (see `store::views`), so a clinic's purchases and its clients' spend
//! there reach nobody but the clinic itself — and the member, in her own history.

use std::sync::atomic::Ordering;

use super::Krug;
use super::members::open;
use super::purchases::not_found;
use crate::error::{Error, Result};
use crate::facade::{
    BusinessClient, CatalogueEntry, ClientQuery, Page, PurchaseQuery, PurchaseRecord, TenantSummary, TierInfo,
};
use crate::status::TierRules;
use crate::store::{PurchaseScope, PurchaseWindow, StoreError, TenantTx};
use crate::types::{BusinessId, MemberId, Phone, PurchaseId, TenantId, TierCode};

/// Largest page of any listing.
const MAX_PAGE: u32 = 200;

/// Longest actor name accepted for an audited administrative action.
const MAX_ACTOR_LEN: usize = 500;

fn check_limit(limit: u32) -> Result<()> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(Error::InvalidInput { field: "limit", message: format!("must be 1–{MAX_PAGE}") });
    }
    Ok(())
}

/// The tier a held status shows: the higher-ranked of the earned and the invited tier (a code the
/// ladder no longer has ranks lowest), as the status policy ranks them.
fn shown_tier(rules: &TierRules, earned: Option<TierCode>, invited: Option<TierCode>) -> Option<TierCode> {
    let rank = |c: &Option<TierCode>| c.as_ref().and_then(|c| rules.rank(c));
    if rank(&invited) > rank(&earned) { invited } else { earned.or(invited) }
}

impl Krug {
    /// The members who bought at `business`, ordered by member id, each with her masked phone,
    /// her coalition tier, and her visits, last visit and net spend *at this business only*.
    /// Pass the page's `next` as `after` for the following page.
    ///
    /// A business outside this tenant (or no longer active) is [`Error::UnknownBusiness`].
    pub async fn business_clients(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        query: ClientQuery,
    ) -> Result<Page<BusinessClient>> {
        let t = self.tenant(tenant)?;
        t.config.business(business).ok_or_else(|| Error::UnknownBusiness(business.clone()))?;
        check_limit(query.limit)?;
        let mut tx = self.read(tenant).await?;
        let rows = tx.business_clients(business, query.after, query.limit.saturating_add(1)).await?;
        let clients = rows
            .into_iter()
            .map(|row| {
                let phone = open(&t.keys, tenant, row.member, "phone", &row.phone)?;
                let phone =
                    Phone::parse(&phone).map_err(|e| Error::Store(StoreError::Corrupt(format!("phone: {e}"))))?;
                Ok(BusinessClient {
                    member: row.member,
                    phone_masked: phone.masked(),
                    tier: shown_tier(&t.config.tiers, row.earned, row.invited),
                    last_visit: row.last_visit,
                    visits: row.visits,
                    spend_here: row.spend,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(clients, query.limit))
    }

    /// The purchases at `business`, newest first by purchase time, optionally within
    /// `[from, to)` and for one member. Pass the page's `next` as `before` for the following page;
    /// a `before` that is not a purchase of this business is [`Error::InvalidInput`].
    ///
    /// A business outside this tenant (or no longer active) is [`Error::UnknownBusiness`].
    pub async fn business_purchases(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        query: PurchaseQuery,
    ) -> Result<Page<PurchaseRecord>> {
        let t = self.tenant(tenant)?;
        t.config.business(business).ok_or_else(|| Error::UnknownBusiness(business.clone()))?;
        check_limit(query.limit)?;
        if let (Some(from), Some(to)) = (query.from, query.to)
            && from >= to
        {
            return Err(Error::InvalidInput { field: "to", message: "must be after `from`".into() });
        }
        let mut tx = self.read(tenant).await?;
        let scope = PurchaseScope::Business(business, query.member);
        let window = PurchaseWindow { from: query.from, to: query.to, after: None, rows: query.limit };
        purchases_page(&mut tx, scope, window, query.before).await
    }

    /// The member's own purchases at every business — clinics included: it is her history —
    /// newest first by purchase time. Pass the page's `next` as `before` for the following page.
    pub async fn member_purchases(
        &self,
        tenant: &TenantId,
        member: MemberId,
        before: Option<PurchaseId>,
        limit: u32,
    ) -> Result<Page<PurchaseRecord>> {
        self.tenant(tenant)?;
        check_limit(limit)?;
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let window = PurchaseWindow { from: None, to: None, after: None, rows: limit };
        purchases_page(&mut tx, PurchaseScope::Member(member), window, before).await
    }

    /// The tenant's partners for the member app's catalogue, in configuration order.
    pub fn catalogue(&self, tenant: &TenantId) -> Result<Vec<CatalogueEntry>> {
        let t = self.tenant(tenant)?;
        Ok(t.config
            .businesses
            .iter()
            .map(|b| CatalogueEntry {
                business: b.id.clone(),
                name: b.name.clone(),
                category: b.category.clone(),
                medical: b.medical,
            })
            .collect())
    }

    /// The tenant's tier ladder, lowest first, as configured.
    pub fn tier_ladder(&self, tenant: &TenantId) -> Result<Vec<TierInfo>> {
        let t = self.tenant(tenant)?;
        Ok(t.config
            .tiers
            .tiers()
            .iter()
            .map(|r| TierInfo {
                code: r.code.clone(),
                name: r.name.clone(),
                min_spend: r.min_spend,
                min_categories: r.min_categories,
                cashback: r.cashback,
                invitation_only: r.invitation_only,
            })
            .collect())
    }

    /// Every tenant in the store (hosted here or not), by id, with its suspension and its counts
    /// of active businesses and members. For the superadmin: it is the one facade read that
    /// crosses tenants, and it shows counts only.
    pub async fn tenants(&self) -> Result<Vec<TenantSummary>> {
        let rows = self.inner.db.tenant_summaries().await?;
        rows.into_iter()
            .map(|r| {
                Ok(TenantSummary {
                    id: r.id,
                    name: r.name,
                    suspended: r.suspended,
                    businesses: usize::try_from(r.businesses)
                        .map_err(|_| StoreError::Corrupt(format!("business count {}", r.businesses)))?,
                    members: r.members,
                })
            })
            .collect()
    }

    /// The tenants this handle hosts, by id (suspended ones included).
    pub fn hosted_tenants(&self) -> Vec<TenantId> {
        let tenants = self.inner.tenants.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ids: Vec<TenantId> = tenants.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Suspends a hosted tenant: from now on every command on it — reads included — is refused
    /// with [`Error::TenantSuspended`], until [`Krug::resume_tenant`]. Stored, so it survives a
    /// restart and re-applying the configuration; recorded in the tenant's audit log. Suspending
    /// a suspended tenant changes (and records) nothing.
    ///
    /// Another process sharing the store learns of it when it next applies the tenant.
    pub async fn suspend_tenant(&self, tenant: &TenantId, actor: &str) -> Result<()> {
        self.set_suspension(tenant, actor, true).await
    }

    /// Resumes a suspended tenant; recorded in its audit log. Resuming a tenant that is not
    /// suspended changes (and records) nothing.
    pub async fn resume_tenant(&self, tenant: &TenantId, actor: &str) -> Result<()> {
        self.set_suspension(tenant, actor, false).await
    }

    async fn set_suspension(&self, tenant: &TenantId, actor: &str, suspended: bool) -> Result<()> {
        if actor.trim().is_empty() || actor.len() > MAX_ACTOR_LEN || actor.chars().any(char::is_control) {
            return Err(Error::InvalidInput {
                field: "actor",
                message: format!("must name who acts in 1–{MAX_ACTOR_LEN} printable characters"),
            });
        }
        // Held across the commit and the flag update, so a concurrent `apply_tenant` cannot
        // leave the in-memory flag at a value read before this commit.
        let _admin = self.inner.admin.lock().await;
        let t = self.hosted(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let changed = tx.set_suspended(suspended, now).await?;
        if changed {
            let action = if suspended { "tenant.suspend" } else { "tenant.resume" };
            tx.audit(self.inner.ids.next_uuid(), actor, action, &format!("tenant:{tenant}"), "{}", None, now).await?;
        }
        tx.commit().await?;
        t.suspended.store(suspended, Ordering::Release);
        if changed {
            tracing::warn!(tenant = %tenant, suspended, "tenant suspension changed");
        }
        Ok(())
    }
}

/// One page of `scope`'s purchases, continuing after `before` (which must belong to the scope).
async fn purchases_page(
    tx: &mut TenantTx,
    scope: PurchaseScope<'_>,
    mut window: PurchaseWindow,
    before: Option<PurchaseId>,
) -> Result<Page<PurchaseRecord>> {
    let limit = window.rows;
    if let Some(before) = before {
        let at = tx.purchase_cursor(scope, before).await?.ok_or_else(|| Error::InvalidInput {
            field: "before",
            message: "is not a purchase of this listing".into(),
        })?;
        window.after = Some((at, before));
    }
    window.rows = limit.saturating_add(1);
    let rows = tx.purchases_page(scope, window).await?;
    let records = rows
        .into_iter()
        .map(|r| {
            // The store's CHECKs keep redeemed ≤ amount; anything else is a corrupt row.
            let paid = r
                .redeemed
                .as_kopecks()
                .and_then(|redeemed| r.amount.checked_sub(redeemed))
                .ok_or_else(|| StoreError::Corrupt(format!("purchase {}: redeemed above amount", r.id)))?;
            Ok(PurchaseRecord {
                purchase: r.id,
                member: r.member,
                business: r.business,
                receipt_id: r.receipt_id,
                category: r.category,
                amount: r.amount,
                redeemed: r.redeemed,
                paid,
                cashback: r.accrued,
                refunded: r.refunded,
                at: r.at,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(records, limit))
}
