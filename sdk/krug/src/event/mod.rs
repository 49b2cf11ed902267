//! The events hub: members-only events, registration with a waitlist and tickets, and members'
//! event proposals with tier-weighted voting.
//!
//! Invariants:
//! - an event's registered seats (registered + attended) never exceed its capacity; the store
//!   decides a seat under the event's row lock, so concurrent registrations queue;
//! - a member has at most one active (registered, waitlisted or attended) registration per event;
//! - a paid seat is charged once, when the seat is granted (a waitlisted member pays when
//!   promoted), and refunded once (cancellation inside the deadline, or the event cancelled);
//! - a proposal's vote weight is the voter's tier weight at the moment she (re)voted.
//!
//! This module is pure: types and decisions of `(rules, state, now)`; the facade runs them in
//! one store transaction.

mod error;
mod model;
mod policy;

pub use error::EventError;

pub use model::{Attendee, Event, MyRegistration, Proposal, ProposalResults, Registration};
pub use policy::{RegistrationDecision, Tally, access_allows, opens_for, seat_for, tally};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::types::TierCode;

/// Declares a status enum with its stored names.
macro_rules! stored_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The stored name.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a stored name.
            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

stored_enum!(
    /// Where an event is in its life: `draft`/`proposed` → `published` → `cancelled`/`finished`.
    EventStatus {
        /// Created by the operator, not yet visible to members.
        Draft = "draft",
        /// Proposed by a partner's owner at its venue; waits for the operator's approval.
        Proposed = "proposed",
        /// Visible to members; registration follows its window.
        Published = "published",
        /// Called off; paid seats were refunded.
        Cancelled = "cancelled",
        /// Over; registered members who did not come are recorded as no-shows.
        Finished = "finished",
    }
);

stored_enum!(
    /// A registration's state.
    RegistrationStatus {
        /// Holds a seat (paid if the event is paid).
        Registered = "registered",
        /// Waits for a seat; not charged yet.
        Waitlisted = "waitlisted",
        /// Cancelled by the member (or by the event's cancellation).
        Cancelled = "cancelled",
        /// Checked in at the event.
        Attended = "attended",
        /// Held a seat but did not come (recorded when the event is finished).
        NoShow = "no_show",
        /// Left the waitlist because the seat could not be paid for when it came free.
        Dropped = "dropped",
    }
);

stored_enum!(
    /// A member's event proposal: `pending` → `approved` (voting) / `rejected`; an approved
    /// proposal that won its vote becomes `converted` into an event.
    ProposalStatus {
        /// Waits for the operator's moderation.
        Pending = "pending",
        /// Accepted for voting.
        Approved = "approved",
        /// Refused by the operator, with a reason.
        Rejected = "rejected",
        /// Turned into an event.
        Converted = "converted",
    }
);

impl RegistrationStatus {
    /// Whether the registration holds a seat.
    pub const fn holds_seat(self) -> bool {
        matches!(self, RegistrationStatus::Registered | RegistrationStatus::Attended)
    }

    /// Whether the registration is still in force (a seat or a place on the waitlist).
    pub const fn is_active(self) -> bool {
        matches!(self, RegistrationStatus::Registered | RegistrationStatus::Attended | RegistrationStatus::Waitlisted)
    }
}

/// The tenant's events rules (`[events]` in `tenant.toml`); defaults documented on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPolicy {
    /// Vote weight per tier code. Default: insider 1, vip 2, elite 3, inner-circle 5 (for the
    /// codes the tenant has); a tier not listed weighs 1, a member without a tier cannot vote.
    pub vote_weights: BTreeMap<TierCode, u32>,
    /// The lowest tier that may propose events (members at this tier or above). Default `vip`
    /// when the tenant has it, else every member with a tier.
    pub proposer_min_tier: Option<TierCode>,
    /// Hours before an event's registration opens that members of a tier may already register.
    /// Default: vip 24, elite 48, inner-circle 72 (for the codes the tenant has); others 0.
    pub early_access_hours: BTreeMap<TierCode, u32>,
}

impl EventsPolicy {
    /// The documented default weights, by tier code.
    pub const DEFAULT_WEIGHTS: [(&'static str, u32); 4] =
        [("insider", 1), ("vip", 2), ("elite", 3), ("inner-circle", 5)];
    /// The documented default early-access hours, by tier code.
    pub const DEFAULT_EARLY_ACCESS: [(&'static str, u32); 3] = [("vip", 24), ("elite", 48), ("inner-circle", 72)];
    /// The documented default lowest proposer tier.
    pub const DEFAULT_PROPOSER: &'static str = "vip";

    /// The vote weight of a member at `tier` (`None`: no tier, no vote, weight 0).
    pub fn weight(&self, tier: Option<&TierCode>) -> u32 {
        tier.map_or(0, |t| self.vote_weights.get(t).copied().unwrap_or(1))
    }

    /// Early-access hours of a member at `tier`.
    pub fn early_hours(&self, tier: Option<&TierCode>) -> u32 {
        tier.and_then(|t| self.early_access_hours.get(t).copied()).unwrap_or(0)
    }
}

impl Default for EventsPolicy {
    /// The documented defaults for every listed code (whether or not a tenant has the tier;
    /// configuration loading keeps only the codes the tenant has).
    fn default() -> Self {
        let pick = |list: &[(&str, u32)]| {
            list.iter().filter_map(|(code, v)| TierCode::parse(code).ok().map(|c| (c, *v))).collect()
        };
        EventsPolicy {
            vote_weights: pick(&Self::DEFAULT_WEIGHTS),
            proposer_min_tier: TierCode::parse(Self::DEFAULT_PROPOSER).ok(),
            early_access_hours: pick(&Self::DEFAULT_EARLY_ACCESS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenant::TenantConfig;

    const SVOY_KRUG: &str = include_str!("../../../../tenants/svoy-krug/tenant.toml");

    fn code(s: &str) -> TierCode {
        TierCode::parse(s).unwrap()
    }

    #[test]
    fn the_shipped_tenant_has_the_documented_event_rules() {
        let config = TenantConfig::from_toml_str(SVOY_KRUG).unwrap();
        assert_eq!(config.events, EventsPolicy::default());
        let e = &config.events;
        let weights: Vec<u32> = ["insider", "vip", "elite", "inner-circle"].map(|t| e.weight(Some(&code(t)))).into();
        assert_eq!(weights, [1, 2, 3, 5]);
        assert_eq!(e.weight(None), 0, "no tier, no vote");
        assert_eq!(e.early_hours(Some(&code("insider"))), 0);
        assert_eq!(e.early_hours(Some(&code("elite"))), 48);
        assert_eq!(e.proposer_min_tier, Some(code("vip")));
    }

    #[test]
    fn events_defaults_keep_only_the_tenants_tier_codes_and_unknown_codes_are_reported() {
        let without = SVOY_KRUG.split("[events]").next().unwrap().to_owned()
            + SVOY_KRUG
                .split("# Partner businesses")
                .nth(1)
                .map(|r| format!("# Partner businesses{r}"))
                .unwrap()
                .as_str();
        let config = TenantConfig::from_toml_str(&without).unwrap();
        assert_eq!(config.events, EventsPolicy::default(), "an absent [events] takes the defaults");

        let bad = SVOY_KRUG.replace("vote_weights = { insider = 1,", "vote_weights = { gold = 9, insider = 1,");
        let errors = TenantConfig::from_toml_str(&bad).unwrap_err();
        assert!(errors.0.iter().any(|p| p.path == "events.vote_weights.gold"), "{errors}");
        let bad = SVOY_KRUG.replace("proposer_min_tier = \"vip\"", "proposer_min_tier = \"gold\"");
        let errors = TenantConfig::from_toml_str(&bad).unwrap_err();
        assert!(errors.0.iter().any(|p| p.path == "events.proposer_min_tier"), "{errors}");
    }
}
