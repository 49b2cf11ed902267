//! `tenant.toml`: parsing and validation.
//!
//! Two steps. The file is parsed into private "raw" structs that mirror it (unknown keys refused,
//! every optional value defaulted in one `Default` impl), one table at a time, so a fault in one
//! table does not hide the faults in another. The raw values are then validated into domain
//! types, collecting every problem with its field path rather than stopping at the first.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::{Date, OffsetDateTime};

use crate::coupon::{CouponPolicy, RestoreOnRefund};
use crate::ledger::{BonusPolicy, RefundOfSpent};
use crate::status::{StatusWindow, TierRule, TierRules};
use crate::types::{Bps, BusinessId, Category, Kopecks, Rounding, TenantId, TierCode};

/// The file [`TenantConfig::load_dir`] reads inside a tenant's directory.
pub const TENANT_FILE: &str = "tenant.toml";

/// One tenant (ecosystem) as configured: valid by construction, so engines never re-check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    /// The tenant's slug; every stored row carries it.
    pub id: TenantId,
    /// The ecosystem's display name.
    pub name: String,
    /// The IANA time zone the tenant's days (expiry dates, reports) are counted in; checked to be
    /// a name the `time-tz` database knows.
    pub timezone: String,
    /// The partner businesses; at least one, slugs unique.
    pub businesses: Vec<BusinessConfig>,
    /// The status ladder.
    pub tiers: TierRules,
    /// The bonus ledger rules.
    pub bonus: BonusPolicy,
    /// The event budget rules.
    pub budget: BudgetPolicy,
    /// The events hub rules: vote weights, who may propose, early access (`[events]`).
    pub events: crate::event::EventsPolicy,
    /// The coupon rules (`[coupons]`).
    pub coupons: CouponPolicy,
    /// Offer sandbox limits and the per-purchase offer bonus cap (`[offers]`, all defaulted).
    pub offers: crate::offer::OfferLimits,
    /// The TOML text this configuration was loaded from; stored with the tenant so what was
    /// applied, and when, can be audited.
    pub source: String,
}

/// A partner business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessConfig {
    /// Unique within the tenant.
    pub id: BusinessId,
    /// The name members see.
    pub name: String,
    /// What it sells; tiers count distinct categories.
    pub category: Category,
    /// A clinic: its purchases fall under medical secrecy, so their details stay with it.
    pub medical: bool,
}

/// How the ecosystem's event budget is funded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// The share of each purchase set aside for members' events. Default 200 bps (2 %).
    pub event_share: Bps,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        BudgetPolicy { event_share: Bps::new(200).unwrap_or(Bps::ZERO) }
    }
}

/// One thing wrong with a tenant file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Where: a field path such as `tiers[2].min_spend_kopecks`, or `line 3, column 7` for a
    /// TOML syntax error.
    pub path: String,
    /// What is wrong, in words an operator can act on.
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found in a tenant file (never empty), so one run fixes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl TenantConfig {
    /// Reads and validates `<dir>/tenant.toml`. An unreadable file is one problem at path
    /// `tenant.toml`.
    pub fn load_dir(dir: &Path) -> Result<TenantConfig, ConfigErrors> {
        let path = dir.join(TENANT_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigErrors(vec![ConfigProblem {
                path: TENANT_FILE.into(),
                message: format!("cannot read {}: {e}", path.display()),
            }])
        })?;
        TenantConfig::from_toml_str(&text)
    }

    /// Parses and validates a tenant file, reporting every problem found.
    pub fn from_toml_str(text: &str) -> Result<TenantConfig, ConfigErrors> {
        let mut table = text.parse::<toml::Table>().map_err(|e| {
            ConfigErrors(vec![ConfigProblem {
                path: position(text, e.span().map_or(0, |s| s.start)),
                message: e.message().trim().to_owned(),
            }])
        })?;
        let mut v = Validator::default();

        let sections = ["status", "bonus", "budget", "businesses", "tiers", "events", "coupons", "offers"]
            .map(|key| table.remove(key));
        let [status, bonus, budget, businesses, tiers, events, coupons, offers] = sections;
        let header = v.table::<RawHeader>(toml::Value::Table(table), "");
        let status = status.map_or_else(|| Some(RawStatus::default()), |s| v.table(s, "status"));
        let bonus = bonus.map_or_else(|| Some(RawBonus::default()), |s| v.table(s, "bonus"));
        let budget = budget.map_or_else(|| Some(RawBudget::default()), |s| v.table(s, "budget"));
        let coupons = coupons.map_or_else(|| Some(RawCoupons::default()), |s| v.table(s, "coupons"));
        let businesses = v.array::<RawBusiness>(businesses, "businesses");
        let offers = offers.map_or_else(|| Some(crate::offer::OfferLimits::default()), |s| v.table(s, "offers"));
        let offers = offers.filter(|o| {
            let problems = o.problems();
            for (key, message) in &problems {
                v.push(join("offers", key), message.clone());
            }
            problems.is_empty()
        });
        let tiers = v.array::<RawTier>(tiers, "tiers");
        let events = events.map_or_else(|| Some(RawEvents::default()), |s| v.table(s, "events"));

        let header = header.and_then(|h| v.header(h));
        let businesses = businesses.and_then(|b| v.businesses(b));
        let window = status.as_ref().and_then(|s| v.window(s));
        let tiers = match (window, status, tiers) {
            (Some(window), Some(status), Some(tiers)) => v.tiers(window, status.downgrade_grace_days, tiers),
            _ => None,
        };
        let bonus = bonus.and_then(|b| v.bonus(b));
        let budget = budget.and_then(|b| {
            v.bps(b.event_share_bps, "budget.event_share_bps").map(|event_share| BudgetPolicy { event_share })
        });

        let events = match (&tiers, events) {
            (Some(tiers), Some(events)) => v.events(events, tiers),
            _ => None,
        };

        let coupons = coupons.and_then(|c| v.coupons(c));

        match (header, businesses, tiers, bonus, budget, (events, coupons, offers)) {
            (
                Some((id, name, timezone)),
                Some(businesses),
                Some(tiers),
                Some(bonus),
                Some(budget),
                (Some(events), Some(coupons), Some(offers)),
            ) if v.problems.is_empty() => Ok(TenantConfig {
                id,
                name,
                timezone,
                businesses,
                tiers,
                bonus,
                budget,
                events,
                coupons,
                offers,
                source: text.to_owned(),
            }),
            _ => {
                if v.problems.is_empty() {
                    v.push("(top level)", "invalid configuration");
                }
                Err(ConfigErrors(v.problems))
            }
        }
    }

    /// The calendar date at `now` in the tenant's time zone (birthdays, day-based rules).
    pub fn local_date(&self, now: OffsetDateTime) -> Date {
        use time_tz::OffsetDateTimeExt;
        // The name was checked at load; an unknown zone cannot occur, UTC is the safe fallback.
        match time_tz::timezones::get_by_name(&self.timezone) {
            Some(tz) => now.to_timezone(tz).date(),
            None => now.date(),
        }
    }

    /// The business with this slug, if the tenant has it.
    pub fn business(&self, id: &BusinessId) -> Option<&BusinessConfig> {
        self.businesses.iter().find(|b| &b.id == id)
    }
}

/// `line L, column C` (1-based) of a byte offset, the way an editor shows it.
fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// Top-level keys other than the sections. All required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: String,
    name: String,
    timezone: String,
}

/// `[status]`; defaults in `Default`.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawStatus {
    window: String,
    window_days: u32,
    downgrade_grace_days: u32,
}

impl Default for RawStatus {
    fn default() -> Self {
        RawStatus { window: "rolling".into(), window_days: 365, downgrade_grace_days: 30 }
    }
}

/// `[bonus]`; defaults in `Default` (the same as [`BonusPolicy::default`]).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawBonus {
    hold_days: u32,
    expiry_days: u32,
    max_redeem_share_bps: u32,
    rounding: String,
    refund_of_spent: String,
}

impl Default for RawBonus {
    fn default() -> Self {
        RawBonus {
            hold_days: 14,
            expiry_days: 365,
            max_redeem_share_bps: 3_000,
            rounding: "floor".into(),
            refund_of_spent: "claw_back".into(),
        }
    }
}

/// `[budget]`; defaults in `Default` (the same as [`BudgetPolicy::default`]).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawBudget {
    event_share_bps: u32,
}

impl Default for RawBudget {
    fn default() -> Self {
        RawBudget { event_share_bps: 200 }
    }
}

/// `[events]`; every key optional. An absent key takes the documented default of
/// [`crate::event::EventsPolicy`] for the tier codes the tenant has.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct RawEvents {
    vote_weights: Option<BTreeMap<String, u32>>,
    proposer_min_tier: Option<String>,
    early_access_hours: Option<BTreeMap<String, u32>>,
}

/// `[coupons]`; defaults in `Default` (the same as [`CouponPolicy::default`]).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawCoupons {
    restore_on_refund: String,
}

impl Default for RawCoupons {
    fn default() -> Self {
        RawCoupons { restore_on_refund: "full_refund".into() }
    }
}

/// One `[[businesses]]` entry; `medical` defaults to false.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBusiness {
    id: String,
    name: String,
    category: String,
    #[serde(default)]
    medical: bool,
}

/// One `[[tiers]]` entry; thresholds default to 0 (what an invitation-only tier leaves out) and
/// `invitation_only` to false.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    code: String,
    name: String,
    #[serde(default)]
    min_spend_kopecks: i64,
    #[serde(default)]
    min_categories: u32,
    cashback_bps: u32,
    #[serde(default)]
    invitation_only: bool,
}

/// Collects problems while turning raw values into domain values.
#[derive(Default)]
struct Validator {
    problems: Vec<ConfigProblem>,
}

/// `section.key`, or `key` at the top level.
fn join(section: &str, key: &str) -> String {
    if section.is_empty() { key.to_owned() } else { format!("{section}.{key}") }
}

/// The name between the backticks after `prefix` in a serde message (`unknown field `x``).
fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split('`').next()
}

impl Validator {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ConfigProblem { path: path.into(), message: message.into() });
    }

    /// Deserializes one table. An unknown key is reported at its own path and removed, and the
    /// table retried, so a typo does not hide the table's other faults.
    fn table<T: DeserializeOwned>(&mut self, mut value: toml::Value, path: &str) -> Option<T> {
        if !value.is_table() {
            self.push(path, "must be a table");
            return None;
        }
        loop {
            let error = match value.clone().try_into::<T>() {
                Ok(raw) => return Some(raw),
                Err(e) => e,
            };
            let message = error.message().trim();
            if let Some(key) = quoted_after(message, "unknown field `")
                && let Some(table) = value.as_table_mut()
                && table.remove(key).is_some()
            {
                let expected = message.split_once(", ").map_or("", |(_, rest)| rest);
                self.push(join(path, key), format!("unknown key; {expected}"));
                continue;
            }
            // toml names the offending key only in its Display ("in `key`"); use it when there.
            let display = error.to_string();
            let inner = display.lines().find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'));
            match (quoted_after(message, "missing field `"), inner) {
                (Some(key), _) => self.push(join(path, key), "is required"),
                (None, Some(key)) => self.push(join(path, key), message),
                (None, None) => {
                    self.push(if path.is_empty() { "(top level)" } else { path }, message);
                }
            }
            return None;
        }
    }

    /// Deserializes an array of tables (`[[name]]`), each entry on its own. `None` when the key
    /// is missing, is not an array, or any entry failed (later checks rely on positions).
    fn array<T: DeserializeOwned>(&mut self, value: Option<toml::Value>, path: &str) -> Option<Vec<T>> {
        let items = match value {
            None => {
                self.push(path, format!("at least one [[{path}]] entry is required"));
                return None;
            }
            Some(toml::Value::Array(items)) => items,
            Some(_) => {
                self.push(path, format!("must be an array of tables ([[{path}]])"));
                return None;
            }
        };
        let count = items.len();
        let parsed: Vec<T> =
            items.into_iter().enumerate().filter_map(|(i, item)| self.table(item, &format!("{path}[{i}]"))).collect();
        (parsed.len() == count).then_some(parsed)
    }

    fn slug<T, E: std::fmt::Display>(&mut self, parsed: Result<T, E>, path: String) -> Option<T> {
        parsed.map_err(|e| self.push(path, e.to_string())).ok()
    }

    fn name(&mut self, name: String, path: String) -> Option<String> {
        if name.trim().is_empty() {
            self.push(path, "must not be empty");
            None
        } else {
            Some(name)
        }
    }

    fn bps(&mut self, value: u32, path: &str) -> Option<Bps> {
        match u16::try_from(value).ok().and_then(|v| Bps::new(v).ok()) {
            Some(bps) => Some(bps),
            None => {
                self.push(path, format!("must be at most 10000 basis points (got {value})"));
                None
            }
        }
    }

    fn coupons(&mut self, raw: RawCoupons) -> Option<CouponPolicy> {
        match RestoreOnRefund::parse(&raw.restore_on_refund) {
            Some(restore_on_refund) => Some(CouponPolicy { restore_on_refund }),
            None => {
                let message =
                    format!("must be \"never\", \"full_refund\" or \"any_refund\" (got {:?})", raw.restore_on_refund);
                self.push("coupons.restore_on_refund", message);
                None
            }
        }
    }

    fn header(&mut self, raw: RawHeader) -> Option<(TenantId, String, String)> {
        let id = self.slug(TenantId::parse(&raw.id), "id".into());
        let name = self.name(raw.name, "name".into());
        let timezone = if time_tz::timezones::get_by_name(&raw.timezone).is_some() {
            Some(raw.timezone)
        } else {
            self.push("timezone", format!("unknown IANA time zone {:?} (e.g. \"Europe/Moscow\")", raw.timezone));
            None
        };
        Some((id?, name?, timezone?))
    }

    fn businesses(&mut self, raw: Vec<RawBusiness>) -> Option<Vec<BusinessConfig>> {
        if raw.is_empty() {
            self.push("businesses", "at least one business is required");
            return None;
        }
        let mut first_at: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, b) in raw.into_iter().enumerate() {
            if let Some(first) = first_at.get(&b.id) {
                let message = format!("duplicate business id `{}` (also businesses[{first}])", b.id);
                self.push(format!("businesses[{i}].id"), message);
            } else {
                first_at.insert(b.id.clone(), i);
            }
            let id = self.slug(BusinessId::parse(&b.id), format!("businesses[{i}].id"));
            let name = self.name(b.name, format!("businesses[{i}].name"));
            let category = self.slug(Category::parse(&b.category), format!("businesses[{i}].category"));
            if let (Some(id), Some(name), Some(category)) = (id, name, category) {
                out.push(BusinessConfig { id, name, category, medical: b.medical });
            }
        }
        Some(out)
    }

    /// The ladder. A field that fails on its own (a bad slug, a rate above 100 %) is reported
    /// and replaced by a neutral stand-in, so the ladder's ordering checks still run; the
    /// result is discarded in that case anyway because a problem was recorded.
    fn window(&mut self, status: &RawStatus) -> Option<StatusWindow> {
        match status.window.as_str() {
            "rolling" => Some(StatusWindow::RollingDays(status.window_days)),
            "lifetime" => Some(StatusWindow::Lifetime),
            other => {
                let message = format!("must be \"rolling\" or \"lifetime\" (got {other:?})");
                self.push("status.window", message);
                None
            }
        }
    }

    fn tiers(&mut self, window: StatusWindow, grace: u32, raw: Vec<RawTier>) -> Option<TierRules> {
        let mut rules = Vec::with_capacity(raw.len());
        for (i, t) in raw.into_iter().enumerate() {
            let code = self
                .slug(TierCode::parse(&t.code), format!("tiers[{i}].code"))
                .or_else(|| TierCode::parse(&format!("invalid-tier-{i}")).ok());
            let min_spend = Kopecks::new(t.min_spend_kopecks)
                .map_err(|e| self.push(format!("tiers[{i}].min_spend_kopecks"), e.to_string()))
                .unwrap_or(Kopecks::ZERO);
            let cashback = self.bps(t.cashback_bps, &format!("tiers[{i}].cashback_bps"));
            rules.push(TierRule {
                code: code?,
                name: t.name,
                min_spend,
                min_categories: t.min_categories,
                cashback: cashback.unwrap_or(Bps::ZERO),
                invitation_only: t.invitation_only,
            });
        }
        match TierRules::new(rules, window, grace) {
            Ok(rules) => Some(rules),
            Err(problems) => {
                for (path, message) in problems {
                    let path = if path.starts_with("tiers") { path } else { join("status", &path) };
                    self.push(path, message);
                }
                None
            }
        }
    }

    /// `[events]` against the tenant's ladder: explicit tier codes must exist; defaults keep
    /// only the codes the tenant has.
    fn events(&mut self, raw: RawEvents, tiers: &TierRules) -> Option<crate::event::EventsPolicy> {
        let defaults = crate::event::EventsPolicy::default();
        let known = |c: &TierCode| tiers.tier(c).is_some();
        let mut ok = true;
        let mut map = |v: &mut Self, given: Option<BTreeMap<String, u32>>, fallback: BTreeMap<TierCode, u32>, path| {
            let Some(given) = given else { return fallback.into_iter().filter(|(c, _)| known(c)).collect() };
            let mut out = BTreeMap::new();
            for (code, value) in given {
                match TierCode::parse(&code) {
                    Ok(c) if known(&c) => {
                        out.insert(c, value);
                    }
                    _ => {
                        v.push(format!("{path}.{code}"), "is not a tier code of this tenant");
                        ok = false;
                    }
                }
            }
            out
        };
        let vote_weights = map(self, raw.vote_weights, defaults.vote_weights, "events.vote_weights");
        let early_access_hours =
            map(self, raw.early_access_hours, defaults.early_access_hours, "events.early_access_hours");
        if early_access_hours.values().any(|h| *h > 24 * 365) {
            self.push("events.early_access_hours", "must be at most 8760 hours");
            ok = false;
        }
        let proposer_min_tier = match raw.proposer_min_tier {
            None => defaults.proposer_min_tier.filter(|c| known(c)),
            Some(code) => match TierCode::parse(&code) {
                Ok(c) if known(&c) => Some(c),
                _ => {
                    self.push("events.proposer_min_tier", "is not a tier code of this tenant");
                    ok = false;
                    None
                }
            },
        };
        ok.then_some(crate::event::EventsPolicy { vote_weights, proposer_min_tier, early_access_hours })
    }

    fn bonus(&mut self, raw: RawBonus) -> Option<BonusPolicy> {
        if raw.expiry_days < 1 {
            self.push("bonus.expiry_days", "must be at least 1");
        } else if raw.hold_days > raw.expiry_days {
            let message = format!("must not exceed bonus.expiry_days ({})", raw.expiry_days);
            self.push("bonus.hold_days", message);
        }
        let share = self.bps(raw.max_redeem_share_bps, "bonus.max_redeem_share_bps");
        let rounding = match raw.rounding.as_str() {
            "floor" => Some(Rounding::Floor),
            "half_up" => Some(Rounding::HalfUp),
            "ceil" => Some(Rounding::Ceil),
            other => {
                let message = format!("must be \"floor\", \"half_up\" or \"ceil\" (got {other:?})");
                self.push("bonus.rounding", message);
                None
            }
        };
        let refund_of_spent = match raw.refund_of_spent.as_str() {
            "claw_back" => Some(RefundOfSpent::ClawBack),
            "debt" => Some(RefundOfSpent::Debt),
            other => {
                let message = format!("must be \"claw_back\" or \"debt\" (got {other:?})");
                self.push("bonus.refund_of_spent", message);
                None
            }
        };
        Some(BonusPolicy {
            hold_days: raw.hold_days,
            expiry_days: raw.expiry_days,
            max_redeem_share: share?,
            rounding: rounding?,
            refund_of_spent: refund_of_spent?,
        })
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
