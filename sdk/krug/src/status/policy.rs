//! Status policy: pure functions of `(rules, stats, held, now)`.
//!
//! Invariants (property-tested below):
//! - `cashback` is always the rate of the returned tier (zero without one);
//! - the returned tier never ranks above what the stats or the invitation justify, except for an
//!   earned tier kept inside its downgrade grace.

use time::{Duration, OffsetDateTime};

pub use super::StatusError;
use super::model::{HeldStatus, Progress, SpendStats, TierDecision, TierRules};
use crate::types::{Bps, Kopecks, TierCode};

/// Decides the member's tier after a change in her spend (a purchase, a refund, the window
/// moving on). See the module docs of [`crate::status`] for the rules.
pub fn evaluate(rules: &TierRules, stats: &SpendStats, held: &HeldStatus, now: OffsetDateTime) -> TierDecision {
    let categories = u32::try_from(stats.categories.len()).unwrap_or(u32::MAX);
    let qualified =
        rules.earnable().filter(|(_, t)| t.min_spend <= stats.spend && t.min_categories <= categories).last();
    let qualified_rank = qualified.map(|(rank, _)| rank);
    let rank_of = |code: &Option<TierCode>| code.as_ref().and_then(|c| rules.rank(c));

    let previous = higher(rules, held.earned.as_ref(), held.invited.as_ref()).cloned();

    // Below the earned tier: keep it until the grace has run from the first such observation.
    let held_rank = rank_of(&held.earned);
    let (earned, below_since) = match held_rank {
        Some(held_rank) if qualified_rank.is_none_or(|q| q < held_rank) => {
            let since = held.below_since.unwrap_or(now);
            let grace = Duration::days(i64::from(rules.downgrade_grace_days()));
            if now - since >= grace {
                (qualified.map(|(_, t)| t.code.clone()), None)
            } else {
                (held.earned.clone(), Some(since))
            }
        }
        _ => (qualified.map(|(_, t)| t.code.clone()), None),
    };

    let tier = higher(rules, earned.as_ref(), held.invited.as_ref()).cloned();
    let cashback = tier.as_ref().and_then(|c| rules.tier(c)).map_or(Bps::ZERO, |t| t.cashback);

    let progress =
        rules.earnable().find(|(rank, _)| qualified_rank.is_none_or(|q| *rank > q)).map(|(_, next)| Progress {
            next: next.code.clone(),
            missing_spend: next.min_spend.checked_sub(stats.spend).unwrap_or(Kopecks::ZERO),
            missing_categories: next.min_categories.saturating_sub(categories),
        });

    TierDecision {
        changed: tier != previous,
        previous,
        tier,
        cashback,
        progress,
        held: HeldStatus { earned, below_since, invited: held.invited.clone() },
    }
}

/// Invites the member to an invitation-only tier (replacing any earlier invitation). The earned
/// tier and its grace are untouched, so withdrawing the invitation later falls back to it.
pub fn invite(held: &HeldStatus, code: &TierCode, rules: &TierRules) -> Result<HeldStatus, StatusError> {
    let tier = rules.tier(code).ok_or_else(|| StatusError::UnknownTier { code: code.clone() })?;
    if !tier.invitation_only {
        return Err(StatusError::NotInvitationOnly { code: code.clone() });
    }
    Ok(HeldStatus { invited: Some(code.clone()), ..held.clone() })
}

/// Withdraws the member's invitation; her earned tier applies again at the next evaluation.
pub fn uninvite(held: &HeldStatus) -> HeldStatus {
    HeldStatus { invited: None, ..held.clone() }
}

/// The higher-ranked of two tiers. A code the ladder no longer has ranks below every known one;
/// between two such codes (or none) the first wins, so a stored tier is still reported as
/// `previous` after it was removed from configuration.
fn higher<'a>(rules: &TierRules, a: Option<&'a TierCode>, b: Option<&'a TierCode>) -> Option<&'a TierCode> {
    let rank = |c: Option<&TierCode>| c.and_then(|c| rules.rank(c));
    if rank(b) > rank(a) { b } else { a.or(b) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;
    use crate::status::model::{StatusWindow, TierRule};
    use crate::types::Category;

    const CATEGORIES: [&str; 5] = ["cosmetology", "gastro_market", "dentistry", "beauty_salon", "medical_centre"];

    fn code(c: &str) -> TierCode {
        TierCode::parse(c).unwrap()
    }

    fn tier(c: &str, kopecks: i64, cats: u32, bps: u16, invitation_only: bool) -> TierRule {
        TierRule {
            code: code(c),
            name: c.into(),
            min_spend: Kopecks::new(kopecks).unwrap(),
            min_categories: cats,
            cashback: Bps::new(bps).unwrap(),
            invitation_only,
        }
    }

    /// The launch ladder of PRODUCT.md.
    fn launch_rules(grace_days: u32) -> TierRules {
        TierRules::new(
            vec![
                tier("insider", 0, 1, 500, false),
                tier("vip", 3_000_000, 3, 700, false),
                tier("elite", 10_000_000, 5, 1000, false),
                tier("inner-circle", 0, 0, 1000, true),
            ],
            StatusWindow::RollingDays(365),
            grace_days,
        )
        .unwrap()
    }

    fn stats(kopecks: i64, categories: usize) -> SpendStats {
        SpendStats {
            spend: Kopecks::new(kopecks).unwrap(),
            categories: CATEGORIES.iter().take(categories).map(|c| Category::parse(c).unwrap()).collect(),
        }
    }

    fn held(earned: Option<&str>) -> HeldStatus {
        HeldStatus { earned: earned.map(code), ..HeldStatus::default() }
    }

    const NOW: OffsetDateTime = datetime!(2025-06-01 10:00 UTC);

    #[test]
    fn exactly_30000_rubles_in_3_categories_reaches_vip() {
        // Three purchases: 12,000 + 10,000 + 8,000 ₽ in three categories.
        let spend = 1_200_000 + 1_000_000 + 800_000;
        let d = evaluate(&launch_rules(30), &stats(spend, 3), &held(Some("insider")), NOW);
        assert_eq!(d.tier, Some(code("vip")));
        assert_eq!(d.cashback, Bps::new(700).unwrap());
        assert!(d.changed);
    }

    #[test]
    fn one_kopeck_short_of_30000_rubles_stays_insider() {
        let d = evaluate(&launch_rules(30), &stats(2_999_999, 3), &held(Some("insider")), NOW);
        assert_eq!(d.tier, Some(code("insider")));
        assert_eq!(d.cashback, Bps::new(500).unwrap());
        assert!(!d.changed);
        let p = d.progress.unwrap();
        assert_eq!((p.next, p.missing_spend.get(), p.missing_categories), (code("vip"), 1, 0));
    }

    #[test]
    fn one_hundred_thousand_rubles_in_4_categories_is_vip_not_elite() {
        let d = evaluate(&launch_rules(30), &stats(10_000_000, 4), &HeldStatus::default(), NOW);
        assert_eq!(d.tier, Some(code("vip")));
        let p = d.progress.unwrap();
        assert_eq!((p.next, p.missing_spend, p.missing_categories), (code("elite"), Kopecks::ZERO, 1));
    }

    #[test]
    fn one_hundred_thousand_rubles_in_5_categories_is_elite_with_no_further_progress() {
        let d = evaluate(&launch_rules(30), &stats(10_000_000, 5), &held(Some("vip")), NOW);
        assert_eq!(d.tier, Some(code("elite")));
        assert_eq!(d.cashback, Bps::new(1000).unwrap());
        assert_eq!(d.progress, None);
    }

    #[test]
    fn first_purchase_makes_a_member_insider_and_reports_the_change() {
        let d = evaluate(&launch_rules(30), &stats(150_000, 1), &HeldStatus::default(), NOW);
        assert_eq!((d.previous, d.tier.clone()), (None, Some(code("insider"))));
        assert!(d.changed);
        assert_eq!(d.cashback, Bps::new(500).unwrap());
        assert_eq!(d.held, held(Some("insider")));
    }

    #[test]
    fn no_purchase_means_no_tier_and_zero_cashback() {
        let d = evaluate(&launch_rules(30), &stats(0, 0), &HeldStatus::default(), NOW);
        assert_eq!((d.tier, d.cashback, d.changed), (None, Bps::ZERO, false));
        assert_eq!(d.progress.map(|p| p.next), Some(code("insider")));
    }

    #[test]
    fn progress_reports_8500_rubles_and_1_category_to_vip() {
        let d = evaluate(&launch_rules(30), &stats(2_150_000, 2), &held(Some("insider")), NOW);
        let p = d.progress.unwrap();
        assert_eq!(p.next, code("vip"));
        assert_eq!(p.missing_spend, Kopecks::rubles(8_500).unwrap());
        assert_eq!(p.missing_categories, 1);
    }

    #[test]
    fn a_dropped_tier_is_kept_until_the_grace_elapses_then_downgraded() {
        let rules = launch_rules(30);
        let low = stats(1_000_000, 2);

        let first = evaluate(&rules, &low, &held(Some("vip")), NOW);
        assert_eq!((first.tier.clone(), first.changed), (Some(code("vip")), false));
        assert_eq!(first.cashback, Bps::new(700).unwrap());
        assert_eq!(first.held.below_since, Some(NOW));

        let day_29 = evaluate(&rules, &low, &first.held, NOW + Duration::days(29));
        assert_eq!(day_29.tier, Some(code("vip")));
        assert_eq!(day_29.held.below_since, Some(NOW), "the grace runs from the first drop");

        let day_30 = evaluate(&rules, &low, &day_29.held, NOW + Duration::days(30));
        assert_eq!((day_30.tier, day_30.changed), (Some(code("insider")), true));
        assert_eq!(day_30.held.below_since, None);
    }

    #[test]
    fn qualifying_again_within_the_grace_clears_the_drop() {
        let rules = launch_rules(30);
        let dropped = evaluate(&rules, &stats(1_000_000, 2), &held(Some("vip")), NOW);
        let back = evaluate(&rules, &stats(3_000_000, 3), &dropped.held, NOW + Duration::days(5));
        assert_eq!(back.held, held(Some("vip")));
    }

    #[test]
    fn zero_grace_downgrades_at_once() {
        let d = evaluate(&launch_rules(0), &stats(1_000_000, 2), &held(Some("vip")), NOW);
        assert_eq!(d.tier, Some(code("insider")));
    }

    #[test]
    fn an_invitation_wins_over_the_earned_tier_and_survives_a_drop() {
        let rules = launch_rules(30);
        let invited = invite(&held(Some("elite")), &code("inner-circle"), &rules).unwrap();
        let d = evaluate(&rules, &stats(10_000_000, 5), &invited, NOW);
        assert_eq!(d.tier, Some(code("inner-circle")));
        assert_eq!(d.held.earned, Some(code("elite")));

        let later = evaluate(&rules, &stats(0, 0), &d.held, NOW + Duration::days(400));
        let after_grace = evaluate(&rules, &stats(0, 0), &later.held, NOW + Duration::days(431));
        assert_eq!(after_grace.held.earned, None);
        assert_eq!(after_grace.tier, Some(code("inner-circle")));
        assert_eq!(after_grace.cashback, Bps::new(1000).unwrap());

        let withdrawn = evaluate(&rules, &stats(0, 0), &uninvite(&after_grace.held), NOW);
        assert_eq!((withdrawn.tier, withdrawn.cashback), (None, Bps::ZERO));
    }

    #[test]
    fn only_invitation_only_tiers_can_be_invited() {
        let rules = launch_rules(30);
        assert_eq!(
            invite(&HeldStatus::default(), &code("vip"), &rules),
            Err(StatusError::NotInvitationOnly { code: code("vip") })
        );
        assert_eq!(
            invite(&HeldStatus::default(), &code("nobody"), &rules),
            Err(StatusError::UnknownTier { code: code("nobody") })
        );
    }

    #[test]
    fn a_stored_tier_removed_from_configuration_is_replaced() {
        let d = evaluate(&launch_rules(30), &stats(150_000, 1), &held(Some("legacy")), NOW);
        assert_eq!(d.previous, Some(code("legacy")));
        assert_eq!((d.tier, d.changed), (Some(code("insider")), true));
    }

    fn any_tier() -> impl Strategy<Value = Option<TierCode>> {
        prop::option::of(prop::sample::select(vec!["insider", "vip", "elite", "inner-circle", "legacy"]).prop_map(code))
    }

    fn any_held() -> impl Strategy<Value = HeldStatus> {
        (any_tier(), prop::option::of(0i64..90), prop::option::of(Just("inner-circle"))).prop_map(
            |(earned, days_ago, invited)| HeldStatus {
                earned,
                below_since: days_ago.map(|d| NOW - Duration::days(d)),
                invited: invited.map(code),
            },
        )
    }

    fn any_stats() -> impl Strategy<Value = SpendStats> {
        (0i64..20_000_000, prop::sample::subsequence(CATEGORIES.to_vec(), 0..=5)).prop_map(|(spend, cats)| SpendStats {
            spend: Kopecks::new(spend).unwrap(),
            categories: cats.into_iter().map(|c| Category::parse(c).unwrap()).collect::<BTreeSet<_>>(),
        })
    }

    proptest! {
        #[test]
        fn cashback_is_always_the_rate_of_the_returned_tier(
            s in any_stats(), h in any_held(), grace in 0u32..60
        ) {
            let rules = launch_rules(grace);
            let d = evaluate(&rules, &s, &h, NOW);
            let expected = d.tier.as_ref().and_then(|t| rules.tier(t)).map_or(Bps::ZERO, |t| t.cashback);
            prop_assert_eq!(d.cashback, expected);
            prop_assert!(d.tier.is_none() || d.tier.as_ref().and_then(|t| rules.rank(t)).is_some());
        }

        #[test]
        fn the_tier_never_exceeds_what_stats_or_invitation_justify_outside_the_grace(
            s in any_stats(), h in any_held(), grace in 0u32..60
        ) {
            let rules = launch_rules(grace);
            let d = evaluate(&rules, &s, &h, NOW);
            let cats = u32::try_from(s.categories.len()).unwrap();
            let qualified = rules.tiers().iter().enumerate()
                .filter(|(_, t)| !t.invitation_only && t.min_spend <= s.spend && t.min_categories <= cats)
                .map(|(rank, _)| rank)
                .max();
            let invited = h.invited.as_ref().and_then(|t| rules.rank(t));
            let justified = qualified.max(invited);
            let rank = d.tier.as_ref().and_then(|t| rules.rank(t));
            if rank > justified {
                prop_assert_eq!(&d.tier, &h.earned);
                let since = d.held.below_since;
                prop_assert!(since.is_some_and(|s| NOW - s < Duration::days(i64::from(grace))));
            }
        }
    }
}
