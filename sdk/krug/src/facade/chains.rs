//! Cross-promo chains: drafting (operator or a partner's owner), each partner's approval of its
//! own steps and the rewards it funds, start and pause, the chain step of the purchase pipeline
//! and its undoing by refunds, the member's view with the fan-out choice, and win-win analytics.
//!
//! Invariants:
//! - progress moves only inside a transaction holding the member's account lock (the purchase
//!   pipeline, a refund, the fan-out choice), so concurrent scans of one member take turns;
//! - a reward is paid at most once per step (slot) per run and cycle: checked before paying and
//!   guarded by `chain_rewards`' primary key;
//! - bonus rewards are ledger credits (`Source::Chain`) whose issuer is the funding partner;
//!   coupon rewards are personal coupons (`CouponSource::Chain`);
//! - a chain starts only when every partner approved; another partner's chain answers
//!   [`ChainError::NotFound`] (404), exactly like a chain that does not exist;
//! - a partner's analytics never show a clinic step beyond its aggregate count, and no analytics
//!   name a member.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Krug;
use super::purchases::not_found;
use crate::chain::words::{next_steps, step_words};
use crate::chain::{self, ChainDefinition, ChainError, ChainKind, Known, Progress, RewardKind, Standing};
use crate::error::{Error, Result};
use crate::ledger::{Account, Ctx, Plan};
use crate::store::{ChainRow, RewardsBy, TenantTx};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, Kopecks, MemberId, PurchaseId, TenantId};

/// Who manages chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainActor {
    /// The tenant's operator: every chain.
    Operator,
    /// A business's owner: the chains his business takes part in.
    Owner(BusinessId),
}

impl ChainActor {
    fn name(&self) -> String {
        match self {
            ChainActor::Owner(b) => format!("owner:{b}"),
            ChainActor::Operator => "operator".to_owned(),
        }
    }
}

/// Where a chain is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainStatus {
    /// Drafted; partners approve; not running.
    Draft,
    /// Running: purchases advance members.
    Active,
    /// Stopped for now: purchases make no steps; can be started again.
    Paused,
}

impl ChainStatus {
    fn parse(s: &str) -> Result<ChainStatus> {
        match s {
            "draft" => Ok(ChainStatus::Draft),
            "active" => Ok(ChainStatus::Active),
            "paused" => Ok(ChainStatus::Paused),
            other => Err(Error::Store(crate::store::StoreError::Corrupt(format!("chain status {other}")))),
        }
    }

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Draft => "draft",
            ChainStatus::Active => "active",
            ChainStatus::Paused => "paused",
        }
    }
}

/// A partner of a chain and its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainPartner {
    /// The business.
    pub business: BusinessId,
    /// Who approved (the owner's staff name), when approved.
    pub approved_by: Option<String>,
    /// When its owner approved its steps and the rewards it funds (`None`: not yet).
    pub approved_at: Option<OffsetDateTime>,
}

/// A chain as its managers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainView {
    /// The chain.
    pub id: Uuid,
    /// Its definition.
    pub definition: ChainDefinition,
    /// Where it is in its life.
    pub status: ChainStatus,
    /// Its partners with their approvals.
    pub partners: Vec<ChainPartner>,
    /// Who drafted it (`operator` or `owner:<business>`).
    pub created_by: String,
    /// When.
    pub created_at: OffsetDateTime,
}

/// A reward a chain paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainRewardPaid {
    /// The step it rewards, or `steps.len()` for the completion reward.
    pub slot: usize,
    /// Bonus credited (pending like cashback); zero for a coupon.
    pub bonus: Bonus,
    /// The coupon issued, for a coupon reward.
    pub coupon: Option<String>,
    /// The partner that funds it.
    pub funded_by: BusinessId,
}

/// A step a purchase made in a chain, on the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStepMade {
    /// The chain.
    pub chain: Uuid,
    /// Its name.
    pub name: String,
    /// The step made.
    pub step: usize,
    /// The cycle it belongs to (cyclic chains).
    pub cycle: u32,
    /// Whether the chain (or the cycle) is completed by it.
    pub completed: bool,
    /// Rewards paid by it.
    pub rewards: Vec<ChainRewardPaid>,
    /// The next step in words, when there is one.
    pub next: Option<String>,
    /// The next step's deadline (exclusive).
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
}

/// A coupon a chain gave the member, still usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingCoupon {
    /// The code.
    pub code: String,
    /// Its template.
    pub template: String,
    /// First instant no longer valid.
    pub valid_until: OffsetDateTime,
}

/// A running chain as the member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChain {
    /// The chain.
    pub chain: Uuid,
    /// Its name.
    pub name: String,
    /// Its shape.
    pub kind: ChainKind,
    /// Where she stands (lapse from the clock).
    pub standing: Standing,
    /// The next step in words ("buy at Миндаль by 12 Dec to get 500 ₽ bonus"; "by" the last local day the window covers).
    pub next: Option<String>,
    /// The next step's deadline (exclusive).
    pub deadline: Option<OffsetDateTime>,
    /// For a fan-out waiting on its branches: the branches she can choose (step indexes).
    pub choices: Vec<usize>,
    /// Coupons the chain gave her that she can still use.
    pub rewards_waiting: Vec<WaitingCoupon>,
}

fn invalid(field: &str, message: &str) -> Error {
    ChainError::Invalid(vec![chain::ChainProblem { field: field.into(), message: message.into() }]).into()
}

impl Krug {
    /// Drafts a chain. The operator may draft any chain; an owner only one his business takes
    /// part in. Every problem of the definition is refused at once with its field path
    /// ([`ChainError::Invalid`]): empty steps, a cyclic chain without a cap, windows ≤ 0, unknown
    /// businesses, categories or coupon templates, …
    pub async fn draft_chain(&self, tenant: &TenantId, actor: &ChainActor, def: ChainDefinition) -> Result<ChainView> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let mut templates = HashSet::new();
        for (_, r) in def.rewards() {
            if let Some(code) = r.template()
                && tx.coupon_template(code).await?.is_some_and(|row| row.revoked_at.is_none())
            {
                templates.insert(code.to_owned());
            }
        }
        let known = |k: Known<'_>| match k {
            Known::Business(b) => config.business(b).is_none().then(|| format!("{b} is not a business of this tenant")),
            Known::Category(c) => (!config.businesses.iter().any(|b| &b.category == c))
                .then(|| format!("{c} is not a category of this tenant")),
            Known::Template(code) => {
                (!templates.contains(code)).then(|| format!("{code} is not a coupon template (or it is revoked)"))
            }
        };
        def.check(&known).map_err(ChainError::Invalid)?;
        if let ChainActor::Owner(b) = actor
            && !def.partners().contains(b)
        {
            return Err(invalid("steps", "an owner drafts only chains his business takes part in"));
        }
        let id = self.inner.ids.next_uuid();
        tx.insert_chain(id, &def, &actor.name(), now).await?;
        let view = self.chain_view(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, chain = %id, actor = %actor.name(), "chain drafted");
        Ok(view)
    }

    pub(super) async fn chain_view(&self, tx: &mut TenantTx, id: Uuid) -> Result<ChainView> {
        let row = tx.chain(id).await?.ok_or(Error::Chain(ChainError::NotFound))?;
        self.view_of(tx, row).await
    }

    async fn view_of(&self, tx: &mut TenantTx, row: ChainRow) -> Result<ChainView> {
        let partners = tx
            .chain_partners(row.id)
            .await?
            .into_iter()
            .map(|p| ChainPartner { business: p.business, approved_by: p.approved_by, approved_at: p.approved_at })
            .collect();
        Ok(ChainView {
            id: row.id,
            status: ChainStatus::parse(&row.status)?,
            definition: row.definition,
            partners,
            created_by: row.created_by,
            created_at: row.created_at,
        })
    }

    /// The chains the actor may see (the operator: all; an owner: his business's), newest first.
    pub async fn chains(&self, tenant: &TenantId, actor: &ChainActor) -> Result<Vec<ChainView>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let partner = match actor {
            ChainActor::Owner(b) => Some(b),
            ChainActor::Operator => None,
        };
        let rows = tx.chains(partner).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.view_of(&mut tx, row).await?);
        }
        Ok(out)
    }

    /// One chain the actor may see; another partner's is [`ChainError::NotFound`].
    pub async fn chain(&self, tenant: &TenantId, actor: &ChainActor, id: Uuid) -> Result<ChainView> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let view = self.chain_view(&mut tx, id).await?;
        visible(actor, &view)?;
        Ok(view)
    }

    /// The owner of `business` approves its steps and the rewards it funds in a draft (or
    /// paused) chain. Idempotent; a chain his business is not part of is [`ChainError::NotFound`].
    pub async fn approve_chain(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        approver: &str,
        id: Uuid,
    ) -> Result<ChainView> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = tx.lock_chain(id).await?.ok_or(Error::Chain(ChainError::NotFound))?;
        if !row.definition.partners().contains(business) {
            return Err(ChainError::NotFound.into());
        }
        if row.status == ChainStatus::Active.as_str() {
            return Err(ChainError::WrongStatus { status: row.status }.into());
        }
        tx.approve_chain(id, business, approver, now).await?;
        let view = self.view_of(&mut tx, row).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, chain = %id, %business, "chain approved by partner");
        Ok(view)
    }

    /// Starts (or resumes) a chain: every partner must have approved
    /// ([`ChainError::NotApproved`] lists who has not). Idempotent for a running chain.
    pub async fn start_chain(&self, tenant: &TenantId, actor: &ChainActor, id: Uuid) -> Result<ChainView> {
        self.set_status(tenant, actor, id, ChainStatus::Active).await
    }

    /// Pauses a running chain: purchases make no steps until it is started again; members keep
    /// their progress (their deadlines keep running).
    pub async fn pause_chain(&self, tenant: &TenantId, actor: &ChainActor, id: Uuid) -> Result<ChainView> {
        self.set_status(tenant, actor, id, ChainStatus::Paused).await
    }

    async fn set_status(&self, tenant: &TenantId, actor: &ChainActor, id: Uuid, to: ChainStatus) -> Result<ChainView> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let row = tx.lock_chain(id).await?.ok_or(Error::Chain(ChainError::NotFound))?;
        let view = self.view_of(&mut tx, row).await?;
        visible(actor, &view)?;
        match (view.status, to) {
            (ChainStatus::Draft, ChainStatus::Paused) => {
                return Err(ChainError::WrongStatus { status: view.status.as_str().into() }.into());
            }
            (ChainStatus::Draft | ChainStatus::Paused, ChainStatus::Active) => {
                let missing: Vec<BusinessId> =
                    view.partners.iter().filter(|p| p.approved_at.is_none()).map(|p| p.business.clone()).collect();
                if !missing.is_empty() {
                    return Err(ChainError::NotApproved { missing }.into());
                }
            }
            _ => {}
        }
        if view.status != to {
            tx.set_chain_status(id, to.as_str(), now).await?;
        }
        tx.commit().await?;
        tracing::info!(tenant = %tenant, chain = %id, status = to.as_str(), actor = %actor.name(), "chain status set");
        Ok(ChainView { status: to, ..view })
    }

    /// The chain step of a refund: when what is left of the purchase no longer makes a step it
    /// made, and that step is still the member's latest in its chain and its window has not
    /// passed, the step is rolled back — progress returns to what it was before, a bonus reward
    /// is reversed through the ledger, an unused coupon reward is revoked (a used one stays, and
    /// its slot stays paid). Returns the number of steps rolled back.
    #[allow(clippy::too_many_arguments)] // the refund's state, passed through once
    pub(super) async fn rollback_chains_in(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        purchase: PurchaseId,
        member: MemberId,
        left: Kopecks,
        account: &mut Account,
        plan: &mut Plan,
        ctx: Ctx<'_>,
    ) -> Result<u32> {
        let steps = tx.chain_steps_of(purchase).await?;
        if steps.is_empty() {
            return Ok(0);
        }
        let rewards = tx.chain_rewards(RewardsBy::Purchase(purchase)).await?;
        let mut rolled = 0;
        for s in steps {
            let Some(row) = tx.chain(s.chain).await? else { continue };
            let Some(step) = row.definition.steps.get(s.step) else { continue };
            let still_counts = !left.is_zero() && left >= step.min_amount;
            let latest = tx.last_step_seq(s.chain, member).await? == s.seq;
            let in_window = s.before.as_ref().and_then(|b| b.deadline).is_none_or(|d| ctx.now < d);
            if still_counts || !latest || !in_window {
                continue;
            }
            for r in rewards.iter().filter(|r| r.chain == s.chain && r.run == s.run && r.cycle == s.cycle) {
                if let (Some(lot), Some(entry)) = (r.lot, r.entry) {
                    if !account.lots.iter().any(|l| l.id == lot) {
                        let loaded = tx.load_lots(member, &[lot]).await?;
                        account.lots.extend(loaded.into_iter().filter(|l| l.id == lot));
                    }
                    account.reverse_credit(
                        plan,
                        lot,
                        entry,
                        r.bonus,
                        config.bonus.refund_of_spent,
                        Some(purchase),
                        ctx,
                    )?;
                    tx.delete_chain_reward(r).await?;
                } else if let Some(code) = &r.coupon
                    && tx.revoke_unused_coupon(code, ctx.now).await?
                {
                    tx.delete_chain_reward(r).await?;
                }
            }
            tx.delete_chain_step(&s).await?;
            tx.put_progress(s.chain, member, s.before.as_ref(), ctx.now).await?;
            rolled += 1;
        }
        Ok(rolled)
    }

    /// The running chains as the member sees them: her standing, the next step in words with
    /// its deadline, fan-out choices, and the chain coupons she can still use. Chains she can no
    /// longer enter (runs used up) are left out.
    pub async fn member_chains(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<MemberChain>> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let rewards = tx.chain_rewards(RewardsBy::Member(member)).await?;
        let mut out = Vec::new();
        for (row, progress) in tx.active_chains_for(member).await? {
            let def = &row.definition;
            if !chain::scheduled(def, now) {
                continue;
            }
            let p = progress.as_ref();
            let standing = p.map_or(Standing::NotStarted, |p| p.standing(now));
            let next = next_steps(def, p, now);
            if next.is_empty() && standing != Standing::Completed {
                continue;
            }
            let deadline = p.filter(|p| p.standing(now) == Standing::Active).and_then(|p| p.deadline);
            let mut waiting = Vec::new();
            for r in rewards.iter().filter(|r| r.chain == row.id) {
                let Some(code) = &r.coupon else { continue };
                let Ok(code) = crate::coupon::CouponCode::normalise(code) else { continue };
                if let Some(c) = tx.coupon(&code).await?
                    && !c.revoked
                    && now < c.valid_until
                    && c.max_uses.is_none_or(|m| c.uses < m)
                {
                    waiting.push(WaitingCoupon {
                        code: c.code.as_str().to_owned(),
                        template: c.template,
                        valid_until: c.valid_until,
                    });
                }
            }
            let choices = match p {
                Some(p) if def.kind == ChainKind::FanOut && standing == Standing::Active && p.branch.is_none() => {
                    next.clone()
                }
                _ => Vec::new(),
            };
            out.push(MemberChain {
                chain: row.id,
                name: def.name.clone(),
                kind: def.kind,
                standing,
                next: (!next.is_empty() && standing != Standing::Completed)
                    .then(|| step_words(config, def, &next, deadline)),
                deadline,
                choices,
                rewards_waiting: waiting,
            });
        }
        Ok(out)
    }

    /// The member picks a fan-out branch in the app: the other branches lapse for this run and
    /// the branch's reward is paid now (a coupon for that partner, or bonus). The same choice
    /// again is a no-op answering the same view (safe to retry); another choice, or nothing to
    /// choose, is [`ChainError::NoChoice`]; a chain that is not running is
    /// [`ChainError::NotFound`].
    pub async fn choose_chain_branch(
        &self,
        tenant: &TenantId,
        member: MemberId,
        id: Uuid,
        branch: usize,
    ) -> Result<MemberChain> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        let stored = tx.lock_account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let row = tx
            .chain(id)
            .await?
            .filter(|r| r.status == ChainStatus::Active.as_str())
            .ok_or(Error::Chain(ChainError::NotFound))?;
        let progress: HashMap<Uuid, Progress> = tx.member_progress(member).await?.into_iter().collect();
        let before = progress.get(&id);
        // The same choice again (a retried request) changes nothing and answers the same view.
        if before.is_some_and(|p| p.branch == Some(branch) && p.standing(now) == Standing::Active) {
            drop(tx);
            return self.member_chain(tenant, member, id).await;
        }
        let (after, reward) =
            chain::choose(&row.definition, before, branch, now).ok_or(Error::Chain(ChainError::NoChoice))?;
        let mut account = Account { lots: tx.load_lots(member, &[]).await?, debt: stored.debt };
        let mut plan = Plan::default();
        let key = (after.run, after.cycle, branch);
        if let Some(reward) = reward
            && !tx.chain_reward_paid(id, member, key).await?
        {
            let mut templates = Vec::new();
            if let RewardKind::Coupon { template } = &reward.kind
                && let Some(row) = tx.coupon_template(template).await?
            {
                templates.push(row);
            }
            let mut issued = Vec::new();
            let pctx = crate::purchase::PurchaseCtx { ledger: ctx, codes: &super::coupons::OsCodes };
            let paid = crate::purchase::chains::pay_reward(
                config,
                id,
                member,
                key,
                &reward,
                None,
                &templates,
                &mut account,
                &mut plan,
                &mut issued,
                pctx,
            )?;
            for coupon in &issued {
                tx.insert_new_coupon(coupon, now).await?;
            }
            tx.insert_chain_reward(&paid).await?;
        }
        tx.put_progress(id, member, Some(&after), now).await?;
        if !plan.entries.is_empty() {
            tx.write_plan(member, &plan, &account, now).await?;
        }
        tx.commit().await?;
        tracing::info!(tenant = %tenant, chain = %id, %member, branch, "fan-out branch chosen");
        self.member_chain(tenant, member, id).await
    }

    async fn member_chain(&self, tenant: &TenantId, member: MemberId, id: Uuid) -> Result<MemberChain> {
        self.member_chains(tenant, member)
            .await?
            .into_iter()
            .find(|c| c.chain == id)
            .ok_or(Error::Chain(ChainError::NotFound))
    }
}

/// An owner sees only chains his business takes part in.
pub(super) fn visible(actor: &ChainActor, view: &ChainView) -> Result<()> {
    match actor {
        ChainActor::Operator => Ok(()),
        ChainActor::Owner(b) if view.partners.iter().any(|p| &p.business == b) => Ok(()),
        ChainActor::Owner(_) => Err(ChainError::NotFound.into()),
    }
}
