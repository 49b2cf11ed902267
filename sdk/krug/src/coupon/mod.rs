//! Coupons and promo codes: templates (percent off, fixed off, bonus grant, gift), codes that
//! are unguessable and survive typos, and the rules that decide whether a coupon applies to a
//! purchase. `code` and `policy` are pure; the facade (`facade/coupons.rs`) applies a decision
//! inside the purchase transaction and the store (`store/coupons.rs`) keeps the rows.

pub mod code;
mod error;
pub mod model;
pub mod policy;

pub use code::{ALPHABET, CodeError, CouponCode, GENERATED_LEN, RANDOM_CHARS};
pub use error::CouponError;
pub use model::{
    Coupon, CouponKind, CouponPolicy, CouponScope, CouponSource, CouponTemplate, CouponTerms, MAX_VALID_DAYS,
    RestoreOnRefund, TemplateProblem, Validity,
};
pub use policy::{Attempt, CouponEffect, Usage, describe, evaluate, rubles};
