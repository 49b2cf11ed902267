//! A member's life through the facade: earn at one partner, wait out the hold, spend at
//! another, refund, expire — with exact numbers, and the ledger invariants checked at each step.

use krug::types::Kopecks;
use krug::{RecordPurchase, RefundPurchase};
use krug_testkit::backend_test;
use time::Duration;

use crate::common::*;

backend_test!(
    async fn cashback_is_pending_for_the_hold_then_spendable_at_another_partner(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;

        let r = env.buy(anna, "skinerica", 10_000, "S-1").await;
        assert_eq!(r.cashback, bonus(50_000), "5 % of 10,000 ₽ at Insider");
        assert_eq!(r.cashback_available_at, start() + Duration::days(14));
        assert_eq!(r.budget_contribution, rub(200), "2 % of the paid part");
        assert_eq!(r.balance.available, bonus(0));
        assert_eq!(r.balance.pending, bonus(50_000));

        env.days(13);
        let early = env
            .krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("mindal"), rub(5_000), "M-1").redeem(bonus(1)))
            .await
            .unwrap_err();
        assert_eq!(early.code(), "insufficient_balance");

        env.days(1);
        assert_eq!(env.krug.balance(&env.tenant, anna).await.unwrap().available, bonus(50_000));
        let r = env
            .krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(anna, biz("mindal"), rub(5_000), "M-1").redeem(bonus(50_000)),
            )
            .await
            .unwrap();
        assert_eq!(r.redeemed, bonus(50_000));
        assert_eq!(r.paid, rub(4_500));
        assert_eq!(r.cashback, bonus(22_500), "5 % of the part paid with money");
        assert_eq!(r.budget_contribution, rub(90));
        assert_eq!(r.balance.available, bonus(0));
        assert_eq!(r.balance.pending, bonus(22_500));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(22_500));

        let month = start()..start() + Duration::days(31);
        let settlement = env.krug.settlement(&env.tenant, month.clone()).await.unwrap();
        assert_eq!(settlement.len(), 1);
        assert_eq!((settlement[0].from.as_str(), settlement[0].to.as_str()), ("skinerica", "mindal"));
        assert_eq!(settlement[0].amount, bonus(50_000), "Skinerica owes Mindal the bonus spent there");

        let budget = env.krug.budget(&env.tenant, month).await.unwrap();
        assert_eq!(budget.balance, 29_000);
        assert_eq!(budget.contributions, vec![(biz("mindal"), 9_000), (biz("skinerica"), 20_000)]);
    }
);

backend_test!(
    async fn partial_refund_undoes_its_share_of_cashback_redemption_and_budget(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 10_000, "S-1").await;
        env.days(14);
        let spent = env
            .krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(anna, biz("mindal"), rub(5_000), "M-1").redeem(bonus(50_000)),
            )
            .await
            .unwrap();

        let refund = env
            .krug
            .refund(
                &env.tenant,
                RefundPurchase { purchase: spent.purchase, refund_id: "RF-1".into(), amount: Some(rub(2_500)) },
            )
            .await
            .unwrap();
        assert_eq!(refund.amount, rub(2_500));
        assert_eq!(refund.refunded_total, rub(2_500));
        assert_eq!(refund.bonus_returned, bonus(25_000), "half of the 500 ₽ of bonus spent comes back");
        assert_eq!(refund.cashback_reversed, bonus(11_250), "half of the 225 ₽ cashback is taken back");
        assert_eq!(refund.cashback_written_off, bonus(0));
        assert_eq!(refund.budget_reversed, rub(45));
        assert_eq!(refund.balance.available, bonus(25_000));
        assert_eq!(refund.balance.pending, bonus(11_250));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(36_250));

        let month = start()..start() + Duration::days(31);
        let settlement = env.krug.settlement(&env.tenant, month.clone()).await.unwrap();
        assert_eq!(settlement[0].amount, bonus(25_000), "the give-back nets out of the settlement");
        assert_eq!(env.krug.budget(&env.tenant, month).await.unwrap().balance, 29_000 - 4_500);

        // The rest of the purchase: everything is undone exactly.
        let rest = env
            .krug
            .refund(&env.tenant, RefundPurchase { purchase: spent.purchase, refund_id: "RF-2".into(), amount: None })
            .await
            .unwrap();
        assert_eq!(rest.amount, rub(2_500));
        assert_eq!(rest.refunded_total, rub(5_000));
        assert_eq!(rest.bonus_returned, bonus(25_000));
        assert_eq!(rest.cashback_reversed, bonus(11_250));
        assert_eq!(rest.balance.available, bonus(50_000));
        assert_eq!(rest.balance.pending, bonus(0));
        assert!(env.krug.settlement(&env.tenant, start()..start() + Duration::days(31)).await.unwrap().is_empty());
        let over = env
            .krug
            .refund(
                &env.tenant,
                RefundPurchase {
                    purchase: spent.purchase,
                    refund_id: "RF-3".into(),
                    amount: Some(Kopecks::new(1).unwrap()),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(over.code(), "refund_exceeds_purchase");
        env.krug.verify_ledger(&env.tenant, anna).await.unwrap();
    }
);

backend_test!(
    async fn refund_of_spent_cashback_claws_back_from_other_bonuses(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let first = env.buy(anna, "skinerica", 10_000, "S-1").await; // 50,000 pending
        env.days(14);
        env.krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(anna, biz("lisichkino"), rub(5_000), "L-1").redeem(bonus(50_000)),
            )
            .await
            .unwrap(); // spends it all, earns 22,500 pending
        let refund = env
            .krug
            .refund(&env.tenant, RefundPurchase { purchase: first.purchase, refund_id: "RF-1".into(), amount: None })
            .await
            .unwrap();
        assert_eq!(refund.cashback_reversed, bonus(22_500), "taken from the pending Lisichkino lot");
        assert_eq!(refund.cashback_written_off, bonus(27_500), "the rest cannot be taken back and is written off");
        assert_eq!(refund.balance.total, bonus(0));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(0));
    }
);

backend_test!(
    async fn lapsed_bonuses_expire_once_with_an_entry_per_lot(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let boris = env.member(2).await;
        env.buy(anna, "skinerica", 10_000, "S-1").await;
        env.days(100);
        env.buy(anna, "lisichkino", 2_000, "L-1").await;
        env.buy(boris, "mindal", 1_000, "M-1").await;

        env.days(264); // the first lot is now 364 days old
        let view = env.krug.balance(&env.tenant, anna).await.unwrap();
        assert_eq!(view.expiring.len(), 1, "only the first lot lapses within 30 days");
        assert_eq!(view.expiring[0].amount, bonus(50_000));
        assert_eq!(view.expiring[0].at, start() + Duration::days(365));
        assert_eq!(env.krug.expire(&env.tenant).await.unwrap().entries, 0);

        env.days(1);
        let report = env.krug.expire(&env.tenant).await.unwrap();
        assert_eq!((report.members, report.entries, report.expired), (1, 1, bonus(50_000)));
        let again = env.krug.expire(&env.tenant).await.unwrap();
        assert_eq!(again.entries, 0, "a second run finds nothing left to expire");
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(10_000));

        let history = env.krug.history(&env.tenant, anna, None, 2).await.unwrap();
        assert_eq!(history.items[0].kind, krug::ledger::EntryKind::Expiry);
        assert_eq!(history.items[0].amount, bonus(-50_000));
        let older = env.krug.history(&env.tenant, anna, history.next, 2).await.unwrap();
        assert_eq!(older.items.len(), 1, "three entries in all: two accruals and the expiry");
        assert_eq!(older.next, None);
    }
);

backend_test!(
    async fn a_manual_adjustment_is_audited_and_spendable_at_once(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let credit = env
            .krug
            .adjust(
                &env.tenant,
                krug::Adjust {
                    member: anna,
                    amount: bonus(30_000),
                    reason: "goodwill after a late delivery".into(),
                    actor: "operator:olga".into(),
                    funded_by: Some(biz("lisichkino")),
                    key: "ADJ-1".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(credit.balance.available, bonus(30_000));
        let debit = env
            .krug
            .adjust(
                &env.tenant,
                krug::Adjust {
                    member: anna,
                    amount: bonus(-10_000),
                    reason: "correction".into(),
                    actor: "operator:olga".into(),
                    funded_by: None,
                    key: "ADJ-2".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(debit.balance.available, bonus(20_000));
        let log = env.krug.audit_log(&env.tenant, 10).await.unwrap();
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|r| r.action == "bonus.adjust" && r.actor == "operator:olga"));
        assert_eq!(log[0].target, format!("member:{anna}"));
        // Adjustment credits count for the funding partner when spent elsewhere.
        env.krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(anna, biz("skinerica"), rub(1_000), "S-9").redeem(bonus(20_000)),
            )
            .await
            .unwrap();
        let s = env.krug.settlement(&env.tenant, start()..start() + Duration::days(1)).await.unwrap();
        assert_eq!((s[0].from.as_str(), s[0].to.as_str(), s[0].amount), ("lisichkino", "skinerica", bonus(20_000)));
    }
);

backend_test!(
    async fn under_the_debt_policy_a_refund_of_spent_cashback_leaves_a_debt_that_later_cashback_repays(db: TestDb) {
        // zelenyi-kvartal: no hold, 3 % at the first tier, half of a purchase payable with bonus,
        // refunds of spent cashback become debt.
        let env = env(db).await;
        let t = env.other.clone();
        let vera = env.krug.register_member(&t, krug::RegisterMember::phone(phone(7))).await.unwrap();
        let flowers =
            env.krug.record_purchase(&t, RecordPurchase::new(vera, biz("florist"), rub(10_000), "F-1")).await.unwrap();
        assert_eq!(flowers.cashback, bonus(30_000));
        assert_eq!(flowers.balance.available, bonus(30_000), "no hold in this tenant");
        let bread = env
            .krug
            .record_purchase(&t, RecordPurchase::new(vera, biz("bakery"), rub(1_000), "B-1").redeem(bonus(30_000)))
            .await
            .unwrap();
        assert_eq!(bread.cashback, bonus(2_100));

        let refund = env
            .krug
            .refund(&t, RefundPurchase { purchase: flowers.purchase, refund_id: "RF".into(), amount: None })
            .await
            .unwrap();
        assert_eq!((refund.cashback_reversed, refund.cashback_written_off), (bonus(30_000), bonus(0)));
        assert_eq!(refund.balance.debt, bonus(30_000));
        assert_eq!(refund.balance.total, bonus(-27_900));
        assert_eq!(refund.balance.available, bonus(-27_900));
        let refused = env
            .krug
            .record_purchase(&t, RecordPurchase::new(vera, biz("bakery"), rub(100), "B-2").redeem(bonus(1)))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "insufficient_balance");

        let repay =
            env.krug.record_purchase(&t, RecordPurchase::new(vera, biz("florist"), rub(10_000), "F-2")).await.unwrap();
        assert_eq!(repay.cashback, bonus(30_000));
        assert_eq!(
            (repay.balance.debt, repay.balance.total),
            (bonus(0), bonus(2_100)),
            "cashback repays the debt first"
        );
        assert_eq!(env.krug.verify_ledger(&t, vera).await.unwrap(), bonus(2_100));
    }
);

backend_test!(
    async fn a_clinic_purchase_needs_the_members_medical_disclosure_consent(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let before = env.counts().await;
        for clinic in ["stim-center", "millennium"] {
            let err = env
                .krug
                .record_purchase(&env.tenant, RecordPurchase::new(anna, biz(clinic), rub(5_000), "D-1"))
                .await
                .unwrap_err();
            assert_eq!((err.code(), err.http_status()), ("medical_consent_required", 409));
        }
        assert_eq!(env.counts().await, before, "nothing of the visit is recorded");
        env.medical_consent(anna).await;
        assert_eq!(env.buy(anna, "stim-center", 5_000, "D-1").await.cashback, bonus(25_000));
        env.krug.withdraw_consent(&env.tenant, anna, krug::ConsentKind::MedicalDisclosure).await.unwrap();
        let err = env
            .krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("millennium"), rub(5_000), "M-1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "medical_consent_required", "withdrawal takes effect at once");
        // Ordinary partners never needed it.
        env.buy(anna, "mindal", 1_000, "B-1").await;
    }
);
