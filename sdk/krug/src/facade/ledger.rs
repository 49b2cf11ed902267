//! Balances, history, manual adjustments, expiry, settlement and the event budget.

use std::ops::Range;

use time::{Duration, OffsetDateTime};

use super::purchases::{EXPIRING_HORIZON, not_found};
use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::error::{Error, Result};
use crate::facade::{
    Adjust, AdjustmentReceipt, AuditRecord, BudgetReport, ExpiryReport, HistoryItem, HistoryPage, SettlementLine,
};
use crate::ledger::{Account, BalanceView, Credit, Ctx, Debit, EntryKind, Plan, Source};
use crate::store::StoreError;
use crate::types::{Bonus, EntryId, MemberId, TenantId};

/// Largest history page.
const MAX_PAGE: u32 = 200;

/// Members handled per expiry transaction batch.
const EXPIRY_BATCH: u32 = 500;

impl Krug {
    /// The member's balance: available now, pending (with the dates it becomes available), and
    /// what lapses within 30 days.
    pub async fn balance(&self, tenant: &TenantId, member: MemberId) -> Result<BalanceView> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        let stored = tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let account = Account { lots: tx.load_lots(member, &[]).await?, debt: stored.debt };
        Ok(account.view(now, EXPIRING_HORIZON)?)
    }

    /// The member's ledger entries, newest first, `limit` at a time (at most 200); pass the
    /// previous page's `next` as `before` for the following page.
    pub async fn history(
        &self,
        tenant: &TenantId,
        member: MemberId,
        before: Option<EntryId>,
        limit: u32,
    ) -> Result<HistoryPage> {
        self.tenant(tenant)?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidInput { field: "limit", message: format!("must be 1–{MAX_PAGE}") });
        }
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let rows = tx.history(member, before, limit).await?;
        let next = if rows.len() == limit as usize { rows.last().map(|r| r.id) } else { None };
        let items = rows
            .into_iter()
            .map(|r| HistoryItem {
                entry: r.id,
                kind: r.kind,
                amount: r.amount,
                source: r.source,
                business: r.business,
                purchase: r.purchase,
                reverses: r.reverses,
                at: r.at,
            })
            .collect();
        Ok(HistoryPage { items, next })
    }

    /// A manual adjustment by an operator, with a reason and an actor, recorded in the audit log.
    /// A credit creates a lot available at once; a debit takes available bonuses FIFO and is
    /// refused when there are not enough. Idempotent by `key`.
    pub async fn adjust(&self, tenant: &TenantId, cmd: Adjust) -> Result<AdjustmentReceipt> {
        let t = self.tenant(tenant)?;
        if cmd.amount.is_zero() {
            return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
        }
        for (field, value) in [("reason", &cmd.reason), ("actor", &cmd.actor), ("key", &cmd.key)] {
            if value.trim().is_empty() || value.len() > 500 {
                return Err(Error::InvalidInput { field, message: "must be 1–500 characters".into() });
            }
        }
        if let Some(b) = &cmd.funded_by
            && t.config.business(b).is_none()
        {
            return Err(Error::UnknownBusiness(b.clone()));
        }
        let hash = request_hash(&cmd)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_adjust(tenant, &cmd, &hash).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_adjust(&self, tenant: &TenantId, cmd: &Adjust, hash: &str) -> Result<AdjustmentReceipt> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        if let Replay::Done(receipt) = replay::<AdjustmentReceipt>(&mut tx, "adjustment", &cmd.key, hash).await? {
            return Ok(receipt);
        }
        let stored = tx.lock_account(cmd.member).await.map_err(not_found(Error::MemberNotFound))?;
        let mut account = Account { lots: tx.load_lots(cmd.member, &[]).await?, debt: stored.debt };
        let mut plan = Plan::default();
        if cmd.amount.is_negative() {
            let debit = Debit {
                kind: EntryKind::Adjustment,
                source: Source::Manual,
                redeemer: None,
                purchase: None,
                amount: cmd.amount.neg(),
                reason: Some(cmd.reason.clone()),
                actor: Some(cmd.actor.clone()),
            };
            account.debit(&mut plan, debit, ctx)?;
        } else {
            let credit = Credit {
                kind: EntryKind::Adjustment,
                source: Source::Manual,
                issuer: cmd.funded_by.clone(),
                purchase: None,
                amount: cmd.amount,
                available_at: now,
                expires_at: now + Duration::days(i64::from(t.config.bonus.expiry_days)),
                reason: Some(cmd.reason.clone()),
                actor: Some(cmd.actor.clone()),
            };
            account.credit(&mut plan, credit, ctx)?;
        }
        let entry = plan.entries.last().map(|e| e.id).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
        tx.write_plan(cmd.member, &plan, &account, now).await?;
        let detail =
            serde_json::json!({ "amount": cmd.amount.get(), "reason": cmd.reason, "entry": entry.to_string() });
        tx.audit(
            ctx.ids.next_uuid(),
            &cmd.actor,
            "bonus.adjust",
            &format!("member:{}", cmd.member),
            &detail.to_string(),
            None,
            now,
        )
        .await?;
        let receipt = AdjustmentReceipt { entry, amount: cmd.amount, balance: account.view(now, EXPIRING_HORIZON)? };
        let response = serde_json::to_string(&receipt).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.remember("adjustment", &cmd.key, hash, &response, now).await?;
        tx.commit().await?;
        Ok(receipt)
    }

    /// Writes `expiry` entries for every lapsed lot in the tenant, one member per transaction.
    /// Safe to run at any time and repeatedly: a lot once expired has nothing left to expire.
    pub async fn expire(&self, tenant: &TenantId) -> Result<ExpiryReport> {
        self.tenant(tenant)?;
        let mut report = ExpiryReport::default();
        loop {
            let now = self.now();
            let members = {
                let mut tx = self.read(tenant).await?;
                tx.members_with_lapsed_lots(now, EXPIRY_BATCH).await?
            };
            if members.is_empty() {
                return Ok(report);
            }
            for member in members {
                let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
                let mut tx = self.begin(tenant).await?;
                let stored = tx.lock_account(member).await?;
                let mut account = Account { lots: tx.load_lots(member, &[]).await?, debt: stored.debt };
                let mut plan = Plan::default();
                let entries = account.expire(&mut plan, ctx)?;
                if entries.is_empty() {
                    continue;
                }
                tx.write_plan(member, &plan, &account, now).await?;
                tx.commit().await?;
                let expired = Bonus::sum(plan.entries.iter().map(|e| e.amount.neg()))
                    .ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
                report.members += 1;
                report.entries += entries.len() as u64;
                report.expired =
                    report.expired.checked_add(expired).ok_or(Error::Ledger(crate::ledger::LedgerError::Overflow))?;
            }
        }
    }

    /// The partner-to-partner settlement for a period: for each pair, the bonus issued by one
    /// business and spent at another, net of refunds. Ecosystem-funded credits are not included.
    pub async fn settlement(&self, tenant: &TenantId, period: Range<OffsetDateTime>) -> Result<Vec<SettlementLine>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let rows = tx.settlement(period.start, period.end).await?;
        Ok(rows.into_iter().map(|(from, to, amount)| SettlementLine { from, to, amount }).collect())
    }

    /// The event budget's balance, and each business's contribution in the period.
    pub async fn budget(&self, tenant: &TenantId, period: Range<OffsetDateTime>) -> Result<BudgetReport> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let (balance, contributions) = tx.budget(period.start, period.end).await?;
        Ok(BudgetReport { balance, contributions })
    }

    /// Checks the member's ledger invariants in the store: the account balance equals the sum of
    /// her entries and the sum of her lots minus debt. An `Err` means the store is inconsistent.
    pub async fn verify_ledger(&self, tenant: &TenantId, member: MemberId) -> Result<Bonus> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let stored = tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let (entries, lots) = tx.ledger_sums(member).await?;
        let from_lots = lots.checked_sub(stored.debt);
        if entries != stored.balance || from_lots != Some(stored.balance) {
            return Err(Error::Store(StoreError::Corrupt(format!(
                "ledger of member {member} is inconsistent: balance {}, Σ entries {}, Σ lots − debt {:?}",
                stored.balance.get(),
                entries.get(),
                from_lots.map(Bonus::get)
            ))));
        }
        Ok(stored.balance)
    }

    /// The tenant's audit log, newest first (at most `limit`, up to 200).
    pub async fn audit_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<AuditRecord>> {
        self.tenant(tenant)?;
        if limit == 0 || limit > MAX_PAGE {
            return Err(Error::InvalidInput { field: "limit", message: format!("must be 1–{MAX_PAGE}") });
        }
        let mut tx = self.read(tenant).await?;
        let rows = tx.audit_log(limit).await?;
        Ok(rows
            .into_iter()
            .map(|(actor, action, target, detail, client, at)| AuditRecord {
                actor,
                action,
                target,
                detail,
                client,
                at,
            })
            .collect())
    }
}
