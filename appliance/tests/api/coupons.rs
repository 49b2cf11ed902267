//! Coupons over HTTP: an owner's template and codes used at the scan, refusals as problem+json
//! with nothing recorded, the preview, the member's list, and the wall between businesses.

use krug_testkit::backend_test;
use serde_json::{Value, json};

use crate::common::*;

fn ten_percent(code: &str) -> Value {
    json!({
        "code": code, "name": "Ten off", "kind": "percent_off", "percent_bps": 1000,
        "scope": "business", "valid_days": 30, "min_purchase_kopecks": 100000, "per_member_limit": 1
    })
}

async fn purchases(app: &TestApp) -> usize {
    let t = krug::types::TenantId::parse("svoy-krug").unwrap();
    let b = krug::types::BusinessId::parse("mindal").unwrap();
    let q = krug::PurchaseQuery { from: None, to: None, member: None, before: None, limit: 200 };
    app.state.krug.business_purchases(&t, &b, q).await.unwrap().items.len()
}

async fn scan_with(app: &TestApp, cashier: &Login, member: &Login, amount: i64, receipt: &str, coupon: Value) -> Reply {
    let qr = app.qr(member).await;
    let body = json!({"qr": qr, "amount_kopecks": amount, "receipt_id": receipt, "coupon": coupon});
    app.post("/v1/scans", Some(&cashier.access), &body).await
}

backend_test!(
    async fn an_owners_bulk_codes_are_previewed_and_applied_once_at_the_scan(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let anna = app.member("svoy-krug", "+7 912 000-00-01").await;

        let r = app.post("/v1/coupons/templates", Some(&owner.access), &ten_percent("mindal-10")).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!((r.body["funded_by"].as_str(), r.body["scope_value"].as_str()), (Some("mindal"), Some("mindal")));
        assert_eq!(
            r.body["rules"],
            "10 % off at Миндаль, purchases from 1,000 ₽, not combined with paying by bonuses, once per member, valid 30 days from issue"
        );
        let r = app.post("/v1/coupons/templates/mindal-10/codes", Some(&owner.access), &json!({"count": 3})).await;
        assert_eq!((r.status, r.body["count"].as_u64()), (200, Some(3)), "{:?}", r.body);
        let code = r.body["codes"][0].as_str().unwrap().to_owned();

        let preview = json!({"code": code.to_lowercase(), "amount_kopecks": 150000});
        let r = app.post("/v1/coupons/preview", Some(&cashier.access), &preview).await;
        assert_eq!(
            (r.status, r.body["discount_kopecks"].as_i64(), r.body["charged_kopecks"].as_i64()),
            (200, Some(15_000), Some(135_000)),
            "{:?}",
            r.body
        );
        let r = app
            .post("/v1/coupons/preview", Some(&cashier.access), &json!({"code": code, "amount_kopecks": 50000}))
            .await;
        r.assert_problem(422, "coupon_min_purchase");
        assert_eq!(purchases(&app).await, 0);

        let r = scan_with(&app, &cashier, &anna, 150_000, "M-1", json!(code)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["coupon"]["discount_kopecks"].as_i64(), r.body["paid_kopecks"].as_i64()),
            (Some(15_000), Some(135_000))
        );
        assert_eq!(r.body["cashback_kopecks"], 6_750);
        app.clock.advance(time::Duration::seconds(60));
        let r = scan_with(&app, &cashier, &anna, 150_000, "M-2", json!(code)).await;
        r.assert_problem(409, "coupon_already_used");

        let r = app.get("/v1/coupons/templates/mindal-10", Some(&owner.access)).await;
        assert_eq!(r.body["uses"], 1);
        let mine = app.get("/v1/me/coupons", Some(&anna.access)).await;
        assert_eq!(mine.status, 200, "{:?}", mine.body);
        assert_eq!(mine.body["used"][0]["code"], code.as_str());
        assert!(mine.body["used"][0]["rules"].as_str().unwrap().starts_with("10 % off at Миндаль"));
    }
);

backend_test!(
    async fn a_refused_coupon_is_problem_json_and_the_scan_records_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let anna = app.member("svoy-krug", "+7 912 000-00-01").await;
        app.post("/v1/coupons/templates", Some(&owner.access), &ten_percent("mindal-10")).await;
        let r = app.post("/v1/coupons/templates/mindal-10/codes", Some(&owner.access), &json!({"count": 1})).await;
        let code = r.body["codes"][0].as_str().unwrap().to_owned();

        let cases = [
            (json!("NO-SUCH-CODE"), 150_000, 404, "coupon_not_found"),
            (json!(code), 99_999, 422, "coupon_min_purchase"),
            (json!("AB!"), 150_000, 422, "invalid_input"),
        ];
        for (i, (coupon, amount, status, problem)) in cases.into_iter().enumerate() {
            let r = scan_with(&app, &cashier, &anna, amount, &format!("M-{i}"), coupon).await;
            r.assert_problem(status, problem);
            app.clock.advance(time::Duration::seconds(60));
        }
        let r = scan_with(&app, &cashier, &anna, 150_000, "M-x", json!(12345)).await;
        r.assert_problem(400, "malformed_body");
        assert_eq!(purchases(&app).await, 0);
        // The code is still good afterwards.
        app.clock.advance(time::Duration::seconds(60));
        assert_eq!(scan_with(&app, &cashier, &anna, 150_000, "M-ok", json!(code)).await.status, 200);
    }
);

backend_test!(
    async fn another_business_owner_gets_404_for_your_templates(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let mindal = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let skin = app.staff("svoy-krug", "skin.owner", krug::Role::Owner, Some("skinerica")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        app.post("/v1/coupons/templates", Some(&mindal.access), &ten_percent("mindal-10")).await;

        app.get("/v1/coupons/templates/mindal-10", Some(&skin.access))
            .await
            .assert_problem(404, "coupon_template_not_found");
        app.post("/v1/coupons/templates/mindal-10/revoke", Some(&skin.access), &json!({}))
            .await
            .assert_problem(404, "coupon_template_not_found");
        app.post("/v1/coupons/templates/mindal-10/codes", Some(&skin.access), &json!({"count": 5}))
            .await
            .assert_problem(404, "coupon_template_not_found");
        let listed = app.get("/v1/coupons/templates", Some(&skin.access)).await;
        assert_eq!(listed.body, json!([]));
        // An owner cannot scope a template to another business.
        let mut elsewhere = ten_percent("skin-at-mindal");
        elsewhere["scope_value"] = json!("mindal");
        app.post("/v1/coupons/templates", Some(&skin.access), &elsewhere).await.assert_problem(422, "invalid_input");
        // The operator sees and manages it; the owner's template is untouched by the refusals.
        let all = app.get("/v1/coupons/templates", Some(&operator.access)).await;
        assert_eq!((all.body[0]["code"].as_str(), all.body[0]["revoked"].as_bool()), (Some("mindal-10"), Some(false)));
        let r = app.post("/v1/coupons/templates/mindal-10/revoke", Some(&operator.access), &json!({})).await;
        assert_eq!(r.body["revoked"], true);
    }
);

backend_test!(
    async fn bad_template_input_is_problem_json_and_writes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let mut no_rate = ten_percent("x-1");
        no_rate.as_object_mut().unwrap().remove("percent_bps");
        no_rate["scope"] = json!("any");
        no_rate.as_object_mut().unwrap().remove("scope_value");
        app.post("/v1/coupons/templates", Some(&operator.access), &no_rate).await.assert_problem(422, "invalid_input");
        let mut both = ten_percent("x-2");
        both["scope_value"] = json!("mindal");
        both["valid_from"] = json!("2026-03-01T00:00:00Z");
        app.post("/v1/coupons/templates", Some(&operator.access), &both).await.assert_problem(422, "invalid_input");
        let mut unknown = ten_percent("x-3");
        unknown["colour"] = json!("red");
        app.post("/v1/coupons/templates", Some(&operator.access), &unknown).await.assert_problem(400, "malformed_body");
        let mut kind = ten_percent("x-4");
        kind["kind"] = json!("half_price");
        app.post("/v1/coupons/templates", Some(&operator.access), &kind).await.assert_problem(400, "malformed_body");
        let r = app.post("/v1/coupons/templates/none/codes", Some(&operator.access), &json!({"count": 0})).await;
        r.assert_problem(422, "invalid_input");
        assert_eq!(app.get("/v1/coupons/templates", Some(&operator.access)).await.body, json!([]));
    }
);

backend_test!(
    async fn a_member_sees_her_personal_coupon_in_plain_words_and_a_promo_code_works_for_her(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let cashier = app.staff("svoy-krug", "lis.cashier", krug::Role::Cashier, Some("lisichkino")).await;
        let anna = app.member("svoy-krug", "+7 912 000-00-01").await;
        let template = json!({
            "code": "welcome", "name": "Welcome", "kind": "bonus_grant", "amount_kopecks": 30000,
            "scope": "any", "valid_from": "2026-03-01T00:00:00Z", "valid_until": "2026-12-12T21:00:00Z", "stackable": true
        });
        let r = app.post("/v1/coupons/templates", Some(&operator.access), &template).await;
        assert_eq!((r.status, r.body["funded_by"].clone()), (200, Value::Null), "{:?}", r.body);
        let body = json!({"member_id": anna.member.clone().unwrap()});
        let r = app.post("/v1/coupons/templates/welcome/issue", Some(&operator.access), &body).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mine = app.get("/v1/me/coupons", Some(&anna.access)).await;
        assert_eq!(mine.body["active"][0]["code"], r.body["code"]);
        assert_eq!(mine.body["active"][0]["rules"], "300 ₽ in bonuses at any partner, until 12 Dec 2026");

        let r = app
            .post(
                "/v1/coupons/templates/welcome/promo-codes",
                Some(&operator.access),
                &json!({"code": "ВЕСНА", "max_uses": 1}),
            )
            .await;
        assert_eq!((r.status, r.body["code"].as_str()), (200, Some("BECHA")), "{:?}", r.body);
        let r = scan_with(&app, &cashier, &anna, 100_000, "L-1", json!("becha")).await;
        assert_eq!((r.status, r.body["coupon"]["bonus_kopecks"].as_i64()), (200, Some(30_000)), "{:?}", r.body);
    }
);
