//! The member's own views: profile, balance, history, status, and her consents. Every operation
//! reads the member from the token, so a member can only ever see and change herself; staff
//! tokens are refused (403).

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{Enum, Object, OpenApi};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::ApiTags;
use super::dto::{Balance, Text, TierProgress, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Member endpoints.
pub struct MeApi;

/// The member's profile.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Profile {
    /// The member id.
    pub member_id: Uuid,
    /// Her phone, E.164.
    pub phone: String,
    /// Her name, if given.
    pub name: Option<String>,
    /// Her birthday, if given.
    pub birthday: Option<Date>,
    /// When she joined.
    pub joined_at: OffsetDateTime,
}

impl Example for Profile {
    fn example() -> Profile {
        Profile {
            member_id: Uuid::nil(),
            phone: "+79123456789".into(),
            name: Some("Анна".into()),
            birthday: None,
            joined_at: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

impl From<krug::MemberProfile> for Profile {
    fn from(p: krug::MemberProfile) -> Profile {
        Profile {
            member_id: p.id.as_uuid(),
            phone: p.phone.as_e164().to_owned(),
            name: p.name,
            birthday: p.birthday,
            joined_at: p.joined_at,
        }
    }
}

/// One ledger line.
#[derive(Debug, Clone, Object)]
pub struct HistoryLine {
    /// The entry id (also the paging cursor).
    pub entry_id: Uuid,
    /// accrual, redemption, expiry, reversal or adjustment.
    pub kind: String,
    /// Signed amount in bonus kopecks.
    pub amount_kopecks: i64,
    /// What caused it: purchase, offer, chain, referral, manual, expiry.
    pub source: String,
    /// Where.
    pub business: Option<String>,
    /// The purchase involved.
    pub purchase_id: Option<Uuid>,
    /// When.
    pub at: OffsetDateTime,
}

/// A page of history, newest first.
#[derive(Debug, Clone, Object)]
pub struct HistoryPage {
    /// The lines.
    pub items: Vec<HistoryLine>,
    /// Pass as `before` for the next page; absent at the end.
    pub next: Option<Uuid>,
}

/// The member's status.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Status {
    /// Current tier; absent before the first purchase.
    pub tier: Option<String>,
    /// Cashback rate in basis points.
    pub cashback_rate_bps: u16,
    /// Net spend in the status window, kopecks.
    pub window_spend_kopecks: i64,
    /// Distinct categories bought in the window.
    pub window_categories: Vec<String>,
    /// What is missing for the next tier.
    pub progress: Option<TierProgress>,
    /// Whether the tier is held by the downgrade grace period.
    pub in_grace: bool,
}

impl Example for Status {
    fn example() -> Status {
        Status {
            tier: Some("insider".into()),
            cashback_rate_bps: 500,
            window_spend_kopecks: 2_150_000,
            window_categories: vec!["cosmetology".into(), "gastro_market".into()],
            progress: Some(TierProgress {
                next_tier: "vip".into(),
                missing_spend_kopecks: 850_000,
                missing_categories: 1,
            }),
            in_grace: false,
        }
    }
}

impl From<krug::StatusView> for Status {
    fn from(s: krug::StatusView) -> Status {
        Status {
            tier: s.tier.map(|t| t.to_string()),
            cashback_rate_bps: s.cashback_rate.get(),
            window_spend_kopecks: s.window_spend.get(),
            window_categories: s.window_categories.into_iter().map(|c| c.to_string()).collect(),
            progress: s.progress.as_ref().map(TierProgress::from),
            in_grace: s.in_grace,
        }
    }
}

/// The secret for the rotating QR code, shown once per provisioning.
#[derive(Debug, Clone, Object)]
pub struct QrSecret {
    /// RFC 4648 base32 secret (keep it in the device's secure storage).
    pub secret_base32: String,
    /// Digits per code.
    pub digits: u8,
    /// Seconds per step, counted from the Unix epoch.
    pub step_seconds: u32,
    /// The MAC over the 8-byte big-endian step (`HMAC-SHA256`, truncated as RFC 4226 §5.3).
    pub algorithm: String,
    /// How to render the payload: `KQ1.<member id, 32 hex>.<code>`.
    pub format: String,
}

/// The current QR payload.
#[derive(Debug, Clone, Object)]
pub struct QrPayload {
    /// Show this as a QR code; valid for about 30 s and for one purchase.
    pub qr: String,
}

/// A partner in the catalogue.
#[derive(Debug, Clone, Object)]
pub struct Partner {
    /// The business id.
    pub business: String,
    /// Its name.
    pub name: String,
    /// Its category.
    pub category: String,
}

/// A tier of the ladder.
#[derive(Debug, Clone, Object)]
pub struct Tier {
    /// The tier code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Spend needed in the status window, kopecks.
    pub min_spend_kopecks: i64,
    /// Distinct categories needed.
    pub min_categories: u32,
    /// Cashback, basis points.
    pub cashback_bps: u16,
    /// By invitation only.
    pub invitation_only: bool,
}

/// The business catalogue and the tier ladder.
#[derive(Debug, Clone, Object)]
pub struct Catalogue {
    /// The partners.
    pub partners: Vec<Partner>,
    /// The tiers, lowest first.
    pub tiers: Vec<Tier>,
}

/// Changes to your profile; absent fields stay as they are, `null` clears one.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ProfileUpdateRequest {
    /// Your name (up to 200 characters; blank clears it).
    pub name: MaybeUndefined<Text>,
    /// Your birthday.
    pub birthday: MaybeUndefined<Date>,
}

impl Example for ProfileUpdateRequest {
    fn example() -> Self {
        ProfileUpdateRequest { name: MaybeUndefined::Value(Text::from("Анна")), birthday: MaybeUndefined::Null }
    }
}

fn tri<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// A purpose you consent to, each separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Processing your personal data for the programme (given at sign-up).
    Processing,
    /// Transfer of your data to the coalition's partners.
    PartnerTransfer,
    /// Disclosure of clinic visits (medical secrecy).
    MedicalDisclosure,
    /// Advertising by SMS.
    MarketingSms,
    /// Advertising by push notification.
    MarketingPush,
    /// Advertising by e-mail.
    MarketingEmail,
}

impl From<ConsentKind> for krug::ConsentKind {
    fn from(k: ConsentKind) -> krug::ConsentKind {
        match k {
            ConsentKind::Processing => krug::ConsentKind::Processing,
            ConsentKind::PartnerTransfer => krug::ConsentKind::PartnerTransfer,
            ConsentKind::MedicalDisclosure => krug::ConsentKind::MedicalDisclosure,
            ConsentKind::MarketingSms => krug::ConsentKind::MarketingSms,
            ConsentKind::MarketingPush => krug::ConsentKind::MarketingPush,
            ConsentKind::MarketingEmail => krug::ConsentKind::MarketingEmail,
        }
    }
}

impl From<krug::ConsentKind> for ConsentKind {
    fn from(k: krug::ConsentKind) -> ConsentKind {
        match k {
            krug::ConsentKind::Processing => ConsentKind::Processing,
            krug::ConsentKind::PartnerTransfer => ConsentKind::PartnerTransfer,
            krug::ConsentKind::MedicalDisclosure => ConsentKind::MedicalDisclosure,
            krug::ConsentKind::MarketingSms => ConsentKind::MarketingSms,
            krug::ConsentKind::MarketingPush => ConsentKind::MarketingPush,
            krug::ConsentKind::MarketingEmail => ConsentKind::MarketingEmail,
        }
    }
}

/// One row of your consent ledger.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ConsentRecord {
    /// The row.
    pub consent_id: Uuid,
    /// The purpose.
    pub kind: ConsentKind,
    /// The version of the consent text you were shown.
    pub text_version: String,
    /// SHA-256 of that exact text (lowercase hex).
    pub text_sha256: String,
    /// Where you gave it (`app`, `sms`, …).
    pub channel: String,
    /// When you gave it.
    pub granted_at: OffsetDateTime,
    /// When you withdrew it; absent while it is in force.
    pub withdrawn_at: Option<OffsetDateTime>,
}

impl Example for ConsentRecord {
    fn example() -> Self {
        ConsentRecord {
            consent_id: Uuid::nil(),
            kind: ConsentKind::MarketingSms,
            text_version: "marketing-sms-v1".into(),
            text_sha256: "5bafe87be65946ce973c2f4eec4cdf72007ff7c9adcd9ec4f46f0cea1ba45197".into(),
            channel: "app".into(),
            granted_at: OffsetDateTime::UNIX_EPOCH,
            withdrawn_at: None,
        }
    }
}

impl From<krug::Consent> for ConsentRecord {
    fn from(c: krug::Consent) -> ConsentRecord {
        ConsentRecord {
            consent_id: c.id.as_uuid(),
            kind: ConsentKind::from(c.kind),
            text_version: c.text_version,
            text_sha256: c.text_sha256,
            channel: c.channel,
            granted_at: c.granted_at,
            withdrawn_at: c.withdrawn_at,
        }
    }
}

/// Give one consent.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct GrantConsentRequest {
    /// The purpose.
    pub kind: ConsentKind,
    /// The version id of the consent text shown to you (1–64 printable characters).
    pub text_version: Text,
    /// SHA-256 of the exact text shown, 64 lowercase hex digits.
    pub text_sha256: Text,
    /// Where it is given: 1–32 of `a-z 0-9 - _` (default `app`).
    pub channel: Option<Text>,
}

impl Example for GrantConsentRequest {
    fn example() -> Self {
        GrantConsentRequest {
            kind: ConsentKind::MarketingSms,
            text_version: Text::from("marketing-sms-v1"),
            text_sha256: Text::from("5bafe87be65946ce973c2f4eec4cdf72007ff7c9adcd9ec4f46f0cea1ba45197"),
            channel: Some(Text::from("app")),
        }
    }
}

#[OpenApi(prefix_path = "/v1/me", tag = "ApiTags::Member")]
impl MeApi {
    /// Your profile.
    #[oai(path = "/", method = "get", operation_id = "me_profile")]
    async fn profile(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Profile>, ApiError> {
        let member = auth.0.member()?;
        let tenant = auth.0.tenant()?;
        Ok(Json(Profile::from(state.krug.member(tenant, member).await?)))
    }

    /// Set or clear your name and birthday.
    ///
    /// Both are optional: declining them never limits earning or spending bonuses. Absent
    /// fields stay; `null` clears. A body naming nothing is `422 invalid_input`.
    #[oai(path = "/", method = "patch", operation_id = "me_update_profile")]
    async fn update_profile(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<ProfileUpdateRequest>,
    ) -> Result<Json<Profile>, ApiError> {
        let member = auth.0.member()?;
        let body = body.0;
        let update = krug::ProfileUpdate { name: tri(body.name.map_value(String::from)), birthday: tri(body.birthday) };
        Ok(Json(Profile::from(state.krug.update_profile(auth.0.tenant()?, member, update).await?)))
    }

    /// Your consents, oldest first, withdrawn ones included.
    #[oai(path = "/consents", method = "get", operation_id = "me_consents")]
    async fn consents(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<ConsentRecord>>, ApiError> {
        let member = auth.0.member()?;
        let rows = state.krug.consents(auth.0.tenant()?, member).await?;
        Ok(Json(rows.into_iter().map(ConsentRecord::from).collect()))
    }

    /// Give one consent, recording the exact text shown.
    ///
    /// Each purpose is consented to separately. If a consent of this kind is already in force,
    /// nothing is written and that one is returned.
    #[oai(path = "/consents", method = "post", operation_id = "me_grant_consent")]
    async fn grant_consent(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<GrantConsentRequest>,
    ) -> Result<Json<ConsentRecord>, ApiError> {
        let member = auth.0.member()?;
        let body = body.0;
        let grant = krug::GrantConsent {
            kind: body.kind.into(),
            text_version: body.text_version.into(),
            text_sha256: body.text_sha256.into(),
            channel: body.channel.map_or_else(|| "app".into(), String::from),
        };
        Ok(Json(ConsentRecord::from(state.krug.grant_consent(auth.0.tenant()?, member, grant).await?)))
    }

    /// Withdraw your consent of one kind; it stops applying at once.
    ///
    /// The ledger keeps the row with its withdrawal time. No consent of this kind in force is
    /// `409 consent_not_active`; a kind that does not exist is `404 not_found`.
    #[oai(path = "/consents/:kind", method = "delete", operation_id = "me_withdraw_consent")]
    async fn withdraw_consent(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The purpose: `processing`, `partner_transfer`, `medical_disclosure`, `marketing_sms`,
        /// `marketing_push` or `marketing_email`.
        kind: Path<String>,
    ) -> Result<Json<ConsentRecord>, ApiError> {
        let member = auth.0.member()?;
        // Parsed here, after the role check, so a staff token is told 403 whatever the path says.
        let kind = krug::ConsentKind::parse(&kind.0).map_err(|_| ApiError::not_found("consent kind"))?;
        let withdrawn = state.krug.withdraw_consent(auth.0.tenant()?, member, kind).await?;
        Ok(Json(ConsentRecord::from(withdrawn)))
    }

    /// Your balance: available now, pending with dates, and what lapses within 30 days.
    #[oai(path = "/balance", method = "get", operation_id = "me_balance")]
    async fn balance(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Balance>, ApiError> {
        let member = auth.0.member()?;
        Ok(Json(Balance::from(&state.krug.balance(auth.0.tenant()?, member).await?)))
    }

    /// Your bonus history, newest first, paged by cursor.
    #[oai(path = "/history", method = "get", operation_id = "me_history")]
    async fn history(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// Page size, 1–200 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<HistoryPage>, ApiError> {
        let member = auth.0.member()?;
        let before = before.0.as_deref().map(|b| parse_id::<krug::types::EntryId>("cursor", b)).transpose()?;
        let page = state.krug.history(auth.0.tenant()?, member, before, limit.0.unwrap_or(50)).await?;
        Ok(Json(HistoryPage {
            items: page
                .items
                .into_iter()
                .map(|i| HistoryLine {
                    entry_id: i.entry.as_uuid(),
                    kind: i.kind.as_str().to_owned(),
                    amount_kopecks: i.amount.get(),
                    source: i.source.as_str().to_owned(),
                    business: i.business.map(|b| b.to_string()),
                    purchase_id: i.purchase.map(|p| p.as_uuid()),
                    at: i.at,
                })
                .collect(),
            next: page.next.map(|e| e.as_uuid()),
        }))
    }

    /// Your status tier, cashback rate and progress to the next tier.
    #[oai(path = "/status", method = "get", operation_id = "me_status")]
    async fn status(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Status>, ApiError> {
        auth.0.require(&[Role::Member])?;
        let s = state.krug.status(auth.0.tenant()?, auth.0.member()?).await?;
        Ok(Json(Status::from(s)))
    }

    /// Provision the secret for your rotating QR code (replaces any earlier one; old codes stop
    /// working). The app computes codes offline from it.
    #[oai(path = "/qr-secret", method = "post", operation_id = "me_qr_secret")]
    async fn qr_secret(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<QrSecret>, ApiError> {
        let member = auth.0.member()?;
        let p = state.krug.provision_qr_secret(auth.0.tenant()?, member).await?;
        Ok(Json(QrSecret {
            secret_base32: p.secret_base32.clone(),
            digits: p.digits,
            step_seconds: p.step_seconds,
            algorithm: p.algorithm.to_owned(),
            format: p.format.to_owned(),
        }))
    }

    /// The current QR payload, for apps that do not compute codes themselves.
    #[oai(path = "/qr", method = "get", operation_id = "me_qr")]
    async fn qr(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<QrPayload>, ApiError> {
        let member = auth.0.member()?;
        Ok(Json(QrPayload { qr: state.krug.current_qr(auth.0.tenant()?, member).await? }))
    }

    /// Your purchases at every partner, newest first.
    #[oai(path = "/purchases", method = "get", operation_id = "me_purchases")]
    async fn purchases(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// The `next` of the previous page.
        before: Query<Option<String>>,
        /// Page size, 1–200 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<super::dto::PurchasePage>, ApiError> {
        let member = auth.0.member()?;
        let before = before.0.as_deref().map(|b| parse_id::<krug::types::PurchaseId>("cursor", b)).transpose()?;
        let page = state.krug.member_purchases(auth.0.tenant()?, member, before, limit.0.unwrap_or(50)).await?;
        Ok(Json(super::dto::PurchasePage::from(&page)))
    }

    /// The partners of your ecosystem and the tier ladder.
    #[oai(path = "/catalogue", method = "get", operation_id = "me_catalogue")]
    async fn catalogue(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Catalogue>, ApiError> {
        let tenant = auth.0.tenant()?;
        let partners = state
            .krug
            .catalogue(tenant)?
            .into_iter()
            .map(|c| Partner { business: c.business.to_string(), name: c.name, category: c.category.to_string() })
            .collect();
        let tiers = state
            .krug
            .tier_ladder(tenant)?
            .into_iter()
            .map(|t| Tier {
                code: t.code.to_string(),
                name: t.name,
                min_spend_kopecks: t.min_spend.get(),
                min_categories: t.min_categories,
                cashback_bps: t.cashback.get(),
                invitation_only: t.invitation_only,
            })
            .collect();
        Ok(Json(Catalogue { partners, tiers }))
    }
}
