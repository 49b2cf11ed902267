//! Coupons and promo codes through the facade: each kind and scope, every refusal code (with
//! nothing written), the preview, bulk issuance, promo limits under concurrency, refunds per the
//! tenant's policy, idempotent retries, and the walls between businesses.

use std::collections::HashSet;
use std::time::Instant;

use krug::coupon::{CouponCode, CouponKind, CouponScope, CouponTerms, Validity};
use krug::ledger::Source;
use krug::types::{Bonus, Bps, Category, Kopecks, MemberId, TenantId};
use krug::{
    CouponAuthor, Error, MemberCouponStatus, NewPromoCode, PreviewCoupon, Receipt, RecordPurchase, RefundPurchase,
};
use krug_testkit::backend_test;
use time::Duration;

use crate::common::*;

fn percent(bps: u16) -> CouponKind {
    CouponKind::PercentOff { rate: Bps::new(bps).unwrap() }
}

fn fixed(rubles: i64) -> CouponKind {
    CouponKind::FixedOff { amount: rub(rubles) }
}

fn at(business: &str) -> CouponScope {
    CouponScope::Business(biz(business))
}

/// A stackable template without limits, valid 30 days from issue.
fn template(code: &str, kind: CouponKind, scope: CouponScope) -> CouponTerms {
    CouponTerms {
        code: code.into(),
        name: format!("{code} template"),
        kind,
        scope,
        validity: Validity::DaysFromIssue(30),
        min_purchase: Kopecks::ZERO,
        per_member_limit: None,
        global_limit: None,
        stackable: true,
    }
}

fn owner(business: &str) -> CouponAuthor {
    CouponAuthor::Owner(biz(business))
}

const OPERATOR: CouponAuthor = CouponAuthor::Operator;

impl Env {
    async fn create(&self, author: &CouponAuthor, t: CouponTerms) {
        self.krug.create_coupon_template(&self.tenant, author, t).await.unwrap();
    }

    async fn personal(&self, template: &str, member: MemberId) -> String {
        self.krug.issue_coupon(&self.tenant, &OPERATOR, template, member).await.unwrap().code.display()
    }

    async fn buy_with(
        &self,
        member: MemberId,
        business: &str,
        rubles: i64,
        receipt: &str,
        coupon: &str,
    ) -> Result<Receipt, Error> {
        let cmd = RecordPurchase::new(member, biz(business), rub(rubles), receipt).coupon(coupon);
        self.krug.record_purchase(&self.tenant, cmd).await
    }

    /// Every row count a purchase can change, the coupon tables and use counters included.
    async fn all_counts(&self) -> Vec<(&'static str, i64)> {
        let mut counts = self.counts().await;
        for (name, sql) in [
            ("coupon_redemptions", "SELECT COUNT(*) FROM coupon_redemptions"),
            ("Σ coupons.uses", "SELECT CAST(COALESCE(SUM(uses), 0) AS BIGINT) FROM coupons"),
            ("Σ coupon_templates.uses", "SELECT CAST(COALESCE(SUM(uses), 0) AS BIGINT) FROM coupon_templates"),
            ("coupons", "SELECT COUNT(*) FROM coupons"),
        ] {
            counts.push((name, scalar_i64(&self.db, sql).await));
        }
        counts
    }
}

fn code_of(e: &Error) -> &'static str {
    e.code()
}

backend_test!(
    async fn a_percent_coupon_lowers_what_is_charged_and_so_the_cashback_spend_and_budget_share(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.create(&OPERATOR, template("ten-off", percent(1_000), CouponScope::Any)).await;
        let code = env.personal("ten-off", anna).await;
        let r = env.buy_with(anna, "mindal", 1_000, "R-1", &code).await.unwrap();
        let c = r.coupon.clone().unwrap();
        assert_eq!((c.discount, c.bonus, c.funded_by), (rub(100), Bonus::ZERO, None));
        assert_eq!(r.amount, rub(1_000));
        assert_eq!(r.paid, rub(900));
        // Insider 5 % of the 900 ₽ charged; 2 % of it to the event budget.
        assert_eq!(r.cashback, bonus(4_500));
        assert_eq!(r.budget_contribution, Kopecks::new(1_800).unwrap());
        // The purchase is stored, and counts toward the tier, at what was charged.
        assert_eq!(scalar_i64(&env.db, "SELECT amount FROM purchases").await, 90_000);
        assert_eq!(env.krug.status(&env.tenant, anna).await.unwrap().window_spend, rub(900));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), r.balance.total);
    }
);

backend_test!(
    async fn a_fixed_coupon_moves_the_redemption_cap_to_the_charged_amount(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "lisichkino", 10_000, "EARN").await; // 500 ₽ cashback
        env.days(15);
        env.create(&owner("mindal"), template("minus-200", fixed(200), at("mindal"))).await;
        let code = env.personal("minus-200", anna).await;
        // 30 % of 1,000 − 200 = 240 ₽ may be paid with bonuses, not 300 ₽.
        let cmd = |redeem: i64| {
            RecordPurchase::new(anna, biz("mindal"), rub(1_000), "R-1").coupon(code.clone()).redeem(bonus(redeem * 100))
        };
        let e = env.krug.record_purchase(&env.tenant, cmd(241)).await.unwrap_err();
        assert_eq!(code_of(&e), "redeem_above_cap");
        let r = env.krug.record_purchase(&env.tenant, cmd(240)).await.unwrap();
        let c = r.coupon.unwrap();
        assert_eq!((c.discount, c.funded_by), (rub(200), Some(biz("mindal"))));
        assert_eq!((r.redeemed, r.paid), (bonus(24_000), rub(560)));
        assert_eq!(r.cashback, bonus(2_800));
    }
);

backend_test!(
    async fn a_bonus_coupon_credits_bonus_through_the_ledger_funded_by_its_business(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let grant = CouponKind::BonusGrant { amount: bonus(30_000) };
        env.create(&owner("mindal"), template("gift-300", grant, at("mindal"))).await;
        let code = env.personal("gift-300", anna).await;
        let r = env.buy_with(anna, "mindal", 1_000, "R-1", &code).await.unwrap();
        let c = r.coupon.clone().unwrap();
        assert_eq!((c.discount, c.bonus), (Kopecks::ZERO, bonus(30_000)));
        assert_eq!((r.paid, r.cashback), (rub(1_000), bonus(5_000)));
        // Pending like cashback: 50 ₽ cashback + 300 ₽ coupon.
        assert_eq!(r.balance.pending, bonus(35_000));
        let history = env.krug.history(&env.tenant, anna, None, 10).await.unwrap();
        let credit = history.items.iter().find(|i| i.source == Source::Coupon).unwrap();
        assert_eq!((credit.amount, credit.business.clone()), (bonus(30_000), Some(biz("mindal"))));
        assert_eq!(
            scalar_i64(&env.db, "SELECT COUNT(*) FROM lots WHERE source = 'coupon' AND issuer_business_id = 'mindal'")
                .await,
            1
        );
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), r.balance.total);
    }
);

backend_test!(
    async fn a_gift_coupon_is_marked_redeemed_and_cannot_be_used_twice(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let gift = CouponKind::Gift { description: "a free manicure".into() };
        env.create(&owner("mindal"), template("manicure", gift, at("mindal"))).await;
        let code = env.personal("manicure", anna).await;
        let r = env.buy_with(anna, "mindal", 500, "R-1", &code).await.unwrap();
        let c = r.coupon.unwrap();
        assert_eq!((c.gift.as_deref(), c.discount, r.paid), (Some("a free manicure"), Kopecks::ZERO, rub(500)));
        let e = env.buy_with(anna, "mindal", 500, "R-2", &code).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_already_used");
        let listed = env.krug.member_coupons(&env.tenant, anna).await.unwrap();
        assert_eq!(listed[0].status, MemberCouponStatus::Used);
    }
);

backend_test!(
    async fn a_category_coupon_works_at_every_partner_of_the_category_and_nowhere_else(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let beauty = CouponScope::Category(Category::parse("beauty_salon").unwrap());
        env.create(&OPERATOR, template("beauty", percent(500), beauty)).await;
        let code = env.personal("beauty", anna).await;
        let e = env.buy_with(anna, "skinerica", 1_000, "R-1", &code).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_not_valid_here");
        // Booked under the category at another partner, it applies.
        let cmd = RecordPurchase::new(anna, biz("lisichkino"), rub(1_000), "R-2")
            .category(Category::parse("beauty_salon").unwrap())
            .coupon(code.clone());
        assert_eq!(env.krug.record_purchase(&env.tenant, cmd).await.unwrap().coupon.unwrap().discount, rub(50));
    }
);

backend_test!(
    async fn every_refusal_has_its_own_code_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let boris = env.member(2).await;
        env.buy(anna, "lisichkino", 10_000, "EARN").await;
        env.days(15);
        let strict = CouponTerms {
            min_purchase: rub(1_000),
            stackable: false,
            per_member_limit: Some(1),
            ..template("strict", percent(1_000), at("mindal"))
        };
        env.create(&owner("mindal"), strict).await;
        let later = CouponTerms {
            validity: Validity::Dates { from: start() + Duration::days(100), until: start() + Duration::days(200) },
            ..template("later", percent(1_000), CouponScope::Any)
        };
        env.create(&OPERATOR, later).await;
        env.create(
            &OPERATOR,
            CouponTerms { global_limit: Some(1), ..template("one-only", percent(1_000), CouponScope::Any) },
        )
        .await;
        env.create(&OPERATOR, template("revoked", percent(1_000), CouponScope::Any)).await;

        let mine = env.personal("strict", anna).await;
        let used = env.personal("strict", anna).await;
        let second = env.personal("strict", anna).await;
        let boris_own = env.personal("strict", boris).await;
        let not_yet = env.personal("later", anna).await;
        let limited_a = env.personal("one-only", boris).await;
        let limited_b = env.personal("one-only", anna).await;
        let revoked = env.personal("revoked", anna).await;
        env.buy_with(anna, "mindal", 1_000, "USED", &used).await.unwrap();
        env.buy_with(boris, "mindal", 1_000, "LIMIT", &limited_a).await.unwrap();
        env.krug.revoke_coupon_template(&env.tenant, &OPERATOR, "revoked").await.unwrap();
        let expiring = env.personal("strict", boris).await;
        // A code of the generated shape with its last character changed: a typo.
        let mut typo: Vec<char> = mine.chars().collect();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == '2' { '3' } else { '2' };
        let typo: String = typo.into_iter().collect();

        let before = env.all_counts().await;
        let cases: Vec<(&str, MemberId, i64, i64, String, &str)> = vec![
            ("coupon_not_found", anna, 1_000, 0, "NOSUCHCODE".into(), "mindal"),
            ("coupon_mistyped", anna, 1_000, 0, typo, "mindal"),
            ("coupon_not_yet_valid", anna, 1_000, 0, not_yet, "mindal"),
            ("coupon_not_valid_here", anna, 1_000, 0, mine.clone(), "skinerica"),
            ("coupon_min_purchase", anna, 999, 0, mine.clone(), "mindal"),
            ("coupon_not_stackable", anna, 1_000, 100, mine.clone(), "mindal"),
            ("coupon_already_used", anna, 1_000, 0, used, "mindal"),
            ("coupon_member_limit_reached", anna, 1_000, 0, second, "mindal"),
            ("coupon_limit_reached", anna, 1_000, 0, limited_b, "mindal"),
            ("coupon_not_yours", anna, 1_000, 0, boris_own, "mindal"),
            ("coupon_revoked", anna, 1_000, 0, revoked, "mindal"),
            ("invalid_input", anna, 1_000, 0, "AB!".into(), "mindal"),
        ];
        for (expected, member, rubles, redeem, code, business) in cases {
            let cmd = RecordPurchase::new(member, biz(business), rub(rubles), format!("R-{expected}"))
                .coupon(code)
                .redeem(bonus(redeem * 100));
            let e = env.krug.record_purchase(&env.tenant, cmd).await.unwrap_err();
            assert_eq!(code_of(&e), expected, "{e}");
            assert!((400..500).contains(&e.http_status()), "{expected}");
        }
        env.days(31);
        let e = env.buy_with(boris, "mindal", 1_000, "R-expired", &expiring).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_expired");
        assert_eq!(env.all_counts().await, before);
    }
);

backend_test!(
    async fn a_preview_says_what_a_coupon_would_do_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.create(
            &owner("mindal"),
            CouponTerms { min_purchase: rub(1_000), ..template("ten", percent(1_000), at("mindal")) },
        )
        .await;
        let code = env.personal("ten", anna).await;
        let other = env.member(2).await;
        let before = env.all_counts().await;
        let ask = |rubles: i64, member: Option<MemberId>| PreviewCoupon {
            code: code.to_lowercase(),
            business: biz("mindal"),
            amount: rub(rubles),
            member,
            category: None,
            redeem: Bonus::ZERO,
        };
        let p = env.krug.preview_coupon(&env.tenant, ask(1_500, Some(anna))).await.unwrap();
        assert_eq!((p.discount, p.charged), (rub(150), rub(1_350)));
        assert!(p.rules.starts_with("10 % off at Миндаль, purchases from 1,000 ₽"), "{}", p.rules);
        let e = env.krug.preview_coupon(&env.tenant, ask(500, Some(anna))).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_min_purchase");
        let e = env.krug.preview_coupon(&env.tenant, ask(1_500, Some(other))).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_not_yours");
        assert_eq!(env.all_counts().await, before);
        // The previewed coupon is still there to be used.
        env.buy_with(anna, "mindal", 1_500, "R-1", &code).await.unwrap();
    }
);

backend_test!(
    async fn bulk_issuance_makes_100k_distinct_checked_codes_in_one_batch(db: TestDb) {
        let env = env(db).await;
        env.create(&owner("mindal"), template("flyer", fixed(100), at("mindal"))).await;
        let started = Instant::now();
        let batch = env.krug.issue_coupons(&env.tenant, &owner("mindal"), "flyer", 100_000).await.unwrap();
        let took = started.elapsed();
        eprintln!("bulk issuance of 100,000 codes on {:?}: {took:?}", env.db.backend());
        assert_eq!(batch.codes.len(), 100_000);
        let distinct: HashSet<&CouponCode> = batch.codes.iter().collect();
        assert_eq!(distinct.len(), 100_000);
        assert!(batch.codes.iter().all(CouponCode::check_passes));
        assert_eq!(
            scalar_i64(&env.db, "SELECT COUNT(DISTINCT code) FROM coupons WHERE member_id IS NULL").await,
            100_000
        );
        // Any one of them works once, typed any way.
        let anna = env.member(1).await;
        let typed = batch.codes[77_777].display().to_lowercase();
        assert_eq!(env.buy_with(anna, "mindal", 500, "R-1", &typed).await.unwrap().coupon.unwrap().discount, rub(100));
        let e = env.buy_with(anna, "mindal", 500, "R-2", &typed).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_already_used");
        let e = env.krug.issue_coupons(&env.tenant, &owner("mindal"), "flyer", 100_001).await.unwrap_err();
        assert_eq!(code_of(&e), "invalid_input");
    }
);

/// Runs the purchases all at once: how many succeeded, and the codes of the refusals.
async fn race(env: &Env, purchases: Vec<RecordPurchase>) -> (usize, Vec<&'static str>) {
    let mut tasks = Vec::new();
    for cmd in purchases {
        let krug = env.krug.clone();
        let tenant: TenantId = env.tenant.clone();
        tasks.push(tokio::spawn(async move { krug.record_purchase(&tenant, cmd).await }));
    }
    let mut ok = 0;
    let mut refused = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => refused.push(e.code()),
        }
    }
    (ok, refused)
}

backend_test!(
    async fn a_promo_code_limited_to_10_uses_admits_exactly_10_of_50_concurrent_purchases(db: TestDb) {
        let env = env(db).await;
        env.create(
            &owner("mindal"),
            CouponTerms { per_member_limit: Some(1), ..template("spring", percent(1_000), at("mindal")) },
        )
        .await;
        let promo = NewPromoCode { template: "spring".into(), code: Some("vesna-2026".into()), max_uses: Some(10) };
        let issued = env.krug.create_promo_code(&env.tenant, &owner("mindal"), promo).await.unwrap();
        assert_eq!(issued.code.as_str(), "VESNA2026");
        let mut members = Vec::new();
        for n in 0..50 {
            members.push(env.member(100 + n).await);
        }
        let purchases = members
            .iter()
            .enumerate()
            .map(|(i, m)| RecordPurchase::new(*m, biz("mindal"), rub(1_000), format!("P-{i}")).coupon("Vesna 2026"))
            .collect();
        let (ok, refused) = race(&env, purchases).await;
        assert_eq!(ok, 10);
        assert!(refused.iter().all(|c| *c == "coupon_limit_reached"), "{refused:?}");
        assert_eq!(scalar_i64(&env.db, "SELECT uses FROM coupons WHERE code = 'VESNA2026'").await, 10);
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM coupon_redemptions").await, 10);

        // Per member: a second code of the same template, once per member.
        let again = NewPromoCode { template: "spring".into(), code: Some("VESNA-BIS".into()), max_uses: None };
        env.krug.create_promo_code(&env.tenant, &owner("mindal"), again).await.unwrap();
        let e = env
            .krug
            .create_promo_code(
                &env.tenant,
                &owner("mindal"),
                NewPromoCode { template: "spring".into(), code: Some("vesnabis".into()), max_uses: None },
            )
            .await
            .unwrap_err();
        assert_eq!(code_of(&e), "coupon_code_taken");
        let winner = scalar_text(&env.db, "SELECT CAST(MIN(receipt_id) AS TEXT) FROM purchases").await;
        let i: usize = winner.trim_start_matches("P-").parse().unwrap();
        let e = env.buy_with(members[i], "mindal", 1_000, "AGAIN", "VESNABIS").await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_member_limit_reached");
    }
);

backend_test!(
    async fn a_full_refund_restores_the_coupon_and_takes_back_its_bonus_in_proportion(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.create(&OPERATOR, template("bonus", CouponKind::BonusGrant { amount: bonus(20_000) }, CouponScope::Any))
            .await;
        let code = env.personal("bonus", anna).await;
        let r = env.buy_with(anna, "mindal", 1_000, "R-1", &code).await.unwrap();
        let half = RefundPurchase { purchase: r.purchase, refund_id: "F-1".into(), amount: Some(rub(500)) };
        let first = env.krug.refund(&env.tenant, half).await.unwrap();
        assert_eq!((first.coupon_bonus_reversed, first.coupon_restored), (bonus(10_000), false));
        let e = env.buy_with(anna, "mindal", 1_000, "R-2", &code).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_already_used");
        let rest = RefundPurchase { purchase: r.purchase, refund_id: "F-2".into(), amount: None };
        let second = env.krug.refund(&env.tenant, rest).await.unwrap();
        assert_eq!((second.coupon_bonus_reversed, second.coupon_restored), (bonus(10_000), true));
        assert_eq!(second.balance.total, Bonus::ZERO);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), Bonus::ZERO);
        // Given back by the policy: usable again.
        assert_eq!(
            env.buy_with(anna, "mindal", 1_000, "R-3", &code).await.unwrap().coupon.unwrap().bonus,
            bonus(20_000)
        );
    }
);

backend_test!(
    async fn a_tenant_whose_policy_is_never_keeps_a_refunded_coupon_used(db: TestDb) {
        let env = env(db).await;
        let other = env.other.clone();
        let anna = env.krug.register_member(&other, krug::RegisterMember::phone(phone(1))).await.unwrap();
        env.krug
            .create_coupon_template(&other, &OPERATOR, template("ten", percent(1_000), CouponScope::Any))
            .await
            .unwrap();
        let code = env.krug.issue_coupon(&other, &OPERATOR, "ten", anna).await.unwrap().code;
        let buy = |receipt: &str| RecordPurchase::new(anna, biz("florist"), rub(1_000), receipt).coupon(code.as_str());
        let r = env.krug.record_purchase(&other, buy("R-1")).await.unwrap();
        let refund = RefundPurchase { purchase: r.purchase, refund_id: "F-1".into(), amount: None };
        assert!(!env.krug.refund(&other, refund).await.unwrap().coupon_restored);
        let e = env.krug.record_purchase(&other, buy("R-2")).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_already_used");
    }
);

backend_test!(
    async fn a_retry_with_the_same_coupon_replays_and_another_coupon_is_a_conflict(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.create(&OPERATOR, template("ten", percent(1_000), CouponScope::Any)).await;
        let code = env.personal("ten", anna).await;
        let other = env.personal("ten", anna).await;
        let first = env.buy_with(anna, "mindal", 1_000, "R-1", &code).await.unwrap();
        let before = env.all_counts().await;
        let retry = env.buy_with(anna, "mindal", 1_000, "R-1", &code.to_lowercase().replace('-', " ")).await.unwrap();
        assert_eq!(retry, first);
        assert_eq!(env.all_counts().await, before);
        let e = env.buy_with(anna, "mindal", 1_000, "R-1", &other).await.unwrap_err();
        assert_eq!(code_of(&e), "idempotency_conflict");
        let plain = RecordPurchase::new(anna, biz("mindal"), rub(1_000), "R-1");
        assert_eq!(code_of(&env.krug.record_purchase(&env.tenant, plain).await.unwrap_err()), "idempotency_conflict");
        assert_eq!(env.all_counts().await, before);
    }
);

backend_test!(
    async fn a_scan_applies_its_coupon_in_the_same_transaction(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.krug.provision_qr_secret(&env.tenant, anna).await.unwrap();
        env.create(&owner("skinerica"), template("skin", fixed(150), at("skinerica"))).await;
        let code = env.personal("skin", anna).await;
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let scan = krug::Scan::new(qr.clone(), biz("skinerica"), rub(1_000), "S-1").coupon(code.clone());
        let r = env.krug.scan(&env.tenant, scan.clone()).await.unwrap();
        assert_eq!((r.coupon.clone().unwrap().discount, r.paid), (rub(150), rub(850)));
        // The retry replays; a refused coupon leaves the code of the next scan unused.
        assert_eq!(env.krug.scan(&env.tenant, scan).await.unwrap(), r);
        env.clock.advance(Duration::seconds(60));
        let qr = env.krug.current_qr(&env.tenant, anna).await.unwrap();
        let refused = krug::Scan::new(qr.clone(), biz("skinerica"), rub(1_000), "S-2").coupon(code);
        assert_eq!(code_of(&env.krug.scan(&env.tenant, refused).await.unwrap_err()), "coupon_already_used");
        env.krug.scan(&env.tenant, krug::Scan::new(qr, biz("skinerica"), rub(1_000), "S-3")).await.unwrap();
    }
);

backend_test!(
    async fn another_business_can_neither_see_nor_manage_your_templates(db: TestDb) {
        let env = env(db).await;
        env.create(&owner("mindal"), template("mine", percent(1_000), at("mindal"))).await;
        env.create(&OPERATOR, template("ecosystem", percent(500), CouponScope::Any)).await;
        let skin = owner("skinerica");
        let refusals = [
            env.krug.coupon_template(&env.tenant, &skin, "mine").await.unwrap_err(),
            env.krug.revoke_coupon_template(&env.tenant, &skin, "mine").await.unwrap_err(),
            env.krug.issue_coupons(&env.tenant, &skin, "mine", 5).await.unwrap_err(),
            env.krug
                .create_promo_code(
                    &env.tenant,
                    &skin,
                    NewPromoCode { template: "mine".into(), code: None, max_uses: None },
                )
                .await
                .unwrap_err(),
            env.krug.issue_coupon(&env.tenant, &skin, "ecosystem", env.member(1).await).await.unwrap_err(),
        ];
        for e in refusals {
            assert_eq!((code_of(&e), e.http_status()), ("coupon_template_not_found", 404));
        }
        assert!(env.krug.coupon_templates(&env.tenant, &skin).await.unwrap().is_empty());
        let mindal: Vec<String> = env
            .krug
            .coupon_templates(&env.tenant, &owner("mindal"))
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.template.terms.code)
            .collect();
        assert_eq!(mindal, vec!["mine".to_owned()]);
        assert_eq!(env.krug.coupon_templates(&env.tenant, &OPERATOR).await.unwrap().len(), 2);
        // The template is untouched; another tenant does not see it at all.
        assert!(!env.krug.coupon_template(&env.tenant, &owner("mindal"), "mine").await.unwrap().revoked);
        let e = env.krug.coupon_template(&env.other, &OPERATOR, "mine").await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_template_not_found");
    }
);

backend_test!(
    async fn bad_template_input_is_a_typed_error_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let before = scalar_i64(&env.db, "SELECT COUNT(*) FROM coupon_templates").await;
        let cases = [
            (owner("mindal"), template("elsewhere", percent(1_000), at("skinerica")), "scope"),
            (OPERATOR, template("nobiz", percent(1_000), at("no-such-biz")), "scope"),
            (OPERATOR, template("Bad Code", percent(1_000), CouponScope::Any), "code"),
            (OPERATOR, template("zero", percent(0), CouponScope::Any), "percent_bps"),
            (OPERATOR, template("free", fixed(0), CouponScope::Any), "amount_kopecks"),
            (
                OPERATOR,
                CouponTerms { validity: Validity::DaysFromIssue(0), ..template("days", percent(1), CouponScope::Any) },
                "valid_days",
            ),
            (
                OPERATOR,
                CouponTerms {
                    validity: Validity::Dates { from: start(), until: start() },
                    ..template("dates", percent(1), CouponScope::Any)
                },
                "valid_until",
            ),
            (
                OPERATOR,
                CouponTerms { global_limit: Some(0), ..template("limit", percent(1), CouponScope::Any) },
                "global_limit",
            ),
        ];
        for (author, t, field) in cases {
            match env.krug.create_coupon_template(&env.tenant, &author, t).await.unwrap_err() {
                Error::InvalidInput { field: f, .. } => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        env.create(&OPERATOR, template("once", percent(1), CouponScope::Any)).await;
        let e = env
            .krug
            .create_coupon_template(&env.tenant, &OPERATOR, template("once", percent(2), CouponScope::Any))
            .await
            .unwrap_err();
        assert_eq!((code_of(&e), e.http_status()), ("coupon_template_exists", 409));
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM coupon_templates").await, before + 1);
    }
);

backend_test!(
    async fn my_coupons_are_listed_active_used_and_expired_in_plain_words(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let until = time::macros::datetime!(2026-12-13 00:00 +3);
        let dated = CouponTerms {
            validity: Validity::Dates { from: start(), until: until.to_offset(time::UtcOffset::UTC) },
            min_purchase: rub(1_000),
            ..template("mindal-10", percent(1_000), at("mindal"))
        };
        env.create(&owner("mindal"), dated).await;
        env.create(
            &OPERATOR,
            CouponTerms { validity: Validity::DaysFromIssue(7), ..template("week", fixed(100), CouponScope::Any) },
        )
        .await;
        let active = env.personal("mindal-10", anna).await;
        let used = env.personal("mindal-10", anna).await;
        env.buy_with(anna, "mindal", 1_000, "R-1", &used).await.unwrap();
        env.personal("week", anna).await;
        env.days(8);
        let listed = env.krug.member_coupons(&env.tenant, anna).await.unwrap();
        let status = |code: &str| listed.iter().find(|c| c.code.display() == code).map(|c| c.status);
        assert_eq!(listed.len(), 3);
        assert_eq!(status(&active), Some(MemberCouponStatus::Active));
        assert_eq!(status(&used), Some(MemberCouponStatus::Used));
        assert_eq!(listed.iter().filter(|c| c.status == MemberCouponStatus::Expired).count(), 1);
        let words = &listed.iter().find(|c| c.code.display() == active).unwrap().rules;
        assert_eq!(words, "10 % off at Миндаль, purchases from 1,000 ₽, until 12 Dec 2026");
        // Another member's list does not show them.
        let boris = env.member(2).await;
        assert!(env.krug.member_coupons(&env.tenant, boris).await.unwrap().is_empty());
    }
);

backend_test!(
    async fn a_clinic_coupons_use_reaches_no_other_partner_and_no_one_sees_who_used_it(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.create(&owner("stim-center"), template("checkup", fixed(500), at("stim-center"))).await;
        let code = env.personal("checkup", anna).await;
        // A clinic purchase needs her medical consent first, coupon or not; the refusal writes nothing.
        let e = env.buy_with(anna, "stim-center", 3_000, "D-1", &code).await.unwrap_err();
        assert_eq!(code_of(&e), "medical_consent_required");
        env.medical_consent(anna).await;
        env.buy_with(anna, "stim-center", 3_000, "D-1", &code).await.unwrap();
        // Other partners see neither the template nor its use; its owner and the operator see a
        // count (the view carries no member at all).
        for other in ["mindal", "skinerica", "millennium"] {
            assert!(env.krug.coupon_templates(&env.tenant, &owner(other)).await.unwrap().is_empty());
            let e = env.krug.coupon_template(&env.tenant, &owner(other), "checkup").await.unwrap_err();
            assert_eq!(code_of(&e), "coupon_template_not_found");
        }
        let own = env.krug.coupon_template(&env.tenant, &owner("stim-center"), "checkup").await.unwrap();
        assert_eq!(own.uses, 1);
        assert_eq!(env.krug.coupon_template(&env.tenant, &OPERATOR, "checkup").await.unwrap().uses, 1);
        // Nor is it usable at another partner.
        let other_code = env.personal("checkup", anna).await;
        let e = env.buy_with(anna, "mindal", 3_000, "M-1", &other_code).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_not_valid_here");
    }
);

backend_test!(
    async fn a_template_whose_dates_have_passed_issues_nothing(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let short = CouponTerms {
            validity: Validity::Dates { from: start(), until: start() + Duration::days(1) },
            ..template("short", percent(1_000), CouponScope::Any)
        };
        env.create(&OPERATOR, short).await;
        env.days(2);
        let before = env.all_counts().await;
        let e = env.krug.issue_coupon(&env.tenant, &OPERATOR, "short", anna).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_expired");
        let e = env.krug.issue_coupons(&env.tenant, &OPERATOR, "short", 10).await.unwrap_err();
        assert_eq!(code_of(&e), "coupon_expired");
        assert_eq!(env.all_counts().await, before);
    }
);

backend_test!(
    async fn a_template_limit_of_5_holds_across_30_concurrent_purchases_with_different_codes(db: TestDb) {
        let env = env(db).await;
        env.create(
            &owner("mindal"),
            CouponTerms { global_limit: Some(5), ..template("few", fixed(100), at("mindal")) },
        )
        .await;
        let batch = env.krug.issue_coupons(&env.tenant, &owner("mindal"), "few", 30).await.unwrap();
        let mut purchases = Vec::new();
        for (i, code) in batch.codes.iter().enumerate() {
            let member = env.member(200 + u32::try_from(i).unwrap()).await;
            purchases
                .push(RecordPurchase::new(member, biz("mindal"), rub(1_000), format!("G-{i}")).coupon(code.as_str()));
        }
        let (ok, refused) = race(&env, purchases).await;
        assert_eq!(ok, 5);
        assert!(refused.iter().all(|c| *c == "coupon_limit_reached"), "{refused:?}");
        assert_eq!(scalar_i64(&env.db, "SELECT uses FROM coupon_templates WHERE template_code = 'few'").await, 5);
        assert_eq!(scalar_i64(&env.db, "SELECT CAST(SUM(uses) AS BIGINT) FROM coupons").await, 5);
    }
);
