//! The event budget through the facade: allocations to events (refused above the balance, under
//! the tenant's budget lock), spending out of an allocation, and the reports — the members'
//! summary, a business's contribution statement, the operator's full ledger (also as CSV).

use std::ops::Range;

use serde::Serialize;
use time::OffsetDateTime;

use super::purchases::not_found;
use super::view_types::{rfc3339_utc, row};
use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::budget::{self, BudgetKind, BudgetLine, EventFunds};
use crate::error::{Error, Result};
use crate::event::{EventError, EventStatus};
use crate::store::{EventBudgetEntry, StoreError, TenantTx};
use crate::types::{BusinessId, EntryId, EventId, Kopecks, TenantId};

/// Money moved for an event out of the budget (an allocation) or out of its allocation (a
/// spending), idempotent by `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventFunding {
    /// The event.
    pub event: EventId,
    /// How much; positive.
    pub amount: Kopecks,
    /// What it is for (up to 500 characters).
    pub note: Option<String>,
    /// Who, for the ledger and the audit log.
    pub actor: String,
    /// The caller's idempotency key (1–128 printable characters).
    pub key: String,
}

/// A business's contribution statement for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContributionStatement {
    /// The business.
    pub business: BusinessId,
    /// Σ contributions, kopecks.
    pub contributed: i64,
    /// Σ reversals (refunds), kopecks, as a positive number.
    pub reversed: i64,
    /// contributed − reversed.
    pub net: i64,
    /// The lines, oldest first.
    pub lines: Vec<BudgetLine>,
}

/// One event's funds in the members' summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFundsLine {
    /// The event.
    pub event: EventId,
    /// Its title.
    pub title: String,
    /// Allocated (net of releases) and spent.
    pub funds: EventFunds,
}

/// What members see of the budget: collected, allocated, per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSummary {
    /// Σ contributions net of refunds' reversals, all time, kopecks.
    pub collected: i64,
    /// Σ allocations net of releases, kopecks.
    pub allocated: i64,
    /// Σ spending, kopecks.
    pub spent: i64,
    /// What may still be allocated (collected − allocated).
    pub balance: i64,
    /// Per event with any allocation.
    pub events: Vec<EventFundsLine>,
}

/// The budget ledger as RFC 4180 CSV:
/// `entry,at,kind,credit_kopecks,debit_kopecks,business,purchase,event,note,actor` (credit: into
/// the balance; debit: out of it, or out of an allocation for spending).
pub fn budget_ledger_csv(lines: &[BudgetLine]) -> String {
    let mut out = String::new();
    row(
        &mut out,
        &["entry", "at", "kind", "credit_kopecks", "debit_kopecks", "business", "purchase", "event", "note", "actor"],
    );
    for l in lines {
        let (credit, debit) = if l.amount >= 0 { (l.amount, 0) } else { (0, l.amount.saturating_neg()) };
        row(
            &mut out,
            &[
                &l.entry.to_string(),
                &rfc3339_utc(l.at),
                l.kind.as_str(),
                &credit.to_string(),
                &debit.to_string(),
                l.business.as_ref().map_or("", BusinessId::as_str),
                &l.purchase.map(|p| p.to_string()).unwrap_or_default(),
                &l.event.map(|e| e.to_string()).unwrap_or_default(),
                l.note.as_deref().unwrap_or(""),
                l.actor.as_deref().unwrap_or(""),
            ],
        );
    }
    out
}

fn check_funding(cmd: &EventFunding) -> Result<()> {
    super::purchases::check_key("key", &cmd.key)?;
    if cmd.amount.is_zero() {
        return Err(Error::InvalidAmount { field: "amount", source: crate::types::AmountError::Zero });
    }
    if cmd.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(Error::InvalidInput { field: "note", message: "must be at most 500 characters".into() });
    }
    if cmd.actor.trim().is_empty() {
        return Err(Error::InvalidInput { field: "actor", message: "must name who acts".into() });
    }
    Ok(())
}

impl Krug {
    /// Allocates budget money to an event (operator). Refused with
    /// [`EventError::BudgetInsufficient`] above the balance, with nothing written; concurrent
    /// allocations queue on the tenant's budget lock, so together they never overdraw it.
    pub async fn allocate_to_event(&self, tenant: &TenantId, cmd: EventFunding) -> Result<BudgetLine> {
        self.fund(tenant, cmd, BudgetKind::Allocation).await
    }

    /// Records spending out of an event's allocation (operator); refused with
    /// [`EventError::AllocationExceeded`] above what is allocated and unspent.
    pub async fn spend_from_event(&self, tenant: &TenantId, cmd: EventFunding) -> Result<BudgetLine> {
        self.fund(tenant, cmd, BudgetKind::Spending).await
    }

    async fn fund(&self, tenant: &TenantId, cmd: EventFunding, kind: BudgetKind) -> Result<BudgetLine> {
        self.tenant(tenant)?;
        check_funding(&cmd)?;
        let hash = request_hash(&cmd)?;
        let scope = format!("budget:{}", kind.as_str());
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_fund(tenant, &cmd, kind, &scope, &hash).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_fund(
        &self,
        tenant: &TenantId,
        cmd: &EventFunding,
        kind: BudgetKind,
        scope: &str,
        hash: &str,
    ) -> Result<BudgetLine> {
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        if let Replay::Done(line) = replay::<BudgetLine>(&mut tx, scope, &cmd.key, hash).await? {
            return Ok(line);
        }
        let event = tx.event(cmd.event).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        if matches!(event.status, EventStatus::Cancelled) {
            return Err(Error::Event(EventError::InvalidTransition { from: event.status.as_str(), action: "fund" }));
        }
        let line = if kind == BudgetKind::Allocation {
            self.allocate_in(&mut tx, cmd.event, cmd.amount, cmd.note.as_deref(), &cmd.actor, now).await?
        } else {
            // Spending is decided under the same lock as allocations and other spending.
            tx.lock_budget().await?;
            let funds = tx.funds_by_event().await?.into_iter().find(|(e, _)| *e == cmd.event).map(|(_, f)| f);
            budget::check_spending(funds.unwrap_or_default(), cmd.amount)?;
            self.budget_entry(&mut tx, kind, cmd.event, cmd.amount, cmd.note.as_deref(), &cmd.actor, now).await?
        };
        let response = serde_json::to_string(&line).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.remember(scope, &cmd.key, hash, &response, now).await?;
        let detail =
            serde_json::json!({ "kind": kind.as_str(), "amount": cmd.amount.get(), "entry": line.entry.to_string() });
        let target = format!("event:{}", cmd.event);
        let action = format!("budget.{}", kind.as_str());
        tx.audit(self.inner.ids.next_uuid(), &cmd.actor, &action, &target, &detail.to_string(), None, now).await?;
        tx.commit().await?;
        Ok(line)
    }

    /// An allocation inside the caller's transaction: locks the budget, checks the balance,
    /// appends the entry.
    pub(super) async fn allocate_in(
        &self,
        tx: &mut TenantTx,
        event: EventId,
        amount: Kopecks,
        note: Option<&str>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<BudgetLine> {
        tx.lock_budget().await?;
        budget::check_allocation(tx.budget_balance().await?, amount)?;
        self.budget_entry(tx, BudgetKind::Allocation, event, amount, note, actor, now).await
    }

    #[allow(clippy::too_many_arguments)] // one per column of the entry
    async fn budget_entry(
        &self,
        tx: &mut TenantTx,
        kind: BudgetKind,
        event: EventId,
        amount: Kopecks,
        note: Option<&str>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<BudgetLine> {
        let id = EntryId::generate(self.inner.ids.as_ref());
        // Allocations and spending both leave something: the balance, or the allocation.
        let signed = amount.get().saturating_neg();
        tx.insert_event_budget_entry(EventBudgetEntry { id, kind, event, amount: signed, note, actor }, now).await?;
        Ok(BudgetLine {
            entry: id,
            kind,
            amount: signed,
            business: None,
            purchase: None,
            event: Some(event),
            note: note.map(str::to_owned),
            actor: Some(actor.to_owned()),
            at: now,
        })
    }

    /// The operator's full budget ledger for a period, oldest first (at most 10,000 lines).
    pub async fn budget_ledger(&self, tenant: &TenantId, period: Range<OffsetDateTime>) -> Result<Vec<BudgetLine>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        Ok(tx.budget_lines(period.start, period.end, None).await?)
    }

    /// A business's contribution statement for a period: its contributions and their reversals.
    pub async fn contribution_statement(
        &self,
        tenant: &TenantId,
        business: &BusinessId,
        period: Range<OffsetDateTime>,
    ) -> Result<ContributionStatement> {
        let t = self.tenant(tenant)?;
        t.config.business(business).ok_or_else(|| Error::UnknownBusiness(business.clone()))?;
        let mut tx = self.read(tenant).await?;
        let lines = tx.budget_lines(period.start, period.end, Some(business)).await?;
        let sum = |kind: BudgetKind| {
            lines.iter().filter(|l| l.kind == kind).fold(0i64, |acc, l| acc.saturating_add(l.amount))
        };
        let contributed = sum(BudgetKind::Contribution);
        let reversed = sum(BudgetKind::Reversal).saturating_neg();
        Ok(ContributionStatement {
            business: business.clone(),
            contributed,
            reversed,
            net: contributed.saturating_sub(reversed),
            lines,
        })
    }

    /// The members' view of the budget: collected, allocated and spent, and each funded event.
    pub async fn budget_summary(&self, tenant: &TenantId) -> Result<BudgetSummary> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let balance = tx.budget_balance().await?;
        let funds = tx.funds_by_event().await?;
        let mut events = Vec::with_capacity(funds.len());
        let (mut allocated, mut spent) = (0i64, 0i64);
        for (event, f) in funds {
            allocated = allocated.saturating_add(f.allocated);
            spent = spent.saturating_add(f.spent);
            let title = tx.event(event).await?.title;
            events.push(EventFundsLine { event, title, funds: f });
        }
        Ok(BudgetSummary { collected: balance.saturating_add(allocated), allocated, spent, balance, events })
    }
}
