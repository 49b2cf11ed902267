//! Win-win analytics of cross-promo chains: the funnel per step and each partner's revenue,
//! reward cost, net gain, new clients and uplift against non-enrolled members, as JSON and CSV.
//! A partner sees the funnel and his own row; a clinic step in another partner's view is unnamed
//! and its count withheld below [`MIN_MEDICAL_GROUP`]; no figure names a member.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::Krug;
use super::chains::{ChainActor, visible};
use crate::chain::{ChainDefinition, ChainKind, StepTarget};
use crate::error::Result;
use crate::store::{PurchaseFact, RewardsBy};
use crate::types::{BusinessId, Kopecks, MemberId, TenantId};

/// One step's funnel figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepStats {
    /// The step.
    pub step: usize,
    /// Its business or category.
    pub target: String,
    /// Distinct members who made it.
    pub entered: u64,
    /// `entered` over the previous step's (a branch: over the entry step's), basis points;
    /// `None` for the first step, and for a clinic step in another partner's view.
    pub conversion_bps: Option<i64>,
    /// A clinic step shown to another partner: its aggregate count only, under the target
    /// `"medical"` (no partner name).
    pub aggregate_only: bool,
    /// That aggregate covers fewer than [`MIN_MEDICAL_GROUP`] members, so it is withheld
    /// (`entered` is 0): a tiny count could point at a person.
    pub suppressed: bool,
}

/// The smallest group of members a clinic step's count is shown to other partners for (the
/// k-threshold of the medical-secrecy rules; smaller counts are suppressed).
pub const MIN_MEDICAL_GROUP: u64 = 10;

/// One partner's win-win figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartnerStats {
    /// The partner.
    pub business: BusinessId,
    /// Revenue at this partner from the purchases that made its steps (net of refunds), kopecks.
    pub revenue_kopecks: i64,
    /// Rewards it funds: bonus paid plus what its chain coupons took off or credited when used.
    pub reward_cost_kopecks: i64,
    /// `revenue − reward cost`.
    pub net_gain_kopecks: i64,
    /// Members whose first purchase at this partner made a chain step here.
    pub new_clients: u64,
    /// Conversion into this partner's first non-entry step among chain members, basis points.
    pub enrolled_rate_bps: Option<i64>,
    /// The same partners' baseline cross-purchase rate among members not in the chain.
    pub baseline_rate_bps: Option<i64>,
    /// `enrolled − baseline`, basis points.
    pub uplift_bps: Option<i64>,
}

/// Win-win analytics of a chain. See [`Krug::chain_analytics`] for the formulas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainAnalytics {
    /// The chain.
    pub chain: Uuid,
    /// Its name.
    pub name: String,
    /// The funnel, step by step.
    pub steps: Vec<StepStats>,
    /// Per partner (a partner's own view: its row only).
    pub partners: Vec<PartnerStats>,
}

/// The analytics as CSV: one line per step, then one per partner.
pub fn chain_analytics_csv(a: &ChainAnalytics) -> String {
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from(
        "section,step,target,entered,conversion_bps,business,revenue_kopecks,reward_cost_kopecks,net_gain_kopecks,\
         new_clients,enrolled_rate_bps,baseline_rate_bps,uplift_bps\n",
    );
    for s in &a.steps {
        out.push_str(&format!("step,{},{},{},{},,,,,,,,\n", s.step, s.target, s.entered, opt(s.conversion_bps)));
    }
    for p in &a.partners {
        out.push_str(&format!(
            "partner,,,,,{},{},{},{},{},{},{},{}\n",
            p.business,
            p.revenue_kopecks,
            p.reward_cost_kopecks,
            p.net_gain_kopecks,
            p.new_clients,
            opt(p.enrolled_rate_bps),
            opt(p.baseline_rate_bps),
            opt(p.uplift_bps)
        ));
    }
    out
}

fn bps(num: u64, den: u64) -> Option<i64> {
    (den > 0).then(|| i64::try_from(num.saturating_mul(10_000) / den).unwrap_or(i64::MAX))
}

impl Krug {
    /// Win-win analytics of a chain: the operator sees every partner; an owner sees the funnel
    /// and his own partner row only, and a clinic step other than his own as its aggregate
    /// count only.
    ///
    /// Formulas (all amounts in kopecks, rates in basis points, integers floored):
    /// - `entered[i]` = distinct members who made step `i`;
    ///   `conversion[i] = entered[i] · 10000 / entered[i−1]` (a fan-out branch: `/ entered[0]`);
    /// - a partner's `revenue` = Σ (amount − refunded) of the purchases that made its steps —
    ///   purchases by chain members inside the chain's windows;
    /// - `reward cost` = Σ bonus rewards it funds + Σ (discount + bonus) of its chain coupons'
    ///   unrestored redemptions; `net gain = revenue − reward cost`;
    /// - `new clients` = members whose step purchase there had no earlier purchase there;
    /// - for the partner's first step `i ≥ 1` (previous step `j`: `i−1`, or 0 for a branch):
    ///   `enrolled = conversion[i]`; `baseline` = among members who made no step of the chain
    ///   and bought at step `j`'s target during the schedule, the share whose first such purchase
    ///   was followed by a purchase at step `i`'s target within step `i`'s window;
    ///   `uplift = enrolled − baseline`.
    pub async fn chain_analytics(&self, tenant: &TenantId, actor: &ChainActor, id: Uuid) -> Result<ChainAnalytics> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        let view = self.chain_view(&mut tx, id).await?;
        visible(actor, &view)?;
        let def = &view.definition;
        let steps = tx.chain_steps(id).await?;
        let facts = tx.chain_step_facts(id).await?;
        let rewards = tx.chain_rewards(RewardsBy::Chain(id)).await?;
        let coupon_cost: HashMap<BusinessId, i64> = tx.chain_coupon_cost(id).await?.into_iter().collect();
        let max_window = def.steps.iter().filter_map(|s| s.window_days).max().unwrap_or(0);
        let until = def.ends_at.min(now) + Duration::days(i64::from(max_window));
        let purchases = tx.purchases_between(def.starts_at, until).await?;

        let n = def.steps.len();
        let mut entered_by: Vec<BTreeSet<MemberId>> = vec![BTreeSet::new(); n];
        for s in &steps {
            if let Some(set) = entered_by.get_mut(s.step) {
                set.insert(s.member);
            }
        }
        let entered: Vec<u64> = entered_by.iter().map(|s| s.len() as u64).collect();
        let prev = |i: usize| if def.kind == ChainKind::FanOut { 0 } else { i - 1 };
        let conversion = |i: usize| -> Option<i64> {
            if i == 0 {
                return None;
            }
            bps(*entered.get(i)?, *entered.get(prev(i))?)
        };
        let viewer = match actor {
            ChainActor::Owner(b) => Some(b),
            ChainActor::Operator => None,
        };
        let step_stats = def
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let clinic = match &s.target {
                    StepTarget::Business(b) => {
                        config.business(b).is_some_and(|x| x.medical) && viewer.is_some_and(|v| v != b)
                    }
                    StepTarget::Category(c) => {
                        viewer.is_some() && config.businesses.iter().any(|x| &x.category == c && x.medical)
                    }
                };
                let count = entered.get(i).copied().unwrap_or(0);
                let suppressed = clinic && count < MIN_MEDICAL_GROUP;
                StepStats {
                    step: i,
                    target: match &s.target {
                        _ if clinic => "medical".to_owned(),
                        StepTarget::Business(b) => b.to_string(),
                        StepTarget::Category(c) => format!("category:{c}"),
                    },
                    entered: if suppressed { 0 } else { count },
                    conversion_bps: if clinic { None } else { conversion(i) },
                    aggregate_only: clinic,
                    suppressed,
                }
            })
            .collect();

        let enrolled: HashSet<MemberId> = steps.iter().map(|s| s.member).collect();
        let business_of: HashMap<(MemberId, u32, u32, usize), &BusinessId> =
            steps.iter().map(|s| ((s.member, s.run, s.cycle, s.step), &s.business)).collect();
        let mut revenue: BTreeMap<&BusinessId, i64> = BTreeMap::new();
        let mut new_clients: BTreeMap<&BusinessId, BTreeSet<MemberId>> = BTreeMap::new();
        for (m, run, cycle, step, first, net) in &facts {
            let Some(b) = business_of.get(&(*m, *run, *cycle, *step)) else { continue };
            *revenue.entry(b).or_default() += net.get();
            if *first {
                new_clients.entry(b).or_default().insert(*m);
            }
        }
        let mut bonus_cost: BTreeMap<&BusinessId, i64> = BTreeMap::new();
        for r in &rewards {
            *bonus_cost.entry(&r.funded_by).or_default() += r.bonus.get();
        }
        let mut partners = Vec::new();
        for p in &view.partners {
            let b = &p.business;
            if viewer.is_some_and(|v| v != b) {
                continue;
            }
            let revenue = revenue.get(b).copied().unwrap_or(0);
            let cost = bonus_cost.get(b).copied().unwrap_or(0) + coupon_cost.get(b).copied().unwrap_or(0);
            let first_step = (1..n)
                .find(|&i| def.steps.get(i).is_some_and(|s| matches!(&s.target, StepTarget::Business(x) if x == b)));
            let (enrolled_rate, baseline) = match first_step {
                Some(i) => (conversion(i), baseline_rate(def, prev(i), i, &purchases, &enrolled)),
                None => (None, None),
            };
            partners.push(PartnerStats {
                business: b.clone(),
                revenue_kopecks: revenue,
                reward_cost_kopecks: cost,
                net_gain_kopecks: revenue - cost,
                new_clients: new_clients.get(b).map_or(0, |s| s.len() as u64),
                enrolled_rate_bps: enrolled_rate,
                baseline_rate_bps: baseline,
                uplift_bps: enrolled_rate.zip(baseline).map(|(e, b)| e - b),
            });
        }
        Ok(ChainAnalytics { chain: id, name: def.name.clone(), steps: step_stats, partners })
    }
}

fn hits(target: &StepTarget, min: Kopecks, p: &PurchaseFact) -> bool {
    let here = match target {
        StepTarget::Business(b) => b == &p.business,
        StepTarget::Category(c) => c == &p.category,
    };
    here && !p.net.is_zero() && p.net >= min
}

/// Among members not in the chain who bought at step `from`'s target during the schedule: the
/// share (bps) whose first such purchase was followed by one at step `to`'s target within step
/// `to`'s window. `None` when no such member.
fn baseline_rate(
    def: &ChainDefinition,
    from: usize,
    to: usize,
    purchases: &[PurchaseFact],
    enrolled: &HashSet<MemberId>,
) -> Option<i64> {
    let (a, b) = (def.steps.get(from)?, def.steps.get(to)?);
    let window = Duration::days(i64::from(b.window_days?));
    let mut first: HashMap<MemberId, OffsetDateTime> = HashMap::new();
    for p in purchases {
        if p.at < def.ends_at && !enrolled.contains(&p.member) && hits(&a.target, a.min_amount, p) {
            first.entry(p.member).or_insert(p.at);
        }
    }
    let converted = first
        .iter()
        .filter(|&(m, &t)| {
            purchases
                .iter()
                .any(|p| &p.member == m && p.at > t && p.at < t + window && hits(&b.target, b.min_amount, p))
        })
        .count();
    bps(converted as u64, first.len() as u64)
}
