//! The event budget as its own ledger, append-only, in kopecks:
//!
//! | kind           | amount | what                                                       |
//! |----------------|--------|------------------------------------------------------------|
//! | `contribution` | +      | the tenant's share of a purchase's paid part (per business) |
//! | `reversal`     | −      | a refund's share of that contribution                      |
//! | `allocation`   | −      | money set aside for an event                               |
//! | `release`      | +      | an allocation's unspent rest returned (event cancelled)    |
//! | `spending`     | −      | money paid out of an event's allocation                    |
//!
//! Invariants: the **balance** (what may still be allocated) is Σ of every kind except
//! `spending` — spending draws on an allocation, not on the balance. An allocation never exceeds
//! the balance at the moment it is made (decided under the tenant's budget lock); spending never
//! exceeds the event's allocation net of releases and earlier spending. Refunds may still reverse
//! contributions after an allocation, so the balance can go below zero only that way.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::event::EventError;
use crate::types::{BusinessId, EntryId, EventId, Kopecks, PurchaseId};

/// What a budget entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetKind {
    /// A purchase's share.
    Contribution,
    /// A refund's share of a contribution.
    Reversal,
    /// Set aside for an event.
    Allocation,
    /// An allocation's unspent rest returned.
    Release,
    /// Paid out of an event's allocation.
    Spending,
}

impl BudgetKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            BudgetKind::Contribution => "contribution",
            BudgetKind::Reversal => "reversal",
            BudgetKind::Allocation => "allocation",
            BudgetKind::Release => "release",
            BudgetKind::Spending => "spending",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "contribution" => BudgetKind::Contribution,
            "reversal" => BudgetKind::Reversal,
            "allocation" => BudgetKind::Allocation,
            "release" => BudgetKind::Release,
            "spending" => BudgetKind::Spending,
            _ => return None,
        })
    }
}

/// One line of the budget ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLine {
    /// The entry.
    pub entry: EntryId,
    /// Its kind.
    pub kind: BudgetKind,
    /// Signed amount, kopecks (see the module table).
    pub amount: i64,
    /// The contributing business (contributions and reversals).
    pub business: Option<BusinessId>,
    /// The purchase behind a contribution or reversal.
    pub purchase: Option<PurchaseId>,
    /// The event of an allocation, release or spending.
    pub event: Option<EventId>,
    /// What a spending paid for, or an allocation's note.
    pub note: Option<String>,
    /// Who wrote an allocation, release or spending.
    pub actor: Option<String>,
    /// When.
    pub at: OffsetDateTime,
}

/// An event's money: allocated (net of releases) and spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFunds {
    /// Allocated minus released, kopecks.
    pub allocated: i64,
    /// Spent, kopecks.
    pub spent: i64,
}

impl EventFunds {
    /// Allocated and not yet spent.
    pub fn remaining(&self) -> i64 {
        self.allocated.saturating_sub(self.spent)
    }
}

/// Refuses an allocation of `amount` from a budget whose balance is `balance`.
pub fn check_allocation(balance: i64, amount: Kopecks) -> Result<(), EventError> {
    if amount.get() > balance {
        return Err(EventError::BudgetInsufficient { available: balance, requested: amount.get() });
    }
    Ok(())
}

/// Refuses spending of `amount` above what the event has allocated and unspent.
pub fn check_spending(funds: EventFunds, amount: Kopecks) -> Result<(), EventError> {
    if amount.get() > funds.remaining() {
        return Err(EventError::AllocationExceeded { remaining: funds.remaining(), requested: amount.get() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allocation_above_the_balance_is_refused_and_equal_is_allowed() {
        let k = |v| Kopecks::new(v).unwrap();
        assert_eq!(check_allocation(1_000, k(1_000)), Ok(()));
        assert_eq!(
            check_allocation(1_000, k(1_001)),
            Err(EventError::BudgetInsufficient { available: 1_000, requested: 1_001 })
        );
        assert!(check_allocation(-5, k(1)).is_err(), "a balance pushed below zero by refunds allocates nothing");
    }

    #[test]
    fn spending_is_limited_to_the_unspent_allocation() {
        let funds = EventFunds { allocated: 500, spent: 200 };
        assert_eq!(funds.remaining(), 300);
        assert!(check_spending(funds, Kopecks::new(300).unwrap()).is_ok());
        assert_eq!(
            check_spending(funds, Kopecks::new(301).unwrap()),
            Err(EventError::AllocationExceeded { remaining: 300, requested: 301 })
        );
    }
}
