//! The rules of a purchase, as one pure function of `(rules, snapshot, command, ctx)`.
//!
//! Order of the decision (and so of its refusals, when several rules would refuse):
//! medical consent → coupon → redemption cap → redemption (FIFO debit) → tier → cashback →
//! budget share → coupon grant → offers (priority order) → chains → receipt. Nothing here reads a
//! clock, a database or a random source: time, ids and coupon codes come in through the context.

use time::Duration;

use super::model::{CouponLookup, CouponRedemption, Decision, PurchaseCommand, Snapshot};
use crate::coupon::{self, CouponCode, CouponError};
use crate::error::{Error, Result};
use crate::facade::{AppliedCoupon, Receipt};
use crate::ledger::{Credit, Ctx, Debit, EntryKind, LedgerError, Plan, Source, redemption_cap};
use crate::offer::Sandbox;
use crate::status;
use crate::store::NewPurchase;
use crate::tenant::TenantConfig;
use crate::types::{EntryId, Kopecks, PurchaseId};

/// The horizon of "expiring soon" in the receipt's balance.
pub(crate) const EXPIRING_HORIZON: Duration = Duration::days(30);

/// What a purchase is decided by: the tenant's configuration and the engine its offer scripts
/// run in.
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    /// The tenant's configuration.
    pub(crate) config: &'a TenantConfig,
    /// The offer sandbox for the tenant's limits.
    pub(crate) sandbox: &'a Sandbox,
}

/// Where the coupon codes a purchase issues come from (the OS random source in production).
pub(crate) trait CodeSource {
    /// A fresh code. A code that clashes with an existing one fails the write, and the purchase
    /// is decided again with new codes.
    fn draw(&self) -> Result<CouponCode>;
}

/// The context of one decision: the time, and where ids and coupon codes come from.
#[derive(Clone, Copy)]
pub(crate) struct PurchaseCtx<'a> {
    /// The ledger's context: now, and the id source.
    pub(crate) ledger: Ctx<'a>,
    /// The coupon code source.
    pub(crate) codes: &'a dyn CodeSource,
}

pub(super) fn overflow() -> Error {
    Error::Ledger(LedgerError::Overflow)
}

/// A pending credit of `amount` from `source`, held and expiring as the tenant's cashback.
pub(super) fn pending_credit(
    config: &TenantConfig,
    source: Source,
    issuer: Option<crate::types::BusinessId>,
    purchase: Option<PurchaseId>,
    amount: crate::types::Bonus,
    reason: Option<String>,
    now: time::OffsetDateTime,
) -> Credit {
    let policy = &config.bonus;
    Credit {
        kind: EntryKind::Accrual,
        source,
        issuer,
        purchase,
        amount,
        available_at: now + Duration::days(i64::from(policy.hold_days)),
        expires_at: now + Duration::days(i64::from(policy.expiry_days)),
        reason,
        actor: None,
    }
}

/// Decides a purchase: everything it writes and its receipt, or the refusal. A refusal decides
/// nothing, so nothing is written.
pub(crate) fn decide(
    rules: Rules<'_>,
    snapshot: Snapshot,
    cmd: &PurchaseCommand<'_>,
    ctx: PurchaseCtx<'_>,
) -> Result<Decision> {
    let config = rules.config;
    let policy = &config.bonus;
    let now = ctx.ledger.now;
    let ids = ctx.ledger.ids;
    let Snapshot { account, held, medical_consent, stats, coupon, offers, history, chains, templates } = snapshot;
    // Medical secrecy (323-FZ art. 13): a clinic's payment is linked to a member only with her
    // separate medical-disclosure consent; without it the purchase is refused, not recorded.
    if config.business(cmd.business).is_some_and(|b| b.medical) && !medical_consent {
        return Err(Error::MedicalConsentRequired);
    }
    let mut account = account;
    // The coupon is decided first: its discount lowers what the member is charged, and so
    // the redemption cap, the paid part, tier spend and the budget share (coupon/policy.rs).
    let coupon = match coupon {
        CouponLookup::None if cmd.coupon.is_some() => {
            return Err(Error::Store(crate::store::StoreError::Corrupt(
                "a coupon was presented but not looked up".into(),
            )));
        }
        CouponLookup::None => None,
        CouponLookup::Missing(code) if code.has_generated_shape() && !code.check_passes() => {
            return Err(CouponError::Mistyped.into());
        }
        CouponLookup::Missing(_) => return Err(CouponError::NotFound.into()),
        CouponLookup::Found { coupon, template, member_uses } => {
            let usage = coupon::Usage { template_uses: template.uses, member_uses };
            let attempt = coupon::Attempt {
                member: Some(cmd.member),
                business: cmd.business,
                category: &cmd.category,
                amount: cmd.amount,
                redeem: cmd.redeem,
                now,
            };
            let effect = coupon::evaluate(&template.template.terms, &coupon, usage, &attempt)?;
            Some((coupon.code, template.template, effect))
        }
    };
    let discount = coupon.as_ref().map_or(Kopecks::ZERO, |(_, _, e)| e.discount);
    let charged = cmd.amount.checked_sub(discount).ok_or_else(overflow)?;

    let purchase = PurchaseId::generate(ids);
    let mut plan = Plan::default();
    let cap = redemption_cap(charged, policy);
    if cmd.redeem > cap {
        return Err(Error::Ledger(LedgerError::RedeemAboveCap { cap, requested: cmd.redeem }));
    }
    let redemption_entry = if cmd.redeem.is_zero() {
        None
    } else {
        let debit = Debit {
            kind: EntryKind::Redemption,
            source: Source::Purchase,
            redeemer: Some(cmd.business.clone()),
            purchase: Some(purchase),
            amount: cmd.redeem,
            reason: None,
            actor: None,
        };
        Some(account.debit(&mut plan, debit, ctx.ledger)?)
    };
    let redeemed_money = cmd.redeem.as_kopecks().ok_or_else(overflow)?;
    let paid = charged.checked_sub(redeemed_money).ok_or_else(overflow)?;

    // The purchase counts toward the tier it earns at (a crossing purchase earns the new rate).
    let mut stats = stats;
    if config.tiers.window_start(now).is_none_or(|start| cmd.at >= start) {
        stats.spend = stats.spend.checked_add(charged).ok_or_else(overflow)?;
        stats.categories.insert(cmd.category.clone());
    }
    let tier = status::evaluate(&config.tiers, &stats, &held, now);
    let cashback = paid.accrue_at(tier.cashback, policy.rounding);
    let available_at = now + Duration::days(i64::from(policy.hold_days));
    let (accrual_entry, accrual_lot) = if cashback.is_zero() {
        (None, None)
    } else {
        let credit =
            pending_credit(config, Source::Purchase, Some(cmd.business.clone()), Some(purchase), cashback, None, now);
        let lot = account.credit(&mut plan, credit, ctx.ledger)?;
        (plan.entries.last().map(|e| e.id), Some(lot))
    };
    let contribution = paid.share(config.budget.event_share, policy.rounding);

    let (coupon_use, applied_coupon) = match coupon {
        None => (None, None),
        Some((code, template, effect)) => {
            let (bonus_entry, bonus_lot) = if effect.bonus > crate::types::Bonus::ZERO {
                let credit = pending_credit(
                    config,
                    Source::Coupon,
                    template.funded_by.clone(),
                    Some(purchase),
                    effect.bonus,
                    None,
                    now,
                );
                let lot = account.credit(&mut plan, credit, ctx.ledger)?;
                (plan.entries.last().map(|e| e.id), Some(lot))
            } else {
                (None, None)
            };
            let redemption = CouponRedemption {
                id: ids.next_uuid(),
                code: code.clone(),
                template: template.terms.code.clone(),
                discount: effect.discount,
                bonus: effect.bonus,
                bonus_entry,
                bonus_lot,
            };
            let applied = AppliedCoupon {
                code,
                template: template.terms.code,
                discount: effect.discount,
                bonus: effect.bonus,
                gift: effect.gift,
                funded_by: template.funded_by,
            };
            (Some(redemption), Some(applied))
        }
    };

    let mut issued = Vec::new();
    let offer_day = config.local_date(now).to_string();
    let offer_purchase = super::offers::OfferPurchase {
        purchase,
        member: cmd.member,
        business: cmd.business,
        category: &cmd.category,
        amount: charged,
        paid,
        cashback,
        tier: tier.tier.as_ref(),
        categories: &stats.categories,
        at: cmd.at,
    };
    let (offer_outcomes, applied_offers) = super::offers::run_offers(
        rules,
        &offer_purchase,
        offers,
        history.as_ref(),
        &templates,
        &mut account,
        &mut plan,
        &mut issued,
        ctx,
    )?;
    let (chain_steps, chains_made) = super::chains::advance_chains(
        config,
        cmd,
        charged,
        purchase,
        chains,
        &templates,
        &mut account,
        &mut plan,
        &mut issued,
        ctx,
    )?;
    let budget = (!contribution.is_zero()).then(|| (EntryId::generate(ids), contribution));

    let receipt = Receipt {
        purchase,
        member: cmd.member,
        business: cmd.business.clone(),
        category: cmd.category.clone(),
        amount: cmd.amount,
        redeemed: cmd.redeem,
        paid,
        cashback,
        cashback_rate: tier.cashback,
        cashback_available_at: available_at,
        tier_before: tier.previous.clone(),
        tier_after: tier.tier.clone(),
        tier_changed: tier.changed,
        progress: tier.progress.clone(),
        budget_contribution: contribution,
        balance: account.view(now, EXPIRING_HORIZON)?,
        recorded_at: now,
        coupon: applied_coupon,
        offers: applied_offers,
        chains: chains_made,
    };
    let (scope, hash) = cmd.idempotency;
    Ok(Decision {
        purchase: NewPurchase {
            id: purchase,
            member: cmd.member,
            business: cmd.business.clone(),
            receipt_id: cmd.receipt_id.to_owned(),
            category: cmd.category.clone(),
            amount: charged,
            redeemed: cmd.redeem,
            accrued: cashback,
            contribution,
            accrual_entry,
            accrual_lot,
            redemption_entry,
            at: cmd.at,
        },
        plan,
        account,
        held: tier.held,
        coupon: coupon_use,
        offers: offer_outcomes,
        offer_day,
        coupons: issued,
        chain_steps,
        budget,
        qr_step: cmd.qr_step,
        remember: (scope.to_owned(), cmd.receipt_id.to_owned(), hash.to_owned()),
        receipt,
    })
}

/// A single-use personal coupon of `template` for `member`, valid from `now`, as
/// `Krug::issue_coupon_in` issues one: [`CouponError::TemplateNotFound`] when the snapshot has no
/// such template, [`CouponError::Revoked`] for a revoked one, [`CouponError::Expired`] when its
/// fixed dates have passed. The caller decides who may issue it.
pub(super) fn issue_personal(
    templates: &[crate::store::TemplateRow],
    template: &str,
    member: crate::types::MemberId,
    source: coupon::CouponSource,
    ctx: PurchaseCtx<'_>,
) -> Result<super::model::NewCoupon> {
    let now = ctx.ledger.now;
    let row = templates
        .iter()
        .find(|t| t.template.terms.code == template)
        .ok_or(Error::Coupon(CouponError::TemplateNotFound))?;
    if row.revoked_at.is_some() {
        return Err(CouponError::Revoked.into());
    }
    let (valid_from, valid_until) = row.template.terms.validity.window(now);
    if valid_until <= now {
        return Err(CouponError::Expired { until: valid_until }.into());
    }
    Ok(super::model::NewCoupon {
        code: ctx.codes.draw()?,
        template: template.to_owned(),
        member,
        source,
        valid_from,
        valid_until,
    })
}
