//! The operator's staff and configuration tools: staff accounts (an owner also manages the
//! cashiers and managers of his own business), the tenant's configuration as TOML, and its
//! businesses. Every operation is scoped to the caller's own tenant by the token; password
//! hashes never leave the SDK.

use poem::web::{Data, RemoteAddr};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::admin::{EXAMPLE_CONFIG, parse_config};
use super::auth::audit_client;
use super::dto::{Text, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;
use krug::types::{BusinessId, TenantId};

/// Staff and configuration endpoints.
pub struct StaffApi;

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StaffRole {
    /// Scans and refunds at one business.
    Cashier,
    /// A cashier's rights plus the business's views.
    Manager,
    /// Owns one business; manages its cashiers and managers.
    Owner,
    /// Runs the whole tenant (no business).
    Operator,
}

impl From<StaffRole> for krug::Role {
    fn from(r: StaffRole) -> krug::Role {
        match r {
            StaffRole::Cashier => krug::Role::Cashier,
            StaffRole::Manager => krug::Role::Manager,
            StaffRole::Owner => krug::Role::Owner,
            StaffRole::Operator => krug::Role::Operator,
        }
    }
}

impl From<krug::Role> for StaffRole {
    fn from(r: krug::Role) -> StaffRole {
        match r {
            krug::Role::Cashier => StaffRole::Cashier,
            krug::Role::Manager => StaffRole::Manager,
            krug::Role::Owner => StaffRole::Owner,
            krug::Role::Operator => StaffRole::Operator,
        }
    }
}

/// A staff account (never its password or hash).
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct StaffAccount {
    /// The account id.
    pub staff_id: Uuid,
    /// The login (lower-case).
    pub login: String,
    /// The role.
    pub role: StaffRole,
    /// The business of a cashier, manager or owner.
    pub business: Option<String>,
    /// Whether it can sign in.
    pub active: bool,
    /// When it was created.
    pub created_at: OffsetDateTime,
}

impl Example for StaffAccount {
    fn example() -> Self {
        StaffAccount {
            staff_id: Uuid::nil(),
            login: "mindal.cashier".into(),
            role: StaffRole::Cashier,
            business: Some("mindal".into()),
            active: true,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

impl From<krug::Staff> for StaffAccount {
    fn from(s: krug::Staff) -> StaffAccount {
        StaffAccount {
            staff_id: s.id.as_uuid(),
            login: s.login.as_str().to_owned(),
            role: StaffRole::from(s.role),
            business: s.business.map(|b| b.to_string()),
            active: s.active,
            created_at: s.created_at,
        }
    }
}

/// A new staff account.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewStaffRequest {
    /// 3–64 of `a-z 0-9 . _ @ -` (lower-cased), unique in the tenant.
    pub login: Text,
    /// At least 10 characters; stored only as an Argon2id hash.
    pub password: Text,
    /// The role.
    pub role: StaffRole,
    /// The business: required for a cashier, manager or owner (an owner's own by default),
    /// refused for an operator.
    pub business: Option<Text>,
}

impl Example for NewStaffRequest {
    fn example() -> Self {
        NewStaffRequest {
            login: Text::from("mindal.cashier"),
            password: Text::from("correct horse battery"),
            role: StaffRole::Cashier,
            business: Some(Text::from("mindal")),
        }
    }
}

/// Changes to a staff account; absent fields stay as they are.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct StaffUpdateRequest {
    /// A new role.
    pub role: Option<StaffRole>,
    /// A new business; `null` removes it (as an operator needs).
    pub business: MaybeUndefined<Text>,
    /// Activate or deactivate (an inactive account cannot sign in or refresh).
    pub active: Option<bool>,
    /// A new password (at least 10 characters).
    pub password: Option<Text>,
}

impl Example for StaffUpdateRequest {
    fn example() -> Self {
        StaffUpdateRequest { role: None, business: MaybeUndefined::Undefined, active: Some(false), password: None }
    }
}

/// A created staff account.
#[derive(ApiResponse)]
pub enum StaffCreated {
    /// The account exists and can sign in.
    #[oai(status = 201)]
    Created(Json<StaffAccount>),
}

/// The tenant's configuration.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct TenantConfigBody {
    /// The whole `tenant.toml`.
    pub config_toml: Text,
}

impl Example for TenantConfigBody {
    fn example() -> Self {
        TenantConfigBody { config_toml: Text::from(EXAMPLE_CONFIG) }
    }
}

/// A business of the tenant.
#[derive(Debug, Clone, Object)]
pub struct BusinessInfo {
    /// The business id.
    pub business: String,
    /// Its name.
    pub name: String,
    /// Its category.
    pub category: String,
    /// A clinic: its purchase details fall under medical secrecy.
    pub medical: bool,
}

/// Who manages staff: the operator for the whole tenant, an owner for his own business.
enum Manager<'a> {
    Operator(&'a TenantId),
    Owner(&'a TenantId, &'a BusinessId),
}

impl Manager<'_> {
    fn tenant(&self) -> &TenantId {
        match self {
            Manager::Operator(t) | Manager::Owner(t, _) => t,
        }
    }

    /// Refuses (403) an owner touching anything but a cashier or manager of his own business.
    fn may_manage(&self, role: krug::Role, business: Option<&BusinessId>) -> Result<(), ApiError> {
        match self {
            Manager::Operator(_) => Ok(()),
            Manager::Owner(_, own) => {
                if matches!(role, krug::Role::Cashier | krug::Role::Manager) && business == Some(*own) {
                    Ok(())
                } else {
                    Err(ApiError::forbidden("an owner manages only the cashiers and managers of his own business"))
                }
            }
        }
    }
}

fn manager(auth: &BearerAuth) -> Result<Manager<'_>, ApiError> {
    auth.0.require(&[Role::Operator, Role::Owner])?;
    let tenant = auth.0.tenant()?;
    if auth.0.role == Role::Owner {
        Ok(Manager::Owner(tenant, auth.0.business()?))
    } else {
        Ok(Manager::Operator(tenant))
    }
}

fn operator(auth: &BearerAuth) -> Result<&TenantId, ApiError> {
    auth.0.require(&[Role::Operator])?;
    auth.0.tenant()
}

/// A business id from the wire: one that cannot exist names nothing (`404 business_not_found`).
fn business_id(value: &str) -> Result<BusinessId, ApiError> {
    BusinessId::parse(value)
        .map_err(|_| ApiError::new(404, "business_not_found", format!("business {value:?} is not part of this tenant")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[OpenApi(prefix_path = "/v1/operator", tag = "ApiTags::Staff")]
impl StaffApi {
    /// Staff accounts, ordered by login.
    ///
    /// An operator sees the whole tenant's staff, or one business's with `business`. An owner
    /// sees the cashiers and managers of his own business only (another `business` is 403).
    #[oai(path = "/staff", method = "get", operation_id = "staff_list")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Only this business's staff.
        business: Query<Option<String>>,
    ) -> Result<Json<Vec<StaffAccount>>, ApiError> {
        let who = manager(&auth)?;
        let business = business.0.as_deref().map(business_id).transpose()?;
        let staff = match &who {
            Manager::Operator(tenant) => state.krug.list_staff(tenant, business.as_ref()).await?,
            Manager::Owner(tenant, own) => {
                if business.as_ref().is_some_and(|b| b != *own) {
                    return Err(ApiError::forbidden("an owner sees only his own business's staff"));
                }
                let all = state.krug.list_staff(tenant, Some(own)).await?;
                all.into_iter().filter(|s| who.may_manage(s.role, s.business.as_ref()).is_ok()).collect()
            }
        };
        Ok(Json(staff.into_iter().map(StaffAccount::from).collect()))
    }

    /// Create a staff account.
    ///
    /// An operator creates any role; an owner creates cashiers and managers of his own business
    /// only (403 otherwise; `business` defaults to his). The login must be free in the tenant
    /// (`409 login_taken`). Recorded in the audit log (`staff.create`), without the password.
    #[oai(path = "/staff", method = "post", operation_id = "staff_create")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<NewStaffRequest>,
    ) -> Result<StaffCreated, ApiError> {
        let who = manager(&auth)?;
        let role = krug::Role::from(body.role);
        let business = match (&who, body.business.as_deref()) {
            (_, Some(b)) => Some(business_id(b)?),
            (Manager::Owner(_, own), None) => Some((*own).clone()),
            (Manager::Operator(_), None) => None,
        };
        who.may_manage(role, business.as_ref())?;
        let tenant = who.tenant();
        let cmd = krug::NewStaff {
            login: body.login.0.clone(),
            password: body.password.0.clone(),
            role,
            business,
            actor: auth.0.actor(),
            client: audit_client(remote),
        };
        let id = state.krug.create_staff(tenant, cmd).await?;
        Ok(StaffCreated::Created(Json(StaffAccount::from(state.krug.staff(tenant, id).await?))))
    }

    /// Change a staff account's role, business, active flag or password.
    ///
    /// An operator changes any account of the tenant; an owner only a cashier or manager of his
    /// own business, and only so that it stays one (403 otherwise). `business: null` removes
    /// the business (an operator has none). Recorded in the audit log (`staff.update`), without
    /// the password.
    #[oai(path = "/staff/:staff_id", method = "patch", operation_id = "staff_update")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        staff_id: Path<String>,
        body: Json<StaffUpdateRequest>,
    ) -> Result<Json<StaffAccount>, ApiError> {
        let who = manager(&auth)?;
        let tenant = who.tenant();
        let id = parse_id::<krug::types::StaffId>("staff account", &staff_id.0)?;
        let body = body.0;
        let business = match body.business {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(b) => Some(Some(business_id(&b)?)),
        };
        let role = body.role.map(krug::Role::from);
        if let Manager::Owner(..) = who {
            let current = state.krug.staff(tenant, id).await?;
            who.may_manage(current.role, current.business.as_ref())?;
            let next_business = business.clone().unwrap_or(current.business);
            who.may_manage(role.unwrap_or(current.role), next_business.as_ref())?;
        }
        let update = krug::StaffUpdate {
            role,
            business,
            active: body.active,
            password: body.password.map(String::from),
            actor: auth.0.actor(),
            client: audit_client(remote),
        };
        Ok(Json(StaffAccount::from(state.krug.update_staff(tenant, id, update).await?)))
    }

    /// Your tenant's configuration, as the TOML it was applied from.
    ///
    /// Operator only.
    #[oai(path = "/config", method = "get", operation_id = "config_get")]
    async fn config(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<TenantConfigBody>, ApiError> {
        let tenant = operator(&auth)?;
        Ok(Json(TenantConfigBody { config_toml: Text(state.krug.tenant_config(tenant)?.source.clone()) }))
    }

    /// Replace your tenant's configuration: businesses, tiers, bonus and budget rules.
    ///
    /// Operator only. Businesses are added, renamed or re-categorised here, in the
    /// `[[businesses]]` tables. The whole file is validated first (`422 invalid_config` lists
    /// every problem in `errors[]`) and must keep your tenant's `id` (`422 invalid_input`); an
    /// invalid file changes nothing. The new rules apply to every request that starts after this
    /// answers. Recorded in the audit log (`tenant.configure`, with the file's SHA-256).
    #[oai(path = "/config", method = "put", operation_id = "config_put")]
    async fn put_config(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<TenantConfigBody>,
    ) -> Result<Json<TenantConfigBody>, ApiError> {
        let tenant = operator(&auth)?;
        // Refuses a suspended tenant before anything changes.
        state.krug.tenant_config(tenant)?;
        let config = parse_config(&body.config_toml)?;
        if &config.id != tenant {
            return Err(ApiError::invalid("config_toml", format!("id must stay {tenant:?}, not {:?}", config.id)));
        }
        let detail = serde_json::json!({
            "sha256": hex(&Sha256::digest(config.source.as_bytes())),
            "businesses": config.businesses.len(),
        });
        let source = config.source.clone();
        state.krug.update_tenant_config(config).await?;
        super::audit(&state, tenant, auth.0.actor(), "tenant.configure", format!("tenant:{tenant}"), detail, remote)
            .await?;
        Ok(Json(TenantConfigBody { config_toml: Text(source) }))
    }

    /// Your tenant's businesses, in configuration order.
    ///
    /// Operator only. Businesses are created and changed through the configuration
    /// (`PUT /v1/operator/config`), not here.
    #[oai(path = "/businesses", method = "get", operation_id = "businesses_list")]
    async fn businesses(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<BusinessInfo>>, ApiError> {
        let tenant = operator(&auth)?;
        Ok(Json(
            state
                .krug
                .catalogue(tenant)?
                .into_iter()
                .map(|b| BusinessInfo {
                    business: b.business.to_string(),
                    name: b.name,
                    category: b.category.to_string(),
                    medical: b.medical,
                })
                .collect(),
        ))
    }
}
