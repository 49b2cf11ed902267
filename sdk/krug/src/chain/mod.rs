//! Cross-promo chains between partners: a purchase at one partner leads the member to the next.
//! `model` (definitions and their validation) and `policy` (progress, pure) are I/O-free; the
//! facade (`facade/chains.rs`) applies a decision inside the purchase transaction, and the store
//! (`store/chains.rs`) keeps chains, approvals, progress, steps made and rewards paid.

pub mod model;
pub mod policy;
pub(crate) mod words;

pub use model::{
    ChainDefinition, ChainKind, ChainProblem, Known, MAX_CYCLES, MAX_STEPS, MAX_WINDOW_DAYS, Reward, RewardKind, Step,
    StepTarget,
};
pub use policy::{Advance, Progress, PurchaseFacts, Standing, advance, choose, scheduled};

use crate::types::BusinessId;

/// Why a chain command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// The definition is invalid; every problem is listed with its field path.
    #[error("invalid chain: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ChainProblem>),
    /// No such chain (or not one this caller may see).
    #[error("chain not found")]
    NotFound,
    /// Some partners have not approved their steps and rewards yet.
    #[error("not every partner has approved the chain; waiting for: {}", .missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    NotApproved {
        /// The partners still to approve.
        missing: Vec<BusinessId>,
    },
    /// The chain is not in a state that allows this (approving a started chain, choosing in a
    /// paused one).
    #[error("the chain is {status}; this is not possible now")]
    WrongStatus {
        /// Its status.
        status: String,
    },
    /// There is nothing to choose: not a fan-out, not waiting on its branches, or already chosen.
    #[error("there is no fan-out choice to make")]
    NoChoice,
}

impl ChainError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::Invalid(_) => "invalid_chain",
            ChainError::NotFound => "chain_not_found",
            ChainError::NotApproved { .. } => "chain_not_approved",
            ChainError::WrongStatus { .. } => "chain_wrong_status",
            ChainError::NoChoice => "chain_no_choice",
        }
    }

    /// The HTTP status of the code.
    pub fn http_status(&self) -> u16 {
        match self {
            ChainError::Invalid(_) => 422,
            ChainError::NotFound => 404,
            ChainError::NotApproved { .. } | ChainError::WrongStatus { .. } | ChainError::NoChoice => 409,
        }
    }
}
