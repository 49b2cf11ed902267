//! Member rows. Personal data arrives here already sealed: the store never sees plaintext.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, TenantTx, from_ts, on, ts};
use crate::types::MemberId;

/// A member row as stored: ciphertexts with the id of the key that sealed each.
#[derive(Debug, Clone)]
pub(crate) struct MemberRow {
    pub(crate) id: MemberId,
    pub(crate) phone: (Vec<u8>, String),
    pub(crate) name: Option<(Vec<u8>, String)>,
    pub(crate) birthday: Option<(Vec<u8>, String)>,
    pub(crate) created_at: OffsetDateTime,
}

type Row = (Uuid, Vec<u8>, String, Option<Vec<u8>>, Option<String>, Option<Vec<u8>>, Option<String>, i64);

fn member_from(row: Row) -> Result<MemberRow, StoreError> {
    let (id, phone_ct, phone_key, name_ct, name_key, birthday_ct, birthday_key, created_at) = row;
    Ok(MemberRow {
        id: MemberId::from_uuid(id),
        phone: (phone_ct, phone_key),
        name: name_ct.zip(name_key),
        birthday: birthday_ct.zip(birthday_key),
        created_at: from_ts(created_at)?,
    })
}

impl TenantTx {
    /// Inserts a member; a phone already registered in this tenant is a `Conflict`.
    pub(crate) async fn insert_member(&mut self, row: &MemberRow, phone_index: &[u8]) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO members (tenant_id, member_id, phone_index, phone_ct, phone_key, name_ct, name_key, \
             birthday_ct, birthday_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&tenant)
        .bind(row.id.as_uuid())
        .bind(phone_index)
        .bind(&row.phone.0)
        .bind(&row.phone.1)
        .bind(row.name.as_ref().map(|n| n.0.as_slice()))
        .bind(row.name.as_ref().map(|n| n.1.as_str()))
        .bind(row.birthday.as_ref().map(|b| b.0.as_slice()))
        .bind(row.birthday.as_ref().map(|b| b.1.as_str()))
        .bind(ts(row.created_at))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The member with this phone blind index, if any.
    pub(crate) async fn member_by_phone_index(&mut self, index: &[u8]) -> Result<Option<MemberRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<Row> = on!(self, c => sqlx::query_as(
            "SELECT member_id, phone_ct, phone_key, name_ct, name_key, birthday_ct, birthday_key, created_at \
             FROM members WHERE tenant_id = $1 AND phone_index = $2",
        )
        .bind(&tenant)
        .bind(index)
        .fetch_optional(c)
        .await)?;
        row.map(member_from).transpose()
    }

    /// The member, or `NotFound` (also for another tenant's member).
    pub(crate) async fn member(&mut self, id: MemberId) -> Result<MemberRow, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<Row> = on!(self, c => sqlx::query_as(
            "SELECT member_id, phone_ct, phone_key, name_ct, name_key, birthday_ct, birthday_key, created_at \
             FROM members WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(&tenant)
        .bind(id.as_uuid())
        .fetch_optional(c)
        .await)?;
        member_from(row.ok_or(StoreError::NotFound)?)
    }
}
