//! The member's own profile and consents, exactly as she set them — and out of staff's reach.

use krug_testkit::backend_test;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::*;

const SHA: &str = "5bafe87be65946ce973c2f4eec4cdf72007ff7c9adcd9ec4f46f0cea1ba45197";
const OTHER_SHA: &str = "0000000000000000000000000000000000000000000000000000000000000001";

backend_test!(
    async fn a_member_sets_and_clears_her_profile_and_staff_cannot_read_it(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;
        let id = anna.member.clone().unwrap();

        let r = app.get("/v1/me", Some(&anna.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let joined = r.body["joined_at"].clone();
        let set = json!({"name": "  Анна Петрова ", "birthday": "1990-05-17"});
        let r = app.send(Method::PATCH, "/v1/me", Some(&anna.access), Some(&set)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let expected = json!({
            "member_id": id, "phone": "+79123456789", "name": "Анна Петрова", "birthday": "1990-05-17", "joined_at": joined,
        });
        assert_eq!(r.body, expected);
        assert_eq!(app.get("/v1/me", Some(&anna.access)).await.body, expected);

        // Absent stays, null clears.
        let r = app.send(Method::PATCH, "/v1/me", Some(&anna.access), Some(&json!({"birthday": null}))).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let cleared = json!({"member_id": id, "phone": "+79123456789", "name": "Анна Петрова", "birthday": null, "joined_at": joined});
        assert_eq!(app.get("/v1/me", Some(&anna.access)).await.body, cleared);
        let r = app.send(Method::PATCH, "/v1/me", Some(&anna.access), Some(&json!({"name": null}))).await;
        assert_eq!((r.status, &r.body["name"]), (200, &Value::Null));

        // Refusals change nothing.
        for (body, status, code) in [
            (json!({}), 422, "invalid_input"),
            (json!({"birthday": "2030-01-01"}), 422, "invalid_input"),
            (json!({"name": "x".repeat(201)}), 422, "invalid_input"),
            (json!({"phone": "+79990000000"}), 400, "malformed_body"),
            (json!({"birthday": "17.05.1990"}), 400, "malformed_body"),
            (json!({"name": 12345}), 400, "malformed_body"),
        ] {
            let r = app.send(Method::PATCH, "/v1/me", Some(&anna.access), Some(&body)).await;
            assert_eq!((r.status, r.code()), (status, code), "{body}: {:?}", r.body);
        }
        let r = app.post_raw("/v1/me/consents", Some(&anna.access), "{\"kind\": \"marketing_sms\",").await;
        assert_eq!((r.status, r.code()), (400, "malformed_body"));
        let r = app.get("/v1/me", Some(&anna.access)).await;
        assert_eq!(
            (&r.body["name"], &r.body["birthday"], &r.body["phone"]),
            (&Value::Null, &Value::Null, &json!("+79123456789"))
        );

        // Staff of her ecosystem cannot read or change a member's profile or consents here.
        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let operator = app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;
        for token in [&cashier.access, &operator.access] {
            assert_eq!(app.get("/v1/me", Some(token)).await.status, 403);
            assert_eq!(app.get("/v1/me/consents", Some(token)).await.status, 403);
            let r = app.send(Method::PATCH, "/v1/me", Some(token), Some(&json!({"name": "Хакер"}))).await;
            assert_eq!((r.status, r.code()), (403, "forbidden"));
        }
        assert_eq!(app.get("/v1/me", None).await.status, 401);
        assert_eq!(app.get("/v1/me", Some(&anna.access)).await.body["name"], Value::Null);
    }
);

backend_test!(
    async fn consents_are_granted_listed_and_withdrawn_one_purpose_at_a_time(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "+7 912 345-67-89").await;

        // Signing up recorded her consent to processing, by SMS.
        let r = app.get("/v1/me/consents", Some(&anna.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body.as_array().unwrap().len(), 1);
        let processing = r.body[0].clone();
        assert_eq!(
            (&processing["kind"], &processing["text_version"], &processing["text_sha256"], &processing["channel"]),
            (
                &json!("processing"),
                &json!(krug::identity::PROCESSING_CONSENT_VERSION),
                &json!(krug::identity::PROCESSING_CONSENT_SHA256),
                &json!("sms")
            )
        );
        assert_eq!(
            (&processing["granted_at"], &processing["withdrawn_at"]),
            (&json!("2026-03-02T09:00:00Z"), &Value::Null)
        );

        app.clock.advance(time::Duration::minutes(1));
        let grant = json!({"kind": "marketing_sms", "text_version": "marketing-sms-v1", "text_sha256": SHA});
        let r = app.post("/v1/me/consents", Some(&anna.access), &grant).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let sms = r.body.clone();
        assert_eq!(
            (
                &sms["kind"],
                &sms["text_version"],
                &sms["text_sha256"],
                &sms["channel"],
                &sms["granted_at"],
                &sms["withdrawn_at"]
            ),
            (
                &json!("marketing_sms"),
                &json!("marketing-sms-v1"),
                &json!(SHA),
                &json!("app"),
                &json!("2026-03-02T09:01:00Z"),
                &Value::Null
            )
        );
        // Granting what is in force returns that row and writes nothing.
        let again = json!({"kind": "marketing_sms", "text_version": "marketing-sms-v2", "text_sha256": OTHER_SHA});
        assert_eq!(app.post("/v1/me/consents", Some(&anna.access), &again).await.body, sms);
        let partner = json!({"kind": "partner_transfer", "text_version": "partners-2026-03", "text_sha256": OTHER_SHA, "channel": "partner-desk"});
        let r = app.post("/v1/me/consents", Some(&anna.access), &partner).await;
        assert_eq!((r.status, &r.body["channel"]), (200, &json!("partner-desk")));
        let transfer = r.body.clone();

        app.clock.advance(time::Duration::minutes(1));
        let r = app.send(Method::DELETE, "/v1/me/consents/marketing_sms", Some(&anna.access), None).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let mut withdrawn = sms.clone();
        withdrawn["withdrawn_at"] = json!("2026-03-02T09:02:00Z");
        assert_eq!(r.body, withdrawn);
        let r = app.send(Method::DELETE, "/v1/me/consents/marketing_sms", Some(&anna.access), None).await;
        assert_eq!((r.status, r.code()), (409, "consent_not_active"));
        let r = app.send(Method::DELETE, "/v1/me/consents/marketing_email", Some(&anna.access), None).await;
        assert_eq!((r.status, r.code()), (409, "consent_not_active"));
        let r = app.send(Method::DELETE, "/v1/me/consents/marketing", Some(&anna.access), None).await;
        assert_eq!((r.status, r.code()), (404, "not_found"), "{:?}", r.body);

        // Granted again: a new row; the ledger keeps the withdrawn one.
        let r = app.post("/v1/me/consents", Some(&anna.access), &again).await;
        assert_eq!(r.status, 200);
        assert_ne!(r.body["consent_id"], sms["consent_id"]);
        let regranted = r.body.clone();
        let r = app.get("/v1/me/consents", Some(&anna.access)).await;
        assert_eq!(r.body, json!([processing, withdrawn, transfer, regranted]));

        for (body, status, code) in [
            (json!({"kind": "marketing_push", "text_version": "v1", "text_sha256": "ABC"}), 422, "invalid_input"),
            (json!({"kind": "marketing_push", "text_version": " ", "text_sha256": SHA}), 422, "invalid_input"),
            (
                json!({"kind": "marketing_push", "text_version": "v1", "text_sha256": SHA, "channel": "Post Office"}),
                422,
                "invalid_input",
            ),
            (json!({"kind": "marketing", "text_version": "v1", "text_sha256": SHA}), 400, "malformed_body"),
            (json!({"kind": "marketing_push", "text_version": 1, "text_sha256": SHA}), 400, "malformed_body"),
            (
                json!({"kind": "marketing_push", "text_version": "v1", "text_sha256": SHA, "bundle": true}),
                400,
                "malformed_body",
            ),
        ] {
            let r = app.post("/v1/me/consents", Some(&anna.access), &body).await;
            assert_eq!((r.status, r.code()), (status, code), "{body}: {:?}", r.body);
        }
        assert_eq!(app.get("/v1/me/consents", Some(&anna.access)).await.body.as_array().unwrap().len(), 4);

        let cashier = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        let r = app.post("/v1/me/consents", Some(&cashier.access), &grant).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"));
        let r = app.send(Method::DELETE, "/v1/me/consents/processing", Some(&cashier.access), None).await;
        assert_eq!((r.status, r.code()), (403, "forbidden"));
    }
);
