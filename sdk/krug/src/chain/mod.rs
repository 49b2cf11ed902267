//! Cross-promo chains between partners: a purchase at one partner leads the member to the next.
//! `model` (definitions and their validation) and `policy` (progress, pure) are I/O-free; the
//! facade (`facade/chains.rs`) applies a decision inside the purchase transaction, and the store
//! (`store/chains.rs`) keeps chains, approvals, progress, steps made and rewards paid.

mod error;
pub mod model;
pub mod policy;
pub(crate) mod words;

pub use error::ChainError;

pub use model::{
    ChainDefinition, ChainKind, ChainProblem, Known, MAX_CYCLES, MAX_STEPS, MAX_WINDOW_DAYS, Reward, RewardKind, Step,
    StepTarget,
};
pub use policy::{Advance, Progress, PurchaseFacts, Standing, advance, choose, scheduled};
