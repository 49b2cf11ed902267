//! Why a coupon was refused, with each refusal's stable code and HTTP status: 404 for what does
//! not exist, 409 for a use that conflicts with earlier uses, 422 for a coupon that does not fit
//! this purchase.

use time::OffsetDateTime;

use crate::error::error_table;
use crate::types::Kopecks;

/// Why a coupon was refused. Each has its own stable code (see [`CouponError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CouponError {
    /// No coupon with this code in the tenant.
    #[error("no coupon with this code")]
    NotFound,
    /// The code has the shape of a generated code but its check character is wrong (a typo).
    #[error("the coupon code has a typo (its check character does not match)")]
    Mistyped,
    /// The coupon or its template was revoked.
    #[error("the coupon was revoked")]
    Revoked,
    /// The coupon is bound to another member.
    #[error("the coupon belongs to another member")]
    NotYours,
    /// A single-use coupon was used already.
    #[error("the coupon has already been used")]
    AlreadyUsed,
    /// The code's or the template's total use limit is reached.
    #[error("the coupon's use limit of {limit} is reached")]
    LimitReached {
        /// The limit.
        limit: u32,
    },
    /// The member has used this template's coupons as often as allowed.
    #[error("the coupon may be used at most {limit} times per member")]
    MemberLimitReached {
        /// The per-member limit.
        limit: u32,
    },
    /// The coupon's validity has ended.
    #[error("the coupon has expired")]
    Expired {
        /// When it ended.
        until: OffsetDateTime,
    },
    /// The coupon is not valid yet.
    #[error("the coupon is not valid yet")]
    NotYetValid {
        /// When it starts.
        from: OffsetDateTime,
    },
    /// The coupon does not apply at this business or category.
    #[error("the coupon is not valid at this partner")]
    NotValidHere,
    /// The purchase is below the coupon's minimum.
    #[error("the coupon needs a purchase of at least {min}")]
    MinPurchase {
        /// The minimum total.
        min: Kopecks,
    },
    /// The coupon does not combine with paying by bonuses.
    #[error("the coupon cannot be combined with paying by bonuses")]
    NotStackable,
    /// No template with this code (or it belongs to another business).
    #[error("coupon template not found")]
    TemplateNotFound,
    /// A template with this code exists already.
    #[error("a coupon template with this code exists already")]
    TemplateExists,
    /// A promo code with this text exists already.
    #[error("this code is already taken")]
    CodeTaken,
}

error_table! {
    CouponError {
        CouponError::NotFound => ("coupon_not_found", 404),
        CouponError::Mistyped => ("coupon_mistyped", 422),
        CouponError::Revoked => ("coupon_revoked", 409),
        CouponError::NotYours => ("coupon_not_yours", 422),
        CouponError::AlreadyUsed => ("coupon_already_used", 409),
        CouponError::LimitReached { .. } => ("coupon_limit_reached", 409),
        CouponError::MemberLimitReached { .. } => ("coupon_member_limit_reached", 409),
        CouponError::Expired { .. } => ("coupon_expired", 422),
        CouponError::NotYetValid { .. } => ("coupon_not_yet_valid", 422),
        CouponError::NotValidHere => ("coupon_not_valid_here", 422),
        CouponError::MinPurchase { .. } => ("coupon_min_purchase", 422),
        CouponError::NotStackable => ("coupon_not_stackable", 422),
        CouponError::TemplateNotFound => ("coupon_template_not_found", 404),
        CouponError::TemplateExists => ("coupon_template_exists", 409),
        CouponError::CodeTaken => ("coupon_code_taken", 409),
    }
}
