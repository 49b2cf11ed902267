//! The coupon facade's public types: who manages templates, and what issuing, previewing,
//! applying and listing coupons return. The behaviour is in `coupons.rs`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::coupon::{CouponCode, CouponTemplate};
use crate::types::{Bonus, BusinessId, Category, Kopecks, MemberId};

/// Who creates and manages coupon templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CouponAuthor {
    /// A business's owner: his templates apply at his business only and his business funds them.
    Owner(BusinessId),
    /// The tenant's operator: any scope, funded by the ecosystem.
    Operator,
}

impl CouponAuthor {
    pub(super) fn may_manage(&self, template: &CouponTemplate) -> bool {
        match self {
            CouponAuthor::Operator => true,
            CouponAuthor::Owner(b) => template.owner.as_ref() == Some(b),
        }
    }

    pub(super) fn name(&self) -> String {
        match self {
            CouponAuthor::Owner(b) => format!("owner:{b}"),
            CouponAuthor::Operator => "operator".to_owned(),
        }
    }
}

/// A template as its manager sees it: aggregate use only, never who used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponTemplateView {
    /// The template.
    pub template: CouponTemplate,
    /// Redemptions so far (restored ones excluded).
    pub uses: u32,
    /// Whether it was revoked.
    pub revoked: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its rules in plain words.
    pub rules: String,
}

/// A coupon just issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCoupon {
    /// The code (normal form; show it with [`CouponCode::display`]).
    pub code: CouponCode,
    /// Its template.
    pub template: String,
    /// The member it is bound to; `None` for bearer coupons and promo codes.
    pub member: Option<MemberId>,
    /// First valid instant.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
    /// Most uses of the code (`None`: only the template's limits).
    pub max_uses: Option<u32>,
}

/// Bearer codes issued in bulk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedBatch {
    /// The batch.
    pub batch: Uuid,
    /// Their template.
    pub template: String,
    /// The codes, each single-use.
    pub codes: Vec<CouponCode>,
    /// First valid instant.
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
}

/// A shared promo code.
#[derive(Debug, Clone)]
pub struct NewPromoCode {
    /// The template it uses (its per-member limit applies to the code).
    pub template: String,
    /// The code's text (`VESNA2026`, 4–32 letters and digits); `None` generates one.
    pub code: Option<String>,
    /// Most uses in total (`None`: only the template's global limit).
    pub max_uses: Option<u32>,
}

/// A cashier's question: what would this coupon do for this purchase?
#[derive(Debug, Clone)]
pub struct PreviewCoupon {
    /// The code as typed.
    pub code: String,
    /// Where.
    pub business: BusinessId,
    /// The receipt total.
    pub amount: Kopecks,
    /// The member, when known (a personal coupon, per-member limits).
    pub member: Option<MemberId>,
    /// The category; defaults to the business's.
    pub category: Option<Category>,
    /// Bonuses to be paid with.
    pub redeem: Bonus,
}

/// What a coupon would do; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponPreview {
    /// The code.
    pub code: CouponCode,
    /// Its template.
    pub template: String,
    /// Off the total.
    pub discount: Kopecks,
    /// Bonus that would be credited.
    pub bonus: Bonus,
    /// The gift to hand over.
    pub gift: Option<String>,
    /// What the member would be charged (`amount − discount`), before bonuses.
    pub charged: Kopecks,
    /// The coupon's rules in plain words.
    pub rules: String,
}

/// The coupon a purchase used, on its receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    /// The code.
    pub code: CouponCode,
    /// Its template.
    pub template: String,
    /// Off the receipt total.
    pub discount: Kopecks,
    /// Bonus credited (pending like cashback).
    pub bonus: Bonus,
    /// The gift handed over.
    pub gift: Option<String>,
    /// Who funds it: a business, or `None` for the ecosystem.
    pub funded_by: Option<BusinessId>,
}

/// Where a member's coupon stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberCouponStatus {
    /// Can be used.
    Active,
    /// She used it (or it is used up).
    Used,
    /// Its validity ended, or it was revoked.
    Expired,
}

/// One of the member's coupons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberCoupon {
    /// The code.
    pub code: CouponCode,
    /// Its template.
    pub template: String,
    /// Where it stands.
    pub status: MemberCouponStatus,
    /// Its rules in plain words.
    pub rules: String,
    /// First valid instant.
    pub valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
}
