//! Signing in. Members: a 6-digit code by SMS (rate-limited per phone by the SDK, durably, and
//! per client address here), then a short-lived access token and a rotating refresh token; the
//! first sign-in registers the member and records her processing consent. Staff: login and
//! password. The superadmin: the credentials in the appliance's settings.

use poem::web::{Data, RemoteAddr};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::ApiTags;
use super::dto::Text;
use crate::auth::{Principal, Role};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use krug::types::{Phone, TenantId};

/// Sign-in endpoints.
pub struct AuthApi;

/// Ask for a sign-in code.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct SmsCodeRequest {
    /// The ecosystem (tenant id).
    pub tenant: Text,
    /// The member's phone in any common Russian form.
    pub phone: Text,
}

impl Example for SmsCodeRequest {
    fn example() -> Self {
        SmsCodeRequest { tenant: "svoy-krug".into(), phone: "+7 912 345-67-89".into() }
    }
}

/// A code was sent.
#[derive(Debug, Clone, Object)]
pub struct SmsCodeSent {
    /// The code stops working at this instant (5 minutes).
    pub expires_at: OffsetDateTime,
}

/// Sign in with the code.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct SmsVerifyRequest {
    /// The ecosystem (tenant id).
    pub tenant: Text,
    /// The phone the code was sent to.
    pub phone: Text,
    /// The 6-digit code.
    pub code: Text,
}

impl Example for SmsVerifyRequest {
    fn example() -> Self {
        SmsVerifyRequest { tenant: "svoy-krug".into(), phone: "+7 912 345-67-89".into(), code: "482913".into() }
    }
}

/// Staff sign-in.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct StaffLoginRequest {
    /// The ecosystem (tenant id).
    pub tenant: Text,
    /// The staff login.
    pub login: Text,
    /// The password.
    pub password: Text,
}

impl Example for StaffLoginRequest {
    fn example() -> Self {
        StaffLoginRequest {
            tenant: "svoy-krug".into(),
            login: "mindal.cashier".into(),
            password: "correct horse battery".into(),
        }
    }
}

/// Superadmin sign-in.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct SuperadminLoginRequest {
    /// The superadmin login from the settings.
    pub login: Text,
    /// The password.
    pub password: Text,
}

/// Use or end a refresh token.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct RefreshRequest {
    /// The ecosystem (tenant id).
    pub tenant: Text,
    /// The refresh token from the last sign-in or refresh.
    pub refresh_token: Text,
}

impl Example for SuperadminLoginRequest {
    fn example() -> Self {
        SuperadminLoginRequest { login: "superadmin".into(), password: "a long passphrase".into() }
    }
}

impl Example for RefreshRequest {
    fn example() -> Self {
        RefreshRequest { tenant: "svoy-krug".into(), refresh_token: "0190a1b2c3d4e5f60718293a4b5c6d7e.Zm9vYmFy".into() }
    }
}

/// Tokens for the API.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Tokens {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u32,
    /// Use once at `/v1/auth/refresh` for new tokens (absent for the superadmin).
    pub refresh_token: Option<String>,
    /// The role signed in.
    pub role: String,
    /// The member id (members only).
    pub member_id: Option<Uuid>,
    /// Whether this sign-in registered the member.
    pub new_member: Option<bool>,
    /// The business of a cashier, manager or owner.
    pub business: Option<String>,
}

impl Example for Tokens {
    fn example() -> Self {
        Tokens {
            access_token: "eyJhbGciOiJIUzI1NiIsImtpZCI6ImoxIn0.e30.sig".into(),
            token_type: "Bearer".into(),
            expires_in: 900,
            refresh_token: Some("0190a1b2c3d4e5f60718293a4b5c6d7e.Zm9vYmFy".into()),
            role: "member".into(),
            member_id: Some(Uuid::nil()),
            new_member: Some(true),
            business: None,
        }
    }
}

/// Sign-out done.
#[derive(ApiResponse)]
pub enum SignedOut {
    /// Every token of this sign-in is revoked.
    #[oai(status = 204)]
    Done,
}

/// Parses the tenant of an unauthenticated request: an unknown tenant answers like a wrong code
/// would not — it is not secret which ecosystems an appliance hosts.
fn tenant(value: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(value).map_err(|_| ApiError::new(404, "tenant_not_found", format!("tenant {value:?} is not known")))
}

/// Parses a phone from the wire (`422 invalid_input` for anything that is not one).
pub(crate) fn phone(value: &str) -> Result<Phone, ApiError> {
    Phone::parse(value).map_err(|e| ApiError::invalid("phone", e.to_string()))
}

/// The client address for limits and audit records (the IP, without the port).
pub fn client_ip(remote: &RemoteAddr) -> String {
    remote.as_socket_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// The client address for an audit record: the IP, or nothing when the transport has none (an
/// audit record takes only a real address).
pub fn audit_client(remote: &RemoteAddr) -> Option<String> {
    remote.as_socket_addr().map(|a| a.ip().to_string())
}

/// Counts a request against the per-client-address limit of the sign-in endpoints (and the
/// counter's phone lookup, which sends codes too): `429 rate_limited` beyond it.
pub(crate) async fn limit(state: &AppState, remote: &RemoteAddr) -> Result<(), ApiError> {
    state.limiter.hit(&client_ip(remote)).await.map_err(|retry| {
        ApiError::from_problem(
            Problem::new(429, "rate_limited", "too many sign-in requests from this address"),
            Some(retry),
        )
    })
}

async fn tokens(state: &AppState, principal: &Principal, refresh: bool) -> Result<Tokens, ApiError> {
    let ttl = state.settings.access_ttl_seconds;
    let access = state.jwt.issue(principal, state.now().unix_timestamp(), ttl).map_err(|e| ApiError::internal(&e))?;
    let refresh_token = match (&principal.tenant, refresh) {
        (Some(tenant), true) => {
            let session = krug::Session {
                subject: principal.subject.clone(),
                role: principal.role.as_str().to_owned(),
                business: principal.business.clone(),
            };
            Some(
                state
                    .krug
                    .issue_refresh(tenant, &session, Duration::days(i64::from(state.settings.refresh_ttl_days)))
                    .await?,
            )
        }
        _ => None,
    };
    Ok(Tokens {
        access_token: access,
        token_type: "Bearer".into(),
        expires_in: ttl,
        refresh_token,
        role: principal.role.as_str().to_owned(),
        member_id: None,
        new_member: None,
        business: principal.business.as_ref().map(ToString::to_string),
    })
}

fn staff_role(role: krug::Role) -> Role {
    match role {
        krug::Role::Cashier => Role::Cashier,
        krug::Role::Manager => Role::Manager,
        krug::Role::Owner => Role::Owner,
        _ => Role::Operator,
    }
}

#[OpenApi(prefix_path = "/v1/auth", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Send a 6-digit sign-in code to a phone (valid 5 minutes; at most 1 a minute and 5 an hour
    /// per phone).
    #[oai(path = "/sms-code", method = "post", operation_id = "auth_sms_code")]
    async fn sms_code(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        body: Json<SmsCodeRequest>,
    ) -> Result<Json<SmsCodeSent>, ApiError> {
        limit(&state, remote).await?;
        let tenant = tenant(&body.tenant)?;
        let phone = phone(&body.phone)?;
        let issued = state.krug.issue_sms_code(&tenant, &phone).await?;
        state
            .sms
            .send(&phone, &format!("Код входа: {}. Никому его не сообщайте.", issued.code))
            .await
            .map_err(|e| ApiError::internal(&e))?;
        Ok(Json(SmsCodeSent { expires_at: issued.expires_at }))
    }

    /// Sign in with the SMS code. The first sign-in registers the member (only the phone is
    /// needed) and records her consent to processing.
    #[oai(path = "/sms-verify", method = "post", operation_id = "auth_sms_verify")]
    async fn sms_verify(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        body: Json<SmsVerifyRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        limit(&state, remote).await?;
        let tenant = tenant(&body.tenant)?;
        let phone = phone(&body.phone)?;
        let signed_in = state.krug.verify_sms_code(&tenant, &phone, &body.code).await?;
        let principal = Principal {
            subject: signed_in.member.to_string(),
            tenant: Some(tenant),
            role: Role::Member,
            business: None,
        };
        let mut t = tokens(&state, &principal, true).await?;
        t.member_id = Some(signed_in.member.as_uuid());
        t.new_member = Some(signed_in.new_member);
        Ok(Json(t))
    }

    /// Staff sign-in (cashier, manager, owner, operator).
    #[oai(path = "/staff-login", method = "post", operation_id = "auth_staff_login")]
    async fn staff_login(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        body: Json<StaffLoginRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        limit(&state, remote).await?;
        let tenant = tenant(&body.tenant)?;
        let staff = state.krug.verify_staff_login(&tenant, &body.login, &body.password).await?;
        let principal = Principal {
            subject: staff.id.to_string(),
            tenant: Some(tenant),
            role: staff_role(staff.role),
            business: staff.business.clone(),
        };
        Ok(Json(tokens(&state, &principal, true).await?))
    }

    /// Superadmin sign-in (appliance administration; no refresh token).
    #[oai(path = "/superadmin-login", method = "post", operation_id = "auth_superadmin_login")]
    async fn superadmin_login(
        &self,
        state: Data<&AppState>,
        remote: &RemoteAddr,
        body: Json<SuperadminLoginRequest>,
    ) -> Result<Json<Tokens>, ApiError> {
        limit(&state, remote).await?;
        let refused = || ApiError::new(401, "invalid_credentials", "invalid login or password");
        let Some(hash) = state.settings.superadmin_password_hash.as_deref() else {
            return Err(refused());
        };
        let login_ok = *body.login == *state.settings.superadmin_login;
        let password_ok = krug::verify_secret(&body.password, hash).await?;
        if !(login_ok && password_ok) {
            return Err(refused());
        }
        let principal =
            Principal { subject: body.login.0.clone(), tenant: None, role: Role::Superadmin, business: None };
        Ok(Json(tokens(&state, &principal, false).await?))
    }

    /// Exchange a refresh token for new tokens. Each refresh token works once; presenting a used
    /// one again revokes every token of that sign-in (`401 refresh_reused`).
    #[oai(path = "/refresh", method = "post", operation_id = "auth_refresh")]
    async fn refresh(&self, state: Data<&AppState>, body: Json<RefreshRequest>) -> Result<Json<Tokens>, ApiError> {
        let tenant = tenant(&body.tenant)?;
        let ttl = Duration::days(i64::from(state.settings.refresh_ttl_days));
        let (session, next) = state.krug.rotate_refresh(&tenant, &body.refresh_token, ttl).await?;
        let role = Role::parse(&session.role).ok_or_else(|| ApiError::unauthorized("unknown role"))?;
        // A staff account deactivated or changed since sign-in gets no new tokens.
        if role != Role::Member {
            let id = session.subject.parse().map_err(|_| ApiError::unauthorized("malformed subject"))?;
            let staff =
                state.krug.staff(&tenant, id).await.map_err(|_| ApiError::unauthorized("staff account gone"))?;
            if !staff.active || staff_role(staff.role) != role || staff.business != session.business {
                return Err(ApiError::new(401, "refresh_invalid", "the staff account changed; sign in again"));
            }
        }
        let principal =
            Principal { subject: session.subject, tenant: Some(tenant), role, business: session.business.clone() };
        let mut t = tokens(&state, &principal, false).await?;
        t.refresh_token = Some(next);
        if role == Role::Member {
            t.member_id = principal.subject.parse().ok();
        }
        Ok(Json(t))
    }

    /// Sign out: revoke the refresh token and every token of its sign-in.
    #[oai(path = "/logout", method = "post", operation_id = "auth_logout")]
    async fn logout(&self, state: Data<&AppState>, body: Json<RefreshRequest>) -> Result<SignedOut, ApiError> {
        let tenant = tenant(&body.tenant)?;
        state.krug.revoke_refresh(&tenant, &body.refresh_token).await?;
        Ok(SignedOut::Done)
    }
}
