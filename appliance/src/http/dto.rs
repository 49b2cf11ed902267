//! Wire shapes shared by several resources. Money fields are integers named `*_kopecks`
//! (1 ₽ = 100 kopecks; 1 bonus kopeck = 1 kopeck of value); times are RFC 3339 UTC.

use poem_openapi::Object;
use poem_openapi::types::Example;
use time::OffsetDateTime;
use uuid::Uuid;

/// An amount becoming available or lapsing at an instant.
#[derive(Debug, Clone, Object)]
pub struct DatedAmount {
    /// When.
    pub at: OffsetDateTime,
    /// How much, in bonus kopecks.
    pub amount_kopecks: i64,
}

/// A member's balance.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Balance {
    /// Spendable now (negative only when a refund left a debt).
    pub available_kopecks: i64,
    /// Earned but still in the hold period.
    pub pending_kopecks: i64,
    /// When pending bonuses become available.
    pub pending: Vec<DatedAmount>,
    /// Available bonuses lapsing in the next 30 days.
    pub expiring_soon: Vec<DatedAmount>,
    /// Outstanding debt from refunds of spent cashback.
    pub debt_kopecks: i64,
    /// The ledger total (available + pending − debt).
    pub total_kopecks: i64,
}

impl From<&krug::ledger::BalanceView> for Balance {
    fn from(v: &krug::ledger::BalanceView) -> Balance {
        let dated = |d: &krug::ledger::Dated| DatedAmount { at: d.at, amount_kopecks: d.amount.get() };
        Balance {
            available_kopecks: v.available.get(),
            pending_kopecks: v.pending.get(),
            pending: v.pending_lots.iter().map(dated).collect(),
            expiring_soon: v.expiring.iter().map(dated).collect(),
            debt_kopecks: v.debt.get(),
            total_kopecks: v.total.get(),
        }
    }
}

impl Example for Balance {
    fn example() -> Balance {
        Balance {
            available_kopecks: 50_000,
            pending_kopecks: 22_500,
            pending: vec![DatedAmount { at: OffsetDateTime::UNIX_EPOCH, amount_kopecks: 22_500 }],
            expiring_soon: vec![],
            debt_kopecks: 0,
            total_kopecks: 72_500,
        }
    }
}

/// What is missing for the next tier.
#[derive(Debug, Clone, Object)]
pub struct TierProgress {
    /// The next tier's code.
    pub next_tier: String,
    /// Spend still missing, in kopecks.
    pub missing_spend_kopecks: i64,
    /// Distinct categories still missing.
    pub missing_categories: u32,
}

impl From<&krug::status::Progress> for TierProgress {
    fn from(p: &krug::status::Progress) -> TierProgress {
        TierProgress {
            next_tier: p.next.to_string(),
            missing_spend_kopecks: p.missing_spend.get(),
            missing_categories: p.missing_categories,
        }
    }
}

/// The breakdown of a recorded purchase or scan.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Receipt {
    /// The purchase id (for refunds).
    pub purchase_id: Uuid,
    /// The member.
    pub member_id: Uuid,
    /// The business.
    pub business: String,
    /// The category it counted under.
    pub category: String,
    /// Purchase total.
    pub amount_kopecks: i64,
    /// Paid with bonuses.
    pub redeemed_kopecks: i64,
    /// Paid with money (cashback accrues on this).
    pub paid_kopecks: i64,
    /// Cashback credited (pending until `cashback_available_at`).
    pub cashback_kopecks: i64,
    /// Cashback rate in basis points (700 = 7 %).
    pub cashback_rate_bps: u16,
    /// When the cashback becomes spendable.
    pub cashback_available_at: OffsetDateTime,
    /// Tier before.
    pub tier_before: Option<String>,
    /// Tier after.
    pub tier_after: Option<String>,
    /// Whether this purchase changed the tier.
    pub tier_changed: bool,
    /// Progress to the next tier.
    pub progress: Option<TierProgress>,
    /// Contribution to the ecosystem's event budget.
    pub budget_contribution_kopecks: i64,
    /// The member's balance after the purchase.
    pub balance: Balance,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
    /// The coupon applied, if any.
    pub coupon: Option<AppliedCoupon>,
    /// The business's offers that fired on this purchase.
    pub offers: Vec<super::offers::AppliedOfferLine>,
    /// Steps this purchase made in cross-promo chains, with the rewards they paid.
    pub chains: Vec<super::chains::ChainProgress>,
}

/// The coupon a purchase used. The purchase counts (toward tiers, refunds) at
/// `amount_kopecks − discount_kopecks`.
#[derive(Debug, Clone, Object)]
pub struct AppliedCoupon {
    /// The code as people read it.
    pub code: String,
    /// Its template.
    pub template: String,
    /// Off the receipt total, kopecks.
    pub discount_kopecks: i64,
    /// Bonus credited (pending like cashback).
    pub bonus_kopecks: i64,
    /// The gift handed over.
    pub gift: Option<String>,
    /// Who funds it; absent: the ecosystem.
    pub funded_by: Option<String>,
}

impl From<&krug::AppliedCoupon> for AppliedCoupon {
    fn from(c: &krug::AppliedCoupon) -> AppliedCoupon {
        AppliedCoupon {
            code: c.code.display(),
            template: c.template.clone(),
            discount_kopecks: c.discount.get(),
            bonus_kopecks: c.bonus.get(),
            gift: c.gift.clone(),
            funded_by: c.funded_by.as_ref().map(ToString::to_string),
        }
    }
}

impl From<&krug::Receipt> for Receipt {
    fn from(r: &krug::Receipt) -> Receipt {
        Receipt {
            purchase_id: r.purchase.as_uuid(),
            member_id: r.member.as_uuid(),
            business: r.business.to_string(),
            category: r.category.to_string(),
            amount_kopecks: r.amount.get(),
            redeemed_kopecks: r.redeemed.get(),
            paid_kopecks: r.paid.get(),
            cashback_kopecks: r.cashback.get(),
            cashback_rate_bps: r.cashback_rate.get(),
            cashback_available_at: r.cashback_available_at,
            tier_before: r.tier_before.as_ref().map(ToString::to_string),
            tier_after: r.tier_after.as_ref().map(ToString::to_string),
            tier_changed: r.tier_changed,
            progress: r.progress.as_ref().map(TierProgress::from),
            budget_contribution_kopecks: r.budget_contribution.get(),
            balance: Balance::from(&r.balance),
            recorded_at: r.recorded_at,
            coupon: r.coupon.as_ref().map(AppliedCoupon::from),
            offers: r.offers.iter().map(super::offers::AppliedOfferLine::from).collect(),
            chains: r.chains.iter().map(super::chains::ChainProgress::from).collect(),
        }
    }
}

impl Example for Receipt {
    fn example() -> Receipt {
        Receipt {
            purchase_id: Uuid::nil(),
            member_id: Uuid::nil(),
            business: "mindal".into(),
            category: "beauty_salon".into(),
            amount_kopecks: 500_000,
            redeemed_kopecks: 50_000,
            paid_kopecks: 450_000,
            cashback_kopecks: 22_500,
            cashback_rate_bps: 500,
            cashback_available_at: OffsetDateTime::UNIX_EPOCH,
            tier_before: Some("insider".into()),
            tier_after: Some("insider".into()),
            tier_changed: false,
            progress: Some(TierProgress {
                next_tier: "vip".into(),
                missing_spend_kopecks: 1_500_000,
                missing_categories: 1,
            }),
            budget_contribution_kopecks: 9_000,
            balance: Balance::example(),
            recorded_at: OffsetDateTime::UNIX_EPOCH,
            coupon: None,
            offers: vec![],
            chains: Vec::new(),
        }
    }
}

/// Parses a path or body id, answering 404 for anything that is not one (an id that cannot
/// exist names nothing).
pub fn parse_id<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, crate::problem::ApiError> {
    value.parse().map_err(|_| crate::problem::ApiError::not_found(what))
}

/// A non-negative amount of money from the wire.
pub fn kopecks(field: &str, value: i64) -> Result<krug::types::Kopecks, crate::problem::ApiError> {
    krug::types::Kopecks::new(value)
        .map_err(|e| crate::problem::ApiError::new(422, "invalid_amount", format!("{field}: {e}")))
}

/// A non-negative bonus amount from the wire.
pub fn bonus(field: &str, value: i64) -> Result<krug::types::Bonus, crate::problem::ApiError> {
    krug::types::Bonus::non_negative(value)
        .map_err(|e| crate::problem::ApiError::new(422, "invalid_amount", format!("{field}: {e}")))
}

/// A purchase as listed to its member or its business.
#[derive(Debug, Clone, Object)]
pub struct PurchaseLine {
    /// The purchase id.
    pub purchase_id: Uuid,
    /// The member.
    pub member_id: Uuid,
    /// Where.
    pub business: String,
    /// The till's receipt id.
    pub receipt_id: String,
    /// The category.
    pub category: String,
    /// Total, kopecks.
    pub amount_kopecks: i64,
    /// Paid with bonuses.
    pub redeemed_kopecks: i64,
    /// Paid with money.
    pub paid_kopecks: i64,
    /// Cashback credited.
    pub cashback_kopecks: i64,
    /// Refunded so far.
    pub refunded_kopecks: i64,
    /// When the purchase happened.
    pub at: OffsetDateTime,
}

impl From<&krug::PurchaseRecord> for PurchaseLine {
    fn from(p: &krug::PurchaseRecord) -> PurchaseLine {
        PurchaseLine {
            purchase_id: p.purchase.as_uuid(),
            member_id: p.member.as_uuid(),
            business: p.business.to_string(),
            receipt_id: p.receipt_id.clone(),
            category: p.category.to_string(),
            amount_kopecks: p.amount.get(),
            redeemed_kopecks: p.redeemed.get(),
            paid_kopecks: p.paid.get(),
            cashback_kopecks: p.cashback.get(),
            refunded_kopecks: p.refunded.get(),
            at: p.at,
        }
    }
}

/// A page of purchases, newest first.
#[derive(Debug, Clone, Object)]
pub struct PurchasePage {
    /// The purchases.
    pub items: Vec<PurchaseLine>,
    /// Pass as `before` for the next page; absent at the end.
    pub next: Option<Uuid>,
}

impl From<&krug::Page<krug::PurchaseRecord>> for PurchasePage {
    fn from(p: &krug::Page<krug::PurchaseRecord>) -> PurchasePage {
        PurchasePage { items: p.items.iter().map(PurchaseLine::from).collect(), next: p.next.map(|c| c.as_uuid()) }
    }
}

/// A JSON string field that accepts only JSON strings. poem-openapi's `String` also takes a
/// number or a boolean and stringifies it, so `{"refund_id": 12345}` would pass; an id, a key or a
/// reason sent with the wrong type must be refused as malformed, never coerced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl poem_openapi::types::Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> std::borrow::Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        poem_openapi::registry::MetaSchemaRef::Inline(Box::new(poem_openapi::registry::MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl poem_openapi::types::ParseFromJSON for Text {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        match value.unwrap_or_default() {
            serde_json::Value::String(s) => Ok(Text(s)),
            other => Err(poem_openapi::types::ParseError::expected_type(other)),
        }
    }
}

impl poem_openapi::types::ToJSON for Text {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.clone()))
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(s.to_owned())
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}
