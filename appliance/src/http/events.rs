//! The events hub over HTTP: members find, join and leave events and hold tickets; the venue's
//! staff check tickets in and see attendance; a partner's owner proposes events at its venue;
//! the operator creates, publishes, cancels and finishes them.
//!
//! Walls: a member acts only as herself (from the token); staff see only their own venue's
//! events (another venue's event is 404), so a clinic's attendees never reach another partner.

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};
use time::{OffsetDateTime, PrimitiveDateTime};
use uuid::Uuid;

use super::ApiTags;
use super::dto::{Text, bonus, parse_id};
use crate::auth::{BearerAuth, Principal, Role};
use crate::problem::ApiError;
use crate::state::AppState;

/// Events endpoints.
pub struct EventsApi;

/// An event.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct Event {
    /// The event id.
    pub event_id: Uuid,
    /// The venue (a partner business).
    pub venue: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Starts (UTC).
    pub starts_at: OffsetDateTime,
    /// Ends (UTC).
    pub ends_at: OffsetDateTime,
    /// Seats.
    pub capacity: u32,
    /// The lowest tier admitted; absent: every member.
    pub min_tier: Option<String>,
    /// Price of a seat in bonus kopecks; 0 is free.
    pub price_kopecks: i64,
    /// Registration opens (tiers with early access may register earlier).
    pub registration_opens_at: OffsetDateTime,
    /// Registration closes.
    pub registration_closes_at: OffsetDateTime,
    /// A paid seat cancelled until then is refunded.
    pub cancel_until: OffsetDateTime,
    /// draft, proposed, published, cancelled or finished.
    pub status: String,
    /// The member proposal it came from.
    pub proposal_id: Option<Uuid>,
}

impl Example for Event {
    fn example() -> Event {
        let at = OffsetDateTime::UNIX_EPOCH;
        Event {
            event_id: Uuid::nil(),
            venue: "lisichkino".into(),
            title: "Вечер дегустации".into(),
            description: "Сыры и вина".into(),
            starts_at: at,
            ends_at: at,
            capacity: 20,
            min_tier: Some("vip".into()),
            price_kopecks: 50_000,
            registration_opens_at: at,
            registration_closes_at: at,
            cancel_until: at,
            status: "published".into(),
            proposal_id: None,
        }
    }
}

impl From<krug::event::Event> for Event {
    fn from(e: krug::event::Event) -> Event {
        Event {
            event_id: e.id.as_uuid(),
            venue: e.venue.to_string(),
            title: e.title,
            description: e.description,
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            capacity: e.capacity,
            min_tier: e.min_tier.map(|t| t.to_string()),
            price_kopecks: e.price.get(),
            registration_opens_at: e.registration_opens_at,
            registration_closes_at: e.registration_closes_at,
            cancel_until: e.cancel_until,
            status: e.status.as_str().to_owned(),
            proposal_id: e.proposal.map(|p| p.as_uuid()),
        }
    }
}

/// A new event. Times are local date-times in the tenant's time zone, `YYYY-MM-DDTHH:MM[:SS]`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct NewEventRequest {
    /// The venue's business id (an owner may name only his own business).
    pub venue: Text,
    /// 1–200 characters.
    pub title: Text,
    /// Up to 4,000 characters.
    pub description: Text,
    /// Starts, local time.
    pub starts: Text,
    /// Ends, local time.
    pub ends: Text,
    /// Seats, 1–100,000.
    pub capacity: u32,
    /// The lowest tier admitted (`inner-circle` for Inner Circle only); absent: every member.
    pub min_tier: Option<Text>,
    /// Price of a seat in bonus kopecks; 0 (default) is free.
    pub price_kopecks: Option<i64>,
    /// Registration opens, local time.
    pub registration_opens: Text,
    /// Registration closes, local time (no later than the start).
    pub registration_closes: Text,
    /// A paid seat cancelled until then (local time, no later than the start) is refunded.
    pub cancel_until: Text,
}

impl Example for NewEventRequest {
    fn example() -> Self {
        NewEventRequest {
            venue: "lisichkino".into(),
            title: "Вечер дегустации".into(),
            description: "Сыры и вина от Лисичкино".into(),
            starts: "2030-03-20T19:00".into(),
            ends: "2030-03-20T22:00".into(),
            capacity: 20,
            min_tier: None,
            price_kopecks: Some(50_000),
            registration_opens: "2030-03-01T10:00".into(),
            registration_closes: "2030-03-20T12:00".into(),
            cancel_until: "2030-03-19T12:00".into(),
        }
    }
}

/// Parses a local date-time, `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS`.
fn local(field: &str, value: &Text) -> Result<PrimitiveDateTime, ApiError> {
    let seconds = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    PrimitiveDateTime::parse(value, seconds)
        .or_else(|_| PrimitiveDateTime::parse(value, minutes))
        .map_err(|_| ApiError::invalid(field, "must be a local date-time YYYY-MM-DDTHH:MM[:SS]"))
}

impl NewEventRequest {
    /// The SDK command (the venue's slug checked: an unknown one names nothing, 404).
    pub fn to_sdk(&self) -> Result<krug::NewEvent, ApiError> {
        Ok(krug::NewEvent {
            venue: krug::types::BusinessId::parse(&self.venue).map_err(|_| ApiError::not_found("business"))?,
            title: self.title.0.clone(),
            description: self.description.0.clone(),
            starts: local("starts", &self.starts)?,
            ends: local("ends", &self.ends)?,
            capacity: self.capacity,
            min_tier: self
                .min_tier
                .as_ref()
                .map(|t| krug::types::TierCode::parse(t).map_err(|e| ApiError::invalid("min_tier", e.to_string())))
                .transpose()?,
            price: bonus("price_kopecks", self.price_kopecks.unwrap_or(0))?,
            registration_opens: local("registration_opens", &self.registration_opens)?,
            registration_closes: local("registration_closes", &self.registration_closes)?,
            cancel_until: local("cancel_until", &self.cancel_until)?,
        })
    }
}

/// A registration, idempotent by `key`.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct RegisterRequest {
    /// Your idempotency key (1–128 printable characters): a retry returns the first result.
    pub key: Text,
}

impl Example for RegisterRequest {
    fn example() -> Self {
        RegisterRequest { key: "reg-7f3a".into() }
    }
}

/// A registration and its ticket.
#[derive(Debug, Clone, Object)]
pub struct Registration {
    /// The registration id.
    pub registration_id: Uuid,
    /// The event.
    pub event_id: Uuid,
    /// registered, waitlisted, cancelled, attended, no_show or dropped.
    pub status: String,
    /// The ticket code to show at the door (works once, at this event only).
    pub ticket: String,
    /// Charged for the seat and not refunded, bonus kopecks.
    pub charged_kopecks: i64,
    /// When registered (the waitlist's order).
    pub registered_at: OffsetDateTime,
    /// When checked in.
    pub checked_in_at: Option<OffsetDateTime>,
}

impl From<krug::event::Registration> for Registration {
    fn from(r: krug::event::Registration) -> Registration {
        Registration {
            registration_id: r.id.as_uuid(),
            event_id: r.event.as_uuid(),
            status: r.status.as_str().to_owned(),
            ticket: r.ticket,
            charged_kopecks: r.charged.get(),
            registered_at: r.created_at,
            checked_in_at: r.checked_in_at,
        }
    }
}

/// A registration with its event.
#[derive(Debug, Clone, Object)]
pub struct MyRegistration {
    /// The registration and ticket.
    pub registration: Registration,
    /// The event.
    pub event: Event,
}

/// A ticket shown at the door.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields, example)]
pub struct CheckInRequest {
    /// The ticket code.
    pub ticket: Text,
}

impl Example for CheckInRequest {
    fn example() -> Self {
        CheckInRequest { ticket: "3F9A0C11D2E4B5A69788".into() }
    }
}

/// One attendee line (the venue's staff and the operator only).
#[derive(Debug, Clone, Object)]
pub struct Attendee {
    /// The member.
    pub member_id: Uuid,
    /// registered, waitlisted, attended, no_show or dropped.
    pub status: String,
    /// When checked in.
    pub checked_in_at: Option<OffsetDateTime>,
}

/// The caller as an events actor: the operator, or staff of a business.
fn actor(p: &Principal, roles: &[Role]) -> Result<(krug::types::TenantId, krug::EventActor), ApiError> {
    p.require(roles)?;
    let tenant = p.tenant()?.clone();
    let actor = if p.role == Role::Operator {
        krug::EventActor::Operator(p.actor())
    } else {
        krug::EventActor::Business { business: p.business()?.clone(), actor: p.actor() }
    };
    Ok((tenant, actor))
}

fn member(auth: &BearerAuth) -> Result<(&krug::types::TenantId, krug::types::MemberId), ApiError> {
    let m = auth.0.member()?;
    Ok((auth.0.tenant()?, m))
}

fn operator(auth: &BearerAuth) -> Result<&krug::types::TenantId, ApiError> {
    auth.0.require(&[Role::Operator])?;
    auth.0.tenant()
}

fn events(list: Vec<krug::event::Event>) -> Json<Vec<Event>> {
    Json(list.into_iter().map(Event::from).collect())
}

const VENUE_STAFF: &[Role] = &[Role::Cashier, Role::Manager, Role::Owner, Role::Operator];

#[OpenApi(tag = "ApiTags::Events")]
impl EventsApi {
    /// Published events that have not started and that your tier admits.
    #[oai(path = "/v1/me/events/upcoming", method = "get", operation_id = "me_events_upcoming")]
    async fn upcoming(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Event>>, ApiError> {
        let (tenant, m) = member(&auth)?;
        Ok(events(state.krug.upcoming_events(tenant, m).await?))
    }

    /// Your registrations with their events and tickets, newest first.
    #[oai(path = "/v1/me/events/registrations", method = "get", operation_id = "me_event_registrations")]
    async fn mine(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<MyRegistration>>, ApiError> {
        let (tenant, m) = member(&auth)?;
        let list = state.krug.my_registrations(tenant, m).await?;
        Ok(Json(
            list.into_iter()
                .map(|r| MyRegistration { registration: r.registration.into(), event: r.event.into() })
                .collect(),
        ))
    }

    /// Past events of the community, newest first (no attendee is named).
    #[oai(path = "/v1/events/past", method = "get", operation_id = "events_past")]
    async fn past(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Event>>, ApiError> {
        auth.0.require(&[Role::Member, Role::Cashier, Role::Manager, Role::Owner, Role::Operator])?;
        Ok(events(state.krug.past_events(auth.0.tenant()?).await?))
    }

    /// Register for an event: a seat while any is free (a paid event's price is debited from
    /// your bonuses), else a waitlist place, charged only when a seat comes to you.
    #[oai(path = "/v1/events/:event_id/registrations", method = "post", operation_id = "event_register")]
    async fn register(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
        body: Json<RegisterRequest>,
    ) -> Result<Json<Registration>, ApiError> {
        let (tenant, m) = member(&auth)?;
        let event = parse_id("event", &event_id.0)?;
        let cmd = krug::RegisterForEvent { event, member: m, key: body.key.0.clone() };
        Ok(Json(state.krug.register_for_event(tenant, cmd).await?.into()))
    }

    /// Cancel your registration: a paid seat is refunded until the event's cancellation
    /// deadline; your seat goes to the first waitlisted member.
    #[oai(path = "/v1/me/events/:event_id/registration", method = "delete", operation_id = "event_cancel_registration")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
    ) -> Result<Json<Registration>, ApiError> {
        let (tenant, m) = member(&auth)?;
        let event = parse_id("event", &event_id.0)?;
        Ok(Json(state.krug.cancel_registration(tenant, event, m).await?.into()))
    }

    /// Check a ticket in at your venue's event (once per ticket, at its own event only).
    #[oai(path = "/v1/events/:event_id/check-ins", method = "post", operation_id = "event_check_in")]
    async fn check_in(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
        body: Json<CheckInRequest>,
    ) -> Result<Json<Registration>, ApiError> {
        let (tenant, actor) = actor(&auth.0, VENUE_STAFF)?;
        let event = parse_id("event", &event_id.0)?;
        Ok(Json(state.krug.check_in(&tenant, &actor, event, &body.ticket).await?.into()))
    }

    /// Attendance at your venue's event: registrations and check-ins.
    #[oai(path = "/v1/events/:event_id/attendees", method = "get", operation_id = "event_attendees")]
    async fn attendees(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
    ) -> Result<Json<Vec<Attendee>>, ApiError> {
        let (tenant, actor) = actor(&auth.0, VENUE_STAFF)?;
        let event = parse_id("event", &event_id.0)?;
        let list = state.krug.attendees(&tenant, &actor, event).await?;
        Ok(Json(
            list.into_iter()
                .map(|a| Attendee {
                    member_id: a.member.as_uuid(),
                    status: a.status.as_str().to_owned(),
                    checked_in_at: a.checked_in_at,
                })
                .collect(),
        ))
    }

    /// Propose an event at your own venue (owner); the operator approves it by publishing.
    #[oai(path = "/v1/business/events", method = "post", operation_id = "business_event_propose")]
    async fn propose(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<NewEventRequest>,
    ) -> Result<Json<Event>, ApiError> {
        let (tenant, actor) = actor(&auth.0, &[Role::Owner])?;
        Ok(Json(state.krug.create_event(&tenant, &actor, body.to_sdk()?).await?.into()))
    }

    /// Your venue's events, every status.
    #[oai(path = "/v1/business/events", method = "get", operation_id = "business_events")]
    async fn business_events(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Event>>, ApiError> {
        let (tenant, actor) = actor(&auth.0, &[Role::Owner, Role::Manager])?;
        Ok(events(state.krug.events(&tenant, &actor).await?))
    }

    /// Create an event (a draft until published).
    #[oai(path = "/v1/operator/events", method = "post", operation_id = "operator_event_create")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        body: Json<NewEventRequest>,
    ) -> Result<Json<Event>, ApiError> {
        let (tenant, actor) = actor(&auth.0, &[Role::Operator])?;
        Ok(Json(state.krug.create_event(&tenant, &actor, body.to_sdk()?).await?.into()))
    }

    /// Every event, every status, by start time.
    #[oai(path = "/v1/operator/events", method = "get", operation_id = "operator_events")]
    async fn all(&self, state: Data<&AppState>, auth: BearerAuth) -> Result<Json<Vec<Event>>, ApiError> {
        let (tenant, actor) = actor(&auth.0, &[Role::Operator])?;
        Ok(events(state.krug.events(&tenant, &actor).await?))
    }

    /// Publish a draft, or approve an owner's proposed event; audited.
    #[oai(path = "/v1/operator/events/:event_id/publish", method = "post", operation_id = "operator_event_publish")]
    async fn publish(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
    ) -> Result<Json<Event>, ApiError> {
        transition(&state, &auth, &event_id, Transition::Publish).await
    }

    /// Cancel an event: every paid seat is refunded, the unspent allocation released; audited.
    #[oai(path = "/v1/operator/events/:event_id/cancel", method = "post", operation_id = "operator_event_cancel")]
    async fn cancel_event(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
    ) -> Result<Json<Event>, ApiError> {
        transition(&state, &auth, &event_id, Transition::Cancel).await
    }

    /// Finish an event after its end, recording no-shows; audited.
    #[oai(path = "/v1/operator/events/:event_id/finish", method = "post", operation_id = "operator_event_finish")]
    async fn finish(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        event_id: Path<String>,
    ) -> Result<Json<Event>, ApiError> {
        transition(&state, &auth, &event_id, Transition::Finish).await
    }
}

/// The operator's lifecycle moves.
enum Transition {
    Publish,
    Cancel,
    Finish,
}

async fn transition(
    state: &AppState,
    auth: &BearerAuth,
    event_id: &str,
    t: Transition,
) -> Result<Json<Event>, ApiError> {
    let tenant = operator(auth)?;
    let event = parse_id("event", event_id)?;
    let actor = auth.0.actor();
    let done = match t {
        Transition::Publish => state.krug.publish_event(tenant, event, &actor).await?,
        Transition::Cancel => state.krug.cancel_event(tenant, event, &actor).await?,
        Transition::Finish => state.krug.finish_event(tenant, event, &actor).await?,
    };
    Ok(Json(done.into()))
}
