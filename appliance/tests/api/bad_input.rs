//! Bad input changes nothing and is answered with a stable problem: malformed bodies are 400
//! `malformed_body`, out-of-range amounts 422 `invalid_amount`, refusals by the ledger 409/422
//! with their own codes, and the member's balance and history are the same afterwards. Scans
//! are idempotent by receipt id and each QR code buys once, within its time step. No request is
//! ever answered with a 5xx (`read_reply` asserts it for every call).

use krug_testkit::backend_test;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

/// Everything the member can see of herself; a refused request must leave all of it unchanged.
async fn snapshot(app: &TestApp, member: &Login) -> Value {
    let mut out = json!({});
    for path in ["/v1/me/balance", "/v1/me/history", "/v1/me/purchases", "/v1/me/status"] {
        let r = app.get(path, Some(&member.access)).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        out[path] = r.body;
    }
    out
}

/// A write endpoint, a valid body for it, and the fields that body must have.
struct Write {
    method: Method,
    path: String,
    token: Option<String>,
    body: Value,
    required: &'static [&'static str],
}

impl Write {
    async fn send(&self, app: &TestApp, body: &Value) -> Reply {
        app.send(self.method.clone(), &self.path, self.token.as_deref(), Some(body)).await
    }
}

/// The same value's JSON type swapped for another that no reading can turn back into it. (A
/// number or boolean where a string belongs is its own test below.)
fn wrong_type(v: &Value) -> Value {
    match v {
        Value::String(_) => json!(["nope"]),
        Value::Number(n) => json!(n.to_string()),
        Value::Bool(_) => json!("yes"),
        _ => json!(["nope"]),
    }
}

/// A purchase of 10,000 ₽ at mindal whose 500 ₽ cashback is available after the hold, a
/// mindal cashier and an operator, all signed in after the hold.
struct Scene {
    anna: Login,
    cashier: Login,
    operator: Login,
    purchase: String,
}

async fn scene(app: &TestApp) -> Scene {
    let anna = app.member("svoy-krug", "+7 912 100-00-01").await;
    let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
    app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
    let r = app.scan(&cashier, &app.qr(&anna).await, 1_000_000, "M-1", 0).await;
    assert_eq!((r.status, r.body["cashback_kopecks"].as_i64()), (200, Some(50_000)), "{:?}", r.body);
    let purchase = r.body["purchase_id"].as_str().unwrap().to_owned();
    app.clock.advance(time::Duration::days(14));
    let anna = app.refresh("svoy-krug", &anna).await;
    let cashier = app.staff_login("svoy-krug", "mindal.cashier").await;
    let operator = app.staff_login("svoy-krug", "olga").await;
    let balance = app.get("/v1/me/balance", Some(&anna.access)).await;
    assert_eq!(balance.body["available_kopecks"], 50_000);
    Scene { anna, cashier, operator, purchase }
}

/// Every write endpoint with a valid body (for the scene's member, purchase and staff).
async fn write_endpoints(app: &TestApp, s: &Scene) -> Vec<Write> {
    let member = s.anna.member.clone().unwrap();
    vec![
        Write {
            method: Method::POST,
            path: "/v1/scans".into(),
            token: Some(s.cashier.access.clone()),
            body: json!({"qr": app.qr(&s.anna).await, "amount_kopecks": 100_000, "receipt_id": "M-2", "redeem_kopecks": 10_000, "category": "beauty_salon"}),
            required: &["qr", "amount_kopecks", "receipt_id"],
        },
        Write {
            method: Method::POST,
            path: format!("/v1/purchases/{}/refunds", s.purchase),
            token: Some(s.cashier.access.clone()),
            body: json!({"refund_id": "M-1/r1", "amount_kopecks": 100_000}),
            required: &["refund_id"],
        },
        Write {
            method: Method::POST,
            path: format!("/v1/operator/members/{member}/adjustments"),
            token: Some(s.operator.access.clone()),
            body: json!({"key": "adj-1", "amount_kopecks": 10_000, "reason": "goodwill", "funded_by": "mindal"}),
            required: &["key", "amount_kopecks", "reason"],
        },
        Write {
            method: Method::PUT,
            path: format!("/v1/operator/members/{member}/invitation"),
            token: Some(s.operator.access.clone()),
            body: json!({"tier": "inner-circle"}),
            required: &["tier"],
        },
        Write {
            method: Method::POST,
            path: "/v1/auth/sms-code".into(),
            token: None,
            body: json!({"tenant": "svoy-krug", "phone": "+7 912 100-00-01"}),
            required: &["tenant", "phone"],
        },
        Write {
            method: Method::POST,
            path: "/v1/auth/sms-verify".into(),
            token: None,
            body: json!({"tenant": "svoy-krug", "phone": "+7 912 100-00-01", "code": "123456"}),
            required: &["tenant", "phone", "code"],
        },
        Write {
            method: Method::POST,
            path: "/v1/auth/staff-login".into(),
            token: None,
            body: json!({"tenant": "svoy-krug", "login": "mindal.cashier", "password": PASSWORD}),
            required: &["tenant", "login", "password"],
        },
        Write {
            method: Method::POST,
            path: "/v1/auth/refresh".into(),
            token: None,
            body: json!({"tenant": "svoy-krug", "refresh_token": s.anna.refresh.clone().unwrap()}),
            required: &["tenant", "refresh_token"],
        },
        Write {
            method: Method::POST,
            path: "/v1/auth/logout".into(),
            token: None,
            body: json!({"tenant": "svoy-krug", "refresh_token": s.anna.refresh.clone().unwrap()}),
            required: &["tenant", "refresh_token"],
        },
    ]
}

backend_test!(
    async fn malformed_bodies_are_400_malformed_body_and_change_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let s = scene(&app).await;
        let writes = write_endpoints(&app, &s).await;
        let before = snapshot(&app, &s.anna).await;
        let last_sms = app.sms.last_to("+79121000001");
        for w in &writes {
            let what = format!("{} {}", w.method, w.path);
            for raw in ["{", "", "[]", "null", "{\"qr\": }", "not json"] {
                let r = if w.method == Method::POST {
                    app.post_raw(&w.path, w.token.as_deref(), raw).await
                } else {
                    app.send_raw(w.method.clone(), &w.path, w.token.as_deref(), raw).await
                };
                assert_eq!((r.status, r.code()), (400, "malformed_body"), "{what} with {raw:?}: {:?}", r.body);
                assert_eq!(r.content_type, "application/problem+json", "{what}");
            }
            for field in w.body.as_object().unwrap().keys() {
                let mut body = w.body.clone();
                body[field] = wrong_type(&w.body[field]);
                let r = w.send(&app, &body).await;
                assert_eq!((r.status, r.code()), (400, "malformed_body"), "{what} with {field} mistyped: {:?}", r.body);
                assert_eq!(r.content_type, "application/problem+json", "{what}");
            }
            for field in w.required {
                let mut body = w.body.clone();
                body.as_object_mut().unwrap().remove(*field).unwrap();
                let r = w.send(&app, &body).await;
                assert_eq!((r.status, r.code()), (400, "malformed_body"), "{what} without {field}: {:?}", r.body);
            }
            let mut body = w.body.clone();
            body["surprise"] = json!(true);
            let r = w.send(&app, &body).await;
            assert_eq!((r.status, r.code()), (400, "malformed_body"), "{what} with an unknown field: {:?}", r.body);
            assert_eq!(r.content_type, "application/problem+json", "{what}");
        }
        assert_eq!(snapshot(&app, &s.anna).await, before);
        assert_eq!(app.sms.last_to("+79121000001"), last_sms, "no code was sent for a malformed request");
        // The refresh token survived every malformed refresh and logout.
        let anna = app.refresh("svoy-krug", &s.anna).await;
        assert_eq!(snapshot(&app, &anna).await, before);
    }
);

backend_test!(
    async fn string_fields_refuse_numbers_and_booleans(db: TestDb) {
        // poem-openapi reads a JSON number or boolean into a `String` field as its text, so
        // `{"refund_id": 12345}` is taken as "12345" instead of being refused as mistyped.
        let app = TestApp::spawn(db).await;
        let s = scene(&app).await;
        let before = snapshot(&app, &s.anna).await;
        let mut accepted = Vec::new();
        for w in write_endpoints(&app, &s).await {
            for (field, value) in w.body.as_object().unwrap() {
                if !value.is_string() {
                    continue;
                }
                for wrong in [json!(12345), json!(true)] {
                    let mut body = w.body.clone();
                    body[field] = wrong.clone();
                    let r = w.send(&app, &body).await;
                    if (r.status, r.code()) != (400, "malformed_body") {
                        accepted.push(format!("{} {} {field}={wrong} → {} {}", w.method, w.path, r.status, r.code()));
                    }
                }
            }
        }
        let after = snapshot(&app, &s.anna).await;
        assert!(accepted.is_empty(), "mistyped string fields were not refused:\n{}", accepted.join("\n"));
        assert_eq!(after, before);
    }
);

backend_test!(
    async fn out_of_range_amounts_and_ledger_refusals_change_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let s = scene(&app).await;
        let member = s.anna.member.clone().unwrap();
        let before = snapshot(&app, &s.anna).await;
        let qr = app.qr(&s.anna).await;
        let huge = 1_000_000_000_001_i64;

        for amount in [0, -1, -500_000, huge, i64::MAX, i64::MIN] {
            let r = app.scan(&s.cashier, &qr, amount, "bad-amount", 0).await;
            r.assert_problem(422, "invalid_amount");
        }
        for redeem in [-1, huge, i64::MAX] {
            let r = app.scan(&s.cashier, &qr, 100_000, "bad-redeem", redeem).await;
            r.assert_problem(422, "invalid_amount");
        }
        let refunds = format!("/v1/purchases/{}/refunds", s.purchase);
        for amount in [0, -1, huge, i64::MIN] {
            let r = app
                .post(&refunds, Some(&s.cashier.access), &json!({"refund_id": "r-bad", "amount_kopecks": amount}))
                .await;
            r.assert_problem(422, "invalid_amount");
        }
        let r = app
            .post(&refunds, Some(&s.cashier.access), &json!({"refund_id": "r-big", "amount_kopecks": 1_000_001}))
            .await;
        r.assert_problem(422, "refund_exceeds_purchase");
        let adjust = format!("/v1/operator/members/{member}/adjustments");
        for amount in [0, huge, -huge, i64::MAX, i64::MIN] {
            let r = app
                .post(
                    &adjust,
                    Some(&s.operator.access),
                    &json!({"key": "adj-bad", "amount_kopecks": amount, "reason": "typo"}),
                )
                .await;
            r.assert_problem(422, "invalid_amount");
        }

        // 500 ₽ available, 30 % of a purchase at most.
        let r = app.scan(&s.cashier, &qr, 1_000_000, "too-much", 60_000).await;
        r.assert_problem(409, "insufficient_balance");
        let r = app.scan(&s.cashier, &qr, 100_000, "above-cap", 40_000).await;
        r.assert_problem(422, "redeem_above_cap");
        let r = app
            .post(
                &adjust,
                Some(&s.operator.access),
                &json!({"key": "adj-debit", "amount_kopecks": -60_000, "reason": "oops"}),
            )
            .await;
        r.assert_problem(409, "insufficient_balance");

        assert_eq!(snapshot(&app, &s.anna).await, before);

        // None of the refusals used the code: it still pays, for exactly the cap.
        let r = app.scan(&s.cashier, &qr, 100_000, "at-cap", 30_000).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["redeemed_kopecks"].as_i64(), r.body["paid_kopecks"].as_i64()),
            (Some(30_000), Some(70_000))
        );
        assert_eq!(r.body["balance"]["available_kopecks"], 20_000);
        // A refused key can be used afterwards: refusals wrote no idempotency record.
        let r = app
            .post(
                &adjust,
                Some(&s.operator.access),
                &json!({"key": "adj-bad", "amount_kopecks": 1_000, "reason": "fixed"}),
            )
            .await;
        assert_eq!((r.status, r.body["balance"]["available_kopecks"].as_i64()), (200, Some(21_000)), "{:?}", r.body);
    }
);

backend_test!(
    async fn scans_are_idempotent_by_receipt_and_each_code_buys_once_in_its_step(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 100-00-02").await;
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let qr = app.qr(&anna).await;
        let first = app.scan(&cashier, &qr, 100_000, "R-1", 0).await;
        assert_eq!(first.status, 200, "{:?}", first.body);
        let after_first = snapshot(&app, &anna).await;

        let retry = app.scan(&cashier, &qr, 100_000, "R-1", 0).await;
        assert_eq!(retry.status, 200, "{:?}", retry.body);
        assert_eq!(retry.body, first.body, "a retry returns the very same receipt");
        assert_eq!(snapshot(&app, &anna).await, after_first);

        app.scan(&cashier, &qr, 200_000, "R-1", 0).await.assert_problem(409, "idempotency_conflict");
        app.scan(&cashier, &qr, 100_000, "R-1", 10).await.assert_problem(409, "idempotency_conflict");
        app.scan(&cashier, &qr, 100_000, "R-2", 0).await.assert_problem(409, "qr_already_used");

        // A code from the next step, scanned two steps later, has expired.
        app.clock.advance(time::Duration::seconds(30));
        let stale = app.qr(&anna).await;
        assert_ne!(stale, qr);
        app.clock.advance(time::Duration::seconds(61));
        app.scan(&cashier, &stale, 100_000, "R-3", 0).await.assert_problem(422, "qr_expired");

        let member = qr.split('.').nth(1).unwrap().to_owned();
        for bad in [
            "",
            "KQ1",
            "garbage",
            "KQ1.not-a-member.12345678",
            &format!("KQ1.{member}.1234567"),
            &format!("KQ2.{member}.12345678"),
        ] {
            app.scan(&cashier, bad, 100_000, "R-4", 0).await.assert_problem(400, "qr_malformed");
        }
        assert_eq!(snapshot(&app, &anna).await, after_first);

        // The receipt id still replays the first scan after all that.
        let again = app.scan(&cashier, &qr, 100_000, "R-1", 0).await;
        assert_eq!(again.body, first.body);
        // And a fresh code buys, under a new receipt id.
        let r = app.scan(&cashier, &app.qr(&anna).await, 100_000, "R-5", 0).await;
        assert_eq!((r.status, r.body["balance"]["pending_kopecks"].as_i64()), (200, Some(10_000)), "{:?}", r.body);
    }
);
