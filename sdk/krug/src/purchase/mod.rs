//! The purchase engine: every rule of a purchase in one pure function.
//!
//! The store reads a [`model::Snapshot`] (the member's account and lots, status-window spend,
//! the medical consent, the coupon with its template and usage, the business's running offers
//! with their usage, the member's chains with progress), [`policy::decide`] turns it and the
//! command into a [`model::Decision`] — the complete write set and the receipt — and the store
//! writes that set as one typed batch. The facade only loads, decides and writes.
//!
//! Invariants (property-tested in `tests`):
//! - the ledger plan keeps Σ entries = balance, and the redemption never exceeds the cap or the
//!   available bonus;
//! - every reward slot of a chain is paid at most once per (run, cycle);
//! - a refusal decides nothing.

pub(crate) mod chains;
pub(crate) mod model;
pub(crate) mod offers;
pub(crate) mod policy;

pub(crate) use model::{ChainState, CouponLookup, Decision, MemberHistory, OfferState, PurchaseCommand, Snapshot};
pub(crate) use policy::{CodeSource, EXPIRING_HORIZON, PurchaseCtx, Rules, decide};

#[cfg(test)]
mod tests;
