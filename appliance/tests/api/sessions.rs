//! Sessions: sign-in rate limits (per phone, durable, with the exact wait; per client address),
//! refresh-token rotation with reuse detection, sign-out, and staff accounts that changed.

use krug_testkit::backend_test;
use serde_json::json;

use crate::common::*;

fn retry_after(r: &Reply) -> u32 {
    r.headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        panic!("no Retry-After in {:?}", r.headers);
    })
}

async fn sms_code(app: &TestApp, tenant: &str, phone: &str) -> Reply {
    app.post("/v1/auth/sms-code", None, &json!({"tenant": tenant, "phone": phone})).await
}

async fn use_refresh(app: &TestApp, tenant: &str, token: &str) -> Reply {
    app.post("/v1/auth/refresh", None, &json!({"tenant": tenant, "refresh_token": token})).await
}

async fn staff_id(app: &TestApp, tenant: &str, login: &str) -> krug::types::StaffId {
    let t = krug::types::TenantId::parse(tenant).unwrap();
    let all = app.state.krug.list_staff(&t, None).await.unwrap();
    all.iter().find(|s| s.login.to_string() == login).unwrap().id
}

backend_test!(
    async fn sms_codes_are_limited_per_phone_with_the_seconds_left(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let phone = "+79123000001";
        assert_eq!(sms_code(&app, "svoy-krug", phone).await.status, 200);
        let first = app.sms.last_to(phone).unwrap();

        app.clock.advance(time::Duration::seconds(20));
        let r = sms_code(&app, "svoy-krug", "8 (912) 300-00-01").await;
        r.assert_problem(429, "rate_limited");
        assert_eq!(retry_after(&r), 40);
        app.clock.advance(time::Duration::seconds(39));
        assert_eq!(retry_after(&sms_code(&app, "svoy-krug", phone).await), 1);
        assert_eq!(app.sms.last_to(phone).unwrap(), first, "a refused request sends nothing");
        // The limit is the phone's in this tenant: another phone, or the same one elsewhere, is free.
        assert_eq!(sms_code(&app, "svoy-krug", "+79123000002").await.status, 200);
        assert_eq!(sms_code(&app, "zelenyi-kvartal", phone).await.status, 200);

        // Five codes an hour: one a minute from the start, then the sixth waits for the first
        // to leave the hour.
        for _ in 0..4 {
            app.clock.advance(time::Duration::seconds(60));
            assert_eq!(sms_code(&app, "svoy-krug", phone).await.status, 200);
        }
        app.clock.advance(time::Duration::seconds(60));
        let r = sms_code(&app, "svoy-krug", phone).await;
        r.assert_problem(429, "rate_limited");
        // Codes went out at 0, 119, 179, 239 and 299 s; the first leaves the hour at 3600.
        assert_eq!(retry_after(&r), 3600 - 359);
    }
);

backend_test!(
    async fn sign_in_calls_are_limited_per_client_address(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let limit = app.state.settings.auth_requests_per_minute;
        assert_eq!(limit, 30);
        // Every sign-in endpoint counts, whatever its answer.
        for i in 0..limit {
            let r = match i % 3 {
                0 => sms_code(&app, "svoy-krug", &format!("+7912400{i:04}")).await,
                1 => {
                    let body = json!({"tenant": "svoy-krug", "phone": "+79124009999", "code": "000000"});
                    app.post("/v1/auth/sms-verify", None, &body).await
                }
                _ => {
                    let body = json!({"tenant": "svoy-krug", "login": "nobody", "password": "wrong password"});
                    app.post("/v1/auth/staff-login", None, &body).await
                }
            };
            assert_ne!(r.status, 429, "call {i}: {:?}", r.body);
        }
        let fresh = "+79124008888";
        let refused = [
            sms_code(&app, "svoy-krug", fresh).await,
            app.post("/v1/auth/sms-verify", None, &json!({"tenant": "svoy-krug", "phone": fresh, "code": "000000"}))
                .await,
            app.post("/v1/auth/staff-login", None, &json!({"tenant": "svoy-krug", "login": "a.b", "password": "c"}))
                .await,
            app.post("/v1/auth/superadmin-login", None, &json!({"login": "superadmin", "password": PASSWORD})).await,
        ];
        for r in &refused {
            r.assert_problem(429, "rate_limited");
            let wait = retry_after(r);
            assert!((1..=60).contains(&wait), "Retry-After {wait}");
        }
        assert_eq!(app.sms.last_to(fresh), None, "a refused request sends nothing");
        // Refreshing is not signing in: it stays available.
        use_refresh(&app, "svoy-krug", "0190a1b2c3d4e5f60718293a4b5c6d7e.Zm9v")
            .await
            .assert_problem(401, "refresh_invalid");
    }
);

backend_test!(
    async fn a_reused_refresh_token_revokes_its_whole_sign_in(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 300-00-03").await;
        app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let cashier = app.staff_login("svoy-krug", "mindal.cashier").await;
        for (first, probe) in [(&anna, "/v1/me/balance"), (&cashier, "/v1/me/catalogue")] {
            let second = app.refresh("svoy-krug", first).await;
            assert_ne!(second.refresh, first.refresh);
            assert_eq!(app.get(probe, Some(&second.access)).await.status, 200);
            let third = app.refresh("svoy-krug", &second).await;

            // The used token again: refused, and the family is dead from then on.
            use_refresh(&app, "svoy-krug", second.refresh.as_deref().unwrap())
                .await
                .assert_problem(401, "refresh_reused");
            use_refresh(&app, "svoy-krug", third.refresh.as_deref().unwrap())
                .await
                .assert_problem(401, "refresh_invalid");
            use_refresh(&app, "svoy-krug", first.refresh.as_deref().unwrap())
                .await
                .assert_problem(401, "refresh_invalid");
        }
        // Another sign-in of the same member is another family, untouched.
        app.clock.advance(time::Duration::seconds(61));
        let again = app.member("svoy-krug", "+7 912 300-00-03").await;
        assert_eq!(again.member, anna.member);
        let next = app.refresh("svoy-krug", &again).await;
        assert_eq!(app.get("/v1/me/balance", Some(&next.access)).await.status, 200);
        // A token is its tenant's only.
        use_refresh(&app, "zelenyi-kvartal", next.refresh.as_deref().unwrap())
            .await
            .assert_problem(401, "refresh_invalid");
        app.refresh("svoy-krug", &next).await;
    }
);

backend_test!(
    async fn logout_revokes_every_token_of_the_sign_in(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let first = app.member("svoy-krug", "+7 912 300-00-04").await;
        app.clock.advance(time::Duration::seconds(61));
        let other = app.member("svoy-krug", "+7 912 300-00-04").await;
        let second = app.refresh("svoy-krug", &first).await;
        let app = &app;
        let logout = |token: String| async move {
            app.post("/v1/auth/logout", None, &json!({"tenant": "svoy-krug", "refresh_token": token})).await
        };
        // Signing out with an already-rotated token of the family ends the newest one too.
        let r = logout(first.refresh.clone().unwrap()).await;
        assert_eq!(r.status, 204, "{:?}", r.body);
        use_refresh(app, "svoy-krug", second.refresh.as_deref().unwrap()).await.assert_problem(401, "refresh_invalid");
        // The member's other sign-in lives on, until it signs out too.
        let other = app.refresh("svoy-krug", &other).await;
        assert_eq!(logout(other.refresh.clone().unwrap()).await.status, 204);
        use_refresh(app, "svoy-krug", other.refresh.as_deref().unwrap()).await.assert_problem(401, "refresh_invalid");
        // Signing out twice, or with nonsense, is not an error and tells nothing.
        assert_eq!(logout(other.refresh.clone().unwrap()).await.status, 204);
        assert_eq!(logout("nonsense".into()).await.status, 204);
    }
);

backend_test!(
    async fn a_deactivated_or_changed_staff_account_gets_no_new_tokens(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let tenant = krug::types::TenantId::parse("svoy-krug").unwrap();
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let manager = app.staff("svoy-krug", "mindal.manager", krug::Role::Manager, Some("mindal")).await;
        let owner = app.staff("svoy-krug", "mindal.owner", krug::Role::Owner, Some("mindal")).await;
        let update =
            |active: Option<bool>, role: Option<krug::Role>, business: Option<Option<&str>>| krug::StaffUpdate {
                role,
                business: business.map(|b| b.map(|b| krug::types::BusinessId::parse(b).unwrap())),
                active,
                password: None,
                actor: "test".into(),
                client: None,
            };
        let id = staff_id(&app, "svoy-krug", "mindal.cashier").await;
        app.state.krug.update_staff(&tenant, id, update(Some(false), None, None)).await.unwrap();
        use_refresh(&app, "svoy-krug", cashier.refresh.as_deref().unwrap())
            .await
            .assert_problem(401, "refresh_invalid");
        let body = json!({"tenant": "svoy-krug", "login": "mindal.cashier", "password": PASSWORD});
        app.post("/v1/auth/staff-login", None, &body).await.assert_problem(401, "invalid_credentials");

        // Demoted: the refresh token would still say manager.
        let id = staff_id(&app, "svoy-krug", "mindal.manager").await;
        app.state.krug.update_staff(&tenant, id, update(None, Some(krug::Role::Cashier), None)).await.unwrap();
        use_refresh(&app, "svoy-krug", manager.refresh.as_deref().unwrap())
            .await
            .assert_problem(401, "refresh_invalid");
        // Moved to another business: the token would still say mindal.
        let id = staff_id(&app, "svoy-krug", "mindal.owner").await;
        app.state.krug.update_staff(&tenant, id, update(None, None, Some(Some("skinerica")))).await.unwrap();
        use_refresh(&app, "svoy-krug", owner.refresh.as_deref().unwrap()).await.assert_problem(401, "refresh_invalid");
        let moved = app.staff_login("svoy-krug", "mindal.owner").await;
        let r = app.get("/v1/business/clients", Some(&moved.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
);
