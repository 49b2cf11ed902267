//! Members: registration with encrypted personal data, lookup by phone, profile, status and
//! invitation-only tiers.

use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::Krug;
use super::purchases::not_found;
use crate::error::{Error, Result};
use crate::facade::{MemberProfile, RegisterMember, StatusView};
use crate::pii::{KeyId, KeyRing, aad};
use crate::status;
use crate::store::{MemberRow, StoreError};
use crate::tenant::TenantConfig;
use crate::types::{MemberId, Phone, TenantId, TierCode};

const NAME_MAX_CHARS: usize = 200;

/// A name as stored: trimmed, blank meaning none; refused when too long or not printable.
pub(super) fn clean_name(name: Option<&str>) -> Result<Option<&str>> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name
        && (name.chars().count() > NAME_MAX_CHARS || name.chars().any(char::is_control))
    {
        return Err(Error::InvalidInput {
            field: "name",
            message: format!("must be at most {NAME_MAX_CHARS} printable characters"),
        });
    }
    Ok(name)
}

/// Refuses a birthday after today in the tenant's time zone.
pub(super) fn check_birthday(config: &TenantConfig, birthday: Option<Date>, now: OffsetDateTime) -> Result<()> {
    if let Some(birthday) = birthday
        && birthday > config.local_date(now)
    {
        return Err(Error::InvalidInput { field: "birthday", message: "must not be in the future".into() });
    }
    Ok(())
}

/// A member row with every personal field sealed under the active key.
pub(super) fn member_row(
    keys: &KeyRing,
    tenant: &TenantId,
    id: MemberId,
    phone: &Phone,
    name: Option<&str>,
    birthday: Option<Date>,
    created_at: OffsetDateTime,
) -> Result<MemberRow> {
    Ok(MemberRow {
        id,
        phone: seal(keys, tenant, id, "phone", phone.as_e164())?,
        name: name.map(|n| seal(keys, tenant, id, "name", n)).transpose()?,
        birthday: birthday.map(|b| seal(keys, tenant, id, "birthday", &b.to_string())).transpose()?,
        created_at,
    })
}

/// Opens every personal field of a stored member row.
pub(super) fn open_profile(keys: &KeyRing, tenant: &TenantId, row: &MemberRow) -> Result<MemberProfile> {
    let member = row.id;
    let phone = open(keys, tenant, member, "phone", &row.phone)?;
    let phone = Phone::parse(&phone).map_err(|e| Error::Store(StoreError::Corrupt(format!("phone: {e}"))))?;
    let name = row.name.as_ref().map(|n| open(keys, tenant, member, "name", n)).transpose()?;
    let birthday = row
        .birthday
        .as_ref()
        .map(|b| {
            let text = open(keys, tenant, member, "birthday", b)?;
            Date::parse(&text, format_description!("[year]-[month]-[day]"))
                .map_err(|e| Error::Store(StoreError::Corrupt(format!("birthday: {e}"))))
        })
        .transpose()?;
    Ok(MemberProfile { id: member, phone, name, birthday, joined_at: row.created_at })
}

fn seal(keys: &KeyRing, tenant: &TenantId, member: MemberId, field: &str, value: &str) -> Result<(Vec<u8>, String)> {
    let sealed = keys.seal_str(&aad(tenant.as_str(), &member.to_string(), field), value)?;
    Ok((sealed.ciphertext, sealed.key_id.as_str().to_owned()))
}

pub(super) fn open(
    keys: &KeyRing,
    tenant: &TenantId,
    member: MemberId,
    field: &str,
    stored: &(Vec<u8>, String),
) -> Result<String> {
    let key = KeyId::parse(&stored.1)?;
    Ok(keys.open_string(&key, &aad(tenant.as_str(), &member.to_string(), field), &stored.0)?)
}

impl Krug {
    /// Registers a member. Only the phone is required; name and birthday are optional. Phone,
    /// name and birthday are stored encrypted, and the phone is found again through a keyed
    /// blind index. A phone already registered in the tenant is [`Error::PhoneTaken`].
    pub async fn register_member(&self, tenant: &TenantId, cmd: RegisterMember) -> Result<MemberId> {
        let t = self.tenant(tenant)?;
        let name = clean_name(cmd.name.as_deref())?;
        let now = self.now();
        check_birthday(&t.config, cmd.birthday, now)?;
        let id = MemberId::generate(self.inner.ids.as_ref());
        let index = t.keys.blind_index(&cmd.phone);
        let row = member_row(&t.keys, tenant, id, &cmd.phone, name, cmd.birthday, now)?;
        let mut tx = self.begin(tenant).await?;
        if let Some(existing) = tx.member_by_phone_index(index.as_bytes()).await? {
            return Err(Error::PhoneTaken { member: existing.id });
        }
        match tx.insert_member(&row, index.as_bytes()).await {
            Err(StoreError::Conflict { .. }) => {
                drop(tx);
                let existing = self.find_member_by_phone(tenant, &cmd.phone).await?.ok_or(Error::MemberNotFound)?;
                return Err(Error::PhoneTaken { member: existing });
            }
            other => other?,
        }
        tx.insert_account(id, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, member = %id, "member registered");
        Ok(id)
    }

    /// The member registered with this phone, in any written form.
    pub async fn find_member_by_phone(&self, tenant: &TenantId, phone: &Phone) -> Result<Option<MemberId>> {
        let t = self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        Ok(tx.member_by_phone_index(t.keys.blind_index(phone).as_bytes()).await?.map(|m| m.id))
    }

    /// The member's profile, decrypted. Callers that show it to staff must audit the read.
    pub async fn member(&self, tenant: &TenantId, member: MemberId) -> Result<MemberProfile> {
        let t = self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let row = tx.member(member).await.map_err(not_found(Error::MemberNotFound))?;
        open_profile(&t.keys, tenant, &row)
    }

    /// The member's status now: tier, rate, window spend and categories, progress to the next
    /// tier. A downgrade that the grace period has run out on is applied and stored.
    pub async fn status(&self, tenant: &TenantId, member: MemberId) -> Result<StatusView> {
        let t = self.tenant(tenant)?;
        let rules = &t.config.tiers;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let stored = tx.lock_account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let stats = tx.spend_stats(member, rules.window_start(now)).await?;
        let decision = status::evaluate(rules, &stats, &stored.held, now);
        if decision.held != stored.held {
            tx.update_status(member, &decision.held).await?;
        }
        tx.commit().await?;
        Ok(StatusView {
            tier: decision.tier,
            cashback_rate: decision.cashback,
            window_spend: stats.spend,
            window_categories: stats.categories.into_iter().collect(),
            progress: decision.progress,
            in_grace: decision.held.below_since.is_some(),
            invited: decision.held.invited,
        })
    }

    /// Grants an invitation-only tier (Inner Circle) to a member; recorded in the audit log.
    pub async fn invite(&self, tenant: &TenantId, member: MemberId, tier: &TierCode, actor: &str) -> Result<()> {
        self.set_invitation(tenant, member, Some(tier), actor).await
    }

    /// Removes a member's invitation-only tier; recorded in the audit log.
    pub async fn uninvite(&self, tenant: &TenantId, member: MemberId, actor: &str) -> Result<()> {
        self.set_invitation(tenant, member, None, actor).await
    }

    async fn set_invitation(
        &self,
        tenant: &TenantId,
        member: MemberId,
        tier: Option<&TierCode>,
        actor: &str,
    ) -> Result<()> {
        let t = self.tenant(tenant)?;
        if actor.trim().is_empty() {
            return Err(Error::InvalidInput { field: "actor", message: "must name who acts".into() });
        }
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let stored = tx.lock_account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let held = match tier {
            Some(code) => status::invite(&stored.held, code, &t.config.tiers)?,
            None => status::uninvite(&stored.held),
        };
        tx.update_status(member, &held).await?;
        let (action, detail) = match tier {
            Some(code) => ("tier.invite", format!("{{\"tier\":\"{code}\"}}")),
            None => ("tier.uninvite", String::from("{}")),
        };
        tx.audit(self.inner.ids.next_uuid(), actor, action, &format!("member:{member}"), &detail, None, now).await?;
        tx.commit().await?;
        Ok(())
    }
}
