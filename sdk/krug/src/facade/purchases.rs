//! Recording purchases and refunding them. [`Krug::purchase_in`] is the one purchase pipeline:
//! `record_purchase` and `scan` differ only in how they find the member and what they check first.

use time::{Duration, OffsetDateTime};

use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::error::{Error, Result};
use crate::facade::{Receipt, RecordPurchase, RefundPurchase, RefundReceipt};
use crate::ledger::{Account, Ctx, Plan, refund_split};
use crate::purchase::{
    self, ChainState, CouponLookup, MemberHistory, OfferState, PurchaseCommand, PurchaseCtx, Rules, Snapshot,
};
use crate::status;
use crate::store::{BudgetEntry, RunningRow, StoreError, TenantTx};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, Category, EntryId, Kopecks, TenantId};

/// How far ahead of the server clock a purchase time may be (device clock skew).
const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

/// Longest accepted receipt or refund id.
const MAX_KEY_LEN: usize = 128;

/// The horizon of "expiring soon" in balance views.
pub(crate) use crate::purchase::EXPIRING_HORIZON;

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
        let input = PurchaseCommand {
            member: cmd.member,
            business: &cmd.business,
            amount: cmd.amount,
            redeem: cmd.redeem,
            category,
            receipt_id: &cmd.receipt_id,
            at,
            idempotency: (&scope, &hash),
            coupon: coupon.as_ref(),
            qr_step: None,
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

    async fn try_record_purchase(&self, tenant: &TenantId, input: &PurchaseCommand<'_>) -> Result<Receipt> {
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
        if let Replay::Done(receipt) =
            replay::<Receipt>(&mut tx, input.idempotency.0, input.receipt_id, input.idempotency.1).await?
        {
            return Ok(receipt);
        }
        let receipt = self.purchase_in(&mut tx, &t.config, input, running_offers, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, purchase = %receipt.purchase, member = %receipt.member,
            business = %receipt.business, amount = receipt.amount.get(), redeemed = receipt.redeemed.get(),
            cashback = receipt.cashback.get(), "purchase recorded");
        Ok(receipt)
    }

    /// The purchase pipeline inside the caller's open transaction: loads the snapshot
    /// ([`Krug::purchase_snapshot`]), lets [`purchase::decide`] decide everything, and writes the
    /// decision. `running_offers` are the business's running offers, read by the caller before
    /// it began the transaction on SQLite (`Krug::lookup`): an offer paused or started
    /// concurrently applies as if the purchase had come a moment earlier, while its budget and
    /// limits are still enforced under its row lock. The caller has replayed the key already,
    /// and commits — or drops the transaction, undoing everything, when anything fails.
    pub(super) async fn purchase_in(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        input: &PurchaseCommand<'_>,
        running_offers: Vec<RunningRow>,
        now: OffsetDateTime,
    ) -> Result<Receipt> {
        let sandbox = self.inner.offers.sandbox(&config.offers);
        let snapshot = self.purchase_snapshot(tx, config, &sandbox, input, running_offers, now).await?;
        let ctx = PurchaseCtx { ledger: Ctx { now, ids: self.inner.ids.as_ref() }, codes: &super::coupons::OsCodes };
        let decision = purchase::decide(Rules { config, sandbox: &sandbox }, snapshot, input, ctx)?;
        // Only a refusal of the claim itself means the code was used; another refusal (a lost
        // idempotency race, a drawn coupon code that exists) stays itself and is retried.
        tx.write_decision(&decision, now).await.map_err(|e| match e {
            StoreError::Conflict { constraint } if constraint.contains("qr_uses") => Error::QrAlreadyUsed,
            other => Error::Store(other),
        })?;
        Ok(decision.receipt)
    }

    /// Everything a purchase reads, in one fixed order: the member's account with its open lots
    /// (locked), her medical consent (at a clinic), the coupon under its template's lock, the
    /// status window's spend, the running offers' usage (under their locks when they have a
    /// budget or a daily limit) with her history at the business, her chains with progress, and
    /// the coupon templates offers and chains may issue from.
    async fn purchase_snapshot(
        &self,
        tx: &mut TenantTx,
        config: &TenantConfig,
        sandbox: &crate::offer::Sandbox,
        input: &PurchaseCommand<'_>,
        running: Vec<RunningRow>,
        now: OffsetDateTime,
    ) -> Result<Snapshot> {
        let member = input.member;
        let (stored, lots) = tx.lock_account_with_lots(member).await.map_err(not_found(Error::MemberNotFound))?;
        let medical_consent = config.business(input.business).is_some_and(|b| b.medical)
            && tx.active_consent(member, crate::identity::ConsentKind::MedicalDisclosure).await?.is_some();
        let coupon = match input.coupon {
            None => CouponLookup::None,
            Some(code) => match tx.coupon(code).await? {
                None => CouponLookup::Missing(code.clone()),
                Some(first) => {
                    let template = tx
                        .lock_coupon_template(&first.template)
                        .await?
                        .ok_or_else(|| Error::Store(StoreError::Corrupt("coupon without its template".into())))?;
                    // Read again under the lock: a concurrent use committed since the first read counts.
                    let coupon = tx
                        .coupon(code)
                        .await?
                        .ok_or_else(|| Error::Store(StoreError::Corrupt("coupon vanished under its lock".into())))?;
                    let member_uses = tx.member_template_uses(member, &coupon.template).await?;
                    CouponLookup::Found { coupon, template: Box::new(template), member_uses }
                }
            },
        };
        let stats = tx.spend_stats(member, config.tiers.window_start(now)).await?;

        let mut offers = Vec::with_capacity(running.len());
        let mut scripts = Vec::new();
        for row in running {
            let rules: crate::offer::OfferRules = serde_json::from_str(&row.rules_json)
                .map_err(|e| Error::Store(StoreError::Corrupt(format!("offer rules: {e}"))))?;
            if !rules.in_schedule(now) {
                continue;
            }
            let script = self.inner.offers.ast(sandbox, &tx.tenant, row.id, row.version, &row.script);
            scripts.push(row.script);
            offers.push(OfferState { id: row.id, version: row.version, rules, script, usage: Default::default() });
        }
        let mut history = None;
        if !offers.is_empty() {
            let limited: Vec<_> = offers
                .iter()
                .filter(|o| {
                    let r = &o.rules;
                    r.budget.is_some()
                        || r.per_day_bonus.is_some()
                        || r.per_member_bonus.is_some()
                        || r.per_member_count.is_some()
                })
                .map(|o| o.id)
                .collect();
            let lock = offers.iter().any(|o| o.rules.budget.is_some() || o.rules.per_day_bonus.is_some());
            let day = config.local_date(now).to_string();
            for (id, usage) in tx.offer_usages(&limited, member, &day, lock).await? {
                if let Some(o) = offers.iter_mut().find(|o| o.id == id) {
                    o.usage = usage;
                }
            }
            let script_refs: Vec<&str> = scripts.iter().map(String::as_str).collect();
            history = Some(self.member_history(tx, input, purchase::offers::needs_birthday(&script_refs)).await?);
        }

        let mut chains: Vec<ChainState> = tx
            .active_chains_for(member)
            .await?
            .into_iter()
            .map(|(chain, progress)| ChainState { chain, progress, last_seq: 0, paid: Default::default() })
            .collect();
        if !chains.is_empty() {
            let (seqs, paid) = tx.chain_standing(member).await?;
            for c in &mut chains {
                c.last_seq = seqs.iter().find(|(id, _)| *id == c.chain.id).map_or(0, |(_, s)| *s);
                c.paid = paid.iter().filter(|p| p.0 == c.chain.id).map(|p| (p.1, p.2, p.3)).collect();
            }
        }
        let mut templates = Vec::new();
        if scripts.iter().any(|s| s.contains("issue_coupon")) {
            templates = tx.coupon_templates(Some(input.business)).await?;
        }
        for c in &chains {
            for (_, reward) in c.chain.definition.rewards() {
                if let crate::chain::RewardKind::Coupon { template } = &reward.kind
                    && !templates.iter().any(|t| &t.template.terms.code == template)
                    && let Some(row) = tx.coupon_template(template).await?
                {
                    templates.push(row);
                }
            }
        }
        Ok(Snapshot {
            account: Account { lots, debt: stored.debt },
            held: stored.held,
            medical_consent,
            stats,
            coupon,
            offers,
            history,
            chains,
            templates,
        })
    }

    /// The member's history at the business as offers see it; her birthday is opened only when
    /// a running script mentions it.
    async fn member_history(
        &self,
        tx: &mut TenantTx,
        input: &PurchaseCommand<'_>,
        needs_birthday: bool,
    ) -> Result<MemberHistory> {
        let row = tx.member(input.member).await?;
        let (visits, spend, last) = tx.visits_at(input.member, input.business).await?;
        let corrupt = |e: String| Error::Store(StoreError::Corrupt(e));
        let birthday = match (&row.birthday, needs_birthday) {
            (Some(sealed), true) => {
                let keys = self.hosted(&tx.tenant)?.keys.clone();
                let text = super::members::open(&keys, &tx.tenant, input.member, "birthday", sealed)?;
                let format = time::macros::format_description!("[year]-[month]-[day]");
                Some(time::Date::parse(&text, format).map_err(|e| corrupt(e.to_string()))?)
            }
            _ => None,
        };
        Ok(MemberHistory {
            joined_at: row.created_at,
            visits,
            spend: Kopecks::new(spend.max(0)).map_err(|e| corrupt(e.to_string()))?,
            last_visit: last.map(crate::store::from_ts).transpose()?,
            birthday,
        })
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
