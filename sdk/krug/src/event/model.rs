//! The events hub's nouns as callers see them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{EventStatus, ProposalStatus, RegistrationStatus, Tally};
use crate::types::{Bonus, BusinessId, EntryId, EventId, Kopecks, MemberId, ProposalId, RegistrationId, TierCode};

/// An event. Instants are UTC; the tenant's local times were converted at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The event.
    pub id: EventId,
    /// The partner business that hosts it (its venue).
    pub venue: BusinessId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Starts.
    pub starts_at: OffsetDateTime,
    /// Ends.
    pub ends_at: OffsetDateTime,
    /// Seats.
    pub capacity: u32,
    /// The lowest tier admitted (`None`: every member).
    pub min_tier: Option<TierCode>,
    /// Price of a seat in bonus kopecks (zero: free).
    pub price: Bonus,
    /// Registration opens (for members without early access).
    pub registration_opens_at: OffsetDateTime,
    /// Registration closes.
    pub registration_closes_at: OffsetDateTime,
    /// Until when a cancellation refunds a paid seat.
    pub cancel_until: OffsetDateTime,
    /// Where it is in its life.
    pub status: EventStatus,
    /// The member proposal it was made from, if any.
    pub proposal: Option<ProposalId>,
    /// Who created it (`operator:<id>`, `owner:<id>`).
    pub created_by: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

/// A member's registration for an event, with the ticket code she shows at check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The registration.
    pub id: RegistrationId,
    /// The event.
    pub event: EventId,
    /// The member.
    pub member: MemberId,
    /// Its state.
    pub status: RegistrationStatus,
    /// The ticket code (unguessable, one per registration); works once, at its event only.
    pub ticket: String,
    /// What was charged for the seat (zero while waitlisted, for a free event, or refunded).
    pub charged: Bonus,
    /// The ledger entry of the charge.
    pub charge_entry: Option<EntryId>,
    /// When she registered (the waitlist's order).
    pub created_at: OffsetDateTime,
    /// When she was checked in.
    pub checked_in_at: Option<OffsetDateTime>,
}

/// A registration with its event (the member's "my events").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyRegistration {
    /// The registration and ticket.
    pub registration: Registration,
    /// The event.
    pub event: Event,
}

/// One attendee line for the venue's staff and the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    /// The member.
    pub member: MemberId,
    /// The registration's state (registered, waitlisted, attended, no-show…).
    pub status: RegistrationStatus,
    /// When checked in.
    pub checked_in_at: Option<OffsetDateTime>,
}

/// A member's event proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The proposal.
    pub id: ProposalId,
    /// Who proposed it.
    pub member: MemberId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// The proposer's estimate of the cost.
    pub estimated_cost: Kopecks,
    /// Its state.
    pub status: ProposalStatus,
    /// The operator's reason for a rejection.
    pub reason: Option<String>,
    /// Voting opens (set on approval).
    pub voting_opens_at: Option<OffsetDateTime>,
    /// Voting closes (set on approval).
    pub voting_closes_at: Option<OffsetDateTime>,
    /// The event made from it.
    pub event: Option<EventId>,
    /// When proposed.
    pub created_at: OffsetDateTime,
}

/// A proposal with its vote count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalResults {
    /// The proposal.
    pub proposal: Proposal,
    /// Raw and weighted counts.
    pub tally: Tally,
    /// Whether voting has closed.
    pub closed: bool,
}
