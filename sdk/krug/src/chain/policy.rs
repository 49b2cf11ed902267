//! Where a member stands in a chain and what a purchase (or a fan-out choice) does to it: pure
//! functions of `(definition, progress, purchase, now)`.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::model::{ChainDefinition, ChainKind, Reward, StepTarget};
use crate::types::{BusinessId, Category, Kopecks};

/// A member's progress in one chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Which start of the chain this is (0 = the first); limited by `per_member_limit`.
    pub run: u32,
    /// Completed cycles in this run (cyclic chains; 0 otherwise).
    pub cycle: u32,
    /// The step expected next (for a fan-out waiting on its branches: 1).
    pub next_step: usize,
    /// The branch the member chose in the app (fan-out only).
    pub branch: Option<usize>,
    /// Whether the run is completed.
    pub completed: bool,
    /// When this run started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// The first instant the next step is too late (`None` when completed).
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
}

/// Where a member stands, with lapse computed from `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Not started.
    NotStarted,
    /// Started, next step still possible.
    Active,
    /// Every step made (or every cycle).
    Completed,
    /// The next step's window passed.
    Lapsed,
}

impl Progress {
    /// Where this progress stands at `now`.
    pub fn standing(&self, now: OffsetDateTime) -> Standing {
        if self.completed {
            Standing::Completed
        } else if self.deadline.is_some_and(|d| now >= d) {
            Standing::Lapsed
        } else {
            Standing::Active
        }
    }
}

/// What the chain engine needs of a purchase.
#[derive(Debug, Clone, Copy)]
pub struct PurchaseFacts<'a> {
    /// Where.
    pub business: &'a BusinessId,
    /// Booked under.
    pub category: &'a Category,
    /// What the member was charged.
    pub amount: Kopecks,
}

/// A step made: the progress after it and the rewards it pays (slot, reward).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// The run the step belongs to.
    pub run: u32,
    /// The cycle the step belongs to.
    pub cycle: u32,
    /// The step made.
    pub step: usize,
    /// The progress after the step.
    pub after: Progress,
    /// Rewards to pay: the step's (slot = step) and, on completion, the completion reward
    /// (slot = `steps.len()`). The caller skips a slot already paid in this run and cycle.
    pub rewards: Vec<(usize, Reward)>,
    /// Whether this step completed the run (or a cycle of a cyclic chain).
    pub completes: bool,
}

fn matches(target: &StepTarget, min: Kopecks, p: &PurchaseFacts<'_>) -> bool {
    let here = match target {
        StepTarget::Business(b) => b == p.business,
        StepTarget::Category(c) => c == p.category,
    };
    here && p.amount >= min && !p.amount.is_zero()
}

fn window(def: &ChainDefinition, step: usize) -> Option<Duration> {
    def.steps.get(step).and_then(|s| s.window_days).map(|d| Duration::days(i64::from(d)))
}

/// Whether the chain's schedule covers `now`.
pub fn scheduled(def: &ChainDefinition, now: OffsetDateTime) -> bool {
    def.starts_at <= now && now < def.ends_at
}

/// What a purchase does to a member's progress in a running chain: `None` when it makes no step.
///
/// - No progress, or the last run completed or lapsed: a purchase matching step 0 starts a new
///   run when the member has runs left (`per_member_limit`).
/// - An active run: a purchase matching the expected step makes it (a fan-out: any branch, or
///   the chosen one); a cyclic chain returns to step 0 after the last step until `max_cycles`.
pub fn advance(
    def: &ChainDefinition,
    progress: Option<&Progress>,
    p: &PurchaseFacts<'_>,
    now: OffsetDateTime,
) -> Option<Advance> {
    if !scheduled(def, now) {
        return None;
    }
    let n = def.steps.len();
    let step_reward = |i: usize| def.steps.get(i).and_then(|s| s.reward.clone()).map(|r| (i, r));
    let completion = || def.completion_reward.clone().map(|r| (n, r));
    let active = progress.filter(|g| g.standing(now) == Standing::Active);
    let Some(g) = active else {
        let run = match progress {
            None => 0,
            Some(g) => g.run.checked_add(1)?,
        };
        let first = def.steps.first()?;
        if run >= def.per_member_limit || !matches(&first.target, first.min_amount, p) {
            return None;
        }
        let after = Progress {
            run,
            cycle: 0,
            next_step: 1,
            branch: None,
            completed: false,
            started_at: now,
            deadline: window(def, 1).map(|w| now + w),
        };
        return Some(Advance {
            run,
            cycle: 0,
            step: 0,
            after,
            rewards: step_reward(0).into_iter().collect(),
            completes: false,
        });
    };
    let mut after = g.clone();
    match def.kind {
        ChainKind::FanOut => {
            let made = (1..n).find(|&b| {
                g.branch.is_none_or(|chosen| chosen == b)
                    && def.steps.get(b).is_some_and(|s| matches(&s.target, s.min_amount, p))
            })?;
            after.completed = true;
            after.deadline = None;
            after.next_step = made;
            let rewards = step_reward(made).into_iter().chain(completion()).collect();
            Some(Advance { run: g.run, cycle: g.cycle, step: made, after, rewards, completes: true })
        }
        ChainKind::Simple | ChainKind::Sequential | ChainKind::Cyclic => {
            let step = g.next_step;
            let s = def.steps.get(step)?;
            if !matches(&s.target, s.min_amount, p) {
                return None;
            }
            let last = step + 1 == n;
            let mut rewards: Vec<(usize, Reward)> = step_reward(step).into_iter().collect();
            if !last {
                after.next_step = step + 1;
                after.deadline = window(def, step + 1).map(|w| now + w);
                return Some(Advance { run: g.run, cycle: g.cycle, step, after, rewards, completes: false });
            }
            rewards.extend(completion());
            let cycles_done = g.cycle.saturating_add(1);
            if def.kind == ChainKind::Cyclic && cycles_done < def.max_cycles.unwrap_or(1) {
                after.cycle = cycles_done;
                after.next_step = 0;
                after.deadline = window(def, 0).map(|w| now + w);
            } else {
                after.completed = true;
                after.deadline = None;
                after.cycle = if def.kind == ChainKind::Cyclic { cycles_done } else { g.cycle };
            }
            Some(Advance { run: g.run, cycle: g.cycle, step, after, rewards, completes: true })
        }
    }
}

/// A fan-out choice: the member picks `branch` while the run waits on its branches. Returns the
/// progress after it and the branch's reward (paid now, so a coupon for the chosen partner is in
/// the app before the visit); `None` when there is nothing to choose.
pub fn choose(
    def: &ChainDefinition,
    progress: Option<&Progress>,
    branch: usize,
    now: OffsetDateTime,
) -> Option<(Progress, Option<Reward>)> {
    if def.kind != ChainKind::FanOut || !scheduled(def, now) || branch == 0 || branch >= def.steps.len() {
        return None;
    }
    let g = progress.filter(|g| g.standing(now) == Standing::Active && g.branch.is_none())?;
    let mut after = g.clone();
    after.branch = Some(branch);
    Some((after, def.steps.get(branch).and_then(|s| s.reward.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::model::{RewardKind, Step};
    use crate::types::Bonus;
    use time::macros::datetime;

    fn b(s: &str) -> BusinessId {
        BusinessId::parse(s).unwrap()
    }

    fn step(biz: &str, window: Option<u32>, bonus: i64) -> Step {
        Step {
            target: StepTarget::Business(b(biz)),
            min_amount: Kopecks::new(10_000).unwrap(),
            window_days: window,
            reward: (bonus > 0)
                .then(|| Reward { kind: RewardKind::Bonus { amount: Bonus::new(bonus).unwrap() }, funded_by: b(biz) }),
        }
    }

    fn def(kind: ChainKind, steps: Vec<Step>, cycles: Option<u32>) -> ChainDefinition {
        ChainDefinition {
            name: "c".into(),
            kind,
            steps,
            completion_reward: None,
            starts_at: datetime!(2026-01-01 0:00 UTC),
            ends_at: datetime!(2027-01-01 0:00 UTC),
            max_cycles: cycles,
            per_member_limit: 1,
        }
    }

    fn buy<'a>(biz: &'a BusinessId, cat: &'a Category, rub: i64) -> PurchaseFacts<'a> {
        PurchaseFacts { business: biz, category: cat, amount: Kopecks::rubles(rub).unwrap() }
    }

    #[test]
    fn a_cyclic_chain_returns_to_its_first_step_until_the_cap() {
        let d = def(ChainKind::Cyclic, vec![step("shop-a", Some(10), 0), step("shop-c", Some(5), 300)], Some(2));
        let now = datetime!(2026-03-01 0:00 UTC);
        let (a, c, cat) = (b("shop-a"), b("shop-c"), Category::parse("cat-x").unwrap());
        let s0 = advance(&d, None, &buy(&a, &cat, 200), now).unwrap();
        let s1 = advance(&d, Some(&s0.after), &buy(&c, &cat, 200), now).unwrap();
        assert_eq!((s1.after.cycle, s1.after.next_step, s1.after.completed), (1, 0, false));
        assert_eq!(s1.after.deadline, Some(now + Duration::days(10)));
        let s2 = advance(&d, Some(&s1.after), &buy(&a, &cat, 200), now).unwrap();
        let s3 = advance(&d, Some(&s2.after), &buy(&c, &cat, 200), now).unwrap();
        assert!(s3.after.completed);
        assert_eq!(s3.cycle, 1);
        assert_eq!(advance(&d, Some(&s3.after), &buy(&a, &cat, 200), now), None, "one run per member");
    }

    #[test]
    fn a_purchase_below_the_minimum_or_after_the_deadline_makes_no_step() {
        let d = def(ChainKind::Sequential, vec![step("shop-a", None, 0), step("shop-c", Some(5), 300)], None);
        let now = datetime!(2026-03-01 0:00 UTC);
        let (a, c, cat) = (b("shop-a"), b("shop-c"), Category::parse("cat-x").unwrap());
        assert_eq!(advance(&d, None, &buy(&a, &cat, 99), now), None);
        let s0 = advance(&d, None, &buy(&a, &cat, 100), now).unwrap();
        let late = now + Duration::days(5);
        assert_eq!(s0.after.standing(late), Standing::Lapsed);
        assert_eq!(advance(&d, Some(&s0.after), &buy(&c, &cat, 500), late), None);
    }
}
