//! Offers over HTTP: a business's owner or manager writes offers (a Rhai script or a template),
//! tries them (dry run, backtest), submits them and reads their analytics; the operator approves
//! or rejects submitted versions, pauses and archives. A member lists her badges.
//!
//! Every business operation is scoped to the caller's own business by the token: another
//! business's offer answers 404. Handlers only convert DTOs; the rules live in the SDK.

use poem::web::Data;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;

use super::ApiTags;
use super::dto::parse_id;
pub use super::offer_dto::*;
use super::offer_dto::{member_facts, purchase_facts};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;
use krug::types::{BusinessId, OfferId, TenantId};

/// Offer endpoints.
pub struct OffersApi;

fn business_staff(auth: &BearerAuth) -> Result<(&TenantId, &BusinessId), ApiError> {
    auth.0.require(&[Role::Owner, Role::Manager])?;
    Ok((auth.0.tenant()?, auth.0.business()?))
}

fn operator(auth: &BearerAuth) -> Result<&TenantId, ApiError> {
    auth.0.require(&[Role::Operator])?;
    auth.0.tenant()
}

fn offers_out(list: &[krug::OfferView]) -> Json<Vec<Offer>> {
    Json(list.iter().map(Offer::from).collect())
}

#[OpenApi]
impl OffersApi {
    /// Create an offer of your business as a draft, from a Rhai script or a template.
    #[oai(
        path = "/v1/business/offers",
        method = "post",
        operation_id = "business_offer_create",
        tag = "ApiTags::Offers"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<OfferRequest>,
    ) -> Result<Json<Offer>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let config = state.krug.tenant_config(tenant)?;
        let draft = body.0.to_sdk(&config, business)?;
        Ok(Json(Offer::from(&state.krug.create_offer(tenant, business, draft).await?)))
    }

    /// Your business's offers, newest first.
    #[oai(path = "/v1/business/offers", method = "get", operation_id = "business_offers", tag = "ApiTags::Offers")]
    async fn list(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Offer>>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        Ok(offers_out(&state.krug.offers(tenant, Some(business)).await?))
    }

    /// One of your business's offers with its versions.
    #[oai(
        path = "/v1/business/offers/:offer_id",
        method = "get",
        operation_id = "business_offer",
        tag = "ApiTags::Offers"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Offer>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.offer(tenant, Some(business), offer).await?)))
    }

    /// Edit an offer: a draft changes in place; otherwise a new version is made that needs
    /// approval (the approved one keeps running until then).
    #[oai(
        path = "/v1/business/offers/:offer_id",
        method = "put",
        operation_id = "business_offer_edit",
        tag = "ApiTags::Offers"
    )]
    async fn edit(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
        body: Json<OfferRequest>,
    ) -> Result<Json<Offer>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        let config = state.krug.tenant_config(tenant)?;
        let draft = body.0.to_sdk(&config, business)?;
        Ok(Json(Offer::from(&state.krug.edit_offer(tenant, business, offer, draft).await?)))
    }

    /// Submit the latest version for approval; every example must pass.
    #[oai(
        path = "/v1/business/offers/:offer_id/submit",
        method = "post",
        operation_id = "business_offer_submit",
        tag = "ApiTags::Offers"
    )]
    async fn submit(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Offer>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.submit_offer(tenant, business, offer).await?)))
    }

    /// Pause one of your running offers.
    #[oai(
        path = "/v1/business/offers/:offer_id/pause",
        method = "post",
        operation_id = "business_offer_pause",
        tag = "ApiTags::Offers"
    )]
    async fn pause(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Offer>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.pause_offer(tenant, Some(business), offer, &auth.0.actor()).await?)))
    }

    /// Resume one of your paused offers.
    #[oai(
        path = "/v1/business/offers/:offer_id/resume",
        method = "post",
        operation_id = "business_offer_resume",
        tag = "ApiTags::Offers"
    )]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Offer>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.resume_offer(tenant, Some(business), offer, &auth.0.actor()).await?)))
    }

    /// Evaluate a script (or an offer's latest version) on one purchase and member; writes
    /// nothing.
    #[oai(
        path = "/v1/business/offers/dry-run",
        method = "post",
        operation_id = "business_offer_dry_run",
        tag = "ApiTags::Offers"
    )]
    async fn dry_run(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<DryRunRequest>,
    ) -> Result<Json<DryRunResponse>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let config = state.krug.tenant_config(tenant)?;
        let run = krug::DryRun {
            script: body.script.as_ref().map(|s| s.0.clone()),
            offer: body.offer_id.map(OfferId::from_uuid),
            purchase: purchase_facts(&config, business, &body.purchase)?,
            member: member_facts(body.member.as_ref())?,
        };
        let out = state.krug.dry_run_offer(tenant, business, run).await?;
        let (failure_kind, failure) = match out.failure {
            Some(krug::offer::ScriptFailure::Limit(m)) => (Some("limit".to_owned()), Some(m)),
            Some(krug::offer::ScriptFailure::Runtime(m)) => (Some("runtime".to_owned()), Some(m)),
            None => (None, None),
        };
        Ok(Json(DryRunResponse {
            effects: EffectsDto::from_sdk(&out.effects),
            bonus_kopecks: out.bonus.get(),
            failure_kind,
            failure,
        }))
    }

    /// Replay the offer's latest version over your business's purchases of the last `days` days
    /// (default 30): purchases matched, members reached, bonus cost, by day.
    #[oai(
        path = "/v1/business/offers/:offer_id/backtest",
        method = "get",
        operation_id = "business_offer_backtest",
        tag = "ApiTags::Offers"
    )]
    async fn backtest(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
        /// Days back, 1–366 (default 30).
        days: Query<Option<u32>>,
    ) -> Result<Json<BacktestResponse>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        let r = state.krug.backtest_offer(tenant, business, offer, days.0.unwrap_or(30), None).await?;
        Ok(Json(BacktestResponse {
            purchases: r.purchases,
            matched: r.matched,
            members_reached: r.members_reached,
            total_bonus_kopecks: r.total_bonus.get(),
            cost_per_member_kopecks: r.cost_per_member.get(),
            failures: r.failures,
            by_day: r
                .by_day
                .iter()
                .map(|d| BacktestDay {
                    day: d.day.clone(),
                    matched: d.matched,
                    members: d.members,
                    bonus_kopecks: d.bonus.get(),
                })
                .collect(),
        }))
    }

    /// Per version and day: matched purchases and revenue, activations, bonus, members, failures.
    #[oai(
        path = "/v1/business/offers/:offer_id/analytics",
        method = "get",
        operation_id = "business_offer_analytics",
        tag = "ApiTags::Offers"
    )]
    async fn analytics(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Vec<AnalyticsRow>>, ApiError> {
        let (tenant, business) = business_staff(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        let rows = state.krug.offer_analytics(tenant, Some(business), offer).await?;
        Ok(Json(
            rows.into_iter()
                .map(|r| AnalyticsRow {
                    version: r.version,
                    day: r.day,
                    matched: r.matched,
                    revenue_kopecks: r.revenue,
                    activations: r.activations,
                    bonus_kopecks: r.bonus,
                    members: r.members,
                    failures: r.failures,
                })
                .collect(),
        ))
    }

    /// Offers with a version waiting for your approval, oldest first.
    #[oai(
        path = "/v1/operator/offers/submitted",
        method = "get",
        operation_id = "operator_offers_submitted",
        tag = "ApiTags::Offers"
    )]
    async fn submitted(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Offer>>, ApiError> {
        let tenant = operator(&auth)?;
        Ok(offers_out(&state.krug.submitted_offers(tenant).await?))
    }

    /// Approve a submitted version: it starts running (replacing the earlier approved one). Audited.
    #[oai(
        path = "/v1/operator/offers/:offer_id/approve",
        method = "post",
        operation_id = "operator_offer_approve",
        tag = "ApiTags::Offers"
    )]
    async fn approve(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
        body: Json<ApproveRequest>,
    ) -> Result<Json<Offer>, ApiError> {
        let tenant = operator(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.approve_offer(tenant, offer, body.version, &auth.0.actor()).await?)))
    }

    /// Reject a submitted version with a reason. Audited.
    #[oai(
        path = "/v1/operator/offers/:offer_id/reject",
        method = "post",
        operation_id = "operator_offer_reject",
        tag = "ApiTags::Offers"
    )]
    async fn reject(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
        body: Json<RejectRequest>,
    ) -> Result<Json<Offer>, ApiError> {
        let tenant = operator(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        let view = state.krug.reject_offer(tenant, offer, body.version, &body.reason.0, &auth.0.actor()).await?;
        Ok(Json(Offer::from(&view)))
    }

    /// Pause any offer of the tenant. Audited.
    #[oai(
        path = "/v1/operator/offers/:offer_id/pause",
        method = "post",
        operation_id = "operator_offer_pause",
        tag = "ApiTags::Offers"
    )]
    async fn operator_pause(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Offer>, ApiError> {
        let tenant = operator(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.pause_offer(tenant, None, offer, &auth.0.actor()).await?)))
    }

    /// Archive an offer for good. Audited.
    #[oai(
        path = "/v1/operator/offers/:offer_id/archive",
        method = "post",
        operation_id = "operator_offer_archive",
        tag = "ApiTags::Offers"
    )]
    async fn archive(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        offer_id: Path<String>,
    ) -> Result<Json<Offer>, ApiError> {
        let tenant = operator(&auth)?;
        let offer: OfferId = parse_id("offer", &offer_id.0)?;
        Ok(Json(Offer::from(&state.krug.archive_offer(tenant, offer, &auth.0.actor()).await?)))
    }

    /// Your badges, oldest first.
    #[oai(path = "/v1/me/badges", method = "get", operation_id = "me_badges", tag = "ApiTags::Member")]
    async fn badges(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<BadgeDto>>, ApiError> {
        auth.0.require(&[Role::Member])?;
        let badges = state.krug.member_badges(auth.0.tenant()?, auth.0.member()?).await?;
        Ok(Json(badges.into_iter().map(|b| BadgeDto { code: b.code, awarded_at: b.awarded_at }).collect()))
    }
}
