//! Status tiers with the launch numbers: thresholds are inclusive, both spend and categories
//! count, a crossing purchase earns the new rate, downgrades wait out the grace period.

use krug::RecordPurchase;
use krug::types::{Bps, Category, Kopecks, TierCode};
use krug_testkit::backend_test;
use time::Duration;

use crate::common::*;

fn tier(s: &str) -> Option<TierCode> {
    Some(TierCode::parse(s).unwrap())
}

backend_test!(
    async fn three_categories_totalling_exactly_30000_reach_vip_and_the_crossing_purchase_earns_7_percent(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let a = env.buy(anna, "skinerica", 10_000, "1").await;
        assert_eq!((a.tier_before.clone(), a.tier_after.clone(), a.tier_changed), (None, tier("insider"), true));
        let p = a.progress.clone().unwrap();
        assert_eq!((p.next, p.missing_spend, p.missing_categories), (tier("vip").unwrap(), rub(20_000), 2));
        let b = env.buy(anna, "lisichkino", 10_000, "2").await;
        assert_eq!((b.tier_after.clone(), b.tier_changed, b.cashback), (tier("insider"), false, bonus(50_000)));
        let c = env.buy(anna, "mindal", 10_000, "3").await;
        assert_eq!((c.tier_before, c.tier_after, c.tier_changed), (tier("insider"), tier("vip"), true));
        assert_eq!(c.cashback_rate, Bps::new(700).unwrap());
        assert_eq!(c.cashback, bonus(70_000), "7 % of 10,000 ₽ on the purchase that crossed");
        let d = env.buy(anna, "mindal", 1_000, "4").await;
        assert_eq!(d.cashback, bonus(7_000));
    }
);

backend_test!(
    async fn one_kopeck_short_of_30000_stays_insider(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 10_000, "1").await;
        env.buy(anna, "lisichkino", 10_000, "2").await;
        let r = env
            .krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("mindal"), Kopecks::new(999_999).unwrap(), "3"))
            .await
            .unwrap();
        assert_eq!(r.tier_after, tier("insider"));
        let p = r.progress.unwrap();
        assert_eq!((p.missing_spend, p.missing_categories), (Kopecks::new(1).unwrap(), 0));
    }
);

backend_test!(
    async fn one_hundred_thousand_in_four_categories_is_vip_not_elite(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.medical_consent(anna).await;
        for (i, b) in ["skinerica", "lisichkino", "mindal", "stim-center"].iter().enumerate() {
            env.buy(anna, b, 25_000, &format!("{i}")).await;
        }
        let status = env.krug.status(&env.tenant, anna).await.unwrap();
        assert_eq!(status.tier, tier("vip"));
        assert_eq!(status.window_spend, rub(100_000));
        assert_eq!(status.window_categories.len(), 4);
        let p = status.progress.unwrap();
        assert_eq!((p.next, p.missing_spend, p.missing_categories), (tier("elite").unwrap(), rub(0), 1));
        let r = env.buy(anna, "millennium", 1_000, "5").await;
        assert_eq!((r.tier_after, r.cashback_rate), (tier("elite"), Bps::new(1_000).unwrap()));
    }
);

backend_test!(
    async fn a_category_override_counts_toward_tiers_only_for_known_categories(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let r = env
            .krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(anna, biz("lisichkino"), rub(100), "1")
                    .category(Category::parse("beauty_salon").unwrap()),
            )
            .await
            .unwrap();
        assert_eq!(r.category.as_str(), "beauty_salon");
        let err = env
            .krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(anna, biz("lisichkino"), rub(100), "2")
                    .category(Category::parse("casino").unwrap()),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid_input");
    }
);

backend_test!(
    async fn a_refund_below_the_threshold_downgrades_only_after_the_grace_period(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 10_000, "1").await;
        env.buy(anna, "lisichkino", 10_000, "2").await;
        let vip = env.buy(anna, "mindal", 10_000, "3").await;
        assert_eq!(vip.tier_after, tier("vip"));
        let refund = env
            .krug
            .refund(
                &env.tenant,
                krug::RefundPurchase { purchase: vip.purchase, refund_id: "R".into(), amount: Some(rub(1)) },
            )
            .await
            .unwrap();
        assert_eq!(refund.tier_after, tier("vip"), "held through the grace period");
        let status = env.krug.status(&env.tenant, anna).await.unwrap();
        assert!(status.in_grace);
        assert_eq!(status.cashback_rate, Bps::new(700).unwrap());
        env.days(29);
        assert_eq!(env.krug.status(&env.tenant, anna).await.unwrap().tier, tier("vip"));
        env.days(1);
        let status = env.krug.status(&env.tenant, anna).await.unwrap();
        assert_eq!((status.tier, status.in_grace), (tier("insider"), false));
        assert_eq!(
            env.buy(anna, "mindal", 1_000, "4").await.cashback,
            bonus(7_000),
            "… and buying back up restores VIP at once"
        );
    }
);

backend_test!(
    async fn purchases_older_than_the_rolling_window_stop_counting(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 10_000, "1").await;
        env.days(200);
        env.buy(anna, "lisichkino", 10_000, "2").await;
        env.buy(anna, "mindal", 10_000, "3").await;
        assert_eq!(env.krug.status(&env.tenant, anna).await.unwrap().tier, tier("vip"));
        env.days(166); // the first purchase is now 366 days old
        let status = env.krug.status(&env.tenant, anna).await.unwrap();
        assert_eq!(status.window_spend, rub(20_000));
        assert!(status.in_grace, "below VIP now, held for the grace period");
        env.clock.advance(Duration::days(30));
        assert_eq!(env.krug.status(&env.tenant, anna).await.unwrap().tier, tier("insider"));
    }
);

backend_test!(
    async fn inner_circle_is_granted_and_removed_by_an_operator_with_an_audit_record(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 1_000, "1").await;
        let inner = TierCode::parse("inner-circle").unwrap();
        env.krug.invite(&env.tenant, anna, &inner, "operator:olga").await.unwrap();
        let status = env.krug.status(&env.tenant, anna).await.unwrap();
        assert_eq!((status.tier, status.invited.clone()), (Some(inner.clone()), Some(inner.clone())));
        assert_eq!(env.buy(anna, "skinerica", 1_000, "2").await.cashback, bonus(10_000));
        let not_invitational =
            env.krug.invite(&env.tenant, anna, &TierCode::parse("vip").unwrap(), "operator:olga").await;
        assert_eq!(not_invitational.unwrap_err().code(), "invalid_tier");
        env.krug.uninvite(&env.tenant, anna, "operator:olga").await.unwrap();
        assert_eq!(env.krug.status(&env.tenant, anna).await.unwrap().tier, tier("insider"));
        let log = env.krug.audit_log(&env.tenant, 10).await.unwrap();
        let actions: Vec<_> = log.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["tier.uninvite", "tier.invite"]);
        assert!(log.iter().all(|r| r.actor == "operator:olga" && r.target == format!("member:{anna}")));
    }
);
