//! The SDK's error: every refusal a caller can cause is a typed variant with a stable code; what
//! the caller cannot cause (the database failing) is one opaque `Store` variant.

use crate::chain::ChainError;
use crate::coupon::CouponError;
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
    /// The store failed; not the caller's fault.
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
}

impl Error {
    /// The stable machine-readable code (`insufficient_balance`), the same on every surface.
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnknownTenant(_) => "tenant_not_found",
            Error::TenantSuspended(_) => "tenant_suspended",
            Error::UnknownBusiness(_) => "business_not_found",
            Error::MemberNotFound => "member_not_found",
            Error::PurchaseNotFound => "purchase_not_found",
            Error::PhoneTaken { .. } => "phone_taken",
            Error::InvalidAmount { .. } => "invalid_amount",
            Error::InvalidInput { .. } => "invalid_input",
            Error::Ledger(LedgerError::InsufficientBalance { .. }) => "insufficient_balance",
            Error::Ledger(LedgerError::RedeemAboveCap { .. }) => "redeem_above_cap",
            Error::Ledger(LedgerError::NonPositiveAmount) => "invalid_amount",
            Error::Ledger(LedgerError::Overflow) => "amount_out_of_range",
            Error::Ledger(_) => "ledger_error",
            Error::Status(_) => "invalid_tier",
            Error::IdempotencyConflict { .. } => "idempotency_conflict",
            Error::RefundExceedsPurchase { .. } => "refund_exceeds_purchase",
            Error::Config(_) => "invalid_config",
            Error::RefreshInvalid => "refresh_invalid",
            Error::RefreshReused => "refresh_reused",
            Error::QrMalformed => "qr_malformed",
            Error::QrExpired => "qr_expired",
            Error::QrAlreadyUsed => "qr_already_used",
            Error::QrNotProvisioned => "qr_not_provisioned",
            Error::StaffNotFound => "staff_not_found",
            Error::LoginTaken => "login_taken",
            Error::InvalidCredentials => "invalid_credentials",
            Error::RateLimited { .. } => "rate_limited",
            Error::CodeExpired => "code_expired",
            Error::CodeInvalid { .. } => "code_invalid",
            Error::TooManyAttempts => "too_many_attempts",
            Error::ConsentNotActive => "consent_not_active",
            Error::MedicalConsentRequired => "medical_consent_required",
            Error::Event(e) => e.code(),
            Error::Coupon(e) => e.code(),
            Error::OfferNotFound => "offer_not_found",
            Error::OfferScriptInvalid { .. } => "offer_script_invalid",
            Error::OfferExamplesFailed { .. } => "offer_examples_failed",
            Error::OfferStateConflict { .. } => "offer_state_conflict",
            Error::Chain(e) => e.code(),
            Error::Pii(_) | Error::Store(_) => "internal",
        }
    }

    /// The HTTP status the code maps to: 4xx for what the caller can fix, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Event(e) => return e.http_status(),
            Error::Coupon(e) => return e.http_status(),
            Error::Chain(e) => return e.http_status(),
            _ => {}
        }
        match self.code() {
            "qr_malformed" => 400,
            "tenant_not_found" | "business_not_found" | "member_not_found" | "purchase_not_found" => 404,
            "refresh_invalid" | "refresh_reused" => 401,
            "tenant_suspended" => 403,
            "phone_taken"
            | "insufficient_balance"
            | "idempotency_conflict"
            | "qr_already_used"
            | "qr_not_provisioned" => 409,
            "staff_not_found" => 404,
            "login_taken" | "consent_not_active" | "medical_consent_required" => 409,
            "invalid_credentials" => 401,
            "rate_limited" | "too_many_attempts" => 429,
            "code_expired" | "code_invalid" => 422,
            "offer_not_found" => 404,
            "offer_state_conflict" => 409,
            "offer_script_invalid" | "offer_examples_failed" => 422,
            "invalid_amount"
            | "invalid_input"
            | "redeem_above_cap"
            | "invalid_tier"
            | "refund_exceeds_purchase"
            | "invalid_config"
            | "qr_expired" => 422,
            _ => 500,
        }
    }

    /// The numbers behind a ledger refusal, for clients that show them.
    pub fn available(&self) -> Option<Bonus> {
        match self {
            Error::Ledger(LedgerError::InsufficientBalance { available, .. }) => Some(*available),
            Error::Ledger(LedgerError::RedeemAboveCap { cap, .. }) => Some(*cap),
            _ => None,
        }
    }
}

/// The SDK's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
