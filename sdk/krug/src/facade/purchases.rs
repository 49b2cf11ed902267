//! Recording purchases and refunding them.

use time::Duration;

use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::error::{Error, Result};
use crate::facade::{Receipt, RecordPurchase, RefundPurchase, RefundReceipt};
use crate::ledger::{Account, Credit, Ctx, Debit, EntryKind, Plan, Source, redemption_cap, refund_split};
use crate::status::{self, SpendStats};
use crate::store::{BudgetEntry, NewPurchase, StoreError};
use crate::types::{EntryId, Kopecks, PurchaseId, TenantId};

/// How far ahead of the server clock a purchase time may be (device clock skew).
const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Longest accepted receipt or refund id.
const MAX_KEY_LEN: usize = 128;

/// The horizon of "expiring soon" in balance views.
pub(crate) const EXPIRING_HORIZON: Duration = Duration::days(30);

fn check_key(field: &'static str, key: &str) -> Result<()> {
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(Error::InvalidInput { field, message: format!("must be 1–{MAX_KEY_LEN} printable characters") });
    }
    Ok(())
}

impl Krug {
    /// Records a purchase: redeems the requested bonuses, accrues cashback on the part paid with
    /// money at the tier the purchase reaches, contributes the tenant's share of the paid part to
    /// the event budget, and returns the receipt — all in one transaction.
    ///
    /// Idempotent by `(business, receipt_id)`: a retry returns the same receipt and writes
    /// nothing; the same receipt id with a different body is [`Error::IdempotencyConflict`].
    pub async fn record_purchase(&self, tenant: &TenantId, cmd: RecordPurchase) -> Result<Receipt> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let business = config.business(&cmd.business).ok_or_else(|| Error::UnknownBusiness(cmd.business.clone()))?;
        if cmd.amount.is_zero() {
            return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
        }
        if cmd.redeem.is_negative() {
            return Err(Error::InvalidAmount {
                field: "redeem",
                source: crate::types::AmountError::Negative(cmd.redeem.get()),
            });
        }
        check_key("receipt_id", &cmd.receipt_id)?;
        let category = cmd.category.clone().unwrap_or_else(|| business.category.clone());
        if !config.businesses.iter().any(|b| b.category == category) {
            return Err(Error::InvalidInput {
                field: "category",
                message: format!("{category} is not a category of this tenant"),
            });
        }
        let now = self.now();
        let at = cmd.at.unwrap_or(now);
        if at > now + MAX_CLOCK_SKEW {
            return Err(Error::InvalidInput { field: "at", message: "must not be in the future".into() });
        }
        let hash = request_hash(&cmd)?;
        let scope = format!("purchase:{}", cmd.business);
        // One retry: a concurrent request with the same key may win the insert; its stored
        // receipt is then replayed (or its different body reported as a conflict).
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_record_purchase(tenant, &cmd, &category, at, &scope, &hash).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_record_purchase(
        &self,
        tenant: &TenantId,
        cmd: &RecordPurchase,
        category: &crate::types::Category,
        at: time::OffsetDateTime,
        scope: &str,
        hash: &str,
    ) -> Result<Receipt> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let policy = &config.bonus;
        let now = self.now();
        let ids = self.inner.ids.as_ref();
        let ctx = Ctx { now, ids };
        let mut tx = self.begin(tenant).await?;
        if let Replay::Done(receipt) = replay::<Receipt>(&mut tx, scope, &cmd.receipt_id, hash).await? {
            return Ok(receipt);
        }
        let stored = tx.lock_account(cmd.member).await.map_err(not_found(Error::MemberNotFound))?;
        let mut account = Account { lots: tx.load_lots(cmd.member, &[]).await?, debt: stored.debt };

        let purchase = PurchaseId::generate(ids);
        let mut plan = Plan::default();
        let cap = redemption_cap(cmd.amount, policy);
        if cmd.redeem > cap {
            return Err(Error::Ledger(crate::ledger::LedgerError::RedeemAboveCap { cap, requested: cmd.redeem }));
        }
        let redemption_entry = if cmd.redeem.is_zero() {
            None
        } else {
            let debit = Debit {
                kind: EntryKind::Redemption,
                source: Source::Purchase,
                redeemer: Some(cmd.business.clone()),
                purchase: Some(purchase),
                amount: cmd.redeem,
                reason: None,
                actor: None,
            };
            Some(account.debit(&mut plan, debit, ctx)?)
        };
        let redeemed_money = cmd.redeem.as_kopecks().ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
        let paid = cmd.amount.checked_sub(redeemed_money).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;

        // The purchase counts toward the tier it earns at (a crossing purchase earns the new rate).
        let window_start = config.tiers.window_start(now);
        let mut stats: SpendStats = tx.spend_stats(cmd.member, window_start).await?;
        if window_start.is_none_or(|start| at >= start) {
            stats.spend =
                stats.spend.checked_add(cmd.amount).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
            stats.categories.insert(category.clone());
        }
        let decision = status::evaluate(&config.tiers, &stats, &stored.held, now);
        let cashback = paid.accrue_at(decision.cashback, policy.rounding);
        let available_at = now + Duration::days(i64::from(policy.hold_days));
        let (accrual_entry, accrual_lot) = if cashback.is_zero() {
            (None, None)
        } else {
            let credit = Credit {
                kind: EntryKind::Accrual,
                source: Source::Purchase,
                issuer: Some(cmd.business.clone()),
                purchase: Some(purchase),
                amount: cashback,
                available_at,
                expires_at: now + Duration::days(i64::from(policy.expiry_days)),
                reason: None,
                actor: None,
            };
            let lot = account.credit(&mut plan, credit, ctx)?;
            (plan.entries.last().map(|e| e.id), Some(lot))
        };
        let contribution = paid.share(config.budget.event_share, policy.rounding);

        tx.insert_purchase(
            &NewPurchase {
                id: purchase,
                member: cmd.member,
                business: cmd.business.clone(),
                receipt_id: cmd.receipt_id.clone(),
                category: category.clone(),
                amount: cmd.amount,
                redeemed: cmd.redeem,
                accrued: cashback,
                contribution,
                accrual_entry,
                accrual_lot,
                redemption_entry,
                at,
            },
            now,
        )
        .await?;
        tx.write_plan(cmd.member, &plan, &account, now).await?;
        if !contribution.is_zero() {
            tx.insert_budget_entry(
                EntryId::generate(ids),
                BudgetEntry {
                    kind: BudgetEntry::CONTRIBUTION,
                    business: &cmd.business,
                    purchase,
                    amount: contribution,
                },
                now,
            )
            .await?;
        }
        tx.update_status(cmd.member, &decision.held).await?;
        let receipt = Receipt {
            purchase,
            member: cmd.member,
            business: cmd.business.clone(),
            category: category.clone(),
            amount: cmd.amount,
            redeemed: cmd.redeem,
            paid,
            cashback,
            cashback_rate: decision.cashback,
            cashback_available_at: available_at,
            tier_before: decision.previous.clone(),
            tier_after: decision.tier.clone(),
            tier_changed: decision.changed,
            progress: decision.progress.clone(),
            budget_contribution: contribution,
            balance: account.view(now, super::purchases::EXPIRING_HORIZON)?,
            recorded_at: now,
        };
        let response = serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.remember(scope, &cmd.receipt_id, hash, &response, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, purchase = %purchase, member = %cmd.member, business = %cmd.business,
            amount = cmd.amount.get(), redeemed = cmd.redeem.get(), cashback = cashback.get(), "purchase recorded");
        Ok(receipt)
    }

    /// Refunds (part of) a purchase: takes back the matching share of its cashback (by the
    /// tenant's policy when already spent), gives back the matching share of the bonuses spent on
    /// it, and reverses the budget contribution — proportionally and cumulatively, so refunds
    /// adding up to the purchase undo exactly everything. Idempotent by `(purchase, refund_id)`.
    pub async fn refund(&self, tenant: &TenantId, cmd: RefundPurchase) -> Result<RefundReceipt> {
        check_key("refund_id", &cmd.refund_id)?;
        if cmd.amount.is_some_and(Kopecks::is_zero) {
            return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
        }
        let hash = request_hash(&cmd)?;
        let scope = format!("refund:{}", cmd.purchase);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_refund(tenant, &cmd, &scope, &hash).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_refund(
        &self,
        tenant: &TenantId,
        cmd: &RefundPurchase,
        scope: &str,
        hash: &str,
    ) -> Result<RefundReceipt> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        if let Replay::Done(receipt) = replay::<RefundReceipt>(&mut tx, scope, &cmd.refund_id, hash).await? {
            return Ok(receipt);
        }
        let p = tx.purchase(cmd.purchase).await.map_err(not_found(Error::PurchaseNotFound))?;
        let stored = tx.lock_account(p.member).await?;
        // Re-read under the account lock: a concurrent refund of the same purchase has committed.
        let p = tx.purchase(p.id).await?;
        let refundable = p.amount.checked_sub(p.refunded).unwrap_or(Kopecks::ZERO);
        let amount = cmd.amount.unwrap_or(refundable);
        if amount > refundable || amount.is_zero() {
            return Err(Error::RefundExceedsPurchase { refundable, requested: amount });
        }
        let split = refund_split(p.amount, p.accrued, p.redeemed, p.refunded, amount)
            .ok_or(Error::RefundExceedsPurchase { refundable, requested: amount })?;
        let holdings = match p.redemption_entry {
            Some(r) => tx.redemption_holdings(r).await?,
            None => Vec::new(),
        };
        let mut extra: Vec<_> = holdings.iter().map(|(lot, _)| *lot).collect();
        extra.extend(p.accrual_lot);
        let mut account = Account { lots: tx.load_lots(p.member, &extra).await?, debt: stored.debt };
        let mut plan = Plan::default();
        let mut outcome = crate::ledger::ReversalOutcome::default();
        if let (Some(lot), Some(entry)) = (p.accrual_lot, p.accrual_entry) {
            outcome = account.reverse_credit(
                &mut plan,
                lot,
                entry,
                split.accrual,
                config.bonus.refund_of_spent,
                Some(p.id),
                ctx,
            )?;
        }
        if let Some(redemption) = p.redemption_entry {
            account.restore_debit(&mut plan, redemption, &holdings, split.redemption, &p.business, Some(p.id), ctx)?;
        }
        let refunded_total =
            p.refunded.checked_add(amount).ok_or(Error::RefundExceedsPurchase { refundable, requested: amount })?;
        let budget_after = p.contribution.prorate(refunded_total, p.amount, crate::types::Rounding::Floor);
        let budget_before = p.contribution.prorate(p.refunded, p.amount, crate::types::Rounding::Floor);
        let budget_reversed = budget_after
            .zip(budget_before)
            .and_then(|(a, b)| a.checked_sub(b))
            .ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;

        tx.set_refunded(p.id, refunded_total).await?;
        tx.write_plan(p.member, &plan, &account, now).await?;
        if !budget_reversed.is_zero() {
            tx.insert_budget_entry(
                EntryId::generate(ctx.ids),
                BudgetEntry {
                    kind: BudgetEntry::REVERSAL,
                    business: &p.business,
                    purchase: p.id,
                    amount: budget_reversed,
                },
                now,
            )
            .await?;
        }
        let stats = tx.spend_stats(p.member, config.tiers.window_start(now)).await?;
        let decision = status::evaluate(&config.tiers, &stats, &stored.held, now);
        tx.update_status(p.member, &decision.held).await?;
        let receipt = RefundReceipt {
            purchase: p.id,
            refund_id: cmd.refund_id.clone(),
            amount,
            refunded_total,
            cashback_reversed: outcome.reversed,
            cashback_written_off: outcome.written_off,
            bonus_returned: split.redemption,
            budget_reversed,
            tier_after: decision.tier,
            balance: account.view(now, EXPIRING_HORIZON)?,
        };
        let response = serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.remember(scope, &cmd.refund_id, hash, &response, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, purchase = %p.id, amount = amount.get(), "purchase refunded");
        Ok(receipt)
    }
}

/// Maps the store's `NotFound` to the caller-facing error for the missing thing.
pub(crate) fn not_found(err: Error) -> impl FnOnce(StoreError) -> Error {
    move |e| match e {
        StoreError::NotFound => err,
        other => Error::Store(other),
    }
}
