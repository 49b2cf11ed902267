//! Rotating refresh tokens for the appliance's sign-in sessions.
//!
//! A token is `<token id>.<secret>`; only SHA-256 of the secret is stored. Each refresh uses a
//! token once and returns the next one of its family. A used token presented again means it
//! was copied: the whole family is revoked, so the thief and the victim both have to sign in
//! again (OAuth 2.0 Security BCP, refresh-token rotation with reuse detection).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use time::Duration;
use uuid::Uuid;

use super::Krug;
use crate::error::{Error, Result};
use crate::store::RefreshRow;
use crate::types::{BusinessId, TenantId};

/// Who a session belongs to, as the appliance's tokens carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The subject (a member id or a staff id).
    pub subject: String,
    /// The role name.
    pub role: String,
    /// The business of a business-scoped role.
    pub business: Option<BusinessId>,
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Krug {
    /// Starts a session family and returns its first refresh token, valid for `ttl`.
    pub async fn issue_refresh(&self, tenant: &TenantId, session: &Session, ttl: Duration) -> Result<String> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let token = self.insert_refresh(&mut tx, self.inner.ids.next_uuid(), session, ttl, now).await?;
        tx.commit().await?;
        Ok(token)
    }

    async fn insert_refresh(
        &self,
        tx: &mut crate::store::TenantTx,
        family: Uuid,
        session: &Session,
        ttl: Duration,
        now: time::OffsetDateTime,
    ) -> Result<String> {
        let secret: [u8; 32] = rand::random();
        let secret = URL_SAFE_NO_PAD.encode(secret);
        let row = RefreshRow {
            token_id: self.inner.ids.next_uuid(),
            family_id: family,
            subject: session.subject.clone(),
            role: session.role.clone(),
            business: session.business.as_ref().map(|b| b.as_str().to_owned()),
            secret_hash: hash(&secret),
            expires_at: now + ttl,
            used_at: None,
            revoked_at: None,
        };
        tx.insert_refresh(&row, now).await?;
        Ok(format!("{}.{secret}", row.token_id.simple()))
    }

    /// Uses a refresh token: returns its session and the next token of the family. An unknown,
    /// expired or revoked token is [`Error::RefreshInvalid`]; a token already used revokes its
    /// family and is [`Error::RefreshReused`].
    pub async fn rotate_refresh(&self, tenant: &TenantId, token: &str, ttl: Duration) -> Result<(Session, String)> {
        self.tenant(tenant)?;
        let (id, secret) = token.split_once('.').ok_or(Error::RefreshInvalid)?;
        let id = Uuid::parse_str(id).map_err(|_| Error::RefreshInvalid)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = tx.lock_refresh(id).await?.ok_or(Error::RefreshInvalid)?;
        if !constant_time_eq(row.secret_hash.as_bytes(), hash(secret).as_bytes()) {
            return Err(Error::RefreshInvalid);
        }
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(Error::RefreshInvalid);
        }
        if row.used_at.is_some() {
            tx.revoke_family(row.family_id, now).await?;
            tx.commit().await?;
            tracing::warn!(tenant = %tenant, family = %row.family_id, "refresh token reused: family revoked");
            return Err(Error::RefreshReused);
        }
        tx.use_refresh(row.token_id, now).await?;
        let business = row
            .business
            .map(|b| BusinessId::parse(&b))
            .transpose()
            .map_err(|e| Error::Store(crate::store::StoreError::Corrupt(format!("refresh business: {e}"))))?;
        let session = Session { subject: row.subject, role: row.role, business };
        let next = self.insert_refresh(&mut tx, row.family_id, &session, ttl, now).await?;
        tx.commit().await?;
        Ok((session, next))
    }

    /// Revokes the family of a refresh token (sign-out). An unknown token is not an error.
    pub async fn revoke_refresh(&self, tenant: &TenantId, token: &str) -> Result<()> {
        self.tenant(tenant)?;
        let Some((id, secret)) = token.split_once('.') else { return Ok(()) };
        let Ok(id) = Uuid::parse_str(id) else { return Ok(()) };
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        if let Some(row) = tx.lock_refresh(id).await?
            && constant_time_eq(row.secret_hash.as_bytes(), hash(secret).as_bytes())
        {
            tx.revoke_family(row.family_id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
