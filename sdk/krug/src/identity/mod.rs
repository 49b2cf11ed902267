//! Identity: the data the appliance's authentication stands on — staff accounts, SMS sign-in
//! codes, the consent ledger and members' own profile changes. The appliance does JWT and HTTP;
//! the SDK owns storage and rules.
//!
//! `model` holds the types (valid by construction; secrets never in `Debug`), `policy` the pure
//! rules over them; the `Krug` facade applies them in one transaction each.
//!
//! Invariants:
//! - a staff password is stored only as an Argon2id PHC string; a sign-in refusal never says
//!   whether the login exists (unknown login, wrong password and inactive account are one error,
//!   and an unknown login still costs one hash verification);
//! - an SMS code is stored only as a keyed HMAC-SHA256 bound to the tenant and the code's row,
//!   lives [`model::SMS_CODE_TTL`], dies after [`model::SMS_MAX_ATTEMPTS`] wrong entries, and only
//!   the newest code of a phone is usable; the per-phone rate limits are counted from the stored
//!   codes, so they hold across replicas and restarts;
//! - the consent ledger is append-only: a grant adds a row, a withdrawal only sets that row's
//!   `withdrawn_at`; a member has at most one active row per [`model::ConsentKind`];
//! - every staff create or update writes an audit record in the same transaction.

pub mod model;
pub mod policy;

pub use model::{
    AuditEvent, Consent, ConsentKind, GrantConsent, IssuedCode, Login, NewStaff, PROCESSING_CONSENT_SHA256,
    PROCESSING_CONSENT_TEXT, PROCESSING_CONSENT_VERSION, ProfileUpdate, Role, SignIn, Staff, StaffUpdate,
};
