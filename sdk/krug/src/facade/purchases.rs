//! Recording purchases and refunding them. [`Krug::purchase_in`] is the one purchase pipeline:
//! `record_purchase` and `scan` differ only in how they find the member and what they check first.

use time::{Duration, OffsetDateTime};

use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::error::{Error, Result};
use crate::facade::{Receipt, RecordPurchase, RefundPurchase, RefundReceipt};
use crate::ledger::{Account, Credit, Ctx, Debit, EntryKind, Plan, Source, redemption_cap, refund_split};
use crate::status::{self, SpendStats};
use crate::store::{BudgetEntry, NewPurchase, RunningRow, StoreError, TenantTx};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, Category, EntryId, Kopecks, MemberId, PurchaseId, TenantId};

/// How far ahead of the server clock a purchase time may be (device clock skew).
const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Longest accepted receipt or refund id.
const MAX_KEY_LEN: usize = 128;

/// The horizon of "expiring soon" in balance views.
pub(crate) const EXPIRING_HORIZON: Duration = Duration::days(30);

pub(super) fn check_key(field: &'static str, key: &str) -> Result<()> {
    if key.trim().is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        return Err(Error::InvalidInput { field, message: format!("must be 1–{MAX_KEY_LEN} printable characters") });
    }
    Ok(())
}

/// The idempotency scope of purchases at `business`: record_purchase and scan share it, because a
/// receipt id names one purchase at a business whichever way it was rung up.
pub(super) fn purchase_scope(business: &BusinessId) -> String {
    format!("purchase:{business}")
}

/// Checks what every way of recording a purchase has in common — the business, the amounts, the
/// receipt id, the category — and returns the category it counts under. Nothing is read or
/// written, so a refusal here leaves everything as it was.
pub(super) fn check_purchase(
    config: &TenantConfig,
    business: &BusinessId,
    amount: Kopecks,
    redeem: Bonus,
    receipt_id: &str,
    category: Option<&Category>,
) -> Result<Category> {
    let known = config.business(business).ok_or_else(|| Error::UnknownBusiness(business.clone()))?;
    if amount.is_zero() {
        return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
    }
    if redeem.is_negative() {
        return Err(Error::InvalidAmount {
            field: "redeem",
            source: crate::types::AmountError::Negative(redeem.get()),
        });
    }
    check_key("receipt_id", receipt_id)?;
    let category = category.cloned().unwrap_or_else(|| known.category.clone());
    if !config.businesses.iter().any(|b| b.category == category) {
        return Err(Error::InvalidInput {
            field: "category",
            message: format!("{category} is not a category of this tenant"),
        });
    }
    Ok(category)
}

/// A checked purchase for one member, ready for [`Krug::purchase_in`], with the idempotency
/// record it is stored under.
pub(super) struct PurchaseInput<'a> {
    pub(super) member: MemberId,
    pub(super) business: &'a BusinessId,
    pub(super) amount: Kopecks,
    pub(super) redeem: Bonus,
    pub(super) category: Category,
    pub(super) receipt_id: &'a str,
    pub(super) at: OffsetDateTime,
    /// From [`purchase_scope`].
    pub(super) scope: &'a str,
    /// The request hash of the command that carries the purchase.
    pub(super) hash: &'a str,
    /// The coupon to apply, in normal form.
    pub(super) coupon: Option<&'a crate::coupon::CouponCode>,
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
        let category =
            check_purchase(&t.config, &cmd.business, cmd.amount, cmd.redeem, &cmd.receipt_id, cmd.category.as_ref())?;
        let now = self.now();
        let at = cmd.at.unwrap_or(now);
        if at > now + MAX_CLOCK_SKEW {
            return Err(Error::InvalidInput { field: "at", message: "must not be in the future".into() });
        }
        // The coupon is hashed in normal form: "abcd-efgh" retried as "ABCDEFGH" is the same request.
        let coupon = cmd.coupon.as_deref().map(|c| super::coupons::read_code("coupon", c)).transpose()?;
        let mut cmd = cmd;
        cmd.coupon = coupon.as_ref().map(|c| c.as_str().to_owned());
        let hash = request_hash(&cmd)?;
        let scope = purchase_scope(&cmd.business);
        // One retry: a concurrent request with the same key may win the insert; its stored
        // receipt is then replayed (or its different body reported as a conflict).
        let input = PurchaseInput {
            member: cmd.member,
            business: &cmd.business,
            amount: cmd.amount,
            redeem: cmd.redeem,
            category,
            receipt_id: &cmd.receipt_id,
            at,
            scope: &scope,
            hash: &hash,
            coupon: coupon.as_ref(),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_record_purchase(tenant, &input).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_record_purchase(&self, tenant: &TenantId, input: &PurchaseInput<'_>) -> Result<Receipt> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        // On SQLite beside the writer rather than in its turn (see `Krug::purchase_in`).
        let early = match self.lookup(tenant).await? {
            Some(mut look) => Some(look.running_offers(input.business).await?),
            None => None,
        };
        let mut tx = self.begin(tenant).await?;
        let running_offers = match early {
            Some(offers) => offers,
            None => tx.running_offers(input.business).await?,
        };
        if let Replay::Done(receipt) = replay::<Receipt>(&mut tx, input.scope, input.receipt_id, input.hash).await? {
            return Ok(receipt);
        }
        let receipt = self.purchase_in(&mut tx, &t.config, input, running_offers, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, purchase = %receipt.purchase, member = %receipt.member,
            business = %receipt.business, amount = receipt.amount.get(), redeemed = receipt.redeemed.get(),
            cashback = receipt.cashback.get(), "purchase recorded");
        Ok(receipt)
    }

    /// The purchase pipeline inside the caller's open transaction: locks the member's account,
    /// redeems, accrues at the tier the purchase reaches, contributes to the event budget,
    /// updates the status, and stores the receipt under the input's idempotency key.
    /// `running_offers` are the business's running offers, read by the caller before it began
    /// the transaction (`Krug::lookup`): an offer paused or started concurrently applies as if
    /// the purchase had come a moment earlier, while its budget and limits are still enforced
    /// under its row lock in here. The caller has replayed the key already, and commits — or drops the transaction, undoing everything
    /// this wrote, when it or anything after it fails.
    pub(super) async fn purchase_in(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        input: &PurchaseInput<'_>,
        running_offers: Vec<RunningRow>,
        now: OffsetDateTime,
    ) -> Result<Receipt> {
        let policy = &config.bonus;
        let ids = self.inner.ids.as_ref();
        let ctx = Ctx { now, ids };
        let member = input.member;
        let (stored, lots) = tx.lock_account_with_lots(member).await.map_err(not_found(Error::MemberNotFound))?;
        // Medical secrecy (323-FZ art. 13): a clinic's payment is linked to a member only with her
        // separate medical-disclosure consent; without it the purchase is refused, not recorded.
        if config.business(input.business).is_some_and(|b| b.medical)
            && tx.active_consent(member, crate::identity::ConsentKind::MedicalDisclosure).await?.is_none()
        {
            return Err(Error::MedicalConsentRequired);
        }
        let mut account = Account { lots, debt: stored.debt };
        // The coupon is decided first: its discount lowers what the member is charged, and so
        // the redemption cap, the paid part, tier spend and the budget share (coupon/policy.rs).
        let coupon = self.check_coupon_in(tx, input, now).await?;
        let discount = coupon.as_ref().map_or(Kopecks::ZERO, super::coupons::CouponUse::discount);
        let charged = input.amount.checked_sub(discount).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;

        let purchase = PurchaseId::generate(ids);
        let mut plan = Plan::default();
        let cap = redemption_cap(charged, policy);
        if input.redeem > cap {
            return Err(Error::Ledger(crate::ledger::LedgerError::RedeemAboveCap { cap, requested: input.redeem }));
        }
        let redemption_entry = if input.redeem.is_zero() {
            None
        } else {
            let debit = Debit {
                kind: EntryKind::Redemption,
                source: Source::Purchase,
                redeemer: Some(input.business.clone()),
                purchase: Some(purchase),
                amount: input.redeem,
                reason: None,
                actor: None,
            };
            Some(account.debit(&mut plan, debit, ctx)?)
        };
        let redeemed_money = input.redeem.as_kopecks().ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
        let paid = charged.checked_sub(redeemed_money).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;

        // The purchase counts toward the tier it earns at (a crossing purchase earns the new rate).
        let window_start = config.tiers.window_start(now);
        let mut stats: SpendStats = tx.spend_stats(member, window_start).await?;
        if window_start.is_none_or(|start| input.at >= start) {
            stats.spend =
                stats.spend.checked_add(charged).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
            stats.categories.insert(input.category.clone());
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
                issuer: Some(input.business.clone()),
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
        // The last read of the common path, before any write is queued: the writes then all go
        // out together at the end (store::batch) instead of one round trip each.
        let running_chains = tx.active_chains_for(member).await?;
        let coupon = self.redeem_coupon_in(tx, config, coupon, input, purchase, &mut account, &mut plan, ctx).await?;

        tx.insert_purchase(
            &NewPurchase {
                id: purchase,
                member,
                business: input.business.clone(),
                receipt_id: input.receipt_id.to_owned(),
                category: input.category.clone(),
                amount: charged,
                redeemed: input.redeem,
                accrued: cashback,
                contribution,
                accrual_entry,
                accrual_lot,
                redemption_entry,
                at: input.at,
            },
            now,
        )
        .await?;
        let offer_purchase = super::offer_runs::OfferPurchase {
            purchase,
            member,
            business: input.business,
            category: &input.category,
            amount: charged,
            paid,
            cashback,
            tier: decision.tier.as_ref(),
            categories: &stats.categories,
            at: input.at,
        };
        let offers =
            self.apply_offers_in(tx, config, &offer_purchase, running_offers, &mut account, &mut plan, ctx).await?;
        let chains = self
            .advance_chains_in(tx, config, input, charged, purchase, running_chains, &mut account, &mut plan, ctx)
            .await?;
        tx.write_plan_and_status(member, &plan, &account, Some(&decision.held), now).await?;
        if !contribution.is_zero() {
            tx.insert_budget_entry(
                EntryId::generate(ids),
                BudgetEntry {
                    kind: BudgetEntry::CONTRIBUTION,
                    business: input.business,
                    purchase,
                    amount: contribution,
                },
                now,
            )
            .await?;
        }
        let receipt = Receipt {
            purchase,
            member,
            business: input.business.clone(),
            category: input.category.clone(),
            amount: input.amount,
            redeemed: input.redeem,
            paid,
            cashback,
            cashback_rate: decision.cashback,
            cashback_available_at: available_at,
            tier_before: decision.previous.clone(),
            tier_after: decision.tier.clone(),
            tier_changed: decision.changed,
            progress: decision.progress.clone(),
            budget_contribution: contribution,
            balance: account.view(now, EXPIRING_HORIZON)?,
            recorded_at: now,
            coupon,
            offers,
            chains,
        };
        let response = serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.remember(input.scope, input.receipt_id, input.hash, &response, now).await?;
        Ok(receipt)
    }

    /// Refunds (part of) a purchase: takes back the matching share of its cashback (by the
    /// tenant's policy when already spent), gives back the matching share of the bonuses spent on
    /// it, and reverses the budget contribution — proportionally and cumulatively, so refunds
    /// adding up to the purchase undo exactly everything. Idempotent by `(purchase, refund_id)`.
    pub async fn refund(&self, tenant: &TenantId, cmd: RefundPurchase) -> Result<RefundReceipt> {
        self.refund_guarded(tenant, None, cmd).await
    }

    /// A refund made by staff of `business`: as [`Krug::refund`], but a purchase made at another
    /// business is [`Error::PurchaseNotFound`] — a partner can neither refund nor see another
    /// partner's purchases (nor replay their refunds).
    pub async fn refund_at(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        cmd: RefundPurchase,
    ) -> Result<RefundReceipt> {
        self.refund_guarded(tenant, Some(business), cmd).await
    }

    async fn refund_guarded(
        &self,
        tenant: &TenantId,
        business: Option<&BusinessId>,
        cmd: RefundPurchase,
    ) -> Result<RefundReceipt> {
        check_key("refund_id", &cmd.refund_id)?;
        if cmd.amount.is_some_and(Kopecks::is_zero) {
            return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
        }
        let hash = request_hash(&cmd)?;
        let scope = format!("refund:{}", cmd.purchase);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_refund(tenant, business, &cmd, &scope, &hash).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_refund(
        &self,
        tenant: &TenantId,
        business: Option<&BusinessId>,
        cmd: &RefundPurchase,
        scope: &str,
        hash: &str,
    ) -> Result<RefundReceipt> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        if let Some(business) = business {
            let p = tx.purchase(cmd.purchase).await.map_err(not_found(Error::PurchaseNotFound))?;
            if &p.business != business {
                return Err(Error::PurchaseNotFound);
            }
        }
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
        let coupon = tx.coupon_redemption_of(p.id).await?;
        let mut extra: Vec<_> = holdings.iter().map(|(lot, _)| *lot).collect();
        extra.extend(p.accrual_lot);
        extra.extend(coupon.as_ref().and_then(|c| c.bonus_lot));
        let offer_credits = tx.offer_credits(p.id).await?;
        extra.extend(offer_credits.iter().map(|c| c.2));
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
        let coupon = self
            .refund_coupon_in(
                &mut tx,
                config,
                coupon,
                p.id,
                (p.amount, p.refunded, refunded_total),
                &mut account,
                &mut plan,
                ctx,
            )
            .await?;
        let offer_bonus_reversed = super::offer_runs::reverse_offer_credits(
            &mut account,
            &mut plan,
            &offer_credits,
            (p.id, p.amount),
            p.refunded,
            refunded_total,
            config,
            ctx,
        )?;
        let left = p.amount.checked_sub(refunded_total).unwrap_or(Kopecks::ZERO);
        self.rollback_chains_in(&mut tx, config, p.id, p.member, left, &mut account, &mut plan, ctx).await?;
        let budget_after = p.contribution.prorate(refunded_total, p.amount, crate::types::Rounding::Floor);
        let budget_before = p.contribution.prorate(p.refunded, p.amount, crate::types::Rounding::Floor);
        let budget_reversed = budget_after
            .zip(budget_before)
            .and_then(|(a, b)| a.checked_sub(b))
            .ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;

        tx.set_refunded(p.id, refunded_total).await?;
        // The tier is re-evaluated on the spend net of this refund (read after `set_refunded`) and
        // stored with the balance in one update.
        let stats = tx.spend_stats(p.member, config.tiers.window_start(now)).await?;
        let decision = status::evaluate(&config.tiers, &stats, &stored.held, now);
        tx.write_plan_and_status(p.member, &plan, &account, Some(&decision.held), now).await?;
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
            coupon_bonus_reversed: coupon.bonus_reversed,
            coupon_restored: coupon.restored,
            offer_bonus_reversed,
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
