//! Cross-promo chains: the operator (or a partner's owner) drafts a chain, each partner's owner
//! approves its own steps and the rewards it funds, the chain is started and paused; partners
//! read win-win analytics (JSON or CSV); a member sees her chains and picks a fan-out branch.
//! Making steps is part of the scan (the receipt lists the chain progress it made).
//!
//! An owner sees only chains his business takes part in — another chain answers 404, exactly
//! like one that does not exist — and his analytics show his own partner row only, with a
//! clinic's step as its aggregate count.

use poem::web::{Data, RemoteAddr};
use poem_openapi::param::Path;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ApiTags;
use super::dto::{Text, bonus, kopecks, parse_id};
use crate::auth::{BearerAuth, Role};
use crate::problem::ApiError;
use crate::state::AppState;
use krug::chain::{ChainDefinition, ChainKind, Reward, RewardKind, Standing, Step, StepTarget};
use krug::types::{BusinessId, Category};

/// Chain endpoints.
pub struct ChainsApi;

/// The shape of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ChainKindName {
    /// Buy at A → a reward at B (two steps, the first rewarded).
    Simple,
    /// A, B, C in order, each within its window → the completion reward.
    Sequential,
    /// A → B → … → A again, rewards per cycle, up to `max_cycles`.
    Cyclic,
    /// Buy at A → one of the branches (steps 1…): the first used or the one chosen wins.
    FanOut,
}

impl From<ChainKindName> for ChainKind {
    fn from(k: ChainKindName) -> ChainKind {
        match k {
            ChainKindName::Simple => ChainKind::Simple,
            ChainKindName::Sequential => ChainKind::Sequential,
            ChainKindName::Cyclic => ChainKind::Cyclic,
            ChainKindName::FanOut => ChainKind::FanOut,
        }
    }
}

impl From<ChainKind> for ChainKindName {
    fn from(k: ChainKind) -> ChainKindName {
        match k {
            ChainKind::Simple => ChainKindName::Simple,
            ChainKind::Sequential => ChainKindName::Sequential,
            ChainKind::Cyclic => ChainKindName::Cyclic,
            ChainKind::FanOut => ChainKindName::FanOut,
        }
    }
}

/// A reward: bonus or a coupon, and the partner that funds it.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct RewardBody {
    /// Bonus credited, kopecks (give this or `coupon_template`).
    pub bonus_kopecks: Option<i64>,
    /// A coupon template issued as a personal coupon (give this or `bonus_kopecks`).
    pub coupon_template: Option<Text>,
    /// The partner that pays for it (the issuing or the redeeming partner).
    pub funded_by: Text,
}

/// One step.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct StepBody {
    /// The business where the purchase must be made (or `category`).
    pub business: Option<Text>,
    /// Or: any business booked under this category.
    pub category: Option<Text>,
    /// Smallest purchase that counts, kopecks (default 0: any).
    pub min_amount_kopecks: Option<i64>,
    /// Days allowed after the previous step (required for every step but the first; in a
    /// cyclic chain also for the first: the window to start the next cycle).
    pub window_days: Option<u32>,
    /// What making the step gives.
    pub reward: Option<RewardBody>,
}

/// A chain to draft.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ChainRequest {
    /// The name members and partners see.
    pub name: Text,
    /// Its shape.
    pub kind: ChainKindName,
    /// The steps in order (a fan-out: the entry step, then the branches).
    pub steps: Vec<StepBody>,
    /// Paid on completion (per cycle for a cyclic chain).
    pub completion_reward: Option<RewardBody>,
    /// First instant it runs.
    pub starts_at: OffsetDateTime,
    /// First instant it no longer runs.
    pub ends_at: OffsetDateTime,
    /// Cyclic chains (required there): the most cycles per member.
    pub max_cycles: Option<u32>,
    /// How many times one member may start it (default 1).
    pub per_member_limit: Option<u32>,
}

impl Example for ChainRequest {
    fn example() -> Self {
        ChainRequest {
            name: "Красота после ужина".into(),
            kind: ChainKindName::Simple,
            steps: vec![
                StepBody {
                    business: Some("lisichkino".into()),
                    category: None,
                    min_amount_kopecks: Some(150_000),
                    window_days: None,
                    reward: Some(RewardBody {
                        bonus_kopecks: Some(50_000),
                        coupon_template: None,
                        funded_by: "mindal".into(),
                    }),
                },
                StepBody {
                    business: Some("mindal".into()),
                    category: None,
                    min_amount_kopecks: None,
                    window_days: Some(14),
                    reward: None,
                },
            ],
            completion_reward: None,
            starts_at: time::macros::datetime!(2026-12-01 0:00 UTC),
            ends_at: time::macros::datetime!(2027-01-01 0:00 UTC),
            max_cycles: None,
            per_member_limit: Some(1),
        }
    }
}

/// A reward as stored.
#[derive(Debug, Clone, Object)]
pub struct RewardResponse {
    /// Bonus, kopecks (0 for a coupon).
    pub bonus_kopecks: i64,
    /// The coupon template, for a coupon reward.
    pub coupon_template: Option<String>,
    /// Who funds it.
    pub funded_by: String,
}

/// A step as stored.
#[derive(Debug, Clone, Object)]
pub struct StepResponse {
    /// The business, for a business step.
    pub business: Option<String>,
    /// The category, for a category step.
    pub category: Option<String>,
    /// Smallest purchase that counts, kopecks.
    pub min_amount_kopecks: i64,
    /// Days allowed after the previous step.
    pub window_days: Option<u32>,
    /// Its reward.
    pub reward: Option<RewardResponse>,
}

/// A partner's approval.
#[derive(Debug, Clone, Object)]
pub struct PartnerResponse {
    /// The business.
    pub business: String,
    /// Whether its owner approved.
    pub approved: bool,
    /// When.
    pub approved_at: Option<OffsetDateTime>,
}

/// Where a chain is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ChainStatusName {
    /// Drafted; partners approve.
    Draft,
    /// Running.
    Active,
    /// Stopped for now.
    Paused,
}

/// A chain.
#[derive(Debug, Clone, Object)]
pub struct ChainResponse {
    /// The chain.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its shape.
    pub kind: ChainKindName,
    /// Where it is in its life.
    pub status: ChainStatusName,
    /// Its steps.
    pub steps: Vec<StepResponse>,
    /// The completion reward.
    pub completion_reward: Option<RewardResponse>,
    /// First instant it runs.
    pub starts_at: OffsetDateTime,
    /// First instant it no longer runs.
    pub ends_at: OffsetDateTime,
    /// Cap on cycles (cyclic).
    pub max_cycles: Option<u32>,
    /// Runs per member.
    pub per_member_limit: u32,
    /// Its partners and their approvals; it starts when all approved.
    pub partners: Vec<PartnerResponse>,
    /// Who drafted it.
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

fn reward_out(r: Reward) -> RewardResponse {
    let (bonus_kopecks, coupon_template) = match r.kind {
        RewardKind::Bonus { amount } => (amount.get(), None),
        RewardKind::Coupon { template } => (0, Some(template)),
    };
    RewardResponse { bonus_kopecks, coupon_template, funded_by: r.funded_by.to_string() }
}

impl From<krug::ChainView> for ChainResponse {
    fn from(v: krug::ChainView) -> ChainResponse {
        let d = v.definition;
        ChainResponse {
            id: v.id,
            name: d.name,
            kind: d.kind.into(),
            status: match v.status {
                krug::ChainStatus::Draft => ChainStatusName::Draft,
                krug::ChainStatus::Active => ChainStatusName::Active,
                krug::ChainStatus::Paused => ChainStatusName::Paused,
            },
            steps: d
                .steps
                .into_iter()
                .map(|s| {
                    let (business, category) = match s.target {
                        StepTarget::Business(b) => (Some(b.to_string()), None),
                        StepTarget::Category(c) => (None, Some(c.to_string())),
                    };
                    StepResponse {
                        business,
                        category,
                        min_amount_kopecks: s.min_amount.get(),
                        window_days: s.window_days,
                        reward: s.reward.map(reward_out),
                    }
                })
                .collect(),
            completion_reward: d.completion_reward.map(reward_out),
            starts_at: d.starts_at,
            ends_at: d.ends_at,
            max_cycles: d.max_cycles,
            per_member_limit: d.per_member_limit,
            partners: v
                .partners
                .into_iter()
                .map(|p| PartnerResponse {
                    business: p.business.to_string(),
                    approved: p.approved_at.is_some(),
                    approved_at: p.approved_at,
                })
                .collect(),
            created_by: v.created_by,
            created_at: v.created_at,
        }
    }
}

/// One step's funnel figures.
#[derive(Debug, Clone, Object)]
pub struct StepStatsResponse {
    /// The step.
    pub step: u32,
    /// Its business, or `category:<name>`; `medical` for a clinic's step in another partner's view.
    pub target: String,
    /// Distinct members who made it (0 when `suppressed`).
    pub entered: u64,
    /// Over the previous step (a branch: over the entry step), basis points.
    pub conversion_bps: Option<i64>,
    /// A clinic's step in another partner's view: the aggregate count only.
    pub aggregate_only: bool,
    /// That count covers fewer than 10 members and is withheld.
    pub suppressed: bool,
}

/// One partner's win-win figures.
#[derive(Debug, Clone, Object)]
pub struct PartnerStatsResponse {
    /// The partner.
    pub business: String,
    /// Revenue from the purchases that made its steps, net of refunds, kopecks.
    pub revenue_kopecks: i64,
    /// Rewards it funds (bonus paid, chain coupons' discount and bonus when used), kopecks.
    pub reward_cost_kopecks: i64,
    /// Revenue − reward cost, kopecks.
    pub net_gain_kopecks: i64,
    /// Members whose first purchase here made a chain step.
    pub new_clients: u64,
    /// Conversion into its first non-entry step among chain members, basis points.
    pub enrolled_rate_bps: Option<i64>,
    /// Baseline cross-purchase rate among members not in the chain, basis points.
    pub baseline_rate_bps: Option<i64>,
    /// Enrolled − baseline, basis points.
    pub uplift_bps: Option<i64>,
}

/// Win-win analytics of a chain.
#[derive(Debug, Clone, Object)]
pub struct AnalyticsResponse {
    /// The chain.
    pub chain: Uuid,
    /// Its name.
    pub name: String,
    /// The funnel.
    pub steps: Vec<StepStatsResponse>,
    /// Per partner (an owner: his own row).
    pub partners: Vec<PartnerStatsResponse>,
}

/// A CSV export.
#[derive(ApiResponse)]
pub enum ChainCsv {
    /// CSV with a header row: one line per step, then one per partner; kopecks and basis points.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>),
}

/// Where the member stands in a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StandingName {
    /// Not started.
    NotStarted,
    /// Started; the next step is still possible.
    Active,
    /// Completed.
    Completed,
    /// The next step's window passed.
    Lapsed,
}

/// A coupon a chain gave, still usable.
#[derive(Debug, Clone, Object)]
pub struct WaitingCouponResponse {
    /// The code.
    pub code: String,
    /// Its template.
    pub template: String,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
}

/// A running chain as the member sees it.
#[derive(Debug, Clone, Object)]
pub struct MyChain {
    /// The chain.
    pub chain: Uuid,
    /// Its name.
    pub name: String,
    /// Its shape.
    pub kind: ChainKindName,
    /// Where she stands.
    pub standing: StandingName,
    /// The next step in words ("buy at Миндаль by 12 Dec to get 500 ₽ bonus").
    pub next: Option<String>,
    /// The next step's deadline (exclusive).
    pub deadline: Option<OffsetDateTime>,
    /// Fan-out branches she can choose (step numbers), when waiting on them.
    pub choices: Vec<u32>,
    /// Chain coupons she can still use.
    pub rewards_waiting: Vec<WaitingCouponResponse>,
}

fn mine(c: krug::MemberChain) -> MyChain {
    MyChain {
        chain: c.chain,
        name: c.name,
        kind: c.kind.into(),
        standing: match c.standing {
            Standing::NotStarted => StandingName::NotStarted,
            Standing::Active => StandingName::Active,
            Standing::Completed => StandingName::Completed,
            Standing::Lapsed => StandingName::Lapsed,
        },
        next: c.next,
        deadline: c.deadline,
        choices: c.choices.into_iter().map(|i| u32::try_from(i).unwrap_or(u32::MAX)).collect(),
        rewards_waiting: c
            .rewards_waiting
            .into_iter()
            .map(|w| WaitingCouponResponse { code: w.code, template: w.template, valid_until: w.valid_until })
            .collect(),
    }
}

/// A reward a chain step paid.
#[derive(Debug, Clone, Object)]
pub struct ChainRewardResponse {
    /// The step it rewards, or the number of steps for the completion reward.
    pub slot: u32,
    /// Bonus credited (pending like cashback), kopecks; 0 for a coupon.
    pub bonus_kopecks: i64,
    /// The coupon issued, as people read it.
    pub coupon: Option<String>,
    /// The partner that funds it.
    pub funded_by: String,
}

/// A step a purchase made in a chain, on the receipt.
#[derive(Debug, Clone, Object)]
pub struct ChainProgress {
    /// The chain.
    pub chain: Uuid,
    /// Its name.
    pub name: String,
    /// The step made.
    pub step: u32,
    /// The cycle it belongs to (cyclic chains).
    pub cycle: u32,
    /// Whether it completed the chain (or the cycle).
    pub completed: bool,
    /// Rewards it paid.
    pub rewards: Vec<ChainRewardResponse>,
    /// The next step in words.
    pub next: Option<String>,
    /// The next step's deadline (exclusive).
    pub deadline: Option<OffsetDateTime>,
}

impl From<&krug::ChainStepMade> for ChainProgress {
    fn from(c: &krug::ChainStepMade) -> ChainProgress {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        ChainProgress {
            chain: c.chain,
            name: c.name.clone(),
            step: n(c.step),
            cycle: c.cycle,
            completed: c.completed,
            rewards: c
                .rewards
                .iter()
                .map(|r| ChainRewardResponse {
                    slot: n(r.slot),
                    bonus_kopecks: r.bonus.get(),
                    coupon: r.coupon.as_deref().map(|code| {
                        krug::coupon::CouponCode::normalise(code).map_or_else(|_| code.to_owned(), |c| c.display())
                    }),
                    funded_by: r.funded_by.to_string(),
                })
                .collect(),
            next: c.next.clone(),
            deadline: c.deadline,
        }
    }
}

/// The member's pick of a fan-out branch.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ChoiceRequest {
    /// The branch: a step number ≥ 1 of the fan-out.
    pub branch: u32,
}

impl Example for ChoiceRequest {
    fn example() -> Self {
        ChoiceRequest { branch: 2 }
    }
}

fn manager(auth: &BearerAuth) -> Result<(&krug::types::TenantId, krug::ChainActor), ApiError> {
    auth.0.require(&[Role::Owner, Role::Operator])?;
    let tenant = auth.0.tenant()?;
    let actor = match auth.0.role {
        Role::Operator => krug::ChainActor::Operator,
        _ => krug::ChainActor::Owner(auth.0.business()?.clone()),
    };
    Ok((tenant, actor))
}

fn reward_in(field: &str, r: &RewardBody) -> Result<Reward, ApiError> {
    let funded_by =
        BusinessId::parse(&r.funded_by).map_err(|e| ApiError::invalid(&format!("{field}.funded_by"), e.to_string()))?;
    let kind = match (r.bonus_kopecks, r.coupon_template.as_deref()) {
        (Some(b), None) => RewardKind::Bonus { amount: bonus(&format!("{field}.bonus_kopecks"), b)? },
        (None, Some(t)) => RewardKind::Coupon { template: t.to_owned() },
        _ => return Err(ApiError::invalid(field, "give either bonus_kopecks or coupon_template")),
    };
    Ok(Reward { kind, funded_by })
}

fn definition(req: &ChainRequest) -> Result<ChainDefinition, ApiError> {
    let mut steps = Vec::with_capacity(req.steps.len());
    for (i, s) in req.steps.iter().enumerate() {
        let at = |f: &str| format!("steps[{i}].{f}");
        let target = match (s.business.as_deref(), s.category.as_deref()) {
            (Some(b), None) => StepTarget::Business(
                BusinessId::parse(b).map_err(|e| ApiError::invalid(&at("business"), e.to_string()))?,
            ),
            (None, Some(c)) => {
                StepTarget::Category(Category::parse(c).map_err(|e| ApiError::invalid(&at("category"), e.to_string()))?)
            }
            _ => return Err(ApiError::invalid(&at("business"), "give either business or category")),
        };
        steps.push(Step {
            target,
            min_amount: kopecks(&at("min_amount_kopecks"), s.min_amount_kopecks.unwrap_or(0))?,
            window_days: s.window_days,
            reward: s.reward.as_ref().map(|r| reward_in(&at("reward"), r)).transpose()?,
        });
    }
    Ok(ChainDefinition {
        name: req.name.0.clone(),
        kind: req.kind.into(),
        steps,
        completion_reward: req.completion_reward.as_ref().map(|r| reward_in("completion_reward", r)).transpose()?,
        starts_at: req.starts_at,
        ends_at: req.ends_at,
        max_cycles: req.max_cycles,
        per_member_limit: req.per_member_limit.unwrap_or(1),
    })
}

/// Starts (`run`) or pauses a chain, with its audit record.
async fn switch(
    state: &AppState,
    auth: &BearerAuth,
    remote: &RemoteAddr,
    id: &str,
    run: bool,
) -> Result<Json<ChainResponse>, ApiError> {
    let (tenant, actor) = manager(auth)?;
    let id = parse_id::<Uuid>("chain", id)?;
    let (view, action) = if run {
        (state.krug.start_chain(tenant, &actor, id).await?, "chain.start")
    } else {
        (state.krug.pause_chain(tenant, &actor, id).await?, "chain.pause")
    };
    super::audit(state, tenant, auth.0.actor(), action, format!("chain:{id}"), serde_json::json!({}), remote).await?;
    Ok(Json(ChainResponse::from(view)))
}

fn analytics_out(a: krug::ChainAnalytics) -> AnalyticsResponse {
    AnalyticsResponse {
        chain: a.chain,
        name: a.name,
        steps: a
            .steps
            .into_iter()
            .map(|s| StepStatsResponse {
                step: u32::try_from(s.step).unwrap_or(u32::MAX),
                target: s.target,
                entered: s.entered,
                conversion_bps: s.conversion_bps,
                aggregate_only: s.aggregate_only,
                suppressed: s.suppressed,
            })
            .collect(),
        partners: a
            .partners
            .into_iter()
            .map(|p| PartnerStatsResponse {
                business: p.business.to_string(),
                revenue_kopecks: p.revenue_kopecks,
                reward_cost_kopecks: p.reward_cost_kopecks,
                net_gain_kopecks: p.net_gain_kopecks,
                new_clients: p.new_clients,
                enrolled_rate_bps: p.enrolled_rate_bps,
                baseline_rate_bps: p.baseline_rate_bps,
                uplift_bps: p.uplift_bps,
            })
            .collect(),
    }
}

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Chains")]
impl ChainsApi {
    /// Draft a cross-promo chain (operator: any; owner: one his business takes part in). Bad
    /// definitions are refused with every problem's field path in `errors[]`.
    #[oai(path = "/chains", method = "post", operation_id = "chain_draft")]
    async fn draft(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        body: Json<ChainRequest>,
    ) -> Result<Json<ChainResponse>, ApiError> {
        let (tenant, actor) = manager(&auth)?;
        let def = definition(&body)?;
        let view = state.krug.draft_chain(tenant, &actor, def).await?;
        let detail = serde_json::json!({ "name": view.definition.name });
        super::audit(&state, tenant, auth.0.actor(), "chain.draft", format!("chain:{}", view.id), detail, remote)
            .await?;
        Ok(Json(ChainResponse::from(view)))
    }

    /// The chains you manage (operator: all; owner: those your business takes part in).
    #[oai(path = "/chains", method = "get", operation_id = "chain_list")]
    async fn list(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<ChainResponse>>, ApiError> {
        let (tenant, actor) = manager(&auth)?;
        let views = state.krug.chains(tenant, &actor).await?;
        Ok(Json(views.into_iter().map(ChainResponse::from).collect()))
    }

    /// One chain; a chain your business is not part of is 404.
    #[oai(path = "/chains/:id", method = "get", operation_id = "chain_get")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Result<Json<ChainResponse>, ApiError> {
        let (tenant, actor) = manager(&auth)?;
        let id = parse_id::<Uuid>("chain", &id.0)?;
        Ok(Json(ChainResponse::from(state.krug.chain(tenant, &actor, id).await?)))
    }

    /// Approve your business's steps in a chain and the rewards it funds (owner). Every partner
    /// must approve before the chain can start.
    #[oai(path = "/chains/:id/approve", method = "post", operation_id = "chain_approve")]
    async fn approve(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        id: Path<String>,
    ) -> Result<Json<ChainResponse>, ApiError> {
        auth.0.require(&[Role::Owner])?;
        let (tenant, business) = (auth.0.tenant()?, auth.0.business()?);
        let id = parse_id::<Uuid>("chain", &id.0)?;
        let view = state.krug.approve_chain(tenant, business, &auth.0.actor(), id).await?;
        let detail = serde_json::json!({ "business": business.to_string() });
        super::audit(&state, tenant, auth.0.actor(), "chain.approve", format!("chain:{id}"), detail, remote).await?;
        Ok(Json(ChainResponse::from(view)))
    }

    /// Start (or resume) a chain; refused with `chain_not_approved` (listing who) until every
    /// partner approved.
    #[oai(path = "/chains/:id/start", method = "post", operation_id = "chain_start")]
    async fn start(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        id: Path<String>,
    ) -> Result<Json<ChainResponse>, ApiError> {
        switch(&state, &auth, remote, &id.0, true).await
    }

    /// Pause a running chain: purchases make no steps until it is started again.
    #[oai(path = "/chains/:id/pause", method = "post", operation_id = "chain_pause")]
    async fn pause(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        remote: &RemoteAddr,
        id: Path<String>,
    ) -> Result<Json<ChainResponse>, ApiError> {
        switch(&state, &auth, remote, &id.0, false).await
    }

    /// Win-win analytics of a chain (operator: every partner; owner: the funnel and his own
    /// row, a clinic's step as an aggregate count only).
    #[oai(path = "/chains/:id/analytics", method = "get", operation_id = "chain_analytics")]
    async fn analytics(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Result<Json<AnalyticsResponse>, ApiError> {
        let (tenant, actor) = manager(&auth)?;
        let id = parse_id::<Uuid>("chain", &id.0)?;
        Ok(Json(analytics_out(state.krug.chain_analytics(tenant, &actor, id).await?)))
    }

    /// The same analytics as CSV.
    #[oai(path = "/chains/:id/analytics.csv", method = "get", operation_id = "chain_analytics_csv")]
    async fn analytics_csv(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Result<ChainCsv, ApiError> {
        let (tenant, actor) = manager(&auth)?;
        let id = parse_id::<Uuid>("chain", &id.0)?;
        let a = state.krug.chain_analytics(tenant, &actor, id).await?;
        Ok(ChainCsv::Csv(PlainText(krug::chain_analytics_csv(&a))))
    }

    /// Your running chains: where you stand, the next step in words with its deadline, fan-out
    /// choices, and the chain coupons waiting for you.
    #[oai(path = "/me/chains", method = "get", operation_id = "me_chains", tag = "ApiTags::Member")]
    async fn my_chains(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<MyChain>>, ApiError> {
        let member = auth.0.member()?;
        let tenant = auth.0.tenant()?;
        Ok(Json(state.krug.member_chains(tenant, member).await?.into_iter().map(mine).collect()))
    }

    /// Choose a fan-out branch: its reward is yours now, the other branches lapse.
    #[oai(path = "/me/chains/:id/choice", method = "post", operation_id = "me_chain_choose", tag = "ApiTags::Member")]
    async fn choose(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
        body: Json<ChoiceRequest>,
    ) -> Result<Json<MyChain>, ApiError> {
        let member = auth.0.member()?;
        let tenant = auth.0.tenant()?;
        let id = parse_id::<Uuid>("chain", &id.0)?;
        let branch = usize::try_from(body.branch).map_err(|_| ApiError::invalid("branch", "out of range"))?;
        Ok(Json(mine(state.krug.choose_chain_branch(tenant, member, id, branch).await?)))
    }
}
