//! Offers: business-authored promotions written in Rhai (or generated from templates), approved
//! by the operator, and run by the engine on every purchase at the business.
//!
//! Layers as elsewhere: [`model`] (limits, rules, facts, effects, examples), [`script`] (the
//! sandbox), [`policy`] (what effects are worth and what limits allow — pure), [`templates`]. The
//! facade (`Krug::create_offer`, …) and the purchase pipeline do the storing.
//!
//! Invariants: scripts never touch the ledger or the store — they return [`Effects`]; budgets,
//! limits, priority, exclusivity and the per-purchase cap are applied by the engine inside the
//! purchase's transaction; a failing script is skipped for that purchase only.

pub mod model;
pub mod policy;
pub mod script;
pub mod templates;

pub use model::{
    Effects, MemberFacts, OfferExample, OfferLimits, OfferRules, PurchaseFacts, ScriptFailure, valid_code,
};
pub use script::{BusinessFacts, Facts, Sandbox};
pub use templates::Template;
