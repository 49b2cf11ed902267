//! Concurrent writes for one member serialise: nothing is lost, nothing is doubled, nothing goes
//! negative — on both stores.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use krug::pii::KeyRing;
use krug::types::{IdGen, UuidV7};
use krug::{Error, Krug, RecordPurchase, RefundPurchase, StoreError};
use krug_testkit::{Backend, ManualClock, backend_test, tenants};

use crate::common::*;

backend_test!(
    async fn fifty_concurrent_purchases_and_redemptions_on_one_member_balance_exactly(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.krug
            .adjust(
                &env.tenant,
                krug::Adjust {
                    member: anna,
                    amount: bonus(100_000),
                    reason: "seed".into(),
                    actor: "operator:test".into(),
                    funded_by: None,
                    key: "seed".into(),
                },
            )
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            // Odd purchases each try to spend 100 ₽ of bonus: only ten can (1,000 ₽ available; the
            // cashback of the others is still pending).
            let redeem = if i % 2 == 1 { bonus(10_000) } else { bonus(0) };
            tasks.push(tokio::spawn(async move {
                krug.record_purchase(
                    &tenant,
                    RecordPurchase::new(anna, biz("mindal"), rub(1_000), format!("C-{i}")).redeem(redeem),
                )
                .await
            }));
        }
        let mut ok = Vec::new();
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => ok.push(r),
                Err(e) => {
                    assert_eq!(e.code(), "insufficient_balance");
                    refused += 1;
                }
            }
        }
        let redeemed: i64 = ok.iter().map(|r| r.redeemed.get()).sum();
        let cashback: i64 = ok.iter().map(|r| r.cashback.get()).sum();
        assert_eq!((ok.len(), refused), (35, 15));
        assert_eq!(redeemed, 100_000);
        let view = env.krug.balance(&env.tenant, anna).await.unwrap();
        assert_eq!(view.available, bonus(0));
        assert_eq!(view.pending, bonus(cashback));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(cashback));
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM purchases").await, 35);
    }
);

backend_test!(
    async fn concurrent_retries_of_one_receipt_record_one_purchase(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            tasks.push(tokio::spawn(async move {
                krug.record_purchase(&tenant, RecordPurchase::new(anna, biz("skinerica"), rub(5_000), "SAME"))
                    .await
                    .unwrap()
            }));
        }
        let mut receipts = Vec::new();
        for t in tasks {
            receipts.push(t.await.unwrap());
        }
        assert!(receipts.windows(2).all(|w| w[0] == w[1]), "every retry sees the one receipt");
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM purchases").await, 1);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(25_000));
    }
);

backend_test!(
    async fn concurrent_refunds_never_refund_more_than_the_purchase(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let p = env.buy(anna, "skinerica", 10_000, "S-1").await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            tasks.push(tokio::spawn(async move {
                krug.refund(
                    &tenant,
                    RefundPurchase { purchase: p.purchase, refund_id: format!("RF-{i}"), amount: Some(rub(3_000)) },
                )
                .await
            }));
        }
        let mut refunded = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => refunded += r.amount.get(),
                Err(e) => assert_eq!(e.code(), "refund_exceeds_purchase"),
            }
        }
        assert_eq!(refunded, rub(9_000).get(), "three refunds of 3,000 ₽ fit in 10,000 ₽");
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(50_000 - 45_000));
    }
);

backend_test!(
    async fn concurrent_writers_mixing_refusals_keep_exactly_the_acknowledged_purchases_after_reopening(db: TestDb) {
        // On SQLite these share group commits (savepoints in one transaction): a refused purchase
        // in a batch must take only itself back, and every acknowledged one must be durable.
        let env = env(db).await;
        let mut members = Vec::new();
        for n in 1..=8 {
            members.push(env.member(n).await);
        }
        let before = env.krug.write_stats();
        let mut tasks = Vec::new();
        for i in 0..64u32 {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            let member = members[(i % 8) as usize];
            // Every third one asks to redeem bonuses nobody has: refused, nothing written.
            let redeem = if i % 3 == 0 { bonus(5_000) } else { bonus(0) };
            tasks.push(tokio::spawn(async move {
                let receipt = format!("G-{i}");
                let result = krug
                    .record_purchase(
                        &tenant,
                        RecordPurchase::new(member, biz("mindal"), rub(1_000), receipt.clone()).redeem(redeem),
                    )
                    .await;
                (receipt, result)
            }));
        }
        let mut acknowledged = Vec::new();
        for t in tasks {
            let (receipt, result) = t.await.unwrap();
            match result {
                Ok(_) => acknowledged.push(receipt),
                Err(e) => assert_eq!(e.code(), "insufficient_balance"),
            }
        }
        assert_eq!(acknowledged.len(), 42);
        if let (Some(before), Some(after)) = (before, env.krug.write_stats()) {
            assert_eq!(after.transactions - before.transactions, 42, "one acknowledged write per purchase");
            assert!(after.batches - before.batches <= 42);
            assert_eq!(after.failed_batches, 0);
        }
        env.krug.close().await;

        let krug = connect(&env.db, env.clock.clone(), KEYS_V1, krug_testkit::tenants::svoy_krug()).await;
        let listed = acknowledged.iter().map(|r| format!("'{r}'")).collect::<Vec<_>>().join(",");
        let stored_acknowledged =
            scalar_i64(&env.db, &format!("SELECT COUNT(*) FROM purchases WHERE receipt_id IN ({listed})")).await;
        let stored_all = scalar_i64(&env.db, "SELECT COUNT(*) FROM purchases WHERE receipt_id LIKE 'G-%'").await;
        assert_eq!((stored_acknowledged, stored_all), (42, 42));
        for m in members {
            let history_sum = krug.verify_ledger(&env.tenant, m).await.unwrap();
            assert_eq!(krug.balance(&env.tenant, m).await.unwrap().pending, history_sum);
        }
    }
);

/// A PostgreSQL deadlock between two writers surfaces as `StoreError::Contention` — the error the
/// facade's commands retry once — and not as an opaque backend failure.
#[tokio::test]
async fn a_postgres_deadlock_is_classified_as_contention_worth_a_retry() {
    let Some(db) = krug_testkit::TestDb::postgres() else { return };
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    sqlx::raw_sql("CREATE TABLE d (id INT PRIMARY KEY, v INT); INSERT INTO d VALUES (1, 0), (2, 0);")
        .execute(&pool)
        .await
        .unwrap();
    let mut a = pool.begin().await.unwrap();
    let mut b = pool.begin().await.unwrap();
    sqlx::query("UPDATE d SET v = 1 WHERE id = 1").execute(&mut *a).await.unwrap();
    sqlx::query("UPDATE d SET v = 1 WHERE id = 2").execute(&mut *b).await.unwrap();
    // Each now waits for the row the other holds: the server aborts one of them.
    let (ra, rb) = tokio::join!(
        sqlx::query("UPDATE d SET v = 2 WHERE id = 2").execute(&mut *a),
        sqlx::query("UPDATE d SET v = 2 WHERE id = 1").execute(&mut *b),
    );
    let failed = match (ra, rb) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    assert!(matches!(krug::StoreError::from(failed), krug::StoreError::Contention(_)));
}

/// An id generator that, once armed, stops in its next call until released. A purchase mints its
/// first id inside its write transaction, after it has locked the account, so the armed purchase
/// then holds the store — SQLite's writer, or the one PostgreSQL connection of the pool — for as
/// long as the test wants, without a sleep.
#[derive(Clone, Default)]
struct Gate(Arc<Mutex<Option<Stop>>>);

/// Where an armed gate says it has stopped, and what it waits for to go on.
type Stop = (tokio::sync::oneshot::Sender<()>, std::sync::mpsc::Receiver<()>);

impl Gate {
    /// Arms the gate: the first receiver fires once a call has stopped; sending on the second lets
    /// it go on.
    fn arm(&self) -> (tokio::sync::oneshot::Receiver<()>, std::sync::mpsc::Sender<()>) {
        let (stopped, on_stop) = tokio::sync::oneshot::channel();
        let (go, on_go) = std::sync::mpsc::channel();
        *self.0.lock().unwrap() = Some((stopped, on_go));
        (on_stop, go)
    }
}

impl IdGen for Gate {
    fn next_uuid(&self) -> uuid::Uuid {
        let armed = self.0.lock().unwrap().take();
        if let Some((stopped, go)) = armed {
            stopped.send(()).unwrap();
            // Blocks this thread only: the worker hands its duties (other tasks, the I/O and timer
            // driver) to another thread first.
            tokio::task::block_in_place(|| go.recv()).unwrap();
        }
        UuidV7.next_uuid()
    }
}

backend_test!(
    async fn a_purchase_waiting_past_the_budget_is_refused_as_busy_and_writes_nothing(db: TestDb) {
        let gate = Gate::default();
        // One PostgreSQL connection, so the held purchase holds the whole pool, as SQLite's
        // single writer is held. The budget has to cover opening a PostgreSQL connection; its
        // size changes nothing else here, since the holder is held until the refusal is seen.
        let builder = Krug::builder().clock(ManualClock::new(start())).ids(gate.clone());
        let builder = match db.backend() {
            Backend::Sqlite => builder.sqlite(db.url()),
            Backend::Postgres => builder.postgres_with(db.url(), 1),
        };
        let krug = builder
            .write_wait_budget(Duration::from_millis(500))
            .tenant(tenants::svoy_krug(), KeyRing::from_toml_str(KEYS_V1).unwrap())
            .build()
            .await
            .unwrap();
        let tenant = tid("svoy-krug");
        let anna = krug.register_member(&tenant, krug::RegisterMember::phone(phone(1))).await.unwrap();
        let boris = krug.register_member(&tenant, krug::RegisterMember::phone(phone(2))).await.unwrap();

        let (stopped, go) = gate.arm();
        let holder = tokio::spawn({
            let (krug, tenant) = (krug.clone(), tenant.clone());
            async move { krug.record_purchase(&tenant, RecordPurchase::new(anna, biz("mindal"), rub(1_000), "H-1")).await }
        });
        stopped.await.unwrap();
        let refused = krug.record_purchase(&tenant, RecordPurchase::new(boris, biz("mindal"), rub(2_000), "B-1")).await;
        match refused {
            Err(Error::Store(StoreError::Busy { retry_after })) => assert!(retry_after >= Duration::from_secs(1)),
            other => panic!("expected a busy store, got {other:?}"),
        }
        go.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM purchases WHERE receipt_id = 'B-1'").await, 0);
        assert_eq!(scalar_i64(&db, "SELECT COUNT(*) FROM purchases").await, 1);
        if let Some(stats) = krug.write_stats() {
            assert_eq!(stats.refused, 1);
        }
        // Nothing of the refused purchase stands in the way of its retry.
        let retried =
            krug.record_purchase(&tenant, RecordPurchase::new(boris, biz("mindal"), rub(2_000), "B-1")).await.unwrap();
        assert_eq!(krug.verify_ledger(&tenant, boris).await.unwrap(), retried.cashback);
    }
);
