//! Ledger model: lots, entries and the moves between them.
//!
//! Invariants (checked by the property tests in `policy`):
//! - `balance = Σ entry.amount` over all the member's entries;
//! - `balance = Σ lot.remaining − debt`, each `lot.remaining ≥ 0`, `debt ≥ 0`;
//! - for every lot, `remaining = Σ moves on that lot`;
//! - for every entry, `amount = Σ entry.moves − entry.debt_delta`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::types::{Bonus, Bps, BusinessId, EntryId, LotId, PurchaseId, Rounding};

/// The tenant's bonus rules. Every value is configuration; defaults are documented on each field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BonusPolicy {
    /// Days an accrual stays pending (the refund window) before it can be spent. Default 14.
    pub hold_days: u32,
    /// Days from accrual after which unspent bonus lapses. Default 365.
    pub expiry_days: u32,
    /// The largest share of a purchase that may be paid with bonuses. Default 3000 bps (30 %).
    pub max_redeem_share: Bps,
    /// How fractional kopecks of cashback round. Default floor.
    pub rounding: Rounding,
    /// What a refund does when the cashback it reverses was already spent. Default claw back.
    pub refund_of_spent: RefundOfSpent,
}

impl Default for BonusPolicy {
    fn default() -> Self {
        BonusPolicy {
            hold_days: 14,
            expiry_days: 365,
            max_redeem_share: Bps::new(3_000).unwrap_or(Bps::ZERO),
            rounding: Rounding::Floor,
            refund_of_spent: RefundOfSpent::ClawBack,
        }
    }
}

/// Tenant policy for reversing cashback that the member has already spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundOfSpent {
    /// Take the shortfall from the member's other lots (available first, then pending); what is
    /// still missing is written off. The balance never goes negative.
    #[default]
    ClawBack,
    /// Record the shortfall as a debt: the balance may go negative and later accruals repay it first.
    Debt,
}

/// What kind of movement an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Cashback or another credit earned; creates a lot.
    Accrual,
    /// Bonuses spent on a purchase; consumes lots FIFO by expiry.
    Redemption,
    /// Unspent bonuses of a lapsed lot written off.
    Expiry,
    /// Undoes (part of) an earlier entry; always points at it.
    Reversal,
    /// A manual correction by an operator, with a reason and an actor.
    Adjustment,
}

impl EntryKind {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryKind::Accrual => "accrual",
            EntryKind::Redemption => "redemption",
            EntryKind::Expiry => "expiry",
            EntryKind::Reversal => "reversal",
            EntryKind::Adjustment => "adjustment",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "accrual" => EntryKind::Accrual,
            "redemption" => EntryKind::Redemption,
            "expiry" => EntryKind::Expiry,
            "reversal" => EntryKind::Reversal,
            "adjustment" => EntryKind::Adjustment,
            _ => return None,
        })
    }
}

/// Where a credit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Cashback on a purchase, or a movement caused by one (redemption, refund).
    Purchase,
    /// An offer's bonus.
    Offer,
    /// A cross-promo chain reward.
    Chain,
    /// A referral reward.
    Referral,
    /// A manual operator adjustment.
    Manual,
    /// The expiry of a lapsed lot.
    Expiry,
    /// A paid event seat (and its refund); ecosystem-side, so no partner settlement.
    Event,
    /// A bonus-grant coupon used with a purchase.
    Coupon,
}

impl Source {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Purchase => "purchase",
            Source::Offer => "offer",
            Source::Chain => "chain",
            Source::Referral => "referral",
            Source::Manual => "manual",
            Source::Expiry => "expiry",
            Source::Event => "event",
            Source::Coupon => "coupon",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "purchase" => Source::Purchase,
            "offer" => Source::Offer,
            "chain" => Source::Chain,
            "referral" => Source::Referral,
            "manual" => Source::Manual,
            "expiry" => Source::Expiry,
            "event" => Source::Event,
            "coupon" => Source::Coupon,
            _ => return None,
        })
    }
}

/// One lot: the bonuses one credit added, with the business that issued them (who owes their
/// value when they are spent elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// The lot.
    pub id: LotId,
    /// The business that funds this bonus; `None` for ecosystem-funded credits.
    pub issuer: Option<BusinessId>,
    /// What the lot was credited by.
    pub source: Source,
    /// The purchase whose cashback it is, if any.
    pub purchase: Option<PurchaseId>,
    /// The amount credited.
    pub amount: Bonus,
    /// What is left of it; never negative.
    pub remaining: Bonus,
    /// From when it may be spent (end of the hold).
    pub available_at: OffsetDateTime,
    /// From when it has lapsed.
    pub expires_at: OffsetDateTime,
}

impl Lot {
    /// Whether the lot can be spent at `now`: out of its hold and not lapsed.
    pub fn is_available(&self, now: OffsetDateTime) -> bool {
        self.available_at <= now && now < self.expires_at
    }

    /// Whether the lot is still in its hold at `now`.
    pub fn is_pending(&self, now: OffsetDateTime) -> bool {
        now < self.available_at && now < self.expires_at
    }
}

/// A change of one lot's remaining amount made by one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotMove {
    /// The lot moved.
    pub lot: LotId,
    /// The lot's issuer (copied so settlement is one query).
    pub issuer: Option<BusinessId>,
    /// The business where bonuses were spent, for redemptions and their reversals only.
    pub redeemer: Option<BusinessId>,
    /// Signed change of the lot's remaining amount.
    pub amount: Bonus,
}

/// One ledger entry, append-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry.
    pub id: EntryId,
    /// Its kind.
    pub kind: EntryKind,
    /// Signed change of the balance.
    pub amount: Bonus,
    /// What caused it.
    pub source: Source,
    /// The business where it happened (issuer of an accrual, redeemer of a redemption).
    pub business: Option<BusinessId>,
    /// The purchase involved, if any.
    pub purchase: Option<PurchaseId>,
    /// For a reversal: the entry it reverses.
    pub reverses: Option<EntryId>,
    /// Change of the member's debt (positive when debt grows).
    pub debt_delta: Bonus,
    /// For adjustments: why, in the operator's words.
    pub reason: Option<String>,
    /// For adjustments: who made it.
    pub actor: Option<String>,
    /// When it was written.
    pub at: OffsetDateTime,
    /// The lot moves that make it up.
    pub moves: Vec<LotMove>,
}
