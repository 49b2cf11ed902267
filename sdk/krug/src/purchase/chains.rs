//! The chains step of a purchase: the member advances in every running chain the purchase makes
//! a step of, and the step's rewards are paid — each reward slot at most once per run and cycle.

use super::model::{ChainState, ChainStepWrite, NewCoupon, PurchaseCommand};
use super::policy::{PurchaseCtx, issue_personal, pending_credit};
use crate::chain::words::{next_steps, step_words};
use crate::chain::{self, PurchaseFacts, Reward, RewardKind};
use crate::coupon::CouponSource;
use crate::error::Result;
use crate::facade::{ChainRewardPaid, ChainStepMade};
use crate::ledger::{Account, Plan, Source};
use crate::store::{RewardRow, StepRow, TemplateRow};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, Kopecks, MemberId, PurchaseId};

/// Advances the member in the running `chains` the purchase (at `charged`) makes a step of: the
/// steps and progress to write, bonus rewards credited into `plan`, coupon rewards added to
/// `issued`, and the steps as the receipt lists them.
#[allow(clippy::too_many_arguments)] // the pipeline's state, passed through once
pub(super) fn advance_chains(
    config: &TenantConfig,
    cmd: &PurchaseCommand<'_>,
    charged: Kopecks,
    purchase: PurchaseId,
    chains: Vec<ChainState>,
    templates: &[TemplateRow],
    account: &mut Account,
    plan: &mut Plan,
    issued: &mut Vec<NewCoupon>,
    ctx: PurchaseCtx<'_>,
) -> Result<(Vec<ChainStepWrite>, Vec<ChainStepMade>)> {
    let now = ctx.ledger.now;
    let member = cmd.member;
    let facts = PurchaseFacts { business: cmd.business, category: &cmd.category, amount: charged };
    let mut writes = Vec::new();
    let mut made = Vec::new();
    for state in chains {
        let row = &state.chain;
        let def = &row.definition;
        let before = state.progress.as_ref();
        let Some(adv) = chain::advance(def, before, &facts, now) else { continue };
        let step = StepRow {
            chain: row.id,
            member,
            run: adv.run,
            cycle: adv.cycle,
            step: adv.step,
            seq: state.last_seq + 1,
            purchase,
            business: cmd.business.clone(),
            amount: charged,
            before: before.cloned(),
            made_at: now,
        };
        let mut rewards = Vec::new();
        let mut paid = Vec::new();
        for (slot, reward) in &adv.rewards {
            if state.paid.contains(&(adv.run, adv.cycle, *slot)) {
                continue;
            }
            let key = (adv.run, adv.cycle, *slot);
            let paid_row =
                pay_reward(config, row.id, member, key, reward, Some(purchase), templates, account, plan, issued, ctx)?;
            paid.push(ChainRewardPaid {
                slot: *slot,
                bonus: paid_row.bonus,
                coupon: paid_row.coupon.clone(),
                funded_by: paid_row.funded_by.clone(),
            });
            rewards.push(paid_row);
        }
        let next = next_steps(def, Some(&adv.after), now);
        made.push(ChainStepMade {
            chain: row.id,
            name: def.name.clone(),
            step: adv.step,
            cycle: adv.cycle,
            completed: adv.completes,
            rewards: paid,
            next: (!adv.after.completed && !next.is_empty())
                .then(|| step_words(config, def, &next, adv.after.deadline)),
            deadline: adv.after.deadline,
        });
        writes.push(ChainStepWrite { step, after: adv.after, rewards });
    }
    Ok((writes, made))
}

/// Pays one reward of `chain` to `member`: a bonus credit funded by the reward's partner
/// (pending like cashback), or a personal coupon of the reward's template (added to `issued`).
/// The caller has checked that the slot is not paid yet in this run and cycle.
#[allow(clippy::too_many_arguments)] // the pipeline's state, passed through once
pub(crate) fn pay_reward(
    config: &TenantConfig,
    chain: uuid::Uuid,
    member: MemberId,
    (run, cycle, slot): (u32, u32, usize),
    reward: &Reward,
    purchase: Option<PurchaseId>,
    templates: &[TemplateRow],
    account: &mut Account,
    plan: &mut Plan,
    issued: &mut Vec<NewCoupon>,
    ctx: PurchaseCtx<'_>,
) -> Result<RewardRow> {
    let mut row = RewardRow {
        chain,
        member,
        run,
        cycle,
        slot,
        purchase,
        funded_by: reward.funded_by.clone(),
        bonus: Bonus::ZERO,
        entry: None,
        lot: None,
        coupon: None,
        paid_at: ctx.ledger.now,
    };
    match &reward.kind {
        RewardKind::Bonus { amount } => {
            let reason = Some(format!("chain {chain}"));
            let credit = pending_credit(
                config,
                Source::Chain,
                Some(reward.funded_by.clone()),
                purchase,
                *amount,
                reason,
                ctx.ledger.now,
            );
            row.lot = Some(account.credit(plan, credit, ctx.ledger)?);
            row.entry = plan.entries.last().map(|e| e.id);
            row.bonus = *amount;
        }
        RewardKind::Coupon { template } => {
            let coupon = issue_personal(templates, template, member, CouponSource::Chain, ctx)?;
            row.coupon = Some(coupon.code.as_str().to_owned());
            issued.push(coupon);
        }
    }
    Ok(row)
}
