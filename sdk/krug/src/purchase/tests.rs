//! Property tests of `purchase::decide`: any sequence of purchases (with redemptions, a budgeted
//! offer and a cyclic chain paying bonus rewards) keeps the ledger, cap, budget and reward
//! invariants. Each decision's account, offer usage and chain standing are fed into the next
//! snapshot, as the store would read them back after the commit.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::model::{ChainState, CouponLookup, OfferState, PurchaseCommand, Snapshot};
use super::policy::{CodeSource, PurchaseCtx, Rules, decide};
use crate::chain::{ChainDefinition, ChainKind, Reward, RewardKind, Step, StepTarget};
use crate::coupon::CouponCode;
use crate::error::{Error, Result};
use crate::ledger::{Account, Ctx, Entry, LedgerError, redemption_cap};
use crate::offer::policy::Usage;
use crate::offer::{OfferRules, Sandbox};
use crate::status::{HeldStatus, SpendStats};
use crate::store::ChainRow;
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, IdGen, Kopecks, MemberId, OfferId};

const SVOY_KRUG: &str = include_str!("../../../../tenants/svoy-krug/tenant.toml");

#[derive(Default)]
struct CounterIds(AtomicU64);

impl IdGen for CounterIds {
    fn next_uuid(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed)) + 1)
    }
}

struct NoCodes;

impl CodeSource for NoCodes {
    fn draw(&self) -> Result<CouponCode> {
        Err(Error::InvalidInput { field: "coupon", message: "no coupon is issued in these tests".into() })
    }
}

fn biz(s: &str) -> BusinessId {
    BusinessId::parse(s).unwrap()
}

/// A cyclic chain: Миндаль then Лисичкино, each step paying 50 ₽, repeated up to 3 cycles.
fn chain() -> ChainRow {
    let step = |b: &str| Step {
        target: StepTarget::Business(biz(b)),
        min_amount: Kopecks::ZERO,
        window_days: Some(30),
        reward: Some(Reward { kind: RewardKind::Bonus { amount: Bonus::new(5_000).unwrap() }, funded_by: biz(b) }),
    };
    ChainRow {
        id: Uuid::from_u128(7),
        definition: ChainDefinition {
            name: "circle".into(),
            kind: ChainKind::Cyclic,
            steps: vec![step("mindal"), step("lisichkino")],
            completion_reward: None,
            starts_at: datetime!(2026-01-01 0:00 UTC),
            ends_at: datetime!(2028-01-01 0:00 UTC),
            max_cycles: Some(3),
            per_member_limit: 1,
        },
        status: "active".into(),
        created_by: "operator".into(),
        created_at: datetime!(2026-01-01 0:00 UTC),
    }
}

/// The member's state between purchases, as the store would hold it.
struct World {
    config: TenantConfig,
    sandbox: Sandbox,
    ids: CounterIds,
    account: Account,
    held: HeldStatus,
    entries: Vec<Entry>,
    offer: OfferState,
    offer_paid: Bonus,
    chain: ChainState,
    spend: Kopecks,
    now: OffsetDateTime,
}

const OFFER_BUDGET: i64 = 30_000;

impl World {
    fn new() -> World {
        let config = TenantConfig::from_toml_str(SVOY_KRUG).unwrap();
        let sandbox = Sandbox::new(&config.offers);
        let script = Arc::new(sandbox.compile("bonus(7_000);").unwrap());
        let rules = OfferRules { budget: Some(Bonus::new(OFFER_BUDGET).unwrap()), ..OfferRules::default() };
        World {
            config,
            sandbox,
            ids: CounterIds::default(),
            account: Account::default(),
            held: HeldStatus::default(),
            entries: Vec::new(),
            offer: OfferState {
                id: OfferId::from_uuid(Uuid::from_u128(9)),
                version: 1,
                rules,
                script: Ok(script),
                usage: Usage::default(),
            },
            offer_paid: Bonus::ZERO,
            chain: ChainState { chain: chain(), progress: None, last_seq: 0, paid: BTreeSet::new() },
            spend: Kopecks::ZERO,
            now: datetime!(2026-06-01 10:00 UTC),
        }
    }

    fn snapshot(&self, business: &BusinessId) -> Snapshot {
        let offers = if business.as_str() == "mindal" { vec![self.offer.clone()] } else { Vec::new() };
        let history = (!offers.is_empty()).then_some(super::model::MemberHistory {
            joined_at: datetime!(2026-01-01 0:00 UTC),
            visits: 0,
            spend: Kopecks::ZERO,
            last_visit: None,
            birthday: None,
        });
        Snapshot {
            account: self.account.clone(),
            held: self.held.clone(),
            medical_consent: false,
            stats: SpendStats { spend: self.spend, categories: BTreeSet::new() },
            coupon: CouponLookup::None,
            offers,
            history,
            chains: vec![self.chain.clone()],
            templates: Vec::new(),
        }
    }

    /// One purchase of `rubles` at `business`, paying `redeem_pct` % of the cap with bonuses
    /// (above the cap when over 100).
    fn buy(&mut self, business: &str, rubles: i64, redeem_pct: i64) {
        let business = biz(business);
        let amount = Kopecks::rubles(rubles).unwrap();
        let cap = redemption_cap(amount, &self.config.bonus);
        let redeem = Bonus::new(cap.get() * redeem_pct / 100).unwrap();
        let category = self.config.business(&business).unwrap().category.clone();
        let receipt = format!("r{}", self.ids.next_uuid());
        let cmd = PurchaseCommand {
            member: MemberId::from_uuid(Uuid::from_u128(1)),
            business: &business,
            amount,
            redeem,
            category,
            receipt_id: &receipt,
            at: self.now,
            coupon: None,
            idempotency: ("purchase:x", "hash"),
            qr_step: None,
        };
        let available = self.account.available(self.now).unwrap();
        let before = self.account.clone();
        let rules = Rules { config: &self.config, sandbox: &self.sandbox };
        let ctx = PurchaseCtx { ledger: Ctx { now: self.now, ids: &self.ids }, codes: &NoCodes };
        match decide(rules, self.snapshot(&business), &cmd, ctx) {
            Ok(d) => {
                assert!(redeem <= cap && redeem <= available, "redeemed {redeem:?} over cap {cap:?} or {available:?}");
                assert_eq!(d.purchase.redeemed, redeem);
                let mut keys = BTreeSet::new();
                for s in &d.chain_steps {
                    for r in &s.rewards {
                        let key = (r.run, r.cycle, r.slot);
                        assert!(!self.chain.paid.contains(&key), "reward slot {key:?} paid twice");
                        assert!(keys.insert(key), "reward slot {key:?} paid twice in one purchase");
                        self.chain.paid.insert(key);
                    }
                    self.chain.progress = Some(s.after.clone());
                    self.chain.last_seq = s.step.seq;
                }
                for o in &d.offers {
                    if let Some(f) = &o.fired {
                        self.offer_paid = self.offer_paid.checked_add(f.bonus).unwrap();
                        self.offer.usage.spent = self.offer_paid;
                    }
                }
                assert!(self.offer_paid.get() <= OFFER_BUDGET, "offer over budget: {:?}", self.offer_paid);
                self.entries.extend(d.plan.entries.iter().cloned());
                self.account = d.account;
                self.held = d.held;
                self.spend = self.spend.checked_add(d.purchase.amount).unwrap();
                assert_eq!(d.receipt.balance.total, self.account.balance().unwrap(), "receipt shows the balance");
            }
            Err(Error::Ledger(LedgerError::InsufficientBalance { .. } | LedgerError::RedeemAboveCap { .. })) => {
                assert!(redeem > cap || redeem > available, "refused within cap {cap:?} and {available:?}");
                assert_eq!(self.account, before, "a refusal changes nothing");
            }
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
        let sum = Bonus::sum(self.entries.iter().map(|e| e.amount)).unwrap();
        assert_eq!(sum, self.account.balance().unwrap(), "Σ entries = balance");
        self.now += Duration::days(3);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_sequence_of_purchases_keeps_the_ledger_cap_budget_and_reward_invariants(
        steps in prop::collection::vec((0usize..3, 1i64..40_000, 0i64..130), 1..40)
    ) {
        let mut world = World::new();
        for (at, rubles, redeem_pct) in steps {
            let business = ["mindal", "lisichkino", "skinerica"][at];
            world.buy(business, rubles, redeem_pct);
        }
    }
}

#[test]
fn a_cyclic_chain_pays_each_slot_once_per_cycle_and_stops_after_its_cycles() {
    let mut world = World::new();
    for _ in 0..5 {
        world.buy("mindal", 1_000, 0);
        world.buy("lisichkino", 1_000, 0);
    }
    let paid: Vec<_> = world.chain.paid.iter().copied().collect();
    // Three cycles of two steps each; the purchases after the third cycle make no step.
    assert_eq!(paid.len(), 6, "{paid:?}");
    assert_eq!(world.offer_paid.get(), OFFER_BUDGET, "the offer's budget ran out exactly");
}

#[test]
fn a_reward_slot_already_paid_in_this_run_and_cycle_is_not_paid_again() {
    // A refund rolled the member's step back but her reward stayed paid (a used coupon): the
    // step made again pays nothing.
    let mut world = World::new();
    world.buy("mindal", 1_000, 0);
    let paid_before = world.chain.paid.clone();
    assert_eq!(paid_before.len(), 1);
    world.chain.progress = None;
    world.chain.last_seq = 0;
    // `buy` refuses any reward whose slot is already paid.
    world.buy("mindal", 1_000, 0);
    assert_eq!(world.chain.paid, paid_before, "no new slot");
    assert_eq!(world.chain.last_seq, 1, "the step itself is made again");
}
