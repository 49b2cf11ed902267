//! Identity rows: staff accounts, SMS codes, consents, and re-sealed member fields. Secrets arrive
//! here already hashed (passwords, codes) or sealed (personal fields): the store never sees them.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{MemberRow, StoreError, TenantTx, from_ts, on, parse, ts};
use crate::identity::{Consent, ConsentKind, Login, Role, Staff};
use crate::types::{BusinessId, ConsentId, MemberId, StaffId};

type StaffTuple = (Uuid, String, String, String, Option<String>, bool, i64);

/// A staff row and its Argon2id PHC string (which never leaves the SDK).
fn staff_from(row: StaffTuple) -> Result<(Staff, String), StoreError> {
    let (id, login, hash, role, business, active, created_at) = row;
    let staff = Staff {
        id: StaffId::from_uuid(id),
        login: parse("staff login", Login::parse(&login))?,
        role: parse("staff role", Role::parse(&role))?,
        business: business.map(|b| parse("staff business", BusinessId::parse(&b))).transpose()?,
        active,
        created_at: from_ts(created_at)?,
    };
    Ok((staff, hash))
}

type ConsentTuple = (Uuid, Uuid, String, String, String, String, i64, Option<i64>);

fn consent_from(row: ConsentTuple) -> Result<Consent, StoreError> {
    let (id, member, kind, text_version, text_sha256, channel, granted_at, withdrawn_at) = row;
    Ok(Consent {
        id: ConsentId::from_uuid(id),
        member: MemberId::from_uuid(member),
        kind: parse("consent kind", ConsentKind::parse(&kind))?,
        text_version,
        text_sha256,
        channel,
        granted_at: from_ts(granted_at)?,
        withdrawn_at: withdrawn_at.map(from_ts).transpose()?,
    })
}

/// The latest usable SMS code of a phone, as stored.
#[derive(Debug, Clone)]
pub(crate) struct SmsCodeRow {
    pub(crate) id: Uuid,
    /// Lowercase hex of the keyed hash.
    pub(crate) hash: String,
    pub(crate) attempts: u32,
    pub(crate) expires_at: OffsetDateTime,
}

impl TenantTx {
    /// Inserts a staff account; a login already used in this tenant is a `Conflict`.
    pub(crate) async fn insert_staff(&mut self, staff: &Staff, password_hash: &str) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO staff (tenant_id, staff_id, login, password_hash, role, business_id, active, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(&tenant)
        .bind(staff.id.as_uuid())
        .bind(staff.login.as_str())
        .bind(password_hash)
        .bind(staff.role.as_str())
        .bind(staff.business.as_ref().map(BusinessId::as_str))
        .bind(staff.active)
        .bind(ts(staff.created_at))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The staff account and its password hash, locked for the rest of the transaction on
    /// PostgreSQL (the SQLite write transaction already holds the write lock); `NotFound` also for
    /// another tenant's account.
    pub(crate) async fn lock_staff(&mut self, id: StaffId) -> Result<(Staff, String), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<StaffTuple> = match self.flushed().await? {
            super::Tx::Sqlite(t) => {
                sqlx::query_as(
                    "SELECT staff_id, login, password_hash, role, business_id, active, created_at FROM staff \
                     WHERE tenant_id = $1 AND staff_id = $2",
                )
                .bind(&tenant)
                .bind(id.as_uuid())
                .fetch_optional(&mut **t)
                .await?
            }
            super::Tx::Postgres(t) => {
                sqlx::query_as(
                    "SELECT staff_id, login, password_hash, role, business_id, active, created_at FROM staff \
                     WHERE tenant_id = $1 AND staff_id = $2 FOR UPDATE",
                )
                .bind(&tenant)
                .bind(id.as_uuid())
                .fetch_optional(&mut **t)
                .await?
            }
        };
        staff_from(row.ok_or(StoreError::NotFound)?)
    }

    /// The staff account, or `NotFound`.
    pub(crate) async fn staff(&mut self, id: StaffId) -> Result<Staff, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<StaffTuple> = on!(self, c => sqlx::query_as(
            "SELECT staff_id, login, password_hash, role, business_id, active, created_at FROM staff \
             WHERE tenant_id = $1 AND staff_id = $2",
        )
        .bind(&tenant)
        .bind(id.as_uuid())
        .fetch_optional(c)
        .await)?;
        staff_from(row.ok_or(StoreError::NotFound)?).map(|(staff, _)| staff)
    }

    /// The staff account with this login and its password hash, if any.
    pub(crate) async fn staff_by_login(&mut self, login: &Login) -> Result<Option<(Staff, String)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<StaffTuple> = on!(self, c => sqlx::query_as(
            "SELECT staff_id, login, password_hash, role, business_id, active, created_at FROM staff \
             WHERE tenant_id = $1 AND login = $2",
        )
        .bind(&tenant)
        .bind(login.as_str())
        .fetch_optional(c)
        .await)?;
        row.map(staff_from).transpose()
    }

    /// The tenant's staff accounts (of one business, or all), ordered by login.
    pub(crate) async fn list_staff(&mut self, business: Option<&BusinessId>) -> Result<Vec<Staff>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<StaffTuple> = on!(self, c => sqlx::query_as(
            "SELECT staff_id, login, password_hash, role, business_id, active, created_at FROM staff \
             WHERE tenant_id = $1 AND ($2 IS NULL OR business_id = $2) ORDER BY login",
        )
        .bind(&tenant)
        .bind(business.map(BusinessId::as_str))
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(|r| staff_from(r).map(|(staff, _)| staff)).collect()
    }

    /// Writes a staff account's role, business and active flag, and its new password hash when
    /// given.
    pub(crate) async fn update_staff(
        &mut self,
        staff: &Staff,
        password_hash: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE staff SET role = $3, business_id = $4, active = $5, \
             password_hash = COALESCE($6, password_hash), updated_at = $7 \
             WHERE tenant_id = $1 AND staff_id = $2",
        )
        .bind(&tenant)
        .bind(staff.id.as_uuid())
        .bind(staff.role.as_str())
        .bind(staff.business.as_ref().map(BusinessId::as_str))
        .bind(staff.active)
        .bind(password_hash)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Serialises code issue and entry for one phone until the transaction ends. On PostgreSQL a
    /// transaction-scoped advisory lock keyed by the tenant and the phone's blind index (replicas
    /// share it through the database); SQLite write transactions already run one at a time.
    pub(crate) async fn lock_phone(&mut self, phone_index: &[u8; 32]) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let key = phone_index.first_chunk::<8>().map_or(0, |b| i64::from_be_bytes(*b));
        match self.flushed().await? {
            super::Tx::Sqlite(_) => {}
            super::Tx::Postgres(t) => {
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0) # $2)")
                    .bind(&tenant)
                    .bind(key)
                    .execute(&mut **t)
                    .await?;
            }
        }
        Ok(())
    }

    /// When each code for this phone issued after `since` was issued.
    pub(crate) async fn sms_codes_since(
        &mut self,
        phone_index: &[u8],
        since: OffsetDateTime,
    ) -> Result<Vec<OffsetDateTime>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(i64,)> = on!(self, c => sqlx::query_as(
            "SELECT created_at FROM sms_codes WHERE tenant_id = $1 AND phone_index = $2 AND created_at > $3 \
             ORDER BY created_at",
        )
        .bind(&tenant)
        .bind(phone_index)
        .bind(ts(since))
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(|(at,)| from_ts(at)).collect()
    }

    /// Makes every unconsumed code of this phone unusable (a newer one replaces them).
    pub(crate) async fn supersede_sms_codes(
        &mut self,
        phone_index: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE sms_codes SET consumed_at = $3 WHERE tenant_id = $1 AND phone_index = $2 AND consumed_at IS NULL",
        )
        .bind(&tenant)
        .bind(phone_index)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Stores a new code's hash.
    pub(crate) async fn insert_sms_code(
        &mut self,
        id: Uuid,
        phone_index: &[u8],
        hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO sms_codes (tenant_id, code_id, phone_index, code_hash, attempts, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $6)",
        )
        .bind(&tenant)
        .bind(id)
        .bind(phone_index)
        .bind(hash)
        .bind(ts(expires_at))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The newest unconsumed code of this phone, if any.
    pub(crate) async fn latest_sms_code(&mut self, phone_index: &[u8]) -> Result<Option<SmsCodeRow>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<(Uuid, String, i32, i64)> = on!(self, c => sqlx::query_as(
            "SELECT code_id, code_hash, attempts, expires_at FROM sms_codes \
             WHERE tenant_id = $1 AND phone_index = $2 AND consumed_at IS NULL \
             ORDER BY created_at DESC, code_id DESC LIMIT 1",
        )
        .bind(&tenant)
        .bind(phone_index)
        .fetch_optional(c)
        .await)?;
        row.map(|(id, hash, attempts, expires_at)| {
            Ok(SmsCodeRow {
                id,
                hash,
                attempts: parse("sms code attempts", u32::try_from(attempts))?,
                expires_at: from_ts(expires_at)?,
            })
        })
        .transpose()
    }

    /// Records the count of wrong entries of a code.
    pub(crate) async fn set_sms_code_attempts(&mut self, id: Uuid, attempts: u32) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let attempts = i32::try_from(attempts).unwrap_or(i32::MAX);
        on!(self, c => sqlx::query("UPDATE sms_codes SET attempts = $3 WHERE tenant_id = $1 AND code_id = $2")
            .bind(&tenant)
            .bind(id)
            .bind(attempts)
            .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Marks a code used; `NotFound` when it was already consumed (it cannot be used twice).
    pub(crate) async fn consume_sms_code(&mut self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let done = on!(self, c => sqlx::query(
            "UPDATE sms_codes SET consumed_at = $3 WHERE tenant_id = $1 AND code_id = $2 AND consumed_at IS NULL",
        )
        .bind(&tenant)
        .bind(id)
        .bind(ts(now))
        .execute(c).await.map(|r| r.rows_affected()))?;
        if done == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// Every consent row of the member, oldest first.
    pub(crate) async fn consents(&mut self, member: MemberId) -> Result<Vec<Consent>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<ConsentTuple> = on!(self, c => sqlx::query_as(
            "SELECT consent_id, member_id, kind, text_version, text_sha256, channel, granted_at, withdrawn_at \
             FROM consents WHERE tenant_id = $1 AND member_id = $2 ORDER BY granted_at, consent_id",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(consent_from).collect()
    }

    /// The member's active consent of this kind, if any (there is at most one).
    pub(crate) async fn active_consent(
        &mut self,
        member: MemberId,
        kind: ConsentKind,
    ) -> Result<Option<Consent>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<ConsentTuple> = on!(self, c => sqlx::query_as(
            "SELECT consent_id, member_id, kind, text_version, text_sha256, channel, granted_at, withdrawn_at \
             FROM consents WHERE tenant_id = $1 AND member_id = $2 AND kind = $3 AND withdrawn_at IS NULL",
        )
        .bind(&tenant)
        .bind(member.as_uuid())
        .bind(kind.as_str())
        .fetch_optional(c)
        .await)?;
        row.map(consent_from).transpose()
    }

    /// Appends a consent row; a second active row of the same kind is a `Conflict`.
    pub(crate) async fn insert_consent(&mut self, consent: &Consent) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO consents (tenant_id, consent_id, member_id, kind, text_version, text_sha256, channel, \
             granted_at, withdrawn_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&tenant)
        .bind(consent.id.as_uuid())
        .bind(consent.member.as_uuid())
        .bind(consent.kind.as_str())
        .bind(&consent.text_version)
        .bind(&consent.text_sha256)
        .bind(&consent.channel)
        .bind(ts(consent.granted_at))
        .bind(consent.withdrawn_at.map(ts))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Sets `withdrawn_at` on one active consent row; `NotFound` if it is not active.
    pub(crate) async fn withdraw_consent(&mut self, id: ConsentId, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let done = on!(self, c => sqlx::query(
            "UPDATE consents SET withdrawn_at = $3 WHERE tenant_id = $1 AND consent_id = $2 AND withdrawn_at IS NULL",
        )
        .bind(&tenant)
        .bind(id.as_uuid())
        .bind(ts(now))
        .execute(c).await.map(|r| r.rows_affected()))?;
        if done == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }

    /// Replaces a member's sealed personal fields (all of them, each with its key id).
    pub(crate) async fn update_member_fields(&mut self, row: &MemberRow) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        let done = on!(self, c => sqlx::query(
            "UPDATE members SET phone_ct = $3, phone_key = $4, name_ct = $5, name_key = $6, birthday_ct = $7, \
             birthday_key = $8 WHERE tenant_id = $1 AND member_id = $2",
        )
        .bind(&tenant)
        .bind(row.id.as_uuid())
        .bind(&row.phone.0)
        .bind(&row.phone.1)
        .bind(row.name.as_ref().map(|n| n.0.as_slice()))
        .bind(row.name.as_ref().map(|n| n.1.as_str()))
        .bind(row.birthday.as_ref().map(|b| b.0.as_slice()))
        .bind(row.birthday.as_ref().map(|b| b.1.as_str()))
        .execute(c).await.map(|r| r.rows_affected()))?;
        if done == 1 { Ok(()) } else { Err(StoreError::NotFound) }
    }
}
