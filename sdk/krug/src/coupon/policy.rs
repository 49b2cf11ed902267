//! Coupon policy: whether a coupon applies to a purchase, what it does, and its rules in plain
//! words. Pure functions of `(template, coupon, usage, purchase, now)`.
//!
//! Definitions at the counter (documented on [`CouponEffect`]):
//! - `amount` is the receipt total; a percent discount is `floor(amount × rate)`, a fixed one
//!   `fixed`, each capped at `amount − 1 kopeck`: a purchase always charges something (a free
//!   service is a gift coupon), so `discount < amount`;
//! - the member is charged `amount − discount`; the bonus redemption cap applies to that, and
//!   `paid = amount − discount − redeemed` is what cashback and the event-budget share accrue on;
//! - tier spend counts the charged amount (`amount − discount`): a discount is not spend.

use time::{Date, OffsetDateTime};

pub use super::CouponError;
use super::model::{Coupon, CouponKind, CouponScope, CouponTerms};
use crate::types::{Bonus, BusinessId, Category, Kopecks, MemberId, Rounding};

/// How often a coupon's template has been used, read under the template's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Redemptions of the template in total (restored ones excluded).
    pub template_uses: u32,
    /// Redemptions of the template by this member (restored ones excluded).
    pub member_uses: u32,
}

/// The purchase a coupon is presented for.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// Who buys (`None` when a cashier previews without knowing the member yet).
    pub member: Option<MemberId>,
    /// Where.
    pub business: &'a BusinessId,
    /// The category the purchase is booked under.
    pub category: &'a Category,
    /// The receipt total.
    pub amount: Kopecks,
    /// Bonuses the member pays with.
    pub redeem: Bonus,
    /// When.
    pub now: OffsetDateTime,
}

/// What an accepted coupon does to a purchase.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CouponEffect {
    /// Off the receipt total (< amount); the member is charged `amount − discount`.
    pub discount: Kopecks,
    /// Bonus credited with the purchase.
    pub bonus: Bonus,
    /// The gift handed over, in words.
    pub gift: Option<String>,
}

/// Decides whether `coupon` of `template` applies to `attempt`, and what it does. Checks run in
/// a fixed order, so a coupon that fails several rules always gives the same refusal: revoked,
/// not yours, used up, validity, place, minimum, stacking, template limits.
pub fn evaluate(
    template: &CouponTerms,
    coupon: &Coupon,
    usage: Usage,
    attempt: &Attempt<'_>,
) -> Result<CouponEffect, CouponError> {
    if coupon.revoked {
        return Err(CouponError::Revoked);
    }
    if let (Some(owner), Some(member)) = (coupon.member, attempt.member)
        && owner != member
    {
        return Err(CouponError::NotYours);
    }
    if let Some(max) = coupon.max_uses
        && coupon.uses >= max
    {
        return Err(if max == 1 { CouponError::AlreadyUsed } else { CouponError::LimitReached { limit: max } });
    }
    if attempt.now >= coupon.valid_until {
        return Err(CouponError::Expired { until: coupon.valid_until });
    }
    if attempt.now < coupon.valid_from {
        return Err(CouponError::NotYetValid { from: coupon.valid_from });
    }
    let here = match &template.scope {
        CouponScope::Business(b) => b == attempt.business,
        CouponScope::Category(c) => c == attempt.category,
        CouponScope::Any => true,
    };
    if !here {
        return Err(CouponError::NotValidHere);
    }
    if attempt.amount < template.min_purchase {
        return Err(CouponError::MinPurchase { min: template.min_purchase });
    }
    if !template.stackable && !attempt.redeem.is_zero() {
        return Err(CouponError::NotStackable);
    }
    if let Some(limit) = template.global_limit
        && usage.template_uses >= limit
    {
        return Err(CouponError::LimitReached { limit });
    }
    if let Some(limit) = template.per_member_limit
        && attempt.member.is_some()
        && usage.member_uses >= limit
    {
        return Err(CouponError::MemberLimitReached { limit });
    }
    // amount ≥ 1 kopeck (a purchase is never zero), so the cap is never negative.
    let most = attempt.amount.checked_sub(Kopecks::new(1).unwrap_or(Kopecks::ZERO)).unwrap_or(Kopecks::ZERO);
    Ok(match &template.kind {
        CouponKind::PercentOff { rate } => {
            CouponEffect { discount: attempt.amount.share(*rate, Rounding::Floor).min(most), ..CouponEffect::default() }
        }
        CouponKind::FixedOff { amount } => CouponEffect { discount: (*amount).min(most), ..CouponEffect::default() },
        CouponKind::BonusGrant { amount } => CouponEffect { bonus: *amount, ..CouponEffect::default() },
        CouponKind::Gift { description } => CouponEffect { gift: Some(description.clone()), ..CouponEffect::default() },
    })
}

/// `1,000 ₽`, `1,000.50 ₽`.
pub fn rubles(amount: i64) -> String {
    let (whole, kopecks) = (amount / 100, (amount % 100).abs());
    let digits = whole.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    if kopecks == 0 { format!("{sign}{grouped} ₽") } else { format!("{sign}{grouped}.{kopecks:02} ₽") }
}

fn percent(bps: u16) -> String {
    let (whole, frac) = (bps / 100, bps % 100);
    if frac == 0 {
        format!("{whole} %")
    } else if frac % 10 == 0 {
        format!("{whole}.{} %", frac / 10)
    } else {
        format!("{whole}.{frac:02} %")
    }
}

fn date(d: Date) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.get(usize::from(u8::from(d.month())).saturating_sub(1)).copied().unwrap_or("");
    format!("{} {month} {}", d.day(), d.year())
}

/// A template's rules in plain words, for a coupon valid until (and including) the local date
/// `last_day`: "10 % off at Миндаль, purchases from 1,000 ₽, until 12 Dec 2026". Without a date
/// (a template whose coupons count days from issue) the validity is said in days.
/// `business_name` names a business as members know it.
pub fn describe(
    template: &CouponTerms,
    last_day: Option<Date>,
    business_name: &dyn Fn(&BusinessId) -> String,
) -> String {
    let what = match &template.kind {
        CouponKind::PercentOff { rate } => format!("{} off", percent(rate.get())),
        CouponKind::FixedOff { amount } => format!("{} off", rubles(amount.get())),
        CouponKind::BonusGrant { amount } => format!("{} in bonuses", rubles(amount.get())),
        CouponKind::Gift { description } => format!("gift: {description}"),
    };
    let place = match &template.scope {
        CouponScope::Business(b) => format!("at {}", business_name(b)),
        CouponScope::Category(c) => format!("at {} partners", c.as_str().replace('_', " ")),
        CouponScope::Any => "at any partner".to_owned(),
    };
    let mut parts = vec![format!("{what} {place}")];
    if !template.min_purchase.is_zero() {
        parts.push(format!("purchases from {}", rubles(template.min_purchase.get())));
    }
    if !template.stackable {
        parts.push("not combined with paying by bonuses".to_owned());
    }
    if let Some(limit) = template.per_member_limit {
        parts.push(if limit == 1 { "once per member".to_owned() } else { format!("{limit} times per member") });
    }
    parts.push(match (last_day, template.validity) {
        (Some(day), _) => format!("until {}", date(day)),
        (None, super::Validity::DaysFromIssue(1)) => "valid 1 day from issue".to_owned(),
        (None, super::Validity::DaysFromIssue(days)) => format!("valid {days} days from issue"),
        (None, super::Validity::Dates { until, .. }) => format!("until {}", date(until.date())),
    });
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    use super::*;
    use crate::coupon::{CouponCode, CouponSource, Validity};
    use crate::types::Bps;

    fn biz(s: &str) -> BusinessId {
        BusinessId::parse(s).unwrap()
    }

    fn template(kind: CouponKind) -> CouponTerms {
        CouponTerms {
            code: "mindal-10".into(),
            name: "Ten off".into(),
            kind,
            scope: CouponScope::Business(biz("mindal")),
            validity: Validity::DaysFromIssue(30),
            min_purchase: Kopecks::rubles(1_000).unwrap(),
            per_member_limit: Some(1),
            global_limit: Some(100),
            stackable: false,
        }
    }

    fn coupon() -> Coupon {
        Coupon {
            code: CouponCode::normalise("VESNA2026").unwrap(),
            template: "mindal-10".into(),
            member: None,
            source: CouponSource::Promo,
            max_uses: Some(1),
            uses: 0,
            valid_from: datetime!(2026-03-01 00:00 UTC),
            valid_until: datetime!(2026-04-01 00:00 UTC),
            revoked: false,
            issued_at: datetime!(2026-03-01 00:00 UTC),
        }
    }

    fn attempt(amount: i64) -> (BusinessId, Category, Kopecks) {
        (biz("mindal"), Category::parse("beauty_salon").unwrap(), Kopecks::new(amount).unwrap())
    }

    fn run(t: &CouponTerms, c: &Coupon, usage: Usage, amount: i64, redeem: i64) -> Result<CouponEffect, CouponError> {
        let (b, cat, amount) = attempt(amount);
        let a = Attempt {
            member: Some(MemberId::from_uuid(uuid::Uuid::nil())),
            business: &b,
            category: &cat,
            amount,
            redeem: Bonus::new(redeem).unwrap(),
            now: datetime!(2026-03-10 12:00 UTC),
        };
        evaluate(t, c, usage, &a)
    }

    fn percent10() -> CouponTerms {
        template(CouponKind::PercentOff { rate: Bps::new(1_000).unwrap() })
    }

    #[test]
    fn each_rule_refuses_with_its_own_error() {
        let t = percent10();
        let ok = run(&t, &coupon(), Usage::default(), 150_000, 0).unwrap();
        assert_eq!(ok.discount, Kopecks::new(15_000).unwrap());
        assert_eq!(
            run(&t, &coupon(), Usage::default(), 99_999, 0),
            Err(CouponError::MinPurchase { min: t.min_purchase })
        );
        assert_eq!(run(&t, &coupon(), Usage::default(), 150_000, 1), Err(CouponError::NotStackable));
        let used = Coupon { uses: 1, ..coupon() };
        assert_eq!(run(&t, &used, Usage::default(), 150_000, 0), Err(CouponError::AlreadyUsed));
        let promo = Coupon { uses: 5, max_uses: Some(5), ..coupon() };
        assert_eq!(run(&t, &promo, Usage::default(), 150_000, 0), Err(CouponError::LimitReached { limit: 5 }));
        let full = Usage { template_uses: 100, member_uses: 0 };
        assert_eq!(run(&t, &coupon(), full, 150_000, 0), Err(CouponError::LimitReached { limit: 100 }));
        let again = Usage { template_uses: 1, member_uses: 1 };
        assert_eq!(run(&t, &coupon(), again, 150_000, 0), Err(CouponError::MemberLimitReached { limit: 1 }));
        let late = Coupon { valid_until: datetime!(2026-03-10 12:00 UTC), ..coupon() };
        assert!(matches!(run(&t, &late, Usage::default(), 150_000, 0), Err(CouponError::Expired { .. })));
        let early = Coupon { valid_from: datetime!(2026-03-10 12:00:01 UTC), ..coupon() };
        assert!(matches!(run(&t, &early, Usage::default(), 150_000, 0), Err(CouponError::NotYetValid { .. })));
        let elsewhere = CouponTerms { scope: CouponScope::Business(biz("skinerica")), ..percent10() };
        assert_eq!(run(&elsewhere, &coupon(), Usage::default(), 150_000, 0), Err(CouponError::NotValidHere));
        let other_category =
            CouponTerms { scope: CouponScope::Category(Category::parse("dentistry").unwrap()), ..percent10() };
        assert_eq!(run(&other_category, &coupon(), Usage::default(), 150_000, 0), Err(CouponError::NotValidHere));
        let theirs = Coupon { member: Some(MemberId::from_uuid(uuid::Uuid::max())), ..coupon() };
        assert_eq!(run(&t, &theirs, Usage::default(), 150_000, 0), Err(CouponError::NotYours));
        let revoked = Coupon { revoked: true, ..coupon() };
        assert_eq!(run(&t, &revoked, Usage::default(), 150_000, 0), Err(CouponError::Revoked));
    }

    #[test]
    fn fixed_discount_leaves_at_least_a_kopeck_and_bonus_and_gift_take_nothing_off() {
        let fixed = CouponTerms {
            min_purchase: Kopecks::ZERO,
            ..template(CouponKind::FixedOff { amount: Kopecks::rubles(500).unwrap() })
        };
        assert_eq!(
            run(&fixed, &coupon(), Usage::default(), 30_000, 0).unwrap().discount,
            Kopecks::new(29_999).unwrap()
        );
        let grant = template(CouponKind::BonusGrant { amount: Bonus::new(30_000).unwrap() });
        let e = run(&grant, &coupon(), Usage::default(), 150_000, 0).unwrap();
        assert_eq!((e.discount, e.bonus), (Kopecks::ZERO, Bonus::new(30_000).unwrap()));
        let gift = template(CouponKind::Gift { description: "a free manicure".into() });
        assert_eq!(
            run(&gift, &coupon(), Usage::default(), 150_000, 0).unwrap().gift.as_deref(),
            Some("a free manicure")
        );
    }

    #[test]
    fn rules_read_in_plain_words() {
        let words = describe(&percent10(), Some(date!(2026 - 12 - 12)), &|_| "Миндаль".to_owned());
        assert_eq!(
            words,
            "10 % off at Миндаль, purchases from 1,000 ₽, not combined with paying by bonuses, once per member, until 12 Dec 2026"
        );
        let any = CouponTerms {
            scope: CouponScope::Any,
            min_purchase: Kopecks::ZERO,
            stackable: true,
            per_member_limit: None,
            ..template(CouponKind::FixedOff { amount: Kopecks::new(123_450).unwrap() })
        };
        assert_eq!(
            describe(&any, Some(date!(2027 - 01 - 01)), &|b| b.to_string()),
            "1,234.50 ₽ off at any partner, until 1 Jan 2027"
        );
        assert_eq!(describe(&any, None, &|b| b.to_string()), "1,234.50 ₽ off at any partner, valid 30 days from issue");
        assert_eq!(percent(1_050), "10.5 %");
        assert_eq!(percent(1_005), "10.05 %");
    }

    proptest! {
        #[test]
        fn a_discount_always_leaves_something_to_charge(amount in 1i64..10_000_000_000, bps in 1u16..=10_000, fixed in 1i64..10_000_000) {
            for kind in [CouponKind::PercentOff { rate: Bps::new(bps).unwrap() }, CouponKind::FixedOff { amount: Kopecks::new(fixed).unwrap() }] {
                let t = CouponTerms { min_purchase: Kopecks::ZERO, ..template(kind) };
                let e = run(&t, &coupon(), Usage::default(), amount, 0).unwrap();
                prop_assert!(e.discount < Kopecks::new(amount).unwrap());
            }
        }
    }
}
