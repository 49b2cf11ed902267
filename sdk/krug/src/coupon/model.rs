//! Coupon templates and issued coupons as the engine sees them. The facade stores a template only
//! after [`CouponTerms::check`] (the one gate for its own consistency); an issued coupon carries
//! its own validity window, computed once at issue.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::code::CouponCode;
use crate::types::{Bonus, Bps, BusinessId, Category, Kopecks, MemberId};

/// What a coupon does at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CouponKind {
    /// A share of the purchase total off (1–10,000 bps).
    PercentOff {
        /// The share.
        rate: Bps,
    },
    /// A fixed amount off (at most the purchase total).
    FixedOff {
        /// The amount.
        amount: Kopecks,
    },
    /// Bonus credited to the member with the purchase (pending like cashback).
    BonusGrant {
        /// The bonus, positive.
        amount: Bonus,
    },
    /// A gift or a free service handed over at the counter; the coupon is marked redeemed.
    Gift {
        /// What the gift is, in words (shown to the member and the cashier).
        description: String,
    },
}

impl CouponKind {
    /// The stored name.
    pub const fn as_str(&self) -> &'static str {
        match self {
            CouponKind::PercentOff { .. } => "percent_off",
            CouponKind::FixedOff { .. } => "fixed_off",
            CouponKind::BonusGrant { .. } => "bonus_grant",
            CouponKind::Gift { .. } => "gift",
        }
    }
}

/// Where a coupon can be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "value")]
pub enum CouponScope {
    /// Only at this business.
    Business(BusinessId),
    /// At any purchase booked under this category.
    Category(Category),
    /// At any partner of the tenant.
    Any,
}

/// When issued coupons are valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// From `from` (inclusive) to `until` (exclusive), whenever issued.
    Dates {
        /// First valid instant.
        #[serde(with = "time::serde::rfc3339")]
        from: OffsetDateTime,
        /// First instant no longer valid.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// From issue, for this many days (1–3650).
    DaysFromIssue(u32),
}

impl Validity {
    /// The window of a coupon issued at `issued`.
    pub fn window(&self, issued: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        match *self {
            Validity::Dates { from, until } => (from, until),
            Validity::DaysFromIssue(days) => (issued, issued + time::Duration::days(i64::from(days))),
        }
    }
}

/// What a template's coupons do, where, when and how often: the terms its author sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTerms {
    /// The template's slug, unique in the tenant (`mindal-10`).
    pub code: String,
    /// A short name for staff lists.
    pub name: String,
    /// What it does.
    pub kind: CouponKind,
    /// Where it applies.
    pub scope: CouponScope,
    /// When its coupons are valid.
    pub validity: Validity,
    /// The smallest purchase total it applies to.
    pub min_purchase: Kopecks,
    /// Most redemptions per member across all its coupons (`None`: no limit).
    pub per_member_limit: Option<u32>,
    /// Most redemptions in total across all its coupons (`None`: no limit).
    pub global_limit: Option<u32>,
    /// Whether it combines with paying by bonuses in the same purchase.
    pub stackable: bool,
}

/// A coupon template: its terms, and who funds and manages it (set from its author, never
/// from the terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponTemplate {
    /// What its coupons do.
    pub terms: CouponTerms,
    /// Who pays for the discount or the bonus (settlement): a business, or the ecosystem
    /// (`None`) for operator templates.
    pub funded_by: Option<BusinessId>,
    /// The business whose owner created it; `None` for the operator's templates.
    pub owner: Option<BusinessId>,
}

/// Why a template is refused at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> TemplateProblem {
    TemplateProblem { field, message: message.into() }
}

/// The longest validity by days (ten years).
pub const MAX_VALID_DAYS: u32 = 3_650;

impl CouponTerms {
    /// Checks the terms' own consistency (the facade checks the business and category exist).
    pub fn check(&self) -> Result<(), TemplateProblem> {
        let slug_ok = (2..=40).contains(&self.code.len())
            && self.code.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && self.code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !slug_ok {
            return Err(problem("code", "must be 2–40 of a–z, 0–9, '-' or '_', starting with a letter"));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            return Err(problem("name", "must be 1–120 characters"));
        }
        match &self.kind {
            CouponKind::PercentOff { rate } if rate.get() == 0 => {
                return Err(problem("percent_bps", "must be 1–10000"));
            }
            CouponKind::FixedOff { amount } if amount.is_zero() => {
                return Err(problem("amount_kopecks", "must be greater than zero"));
            }
            CouponKind::BonusGrant { amount } if *amount <= Bonus::ZERO => {
                return Err(problem("amount_kopecks", "must be greater than zero"));
            }
            CouponKind::Gift { description } if description.trim().is_empty() || description.chars().count() > 200 => {
                return Err(problem("gift", "must be 1–200 characters"));
            }
            _ => {}
        }
        match self.validity {
            Validity::Dates { from, until } if until <= from => {
                return Err(problem("valid_until", "must be after valid_from"));
            }
            Validity::DaysFromIssue(days) if days == 0 || days > MAX_VALID_DAYS => {
                return Err(problem("valid_days", format!("must be 1–{MAX_VALID_DAYS}")));
            }
            _ => {}
        }
        if self.per_member_limit == Some(0) {
            return Err(problem("per_member_limit", "must be at least 1 (leave it out for no limit)"));
        }
        if self.global_limit == Some(0) {
            return Err(problem("global_limit", "must be at least 1 (leave it out for no limit)"));
        }
        Ok(())
    }
}

/// How a coupon came to be, stored with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponSource {
    /// Bulk issuance by an owner or the operator.
    Bulk,
    /// A shared promo code created by an owner or the operator.
    Promo,
    /// An offer's `issue_coupon` effect.
    Offer,
    /// A cross-promo chain reward.
    Chain,
    /// A referral reward.
    Referral,
    /// Issued to one member by staff.
    Manual,
}

impl CouponSource {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CouponSource::Bulk => "bulk",
            CouponSource::Promo => "promo",
            CouponSource::Offer => "offer",
            CouponSource::Chain => "chain",
            CouponSource::Referral => "referral",
            CouponSource::Manual => "manual",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "bulk" => CouponSource::Bulk,
            "promo" => CouponSource::Promo,
            "offer" => CouponSource::Offer,
            "chain" => CouponSource::Chain,
            "referral" => CouponSource::Referral,
            "manual" => CouponSource::Manual,
            _ => return None,
        })
    }
}

/// An issued coupon (one code) as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    /// The code.
    pub code: CouponCode,
    /// Its template's code.
    pub template: String,
    /// The member it is bound to; `None` for a bearer coupon or a promo code.
    pub member: Option<MemberId>,
    /// How it was issued.
    pub source: CouponSource,
    /// Most uses of this code (1 for a coupon; a promo code's total limit; `None`: no limit).
    pub max_uses: Option<u32>,
    /// Uses so far (restored uses subtracted).
    pub uses: u32,
    /// First valid instant.
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
    /// Whether it (or its template) was revoked.
    pub revoked: bool,
    /// When it was issued.
    pub issued_at: OffsetDateTime,
}

/// The tenant's coupon rules (`[coupons]` in `tenant.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CouponPolicy {
    /// When a refund gives a purchase's coupon back (its use no longer counts). Default
    /// [`RestoreOnRefund::FullRefund`].
    pub restore_on_refund: RestoreOnRefund,
}

/// When a refund restores the coupon its purchase used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreOnRefund {
    /// Never: a used coupon stays used.
    Never,
    /// When the purchase has been refunded in full (the default).
    #[default]
    FullRefund,
    /// At the purchase's first refund, partial or not.
    AnyRefund,
}

impl RestoreOnRefund {
    /// Parses the configuration value.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "never" => RestoreOnRefund::Never,
            "full_refund" => RestoreOnRefund::FullRefund,
            "any_refund" => RestoreOnRefund::AnyRefund,
            _ => return None,
        })
    }
}
