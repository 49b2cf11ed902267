//! Every refusal is a typed error with its stable code and leaves the store exactly as it was.
//! `refused` compares the row count of every table before and after the refused call.

use std::fmt::Debug;
use std::future::Future;

use krug::ledger::LedgerError;
use krug::pii::PiiError;
use krug::status::StatusError;
use krug::tenant::TenantConfig;
use krug::types::{
    AmountError, Bonus, Bps, BpsError, Category, Kopecks, MAX_AMOUNT, MemberId, Phone, PhoneError, TierCode,
};
use krug::{Adjust, Error, RecordPurchase, RefundPurchase, RegisterMember, StoreError};
use krug_testkit::backend_test;
use time::Duration;

use crate::common::*;

/// Awaits `op`, asserts it was refused with `code` (and a 4xx status), that nothing was written,
/// and returns the error for closer checks.
async fn refused<T: Debug>(env: &Env, code: &str, op: impl Future<Output = krug::Result<T>>) -> Error {
    let before = env.counts().await;
    let err = match op.await {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!(err.code(), code, "{err:?}");
    assert!((400..500).contains(&err.http_status()), "{err:?} → {}", err.http_status());
    assert_eq!(env.counts().await, before, "refused with {code} but the store changed");
    err
}

fn purchase(member: MemberId, rubles: i64, receipt: &str) -> RecordPurchase {
    RecordPurchase::new(member, biz("skinerica"), rub(rubles), receipt)
}

fn adjustment(member: MemberId, amount: i64, key: &str) -> Adjust {
    Adjust {
        member,
        amount: bonus(amount),
        reason: "compensation for a broken order".into(),
        actor: "ops@svoy-krug".into(),
        funded_by: None,
        key: key.into(),
    }
}

/// A member with `available` bonus kopecks spendable at once (an operator credit has no hold).
async fn member_with(env: &Env, n: u32, available: i64) -> MemberId {
    let member = env.member(n).await;
    env.krug.adjust(&env.tenant, adjustment(member, available, &format!("seed-{n}"))).await.unwrap();
    member
}

backend_test!(
    async fn zero_purchase_amount_is_refused_as_invalid_amount(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let cmd = RecordPurchase::new(m, biz("skinerica"), Kopecks::ZERO, "R-0");
        let err = refused(&env, "invalid_amount", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(matches!(err, Error::InvalidAmount { field: "amount", source: AmountError::Zero }), "{err:?}");
        assert_eq!(err.http_status(), 422);
    }
);

backend_test!(
    async fn negative_redeem_is_refused_as_invalid_amount(db: TestDb) {
        let env = env(db).await;
        let m = member_with(&env, 1, 10_000).await;
        let cmd = purchase(m, 1_000, "R-1").redeem(bonus(-100));
        let err = refused(&env, "invalid_amount", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(
            matches!(err, Error::InvalidAmount { field: "redeem", source: AmountError::Negative(-100) }),
            "{err:?}"
        );
    }
);

backend_test!(
    async fn redeem_above_the_30_percent_cap_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = member_with(&env, 1, 100_000).await;
        // 30 % of 1,000 ₽ is 300 ₽: one kopeck more is refused although the balance would cover it.
        let cmd = purchase(m, 1_000, "R-1").redeem(bonus(30_001));
        let err = refused(&env, "redeem_above_cap", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(
            matches!(err, Error::Ledger(LedgerError::RedeemAboveCap { cap, requested })
            if cap == bonus(30_000) && requested == bonus(30_001)),
            "{err:?}"
        );
        assert_eq!(err.available(), Some(bonus(30_000)));
        assert_eq!(err.http_status(), 422);

        let receipt =
            env.krug.record_purchase(&env.tenant, purchase(m, 1_000, "R-1").redeem(bonus(30_000))).await.unwrap();
        assert_eq!(receipt.redeemed, bonus(30_000));
        assert_eq!(receipt.paid, rub(700));
    }
);

backend_test!(
    async fn redeem_above_the_available_balance_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = member_with(&env, 1, 10_000).await;
        let cmd = purchase(m, 1_000, "R-1").redeem(bonus(10_001));
        let err = refused(&env, "insufficient_balance", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(
            matches!(err, Error::Ledger(LedgerError::InsufficientBalance { available, requested })
            if available == bonus(10_000) && requested == bonus(10_001)),
            "{err:?}"
        );
        assert_eq!(err.available(), Some(bonus(10_000)));
        assert_eq!(err.http_status(), 409);
    }
);

backend_test!(
    async fn pending_cashback_cannot_be_spent_before_the_hold_ends(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let receipt = env.buy(m, "skinerica", 1_000, "R-1").await;
        assert_eq!(receipt.cashback, bonus(5_000));
        assert_eq!(receipt.cashback_available_at, start() + Duration::days(14));

        env.clock.set(start() + Duration::days(14) - Duration::seconds(1));
        let balance = env.krug.balance(&env.tenant, m).await.unwrap();
        assert_eq!((balance.available, balance.pending), (Bonus::ZERO, bonus(5_000)));
        let cmd = purchase(m, 1_000, "R-2").redeem(bonus(5_000));
        let err = refused(&env, "insufficient_balance", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(
            matches!(err, Error::Ledger(LedgerError::InsufficientBalance { available, requested })
            if available == Bonus::ZERO && requested == bonus(5_000)),
            "{err:?}"
        );

        // The hold ends exactly 14 days after the purchase.
        env.clock.set(start() + Duration::days(14));
        let receipt =
            env.krug.record_purchase(&env.tenant, purchase(m, 1_000, "R-2").redeem(bonus(5_000))).await.unwrap();
        assert_eq!(receipt.redeemed, bonus(5_000));
    }
);

backend_test!(
    async fn unknown_business_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let cmd = RecordPurchase::new(m, biz("nowhere"), rub(100), "R-1");
        let err = refused(&env, "business_not_found", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(matches!(&err, Error::UnknownBusiness(b) if *b == biz("nowhere")), "{err:?}");
        assert_eq!(err.http_status(), 404);

        let adjust = Adjust { funded_by: Some(biz("nowhere")), ..adjustment(m, 100, "A-1") };
        let err = refused(&env, "business_not_found", env.krug.adjust(&env.tenant, adjust)).await;
        assert!(matches!(&err, Error::UnknownBusiness(b) if *b == biz("nowhere")), "{err:?}");
    }
);

backend_test!(
    async fn category_outside_the_tenant_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let cmd = purchase(m, 100, "R-1").category(Category::parse("flowers").unwrap());
        let err = refused(&env, "invalid_input", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(matches!(err, Error::InvalidInput { field: "category", .. }), "{err:?}");
    }
);

backend_test!(
    async fn purchase_time_in_the_future_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let cmd = purchase(m, 100, "R-1").at(start() + Duration::minutes(5) + Duration::seconds(1));
        let err = refused(&env, "invalid_input", env.krug.record_purchase(&env.tenant, cmd)).await;
        assert!(matches!(err, Error::InvalidInput { field: "at", .. }), "{err:?}");

        // Up to five minutes ahead is a device's clock skew, not the future.
        let cmd = purchase(m, 100, "R-1").at(start() + Duration::minutes(5));
        assert_eq!(env.krug.record_purchase(&env.tenant, cmd).await.unwrap().amount, rub(100));
    }
);

backend_test!(
    async fn empty_or_oversized_receipt_id_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        for receipt in [String::new(), "   ".into(), "R\n1".into(), "x".repeat(129)] {
            let err =
                refused(&env, "invalid_input", env.krug.record_purchase(&env.tenant, purchase(m, 100, &receipt))).await;
            assert!(matches!(err, Error::InvalidInput { field: "receipt_id", .. }), "{receipt:?}: {err:?}");
        }
        let receipt = env.krug.record_purchase(&env.tenant, purchase(m, 100, &"x".repeat(128))).await.unwrap();
        assert_eq!(receipt.amount, rub(100));
    }
);

backend_test!(
    async fn refund_larger_than_what_is_left_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let p = env.buy(m, "skinerica", 1_000, "R-1").await.purchase;
        let refund = |id: &str, amount: Option<Kopecks>| RefundPurchase { purchase: p, refund_id: id.into(), amount };

        let err =
            refused(&env, "refund_exceeds_purchase", env.krug.refund(&env.tenant, refund("F-0", Some(rub(1_001)))))
                .await;
        assert!(
            matches!(err, Error::RefundExceedsPurchase { refundable, requested }
            if refundable == rub(1_000) && requested == rub(1_001)),
            "{err:?}"
        );
        assert_eq!(err.http_status(), 422);

        env.krug.refund(&env.tenant, refund("F-1", Some(rub(400)))).await.unwrap();
        let left = Kopecks::new(60_001).unwrap();
        let err =
            refused(&env, "refund_exceeds_purchase", env.krug.refund(&env.tenant, refund("F-2", Some(left)))).await;
        assert!(
            matches!(err, Error::RefundExceedsPurchase { refundable, requested }
            if refundable == rub(600) && requested == left),
            "{err:?}"
        );

        // Refunding "the rest" of a fully refunded purchase has nothing left to refund.
        env.krug.refund(&env.tenant, refund("F-3", None)).await.unwrap();
        let err = refused(&env, "refund_exceeds_purchase", env.krug.refund(&env.tenant, refund("F-4", None))).await;
        assert!(
            matches!(err, Error::RefundExceedsPurchase { refundable, requested }
            if refundable == Kopecks::ZERO && requested == Kopecks::ZERO),
            "{err:?}"
        );
    }
);

backend_test!(
    async fn refund_of_zero_or_without_an_id_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let p = env.buy(m, "skinerica", 1_000, "R-1").await.purchase;

        let zero = RefundPurchase { purchase: p, refund_id: "F-1".into(), amount: Some(Kopecks::ZERO) };
        let err = refused(&env, "invalid_amount", env.krug.refund(&env.tenant, zero)).await;
        assert!(matches!(err, Error::InvalidAmount { field: "amount", source: AmountError::Zero }), "{err:?}");

        let no_id = RefundPurchase { purchase: p, refund_id: " ".into(), amount: None };
        let err = refused(&env, "invalid_input", env.krug.refund(&env.tenant, no_id)).await;
        assert!(matches!(err, Error::InvalidInput { field: "refund_id", .. }), "{err:?}");
    }
);

backend_test!(
    async fn adjustment_without_reason_actor_or_key_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let cases = [
            ("reason", Adjust { reason: String::new(), ..adjustment(m, 100, "A-1") }),
            ("reason", Adjust { reason: "  ".into(), ..adjustment(m, 100, "A-2") }),
            ("actor", Adjust { actor: String::new(), ..adjustment(m, 100, "A-3") }),
            ("actor", Adjust { actor: "\t".into(), ..adjustment(m, 100, "A-4") }),
            ("key", adjustment(m, 100, "")),
            ("reason", Adjust { reason: "x".repeat(501), ..adjustment(m, 100, "A-5") }),
        ];
        for (expected, cmd) in cases {
            let err = refused(&env, "invalid_input", env.krug.adjust(&env.tenant, cmd)).await;
            assert!(matches!(err, Error::InvalidInput { field, .. } if field == expected), "{expected}: {err:?}");
        }
    }
);

backend_test!(
    async fn zero_adjustment_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        let err = refused(&env, "invalid_amount", env.krug.adjust(&env.tenant, adjustment(m, 0, "A-1"))).await;
        assert!(matches!(err, Error::InvalidAmount { field: "amount", source: AmountError::Zero }), "{err:?}");
    }
);

backend_test!(
    async fn debit_adjustment_above_the_balance_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = member_with(&env, 1, 10_000).await;
        let err =
            refused(&env, "insufficient_balance", env.krug.adjust(&env.tenant, adjustment(m, -10_001, "A-1"))).await;
        assert!(
            matches!(err, Error::Ledger(LedgerError::InsufficientBalance { available, requested })
            if available == bonus(10_000) && requested == bonus(10_001)),
            "{err:?}"
        );
        let receipt = env.krug.adjust(&env.tenant, adjustment(m, -10_000, "A-1")).await.unwrap();
        assert_eq!(receipt.balance.available, Bonus::ZERO);
    }
);

backend_test!(
    async fn page_size_outside_1_to_200_is_refused(db: TestDb) {
        let env = env(db).await;
        let m = env.member(1).await;
        for limit in [0, 201] {
            let err = refused(&env, "invalid_input", env.krug.history(&env.tenant, m, None, limit)).await;
            assert!(matches!(err, Error::InvalidInput { field: "limit", .. }), "{limit}: {err:?}");
            let err = refused(&env, "invalid_input", env.krug.audit_log(&env.tenant, limit)).await;
            assert!(matches!(err, Error::InvalidInput { field: "limit", .. }), "{limit}: {err:?}");
        }
        for limit in [1, 200] {
            assert_eq!(env.krug.history(&env.tenant, m, None, limit).await.unwrap().items, []);
            assert_eq!(env.krug.audit_log(&env.tenant, limit).await.unwrap(), []);
        }
    }
);

backend_test!(
    async fn name_with_control_characters_or_too_long_is_refused(db: TestDb) {
        let env = env(db).await;
        for name in ["Ан\u{0}на", "Анна\u{7}", "Ан\nна", "Анна\u{1b}[31m", &"я".repeat(201)] {
            let cmd = RegisterMember { name: Some(name.to_owned()), ..RegisterMember::phone(phone(1)) };
            let err = refused(&env, "invalid_input", env.krug.register_member(&env.tenant, cmd)).await;
            assert!(matches!(err, Error::InvalidInput { field: "name", .. }), "{name:?}: {err:?}");
        }
        let cmd = RegisterMember { name: Some("я".repeat(200)), ..RegisterMember::phone(phone(1)) };
        let m = env.krug.register_member(&env.tenant, cmd).await.unwrap();
        assert_eq!(env.krug.member(&env.tenant, m).await.unwrap().name, Some("я".repeat(200)));
    }
);

backend_test!(
    async fn birthday_in_the_future_is_refused(db: TestDb) {
        let env = env(db).await;
        let tomorrow = start().date().next_day().unwrap();
        let cmd = RegisterMember { birthday: Some(tomorrow), ..RegisterMember::phone(phone(1)) };
        let err = refused(&env, "invalid_input", env.krug.register_member(&env.tenant, cmd)).await;
        assert!(matches!(err, Error::InvalidInput { field: "birthday", .. }), "{err:?}");

        let cmd = RegisterMember { birthday: Some(start().date()), ..RegisterMember::phone(phone(1)) };
        let m = env.krug.register_member(&env.tenant, cmd).await.unwrap();
        assert_eq!(env.krug.member(&env.tenant, m).await.unwrap().birthday, Some(start().date()));
    }
);

backend_test!(
    async fn phone_already_registered_is_refused_with_the_existing_member(db: TestDb) {
        let env = env(db).await;
        let first = env
            .krug
            .register_member(&env.tenant, RegisterMember::phone(Phone::parse("+79123456789").unwrap()))
            .await
            .unwrap();
        // Another written form of the same number, with a different name, is still the same phone.
        let cmd = RegisterMember {
            name: Some("Someone Else".into()),
            ..RegisterMember::phone(Phone::parse("8 (912) 345-67-89").unwrap())
        };
        let err = refused(&env, "phone_taken", env.krug.register_member(&env.tenant, cmd)).await;
        assert!(matches!(err, Error::PhoneTaken { member } if member == first), "{err:?}");
        assert_eq!(err.http_status(), 409);
        assert_eq!(env.krug.member(&env.tenant, first).await.unwrap().name, None);
    }
);

#[test]
fn types_refuse_invalid_values_at_construction() {
    // Pure constructors touch no store, so they run once rather than once per backend.
    assert_eq!(Kopecks::new(-1), Err(AmountError::Negative(-1)));
    assert_eq!(Kopecks::new(MAX_AMOUNT + 1), Err(AmountError::OutOfRange));
    assert_eq!(Kopecks::new(MAX_AMOUNT).map(Kopecks::get), Ok(MAX_AMOUNT));
    assert_eq!(Kopecks::positive(0), Err(AmountError::Zero));
    assert_eq!(Bps::new(10_001), Err(BpsError(10_001)));
    assert_eq!(Bps::new(10_000), Ok(Bps::FULL));
    assert_eq!(Phone::parse("+1 212 555 0100"), Err(PhoneError::NotRussianMobile));
    assert_eq!(Phone::parse("+7 495 123-45-67"), Err(PhoneError::NotRussianMobile));
    assert_eq!(Phone::parse("8 912 345 67 89 доб. 1"), Err(PhoneError::InvalidCharacter('д')));
    assert_eq!(Phone::parse(" - "), Err(PhoneError::Empty));
}

#[test]
fn invalid_tenant_config_reports_every_problem_with_its_path() {
    let errors = TenantConfig::from_toml_str(
        r#"
        id = "Svoy Krug"
        name = ""
        timezone = "Europe/Moskva"
        [status]
        window = "rolling"
        window_days = 365
        [bonus]
        hold_days = 14
        max_redeem_share_bps = 12000
        rounding = "nearest"
        refund_of_spent = "forgive"
        [budget]
        event_share_bps = 10001
        [[businesses]]
        id = "skinerica"
        name = "Skinerica"
        category = "cosmetology"
        colour = "pink"
        [[businesses]]
        id = "skinerica"
        name = " "
        category = "cosmetology"
        [[tiers]]
        code = "insider"
        name = "Insider"
        min_categories = 1
        cashback_bps = 20000
        "#,
    )
    .unwrap_err();
    let paths: Vec<&str> = errors.0.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "businesses[0].colour",
            "id",
            "name",
            "timezone",
            "businesses[1].id",
            "businesses[1].name",
            "tiers[0].cashback_bps",
            "bonus.max_redeem_share_bps",
            "bonus.rounding",
            "bonus.refund_of_spent",
            "budget.event_share_bps",
        ],
        "{errors}"
    );
    let text = errors.to_string();
    assert!(text.contains("bonus.max_redeem_share_bps: must be at most 10000 basis points (got 12000)"), "{text}");
    assert!(text.contains("businesses[0].colour: unknown key;"), "{text}");

    let err = Error::Config(errors);
    assert_eq!((err.code(), err.http_status()), ("invalid_config", 422));
}

#[test]
fn http_status_is_4xx_for_refusals_and_500_only_for_store_and_pii() {
    let tier = TierCode::parse("vip").unwrap();
    let refusals = [
        (Error::UnknownTenant(tid("nobody")), "tenant_not_found", 404),
        (Error::UnknownBusiness(biz("nowhere")), "business_not_found", 404),
        (Error::MemberNotFound, "member_not_found", 404),
        (Error::PurchaseNotFound, "purchase_not_found", 404),
        (Error::PhoneTaken { member: MemberId::from_uuid(uuid::Uuid::nil()) }, "phone_taken", 409),
        (Error::InvalidAmount { field: "amount", source: AmountError::Zero }, "invalid_amount", 422),
        (Error::InvalidInput { field: "name", message: "bad".into() }, "invalid_input", 422),
        (
            Error::Ledger(LedgerError::InsufficientBalance { available: bonus(1), requested: bonus(2) }),
            "insufficient_balance",
            409,
        ),
        (Error::Ledger(LedgerError::RedeemAboveCap { cap: bonus(1), requested: bonus(2) }), "redeem_above_cap", 422),
        (Error::Ledger(LedgerError::NonPositiveAmount), "invalid_amount", 422),
        (Error::Status(StatusError::NotInvitationOnly { code: tier.clone() }), "invalid_tier", 422),
        (Error::Status(StatusError::UnknownTier { code: tier }), "invalid_tier", 422),
        (Error::IdempotencyConflict { key: "R-1".into() }, "idempotency_conflict", 409),
        (Error::RefundExceedsPurchase { refundable: rub(1), requested: rub(2) }, "refund_exceeds_purchase", 422),
    ];
    for (err, code, status) in refusals {
        assert_eq!((err.code(), err.http_status()), (code, status), "{err:?}");
    }
    let failures = [
        Error::Store(StoreError::NotFound),
        Error::Store(StoreError::Corrupt("x".into())),
        Error::Store(StoreError::Conflict { constraint: "members_phone_index_key".into() }),
        Error::Pii(PiiError::Decrypt),
        Error::Pii(PiiError::Encrypt),
    ];
    for err in failures {
        assert_eq!((err.code(), err.http_status()), ("internal", 500), "{err:?}");
    }
}
