//! The tenant operator's tools: manual adjustments, Inner Circle invitations, the partner
//! settlement statement, the event budget and the audit log. Every operation is scoped to the
//! operator's own tenant by the token.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::dto::Text;
use super::dto::{Balance, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Operator endpoints.
pub struct OperatorApi;

/// A manual bonus adjustment.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct AdjustmentRequest {
    /// Your idempotency key: a retry with the same key returns the first result.
    pub key: Text,
    /// Signed amount in bonus kopecks: positive credits, negative debits available bonuses.
    pub amount_kopecks: i64,
    /// Why, in words (kept in the audit log).
    pub reason: Text,
    /// The partner that funds a credit; absent for the ecosystem.
    pub funded_by: Option<Text>,
}

impl Example for AdjustmentRequest {
    fn example() -> Self {
        AdjustmentRequest {
            key: "adj-2026-03-02-001".into(),
            amount_kopecks: 30_000,
            reason: "Goodwill after a late delivery".into(),
            funded_by: Some("lisichkino".into()),
        }
    }
}

/// The adjustment written.
#[derive(Debug, Clone, Object)]
pub struct AdjustmentResponse {
    /// The ledger entry.
    pub entry_id: Uuid,
    /// The signed amount.
    pub amount_kopecks: i64,
    /// The member's balance after it.
    pub balance: Balance,
}

/// An invitation to an invitation-only tier.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct InviteRequest {
    /// The tier code (e.g. `inner-circle`).
    pub tier: Text,
}

impl Example for InviteRequest {
    fn example() -> Self {
        InviteRequest { tier: "inner-circle".into() }
    }
}

/// One line of the partner settlement: `from` owes `to` for bonuses it issued that were spent
/// at `to`.
#[derive(Debug, Clone, Object)]
pub struct SettlementLine {
    /// The issuing business (debtor).
    pub from: String,
    /// The redeeming business (creditor).
    pub to: String,
    /// Net amount, kopecks.
    pub amount_kopecks: i64,
}

/// One audit record.
#[derive(Debug, Clone, Object)]
pub struct AuditLine {
    /// Who.
    pub actor: String,
    /// What (`bonus.adjust`, `tier.invite`, …).
    pub action: String,
    /// To whom/what.
    pub target: String,
    /// Details (JSON text).
    pub detail: String,
    /// When.
    pub at: OffsetDateTime,
}

/// Event budget: balance and contributions per business.
#[derive(Debug, Clone, Object)]
pub struct BudgetReport {
    /// Everything contributed minus reversals, kopecks.
    pub balance_kopecks: i64,
    /// Net contributions in the period, by business.
    pub contributions: Vec<BudgetContribution>,
}

/// One business's contribution.
#[derive(Debug, Clone, Object)]
pub struct BudgetContribution {
    /// The business.
    pub business: String,
    /// Net contribution, kopecks.
    pub amount_kopecks: i64,
}

fn operator(auth: &BearerAuth) -> Result<&krug::types::TenantId, ApiError> {
    auth.0.require(&[Role::Operator])?;
    auth.0.tenant()
}

pub(super) fn period(from: OffsetDateTime, to: OffsetDateTime) -> Result<std::ops::Range<OffsetDateTime>, ApiError> {
    if from >= to {
        return Err(ApiError::invalid("to", "must be after from"));
    }
    Ok(from..to)
}

#[OpenApi(prefix_path = "/v1/operator", tag = "ApiTags::Operator")]
impl OperatorApi {
    /// Adjust a member's bonuses by hand, with a reason; audited and idempotent by `key`.
    #[oai(path = "/members/:member_id/adjustments", method = "post", operation_id = "operator_adjust")]
    async fn adjust(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        member_id: Path<String>,
        body: Json<AdjustmentRequest>,
    ) -> Result<Json<AdjustmentResponse>, ApiError> {
        let tenant = operator(&auth)?;
        let member = parse_id("member", &member_id.0)?;
        let amount = krug::types::Bonus::new(body.amount_kopecks)
            .map_err(|e| ApiError::new(422, "invalid_amount", format!("amount_kopecks: {e}")))?;
        let funded_by = body
            .funded_by
            .as_deref()
            .map(|b| krug::types::BusinessId::parse(b).map_err(|_| ApiError::not_found("business")))
            .transpose()?;
        let receipt = state
            .krug
            .adjust(
                tenant,
                krug::Adjust {
                    member,
                    amount,
                    reason: body.reason.0.clone(),
                    actor: auth.0.actor(),
                    funded_by,
                    key: body.key.0.clone(),
                },
            )
            .await?;
        Ok(Json(AdjustmentResponse {
            entry_id: receipt.entry.as_uuid(),
            amount_kopecks: receipt.amount.get(),
            balance: Balance::from(&receipt.balance),
        }))
    }

    /// Invite a member to an invitation-only tier (Inner Circle); audited.
    #[oai(path = "/members/:member_id/invitation", method = "put", operation_id = "operator_invite")]
    async fn invite(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        member_id: Path<String>,
        body: Json<InviteRequest>,
    ) -> Result<Json<super::me::Status>, ApiError> {
        let tenant = operator(&auth)?;
        let member = parse_id("member", &member_id.0)?;
        let tier = krug::types::TierCode::parse(&body.tier).map_err(|e| ApiError::invalid("tier", e.to_string()))?;
        state.krug.invite(tenant, member, &tier, &auth.0.actor()).await?;
        status(&state, tenant, member).await
    }

    /// Remove a member's invitation-only tier; audited.
    #[oai(path = "/members/:member_id/invitation", method = "delete", operation_id = "operator_uninvite")]
    async fn uninvite(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        member_id: Path<String>,
    ) -> Result<Json<super::me::Status>, ApiError> {
        let tenant = operator(&auth)?;
        let member = parse_id("member", &member_id.0)?;
        state.krug.uninvite(tenant, member, &auth.0.actor()).await?;
        status(&state, tenant, member).await
    }

    /// Partner settlement for `[from, to)`: who owes whom for bonuses spent across partners.
    #[oai(path = "/settlement", method = "get", operation_id = "operator_settlement")]
    async fn settlement(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Period start (inclusive), RFC 3339.
        from: Query<OffsetDateTime>,
        /// Period end (exclusive), RFC 3339.
        to: Query<OffsetDateTime>,
    ) -> Result<Json<Vec<SettlementLine>>, ApiError> {
        let tenant = operator(&auth)?;
        let lines = state.krug.settlement(tenant, period(from.0, to.0)?).await?;
        Ok(Json(
            lines
                .into_iter()
                .map(|l| SettlementLine {
                    from: l.from.to_string(),
                    to: l.to.to_string(),
                    amount_kopecks: l.amount.get(),
                })
                .collect(),
        ))
    }

    /// The event budget's balance and each partner's contribution for `[from, to)`.
    #[oai(path = "/budget", method = "get", operation_id = "operator_budget")]
    async fn budget(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Period start (inclusive), RFC 3339.
        from: Query<OffsetDateTime>,
        /// Period end (exclusive), RFC 3339.
        to: Query<OffsetDateTime>,
    ) -> Result<Json<BudgetReport>, ApiError> {
        let tenant = operator(&auth)?;
        let report = state.krug.budget(tenant, period(from.0, to.0)?).await?;
        Ok(Json(BudgetReport {
            balance_kopecks: report.balance,
            contributions: report
                .contributions
                .into_iter()
                .map(|(b, amount)| BudgetContribution { business: b.to_string(), amount_kopecks: amount })
                .collect(),
        }))
    }

    /// The audit log, newest first.
    #[oai(path = "/audit", method = "get", operation_id = "operator_audit")]
    async fn audit(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// How many records, 1–200 (default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<AuditLine>>, ApiError> {
        let tenant = operator(&auth)?;
        let records = state.krug.audit_log(tenant, limit.0.unwrap_or(50)).await?;
        Ok(Json(
            records
                .into_iter()
                .map(|r| AuditLine { actor: r.actor, action: r.action, target: r.target, detail: r.detail, at: r.at })
                .collect(),
        ))
    }
}

async fn status(
    state: &AppState,
    tenant: &krug::types::TenantId,
    member: krug::types::MemberId,
) -> Result<Json<super::me::Status>, ApiError> {
    let s = state.krug.status(tenant, member).await?;
    Ok(Json(super::me::Status::from(s)))
}
