//! Pure decisions of the events hub: tier access, early access, seat or waitlist, vote tally.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::status::TierRules;
use crate::types::TierCode;

/// Whether a member at `member` may join an event limited to `min_tier` and above. No limit
/// admits every member; a limit admits only members whose tier ranks at or above it (an
/// invitation-only tier ranks above every earnable one, so "Inner Circle only" is
/// `min_tier = inner-circle`).
pub fn access_allows(rules: &TierRules, min_tier: Option<&TierCode>, member: Option<&TierCode>) -> bool {
    let Some(min) = min_tier else { return true };
    match (rules.rank(min), member.and_then(|m| rules.rank(m))) {
        (Some(min), Some(have)) => have >= min,
        _ => false,
    }
}

/// When registration opens for a member with `early_hours` of early access.
pub fn opens_for(opens_at: OffsetDateTime, early_hours: u32) -> OffsetDateTime {
    opens_at - Duration::hours(i64::from(early_hours))
}

/// What a registration gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationDecision {
    /// A seat is free.
    Seat,
    /// Every seat is taken: join the waitlist.
    Waitlist,
}

/// A seat while fewer than `capacity` are taken, else the waitlist.
pub fn seat_for(capacity: u32, taken: u64) -> RegistrationDecision {
    if taken < u64::from(capacity) { RegistrationDecision::Seat } else { RegistrationDecision::Waitlist }
}

/// A proposal's votes counted: raw (one per member) and weighted by tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Members voting for.
    pub raw_for: u64,
    /// Members voting against.
    pub raw_against: u64,
    /// Σ weights of votes for.
    pub weighted_for: u64,
    /// Σ weights of votes against.
    pub weighted_against: u64,
}

impl Tally {
    /// Whether the proposal wins: more weight for than against.
    pub fn wins(&self) -> bool {
        self.weighted_for > self.weighted_against
    }
}

/// Counts `(support, weight)` votes.
pub fn tally(votes: impl IntoIterator<Item = (bool, u32)>) -> Tally {
    let mut t = Tally::default();
    for (support, weight) in votes {
        let weight = u64::from(weight);
        if support {
            t.raw_for = t.raw_for.saturating_add(1);
            t.weighted_for = t.weighted_for.saturating_add(weight);
        } else {
            t.raw_against = t.raw_against.saturating_add(1);
            t.weighted_against = t.weighted_against.saturating_add(weight);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{StatusWindow, TierRule};
    use crate::types::{Bps, Kopecks};

    fn code(s: &str) -> TierCode {
        TierCode::parse(s).unwrap()
    }

    fn ladder() -> TierRules {
        let rule = |c: &str, spend: i64, cats: u32, inv: bool| TierRule {
            code: code(c),
            name: c.into(),
            min_spend: Kopecks::new(spend).unwrap(),
            min_categories: cats,
            cashback: Bps::new(500).unwrap(),
            invitation_only: inv,
        };
        TierRules::new(
            vec![
                rule("insider", 0, 1, false),
                rule("vip", 100, 2, false),
                rule("elite", 200, 3, false),
                rule("inner-circle", 0, 0, true),
            ],
            StatusWindow::Lifetime,
            30,
        )
        .unwrap()
    }

    #[test]
    fn access_follows_tier_rank_and_inner_circle_only_admits_only_inner_circle() {
        let rules = ladder();
        assert!(access_allows(&rules, None, None), "an open event admits members without a tier");
        assert!(!access_allows(&rules, Some(&code("vip")), None));
        assert!(!access_allows(&rules, Some(&code("vip")), Some(&code("insider"))));
        assert!(access_allows(&rules, Some(&code("vip")), Some(&code("vip"))));
        assert!(access_allows(&rules, Some(&code("vip")), Some(&code("elite"))));
        assert!(!access_allows(&rules, Some(&code("inner-circle")), Some(&code("elite"))));
        assert!(access_allows(&rules, Some(&code("inner-circle")), Some(&code("inner-circle"))));
    }

    #[test]
    fn seats_run_out_at_capacity() {
        assert_eq!(seat_for(2, 0), RegistrationDecision::Seat);
        assert_eq!(seat_for(2, 1), RegistrationDecision::Seat);
        assert_eq!(seat_for(2, 2), RegistrationDecision::Waitlist);
        assert_eq!(seat_for(0, 0), RegistrationDecision::Waitlist);
    }

    #[test]
    fn early_access_opens_registration_earlier_by_the_tier_hours() {
        let opens = time::macros::datetime!(2026-04-10 10:00 UTC);
        assert_eq!(opens_for(opens, 0), opens);
        assert_eq!(opens_for(opens, 48), time::macros::datetime!(2026-04-08 10:00 UTC));
    }

    #[test]
    fn tally_counts_raw_and_weighted_votes() {
        // 2 insiders for (1+1), 1 vip against (2), 1 elite for (3), 1 inner-circle against (5).
        let t = tally([(true, 1), (true, 1), (false, 2), (true, 3), (false, 5)]);
        assert_eq!(t, Tally { raw_for: 3, raw_against: 2, weighted_for: 5, weighted_against: 7 });
        assert!(!t.wins(), "more members for, but less weight");
        assert!(!tally([]).wins());
        assert!(tally([(true, 1)]).wins());
    }
}
