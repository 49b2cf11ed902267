//! Access tokens: short-lived HS256 JWTs carrying the principal. Every token names its signing
//! key (`kid`) so keys rotate without logging anyone out: the ring signs with its active key and
//! verifies with any key it still holds. `iss`, `aud` and `exp` are always checked.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{Principal, Role};
use krug::types::{BusinessId, TenantId};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The subject: a member id, a staff id, or the superadmin's login.
    pub sub: String,
    /// The tenant the principal belongs to (absent for the superadmin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ten: Option<String>,
    /// The role.
    pub role: String,
    /// The business of a business-scoped role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biz: Option<String>,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
}

/// Why a token was refused. Deliberately coarse: the client learns only "not valid".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad signature, unknown key, wrong issuer/audience, expired, or malformed.
    #[error("the access token is invalid or expired")]
    Invalid,
    /// Signing failed (a key problem on our side).
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// The signing keys.
pub struct JwtKeys {
    active: String,
    keys: BTreeMap<String, (EncodingKey, DecodingKey)>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys").field("active", &self.active).field("kids", &self.keys.keys()).finish()
    }
}

/// The stored form of the signing keys: `active = "j1"` and `[keys] j1 = "<base64, ≥ 32 bytes>"`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyFile {
    /// The key id new tokens are signed with.
    pub active: String,
    /// Every key still accepted, by id.
    pub keys: BTreeMap<String, String>,
}

impl JwtKeyFile {
    /// A fresh file with one random 32-byte key `j1`.
    pub fn generate() -> JwtKeyFile {
        let secret: [u8; 32] = rand::random();
        JwtKeyFile { active: "j1".into(), keys: BTreeMap::from([("j1".into(), STANDARD.encode(secret))]) }
    }
}

impl JwtKeys {
    /// Builds the ring from its stored form.
    pub fn new(file: &JwtKeyFile, issuer: &str, audience: &str) -> Result<JwtKeys, String> {
        let mut keys = BTreeMap::new();
        for (kid, secret) in &file.keys {
            let bytes = STANDARD.decode(secret).map_err(|_| format!("jwt key {kid}: not base64"))?;
            if bytes.len() < 32 {
                return Err(format!("jwt key {kid}: must be at least 32 bytes"));
            }
            keys.insert(kid.clone(), (EncodingKey::from_secret(&bytes), DecodingKey::from_secret(&bytes)));
        }
        if !keys.contains_key(&file.active) {
            return Err(format!("jwt keys: active key {} is not in [keys]", file.active));
        }
        Ok(JwtKeys { active: file.active.clone(), keys, issuer: issuer.to_owned(), audience: audience.to_owned() })
    }

    /// Signs an access token for `principal`, valid for `ttl_seconds` from `now` (Unix seconds).
    pub fn issue(&self, principal: &Principal, now: i64, ttl_seconds: u32) -> Result<String, TokenError> {
        let (key, _) = self.keys.get(&self.active).ok_or_else(|| TokenError::Sign("no active key".into()))?;
        let claims = Claims {
            sub: principal.subject.clone(),
            ten: principal.tenant.as_ref().map(|t| t.as_str().to_owned()),
            role: principal.role.as_str().to_owned(),
            biz: principal.business.as_ref().map(|b| b.as_str().to_owned()),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + i64::from(ttl_seconds),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.active.clone());
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Verifies a token at `now` (Unix seconds) and returns its principal.
    pub fn verify(&self, token: &str, now: i64) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let (_, key) = self.keys.get(&kid).ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Time comes from the appliance's clock (tests move it), not the library's.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|_| TokenError::Invalid)?;
        let c = data.claims;
        if c.exp <= now {
            return Err(TokenError::Invalid);
        }
        Ok(Principal {
            subject: c.sub,
            tenant: c.ten.map(|t| TenantId::parse(&t)).transpose().map_err(|_| TokenError::Invalid)?,
            role: Role::parse(&c.role).ok_or(TokenError::Invalid)?,
            business: c.biz.map(|b| BusinessId::parse(&b)).transpose().map_err(|_| TokenError::Invalid)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cashier() -> Principal {
        Principal {
            subject: "s-1".into(),
            tenant: Some(TenantId::parse("svoy-krug").unwrap()),
            role: Role::Cashier,
            business: Some(BusinessId::parse("mindal").unwrap()),
        }
    }

    #[test]
    fn a_token_round_trips_and_expires() {
        let keys = JwtKeys::new(&JwtKeyFile::generate(), "krug", "krug-api").unwrap();
        let token = keys.issue(&cashier(), 1_000, 900).unwrap();
        assert_eq!(keys.verify(&token, 1_899).unwrap(), cashier());
        assert!(keys.verify(&token, 1_900).is_err());
    }

    #[test]
    fn rotation_keeps_old_tokens_valid_and_foreign_or_tampered_tokens_fail() {
        let mut file = JwtKeyFile::generate();
        let old = JwtKeys::new(&file, "krug", "krug-api").unwrap();
        let token = old.issue(&cashier(), 1_000, 900).unwrap();
        file.keys.insert("j2".into(), STANDARD.encode([7u8; 32]));
        file.active = "j2".into();
        let rotated = JwtKeys::new(&file, "krug", "krug-api").unwrap();
        assert_eq!(rotated.verify(&token, 1_001).unwrap(), cashier(), "old kid still accepted");
        let fresh = rotated.issue(&cashier(), 1_000, 900).unwrap();
        assert!(old.verify(&fresh, 1_001).is_err(), "a ring without j2 refuses it");
        let other_aud = JwtKeys::new(&file, "krug", "other").unwrap();
        assert!(other_aud.verify(&fresh, 1_001).is_err());
        let mut tampered = fresh.clone();
        tampered.pop();
        assert!(rotated.verify(&tampered, 1_001).is_err());
    }
}
