//! Tenants are walled off: another tenant's member, purchase or business answers "not found", and
//! a refused cross-tenant command writes nothing. Each test drives both seeded tenants through one
//! handle, the way an appliance hosting several ecosystems does.

use krug::types::Category;
use krug::{Adjust, BudgetReport, Error, RecordPurchase, RefundPurchase, RegisterMember, SettlementLine};
use krug_testkit::backend_test;

use crate::common::*;

fn period() -> std::ops::Range<time::OffsetDateTime> {
    start()..start() + time::Duration::days(365)
}

fn credit(member: krug::types::MemberId, amount: i64, key: &str) -> Adjust {
    Adjust {
        member,
        amount: bonus(amount),
        reason: "goodwill".into(),
        actor: "ops@svoy-krug".into(),
        funded_by: None,
        key: key.into(),
    }
}

backend_test!(
    async fn tenant_b_cannot_read_tenant_a_member(db: TestDb) {
        let env = env(db).await;
        let member = env.member(1).await;
        env.buy(member, "skinerica", 1_000, "R-1").await;
        let before = env.counts().await;

        let r = env.krug.member(&env.other, member).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "member: {r:?}");
        let r = env.krug.balance(&env.other, member).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "balance: {r:?}");
        let r = env.krug.history(&env.other, member, None, 50).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "history: {r:?}");
        let r = env.krug.status(&env.other, member).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "status: {r:?}");
        let r = env.krug.verify_ledger(&env.other, member).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "verify_ledger: {r:?}");
        let r = env.krug.uninvite(&env.other, member, "ops").await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "uninvite: {r:?}");
        let r = env.krug.adjust(&env.other, credit(member, 10_000, "adj-1")).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "adjust: {r:?}");
        assert_eq!(env.counts().await, before, "a cross-tenant read or write changed the store");

        // The member is still whole in her own tenant.
        assert_eq!(env.krug.balance(&env.tenant, member).await.unwrap().pending, bonus(5_000));
        assert_eq!(env.krug.history(&env.tenant, member, None, 50).await.unwrap().items.len(), 1);
    }
);

backend_test!(
    async fn purchase_of_tenant_a_cannot_be_refunded_through_tenant_b(db: TestDb) {
        let env = env(db).await;
        let member = env.member(1).await;
        let receipt = env.buy(member, "skinerica", 1_000, "R-1").await;
        let before = env.counts().await;

        let r = env
            .krug
            .refund(&env.other, RefundPurchase { purchase: receipt.purchase, refund_id: "X-1".into(), amount: None })
            .await;
        assert!(matches!(r, Err(Error::PurchaseNotFound)), "{r:?}");
        assert_eq!(r.unwrap_err().code(), "purchase_not_found");
        assert_eq!(env.counts().await, before);

        // Nothing of the purchase was consumed by the refused attempt: the whole of it, with the same
        // refund id, is still refundable in its own tenant.
        let refund = env
            .krug
            .refund(&env.tenant, RefundPurchase { purchase: receipt.purchase, refund_id: "X-1".into(), amount: None })
            .await
            .unwrap();
        assert_eq!(refund.amount, rub(1_000));
        assert_eq!(refund.cashback_reversed, bonus(5_000));
    }
);

backend_test!(
    async fn purchase_in_tenant_b_for_tenant_a_member_is_refused_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let member = env.member(1).await;
        let before = env.counts().await;

        let r =
            env.krug.record_purchase(&env.other, RecordPurchase::new(member, biz("florist"), rub(500), "F-1")).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "{r:?}");
        assert_eq!(env.counts().await, before);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM purchases WHERE tenant_id = 'zelenyi-kvartal'").await, 0);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM idempotency").await, 0);
    }
);

backend_test!(
    async fn same_phone_registers_as_two_members_one_per_tenant(db: TestDb) {
        let env = env(db).await;
        let in_a = env.krug.register_member(&env.tenant, RegisterMember::phone(phone(7))).await.unwrap();
        let in_b = env.krug.register_member(&env.other, RegisterMember::phone(phone(7))).await.unwrap();
        assert_ne!(in_a, in_b);

        assert_eq!(env.krug.find_member_by_phone(&env.tenant, &phone(7)).await.unwrap(), Some(in_a));
        assert_eq!(env.krug.find_member_by_phone(&env.other, &phone(7)).await.unwrap(), Some(in_b));
        assert_eq!(env.krug.member(&env.other, in_b).await.unwrap().phone, phone(7));
        let r = env.krug.member(&env.tenant, in_b).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "{r:?}");

        // Still one member per phone inside each tenant.
        let r = env.krug.register_member(&env.other, RegisterMember::phone(phone(7))).await;
        assert!(matches!(r, Err(Error::PhoneTaken { member }) if member == in_b), "{r:?}");
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM members").await, 2);
    }
);

backend_test!(
    async fn settlement_and_budget_of_a_tenant_show_nothing_of_another(db: TestDb) {
        let env = env(db).await;
        // svoy-krug: 5 % cashback at skinerica, spendable after 14 days, half of it spent at lisichkino.
        let a = env.member(1).await;
        env.buy(a, "skinerica", 10_000, "A-1").await;
        env.days(15);
        env.krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(a, biz("lisichkino"), rub(10_000), "A-2").redeem(bonus(25_000)),
            )
            .await
            .unwrap();
        // zelenyi-kvartal: 3 % at the florist, no hold, spent at the bakery.
        let b = env.krug.register_member(&env.other, RegisterMember::phone(phone(1))).await.unwrap();
        env.krug.record_purchase(&env.other, RecordPurchase::new(b, biz("florist"), rub(1_000), "B-1")).await.unwrap();
        env.krug
            .record_purchase(&env.other, RecordPurchase::new(b, biz("bakery"), rub(200), "B-2").redeem(bonus(3_000)))
            .await
            .unwrap();

        assert_eq!(
            env.krug.settlement(&env.tenant, period()).await.unwrap(),
            [SettlementLine { from: biz("skinerica"), to: biz("lisichkino"), amount: bonus(25_000) }]
        );
        assert_eq!(
            env.krug.settlement(&env.other, period()).await.unwrap(),
            [SettlementLine { from: biz("florist"), to: biz("bakery"), amount: bonus(3_000) }]
        );
        // 2 % of the paid parts (10,000 ₽ and 9,750 ₽) against 1 % (1,000 ₽ and 170 ₽).
        assert_eq!(
            env.krug.budget(&env.tenant, period()).await.unwrap(),
            BudgetReport {
                balance: 39_500,
                contributions: vec![(biz("lisichkino"), 19_500), (biz("skinerica"), 20_000)]
            }
        );
        assert_eq!(
            env.krug.budget(&env.other, period()).await.unwrap(),
            BudgetReport { balance: 1_170, contributions: vec![(biz("bakery"), 170), (biz("florist"), 1_000)] }
        );
    }
);

backend_test!(
    async fn tenant_without_activity_reports_empty_settlement_and_budget(db: TestDb) {
        let env = env(db).await;
        let a = env.member(1).await;
        env.buy(a, "skinerica", 10_000, "A-1").await;
        env.days(15);
        env.krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(a, biz("mindal"), rub(1_000), "A-2").redeem(bonus(10_000)),
            )
            .await
            .unwrap();

        assert_eq!(env.krug.settlement(&env.other, period()).await.unwrap(), []);
        assert_eq!(
            env.krug.budget(&env.other, period()).await.unwrap(),
            BudgetReport { balance: 0, contributions: vec![] }
        );
        assert_eq!(env.krug.audit_log(&env.other, 200).await.unwrap(), []);
    }
);

backend_test!(
    async fn unknown_tenant_is_refused_everywhere(db: TestDb) {
        let env = env(db).await;
        let member = env.member(1).await;
        let receipt = env.buy(member, "skinerica", 1_000, "R-1").await;
        let before = env.counts().await;
        let nobody = tid("nobody");
        let unknown =
            |e: &Error| matches!(e, Error::UnknownTenant(t) if *t == nobody) && e.code() == "tenant_not_found";

        let k = &env.krug;
        assert!(unknown(&k.register_member(&nobody, RegisterMember::phone(phone(2))).await.unwrap_err()));
        assert!(unknown(&k.find_member_by_phone(&nobody, &phone(1)).await.unwrap_err()));
        assert!(unknown(&k.member(&nobody, member).await.unwrap_err()));
        assert!(unknown(&k.balance(&nobody, member).await.unwrap_err()));
        assert!(unknown(&k.history(&nobody, member, None, 10).await.unwrap_err()));
        assert!(unknown(&k.status(&nobody, member).await.unwrap_err()));
        assert!(unknown(
            &k.record_purchase(&nobody, RecordPurchase::new(member, biz("skinerica"), rub(10), "N-1"))
                .await
                .unwrap_err()
        ));
        let refund = RefundPurchase { purchase: receipt.purchase, refund_id: "N-1".into(), amount: None };
        assert!(unknown(&k.refund(&nobody, refund).await.unwrap_err()));
        assert!(unknown(&k.adjust(&nobody, credit(member, 100, "N-1")).await.unwrap_err()));
        assert!(unknown(&k.expire(&nobody).await.unwrap_err()));
        assert!(unknown(&k.settlement(&nobody, period()).await.unwrap_err()));
        assert!(unknown(&k.budget(&nobody, period()).await.unwrap_err()));
        assert!(unknown(&k.verify_ledger(&nobody, member).await.unwrap_err()));
        assert!(unknown(&k.audit_log(&nobody, 10).await.unwrap_err()));
        assert!(unknown(&k.uninvite(&nobody, member, "ops").await.unwrap_err()));
        assert!(unknown(&k.tenant_config(&nobody).unwrap_err()));
        assert_eq!(env.counts().await, before);
    }
);

backend_test!(
    async fn business_of_tenant_a_is_unknown_in_tenant_b(db: TestDb) {
        let env = env(db).await;
        let b = env.krug.register_member(&env.other, RegisterMember::phone(phone(1))).await.unwrap();
        let before = env.counts().await;

        let r = env.krug.record_purchase(&env.other, RecordPurchase::new(b, biz("skinerica"), rub(500), "S-1")).await;
        assert!(matches!(&r, Err(Error::UnknownBusiness(x)) if *x == biz("skinerica")), "{r:?}");
        assert_eq!(r.unwrap_err().code(), "business_not_found");

        let adjust = Adjust { funded_by: Some(biz("skinerica")), ..credit(b, 1_000, "S-2") };
        let r = env.krug.adjust(&env.other, adjust).await;
        assert!(matches!(&r, Err(Error::UnknownBusiness(x)) if *x == biz("skinerica")), "{r:?}");

        // Tenant A's category is not one of B's either, even through B's own business.
        let cmd =
            RecordPurchase::new(b, biz("florist"), rub(500), "S-3").category(Category::parse("cosmetology").unwrap());
        let r = env.krug.record_purchase(&env.other, cmd).await;
        assert!(matches!(r, Err(Error::InvalidInput { field: "category", .. })), "{r:?}");
        assert_eq!(env.counts().await, before);
    }
);

backend_test!(
    async fn a_partner_cannot_refund_or_replay_another_partners_purchase(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let p = env.buy(anna, "skinerica", 10_000, "S-1").await;
        let refund = krug::RefundPurchase { purchase: p.purchase, refund_id: "RF-1".into(), amount: Some(rub(1_000)) };
        let before = env.counts().await;
        let err = env.krug.refund_at(&env.tenant, &biz("mindal"), refund.clone()).await.unwrap_err();
        assert_eq!(err.code(), "purchase_not_found");
        assert_eq!(env.counts().await, before);
        let done = env.krug.refund_at(&env.tenant, &biz("skinerica"), refund.clone()).await.unwrap();
        assert_eq!(done.amount, rub(1_000));
        let replay = env.krug.refund_at(&env.tenant, &biz("mindal"), refund).await.unwrap_err();
        assert_eq!(replay.code(), "purchase_not_found", "another partner cannot read the stored refund either");
    }
);
