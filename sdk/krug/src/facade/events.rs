//! The events hub through the facade: the event lifecycle (with audit records), registration
//! with a waitlist and paid seats, check-in, and the member's and venue's views.
//!
//! Every registration decision runs under the event's row lock ([`TenantTx::lock_event`]), so
//! concurrent registrations queue and the capacity holds; a paid seat is charged through the
//! ledger in the same transaction (a `Debit` with `Source::Event` and no redeemer, so partner
//! settlement is unaffected) and a refund restores that very debit.

use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::Serialize;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::purchases::not_found;
use super::{Krug, Replay, lost_race, replay, request_hash};
use crate::error::{Error, Result};
use crate::event::{
    self, Attendee, Event, EventError, EventStatus, MyRegistration, Registration, RegistrationDecision,
    RegistrationStatus,
};
use crate::ledger::{Account, Ctx, Debit, EntryKind, Plan, Source};
use crate::status;
use crate::store::{StoreError, TenantTx};
use crate::tenant::TenantConfig;
use crate::types::{Bonus, BusinessId, EventId, MemberId, RegistrationId, TenantId, TierCode};

/// Longest title; descriptions may be up to [`MAX_DESCRIPTION`] characters.
const MAX_TITLE: usize = 200;
const MAX_DESCRIPTION: usize = 4_000;
/// Largest capacity of one event.
const MAX_CAPACITY: u32 = 100_000;
/// How far back the members' list of past events reaches, in days.
const PAST_DAYS: i64 = 365;
/// How long before its start an event's check-in opens.
const CHECK_IN_OPENS: Duration = Duration::hours(3);

/// Who acts on an event: the operator (every event), or staff of a partner business (only the
/// events at its own venue; another venue's event is [`EventError::NotFound`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventActor {
    /// The tenant's operator, named for the audit log (`operator:<id>`).
    Operator(String),
    /// Staff of `business`, named for the audit log.
    Business {
        /// The staff member's business.
        business: BusinessId,
        /// Who, for the audit log.
        actor: String,
    },
}

impl EventActor {
    fn name(&self) -> &str {
        match self {
            EventActor::Operator(a) | EventActor::Business { actor: a, .. } => a,
        }
    }

    /// Refuses (as not found) a business actor on another venue's event.
    fn may_see(&self, event: &Event) -> Result<()> {
        match self {
            EventActor::Business { business, .. } if *business != event.venue => {
                Err(Error::Event(EventError::NotFound))
            }
            _ => Ok(()),
        }
    }
}

/// A new event. Times are local date-times in the tenant's time zone; they are stored as UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewEvent {
    /// The venue: a partner business of the tenant.
    pub venue: BusinessId,
    /// 1–200 characters.
    pub title: String,
    /// Up to 4,000 characters.
    pub description: String,
    /// Starts (local).
    pub starts: PrimitiveDateTime,
    /// Ends (local), after the start.
    pub ends: PrimitiveDateTime,
    /// Seats, 1–100,000.
    pub capacity: u32,
    /// The lowest tier admitted; `None` admits every member. Inner Circle only is the
    /// invitation tier's code.
    pub min_tier: Option<TierCode>,
    /// Price of a seat in bonus kopecks; zero for a free event.
    pub price: Bonus,
    /// Registration opens (local; tiers with early access may register earlier).
    pub registration_opens: PrimitiveDateTime,
    /// Registration closes (local), after it opens and no later than the start.
    pub registration_closes: PrimitiveDateTime,
    /// Until when (local) a cancellation refunds a paid seat; no later than the start.
    pub cancel_until: PrimitiveDateTime,
}

/// A member's registration for an event, idempotent by `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterForEvent {
    /// The event.
    pub event: EventId,
    /// The member.
    pub member: MemberId,
    /// The caller's idempotency key (1–128 printable characters): a retry returns the first
    /// result; the same key for another request is [`Error::IdempotencyConflict`].
    pub key: String,
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<()> {
    let n = value.chars().count();
    if (required && value.trim().is_empty()) || n > max || value.chars().any(|c| c.is_control() && c != '\n') {
        let need = if required { "1" } else { "0" };
        return Err(Error::InvalidInput { field, message: format!("must be {need}–{max} printable characters") });
    }
    Ok(())
}

/// A local date-time in the tenant's zone as a UTC instant; a time skipped by a clock change is
/// refused, an ambiguous one takes the earlier instant.
pub(super) fn local_to_utc(
    config: &TenantConfig,
    field: &'static str,
    at: PrimitiveDateTime,
) -> Result<OffsetDateTime> {
    use time_tz::{OffsetResult, PrimitiveDateTimeExt};
    let Some(tz) = time_tz::timezones::get_by_name(&config.timezone) else {
        return Ok(at.assume_utc());
    };
    let local = match at.assume_timezone(tz) {
        OffsetResult::Some(t) | OffsetResult::Ambiguous(t, _) => t,
        OffsetResult::None => {
            return Err(Error::InvalidInput { field, message: "does not exist in the tenant's time zone".into() });
        }
    };
    Ok(local.to_offset(UtcOffset::UTC))
}

/// Validates a new event against the tenant and `now`, returning it ready to store.
pub(super) fn build_event(
    config: &TenantConfig,
    draft: &NewEvent,
    id: EventId,
    status: EventStatus,
    created_by: &str,
    now: OffsetDateTime,
) -> Result<Event> {
    config.business(&draft.venue).ok_or_else(|| Error::UnknownBusiness(draft.venue.clone()))?;
    text("title", &draft.title, MAX_TITLE, true)?;
    text("description", &draft.description, MAX_DESCRIPTION, false)?;
    if draft.capacity == 0 || draft.capacity > MAX_CAPACITY {
        return Err(Error::InvalidInput { field: "capacity", message: format!("must be 1–{MAX_CAPACITY}") });
    }
    if let Some(tier) = &draft.min_tier
        && config.tiers.tier(tier).is_none()
    {
        return Err(Error::InvalidInput { field: "min_tier", message: format!("{tier} is not a tier of this tenant") });
    }
    if draft.price.is_negative() {
        return Err(Error::InvalidAmount {
            field: "price",
            source: crate::types::AmountError::Negative(draft.price.get()),
        });
    }
    let starts_at = local_to_utc(config, "starts", draft.starts)?;
    let ends_at = local_to_utc(config, "ends", draft.ends)?;
    let opens = local_to_utc(config, "registration_opens", draft.registration_opens)?;
    let closes = local_to_utc(config, "registration_closes", draft.registration_closes)?;
    let cancel_until = local_to_utc(config, "cancel_until", draft.cancel_until)?;
    let order = |field: &'static str, message: &str| Err(Error::InvalidInput { field, message: message.into() });
    if starts_at <= now {
        return order("starts", "must be in the future");
    }
    if ends_at <= starts_at {
        return order("ends", "must be after starts");
    }
    if closes <= opens {
        return order("registration_closes", "must be after registration_opens");
    }
    if closes > starts_at {
        return order("registration_closes", "must not be after starts");
    }
    if cancel_until > starts_at {
        return order("cancel_until", "must not be after starts");
    }
    Ok(Event {
        id,
        venue: draft.venue.clone(),
        title: draft.title.trim().to_owned(),
        description: draft.description.clone(),
        starts_at,
        ends_at,
        capacity: draft.capacity,
        min_tier: draft.min_tier.clone(),
        price: draft.price,
        registration_opens_at: opens,
        registration_closes_at: closes,
        cancel_until,
        status,
        proposal: None,
        created_by: created_by.to_owned(),
        created_at: now,
    })
}

/// A fresh unguessable ticket code: 80 random bits as 20 upper-case hex digits.
fn ticket_code() -> Result<String> {
    let mut bytes = [0u8; 10];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Store(StoreError::Corrupt(format!("no random source for a ticket: {e}"))))?;
    Ok(bytes.iter().map(|b| format!("{b:02X}")).collect())
}

/// The member's effective tier at `now` (locking her account when `lock`).
pub(super) async fn tier_of(
    tx: &mut TenantTx,
    config: &TenantConfig,
    member: MemberId,
    now: OffsetDateTime,
    lock: bool,
) -> Result<Option<TierCode>> {
    let stored = if lock { tx.lock_account(member).await } else { tx.account(member).await }
        .map_err(not_found(Error::MemberNotFound))?;
    let stats = tx.spend_stats(member, config.tiers.window_start(now)).await?;
    Ok(status::evaluate(&config.tiers, &stats, &stored.held, now).tier)
}

fn transition(from: EventStatus, action: &'static str) -> Error {
    Error::Event(EventError::InvalidTransition { from: from.as_str(), action })
}

impl Krug {
    /// Creates an event. The operator's starts as a `draft`; a business's (its owner proposing
    /// an event at its own venue) as `proposed`, waiting for the operator. Audited.
    pub async fn create_event(&self, tenant: &TenantId, actor: &EventActor, draft: NewEvent) -> Result<Event> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let status = match actor {
            EventActor::Operator(_) => EventStatus::Draft,
            EventActor::Business { business, .. } if *business == draft.venue => EventStatus::Proposed,
            EventActor::Business { .. } => {
                let message = "a business proposes events at its own venue only".into();
                return Err(Error::InvalidInput { field: "venue", message });
            }
        };
        let event =
            build_event(&t.config, &draft, EventId::generate(self.inner.ids.as_ref()), status, actor.name(), now)?;
        let mut tx = self.begin(tenant).await?;
        tx.insert_event(&event).await?;
        self.audit_event(&mut tx, actor.name(), "event.create", event.id, event.status, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    async fn audit_event(
        &self,
        tx: &mut TenantTx,
        actor: &str,
        action: &str,
        event: EventId,
        status: EventStatus,
        now: OffsetDateTime,
    ) -> Result<()> {
        let detail = serde_json::json!({ "status": status.as_str() }).to_string();
        tx.audit(self.inner.ids.next_uuid(), actor, action, &format!("event:{event}"), &detail, None, now).await?;
        Ok(())
    }

    /// Publishes a draft, or approves a business's proposed event (operator). Audited.
    pub async fn publish_event(&self, tenant: &TenantId, id: EventId, actor: &str) -> Result<Event> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let mut event = tx.lock_event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        if !matches!(event.status, EventStatus::Draft | EventStatus::Proposed) {
            return Err(transition(event.status, "publish"));
        }
        event.status = EventStatus::Published;
        tx.set_event_status(id, event.status, now).await?;
        self.audit_event(&mut tx, actor, "event.publish", id, event.status, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Cancels an event that has not finished: every seat and waitlist place is cancelled, every
    /// paid seat refunded in full (whatever the deadline: the event is called off), and the
    /// unspent rest of its budget allocation released back to the budget. Audited.
    pub async fn cancel_event(&self, tenant: &TenantId, id: EventId, actor: &str) -> Result<Event> {
        self.tenant(tenant)?;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        let mut event = tx.lock_event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        if matches!(event.status, EventStatus::Cancelled | EventStatus::Finished) {
            return Err(transition(event.status, "cancel"));
        }
        let mut active: Vec<Registration> =
            tx.event_registrations(id).await?.into_iter().filter(|r| r.status.is_active()).collect();
        // Accounts are locked in member order, so two cancellations sharing members cannot deadlock.
        active.sort_by_key(|r| r.member);
        for mut reg in active {
            refund_seat(&mut tx, &mut reg, ctx).await?;
            reg.status = RegistrationStatus::Cancelled;
            tx.update_registration(&reg, now).await?;
        }
        let funds = tx.funds_by_event().await?.into_iter().find(|(e, _)| *e == id).map(|(_, f)| f).unwrap_or_default();
        if funds.remaining() > 0 {
            let entry = crate::store::EventBudgetEntry {
                id: crate::types::EntryId::generate(ctx.ids),
                kind: crate::budget::BudgetKind::Release,
                event: id,
                amount: funds.remaining(),
                note: Some("event cancelled"),
                actor,
            };
            tx.insert_event_budget_entry(entry, now).await?;
        }
        event.status = EventStatus::Cancelled;
        tx.set_event_status(id, event.status, now).await?;
        self.audit_event(&mut tx, actor, "event.cancel", id, event.status, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Finishes a published event after its end: seat holders who were not checked in are
    /// recorded as no-shows. Audited.
    pub async fn finish_event(&self, tenant: &TenantId, id: EventId, actor: &str) -> Result<Event> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let mut event = tx.lock_event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        if event.status != EventStatus::Published {
            return Err(transition(event.status, "finish"));
        }
        if now < event.ends_at {
            return Err(transition(event.status, "finish before its end"));
        }
        for mut reg in tx.event_registrations(id).await? {
            let next = match reg.status {
                RegistrationStatus::Registered => RegistrationStatus::NoShow,
                RegistrationStatus::Waitlisted => RegistrationStatus::Dropped,
                _ => continue,
            };
            reg.status = next;
            tx.update_registration(&reg, now).await?;
        }
        event.status = EventStatus::Finished;
        tx.set_event_status(id, event.status, now).await?;
        self.audit_event(&mut tx, actor, "event.finish", id, event.status, now).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// One event as its manager sees it: the operator any, a business only its venue's.
    pub async fn event(&self, tenant: &TenantId, actor: &EventActor, id: EventId) -> Result<Event> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let event = tx.event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        actor.may_see(&event)?;
        Ok(event)
    }

    /// Every event (all statuses) by start time; a business sees only its venue's.
    pub async fn events(&self, tenant: &TenantId, actor: &EventActor) -> Result<Vec<Event>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let all = tx.events_starting(OffsetDateTime::UNIX_EPOCH, far_future()).await?;
        Ok(all.into_iter().filter(|e| actor.may_see(e).is_ok()).collect())
    }

    /// Published events that have not started and that the member's tier admits.
    pub async fn upcoming_events(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<Event>> {
        let t = self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        let tier = tier_of(&mut tx, &t.config, member, now, false).await?;
        let events = tx.events_starting(now, far_future()).await?;
        Ok(events
            .into_iter()
            .filter(|e| {
                e.status == EventStatus::Published
                    && event::access_allows(&t.config.tiers, e.min_tier.as_ref(), tier.as_ref())
            })
            .collect())
    }

    /// Events of the last year that have ended (published or finished), newest first: what
    /// happened in the community. No attendee is named.
    pub async fn past_events(&self, tenant: &TenantId) -> Result<Vec<Event>> {
        self.tenant(tenant)?;
        let now = self.now();
        let mut tx = self.read(tenant).await?;
        let mut events: Vec<Event> = tx
            .events_starting(now - Duration::days(PAST_DAYS), now)
            .await?
            .into_iter()
            .filter(|e| e.ends_at <= now && matches!(e.status, EventStatus::Published | EventStatus::Finished))
            .collect();
        events.reverse();
        Ok(events)
    }

    /// The member's registrations with their events and tickets, newest first.
    pub async fn my_registrations(&self, tenant: &TenantId, member: MemberId) -> Result<Vec<MyRegistration>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        tx.account(member).await.map_err(not_found(Error::MemberNotFound))?;
        let mut out = Vec::new();
        for registration in tx.member_registrations(member).await? {
            let event = tx.event(registration.event).await?;
            out.push(MyRegistration { registration, event });
        }
        Ok(out)
    }

    /// Registers the member: a seat while any is free (charging a paid event's price through the
    /// ledger), else a place on the waitlist (charged only when promoted). Tier access, the
    /// registration window and the tier's early access apply.
    pub async fn register_for_event(&self, tenant: &TenantId, cmd: RegisterForEvent) -> Result<Registration> {
        super::purchases::check_key("key", &cmd.key)?;
        let hash = request_hash(&cmd)?;
        let scope = format!("event:{}:member:{}", cmd.event, cmd.member);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_register(tenant, &cmd, &scope, &hash).await {
                Err(e) if attempt == 1 && lost_race(&e) => continue,
                other => return other,
            }
        }
    }

    async fn try_register(
        &self,
        tenant: &TenantId,
        cmd: &RegisterForEvent,
        scope: &str,
        hash: &str,
    ) -> Result<Registration> {
        let t = self.tenant(tenant)?;
        let config = &t.config;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        if let Replay::Done(r) = replay::<Registration>(&mut tx, scope, &cmd.key, hash).await? {
            return Ok(r);
        }
        let event = tx.lock_event(cmd.event).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        let tier = tier_of(&mut tx, config, cmd.member, now, true).await?;
        if event.status != EventStatus::Published {
            let reason = format!("the event is {}", event.status.as_str());
            return Err(Error::Event(EventError::RegistrationClosed { reason }));
        }
        if !event::access_allows(&config.tiers, event.min_tier.as_ref(), tier.as_ref()) {
            let need = event.min_tier.as_ref().map_or_else(String::new, ToString::to_string);
            return Err(Error::Event(EventError::AccessDenied {
                reason: format!("the event is for {need} and above"),
            }));
        }
        let opens = event::opens_for(event.registration_opens_at, config.events.early_hours(tier.as_ref()));
        if now < opens || now >= event.registration_closes_at {
            let reason = if now < opens { "not open yet for your tier" } else { "registration has closed" };
            return Err(Error::Event(EventError::RegistrationClosed { reason: reason.into() }));
        }
        if tx.active_registration(event.id, cmd.member).await?.is_some() {
            return Err(Error::Event(EventError::AlreadyRegistered));
        }
        let mut reg = Registration {
            id: RegistrationId::generate(ctx.ids),
            event: event.id,
            member: cmd.member,
            status: RegistrationStatus::Waitlisted,
            ticket: ticket_code()?,
            charged: Bonus::ZERO,
            charge_entry: None,
            created_at: now,
            checked_in_at: None,
        };
        if event::seat_for(event.capacity, tx.seats_taken(event.id).await?) == RegistrationDecision::Seat {
            charge_seat(&mut tx, &event, &mut reg, ctx).await?;
            reg.status = RegistrationStatus::Registered;
        }
        tx.insert_registration(&reg, now).await?;
        let response = serde_json::to_string(&reg).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.remember(scope, &cmd.key, hash, &response, now).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant, event = %event.id, registration = %reg.id, status = reg.status.as_str(),
            "event registration");
        Ok(reg)
    }

    /// Cancels the member's registration. A paid seat is refunded when cancelled by the event's
    /// cancellation deadline, not after; a freed seat goes at once (same transaction) to the
    /// first waitlisted member who can pay for it.
    ///
    /// Two cancellations at different events whose promotions cross over can deadlock on
    /// PostgreSQL; the one the server aborts (nothing of it written) is run once more.
    pub async fn cancel_registration(&self, tenant: &TenantId, id: EventId, member: MemberId) -> Result<Registration> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_cancel_registration(tenant, id, member).await {
                Err(e) if attempt == 1 && matches!(e, Error::Store(crate::store::StoreError::Contention(_))) => {
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn try_cancel_registration(&self, tenant: &TenantId, id: EventId, member: MemberId) -> Result<Registration> {
        self.tenant(tenant)?;
        let now = self.now();
        let ctx = Ctx { now, ids: self.inner.ids.as_ref() };
        let mut tx = self.begin(tenant).await?;
        let event = tx.lock_event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        let mut reg =
            tx.active_registration(id, member).await?.ok_or(Error::Event(EventError::RegistrationNotFound))?;
        if reg.status == RegistrationStatus::Attended || now >= event.starts_at {
            return Err(Error::Event(EventError::InvalidTransition { from: reg.status.as_str(), action: "cancel" }));
        }
        let held_seat = reg.status.holds_seat();
        if now <= event.cancel_until {
            refund_seat(&mut tx, &mut reg, ctx).await?;
        }
        reg.status = RegistrationStatus::Cancelled;
        tx.update_registration(&reg, now).await?;
        if held_seat && event.status == EventStatus::Published {
            promote(&mut tx, &event, ctx).await?;
        }
        tx.commit().await?;
        Ok(reg)
    }

    /// Checks a ticket in at its event: staff of the venue (or the operator) scan the code the
    /// member shows. A ticket works once, at its own event, for a seat holder, from three hours
    /// before the start until the end.
    pub async fn check_in(
        &self,
        tenant: &TenantId,
        actor: &EventActor,
        id: EventId,
        ticket: &str,
    ) -> Result<Registration> {
        self.tenant(tenant)?;
        if ticket.is_empty() || ticket.len() > 64 || !ticket.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::InvalidInput { field: "ticket", message: "must be 1–64 letters and digits".into() });
        }
        let now = self.now();
        let mut tx = self.begin(tenant).await?;
        let event = tx.lock_event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        actor.may_see(&event)?;
        let mut reg = tx
            .registration_by_ticket(&ticket.to_ascii_uppercase())
            .await?
            .ok_or(Error::Event(EventError::RegistrationNotFound))?;
        if reg.event != event.id {
            return Err(Error::Event(EventError::TicketWrongEvent));
        }
        if event.status != EventStatus::Published || now < event.starts_at - CHECK_IN_OPENS || now >= event.ends_at {
            let reason = "check-in runs from three hours before the start until the end".into();
            return Err(Error::Event(EventError::CheckInClosed { reason }));
        }
        match reg.status {
            RegistrationStatus::Attended => return Err(Error::Event(EventError::TicketAlreadyUsed)),
            RegistrationStatus::Registered => {}
            other => {
                let reason = format!("the ticket's registration is {}", other.as_str());
                return Err(Error::Event(EventError::CheckInClosed { reason }));
            }
        }
        reg.status = RegistrationStatus::Attended;
        reg.checked_in_at = Some(now);
        tx.update_registration(&reg, now).await?;
        tx.audit(
            self.inner.ids.next_uuid(),
            actor.name(),
            "event.check_in",
            &format!("event:{id}"),
            &serde_json::json!({ "registration": reg.id.to_string() }).to_string(),
            None,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(reg)
    }

    /// The event's registrations (attendance) — only for the venue's staff and the operator, so
    /// a clinic's attendees never reach another partner.
    pub async fn attendees(&self, tenant: &TenantId, actor: &EventActor, id: EventId) -> Result<Vec<Attendee>> {
        self.tenant(tenant)?;
        let mut tx = self.read(tenant).await?;
        let event = tx.event(id).await.map_err(not_found(Error::Event(EventError::NotFound)))?;
        actor.may_see(&event)?;
        Ok(tx
            .event_registrations(id)
            .await?
            .into_iter()
            .filter(|r| r.status != RegistrationStatus::Cancelled)
            .map(|r| Attendee { member: r.member, status: r.status, checked_in_at: r.checked_in_at })
            .collect())
    }
}

fn far_future() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(365 * 400)
}

/// Charges a paid event's price for `reg`'s seat (nothing for a free event), locking the
/// member's account. Insufficient bonuses refuse with the ledger's error.
async fn charge_seat(tx: &mut TenantTx, event: &Event, reg: &mut Registration, ctx: Ctx<'_>) -> Result<()> {
    if event.price.is_zero() {
        return Ok(());
    }
    let stored = tx.lock_account(reg.member).await.map_err(not_found(Error::MemberNotFound))?;
    let mut account = Account { lots: tx.load_lots(reg.member, &[]).await?, debt: stored.debt };
    let mut plan = Plan::default();
    let debit = Debit {
        kind: EntryKind::Redemption,
        source: Source::Event,
        redeemer: None,
        purchase: None,
        amount: event.price,
        reason: Some(format!("event {}", event.id)),
        actor: None,
    };
    let entry = account.debit(&mut plan, debit, ctx)?;
    tx.write_plan(reg.member, &plan, &account, ctx.now).await?;
    reg.charged = event.price;
    reg.charge_entry = Some(entry);
    Ok(())
}

/// Gives back what `reg` was charged (restoring the very lots the charge consumed) and clears
/// its charge; nothing for an unpaid registration.
async fn refund_seat(tx: &mut TenantTx, reg: &mut Registration, ctx: Ctx<'_>) -> Result<()> {
    let Some(entry) = reg.charge_entry else { return Ok(()) };
    if reg.charged.is_zero() {
        return Ok(());
    }
    let stored = tx.lock_account(reg.member).await.map_err(not_found(Error::MemberNotFound))?;
    let holdings = tx.redemption_holdings(entry).await?;
    let extra: Vec<_> = holdings.iter().map(|(lot, _)| *lot).collect();
    let mut account = Account { lots: tx.load_lots(reg.member, &extra).await?, debt: stored.debt };
    let mut plan = Plan::default();
    account.restore_event_debit(&mut plan, entry, &holdings, reg.charged, ctx)?;
    tx.write_plan(reg.member, &plan, &account, ctx.now).await?;
    reg.charged = Bonus::ZERO;
    Ok(())
}

/// Fills free seats from the waitlist in registration order. A member who cannot pay for the
/// seat when it comes free is dropped from the waitlist (her registration shows `dropped`).
async fn promote(tx: &mut TenantTx, event: &Event, ctx: Ctx<'_>) -> Result<()> {
    let mut taken = tx.seats_taken(event.id).await?;
    for mut reg in tx.event_registrations(event.id).await? {
        if event::seat_for(event.capacity, taken) == RegistrationDecision::Waitlist {
            break;
        }
        if reg.status != RegistrationStatus::Waitlisted {
            continue;
        }
        match charge_seat(tx, event, &mut reg, ctx).await {
            Ok(()) => {
                reg.status = RegistrationStatus::Registered;
                taken = taken.saturating_add(1);
            }
            Err(Error::Ledger(crate::ledger::LedgerError::InsufficientBalance { .. })) => {
                reg.status = RegistrationStatus::Dropped;
            }
            Err(e) => return Err(e),
        }
        tx.update_registration(&reg, ctx.now).await?;
    }
    Ok(())
}
