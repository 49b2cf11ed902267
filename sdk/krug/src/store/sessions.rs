//! Refresh-token rows.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, TenantTx, from_ts, on, ts};

/// A stored refresh token (its secret only as a hash).
#[derive(Debug, Clone)]
pub(crate) struct RefreshRow {
    pub(crate) token_id: Uuid,
    pub(crate) family_id: Uuid,
    pub(crate) subject: String,
    pub(crate) role: String,
    pub(crate) business: Option<String>,
    pub(crate) secret_hash: String,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) used_at: Option<OffsetDateTime>,
    pub(crate) revoked_at: Option<OffsetDateTime>,
}

type Row = (Uuid, Uuid, String, String, Option<String>, String, i64, Option<i64>, Option<i64>);

impl TenantTx {
    /// Inserts a refresh token.
    pub(crate) async fn insert_refresh(&mut self, row: &RefreshRow, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO refresh_tokens (tenant_id, token_id, family_id, subject, role, business_id, secret_hash, \
             expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&tenant)
        .bind(row.token_id)
        .bind(row.family_id)
        .bind(&row.subject)
        .bind(&row.role)
        .bind(row.business.as_deref())
        .bind(&row.secret_hash)
        .bind(ts(row.expires_at))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The token, locked for this transaction (two refreshes with one token serialise).
    pub(crate) async fn lock_refresh(&mut self, token_id: Uuid) -> Result<Option<RefreshRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<Row> = match self.flushed().await? {
            super::Tx::Sqlite(t) => sqlx::query_as(
                "SELECT token_id, family_id, subject, role, business_id, secret_hash, expires_at, used_at, revoked_at \
                     FROM refresh_tokens WHERE tenant_id = $1 AND token_id = $2",
            )
            .bind(&tenant)
            .bind(token_id)
            .fetch_optional(&mut **t)
            .await?,
            super::Tx::Postgres(t) => sqlx::query_as(
                "SELECT token_id, family_id, subject, role, business_id, secret_hash, expires_at, used_at, revoked_at \
                     FROM refresh_tokens WHERE tenant_id = $1 AND token_id = $2 FOR UPDATE",
            )
            .bind(&tenant)
            .bind(token_id)
            .fetch_optional(&mut **t)
            .await?,
        };
        row.map(|(token_id, family_id, subject, role, business, secret_hash, expires_at, used_at, revoked_at)| {
            Ok(RefreshRow {
                token_id,
                family_id,
                subject,
                role,
                business,
                secret_hash,
                expires_at: from_ts(expires_at)?,
                used_at: used_at.map(from_ts).transpose()?,
                revoked_at: revoked_at.map(from_ts).transpose()?,
            })
        })
        .transpose()
    }

    /// Marks a token used.
    pub(crate) async fn use_refresh(&mut self, token_id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query("UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND token_id = $2")
            .bind(&tenant)
            .bind(token_id)
            .bind(ts(now))
            .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Revokes every token of a family that is not revoked yet.
    pub(crate) async fn revoke_family(&mut self, family_id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL",
        )
        .bind(&tenant)
        .bind(family_id)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }
}
