//! Identity commands: staff accounts and their sign-in, SMS sign-in codes, consents, profile
//! changes and caller-written audit records. The rules are in [`crate::identity::policy`]; each
//! command here loads, decides and commits in one transaction.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use hmac::Mac as _;
use rand::Rng as _;
use rand::rngs::OsRng;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::members::{check_birthday, clean_name, member_row, open_profile};
use super::purchases::not_found;
use super::{Krug, hex, lost_race};
use crate::error::{Error, Result};
use crate::facade::MemberProfile;
use crate::identity::model::{
    PROCESSING_CONSENT_SHA256, PROCESSING_CONSENT_VERSION, SMS_CHANNEL, SMS_CODE_TTL, SMS_HOURLY_WINDOW,
};
use crate::identity::policy::{self, CodeState, CodeVerdict};
use crate::identity::{
    AuditEvent, Consent, ConsentKind, GrantConsent, IssuedCode, Login, NewStaff, ProfileUpdate, SignIn, Staff,
    StaffUpdate,
};
use crate::pii::{KeyRing, PiiError};
use crate::store::{StoreError, TenantTx};
use crate::types::{BusinessId, ConsentId, MemberId, Phone, StaffId, TenantId};

/// An Argon2id hash (default parameters) of a random password nobody knows, verified when a
/// sign-in names an unknown login so that it costs the same time as a wrong password. A unit test
/// keeps its parameters equal to those new hashes get.
const DUMMY_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$LdMMmBYfYlYSTvdU6C8How$Mcmj1e71yhyr3F2aG57NbwEHrvillgLE3IAB8I7l5tc";

/// The HMAC domain of SMS code hashes (see [`KeyRing::keyed_mac`]).
const SMS_CODE_DOMAIN: &str = "krug-sms-code-v1";

/// Hashes a password with Argon2id (default parameters, random salt) off the async workers: one
/// hash takes tens of milliseconds of CPU.
async fn hash_password(password: Zeroizing<String>) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    // The hasher fails only if the OS random source or the parameters do: report it like a
    // failed seal (never with the password), as an internal error.
    .map_err(|_| Error::Pii(PiiError::Encrypt))?
    .map_err(|_| Error::Pii(PiiError::Encrypt))
}

/// Whether `password` matches the PHC string, checked off the async workers. A stored hash that
/// does not parse is corrupt data, not a wrong password.
async fn verify_password(password: Zeroizing<String>, phc: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| StoreError::Corrupt(format!("password hash: {e}")))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|_| Error::Pii(PiiError::Decrypt))?
}

/// Hashes a password as an Argon2id PHC string (for credentials kept outside the store, such as
/// an appliance's superadmin). Runs off the async workers.
pub async fn hash_secret(password: &str) -> Result<String> {
    hash_password(Zeroizing::new(password.to_owned())).await
}

/// Whether `password` matches the Argon2 PHC string `phc`. Runs off the async workers.
pub async fn verify_secret(password: &str, phc: &str) -> Result<bool> {
    verify_password(Zeroizing::new(password.to_owned()), phc.to_owned()).await
}

/// The keyed hash of an SMS code: HMAC-SHA256 under the tenant's index key over the tenant, the
/// code's row id and the code. Unkeyed, a database dump would give the code away (there are only
/// 10⁶ to try); keyed, it does not, and a hash copied to another row does not verify.
fn code_mac(keys: &KeyRing, tenant: &TenantId, code_id: Uuid, code: &str) -> hmac::Hmac<sha2::Sha256> {
    let mut mac = keys.keyed_mac(SMS_CODE_DOMAIN);
    mac.update(&(tenant.as_str().len() as u64).to_be_bytes());
    mac.update(tenant.as_str().as_bytes());
    mac.update(code_id.as_bytes());
    mac.update(code.as_bytes());
    mac
}

/// Constant-time check of an entered code against the stored hex hash.
fn code_matches(keys: &KeyRing, tenant: &TenantId, code_id: Uuid, code: &str, stored_hex: &str) -> Result<bool> {
    let stored = unhex(stored_hex).ok_or_else(|| StoreError::Corrupt("sms code hash is not hex".into()))?;
    Ok(code_mac(keys, tenant, code_id, code).verify_slice(&stored).is_ok())
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// The audit detail of a staff account: never the password or its hash.
fn staff_detail(staff: &Staff, password_changed: bool) -> String {
    serde_json::json!({
        "login": staff.login.as_str(),
        "role": staff.role.as_str(),
        "business": staff.business.as_ref().map(BusinessId::as_str),
        "active": staff.active,
        "password_changed": password_changed,
    })
    .to_string()
}

impl Krug {
    fn check_business(&self, tenant: &TenantId, business: Option<&BusinessId>) -> Result<()> {
        let t = self.tenant(tenant)?;
        match business {
            Some(b) if t.config.business(b).is_none() => Err(Error::UnknownBusiness(b.clone())),
            _ => Ok(()),
        }
    }

    /// Creates a staff account and audits it (`staff.create`) in the same transaction. The login
    /// is lower-cased and must be free in the tenant ([`Error::LoginTaken`]); the password is
    /// stored only as an Argon2id hash; the business must be one of the tenant's and be given
    /// exactly when the role is business-scoped.
    pub async fn create_staff(&self, tenant: &TenantId, cmd: NewStaff) -> Result<StaffId> {
        self.tenant(tenant)?;
        let login = Login::parse(&cmd.login)?;
        policy::check_password(&cmd.password)?;
        policy::check_assignment(cmd.role, cmd.business.as_ref())?;
        self.check_business(tenant, cmd.business.as_ref())?;
        policy::check_actor(&cmd.actor)?;
        let client = policy::normalise_client(cmd.client.as_deref())?;
        let hash = hash_password(Zeroizing::new(cmd.password)).await?;
        let now = self.now();
        let staff = Staff {
            id: StaffId::generate(self.inner.ids.as_ref()),
            login,
            role: cmd.role,
            business: cmd.business,
            active: true,
            created_at: now,
        };
        let mut tx = self.begin(tenant).await?;
        if tx.staff_by_login(&staff.login).await?.is_some() {
            return Err(Error::LoginTaken);
        }
        match tx.insert_staff(&staff, &hash).await {
            Err(StoreError::Conflict { .. }) => return Err(Error::LoginTaken),
            other => other?,
        }
        let detail = staff_detail(&staff, true);
        let target = format!("staff:{}", staff.id);
        let audit_id = self.inner.ids.next_uuid();
        tx.audit(audit_id, &cmd.actor, "staff.create", &target, &detail, client.as_deref(), now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, staff = %staff.id, role = %staff.role, "staff account created");
        Ok(staff.id)
    }

    /// The staff account; [`Error::StaffNotFound`] also for another tenant's.
    pub async fn staff(&self, tenant: &TenantId, id: StaffId) -> Result<Staff> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        tx.staff(id).await.map_err(not_found(Error::StaffNotFound))
    }

    /// The tenant's staff accounts, ordered by login: all of them, or one business's.
    pub async fn list_staff(&self, tenant: &TenantId, business: Option<&BusinessId>) -> Result<Vec<Staff>> {
        self.check_business(tenant, business)?;
        let mut tx = self.read(tenant).await?;
        Ok(tx.list_staff(business).await?)
    }

    /// Changes a staff account's role, business, active flag or password, and audits the change
    /// (`staff.update`, without the password) in the same transaction. The resulting role and
    /// business must fit together; an update that changes nothing is refused.
    pub async fn update_staff(&self, tenant: &TenantId, id: StaffId, update: StaffUpdate) -> Result<Staff> {
        self.tenant(tenant)?;
        if update.role.is_none() && update.business.is_none() && update.active.is_none() && update.password.is_none() {
            return Err(Error::InvalidInput { field: "update", message: "names nothing to change".into() });
        }
        if let Some(password) = &update.password {
            policy::check_password(password)?;
        }
        if let Some(business) = &update.business {
            self.check_business(tenant, business.as_ref())?;
        }
        policy::check_actor(&update.actor)?;
        let client = policy::normalise_client(update.client.as_deref())?;
        let hash = match update.password {
            Some(password) => Some(hash_password(Zeroizing::new(password)).await?),
            None => None,
        };
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let (current, _) = tx.lock_staff(id).await.map_err(not_found(Error::StaffNotFound))?;
        let staff = Staff {
            role: update.role.unwrap_or(current.role),
            business: update.business.unwrap_or_else(|| current.business.clone()),
            active: update.active.unwrap_or(current.active),
            ..current
        };
        policy::check_assignment(staff.role, staff.business.as_ref())?;
        tx.update_staff(&staff, hash.as_deref(), now).await?;
        let detail = staff_detail(&staff, hash.is_some());
        let target = format!("staff:{id}");
        let audit_id = self.inner.ids.next_uuid();
        tx.audit(audit_id, &update.actor, "staff.update", &target, &detail, client.as_deref(), now).await?;
        tx.commit().await?;
        Ok(staff)
    }

    /// Checks a staff sign-in. An unknown login, a wrong password and an inactive account are all
    /// the same [`Error::InvalidCredentials`], and each costs one Argon2 verification, so neither
    /// the answer nor its timing tells which logins exist.
    pub async fn verify_staff_login(&self, tenant: &TenantId, login: &str, password: &str) -> Result<Staff> {
        self.tenant(tenant)?;
        let password = Zeroizing::new(password.to_owned());
        let found = match Login::parse(login) {
            Ok(login) => {
                let mut tx = self.read(tenant).await?;
                tx.staff_by_login(&login).await?
            }
            Err(_) => None,
        };
        match found {
            None => {
                verify_password(password, DUMMY_PASSWORD_HASH.to_owned()).await?;
                Err(Error::InvalidCredentials)
            }
            Some((staff, hash)) => {
                let ok = verify_password(password, hash).await?;
                if ok && staff.active { Ok(staff) } else { Err(Error::InvalidCredentials) }
            }
        }
    }

    /// Issues a 6-digit sign-in code for `phone`, valid for 5 minutes, for the appliance's SMS
    /// gateway to send. Only a keyed hash of it is stored, and it replaces every older unused
    /// code of the phone. At most one code per phone per 60 s and five per hour, counted from the
    /// stored codes (so on every replica): beyond that [`Error::RateLimited`] says how long to
    /// wait, and nothing is written.
    pub async fn issue_sms_code(&self, tenant: &TenantId, phone: &Phone) -> Result<IssuedCode> {
        let t = self.tenant(tenant)?;
        let index = t.keys.blind_index(phone);
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        tx.lock_phone(index.as_bytes()).await?;
        let issued = tx.sms_codes_since(index.as_bytes(), now - SMS_HOURLY_WINDOW).await?;
        policy::check_issue(&issued, now)?;
        let code = format!("{:06}", OsRng.gen_range(0..1_000_000_u32));
        let code_id = self.inner.ids.next_uuid();
        let hash = hex(&code_mac(&t.keys, tenant, code_id, &code).finalize().into_bytes());
        let expires_at = now + SMS_CODE_TTL;
        tx.supersede_sms_codes(index.as_bytes(), now).await?;
        tx.insert_sms_code(code_id, index.as_bytes(), &hash, expires_at, now).await?;
        tx.commit().await?;
        Ok(IssuedCode { code, expires_at })
    }

    /// Signs in with an SMS code. Checks the phone's newest usable code: none or expired is
    /// [`Error::CodeExpired`]; a wrong entry counts an attempt ([`Error::CodeInvalid`] with the
    /// attempts left) and the fifth kills the code ([`Error::TooManyAttempts`]). A right code is
    /// consumed, and a phone not yet registered becomes a new member with her processing consent
    /// recorded — all in one transaction.
    pub async fn verify_sms_code(&self, tenant: &TenantId, phone: &Phone, code: &str) -> Result<SignIn> {
        self.tenant(tenant)?;
        let code = policy::check_code_format(code)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_verify_sms_code(tenant, phone, code).await {
                // Another request registered the same phone first: sign in as her.
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_verify_sms_code(&self, tenant: &TenantId, phone: &Phone, code: &str) -> Result<SignIn> {
        let t = self.tenant(tenant)?;
        let index = t.keys.blind_index(phone);
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        tx.lock_phone(index.as_bytes()).await?;
        let latest = tx.latest_sms_code(index.as_bytes()).await?;
        let matches = match &latest {
            Some(row) => code_matches(&t.keys, tenant, row.id, code, &row.hash)?,
            None => false,
        };
        let state = latest.as_ref().map(|row| CodeState { attempts: row.attempts, expires_at: row.expires_at });
        let verdict = policy::judge_code(state, matches, now);
        match (verdict, latest) {
            (CodeVerdict::Accept, Some(row)) => {
                tx.consume_sms_code(row.id, now).await?;
                let (member, new_member) = match tx.member_by_phone_index(index.as_bytes()).await? {
                    Some(existing) => (existing.id, false),
                    None => (self.register_signed_in(&mut tx, tenant, &t.keys, phone, now).await?, true),
                };
                tx.commit().await?;
                if new_member {
                    tracing::info!(tenant = %tenant, member = %member, "member registered by sms sign-in");
                }
                Ok(SignIn { member, new_member })
            }
            (CodeVerdict::Wrong { attempts }, Some(row)) => {
                // The attempt must count even though the caller gets an error.
                tx.set_sms_code_attempts(row.id, attempts).await?;
                tx.commit().await?;
                Err(verdict.error().unwrap_or(Error::TooManyAttempts))
            }
            // Expired, dead or no code: nothing to record.
            (other, _) => Err(other.error().unwrap_or(Error::CodeExpired)),
        }
    }

    /// Registers the member signing in with `phone` (phone only, like [`Krug::register_member`])
    /// and records her processing consent, inside the sign-in's transaction. A phone registered
    /// concurrently surfaces as a store conflict, and the sign-in is retried.
    async fn register_signed_in(
        &self,
        tx: &mut TenantTx,
        tenant: &TenantId,
        keys: &KeyRing,
        phone: &Phone,
        now: time::OffsetDateTime,
    ) -> Result<MemberId> {
        let id = MemberId::generate(self.inner.ids.as_ref());
        let row = member_row(keys, tenant, id, phone, None, None, now)?;
        tx.insert_member(&row, keys.blind_index(phone).as_bytes()).await?;
        tx.insert_account(id, now).await?;
        let consent = Consent {
            id: ConsentId::generate(self.inner.ids.as_ref()),
            member: id,
            kind: ConsentKind::Processing,
            text_version: PROCESSING_CONSENT_VERSION.to_owned(),
            text_sha256: PROCESSING_CONSENT_SHA256.to_owned(),
            channel: SMS_CHANNEL.to_owned(),
            granted_at: now,
            withdrawn_at: None,
        };
        tx.insert_consent(&consent).await?;
        Ok(id)
    }

    /// Records the member's consent to one purpose. If a consent of that kind is already active,
    /// nothing is written and that row is returned.
    pub async fn grant_consent(&self, tenant: &TenantId, member: MemberId, grant: GrantConsent) -> Result<Consent> {
        self.tenant(tenant)?;
        policy::check_grant(&grant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        // Serialises consent changes of one member (and answers 404 for a stranger).
        tx.lock_account(member).await.map_err(not_found(Error::MemberNotFound))?;
        if let Some(active) = tx.active_consent(member, grant.kind).await? {
            return Ok(active);
        }
        let consent = Consent {
            id: ConsentId::generate(self.inner.ids.as_ref()),
            member,
            kind: grant.kind,
            text_version: grant.text_version,
            text_sha256: grant.text_sha256,
            channel: grant.channel,
            granted_at: now,
            withdrawn_at: None,
        };
        tx.insert_consent(&consent).await?;
        tx.commit().await?;
        Ok(consent)
    }

    /// Every consent row of the member, oldest first, withdrawn ones included (the ledger is the
    /// proof of what was consented to and when).
    pub async fn consents(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<Consent>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        Ok(tx.consents(member).await?)
    }

    /// Withdraws the member's active consent of `kind`: that row alone gets its `withdrawn_at`.
    /// No active consent of that kind is [`Error::ConsentNotActive`].
    pub async fn withdraw_consent(&self, tenant: &TenantId, member: MemberId, kind: ConsentKind) -> Result<Consent> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        tx.lock_account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let active = tx.active_consent(member, kind).await?.ok_or(Error::ConsentNotActive)?;
        tx.withdraw_consent(active.id, now).await.map_err(not_found(Error::ConsentNotActive))?;
        tx.commit().await?;
        Ok(Consent { withdrawn_at: Some(now), ..active })
    }

    /// Sets or clears the member's name and birthday (validated as at registration). Every
    /// personal field of the row, the phone included, is re-sealed under the tenant's active key.
    pub async fn update_profile(
        &self,
        tenant: &TenantId,
        member: MemberId,
        update: ProfileUpdate,
    ) -> Result<MemberProfile> {
        let t = self.tenant(tenant)?;
        if update.name.is_none() && update.birthday.is_none() {
            return Err(Error::InvalidInput { field: "update", message: "names nothing to change".into() });
        }
        let name = match &update.name {
            Some(name) => Some(clean_name(name.as_deref())?),
            None => None,
        };
        let now = self.now();
        if let Some(birthday) = update.birthday {
            check_birthday(&t.config, birthday, now)?;
        }
        let mut tx = self.begin(tenant).await?;
        tx.lock_account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let stored = tx.member(member).await.map_err(not_found(Error::MemberNotFound))?;
        let current = open_profile(&t.keys, tenant, &stored)?;
        let name = match name {
            Some(new) => new,
            None => current.name.as_deref(),
        };
        let birthday = update.birthday.unwrap_or(current.birthday);
        let row = member_row(&t.keys, tenant, member, &current.phone, name, birthday, stored.created_at)?;
        tx.update_member_fields(&row).await.map_err(not_found(Error::MemberNotFound))?;
        tx.commit().await?;
        Ok(MemberProfile { name: name.map(str::to_owned), birthday, ..current })
    }

    /// Appends an audit record written by the caller, e.g. the appliance auditing a staff
    /// member's read of personal data. The details must be JSON and must not carry personal data
    /// in clear; the client address, if given, must be an IP address.
    pub async fn record_audit(&self, tenant: &TenantId, event: AuditEvent) -> Result<()> {
        self.tenant(tenant)?;
        policy::check_actor(&event.actor)?;
        policy::check_audit_event(&event.action, &event.target, &event.detail_json)?;
        let client = policy::normalise_client(event.client.as_deref())?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let id = self.inner.ids.next_uuid();
        tx.audit(id, &event.actor, &event.action, &event.target, &event.detail_json, client.as_deref(), now).await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use argon2::{Algorithm, Params};

    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_costs() {
        let dummy = PasswordHash::new(DUMMY_PASSWORD_HASH).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let real = Argon2::default().hash_password(b"some password", &salt).unwrap();
        assert_eq!(dummy.algorithm, Algorithm::Argon2id.ident());
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(Params::try_from(&dummy).unwrap(), Params::try_from(&real).unwrap());
        let (d, p) = (Params::try_from(&dummy).unwrap(), Params::default());
        assert_eq!((d.m_cost(), d.t_cost(), d.p_cost()), (p.m_cost(), p.t_cost(), p.p_cost()));
    }

    #[test]
    fn code_hashes_are_bound_to_their_row_and_tenant() {
        let keys = KeyRing::generate(crate::pii::KeyId::parse("k1").unwrap());
        let tenant = TenantId::parse("svoy-krug").unwrap();
        let other = TenantId::parse("other").unwrap();
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let stored = hex(&code_mac(&keys, &tenant, a, "123456").finalize().into_bytes());
        assert!(!stored.contains("123456"));
        assert!(code_matches(&keys, &tenant, a, "123456", &stored).unwrap());
        assert!(!code_matches(&keys, &tenant, a, "123457", &stored).unwrap());
        assert!(!code_matches(&keys, &tenant, b, "123456", &stored).unwrap());
        assert!(!code_matches(&keys, &other, a, "123456", &stored).unwrap());
        let other_keys = KeyRing::generate(crate::pii::KeyId::parse("k1").unwrap());
        assert!(!code_matches(&other_keys, &tenant, a, "123456", &stored).unwrap());
        assert!(code_matches(&keys, &tenant, a, "123456", "zz").is_err());
    }
}
