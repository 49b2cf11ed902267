//! Why a scanned QR code was refused. The facade turns each refusal into its coded
//! [`crate::Error`] variant (`qr_malformed`, `qr_expired`).

/// Why a scanned code was refused. Messages carry neither the code nor the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QrError {
    /// The payload is not `KQ1.<32 hex>.<8 digits>`.
    #[error("the QR payload is not of the form KQ1.<member>.<8 digits>")]
    Malformed,
    /// The digits match neither the current step nor the one before or after it.
    #[error("the QR code has expired or is wrong")]
    Expired,
}
