//! Why personal data could not be sealed or opened. Every variant is an internal failure to the
//! caller (`internal`, 500): the cause goes to the log, never to the client.

use super::KeyId;

/// Why a key ring could not be built or a field could not be sealed or opened. Messages never
/// contain plaintext or key material, so they are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PiiError {
    /// The stored key id is not in this ring (the key was removed, or the row belongs to another
    /// tenant's ring).
    #[error("no data key with id {0} in the key ring")]
    UnknownKey(KeyId),
    /// Authentication failed: wrong key, wrong associated data, or tampered or truncated bytes.
    /// Which one is deliberately not said.
    #[error("the sealed field could not be opened")]
    Decrypt,
    /// The key ring's text form is unusable; the message says which part, never the key bytes.
    #[error("invalid key ring: {0}")]
    InvalidKeyRing(String),
    /// Sealing failed (the OS random source or the cipher refused). Nothing was written.
    #[error("the field could not be sealed")]
    Encrypt,
    /// A key id is not 1–32 characters of `a-z 0-9 - _`; carries the rejected text.
    #[error("key id must be 1–32 characters of a–z, 0–9, '-' or '_' (got {0:?})")]
    InvalidKeyId(String),
    /// [`KeyRing::rotate`](super::KeyRing::rotate) was given an id already in the ring; reusing an id would make old
    /// ciphertexts ambiguous.
    #[error("key id {0} is already in the key ring")]
    DuplicateKey(KeyId),
}
