//! Tenant rows: the applied configuration and the businesses it declares.

use time::OffsetDateTime;

use super::{Db, StoreError, TenantTx, on, ts};
use crate::tenant::TenantConfig;

impl TenantTx {
    /// Stores the tenant's configuration and upserts its businesses. Idempotent: applying the
    /// same configuration again changes nothing but `updated_at`. Businesses missing from a new
    /// configuration are deactivated, never deleted (their purchases and lots refer to them).
    pub(crate) async fn apply_tenant(
        &mut self,
        config: &TenantConfig,
        source: &str,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO tenants (tenant_id, name, config_toml, config_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (tenant_id) DO UPDATE SET name = $2, config_toml = $3, config_hash = $4, updated_at = $5",
        )
        .bind(&tenant)
        .bind(&config.name)
        .bind(source)
        .bind(hash)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        on!(self, c => sqlx::query("UPDATE businesses SET active = FALSE WHERE tenant_id = $1")
            .bind(&tenant)
            .execute(c).await.map(|_| ()))?;
        for b in &config.businesses {
            on!(self, c => sqlx::query(
                "INSERT INTO businesses (tenant_id, business_id, name, category, medical, active) \
                 VALUES ($1, $2, $3, $4, $5, TRUE) \
                 ON CONFLICT (tenant_id, business_id) DO UPDATE SET name = $3, category = $4, medical = $5, active = TRUE",
            )
            .bind(&tenant)
            .bind(b.id.as_str())
            .bind(&b.name)
            .bind(b.category.as_str())
            .bind(b.medical)
            .execute(c).await.map(|_| ()))?;
        }
        Ok(())
    }
}

impl Db {
    /// Every stored tenant's `(id, configuration TOML)`. Reads across tenants by design: used
    /// at start-up to re-host the tenants an operator created at run time.
    pub(crate) async fn stored_tenant_sources(&self) -> Result<Vec<(String, String)>, StoreError> {
        const SQL: &str = "SELECT tenant_id, config_toml FROM tenants ORDER BY tenant_id";
        Ok(match self {
            Db::Sqlite { read, .. } => sqlx::query_as(SQL).fetch_all(read).await?,
            Db::Postgres(pool) => sqlx::query_as(SQL).fetch_all(pool).await?,
        })
    }
}
