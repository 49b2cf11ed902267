//! Chain definitions: what a member buys where, in which order and within which windows, and
//! what each step (and the whole chain) rewards. [`ChainDefinition::check`] refuses a bad
//! definition with every problem's field path.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::types::{Bonus, BusinessId, Category, Kopecks};

/// Longest window between two steps.
pub const MAX_WINDOW_DAYS: u32 = 366;

/// Most steps in a chain.
pub const MAX_STEPS: usize = 12;

/// Most cycles a cyclic chain may allow.
pub const MAX_CYCLES: u32 = 100;

/// The four shapes of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChainKind {
    /// Buy at A → a reward at B: exactly two steps, the first one rewarded.
    Simple,
    /// A, then B, then C … in order, each within its window → the completion reward.
    Sequential,
    /// A → B → C → A … : after the last step the chain starts over at the first (within the
    /// first step's window), each cycle paying its step rewards and the completion reward,
    /// up to `max_cycles` cycles.
    Cyclic,
    /// Buy at A (step 0) → one of the branches (steps 1…): the first branch used (or the one
    /// the member chose in the app) wins, the others lapse.
    FanOut,
}

impl ChainKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChainKind::Simple => "simple",
            ChainKind::Sequential => "sequential",
            ChainKind::Cyclic => "cyclic",
            ChainKind::FanOut => "fan_out",
        }
    }
}

/// Where a step's purchase must be made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum StepTarget {
    /// At this business.
    Business(BusinessId),
    /// At any business, booked under this category.
    Category(Category),
}

/// What a reward gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RewardKind {
    /// Bonus credited through the ledger (pending for the tenant's hold like cashback).
    Bonus {
        /// How much.
        amount: Bonus,
    },
    /// A personal single-use coupon of this template (typically valid at the next partner).
    Coupon {
        /// The coupon template's code.
        template: String,
    },
}

/// A reward and the partner that funds it (the issuing or the redeeming partner): it is the
/// issuer of a bonus reward's ledger lot, so the clearing statement charges it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    /// What it gives.
    pub kind: RewardKind,
    /// Who pays for it; must take part in the chain.
    pub funded_by: BusinessId,
}

/// One step of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Where the purchase must be made.
    pub target: StepTarget,
    /// Smallest purchase (charged amount) that counts; `Kopecks::ZERO` = any.
    #[serde(default)]
    pub min_amount: Kopecks,
    /// Days allowed after the previous step. Required (1–366) for every step but the first;
    /// for the first step of a cyclic chain it is the window to start the next cycle.
    #[serde(default)]
    pub window_days: Option<u32>,
    /// What making this step gives.
    #[serde(default)]
    pub reward: Option<Reward>,
}

/// A chain as drafted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainDefinition {
    /// The name members and partners see.
    pub name: String,
    /// Its shape.
    pub kind: ChainKind,
    /// The steps, in order (for a fan-out: the entry step, then the branches).
    pub steps: Vec<Step>,
    /// Paid when the chain is completed (per cycle for a cyclic chain).
    #[serde(default)]
    pub completion_reward: Option<Reward>,
    /// First instant a purchase can start or advance it.
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    /// First instant it no longer runs.
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    /// For a cyclic chain (required there): the most cycles a member can complete per run.
    #[serde(default)]
    pub max_cycles: Option<u32>,
    /// How many times one member may start the chain (a new run after completing or lapsing).
    pub per_member_limit: u32,
}

/// One problem of a definition, with its field path (`steps[1].window_days`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainProblem {
    /// Where.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> ChainProblem {
    ChainProblem { field: field.into(), message: message.into() }
}

impl Reward {
    /// The template a coupon reward issues.
    pub fn template(&self) -> Option<&str> {
        match &self.kind {
            RewardKind::Coupon { template } => Some(template),
            RewardKind::Bonus { .. } => None,
        }
    }
}

impl ChainDefinition {
    /// The businesses that take part: those named by steps and those funding rewards. Each
    /// must approve before the chain can start.
    pub fn partners(&self) -> Vec<BusinessId> {
        let mut out: Vec<BusinessId> = Vec::new();
        let mut add = |b: &BusinessId| {
            if !out.contains(b) {
                out.push(b.clone());
            }
        };
        for step in &self.steps {
            if let StepTarget::Business(b) = &step.target {
                add(b);
            }
            if let Some(r) = &step.reward {
                add(&r.funded_by);
            }
        }
        if let Some(r) = &self.completion_reward {
            add(&r.funded_by);
        }
        out
    }

    /// Every reward with its slot: a step's index, or `steps.len()` for the completion reward.
    pub fn rewards(&self) -> impl Iterator<Item = (usize, &Reward)> {
        self.steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.reward.as_ref().map(|r| (i, r)))
            .chain(self.completion_reward.iter().map(|r| (self.steps.len(), r)))
    }

    /// Checks the definition on its own, listing every problem with its field path. Whether
    /// businesses, categories and templates exist is checked by the caller with `known`
    /// (returns a message for an unknown one).
    pub fn check(&self, known: &dyn Fn(Known<'_>) -> Option<String>) -> Result<(), Vec<ChainProblem>> {
        let mut out = Vec::new();
        if self.name.trim().is_empty() || self.name.chars().count() > 120 {
            out.push(problem("name", "must be 1–120 characters"));
        }
        if self.ends_at <= self.starts_at {
            out.push(problem("ends_at", "must be after starts_at"));
        }
        if self.per_member_limit == 0 || self.per_member_limit > 1_000 {
            out.push(problem("per_member_limit", "must be 1–1000"));
        }
        let n = self.steps.len();
        if n == 0 {
            out.push(problem("steps", "must not be empty"));
        } else if n > MAX_STEPS {
            out.push(problem("steps", format!("at most {MAX_STEPS} steps")));
        }
        match self.kind {
            ChainKind::Simple if n != 2 => out.push(problem("steps", "a simple chain has exactly two steps (A → B)")),
            ChainKind::Simple if self.steps.first().is_some_and(|s| s.reward.is_none()) => {
                out.push(problem("steps[0].reward", "a simple chain rewards its first step"));
            }
            ChainKind::Sequential | ChainKind::Cyclic if n < 2 && n > 0 => {
                out.push(problem("steps", "needs at least two steps"));
            }
            ChainKind::FanOut if n < 3 && n > 0 => {
                out.push(problem("steps", "a fan-out needs the entry step and at least two branches"));
            }
            _ => {}
        }
        match (self.kind, self.max_cycles) {
            (ChainKind::Cyclic, None) => out.push(problem("max_cycles", "a cyclic chain needs a cap on cycles")),
            (ChainKind::Cyclic, Some(c)) if c == 0 || c > MAX_CYCLES => {
                out.push(problem("max_cycles", format!("must be 1–{MAX_CYCLES}")));
            }
            (ChainKind::Cyclic, Some(_)) => {}
            (_, Some(_)) => out.push(problem("max_cycles", "only a cyclic chain has cycles")),
            (_, None) => {}
        }
        for (i, step) in self.steps.iter().enumerate() {
            let at = |f: &str| format!("steps[{i}].{f}");
            let needs_window = i > 0 || self.kind == ChainKind::Cyclic;
            match step.window_days {
                None if needs_window => out.push(problem(at("window_days"), "required, 1–366 days")),
                Some(d) if d == 0 || d > MAX_WINDOW_DAYS => {
                    out.push(problem(at("window_days"), "must be 1–366 days"));
                }
                Some(_) if !needs_window => {
                    out.push(problem(at("window_days"), "the first step has no window (except in a cyclic chain)"));
                }
                _ => {}
            }
            match &step.target {
                StepTarget::Business(b) => {
                    if let Some(m) = known(Known::Business(b)) {
                        out.push(problem(at("target"), m));
                    }
                }
                StepTarget::Category(c) => {
                    if let Some(m) = known(Known::Category(c)) {
                        out.push(problem(at("target"), m));
                    }
                }
            }
            if let Some(r) = &step.reward {
                check_reward(&at("reward"), r, known, &mut out);
            }
        }
        if let Some(r) = &self.completion_reward {
            check_reward("completion_reward", r, known, &mut out);
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }
}

/// A name the caller must know for a definition to be valid.
#[derive(Debug, Clone, Copy)]
pub enum Known<'a> {
    /// A business of the tenant.
    Business(&'a BusinessId),
    /// A category of the tenant.
    Category(&'a Category),
    /// A coupon template (not revoked).
    Template(&'a str),
}

fn check_reward(field: &str, r: &Reward, known: &dyn Fn(Known<'_>) -> Option<String>, out: &mut Vec<ChainProblem>) {
    match &r.kind {
        RewardKind::Bonus { amount } => {
            if *amount <= Bonus::ZERO {
                out.push(problem(format!("{field}.amount"), "must be positive"));
            }
        }
        RewardKind::Coupon { template } => {
            if let Some(m) = known(Known::Template(template)) {
                out.push(problem(format!("{field}.template"), m));
            }
        }
    }
    if let Some(m) = known(Known::Business(&r.funded_by)) {
        out.push(problem(format!("{field}.funded_by"), m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn step(biz: &str, window: Option<u32>, reward: bool) -> Step {
        let b = BusinessId::parse(biz).unwrap();
        Step {
            target: StepTarget::Business(b.clone()),
            min_amount: Kopecks::ZERO,
            window_days: window,
            reward: reward
                .then(|| Reward { kind: RewardKind::Bonus { amount: Bonus::new(100).unwrap() }, funded_by: b }),
        }
    }

    fn def(kind: ChainKind, steps: Vec<Step>, cycles: Option<u32>) -> ChainDefinition {
        ChainDefinition {
            name: "c".into(),
            kind,
            steps,
            completion_reward: None,
            starts_at: datetime!(2026-01-01 0:00 UTC),
            ends_at: datetime!(2026-02-01 0:00 UTC),
            max_cycles: cycles,
            per_member_limit: 1,
        }
    }

    fn fields(d: &ChainDefinition) -> Vec<String> {
        let all_known = |_: Known<'_>| None;
        d.check(&all_known).err().unwrap_or_default().into_iter().map(|p| p.field).collect()
    }

    #[test]
    fn each_kind_refuses_the_shapes_it_cannot_run() {
        let simple = def(ChainKind::Simple, vec![step("shop-a", None, false), step("shop-b", Some(3), false)], None);
        assert_eq!(fields(&simple), vec!["steps[0].reward"]);
        let fan = def(ChainKind::FanOut, vec![step("shop-a", None, false), step("shop-b", Some(3), true)], None);
        assert_eq!(fields(&fan), vec!["steps"]);
        let capped =
            def(ChainKind::Sequential, vec![step("shop-a", Some(2), false), step("shop-b", Some(3), true)], Some(2));
        assert_eq!(fields(&capped), vec!["max_cycles", "steps[0].window_days"]);
        let ok = def(ChainKind::Cyclic, vec![step("shop-a", Some(2), false), step("shop-b", Some(3), true)], Some(2));
        assert_eq!(fields(&ok), Vec::<String>::new());
        assert_eq!(ok.partners().len(), 2);
    }

    #[test]
    fn a_schedule_that_ends_before_it_starts_and_no_runs_are_refused() {
        let mut d = def(ChainKind::Sequential, vec![step("shop-a", None, false), step("shop-b", Some(3), true)], None);
        d.ends_at = d.starts_at;
        d.per_member_limit = 0;
        d.name = " ".into();
        assert_eq!(fields(&d), vec!["name", "ends_at", "per_member_limit"]);
    }
}
