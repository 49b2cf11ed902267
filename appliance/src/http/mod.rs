//! The HTTP API: one `#[OpenApi]` struct per resource, composed here. Handlers are thin:
//! principal + DTO → SDK command → DTO.

pub mod admin;
pub mod auth;
pub mod business;
pub mod chains;
pub mod coupons;
pub mod dto;
pub mod event_votes;
pub mod events;
pub mod health;
pub mod lookup;
pub mod me;
pub mod offer_dto;
pub mod offers;
pub mod operator;
pub mod scans;
pub mod staff;

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::{OpenApiService, Tags};

use crate::state::AppState;

/// Operation groups in the spec.
#[derive(Tags)]
pub enum ApiTags {
    /// Liveness, readiness and metrics.
    Health,
    /// Signing in: SMS codes for members, passwords for staff, token refresh.
    Auth,
    /// The member's app: profile, balance, history, status, QR wallet.
    Member,
    /// The partner's counter: scans, refunds, and finding a member without her phone.
    Counter,
    /// A partner's own clients and purchases (owner, manager).
    Business,
    /// The tenant operator: adjustments, invitations, settlement, budget, audit.
    Operator,
    /// The tenant's staff accounts, configuration and businesses (operator; an owner for his
    /// own business's cashiers and managers).
    Staff,
    /// Appliance administration: hosting, creating and suspending tenants (superadmin).
    Admin,
    /// The events hub: events, registrations and tickets, check-in, members' proposals and
    /// votes, and the event budget.
    Events,
    /// Coupon templates and codes (owner, operator) and the cashier's coupon preview.
    Coupons,
    /// Partners' offers (Rhai rules or templates): authoring, dry runs, backtests, analytics;
    /// the operator's approval.
    Offers,
    /// Cross-promo chains between partners: drafting, approvals, start/pause, win-win analytics.
    Chains,
}

/// The composed API.
pub type Api = (
    health::HealthApi,
    auth::AuthApi,
    me::MeApi,
    scans::ScansApi,
    lookup::LookupApi,
    business::BusinessApi,
    operator::OperatorApi,
    staff::StaffApi,
    admin::AdminApi,
    events::EventsApi,
    event_votes::EventVotesApi,
    coupons::CouponsApi,
    offers::OffersApi,
    chains::ChainsApi,
);

/// The OpenAPI service (also what `krug openapi` prints).
pub fn service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            health::HealthApi,
            auth::AuthApi,
            me::MeApi,
            scans::ScansApi,
            lookup::LookupApi,
            business::BusinessApi,
            operator::OperatorApi,
            staff::StaffApi,
            admin::AdminApi,
            events::EventsApi,
            event_votes::EventVotesApi,
            coupons::CouponsApi,
            offers::OffersApi,
            chains::ChainsApi,
        ),
        "Krug",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Coalition loyalty: members earn bonuses at one partner and spend them at another, climb \
             status tiers across categories. Errors are RFC 9457 problem+json with a stable `code`.",
    )
    .server("/")
}

/// The exported spec, as checked in at `openapi/krug.yaml`.
pub fn spec_yaml() -> String {
    service().spec_yaml()
}

/// Appends an audit record for something a caller did through the API (a read of members'
/// personal data, an administrative change), with the caller's address.
pub(crate) async fn audit(
    state: &AppState,
    tenant: &krug::types::TenantId,
    actor: String,
    action: &str,
    target: String,
    detail: serde_json::Value,
    remote: &poem::web::RemoteAddr,
) -> Result<(), crate::problem::ApiError> {
    let event = krug::AuditEvent {
        actor,
        action: action.to_owned(),
        target,
        detail_json: detail.to_string(),
        client: auth::audit_client(remote),
    };
    Ok(state.krug.record_audit(tenant, event).await?)
}

/// Counts and times every request by its operation id.
pub async fn observe<E: Endpoint>(ep: E, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let state = req.data::<AppState>().cloned();
    let result = ep.call(req).await.map(IntoResponse::into_response);
    if let Some(state) = state {
        let (operation, status) = match &result {
            Ok(resp) => (resp.data::<poem_openapi::OperationId>().map(|o| o.0), resp.status().as_u16()),
            Err(err) => (err.data::<poem_openapi::OperationId>().map(|o| o.0), err.status().as_u16()),
        };
        let operation = operation.unwrap_or("other");
        state.metrics.requests.with_label_values(&[operation, &status.to_string()]).inc();
        state.metrics.latency.with_label_values(&[operation]).observe(started.elapsed().as_secs_f64());
    }
    result
}
