//! Money and bonus amounts in integer kopecks, rates in basis points.
//!
//! Invariants: no floats anywhere; every arithmetic step is checked; an amount that leaves the
//! supported range is an error, never a wrap. `Kopecks` is a non-negative amount of money (a
//! purchase, a refund); `Bonus` is a signed number of bonus kopecks (1 bonus kopeck = 1 kopeck of
//! value), signed because ledger entries and debts are.

use serde::{Deserialize, Serialize};

/// The largest amount accepted anywhere: 10 billion roubles in kopecks. Keeps every product with a
/// rate (≤ 10,000 bps) far inside `i64`.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// Why an amount could not be built or computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AmountError {
    /// The amount is below zero where only non-negative amounts make sense.
    #[error("amount must not be negative (got {0})")]
    Negative(i64),
    /// The amount is zero where a positive amount is required.
    #[error("amount must be greater than zero")]
    Zero,
    /// The amount exceeds [`MAX_AMOUNT`] or an operation overflowed.
    #[error("amount is out of range (limit {MAX_AMOUNT} kopecks)")]
    OutOfRange,
}

/// A non-negative amount of money in kopecks (1 ₽ = 100 kopecks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Kopecks(i64);

impl Kopecks {
    /// Zero kopecks.
    pub const ZERO: Kopecks = Kopecks(0);

    /// An amount of `kopecks`; refuses negatives and anything above [`MAX_AMOUNT`].
    pub fn new(kopecks: i64) -> Result<Self, AmountError> {
        if kopecks < 0 {
            Err(AmountError::Negative(kopecks))
        } else if kopecks > MAX_AMOUNT {
            Err(AmountError::OutOfRange)
        } else {
            Ok(Kopecks(kopecks))
        }
    }

    /// A strictly positive amount (a purchase, a refund).
    pub fn positive(kopecks: i64) -> Result<Self, AmountError> {
        if kopecks == 0 {
            return Err(AmountError::Zero);
        }
        Self::new(kopecks)
    }

    /// Whole roubles, for readable tests and fixtures.
    pub fn rubles(rubles: i64) -> Result<Self, AmountError> {
        Self::new(rubles.checked_mul(100).ok_or(AmountError::OutOfRange)?)
    }

    /// The amount as an integer number of kopecks.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` past [`MAX_AMOUNT`].
    pub fn checked_add(self, other: Kopecks) -> Option<Kopecks> {
        self.0.checked_add(other.0).and_then(|v| Kopecks::new(v).ok())
    }

    /// `self - other`, or `None` below zero.
    pub fn checked_sub(self, other: Kopecks) -> Option<Kopecks> {
        self.0.checked_sub(other.0).and_then(|v| Kopecks::new(v).ok())
    }

    /// The share `rate` of this amount, rounded as told: the one path from money to a part of it
    /// (a redemption cap, a budget contribution).
    pub fn share(self, rate: Bps, rounding: Rounding) -> Kopecks {
        // self ≤ MAX_AMOUNT and rate ≤ 10,000, so the result is ≤ self and never out of range.
        Kopecks(rounding.apply(i128::from(self.0) * i128::from(rate.get()), 10_000))
    }

    /// Cashback in bonus kopecks for this amount at `rate`, rounded as the tenant says.
    pub fn accrue_at(self, rate: Bps, rounding: Rounding) -> Bonus {
        Bonus(self.share(rate, rounding).0)
    }

    /// `self × num / den` rounded as told; `None` when `den` is zero or the result leaves the range.
    /// Used to split an amount proportionally (a partial refund).
    pub fn prorate(self, num: Kopecks, den: Kopecks, rounding: Rounding) -> Option<Kopecks> {
        if den.0 == 0 {
            return None;
        }
        Kopecks::new(rounding.apply(i128::from(self.0) * i128::from(num.0), i128::from(den.0))).ok()
    }
}

impl TryFrom<i64> for Kopecks {
    type Error = AmountError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Kopecks::new(value)
    }
}

impl From<Kopecks> for i64 {
    fn from(value: Kopecks) -> Self {
        value.0
    }
}

impl std::fmt::Display for Kopecks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:02} ₽", self.0 / 100, self.0 % 100)
    }
}

/// A signed number of bonus kopecks: a balance, a ledger entry, a debt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Bonus(i64);

impl Bonus {
    /// No bonus.
    pub const ZERO: Bonus = Bonus(0);

    /// A bonus amount; refuses magnitudes above [`MAX_AMOUNT`].
    pub fn new(kopecks: i64) -> Result<Self, AmountError> {
        if kopecks.unsigned_abs() > MAX_AMOUNT.unsigned_abs() {
            Err(AmountError::OutOfRange)
        } else {
            Ok(Bonus(kopecks))
        }
    }

    /// A non-negative bonus amount (a redemption request, an accrual).
    pub fn non_negative(kopecks: i64) -> Result<Self, AmountError> {
        if kopecks < 0 {
            return Err(AmountError::Negative(kopecks));
        }
        Self::new(kopecks)
    }

    /// The amount as signed kopecks.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// `self + other`, or `None` out of range.
    pub fn checked_add(self, other: Bonus) -> Option<Bonus> {
        self.0.checked_add(other.0).and_then(|v| Bonus::new(v).ok())
    }

    /// `self - other`, or `None` out of range.
    pub fn checked_sub(self, other: Bonus) -> Option<Bonus> {
        self.0.checked_sub(other.0).and_then(|v| Bonus::new(v).ok())
    }

    /// The negated amount (never out of range: the range is symmetric).
    pub const fn neg(self) -> Bonus {
        Bonus(-self.0)
    }

    /// The smaller of two amounts.
    pub fn min(self, other: Bonus) -> Bonus {
        Bonus(self.0.min(other.0))
    }

    /// This bonus spent as money: 1 bonus kopeck pays 1 kopeck. `None` for a negative bonus.
    pub fn as_kopecks(self) -> Option<Kopecks> {
        Kopecks::new(self.0).ok()
    }

    /// `self × num / den` rounded as told (see [`Kopecks::prorate`]); `None` for `den` zero.
    pub fn prorate(self, num: Kopecks, den: Kopecks, rounding: Rounding) -> Option<Bonus> {
        if den.get() == 0 {
            return None;
        }
        let magnitude =
            rounding.apply(i128::from(self.0.unsigned_abs()) * i128::from(num.get()), i128::from(den.get()));
        let signed = if self.0 < 0 { -magnitude } else { magnitude };
        Bonus::new(signed).ok()
    }

    /// Sum of many amounts, `None` on overflow.
    pub fn sum<I: IntoIterator<Item = Bonus>>(items: I) -> Option<Bonus> {
        items.into_iter().try_fold(Bonus::ZERO, Bonus::checked_add)
    }
}

impl From<Kopecks> for Bonus {
    fn from(value: Kopecks) -> Self {
        Bonus(value.get())
    }
}

impl TryFrom<i64> for Bonus {
    type Error = AmountError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Bonus::new(value)
    }
}

impl From<Bonus> for i64 {
    fn from(value: Bonus) -> Self {
        value.0
    }
}

impl std::fmt::Display for Bonus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bonus kopecks", self.0)
    }
}

/// A rate in basis points: `Bps(500)` is 5 %. At most 10,000 (100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Bps(u16);

/// The rate is above 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("rate must be at most 10000 basis points (got {0})")]
pub struct BpsError(pub u16);

impl Bps {
    /// 0 %.
    pub const ZERO: Bps = Bps(0);
    /// 100 %.
    pub const FULL: Bps = Bps(10_000);

    /// A rate of `bps` basis points (0..=10,000).
    pub fn new(bps: u16) -> Result<Self, BpsError> {
        if bps > 10_000 { Err(BpsError(bps)) } else { Ok(Bps(bps)) }
    }

    /// The rate in basis points.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Bps {
    type Error = BpsError;
    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Bps::new(value)
    }
}

impl From<Bps> for u16 {
    fn from(value: Bps) -> Self {
        value.0
    }
}

/// How a fractional kopeck is resolved. Tenant configuration; the default floors, so the
/// programme never gives away a kopeck it did not promise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Towards zero (all inputs here are non-negative).
    #[default]
    Floor,
    /// To the nearest kopeck, halves up.
    HalfUp,
    /// Up to the next whole kopeck.
    Ceil,
}

impl Rounding {
    /// `num / den` for non-negative `num` and positive `den`, rounded. Callers keep the result
    /// within `i64` by construction (amounts ≤ [`MAX_AMOUNT`], factors ≤ 1).
    fn apply(self, num: i128, den: i128) -> i64 {
        let q = num / den;
        let r = num % den;
        let rounded = match self {
            Rounding::Floor => q,
            Rounding::HalfUp if r * 2 >= den => q + 1,
            Rounding::HalfUp => q,
            Rounding::Ceil if r > 0 => q + 1,
            Rounding::Ceil => q,
        };
        i64::try_from(rounded).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kopecks_refuse_negative_zero_and_huge_amounts() {
        assert_eq!(Kopecks::new(-1), Err(AmountError::Negative(-1)));
        assert_eq!(Kopecks::positive(0), Err(AmountError::Zero));
        assert_eq!(Kopecks::new(MAX_AMOUNT + 1), Err(AmountError::OutOfRange));
        assert!(Kopecks::new(MAX_AMOUNT).is_ok());
        assert_eq!(Kopecks::rubles(i64::MAX), Err(AmountError::OutOfRange));
    }

    #[test]
    fn accrual_rounds_as_configured() {
        let amount = Kopecks::new(12_345).unwrap();
        let rate = Bps::new(500).unwrap();
        assert_eq!(amount.accrue_at(rate, Rounding::Floor).get(), 617);
        assert_eq!(amount.accrue_at(rate, Rounding::HalfUp).get(), 617);
        assert_eq!(amount.accrue_at(rate, Rounding::Ceil).get(), 618);
        let half = Kopecks::new(10).unwrap();
        assert_eq!(half.accrue_at(rate, Rounding::HalfUp).get(), 1);
        assert_eq!(half.accrue_at(rate, Rounding::Floor).get(), 0);
    }

    #[test]
    fn bps_refuses_more_than_one_hundred_percent() {
        assert!(Bps::new(10_000).is_ok());
        assert_eq!(Bps::new(10_001), Err(BpsError(10_001)));
    }

    #[test]
    fn prorate_of_the_whole_returns_the_whole() {
        let whole = Kopecks::new(333).unwrap();
        let c = Bonus::new(101).unwrap();
        assert_eq!(c.prorate(whole, whole, Rounding::Floor), Some(c));
        assert_eq!(c.prorate(Kopecks::ZERO, whole, Rounding::Floor), Some(Bonus::ZERO));
        assert_eq!(c.prorate(whole, Kopecks::ZERO, Rounding::Floor), None);
    }

    #[test]
    fn arithmetic_is_checked() {
        let max = Bonus::new(MAX_AMOUNT).unwrap();
        assert_eq!(max.checked_add(Bonus::new(1).unwrap()), None);
        assert_eq!(Kopecks::ZERO.checked_sub(Kopecks::new(1).unwrap()), None);
        assert!(serde_json::from_str::<Kopecks>("-5").is_err());
    }
}
