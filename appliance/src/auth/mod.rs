//! Who is calling: the principal behind a bearer token, and the roles operations require.

pub mod jwt;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use krug::types::{BusinessId, TenantId};

use crate::problem::ApiError;
use crate::state::AppState;

/// The roles of the platform. Business-scoped roles carry their business; the operator is
/// scoped to a tenant; the superadmin to the whole appliance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A member using the app.
    Member,
    /// A partner's cashier: scans and refunds at one business.
    Cashier,
    /// A partner's manager: a cashier's rights plus the business's views.
    Manager,
    /// A partner's owner: a manager's rights for the business.
    Owner,
    /// The tenant's operator: manages the ecosystem.
    Operator,
    /// The appliance's administrator: hosts tenants.
    Superadmin,
}

impl Role {
    /// The role's name in tokens.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Cashier => "cashier",
            Role::Manager => "manager",
            Role::Owner => "owner",
            Role::Operator => "operator",
            Role::Superadmin => "superadmin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "member" => Role::Member,
            "cashier" => Role::Cashier,
            "manager" => Role::Manager,
            "owner" => Role::Owner,
            "operator" => Role::Operator,
            "superadmin" => Role::Superadmin,
            _ => return None,
        })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Member id, staff id or superadmin login.
    pub subject: String,
    /// The tenant (None only for the superadmin).
    pub tenant: Option<TenantId>,
    /// The role.
    pub role: Role,
    /// The business of a cashier, manager or owner.
    pub business: Option<BusinessId>,
}

impl Principal {
    /// Refuses (403) unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Principal, ApiError> {
        if roles.contains(&self.role) {
            Ok(self)
        } else {
            Err(ApiError::forbidden(format!("the {} role may not do this", self.role.as_str())))
        }
    }

    /// The caller's tenant, or 403 for a principal without one.
    pub fn tenant(&self) -> Result<&TenantId, ApiError> {
        self.tenant.as_ref().ok_or_else(|| ApiError::forbidden("this operation needs a tenant-scoped principal"))
    }

    /// The caller's business, or 403 for a principal without one.
    pub fn business(&self) -> Result<&BusinessId, ApiError> {
        self.business.as_ref().ok_or_else(|| ApiError::forbidden("this operation needs a business-scoped principal"))
    }

    /// The member id of a member principal.
    pub fn member(&self) -> Result<krug::types::MemberId, ApiError> {
        self.require(&[Role::Member])?;
        self.subject.parse().map_err(|_| ApiError::unauthorized("malformed subject"))
    }

    /// A short actor string for audit records (`cashier:<staff id>`).
    pub fn actor(&self) -> String {
        format!("{}:{}", self.role.as_str(), self.subject)
    }
}

/// Bearer JWT access token (`Authorization: Bearer <token>`), from sign-in.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_token")]
pub struct BearerAuth(pub Principal);

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))?;
    state
        .jwt
        .verify(&bearer.token, state.now().unix_timestamp())
        .map_err(|e| poem::Error::from_string(e.to_string(), poem::http::StatusCode::UNAUTHORIZED))
}
