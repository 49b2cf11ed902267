//! The events hub over HTTP: an event from creation to check-in across the roles, the venue
//! wall (another partner gets 404), the budget reports (JSON and CSV), and bad input answered
//! as problem+json with nothing written.

use krug_testkit::backend_test;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

fn new_event(venue: &str) -> Value {
    json!({
        "venue": venue,
        "title": "Вечер дегустации",
        "description": "Сыры и вина",
        "starts": "2026-03-20T19:00",
        "ends": "2026-03-20T22:00",
        "capacity": 1,
        "price_kopecks": 0,
        "registration_opens": "2026-03-02T10:00",
        "registration_closes": "2026-03-20T12:00",
        "cancel_until": "2026-03-19T12:00"
    })
}

async fn published(app: &TestApp, operator: &Login, venue: &str) -> String {
    let r = app.post("/v1/operator/events", Some(&operator.access), &new_event(venue)).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("draft")), "{:?}", r.body);
    let id = r.body["event_id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/operator/events/{id}/publish"), Some(&operator.access), &json!({})).await;
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("published")), "{:?}", r.body);
    id
}

backend_test!(
    async fn an_event_runs_from_creation_to_check_in_across_the_roles(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "operator", krug::Role::Operator, None).await;
        let event = published(&app, &operator, "stim-center").await;
        let r = app.get("/v1/operator/events", Some(&operator.access)).await;
        assert_eq!(r.body[0]["starts_at"], "2026-03-20T16:00:00Z", "19:00 Moscow stored as UTC");

        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;
        let olga = app.member("svoy-krug", "+7 912 345-67-90").await;
        let r = app.get("/v1/me/events/upcoming", Some(&anna.access)).await;
        assert_eq!(r.body.as_array().unwrap().len(), 1);
        let path = format!("/v1/events/{event}/registrations");
        let a = app.post(&path, Some(&anna.access), &json!({"key": "r1"})).await;
        assert_eq!((a.status, a.body["status"].as_str()), (200, Some("registered")), "{:?}", a.body);
        let o = app.post(&path, Some(&olga.access), &json!({"key": "r1"})).await;
        assert_eq!(o.body["status"], "waitlisted", "one seat");
        app.post(&path, Some(&anna.access), &json!({"key": "r2"})).await.assert_problem(409, "already_registered");

        // Anna leaves: Olga gets the seat in the same request.
        let r =
            app.send(Method::DELETE, &format!("/v1/me/events/{event}/registration"), Some(&anna.access), None).await;
        assert_eq!(r.body["status"], "cancelled", "{:?}", r.body);
        let mine = app.get("/v1/me/events/registrations", Some(&olga.access)).await;
        assert_eq!(mine.body[0]["registration"]["status"], "registered", "{:?}", mine.body);
        let ticket = mine.body[0]["registration"]["ticket"].as_str().unwrap().to_owned();

        app.clock.set(time::macros::datetime!(2026-03-20 15:30 UTC));
        let clinic = app.staff("svoy-krug", "stim-cashier", krug::Role::Cashier, Some("stim-center")).await;
        let other = app.staff("svoy-krug", "mindal-owner", krug::Role::Owner, Some("mindal")).await;
        let check_in = format!("/v1/events/{event}/check-ins");
        app.post(&check_in, Some(&other.access), &json!({"ticket": ticket}))
            .await
            .assert_problem(404, "event_not_found");
        let r = app.post(&check_in, Some(&clinic.access), &json!({"ticket": ticket})).await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("attended")), "{:?}", r.body);
        app.post(&check_in, Some(&clinic.access), &json!({"ticket": ticket}))
            .await
            .assert_problem(409, "ticket_already_used");
        // A clinic's attendees: its own staff yes, another partner no.
        let r = app.get(&format!("/v1/events/{event}/attendees"), Some(&clinic.access)).await;
        assert_eq!(r.body.as_array().unwrap().len(), 1, "the cancelled registration is not listed: {:?}", r.body);
        assert_eq!(r.body[0]["member_id"].as_str(), olga.member.as_deref());
        assert_eq!(r.body[0]["status"], "attended");
        app.get(&format!("/v1/events/{event}/attendees"), Some(&other.access))
            .await
            .assert_problem(404, "event_not_found");
        let r = app.get("/v1/business/events", Some(&other.access)).await;
        assert_eq!(r.body, json!([]));
    }
);

backend_test!(
    async fn budget_reports_and_an_overdraft_answer_over_http(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "operator", krug::Role::Operator, None).await;
        let event = published(&app, &operator, "mindal").await;
        let tenant = krug::types::TenantId::parse("svoy-krug").unwrap();
        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;
        let member = anna.member.as_deref().unwrap().parse().unwrap();
        let purchase = krug::RecordPurchase::new(
            member,
            krug::types::BusinessId::parse("lisichkino").unwrap(),
            krug::types::Kopecks::rubles(10_000).unwrap(),
            "R-1",
        );
        app.state.krug.record_purchase(&tenant, purchase).await.unwrap(); // 20,000 to the budget

        let alloc = format!("/v1/operator/events/{event}/allocations");
        app.post(&alloc, Some(&operator.access), &json!({"key": "a1", "amount_kopecks": 20_001}))
            .await
            .assert_problem(409, "budget_insufficient");
        let r = app.post(&alloc, Some(&operator.access), &json!({"key": "a1", "amount_kopecks": 15_000})).await;
        assert_eq!((r.status, r.body["amount_kopecks"].as_i64()), (200, Some(-15_000)), "{:?}", r.body);
        let r = app.get("/v1/events/budget", Some(&anna.access)).await;
        assert_eq!(
            (
                r.body["collected_kopecks"].as_i64(),
                r.body["allocated_kopecks"].as_i64(),
                r.body["balance_kopecks"].as_i64()
            ),
            (Some(20_000), Some(15_000), Some(5_000)),
            "{:?}",
            r.body
        );
        let owner = app.staff("svoy-krug", "lis-owner", krug::Role::Owner, Some("lisichkino")).await;
        let period = "from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z";
        let r = app.get(&format!("/v1/business/budget/contributions?{period}"), Some(&owner.access)).await;
        assert_eq!(r.body["net_kopecks"], 20_000, "{:?}", r.body);
        let csv = app.get(&format!("/v1/operator/budget/ledger.csv?{period}"), Some(&operator.access)).await;
        assert_eq!(csv.status, 200);
        assert!(csv.content_type.starts_with("text/csv"), "{}", csv.content_type);
        let text = csv.body.as_str().unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains(",allocation,0,15000,"), "{text}");
    }
);

backend_test!(
    async fn bad_event_input_is_problem_json_and_writes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "operator", krug::Role::Operator, None).await;
        let create = |body: Value| {
            let app = &app;
            let token = operator.access.clone();
            async move { app.post("/v1/operator/events", Some(&token), &body).await }
        };
        let mut bad = new_event("mindal");
        bad["starts"] = json!("20.03.2026 19:00");
        create(bad).await.assert_problem(422, "invalid_input");
        let mut bad = new_event("mindal");
        bad["capacity"] = json!(0);
        create(bad).await.assert_problem(422, "invalid_input");
        let mut bad = new_event("mindal");
        bad["ends"] = json!("2026-03-20T18:00");
        create(bad).await.assert_problem(422, "invalid_input");
        let mut bad = new_event("mindal");
        bad["price_kopecks"] = json!(-5);
        create(bad).await.assert_problem(422, "invalid_amount");
        let mut bad = new_event("mindal");
        bad["surprise"] = json!(true);
        assert_eq!(create(bad).await.status, 400);
        create(new_event("nowhere")).await.assert_problem(404, "business_not_found");
        let r = app.get("/v1/operator/events", Some(&operator.access)).await;
        assert_eq!(r.body, json!([]), "nothing was written");

        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;
        app.post("/v1/events/not-an-id/registrations", Some(&anna.access), &json!({"key": "k"}))
            .await
            .assert_problem(404, "not_found");
        let idea = json!({"title": "Пикник", "description": "", "estimated_cost_kopecks": 100});
        app.post("/v1/me/event-proposals", Some(&anna.access), &idea).await.assert_problem(409, "event_access_denied");
        let r = app.get("/v1/event-proposals", Some(&operator.access)).await;
        assert_eq!(r.body, json!([]), "nothing was written");
    }
);

backend_test!(
    async fn a_proposal_is_moderated_voted_with_tier_weights_and_converted_over_http(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "operator", krug::Role::Operator, None).await;
        let tenant = krug::types::TenantId::parse("svoy-krug").unwrap();
        let vera = app.member("svoy-krug", "+7 912 345-67-01").await;
        let ins = app.member("svoy-krug", "+7 912 345-67-02").await;
        // Vera becomes VIP (30,000 ₽ over three categories), the other an Insider.
        let buy = |member: &Login, business: &str, rubles: i64, receipt: String| {
            let m = member.member.as_deref().unwrap().parse().unwrap();
            krug::RecordPurchase::new(
                m,
                krug::types::BusinessId::parse(business).unwrap(),
                krug::types::Kopecks::rubles(rubles).unwrap(),
                receipt,
            )
        };
        for (i, b) in ["skinerica", "lisichkino", "mindal"].iter().enumerate() {
            app.state.krug.record_purchase(&tenant, buy(&vera, b, 10_000, format!("V-{i}"))).await.unwrap();
        }
        app.state.krug.record_purchase(&tenant, buy(&ins, "lisichkino", 1_000, "I-1".into())).await.unwrap();

        let idea = json!({"title": "Пикник", "description": "В парке", "estimated_cost_kopecks": 300_000});
        let p = app.post("/v1/me/event-proposals", Some(&vera.access), &idea).await;
        assert_eq!((p.status, p.body["status"].as_str()), (200, Some("pending")), "{:?}", p.body);
        let id = p.body["proposal_id"].as_str().unwrap().to_owned();
        let listed = app.get("/v1/event-proposals", Some(&ins.access)).await;
        assert_eq!(listed.body, json!([]), "a pending proposal is not shown to other members");
        app.get(&format!("/v1/event-proposals/{id}/results"), Some(&ins.access)).await.assert_problem(404, "not_found");

        let approve = json!({"approve": true, "voting_opens_at": "2026-03-02T09:00:00Z", "voting_closes_at": "2026-03-05T09:00:00Z"});
        let r =
            app.post(&format!("/v1/operator/event-proposals/{id}/moderation"), Some(&operator.access), &approve).await;
        assert_eq!(r.body["status"], "approved", "{:?}", r.body);
        let vote = format!("/v1/event-proposals/{id}/vote");
        app.send(Method::PUT, &vote, Some(&ins.access), Some(&json!({"support": true}))).await;
        let r = app.send(Method::PUT, &vote, Some(&vera.access), Some(&json!({"support": false}))).await;
        let counts = |b: &Value| {
            [&b["raw_for"], &b["raw_against"], &b["weighted_for"], &b["weighted_against"]].map(|v| v.as_u64().unwrap())
        };
        assert_eq!(counts(&r.body), [1, 1, 1, 2], "an insider weighs 1, a VIP 2: {:?}", r.body);
        let r = app.send(Method::PUT, &vote, Some(&vera.access), Some(&json!({"support": true}))).await;
        assert_eq!(counts(&r.body), [2, 0, 3, 0], "her second vote replaced the first");

        app.clock.set(time::macros::datetime!(2026-03-05 09:00 UTC));
        let operator = app.staff_login("svoy-krug", "operator").await;
        let r = app.get(&format!("/v1/event-proposals/{id}/results"), Some(&operator.access)).await;
        assert_eq!((r.body["closed"].as_bool(), r.body["wins"].as_bool()), (Some(true), Some(true)), "{:?}", r.body);
        let conversion = json!({"event": new_event("lisichkino"), "allocation_kopecks": 50_000});
        let convert = format!("/v1/operator/event-proposals/{id}/conversion");
        app.post(
            &convert,
            Some(&operator.access),
            &json!({"event": new_event("lisichkino"), "allocation_kopecks": 999_999}),
        )
        .await
        .assert_problem(409, "budget_insufficient");
        let r = app.post(&convert, Some(&operator.access), &conversion).await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("published")), "{:?}", r.body);
        assert_eq!(r.body["proposal_id"].as_str(), Some(id.as_str()));
        let summary = app.get("/v1/events/budget", Some(&operator.access)).await;
        assert_eq!(summary.body["events"][0]["allocated_kopecks"], 50_000, "{:?}", summary.body);
    }
);
