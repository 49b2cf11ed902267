//! Why a status command was refused, with its stable code and HTTP status.

use crate::error::error_table;
use crate::types::TierCode;

/// Why a status command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatusError {
    /// The tenant's ladder has no tier with this code.
    #[error("unknown tier `{code}`")]
    UnknownTier {
        /// The code asked for.
        code: TierCode,
    },
    /// Only invitation-only tiers are given by invitation; the rest are earned by spending.
    #[error("tier `{code}` is earned by spending, not by invitation")]
    NotInvitationOnly {
        /// The code asked for.
        code: TierCode,
    },
}

error_table! {
    StatusError {
        StatusError::UnknownTier { .. } => ("invalid_tier", 422),
        StatusError::NotInvitationOnly { .. } => ("invalid_tier", 422),
    }
}
