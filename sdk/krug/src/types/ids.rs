//! Identifiers. Row ids are UUIDv7 (time-ordered, so inserts stay append-friendly) made only by an
//! injected [`IdGen`]; tenants, businesses and categories are human-chosen slugs from configuration.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Makes new row ids. Injected so tests can make ids deterministic; production uses [`UuidV7`].
pub trait IdGen: Send + Sync + 'static {
    /// A new, unique id.
    fn next_uuid(&self) -> Uuid;
}

/// Time-ordered random UUIDv7 ids from the system clock and the OS random source.
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7;

impl IdGen for UuidV7 {
    #[allow(clippy::disallowed_methods)] // the one place ids are minted
    fn next_uuid(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// Declares a typed id over a UUID.
macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id from the generator.
            pub fn generate(ids: &dyn IdGen) -> Self {
                Self(ids.next_uuid())
            }
            /// Wraps an existing UUID (read from storage or from a caller).
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }
            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id!(
    /// A member (участница) of one tenant.
    MemberId
);
id!(
    /// A recorded purchase.
    PurchaseId
);
id!(
    /// A business's offer (all its versions).
    OfferId
);
id!(
    /// One ledger entry (accrual, redemption, expiry, reversal, adjustment).
    EntryId
);
id!(
    /// One lot of bonuses: what one accrual or credit added, consumed FIFO by expiry.
    LotId
);
id!(
    /// A refund of (part of) a purchase.
    RefundId
);
id!(
    /// A staff account (cashier, manager, owner or operator) of one tenant.
    StaffId
);
id!(
    /// One consent row: one purpose granted once by one member (withdrawal sets its end).
    ConsentId
);
id!(
    /// An event of the events hub.
    EventId
);
id!(
    /// One member's registration for one event (its ticket).
    RegistrationId
);
id!(
    /// A member's proposal for an event, voted on by members.
    ProposalId
);

/// A slug is not of the allowed shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be 2–40 characters of a–z, 0–9, '-' or '_', starting with a letter (got {value:?})")]
pub struct SlugError {
    /// What was being parsed ("tenant id", "business id", "category").
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

fn check_slug(kind: &'static str, value: &str) -> Result<(), SlugError> {
    let ok_len = (2..=40).contains(&value.len());
    let ok_first = value.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let ok_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok_len && ok_first && ok_chars { Ok(()) } else { Err(SlugError { kind, value: value.to_owned() }) }
}

/// Declares a validated slug newtype.
macro_rules! slug {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a slug: 2–40 of `a-z 0-9 - _`, starting with a letter.
            pub fn parse(value: &str) -> Result<Self, SlugError> {
                check_slug($kind, value).map(|()| Self(value.to_owned()))
            }
            /// The slug text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = SlugError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                check_slug($kind, &value).map(|()| Self(value))
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = SlugError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

slug!(
    /// An ecosystem hosted on the platform (`svoy-krug`). Every stored row carries one.
    TenantId,
    "tenant id"
);
slug!(
    /// A partner business inside a tenant (`skinerica`), unique within its tenant.
    BusinessId,
    "business id"
);
slug!(
    /// A status tier's code (`insider`, `vip`, `elite`, `inner-circle`).
    TierCode,
    "tier code"
);
slug!(
    /// A purchase category (`cosmetology`); tiers count distinct categories.
    Category,
    "category"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lowercase_words_and_refuse_the_rest() {
        assert!(TenantId::parse("svoy-krug").is_ok());
        assert!(Category::parse("gastro_market").is_ok());
        for bad in ["", "a", "Svoy", "1abc", "with space", "кириллица", &"x".repeat(41)] {
            assert!(BusinessId::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(serde_json::from_str::<TenantId>("\"Bad Slug\"").is_err());
    }

    #[test]
    fn uuid_v7_ids_are_time_ordered() {
        let a = MemberId::generate(&UuidV7);
        let b = MemberId::generate(&UuidV7);
        assert!(a < b);
    }
}
