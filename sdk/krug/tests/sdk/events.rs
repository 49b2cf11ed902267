//! The events hub on both stores: lifecycle and permissions, tier and early access, capacity
//! under concurrency, the waitlist with paid seats, check-in, tier-weighted voting, and the event
//! budget's arithmetic.

use krug::event::{EventStatus, RegistrationStatus};
use krug::types::{EventId, Kopecks, MemberId, TierCode};
use krug::{EventActor, EventFunding, Moderation, NewEvent, NewProposal, RefundPurchase, RegisterForEvent};
use krug_testkit::backend_test;
use time::macros::datetime;

use crate::common::*;

fn operator() -> EventActor {
    EventActor::Operator("operator:test".into())
}

fn staff_of(business: &str) -> EventActor {
    EventActor::Business { business: biz(business), actor: format!("owner:{business}") }
}

/// A free event at `venue` for 10, Friday 20 March 2026 19:00–22:00 Moscow time; registration
/// open since 2 March 10:00 (before the test clock's 09:00 UTC = 12:00 Moscow).
fn draft(venue: &str) -> NewEvent {
    NewEvent {
        venue: biz(venue),
        title: "Вечер дегустации".into(),
        description: "Сыры и вина от Лисичкино".into(),
        starts: datetime!(2026-03-20 19:00),
        ends: datetime!(2026-03-20 22:00),
        capacity: 10,
        min_tier: None,
        price: bonus(0),
        registration_opens: datetime!(2026-03-02 10:00),
        registration_closes: datetime!(2026-03-20 12:00),
        cancel_until: datetime!(2026-03-19 12:00),
    }
}

async fn published(env: &Env, draft: NewEvent) -> EventId {
    let event = env.krug.create_event(&env.tenant, &operator(), draft).await.unwrap();
    env.krug.publish_event(&env.tenant, event.id, "operator:test").await.unwrap();
    event.id
}

fn reg(event: EventId, member: MemberId, key: &str) -> RegisterForEvent {
    RegisterForEvent { event, member, key: key.into() }
}

/// A member with an Insider tier (one purchase).
async fn insider(env: &Env, n: u32) -> MemberId {
    let m = env.member(n).await;
    env.buy(m, "lisichkino", 1_000, &format!("I-{n}")).await;
    m
}

/// A VIP: 30,000 ₽ over three categories.
async fn vip(env: &Env, n: u32) -> MemberId {
    let m = env.member(n).await;
    for (i, b) in ["skinerica", "lisichkino", "mindal"].iter().enumerate() {
        env.buy(m, b, 10_000, &format!("V-{n}-{i}")).await;
    }
    m
}

/// Credits `amount` bonus kopecks, available now, funded by a partner.
async fn fund(env: &Env, member: MemberId, amount: i64) {
    let adjust = krug::Adjust {
        member,
        amount: bonus(amount),
        reason: "test funds".into(),
        actor: "operator:test".into(),
        funded_by: Some(biz("lisichkino")),
        key: format!("fund-{member}-{amount}"),
    };
    env.krug.adjust(&env.tenant, adjust).await.unwrap();
}

fn code(e: krug::Error) -> &'static str {
    e.code()
}

backend_test!(
    async fn event_lifecycle_runs_draft_to_finished_with_no_shows_and_audit_records(db: TestDb) {
        let env = env(db).await;
        let (anna, olga) = (env.member(1).await, env.member(2).await);
        let event = env.krug.create_event(&env.tenant, &operator(), draft("lisichkino")).await.unwrap();
        assert_eq!(event.status, EventStatus::Draft);
        assert_eq!(event.starts_at, datetime!(2026-03-20 16:00 UTC), "19:00 Moscow is 16:00 UTC");
        let err = env.krug.register_for_event(&env.tenant, reg(event.id, anna, "k1")).await.unwrap_err();
        assert_eq!(code(err), "registration_closed", "a draft takes no registrations");
        assert!(env.krug.upcoming_events(&env.tenant, anna).await.unwrap().is_empty());

        env.krug.publish_event(&env.tenant, event.id, "operator:test").await.unwrap();
        let err = env.krug.publish_event(&env.tenant, event.id, "operator:test").await.unwrap_err();
        assert_eq!(code(err), "event_invalid_transition");
        assert_eq!(env.krug.upcoming_events(&env.tenant, anna).await.unwrap().len(), 1);
        let a = env.krug.register_for_event(&env.tenant, reg(event.id, anna, "k1")).await.unwrap();
        let again = env.krug.register_for_event(&env.tenant, reg(event.id, anna, "k1")).await.unwrap();
        assert_eq!(a, again, "the same key replays the registration");
        let err = env.krug.register_for_event(&env.tenant, reg(event.id, anna, "k2")).await.unwrap_err();
        assert_eq!(code(err), "already_registered");
        env.krug.register_for_event(&env.tenant, reg(event.id, olga, "k1")).await.unwrap();

        env.clock.set(datetime!(2026-03-20 16:30 UTC));
        env.krug.check_in(&env.tenant, &staff_of("lisichkino"), event.id, &a.ticket).await.unwrap();
        let err = env.krug.finish_event(&env.tenant, event.id, "operator:test").await.unwrap_err();
        assert_eq!(code(err), "event_invalid_transition", "not before its end");
        env.clock.set(datetime!(2026-03-20 19:00 UTC));
        let finished = env.krug.finish_event(&env.tenant, event.id, "operator:test").await.unwrap();
        assert_eq!(finished.status, EventStatus::Finished);
        let statuses: Vec<_> = env
            .krug
            .attendees(&env.tenant, &operator(), event.id)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.member, a.status))
            .collect();
        assert_eq!(statuses, [(anna, RegistrationStatus::Attended), (olga, RegistrationStatus::NoShow)]);
        assert_eq!(env.krug.past_events(&env.tenant).await.unwrap().len(), 1);
        let mine = env.krug.my_registrations(&env.tenant, olga).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].registration.status, RegistrationStatus::NoShow);

        let actions: Vec<String> =
            env.krug.audit_log(&env.tenant, 50).await.unwrap().into_iter().map(|r| r.action).collect();
        for action in ["event.create", "event.publish", "event.check_in", "event.finish"] {
            assert!(actions.iter().any(|a| a == action), "{action} audited: {actions:?}");
        }
    }
);

backend_test!(
    async fn an_owner_proposes_only_at_his_venue_and_other_partners_cannot_see_the_event(db: TestDb) {
        let env = env(db).await;
        let owner = staff_of("stim-center");
        let err = env.krug.create_event(&env.tenant, &owner, draft("lisichkino")).await.unwrap_err();
        assert_eq!(code(err), "invalid_input", "only at his own venue");
        let event = env.krug.create_event(&env.tenant, &owner, draft("stim-center")).await.unwrap();
        assert_eq!(event.status, EventStatus::Proposed);
        let anna = env.member(1).await;
        assert!(env.krug.upcoming_events(&env.tenant, anna).await.unwrap().is_empty(), "not before approval");
        env.krug.publish_event(&env.tenant, event.id, "operator:test").await.unwrap();
        let r = env.krug.register_for_event(&env.tenant, reg(event.id, anna, "k")).await.unwrap();

        // A clinic's attendees reach its own staff and the operator only.
        assert_eq!(env.krug.attendees(&env.tenant, &owner, event.id).await.unwrap().len(), 1);
        assert_eq!(env.krug.attendees(&env.tenant, &operator(), event.id).await.unwrap().len(), 1);
        let other = staff_of("mindal");
        let err = env.krug.attendees(&env.tenant, &other, event.id).await.unwrap_err();
        assert_eq!(code(err), "event_not_found");
        assert_eq!(code(env.krug.event(&env.tenant, &other, event.id).await.unwrap_err()), "event_not_found");
        assert!(env.krug.events(&env.tenant, &other).await.unwrap().is_empty());
        env.clock.set(datetime!(2026-03-20 16:30 UTC));
        let err = env.krug.check_in(&env.tenant, &other, event.id, &r.ticket).await.unwrap_err();
        assert_eq!(code(err), "event_not_found");
        // Another tenant does not see it at all.
        let err = env.krug.event(&env.other, &operator(), event.id).await.unwrap_err();
        assert_eq!(code(err), "event_not_found");
    }
);

backend_test!(
    async fn tier_access_and_early_access_windows_follow_the_members_tier(db: TestDb) {
        let env = env(db).await;
        let (ins, v) = (insider(&env, 1).await, vip(&env, 2).await);
        let ic = env.member(3).await;
        env.krug.invite(&env.tenant, ic, &TierCode::parse("inner-circle").unwrap(), "operator:test").await.unwrap();

        let vip_only =
            published(&env, NewEvent { min_tier: Some(TierCode::parse("vip").unwrap()), ..draft("mindal") }).await;
        let inner =
            published(&env, NewEvent { min_tier: Some(TierCode::parse("inner-circle").unwrap()), ..draft("mindal") })
                .await;
        let upcoming = |m| {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            async move { krug.upcoming_events(&tenant, m).await.unwrap().into_iter().map(|e| e.id).collect::<Vec<_>>() }
        };
        assert!(upcoming(ins).await.is_empty());
        assert_eq!(upcoming(v).await, [vip_only]);
        assert_eq!(upcoming(ic).await.len(), 2, "inner circle ranks above every earnable tier");
        let err = env.krug.register_for_event(&env.tenant, reg(vip_only, ins, "k")).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("event_access_denied", 409));
        let err = env.krug.register_for_event(&env.tenant, reg(inner, v, "k")).await.unwrap_err();
        assert_eq!(code(err), "event_access_denied");
        env.krug.register_for_event(&env.tenant, reg(inner, ic, "k")).await.unwrap();

        // Registration opens 10 March 12:00 Moscow (09:00 UTC): VIP 24 h earlier, Inner Circle 72 h.
        let later =
            published(&env, NewEvent { registration_opens: datetime!(2026-03-10 12:00), ..draft("lisichkino") }).await;
        env.clock.set(datetime!(2026-03-07 08:59 UTC));
        let err = env.krug.register_for_event(&env.tenant, reg(later, ic, "a")).await.unwrap_err();
        assert_eq!(code(err), "registration_closed");
        env.clock.set(datetime!(2026-03-07 09:00 UTC));
        env.krug.register_for_event(&env.tenant, reg(later, ic, "a")).await.unwrap();
        let err = env.krug.register_for_event(&env.tenant, reg(later, v, "a")).await.unwrap_err();
        assert_eq!(code(err), "registration_closed");
        env.clock.set(datetime!(2026-03-09 09:00 UTC));
        env.krug.register_for_event(&env.tenant, reg(later, v, "a")).await.unwrap();
        let err = env.krug.register_for_event(&env.tenant, reg(later, ins, "a")).await.unwrap_err();
        assert_eq!(code(err), "registration_closed", "an insider has no early access");
        env.clock.set(datetime!(2026-03-10 09:00 UTC));
        env.krug.register_for_event(&env.tenant, reg(later, ins, "a")).await.unwrap();
        env.clock.set(datetime!(2026-03-20 09:00 UTC));
        let late = env.member(9).await;
        let err = env.krug.register_for_event(&env.tenant, reg(later, late, "a")).await.unwrap_err();
        assert_eq!(code(err), "registration_closed", "closed at 12:00 Moscow");
    }
);

backend_test!(
    async fn a_hundred_simultaneous_registrations_for_ten_seats_give_ten_seats_and_ninety_waitlisted(db: TestDb) {
        let env = env(db).await;
        // Paid seats, so the charge is proven exact under the same race.
        let event = published(&env, NewEvent { price: bonus(1_000), ..draft("lisichkino") }).await;
        let mut members = Vec::new();
        for n in 0..100 {
            let m = env.member(100 + n).await;
            fund(&env, m, 1_000).await;
            members.push(m);
        }
        let mut tasks = Vec::new();
        for m in members.iter().copied() {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            tasks.push(tokio::spawn(async move { krug.register_for_event(&tenant, reg(event, m, "k")).await }));
        }
        let mut seats = 0;
        let mut waitlisted = 0;
        for t in tasks {
            match t.await.unwrap().unwrap().status {
                RegistrationStatus::Registered => seats += 1,
                RegistrationStatus::Waitlisted => waitlisted += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((seats, waitlisted), (10, 90));
        let stored = scalar_i64(&env.db, "SELECT COUNT(*) FROM event_registrations WHERE status = 'registered'").await;
        assert_eq!(stored, 10);
        let tickets = scalar_i64(&env.db, "SELECT COUNT(DISTINCT ticket_code) FROM event_registrations").await;
        assert_eq!(tickets, 100, "one distinct ticket per registration");
        let mut charged = 0;
        for m in members {
            let balance = env.krug.verify_ledger(&env.tenant, m).await.unwrap();
            assert!(balance == bonus(0) || balance == bonus(1_000));
            charged += i64::from(balance == bonus(0));
        }
        assert_eq!(charged, 10, "exactly the seat holders paid");
    }
);

backend_test!(
    async fn cancelling_a_paid_seat_refunds_it_and_promotes_the_first_waitlisted_member_who_pays_then(db: TestDb) {
        let env = env(db).await;
        let (anna, olga, vera) = (env.member(1).await, env.member(2).await, env.member(3).await);
        fund(&env, anna, 100_000).await;
        fund(&env, olga, 80_000).await;
        let event = published(&env, NewEvent { capacity: 1, price: bonus(50_000), ..draft("lisichkino") }).await;

        let a = env.krug.register_for_event(&env.tenant, reg(event, anna, "k")).await.unwrap();
        assert_eq!((a.status, a.charged), (RegistrationStatus::Registered, bonus(50_000)));
        let o = env.krug.register_for_event(&env.tenant, reg(event, olga, "k")).await.unwrap();
        assert_eq!((o.status, o.charged), (RegistrationStatus::Waitlisted, bonus(0)), "charged only when promoted");
        env.krug.register_for_event(&env.tenant, reg(event, vera, "k")).await.unwrap();
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(50_000));
        assert_eq!(env.krug.verify_ledger(&env.tenant, olga).await.unwrap(), bonus(80_000));

        let cancelled = env.krug.cancel_registration(&env.tenant, event, anna).await.unwrap();
        assert_eq!((cancelled.status, cancelled.charged), (RegistrationStatus::Cancelled, bonus(0)));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(100_000), "refunded in full");
        assert_eq!(env.krug.verify_ledger(&env.tenant, olga).await.unwrap(), bonus(30_000), "charged on promotion");
        let mine = env.krug.my_registrations(&env.tenant, olga).await.unwrap();
        assert_eq!(mine[0].registration.status, RegistrationStatus::Registered);

        // Olga cancels after the deadline: no refund; Vera, who cannot pay, is dropped.
        env.clock.set(datetime!(2026-03-19 12:00 UTC));
        let late = env.krug.cancel_registration(&env.tenant, event, olga).await.unwrap();
        assert_eq!(late.charged, bonus(50_000), "kept after the deadline");
        assert_eq!(env.krug.verify_ledger(&env.tenant, olga).await.unwrap(), bonus(30_000));
        let v = env.krug.my_registrations(&env.tenant, vera).await.unwrap();
        assert_eq!(v[0].registration.status, RegistrationStatus::Dropped);
        assert_eq!(env.krug.verify_ledger(&env.tenant, vera).await.unwrap(), bonus(0));

        // Event money is ecosystem-side: the partner settlement does not move.
        let period = start()..datetime!(2026-04-01 00:00 UTC);
        assert!(env.krug.settlement(&env.tenant, period).await.unwrap().is_empty());
        let history = env.krug.history(&env.tenant, anna, None, 10).await.unwrap();
        assert!(history.items.iter().any(|h| h.source == krug::ledger::Source::Event));
    }
);

backend_test!(
    async fn cancelling_the_event_refunds_every_paid_seat_whatever_the_deadline(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        fund(&env, anna, 10_000).await;
        let event = published(&env, NewEvent { price: bonus(7_500), ..draft("mindal") }).await;
        env.krug.register_for_event(&env.tenant, reg(event, anna, "k")).await.unwrap();
        env.clock.set(datetime!(2026-03-20 10:00 UTC));
        let e = env.krug.cancel_event(&env.tenant, event, "operator:test").await.unwrap();
        assert_eq!(e.status, EventStatus::Cancelled);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(10_000));
        let err = env.krug.cancel_event(&env.tenant, event, "operator:test").await.unwrap_err();
        assert_eq!(code(err), "event_invalid_transition");
    }
);

backend_test!(
    async fn a_ticket_checks_in_once_only_at_its_event_and_only_in_the_window(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let first = published(&env, draft("lisichkino")).await;
        let second = published(&env, draft("lisichkino")).await;
        let r = env.krug.register_for_event(&env.tenant, reg(first, anna, "k")).await.unwrap();
        assert_eq!(r.ticket.len(), 20);
        let venue = staff_of("lisichkino");
        let err = env.krug.check_in(&env.tenant, &venue, first, &r.ticket).await.unwrap_err();
        assert_eq!(code(err), "check_in_closed", "weeks before the start");
        env.clock.set(datetime!(2026-03-20 15:00 UTC));
        let err = env.krug.check_in(&env.tenant, &venue, second, &r.ticket).await.unwrap_err();
        assert_eq!(code(err), "ticket_wrong_event");
        let err = env.krug.check_in(&env.tenant, &venue, first, "00000000000000000000").await.unwrap_err();
        assert_eq!(code(err), "registration_not_found");
        let done = env.krug.check_in(&env.tenant, &venue, first, &r.ticket.to_lowercase()).await.unwrap();
        assert_eq!(done.status, RegistrationStatus::Attended);
        let err = env.krug.check_in(&env.tenant, &operator(), first, &r.ticket).await.unwrap_err();
        assert_eq!(code(err), "ticket_already_used");
        let err = env.krug.cancel_registration(&env.tenant, first, anna).await.unwrap_err();
        assert_eq!(code(err), "event_invalid_transition");
    }
);

backend_test!(
    async fn weighted_results_match_a_hand_computed_example_and_the_winner_becomes_a_funded_event(db: TestDb) {
        let env = env(db).await;
        let proposer = vip(&env, 1).await;
        let (i1, i2) = (insider(&env, 2).await, insider(&env, 3).await);
        let v = vip(&env, 4).await;
        let ic = env.member(5).await;
        env.krug.invite(&env.tenant, ic, &TierCode::parse("inner-circle").unwrap(), "operator:test").await.unwrap();
        let nobody = env.member(6).await;

        let idea = || NewProposal {
            title: "Пикник в парке".into(),
            description: "Летний пикник для участниц".into(),
            estimated_cost: Kopecks::new(5_000).unwrap(),
        };
        let err = env.krug.propose_event_idea(&env.tenant, i1, idea()).await.unwrap_err();
        assert_eq!(code(err), "event_access_denied", "insiders do not propose");
        let p = env.krug.propose_event_idea(&env.tenant, proposer, idea()).await.unwrap();
        let err = env.krug.vote_on_proposal(&env.tenant, p.id, i1, true).await.unwrap_err();
        assert_eq!(code(err), "voting_closed", "not before approval");
        let window = Moderation::Approve { opens: start(), closes: datetime!(2026-03-09 09:00 UTC) };
        env.krug.moderate_proposal(&env.tenant, p.id, "operator:test", window).await.unwrap();

        // Insiders for (1 + 1), the VIP against (2), Inner Circle for (5).
        for (m, support) in [(i1, true), (i2, true), (v, false), (ic, true)] {
            env.krug.vote_on_proposal(&env.tenant, p.id, m, support).await.unwrap();
        }
        let r = env.krug.proposal_results(&env.tenant, p.id).await.unwrap();
        let t = r.tally;
        assert_eq!((t.raw_for, t.raw_against, t.weighted_for, t.weighted_against), (3, 1, 7, 2));
        // The VIP changes her mind: one vote per member, replaced.
        let r = env.krug.vote_on_proposal(&env.tenant, p.id, v, true).await.unwrap();
        assert_eq!(
            (r.tally.raw_for, r.tally.raw_against, r.tally.weighted_for, r.tally.weighted_against),
            (4, 0, 9, 0)
        );
        let err = env.krug.vote_on_proposal(&env.tenant, p.id, nobody, true).await.unwrap_err();
        assert_eq!(code(err), "event_access_denied", "no tier, no vote");

        let convert =
            NewEvent { starts: datetime!(2026-03-25 12:00), ends: datetime!(2026-03-25 16:00), ..draft("lisichkino") };
        let err = env
            .krug
            .convert_proposal(&env.tenant, p.id, "operator:test", convert.clone(), Kopecks::new(1).unwrap())
            .await
            .unwrap_err();
        assert_eq!(code(err), "event_invalid_transition", "not while voting is open");
        env.clock.set(datetime!(2026-03-09 09:00 UTC));
        let err = env.krug.vote_on_proposal(&env.tenant, p.id, i1, false).await.unwrap_err();
        assert_eq!(code(err), "voting_closed");
        assert!(env.krug.proposal_results(&env.tenant, p.id).await.unwrap().closed);

        // The budget holds 2 % of the purchases: 6 × 10,000 ₽ + 2 × 1,000 ₽ = 62,000 ₽ → 1,240 ₽.
        let budget = env.krug.budget_summary(&env.tenant).await.unwrap();
        assert_eq!(budget.balance, 124_000);
        let err = env
            .krug
            .convert_proposal(&env.tenant, p.id, "operator:test", convert.clone(), Kopecks::new(124_001).unwrap())
            .await
            .unwrap_err();
        assert_eq!(code(err), "budget_insufficient");
        let events = scalar_i64(&env.db, "SELECT COUNT(*) FROM events").await;
        assert_eq!(events, 0, "a refused conversion writes nothing");
        let event = env
            .krug
            .convert_proposal(&env.tenant, p.id, "operator:test", convert, Kopecks::new(50_000).unwrap())
            .await
            .unwrap();
        assert_eq!((event.status, event.proposal), (EventStatus::Published, Some(p.id)));
        let budget = env.krug.budget_summary(&env.tenant).await.unwrap();
        assert_eq!((budget.balance, budget.allocated, budget.collected), (74_000, 50_000, 124_000));
        assert_eq!(budget.events[0].title, "Вечер дегустации");
        let p = env.krug.proposal_results(&env.tenant, p.id).await.unwrap().proposal;
        assert_eq!((p.status, p.event), (krug::event::ProposalStatus::Converted, Some(event.id)));
    }
);

backend_test!(
    async fn budget_sums_contributions_refunds_allocations_and_spending_and_refuses_overdraw(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let big = env.buy(anna, "skinerica", 10_000, "B-1").await; // +20,000
        env.buy(anna, "lisichkino", 5_000, "B-2").await; // +10,000
        env.krug
            .refund(
                &env.tenant,
                RefundPurchase { purchase: big.purchase, amount: Some(rub(5_000)), refund_id: "R-1".into() },
            )
            .await
            .unwrap(); // −10,000
        let event = published(&env, draft("mindal")).await;
        let funding = |amount: i64, key: &str| EventFunding {
            event,
            amount: Kopecks::new(amount).unwrap(),
            note: Some("зал и угощение".into()),
            actor: "operator:test".into(),
            key: key.into(),
        };
        assert_eq!(env.krug.budget_summary(&env.tenant).await.unwrap().balance, 20_000);
        let line = env.krug.allocate_to_event(&env.tenant, funding(15_000, "a1")).await.unwrap();
        assert_eq!(line.amount, -15_000);
        assert_eq!(env.krug.allocate_to_event(&env.tenant, funding(15_000, "a1")).await.unwrap(), line, "replayed");
        let before = env.counts().await;
        let err = env.krug.allocate_to_event(&env.tenant, funding(5_001, "a2")).await.unwrap_err();
        assert_eq!((code(err), 409), ("budget_insufficient", 409));
        assert_eq!(env.counts().await, before, "a refused allocation writes nothing");
        let err = env.krug.spend_from_event(&env.tenant, funding(15_001, "s1")).await.unwrap_err();
        assert_eq!(code(err), "allocation_exceeded");
        env.krug.spend_from_event(&env.tenant, funding(10_000, "s1")).await.unwrap();

        let s = env.krug.budget_summary(&env.tenant).await.unwrap();
        assert_eq!((s.collected, s.allocated, s.spent, s.balance), (20_000, 15_000, 10_000, 5_000));
        assert_eq!(s.events[0].funds.remaining(), 5_000);
        let period = start()..datetime!(2026-04-01 00:00 UTC);
        let st = env.krug.contribution_statement(&env.tenant, &biz("skinerica"), period.clone()).await.unwrap();
        assert_eq!((st.contributed, st.reversed, st.net, st.lines.len()), (20_000, 10_000, 10_000, 2));
        let ledger = env.krug.budget_ledger(&env.tenant, period.clone()).await.unwrap();
        assert_eq!(ledger.iter().map(|l| l.amount).sum::<i64>(), -5_000, "Σ includes spending out of allocations");
        let csv = krug::budget_ledger_csv(&ledger);
        assert!(csv.starts_with("entry,at,kind,credit_kopecks,debit_kopecks,"));
        assert_eq!(csv.lines().count(), 1 + 5);
        assert!(csv.contains(",spending,0,10000,"), "{csv}");
        // The existing operator report agrees on the balance.
        assert_eq!(env.krug.budget(&env.tenant, period).await.unwrap().balance, 5_000);

        // Cancelling the event releases its unspent 5,000 back to the budget.
        env.krug.cancel_event(&env.tenant, event, "operator:test").await.unwrap();
        let s = env.krug.budget_summary(&env.tenant).await.unwrap();
        assert_eq!((s.allocated, s.spent, s.balance), (10_000, 10_000, 10_000));
    }
);

backend_test!(
    async fn concurrent_allocations_never_overdraw_the_budget(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 10_000, "B-1").await; // 20,000 in the budget
        let event = published(&env, draft("mindal")).await;
        let mut tasks = Vec::new();
        for i in 0..10 {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            let cmd = EventFunding {
                event,
                amount: Kopecks::new(3_000).unwrap(),
                note: None,
                actor: "operator:test".into(),
                key: format!("a{i}"),
            };
            tasks.push(tokio::spawn(async move { krug.allocate_to_event(&tenant, cmd).await }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(e.code(), "budget_insufficient"),
            }
        }
        assert_eq!(ok, 6);
        assert_eq!(env.krug.budget_summary(&env.tenant).await.unwrap().balance, 2_000);
    }
);

backend_test!(
    async fn bad_event_input_is_a_typed_error_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let anna = vip(&env, 1).await;
        let before = env.counts().await;
        let cases: Vec<(NewEvent, &str)> = vec![
            (NewEvent { title: " ".into(), ..draft("mindal") }, "invalid_input"),
            (NewEvent { capacity: 0, ..draft("mindal") }, "invalid_input"),
            (NewEvent { ends: datetime!(2026-03-20 18:00), ..draft("mindal") }, "invalid_input"),
            (NewEvent { starts: datetime!(2026-03-01 19:00), ..draft("mindal") }, "invalid_input"),
            (NewEvent { registration_closes: datetime!(2026-03-21 12:00), ..draft("mindal") }, "invalid_input"),
            (NewEvent { min_tier: Some(TierCode::parse("gold").unwrap()), ..draft("mindal") }, "invalid_input"),
            (NewEvent { price: bonus(-1), ..draft("mindal") }, "invalid_amount"),
            (draft("no-such-place"), "business_not_found"),
        ];
        for (d, expected) in cases {
            let err = env.krug.create_event(&env.tenant, &operator(), d).await.unwrap_err();
            assert_eq!(err.code(), expected);
            assert!(err.http_status() < 500);
        }
        let ghost = EventId::from_uuid(uuid::Uuid::nil());
        let err = env.krug.register_for_event(&env.tenant, reg(ghost, anna, "k")).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("event_not_found", 404));
        let err = env.krug.register_for_event(&env.tenant, reg(ghost, anna, "")).await.unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        let idea = NewProposal { title: "x".into(), description: String::new(), estimated_cost: Kopecks::ZERO };
        assert_eq!(env.krug.propose_event_idea(&env.tenant, anna, idea).await.unwrap_err().code(), "invalid_amount");
        let zero =
            EventFunding { event: ghost, amount: Kopecks::ZERO, note: None, actor: "op".into(), key: "k".into() };
        assert_eq!(env.krug.allocate_to_event(&env.tenant, zero).await.unwrap_err().code(), "invalid_amount");
        assert_eq!(env.counts().await, before);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM events").await, 0);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM event_proposals").await, 0);
    }
);

backend_test!(
    async fn a_rejected_proposal_keeps_its_reason_takes_no_votes_and_cannot_be_moderated_again(db: TestDb) {
        let env = env(db).await;
        let proposer = vip(&env, 1).await;
        let idea = NewProposal {
            title: "Квиз".into(),
            description: String::new(),
            estimated_cost: Kopecks::new(10_000).unwrap(),
        };
        let p = env.krug.propose_event_idea(&env.tenant, proposer, idea).await.unwrap();
        let blank = Moderation::Reject { reason: " ".into() };
        let err = env.krug.moderate_proposal(&env.tenant, p.id, "operator:test", blank).await.unwrap_err();
        assert_eq!(err.code(), "invalid_input");
        let reject = Moderation::Reject { reason: "Уже было в марте".into() };
        let p = env.krug.moderate_proposal(&env.tenant, p.id, "operator:test", reject).await.unwrap();
        assert_eq!((p.status, p.reason.as_deref()), (krug::event::ProposalStatus::Rejected, Some("Уже было в марте")));
        let err = env.krug.vote_on_proposal(&env.tenant, p.id, proposer, true).await.unwrap_err();
        assert_eq!(err.code(), "voting_closed");
        let again = Moderation::Approve { opens: start(), closes: datetime!(2026-03-09 09:00 UTC) };
        let err = env.krug.moderate_proposal(&env.tenant, p.id, "operator:test", again).await.unwrap_err();
        assert_eq!(err.code(), "event_invalid_transition");
        let audit = env.krug.audit_log(&env.tenant, 10).await.unwrap();
        assert_eq!(audit.iter().filter(|a| a.action == "proposal.reject").count(), 1);
        assert!(env.krug.member_proposals(&env.tenant, proposer).await.unwrap().len() == 1, "her own, rejected");
        let other = insider(&env, 2).await;
        assert!(env.krug.member_proposals(&env.tenant, other).await.unwrap().is_empty());
    }
);
