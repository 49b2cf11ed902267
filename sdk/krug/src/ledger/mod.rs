//! The bonus ledger: lots credited by accruals, consumed FIFO by expiry, reversed by refunds.
//! `model` holds the types, `policy` the pure decisions over one member's account.

mod error;
pub mod model;
pub mod policy;

pub use error::LedgerError;

pub use model::{BonusPolicy, Entry, EntryKind, Lot, LotMove, RefundOfSpent, Source};
pub use policy::{
    Account, BalanceView, Credit, Ctx, Dated, Debit, Plan, RefundSplit, ReversalOutcome, redemption_cap, refund_split,
};
