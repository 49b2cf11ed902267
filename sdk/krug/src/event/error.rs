//! Why an event command was refused, with each refusal's stable code and HTTP status. A tier that
//! does not admit is 409, not 403: 403 means the caller's role may not call the operation at all
//! (the role matrix relies on it); a member whose tier changes may well succeed later.

use crate::error::error_table;

/// Why an event command was refused. Each variant has a stable code ([`EventError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// No such event in this tenant (or not visible to the caller).
    #[error("event not found")]
    NotFound,
    /// No such proposal in this tenant.
    #[error("proposal not found")]
    ProposalNotFound,
    /// No such registration or ticket (for this caller).
    #[error("registration not found")]
    RegistrationNotFound,
    /// The event or proposal is not in a state that allows this.
    #[error("cannot {action} a {from} event or proposal")]
    InvalidTransition {
        /// The current status.
        from: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// Registration is not open for this member now (window not open yet, closed, or event
    /// not published).
    #[error("registration is not open: {reason}")]
    RegistrationClosed {
        /// Why, in words.
        reason: String,
    },
    /// The member's tier does not give access (to the event, to proposing, to voting).
    #[error("access denied: {reason}")]
    AccessDenied {
        /// Why, in words.
        reason: String,
    },
    /// The member already holds an active registration for this event.
    #[error("already registered for this event")]
    AlreadyRegistered,
    /// The ticket has already been checked in.
    #[error("the ticket has already been used")]
    TicketAlreadyUsed,
    /// The ticket belongs to another event.
    #[error("the ticket is not for this event")]
    TicketWrongEvent,
    /// Check-in is possible only for a published event that has not ended, for a seat holder.
    #[error("check-in is not possible: {reason}")]
    CheckInClosed {
        /// Why, in words.
        reason: String,
    },
    /// The proposal's voting window is not open.
    #[error("voting is not open for this proposal")]
    VotingClosed,
    /// An allocation above the event budget's balance.
    #[error("the event budget has {available} kopecks, {requested} requested")]
    BudgetInsufficient {
        /// The budget's balance, kopecks.
        available: i64,
        /// The allocation asked for, kopecks.
        requested: i64,
    },
    /// Spending above what is allocated to the event and not yet spent.
    #[error("the event has {remaining} kopecks allocated and unspent, {requested} requested")]
    AllocationExceeded {
        /// Allocated minus spent, kopecks.
        remaining: i64,
        /// The spending asked for, kopecks.
        requested: i64,
    },
}

error_table! {
    EventError {
        EventError::NotFound => ("event_not_found", 404),
        EventError::ProposalNotFound => ("proposal_not_found", 404),
        EventError::RegistrationNotFound => ("registration_not_found", 404),
        EventError::InvalidTransition { .. } => ("event_invalid_transition", 409),
        EventError::RegistrationClosed { .. } => ("registration_closed", 409),
        EventError::AccessDenied { .. } => ("event_access_denied", 409),
        EventError::AlreadyRegistered => ("already_registered", 409),
        EventError::TicketAlreadyUsed => ("ticket_already_used", 409),
        EventError::TicketWrongEvent => ("ticket_wrong_event", 409),
        EventError::CheckInClosed { .. } => ("check_in_closed", 409),
        EventError::VotingClosed => ("voting_closed", 409),
        EventError::BudgetInsufficient { .. } => ("budget_insufficient", 409),
        EventError::AllocationExceeded { .. } => ("allocation_exceeded", 409),
    }
}
