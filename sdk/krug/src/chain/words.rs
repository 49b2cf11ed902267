//! A chain's next step in the member's words ("buy at Миндаль by 12 Dec to get 500 ₽ bonus"),
//! for receipts and the member's view.

use time::{Duration, OffsetDateTime};

use super::{ChainDefinition, ChainKind, Progress, Reward, RewardKind, Standing, StepTarget};
use crate::coupon::rubles;
use crate::tenant::TenantConfig;

fn target_name(config: &TenantConfig, t: &StepTarget) -> String {
    match t {
        StepTarget::Business(b) => config.business(b).map_or_else(|| b.to_string(), |x| x.name.clone()),
        StepTarget::Category(c) => format!("any {c} partner"),
    }
}

fn reward_words(r: &Reward) -> String {
    match &r.kind {
        RewardKind::Bonus { amount } => format!("{} bonus", rubles(amount.get())),
        RewardKind::Coupon { template } => format!("a coupon ({template})"),
    }
}

/// "buy at Миндаль (from 1,000 ₽) by 12 Dec to get 500 ₽ bonus" (the last local day still in
/// time); a fan-out's branches: "buy at A to get X or B to get Y by 12 Dec".
pub(crate) fn step_words(
    config: &TenantConfig,
    def: &ChainDefinition,
    steps: &[usize],
    deadline: Option<OffsetDateTime>,
) -> String {
    let by = deadline.map(|d| {
        let last = config.local_date(d - Duration::microseconds(1));
        let month = last.month().to_string();
        format!(" by {} {}", last.day(), month.get(..3).unwrap_or(&month))
    });
    let single = steps.len() == 1;
    let parts: Vec<String> = steps
        .iter()
        .filter_map(|&i| def.steps.get(i).map(|s| (i, s)))
        .map(|(i, s)| {
            let mut w = target_name(config, &s.target);
            if !s.min_amount.is_zero() {
                w.push_str(&format!(" (from {})", rubles(s.min_amount.get())));
            }
            if single && let Some(by) = &by {
                w.push_str(by);
            }
            let mut rewards: Vec<String> = s.reward.iter().map(reward_words).collect();
            let last = i + 1 == def.steps.len() || def.kind == ChainKind::FanOut;
            if last && let Some(c) = &def.completion_reward {
                rewards.push(reward_words(c));
            }
            if !rewards.is_empty() {
                w.push_str(&format!(" to get {}", rewards.join(" and ")));
            }
            w
        })
        .collect();
    let mut out = format!("buy at {}", parts.join(" or "));
    if !single && let Some(by) = &by {
        out.push_str(by);
    }
    out
}

/// The steps a member can make next, for words and choices.
pub(crate) fn next_steps(def: &ChainDefinition, p: Option<&Progress>, now: OffsetDateTime) -> Vec<usize> {
    match p.map(|p| (p, p.standing(now))) {
        Some((p, Standing::Active)) if def.kind == ChainKind::FanOut => match p.branch {
            Some(b) => vec![b],
            None => (1..def.steps.len()).collect(),
        },
        Some((p, Standing::Active)) => vec![p.next_step],
        Some((p, _)) if p.run.saturating_add(1) >= def.per_member_limit => Vec::new(),
        _ => vec![0],
    }
}
