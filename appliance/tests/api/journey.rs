//! The member's journey end to end over HTTP, with exact numbers.

use krug_testkit::backend_test;
use serde_json::json;

use crate::common::*;

backend_test!(
    async fn the_member_journey_from_sms_to_settlement(db: TestDb) {
        let app = TestApp::spawn(db).await;
        let anna = app.member("svoy-krug", "8 (912) 345-67-89").await;
        let skinerica = app.staff("svoy-krug", "skinerica.cashier", krug::Role::Cashier, Some("skinerica")).await;
        let lisichkino = app.staff("svoy-krug", "lisichkino.cashier", krug::Role::Cashier, Some("lisichkino")).await;
        let mindal = app.staff("svoy-krug", "mindal.cashier", krug::Role::Cashier, Some("mindal")).await;
        app.staff("svoy-krug", "stim.cashier", krug::Role::Cashier, Some("stim-center")).await;
        app.staff("svoy-krug", "olga", krug::Role::Operator, None).await;

        // Three partners, three categories, 30,000 ₽ in all: VIP on the third purchase, at 7 %.
        let r = app.scan(&skinerica, &app.qr(&anna).await, 1_000_000, "S-1", 0).await;
        assert_eq!((r.status, r.body["cashback_kopecks"].as_i64()), (200, Some(50_000)), "{:?}", r.body);
        app.clock.advance(time::Duration::seconds(30));
        let r = app.scan(&lisichkino, &app.qr(&anna).await, 1_000_000, "L-1", 0).await;
        assert_eq!(r.body["cashback_kopecks"], 50_000);
        app.clock.advance(time::Duration::seconds(30));
        let r = app.scan(&mindal, &app.qr(&anna).await, 1_000_000, "M-1", 0).await;
        assert_eq!(r.body["tier_after"], "vip");
        assert_eq!(r.body["tier_changed"], true);
        assert_eq!(r.body["cashback_kopecks"], 70_000);
        app.clock.advance(time::Duration::seconds(30));
        let r = app.scan(&mindal, &app.qr(&anna).await, 100_000, "M-2", 0).await;
        assert_eq!(r.body["cashback_kopecks"], 7_000, "the next purchase earns 7 %");

        // The hold passes; part of the balance is spent at a fourth partner, then partly refunded.
        app.clock.advance(time::Duration::days(14));
        let anna = app.refresh("svoy-krug", &anna).await;
        let stim = app.staff_login("svoy-krug", "stim.cashier").await;
        let operator = app.staff_login("svoy-krug", "olga").await;
        let status = app.get("/v1/me/balance", Some(&anna.access)).await;
        assert_eq!(status.body["available_kopecks"], 177_000);
        let refused = app.scan(&stim, &app.qr(&anna).await, 200_000, "D-1", 60_000).await;
        assert_eq!(
            (refused.status, refused.code()),
            (409, "medical_consent_required"),
            "a clinic needs her consent first"
        );
        app.medical_consent(&anna).await;
        let r = app.scan(&stim, &app.qr(&anna).await, 200_000, "D-1", 60_000).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(
            (r.body["redeemed_kopecks"].as_i64(), r.body["paid_kopecks"].as_i64()),
            (Some(60_000), Some(140_000))
        );
        assert_eq!(r.body["cashback_kopecks"], 9_800);
        let purchase = r.body["purchase_id"].as_str().unwrap().to_owned();
        let refund = app
            .post(
                &format!("/v1/purchases/{purchase}/refunds"),
                Some(&stim.access),
                &json!({"refund_id": "D-1-r", "amount_kopecks": 100_000}),
            )
            .await;
        assert_eq!(refund.status, 200, "{:?}", refund.body);
        assert_eq!(refund.body["bonus_returned_kopecks"], 30_000);
        assert_eq!(refund.body["cashback_reversed_kopecks"], 4_900);

        let balance = app.get("/v1/me/balance", Some(&anna.access)).await;
        assert_eq!(balance.body["available_kopecks"], 177_000 - 60_000 + 30_000);
        assert_eq!(balance.body["pending_kopecks"], 9_800 - 4_900);
        let history = app.get("/v1/me/history?limit=3", Some(&anna.access)).await;
        assert_eq!(history.body["items"].as_array().unwrap().len(), 3);
        assert_eq!(history.body["items"][0]["kind"], "reversal");
        let status = app.get("/v1/me/status", Some(&anna.access)).await;
        assert_eq!(status.body["tier"], "vip");

        // The clinic's redemption is a debt of the issuers to Стим Центр, net of the give-back.
        let from = "2026-03-01T00:00:00Z";
        let to = "2026-04-01T00:00:00Z";
        let s = app.get(&format!("/v1/operator/settlement?from={from}&to={to}"), Some(&operator.access)).await;
        assert_eq!(s.status, 200, "{:?}", s.body);
        let total: i64 = s.body.as_array().unwrap().iter().map(|l| l["amount_kopecks"].as_i64().unwrap()).sum();
        assert_eq!(total, 30_000);
        assert!(s.body.as_array().unwrap().iter().all(|l| l["to"] == "stim-center"));
    }
);
