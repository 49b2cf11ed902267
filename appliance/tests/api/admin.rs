//! Appliance administration (superadmin), the operator's staff and configuration tools, and the
//! counter's lookup of a member without her phone.

use krug_testkit::backend_test;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const NEW_TENANT: &str = "id = \"novyi-dom\"\nname = \"Новый Дом\"\ntimezone = \"Europe/Moscow\"\n\n\
[[businesses]]\nid = \"pekarnya\"\nname = \"Пекарня\"\ncategory = \"bakery\"\n\n\
[[tiers]]\ncode = \"friend\"\nname = \"Друг\"\nmin_categories = 1\ncashback_bps = 300\n";

/// The audit records of an action, newest first, read by the tenant's operator.
async fn audit(app: &TestApp, operator: &Login, action: &str) -> Vec<Value> {
    let r = app.get("/v1/operator/audit?limit=200", Some(&operator.access)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body.as_array().unwrap().iter().filter(|a| a["action"] == action).cloned().collect()
}

/// The 6-digit code in a lookup SMS (`… Код: 123456. …`).
fn code_in(text: &str) -> String {
    let after = text.split("Код: ").nth(1).unwrap();
    after.chars().take_while(char::is_ascii_digit).collect()
}

backend_test!(
    async fn the_superadmin_creates_a_tenant_that_a_restarted_appliance_hosts_again(db: TestDb) {
        let mut app = TestApp::spawn(db).await;
        let admin = app.superadmin().await.access;

        let r = app.get("/v1/admin/tenants", Some(&admin)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            r.body,
            json!([
                {"id": "svoy-krug", "name": "Свой Круг", "suspended": false, "businesses": 5, "members": 0},
                {"id": "zelenyi-kvartal", "name": "Зелёный Квартал", "suspended": false, "businesses": 3, "members": 0},
            ])
        );

        // Every problem of an invalid file at once; nothing is created.
        let invalid = "id = \"novyi-dom\"\nname = \"Новый Дом\"\ntimezone = \"Mars/Olympus\"\n";
        let r = app.post("/v1/admin/tenants", Some(&admin), &json!({"config_toml": invalid})).await;
        assert_eq!((r.status, r.code()), (422, "invalid_config"), "{:?}", r.body);
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["businesses", "tiers", "timezone"], "{:?}", r.body);
        assert!(!app.state.krug.hosted_tenants().iter().any(|t| t.as_str() == "novyi-dom"));

        let existing = std::fs::read_to_string(repo_path("tenants/svoy-krug/tenant.toml")).unwrap();
        let r = app.post("/v1/admin/tenants", Some(&admin), &json!({"config_toml": existing})).await;
        assert_eq!((r.status, r.code()), (409, "tenant_exists"), "{:?}", r.body);

        let r = app.post("/v1/admin/tenants", Some(&admin), &json!({"config_toml": NEW_TENANT})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(
            r.body,
            json!({"id": "novyi-dom", "name": "Новый Дом", "suspended": false, "businesses": 1, "members": 0})
        );
        assert!(app.state.settings.data_dir.join("keys").join("novyi-dom.toml").exists());
        let r = app.post("/v1/admin/tenants", Some(&admin), &json!({"config_toml": NEW_TENANT})).await;
        assert_eq!((r.status, r.code()), (409, "tenant_exists"));

        // The new tenant works: a member joins, an operator sees the creation in the audit log.
        let vera = app.member("novyi-dom", "+7 903 111-22-33").await;
        let operator = app.staff("novyi-dom", "novyi.operator", krug::Role::Operator, None).await;
        let created = audit(&app, &operator, "tenant.create").await;
        assert_eq!(created.len(), 1);
        assert_eq!(
            (&created[0]["actor"], &created[0]["target"], &created[0]["detail"]),
            (&json!("superadmin:superadmin"), &json!("tenant:novyi-dom"), &json!("{\"businesses\":1}"))
        );

        // After a restart over the same folder and store, the tenant is hosted with the same keys:
        // the member's sealed phone still opens.
        app.restart().await;
        assert!(app.state.krug.hosted_tenants().iter().any(|t| t.as_str() == "novyi-dom"));
        let r = app.get("/v1/me", Some(&vera.access)).await;
        assert_eq!((r.status, &r.body["phone"]), (200, &json!("+79031112233")), "{:?}", r.body);
        let admin = app.superadmin().await.access;
        let r = app.get("/v1/admin/tenants", Some(&admin)).await;
        assert_eq!(
            r.body[0],
            json!({"id": "novyi-dom", "name": "Новый Дом", "suspended": false, "businesses": 1, "members": 1})
        );
    }
);

backend_test!(
    async fn only_the_superadmin_administers_tenants(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;
        for token in [&operator.access, &anna.access] {
            let r = app.get("/v1/admin/tenants", Some(token)).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"));
            let r = app.post("/v1/admin/tenants/svoy-krug/suspend", Some(token), &json!({})).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"));
            let r = app.post("/v1/admin/tenants", Some(token), &json!({"config_toml": NEW_TENANT})).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"));
        }
        assert_eq!(app.get("/v1/admin/tenants", None).await.status, 401);
        let admin = app.superadmin().await.access;
        let r = app.post("/v1/admin/tenants/no-such-tenant/suspend", Some(&admin), &json!({})).await;
        assert_eq!((r.status, r.code()), (404, "tenant_not_found"));
        let r = app.get("/v1/me/balance", Some(&anna.access)).await;
        assert_eq!(r.status, 200, "nothing was suspended");
    }
);

backend_test!(
    async fn a_suspended_tenant_refuses_its_members_and_staff_until_resumed(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let other = app.member("zelenyi-kvartal", "+7 912 000-00-01").await;
        let qr = app.qr(&anna).await;
        let admin = app.superadmin().await.access;

        let r = app.post("/v1/admin/tenants/svoy-krug/suspend", Some(&admin), &json!({})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["suspended"], true);

        let r = app.get("/v1/me/balance", Some(&anna.access)).await;
        assert_eq!((r.status, r.code()), (403, "tenant_suspended"), "{:?}", r.body);
        let r = app.scan(&cashier, &qr, 100_000, "M-1", 0).await;
        assert_eq!((r.status, r.code()), (403, "tenant_suspended"), "{:?}", r.body);
        let r = app.get("/v1/operator/staff", Some(&operator.access)).await;
        assert_eq!((r.status, r.code()), (403, "tenant_suspended"));
        let source = std::fs::read_to_string(repo_path("tenants/svoy-krug/tenant.toml")).unwrap();
        let changed = source.replace("hold_days = 14", "hold_days = 0");
        let r = app
            .send(Method::PUT, "/v1/operator/config", Some(&operator.access), Some(&json!({"config_toml": changed})))
            .await;
        assert_eq!((r.status, r.code()), (403, "tenant_suspended"), "a suspended tenant cannot be reconfigured");
        let r = app.post("/v1/auth/sms-code", None, &json!({"tenant": "svoy-krug", "phone": "+7 912 345-67-89"})).await;
        assert_eq!((r.status, r.code()), (403, "tenant_suspended"));
        let r = app.get("/v1/me/balance", Some(&other.access)).await;
        assert_eq!(r.status, 200, "another tenant is not affected");
        let r = app.get("/v1/admin/tenants", Some(&admin)).await;
        assert_eq!((&r.body[0]["id"], &r.body[0]["suspended"]), (&json!("svoy-krug"), &json!(true)));

        let r = app.post("/v1/admin/tenants/svoy-krug/resume", Some(&admin), &json!({})).await;
        assert_eq!((r.status, &r.body["suspended"]), (200, &json!(false)), "{:?}", r.body);
        let r = app.get("/v1/me/balance", Some(&anna.access)).await;
        assert_eq!((r.status, &r.body["available_kopecks"]), (200, &json!(0)));
        assert_eq!(app.get("/v1/operator/config", Some(&operator.access)).await.body["config_toml"], source.as_str());
        // The refused scan wrote nothing, so its code still pays.
        let r = app.scan(&cashier, &qr, 100_000, "M-1", 0).await;
        assert_eq!((r.status, &r.body["cashback_kopecks"]), (200, &json!(5_000)), "{:?}", r.body);

        for action in ["tenant.suspend", "tenant.resume"] {
            let records = audit(&app, &operator, action).await;
            assert_eq!(records.len(), 1, "{action}");
            assert_eq!(records[0]["actor"], "superadmin:superadmin");
        }
    }
);

backend_test!(
    async fn the_operator_creates_lists_and_changes_staff_without_their_passwords(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let body = json!({"login": "Mindal.Cashier", "password": PASSWORD, "role": "cashier", "business": "mindal"});
        let r = app.post("/v1/operator/staff", Some(&operator.access), &body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let id = r.body["staff_id"].as_str().unwrap().to_owned();
        let mut keys: Vec<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["active", "business", "created_at", "login", "role", "staff_id"]);
        assert_eq!(
            (&r.body["login"], &r.body["role"], &r.body["business"], &r.body["active"]),
            (&json!("mindal.cashier"), &json!("cashier"), &json!("mindal"), &json!(true))
        );
        let r = app.post("/v1/operator/staff", Some(&operator.access), &body).await;
        assert_eq!((r.status, r.code()), (409, "login_taken"));
        let r = app
            .post(
                "/v1/operator/staff",
                Some(&operator.access),
                &json!({"login": "x.cashier", "password": PASSWORD, "role": "cashier"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (422, "invalid_input"), "a cashier needs a business: {:?}", r.body);
        let r = app
            .post(
                "/v1/operator/staff",
                Some(&operator.access),
                &json!({"login": "y.cashier", "password": PASSWORD, "role": "cashier", "business": "nowhere"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (404, "business_not_found"));
        let r = app
            .post(
                "/v1/operator/staff",
                Some(&operator.access),
                &json!({"login": "z.cashier", "password": PASSWORD, "role": "janitor", "business": "mindal"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "malformed_body"), "{:?}", r.body);
        let r = app
            .post(
                "/v1/operator/staff",
                Some(&operator.access),
                &json!({"login": 12345, "password": PASSWORD, "role": "cashier", "business": "mindal"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (400, "malformed_body"), "a number is not a login: {:?}", r.body);
        let cashier = app.staff_login("svoy-krug", "mindal.cashier").await;

        let r = app.get("/v1/operator/staff", Some(&operator.access)).await;
        let logins: Vec<&str> = r.body.as_array().unwrap().iter().map(|s| s["login"].as_str().unwrap()).collect();
        assert_eq!(logins, ["mindal.cashier", "olga"]);
        let r = app.get("/v1/operator/staff?business=mindal", Some(&operator.access)).await;
        assert_eq!(r.body.as_array().unwrap().len(), 1);
        assert_eq!(r.body[0]["staff_id"], id.as_str());
        let r = app.get("/v1/operator/staff", Some(&cashier.access)).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"));

        // Deactivated: it can no longer sign in.
        let path = format!("/v1/operator/staff/{id}");
        let r = app.send(Method::PATCH, &path, Some(&operator.access), Some(&json!({"active": false}))).await;
        assert_eq!((r.status, &r.body["active"]), (200, &json!(false)), "{:?}", r.body);
        let r = app
            .post(
                "/v1/auth/staff-login",
                None,
                &json!({"tenant": "svoy-krug", "login": "mindal.cashier", "password": PASSWORD}),
            )
            .await;
        assert_eq!((r.status, r.code()), (401, "invalid_credentials"));
        // A cashier without a business is refused; promoted to operator, `null` clears it.
        let r = app.send(Method::PATCH, &path, Some(&operator.access), Some(&json!({"business": null}))).await;
        assert_eq!((r.status, r.code()), (422, "invalid_input"), "{:?}", r.body);
        let change = json!({"role": "operator", "business": null, "active": true});
        let r = app.send(Method::PATCH, &path, Some(&operator.access), Some(&change)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (&r.body["role"], &r.body["business"], &r.body["active"]),
            (&json!("operator"), &Value::Null, &json!(true))
        );
        let r = app.send(Method::PATCH, &path, Some(&operator.access), Some(&json!({}))).await;
        assert_eq!((r.status, r.code()), (422, "invalid_input"));
        let r = app
            .send(Method::PATCH, "/v1/operator/staff/not-an-id", Some(&operator.access), Some(&json!({"active": true})))
            .await;
        assert_eq!(r.status, 404);

        let updates = audit(&app, &operator, "staff.update").await;
        assert_eq!(updates.len(), 2);
        assert!(updates.iter().all(|u| !u["detail"].as_str().unwrap().contains(PASSWORD)));
    }
);

backend_test!(
    async fn an_owner_manages_only_the_cashiers_and_managers_of_his_own_business(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        app.staff("svoy-krug", "skin.cashier", krug::Role::Cashier, Some("skinerica")).await;

        let r = app
            .post(
                "/v1/operator/staff",
                Some(&owner.access),
                &json!({"login": "mindal.manager", "password": PASSWORD, "role": "manager"}),
            )
            .await;
        assert_eq!((r.status, &r.body["business"]), (201, &json!("mindal")), "his business by default: {:?}", r.body);
        let manager = r.body["staff_id"].as_str().unwrap().to_owned();
        for refused in [
            json!({"login": "mindal.owner2", "password": PASSWORD, "role": "owner"}),
            json!({"login": "mindal.op", "password": PASSWORD, "role": "operator"}),
            json!({"login": "skin.cashier2", "password": PASSWORD, "role": "cashier", "business": "skinerica"}),
        ] {
            let r = app.post("/v1/operator/staff", Some(&owner.access), &refused).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"), "{refused}");
        }

        let r = app.get("/v1/operator/staff", Some(&owner.access)).await;
        let logins: Vec<&str> = r.body.as_array().unwrap().iter().map(|s| s["login"].as_str().unwrap()).collect();
        assert_eq!(logins, ["mindal.manager"], "his cashiers and managers only");
        let r = app.get("/v1/operator/staff?business=skinerica", Some(&owner.access)).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"));

        let staff = app.state.krug.list_staff(&krug::types::TenantId::parse("svoy-krug").unwrap(), None).await.unwrap();
        let other = staff.iter().find(|s| s.login.as_str() == "skin.cashier").unwrap().id;
        let own = staff.iter().find(|s| s.login.as_str() == "mindal.owner").unwrap().id;
        for (id, change) in [
            (other.to_string(), json!({"active": false})),
            (own.to_string(), json!({"active": false})),
            (manager.clone(), json!({"role": "owner"})),
            (manager.clone(), json!({"business": "skinerica"})),
            (manager.clone(), json!({"business": null})),
        ] {
            let r =
                app.send(Method::PATCH, &format!("/v1/operator/staff/{id}"), Some(&owner.access), Some(&change)).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"), "{change}");
        }
        let new_password = "another-long-password";
        let change = json!({"role": "cashier", "password": new_password});
        let r =
            app.send(Method::PATCH, &format!("/v1/operator/staff/{manager}"), Some(&owner.access), Some(&change)).await;
        assert_eq!((r.status, &r.body["role"]), (200, &json!("cashier")), "{:?}", r.body);
        let r = app
            .post(
                "/v1/auth/staff-login",
                None,
                &json!({"tenant": "svoy-krug", "login": "mindal.manager", "password": new_password}),
            )
            .await;
        assert_eq!((r.status, &r.body["role"]), (200, &json!("cashier")), "{:?}", r.body);
        let r = app.get("/v1/operator/config", Some(&owner.access)).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"));
    }
);

backend_test!(
    async fn the_operator_replaces_the_configuration_and_a_bad_file_changes_nothing(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let original = std::fs::read_to_string(repo_path("tenants/svoy-krug/tenant.toml")).unwrap();
        let r = app.get("/v1/operator/config", Some(&operator.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["config_toml"], original.as_str());
        let r = app.get("/v1/operator/businesses", Some(&operator.access)).await;
        assert_eq!(r.body.as_array().unwrap().len(), 5);
        assert_eq!(
            r.body[2],
            json!({"business": "stim-center", "name": "Стим Центр", "category": "dentistry", "medical": true})
        );

        let broken = original
            .replace("hold_days = 14", "hold_days = 400")
            .replace("event_share_bps = 200", "event_share_bps = 20000");
        let r = app
            .send(Method::PUT, "/v1/operator/config", Some(&operator.access), Some(&json!({"config_toml": broken})))
            .await;
        assert_eq!((r.status, r.code()), (422, "invalid_config"), "{:?}", r.body);
        let fields: Vec<&str> =
            r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["bonus.hold_days", "budget.event_share_bps"], "{:?}", r.body);
        let other = std::fs::read_to_string(repo_path("sdk/krug-testkit/fixtures/other-tenant/tenant.toml")).unwrap();
        let r = app
            .send(Method::PUT, "/v1/operator/config", Some(&operator.access), Some(&json!({"config_toml": other})))
            .await;
        assert_eq!((r.status, r.code()), (422, "invalid_input"), "{:?}", r.body);
        let r = app.get("/v1/operator/config", Some(&operator.access)).await;
        assert_eq!(r.body["config_toml"], original.as_str(), "refused files changed nothing");

        let extended =
            format!("{original}\n[[businesses]]\nid = \"pekarnya\"\nname = \"Пекарня\"\ncategory = \"bakery\"\n");
        let r = app
            .send(Method::PUT, "/v1/operator/config", Some(&operator.access), Some(&json!({"config_toml": extended})))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let r = app.get("/v1/operator/businesses", Some(&operator.access)).await;
        assert_eq!(r.body.as_array().unwrap().len(), 6);
        assert_eq!(
            r.body[5],
            json!({"business": "pekarnya", "name": "Пекарня", "category": "bakery", "medical": false})
        );
        let r = app
            .post(
                "/v1/operator/staff",
                Some(&operator.access),
                &json!({"login": "pekarnya.cashier", "password": PASSWORD, "role": "cashier", "business": "pekarnya"}),
            )
            .await;
        assert_eq!(r.status, 201, "the new business has staff at once: {:?}", r.body);
        let configured = audit(&app, &operator, "tenant.configure").await;
        assert_eq!(configured.len(), 1);
        let detail: Value = serde_json::from_str(configured[0]["detail"].as_str().unwrap()).unwrap();
        assert_eq!(detail["businesses"], 6);
        assert_eq!(detail["sha256"].as_str().unwrap().len(), 64);
    }
);

backend_test!(
    async fn a_cashier_confirms_a_member_without_her_phone_by_code_and_scans_her(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let cashier = app.staff("svoy-krug", "skin.cashier", krug::Role::Cashier, Some("skinerica")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        let phone = "8 (916) 555-44-33";

        let r = app.post("/v1/counter/lookup", Some(&cashier.access), &json!({"phone": phone})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["expires_at"], "2026-03-02T09:05:00Z");
        let text = app.sms.last_to("+79165554433").unwrap();
        assert!(text.contains("«Skinerica»") && text.contains("«Свой Круг»"), "{text}");
        let code = code_in(&text);
        assert_eq!(code.len(), 6);

        let wrong = if code == "000000" { "111111" } else { "000000" };
        let r = app
            .post("/v1/counter/lookup/confirm", Some(&cashier.access), &json!({"phone": phone, "code": wrong}))
            .await;
        assert_eq!((r.status, r.code()), (422, "code_invalid"), "{:?}", r.body);
        let r =
            app.post("/v1/counter/lookup/confirm", Some(&cashier.access), &json!({"phone": phone, "code": code})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["new_member"], true);
        let member = r.body["member_id"].as_str().unwrap().to_owned();
        let qr = r.body["qr"].as_str().unwrap().to_owned();
        let r =
            app.post("/v1/counter/lookup/confirm", Some(&cashier.access), &json!({"phone": phone, "code": code})).await;
        assert_eq!((r.status, r.code()), (422, "code_expired"), "a code confirms once");

        let r = app.scan(&cashier, &qr, 200_000, "S-1", 0).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["member_id"].as_str(), &r.body["cashback_kopecks"]),
            (Some(member.as_str()), &json!(10_000))
        );

        // She is the same member when she signs in herself, and the lookup is in the audit log.
        app.clock.advance(time::Duration::seconds(61));
        let her = app.member("svoy-krug", phone).await;
        assert_eq!(her.member.as_deref(), Some(member.as_str()));
        let looked_up = audit(&app, &operator, "member.lookup").await;
        assert_eq!(looked_up.len(), 1);
        assert_eq!(looked_up[0]["target"], format!("member:{member}"));

        // A second lookup of a member who already has a QR secret keeps it: the payload is the
        // one her app shows.
        app.clock.advance(time::Duration::seconds(61));
        let r = app.post("/v1/counter/lookup", Some(&cashier.access), &json!({"phone": phone})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let code = code_in(&app.sms.last_to("+79165554433").unwrap());
        let r =
            app.post("/v1/counter/lookup/confirm", Some(&cashier.access), &json!({"phone": phone, "code": code})).await;
        assert_eq!((r.status, &r.body["new_member"]), (200, &json!(false)));
        let shown = app.get("/v1/me/qr", Some(&her.access)).await;
        assert_eq!((shown.status, &shown.body["qr"]), (200, &r.body["qr"]), "the same secret, the same step");

        for token in [&her.access, &operator.access] {
            let r = app.post("/v1/counter/lookup", Some(token), &json!({"phone": phone})).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"));
        }
    }
);

backend_test!(
    async fn the_counter_lookup_is_limited_per_client_address(db: TestDb) {
        let app = TestApp::spawn(db).await;
        // The sign-in below is the first of the address's 30 requests a minute.
        let cashier = app.staff("svoy-krug", "skin.cashier", krug::Role::Cashier, Some("skinerica")).await;
        for _ in 0..29 {
            let r = app.post("/v1/counter/lookup", Some(&cashier.access), &json!({"phone": "12345"})).await;
            assert_eq!((r.status, r.code()), (422, "invalid_input"), "{:?}", r.body);
        }
        let r = app
            .post(
                "/v1/counter/lookup/confirm",
                Some(&cashier.access),
                &json!({"phone": "+7 916 555-44-33", "code": "123456"}),
            )
            .await;
        assert_eq!((r.status, r.code()), (429, "rate_limited"), "{:?}", r.body);
        assert_eq!(r.headers.get("retry-after").unwrap(), "60");
        assert!(app.sms.last_to("+79165554433").is_none());
    }
);
