//! The SDK's error: every refusal a caller can cause is a typed variant with a stable code; what
//! the caller cannot cause (the database failing) is one opaque `Store` variant.
//!
//! Codes and HTTP statuses come from one table per error type (`error_table!`, reused by every
//! engine's error): a code and its status cannot drift apart. Only what the caller cannot cause
//! is 5xx: `internal` (500), and `store_busy` (503, retry after [`Error::retry_after`]).

use std::time::Duration;

use crate::chain::ChainError;
use crate::coupon::CouponError;
use crate::identity::model::SMS_MIN_INTERVAL;
use crate::ledger::LedgerError;
use crate::pii::PiiError;
use crate::status::StatusError;
use crate::store::StoreError;
use crate::tenant::ConfigErrors;
use crate::types::{AmountError, Bonus, BusinessId, Kopecks, MemberId, TenantId};

/// Why a Krug operation was refused or failed. A refused operation has changed nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tenant is not hosted here.
    #[error("tenant {0} is not known")]
    UnknownTenant(TenantId),
    /// The tenant is suspended by a superadmin: every command on it is refused, reads included,
    /// until it is resumed.
    #[error("tenant {0} is suspended")]
    TenantSuspended(TenantId),
    /// The business is not part of this tenant (or no longer active).
    #[error("business {0} is not part of this tenant")]
    UnknownBusiness(BusinessId),
    /// No such member in this tenant.
    #[error("member not found")]
    MemberNotFound,
    /// No such purchase in this tenant.
    #[error("purchase not found")]
    PurchaseNotFound,
    /// A member with this phone is already registered in this tenant.
    #[error("a member with this phone is already registered")]
    PhoneTaken {
        /// The existing member.
        member: MemberId,
    },
    /// An amount is zero, negative or out of range.
    #[error("{field}: {source}")]
    InvalidAmount {
        /// The input field.
        field: &'static str,
        /// What is wrong with it.
        source: AmountError,
    },
    /// A field is malformed.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The input field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The ledger refused the movement (insufficient balance, above the redemption cap, …).
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The status engine refused (unknown tier, tier not invitation-only).
    #[error(transparent)]
    Status(#[from] StatusError),
    /// The idempotency key was used before with a different request.
    #[error("idempotency key {key:?} was already used with a different request")]
    IdempotencyConflict {
        /// The reused key.
        key: String,
    },
    /// The refund is larger than what is left to refund of the purchase.
    #[error("refund of {requested} exceeds the {refundable} left to refund")]
    RefundExceedsPurchase {
        /// What is left to refund.
        refundable: Kopecks,
        /// What was asked for.
        requested: Kopecks,
    },
    /// The refresh token is unknown, expired, revoked or malformed.
    #[error("the refresh token is invalid or expired")]
    RefreshInvalid,
    /// The refresh token was already used: its whole session family has been revoked.
    #[error("the refresh token was already used; every session of this sign-in is revoked")]
    RefreshReused,
    /// No such staff account in this tenant.
    #[error("staff account not found")]
    StaffNotFound,
    /// Another staff account of this tenant already has this login.
    #[error("this login is already taken")]
    LoginTaken,
    /// A staff sign-in was refused. Unknown login, wrong password and inactive account all give
    /// this same error, so a caller cannot learn which logins exist.
    #[error("invalid login or password")]
    InvalidCredentials,
    /// Too many SMS codes were asked for this phone; a new one can be issued after the wait.
    #[error("too many codes requested; retry in {retry_after_seconds} s")]
    RateLimited {
        /// Whole seconds until the oldest code that blocks the request leaves its window.
        retry_after_seconds: u32,
    },
    /// There is no usable SMS code for this phone: it expired, was used, or none was issued.
    #[error("the code has expired; request a new one")]
    CodeExpired,
    /// The SMS code does not match; the code stays usable for `attempts_left` more tries.
    #[error("the code is wrong; {attempts_left} attempts left")]
    CodeInvalid {
        /// Wrong tries left before the code is dead (1 or more).
        attempts_left: u32,
    },
    /// The SMS code was entered wrong too often and can no longer be used; request a new one.
    #[error("too many wrong attempts; request a new code")]
    TooManyAttempts,
    /// A purchase at a medical partner needs the member's medical-disclosure consent first.
    #[error("a purchase at a medical partner needs the member's consent to medical disclosure")]
    MedicalConsentRequired,
    /// The member has no active consent of that kind to withdraw.
    #[error("no active consent of this kind")]
    ConsentNotActive,
    /// The tenant configuration is invalid; every problem is listed with its field path.
    #[error("invalid tenant configuration:\n{0}")]
    Config(ConfigErrors),
    /// Encrypted personal data could not be sealed or opened (a key is missing or wrong).
    #[error("personal data could not be processed: {0}")]
    Pii(#[from] PiiError),
    /// The scanned QR payload is not `KQ1.<member>.<8 digits>`.
    #[error("the QR payload is malformed")]
    QrMalformed,
    /// The scanned code matches neither the current step nor one either side of it (expired,
    /// from an old secret, or wrong).
    #[error("the QR code has expired or is wrong")]
    QrExpired,
    /// The scanned code has already paid for a purchase; each code buys once.
    #[error("the QR code has already been used")]
    QrAlreadyUsed,
    /// The member has no QR secret yet; provision one first.
    #[error("the member has no QR secret")]
    QrNotProvisioned,
    /// The events hub or the event budget refused (see [`crate::event::EventError::code`]).
    #[error(transparent)]
    Event(#[from] crate::event::EventError),
    /// A coupon was refused, or a coupon template or code could not be found or created; each
    /// refusal has its own code (`coupon_expired`, `coupon_not_valid_here`, …).
    #[error(transparent)]
    Coupon(#[from] CouponError),
    /// No such offer in this tenant (or it belongs to another business).
    #[error("offer not found")]
    OfferNotFound,
    /// The offer script does not compile against the offer contract (syntax, an unknown
    /// variable, `import`, `eval`, a limit); the message is the script engine's.
    #[error("the offer script is invalid: {message}")]
    OfferScriptInvalid {
        /// What is wrong, with its position.
        message: String,
    },
    /// Submission was refused: the listed example cases did not produce their expected effects.
    #[error("offer examples failed: {}", failures.join("; "))]
    OfferExamplesFailed {
        /// One line per failing example.
        failures: Vec<String>,
    },
    /// The offer is not in a state that allows this action (approving a draft, editing an
    /// archived offer, …).
    #[error("cannot {action} an offer that is {status}")]
    OfferStateConflict {
        /// The action refused.
        action: &'static str,
        /// The state it was refused in.
        status: String,
    },
    /// A cross-promo chain command was refused (`invalid_chain`, `chain_not_approved`, …).
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed, or is too busy to answer now ([`StoreError::Busy`], `store_busy`, 503
    /// with a [`Error::retry_after`]); not the caller's fault.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
}

/// Declares `code()` and `http_status()` of an error type from ONE table of rows
/// `pattern => ("code", status)`, so a code and its status cannot drift apart. A row may instead
/// name a nested error's row (`Error::Ledger(e) => e.code_and_status()`); the match is
/// exhaustive, so a new variant without a row does not compile.
macro_rules! error_table {
    ($ty:ident { $($pat:pat => $row:expr),+ $(,)? }) => {
        impl $ty {
            /// The stable machine-readable code (`insufficient_balance`), the same on every surface.
            pub const fn code(&self) -> &'static str {
                self.code_and_status().0
            }

            /// The HTTP status of the code: 4xx for what the caller can fix, 5xx only for what
            /// the caller cannot cause.
            pub const fn http_status(&self) -> u16 {
                self.code_and_status().1
            }

            /// The error's row of the table: its code and its HTTP status.
            pub(crate) const fn code_and_status(&self) -> (&'static str, u16) {
                match self {
                    $($pat => $row),+
                }
            }
        }
    };
}
pub(crate) use error_table;

/// The row of every failure the caller cannot cause: an opaque 500 (the cause goes to the log).
pub(crate) const INTERNAL: (&str, u16) = ("internal", 500);

error_table! {
    Error {
        Error::UnknownTenant(_) => ("tenant_not_found", 404),
        Error::TenantSuspended(_) => ("tenant_suspended", 403),
        Error::UnknownBusiness(_) => ("business_not_found", 404),
        Error::MemberNotFound => ("member_not_found", 404),
        Error::PurchaseNotFound => ("purchase_not_found", 404),
        Error::PhoneTaken { .. } => ("phone_taken", 409),
        Error::InvalidAmount { .. } => ("invalid_amount", 422),
        Error::InvalidInput { .. } => ("invalid_input", 422),
        Error::Ledger(e) => e.code_and_status(),
        Error::Status(e) => e.code_and_status(),
        Error::IdempotencyConflict { .. } => ("idempotency_conflict", 409),
        Error::RefundExceedsPurchase { .. } => ("refund_exceeds_purchase", 422),
        Error::RefreshInvalid => ("refresh_invalid", 401),
        Error::RefreshReused => ("refresh_reused", 401),
        Error::StaffNotFound => ("staff_not_found", 404),
        Error::LoginTaken => ("login_taken", 409),
        Error::InvalidCredentials => ("invalid_credentials", 401),
        Error::RateLimited { .. } => ("rate_limited", 429),
        Error::CodeExpired => ("code_expired", 422),
        Error::CodeInvalid { .. } => ("code_invalid", 422),
        Error::TooManyAttempts => ("too_many_attempts", 429),
        Error::MedicalConsentRequired => ("medical_consent_required", 409),
        Error::ConsentNotActive => ("consent_not_active", 409),
        Error::Config(_) => ("invalid_config", 422),
        Error::Pii(_) => INTERNAL,
        Error::QrMalformed => ("qr_malformed", 400),
        Error::QrExpired => ("qr_expired", 422),
        Error::QrAlreadyUsed => ("qr_already_used", 409),
        Error::QrNotProvisioned => ("qr_not_provisioned", 409),
        Error::Event(e) => e.code_and_status(),
        Error::Coupon(e) => e.code_and_status(),
        Error::OfferNotFound => ("offer_not_found", 404),
        Error::OfferScriptInvalid { .. } => ("offer_script_invalid", 422),
        Error::OfferExamplesFailed { .. } => ("offer_examples_failed", 422),
        Error::OfferStateConflict { .. } => ("offer_state_conflict", 409),
        Error::Chain(e) => e.code_and_status(),
        Error::Store(StoreError::Busy { .. }) => ("store_busy", 503),
        Error::Store(_) => INTERNAL,
    }
}

impl Error {
    /// The numbers behind a ledger refusal, for clients that show them.
    pub fn available(&self) -> Option<Bonus> {
        match self {
            Error::Ledger(LedgerError::InsufficientBalance { available, .. }) => Some(*available),
            Error::Ledger(LedgerError::RedeemAboveCap { cap, .. }) => Some(*cap),
            _ => None,
        }
    }

    /// How long to wait before the same request can succeed, when the refusal says so: an
    /// overloaded store ([`StoreError::Busy`]), an SMS rate limit, or a code killed by wrong
    /// attempts (a new one can be asked for after [`SMS_MIN_INTERVAL`]).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Store(StoreError::Busy { retry_after }) => Some(*retry_after),
            Error::RateLimited { retry_after_seconds } => Some(Duration::from_secs(u64::from(*retry_after_seconds))),
            Error::TooManyAttempts => Some(Duration::from_secs(SMS_MIN_INTERVAL.whole_seconds().unsigned_abs())),
            _ => None,
        }
    }
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;
    use crate::chain::ChainProblem;
    use crate::event::EventError;
    use crate::pii::KeyId;
    use crate::tenant::ConfigProblem;
    use crate::types::{LotId, TierCode};

    // Each `*_after` helper walks one error type: `after(None)` is its first variant, `after(Some(v))`
    // the one after `v`, `None` the end. Their matches have no wildcard arm, so a variant added to
    // any of these types does not compile until it is listed here, and so is checked below.

    fn ledger_after(prev: Option<&LedgerError>) -> Option<LedgerError> {
        let bonus = |n| Bonus::new(n).unwrap();
        match prev {
            None => Some(LedgerError::InsufficientBalance { available: bonus(1), requested: bonus(2) }),
            Some(LedgerError::InsufficientBalance { .. }) => {
                Some(LedgerError::RedeemAboveCap { cap: bonus(1), requested: bonus(2) })
            }
            Some(LedgerError::RedeemAboveCap { .. }) => Some(LedgerError::NonPositiveAmount),
            Some(LedgerError::NonPositiveAmount) => Some(LedgerError::Overflow),
            Some(LedgerError::Overflow) => Some(LedgerError::UnknownLot(LotId::from_uuid(Uuid::nil()))),
            Some(LedgerError::UnknownLot(_)) => None,
        }
    }

    fn status_after(prev: Option<&StatusError>) -> Option<StatusError> {
        let code = || TierCode::parse("vip").unwrap();
        match prev {
            None => Some(StatusError::UnknownTier { code: code() }),
            Some(StatusError::UnknownTier { .. }) => Some(StatusError::NotInvitationOnly { code: code() }),
            Some(StatusError::NotInvitationOnly { .. }) => None,
        }
    }

    fn event_after(prev: Option<&EventError>) -> Option<EventError> {
        let reason = || "closed".to_owned();
        match prev {
            None => Some(EventError::NotFound),
            Some(EventError::NotFound) => Some(EventError::ProposalNotFound),
            Some(EventError::ProposalNotFound) => Some(EventError::RegistrationNotFound),
            Some(EventError::RegistrationNotFound) => {
                Some(EventError::InvalidTransition { from: "cancelled", action: "publish" })
            }
            Some(EventError::InvalidTransition { .. }) => Some(EventError::RegistrationClosed { reason: reason() }),
            Some(EventError::RegistrationClosed { .. }) => Some(EventError::AccessDenied { reason: reason() }),
            Some(EventError::AccessDenied { .. }) => Some(EventError::AlreadyRegistered),
            Some(EventError::AlreadyRegistered) => Some(EventError::TicketAlreadyUsed),
            Some(EventError::TicketAlreadyUsed) => Some(EventError::TicketWrongEvent),
            Some(EventError::TicketWrongEvent) => Some(EventError::CheckInClosed { reason: reason() }),
            Some(EventError::CheckInClosed { .. }) => Some(EventError::VotingClosed),
            Some(EventError::VotingClosed) => Some(EventError::BudgetInsufficient { available: 1, requested: 2 }),
            Some(EventError::BudgetInsufficient { .. }) => {
                Some(EventError::AllocationExceeded { remaining: 1, requested: 2 })
            }
            Some(EventError::AllocationExceeded { .. }) => None,
        }
    }

    fn coupon_after(prev: Option<&CouponError>) -> Option<CouponError> {
        let at = OffsetDateTime::UNIX_EPOCH;
        match prev {
            None => Some(CouponError::NotFound),
            Some(CouponError::NotFound) => Some(CouponError::Mistyped),
            Some(CouponError::Mistyped) => Some(CouponError::Revoked),
            Some(CouponError::Revoked) => Some(CouponError::NotYours),
            Some(CouponError::NotYours) => Some(CouponError::AlreadyUsed),
            Some(CouponError::AlreadyUsed) => Some(CouponError::LimitReached { limit: 1 }),
            Some(CouponError::LimitReached { .. }) => Some(CouponError::MemberLimitReached { limit: 1 }),
            Some(CouponError::MemberLimitReached { .. }) => Some(CouponError::Expired { until: at }),
            Some(CouponError::Expired { .. }) => Some(CouponError::NotYetValid { from: at }),
            Some(CouponError::NotYetValid { .. }) => Some(CouponError::NotValidHere),
            Some(CouponError::NotValidHere) => Some(CouponError::MinPurchase { min: Kopecks::new(100).unwrap() }),
            Some(CouponError::MinPurchase { .. }) => Some(CouponError::NotStackable),
            Some(CouponError::NotStackable) => Some(CouponError::TemplateNotFound),
            Some(CouponError::TemplateNotFound) => Some(CouponError::TemplateExists),
            Some(CouponError::TemplateExists) => Some(CouponError::CodeTaken),
            Some(CouponError::CodeTaken) => None,
        }
    }

    fn chain_after(prev: Option<&ChainError>) -> Option<ChainError> {
        match prev {
            None => Some(ChainError::Invalid(vec![ChainProblem { field: "steps".into(), message: "empty".into() }])),
            Some(ChainError::Invalid(_)) => Some(ChainError::NotFound),
            Some(ChainError::NotFound) => {
                Some(ChainError::NotApproved { missing: vec![BusinessId::parse("cafe").unwrap()] })
            }
            Some(ChainError::NotApproved { .. }) => Some(ChainError::WrongStatus { status: "paused".into() }),
            Some(ChainError::WrongStatus { .. }) => Some(ChainError::NoChoice),
            Some(ChainError::NoChoice) => None,
        }
    }

    fn pii_after(prev: Option<&PiiError>) -> Option<PiiError> {
        let key = || KeyId::parse("k1").unwrap();
        match prev {
            None => Some(PiiError::UnknownKey(key())),
            Some(PiiError::UnknownKey(_)) => Some(PiiError::Decrypt),
            Some(PiiError::Decrypt) => Some(PiiError::InvalidKeyRing("no active key".into())),
            Some(PiiError::InvalidKeyRing(_)) => Some(PiiError::Encrypt),
            Some(PiiError::Encrypt) => Some(PiiError::InvalidKeyId("K 1".into())),
            Some(PiiError::InvalidKeyId(_)) => Some(PiiError::DuplicateKey(key())),
            Some(PiiError::DuplicateKey(_)) => None,
        }
    }

    fn store_after(prev: Option<&StoreError>) -> Option<StoreError> {
        match prev {
            None => Some(StoreError::NotFound),
            Some(StoreError::NotFound) => Some(StoreError::Conflict { constraint: "members_pkey".into() }),
            Some(StoreError::Conflict { .. }) => Some(StoreError::Corrupt("bad row".into())),
            Some(StoreError::Corrupt(_)) => Some(StoreError::Backend(sqlx::Error::PoolClosed)),
            Some(StoreError::Backend(_)) => Some(StoreError::Contention(sqlx::Error::PoolClosed)),
            Some(StoreError::Contention(_)) => Some(StoreError::CommitFailed("disk full".into())),
            Some(StoreError::CommitFailed(_)) => Some(StoreError::Busy { retry_after: Duration::from_secs(1) }),
            Some(StoreError::Busy { .. }) => None,
        }
    }

    /// The walk over [`Error`], descending into every nested engine error on the way.
    fn error_after(prev: Option<&Error>) -> Option<Error> {
        let tenant = || TenantId::parse("svoy-krug").unwrap();
        let rub = |n| Kopecks::new(n).unwrap();
        match prev {
            None => Some(Error::UnknownTenant(tenant())),
            Some(Error::UnknownTenant(_)) => Some(Error::TenantSuspended(tenant())),
            Some(Error::TenantSuspended(_)) => Some(Error::UnknownBusiness(BusinessId::parse("cafe").unwrap())),
            Some(Error::UnknownBusiness(_)) => Some(Error::MemberNotFound),
            Some(Error::MemberNotFound) => Some(Error::PurchaseNotFound),
            Some(Error::PurchaseNotFound) => Some(Error::PhoneTaken { member: MemberId::from_uuid(Uuid::nil()) }),
            Some(Error::PhoneTaken { .. }) => Some(Error::InvalidAmount { field: "amount", source: AmountError::Zero }),
            Some(Error::InvalidAmount { .. }) => Some(Error::InvalidInput { field: "name", message: "blank".into() }),
            Some(Error::InvalidInput { .. }) => ledger_after(None).map(Error::Ledger),
            Some(Error::Ledger(e)) => {
                ledger_after(Some(e)).map(Error::Ledger).or_else(|| status_after(None).map(Error::Status))
            }
            Some(Error::Status(e)) => {
                status_after(Some(e)).map(Error::Status).or(Some(Error::IdempotencyConflict { key: "R-1".into() }))
            }
            Some(Error::IdempotencyConflict { .. }) => {
                Some(Error::RefundExceedsPurchase { refundable: rub(1), requested: rub(2) })
            }
            Some(Error::RefundExceedsPurchase { .. }) => Some(Error::RefreshInvalid),
            Some(Error::RefreshInvalid) => Some(Error::RefreshReused),
            Some(Error::RefreshReused) => Some(Error::StaffNotFound),
            Some(Error::StaffNotFound) => Some(Error::LoginTaken),
            Some(Error::LoginTaken) => Some(Error::InvalidCredentials),
            Some(Error::InvalidCredentials) => Some(Error::RateLimited { retry_after_seconds: 40 }),
            Some(Error::RateLimited { .. }) => Some(Error::CodeExpired),
            Some(Error::CodeExpired) => Some(Error::CodeInvalid { attempts_left: 2 }),
            Some(Error::CodeInvalid { .. }) => Some(Error::TooManyAttempts),
            Some(Error::TooManyAttempts) => Some(Error::MedicalConsentRequired),
            Some(Error::MedicalConsentRequired) => Some(Error::ConsentNotActive),
            Some(Error::ConsentNotActive) => Some(Error::Config(ConfigErrors(vec![ConfigProblem {
                path: "tiers[0].cashback_bps".into(),
                message: "too high".into(),
            }]))),
            Some(Error::Config(_)) => pii_after(None).map(Error::Pii),
            Some(Error::Pii(e)) => pii_after(Some(e)).map(Error::Pii).or(Some(Error::QrMalformed)),
            Some(Error::QrMalformed) => Some(Error::QrExpired),
            Some(Error::QrExpired) => Some(Error::QrAlreadyUsed),
            Some(Error::QrAlreadyUsed) => Some(Error::QrNotProvisioned),
            Some(Error::QrNotProvisioned) => event_after(None).map(Error::Event),
            Some(Error::Event(e)) => {
                event_after(Some(e)).map(Error::Event).or_else(|| coupon_after(None).map(Error::Coupon))
            }
            Some(Error::Coupon(e)) => coupon_after(Some(e)).map(Error::Coupon).or(Some(Error::OfferNotFound)),
            Some(Error::OfferNotFound) => {
                Some(Error::OfferScriptInvalid { message: "line 1: unknown variable".into() })
            }
            Some(Error::OfferScriptInvalid { .. }) => {
                Some(Error::OfferExamplesFailed { failures: vec!["case 1".into()] })
            }
            Some(Error::OfferExamplesFailed { .. }) => {
                Some(Error::OfferStateConflict { action: "approve", status: "draft".into() })
            }
            Some(Error::OfferStateConflict { .. }) => chain_after(None).map(Error::Chain),
            Some(Error::Chain(e)) => {
                chain_after(Some(e)).map(Error::Chain).or_else(|| store_after(None).map(Error::Store))
            }
            Some(Error::Store(e)) => store_after(Some(e)).map(Error::Store),
        }
    }

    /// One value of every variant of [`Error`] and of every error nested in it.
    fn every_error() -> Vec<Error> {
        let all: Vec<Error> = std::iter::successors(error_after(None), |e| error_after(Some(e))).take(1000).collect();
        assert!(all.len() < 1000, "the walk over Error loops");
        all
    }

    fn is_snake_case(code: &str) -> bool {
        code.starts_with(|c: char| c.is_ascii_lowercase())
            && !code.ends_with('_')
            && !code.contains("__")
            && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }

    #[test]
    fn every_error_has_a_snake_case_code_with_one_status_and_only_internal_failures_are_5xx() {
        let all = every_error();
        let mut statuses: BTreeMap<&str, u16> = BTreeMap::new();
        for err in &all {
            let (code, status) = (err.code(), err.http_status());
            assert!(is_snake_case(code), "{err:?}: code {code:?} is not snake_case");
            assert!((400..600).contains(&status), "{err:?}: {status} is not an error status");
            let first = *statuses.entry(code).or_insert(status);
            assert_eq!(status, first, "{err:?}: code {code} answers both {first} and {status}");
            if status >= 500 {
                assert!(matches!(code, "internal" | "store_busy"), "{err:?}: {code} answers {status}");
            }
        }
        assert_eq!(statuses.get("internal"), Some(&500));
        assert_eq!(statuses.get("store_busy"), Some(&503));
        // The walk reached the nested errors and the store's variants (not only their first ones).
        for code in ["amount_out_of_range", "allocation_exceeded", "coupon_code_taken", "chain_no_choice"] {
            assert!(statuses.contains_key(code), "the walk missed {code}");
        }
        let distinct: std::collections::BTreeSet<String> = all.iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(distinct.len(), all.len(), "the walk visits a value twice");
    }

    #[test]
    fn ledger_refusals_the_caller_can_cause_are_client_errors() {
        let overflow = Error::Ledger(LedgerError::Overflow);
        assert_eq!((overflow.code(), overflow.http_status()), ("amount_out_of_range", 422));
        let caller_caused: Vec<Error> = std::iter::successors(ledger_after(None), |e| ledger_after(Some(e)))
            .filter(|e| !matches!(e, LedgerError::UnknownLot(_)))
            .map(Error::Ledger)
            .collect();
        for err in caller_caused {
            assert!((400..500).contains(&err.http_status()), "{err:?}");
            assert_ne!(err.code(), "internal", "{err:?}");
        }
    }

    #[test]
    fn a_pool_timeout_is_a_busy_store_to_retry_after_a_second() {
        let err = Error::from(StoreError::from(sqlx::Error::PoolTimedOut));
        assert_eq!((err.code(), err.http_status()), ("store_busy", 503));
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
        assert_eq!(Error::Store(StoreError::NotFound).retry_after(), None);
        assert_eq!(Error::RateLimited { retry_after_seconds: 40 }.retry_after(), Some(Duration::from_secs(40)));
    }
}
