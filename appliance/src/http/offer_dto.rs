//! Wire types of the offer endpoints and their conversions to and from the SDK's offer types.
//! Amounts are integer kopecks; every request type refuses unknown fields.

use poem_openapi::Object;
use poem_openapi::types::Example;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::dto::{Text, bonus, kopecks};
use crate::problem::ApiError;
use krug::offer::{Effects, MemberFacts, OfferExample, OfferRules, PurchaseFacts, Template};
use krug::types::{BusinessId, Category, TierCode};

/// What the engine (not the script) enforces. Every field is optional.
#[derive(Debug, Clone, Default, Object)]
#[oai(deny_unknown_fields)]
pub struct Rules {
    /// Higher runs first (default 0).
    pub priority: Option<i32>,
    /// When this offer fires, lower-priority offers do not run on the purchase.
    pub exclusive: Option<bool>,
    /// Total bonus the offer may issue, kopecks.
    pub budget_kopecks: Option<i64>,
    /// Times one member can receive it.
    pub per_member_count: Option<u32>,
    /// Bonus one member can receive from it, kopecks.
    pub per_member_kopecks: Option<i64>,
    /// Bonus it may issue per tenant-local day, kopecks.
    pub per_day_kopecks: Option<i64>,
    /// Runs from.
    pub starts_at: Option<OffsetDateTime>,
    /// Runs until.
    pub ends_at: Option<OffsetDateTime>,
}

impl Rules {
    fn to_sdk(&self) -> Result<OfferRules, ApiError> {
        let opt = |field: &str, v: Option<i64>| v.map(|v| bonus(field, v)).transpose();
        Ok(OfferRules {
            priority: self.priority.unwrap_or(0),
            exclusive: self.exclusive.unwrap_or(false),
            budget: opt("rules.budget_kopecks", self.budget_kopecks)?,
            per_member_count: self.per_member_count,
            per_member_bonus: opt("rules.per_member_kopecks", self.per_member_kopecks)?,
            per_day_bonus: opt("rules.per_day_kopecks", self.per_day_kopecks)?,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
        })
    }

    fn from_sdk(r: &OfferRules) -> Rules {
        Rules {
            priority: Some(r.priority),
            exclusive: Some(r.exclusive),
            budget_kopecks: r.budget.map(|b| b.get()),
            per_member_count: r.per_member_count,
            per_member_kopecks: r.per_member_bonus.map(|b| b.get()),
            per_day_kopecks: r.per_day_bonus.map(|b| b.get()),
            starts_at: r.starts_at,
            ends_at: r.ends_at,
        }
    }
}

/// A template that writes the script. `kind` picks it; each kind uses some of the other fields:
/// `welcome_bonus` (bonus_kopecks), `birthday` (bonus_kopecks, whole_week),
/// `weekday_hour_multiplier` (weekdays, from_hour, to_hour, percent), `category_bonus`
/// (category, rate_bps), `every_nth_visit` (n, bonus_kopecks), `spend_threshold`
/// (min_amount_kopecks, bonus_kopecks), `win_back` (days, bonus_kopecks).
#[derive(Debug, Clone, Default, Object)]
#[oai(deny_unknown_fields)]
pub struct TemplateParams {
    /// The template.
    pub kind: Text,
    /// Bonus, kopecks.
    pub bonus_kopecks: Option<i64>,
    /// Birthday: the whole week rather than the day.
    pub whole_week: Option<bool>,
    /// 1 = Monday … 7 = Sunday.
    pub weekdays: Option<Vec<u8>>,
    /// First hour included.
    pub from_hour: Option<u8>,
    /// First hour excluded.
    pub to_hour: Option<u8>,
    /// Cashback multiplier in percent (200 doubles).
    pub percent: Option<u32>,
    /// A category slug.
    pub category: Option<Text>,
    /// Extra cashback rate, bps.
    pub rate_bps: Option<u16>,
    /// Every n-th visit.
    pub n: Option<u32>,
    /// Least purchase amount, kopecks.
    pub min_amount_kopecks: Option<i64>,
    /// Days without a visit.
    pub days: Option<u32>,
}

fn need<T: Clone>(field: &str, v: &Option<T>) -> Result<T, ApiError> {
    v.clone().ok_or_else(|| ApiError::invalid(field, "required for this template"))
}

impl TemplateParams {
    fn to_sdk(&self) -> Result<Template, ApiError> {
        let b = || bonus("template.bonus_kopecks", need("template.bonus_kopecks", &self.bonus_kopecks)?);
        Ok(match self.kind.0.as_str() {
            "welcome_bonus" => Template::WelcomeBonus { bonus: b()? },
            "birthday" => Template::Birthday { bonus: b()?, whole_week: self.whole_week.unwrap_or(false) },
            "weekday_hour_multiplier" => Template::WeekdayHourMultiplier {
                weekdays: need("template.weekdays", &self.weekdays)?,
                from_hour: need("template.from_hour", &self.from_hour)?,
                to_hour: need("template.to_hour", &self.to_hour)?,
                percent: need("template.percent", &self.percent)?,
            },
            "category_bonus" => Template::CategoryBonus {
                category: Category::parse(&need("template.category", &self.category)?.0)
                    .map_err(|e| ApiError::invalid("template.category", e.to_string()))?,
                rate: krug::types::Bps::new(need("template.rate_bps", &self.rate_bps)?)
                    .map_err(|e| ApiError::invalid("template.rate_bps", e.to_string()))?,
            },
            "every_nth_visit" => Template::EveryNthVisit { n: need("template.n", &self.n)?, bonus: b()? },
            "spend_threshold" => Template::SpendThreshold {
                min_amount: kopecks(
                    "template.min_amount_kopecks",
                    need("template.min_amount_kopecks", &self.min_amount_kopecks)?,
                )?,
                bonus: b()?,
            },
            "win_back" => Template::WinBack { days: need("template.days", &self.days)?, bonus: b()? },
            other => return Err(ApiError::invalid("template.kind", format!("unknown template {other:?}"))),
        })
    }
}

/// A purchase as a script sees it (for examples and dry runs).
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct PurchaseCase {
    /// Total, kopecks.
    pub amount_kopecks: i64,
    /// Paid with money, kopecks (default: the total).
    pub paid_kopecks: Option<i64>,
    /// Category (default: the business's).
    pub category: Option<Text>,
    /// 1 = Monday … 7 = Sunday (default 1).
    pub weekday: Option<u8>,
    /// 0..=23 (default 12).
    pub hour: Option<u8>,
    /// Local date (default 2026-01-05).
    pub date: Option<Date>,
    /// The cashback before offers, kopecks (what `multiply` multiplies; default 0).
    pub cashback_kopecks: Option<i64>,
}

/// A member as a script sees her. Every field is optional (defaults: a new member).
#[derive(Debug, Clone, Default, Object)]
#[oai(deny_unknown_fields)]
pub struct MemberCase {
    /// Tier code.
    pub tier: Option<Text>,
    /// Days since joining.
    pub days_since_joining: Option<i64>,
    /// Earlier purchases at this business.
    pub visits: Option<i64>,
    /// Net spend here before, kopecks.
    pub spend_kopecks: Option<i64>,
    /// Distinct categories.
    pub categories: Option<i64>,
    /// Birthday today.
    pub birthday_today: Option<bool>,
    /// Birthday this week.
    pub birthday_this_week: Option<bool>,
    /// Days since the last visit here (absent: first visit).
    pub days_since_last_visit: Option<i64>,
}

/// Effects a script asks for.
#[derive(Debug, Clone, Default, Object)]
#[oai(deny_unknown_fields)]
pub struct EffectsDto {
    /// Σ `bonus(..)`, kopecks.
    pub bonus_kopecks: Option<i64>,
    /// Σ `bonus_rate(..)`, bps.
    pub bonus_rate_bps: Option<u32>,
    /// The largest `multiply(..)`, percent.
    pub multiply_percent: Option<u32>,
    /// `issue_coupon(..)` templates.
    pub coupons: Option<Vec<String>>,
    /// `award_badge(..)` codes.
    pub badges: Option<Vec<String>>,
}

impl EffectsDto {
    fn to_sdk(&self) -> Result<Effects, ApiError> {
        Ok(Effects {
            bonus: bonus("expect.bonus_kopecks", self.bonus_kopecks.unwrap_or(0))?,
            bonus_rate_bps: self.bonus_rate_bps.unwrap_or(0),
            multiply_percent: self.multiply_percent,
            coupons: self.coupons.clone().unwrap_or_default(),
            badges: self.badges.clone().unwrap_or_default(),
        })
    }

    pub(super) fn from_sdk(e: &Effects) -> EffectsDto {
        EffectsDto {
            bonus_kopecks: Some(e.bonus.get()),
            bonus_rate_bps: Some(e.bonus_rate_bps),
            multiply_percent: e.multiply_percent,
            coupons: Some(e.coupons.clone()),
            badges: Some(e.badges.clone()),
        }
    }
}

/// An example case: a purchase and a member, and the effects the script must ask for.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct ExampleCase {
    /// A name.
    pub name: Text,
    /// The purchase.
    pub purchase: PurchaseCase,
    /// The member.
    pub member: Option<MemberCase>,
    /// Expected effects (absent: must not fire).
    pub expect: Option<EffectsDto>,
}

pub(super) fn purchase_facts(
    config: &krug::tenant::TenantConfig,
    business: &BusinessId,
    p: &PurchaseCase,
) -> Result<PurchaseFacts, ApiError> {
    let known = config.business(business).ok_or_else(|| ApiError::not_found("business"))?;
    let amount = kopecks("purchase.amount_kopecks", p.amount_kopecks)?;
    Ok(PurchaseFacts {
        amount,
        paid: p.paid_kopecks.map(|v| kopecks("purchase.paid_kopecks", v)).transpose()?.unwrap_or(amount),
        category: match &p.category {
            Some(c) => Category::parse(&c.0).map_err(|e| ApiError::invalid("purchase.category", e.to_string()))?,
            None => known.category.clone(),
        },
        business: business.clone(),
        weekday: p.weekday.unwrap_or(1),
        hour: p.hour.unwrap_or(12),
        date: p.date.unwrap_or(time::macros::date!(2026 - 01 - 05)),
        cashback: bonus("purchase.cashback_kopecks", p.cashback_kopecks.unwrap_or(0))?,
    })
}

pub(super) fn member_facts(m: Option<&MemberCase>) -> Result<MemberFacts, ApiError> {
    let Some(m) = m else { return Ok(MemberFacts::default()) };
    Ok(MemberFacts {
        tier: m
            .tier
            .as_ref()
            .map(|t| TierCode::parse(&t.0).map_err(|e| ApiError::invalid("member.tier", e.to_string())))
            .transpose()?,
        days_since_joining: m.days_since_joining.unwrap_or(0),
        visits: m.visits.unwrap_or(0),
        spend: kopecks("member.spend_kopecks", m.spend_kopecks.unwrap_or(0))?,
        categories: m.categories.unwrap_or(0),
        birthday_today: m.birthday_today.unwrap_or(false),
        birthday_this_week: m.birthday_this_week.unwrap_or(false),
        days_since_last_visit: m.days_since_last_visit,
    })
}

fn example_out(e: &OfferExample) -> ExampleCase {
    let m = &e.member;
    ExampleCase {
        name: Text(e.name.clone()),
        purchase: PurchaseCase {
            amount_kopecks: e.purchase.amount.get(),
            paid_kopecks: Some(e.purchase.paid.get()),
            category: Some(Text(e.purchase.category.to_string())),
            weekday: Some(e.purchase.weekday),
            hour: Some(e.purchase.hour),
            date: Some(e.purchase.date),
            cashback_kopecks: Some(e.purchase.cashback.get()),
        },
        member: Some(MemberCase {
            tier: m.tier.as_ref().map(|t| Text(t.to_string())),
            days_since_joining: Some(m.days_since_joining),
            visits: Some(m.visits),
            spend_kopecks: Some(m.spend.get()),
            categories: Some(m.categories),
            birthday_today: Some(m.birthday_today),
            birthday_this_week: Some(m.birthday_this_week),
            days_since_last_visit: m.days_since_last_visit,
        }),
        expect: Some(EffectsDto::from_sdk(&e.expect)),
    }
}

/// An offer as written: a name, a script or a template, rules and examples.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct OfferRequest {
    /// The name staff and the operator see.
    pub name: Text,
    /// The Rhai script (exactly one of `script` and `template`).
    pub script: Option<Text>,
    /// A template that writes the script.
    pub template: Option<TemplateParams>,
    /// Budgets, limits, priority, schedule.
    pub rules: Option<Rules>,
    /// Example cases; submission needs at least one, all passing.
    pub examples: Option<Vec<ExampleCase>>,
}

impl Example for OfferRequest {
    fn example() -> Self {
        OfferRequest {
            name: "Welcome bonus".into(),
            script: Some("if member.visits == 0 {\n    bonus(30000);\n}\n".into()),
            template: None,
            rules: Some(Rules { budget_kopecks: Some(10_000_000), per_member_count: Some(1), ..Rules::default() }),
            examples: Some(vec![ExampleCase {
                name: "first visit".into(),
                purchase: PurchaseCase {
                    amount_kopecks: 150_000,
                    paid_kopecks: None,
                    category: None,
                    weekday: None,
                    hour: None,
                    date: None,
                    cashback_kopecks: None,
                },
                member: Some(MemberCase { visits: Some(0), ..MemberCase::default() }),
                expect: Some(EffectsDto { bonus_kopecks: Some(30_000), ..EffectsDto::default() }),
            }]),
        }
    }
}

impl OfferRequest {
    pub(super) fn to_sdk(
        &self,
        config: &krug::tenant::TenantConfig,
        business: &BusinessId,
    ) -> Result<krug::OfferDraft, ApiError> {
        let examples = self
            .examples
            .iter()
            .flatten()
            .map(|e| {
                Ok(OfferExample {
                    name: e.name.0.clone(),
                    purchase: purchase_facts(config, business, &e.purchase)?,
                    member: member_facts(e.member.as_ref())?,
                    expect: e.expect.as_ref().map(EffectsDto::to_sdk).transpose()?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(krug::OfferDraft {
            name: self.name.0.clone(),
            script: self.script.as_ref().map(|s| s.0.clone()),
            template: self.template.as_ref().map(TemplateParams::to_sdk).transpose()?,
            rules: self.rules.as_ref().map(Rules::to_sdk).transpose()?.unwrap_or_default(),
            examples,
        })
    }
}

/// One version of an offer.
#[derive(Debug, Clone, Object)]
pub struct OfferVersion {
    /// 1, 2, …
    pub version: i64,
    /// `draft`, `submitted`, `approved`, `rejected` or `withdrawn`.
    pub status: String,
    /// The Rhai script.
    pub script: String,
    /// The template it came from.
    pub template: Option<String>,
    /// The rules.
    pub rules: Rules,
    /// The examples.
    pub examples: Vec<ExampleCase>,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// Why it was rejected.
    pub review_reason: Option<String>,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// An offer with its versions, newest first.
#[derive(Debug, Clone, Object)]
pub struct Offer {
    /// The offer.
    pub offer_id: Uuid,
    /// Its business.
    pub business: String,
    /// Its name.
    pub name: String,
    /// `draft`, `submitted`, `rejected`, `active`, `paused` or `archived`.
    pub status: String,
    /// The newest version.
    pub latest_version: i64,
    /// The approved version that runs.
    pub running_version: Option<i64>,
    /// Bonus issued so far, kopecks.
    pub spent_kopecks: i64,
    /// Activations so far.
    pub activations: i64,
    /// Created.
    pub created_at: OffsetDateTime,
    /// Versions, newest first.
    pub versions: Vec<OfferVersion>,
}

impl From<&krug::OfferView> for Offer {
    fn from(o: &krug::OfferView) -> Offer {
        Offer {
            offer_id: o.id.as_uuid(),
            business: o.business.to_string(),
            name: o.name.clone(),
            status: serde_json::to_value(o.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            latest_version: o.latest_version,
            running_version: o.running_version,
            spent_kopecks: o.spent.get(),
            activations: o.activations,
            created_at: o.created_at,
            versions: o
                .versions
                .iter()
                .map(|v| OfferVersion {
                    version: v.version,
                    status: v.status.clone(),
                    script: v.script.clone(),
                    template: v.template.clone(),
                    rules: Rules::from_sdk(&v.rules),
                    examples: v.examples.iter().map(example_out).collect(),
                    reviewed_by: v.reviewed_by.clone(),
                    review_reason: v.review_reason.clone(),
                    updated_at: v.updated_at,
                })
                .collect(),
        }
    }
}

/// A dry run: a script (or an offer's latest version) on one purchase and member.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct DryRunRequest {
    /// The script to try (exactly one of `script` and `offer_id`).
    pub script: Option<Text>,
    /// Try this offer's latest version.
    pub offer_id: Option<Uuid>,
    /// The purchase.
    pub purchase: PurchaseCase,
    /// The member.
    pub member: Option<MemberCase>,
}

impl Example for DryRunRequest {
    fn example() -> Self {
        DryRunRequest {
            script: Some("if purchase.weekday == 2 { multiply(200); }".into()),
            offer_id: None,
            purchase: PurchaseCase {
                amount_kopecks: 150_000,
                paid_kopecks: None,
                category: None,
                weekday: Some(2),
                hour: Some(13),
                date: None,
                cashback_kopecks: Some(7_500),
            },
            member: None,
        }
    }
}

/// What a dry run did.
#[derive(Debug, Clone, Object)]
pub struct DryRunResponse {
    /// The effects asked for.
    pub effects: EffectsDto,
    /// What they are worth on this purchase before budgets and caps, kopecks.
    pub bonus_kopecks: i64,
    /// `limit` or `runtime` when the script failed.
    pub failure_kind: Option<String>,
    /// The engine's message when it failed.
    pub failure: Option<String>,
}

/// One day of a backtest.
#[derive(Debug, Clone, Object)]
pub struct BacktestDay {
    /// `YYYY-MM-DD`, tenant-local.
    pub day: String,
    /// Purchases matched.
    pub matched: u64,
    /// Members reached.
    pub members: u64,
    /// Bonus cost, kopecks.
    pub bonus_kopecks: i64,
}

/// What a backtest found.
#[derive(Debug, Clone, Object)]
pub struct BacktestResponse {
    /// Purchases replayed.
    pub purchases: u64,
    /// Purchases the offer would have fired on.
    pub matched: u64,
    /// Distinct members reached.
    pub members_reached: u64,
    /// Total bonus cost, kopecks.
    pub total_bonus_kopecks: i64,
    /// Cost per reached member, kopecks.
    pub cost_per_member_kopecks: i64,
    /// Script failures.
    pub failures: u64,
    /// By day.
    pub by_day: Vec<BacktestDay>,
}

/// One row of offer analytics.
#[derive(Debug, Clone, Object)]
pub struct AnalyticsRow {
    /// The version.
    pub version: i64,
    /// `YYYY-MM-DD`, tenant-local.
    pub day: String,
    /// Purchases matched.
    pub matched: i64,
    /// Their revenue, kopecks.
    pub revenue_kopecks: i64,
    /// Activations.
    pub activations: i64,
    /// Bonus issued, kopecks.
    pub bonus_kopecks: i64,
    /// Distinct members.
    pub members: i64,
    /// Script failures.
    pub failures: i64,
}

/// The version an operator decides on.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct ApproveRequest {
    /// The submitted version.
    pub version: i64,
}

impl Example for ApproveRequest {
    fn example() -> Self {
        ApproveRequest { version: 1 }
    }
}

/// A rejection with its reason.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct RejectRequest {
    /// The submitted version.
    pub version: i64,
    /// Why, in words the owner can act on.
    pub reason: Text,
}

impl Example for RejectRequest {
    fn example() -> Self {
        RejectRequest { version: 1, reason: "The budget is larger than agreed for March".into() }
    }
}

/// An offer that fired on a purchase (listed on the receipt).
#[derive(Debug, Clone, Object)]
pub struct AppliedOfferLine {
    /// The offer.
    pub offer_id: Uuid,
    /// The version that ran.
    pub version: i64,
    /// Bonus credited, kopecks (pending like the cashback).
    pub bonus_kopecks: i64,
    /// Coupon templates the offer asked to issue.
    pub coupons: Vec<String>,
    /// Badges awarded.
    pub badges: Vec<String>,
}

impl From<&krug::AppliedOffer> for AppliedOfferLine {
    fn from(a: &krug::AppliedOffer) -> AppliedOfferLine {
        AppliedOfferLine {
            offer_id: a.offer.as_uuid(),
            version: a.version,
            bonus_kopecks: a.bonus.get(),
            coupons: a.coupons.clone(),
            badges: a.badges.clone(),
        }
    }
}

/// A member's badge.
#[derive(Debug, Clone, Object)]
pub struct BadgeDto {
    /// The badge code.
    pub code: String,
    /// When it was awarded.
    pub awarded_at: OffsetDateTime,
}
