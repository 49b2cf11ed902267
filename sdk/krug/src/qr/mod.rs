//! The QR wallet: the rotating code a member's app shows at the counter and the cashier scans.
//!
//! `model` holds the types that cannot be built invalid ([`QrSecret`], [`QrDigits`], [`QrCode`]);
//! `policy` holds the pure decisions over them ([`code_at`], [`verify`]). Nothing here reads a
//! clock, a store or a random source: the caller passes `now` and the member's secret.
//!
//! # Scheme
//! Each member has one 20-byte random secret, provisioned to her app. The app shows the payload
//! `KQ1.<member uuid, 32 hex>.<8 digits>`, where the digits are a TOTP in the style of RFC 6238:
//! HMAC-SHA256 over the 8-byte big-endian count of 30-second steps since the Unix epoch, dynamic
//! truncation (RFC 4226 §5.3), the low 8 decimal digits. The app needs no network to show it.
//!
//! Invariants:
//! - a code verifies only within one step either side of its own (clock skew between the app and
//!   the server), so a photographed code is useless after at most 90 seconds;
//! - [`verify`] names the step the code was made for; the store refuses a `(member, step)` it has
//!   seen before, so each code buys once;
//! - digits are compared in constant time;
//! - the `KQ1` prefix versions the payload, so a later format can be scanned side by side.

mod error;
pub mod model;
pub mod policy;

pub use error::QrError;

pub use model::{QR_DIGITS, QR_PREFIX, QR_SECRET_LEN, QR_STEP_SECONDS, QrCode, QrDigits, QrSecret, base32};
pub use policy::{code_at, step_at, verify};
