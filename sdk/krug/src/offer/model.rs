//! Offer model: the sandbox limits a tenant configures, an offer's rules (priority, budgets,
//! schedule), the facts a script sees, the effects it asks for, and example cases.
//!
//! Invariants: every amount is integer kopecks in the money newtypes; a [`OfferRules`] value
//! that passed [`OfferRules::check`] has no negative or zero limit and a schedule that ends after
//! it starts; an [`Effects`] value built by the sandbox holds only validated names and rates.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::types::{Bonus, BusinessId, Category, Kopecks, TierCode};

/// The `[offers]` section of `tenant.toml`: sandbox limits for every offer script and the
/// tenant-wide cap on offer bonus per purchase. Defaults are documented on each field.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfferLimits {
    /// Rhai operations one script run may take before it is stopped. Default 20 000.
    pub max_operations: u64,
    /// Deepest expression nesting, at compile and run time. Default 32.
    pub max_expr_depth: usize,
    /// Deepest function-call nesting. Default 8.
    pub max_call_levels: usize,
    /// Longest string a script may build, in bytes. Default 1 024.
    pub max_string_size: usize,
    /// Largest array a script may build. Default 256.
    pub max_array_size: usize,
    /// Largest object map a script may build. Default 64.
    pub max_map_size: usize,
    /// Longest script source, in bytes. Default 16 384.
    pub max_script_bytes: usize,
    /// The most offer bonus one purchase can earn, summed over every offer that fires, in
    /// kopecks. Default 500 000 (5 000 ₽).
    pub max_bonus_per_purchase_kopecks: i64,
}

impl Default for OfferLimits {
    fn default() -> Self {
        OfferLimits {
            max_operations: 20_000,
            max_expr_depth: 32,
            max_call_levels: 8,
            max_string_size: 1_024,
            max_array_size: 256,
            max_map_size: 64,
            max_script_bytes: 16_384,
            max_bonus_per_purchase_kopecks: 500_000,
        }
    }
}

impl OfferLimits {
    /// Every problem with the values, as `(key, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut range = |key: &'static str, value: u64, min: u64, max: u64| {
            if value < min || value > max {
                out.push((key, format!("must be {min}..={max} (got {value})")));
            }
        };
        range("max_operations", self.max_operations, 100, 10_000_000);
        range("max_expr_depth", self.max_expr_depth as u64, 4, 256);
        range("max_call_levels", self.max_call_levels as u64, 0, 64);
        range("max_string_size", self.max_string_size as u64, 16, 1 << 20);
        range("max_array_size", self.max_array_size as u64, 1, 1 << 16);
        range("max_map_size", self.max_map_size as u64, 1, 1 << 16);
        range("max_script_bytes", self.max_script_bytes as u64, 64, 1 << 20);
        if Bonus::non_negative(self.max_bonus_per_purchase_kopecks).is_err() {
            out.push((
                "max_bonus_per_purchase_kopecks",
                format!("must be 0..={} (got {})", crate::types::MAX_AMOUNT, self.max_bonus_per_purchase_kopecks),
            ));
        }
        out
    }

    /// The per-purchase cap as a bonus amount.
    pub fn purchase_cap(&self) -> Bonus {
        Bonus::non_negative(self.max_bonus_per_purchase_kopecks).unwrap_or(Bonus::ZERO)
    }
}

/// What the engine (never the script) enforces for one offer version: order among the
/// business's offers, exclusivity, budgets and the schedule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OfferRules {
    /// Higher runs first; ties run in offer-id order. Default 0.
    pub priority: i32,
    /// When this offer fires, offers of lower priority are not evaluated for the purchase.
    pub exclusive: bool,
    /// Total bonus this offer may ever issue (over all versions); `None`: unlimited.
    pub budget: Option<Bonus>,
    /// Times one member can receive this offer; `None`: unlimited.
    pub per_member_count: Option<u32>,
    /// Total bonus one member can receive from this offer; `None`: unlimited.
    pub per_member_bonus: Option<Bonus>,
    /// Bonus this offer may issue per local day of the tenant; `None`: unlimited.
    pub per_day_bonus: Option<Bonus>,
    /// Runs from this instant (inclusive); `None`: as soon as approved.
    #[serde(with = "time::serde::rfc3339::option")]
    pub starts_at: Option<OffsetDateTime>,
    /// Runs until this instant (exclusive); `None`: until paused or archived.
    #[serde(with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
}

impl OfferRules {
    /// Refuses zero/negative limits and an empty schedule, as `(field, message)`.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let positive = |b: Option<Bonus>| b.is_none_or(|b| b.get() > 0);
        if !positive(self.budget) {
            return Err(("rules.budget", "must be positive when set".into()));
        }
        if !positive(self.per_member_bonus) {
            return Err(("rules.per_member_bonus", "must be positive when set".into()));
        }
        if !positive(self.per_day_bonus) {
            return Err(("rules.per_day_bonus", "must be positive when set".into()));
        }
        if self.per_member_count == Some(0) {
            return Err(("rules.per_member_count", "must be positive when set".into()));
        }
        if let (Some(from), Some(to)) = (self.starts_at, self.ends_at)
            && to <= from
        {
            return Err(("rules.ends_at", "must be after starts_at".into()));
        }
        Ok(())
    }

    /// Whether the schedule includes `now`.
    pub fn in_schedule(&self, now: OffsetDateTime) -> bool {
        self.starts_at.is_none_or(|s| s <= now) && self.ends_at.is_none_or(|e| now < e)
    }
}

/// The purchase as a script sees it (`purchase.*`). Local fields are in the tenant's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseFacts {
    /// `purchase.amount`: the total, kopecks.
    pub amount: Kopecks,
    /// `purchase.paid`: the part paid with money, kopecks.
    pub paid: Kopecks,
    /// `purchase.category`.
    pub category: Category,
    /// `purchase.business`: the business slug.
    pub business: BusinessId,
    /// `purchase.weekday`: 1 = Monday … 7 = Sunday.
    pub weekday: u8,
    /// `purchase.hour`: 0..=23.
    pub hour: u8,
    /// `purchase.date`: `"YYYY-MM-DD"` in scripts.
    pub date: Date,
    /// The cashback this purchase earns before offers (what `multiply` multiplies); not visible
    /// to scripts. Default 0.
    #[serde(default)]
    pub cashback: Bonus,
}

/// The member as a script sees it (`member.*`), as of the purchase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemberFacts {
    /// `member.tier`: the tier code after the purchase, `""` for none.
    pub tier: Option<TierCode>,
    /// `member.days_since_joining`.
    pub days_since_joining: i64,
    /// `member.visits`: earlier purchases at this business.
    pub visits: i64,
    /// `member.spend`: net spend at this business before this purchase, kopecks.
    pub spend: Kopecks,
    /// `member.categories`: distinct categories in the status window, this purchase included;
    /// medical partners' categories are never counted (medical secrecy).
    pub categories: i64,
    /// `member.birthday_today`.
    pub birthday_today: bool,
    /// `member.birthday_this_week`: the birthday falls in the purchase's Monday–Sunday week.
    pub birthday_this_week: bool,
    /// `member.days_since_last_visit` at this business; `-1` in scripts for a first visit.
    pub days_since_last_visit: Option<i64>,
}

/// What one run of a script asked for. The engine turns this into bonus, within limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Effects {
    /// Σ of `bonus(kopecks)` calls.
    pub bonus: Bonus,
    /// Σ of `bonus_rate(bps)` calls: extra cashback on the paid part, at most 10 000.
    pub bonus_rate_bps: u32,
    /// The largest `multiply(percent)`: 200 doubles the purchase's cashback; `None`: not called.
    pub multiply_percent: Option<u32>,
    /// `issue_coupon("template")` names, in call order.
    pub coupons: Vec<String>,
    /// `award_badge("code")` codes, in call order.
    pub badges: Vec<String>,
}

impl Effects {
    /// Whether the script asked for nothing (the offer did not match the purchase).
    pub fn is_empty(&self) -> bool {
        self.bonus.is_zero()
            && self.bonus_rate_bps == 0
            && self.multiply_percent.is_none()
            && self.coupons.is_empty()
            && self.badges.is_empty()
    }
}

/// An example case an offer version carries: facts in, effects expected. Submission requires
/// every example to produce exactly its expected effects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferExample {
    /// A name the owner recognises ("Tuesday lunch doubles").
    pub name: String,
    /// The purchase.
    pub purchase: PurchaseFacts,
    /// The member.
    #[serde(default)]
    pub member: MemberFacts,
    /// What the script must ask for (empty: must not fire).
    #[serde(default)]
    pub expect: Effects,
}

/// Why a script run produced no effects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "message")]
pub enum ScriptFailure {
    /// A sandbox limit stopped it (operations, sizes, depth).
    Limit(String),
    /// It failed at run time (a type error, a bad effect argument, a missing property).
    Runtime(String),
}

impl std::fmt::Display for ScriptFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScriptFailure::Limit(m) => write!(f, "limit: {m}"),
            ScriptFailure::Runtime(m) => write!(f, "runtime: {m}"),
        }
    }
}

/// Whether `name` is a coupon template or badge code: 1–40 of `a-z 0-9 - _`, starting with a
/// letter.
pub fn valid_code(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}
