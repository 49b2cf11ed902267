//! Ledger policy: pure decisions over one member's account.
//!
//! `Account` holds the member's open lots and debt; every operation mutates it and appends what
//! it did to a [`Plan`] (new entries with their lot moves, new lots, lots touched). The engine
//! writes the plan in one transaction. Nothing here reads a clock, a database or randomness:
//! `now` and the id generator come in through [`Ctx`].
//!
//! Ordering rules: spending consumes available lots FIFO by expiry (then by availability, then by
//! id, so the order is total); a claw-back takes available lots first, then pending ones.

use std::collections::BTreeSet;

use time::OffsetDateTime;

pub use super::LedgerError;
use super::model::{Entry, EntryKind, Lot, LotMove, RefundOfSpent, Source};
use crate::types::{Bonus, BusinessId, EntryId, IdGen, Kopecks, LotId, PurchaseId, Rounding};

/// The time and id source of one operation.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// The instant the operation happens at.
    pub now: OffsetDateTime,
    /// Where new entry and lot ids come from.
    pub ids: &'a dyn IdGen,
}

/// What one or more operations decided, for the engine to write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    /// New entries, in order, each with its lot moves.
    pub entries: Vec<Entry>,
    /// Lots created (their `remaining` is final for this plan).
    pub new_lots: Vec<LotId>,
    /// Existing lots whose `remaining` changed.
    pub touched: BTreeSet<LotId>,
}

/// A credit to the member: cashback (accrual) or a positive manual adjustment.
#[derive(Debug, Clone)]
pub struct Credit {
    /// [`EntryKind::Accrual`] or [`EntryKind::Adjustment`].
    pub kind: EntryKind,
    /// What caused it.
    pub source: Source,
    /// The business that funds it (`None`: the ecosystem).
    pub issuer: Option<BusinessId>,
    /// The purchase it belongs to.
    pub purchase: Option<PurchaseId>,
    /// How much; must be positive.
    pub amount: Bonus,
    /// When the lot becomes spendable.
    pub available_at: OffsetDateTime,
    /// When the lot lapses.
    pub expires_at: OffsetDateTime,
    /// Adjustment reason.
    pub reason: Option<String>,
    /// Adjustment actor.
    pub actor: Option<String>,
}

/// A debit of available bonuses: a redemption or a negative manual adjustment.
#[derive(Debug, Clone)]
pub struct Debit {
    /// [`EntryKind::Redemption`] or [`EntryKind::Adjustment`].
    pub kind: EntryKind,
    /// What caused it.
    pub source: Source,
    /// Where the bonuses are spent: set for redemptions (the settlement's creditor).
    pub redeemer: Option<BusinessId>,
    /// The purchase it belongs to.
    pub purchase: Option<PurchaseId>,
    /// How much; must be positive.
    pub amount: Bonus,
    /// Adjustment reason.
    pub reason: Option<String>,
    /// Adjustment actor.
    pub actor: Option<String>,
}

/// What reversing cashback did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReversalOutcome {
    /// The reversal entry, if anything moved.
    pub entry: Option<EntryId>,
    /// Taken back from the balance (from lots and as new debt).
    pub reversed: Bonus,
    /// The part that could not be taken back and was forgiven (claw-back policy only).
    pub written_off: Bonus,
}

/// A member's balance as the member sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BalanceView {
    /// The ledger total: Σ entries (pending included, debt subtracted).
    pub total: Bonus,
    /// What can be spent now (may be negative only under the debt policy).
    pub available: Bonus,
    /// Bonuses still in their hold.
    pub pending: Bonus,
    /// Pending bonuses by the instant they become available, earliest first.
    pub pending_lots: Vec<Dated>,
    /// Available bonuses that lapse within the horizon, earliest first.
    pub expiring: Vec<Dated>,
    /// Outstanding debt from refunds of already-spent cashback.
    pub debt: Bonus,
}

/// An amount with the instant it refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dated {
    /// The instant (availability or expiry).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The amount.
    pub amount: Bonus,
}

/// One member's open lots and debt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Lots with something left, plus any lot an operation names (a refund's lots).
    pub lots: Vec<Lot>,
    /// Outstanding debt, never negative.
    pub debt: Bonus,
}

impl Account {
    /// The ledger total: Σ remaining − debt.
    pub fn balance(&self) -> Result<Bonus, LedgerError> {
        let lots = Bonus::sum(self.lots.iter().map(|l| l.remaining)).ok_or(LedgerError::Overflow)?;
        lots.checked_sub(self.debt).ok_or(LedgerError::Overflow)
    }

    /// What can be spent at `now`: available lots minus debt.
    pub fn available(&self, now: OffsetDateTime) -> Result<Bonus, LedgerError> {
        let lots = Bonus::sum(self.lots.iter().filter(|l| l.is_available(now)).map(|l| l.remaining))
            .ok_or(LedgerError::Overflow)?;
        lots.checked_sub(self.debt).ok_or(LedgerError::Overflow)
    }

    /// The balance view at `now`, listing what lapses before `now + horizon`.
    pub fn view(&self, now: OffsetDateTime, horizon: time::Duration) -> Result<BalanceView, LedgerError> {
        let mut pending_lots: Vec<Dated> = self
            .lots
            .iter()
            .filter(|l| l.is_pending(now) && !l.remaining.is_zero())
            .map(|l| Dated { at: l.available_at, amount: l.remaining })
            .collect();
        pending_lots.sort_by_key(|d| d.at);
        let mut expiring: Vec<Dated> = self
            .lots
            .iter()
            .filter(|l| l.is_available(now) && !l.remaining.is_zero() && l.expires_at <= now + horizon)
            .map(|l| Dated { at: l.expires_at, amount: l.remaining })
            .collect();
        expiring.sort_by_key(|d| d.at);
        Ok(BalanceView {
            total: self.balance()?,
            available: self.available(now)?,
            pending: Bonus::sum(pending_lots.iter().map(|d| d.amount)).ok_or(LedgerError::Overflow)?,
            pending_lots,
            expiring,
            debt: self.debt,
        })
    }

    fn lot_mut(&mut self, id: LotId) -> Result<&mut Lot, LedgerError> {
        self.lots.iter_mut().find(|l| l.id == id).ok_or(LedgerError::UnknownLot(id))
    }

    /// Moves `amount` (signed) on lot `id`, recording the move.
    fn move_lot(
        &mut self,
        plan: &mut Plan,
        moves: &mut Vec<LotMove>,
        id: LotId,
        amount: Bonus,
        redeemer: Option<&BusinessId>,
    ) -> Result<(), LedgerError> {
        let lot = self.lot_mut(id)?;
        let remaining = lot.remaining.checked_add(amount).ok_or(LedgerError::Overflow)?;
        if remaining.is_negative() || remaining > lot.amount {
            return Err(LedgerError::Overflow);
        }
        lot.remaining = remaining;
        moves.push(LotMove { lot: id, issuer: lot.issuer.clone(), redeemer: redeemer.cloned(), amount });
        if !plan.new_lots.contains(&id) {
            plan.touched.insert(id);
        }
        Ok(())
    }

    /// Takes up to `want` from the lots in `order`, returning what was taken.
    fn take_from(
        &mut self,
        plan: &mut Plan,
        moves: &mut Vec<LotMove>,
        order: &[LotId],
        want: Bonus,
        redeemer: Option<&BusinessId>,
    ) -> Result<Bonus, LedgerError> {
        let mut left = want;
        for &id in order {
            if left.is_zero() {
                break;
            }
            let remaining = self.lot_mut(id)?.remaining;
            let take = remaining.min(left);
            if take.is_zero() {
                continue;
            }
            self.move_lot(plan, moves, id, take.neg(), redeemer)?;
            left = left.checked_sub(take).ok_or(LedgerError::Overflow)?;
        }
        want.checked_sub(left).ok_or(LedgerError::Overflow)
    }

    /// Available lots in spending order: FIFO by expiry.
    fn spending_order(&self, now: OffsetDateTime) -> Vec<LotId> {
        let mut lots: Vec<&Lot> = self.lots.iter().filter(|l| l.is_available(now) && !l.remaining.is_zero()).collect();
        lots.sort_by_key(|l| (l.expires_at, l.available_at, l.id));
        lots.into_iter().map(|l| l.id).collect()
    }

    /// Credits the member: creates a lot (repaying debt first) and an entry. Returns the lot.
    pub fn credit(&mut self, plan: &mut Plan, credit: Credit, ctx: Ctx<'_>) -> Result<LotId, LedgerError> {
        if credit.amount <= Bonus::ZERO {
            return Err(LedgerError::NonPositiveAmount);
        }
        let repay = self.debt.min(credit.amount);
        let lot = Lot {
            id: LotId::generate(ctx.ids),
            issuer: credit.issuer.clone(),
            source: credit.source,
            purchase: credit.purchase,
            amount: credit.amount,
            remaining: Bonus::ZERO,
            available_at: credit.available_at,
            expires_at: credit.expires_at,
        };
        let lot_id = lot.id;
        self.lots.push(lot);
        plan.new_lots.push(lot_id);
        let mut moves = Vec::new();
        let into_lot = credit.amount.checked_sub(repay).ok_or(LedgerError::Overflow)?;
        if !into_lot.is_zero() {
            self.move_lot(plan, &mut moves, lot_id, into_lot, None)?;
        }
        self.debt = self.debt.checked_sub(repay).ok_or(LedgerError::Overflow)?;
        plan.entries.push(Entry {
            id: EntryId::generate(ctx.ids),
            kind: credit.kind,
            amount: credit.amount,
            source: credit.source,
            business: credit.issuer,
            purchase: credit.purchase,
            reverses: None,
            debt_delta: repay.neg(),
            reason: credit.reason,
            actor: credit.actor,
            at: ctx.now,
            moves,
        });
        Ok(lot_id)
    }

    /// Spends available bonuses FIFO by expiry. Refuses (changing nothing) when fewer are
    /// available than asked.
    pub fn debit(&mut self, plan: &mut Plan, debit: Debit, ctx: Ctx<'_>) -> Result<EntryId, LedgerError> {
        if debit.amount <= Bonus::ZERO {
            return Err(LedgerError::NonPositiveAmount);
        }
        let available = self.available(ctx.now)?;
        if available < debit.amount {
            return Err(LedgerError::InsufficientBalance { available, requested: debit.amount });
        }
        let order = self.spending_order(ctx.now);
        let mut moves = Vec::new();
        let taken = self.take_from(plan, &mut moves, &order, debit.amount, debit.redeemer.as_ref())?;
        if taken != debit.amount {
            // Unreachable while available ≥ amount; kept as an error rather than a panic.
            return Err(LedgerError::InsufficientBalance { available, requested: debit.amount });
        }
        let id = EntryId::generate(ctx.ids);
        plan.entries.push(Entry {
            id,
            kind: debit.kind,
            amount: debit.amount.neg(),
            source: debit.source,
            business: debit.redeemer,
            purchase: debit.purchase,
            reverses: None,
            debt_delta: Bonus::ZERO,
            reason: debit.reason,
            actor: debit.actor,
            at: ctx.now,
            moves,
        });
        Ok(id)
    }

    /// Writes an `expiry` entry for every lot that has lapsed at `now` with something left.
    pub fn expire(&mut self, plan: &mut Plan, ctx: Ctx<'_>) -> Result<Vec<EntryId>, LedgerError> {
        let lapsed: Vec<(LotId, Bonus, Option<BusinessId>)> = self
            .lots
            .iter()
            .filter(|l| l.expires_at <= ctx.now && !l.remaining.is_zero())
            .map(|l| (l.id, l.remaining, l.issuer.clone()))
            .collect();
        let mut ids = Vec::with_capacity(lapsed.len());
        for (lot, remaining, issuer) in lapsed {
            let mut moves = Vec::new();
            self.move_lot(plan, &mut moves, lot, remaining.neg(), None)?;
            let id = EntryId::generate(ctx.ids);
            plan.entries.push(Entry {
                id,
                kind: EntryKind::Expiry,
                amount: remaining.neg(),
                source: Source::Expiry,
                business: issuer,
                purchase: None,
                reverses: None,
                debt_delta: Bonus::ZERO,
                reason: None,
                actor: None,
                at: ctx.now,
                moves,
            });
            ids.push(id);
        }
        Ok(ids)
    }

    /// Takes back `amount` of the cashback credited to `lot` by entry `accrual` (a refund).
    /// What is no longer in the lot is handled by `policy`: claw back from other lots (then
    /// written off), or recorded as debt.
    #[allow(clippy::too_many_arguments)]
    pub fn reverse_credit(
        &mut self,
        plan: &mut Plan,
        lot: LotId,
        accrual: EntryId,
        amount: Bonus,
        policy: RefundOfSpent,
        purchase: Option<PurchaseId>,
        ctx: Ctx<'_>,
    ) -> Result<ReversalOutcome, LedgerError> {
        if amount.is_negative() {
            return Err(LedgerError::NonPositiveAmount);
        }
        if amount.is_zero() {
            return Ok(ReversalOutcome::default());
        }
        let issuer = self.lot_mut(lot)?.issuer.clone();
        let mut moves = Vec::new();
        let from_lot = self.take_from(plan, &mut moves, &[lot], amount, None)?;
        let mut shortfall = amount.checked_sub(from_lot).ok_or(LedgerError::Overflow)?;
        let mut debt_delta = Bonus::ZERO;
        let mut written_off = Bonus::ZERO;
        if !shortfall.is_zero() {
            match policy {
                RefundOfSpent::ClawBack => {
                    let mut order = self.spending_order(ctx.now);
                    let mut pending: Vec<&Lot> =
                        self.lots.iter().filter(|l| l.is_pending(ctx.now) && !l.remaining.is_zero()).collect();
                    pending.sort_by_key(|l| (l.available_at, l.expires_at, l.id));
                    order.extend(pending.into_iter().map(|l| l.id));
                    order.retain(|id| *id != lot);
                    let clawed = self.take_from(plan, &mut moves, &order, shortfall, None)?;
                    shortfall = shortfall.checked_sub(clawed).ok_or(LedgerError::Overflow)?;
                    written_off = shortfall;
                }
                RefundOfSpent::Debt => {
                    debt_delta = shortfall;
                    self.debt = self.debt.checked_add(shortfall).ok_or(LedgerError::Overflow)?;
                }
            }
        }
        let reversed = amount.checked_sub(written_off).ok_or(LedgerError::Overflow)?;
        if reversed.is_zero() {
            return Ok(ReversalOutcome { entry: None, reversed, written_off });
        }
        let id = EntryId::generate(ctx.ids);
        plan.entries.push(Entry {
            id,
            kind: EntryKind::Reversal,
            amount: reversed.neg(),
            source: Source::Purchase,
            business: issuer,
            purchase,
            reverses: Some(accrual),
            debt_delta,
            reason: None,
            actor: None,
            at: ctx.now,
            moves,
        });
        Ok(ReversalOutcome { entry: Some(id), reversed, written_off })
    }

    /// Gives back `amount` of what redemption `redemption` spent at `redeemer` (a refund),
    /// returning it to the lots it came from, most recently consumed first. `consumed` lists the
    /// lots with what the redemption still holds of each (net of earlier give-backs), in the order
    /// they were consumed.
    #[allow(clippy::too_many_arguments)]
    pub fn restore_debit(
        &mut self,
        plan: &mut Plan,
        redemption: EntryId,
        consumed: &[(LotId, Bonus)],
        amount: Bonus,
        redeemer: &BusinessId,
        purchase: Option<PurchaseId>,
        ctx: Ctx<'_>,
    ) -> Result<Option<EntryId>, LedgerError> {
        self.give_back(plan, redemption, consumed, amount, Some(redeemer), Source::Purchase, purchase, ctx)
    }

    /// Gives back `amount` of what an ecosystem-side debit (a paid event seat: no redeemer, so no
    /// partner settlement) spent, as [`Account::restore_debit`] does for a purchase's redemption.
    pub fn restore_event_debit(
        &mut self,
        plan: &mut Plan,
        debit: EntryId,
        consumed: &[(LotId, Bonus)],
        amount: Bonus,
        ctx: Ctx<'_>,
    ) -> Result<Option<EntryId>, LedgerError> {
        self.give_back(plan, debit, consumed, amount, None, Source::Event, None, ctx)
    }

    #[allow(clippy::too_many_arguments)]
    fn give_back(
        &mut self,
        plan: &mut Plan,
        redemption: EntryId,
        consumed: &[(LotId, Bonus)],
        amount: Bonus,
        redeemer: Option<&BusinessId>,
        source: Source,
        purchase: Option<PurchaseId>,
        ctx: Ctx<'_>,
    ) -> Result<Option<EntryId>, LedgerError> {
        if amount.is_negative() {
            return Err(LedgerError::NonPositiveAmount);
        }
        if amount.is_zero() {
            return Ok(None);
        }
        let held = Bonus::sum(consumed.iter().map(|(_, b)| *b)).ok_or(LedgerError::Overflow)?;
        if held < amount {
            return Err(LedgerError::Overflow);
        }
        let mut moves = Vec::new();
        let mut left = amount;
        for (lot, holds) in consumed.iter().rev() {
            if left.is_zero() {
                break;
            }
            let give = (*holds).min(left);
            if give <= Bonus::ZERO {
                continue;
            }
            self.move_lot(plan, &mut moves, *lot, give, redeemer)?;
            left = left.checked_sub(give).ok_or(LedgerError::Overflow)?;
        }
        let id = EntryId::generate(ctx.ids);
        plan.entries.push(Entry {
            id,
            kind: EntryKind::Reversal,
            amount,
            source,
            business: redeemer.cloned(),
            purchase,
            reverses: Some(redemption),
            debt_delta: Bonus::ZERO,
            reason: None,
            actor: None,
            at: ctx.now,
            moves,
        });
        Ok(Some(id))
    }
}

/// The most of a purchase of `amount` that may be paid with bonuses. Always rounded down: the cap
/// is a limit, and rounding it up would let a member pay past it.
pub fn redemption_cap(amount: Kopecks, policy: &super::BonusPolicy) -> Bonus {
    Bonus::from(amount.share(policy.max_redeem_share, Rounding::Floor))
}

/// How much of a purchase's cashback and redemption a refund undoes. Proportional and cumulative:
/// after refunds totalling the whole purchase, exactly everything has been undone, whatever the
/// rounding of the partial steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundSplit {
    /// Cashback to take back now.
    pub accrual: Bonus,
    /// Spent bonuses to give back now.
    pub redemption: Bonus,
}

/// Splits a refund of `refund` on a purchase of `amount` with `accrued` cashback and `redeemed`
/// bonuses, after `refunded_before` was already refunded. `None` when the refund would exceed
/// the purchase.
pub fn refund_split(
    amount: Kopecks,
    accrued: Bonus,
    redeemed: Bonus,
    refunded_before: Kopecks,
    refund: Kopecks,
) -> Option<RefundSplit> {
    let after = refunded_before.checked_add(refund)?;
    if after > amount {
        return None;
    }
    let share = |total: Bonus| -> Option<Bonus> {
        let now = total.prorate(after, amount, Rounding::Floor)?;
        let before = total.prorate(refunded_before, amount, Rounding::Floor)?;
        now.checked_sub(before)
    };
    Some(RefundSplit { accrual: share(accrued)?, redemption: share(redeemed)? })
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
