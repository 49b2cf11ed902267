//! Replaying a command with its key returns the first result and writes nothing; the same key
//! with a different body is a conflict.

use krug::{Adjust, RecordPurchase, RefundPurchase};
use krug_testkit::backend_test;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use crate::common::*;

backend_test!(
    async fn a_retried_purchase_returns_the_same_receipt_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let first = env.buy(anna, "skinerica", 10_000, "S-1").await;
        let before = env.counts().await;
        env.clock.advance(time::Duration::minutes(3));
        let again = env.buy(anna, "skinerica", 10_000, "S-1").await;
        assert_eq!(again, first);
        assert_eq!(env.counts().await, before);
    }
);

backend_test!(
    async fn the_same_receipt_id_with_a_different_body_is_a_conflict(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 10_000, "S-1").await;
        let before = env.counts().await;
        let err = env
            .krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("skinerica"), rub(10_001), "S-1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "idempotency_conflict");
        assert_eq!(err.http_status(), 409);
        assert_eq!(env.counts().await, before);
        // Receipt ids are per business: the same id at another partner is another purchase.
        let other = env.buy(anna, "mindal", 10_000, "S-1").await;
        assert_eq!(other.business, biz("mindal"));
    }
);

backend_test!(
    async fn refunds_and_adjustments_replay_by_their_keys(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let p = env.buy(anna, "skinerica", 10_000, "S-1").await;
        let refund = RefundPurchase { purchase: p.purchase, refund_id: "RF-1".into(), amount: Some(rub(1_000)) };
        let first = env.krug.refund(&env.tenant, refund.clone()).await.unwrap();
        let before = env.counts().await;
        assert_eq!(env.krug.refund(&env.tenant, refund).await.unwrap(), first);
        let changed = RefundPurchase { purchase: p.purchase, refund_id: "RF-1".into(), amount: Some(rub(2_000)) };
        assert_eq!(env.krug.refund(&env.tenant, changed).await.unwrap_err().code(), "idempotency_conflict");

        let adjust = Adjust {
            member: anna,
            amount: bonus(500),
            reason: "goodwill".into(),
            actor: "operator:olga".into(),
            funded_by: None,
            key: "ADJ-1".into(),
        };
        let credited = env.krug.adjust(&env.tenant, adjust.clone()).await.unwrap();
        let after_adjust = env.counts().await;
        assert_eq!(env.krug.adjust(&env.tenant, adjust.clone()).await.unwrap(), credited);
        assert_eq!(env.counts().await, after_adjust);
        let twice = Adjust { amount: bonus(600), ..adjust };
        assert_eq!(env.krug.adjust(&env.tenant, twice).await.unwrap_err().code(), "idempotency_conflict");
        assert_ne!(before, after_adjust);
        assert_eq!(env.counts().await, after_adjust);
    }
);

backend_test!(
    async fn a_replay_after_a_restart_still_returns_the_acknowledged_receipt(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let first = env.buy(anna, "skinerica", 10_000, "S-1").await;
        env.krug.close().await;
        let krug = connect(&env.db, env.clock.clone(), KEYS_V1, krug_testkit::tenants::svoy_krug()).await;
        let again = krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("skinerica"), rub(10_000), "S-1"))
            .await
            .unwrap();
        assert_eq!(again, first);
    }
);

#[derive(Debug, Clone)]
enum Cmd {
    Buy { business: usize, rubles: i64, redeem_percent: i64 },
    Refund { index: usize, percent: i64 },
    Adjust { amount: i64 },
    Days(i64),
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        4 => (0usize..5, 1i64..50_000, 0i64..=100).prop_map(|(business, rubles, redeem_percent)| Cmd::Buy { business, rubles, redeem_percent }),
        2 => (any::<usize>(), 1i64..=100).prop_map(|(index, percent)| Cmd::Refund { index, percent }),
        1 => (-20_000i64..20_000).prop_map(|amount| Cmd::Adjust { amount }),
        1 => (0i64..30).prop_map(Cmd::Days),
    ]
}

const BUSINESSES: [&str; 5] = ["skinerica", "lisichkino", "stim-center", "mindal", "millennium"];

/// Runs `cmds` for a fresh member, replaying every command right after it ran: the replay must
/// return the same outcome and leave every table as it was. At the end the ledger must verify.
async fn run_with_replays(env: &Env, n: u32, cmds: Vec<Cmd>) {
    let member = env.member(n).await;
    env.medical_consent(member).await;
    let mut purchases: Vec<(krug::types::PurchaseId, krug::types::Kopecks)> = Vec::new();
    for (i, cmd) in cmds.into_iter().enumerate() {
        match cmd {
            Cmd::Buy { business, rubles, redeem_percent } => {
                let amount = rub(rubles);
                let available = env.krug.balance(&env.tenant, member).await.unwrap().available.get().max(0);
                let cap = amount.get() * 3_000 / 10_000;
                let redeem = bonus(available.min(cap) * redeem_percent / 100);
                let cmd =
                    RecordPurchase::new(member, biz(BUSINESSES[business]), amount, format!("R-{n}-{i}")).redeem(redeem);
                let first = env.krug.record_purchase(&env.tenant, cmd.clone()).await.unwrap();
                let counts = env.counts().await;
                assert_eq!(env.krug.record_purchase(&env.tenant, cmd).await.unwrap(), first);
                assert_eq!(env.counts().await, counts);
                purchases.push((first.purchase, amount));
            }
            Cmd::Refund { index, percent } => {
                if purchases.is_empty() {
                    continue;
                }
                let (purchase, amount) = purchases[index % purchases.len()];
                let cmd = RefundPurchase {
                    purchase,
                    refund_id: format!("RF-{i}"),
                    amount: Some(krug::types::Kopecks::new((amount.get() * percent / 100).max(1)).unwrap()),
                };
                let first = env.krug.refund(&env.tenant, cmd.clone()).await;
                let counts = env.counts().await;
                let again = env.krug.refund(&env.tenant, cmd).await;
                match (first, again) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => {
                        assert_eq!((a.code(), b.code()), ("refund_exceeds_purchase", "refund_exceeds_purchase"))
                    }
                    (a, b) => panic!("replay differs: {a:?} vs {b:?}"),
                }
                assert_eq!(env.counts().await, counts);
            }
            Cmd::Adjust { amount } if amount != 0 => {
                let cmd = Adjust {
                    member,
                    amount: bonus(amount),
                    reason: "test".into(),
                    actor: "operator:test".into(),
                    funded_by: None,
                    key: format!("ADJ-{n}-{i}"),
                };
                let first = env.krug.adjust(&env.tenant, cmd.clone()).await;
                let counts = env.counts().await;
                let again = env.krug.adjust(&env.tenant, cmd).await;
                match (first, again) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b),
                    (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
                    (a, b) => panic!("replay differs: {a:?} vs {b:?}"),
                }
                assert_eq!(env.counts().await, counts);
            }
            Cmd::Adjust { .. } => {}
            Cmd::Days(d) => {
                env.days(d);
                env.krug.expire(&env.tenant).await.unwrap();
            }
        }
        let view = env.krug.balance(&env.tenant, member).await.unwrap();
        assert!(view.available.get() >= 0, "claw-back tenant never goes negative");
        env.krug.verify_ledger(&env.tenant, member).await.unwrap();
    }
}

backend_test!(
    async fn replaying_any_command_with_its_key_changes_nothing(db: TestDb) {
        let env = env(db).await;
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 6,
            failure_persistence: None,
            ..Default::default()
        });
        let strategy = prop::collection::vec(cmd(), 1..14);
        let mut sequences = Vec::new();
        for _ in 0..6 {
            sequences.push(strategy.new_tree(&mut runner).unwrap().current());
        }
        for (n, cmds) in sequences.into_iter().enumerate() {
            eprintln!("sequence {n}: {cmds:?}");
            run_with_replays(&env, 100 + n as u32, cmds).await;
        }
    }
);
