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
use time::Duration;

use super::Krug;
use crate::error::{Error, Result};
use crate::ledger::{Account, Ctx, LedgerError, Plan};
use crate::offer::policy::{self, Usage};
use crate::offer::{BusinessFacts, Facts, MemberFacts, PurchaseFacts};
use crate::store::StoreError;
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

use crate::purchase::offers::{local, weekday_number};

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
