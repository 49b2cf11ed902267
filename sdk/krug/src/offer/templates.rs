//! Templates for owners who do not write code: each fills in a short, commented Rhai script the
//! owner can read and then edit like any other.

use serde::{Deserialize, Serialize};

use crate::types::{Bonus, Bps, Category, Kopecks};

/// A ready-made offer; [`Template::script`] writes its Rhai.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Template {
    /// A bonus on the member's first purchase at this business.
    WelcomeBonus {
        /// The bonus, kopecks.
        bonus: Bonus,
    },
    /// A bonus on the member's birthday (or any day of her birthday week).
    Birthday {
        /// The bonus, kopecks.
        bonus: Bonus,
        /// The whole Monday–Sunday week of the birthday rather than the day itself.
        whole_week: bool,
    },
    /// Cashback multiplied on some weekdays within some hours.
    WeekdayHourMultiplier {
        /// 1 = Monday … 7 = Sunday.
        weekdays: Vec<u8>,
        /// First hour included, 0..=23.
        from_hour: u8,
        /// First hour no longer included, 1..=24.
        to_hour: u8,
        /// 200 doubles the cashback.
        percent: u32,
    },
    /// Extra cashback on purchases of one category.
    CategoryBonus {
        /// The category.
        category: Category,
        /// The extra rate on the paid part.
        rate: Bps,
    },
    /// A bonus on every n-th visit to this business.
    EveryNthVisit {
        /// Every how many visits (2 or more).
        n: u32,
        /// The bonus, kopecks.
        bonus: Bonus,
    },
    /// A bonus when one purchase reaches an amount.
    SpendThreshold {
        /// The least purchase amount, kopecks.
        min_amount: Kopecks,
        /// The bonus, kopecks.
        bonus: Bonus,
    },
    /// A bonus for a member who comes back after staying away.
    WinBack {
        /// Days without a visit to this business.
        days: u32,
        /// The bonus, kopecks.
        bonus: Bonus,
    },
}

impl Template {
    /// The template's stored name.
    pub fn name(&self) -> &'static str {
        match self {
            Template::WelcomeBonus { .. } => "welcome_bonus",
            Template::Birthday { .. } => "birthday",
            Template::WeekdayHourMultiplier { .. } => "weekday_hour_multiplier",
            Template::CategoryBonus { .. } => "category_bonus",
            Template::EveryNthVisit { .. } => "every_nth_visit",
            Template::SpendThreshold { .. } => "spend_threshold",
            Template::WinBack { .. } => "win_back",
        }
    }

    /// The Rhai the template stands for, or what is wrong with its parameters as
    /// `(field, message)`.
    pub fn script(&self) -> Result<String, (&'static str, String)> {
        let positive = |b: &Bonus, field: &'static str| {
            if b.get() > 0 { Ok(b.get()) } else { Err((field, "must be positive".to_owned())) }
        };
        Ok(match self {
            Template::WelcomeBonus { bonus } => {
                let k = positive(bonus, "template.bonus")?;
                format!(
                    "// Welcome bonus: the first purchase here earns {k} kopecks.\nif member.visits == 0 {{\n    bonus({k});\n}}\n"
                )
            }
            Template::Birthday { bonus, whole_week } => {
                let k = positive(bonus, "template.bonus")?;
                let (field, words) = if *whole_week {
                    ("birthday_this_week", "in her birthday week")
                } else {
                    ("birthday_today", "on her birthday")
                };
                format!(
                    "// Birthday: a purchase {words} earns {k} kopecks.\nif member.{field} {{\n    bonus({k});\n}}\n"
                )
            }
            Template::WeekdayHourMultiplier { weekdays, from_hour, to_hour, percent } => {
                if weekdays.is_empty() || weekdays.iter().any(|d| !(1..=7).contains(d)) {
                    return Err(("template.weekdays", "must list days 1 (Monday) to 7 (Sunday)".into()));
                }
                if *from_hour > 23 || *to_hour > 24 || to_hour <= from_hour {
                    return Err(("template.to_hour", "hours must satisfy 0 <= from_hour < to_hour <= 24".into()));
                }
                if !(101..=1_000).contains(percent) {
                    return Err(("template.percent", "must be 101..=1000".into()));
                }
                let days: Vec<String> = weekdays.iter().map(|d| format!("purchase.weekday == {d}")).collect();
                format!(
                    "// Happy hours: cashback × {percent} % on the chosen days from {from_hour}:00 to {to_hour}:00.\n\
                     if ({}) && purchase.hour >= {from_hour} && purchase.hour < {to_hour} {{\n    multiply({percent});\n}}\n",
                    days.join(" || ")
                )
            }
            Template::CategoryBonus { category, rate } => {
                if rate.get() == 0 {
                    return Err(("template.rate", "must be positive".into()));
                }
                format!(
                    "// Category bonus: {} bps extra cashback on {category}.\nif purchase.category == \"{category}\" {{\n    bonus_rate({});\n}}\n",
                    rate.get(),
                    rate.get()
                )
            }
            Template::EveryNthVisit { n, bonus } => {
                let k = positive(bonus, "template.bonus")?;
                if *n < 2 {
                    return Err(("template.n", "must be 2 or more".into()));
                }
                format!(
                    "// Every {n}th visit earns {k} kopecks (this purchase is visit number visits + 1).\n\
                     if (member.visits + 1) % {n} == 0 {{\n    bonus({k});\n}}\n"
                )
            }
            Template::SpendThreshold { min_amount, bonus } => {
                let k = positive(bonus, "template.bonus")?;
                let min = min_amount.get();
                if min <= 0 {
                    return Err(("template.min_amount", "must be positive".into()));
                }
                format!(
                    "// A purchase of at least {min} kopecks earns {k} kopecks.\nif purchase.amount >= {min} {{\n    bonus({k});\n}}\n"
                )
            }
            Template::WinBack { days, bonus } => {
                let k = positive(bonus, "template.bonus")?;
                if *days == 0 {
                    return Err(("template.days", "must be positive".into()));
                }
                format!(
                    "// Win-back: coming back after {days} days or more without a visit earns {k} kopecks.\n\
                     if member.days_since_last_visit >= {days} {{\n    bonus({k});\n}}\n"
                )
            }
        })
    }
}
