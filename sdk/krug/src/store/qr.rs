//! QR wallet rows: members' sealed QR secrets and the codes already consumed. The secret arrives
//! here sealed: the store never sees it in clear.

use time::OffsetDateTime;
use uuid::Uuid;

use super::batch::{Stmt, args};
use super::{StoreError, TenantTx, on, ts};
use crate::types::{MemberId, PurchaseId};

/// What a member lookup for the QR wallet found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QrSecretRow {
    /// No such member in this tenant.
    NoMember,
    /// The member exists but has never been provisioned.
    NotProvisioned,
    /// The sealed secret and the id of the key that sealed it.
    Sealed(Vec<u8>, String),
}

/// A step beyond `i64` cannot be stored; no clock reaches it (it is ~8.8 × 10¹² years away).
fn step_value(step: u64) -> Result<i64, StoreError> {
    i64::try_from(step).map_err(|_| StoreError::Corrupt(format!("QR step {step} out of range")))
}

const INSERT_QR_USE: Stmt = Stmt::insert(
    "qr_uses",
    "INSERT INTO qr_uses (tenant_id, member_id, step, purchase_id, created_at) VALUES ($1, $2, $3, $4, $5)",
);

impl TenantTx {
    /// Stores the member's sealed secret, replacing any earlier one (codes from the old secret
    /// stop verifying at once). The member must exist (a foreign key refuses others).
    pub(crate) async fn put_qr_secret(
        &mut self,
        member: MemberId,
        ciphertext: &[u8],
        key_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO qr_secrets (tenant_id, member_id, secret_ct, secret_key, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, member_id) DO UPDATE SET \
             secret_ct = excluded.secret_ct, secret_key = excluded.secret_key, created_at = excluded.created_at",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(ciphertext)
        .bind(key_id)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The member's sealed secret, telling a missing member from one never provisioned (one
    /// query on the hot path).
    pub(crate) async fn qr_secret(&mut self, member: MemberId) -> Result<QrSecretRow, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<(Uuid, Option<Vec<u8>>, Option<String>)> = on!(self, c => sqlx::query_as(
            "SELECT m.member_id, s.secret_ct, s.secret_key FROM members m \
             LEFT JOIN qr_secrets s ON s.tenant_id = m.tenant_id AND s.member_id = m.member_id \
             WHERE m.tenant_id = $1 AND m.member_id = $2",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_optional(c)
        .await)?;
        Ok(match row {
            None => QrSecretRow::NoMember,
            Some((_, Some(ct), Some(key))) => QrSecretRow::Sealed(ct, key),
            Some(_) => QrSecretRow::NotProvisioned,
        })
    }

    /// Queues the claim of the member's code for `step` for `purchase`, sent with the
    /// purchase's other writes; a code already claimed is a `Conflict` on `qr_uses`. On
    /// PostgreSQL a concurrent claim of the same code waits until the first commits (then
    /// conflicts) or rolls back (then succeeds), so exactly one scan can hold a code.
    pub(crate) async fn queue_qr_claim(
        &mut self,
        member: MemberId,
        step: u64,
        purchase: PurchaseId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let step = step_value(step)?;
        self.defer(INSERT_QR_USE, args![&tenant, member.as_uuid(), step, purchase.as_uuid(), ts(now)]).await
    }
}
