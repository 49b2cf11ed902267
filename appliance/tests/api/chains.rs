//! Chains over HTTP: an operator drafts, each partner's owner approves its own step, the chain
//! starts, a scan makes a step, the member sees her next step in words and the partners read
//! win-win analytics (JSON and CSV); bad input is problem+json with nothing written, and a
//! partner outside a chain gets 404.

use krug_testkit::backend_test;
use serde_json::{Value, json};

use crate::common::*;

fn chain_body() -> Value {
    json!({
        "name": "Ужин и красота",
        "kind": "simple",
        "steps": [
            {"business": "lisichkino", "min_amount_kopecks": 100000,
             "reward": {"bonus_kopecks": 50000, "funded_by": "mindal"}},
            {"business": "mindal", "window_days": 14}
        ],
        "starts_at": "2026-03-01T00:00:00Z",
        "ends_at": "2026-06-01T00:00:00Z"
    })
}

async fn chain_count(app: &TestApp) -> usize {
    let t = krug::types::TenantId::parse("svoy-krug").unwrap();
    app.state.krug.chains(&t, &krug::ChainActor::Operator).await.unwrap().len()
}

backend_test!(
    async fn a_chain_is_drafted_approved_started_advanced_by_a_scan_and_reported(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "operator", krug::Role::Operator, None).await;
        let lisichkino = app.staff("svoy-krug", "lis.owner", krug::Role::Owner, Some("lisichkino")).await;
        let mindal = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let skinerica = app.staff("svoy-krug", "skin.owner", krug::Role::Owner, Some("skinerica")).await;
        let cashier = app.staff("svoy-krug", "lis.cashier", krug::Role::Cashier, Some("lisichkino")).await;
        let anna = app.member("svoy-krug", "+7 912 000-00-01").await;

        let r = app.post("/v1/chains", Some(&operator.access), &chain_body()).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["status"], "draft");
        let id = r.body["id"].as_str().unwrap().to_owned();

        let r = app.post(&format!("/v1/chains/{id}/start"), Some(&operator.access), &json!({})).await;
        r.assert_problem(409, "chain_not_approved");
        let r = app.post(&format!("/v1/chains/{id}/approve"), Some(&skinerica.access), &json!({})).await;
        r.assert_problem(404, "chain_not_found");
        let r = app.get(&format!("/v1/chains/{id}/analytics"), Some(&skinerica.access)).await;
        r.assert_problem(404, "chain_not_found");
        for owner in [&lisichkino, &mindal] {
            let r = app.post(&format!("/v1/chains/{id}/approve"), Some(&owner.access), &json!({})).await;
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
        let r = app.post(&format!("/v1/chains/{id}/start"), Some(&operator.access), &json!({})).await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("active")), "{:?}", r.body);

        let mine = app.get("/v1/me/chains", Some(&anna.access)).await;
        assert_eq!(mine.status, 200, "{:?}", mine.body);
        assert_eq!(mine.body[0]["standing"], "not_started");
        assert_eq!(mine.body[0]["next"], "buy at Лисичкино (from 1,000 ₽) to get 500 ₽ bonus");

        let qr = app.qr(&anna).await;
        let r = app.scan(&cashier, &qr, 150_000, "L-1", 0).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let made = &r.body["chains"][0];
        assert_eq!((made["step"].as_u64(), made["completed"].as_bool()), (Some(0), Some(false)), "{:?}", r.body);
        assert_eq!(made["rewards"][0]["bonus_kopecks"], 50_000);
        assert_eq!(made["rewards"][0]["funded_by"], "mindal");
        let mine = app.get("/v1/me/chains", Some(&anna.access)).await;
        assert_eq!(mine.body[0]["standing"], "active");
        assert_eq!(mine.body[0]["next"], "buy at Миндаль by 16 Mar");
        assert_eq!(mine.body[0]["deadline"], "2026-03-16T09:00:00Z");

        let a = app.get(&format!("/v1/chains/{id}/analytics"), Some(&operator.access)).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert_eq!(a.body["steps"][0]["entered"], 1);
        let own = app.get(&format!("/v1/chains/{id}/analytics"), Some(&mindal.access)).await;
        assert_eq!(own.body["partners"].as_array().unwrap().len(), 1);
        assert_eq!(own.body["partners"][0]["reward_cost_kopecks"], 50_000);
        let csv = app.get(&format!("/v1/chains/{id}/analytics.csv"), Some(&lisichkino.access)).await;
        assert_eq!(csv.status, 200);
        assert!(csv.content_type.starts_with("text/csv"), "{}", csv.content_type);
        assert!(csv.body.as_str().unwrap().contains("partner,,,,,lisichkino,150000,0,150000,1,,,"));

        let r = app.post(&format!("/v1/chains/{id}/pause"), Some(&mindal.access), &json!({})).await;
        assert_eq!(r.body["status"], "paused");
    }
);

backend_test!(
    async fn bad_chain_input_is_problem_json_with_field_paths_and_nothing_is_written(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "operator", krug::Role::Operator, None).await;
        let anna = app.member("svoy-krug", "+7 912 000-00-01").await;

        let mut cyclic = chain_body();
        cyclic["kind"] = json!("cyclic");
        cyclic["steps"][1]["window_days"] = json!(0);
        let r = app.post("/v1/chains", Some(&operator.access), &cyclic).await;
        r.assert_problem(422, "invalid_chain");
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, vec!["max_cycles", "steps[0].window_days", "steps[1].window_days"]);

        let mut empty = chain_body();
        empty["steps"] = json!([]);
        let r = app.post("/v1/chains", Some(&operator.access), &empty).await;
        r.assert_problem(422, "invalid_chain");
        assert_eq!(r.body["errors"][0]["field"], "steps");

        let mut both = chain_body();
        both["steps"][0]["reward"]["coupon_template"] = json!("x");
        let r = app.post("/v1/chains", Some(&operator.access), &both).await;
        r.assert_problem(422, "invalid_input");
        assert_eq!(r.body["errors"][0]["field"], "steps[0].reward");

        let mut unknown_field = chain_body();
        unknown_field["steps"][0]["colour"] = json!("red");
        let r = app.post("/v1/chains", Some(&operator.access), &unknown_field).await;
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json");

        let r = app.get("/v1/chains/not-a-uuid", Some(&operator.access)).await;
        r.assert_problem(404, "not_found");
        let r = app
            .post(
                "/v1/me/chains/00000000-0000-0000-0000-000000000000/choice",
                Some(&anna.access),
                &json!({"branch": 1}),
            )
            .await;
        r.assert_problem(404, "chain_not_found");
        assert_eq!(chain_count(&app).await, 0);
    }
);
