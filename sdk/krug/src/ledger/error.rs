//! Why the ledger refused a command, with each refusal's stable code and HTTP status.

use crate::error::{INTERNAL, error_table};
use crate::types::{Bonus, LotId};

/// Why the ledger refused a command. Carries the numbers a caller needs to explain it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The member has fewer available bonuses than asked for.
    #[error("insufficient balance: {available} available, {requested} requested")]
    InsufficientBalance {
        /// What can be spent now.
        available: Bonus,
        /// What was asked for.
        requested: Bonus,
    },
    /// More bonuses were asked for than the tenant lets pay for this purchase.
    #[error("redemption above the cap: at most {cap} of this purchase may be paid with bonuses, {requested} requested")]
    RedeemAboveCap {
        /// The largest redemption allowed for this purchase.
        cap: Bonus,
        /// What was asked for.
        requested: Bonus,
    },
    /// An amount was negative or zero where it must be positive.
    #[error("amount must be greater than zero")]
    NonPositiveAmount,
    /// An arithmetic step left the supported range.
    #[error("amount is out of range")]
    Overflow,
    /// A lot the operation refers to is not in the account.
    #[error("lot {0} is not part of this account")]
    UnknownLot(LotId),
}

error_table! {
    LedgerError {
        LedgerError::InsufficientBalance { .. } => ("insufficient_balance", 409),
        LedgerError::RedeemAboveCap { .. } => ("redeem_above_cap", 422),
        LedgerError::NonPositiveAmount => ("invalid_amount", 422),
        LedgerError::Overflow => ("amount_out_of_range", 422),
        // Lots come from the member's own stored account and its stored lot moves: a lot missing
        // from it is an inconsistent store, never something the caller sent.
        LedgerError::UnknownLot(_) => INTERNAL,
    }
}
