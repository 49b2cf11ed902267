//! Offers over HTTP: an owner writes and submits, only the operator approves, another business's
//! owner gets 404, the scan receipt lists the offer, a member sees her badge, and bad input is
//! problem+json with nothing written.

use krug_testkit::backend_test;
use serde_json::{Value, json};

use crate::common::*;

fn welcome() -> Value {
    json!({
        "name": "Welcome",
        "script": "if member.visits == 0 { bonus(30000); award_badge(\"first-visit\"); }",
        "rules": {"budget_kopecks": 1000000, "per_member_count": 1},
        "examples": [
            {"name": "first", "purchase": {"amount_kopecks": 150000}, "member": {"visits": 0},
             "expect": {"bonus_kopecks": 30000, "badges": ["first-visit"]}},
            {"name": "regular", "purchase": {"amount_kopecks": 150000}, "member": {"visits": 3}}
        ]
    })
}

backend_test!(
    async fn an_owner_writes_and_submits_only_the_operator_approves_and_the_scan_pays_the_offer(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let owner = app.staff("svoy-krug", "skin.owner", krug::Role::Owner, Some("skinerica")).await;
        let other = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let cashier = app.staff("svoy-krug", "skin.cashier", krug::Role::Cashier, Some("skinerica")).await;

        let created = app.post("/v1/business/offers", Some(&owner.access), &welcome()).await;
        assert_eq!(created.status, 200, "{:?}", created.body);
        assert_eq!(created.body["status"], "draft");
        let id = created.body["offer_id"].as_str().unwrap().to_owned();

        // Another business's owner: 404 for reading, editing, submitting, analytics.
        let path = format!("/v1/business/offers/{id}");
        app.get(&path, Some(&other.access)).await.assert_problem(404, "offer_not_found");
        app.send(reqwest::Method::PUT, &path, Some(&other.access), Some(&welcome()))
            .await
            .assert_problem(404, "offer_not_found");
        app.post(&format!("{path}/submit"), Some(&other.access), &json!({}))
            .await
            .assert_problem(404, "offer_not_found");
        app.get(&format!("{path}/analytics"), Some(&other.access)).await.assert_problem(404, "offer_not_found");
        let theirs = app.get("/v1/business/offers", Some(&other.access)).await;
        assert_eq!(theirs.body, json!([]));

        // The owner cannot approve: the operator's operation is forbidden to him.
        let approve = format!("/v1/operator/offers/{id}/approve");
        app.post(&approve, Some(&owner.access), &json!({"version": 1})).await.assert_problem(403, "forbidden");
        // A draft cannot be approved even by the operator.
        app.post(&approve, Some(&operator.access), &json!({"version": 1}))
            .await
            .assert_problem(409, "offer_state_conflict");

        let submitted = app.post(&format!("{path}/submit"), Some(&owner.access), &json!({})).await;
        assert_eq!((submitted.status, &submitted.body["status"]), (200, &json!("submitted")), "{:?}", submitted.body);
        let queue = app.get("/v1/operator/offers/submitted", Some(&operator.access)).await;
        assert_eq!(queue.body.as_array().unwrap().len(), 1);
        let approved = app.post(&approve, Some(&operator.access), &json!({"version": 1})).await;
        assert_eq!(approved.body["status"], "active", "{:?}", approved.body);

        let anna = app.member("svoy-krug", "+79120000001").await;
        let qr = app.qr(&anna).await;
        let receipt = app.scan(&cashier, &qr, 150_000, "S-1", 0).await;
        assert_eq!(receipt.status, 200, "{:?}", receipt.body);
        let offers = receipt.body["offers"].as_array().unwrap();
        assert_eq!(offers.len(), 1);
        assert_eq!((offers[0]["offer_id"].as_str(), &offers[0]["bonus_kopecks"]), (Some(id.as_str()), &json!(30000)));
        let badges = app.get("/v1/me/badges", Some(&anna.access)).await;
        assert_eq!(badges.body[0]["code"], "first-visit", "{:?}", badges.body);

        let analytics = app.get(&format!("{path}/analytics"), Some(&owner.access)).await;
        assert_eq!(
            (&analytics.body[0]["activations"], &analytics.body[0]["bonus_kopecks"]),
            (&json!(1), &json!(30000))
        );
        let backtest = app.get(&format!("{path}/backtest?days=7"), Some(&owner.access)).await;
        assert_eq!((backtest.status, &backtest.body["purchases"]), (200, &json!(1)), "{:?}", backtest.body);

        // A full refund takes the offer bonus back with the cashback.
        let purchase = receipt.body["purchase_id"].as_str().unwrap();
        let refund = app
            .post(&format!("/v1/purchases/{purchase}/refunds"), Some(&cashier.access), &json!({"refund_id": "F-1"}))
            .await;
        assert_eq!(
            (refund.status, &refund.body["offer_bonus_reversed_kopecks"]),
            (200, &json!(30000)),
            "{:?}",
            refund.body
        );

        let paused = app.post(&format!("/v1/operator/offers/{id}/pause"), Some(&operator.access), &json!({})).await;
        assert_eq!(paused.body["status"], "paused");
        let archived = app.post(&format!("/v1/operator/offers/{id}/archive"), Some(&operator.access), &json!({})).await;
        assert_eq!(archived.body["status"], "archived");
    }
);

backend_test!(
    async fn bad_offer_input_is_problem_json_and_writes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let owner = app.staff("svoy-krug", "skin.owner", krug::Role::Owner, Some("skinerica")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let bad = [
            (json!({"name": "x", "script": "bonus("}), 422, "offer_script_invalid"),
            (json!({"name": "x", "script": "bonus(customer.amount);"}), 422, "offer_script_invalid"),
            (
                json!({"name": "x", "script": "bonus(1);", "template": {"kind": "welcome_bonus", "bonus_kopecks": 1}}),
                422,
                "invalid_input",
            ),
            (json!({"name": "x", "template": {"kind": "lottery"}}), 422, "invalid_input"),
            (json!({"name": "x", "template": {"kind": "welcome_bonus"}}), 422, "invalid_input"),
            (json!({"name": "x", "script": "bonus(1);", "rules": {"budget_kopecks": -5}}), 422, "invalid_amount"),
            (json!({"name": "x", "script": "bonus(1);", "rules": {"budget_kopecks": 0}}), 422, "invalid_input"),
            (json!({"name": "x", "script": "bonus(1);", "colour": "red"}), 400, "malformed_body"),
            (json!({"name": 7, "script": "bonus(1);"}), 400, "malformed_body"),
        ];
        for (body, status, code) in bad {
            let r = app.post("/v1/business/offers", Some(&owner.access), &body).await;
            assert_eq!((r.status, r.code()), (status, code), "{body}: {:?}", r.body);
            assert_eq!(r.content_type, "application/problem+json");
        }
        let listed = app.get("/v1/business/offers", Some(&owner.access)).await;
        assert_eq!(listed.body, json!([]), "nothing was written");
        app.get("/v1/business/offers/not-a-uuid", Some(&owner.access)).await.assert_problem(404, "not_found");
        let nil = "00000000-0000-0000-0000-000000000000";
        app.post(
            &format!("/v1/operator/offers/{nil}/reject"),
            Some(&operator.access),
            &json!({"version": 1, "reason": "no"}),
        )
        .await
        .assert_problem(404, "offer_not_found");
        let dry = app
            .post(
                "/v1/business/offers/dry-run",
                Some(&owner.access),
                &json!({"script": "loop {}", "purchase": {"amount_kopecks": 100}}),
            )
            .await;
        assert_eq!((dry.status, &dry.body["failure_kind"]), (200, &json!("limit")), "{:?}", dry.body);
    }
);
