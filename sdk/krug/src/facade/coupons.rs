//! Coupons and promo codes: templates (owner or operator), issuance (bulk, promo, personal, and
//! in-transaction for other engines), the preview at the counter, the coupon step of the
//! purchase pipeline, its undoing on refunds, and the member's list.
//!
//! Invariants:
//! - a coupon is applied only inside [`Krug::purchase_in`]'s transaction, after the member's
//!   account and then the coupon's template are locked (always in that order, so concurrent
//!   scans cannot deadlock); every limit is read after the template lock;
//! - a refused coupon refuses the whole purchase: nothing is written;
//! - an owner manages only templates his business created; another business's template answers
//!   [`CouponError::TemplateNotFound`], exactly like a template that does not exist;
//! - a bonus-grant coupon's bonus is a ledger credit (`Source::Coupon`) funded by the template's
//!   funder, reversed proportionally by refunds like cashback.

use std::collections::{HashMap, HashSet};

use rand::RngCore as _;
use rand::rngs::OsRng;
use time::{Duration, OffsetDateTime};

use super::Krug;
use super::coupon_types::{
    CouponAuthor, CouponPreview, CouponTemplateView, IssuedBatch, IssuedCoupon, MemberCoupon, MemberCouponStatus,
    NewPromoCode, PreviewCoupon,
};
use crate::coupon::{
    Attempt, Coupon, CouponCode, CouponError, CouponScope, CouponSource, CouponTemplate, CouponTerms, RestoreOnRefund,
    Usage, Validity, describe, evaluate,
};
use crate::error::{Error, Result};
use crate::ledger::{Account, Ctx, Plan};
use crate::store::{Issue, RedemptionRow, StoreError, TemplateRow, TenantTx};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, Kopecks, MemberId, PurchaseId, TenantId};

/// The most codes one bulk issuance makes.
pub const MAX_BULK: u32 = 100_000;

/// Random bytes drawn per generated code (10 characters need about 11; see
/// [`CouponCode::from_random`]).
const BYTES_PER_CODE: usize = 32;

/// What a refund did to the purchase's coupon.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct CouponRefund {
    /// Coupon bonus taken back.
    pub(super) bonus_reversed: Bonus,
    /// Whether the coupon's use was given back.
    pub(super) restored: bool,
}

fn overflow() -> Error {
    Error::Ledger(crate::ledger::LedgerError::Overflow)
}

/// Reads a typed code, refusing what cannot be one.
pub(super) fn read_code(field: &'static str, input: &str) -> Result<CouponCode> {
    CouponCode::normalise(input).map_err(|e| Error::InvalidInput { field, message: e.to_string() })
}

/// The coupon with this code: a miss is [`CouponError::Mistyped`] when the code has the generated
/// shape but a wrong check character, [`CouponError::NotFound`] otherwise.
async fn find_coupon(tx: &mut TenantTx, code: &CouponCode) -> Result<Coupon> {
    match tx.coupon(code).await? {
        Some(c) => Ok(c),
        None if code.has_generated_shape() && !code.check_passes() => Err(CouponError::Mistyped.into()),
        None => Err(CouponError::NotFound.into()),
    }
}

/// Coupon codes for the purchase engine, drawn from the OS random source.
pub(super) struct OsCodes;

impl crate::purchase::CodeSource for OsCodes {
    fn draw(&self) -> Result<CouponCode> {
        fresh_codes(1)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Store(StoreError::Corrupt("the random source gave no code".into())))
    }
}

/// `count` new distinct codes from the OS random source.
fn fresh_codes(count: usize) -> Result<Vec<CouponCode>> {
    let mut codes = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    while codes.len() < count {
        let mut bytes = vec![0u8; (count - codes.len()) * BYTES_PER_CODE];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|_| Error::Store(StoreError::Corrupt("random source failed".into())))?;
        for chunk in bytes.chunks_exact(BYTES_PER_CODE) {
            if let Some(code) = CouponCode::from_random(chunk)
                && seen.insert(code.clone())
            {
                codes.push(code);
            }
        }
    }
    Ok(codes)
}

/// The local calendar day a validity ending (exclusively) at `until` last covers.
fn last_day(config: &TenantConfig, until: OffsetDateTime) -> time::Date {
    config.local_date(until - Duration::microseconds(1))
}

fn rules(config: &TenantConfig, template: &CouponTerms, until: Option<OffsetDateTime>) -> String {
    let name = |b: &BusinessId| config.business(b).map_or_else(|| b.to_string(), |x| x.name.clone());
    describe(template, until.map(|u| last_day(config, u)), &name)
}

fn view(config: &TenantConfig, row: TemplateRow) -> CouponTemplateView {
    let until = match row.template.terms.validity {
        Validity::Dates { until, .. } => Some(until),
        Validity::DaysFromIssue(_) => None,
    };
    CouponTemplateView {
        rules: rules(config, &row.template.terms, until),
        uses: row.uses,
        revoked: row.revoked_at.is_some(),
        created_at: row.created_at,
        template: row.template,
    }
}

impl Krug {
    /// Creates a coupon template. An owner's template must be scoped to his own business (which
    /// funds it); the operator's may have any scope and is funded by the ecosystem. A code in
    /// use is [`CouponError::TemplateExists`]; a malformed field is [`Error::InvalidInput`].
    pub async fn create_coupon_template(
        &self,
        tenant: &TenantId,
        author: &CouponAuthor,
        new: CouponTerms,
    ) -> Result<CouponTemplateView> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let (funded_by, owner) = match author {
            CouponAuthor::Owner(b) => {
                if new.scope != CouponScope::Business(b.clone()) {
                    return Err(Error::InvalidInput {
                        field: "scope",
                        message: "an owner's coupons apply at his own business only".into(),
                    });
                }
                (Some(b.clone()), Some(b.clone()))
            }
            CouponAuthor::Operator => (None, None),
        };
        match &new.scope {
            CouponScope::Business(b) if config.business(b).is_none() => {
                return Err(Error::InvalidInput {
                    field: "scope",
                    message: format!("{b} is not a business of this tenant"),
                });
            }
            CouponScope::Category(c) if !config.businesses.iter().any(|b| &b.category == c) => {
                return Err(Error::InvalidInput {
                    field: "scope",
                    message: format!("{c} is not a category of this tenant"),
                });
            }
            _ => {}
        }
        new.check().map_err(|p| Error::InvalidInput { field: p.field, message: p.message })?;
        let template = CouponTemplate { terms: new, funded_by, owner };
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        tx.insert_coupon_template(&template, &author.name(), now).await.map_err(|e| match e {
            StoreError::Conflict { .. } => Error::Coupon(CouponError::TemplateExists),
            other => Error::Store(other),
        })?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, template = %template.terms.code, author = %author.name(), "coupon template created");
        let row = TemplateRow { template, uses: 0, revoked_at: None, created_at: now };
        Ok(view(config, row))
    }

    /// The templates the author manages, newest first (an owner: his business's; the operator:
    /// all), with aggregate use counts only.
    pub async fn coupon_templates(&self, tenant: &TenantId, author: &CouponAuthor) -> Result<Vec<CouponTemplateView>> {
        let t = self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let owner = match author {
            CouponAuthor::Owner(b) => Some(b),
            CouponAuthor::Operator => None,
        };
        let rows = tx.coupon_templates(owner).await?;
        Ok(rows.into_iter().map(|r| view(&t.config, r)).collect())
    }

    /// One template the author manages; another business's is [`CouponError::TemplateNotFound`].
    pub async fn coupon_template(
        &self,
        tenant: &TenantId,
        author: &CouponAuthor,
        code: &str,
    ) -> Result<CouponTemplateView> {
        let t = self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let row = tx.coupon_template(code).await?.filter(|r| author.may_manage(&r.template));
        row.map(|r| view(&t.config, r)).ok_or(Error::Coupon(CouponError::TemplateNotFound))
    }

    /// Revokes a template: none of its coupons works any more (used ones stay recorded).
    /// Idempotent; another business's template is [`CouponError::TemplateNotFound`].
    pub async fn revoke_coupon_template(
        &self,
        tenant: &TenantId,
        author: &CouponAuthor,
        code: &str,
    ) -> Result<CouponTemplateView> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = tx
            .lock_coupon_template(code)
            .await?
            .filter(|r| author.may_manage(&r.template))
            .ok_or(Error::Coupon(CouponError::TemplateNotFound))?;
        tx.revoke_coupon_template(code, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, template = %code, author = %author.name(), "coupon template revoked");
        Ok(view(&t.config, TemplateRow { revoked_at: Some(row.revoked_at.unwrap_or(now)), ..row }))
    }

    /// Issues `count` (1–100,000) single-use bearer codes of a template in one transaction, many
    /// rows per statement, and returns them with their batch id.
    pub async fn issue_coupons(
        &self,
        tenant: &TenantId,
        author: &CouponAuthor,
        template: &str,
        count: u32,
    ) -> Result<IssuedBatch> {
        if count == 0 || count > MAX_BULK {
            return Err(Error::InvalidInput { field: "count", message: format!("must be 1–{MAX_BULK}") });
        }
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = self.managed_template(&mut tx, author, template).await?;
        let (valid_from, valid_until) = issuable(&row, now)?;
        let batch = self.inner.ids.next_uuid();
        let issue = Issue {
            template,
            member: None,
            source: CouponSource::Bulk,
            batch: Some(batch),
            max_uses: Some(1),
            valid_from,
            valid_until,
        };
        let wanted = u64::from(count);
        let mut codes = fresh_codes(usize::try_from(count).map_err(|_| overflow())?)?;
        let mut inserted = tx.insert_coupons(issue, &codes, now).await?;
        // A code that exists already (about 10⁻⁵ per 100,000 against 100,000 stored) was skipped:
        // draw replacements until the batch is full, then read the batch back.
        let mut rounds = 0;
        while inserted < wanted {
            rounds += 1;
            if rounds > 8 {
                return Err(Error::Store(StoreError::Corrupt("could not draw unused coupon codes".into())));
            }
            let more = fresh_codes(usize::try_from(wanted - inserted).map_err(|_| overflow())?)?;
            inserted += tx.insert_coupons(issue, &more, now).await?;
            codes.clear();
        }
        if codes.is_empty() {
            codes = tx.batch_codes(batch).await?;
        }
        tx.commit().await?;
        tracing::info!(tenant = %tenant, template = %template, %batch, count, "coupons issued in bulk");
        Ok(IssuedBatch { batch, template: template.to_owned(), codes, valid_from, valid_until })
    }

    /// Creates a shared promo code for a template: its own total limit, the template's
    /// per-member and global limits. A chosen text already in use is [`CouponError::CodeTaken`].
    pub async fn create_promo_code(
        &self,
        tenant: &TenantId,
        author: &CouponAuthor,
        promo: NewPromoCode,
    ) -> Result<IssuedCoupon> {
        if promo.max_uses == Some(0) {
            return Err(Error::InvalidInput {
                field: "max_uses",
                message: "must be at least 1 (leave it out for no limit)".into(),
            });
        }
        let chosen = promo.code.as_deref().map(|c| read_code("code", c)).transpose()?;
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = self.managed_template(&mut tx, author, &promo.template).await?;
        let (valid_from, valid_until) = issuable(&row, now)?;
        let issue = Issue {
            template: &promo.template,
            member: None,
            source: CouponSource::Promo,
            batch: None,
            max_uses: promo.max_uses,
            valid_from,
            valid_until,
        };
        let code = match chosen {
            Some(code) => {
                if tx.insert_coupons(issue, std::slice::from_ref(&code), now).await? == 0 {
                    return Err(CouponError::CodeTaken.into());
                }
                code
            }
            None => insert_one(&mut tx, issue, now).await?,
        };
        tx.commit().await?;
        tracing::info!(tenant = %tenant, template = %promo.template, "promo code created");
        Ok(IssuedCoupon {
            code,
            template: promo.template,
            member: None,
            valid_from,
            valid_until,
            max_uses: promo.max_uses,
        })
    }

    /// Issues one personal coupon of a template to a member (staff issuance).
    pub async fn issue_coupon(
        &self,
        tenant: &TenantId,
        author: &CouponAuthor,
        template: &str,
        member: MemberId,
    ) -> Result<IssuedCoupon> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        self.managed_template(&mut tx, author, template).await?;
        let issued = self.issue_coupon_in(&mut tx, template, member, CouponSource::Manual, now).await?;
        tx.commit().await?;
        Ok(issued)
    }

    /// Issues one single-use personal coupon of `template` to `member` inside the caller's open
    /// transaction: what other engines call (an offer's `issue_coupon("template")` effect, a
    /// chain's or a referral's reward) so the coupon commits or rolls back with their decision.
    ///
    /// The template is read without a lock (issuing changes none of its counts); its validity
    /// window starts at `now`. Refusals: [`CouponError::TemplateNotFound`],
    /// [`CouponError::Revoked`] for a revoked template, [`Error::MemberNotFound`]. The caller
    /// decides who may issue; this function does not check the template's owner.
    pub(crate) async fn issue_coupon_in(
        &self,
        tx: &mut TenantTx,
        template: &str,
        member: MemberId,
        source: CouponSource,
        now: OffsetDateTime,
    ) -> Result<IssuedCoupon> {
        let row = tx.coupon_template(template).await?.ok_or(Error::Coupon(CouponError::TemplateNotFound))?;
        if row.revoked_at.is_some() {
            return Err(CouponError::Revoked.into());
        }
        tx.account(member).await.map_err(super::purchases::not_found(Error::MemberNotFound))?;
        let (valid_from, valid_until) = issuable(&row, now)?;
        let issue =
            Issue { template, member: Some(member), source, batch: None, max_uses: Some(1), valid_from, valid_until };
        let code = insert_one(tx, issue, now).await?;
        Ok(IssuedCoupon {
            code,
            template: template.to_owned(),
            member: Some(member),
            valid_from,
            valid_until,
            max_uses: Some(1),
        })
    }

    /// The template, if the author manages it and it is not revoked.
    async fn managed_template(&self, tx: &mut TenantTx, author: &CouponAuthor, code: &str) -> Result<TemplateRow> {
        let row = tx
            .lock_coupon_template(code)
            .await?
            .filter(|r| author.may_manage(&r.template))
            .ok_or(Error::Coupon(CouponError::TemplateNotFound))?;
        if row.revoked_at.is_some() {
            return Err(CouponError::Revoked.into());
        }
        Ok(row)
    }

    /// What a coupon would do for a purchase, with every rule checked as at the counter; reads
    /// only, so nothing is written and no use is counted.
    pub async fn preview_coupon(&self, tenant: &TenantId, p: PreviewCoupon) -> Result<CouponPreview> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let known = config.business(&p.business).ok_or_else(|| Error::UnknownBusiness(p.business.clone()))?;
        if p.amount.is_zero() {
            return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
        }
        if p.redeem.is_negative() {
            return Err(Error::InvalidAmount {
                field: "redeem",
                source: crate::types::AmountError::Negative(p.redeem.get()),
            });
        }
        let category = p.category.clone().unwrap_or_else(|| known.category.clone());
        let code = read_code("code", &p.code)?;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        if let Some(member) = p.member {
            tx.account(member).await.map_err(super::purchases::not_found(Error::MemberNotFound))?;
        }
        let coupon = find_coupon(&mut tx, &code).await?;
        let row = tx
            .coupon_template(&coupon.template)
            .await?
            .ok_or_else(|| Error::Store(StoreError::Corrupt("coupon without its template".into())))?;
        let member_uses = match p.member {
            Some(m) => tx.member_template_uses(m, &coupon.template).await?,
            None => 0,
        };
        let attempt = Attempt {
            member: p.member,
            business: &p.business,
            category: &category,
            amount: p.amount,
            redeem: p.redeem,
            now,
        };
        let effect = evaluate(&row.template.terms, &coupon, Usage { template_uses: row.uses, member_uses }, &attempt)?;
        Ok(CouponPreview {
            charged: p.amount.checked_sub(effect.discount).ok_or_else(overflow)?,
            rules: rules(config, &row.template.terms, Some(coupon.valid_until)),
            code,
            template: coupon.template,
            discount: effect.discount,
            bonus: effect.bonus,
            gift: effect.gift,
        })
    }

    /// The member's coupons — bound to her, or used by her — with where each stands and its
    /// rules in plain words, newest first.
    pub async fn member_coupons(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<MemberCoupon>> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(super::purchases::not_found(Error::MemberNotFound))?;
        let rows = tx.member_coupons(member).await?;
        let mut templates: HashMap<String, TemplateRow> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for (coupon, used_by_her) in rows {
            if !templates.contains_key(&coupon.template) {
                let row = tx
                    .coupon_template(&coupon.template)
                    .await?
                    .ok_or_else(|| Error::Store(StoreError::Corrupt("coupon without its template".into())))?;
                templates.insert(coupon.template.clone(), row);
            }
            let Some(row) = templates.get(&coupon.template) else { continue };
            let used_up = coupon.max_uses.is_some_and(|max| coupon.uses >= max);
            let status = if used_by_her > 0 || used_up {
                MemberCouponStatus::Used
            } else if coupon.revoked || now >= coupon.valid_until {
                MemberCouponStatus::Expired
            } else {
                MemberCouponStatus::Active
            };
            out.push(MemberCoupon {
                rules: rules(config, &row.template.terms, Some(coupon.valid_until)),
                code: coupon.code,
                template: coupon.template,
                status,
                valid_from: coupon.valid_from,
                valid_until: coupon.valid_until,
            });
        }
        Ok(out)
    }

    /// The coupon step of a refund: takes back the refunded share of a bonus-grant coupon's
    /// credit (cumulatively, as cashback), and gives the coupon's use back when the tenant's
    /// policy says so. `charged` is the purchase's stored amount; `before`/`after` what was
    /// refunded of it before and after this refund.
    #[allow(clippy::too_many_arguments)] // the refund's state, passed through once
    pub(super) async fn refund_coupon_in(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        coupon: Option<RedemptionRow>,
        purchase: PurchaseId,
        (charged, before, after): (Kopecks, Kopecks, Kopecks),
        account: &mut Account,
        plan: &mut Plan,
        ctx: Ctx<'_>,
    ) -> Result<CouponRefund> {
        let Some(coupon) = coupon else { return Ok(CouponRefund::default()) };
        let mut out = CouponRefund::default();
        if let (Some(lot), Some(entry)) = (coupon.bonus_lot, coupon.bonus_entry) {
            let rounding = crate::types::Rounding::Floor;
            let share = coupon
                .bonus
                .prorate(after, charged, rounding)
                .zip(coupon.bonus.prorate(before, charged, rounding))
                .and_then(|(a, b)| a.checked_sub(b))
                .ok_or_else(overflow)?;
            let outcome =
                account.reverse_credit(plan, lot, entry, share, config.bonus.refund_of_spent, Some(purchase), ctx)?;
            out.bonus_reversed = outcome.reversed;
        }
        let restore = match config.coupons.restore_on_refund {
            RestoreOnRefund::Never => false,
            RestoreOnRefund::FullRefund => after >= charged,
            RestoreOnRefund::AnyRefund => true,
        };
        if restore && !coupon.restored {
            tx.restore_coupon_redemption(&coupon, ctx.now).await?;
            out.restored = true;
        }
        Ok(out)
    }
}

/// The validity window of a coupon issued now; a template whose fixed dates have passed issues
/// nothing ([`CouponError::Expired`]): its codes could never be used.
fn issuable(row: &TemplateRow, now: OffsetDateTime) -> Result<(OffsetDateTime, OffsetDateTime)> {
    let (from, until) = row.template.terms.validity.window(now);
    if until <= now {
        return Err(CouponError::Expired { until }.into());
    }
    Ok((from, until))
}

/// Inserts one generated code, drawing again on the (rare) clash with an existing code.
async fn insert_one(tx: &mut TenantTx, issue: Issue<'_>, now: OffsetDateTime) -> Result<CouponCode> {
    for _ in 0..8 {
        let codes = fresh_codes(1)?;
        if let Some(code) = codes.into_iter().next()
            && tx.insert_coupons(issue, std::slice::from_ref(&code), now).await? == 1
        {
            return Ok(code);
        }
    }
    Err(Error::Store(StoreError::Corrupt("could not draw an unused coupon code".into())))
}
