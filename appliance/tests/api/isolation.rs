//! Isolation: another tenant's, business's or member's ids name nothing (404), a member's token
//! shows only herself, and a partner's views never show what its clients did elsewhere. Staff
//! reads of clients are audited with the reader's address.

use krug_testkit::backend_test;
use serde_json::{Value, json};

use crate::common::*;

/// The member's own views, to show a refused request changed nothing.
async fn snapshot(app: &TestApp, member: &Login) -> Value {
    let mut out = json!({});
    for path in ["/v1/me", "/v1/me/balance", "/v1/me/history", "/v1/me/purchases", "/v1/me/status"] {
        let r = app.get(path, Some(&member.access)).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        out[path] = r.body;
    }
    out
}

async fn staff_id(app: &TestApp, tenant: &str, login: &str) -> String {
    let t = krug::types::TenantId::parse(tenant).unwrap();
    let all = app.state.krug.list_staff(&t, None).await.unwrap();
    all.iter().find(|s| s.login.to_string() == login).unwrap().id.to_string()
}

backend_test!(
    async fn a_cashier_cannot_refund_another_partners_or_tenants_purchase(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 200-00-01").await;
        let skinerica = app.staff("svoy-krug", "skinerica.cashier", krug::Role::Cashier, Some("skinerica")).await;
        let mindal = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let mindal_owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let florist = app.staff("zelenyi-kvartal", "florist.cashier", krug::Role::Cashier, Some("florist")).await;
        let r = app.scan(&skinerica, &app.qr(&anna).await, 1_000_000, "S-1", 0).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let purchase = r.body["purchase_id"].as_str().unwrap().to_owned();
        let refunds = format!("/v1/purchases/{purchase}/refunds");
        let before = snapshot(&app, &anna).await;

        for other in [&mindal, &mindal_owner, &florist] {
            for body in [json!({"refund_id": "r-1"}), json!({"refund_id": "r-2", "amount_kopecks": 100_000})] {
                app.post(&refunds, Some(&other.access), &body).await.assert_problem(404, "purchase_not_found");
            }
        }
        assert_eq!(snapshot(&app, &anna).await, before);

        // The purchase exists, and the refused attempts left its refund ids free.
        let r =
            app.post(&refunds, Some(&skinerica.access), &json!({"refund_id": "r-2", "amount_kopecks": 100_000})).await;
        assert_eq!((r.status, r.body["amount_kopecks"].as_i64()), (200, Some(100_000)), "{:?}", r.body);
        // A replay of that refund by another partner is still not theirs to see.
        let r = app.post(&refunds, Some(&mindal.access), &json!({"refund_id": "r-2", "amount_kopecks": 100_000})).await;
        r.assert_problem(404, "purchase_not_found");
    }
);

backend_test!(
    async fn an_operator_cannot_touch_a_member_of_another_tenant(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 200-00-02").await;
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let r = app.scan(&cashier, &app.qr(&anna).await, 100_000, "M-1", 0).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let zk = app.staff("zelenyi-kvartal", "zk.operator", krug::Role::Operator, None).await;
        let member = anna.member.clone().unwrap();
        let before = snapshot(&app, &anna).await;

        let adjust = format!("/v1/operator/members/{member}/adjustments");
        for amount in [50_000, -1] {
            let body = json!({"key": format!("k{amount}"), "amount_kopecks": amount, "reason": "test"});
            app.post(&adjust, Some(&zk.access), &body).await.assert_problem(404, "member_not_found");
        }
        let invitation = format!("/v1/operator/members/{member}/invitation");
        app.send(reqwest::Method::DELETE, &invitation, Some(&zk.access), None)
            .await
            .assert_problem(404, "member_not_found");
        assert_eq!(snapshot(&app, &anna).await, before);

        let svoy = krug::types::TenantId::parse("svoy-krug").unwrap();
        let audit = app.state.krug.audit_log(&svoy, 200).await.unwrap();
        assert!(audit.iter().all(|a| !a.actor.starts_with("operator:")), "{audit:?}");
    }
);

backend_test!(
    async fn a_member_token_only_ever_shows_herself(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 200-00-03").await;
        let boris = app.member("svoy-krug", "+7 912 200-00-04").await;
        // The same phone in the other ecosystem is another person's account there.
        let vera = app.member("zelenyi-kvartal", "+7 912 200-00-03").await;
        assert_ne!(vera.member, anna.member);
        let mindal = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let florist = app.staff("zelenyi-kvartal", "florist.cashier", krug::Role::Cashier, Some("florist")).await;
        assert_eq!(app.scan(&mindal, &app.qr(&anna).await, 100_000, "A-1", 0).await.status, 200);
        assert_eq!(app.scan(&mindal, &app.qr(&boris).await, 300_000, "B-1", 0).await.status, 200);
        let r = app.scan(&florist, &app.qr(&vera).await, 200_000, "V-1", 0).await;
        assert_eq!(r.status, 200, "{:?}", r.body);

        // 5 % of 1,000 ₽ and of 3,000 ₽ pending; 3 % of 2,000 ₽ available at once (no hold).
        let expected = [(&anna, 5_000, 0), (&boris, 15_000, 0), (&vera, 0, 6_000)];
        for (who, pending, available) in expected {
            let me = who.member.clone().unwrap();
            let b = app.get("/v1/me/balance", Some(&who.access)).await;
            assert_eq!(
                (b.body["pending_kopecks"].as_i64(), b.body["available_kopecks"].as_i64()),
                (Some(pending), Some(available)),
                "{me}: {:?}",
                b.body
            );
            assert_eq!(app.get("/v1/me", Some(&who.access)).await.body["member_id"], me.as_str());
            let purchases = app.get("/v1/me/purchases", Some(&who.access)).await;
            let items = purchases.body["items"].as_array().unwrap();
            assert_eq!(items.len(), 1, "{:?}", purchases.body);
            assert!(items.iter().all(|p| p["member_id"] == me.as_str()));
            let history = app.get("/v1/me/history", Some(&who.access)).await;
            let lines = history.body["items"].as_array().unwrap();
            assert_eq!(lines.len(), 1, "{:?}", history.body);
            assert_eq!(lines[0]["purchase_id"], items[0]["purchase_id"]);
        }

        // Another member's cursors are refused exactly like ids that name nothing.
        let boris_purchase =
            app.get("/v1/me/purchases", Some(&boris.access)).await.body["items"][0]["purchase_id"].clone();
        let boris_entry = app.get("/v1/me/history", Some(&boris.access)).await.body["items"][0]["entry_id"].clone();
        let nil = "00000000-0000-0000-0000-000000000000";
        for (listing, foreign) in [("purchases", &boris_purchase), ("history", &boris_entry)] {
            let theirs =
                app.get(&format!("/v1/me/{listing}?before={}", foreign.as_str().unwrap()), Some(&anna.access)).await;
            let nobodys = app.get(&format!("/v1/me/{listing}?before={nil}"), Some(&anna.access)).await;
            assert_eq!(theirs.status, nobodys.status, "{listing}: {:?} vs {:?}", theirs.body, nobodys.body);
            assert_eq!(theirs.code(), nobodys.code(), "{listing}");
            assert!(!theirs.body.to_string().contains(boris.member.as_deref().unwrap()), "{:?}", theirs.body);
        }
    }
);

backend_test!(
    async fn a_cashier_cannot_scan_a_member_of_another_tenant(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let vera = app.member("zelenyi-kvartal", "+7 912 200-00-05").await;
        let mindal = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let florist = app.staff("zelenyi-kvartal", "florist.cashier", krug::Role::Cashier, Some("florist")).await;
        let qr = app.qr(&vera).await;
        let before = snapshot(&app, &vera).await;

        app.scan(&mindal, &qr, 100_000, "M-1", 0).await.assert_problem(404, "member_not_found");
        app.scan(&owner, &qr, 100_000, "M-2", 0).await.assert_problem(404, "member_not_found");
        assert_eq!(snapshot(&app, &vera).await, before);
        let mine = app.get("/v1/business/purchases", Some(&owner.access)).await;
        assert_eq!(mine.body["items"], json!([]), "{:?}", mine.body);

        // Her code was not used up by the refusals: her own ecosystem's partner takes it.
        let r = app.scan(&florist, &qr, 100_000, "F-1", 0).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
);

backend_test!(
    async fn a_partner_sees_only_its_own_purchases_and_spend(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 200-00-06").await;
        let boris = app.member("svoy-krug", "+7 912 200-00-07").await;
        let skin_cashier = app.staff("svoy-krug", "skinerica.cashier", krug::Role::Cashier, Some("skinerica")).await;
        let stim_cashier = app.staff("svoy-krug", "stim.cashier", krug::Role::Cashier, Some("stim-center")).await;
        let skin_owner = app.staff("svoy-krug", "skinerica.owner", krug::Role::Owner, Some("skinerica")).await;
        let stim_manager = app.staff("svoy-krug", "stim.manager", krug::Role::Manager, Some("stim-center")).await;
        assert_eq!(app.scan(&skin_cashier, &app.qr(&anna).await, 1_234_500, "S-1", 0).await.status, 200);
        app.clock.advance(time::Duration::seconds(30));
        app.medical_consent(&anna).await;
        app.medical_consent(&boris).await;
        assert_eq!(app.scan(&stim_cashier, &app.qr(&anna).await, 765_400, "D-1", 0).await.status, 200);
        assert_eq!(app.scan(&stim_cashier, &app.qr(&boris).await, 321_000, "D-2", 0).await.status, 200);
        let anna_id = anna.member.clone().unwrap();
        let boris_id = boris.member.clone().unwrap();

        // Скинерика: Anna's 12,345 ₽ there, nothing of the clinic, nothing of Boris.
        let clients = app.get("/v1/business/clients", Some(&skin_owner.access)).await;
        assert_eq!(clients.status, 200, "{:?}", clients.body);
        let items = clients.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{:?}", clients.body);
        assert_eq!(items[0]["member_id"], anna_id.as_str());
        assert_eq!((items[0]["visits"].as_u64(), items[0]["spend_here_kopecks"].as_i64()), (Some(1), Some(1_234_500)));
        let purchases = app.get("/v1/business/purchases", Some(&skin_owner.access)).await;
        let items = purchases.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{:?}", purchases.body);
        assert_eq!(
            (items[0]["business"].as_str(), items[0]["amount_kopecks"].as_i64()),
            (Some("skinerica"), Some(1_234_500))
        );
        for path in
            [format!("/v1/business/purchases?member={anna_id}"), format!("/v1/business/purchases?member={boris_id}")]
        {
            let r = app.get(&path, Some(&skin_owner.access)).await;
            assert!(r.body["items"].as_array().unwrap().iter().all(|p| p["business"] == "skinerica"), "{:?}", r.body);
        }
        let only_boris = app.get(&format!("/v1/business/purchases?member={boris_id}"), Some(&skin_owner.access)).await;
        assert_eq!(only_boris.body["items"], json!([]));
        for path in
            ["/v1/business/clients", "/v1/business/purchases", "/v1/business/clients.csv", "/v1/business/purchases.csv"]
        {
            let r = app.get(path, Some(&skin_owner.access)).await;
            assert_eq!(r.status, 200, "{path}: {:?}", r.body);
            let text = match &r.body {
                Value::String(csv) => csv.clone(),
                json => json.to_string(),
            };
            for clinic in ["stim-center", "dentistry", "D-1", "D-2", "765400", "321000", boris_id.as_str()] {
                assert!(!text.contains(clinic), "{path} shows {clinic}: {text}");
            }
            if path.ends_with(".csv") {
                assert_eq!(text.lines().count(), 2, "a header and Anna's line: {text}");
                assert!(text.contains("1234500"), "{path}: {text}");
            }
        }

        // Стим Центр: its own two visits, nothing of the salon.
        let clients = app.get("/v1/business/clients", Some(&stim_manager.access)).await;
        let mut spend: Vec<(String, i64)> = clients.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["member_id"].as_str().unwrap().to_owned(), c["spend_here_kopecks"].as_i64().unwrap()))
            .collect();
        spend.sort();
        let mut expected = vec![(anna_id.clone(), 765_400), (boris_id.clone(), 321_000)];
        expected.sort();
        assert_eq!(spend, expected);
        for path in
            ["/v1/business/clients", "/v1/business/purchases", "/v1/business/clients.csv", "/v1/business/purchases.csv"]
        {
            let r = app.get(path, Some(&stim_manager.access)).await;
            let text = match &r.body {
                Value::String(csv) => csv.clone(),
                json => json.to_string(),
            };
            for salon in ["skinerica", "cosmetology", "S-1", "1234500"] {
                assert!(!text.contains(salon), "{path} shows {salon}: {text}");
            }
        }
    }
);

backend_test!(
    async fn reading_clients_is_audited_with_the_client_address(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 200-00-08").await;
        let cashier = app.staff("svoy-krug", "skinerica.cashier", krug::Role::Cashier, Some("skinerica")).await;
        let owner = app.staff("svoy-krug", "skinerica.owner", krug::Role::Owner, Some("skinerica")).await;
        let manager = app.staff("svoy-krug", "skinerica.manager", krug::Role::Manager, Some("skinerica")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        assert_eq!(app.scan(&cashier, &app.qr(&anna).await, 100_000, "S-1", 0).await.status, 200);

        assert_eq!(app.get("/v1/business/clients", Some(&owner.access)).await.status, 200);
        assert_eq!(app.get("/v1/business/clients.csv", Some(&manager.access)).await.status, 200);
        // A refused read is no read.
        assert_eq!(app.get("/v1/business/clients", Some(&cashier.access)).await.status, 403);

        let tenant = krug::types::TenantId::parse("svoy-krug").unwrap();
        let reads: Vec<krug::AuditRecord> = app
            .state
            .krug
            .audit_log(&tenant, 200)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.action == "clients.read")
            .collect();
        let owner_id = staff_id(&app, "svoy-krug", "skinerica.owner").await;
        let manager_id = staff_id(&app, "svoy-krug", "skinerica.manager").await;
        let mut seen: Vec<(String, String, Option<String>)> =
            reads.iter().map(|a| (a.actor.clone(), a.target.clone(), a.client.clone())).collect();
        seen.sort();
        let mut expected = vec![
            (format!("owner:{owner_id}"), "business:skinerica".to_owned(), Some("127.0.0.1".to_owned())),
            (format!("manager:{manager_id}"), "business:skinerica".to_owned(), Some("127.0.0.1".to_owned())),
        ];
        expected.sort();
        assert_eq!(seen, expected, "{reads:?}");
        for read in &reads {
            let detail: Value = serde_json::from_str(&read.detail).unwrap();
            assert_eq!(detail, json!({"business": "skinerica", "members": 1}));
            assert!(!read.detail.contains("912"), "no phone in the audit detail");
        }

        // The operator sees the same records over HTTP.
        let audit = app.get("/v1/operator/audit", Some(&operator.access)).await;
        assert_eq!(audit.status, 200, "{:?}", audit.body);
        let over_http = audit.body.as_array().unwrap().iter().filter(|a| a["action"] == "clients.read").count();
        assert_eq!(over_http, 2);
    }
);
