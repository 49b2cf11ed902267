//! Status tiers: which tier a member holds and what cashback rate it gives.
//!
//! `model` holds the tenant's [`TierRules`] (valid by construction) and the per-member state;
//! `policy` holds the pure decisions over them. Nothing here reads a clock or a store: the caller
//! passes the member's [`SpendStats`] inside the status window at `now`, the [`HeldStatus`] it
//! stored last time, and `now`; it stores the returned [`TierDecision::held`].
//!
//! Invariants:
//! - a member's tier is the higher of the tier she earned by spending and the tier she was
//!   invited to; invitation-only tiers always rank above every earnable tier;
//! - an earned tier is lost only after the spend has stayed below it for the downgrade grace
//!   period, so one quiet month does not cost a VIP her rate;
//! - **a purchase that crosses a threshold already earns the new rate**: the caller passes stats
//!   that include the current purchase, so [`TierDecision::cashback`] is the new tier's rate and
//!   the purchase is accrued at it.

mod error;
pub mod model;
pub mod policy;

pub use error::StatusError;

pub use model::{HeldStatus, Progress, SpendStats, StatusWindow, TierDecision, TierRule, TierRules};
pub use policy::{evaluate, invite, uninvite};
