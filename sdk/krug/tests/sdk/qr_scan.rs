//! The QR wallet and the scan-to-accrual path: a scanned code records the purchase exactly as
//! `record_purchase` would, codes verify within one step either side, each code buys once, a
//! refused scan leaves its code unused, retries replay, and the secret is never stored in clear.

use krug::qr::{QrCode, QrSecret, code_at, step_at};
use krug::types::MemberId;
use krug::{QrProvisioning, Receipt, RecordPurchase, RegisterMember, Scan};
use krug_testkit::backend_test;
use time::{Duration, OffsetDateTime};

use crate::common::*;

/// Every table a scan can write, with the QR wallet's own two.
async fn all_counts(env: &Env) -> Vec<(&'static str, i64)> {
    let mut counts = env.counts().await;
    counts.push(("qr_secrets", scalar_i64(&env.db, "SELECT COUNT(*) FROM qr_secrets").await));
    counts.push(("qr_uses", scalar_i64(&env.db, "SELECT COUNT(*) FROM qr_uses").await));
    counts
}

async fn qr_uses(env: &Env) -> i64 {
    scalar_i64(&env.db, "SELECT COUNT(*) FROM qr_uses").await
}

/// A registered member with a QR secret.
async fn provisioned(env: &Env, n: u32) -> (MemberId, QrProvisioning) {
    let member = env.member(n).await;
    let p = env.krug.provision_qr_secret(&env.tenant, member).await.unwrap();
    (member, p)
}

/// The payload an app holding `p` shows at `at`, computed on the client side from the
/// provisioning text alone.
fn shown(p: &QrProvisioning, member: MemberId, at: OffsetDateTime) -> String {
    let secret = QrSecret::from_base32(&p.secret_base32).unwrap();
    QrCode::new(member, code_at(&secret, step_at(at))).to_string()
}

fn scan(qr: &str, rubles: i64, receipt: &str) -> Scan {
    Scan::new(qr, biz("skinerica"), rub(rubles), receipt)
}

backend_test!(
    async fn a_scan_of_the_current_code_accrues_exactly_like_record_purchase(db: TestDb) {
        let env = env(db).await;
        let (anna, p) = provisioned(&env, 1).await;
        assert_eq!(
            (p.secret_base32.len(), p.digits, p.step_seconds, p.algorithm, p.format),
            (32, 8, 30, "HMAC-SHA256", "KQ1.<member>.<code>")
        );
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        // What the server shows is what an app computes from the provisioning alone.
        assert_eq!(qr, shown(&p, anna, env.clock.now()));
        assert!(qr.starts_with(&format!("KQ1.{}.", anna.to_string().replace('-', "").to_uppercase())));

        let scanned = env.krug.scan(&env.tenant, scan(&qr, 10_000, "S-1")).await.unwrap();
        let boris = env.member(2).await;
        let by_hand = env.buy(boris, "skinerica", 10_000, "S-2").await;

        assert_eq!(scanned.member, anna);
        assert_eq!(scanned.amount, rub(10_000));
        assert_eq!(scanned.cashback, bonus(50_000)); // Insider, 5 % of 10,000 ₽
        assert_eq!(scanned.budget_contribution, rub(200)); // 2 %
        assert_eq!(scanned.recorded_at, env.clock.now());
        assert_eq!(Receipt { purchase: by_hand.purchase, member: boris, ..scanned.clone() }, by_hand);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(50_000));
        assert_eq!(env.krug.balance(&env.tenant, anna).await.unwrap(), scanned.balance);
        // The code's use points at the purchase it paid for.
        assert_eq!(
            scalar_i64(
                &env.db,
                "SELECT COUNT(*) FROM qr_uses u JOIN purchases p ON p.tenant_id = u.tenant_id \
                 AND p.purchase_id = u.purchase_id AND p.member_id = u.member_id WHERE p.receipt_id = 'S-1'"
            )
            .await,
            1
        );
        assert_eq!(qr_uses(&env).await, 1);
    }
);

backend_test!(
    async fn codes_of_the_previous_and_next_step_are_accepted_and_two_steps_away_expired(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        // Mid-step, so "one step" is unambiguous.
        env.clock.advance(Duration::seconds(10));

        // The previous step's code, scanned 30 s later.
        let previous = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        env.clock.advance(Duration::seconds(30));
        env.krug.scan(&env.tenant, scan(&previous, 1_000, "S-prev")).await.unwrap();

        // The next step's code (the app's clock runs 30 s ahead), scanned now.
        let now = env.clock.now();
        env.clock.set(now + Duration::seconds(30));
        let next = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        env.clock.set(now);
        env.krug.scan(&env.tenant, scan(&next, 1_000, "S-next")).await.unwrap();

        // Two steps either way: refused, nothing written.
        env.clock.set(now + Duration::seconds(60));
        let far_next = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        env.clock.set(now - Duration::seconds(60));
        let far_previous = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        env.clock.set(now);
        let before = all_counts(&env).await;
        for (qr, receipt) in [(&far_next, "S-far-next"), (&far_previous, "S-far-prev")] {
            let err = env.krug.scan(&env.tenant, scan(qr, 1_000, receipt)).await.unwrap_err();
            assert_eq!((err.code(), err.http_status()), ("qr_expired", 422), "{receipt}");
        }
        assert_eq!(all_counts(&env).await, before);
        assert_eq!(qr_uses(&env).await, 2);
    }
);

backend_test!(
    async fn the_same_code_twice_is_already_used_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        env.krug.scan(&env.tenant, scan(&qr, 1_000, "S-1")).await.unwrap();
        let before = all_counts(&env).await;
        env.clock.advance(Duration::seconds(20));
        for (business, receipt) in [("skinerica", "S-2"), ("mindal", "M-1")] {
            let err = env
                .krug
                .scan(&env.tenant, Scan::new(qr.clone(), biz(business), rub(2_000), receipt))
                .await
                .unwrap_err();
            assert_eq!((err.code(), err.http_status()), ("qr_already_used", 409), "{business}");
        }
        assert_eq!(all_counts(&env).await, before);
        // The next step's code is a new code.
        env.clock.advance(Duration::seconds(30));
        let fresh = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        assert_ne!(fresh, qr);
        env.krug.scan(&env.tenant, scan(&fresh, 2_000, "S-2")).await.unwrap();
        assert_eq!(qr_uses(&env).await, 2);
    }
);

backend_test!(
    async fn a_retried_scan_returns_the_identical_receipt_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let first = env.krug.scan(&env.tenant, scan(&qr, 4_000, "S-1")).await.unwrap();
        let before = all_counts(&env).await;
        // Minutes later the code is both used and expired; the retry still replays.
        env.clock.advance(Duration::minutes(5));
        let again = env.krug.scan(&env.tenant, scan(&qr, 4_000, "S-1")).await.unwrap();
        assert_eq!(again, first);
        assert_eq!(all_counts(&env).await, before);
    }
);

backend_test!(
    async fn the_same_receipt_id_with_a_different_body_is_an_idempotency_conflict(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let first = env.krug.scan(&env.tenant, scan(&qr, 4_000, "S-1")).await.unwrap();
        let before = all_counts(&env).await;
        let err = env.krug.scan(&env.tenant, scan(&qr, 4_001, "S-1")).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("idempotency_conflict", 409));
        // The identity is the member, not the code: a fresh code of hers under the same receipt
        // id is the same scan and replays it.
        env.clock.advance(Duration::seconds(30));
        let fresh = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        assert_eq!(env.krug.scan(&env.tenant, scan(&fresh, 4_000, "S-1")).await.unwrap(), first);
        // Scans and purchases share the receipt ids of a business.
        let err = env
            .krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("skinerica"), rub(4_000), "S-1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "idempotency_conflict");
        assert_eq!(all_counts(&env).await, before);
        // The fresh code was not consumed by the refused attempt.
        env.krug.scan(&env.tenant, scan(&fresh, 4_000, "S-2")).await.unwrap();
    }
);

backend_test!(
    async fn malformed_payloads_are_refused_and_write_nothing(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let hex = anna.to_string().replace('-', "").to_uppercase();
        let digits = qr.rsplit('.').next().unwrap().to_owned();
        let before = all_counts(&env).await;
        let bad = [
            qr.replacen("KQ1", "KQ2", 1),            // wrong prefix
            qr[..qr.len() - 1].to_owned(),           // short code
            format!("KQ1.{}G.{digits}", &hex[..31]), // non-hex member
            format!("KQ1.{}.{digits}", anna),        // dashes
            format!("{qr}.1"),                       // a fourth part
            String::new(),
            "https://example.com/pay".to_owned(),
        ];
        for (i, payload) in bad.iter().enumerate() {
            let err = env.krug.scan(&env.tenant, scan(payload, 1_000, &format!("S-{i}"))).await.unwrap_err();
            assert_eq!((err.code(), err.http_status()), ("qr_malformed", 400), "{payload:?}");
        }
        assert_eq!(all_counts(&env).await, before);
        // Whitespace around and lower-case hex are what scanners send; they are accepted.
        let relaxed = format!(" {}\r\n", qr.to_lowercase().replacen("kq1", "KQ1", 1));
        env.krug.scan(&env.tenant, scan(&relaxed, 1_000, "S-ok")).await.unwrap();
    }
);

backend_test!(
    async fn another_tenants_members_code_is_member_not_found(db: TestDb) {
        let env = env(db).await;
        let vera = env.krug.register_member(&env.other, RegisterMember::phone(phone(7))).await.unwrap();
        env.krug.provision_qr_secret(&env.other, vera).await.unwrap();
        let qr = env.krug.current_qr(&env.other, vera).await.unwrap();
        let before = all_counts(&env).await;
        let err = env.krug.scan(&env.tenant, scan(&qr, 1_000, "S-1")).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("member_not_found", 404));
        assert_eq!(env.krug.current_qr(&env.tenant, vera).await.unwrap_err().code(), "member_not_found");
        assert_eq!(env.krug.provision_qr_secret(&env.tenant, vera).await.unwrap_err().code(), "member_not_found");
        assert_eq!(all_counts(&env).await, before);
        // In her own tenant the same code buys.
        let receipt = env.krug.scan(&env.other, Scan::new(qr, biz("florist"), rub(1_000), "F-1")).await.unwrap();
        assert_eq!(receipt.member, vera);
    }
);

backend_test!(
    async fn a_member_without_a_secret_is_qr_not_provisioned(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let err = env.krug.current_qr(&env.tenant, anna).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("qr_not_provisioned", 409));
        let before = all_counts(&env).await;
        let payload = format!("KQ1.{}.12345678", anna.to_string().replace('-', ""));
        let err = env.krug.scan(&env.tenant, scan(&payload, 1_000, "S-1")).await.unwrap_err();
        assert_eq!(err.code(), "qr_not_provisioned");
        assert_eq!(all_counts(&env).await, before);
    }
);

backend_test!(
    async fn provisioning_again_invalidates_the_old_secret(db: TestDb) {
        let env = env(db).await;
        let (anna, old) = provisioned(&env, 1).await;
        let old_code = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        assert_eq!(old_code, shown(&old, anna, env.clock.now()));
        let new = env.krug.provision_qr_secret(&env.tenant, anna).await.unwrap();
        assert_ne!(new.secret_base32, old.secret_base32);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM qr_secrets").await, 1);
        let new_code = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        assert_eq!(new_code, shown(&new, anna, env.clock.now()));
        assert_ne!(new_code, old_code);

        let before = all_counts(&env).await;
        let err = env.krug.scan(&env.tenant, scan(&old_code, 1_000, "S-1")).await.unwrap_err();
        assert_eq!(err.code(), "qr_expired");
        assert_eq!(all_counts(&env).await, before);
        env.krug.scan(&env.tenant, scan(&new_code, 1_000, "S-1")).await.unwrap();
    }
);

backend_test!(
    async fn a_refused_scan_leaves_its_code_unused(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let before = all_counts(&env).await;
        // Nothing available yet: the redemption is refused, and so is a zero amount.
        let err = env.krug.scan(&env.tenant, scan(&qr, 1_000, "S-1").redeem(bonus(100))).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("insufficient_balance", 409));
        assert_eq!(err.available(), Some(bonus(0)));
        let err = env.krug.scan(&env.tenant, scan(&qr, 0, "S-0")).await.unwrap_err();
        assert_eq!(err.code(), "invalid_amount");
        assert_eq!(all_counts(&env).await, before);
        assert_eq!(qr_uses(&env).await, 0);
        // The corrected purchase under a new receipt id buys with the same code.
        let receipt = env.krug.scan(&env.tenant, scan(&qr, 1_000, "S-2")).await.unwrap();
        assert_eq!((receipt.redeemed, receipt.cashback), (bonus(0), bonus(5_000)));
        assert_eq!(qr_uses(&env).await, 1);
    }
);

backend_test!(
    async fn the_raw_qr_secrets_table_holds_no_plaintext_secret(db: TestDb) {
        let env = env(db).await;
        let (anna, p) = provisioned(&env, 1).await;
        let secret = QrSecret::from_base32(&p.secret_base32).unwrap();
        let raw = secret.as_bytes();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        let rows = dump(&env.db, "qr_secrets").await;
        assert_eq!(rows.len(), 1);
        let contains = |row: &[u8], needle: &[u8]| row.windows(needle.len()).any(|w| w == needle);
        for row in &rows {
            assert!(!contains(row, raw), "qr_secrets holds the secret's bytes");
            assert!(!contains(&row.to_ascii_lowercase(), hex.as_bytes()), "qr_secrets holds the secret as hex");
            assert!(!contains(&row.to_ascii_uppercase(), p.secret_base32.as_bytes()), "qr_secrets holds base32");
        }
        // Sealed: nonce (24) + 20 bytes + tag (16), under the active key.
        let sealed_len = match env.db.backend() {
            krug_testkit::Backend::Sqlite => "LENGTH(secret_ct)",
            krug_testkit::Backend::Postgres => "OCTET_LENGTH(secret_ct)",
        };
        let sql = format!("SELECT CAST({sealed_len} AS BIGINT) FROM qr_secrets WHERE secret_key = 'k1'");
        assert_eq!(scalar_i64(&env.db, &sql).await, 60);
        // And it still works.
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        assert_eq!(qr, shown(&p, anna, env.clock.now()));
    }
);

backend_test!(
    async fn two_concurrent_scans_of_one_code_exactly_one_succeeds(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (krug, tenant, qr) = (env.krug.clone(), env.tenant.clone(), qr.clone());
            tasks.push(tokio::spawn(async move { krug.scan(&tenant, scan(&qr, 1_000, &format!("C-{i}"))).await }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => {
                    assert_eq!(r.member, anna);
                    ok += 1;
                }
                Err(e) => assert_eq!(e.code(), "qr_already_used"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM purchases").await, 1);
        assert_eq!(qr_uses(&env).await, 1);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(5_000));
    }
);

backend_test!(
    async fn concurrent_retries_of_one_scan_all_get_its_receipt(db: TestDb) {
        let env = env(db).await;
        let (anna, _) = provisioned(&env, 1).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (krug, tenant, qr) = (env.krug.clone(), env.tenant.clone(), qr.clone());
            tasks.push(tokio::spawn(async move { krug.scan(&tenant, scan(&qr, 1_000, "SAME")).await.unwrap() }));
        }
        let mut receipts = Vec::new();
        for t in tasks {
            receipts.push(t.await.unwrap());
        }
        assert!(receipts.iter().all(|r| *r == receipts[0]));
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM purchases").await, 1);
        assert_eq!(qr_uses(&env).await, 1);
    }
);

backend_test!(
    async fn a_rescan_with_a_fresh_code_under_the_same_receipt_replays_the_first_receipt(db: TestDb) {
        let env = env(db).await;
        let (anna, p) = provisioned(&env, 1).await;
        let (boris, q) = provisioned(&env, 2).await;
        let first = env.krug.scan(&env.tenant, scan(&shown(&p, anna, env.clock.now()), 10_000, "S-1")).await.unwrap();
        env.clock.advance(Duration::seconds(30));
        let before = all_counts(&env).await;
        let again = env.krug.scan(&env.tenant, scan(&shown(&p, anna, env.clock.now()), 10_000, "S-1")).await.unwrap();
        assert_eq!(again, first, "the till timed out and rescanned: same purchase");
        assert_eq!(all_counts(&env).await, before);
        let other =
            env.krug.scan(&env.tenant, scan(&shown(&q, boris, env.clock.now()), 10_000, "S-1")).await.unwrap_err();
        assert_eq!(other.code(), "idempotency_conflict", "another member under the same receipt is another purchase");
    }
);
