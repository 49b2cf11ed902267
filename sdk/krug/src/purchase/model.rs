//! What a purchase reads, what it is asked, and what it decides.
//!
//! A [`Snapshot`] is everything the rules of a purchase depend on, read by the store in one
//! fixed order under the locks that keep it true until the commit (the member's account first,
//! then the coupon's template, then the offers that have budgets). A [`Decision`] is the complete
//! write set — every row the purchase adds or changes — plus the receipt; the store writes it as
//! it is, with no rule of its own.

use std::collections::BTreeSet;
use std::sync::Arc;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::chain::Progress;
use crate::coupon::{Coupon, CouponCode, CouponSource};
use crate::facade::Receipt;
use crate::ledger::{Account, Plan};
use crate::offer::OfferRules;
use crate::offer::policy::Usage;
use crate::status::{HeldStatus, SpendStats};
use crate::store::{ChainRow, NewPurchase, RewardRow, StatDelta, StepRow, TemplateRow};
use crate::types::{Bonus, BusinessId, Category, EntryId, Kopecks, LotId, MemberId, OfferId};

/// A purchase to decide, its input already checked (amounts, receipt id, category).
#[derive(Debug, Clone)]
pub(crate) struct PurchaseCommand<'a> {
    /// Who buys.
    pub(crate) member: MemberId,
    /// Where.
    pub(crate) business: &'a BusinessId,
    /// The receipt total.
    pub(crate) amount: Kopecks,
    /// Bonuses to pay with.
    pub(crate) redeem: Bonus,
    /// The category it counts under.
    pub(crate) category: Category,
    /// The partner's receipt id.
    pub(crate) receipt_id: &'a str,
    /// When it happened (the server clock for a scan).
    pub(crate) at: OffsetDateTime,
    /// The coupon presented, in normal form (the snapshot holds what the store found for it).
    pub(crate) coupon: Option<&'a CouponCode>,
    /// The idempotency record the receipt is stored under: `(scope, request hash)`; the key is
    /// the receipt id.
    pub(crate) idempotency: (&'a str, &'a str),
    /// For a scan, the QR step the member's code verified at: it is claimed with the purchase.
    pub(crate) qr_step: Option<u64>,
}

/// The coupon presented, as the store found it.
#[derive(Debug, Clone)]
pub(crate) enum CouponLookup {
    /// None was presented.
    None,
    /// No coupon has this code.
    Missing(CouponCode),
    /// The coupon, read again under its template's lock, with the template and the member's uses
    /// of it.
    Found {
        /// The code's row.
        coupon: Coupon,
        /// Its template, locked.
        template: Box<TemplateRow>,
        /// Redemptions of the template by this member.
        member_uses: u32,
    },
}

/// A running offer of the business, with what it has used so far (read under its lock when it
/// has a budget or a daily limit).
#[derive(Debug, Clone)]
pub(crate) struct OfferState {
    /// The offer.
    pub(crate) id: OfferId,
    /// Its running version.
    pub(crate) version: i64,
    /// The rules the engine enforces.
    pub(crate) rules: OfferRules,
    /// The compiled script, or why it does not compile (the offer is then skipped and counted
    /// as a failure).
    pub(crate) script: Result<Arc<rhai::AST>, String>,
    /// Its budget and limits used so far.
    pub(crate) usage: Usage,
}

/// The member's history as offers see it: read only when the business has running offers.
#[derive(Debug, Clone)]
pub(crate) struct MemberHistory {
    /// When she joined.
    pub(crate) joined_at: OffsetDateTime,
    /// Her earlier purchases at this business.
    pub(crate) visits: i64,
    /// Their net total.
    pub(crate) spend: Kopecks,
    /// The last one's time.
    pub(crate) last_visit: Option<OffsetDateTime>,
    /// Her birthday, opened only when a running script mentions it.
    pub(crate) birthday: Option<Date>,
}

/// A running chain with the member's standing in it.
#[derive(Debug, Clone)]
pub(crate) struct ChainState {
    /// The chain.
    pub(crate) chain: ChainRow,
    /// Her progress, if she entered it.
    pub(crate) progress: Option<Progress>,
    /// The ordinal of her latest step in it (0: none).
    pub(crate) last_seq: i64,
    /// Reward slots already paid to her: `(run, cycle, slot)`.
    pub(crate) paid: BTreeSet<(u32, u32, usize)>,
}

/// Everything a purchase reads.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The member's account (locked): open lots and debt.
    pub(crate) account: Account,
    /// Her held status.
    pub(crate) held: HeldStatus,
    /// Whether she has an active medical-disclosure consent (read only at a clinic).
    pub(crate) medical_consent: bool,
    /// Spend statistics of the status window, before this purchase.
    pub(crate) stats: SpendStats,
    /// The coupon presented.
    pub(crate) coupon: CouponLookup,
    /// The business's running offers, in offer-id order.
    pub(crate) offers: Vec<OfferState>,
    /// Her history at the business, when there are offers.
    pub(crate) history: Option<MemberHistory>,
    /// The running chains.
    pub(crate) chains: Vec<ChainState>,
    /// Coupon templates the purchase may issue personal coupons of (offers' and chains'
    /// rewards), as stored.
    pub(crate) templates: Vec<TemplateRow>,
}

/// A coupon's use by the purchase.
#[derive(Debug, Clone)]
pub(crate) struct CouponRedemption {
    /// The redemption row's id.
    pub(crate) id: Uuid,
    /// The code used.
    pub(crate) code: CouponCode,
    /// Its template.
    pub(crate) template: String,
    /// Off the receipt total.
    pub(crate) discount: Kopecks,
    /// Bonus granted by it.
    pub(crate) bonus: Bonus,
    /// The grant's ledger entry and lot.
    pub(crate) bonus_entry: Option<EntryId>,
    /// See `bonus_entry`.
    pub(crate) bonus_lot: Option<LotId>,
}

/// A personal coupon the purchase issues (an offer's effect or a chain's reward).
#[derive(Debug, Clone)]
pub(crate) struct NewCoupon {
    /// The drawn code.
    pub(crate) code: CouponCode,
    /// Its template.
    pub(crate) template: String,
    /// The member it is bound to.
    pub(crate) member: MemberId,
    /// Why it was issued.
    pub(crate) source: CouponSource,
    /// First valid instant.
    pub(crate) valid_from: OffsetDateTime,
    /// First instant no longer valid.
    pub(crate) valid_until: OffsetDateTime,
}

/// An offer that fired.
#[derive(Debug, Clone)]
pub(crate) struct Activation {
    /// Bonus granted.
    pub(crate) bonus: Bonus,
    /// Its ledger entry and lot (none for a zero grant).
    pub(crate) entry: Option<EntryId>,
    /// See `entry`.
    pub(crate) lot: Option<LotId>,
    /// Templates of the coupons it issued.
    pub(crate) coupons: Vec<String>,
    /// Badges it awarded.
    pub(crate) badges: Vec<String>,
}

/// What one offer evaluated on the purchase writes: its statistics, and what it gave.
#[derive(Debug, Clone)]
pub(crate) struct OfferOutcome {
    /// The offer.
    pub(crate) offer: OfferId,
    /// The version that ran.
    pub(crate) version: i64,
    /// Added to its `(offer, version, day)` statistics.
    pub(crate) stats: StatDelta,
    /// When it fired.
    pub(crate) fired: Option<Activation>,
}

/// A step a purchase made in a chain, as stored.
#[derive(Debug, Clone)]
pub(crate) struct ChainStepWrite {
    /// The step row.
    pub(crate) step: StepRow,
    /// The member's progress after it.
    pub(crate) after: Progress,
    /// Rewards it paid.
    pub(crate) rewards: Vec<RewardRow>,
}

/// Everything a purchase writes, and its receipt.
#[derive(Debug, Clone)]
pub(crate) struct Decision {
    /// The purchase row.
    pub(crate) purchase: NewPurchase,
    /// The ledger entries, new lots and lot moves.
    pub(crate) plan: Plan,
    /// The account after the plan (the lots the plan names, the debt).
    pub(crate) account: Account,
    /// The held status to store with the balance.
    pub(crate) held: HeldStatus,
    /// The coupon's use.
    pub(crate) coupon: Option<CouponRedemption>,
    /// The offers evaluated, in the order they ran.
    pub(crate) offers: Vec<OfferOutcome>,
    /// The tenant-local day offer statistics are counted under.
    pub(crate) offer_day: String,
    /// Personal coupons issued.
    pub(crate) coupons: Vec<NewCoupon>,
    /// Chain steps made.
    pub(crate) chain_steps: Vec<ChainStepWrite>,
    /// The event-budget contribution: its entry id and amount (none when zero).
    pub(crate) budget: Option<(EntryId, Kopecks)>,
    /// The QR step claimed by a scan.
    pub(crate) qr_step: Option<u64>,
    /// The idempotency record: `(scope, key, request hash)`; the response is the receipt.
    pub(crate) remember: (String, String, String),
    /// The receipt.
    pub(crate) receipt: Receipt,
}
