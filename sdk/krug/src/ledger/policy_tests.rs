//! Property tests of the ledger policy: any sequence of purchases (with redemption), refunds,
//! expiries and adjustments keeps the ledger's invariants.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::*;
use crate::ledger::BonusPolicy;
use crate::types::{Bps, IdGen};

#[derive(Default)]
struct CounterIds(AtomicU64);

impl IdGen for CounterIds {
    fn next_uuid(&self) -> Uuid {
        Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::Relaxed)) + 1)
    }
}

struct Bought {
    amount: Kopecks,
    accrued: Bonus,
    redeemed: Bonus,
    refunded: Kopecks,
    lot: Option<LotId>,
    accrual: Option<EntryId>,
    redemption: Option<EntryId>,
}

struct Sim {
    account: Account,
    entries: Vec<Entry>,
    lot_amounts: BTreeMap<LotId, Bonus>,
    purchases: Vec<Bought>,
    now: OffsetDateTime,
    ids: CounterIds,
    policy: BonusPolicy,
    rate: Bps,
}

fn shop() -> BusinessId {
    BusinessId::parse("shop").unwrap()
}

impl Sim {
    fn new(refund_of_spent: RefundOfSpent) -> Sim {
        Sim {
            account: Account::default(),
            entries: Vec::new(),
            lot_amounts: BTreeMap::new(),
            purchases: Vec::new(),
            now: OffsetDateTime::UNIX_EPOCH + Duration::days(20_000),
            ids: CounterIds::default(),
            policy: BonusPolicy { hold_days: 3, expiry_days: 30, refund_of_spent, ..BonusPolicy::default() },
            rate: Bps::new(700).unwrap(),
        }
    }

    fn absorb(&mut self, plan: Plan) {
        for lot in &plan.new_lots {
            let amount = self.account.lots.iter().find(|l| l.id == *lot).unwrap().amount;
            self.lot_amounts.insert(*lot, amount);
        }
        self.entries.extend(plan.entries);
    }

    fn purchase(&mut self, amount: i64, redeem_percent: i64) {
        let amount = Kopecks::positive(amount).unwrap();
        let cap = redemption_cap(amount, &self.policy);
        let available = self.account.available(self.now).unwrap().max(Bonus::ZERO);
        let redeem = Bonus::new(cap.min(available).get() * redeem_percent / 100).unwrap();
        let mut plan = Plan::default();
        let ctx = Ctx { now: self.now, ids: &self.ids };
        let redemption = if redeem.is_zero() {
            None
        } else {
            let debit = Debit {
                kind: EntryKind::Redemption,
                source: Source::Purchase,
                redeemer: Some(shop()),
                purchase: None,
                amount: redeem,
                reason: None,
                actor: None,
            };
            Some(self.account.debit(&mut plan, debit, ctx).unwrap())
        };
        let paid = amount.checked_sub(redeem.as_kopecks().unwrap()).unwrap();
        let cashback = paid.accrue_at(self.rate, self.policy.rounding);
        assert!(i128::from(cashback.get()) * 10_000 <= i128::from(paid.get()) * 700);
        let (lot, accrual) = if cashback.is_zero() {
            (None, None)
        } else {
            let credit = Credit {
                kind: EntryKind::Accrual,
                source: Source::Purchase,
                issuer: Some(shop()),
                purchase: None,
                amount: cashback,
                available_at: self.now + Duration::days(i64::from(self.policy.hold_days)),
                expires_at: self.now + Duration::days(i64::from(self.policy.expiry_days)),
                reason: None,
                actor: None,
            };
            let lot = self.account.credit(&mut plan, credit, ctx).unwrap();
            (Some(lot), plan.entries.last().map(|e| e.id))
        };
        self.absorb(plan);
        self.purchases.push(Bought {
            amount,
            accrued: cashback,
            redeemed: redeem,
            refunded: Kopecks::ZERO,
            lot,
            accrual,
            redemption,
        });
    }

    fn consumed_by(&self, redemption: EntryId) -> Vec<(LotId, Bonus)> {
        let mut held: Vec<(LotId, Bonus)> = Vec::new();
        for e in &self.entries {
            if e.id == redemption || e.reverses == Some(redemption) {
                for m in &e.moves {
                    match held.iter_mut().find(|(l, _)| *l == m.lot) {
                        Some((_, b)) => *b = b.checked_sub(m.amount).unwrap(),
                        None => held.push((m.lot, m.amount.neg())),
                    }
                }
            }
        }
        held
    }

    fn refund(&mut self, index: usize, percent: i64) {
        if self.purchases.is_empty() {
            return;
        }
        let i = index % self.purchases.len();
        let p = &self.purchases[i];
        let left = p.amount.checked_sub(p.refunded).unwrap();
        let refund = Kopecks::new(left.get() * percent / 100).unwrap();
        if refund.is_zero() {
            return;
        }
        let split = refund_split(p.amount, p.accrued, p.redeemed, p.refunded, refund).unwrap();
        let (lot, accrual, redemption) = (p.lot, p.accrual, p.redemption);
        let consumed = redemption.map(|r| self.consumed_by(r)).unwrap_or_default();
        let mut plan = Plan::default();
        let ctx = Ctx { now: self.now, ids: &self.ids };
        let policy = self.policy.refund_of_spent;
        if let (Some(lot), Some(accrual)) = (lot, accrual) {
            self.account.reverse_credit(&mut plan, lot, accrual, split.accrual, policy, None, ctx).unwrap();
        } else {
            assert!(split.accrual.is_zero());
        }
        if let Some(redemption) = redemption {
            self.account.restore_debit(&mut plan, redemption, &consumed, split.redemption, &shop(), None, ctx).unwrap();
        }
        self.absorb(plan);
        self.purchases[i].refunded = self.purchases[i].refunded.checked_add(refund).unwrap();
    }

    fn advance_and_expire(&mut self, days: i64) {
        self.now += Duration::days(days);
        let mut plan = Plan::default();
        let ctx = Ctx { now: self.now, ids: &self.ids };
        self.account.expire(&mut plan, ctx).unwrap();
        self.absorb(plan);
    }

    fn adjust(&mut self, amount: i64) {
        let mut plan = Plan::default();
        let ctx = Ctx { now: self.now, ids: &self.ids };
        let before = self.account.clone();
        let result = if amount > 0 {
            let credit = Credit {
                kind: EntryKind::Adjustment,
                source: Source::Manual,
                issuer: None,
                purchase: None,
                amount: Bonus::new(amount).unwrap(),
                available_at: self.now,
                expires_at: self.now + Duration::days(30),
                reason: Some("goodwill".into()),
                actor: Some("operator".into()),
            };
            self.account.credit(&mut plan, credit, ctx).map(|_| ())
        } else if amount < 0 {
            let debit = Debit {
                kind: EntryKind::Adjustment,
                source: Source::Manual,
                redeemer: None,
                purchase: None,
                amount: Bonus::new(-amount).unwrap(),
                reason: Some("correction".into()),
                actor: Some("operator".into()),
            };
            self.account.debit(&mut plan, debit, ctx).map(|_| ())
        } else {
            Ok(())
        };
        match result {
            Ok(()) => self.absorb(plan),
            Err(LedgerError::InsufficientBalance { .. }) => {
                assert_eq!(self.account, before, "a refused debit changes nothing");
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn check_invariants(&self) {
        let balance = self.account.balance().unwrap();
        let sum = Bonus::sum(self.entries.iter().map(|e| e.amount)).unwrap();
        assert_eq!(sum, balance, "Σ entries = balance");
        assert!(!self.account.debt.is_negative());
        let mut by_lot: BTreeMap<LotId, Bonus> = BTreeMap::new();
        for e in &self.entries {
            let moved = Bonus::sum(e.moves.iter().map(|m| m.amount)).unwrap();
            assert_eq!(e.amount, moved.checked_sub(e.debt_delta).unwrap(), "entry = Σ moves − Δdebt");
            if e.kind == EntryKind::Reversal {
                assert!(e.reverses.is_some(), "every reversal points at what it reverses");
            }
            for m in &e.moves {
                let slot = by_lot.entry(m.lot).or_insert(Bonus::ZERO);
                *slot = slot.checked_add(m.amount).unwrap();
            }
        }
        for lot in &self.account.lots {
            assert!(!lot.remaining.is_negative());
            assert!(lot.remaining <= self.lot_amounts[&lot.id]);
            assert_eq!(by_lot.get(&lot.id).copied().unwrap_or(Bonus::ZERO), lot.remaining, "lot = Σ moves");
        }
        if self.policy.refund_of_spent == RefundOfSpent::ClawBack {
            assert_eq!(self.account.debt, Bonus::ZERO);
            assert!(!self.account.available(self.now).unwrap().is_negative());
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Purchase { amount: i64, redeem_percent: i64 },
    Refund { index: usize, percent: i64 },
    Advance { days: i64 },
    Adjust { amount: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1i64..2_000_000, 0i64..=100).prop_map(|(amount, redeem_percent)| Op::Purchase { amount, redeem_percent }),
        2 => (any::<usize>(), 1i64..=100).prop_map(|(index, percent)| Op::Refund { index, percent }),
        2 => (0i64..40).prop_map(|days| Op::Advance { days }),
        1 => (-50_000i64..50_000).prop_map(|amount| Op::Adjust { amount }),
    ]
}

fn policy() -> impl Strategy<Value = RefundOfSpent> {
    prop_oneof![Just(RefundOfSpent::ClawBack), Just(RefundOfSpent::Debt)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_sequence_keeps_the_ledger_invariants(policy in policy(), ops in prop::collection::vec(op(), 1..60)) {
        let mut sim = Sim::new(policy);
        for op in ops {
            match op {
                Op::Purchase { amount, redeem_percent } => sim.purchase(amount, redeem_percent),
                Op::Refund { index, percent } => sim.refund(index, percent),
                Op::Advance { days } => sim.advance_and_expire(days),
                Op::Adjust { amount } => sim.adjust(amount),
            }
            sim.check_invariants();
        }
    }

    #[test]
    fn a_full_refund_right_after_a_purchase_restores_the_balance(
        policy in policy(),
        setup in prop::collection::vec(op(), 0..20),
        amount in 1i64..2_000_000,
        redeem_percent in 0i64..=100,
    ) {
        let mut sim = Sim::new(policy);
        for op in setup {
            match op {
                Op::Purchase { amount, redeem_percent } => sim.purchase(amount, redeem_percent),
                Op::Advance { days } => sim.advance_and_expire(days),
                Op::Adjust { amount } => sim.adjust(amount),
                Op::Refund { .. } => {}
            }
        }
        let before = sim.account.balance().unwrap();
        let available_before = sim.account.available(sim.now).unwrap();
        sim.purchase(amount, redeem_percent);
        let last = sim.purchases.len() - 1;
        sim.refund(last, 100);
        prop_assert_eq!(sim.account.balance().unwrap(), before);
        prop_assert_eq!(sim.account.available(sim.now).unwrap(), available_before);
        sim.check_invariants();
    }

    #[test]
    fn partial_refunds_adding_up_to_the_purchase_undo_exactly_everything(
        amount in 1i64..10_000_000,
        accrued in 0i64..1_000_000,
        redeemed in 0i64..1_000_000,
        cuts in prop::collection::vec(1i64..=100, 1..8),
    ) {
        let amount = Kopecks::new(amount).unwrap();
        let (accrued, redeemed) = (Bonus::new(accrued).unwrap(), Bonus::new(redeemed).unwrap());
        let mut refunded = Kopecks::ZERO;
        let (mut acc, mut red) = (Bonus::ZERO, Bonus::ZERO);
        for cut in cuts {
            let left = amount.checked_sub(refunded).unwrap();
            let refund = Kopecks::new(left.get() * cut / 100).unwrap();
            let split = refund_split(amount, accrued, redeemed, refunded, refund).unwrap();
            acc = acc.checked_add(split.accrual).unwrap();
            red = red.checked_add(split.redemption).unwrap();
            refunded = refunded.checked_add(refund).unwrap();
        }
        let rest = amount.checked_sub(refunded).unwrap();
        let split = refund_split(amount, accrued, redeemed, refunded, rest).unwrap();
        prop_assert_eq!(acc.checked_add(split.accrual).unwrap(), accrued);
        prop_assert_eq!(red.checked_add(split.redemption).unwrap(), redeemed);
        prop_assert!(refund_split(amount, accrued, redeemed, amount, Kopecks::new(1).unwrap()).is_none());
    }
}

#[test]
fn redemption_consumes_the_soonest_expiring_available_lot_first() {
    let mut sim = Sim::new(RefundOfSpent::ClawBack);
    sim.adjust(1_000); // expires in 30 days
    sim.now += Duration::days(10);
    sim.adjust(1_000); // expires in 40 days from the start
    let first = sim.account.lots[0].id;
    sim.purchase(10_000, 100); // cap 30 % = 3,000 → spends 2,000 available
    let redemption = sim.entries.iter().find(|e| e.kind == EntryKind::Redemption).unwrap();
    assert_eq!(redemption.moves[0].lot, first);
    assert_eq!(redemption.amount.get(), -2_000);
    assert_eq!(redemption.moves[0].redeemer, Some(shop()));
    sim.check_invariants();
}

#[test]
fn pending_bonuses_cannot_be_spent_until_the_hold_ends() {
    let mut sim = Sim::new(RefundOfSpent::ClawBack);
    sim.purchase(100_000, 0); // 7,000 cashback, hold 3 days
    assert_eq!(sim.account.available(sim.now).unwrap(), Bonus::ZERO);
    let view = sim.account.view(sim.now, Duration::days(30)).unwrap();
    assert_eq!(view.pending.get(), 7_000);
    assert_eq!(view.pending_lots[0].at, sim.now + Duration::days(3));
    sim.now += Duration::days(3);
    assert_eq!(sim.account.available(sim.now).unwrap().get(), 7_000);
    let view = sim.account.view(sim.now, Duration::days(30)).unwrap();
    assert_eq!(view.expiring[0].amount.get(), 7_000, "lapses on day 30, inside the horizon");
}

#[test]
fn refund_of_spent_cashback_becomes_debt_under_the_debt_policy() {
    let mut sim = Sim::new(RefundOfSpent::Debt);
    sim.purchase(100_000, 0); // 7,000 cashback
    sim.now += Duration::days(3);
    sim.purchase(30_000, 100); // spends 7,000 (cap 9,000)
    sim.refund(0, 100);
    assert_eq!(sim.account.debt.get(), 7_000);
    assert_eq!(sim.account.balance().unwrap().get(), 1_610 - 7_000);
    sim.check_invariants();
    sim.purchase(200_000, 0); // 14,000 cashback repays the debt first
    assert_eq!(sim.account.debt, Bonus::ZERO);
    sim.check_invariants();
}

#[test]
fn refund_of_spent_cashback_is_clawed_back_from_other_lots() {
    let mut sim = Sim::new(RefundOfSpent::ClawBack);
    sim.purchase(100_000, 0); // 7,000 cashback
    sim.now += Duration::days(3);
    sim.purchase(30_000, 100); // spends 7,000; earns 1,610 pending
    sim.refund(0, 100); // 7,000 to take back: lot empty → 1,610 from the pending lot, rest written off
    assert_eq!(sim.account.balance().unwrap(), Bonus::ZERO);
    assert_eq!(sim.account.debt, Bonus::ZERO);
    sim.check_invariants();
}
