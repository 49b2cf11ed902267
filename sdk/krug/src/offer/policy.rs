//! Pure offer decisions: what an offer's effects are worth on a purchase, and how much of that
//! its limits and the tenant's per-purchase cap still allow.
//!
//! Invariants: a grant never exceeds what the script asked for, the offer's remaining total and
//! daily budgets, the member's remaining allowance, or the purchase's remaining cap; a member who
//! reached her count gets nothing.

use super::model::{Effects, OfferRules};
use crate::types::{Bonus, Bps, Kopecks, Rounding};

/// The bonus `effects` ask for on a purchase with `paid` money and `cashback` earned before
/// offers: fixed bonus + extra rate on the paid part + the multiplied part of the cashback.
pub fn bonus_of(effects: &Effects, paid: Kopecks, cashback: Bonus, rounding: Rounding) -> Option<Bonus> {
    let rate = u16::try_from(effects.bonus_rate_bps.min(10_000)).ok().and_then(|b| Bps::new(b).ok())?;
    let extra_rate = paid.accrue_at(rate, rounding);
    let multiplied = match effects.multiply_percent {
        Some(p) if p > 100 => {
            let extra = i128::from(cashback.get()) * i128::from(p - 100) / 100;
            Bonus::non_negative(i64::try_from(extra).ok()?).ok()?
        }
        _ => Bonus::ZERO,
    };
    effects.bonus.checked_add(extra_rate)?.checked_add(multiplied)
}

/// What an offer has used so far, read under its lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bonus issued by the offer in total.
    pub spent: Bonus,
    /// Bonus issued today (tenant-local day).
    pub today: Bonus,
    /// Times this member received the offer.
    pub member_count: u32,
    /// Bonus this member received from it.
    pub member_bonus: Bonus,
}

/// How much of `wanted` the offer may grant now; `None` when the offer may not fire at all (the
/// member's count is reached, or bonus was wanted and no budget is left).
pub fn grant(rules: &OfferRules, usage: &Usage, wanted: Bonus, cap_left: Bonus) -> Option<Bonus> {
    if rules.per_member_count.is_some_and(|n| usage.member_count >= n) {
        return None;
    }
    let left = |limit: Option<Bonus>, used: Bonus| {
        limit.map_or(wanted, |l| l.checked_sub(used).filter(|r| !r.is_negative()).unwrap_or(Bonus::ZERO))
    };
    let granted = wanted
        .min(left(rules.budget, usage.spent))
        .min(left(rules.per_day_bonus, usage.today))
        .min(left(rules.per_member_bonus, usage.member_bonus))
        .min(cap_left.max(Bonus::ZERO));
    if !wanted.is_zero() && granted.is_zero() {
        return None;
    }
    Some(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(k: i64) -> Bonus {
        Bonus::new(k).unwrap()
    }

    #[test]
    fn bonus_adds_fixed_rate_and_multiplied_cashback() {
        let effects = Effects { bonus: b(100), bonus_rate_bps: 500, multiply_percent: Some(300), ..Effects::default() };
        // 100 + 5 % of 10 000 + (300 − 100) % of 250
        assert_eq!(bonus_of(&effects, Kopecks::new(10_000).unwrap(), b(250), Rounding::Floor), Some(b(1_100)));
    }

    #[test]
    fn multiply_below_a_hundred_percent_adds_nothing() {
        let effects = Effects { multiply_percent: Some(50), ..Effects::default() };
        assert_eq!(bonus_of(&effects, Kopecks::new(10_000).unwrap(), b(250), Rounding::Floor), Some(Bonus::ZERO));
    }

    #[test]
    fn grant_is_clipped_by_every_limit_and_the_cap() {
        let rules = OfferRules {
            budget: Some(b(1_000)),
            per_day_bonus: Some(b(500)),
            per_member_bonus: Some(b(300)),
            ..OfferRules::default()
        };
        let usage = Usage { spent: b(900), ..Usage::default() };
        assert_eq!(grant(&rules, &usage, b(400), b(10_000)), Some(b(100)));
        let usage = Usage { today: b(450), ..Usage::default() };
        assert_eq!(grant(&rules, &usage, b(400), b(10_000)), Some(b(50)));
        let usage = Usage { member_bonus: b(250), ..Usage::default() };
        assert_eq!(grant(&rules, &usage, b(400), b(10_000)), Some(b(50)));
        assert_eq!(grant(&rules, &Usage::default(), b(400), b(20)), Some(b(20)));
    }

    #[test]
    fn an_exhausted_budget_or_count_refuses_the_offer() {
        let rules = OfferRules { budget: Some(b(1_000)), per_member_count: Some(2), ..OfferRules::default() };
        assert_eq!(grant(&rules, &Usage { spent: b(1_000), ..Usage::default() }, b(10), b(100)), None);
        assert_eq!(grant(&rules, &Usage { member_count: 2, ..Usage::default() }, Bonus::ZERO, b(100)), None);
        // Effects without bonus still fire while the count allows.
        assert_eq!(grant(&rules, &Usage::default(), Bonus::ZERO, b(100)), Some(Bonus::ZERO));
    }
}
