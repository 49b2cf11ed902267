//! The counter's fallback when a member has no phone with her: the cashier asks the appliance to
//! send a code to the phone number she gives, she reads the code from her SMS (on any device, or
//! as she tells it), and the confirmed code yields a one-time QR payload the cashier scans as
//! usual. The code is the member's confirmation; without it the cashier learns nothing, not even
//! whether the number is registered.

use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::auth::{limit, phone};
use super::dto::Text;
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Counter lookup endpoints.
pub struct LookupApi;

/// Send a confirmation code to the member's phone.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct LookupRequest {
    /// The phone she gives, in any common Russian form.
    pub phone: Text,
}

impl Example for LookupRequest {
    fn example() -> Self {
        LookupRequest { phone: Text::from("+7 912 345-67-89") }
    }
}

/// A code was sent.
#[derive(Debug, Clone, Object)]
pub struct LookupSent {
    /// The code stops working at this instant (5 minutes).
    pub expires_at: OffsetDateTime,
}

/// The code she read out.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct LookupConfirmRequest {
    /// The phone the code was sent to.
    pub phone: Text,
    /// The 6-digit code.
    pub code: Text,
}

impl Example for LookupConfirmRequest {
    fn example() -> Self {
        LookupConfirmRequest { phone: Text::from("+7 912 345-67-89"), code: Text::from("482913") }
    }
}

/// The confirmed member and a payload to scan.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct LookupResult {
    /// The member.
    pub member_id: Uuid,
    /// Post as `qr` to `/v1/scans`; valid for about 30 s and for one purchase.
    pub qr: String,
    /// Whether this confirmation registered her.
    pub new_member: bool,
}

impl Example for LookupResult {
    fn example() -> Self {
        LookupResult {
            member_id: Uuid::nil(),
            qr: "KQ1.0190A1B2C3D4E5F60718293A4B5C6D7E.48213307".into(),
            new_member: false,
        }
    }
}

fn counter(auth: &BearerAuth) -> Result<(&krug::types::TenantId, &krug::types::BusinessId), ApiError> {
    auth.0.require(&[Role::Cashier, Role::Manager, Role::Owner])?;
    Ok((auth.0.tenant()?, auth.0.business()?))
}

#[OpenApi(prefix_path = "/v1/counter", tag = "ApiTags::Counter")]
impl LookupApi {
    /// Send a confirmation code to a member who has no phone with her.
    ///
    /// Cashier, manager or owner. The SMS names your business and asks her to give the code
    /// only at its counter. Limited like sign-in codes: 1 a minute and 5 an hour per phone
    /// (`429 rate_limited`), and per client address.
    #[oai(path = "/lookup", method = "post", operation_id = "counter_lookup")]
    async fn lookup(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<LookupRequest>,
    ) -> Result<Json<LookupSent>, ApiError> {
        let (tenant, business) = counter(&auth)?;
        limit(&state, remote).await?;
        let phone = phone(&body.phone)?;
        let config = state.krug.tenant_config(tenant)?;
        let name = config
            .business(business)
            .map(|b| b.name.clone())
            .ok_or_else(|| ApiError::from(krug::Error::UnknownBusiness(business.clone())))?;
        let issued = state.krug.issue_sms_code(tenant, &phone).await?;
        let text = format!(
            "Кассир «{name}» просит подтвердить вашу карту «{}». Код: {}. Назовите его, только если \
             вы сейчас у этой кассы.",
            config.name, issued.code
        );
        state.sms.send(&phone, &text).await.map_err(|e| ApiError::internal(&e))?;
        Ok(Json(LookupSent { expires_at: issued.expires_at }))
    }

    /// Confirm the member with her code and get a one-time QR payload to scan.
    ///
    /// Cashier, manager or owner. A right code identifies her — and registers her if the phone
    /// is new, since giving the code is her confirmation; a wrong one is `422 code_invalid`
    /// (five wrong entries kill the code). Post the returned `qr` to `/v1/scans` within about
    /// 30 s. Recorded in the audit log (`member.lookup`).
    #[oai(path = "/lookup/confirm", method = "post", operation_id = "counter_lookup_confirm")]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<LookupConfirmRequest>,
    ) -> Result<Json<LookupResult>, ApiError> {
        let (tenant, business) = counter(&auth)?;
        limit(&state, remote).await?;
        let phone = phone(&body.phone)?;
        let signed_in = state.krug.verify_sms_code(tenant, &phone, &body.code).await?;
        let member = signed_in.member;
        let qr = match state.krug.current_qr(tenant, member).await {
            Err(krug::Error::QrNotProvisioned) => {
                state.krug.provision_qr_secret(tenant, member).await?;
                state.krug.current_qr(tenant, member).await?
            }
            other => other?,
        };
        // A staff member identified a member by her phone: an access to personal data.
        super::audit(
            &state,
            tenant,
            auth.0.actor(),
            "member.lookup",
            format!("member:{member}"),
            serde_json::json!({
                "business": business.as_str(),
                "new_member": signed_in.new_member,
            }),
            remote,
        )
        .await?;
        Ok(Json(LookupResult { member_id: member.as_uuid(), qr, new_member: signed_in.new_member }))
    }
}
