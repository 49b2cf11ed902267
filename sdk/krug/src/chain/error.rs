//! Why a chain command was refused, with each refusal's stable code and HTTP status.

use super::model::ChainProblem;
use crate::error::error_table;
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

error_table! {
    ChainError {
        ChainError::Invalid(_) => ("invalid_chain", 422),
        ChainError::NotFound => ("chain_not_found", 404),
        ChainError::NotApproved { .. } => ("chain_not_approved", 409),
        ChainError::WrongStatus { .. } => ("chain_wrong_status", 409),
        ChainError::NoChoice => ("chain_no_choice", 409),
    }
}
