//! Commands (verbs) and their results (nouns). Results that a retry must reproduce exactly are
//! serialisable: they are stored with the command's idempotency key.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::ledger::{BalanceView, EntryKind, Source};
use crate::status::Progress;
use crate::types::{Bonus, Bps, BusinessId, Category, EntryId, Kopecks, MemberId, Phone, PurchaseId, TierCode};

/// Register a member. Only the phone is required (a member is never refused for declining to
/// give optional data).
#[derive(Debug, Clone)]
pub struct RegisterMember {
    /// The member's phone: her identity in the tenant.
    pub phone: Phone,
    /// Optional name.
    pub name: Option<String>,
    /// Optional birthday.
    pub birthday: Option<Date>,
}

impl RegisterMember {
    /// A registration with only the phone.
    pub fn phone(phone: Phone) -> Self {
        RegisterMember { phone, name: None, birthday: None }
    }
}

/// A member's profile, decrypted for an authorised reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProfile {
    /// The member.
    pub id: MemberId,
    /// Her phone.
    pub phone: Phone,
    /// Her name, if given.
    pub name: Option<String>,
    /// Her birthday, if given.
    pub birthday: Option<Date>,
    /// When she joined.
    pub joined_at: OffsetDateTime,
}

/// Record a purchase at a partner, optionally paying part of it with bonuses.
#[derive(Debug, Clone, Serialize)]
pub struct RecordPurchase {
    /// Who bought.
    pub member: MemberId,
    /// Where.
    pub business: BusinessId,
    /// The purchase total.
    pub amount: Kopecks,
    /// The category; defaults to the business's own.
    pub category: Option<Category>,
    /// The partner's receipt id: the idempotency key, unique per business.
    pub receipt_id: String,
    /// When the purchase happened; defaults to now.
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
    /// Bonuses to pay with (default none); within the available balance and the tenant's cap.
    pub redeem: Bonus,
    /// A coupon or promo code to apply, as typed (case, spaces and dashes do not matter).
    /// Left out of the request hash when absent, so purchases without one hash as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
}

impl RecordPurchase {
    /// A purchase with defaults: the business's category, now, nothing redeemed.
    pub fn new(member: MemberId, business: BusinessId, amount: Kopecks, receipt_id: impl Into<String>) -> Self {
        RecordPurchase {
            member,
            business,
            amount,
            category: None,
            receipt_id: receipt_id.into(),
            at: None,
            redeem: Bonus::ZERO,
            coupon: None,
        }
    }

    /// Applies a coupon or promo code.
    #[must_use]
    pub fn coupon(mut self, code: impl Into<String>) -> Self {
        self.coupon = Some(code.into());
        self
    }

    /// Pays `bonus` of the purchase with bonuses.
    #[must_use]
    pub fn redeem(mut self, bonus: Bonus) -> Self {
        self.redeem = bonus;
        self
    }

    /// Books the purchase under another category of the tenant.
    #[must_use]
    pub fn category(mut self, category: Category) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets when the purchase happened.
    #[must_use]
    pub fn at(mut self, at: OffsetDateTime) -> Self {
        self.at = Some(at);
        self
    }
}

/// What a recorded purchase did: the breakdown a cashier and a member see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The purchase.
    pub purchase: PurchaseId,
    /// The member.
    pub member: MemberId,
    /// The business.
    pub business: BusinessId,
    /// The category it counted under.
    pub category: Category,
    /// The purchase total.
    pub amount: Kopecks,
    /// Paid with bonuses.
    pub redeemed: Bonus,
    /// Paid with money: `amount − coupon discount − redeemed`; cashback and the event-budget
    /// share accrue on this part.
    pub paid: Kopecks,
    /// Cashback credited (pending until `cashback_available_at`).
    pub cashback: Bonus,
    /// The rate it was earned at (the tier after this purchase).
    pub cashback_rate: Bps,
    /// When the cashback becomes spendable.
    #[serde(with = "time::serde::rfc3339")]
    pub cashback_available_at: OffsetDateTime,
    /// Tier before the purchase.
    pub tier_before: Option<TierCode>,
    /// Tier after it.
    pub tier_after: Option<TierCode>,
    /// Whether the purchase changed the tier.
    pub tier_changed: bool,
    /// What is missing for the next tier.
    pub progress: Option<Progress>,
    /// The share of the paid part contributed to the tenant's event budget.
    pub budget_contribution: Kopecks,
    /// The member's balance after the purchase.
    pub balance: BalanceView,
    /// When it was recorded.
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// The coupon applied, if any. The purchase is stored (and counts toward tiers, and is
    /// refunded) at `amount − coupon.discount`.
    #[serde(default)]
    pub coupon: Option<super::AppliedCoupon>,
    /// The business's offers that fired on this purchase (their bonus is credited on top of the
    /// cashback, with the same hold and expiry).
    #[serde(default)]
    pub offers: Vec<crate::facade::AppliedOffer>,
    /// Steps this purchase made in cross-promo chains, with the rewards they paid.
    #[serde(default)]
    pub chains: Vec<super::ChainStepMade>,
}

/// Refund (part of) a purchase.
#[derive(Debug, Clone, Serialize)]
pub struct RefundPurchase {
    /// The purchase.
    pub purchase: PurchaseId,
    /// The caller's refund id: the idempotency key, unique per purchase.
    pub refund_id: String,
    /// How much to refund; `None` refunds everything not yet refunded.
    pub amount: Option<Kopecks>,
}

/// What a refund did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundReceipt {
    /// The purchase.
    pub purchase: PurchaseId,
    /// The refund id.
    pub refund_id: String,
    /// Refunded now.
    pub amount: Kopecks,
    /// Refunded in total so far.
    pub refunded_total: Kopecks,
    /// Cashback taken back (from the purchase's lot, other lots, or as debt).
    pub cashback_reversed: Bonus,
    /// Cashback that could not be taken back and was written off (claw-back policy).
    pub cashback_written_off: Bonus,
    /// Spent bonuses given back to the member.
    pub bonus_returned: Bonus,
    /// Event-budget contribution reversed.
    pub budget_reversed: Kopecks,
    /// Tier after the refund.
    pub tier_after: Option<TierCode>,
    /// The member's balance after the refund.
    pub balance: BalanceView,
    /// Bonus of the purchase's bonus-grant coupon taken back (in proportion, like cashback).
    #[serde(default)]
    pub coupon_bonus_reversed: Bonus,
    /// Whether this refund gave the purchase's coupon back (tenant policy `[coupons]`).
    #[serde(default)]
    pub coupon_restored: bool,
    /// Offer bonus taken back, proportionally to the refund as the cashback is.
    #[serde(default)]
    pub offer_bonus_reversed: Bonus,
}

/// A manual bonus adjustment by an operator.
#[derive(Debug, Clone, Serialize)]
pub struct Adjust {
    /// The member.
    pub member: MemberId,
    /// Signed amount: a credit (positive) or a debit of available bonuses (negative).
    pub amount: Bonus,
    /// Why, in words; required.
    pub reason: String,
    /// Who; required.
    pub actor: String,
    /// The business funding a credit (`None`: the ecosystem).
    pub funded_by: Option<BusinessId>,
    /// The caller's idempotency key.
    pub key: String,
}

/// What an adjustment did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustmentReceipt {
    /// The entry written.
    pub entry: EntryId,
    /// The signed amount.
    pub amount: Bonus,
    /// The member's balance after it.
    pub balance: BalanceView,
}

/// What an expiry run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// Members whose lots lapsed.
    pub members: u64,
    /// Expiry entries written.
    pub entries: u64,
    /// Bonus expired in total.
    pub expired: Bonus,
}

/// A member's status as the member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusView {
    /// Current tier (`None` before the first purchase).
    pub tier: Option<TierCode>,
    /// Cashback rate at the current tier.
    pub cashback_rate: Bps,
    /// Net spend in the status window.
    pub window_spend: Kopecks,
    /// Distinct categories in the window.
    pub window_categories: Vec<Category>,
    /// What is missing for the next tier.
    pub progress: Option<Progress>,
    /// Whether the tier is held by the downgrade grace period (the member no longer qualifies).
    pub in_grace: bool,
    /// Invitation-only tier granted by an operator.
    pub invited: Option<TierCode>,
}

/// One line of the member's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryItem {
    /// The entry.
    pub entry: EntryId,
    /// Its kind.
    pub kind: EntryKind,
    /// Signed amount.
    pub amount: Bonus,
    /// What caused it.
    pub source: Source,
    /// Where.
    pub business: Option<BusinessId>,
    /// The purchase involved.
    pub purchase: Option<PurchaseId>,
    /// For reversals: what it reverses.
    pub reverses: Option<EntryId>,
    /// When.
    pub at: OffsetDateTime,
}

/// A page of history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The items.
    pub items: Vec<HistoryItem>,
    /// Pass as `before` to get the next (older) page; `None` at the end.
    pub next: Option<EntryId>,
}

/// One line of a partner settlement: bonus issued by `from` and spent at `to`, which `from` owes
/// `to` for the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementLine {
    /// The issuing business (the debtor).
    pub from: BusinessId,
    /// The redeeming business (the creditor).
    pub to: BusinessId,
    /// Net bonus amount (1 bonus kopeck = 1 kopeck).
    pub amount: Bonus,
}

/// The event budget: its balance and each business's contribution in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetReport {
    /// Everything contributed minus reversals, all time.
    pub balance: i64,
    /// Net contributions per business in the period.
    pub contributions: Vec<(BusinessId, i64)>,
}

/// One audit record: who did what to whom, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Who acted (a staff login, an operator, a system job).
    pub actor: String,
    /// What was done (`bonus.adjust`, `tier.invite`, …).
    pub action: String,
    /// To what (`member:<id>`).
    pub target: String,
    /// Details as JSON.
    pub detail: String,
    /// The actor's client address (IP), when the caller passed it.
    pub client: Option<String>,
    /// When.
    pub at: OffsetDateTime,
}
