//! Events, registrations, proposals and votes, and the event budget's allocations and spending.
//!
//! The event row is the lock that guards its capacity and the `budget_locks` row the lock that
//! guards the budget balance: on PostgreSQL both are taken `FOR UPDATE` before anything a
//! decision depends on is read; on SQLite the write transaction already serialises writers.

use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, TenantTx, Tx, from_ts, on, parse, ts};
use crate::budget::{BudgetKind, BudgetLine, EventFunds};
use crate::event::{Event, EventStatus, Proposal, ProposalStatus, Registration, RegistrationStatus};
use crate::types::{
    Bonus, BusinessId, EntryId, EventId, Kopecks, MemberId, ProposalId, PurchaseId, RegistrationId, TierCode,
};

const EVENT_COLUMNS: &str = "event_id, business_id, title, description, starts_at, ends_at, capacity, min_tier, \
     price, registration_opens_at, registration_closes_at, cancel_until, status, proposal_id, created_by, created_at";

type EventTuple = (
    Uuid,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    i64,
    i64,
    i64,
    i64,
    String,
    Option<Uuid>,
    String,
    i64,
);

fn event_from(r: EventTuple) -> Result<Event, StoreError> {
    let (
        id,
        venue,
        title,
        description,
        starts,
        ends,
        capacity,
        min_tier,
        price,
        opens,
        closes,
        cancel,
        status,
        proposal,
        by,
        at,
    ) = r;
    Ok(Event {
        id: EventId::from_uuid(id),
        venue: parse("venue", BusinessId::parse(&venue))?,
        title,
        description,
        starts_at: from_ts(starts)?,
        ends_at: from_ts(ends)?,
        capacity: parse("capacity", u32::try_from(capacity))?,
        min_tier: min_tier.map(|t| parse("min tier", TierCode::parse(&t))).transpose()?,
        price: parse("price", Bonus::new(price))?,
        registration_opens_at: from_ts(opens)?,
        registration_closes_at: from_ts(closes)?,
        cancel_until: from_ts(cancel)?,
        status: EventStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("event status {status}")))?,
        proposal: proposal.map(ProposalId::from_uuid),
        created_by: by,
        created_at: from_ts(at)?,
    })
}

const REGISTRATION_COLUMNS: &str =
    "registration_id, event_id, member_id, status, ticket_code, price, charge_entry_id, created_at, checked_in_at";

type RegistrationTuple = (Uuid, Uuid, Uuid, String, String, i64, Option<Uuid>, i64, Option<i64>);

fn registration_from(r: RegistrationTuple) -> Result<Registration, StoreError> {
    let (id, event, member, status, ticket, price, charge, at, checked_in) = r;
    Ok(Registration {
        id: RegistrationId::from_uuid(id),
        event: EventId::from_uuid(event),
        member: MemberId::from_uuid(member),
        status: RegistrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("registration status {status}")))?,
        ticket,
        charged: parse("charged", Bonus::new(price))?,
        charge_entry: charge.map(EntryId::from_uuid),
        created_at: from_ts(at)?,
        checked_in_at: checked_in.map(from_ts).transpose()?,
    })
}

const PROPOSAL_COLUMNS: &str = "proposal_id, member_id, title, description, estimated_cost, status, reason, \
     voting_opens_at, voting_closes_at, event_id, created_at";

type ProposalTuple =
    (Uuid, Uuid, String, String, i64, String, Option<String>, Option<i64>, Option<i64>, Option<Uuid>, i64);

fn proposal_from(r: ProposalTuple) -> Result<Proposal, StoreError> {
    let (id, member, title, description, cost, status, reason, opens, closes, event, at) = r;
    Ok(Proposal {
        id: ProposalId::from_uuid(id),
        member: MemberId::from_uuid(member),
        title,
        description,
        estimated_cost: parse("estimated cost", Kopecks::new(cost))?,
        status: ProposalStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("proposal status {status}")))?,
        reason,
        voting_opens_at: opens.map(from_ts).transpose()?,
        voting_closes_at: closes.map(from_ts).transpose()?,
        event: event.map(EventId::from_uuid),
        created_at: from_ts(at)?,
    })
}

type BudgetTuple = (Uuid, String, i64, Option<String>, Option<Uuid>, Option<Uuid>, Option<String>, Option<String>, i64);

fn budget_line_from(r: BudgetTuple) -> Result<BudgetLine, StoreError> {
    let (id, kind, amount, business, purchase, event, note, actor, at) = r;
    Ok(BudgetLine {
        entry: EntryId::from_uuid(id),
        kind: BudgetKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("budget kind {kind}")))?,
        amount,
        business: business.map(|b| parse("business", BusinessId::parse(&b))).transpose()?,
        purchase: purchase.map(PurchaseId::from_uuid),
        event: event.map(EventId::from_uuid),
        note,
        actor,
        at: from_ts(at)?,
    })
}

/// One budget movement tied to an event (allocation, release or spending).
pub(crate) struct EventBudgetEntry<'a> {
    pub(crate) id: EntryId,
    pub(crate) kind: BudgetKind,
    pub(crate) event: EventId,
    /// Signed, as stored.
    pub(crate) amount: i64,
    pub(crate) note: Option<&'a str>,
    pub(crate) actor: &'a str,
}

impl TenantTx {
    /// Inserts an event.
    pub(crate) async fn insert_event(&mut self, e: &Event) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO events (tenant_id, event_id, business_id, title, description, starts_at, ends_at, capacity, \
             min_tier, price, registration_opens_at, registration_closes_at, cancel_until, status, proposal_id, \
             created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
        )
        .bind(&tenant)
        .bind(e.id.as_uuid())
        .bind(e.venue.as_str())
        .bind(&e.title)
        .bind(&e.description)
        .bind(ts(e.starts_at))
        .bind(ts(e.ends_at))
        .bind(i64::from(e.capacity))
        .bind(e.min_tier.as_ref().map(TierCode::as_str))
        .bind(e.price.get())
        .bind(ts(e.registration_opens_at))
        .bind(ts(e.registration_closes_at))
        .bind(ts(e.cancel_until))
        .bind(e.status.as_str())
        .bind(e.proposal.map(|p| p.as_uuid()))
        .bind(&e.created_by)
        .bind(ts(e.created_at))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The event, or `NotFound`.
    pub(crate) async fn event(&mut self, id: EventId) -> Result<Event, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql =
            sqlx::AssertSqlSafe(format!("SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND event_id = $2"));
        let row: Option<EventTuple> =
            on!(self, c => sqlx::query_as(sql).bind(&tenant).bind(id.as_uuid()).fetch_optional(c).await)?;
        event_from(row.ok_or(StoreError::NotFound)?)
    }

    /// The event, locked for the rest of the transaction (its capacity and registrations are
    /// decided under this lock), or `NotFound`.
    pub(crate) async fn lock_event(&mut self, id: EventId) -> Result<Event, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let row: Option<EventTuple> = match self.flushed().await? {
            // The SQLite write transaction already holds the database's write lock.
            Tx::Sqlite(t) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND event_id = $2"
                ));
                sqlx::query_as(sql).bind(&tenant).bind(id.as_uuid()).fetch_optional(&mut **t).await?
            }
            Tx::Postgres(t) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND event_id = $2 FOR UPDATE"
                ));
                sqlx::query_as(sql).bind(&tenant).bind(id.as_uuid()).fetch_optional(&mut **t).await?
            }
        };
        event_from(row.ok_or(StoreError::NotFound)?)
    }

    /// Events starting in `[from, to)`, by start time (at most 500).
    pub(crate) async fn events_starting(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<Vec<Event>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND starts_at >= $2 AND starts_at < $3 \
             ORDER BY starts_at, event_id LIMIT 500"
        ));
        let rows: Vec<EventTuple> =
            on!(self, c => sqlx::query_as(sql).bind(&tenant).bind(ts(from)).bind(ts(to)).fetch_all(c).await)?;
        rows.into_iter().map(event_from).collect()
    }

    /// Sets an event's status.
    pub(crate) async fn set_event_status(
        &mut self,
        id: EventId,
        status: EventStatus,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query("UPDATE events SET status = $3, updated_at = $4 WHERE tenant_id = $1 AND event_id = $2")
            .bind(&tenant)
            .bind(id.as_uuid())
            .bind(status.as_str())
            .bind(ts(now))
            .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Seats taken at the event (registered or attended).
    pub(crate) async fn seats_taken(&mut self, event: EventId) -> Result<u64, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let (n,): (i64,) = on!(self, c => sqlx::query_as(
            "SELECT COUNT(*) FROM event_registrations WHERE tenant_id = $1 AND event_id = $2 \
             AND status IN ('registered', 'attended')",
        )
        .bind(&tenant)
        .bind(event.as_uuid())
        .fetch_one(c)
        .await)?;
        parse("seat count", u64::try_from(n))
    }

    /// Inserts a registration.
    pub(crate) async fn insert_registration(
        &mut self,
        r: &Registration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO event_registrations (tenant_id, registration_id, event_id, member_id, status, ticket_code, \
             price, charge_entry_id, created_at, updated_at, checked_in_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&tenant)
        .bind(r.id.as_uuid())
        .bind(r.event.as_uuid())
        .bind(r.member.as_uuid())
        .bind(r.status.as_str())
        .bind(&r.ticket)
        .bind(r.charged.get())
        .bind(r.charge_entry.map(|e| e.as_uuid()))
        .bind(ts(r.created_at))
        .bind(ts(now))
        .bind(r.checked_in_at.map(ts))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Writes a registration's state, charge and check-in back.
    pub(crate) async fn update_registration(
        &mut self,
        r: &Registration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE event_registrations SET status = $3, price = $4, charge_entry_id = $5, checked_in_at = $6, \
             updated_at = $7 WHERE tenant_id = $1 AND registration_id = $2",
        )
        .bind(&tenant)
        .bind(r.id.as_uuid())
        .bind(r.status.as_str())
        .bind(r.charged.get())
        .bind(r.charge_entry.map(|e| e.as_uuid()))
        .bind(r.checked_in_at.map(ts))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The member's active (seat or waitlist) registration for the event, if any.
    pub(crate) async fn active_registration(
        &mut self,
        event: EventId,
        member: MemberId,
    ) -> Result<Option<Registration>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REGISTRATION_COLUMNS} FROM event_registrations WHERE tenant_id = $1 AND event_id = $2 \
             AND member_id = $3 AND status IN ('registered', 'waitlisted', 'attended')"
        ));
        let row: Option<RegistrationTuple> = on!(self, c => sqlx::query_as(sql)
            .bind(&tenant)
            .bind(event.as_uuid())
            .bind(member.as_uuid())
            .fetch_optional(c)
            .await)?;
        row.map(registration_from).transpose()
    }

    /// The registration holding this ticket code, if any.
    pub(crate) async fn registration_by_ticket(&mut self, ticket: &str) -> Result<Option<Registration>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REGISTRATION_COLUMNS} FROM event_registrations WHERE tenant_id = $1 AND ticket_code = $2"
        ));
        let row: Option<RegistrationTuple> =
            on!(self, c => sqlx::query_as(sql).bind(&tenant).bind(ticket).fetch_optional(c).await)?;
        row.map(registration_from).transpose()
    }

    /// Every registration of the event, in registration order (the waitlist's order).
    pub(crate) async fn event_registrations(&mut self, event: EventId) -> Result<Vec<Registration>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REGISTRATION_COLUMNS} FROM event_registrations WHERE tenant_id = $1 AND event_id = $2 \
             ORDER BY created_at, registration_id"
        ));
        let rows: Vec<RegistrationTuple> =
            on!(self, c => sqlx::query_as(sql).bind(&tenant).bind(event.as_uuid()).fetch_all(c).await)?;
        rows.into_iter().map(registration_from).collect()
    }

    /// Every registration of the member, newest first (at most 500).
    pub(crate) async fn member_registrations(&mut self, member: MemberId) -> Result<Vec<Registration>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {REGISTRATION_COLUMNS} FROM event_registrations WHERE tenant_id = $1 AND member_id = $2 \
             ORDER BY created_at DESC, registration_id DESC LIMIT 500"
        ));
        let rows: Vec<RegistrationTuple> =
            on!(self, c => sqlx::query_as(sql).bind(&tenant).bind(member.as_uuid()).fetch_all(c).await)?;
        rows.into_iter().map(registration_from).collect()
    }

    /// Inserts a proposal.
    pub(crate) async fn insert_proposal(&mut self, p: &Proposal) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO event_proposals (tenant_id, proposal_id, member_id, title, description, estimated_cost, \
             status, reason, voting_opens_at, voting_closes_at, event_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        )
        .bind(&tenant)
        .bind(p.id.as_uuid())
        .bind(p.member.as_uuid())
        .bind(&p.title)
        .bind(&p.description)
        .bind(p.estimated_cost.get())
        .bind(p.status.as_str())
        .bind(p.reason.as_deref())
        .bind(p.voting_opens_at.map(ts))
        .bind(p.voting_closes_at.map(ts))
        .bind(p.event.map(|e| e.as_uuid()))
        .bind(ts(p.created_at))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Writes a proposal's moderation and conversion back.
    pub(crate) async fn update_proposal(&mut self, p: &Proposal, now: OffsetDateTime) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "UPDATE event_proposals SET status = $3, reason = $4, voting_opens_at = $5, voting_closes_at = $6, \
             event_id = $7, updated_at = $8 WHERE tenant_id = $1 AND proposal_id = $2",
        )
        .bind(&tenant)
        .bind(p.id.as_uuid())
        .bind(p.status.as_str())
        .bind(p.reason.as_deref())
        .bind(p.voting_opens_at.map(ts))
        .bind(p.voting_closes_at.map(ts))
        .bind(p.event.map(|e| e.as_uuid()))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The proposal, or `NotFound`.
    pub(crate) async fn proposal(&mut self, id: ProposalId) -> Result<Proposal, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM event_proposals WHERE tenant_id = $1 AND proposal_id = $2"
        ));
        let row: Option<ProposalTuple> =
            on!(self, c => sqlx::query_as(sql).bind(&tenant).bind(id.as_uuid()).fetch_optional(c).await)?;
        proposal_from(row.ok_or(StoreError::NotFound)?)
    }

    /// Every proposal, newest first (at most 500).
    pub(crate) async fn proposals(&mut self) -> Result<Vec<Proposal>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {PROPOSAL_COLUMNS} FROM event_proposals WHERE tenant_id = $1 \
             ORDER BY created_at DESC, proposal_id DESC LIMIT 500"
        ));
        let rows: Vec<ProposalTuple> = on!(self, c => sqlx::query_as(sql).bind(&tenant).fetch_all(c).await)?;
        rows.into_iter().map(proposal_from).collect()
    }

    /// Records or replaces the member's vote on the proposal.
    pub(crate) async fn upsert_vote(
        &mut self,
        proposal: ProposalId,
        member: MemberId,
        support: bool,
        tier: &TierCode,
        weight: u32,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO proposal_votes (tenant_id, proposal_id, member_id, support, tier, weight, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (tenant_id, proposal_id, member_id) DO UPDATE SET support = excluded.support, \
             tier = excluded.tier, weight = excluded.weight, updated_at = excluded.updated_at",
        )
        .bind(&tenant)
        .bind(proposal.as_uuid())
        .bind(member.as_uuid())
        .bind(i64::from(support))
        .bind(tier.as_str())
        .bind(i64::from(weight))
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// The proposal's votes as `(support, weight)`.
    pub(crate) async fn votes(&mut self, proposal: ProposalId) -> Result<Vec<(bool, u32)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(i64, i64)> = on!(self, c => sqlx::query_as(
            "SELECT support, weight FROM proposal_votes WHERE tenant_id = $1 AND proposal_id = $2",
        )
        .bind(&tenant)
        .bind(proposal.as_uuid())
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(|(s, w)| Ok((s != 0, parse("vote weight", u32::try_from(w))?))).collect()
    }

    /// Locks the tenant's event budget for the rest of the transaction (allocations queue).
    pub(crate) async fn lock_budget(&mut self) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query("INSERT INTO budget_locks (tenant_id) VALUES ($1) ON CONFLICT (tenant_id) DO NOTHING")
            .bind(&tenant)
            .execute(c).await.map(|_| ()))?;
        if let Tx::Postgres(t) = self.flushed().await? {
            sqlx::query("SELECT tenant_id FROM budget_locks WHERE tenant_id = $1 FOR UPDATE")
                .bind(&tenant)
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// The budget's balance: every entry except spending (which draws on an allocation).
    pub(crate) async fn budget_balance(&mut self) -> Result<i64, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let (total,): (i64,) = on!(self, c => sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM budget_entries \
             WHERE tenant_id = $1 AND kind <> 'spending'",
        )
        .bind(&tenant)
        .fetch_one(c)
        .await)?;
        Ok(total)
    }

    /// Appends an allocation, release or spending for an event.
    pub(crate) async fn insert_event_budget_entry(
        &mut self,
        e: EventBudgetEntry<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let tenant = self.tenant_str().to_owned();
        on!(self, c => sqlx::query(
            "INSERT INTO budget_entries (tenant_id, entry_id, kind, event_id, amount, note, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&tenant)
        .bind(e.id.as_uuid())
        .bind(e.kind.as_str())
        .bind(e.event.as_uuid())
        .bind(e.amount)
        .bind(e.note)
        .bind(e.actor)
        .bind(ts(now))
        .execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Allocated (net of releases) and spent, per event that has any.
    pub(crate) async fn funds_by_event(&mut self) -> Result<Vec<(EventId, EventFunds)>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<(Uuid, String, i64)> = on!(self, c => sqlx::query_as(
            "SELECT event_id, kind, CAST(SUM(amount) AS BIGINT) FROM budget_entries \
             WHERE tenant_id = $1 AND event_id IS NOT NULL GROUP BY event_id, kind ORDER BY event_id",
        )
        .bind(&tenant)
        .fetch_all(c)
        .await)?;
        let mut out: Vec<(EventId, EventFunds)> = Vec::new();
        for (event, kind, sum) in rows {
            let event = EventId::from_uuid(event);
            let idx = match out.iter().position(|(e, _)| *e == event) {
                Some(i) => i,
                None => {
                    out.push((event, EventFunds::default()));
                    out.len() - 1
                }
            };
            let Some((_, funds)) = out.get_mut(idx) else { continue };
            match BudgetKind::parse(&kind) {
                // Allocations are stored negative (they leave the balance), releases positive.
                Some(BudgetKind::Allocation | BudgetKind::Release) => {
                    funds.allocated = funds.allocated.saturating_sub(sum)
                }
                Some(BudgetKind::Spending) => funds.spent = funds.spent.saturating_sub(sum),
                _ => return Err(StoreError::Corrupt(format!("budget kind {kind} on an event"))),
            }
        }
        Ok(out)
    }

    /// Budget ledger lines in `[from, to)`, oldest first; only `business`'s when given (its
    /// contribution statement). At most 10 000 lines.
    pub(crate) async fn budget_lines(
        &mut self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        business: Option<&BusinessId>,
    ) -> Result<Vec<BudgetLine>, StoreError> {
        let tenant = self.tenant_str().to_owned();
        let rows: Vec<BudgetTuple> = on!(self, c => sqlx::query_as(
            "SELECT entry_id, kind, amount, business_id, purchase_id, event_id, note, actor, created_at \
             FROM budget_entries WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
             AND ($4 = '' OR business_id = $4) ORDER BY created_at, entry_id LIMIT 10000",
        )
        .bind(&tenant)
        .bind(ts(from))
        .bind(ts(to))
        .bind(business.map_or("", BusinessId::as_str))
        .fetch_all(c)
        .await)?;
        rows.into_iter().map(budget_line_from).collect()
    }
}
