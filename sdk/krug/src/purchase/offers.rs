//! The offers step of a purchase: the business's running offers, evaluated in priority order on
//! what the snapshot holds.
//!
//! Invariants:
//! - offers run in priority order (higher first, then offer id); an exclusive offer that fires
//!   stops the ones after it; the sum of offer bonus on one purchase never exceeds the tenant's
//!   cap;
//! - budgets and limits are checked against the usage read under the offer's lock (the store
//!   locks every running offer with a budget or a daily limit while it builds the snapshot);
//! - each fired offer is one ledger credit (`Accrual`, `Source::Offer`, issued by the offer's
//!   business, with the cashback's hold and expiry) plus one activation;
//! - a script that fails is skipped for that purchase only and counted; the purchase goes on.

use std::collections::BTreeSet;

use time::{Date, Duration, OffsetDateTime, Weekday};

use super::model::{Activation, MemberHistory, NewCoupon, OfferOutcome, OfferState};
use super::policy::{PurchaseCtx, Rules, issue_personal, overflow, pending_credit};
use crate::coupon::CouponSource;
use crate::error::{Error, Result};
use crate::facade::AppliedOffer;
use crate::ledger::{Account, Plan, Source};
use crate::offer::policy;
use crate::offer::{BusinessFacts, Facts, MemberFacts, PurchaseFacts, ScriptFailure};
use crate::store::{StatDelta, TemplateRow};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, Category, Kopecks, MemberId, PurchaseId, TierCode};

/// The purchase as the offers see it.
pub(crate) struct OfferPurchase<'a> {
    pub(crate) purchase: PurchaseId,
    pub(crate) member: MemberId,
    pub(crate) business: &'a BusinessId,
    pub(crate) category: &'a Category,
    pub(crate) amount: Kopecks,
    pub(crate) paid: Kopecks,
    pub(crate) cashback: Bonus,
    pub(crate) tier: Option<&'a TierCode>,
    /// The member's categories in the status window, this purchase included.
    pub(crate) categories: &'a BTreeSet<Category>,
    pub(crate) at: OffsetDateTime,
}

/// The tenant-local date and time of an instant.
pub(crate) fn local(config: &TenantConfig, at: OffsetDateTime) -> OffsetDateTime {
    use time_tz::OffsetDateTimeExt;
    match time_tz::timezones::get_by_name(&config.timezone) {
        Some(tz) => at.to_timezone(tz),
        None => at,
    }
}

/// ISO weekday number, Monday = 1.
pub(crate) fn weekday_number(w: Weekday) -> u8 {
    w.number_from_monday()
}

/// Whether `birthday`'s anniversary falls on `day` / in `day`'s Monday–Sunday week.
fn birthday_flags(birthday: Date, day: Date) -> (bool, bool) {
    let on = |d: Date| d.month() == birthday.month() && d.day() == birthday.day();
    let monday = day - Duration::days(i64::from(day.weekday().number_days_from_monday()));
    let week = (0..7).any(|i| on(monday + Duration::days(i)));
    (on(day), week)
}

/// How many of `categories` are not a clinic's: a script of one partner must not learn, even as
/// a count, that a member was treated at a medical partner (medical secrecy).
fn non_medical_categories(config: &TenantConfig, categories: &BTreeSet<Category>) -> i64 {
    let medical = |c: &Category| config.businesses.iter().any(|b| b.medical && &b.category == c);
    i64::try_from(categories.iter().filter(|c| !medical(c)).count()).unwrap_or(i64::MAX)
}

/// Whether any of the scripts mentions the member's birthday (only then is it opened).
pub(crate) fn needs_birthday(scripts: &[&str]) -> bool {
    scripts.iter().any(|s| s.contains("birthday"))
}

/// The member as scripts see her at this purchase.
fn member_facts(config: &TenantConfig, p: &OfferPurchase<'_>, h: &MemberHistory) -> MemberFacts {
    let today = local(config, p.at).date();
    let (birthday_today, birthday_this_week) = h.birthday.map_or((false, false), |b| birthday_flags(b, today));
    MemberFacts {
        tier: p.tier.cloned(),
        days_since_joining: (p.at - h.joined_at).whole_days().max(0),
        visits: h.visits,
        spend: h.spend,
        categories: non_medical_categories(config, p.categories),
        birthday_today,
        birthday_this_week,
        days_since_last_visit: h.last_visit.map(|l| (p.at - l).whole_days().max(0)),
    }
}

/// Runs the business's offers on the purchase: credits what fired into `plan`, adds the coupons
/// they issue to `issued`, and returns each evaluated offer's writes and what the receipt lists.
#[allow(clippy::too_many_arguments)] // the pipeline's state, passed through once
pub(super) fn run_offers(
    rules: Rules<'_>,
    p: &OfferPurchase<'_>,
    offers: Vec<OfferState>,
    history: Option<&MemberHistory>,
    templates: &[TemplateRow],
    account: &mut Account,
    plan: &mut Plan,
    issued: &mut Vec<NewCoupon>,
    ctx: PurchaseCtx<'_>,
) -> Result<(Vec<OfferOutcome>, Vec<AppliedOffer>)> {
    let config = rules.config;
    let now = ctx.ledger.now;
    let mut offers: Vec<OfferState> = offers.into_iter().filter(|o| o.rules.in_schedule(now)).collect();
    if offers.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let history = history.ok_or_else(|| {
        Error::Store(crate::store::StoreError::Corrupt("running offers without the member's history".into()))
    })?;
    offers.sort_by(|a, b| b.rules.priority.cmp(&a.rules.priority).then(a.id.cmp(&b.id)));

    let member = member_facts(config, p, history);
    let local_at = local(config, p.at);
    let purchase = PurchaseFacts {
        amount: p.amount,
        paid: p.paid,
        category: p.category.clone(),
        business: p.business.clone(),
        weekday: weekday_number(local_at.weekday()),
        hour: local_at.hour(),
        date: local_at.date(),
        cashback: p.cashback,
    };
    let known = config.business(p.business).ok_or_else(|| Error::UnknownBusiness(p.business.clone()))?;
    let business = BusinessFacts { id: known.id.clone(), category: known.category.clone() };
    let sandbox = rules.sandbox;
    let mut scope = sandbox.scope(&Facts { purchase: &purchase, member: &member, business: &business });
    let mut cap_left = config.offers.purchase_cap();
    let mut outcomes = Vec::new();
    let mut applied = Vec::new();

    for offer in offers {
        let outcome = offer
            .script
            .as_ref()
            .map_err(|e| ScriptFailure::Runtime(e.clone()))
            .and_then(|ast| sandbox.run(&mut scope, ast));
        let effects = match outcome {
            Ok(effects) if effects.is_empty() => continue,
            Ok(effects) => effects,
            Err(failure) => {
                let kind = match failure {
                    ScriptFailure::Limit(_) => "limit",
                    ScriptFailure::Runtime(_) => "runtime",
                };
                tracing::warn!(offer = %offer.id, version = offer.version, purchase = %p.purchase, kind,
                    "offer script skipped");
                let stats = StatDelta { failures: 1, ..StatDelta::default() };
                outcomes.push(OfferOutcome { offer: offer.id, version: offer.version, stats, fired: None });
                continue;
            }
        };
        let wanted = policy::bonus_of(&effects, p.paid, p.cashback, config.bonus.rounding).ok_or_else(overflow)?;
        let mut stats = StatDelta { matched: 1, revenue: p.amount.get(), ..StatDelta::default() };
        let Some(granted) = policy::grant(&offer.rules, &offer.usage, wanted, cap_left) else {
            outcomes.push(OfferOutcome { offer: offer.id, version: offer.version, stats, fired: None });
            continue;
        };
        let (entry, lot) = if granted.is_zero() {
            (None, None)
        } else {
            let credit =
                pending_credit(config, Source::Offer, Some(p.business.clone()), Some(p.purchase), granted, None, now);
            let lot = account.credit(plan, credit, ctx.ledger)?;
            (plan.entries.last().map(|e| e.id), Some(lot))
        };
        cap_left = cap_left.checked_sub(granted).ok_or_else(overflow)?;
        let coupons = issue_offer_coupons(templates, p, &offer, &effects.coupons, issued, ctx)?;
        // A coupon effect that could not be applied is counted with the script failures.
        stats.failures = i64::try_from(effects.coupons.len().saturating_sub(coupons.len())).unwrap_or(i64::MAX);
        stats.activations = 1;
        stats.bonus = granted.get();
        applied.push(AppliedOffer {
            offer: offer.id,
            version: offer.version,
            bonus: granted,
            coupons: coupons.clone(),
            badges: effects.badges.clone(),
        });
        let fired = Activation { bonus: granted, entry, lot, coupons, badges: effects.badges };
        outcomes.push(OfferOutcome { offer: offer.id, version: offer.version, stats, fired: Some(fired) });
        if offer.rules.exclusive {
            break;
        }
    }
    Ok((outcomes, applied))
}

/// The personal coupons an offer's `issue_coupon("template")` effects ask for; returns the
/// templates issued. A template counts only when the offer's own business owns it (a partner's
/// offer never spends another partner's or the ecosystem's money) and it can issue now; any
/// other is skipped for this purchase — like a failing script, it never fails the purchase —
/// logged, and counted as a failure by the caller.
fn issue_offer_coupons(
    templates: &[TemplateRow],
    p: &OfferPurchase<'_>,
    offer: &OfferState,
    wanted: &[String],
    issued: &mut Vec<NewCoupon>,
    ctx: PurchaseCtx<'_>,
) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(wanted.len());
    for template in wanted {
        let owned = templates.iter().any(|t| {
            &t.template.terms.code == template
                && t.template.owner.as_ref() == Some(p.business)
                && t.revoked_at.is_none()
        });
        let refusal = if owned {
            match issue_personal(templates, template, p.member, CouponSource::Offer, ctx) {
                Ok(coupon) => {
                    issued.push(coupon);
                    out.push(template.clone());
                    continue;
                }
                Err(Error::Coupon(e)) => e.code(),
                Err(other) => return Err(other),
            }
        } else {
            "coupon_template_not_found"
        };
        tracing::warn!(offer = %offer.id, purchase = %p.purchase, refusal, "offer coupon not issued");
    }
    Ok(out)
}
