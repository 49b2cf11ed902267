//! A tenant's key ring: sealing and opening fields, the phone blind index, and the ring's text
//! form. Invariant: the active key id is always a key of the ring, so sealing never looks up a
//! missing key.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::Hmac;
use hmac::digest::{KeyInit, Mac as _};
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::Deserialize;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::key::{IndexKey, random_32};
use super::{BlindIndex, DataKey, KeyId, PiiError};
use crate::types::Phone;

/// Bytes of the random XChaCha20 nonce stored in front of each ciphertext.
const NONCE_LEN: usize = 24;

type HmacSha256 = Hmac<Sha256>;

/// One sealed field as it is stored: the id of the key that sealed it and
/// `nonce (24) ‖ ciphertext ‖ tag (16)`. Both columns are needed to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The data key that sealed this field; kept so the field still opens after rotation.
    pub key_id: KeyId,
    /// Nonce, ciphertext and Poly1305 tag, in that order.
    pub ciphertext: Vec<u8>,
}

/// One tenant's keys: data keys by id (the active one seals, all of them open) and the separate
/// blind-index key. `Debug` lists key ids only; key bytes are redacted and zeroed on drop.
#[derive(Debug)]
pub struct KeyRing {
    active: KeyId,
    keys: BTreeMap<KeyId, DataKey>,
    index_key: IndexKey,
}

/// The text form as written on disk; strings are zeroed when it drops.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RingText {
    active: String,
    index_key: String,
    keys: BTreeMap<String, String>,
}

impl Drop for RingText {
    fn drop(&mut self) {
        self.index_key.zeroize();
        for value in self.keys.values_mut() {
            value.zeroize();
        }
    }
}

fn invalid(message: impl Into<String>) -> PiiError {
    PiiError::InvalidKeyRing(message.into())
}

/// Decodes one base64 key of exactly 32 bytes; `what` names it in the error, the bytes never do.
fn decode_key(what: &str, text: &str) -> Result<[u8; 32], PiiError> {
    let bytes = Zeroizing::new(BASE64.decode(text).map_err(|_| invalid(format!("{what} is not valid base64")))?);
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| invalid(format!("{what} must be 32 bytes, got {}", bytes.len())))
}

/// A TOML error without the source excerpt: the excerpt, and a type error's quoted value, could be
/// key material.
fn describe_toml_error(input: &str, error: &toml::de::Error) -> String {
    let message = error.message();
    let message = if message.contains("invalid type") || message.contains("invalid value") {
        "expected `active` and `index_key` strings and a [keys] table of base64 strings"
    } else {
        message
    };
    match error.span() {
        Some(span) => {
            let line = input.get(..span.start).map_or(1, |before| before.matches('\n').count() + 1);
            format!("{message} (line {line})")
        }
        None => message.to_owned(),
    }
}

fn cipher(key: &DataKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.bytes().into())
}

impl KeyRing {
    /// Reads the text form written by [`KeyRing::to_toml_string`]:
    ///
    /// ```toml
    /// active = "k2"
    /// index_key = "<base64 of 32 bytes>"
    /// [keys]
    /// k1 = "<base64 of 32 bytes>"
    /// k2 = "<base64 of 32 bytes>"
    /// ```
    ///
    /// Refuses unknown fields, invalid key ids, keys that are not standard base64 of exactly 32
    /// bytes, an `active` id missing from `[keys]`, and an index key equal to a data key.
    pub fn from_toml_str(input: &str) -> Result<KeyRing, PiiError> {
        let text: RingText = toml::from_str(input).map_err(|e| invalid(describe_toml_error(input, &e)))?;
        let active = KeyId::parse(&text.active)
            .map_err(|_| invalid(format!("active key id {:?} is not a valid key id", text.active)))?;
        let mut index_bytes = decode_key("index_key", &text.index_key)?;
        let index_key = IndexKey::from_bytes(index_bytes);
        index_bytes.zeroize();
        let mut keys = BTreeMap::new();
        for (name, value) in &text.keys {
            let id = KeyId::parse(name).map_err(|_| invalid(format!("key id {name:?} is not a valid key id")))?;
            let mut bytes = decode_key(&format!("key {id}"), value)?;
            let key = DataKey::from_bytes(bytes);
            bytes.zeroize();
            if key.bytes() == index_key.bytes() {
                return Err(invalid(format!("key {id} equals index_key; they must differ")));
            }
            keys.insert(id, key);
        }
        if !keys.contains_key(&active) {
            return Err(invalid(format!("active key {active} is not in [keys]")));
        }
        Ok(KeyRing { active, keys, index_key })
    }

    /// A new ring with one random data key `id` (active) and a random index key, for an appliance's
    /// first start; persist it with [`KeyRing::to_toml_string`].
    ///
    /// Uses the OS random source, which `rand` treats as infallible: it panics only if the
    /// operating system cannot supply randomness at all.
    pub fn generate(id: KeyId) -> KeyRing {
        let mut data = [0u8; 32];
        let mut index = [0u8; 32];
        OsRng.fill_bytes(&mut data);
        OsRng.fill_bytes(&mut index);
        let ring = KeyRing {
            keys: BTreeMap::from([(id.clone(), DataKey::from_bytes(data))]),
            active: id,
            index_key: IndexKey::from_bytes(index),
        };
        data.zeroize();
        index.zeroize();
        ring
    }

    /// The text form read by [`KeyRing::from_toml_str`]. It contains every key in clear: write it
    /// only to a file readable by the service account, never to a log.
    pub fn to_toml_string(&self) -> String {
        let mut out = String::new();
        // Key ids are `a-z 0-9 - _`, which TOML accepts as bare keys and inside quotes unescaped,
        // and base64 needs no escaping, so plain formatting is exact. Writing to a String cannot fail.
        let _ = writeln!(out, "active = \"{}\"", self.active);
        let _ = writeln!(out, "index_key = \"{}\"", BASE64.encode(self.index_key.bytes()));
        out.push_str("\n[keys]\n");
        for (id, key) in &self.keys {
            let _ = writeln!(out, "{id} = \"{}\"", BASE64.encode(key.bytes()));
        }
        out
    }

    /// Adds a fresh random data key `new_id` and makes it active: new seals use it, fields sealed
    /// under older keys still open. Refuses an id already in the ring. The index key is untouched,
    /// so blind indexes stay valid.
    pub fn rotate(&mut self, new_id: KeyId) -> Result<(), PiiError> {
        if self.keys.contains_key(&new_id) {
            return Err(PiiError::DuplicateKey(new_id));
        }
        let mut bytes = random_32()?;
        self.keys.insert(new_id.clone(), DataKey::from_bytes(bytes));
        bytes.zeroize();
        self.active = new_id;
        Ok(())
    }

    /// The id of the key new seals use; rows sealed under any other id are candidates for
    /// re-encryption.
    pub fn active_key_id(&self) -> &KeyId {
        &self.active
    }

    /// Seals `plaintext` under the active key with a fresh random nonce. `aad` must come from
    /// [`super::aad`] for the row and field the result will be stored in; the same `aad` is needed
    /// to open it.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, PiiError> {
        let key = self.keys.get(&self.active).ok_or_else(|| PiiError::UnknownKey(self.active.clone()))?;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| PiiError::Encrypt)?;
        let body = cipher(key)
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad })
            .map_err(|_| PiiError::Encrypt)?;
        let mut ciphertext = Vec::with_capacity(NONCE_LEN + body.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&body);
        Ok(Sealed { key_id: self.active.clone(), ciphertext })
    }

    /// Opens a field sealed under `key_id` with the same `aad`. Any mismatch — wrong key, wrong
    /// row or field, altered or truncated bytes — is [`PiiError::Decrypt`], without detail.
    pub fn open(&self, key_id: &KeyId, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, PiiError> {
        let key = self.keys.get(key_id).ok_or_else(|| PiiError::UnknownKey(key_id.clone()))?;
        let (nonce, body) = ciphertext.split_at_checked(NONCE_LEN).ok_or(PiiError::Decrypt)?;
        let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| PiiError::Decrypt)?;
        cipher(key).decrypt(&XNonce::from(nonce), Payload { msg: body, aad }).map_err(|_| PiiError::Decrypt)
    }

    /// [`KeyRing::seal`] for text fields (name, birthday in ISO form, phone in E.164).
    pub fn seal_str(&self, aad: &[u8], plaintext: &str) -> Result<Sealed, PiiError> {
        self.seal(aad, plaintext.as_bytes())
    }

    /// [`KeyRing::open`] for text fields. Authentic bytes that are not UTF-8 (sealed by
    /// [`KeyRing::seal`] from raw bytes) are also [`PiiError::Decrypt`]; they are zeroed.
    pub fn open_string(&self, key_id: &KeyId, aad: &[u8], ciphertext: &[u8]) -> Result<String, PiiError> {
        let bytes = self.open(key_id, aad, ciphertext)?;
        String::from_utf8(bytes).map_err(|e| {
            e.into_bytes().zeroize();
            PiiError::Decrypt
        })
    }

    /// HMAC-SHA256(index key, `"phone:" ‖ E.164`). [`Phone`] is already normalised, so every
    /// written form of a number gives the same index; the data keys are not involved, so rotation
    /// leaves it unchanged.
    pub fn blind_index(&self, phone: &Phone) -> BlindIndex {
        // HMAC zero-pads keys shorter than the SHA-256 block (64 bytes), so a 32-byte key padded
        // here gives the same MAC as `new_from_slice` — without a fallible constructor.
        let mut padded = hmac::digest::Key::<HmacSha256>::default();
        for (slot, byte) in padded.iter_mut().zip(self.index_key.bytes()) {
            *slot = *byte;
        }
        let mut mac = <HmacSha256 as KeyInit>::new(&padded);
        padded.as_mut_slice().zeroize();
        mac.update(b"phone:");
        mac.update(phone.as_e164().as_bytes());
        BlindIndex(mac.finalize().into_bytes().into())
    }

    /// HMAC-SHA256 under the index key, already fed `domain ‖ 0x00`, for other keyed fingerprints
    /// that must not be computable from the database alone (SMS sign-in codes). The domain keeps
    /// its inputs apart from the blind index's `"phone:…"`; it must never start with `phone:`.
    pub(crate) fn keyed_mac(&self, domain: &str) -> HmacSha256 {
        let mut padded = hmac::digest::Key::<HmacSha256>::default();
        for (slot, byte) in padded.iter_mut().zip(self.index_key.bytes()) {
            *slot = *byte;
        }
        let mut mac = <HmacSha256 as KeyInit>::new(&padded);
        padded.as_mut_slice().zeroize();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac
    }
}

#[cfg(test)]
mod tests;
