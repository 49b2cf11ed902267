//! Status model: the tenant's tier ladder and the per-member state the policy reads and returns.
//!
//! Invariants of [`TierRules`] (checked once, in [`TierRules::new`]):
//! - at least one tier is earnable (not invitation-only) and tier codes are unique;
//! - in rank order, earnable tiers need strictly more spend and no fewer categories than the one
//!   below, so "the highest tier whose thresholds are met" is well defined;
//! - the lowest earnable tier needs at least one category: a member has no tier before her first
//!   purchase;
//! - invitation-only tiers rank above every earnable tier;
//! - a rolling window is 1..=36,500 days.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::types::{Bps, Category, Kopecks, TierCode};

/// The longest rolling window accepted (100 years): longer is a typo for "lifetime".
const MAX_WINDOW_DAYS: u32 = 36_500;

/// One rung of the tier ladder, as the tenant configures it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRule {
    /// The tier's stable code (stored per member).
    pub code: TierCode,
    /// The name members see ("VIP").
    pub name: String,
    /// Spend inside the window needed to earn the tier (inclusive). Ignored for invitation-only
    /// tiers.
    pub min_spend: Kopecks,
    /// Distinct purchase categories inside the window needed (inclusive). Ignored for
    /// invitation-only tiers.
    pub min_categories: u32,
    /// The cashback rate a member of this tier earns.
    pub cashback: Bps,
    /// Reached only by invitation (ambassadors), never by spending.
    pub invitation_only: bool,
}

/// Which purchases count toward a tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusWindow {
    /// Every purchase since sign-up.
    Lifetime,
    /// Purchases in the last `n` days before `now` (n ≥ 1).
    RollingDays(u32),
}

/// The tenant's tier ladder; cannot be built invalid (see the module invariants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRules {
    /// Rank order, lowest first.
    tiers: Vec<TierRule>,
    window: StatusWindow,
    downgrade_grace_days: u32,
}

impl TierRules {
    /// Validates a ladder given in rank order (lowest first). On failure returns every problem
    /// as `(field path, message)`, paths named as in the tenant file (`tiers[2].min_spend_kopecks`,
    /// `window_days`), so configuration can report them all at once.
    pub fn new(
        tiers: Vec<TierRule>,
        window: StatusWindow,
        downgrade_grace_days: u32,
    ) -> Result<TierRules, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push((path, message));

        if let StatusWindow::RollingDays(days) = window {
            if days == 0 {
                push("window_days".into(), "must be at least 1".into());
            } else if days > MAX_WINDOW_DAYS {
                push("window_days".into(), format!("must be at most {MAX_WINDOW_DAYS} (use window = \"lifetime\")"));
            }
        }

        for (i, tier) in tiers.iter().enumerate() {
            if tier.name.trim().is_empty() {
                push(format!("tiers[{i}].name"), "must not be empty".into());
            }
            if let Some(first) = tiers.iter().position(|t| t.code == tier.code)
                && first < i
            {
                push(format!("tiers[{i}].code"), format!("duplicate tier code `{}` (also tiers[{first}])", tier.code));
            }
        }

        let highest_earnable = tiers.iter().rposition(|t| !t.invitation_only);
        match highest_earnable {
            None => push("tiers".into(), "at least one tier must be earnable (not invitation_only)".into()),
            Some(top) => {
                for (i, tier) in tiers.iter().enumerate().take(top) {
                    if tier.invitation_only {
                        push(
                            format!("tiers[{i}].invitation_only"),
                            format!(
                                "an invitation-only tier must rank above every earnable tier \
                                 (list it after tiers[{top}])"
                            ),
                        );
                    }
                }
            }
        }

        let mut below: Option<(usize, &TierRule)> = None;
        for (i, tier) in tiers.iter().enumerate().filter(|(_, t)| !t.invitation_only) {
            match below {
                None if tier.min_categories == 0 => push(
                    format!("tiers[{i}].min_categories"),
                    "the lowest earnable tier needs at least 1 category: a member has no tier \
                     before her first purchase"
                        .into(),
                ),
                None => {}
                Some((j, lower)) => {
                    if tier.min_spend <= lower.min_spend {
                        push(format!("tiers[{i}].min_spend_kopecks"), format!("must be greater than tiers[{j}]"));
                    }
                    if tier.min_categories < lower.min_categories {
                        push(
                            format!("tiers[{i}].min_categories"),
                            format!("must be at least tiers[{j}] ({})", lower.min_categories),
                        );
                    }
                }
            }
            below = Some((i, tier));
        }

        if problems.is_empty() { Ok(TierRules { tiers, window, downgrade_grace_days }) } else { Err(problems) }
    }

    /// Every tier in rank order, lowest first.
    pub fn tiers(&self) -> &[TierRule] {
        &self.tiers
    }

    /// The tier with this code, if the ladder has it.
    pub fn tier(&self, code: &TierCode) -> Option<&TierRule> {
        self.tiers.iter().find(|t| &t.code == code)
    }

    /// The tier's position in the ladder (0 = lowest); `None` for a code the ladder lacks (a tier
    /// removed from configuration since it was stored).
    pub fn rank(&self, code: &TierCode) -> Option<usize> {
        self.tiers.iter().position(|t| &t.code == code)
    }

    /// Which purchases count toward a tier.
    pub fn window(&self) -> StatusWindow {
        self.window
    }

    /// Days a member keeps an earned tier after her spend falls below it.
    pub fn downgrade_grace_days(&self) -> u32 {
        self.downgrade_grace_days
    }

    /// The earliest purchase instant that counts at `now`; `None` for a lifetime window.
    pub fn window_start(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        match self.window {
            StatusWindow::Lifetime => None,
            StatusWindow::RollingDays(days) => {
                Some(now.checked_sub(Duration::days(i64::from(days))).unwrap_or(PrimitiveDateTime::MIN.assume_utc()))
            }
        }
    }

    /// Earnable tiers with their ranks, lowest first.
    pub(crate) fn earnable(&self) -> impl Iterator<Item = (usize, &TierRule)> {
        self.tiers.iter().enumerate().filter(|(_, t)| !t.invitation_only)
    }
}

/// A member's spend inside the status window at `now`. The store computes it; the current
/// purchase is already included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpendStats {
    /// Net spend (after refunds) inside the window.
    pub spend: Kopecks,
    /// Distinct categories bought inside the window.
    pub categories: BTreeSet<Category>,
}

/// What is stored per member between evaluations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldStatus {
    /// The tier earned by spending (possibly kept within the downgrade grace).
    pub earned: Option<TierCode>,
    /// When the spend was first seen below `earned`; `None` while it qualifies.
    pub below_since: Option<OffsetDateTime>,
    /// The invitation-only tier the member was invited to, if any.
    pub invited: Option<TierCode>,
}

/// What is still missing to reach the next earnable tier.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// The next earnable tier above the one the stats qualify for.
    pub next: TierCode,
    /// Spend still missing (zero when the spend already suffices).
    pub missing_spend: Kopecks,
    /// Distinct categories still missing (zero when they already suffice).
    pub missing_categories: u32,
}

/// The outcome of one evaluation: the tier to apply now and the state to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierDecision {
    /// The effective tier before this evaluation.
    pub previous: Option<TierCode>,
    /// The effective tier now: the higher of the earned and the invited tier.
    pub tier: Option<TierCode>,
    /// The cashback rate of `tier` (zero without a tier).
    pub cashback: Bps,
    /// Whether `tier` differs from `previous` (worth a notification).
    pub changed: bool,
    /// The way to the next earnable tier; `None` at the top earnable tier.
    pub progress: Option<Progress>,
    /// The state to store for the member.
    pub held: HeldStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(code: &str, spend: i64, cats: u32, invitation_only: bool) -> TierRule {
        TierRule {
            code: TierCode::parse(code).unwrap(),
            name: code.to_uppercase(),
            min_spend: Kopecks::new(spend).unwrap(),
            min_categories: cats,
            cashback: Bps::new(500).unwrap(),
            invitation_only,
        }
    }

    fn paths(problems: &[(String, String)]) -> Vec<&str> {
        problems.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn a_well_formed_ladder_is_accepted_and_ranked() {
        let rules = TierRules::new(
            vec![rule("insider", 0, 1, false), rule("vip", 100, 3, false), rule("ic", 0, 0, true)],
            StatusWindow::RollingDays(365),
            30,
        )
        .unwrap();
        assert_eq!(rules.rank(&TierCode::parse("vip").unwrap()), Some(1));
        assert_eq!(rules.rank(&TierCode::parse("gone").unwrap()), None);
        assert_eq!(rules.tier(&TierCode::parse("ic").unwrap()).map(|t| t.invitation_only), Some(true));
    }

    #[test]
    fn every_ladder_fault_is_reported_with_its_path() {
        let problems = TierRules::new(
            vec![
                rule("insider", 0, 0, false),
                rule("ic", 0, 0, true),
                rule("vip", 500, 3, false),
                rule("elite", 500, 2, false),
                rule("vip", 900, 5, false),
            ],
            StatusWindow::RollingDays(0),
            30,
        )
        .unwrap_err();
        assert_eq!(
            paths(&problems),
            [
                "window_days",
                "tiers[4].code",
                "tiers[1].invitation_only",
                "tiers[0].min_categories",
                "tiers[3].min_spend_kopecks",
                "tiers[3].min_categories",
            ]
        );
        assert!(problems.iter().any(|(_, m)| m == "must be greater than tiers[2]"));
    }

    #[test]
    fn a_ladder_of_only_invitation_tiers_is_refused() {
        let problems = TierRules::new(vec![rule("ic", 0, 0, true)], StatusWindow::Lifetime, 0).unwrap_err();
        assert_eq!(paths(&problems), ["tiers"]);
    }

    #[test]
    fn window_start_is_none_for_lifetime_and_n_days_back_for_rolling() {
        let now = time::macros::datetime!(2025-03-01 12:00 UTC);
        let ladder = vec![rule("insider", 0, 1, false)];
        let rolling = TierRules::new(ladder.clone(), StatusWindow::RollingDays(365), 0).unwrap();
        assert_eq!(rolling.window_start(now), Some(time::macros::datetime!(2024-03-01 12:00 UTC)));
        let lifetime = TierRules::new(ladder, StatusWindow::Lifetime, 0).unwrap();
        assert_eq!(lifetime.window_start(now), None);
    }
}
