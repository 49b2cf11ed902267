//! Appliance administration (the superadmin): which tenants the appliance hosts, creating one
//! from its configuration, and suspending or resuming one. The superadmin sees tenants only as
//! counts — never a member, a purchase or a staff account.
//!
//! A created tenant is stored with its configuration and gets a key ring in
//! `<data_dir>/keys/<id>.toml`, so a restarted appliance over the same data folder and store
//! hosts it again.

use poem::web::{Data, RemoteAddr};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::ApiTags;
use super::dto::Text;
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;
use krug::tenant::TenantConfig;
use krug::types::TenantId;

/// Administration endpoints.
pub struct AdminApi;

/// The largest configuration accepted, in bytes (a tenant file is a few kilobytes).
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;

/// Serialises tenant creation in this process, so two requests for the same id cannot both pass
/// the existence check and race to write its key file.
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A tenant as the superadmin sees it.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct TenantInfo {
    /// The tenant id (slug).
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Whether it is suspended (every call of its members and staff refused).
    pub suspended: bool,
    /// Its active businesses.
    pub businesses: u64,
    /// Its registered members.
    pub members: u64,
}

impl Example for TenantInfo {
    fn example() -> Self {
        TenantInfo {
            id: "svoy-krug".into(), name: "Свой круг".into(), suspended: false, businesses: 5, members: 1_240
        }
    }
}

impl From<krug::TenantSummary> for TenantInfo {
    fn from(t: krug::TenantSummary) -> TenantInfo {
        TenantInfo {
            id: t.id.to_string(),
            name: t.name,
            suspended: t.suspended,
            businesses: u64::try_from(t.businesses).unwrap_or(u64::MAX),
            members: t.members,
        }
    }
}

/// A new tenant.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewTenantRequest {
    /// The whole `tenant.toml` (the format of `tenants/svoy-krug/tenant.toml`).
    pub config_toml: Text,
}

impl Example for NewTenantRequest {
    fn example() -> Self {
        NewTenantRequest { config_toml: Text::from(EXAMPLE_CONFIG) }
    }
}

/// A small complete configuration, for the spec's examples.
pub(crate) const EXAMPLE_CONFIG: &str = "id = \"zelenyi-kvartal\"\nname = \"Зелёный Квартал\"\n\
timezone = \"Asia/Yekaterinburg\"\n\n[[businesses]]\nid = \"florist\"\nname = \"Букет\"\n\
category = \"flowers\"\n\n[[tiers]]\ncode = \"friend\"\nname = \"Друг\"\nmin_categories = 1\n\
cashback_bps = 300\n";

/// A created tenant.
#[derive(ApiResponse)]
pub enum TenantCreated {
    /// The tenant is hosted and stored; its members and staff can start.
    #[oai(status = 201)]
    Created(Json<TenantInfo>),
}

fn superadmin(auth: &BearerAuth) -> Result<String, ApiError> {
    auth.0.require(&[Role::Superadmin])?;
    Ok(auth.0.actor())
}

fn tenant_id(value: &str) -> Result<TenantId, ApiError> {
    TenantId::parse(value).map_err(|_| ApiError::new(404, "tenant_not_found", format!("tenant {value:?} is not known")))
}

/// Parses a configuration from the wire: every problem in `errors[]` (`422 invalid_config`).
pub(crate) fn parse_config(text: &str) -> Result<TenantConfig, ApiError> {
    if text.len() > MAX_CONFIG_BYTES {
        return Err(ApiError::invalid("config_toml", format!("must be at most {MAX_CONFIG_BYTES} bytes")));
    }
    TenantConfig::from_toml_str(text).map_err(|e| ApiError::from(krug::Error::Config(e)))
}

async fn summary(state: &AppState, id: &TenantId) -> Result<TenantInfo, ApiError> {
    let tenants = state.krug.tenants().await?;
    tenants
        .into_iter()
        .find(|t| &t.id == id)
        .map(TenantInfo::from)
        .ok_or_else(|| ApiError::new(404, "tenant_not_found", format!("tenant {id} is not known")))
}

#[OpenApi(prefix_path = "/v1/admin", tag = "ApiTags::Admin")]
impl AdminApi {
    /// Every tenant in the store, with its suspension and counts.
    ///
    /// Superadmin only. Counts only: no member, purchase or staff data crosses tenants.
    #[oai(path = "/tenants", method = "get", operation_id = "admin_tenants")]
    async fn tenants(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<TenantInfo>>, ApiError> {
        superadmin(&auth)?;
        Ok(Json(state.krug.tenants().await?.into_iter().map(TenantInfo::from).collect()))
    }

    /// Create a tenant from its configuration.
    ///
    /// Superadmin only. The configuration is validated as a whole (`422 invalid_config` lists
    /// every problem in `errors[]`); an id the store already has is `409 tenant_exists`. The
    /// tenant's personal-data keys are generated into the appliance's data folder, the
    /// configuration is stored, and the creation is recorded in the new tenant's audit log
    /// (`tenant.create`). Its first operator is then created by the operator tools or the CLI.
    #[oai(path = "/tenants", method = "post", operation_id = "admin_create_tenant")]
    async fn create_tenant(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<NewTenantRequest>,
    ) -> Result<TenantCreated, ApiError> {
        let actor = superadmin(&auth)?;
        let config = parse_config(&body.config_toml)?;
        let id = config.id.clone();
        let businesses = config.businesses.len();
        let _creating = CREATING.lock().await;
        let stored = state.krug.tenants().await?;
        if state.krug.hosted_tenants().contains(&id) || stored.iter().any(|t| t.id == id) {
            return Err(ApiError::new(409, "tenant_exists", format!("tenant {id} already exists")));
        }
        let keys = crate::app::tenant_keys(&state.settings.data_dir, &config).map_err(|e| ApiError::internal(&e))?;
        state.krug.apply_tenant(config, keys).await?;
        super::audit(
            &state,
            &id,
            actor,
            "tenant.create",
            format!("tenant:{id}"),
            serde_json::json!({ "businesses": businesses }),
            remote,
        )
        .await?;
        tracing::info!(tenant = %id, "tenant created");
        Ok(TenantCreated::Created(Json(summary(&state, &id).await?)))
    }

    /// Suspend a tenant: every call of its members and staff answers `403 tenant_suspended`.
    ///
    /// Superadmin only. Stored, so it survives a restart; recorded in the tenant's audit log.
    /// Suspending a suspended tenant changes nothing.
    #[oai(path = "/tenants/:tenant_id/suspend", method = "post", operation_id = "admin_suspend_tenant")]
    async fn suspend(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        tenant_id: Path<String>,
    ) -> Result<Json<TenantInfo>, ApiError> {
        let actor = superadmin(&auth)?;
        let id = self::tenant_id(&tenant_id.0)?;
        state.krug.suspend_tenant(&id, &actor).await?;
        Ok(Json(summary(&state, &id).await?))
    }

    /// Resume a suspended tenant.
    ///
    /// Superadmin only. Recorded in the tenant's audit log; resuming a tenant that is not
    /// suspended changes nothing.
    #[oai(path = "/tenants/:tenant_id/resume", method = "post", operation_id = "admin_resume_tenant")]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        tenant_id: Path<String>,
    ) -> Result<Json<TenantInfo>, ApiError> {
        let actor = superadmin(&auth)?;
        let id = self::tenant_id(&tenant_id.0)?;
        state.krug.resume_tenant(&id, &actor).await?;
        Ok(Json(summary(&state, &id).await?))
    }
}
