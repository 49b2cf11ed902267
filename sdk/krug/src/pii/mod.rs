//! Members' personal data at rest: field encryption and the phone blind index (compliance §1.8,
//! §1.10).
//!
//! # Scheme
//! Each tenant has one [`KeyRing`]: a set of 32-byte data keys named by [`KeyId`], one of them
//! *active*, plus a separate 32-byte index key. A personal field (phone, name, birthday) is sealed
//! with XChaCha20-Poly1305 under the active data key; the stored bytes are
//! `nonce (24) ‖ ciphertext ‖ tag (16)`, and the key id is stored next to them ([`Sealed`]). The
//! nonce is random per seal, so two seals of the same value differ and nothing can be learned by
//! comparing ciphertexts. The associated data from [`aad`] binds a ciphertext to its tenant, row
//! and field: a ciphertext copied to another member or into another column fails to open.
//!
//! # Rotation
//! [`KeyRing::rotate`] adds a fresh random key and makes it active. New writes use it; old
//! ciphertexts keep opening because each carries the id of the key that sealed it, and old keys
//! stay in the ring for reading. Re-encrypting old rows under the new key (and then dropping the
//! old key) is a separate, later job; until it has run, removing an old key makes its rows
//! unreadable.
//!
//! # Blind index
//! Looking a member up by phone cannot use the random-nonce ciphertext, so the store also keeps
//! [`KeyRing::blind_index`] = HMAC-SHA256(index key, `"phone:" ‖ E.164`). The index key is
//! separate from the data keys on purpose: the index must stay equal for the same phone across
//! data-key rotations, otherwise every rotation would break lookups. Rotating the index key
//! itself means recomputing the index of every row (open each phone, re-index) — a planned
//! re-indexing job, never a side effect of [`KeyRing::rotate`].
//!
//! # What never leaks
//! Key bytes are zeroed on drop and never printed (`Debug` shows `<redacted>`); errors never carry
//! plaintext, key material or the reason a decryption failed. Plaintext must not be handed to
//! `tracing`: log the member id, or [`crate::types::Phone::masked`].
//!
//! Open points (see `compliance.md` §1.10, §1.8): the text form holds the keys in clear, so until
//! a KMS wraps them (envelope encryption) the file must be protected like a secret; keys are per
//! tenant, not per subject, so crypto-shredding a single member is not yet possible; and whether
//! non-GOST algorithms satisfy the threat model is marked **[VERIFY]** there.

mod error;
mod key;
mod ring;

pub use error::PiiError;

pub use key::{BlindIndex, DataKey, KeyId};
pub use ring::{KeyRing, Sealed};

/// Associated data binding a ciphertext to one field of one row of one tenant, e.g.
/// `aad("svoy-krug", member_id, "phone")`.
///
/// Each part is written as its length (8 bytes, big-endian) followed by its bytes, after a fixed
/// scheme tag, so no two different `(tenant, row, field)` triples give the same bytes (`("a|b", "c")`
/// and `("a", "b|c")` differ).
pub fn aad(tenant: &str, row: &str, field: &str) -> Vec<u8> {
    const TAG: &[u8] = b"krug-pii-v1";
    let mut out = Vec::with_capacity(TAG.len() + 24 + tenant.len() + row.len() + field.len());
    out.extend_from_slice(TAG);
    for part in [tenant, row, field] {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_parts_cannot_be_shifted_between_fields() {
        assert_ne!(aad("a|b", "c", "d"), aad("a", "b|c", "d"));
        assert_ne!(aad("ab", "", "c"), aad("a", "b", "c"));
        assert_eq!(aad("t", "m", "phone"), aad("t", "m", "phone"));
    }
}
