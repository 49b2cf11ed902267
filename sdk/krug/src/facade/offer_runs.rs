//! Offers at work: evaluating a business's running offers inside the purchase transaction,
//! reversing their bonus on refunds, and backtesting a draft over past purchases.
//!
//! Invariants:
//! - offers run in priority order (higher first, then offer id); an exclusive offer that fires
//!   stops the ones after it; the sum of offer bonus on one purchase never exceeds the tenant's
//!   cap;
//! - before an offer's counters are read its row is locked (`FOR UPDATE` on PostgreSQL; the
//!   single writer on SQLite), so concurrent purchases never overspend a budget or a limit;
//! - each fired offer is one ledger credit (`Accrual`, `Source::Offer`, issued by the offer's
//!   business, with the cashback's hold and expiry) plus one activation row;
//! - a script that fails is skipped for that purchase only and counted; the purchase goes on.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, Weekday};

use super::Krug;
use super::members::open;
use crate::error::{Error, Result};
use crate::ledger::{Account, Credit, Ctx, EntryKind, LedgerError, Plan, Source};
use crate::offer::policy::{self, Usage};
use crate::offer::{BusinessFacts, Facts, MemberFacts, OfferRules, PurchaseFacts};
use crate::store::{NewActivation, RunningRow, StatDelta, StoreError, TenantTx};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, Category, Kopecks, MemberId, OfferId, PurchaseId, TenantId, TierCode};

/// An offer that fired on a purchase, as the receipt lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedOffer {
    /// The offer.
    pub offer: OfferId,
    /// The version that ran.
    pub version: i64,
    /// The bonus credited (after budgets, limits and the per-purchase cap).
    pub bonus: Bonus,
    /// Coupon templates of which the offer issued the member a personal coupon (its
    /// `issue_coupon` effects whose template its business owns and can issue now).
    pub coupons: Vec<String>,
    /// Badges awarded.
    pub badges: Vec<String>,
}

/// The purchase as the pipeline hands it to the offers.
pub(super) struct OfferPurchase<'a> {
    pub(super) purchase: PurchaseId,
    pub(super) member: MemberId,
    pub(super) business: &'a BusinessId,
    pub(super) category: &'a Category,
    pub(super) amount: Kopecks,
    pub(super) paid: Kopecks,
    pub(super) cashback: Bonus,
    pub(super) tier: Option<&'a TierCode>,
    /// The member's categories in the status window, this purchase included.
    pub(super) categories: &'a std::collections::BTreeSet<Category>,
    pub(super) at: OffsetDateTime,
}

/// The tenant-local date and time of an instant.
pub(super) fn local(config: &TenantConfig, at: OffsetDateTime) -> OffsetDateTime {
    use time_tz::OffsetDateTimeExt;
    match time_tz::timezones::get_by_name(&config.timezone) {
        Some(tz) => at.to_timezone(tz),
        None => at,
    }
}

fn weekday_number(w: Weekday) -> u8 {
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
fn non_medical_categories(config: &TenantConfig, categories: &std::collections::BTreeSet<Category>) -> i64 {
    let medical = |c: &Category| config.businesses.iter().any(|b| b.medical && &b.category == c);
    i64::try_from(categories.iter().filter(|c| !medical(c)).count()).unwrap_or(i64::MAX)
}

fn overflow() -> Error {
    Error::Ledger(LedgerError::Overflow)
}

fn corrupt(e: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt(e.to_string()))
}

/// What a backtest found: reach and cost of a draft over past purchases.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Purchases replayed.
    pub purchases: u64,
    /// Purchases the offer fired on.
    pub matched: u64,
    /// Distinct members it fired for.
    pub members_reached: u64,
    /// Total bonus it would have cost, kopecks (after its budgets and limits).
    pub total_bonus: Bonus,
    /// `total_bonus / members_reached`, floored; zero when nobody was reached.
    pub cost_per_member: Bonus,
    /// Runs that failed (limits or run-time errors).
    pub failures: u64,
    /// Per tenant-local day, oldest first.
    pub by_day: Vec<BacktestDay>,
}

/// One day of a backtest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BacktestDay {
    /// `YYYY-MM-DD`, tenant-local.
    pub day: String,
    /// Purchases the offer fired on.
    pub matched: u64,
    /// Distinct members it fired for that day.
    pub members: u64,
    /// Bonus it would have cost.
    pub bonus: Bonus,
}

/// Progress of a long backtest: purchases evaluated out of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacktestProgress {
    /// Evaluated so far.
    pub done: usize,
    /// To evaluate.
    pub total: usize,
}

/// How often a backtest reports progress.
const PROGRESS_EVERY: usize = 10_000;

/// The longest backtest window.
const MAX_BACKTEST_DAYS: u32 = 366;

impl Krug {
    /// Runs the business's `running` offers (read by the caller before it queued the purchase's
    /// writes) on a purchase inside its transaction (after the purchase row is written, before
    /// the plan is): adds their credits to `plan`, records activations,
    /// statistics and badges, and returns what fired for the receipt.
    #[allow(clippy::too_many_arguments)] // the pipeline's state, passed as it is
    pub(super) async fn apply_offers_in(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        p: &OfferPurchase<'_>,
        running: Vec<RunningRow>,
        account: &mut Account,
        plan: &mut Plan,
        ctx: Ctx<'_>,
    ) -> Result<Vec<AppliedOffer>> {
        let now = ctx.now;
        if running.is_empty() {
            return Ok(Vec::new());
        }
        let mut offers = Vec::with_capacity(running.len());
        for row in running {
            let rules: OfferRules = serde_json::from_str(&row.rules_json).map_err(corrupt)?;
            if rules.in_schedule(now) {
                offers.push((row, rules));
            }
        }
        if offers.is_empty() {
            return Ok(Vec::new());
        }
        offers.sort_by(|a, b| b.1.priority.cmp(&a.1.priority).then(a.0.id.cmp(&b.0.id)));

        let needs_birthday = offers.iter().any(|(row, _)| row.script.contains("birthday"));
        let member = self.member_facts(tx, config, p, needs_birthday).await?;
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
        let sandbox = self.inner.offers.sandbox(&config.offers);
        let mut scope = sandbox.scope(&Facts { purchase: &purchase, member: &member, business: &business });
        let day = config.local_date(now).to_string();
        let mut cap_left = config.offers.purchase_cap();
        let policy_ = &config.bonus;
        let mut applied = Vec::new();

        for (row, rules) in offers {
            let outcome = self
                .inner
                .offers
                .ast(&sandbox, &tx.tenant, row.id, row.version, &row.script)
                .map_err(crate::offer::ScriptFailure::Runtime)
                .and_then(|ast| sandbox.run(&mut scope, &ast));
            let effects = match outcome {
                Ok(effects) if effects.is_empty() => continue,
                Ok(effects) => effects,
                Err(failure) => {
                    let kind = match failure {
                        crate::offer::ScriptFailure::Limit(_) => "limit",
                        crate::offer::ScriptFailure::Runtime(_) => "runtime",
                    };
                    tracing::warn!(tenant = %tx.tenant, offer = %row.id, version = row.version,
                        purchase = %p.purchase, kind, "offer script skipped");
                    let delta = StatDelta { failures: 1, ..StatDelta::default() };
                    tx.add_offer_stats(row.id, row.version, &day, delta).await?;
                    continue;
                }
            };
            let wanted = policy::bonus_of(&effects, p.paid, p.cashback, policy_.rounding).ok_or_else(overflow)?;
            let locked = tx.lock_offer(row.id).await?;
            let mut usage = Usage { spent: locked.spent, ..Usage::default() };
            if rules.per_day_bonus.is_some() || rules.per_member_bonus.is_some() || rules.per_member_count.is_some() {
                let (today, count, member_bonus) = tx.offer_usage(row.id, p.member, &day).await?;
                usage.today = Bonus::new(today).map_err(corrupt)?;
                usage.member_count = u32::try_from(count).unwrap_or(u32::MAX);
                usage.member_bonus = Bonus::new(member_bonus).map_err(corrupt)?;
            }
            let mut delta = StatDelta { matched: 1, revenue: p.amount.get(), ..StatDelta::default() };
            let Some(granted) = policy::grant(&rules, &usage, wanted, cap_left) else {
                tx.add_offer_stats(row.id, row.version, &day, delta).await?;
                continue;
            };
            let (entry, lot) = if granted.is_zero() {
                (None, None)
            } else {
                let credit = Credit {
                    kind: EntryKind::Accrual,
                    source: Source::Offer,
                    issuer: Some(p.business.clone()),
                    purchase: Some(p.purchase),
                    amount: granted,
                    available_at: now + Duration::days(i64::from(policy_.hold_days)),
                    expires_at: now + Duration::days(i64::from(policy_.expiry_days)),
                    reason: None,
                    actor: None,
                };
                let lot = account.credit(plan, credit, ctx)?;
                (plan.entries.last().map(|e| e.id), Some(lot))
            };
            cap_left = cap_left.checked_sub(granted).ok_or_else(overflow)?;
            tx.count_offer_spend(row.id, granted).await?;
            let issued = self.issue_offer_coupons(tx, p, row.id, &effects.coupons, now).await?;
            // A coupon effect that could not be applied is counted with the script failures.
            delta.failures = i64::try_from(effects.coupons.len().saturating_sub(issued.len())).unwrap_or(i64::MAX);
            let coupons = serde_json::to_string(&issued).map_err(corrupt)?;
            let badges = serde_json::to_string(&effects.badges).map_err(corrupt)?;
            let activation = NewActivation {
                purchase: p.purchase,
                offer: row.id,
                version: row.version,
                member: p.member,
                business: p.business,
                bonus: granted,
                entry,
                lot,
                coupons_json: &coupons,
                badges_json: &badges,
                day: &day,
            };
            tx.insert_activation(&activation, now).await?;
            for badge in &effects.badges {
                tx.award_badge(p.member, badge, row.id, p.purchase, now).await?;
            }
            delta.activations = 1;
            delta.bonus = granted.get();
            tx.add_offer_stats(row.id, row.version, &day, delta).await?;
            applied.push(AppliedOffer {
                offer: row.id,
                version: row.version,
                bonus: granted,
                coupons: issued,
                badges: effects.badges,
            });
            if rules.exclusive {
                break;
            }
        }
        Ok(applied)
    }

    /// Issues the personal coupons an offer's `issue_coupon("template")` effects ask for, in the
    /// purchase's transaction, and returns the templates issued. A template counts only when the
    /// offer's own business owns it (a partner's offer never spends another partner's or the
    /// ecosystem's money) and it can issue now; any other is skipped for this purchase — like a
    /// failing script, it never fails the scan — logged, and counted as a failure by the caller.
    async fn issue_offer_coupons(
        &self,
        tx: &mut TenantTx,
        p: &OfferPurchase<'_>,
        offer: OfferId,
        templates: &[String],
        now: OffsetDateTime,
    ) -> Result<Vec<String>> {
        let mut issued = Vec::with_capacity(templates.len());
        for template in templates {
            let owned = tx
                .coupon_template(template)
                .await?
                .is_some_and(|t| t.template.owner.as_ref() == Some(p.business) && t.revoked_at.is_none());
            let refusal = if owned {
                match self.issue_coupon_in(tx, template, p.member, crate::coupon::CouponSource::Offer, now).await {
                    Ok(_) => {
                        issued.push(template.clone());
                        continue;
                    }
                    Err(Error::Coupon(e)) => e.code(),
                    Err(other) => return Err(other),
                }
            } else {
                "coupon_template_not_found"
            };
            tracing::warn!(tenant = %tx.tenant, offer = %offer, purchase = %p.purchase, refusal,
                "offer coupon not issued");
        }
        Ok(issued)
    }

    /// The member as scripts see her at this purchase. Her birthday is opened only when a
    /// running script mentions it.
    async fn member_facts(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        p: &OfferPurchase<'_>,
        needs_birthday: bool,
    ) -> Result<MemberFacts> {
        let row = tx.member(p.member).await?;
        let (visits, spend, last) = tx.visits_at(p.member, p.business, p.purchase).await?;
        let today = local(config, p.at).date();
        let (birthday_today, birthday_this_week) = match (&row.birthday, needs_birthday) {
            (Some(sealed), true) => {
                let keys = self.hosted(&tx.tenant)?.keys.clone();
                let text = open(&keys, &tx.tenant, p.member, "birthday", sealed)?;
                let birthday =
                    Date::parse(&text, time::macros::format_description!("[year]-[month]-[day]")).map_err(corrupt)?;
                birthday_flags(birthday, today)
            }
            _ => (false, false),
        };
        let last = last.map(crate::store::from_ts).transpose()?;
        Ok(MemberFacts {
            tier: p.tier.cloned(),
            days_since_joining: (p.at - row.created_at).whole_days().max(0),
            visits,
            spend: Kopecks::new(spend.max(0)).map_err(corrupt)?,
            categories: non_medical_categories(config, p.categories),
            birthday_today,
            birthday_this_week,
            days_since_last_visit: last.map(|l| (p.at - l).whole_days().max(0)),
        })
    }

    /// Backtests the latest version of an offer of `business` over its purchases of the last
    /// `days` days, in memory after one read of the window (and one aggregate of the visits
    /// before it). The offer's budgets and limits apply as they would have; the per-purchase cap
    /// and other offers do not. Member facts are reconstructed as of each purchase from this
    /// business's purchases; approximations: the tier is the member's current held tier, the
    /// distinct categories count those seen at this business, birthdays are not opened (false),
    /// and refunds made later are not subtracted. `progress` is called every 10 000 purchases.
    pub async fn backtest_offer(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        offer: OfferId,
        days: u32,
        mut progress: Option<&mut (dyn FnMut(BacktestProgress) + Send)>,
    ) -> Result<BacktestReport> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        if days == 0 || days > MAX_BACKTEST_DAYS {
            return Err(Error::InvalidInput { field: "days", message: format!("must be 1..={MAX_BACKTEST_DAYS}") });
        }
        let view = self.offer(tenant, Some(business), offer).await?;
        let latest = view.versions.into_iter().next().ok_or(Error::OfferNotFound)?;
        let sandbox = self.inner.offers.sandbox(&config.offers);
        let ast = sandbox.compile(&latest.script).map_err(|message| Error::OfferScriptInvalid { message })?;
        let known = config.business(business).ok_or_else(|| Error::UnknownBusiness(business.clone()))?;
        let business_facts = BusinessFacts { id: known.id.clone(), category: known.category.clone() };
        let now = self.now();
        let since = now - Duration::days(i64::from(days));

        let mut tx = self.read(tenant).await?;
        let prior = tx.visits_before(business, since).await?;
        let rows = tx.replay_purchases(business, since).await?;
        drop(tx);

        struct Seen {
            visits: i64,
            spend: i64,
            last: Option<i64>,
            categories: HashSet<String>,
            offers: u32,
            bonus: Bonus,
        }
        let mut members: HashMap<MemberId, Seen> = prior
            .into_iter()
            .map(|(m, n, s, l)| {
                (
                    m,
                    Seen {
                        visits: n,
                        spend: s,
                        last: Some(l),
                        categories: HashSet::new(),
                        offers: 0,
                        bonus: Bonus::ZERO,
                    },
                )
            })
            .collect();
        let rules = &latest.rules;
        let mut report = BacktestReport { purchases: rows.len() as u64, ..BacktestReport::default() };
        let mut spent = Bonus::ZERO;
        let mut by_day: BTreeMap<String, (BacktestDay, HashSet<MemberId>)> = BTreeMap::new();
        let mut reached: HashSet<MemberId> = HashSet::new();
        let total = rows.len();
        for (i, row) in rows.into_iter().enumerate() {
            if let Some(report_progress) = progress.as_deref_mut()
                && i % PROGRESS_EVERY == 0
            {
                report_progress(BacktestProgress { done: i, total });
            }
            let at = crate::store::from_ts(row.at)?;
            let joined = crate::store::from_ts(row.joined_at)?;
            let local_at = local(config, at);
            let amount = Kopecks::new(row.amount).map_err(corrupt)?;
            let paid = Kopecks::new(row.amount.saturating_sub(row.redeemed).max(0)).map_err(corrupt)?;
            let category = Category::parse(&row.category).map_err(corrupt)?;
            let seen = members.entry(row.member).or_insert(Seen {
                visits: 0,
                spend: 0,
                last: None,
                categories: HashSet::new(),
                offers: 0,
                bonus: Bonus::ZERO,
            });
            seen.categories.insert(row.category.clone());
            let member = MemberFacts {
                tier: row.tier.as_deref().map(TierCode::parse).transpose().map_err(corrupt)?,
                days_since_joining: (at - joined).whole_days().max(0),
                visits: seen.visits,
                spend: Kopecks::new(seen.spend.max(0)).map_err(corrupt)?,
                categories: i64::try_from(seen.categories.len()).unwrap_or(i64::MAX),
                birthday_today: false,
                birthday_this_week: false,
                days_since_last_visit: seen
                    .last
                    .map(|l| crate::store::from_ts(l).map(|l| (at - l).whole_days().max(0)))
                    .transpose()?,
            };
            let purchase = PurchaseFacts {
                amount,
                paid,
                category,
                business: business.clone(),
                weekday: weekday_number(local_at.weekday()),
                hour: local_at.hour(),
                date: local_at.date(),
                cashback: Bonus::new(row.accrued).map_err(corrupt)?,
            };
            seen.visits += 1;
            seen.spend = seen.spend.saturating_add(row.amount);
            seen.last = Some(row.at);
            if !rules.in_schedule(at) {
                continue;
            }
            let facts = Facts { purchase: &purchase, member: &member, business: &business_facts };
            let effects = match sandbox.run_once(&ast, &facts) {
                Ok(e) if e.is_empty() => continue,
                Ok(e) => e,
                Err(_) => {
                    report.failures += 1;
                    continue;
                }
            };
            let wanted =
                policy::bonus_of(&effects, paid, purchase.cashback, config.bonus.rounding).ok_or_else(overflow)?;
            let day = local_at.date().to_string();
            let entry = by_day
                .entry(day.clone())
                .or_insert_with(|| (BacktestDay { day, ..BacktestDay::default() }, HashSet::new()));
            let usage = Usage { spent, today: entry.0.bonus, member_count: seen.offers, member_bonus: seen.bonus };
            let Some(granted) =
                policy::grant(rules, &usage, wanted, Bonus::new(crate::types::MAX_AMOUNT).map_err(corrupt)?)
            else {
                continue;
            };
            spent = spent.checked_add(granted).ok_or_else(overflow)?;
            seen.offers = seen.offers.saturating_add(1);
            seen.bonus = seen.bonus.checked_add(granted).ok_or_else(overflow)?;
            entry.0.matched += 1;
            entry.0.bonus = entry.0.bonus.checked_add(granted).ok_or_else(overflow)?;
            entry.1.insert(row.member);
            reached.insert(row.member);
            report.matched += 1;
        }
        if let Some(report_progress) = progress {
            report_progress(BacktestProgress { done: total, total });
        }
        report.total_bonus = spent;
        report.members_reached = reached.len() as u64;
        report.cost_per_member = match i64::try_from(report.members_reached) {
            Ok(n) if n > 0 => Bonus::new(spent.get() / n).map_err(corrupt)?,
            _ => Bonus::ZERO,
        };
        report.by_day = by_day
            .into_values()
            .map(|(mut d, m)| {
                d.members = m.len() as u64;
                d
            })
            .collect();
        tracing::info!(tenant = %tenant, offer = %offer, purchases = report.purchases, "offer backtested");
        Ok(report)
    }
}

/// The offer bonus a refund takes back: for each offer credit of the purchase, the share of its
/// bonus that this refund adds to what was refunded before (cumulative and floored, so refunds
/// adding up to the purchase reverse exactly the whole bonus). Returns the total reversed.
#[allow(clippy::too_many_arguments)] // the refund's state, passed as it is
pub(super) fn reverse_offer_credits(
    account: &mut Account,
    plan: &mut Plan,
    credits: &[(Bonus, crate::types::EntryId, crate::types::LotId)],
    purchase: (PurchaseId, Kopecks),
    refunded_before: Kopecks,
    refunded_after: Kopecks,
    config: &TenantConfig,
    ctx: Ctx<'_>,
) -> Result<Bonus> {
    let (id, amount) = purchase;
    let floor = crate::types::Rounding::Floor;
    let mut total = Bonus::ZERO;
    for (bonus, entry, lot) in credits {
        let after = bonus.prorate(refunded_after, amount, floor).ok_or_else(overflow)?;
        let before = bonus.prorate(refunded_before, amount, floor).ok_or_else(overflow)?;
        let now = after.checked_sub(before).ok_or_else(overflow)?;
        let outcome = account.reverse_credit(plan, *lot, *entry, now, config.bonus.refund_of_spent, Some(id), ctx)?;
        total = total.checked_add(outcome.reversed).ok_or_else(overflow)?;
    }
    Ok(total)
}
