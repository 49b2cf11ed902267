//! Key material and key names. Invariants: a [`KeyId`] is always 1–32 of `a-z 0-9 - _`; key bytes
//! are exactly 32, never printed and zeroed when dropped.

use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::PiiError;

/// The name of one data key in a ring (`k1`, `2026-03`). Stored beside every ciphertext, so it
/// is short and has a fixed alphabet that is also a bare TOML key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

fn is_key_id(value: &str) -> bool {
    (1..=32).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl KeyId {
    /// Parses a key id: 1–32 characters of `a-z 0-9 - _`.
    pub fn parse(value: &str) -> Result<KeyId, PiiError> {
        if is_key_id(value) { Ok(KeyId(value.to_owned())) } else { Err(PiiError::InvalidKeyId(value.to_owned())) }
    }

    /// The id text, as stored beside a ciphertext.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = PiiError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_key_id(&value) { Ok(KeyId(value)) } else { Err(PiiError::InvalidKeyId(value)) }
    }
}

impl From<KeyId> for String {
    fn from(value: KeyId) -> Self {
        value.0
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for KeyId {
    type Err = PiiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyId::parse(s)
    }
}

/// 32 random bytes from the OS. `try_fill_bytes` so a failing random source is an error, not a
/// panic inside `rand`.
pub(super) fn random_32() -> Result<[u8; 32], PiiError> {
    let mut bytes = [0u8; 32];
    OsRng.try_fill_bytes(&mut bytes).map_err(|_| PiiError::Encrypt)?;
    Ok(bytes)
}

/// Declares a 32-byte secret that is redacted in `Debug` and zeroed on drop. Deliberately no
/// `Clone`, `Display` or serde: the only ways out are the ring's text form and the cipher.
macro_rules! secret32 {
    ($(#[$doc:meta])* $vis:vis $name:ident) => {
        $(#[$doc])*
        $vis struct $name([u8; 32]);

        impl $name {
            /// Takes ownership of the bytes; the caller should zero its own copy.
            pub(super) fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The key bytes, for the cipher, the MAC and the text form only.
            pub(super) fn bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.0.zeroize();
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret32!(
    /// A 32-byte XChaCha20-Poly1305 key that seals personal fields. Never printed (`Debug` shows
    /// `DataKey(<redacted>)`) and zeroed on drop; built only by a [`super::KeyRing`].
    pub DataKey
);

secret32!(
    /// The HMAC key of the phone blind index: separate from data keys so the index survives
    /// data-key rotation.
    pub(super) IndexKey
);

/// A keyed, deterministic fingerprint of a phone number, for lookup without decryption. Equal for
/// every written form of the same number under one ring; unrelated under another ring. Not
/// personal data by itself, but a stable pseudonym: keep it out of logs all the same.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex(pub(super) [u8; 32]);

impl BlindIndex {
    /// The 32 HMAC-SHA256 bytes, as stored in the indexed column.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for BlindIndex {
    // A short prefix is enough to tell two indexes apart in a test failure.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex(")?;
        for b in self.0.iter().take(4) {
            write!(f, "{b:02x}")?;
        }
        f.write_str("…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_accept_short_slugs_and_refuse_the_rest() {
        for good in ["k1", "1", "2026-03", "a_b", &"x".repeat(32)] {
            assert!(KeyId::parse(good).is_ok(), "{good:?} must be accepted");
        }
        for bad in ["", "K1", "k 1", "k.1", "ключ", &"x".repeat(33)] {
            assert_eq!(KeyId::parse(bad), Err(PiiError::InvalidKeyId(bad.to_owned())));
        }
        assert!(serde_json::from_str::<KeyId>("\"Bad\"").is_err());
    }
}
