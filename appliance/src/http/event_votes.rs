//! The event constructor and the event budget over HTTP: members propose and vote, the operator
//! moderates, converts a winner into a funded event, allocates and records spending; members see
//! the budget's summary, a partner its contribution statement, the operator the full ledger
//! (JSON or CSV).

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::business::CsvExport;
use super::dto::{Text, kopecks, parse_id};
use super::events::{Event, NewEventRequest};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Event proposals and budget endpoints.
pub struct EventVotesApi;

/// A member's event idea.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ProposalRequest {
    /// 1–200 characters.
    pub title: Text,
    /// Up to 4,000 characters.
    pub description: Text,
    /// Estimated cost, kopecks (positive).
    pub estimated_cost_kopecks: i64,
}

impl Example for ProposalRequest {
    fn example() -> Self {
        ProposalRequest {
            title: "Пикник в парке".into(),
            description: "Летний пикник для участниц".into(),
            estimated_cost_kopecks: 1_500_000,
        }
    }
}

/// A proposal.
#[derive(Debug, Clone, Object)]
pub struct Proposal {
    /// The proposal id.
    pub proposal_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Estimated cost, kopecks.
    pub estimated_cost_kopecks: i64,
    /// pending, approved, rejected or converted.
    pub status: String,
    /// The operator's reason for a rejection.
    pub reason: Option<String>,
    /// Voting opens.
    pub voting_opens_at: Option<OffsetDateTime>,
    /// Voting closes.
    pub voting_closes_at: Option<OffsetDateTime>,
    /// The event it became.
    pub event_id: Option<Uuid>,
    /// When proposed.
    pub created_at: OffsetDateTime,
}

impl From<krug::event::Proposal> for Proposal {
    fn from(p: krug::event::Proposal) -> Proposal {
        Proposal {
            proposal_id: p.id.as_uuid(),
            title: p.title,
            description: p.description,
            estimated_cost_kopecks: p.estimated_cost.get(),
            status: p.status.as_str().to_owned(),
            reason: p.reason,
            voting_opens_at: p.voting_opens_at,
            voting_closes_at: p.voting_closes_at,
            event_id: p.event.map(|e| e.as_uuid()),
            created_at: p.created_at,
        }
    }
}

/// A vote.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct VoteRequest {
    /// For (`true`) or against; a second vote replaces the first until voting closes.
    pub support: bool,
}

impl Example for VoteRequest {
    fn example() -> Self {
        VoteRequest { support: true }
    }
}

/// Raw and tier-weighted counts.
#[derive(Debug, Clone, Object)]
pub struct Results {
    /// The proposal.
    pub proposal: Proposal,
    /// Members for.
    pub raw_for: u64,
    /// Members against.
    pub raw_against: u64,
    /// Σ tier weights for.
    pub weighted_for: u64,
    /// Σ tier weights against.
    pub weighted_against: u64,
    /// Whether voting has closed.
    pub closed: bool,
    /// Whether it wins (more weight for than against).
    pub wins: bool,
}

impl From<krug::event::ProposalResults> for Results {
    fn from(r: krug::event::ProposalResults) -> Results {
        Results {
            proposal: r.proposal.into(),
            raw_for: r.tally.raw_for,
            raw_against: r.tally.raw_against,
            weighted_for: r.tally.weighted_for,
            weighted_against: r.tally.weighted_against,
            closed: r.closed,
            wins: r.tally.wins(),
        }
    }
}

/// The operator's moderation: approve with a voting window, or reject with a reason.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ModerationRequest {
    /// `true` approves (give the window), `false` rejects (give the reason).
    pub approve: bool,
    /// Voting opens (approval).
    pub voting_opens_at: Option<OffsetDateTime>,
    /// Voting closes (approval).
    pub voting_closes_at: Option<OffsetDateTime>,
    /// Why (rejection), 1–500 characters.
    pub reason: Option<Text>,
}

impl Example for ModerationRequest {
    fn example() -> Self {
        let at = time::macros::datetime!(2030-04-01 09:00 UTC);
        ModerationRequest {
            approve: true,
            voting_opens_at: Some(at),
            voting_closes_at: Some(at + time::Duration::days(7)),
            reason: None,
        }
    }
}

/// Turning a winning proposal into an event funded from the budget.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ConversionRequest {
    /// The event to create (published at once).
    pub event: NewEventRequest,
    /// Budget money to allocate to it, kopecks (0 allocates nothing).
    pub allocation_kopecks: i64,
}

impl Example for ConversionRequest {
    fn example() -> Self {
        ConversionRequest { event: NewEventRequest::example(), allocation_kopecks: 1_000_000 }
    }
}

/// Budget money for an event, idempotent by `key`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct FundingRequest {
    /// Your idempotency key (1–128 printable characters).
    pub key: Text,
    /// Amount, kopecks (positive).
    pub amount_kopecks: i64,
    /// What it is for (up to 500 characters).
    pub note: Option<Text>,
}

impl Example for FundingRequest {
    fn example() -> Self {
        FundingRequest {
            key: "alloc-2030-03-001".into(), amount_kopecks: 500_000, note: Some("Аренда зала".into())
        }
    }
}

/// One budget ledger line.
#[derive(Debug, Clone, Object)]
pub struct BudgetLine {
    /// The entry.
    pub entry_id: Uuid,
    /// contribution, reversal, allocation, release or spending.
    pub kind: String,
    /// Signed amount, kopecks (allocations and spending negative).
    pub amount_kopecks: i64,
    /// The contributing business.
    pub business: Option<String>,
    /// The purchase behind a contribution or reversal.
    pub purchase_id: Option<Uuid>,
    /// The event of an allocation, release or spending.
    pub event_id: Option<Uuid>,
    /// Note.
    pub note: Option<String>,
    /// Who wrote it.
    pub actor: Option<String>,
    /// When.
    pub at: OffsetDateTime,
}

impl From<krug::budget::BudgetLine> for BudgetLine {
    fn from(l: krug::budget::BudgetLine) -> BudgetLine {
        BudgetLine {
            entry_id: l.entry.as_uuid(),
            kind: l.kind.as_str().to_owned(),
            amount_kopecks: l.amount,
            business: l.business.map(|b| b.to_string()),
            purchase_id: l.purchase.map(|p| p.as_uuid()),
            event_id: l.event.map(|e| e.as_uuid()),
            note: l.note,
            actor: l.actor,
            at: l.at,
        }
    }
}

/// One funded event in the members' summary.
#[derive(Debug, Clone, Object)]
pub struct FundedEvent {
    /// The event.
    pub event_id: Uuid,
    /// Its title.
    pub title: String,
    /// Allocated (net of releases), kopecks.
    pub allocated_kopecks: i64,
    /// Spent, kopecks.
    pub spent_kopecks: i64,
}

/// The event budget as members see it.
#[derive(Debug, Clone, Object)]
pub struct BudgetSummary {
    /// Collected from purchases net of refunds, kopecks.
    pub collected_kopecks: i64,
    /// Allocated to events, kopecks.
    pub allocated_kopecks: i64,
    /// Spent, kopecks.
    pub spent_kopecks: i64,
    /// Still to allocate, kopecks.
    pub balance_kopecks: i64,
    /// Per funded event.
    pub events: Vec<FundedEvent>,
}

/// A partner's contribution statement.
#[derive(Debug, Clone, Object)]
pub struct ContributionStatement {
    /// The business.
    pub business: String,
    /// Contributed, kopecks.
    pub contributed_kopecks: i64,
    /// Reversed by refunds, kopecks.
    pub reversed_kopecks: i64,
    /// Net, kopecks.
    pub net_kopecks: i64,
    /// The lines.
    pub lines: Vec<BudgetLine>,
}

fn operator(auth: &BearerAuth) -> Result<&krug::types::TenantId, ApiError> {
    auth.0.require(&[Role::Operator])?;
    auth.0.tenant()
}

fn funding(body: &FundingRequest, event: krug::types::EventId, actor: String) -> Result<krug::EventFunding, ApiError> {
    Ok(krug::EventFunding {
        event,
        amount: kopecks("amount_kopecks", body.amount_kopecks)?,
        note: body.note.as_ref().map(|n| n.0.clone()),
        actor,
        key: body.key.0.clone(),
    })
}

#[OpenApi(tag = "ApiTags::Events")]
impl EventVotesApi {
    /// Propose an event (VIP and above by default); the operator moderates it.
    #[oai(path = "/v1/me/event-proposals", method = "post", operation_id = "me_event_propose")]
    async fn propose(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<ProposalRequest>,
    ) -> Result<Json<Proposal>, ApiError> {
        let m = auth.0.member()?;
        let idea = krug::NewProposal {
            title: body.title.0.clone(),
            description: body.description.0.clone(),
            estimated_cost: kopecks("estimated_cost_kopecks", body.estimated_cost_kopecks)?,
        };
        Ok(Json(state.krug.propose_event_idea(auth.0.tenant()?, m, idea).await?.into()))
    }

    /// Proposals: a member sees approved and converted ones and her own; the operator all.
    #[oai(path = "/v1/event-proposals", method = "get", operation_id = "event_proposals")]
    async fn list(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Proposal>>, ApiError> {
        auth.0.require(&[Role::Member, Role::Operator])?;
        let tenant = auth.0.tenant()?;
        let list = if auth.0.role == Role::Operator {
            state.krug.proposals(tenant).await?
        } else {
            state.krug.member_proposals(tenant, auth.0.member()?).await?
        };
        Ok(Json(list.into_iter().map(Proposal::from).collect()))
    }

    /// Vote for or against a proposal in its voting window, weighted by your tier.
    #[oai(path = "/v1/event-proposals/:proposal_id/vote", method = "put", operation_id = "event_proposal_vote")]
    async fn vote(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        proposal_id: Path<String>,
        body: Json<VoteRequest>,
    ) -> Result<Json<Results>, ApiError> {
        let m = auth.0.member()?;
        let id = parse_id("proposal", &proposal_id.0)?;
        Ok(Json(state.krug.vote_on_proposal(auth.0.tenant()?, id, m, body.support).await?.into()))
    }

    /// A proposal's results: raw and tier-weighted counts.
    #[oai(path = "/v1/event-proposals/:proposal_id/results", method = "get", operation_id = "event_proposal_results")]
    async fn results(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        proposal_id: Path<String>,
    ) -> Result<Json<Results>, ApiError> {
        auth.0.require(&[Role::Member, Role::Operator])?;
        let tenant = auth.0.tenant()?;
        let id = parse_id("proposal", &proposal_id.0)?;
        let r = state.krug.proposal_results(tenant, id).await?;
        // A pending or rejected proposal is visible to the operator and its author only.
        let visible = auth.0.role == Role::Operator
            || auth.0.member()? == r.proposal.member
            || matches!(
                r.proposal.status,
                krug::event::ProposalStatus::Approved | krug::event::ProposalStatus::Converted
            );
        if !visible {
            return Err(ApiError::not_found("proposal"));
        }
        Ok(Json(r.into()))
    }

    /// The event budget: collected, allocated and spent, per funded event.
    #[oai(path = "/v1/events/budget", method = "get", operation_id = "events_budget_summary")]
    async fn summary(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<BudgetSummary>, ApiError> {
        auth.0.require(&[Role::Member, Role::Cashier, Role::Manager, Role::Owner, Role::Operator])?;
        let s = state.krug.budget_summary(auth.0.tenant()?).await?;
        Ok(Json(BudgetSummary {
            collected_kopecks: s.collected,
            allocated_kopecks: s.allocated,
            spent_kopecks: s.spent,
            balance_kopecks: s.balance,
            events: s
                .events
                .into_iter()
                .map(|e| FundedEvent {
                    event_id: e.event.as_uuid(),
                    title: e.title,
                    allocated_kopecks: e.funds.allocated,
                    spent_kopecks: e.funds.spent,
                })
                .collect(),
        }))
    }

    /// Your business's contributions to the event budget for `[from, to)`.
    #[oai(path = "/v1/business/budget/contributions", method = "get", operation_id = "business_budget_statement")]
    async fn statement(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Period start (inclusive), RFC 3339.
        from: Query<OffsetDateTime>,
        /// Period end (exclusive), RFC 3339.
        to: Query<OffsetDateTime>,
    ) -> Result<Json<ContributionStatement>, ApiError> {
        auth.0.require(&[Role::Owner, Role::Manager])?;
        let (tenant, business) = (auth.0.tenant()?, auth.0.business()?);
        let s = state.krug.contribution_statement(tenant, business, super::operator::period(from.0, to.0)?).await?;
        Ok(Json(ContributionStatement {
            business: s.business.to_string(),
            contributed_kopecks: s.contributed,
            reversed_kopecks: s.reversed,
            net_kopecks: s.net,
            lines: s.lines.into_iter().map(BudgetLine::from).collect(),
        }))
    }

    /// Moderate a pending proposal: approve with a voting window or reject with a reason; audited.
    #[oai(
        path = "/v1/operator/event-proposals/:proposal_id/moderation",
        method = "post",
        operation_id = "operator_proposal_moderate"
    )]
    async fn moderate(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        proposal_id: Path<String>,
        body: Json<ModerationRequest>,
    ) -> Result<Json<Proposal>, ApiError> {
        let tenant = operator(&auth)?;
        let id = parse_id("proposal", &proposal_id.0)?;
        let decision = if body.approve {
            match (body.voting_opens_at, body.voting_closes_at) {
                (Some(opens), Some(closes)) => krug::Moderation::Approve { opens, closes },
                _ => return Err(ApiError::invalid("voting_closes_at", "an approval needs the voting window")),
            }
        } else {
            let reason = body.reason.as_ref().map(|r| r.0.clone()).unwrap_or_default();
            krug::Moderation::Reject { reason }
        };
        Ok(Json(state.krug.moderate_proposal(tenant, id, &auth.0.actor(), decision).await?.into()))
    }

    /// Turn a proposal that won its closed vote into a published event funded from the budget;
    /// an allocation above the balance refuses the whole conversion.
    #[oai(
        path = "/v1/operator/event-proposals/:proposal_id/conversion",
        method = "post",
        operation_id = "operator_proposal_convert"
    )]
    async fn convert(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        proposal_id: Path<String>,
        body: Json<ConversionRequest>,
    ) -> Result<Json<Event>, ApiError> {
        let tenant = operator(&auth)?;
        let id = parse_id("proposal", &proposal_id.0)?;
        let allocation = kopecks("allocation_kopecks", body.allocation_kopecks)?;
        let draft = body.event.to_sdk()?;
        Ok(Json(state.krug.convert_proposal(tenant, id, &auth.0.actor(), draft, allocation).await?.into()))
    }

    /// Allocate budget money to an event; refused above the balance (409 `budget_insufficient`).
    #[oai(
        path = "/v1/operator/events/:event_id/allocations",
        method = "post",
        operation_id = "operator_budget_allocate"
    )]
    async fn allocate(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
        body: Json<FundingRequest>,
    ) -> Result<Json<BudgetLine>, ApiError> {
        let tenant = operator(&auth)?;
        let cmd = funding(&body, parse_id("event", &event_id.0)?, auth.0.actor())?;
        Ok(Json(state.krug.allocate_to_event(tenant, cmd).await?.into()))
    }

    /// Record spending out of an event's allocation; refused above it (409 `allocation_exceeded`).
    #[oai(path = "/v1/operator/events/:event_id/spending", method = "post", operation_id = "operator_budget_spend")]
    async fn spend(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
        body: Json<FundingRequest>,
    ) -> Result<Json<BudgetLine>, ApiError> {
        let tenant = operator(&auth)?;
        let cmd = funding(&body, parse_id("event", &event_id.0)?, auth.0.actor())?;
        Ok(Json(state.krug.spend_from_event(tenant, cmd).await?.into()))
    }

    /// The full event budget ledger for `[from, to)`, oldest first.
    #[oai(path = "/v1/operator/budget/ledger", method = "get", operation_id = "operator_budget_ledger")]
    async fn ledger(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Period start (inclusive), RFC 3339.
        from: Query<OffsetDateTime>,
        /// Period end (exclusive), RFC 3339.
        to: Query<OffsetDateTime>,
    ) -> Result<Json<Vec<BudgetLine>>, ApiError> {
        let tenant = operator(&auth)?;
        let lines = state.krug.budget_ledger(tenant, super::operator::period(from.0, to.0)?).await?;
        Ok(Json(lines.into_iter().map(BudgetLine::from).collect()))
    }

    /// The full event budget ledger for `[from, to)` as CSV.
    #[oai(path = "/v1/operator/budget/ledger.csv", method = "get", operation_id = "operator_budget_ledger_csv")]
    async fn ledger_csv(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Period start (inclusive), RFC 3339.
        from: Query<OffsetDateTime>,
        /// Period end (exclusive), RFC 3339.
        to: Query<OffsetDateTime>,
    ) -> Result<CsvExport, ApiError> {
        let tenant = operator(&auth)?;
        let lines = state.krug.budget_ledger(tenant, super::operator::period(from.0, to.0)?).await?;
        Ok(CsvExport::Csv(PlainText(krug::budget_ledger_csv(&lines))))
    }
}
