//! Offers: templates and effects, the sandbox's limits (a failing script is skipped, the scan
//! succeeds, the failure is counted), budgets under concurrency, the approval lifecycle and its
//! business wall, versions, examples gating submission, refunds, backtests and bad input.

use krug::coupon::{CouponKind, CouponScope, CouponTerms, Validity};
use krug::offer::{Effects, MemberFacts, OfferExample, OfferRules, PurchaseFacts, ScriptFailure, Template};
use krug::types::{Bps, Category, Kopecks, OfferId, TierCode};
use krug::{CouponAuthor, DryRun, Error, MemberCouponStatus, OfferDraft, OfferStatus, RefundPurchase};
use krug_testkit::backend_test;
use time::macros::date;

use crate::common::*;

const OPERATOR: &str = "operator:test";

fn facts(amount_rub: i64) -> PurchaseFacts {
    PurchaseFacts {
        amount: rub(amount_rub),
        paid: rub(amount_rub),
        category: Category::parse("cosmetology").unwrap(),
        business: biz("skinerica"),
        weekday: 1,
        hour: 12,
        date: date!(2026 - 03 - 02),
        cashback: bonus(0),
    }
}

fn example(name: &str, purchase: PurchaseFacts, member: MemberFacts, expect: Effects) -> OfferExample {
    OfferExample { name: name.into(), purchase, member, expect }
}

fn fixed(k: i64) -> Effects {
    Effects { bonus: bonus(k), ..Effects::default() }
}

fn script_draft(name: &str, script: &str, rules: OfferRules) -> OfferDraft {
    OfferDraft {
        name: name.into(),
        script: Some(script.into()),
        template: None,
        rules,
        examples: vec![example("any purchase", facts(1_000), MemberFacts::default(), Effects::default())],
    }
}

/// An offer of skinerica running `script` (its example is set to what the script does on a
/// plain 1 000 ₽ purchase, so submission passes).
async fn running(env: &Env, name: &str, script: &str, rules: OfferRules) -> OfferId {
    let skinerica = biz("skinerica");
    let mut draft = script_draft(name, script, rules);
    let ex = &draft.examples[0];
    let probe =
        DryRun { script: Some(script.into()), offer: None, purchase: ex.purchase.clone(), member: ex.member.clone() };
    let outcome = env.krug.dry_run_offer(&env.tenant, &skinerica, probe).await.unwrap();
    draft.examples[0].expect = outcome.effects;
    let offer = env.krug.create_offer(&env.tenant, &skinerica, draft).await.unwrap();
    let submitted = env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await.unwrap();
    assert_eq!(submitted.status, OfferStatus::Submitted);
    let approved = env.krug.approve_offer(&env.tenant, offer.id, offer.latest_version, OPERATOR).await.unwrap();
    assert_eq!(approved.status, OfferStatus::Active);
    offer.id
}

async fn offer_rows(env: &Env) -> Vec<i64> {
    let mut out = Vec::new();
    for t in ["offers", "offer_versions", "offer_activations", "offer_stats", "member_badges"] {
        out.push(scalar_i64(&env.db, &format!("SELECT COUNT(*) FROM {t}")).await);
    }
    out
}

backend_test!(
    async fn each_template_writes_readable_rhai_that_fires_exactly_when_described(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let member = MemberFacts::default();
        let cases: Vec<(Template, PurchaseFacts, MemberFacts, PurchaseFacts, MemberFacts, Effects)> = vec![
            (
                Template::WelcomeBonus { bonus: bonus(500) },
                facts(100),
                MemberFacts { visits: 0, ..member.clone() },
                facts(100),
                MemberFacts { visits: 3, ..member.clone() },
                fixed(500),
            ),
            (
                Template::Birthday { bonus: bonus(700), whole_week: false },
                facts(100),
                MemberFacts { birthday_today: true, birthday_this_week: true, ..member.clone() },
                facts(100),
                MemberFacts { birthday_this_week: true, ..member.clone() },
                fixed(700),
            ),
            (
                Template::Birthday { bonus: bonus(700), whole_week: true },
                facts(100),
                MemberFacts { birthday_this_week: true, ..member.clone() },
                facts(100),
                member.clone(),
                fixed(700),
            ),
            (
                Template::WeekdayHourMultiplier { weekdays: vec![2, 4], from_hour: 12, to_hour: 15, percent: 200 },
                PurchaseFacts { weekday: 4, hour: 14, ..facts(100) },
                member.clone(),
                PurchaseFacts { weekday: 4, hour: 15, ..facts(100) },
                member.clone(),
                Effects { multiply_percent: Some(200), ..Effects::default() },
            ),
            (
                Template::CategoryBonus {
                    category: Category::parse("cosmetology").unwrap(),
                    rate: Bps::new(300).unwrap(),
                },
                facts(100),
                member.clone(),
                PurchaseFacts { category: Category::parse("dentistry").unwrap(), ..facts(100) },
                member.clone(),
                Effects { bonus_rate_bps: 300, ..Effects::default() },
            ),
            (
                Template::EveryNthVisit { n: 3, bonus: bonus(1_000) },
                facts(100),
                MemberFacts { visits: 5, ..member.clone() },
                facts(100),
                MemberFacts { visits: 3, ..member.clone() },
                fixed(1_000),
            ),
            (
                Template::SpendThreshold { min_amount: rub(3_000), bonus: bonus(2_000) },
                facts(3_000),
                member.clone(),
                facts(2_999),
                member.clone(),
                fixed(2_000),
            ),
            (
                Template::WinBack { days: 60, bonus: bonus(1_500) },
                facts(100),
                MemberFacts { days_since_last_visit: Some(61), visits: 4, ..member.clone() },
                facts(100),
                MemberFacts { days_since_last_visit: None, ..member.clone() },
                fixed(1_500),
            ),
        ];
        for (template, hit_p, hit_m, miss_p, miss_m, expect) in cases {
            let script = template.script().unwrap();
            assert!(script.starts_with("// "), "{script}");
            let draft = OfferDraft {
                name: template.name().into(),
                script: None,
                template: Some(template.clone()),
                rules: OfferRules::default(),
                examples: vec![
                    example("fires", hit_p.clone(), hit_m.clone(), expect.clone()),
                    example("does not fire", miss_p.clone(), miss_m.clone(), Effects::default()),
                ],
            };
            let offer = env.krug.create_offer(&env.tenant, &skinerica, draft).await.unwrap();
            assert_eq!(offer.versions[0].script, script);
            assert_eq!(offer.versions[0].template.as_deref(), Some(template.name()));
            // The generated script passes its own examples (a hit and a miss).
            env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await.unwrap();
            let dry = |p: PurchaseFacts, m: MemberFacts| DryRun {
                script: Some(script.clone()),
                offer: None,
                purchase: p,
                member: m,
            };
            let hit = env.krug.dry_run_offer(&env.tenant, &skinerica, dry(hit_p, hit_m)).await.unwrap();
            assert_eq!(hit.effects, expect, "{}", template.name());
            let miss = env.krug.dry_run_offer(&env.tenant, &skinerica, dry(miss_p, miss_m)).await.unwrap();
            assert_eq!(miss.effects, Effects::default(), "{}", template.name());
        }
    }
);

backend_test!(
    async fn every_effect_is_applied_on_a_purchase_as_an_offer_credit(db: TestDb) {
        let env = env(db).await;
        // The offer may issue coupons of its own business's templates only: `eco-5` is the
        // operator's (ecosystem-funded), so that effect is skipped and counted as a failure.
        for (author, code, scope) in [
            (CouponAuthor::Owner(biz("skinerica")), "spa-10", CouponScope::Business(biz("skinerica"))),
            (CouponAuthor::Operator, "eco-5", CouponScope::Any),
        ] {
            let terms = CouponTerms {
                code: code.into(),
                name: format!("{code} template"),
                kind: CouponKind::PercentOff { rate: Bps::new(1_000).unwrap() },
                scope,
                validity: Validity::DaysFromIssue(30),
                min_purchase: Kopecks::ZERO,
                per_member_limit: None,
                global_limit: None,
                stackable: true,
            };
            env.krug.create_coupon_template(&env.tenant, &author, terms).await.unwrap();
        }
        let script = r#"
            if purchase.amount >= 100000 && member.visits == 0 && business.id == "skinerica" {
                bonus(1000);
                bonus_rate(200);
                multiply(300);
                issue_coupon("spa-10");
                issue_coupon("eco-5");
                award_badge("first-glow");
            }
        "#;
        let offer = running(&env, "all effects", script, OfferRules::default()).await;
        let anna = env.member(1).await;
        let receipt = env.buy(anna, "skinerica", 2_000, "R-1").await;
        assert_eq!(receipt.offers.len(), 1);
        let applied = &receipt.offers[0];
        // 10 ₽ + 2 % of 2 000 ₽ + (300 − 100) % of the cashback.
        let expected = 1_000 + 4_000 + 2 * receipt.cashback.get();
        assert!(receipt.cashback.get() > 0);
        assert_eq!((applied.offer, applied.version, applied.bonus), (offer, 1, bonus(expected)));
        assert_eq!(applied.coupons, vec!["spa-10".to_owned()]);
        assert_eq!(applied.badges, vec!["first-glow".to_owned()]);
        assert_eq!(receipt.balance.pending, bonus(receipt.cashback.get() + expected));
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(receipt.cashback.get() + expected));
        let offer_lots = scalar_i64(
            &env.db,
            "SELECT COUNT(*) FROM lots WHERE source = 'offer' AND issuer_business_id = 'skinerica'",
        )
        .await;
        assert_eq!(offer_lots, 1);
        let coupons = scalar_text(&env.db, "SELECT coupons_json FROM offer_activations").await;
        assert_eq!(coupons, r#"["spa-10"]"#);
        let mine = env.krug.member_coupons(&env.tenant, anna).await.unwrap();
        assert_eq!(mine.iter().map(|c| c.template.as_str()).collect::<Vec<_>>(), ["spa-10"]);
        assert_eq!(mine[0].status, MemberCouponStatus::Active);
        let badges = env.krug.member_badges(&env.tenant, anna).await.unwrap();
        assert_eq!(badges.iter().map(|b| b.code.as_str()).collect::<Vec<_>>(), ["first-glow"]);

        // Second visit: the script does not match; the badge stays once.
        let second = env.buy(anna, "skinerica", 2_000, "R-2").await;
        assert!(second.offers.is_empty());
        assert_eq!(env.krug.member_badges(&env.tenant, anna).await.unwrap().len(), 1);
        let stats = env.krug.offer_analytics(&env.tenant, Some(&biz("skinerica")), offer).await.unwrap();
        assert_eq!(stats.len(), 1);
        assert_eq!(
            (
                stats[0].matched,
                stats[0].revenue,
                stats[0].activations,
                stats[0].bonus,
                stats[0].members,
                stats[0].failures
            ),
            (1, 200_000, 1, expected, 1, 1)
        );
        // Another business's purchase does not run skinerica's offer.
        let other = env.buy(anna, "mindal", 2_000, "R-3").await;
        assert!(other.offers.is_empty());
    }
);

backend_test!(
    async fn a_runaway_and_a_memory_hungry_script_are_stopped_the_scan_succeeds_and_failures_are_counted(db: TestDb) {
        let env = env(db).await;
        let endless = running(&env, "endless", "if purchase.amount > 150000 { loop {} }", OfferRules::default()).await;
        let hungry = running(
            &env,
            "hungry",
            "if purchase.amount > 150000 { let s = \"xxxxxxxxxxxxxxxx\"; loop { s += s; } }",
            OfferRules::default(),
        )
        .await;
        let broken = running(
            &env,
            "broken",
            "if purchase.amount > 150000 { bonus(-5); }",
            OfferRules { priority: -1, ..OfferRules::default() },
        )
        .await;
        let fine = running(&env, "fine", "bonus(100);", OfferRules { priority: -2, ..OfferRules::default() }).await;
        let anna = env.member(1).await;
        let receipt = env.buy(anna, "skinerica", 2_000, "R-1").await;
        assert_eq!(receipt.offers.iter().map(|o| (o.offer, o.bonus)).collect::<Vec<_>>(), vec![(fine, bonus(100))]);
        for offer in [endless, hungry, broken] {
            let stats = env.krug.offer_analytics(&env.tenant, None, offer).await.unwrap();
            assert_eq!(stats.iter().map(|s| (s.failures, s.activations)).collect::<Vec<_>>(), vec![(1, 0)]);
        }
        // The sandbox says which limit stopped a dry run.
        let skinerica = biz("skinerica");
        let run = |script: &str| DryRun {
            script: Some(script.into()),
            offer: None,
            purchase: facts(1_000),
            member: MemberFacts::default(),
        };
        let stopped = env.krug.dry_run_offer(&env.tenant, &skinerica, run("loop {}")).await.unwrap();
        assert!(matches!(stopped.failure, Some(ScriptFailure::Limit(_))), "{stopped:?}");
        let grown =
            env.krug.dry_run_offer(&env.tenant, &skinerica, run("let s = \"ab\"; loop { s += s; }")).await.unwrap();
        assert!(matches!(grown.failure, Some(ScriptFailure::Limit(_))), "{grown:?}");
        env.krug.verify_ledger(&env.tenant, anna).await.unwrap();
    }
);

backend_test!(
    async fn fifty_concurrent_scans_spend_exactly_the_budget_never_more(db: TestDb) {
        let env = env(db).await;
        let rules = OfferRules { budget: Some(bonus(1_000)), ..OfferRules::default() };
        let offer = running(&env, "small budget", "bonus(300);", rules).await;
        let mut members = Vec::new();
        for i in 0..50 {
            members.push(env.member(i + 1).await);
        }
        let mut tasks = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            let member = *member;
            tasks.push(tokio::spawn(async move {
                krug.record_purchase(
                    &tenant,
                    krug::RecordPurchase::new(member, biz("skinerica"), rub(500), format!("C-{i}")),
                )
                .await
            }));
        }
        let mut total = 0;
        let mut fired = 0;
        for task in tasks {
            let receipt = task.await.unwrap().unwrap();
            total += receipt.offers.iter().map(|o| o.bonus.get()).sum::<i64>();
            fired += receipt.offers.len();
        }
        assert_eq!((total, fired), (1_000, 4));
        let view = env.krug.offer(&env.tenant, None, offer).await.unwrap();
        assert_eq!((view.spent, view.activations), (bonus(1_000), 4));
        let lots =
            scalar_i64(&env.db, "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM lots WHERE source = 'offer'")
                .await;
        assert_eq!(lots, 1_000);
        for member in members {
            env.krug.verify_ledger(&env.tenant, member).await.unwrap();
        }
    }
);

backend_test!(
    async fn priority_exclusivity_member_limits_and_the_purchase_cap_decide_what_fires(db: TestDb) {
        let env = env(db).await;
        // The other tenant would be the place for another cap; svoy-krug's cap is 5 000 ₽.
        let vip = running(
            &env,
            "big spender",
            "if purchase.amount >= 500000 { bonus(300000); }",
            OfferRules { priority: 10, exclusive: true, ..OfferRules::default() },
        )
        .await;
        let big = running(&env, "big", "bonus(400000);", OfferRules { priority: 5, ..OfferRules::default() }).await;
        let once = running(
            &env,
            "once per member",
            "bonus(100);",
            OfferRules { priority: 1, per_member_count: Some(1), ..OfferRules::default() },
        )
        .await;
        let anna = env.member(1).await;
        // Small purchase: the exclusive offer does not match; "big" and "once" both fire, in
        // priority order.
        let first = env.buy(anna, "skinerica", 1_000, "R-1").await;
        assert_eq!(
            first.offers.iter().map(|o| (o.offer, o.bonus.get())).collect::<Vec<_>>(),
            vec![(big, 400_000), (once, 100)]
        );
        // Again: "once" has reached its per-member count.
        let second = env.buy(anna, "skinerica", 1_000, "R-2").await;
        assert_eq!(second.offers.iter().map(|o| o.offer).collect::<Vec<_>>(), vec![big]);
        // A large purchase: the exclusive offer fires and stops the others.
        let third = env.buy(anna, "skinerica", 6_000, "R-3").await;
        assert_eq!(third.offers.iter().map(|o| (o.offer, o.bonus.get())).collect::<Vec<_>>(), vec![(vip, 300_000)]);
        // The cap: two offers asking 4 000 ₽ each on one purchase get 5 000 ₽ together.
        env.krug.pause_offer(&env.tenant, None, vip, OPERATOR).await.unwrap();
        running(&env, "big too", "bonus(400000);", OfferRules { priority: 4, ..OfferRules::default() }).await;
        let fourth = env.buy(anna, "skinerica", 6_000, "R-4").await;
        assert_eq!(fourth.offers.iter().map(|o| o.bonus.get()).collect::<Vec<_>>(), vec![400_000, 100_000]);
        env.krug.verify_ledger(&env.tenant, anna).await.unwrap();
    }
);

backend_test!(
    async fn an_owner_cannot_approve_and_another_business_cannot_see_or_touch_the_draft(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let mindal = biz("mindal");
        let mut draft = script_draft("draft", "bonus(100);", OfferRules::default());
        draft.examples[0].expect = fixed(100);
        let offer = env.krug.create_offer(&env.tenant, &skinerica, draft.clone()).await.unwrap();
        // Another business: not found, for every read and write.
        assert!(matches!(env.krug.offer(&env.tenant, Some(&mindal), offer.id).await, Err(Error::OfferNotFound)));
        assert!(env.krug.offers(&env.tenant, Some(&mindal)).await.unwrap().is_empty());
        assert!(matches!(
            env.krug.edit_offer(&env.tenant, &mindal, offer.id, draft.clone()).await,
            Err(Error::OfferNotFound)
        ));
        assert!(matches!(env.krug.submit_offer(&env.tenant, &mindal, offer.id).await, Err(Error::OfferNotFound)));
        assert!(matches!(
            env.krug.pause_offer(&env.tenant, Some(&mindal), offer.id, "x").await,
            Err(Error::OfferNotFound)
        ));
        assert!(matches!(
            env.krug.offer_analytics(&env.tenant, Some(&mindal), offer.id).await,
            Err(Error::OfferNotFound)
        ));
        // Another tenant: not found either.
        assert!(matches!(env.krug.offer(&env.other, None, offer.id).await, Err(Error::OfferNotFound)));
        // A draft cannot be approved (only a submitted version); the owner's API has no approve.
        let refused = env.krug.approve_offer(&env.tenant, offer.id, 1, OPERATOR).await;
        assert!(matches!(refused, Err(Error::OfferStateConflict { action: "approve", .. })), "{refused:?}");
        // Submitted → rejected with a reason → edit makes version 2 → submit → approve → pause → archive.
        env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await.unwrap();
        assert_eq!(env.krug.submitted_offers(&env.tenant).await.unwrap().len(), 1);
        let rejected = env.krug.reject_offer(&env.tenant, offer.id, 1, "too generous", OPERATOR).await.unwrap();
        assert_eq!(rejected.status, OfferStatus::Rejected);
        assert_eq!(rejected.versions[0].review_reason.as_deref(), Some("too generous"));
        let edited = env.krug.edit_offer(&env.tenant, &skinerica, offer.id, draft).await.unwrap();
        assert_eq!((edited.latest_version, edited.status), (2, OfferStatus::Draft));
        env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await.unwrap();
        env.krug.approve_offer(&env.tenant, offer.id, 2, OPERATOR).await.unwrap();
        let paused = env.krug.pause_offer(&env.tenant, Some(&skinerica), offer.id, "owner:1").await.unwrap();
        assert_eq!(paused.status, OfferStatus::Paused);
        let anna = env.member(1).await;
        assert!(env.buy(anna, "skinerica", 1_000, "R-1").await.offers.is_empty());
        env.krug.resume_offer(&env.tenant, Some(&skinerica), offer.id, "owner:1").await.unwrap();
        assert_eq!(env.buy(anna, "skinerica", 1_000, "R-2").await.offers.len(), 1);
        let archived = env.krug.archive_offer(&env.tenant, offer.id, OPERATOR).await.unwrap();
        assert_eq!(archived.status, OfferStatus::Archived);
        assert!(env.buy(anna, "skinerica", 1_000, "R-3").await.offers.is_empty());
        let actions: Vec<String> = env
            .krug
            .audit_log(&env.tenant, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .filter(|a| a.starts_with("offer."))
            .collect();
        assert_eq!(actions, ["offer.archive", "offer.resume", "offer.pause", "offer.approve", "offer.reject"]);
    }
);

backend_test!(
    async fn editing_an_approved_offer_makes_a_new_version_that_runs_only_once_approved(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let offer = running(&env, "hundred", "bonus(100);", OfferRules::default()).await;
        let anna = env.member(1).await;
        let mut draft = script_draft("two hundred", "bonus(200);", OfferRules::default());
        draft.examples[0].expect = fixed(200);
        let edited = env.krug.edit_offer(&env.tenant, &skinerica, offer, draft.clone()).await.unwrap();
        assert_eq!((edited.latest_version, edited.running_version, edited.status), (2, Some(1), OfferStatus::Active));
        assert_eq!(edited.versions[1].status, "approved");
        // Version 1 keeps running while version 2 waits.
        assert_eq!(env.buy(anna, "skinerica", 1_000, "R-1").await.offers[0].bonus, bonus(100));
        env.krug.submit_offer(&env.tenant, &skinerica, offer).await.unwrap();
        assert_eq!(env.buy(anna, "skinerica", 1_000, "R-2").await.offers[0].bonus, bonus(100));
        // Editing the submitted version withdraws it: version 3.
        let again = env.krug.edit_offer(&env.tenant, &skinerica, offer, draft).await.unwrap();
        assert_eq!((again.latest_version, again.versions[1].status.as_str()), (3, "withdrawn"));
        env.krug.submit_offer(&env.tenant, &skinerica, offer).await.unwrap();
        assert!(env.krug.approve_offer(&env.tenant, offer, 2, OPERATOR).await.is_err());
        env.krug.approve_offer(&env.tenant, offer, 3, OPERATOR).await.unwrap();
        let receipt = env.buy(anna, "skinerica", 1_000, "R-3").await;
        assert_eq!((receipt.offers[0].bonus, receipt.offers[0].version), (bonus(200), 3));
        let stats = env.krug.offer_analytics(&env.tenant, Some(&skinerica), offer).await.unwrap();
        assert_eq!(stats.iter().map(|s| (s.version, s.activations)).collect::<Vec<_>>(), vec![(1, 2), (3, 1)]);
    }
);

backend_test!(
    async fn examples_gate_submission_and_the_refusal_lists_the_failing_cases(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let script = "if purchase.amount >= 300000 { bonus(500); }";
        let mut draft = script_draft("threshold", script, OfferRules::default());
        draft.examples = vec![
            example("big purchase", facts(3_000), MemberFacts::default(), fixed(500)),
            example("small purchase", facts(100), MemberFacts::default(), fixed(500)),
            example("wrong amount", facts(5_000), MemberFacts::default(), fixed(400)),
        ];
        let offer = env.krug.create_offer(&env.tenant, &skinerica, draft.clone()).await.unwrap();
        match env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await {
            Err(Error::OfferExamplesFailed { failures }) => {
                assert_eq!(failures.len(), 2, "{failures:?}");
                assert!(failures[0].starts_with("small purchase:"), "{failures:?}");
                assert!(failures[1].starts_with("wrong amount:"), "{failures:?}");
            }
            other => panic!("expected examples to fail, got {other:?}"),
        }
        assert_eq!(env.krug.offer(&env.tenant, None, offer.id).await.unwrap().status, OfferStatus::Draft);
        draft.examples = vec![];
        env.krug.edit_offer(&env.tenant, &skinerica, offer.id, draft.clone()).await.unwrap();
        assert!(matches!(
            env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await,
            Err(Error::OfferExamplesFailed { .. })
        ));
        draft.examples = vec![
            example("big purchase", facts(3_000), MemberFacts::default(), fixed(500)),
            example("small purchase", facts(100), MemberFacts::default(), Effects::default()),
        ];
        env.krug.edit_offer(&env.tenant, &skinerica, offer.id, draft).await.unwrap();
        let submitted = env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await.unwrap();
        assert_eq!((submitted.status, submitted.latest_version), (OfferStatus::Submitted, 1));
    }
);

backend_test!(
    async fn a_refund_reverses_offer_bonus_proportionally_like_the_cashback(db: TestDb) {
        let env = env(db).await;
        running(&env, "thousand", "bonus(1001);", OfferRules::default()).await;
        let anna = env.member(1).await;
        let receipt = env.buy(anna, "skinerica", 1_000, "R-1").await;
        assert_eq!(receipt.offers[0].bonus, bonus(1_001));
        let total = receipt.cashback.get() + 1_001;
        let half = env
            .krug
            .refund(
                &env.tenant,
                RefundPurchase { purchase: receipt.purchase, refund_id: "F-1".into(), amount: Some(rub(500)) },
            )
            .await
            .unwrap();
        assert_eq!(half.offer_bonus_reversed, bonus(500));
        let rest = env
            .krug
            .refund(&env.tenant, RefundPurchase { purchase: receipt.purchase, refund_id: "F-2".into(), amount: None })
            .await
            .unwrap();
        assert_eq!(rest.offer_bonus_reversed, bonus(501));
        assert_eq!(half.cashback_reversed.get() + rest.cashback_reversed.get() + 1_001, total);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(0));
        // A retried refund replays and reverses nothing more.
        let replay = env
            .krug
            .refund(&env.tenant, RefundPurchase { purchase: receipt.purchase, refund_id: "F-2".into(), amount: None })
            .await
            .unwrap();
        assert_eq!(replay, rest);
        assert_eq!(env.krug.verify_ledger(&env.tenant, anna).await.unwrap(), bonus(0));
    }
);

backend_test!(
    async fn a_backtest_replays_past_purchases_with_member_facts_as_of_each(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let anna = env.member(1).await;
        let bella = env.member(2).await;
        env.buy(anna, "skinerica", 1_000, "P-1").await;
        env.days(1);
        env.buy(anna, "skinerica", 1_000, "P-2").await;
        env.buy(bella, "skinerica", 4_000, "P-3").await;
        env.buy(bella, "mindal", 4_000, "P-4").await;
        env.days(1);
        let draft = OfferDraft {
            name: "welcome".into(),
            script: None,
            template: Some(Template::WelcomeBonus { bonus: bonus(500) }),
            rules: OfferRules { budget: Some(bonus(800)), ..OfferRules::default() },
            examples: vec![],
        };
        let offer = env.krug.create_offer(&env.tenant, &skinerica, draft).await.unwrap();
        let mut seen = Vec::new();
        let mut progress = |p: krug::BacktestProgress| seen.push((p.done, p.total));
        let report = env.krug.backtest_offer(&env.tenant, &skinerica, offer.id, 30, Some(&mut progress)).await.unwrap();
        assert_eq!(seen.last(), Some(&(3, 3)));
        // Anna's first and Bella's first visit match; the budget of 8 ₽ cuts the second to 3 ₽.
        assert_eq!((report.purchases, report.matched, report.members_reached), (3, 2, 2));
        assert_eq!((report.total_bonus, report.cost_per_member), (bonus(800), bonus(400)));
        assert_eq!(
            report.by_day.iter().map(|d| (d.matched, d.bonus.get())).collect::<Vec<_>>(),
            vec![(1, 500), (1, 300)]
        );
        // Another business cannot backtest it; nothing was written.
        assert!(matches!(
            env.krug.backtest_offer(&env.tenant, &biz("mindal"), offer.id, 30, None).await,
            Err(Error::OfferNotFound)
        ));
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM offer_activations").await, 0);
    }
);

backend_test!(
    async fn bad_offer_input_is_a_typed_error_and_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let before = offer_rows(&env).await;
        let scripts = [
            "bonus(",                  // syntax
            "bonus(customer.amount);", // unknown variable (strict)
            "import \"fs\" as fs;",    // modules
            "eval(\"bonus(1)\");",     // eval
            "let x = 1.5;",            // no floats
            "",                        // empty
        ];
        for script in scripts {
            let r = env
                .krug
                .create_offer(&env.tenant, &skinerica, script_draft("bad", script, OfferRules::default()))
                .await;
            assert!(matches!(r, Err(Error::OfferScriptInvalid { .. })), "{script}: {r:?}");
        }
        let mut both = script_draft("both", "bonus(1);", OfferRules::default());
        both.template = Some(Template::WelcomeBonus { bonus: bonus(1) });
        let refusals = vec![
            env.krug.create_offer(&env.tenant, &skinerica, both).await,
            env.krug
                .create_offer(
                    &env.tenant,
                    &skinerica,
                    script_draft("budget", "bonus(1);", OfferRules { budget: Some(bonus(0)), ..OfferRules::default() }),
                )
                .await,
            env.krug
                .create_offer(&env.tenant, &skinerica, script_draft("  ", "bonus(1);", OfferRules::default()))
                .await,
            env.krug
                .create_offer(
                    &env.tenant,
                    &skinerica,
                    OfferDraft {
                        template: Some(Template::EveryNthVisit { n: 1, bonus: bonus(1) }),
                        script: None,
                        ..script_draft("nth", "", OfferRules::default())
                    },
                )
                .await,
        ];
        for r in refusals {
            assert!(matches!(r, Err(Error::InvalidInput { .. })), "{r:?}");
        }
        let unknown = env
            .krug
            .create_offer(&env.tenant, &biz("nowhere"), script_draft("x", "bonus(1);", OfferRules::default()))
            .await;
        assert_eq!(unknown.unwrap_err().code(), "business_not_found");
        let missing = OfferId::from_uuid(uuid::Uuid::nil());
        assert_eq!(
            env.krug.approve_offer(&env.tenant, missing, 1, OPERATOR).await.unwrap_err().code(),
            "offer_not_found"
        );
        assert_eq!(offer_rows(&env).await, before);
        // A rejection needs a reason; a bad backtest window is refused.
        let offer = env
            .krug
            .create_offer(&env.tenant, &skinerica, script_draft("ok", "bonus(1);", OfferRules::default()))
            .await
            .unwrap();
        env.krug.submit_offer(&env.tenant, &skinerica, offer.id).await.unwrap_err();
        let r = env.krug.reject_offer(&env.tenant, offer.id, 1, "  ", OPERATOR).await;
        assert_eq!(r.unwrap_err().code(), "invalid_input");
        let r = env.krug.backtest_offer(&env.tenant, &skinerica, offer.id, 0, None).await;
        assert_eq!(r.unwrap_err().code(), "invalid_input");
        // A run-time effect error in a dry run is an outcome, not an error.
        let dry = DryRun {
            script: Some("bonus(-1);".into()),
            offer: None,
            purchase: facts(100),
            member: MemberFacts::default(),
        };
        let outcome = env.krug.dry_run_offer(&env.tenant, &skinerica, dry).await.unwrap();
        assert!(matches!(outcome.failure, Some(ScriptFailure::Runtime(_))), "{outcome:?}");
        let dry = DryRun {
            script: Some("award_badge(\"Not A Code\");".into()),
            offer: None,
            purchase: facts(100),
            member: MemberFacts { tier: Some(TierCode::parse("vip").unwrap()), ..MemberFacts::default() },
        };
        assert!(env.krug.dry_run_offer(&env.tenant, &skinerica, dry).await.unwrap().failure.is_some());
    }
);

backend_test!(
    #[ignore = "measurement: run with --ignored --nocapture"]
    async fn backtest_of_a_hundred_thousand_purchases_takes_seconds(db: TestDb) {
        let env = env(db).await;
        let skinerica = biz("skinerica");
        let mut members = Vec::new();
        for i in 0..100 {
            members.push(env.member(i + 1).await);
        }
        // 100 000 purchases by 100 members over 30 days, inserted in bulk.
        let values = |from: i64, to: i64| {
            (from..to)
                .map(|i| {
                    let m = members[(i % 100) as usize].as_uuid();
                    let at = (start().unix_timestamp() - 86_400 * 30 + i * 25) * 1_000_000;
                    let id = uuid::Uuid::from_u128(0xA000_0000_0000_0000_0000_0000_0000_0000 + i as u128);
                    let (m, id) = match env.db.backend() {
                        krug_testkit::Backend::Sqlite => (format!("X'{}'", m.simple()), format!("X'{}'", id.simple())),
                        krug_testkit::Backend::Postgres => (format!("'{m}'"), format!("'{id}'")),
                    };
                    format!(
                        "('svoy-krug', {id}, {m}, 'skinerica', 'B-{i}', 'cosmetology', {}, 0, 500, 0, 0, {at}, {at})",
                        10_000 + (i % 50) * 1_000
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        for chunk in 0..100 {
            let sql = format!(
                "INSERT INTO purchases (tenant_id, purchase_id, member_id, business_id, receipt_id, category, amount, \
                 redeemed, accrued, refunded, contribution, purchased_at, created_at) VALUES {}",
                values(chunk * 1_000, (chunk + 1) * 1_000)
            );
            match env.db.backend() {
                krug_testkit::Backend::Sqlite => {
                    let pool = sqlx::SqlitePool::connect(env.db.url()).await.unwrap();
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
                    pool.close().await;
                }
                krug_testkit::Backend::Postgres => {
                    let pool = sqlx::PgPool::connect(env.db.url()).await.unwrap();
                    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await.unwrap();
                    pool.close().await;
                }
            }
        }
        let draft = OfferDraft {
            name: "every 5th".into(),
            script: None,
            template: Some(Template::EveryNthVisit { n: 5, bonus: bonus(300) }),
            rules: OfferRules::default(),
            examples: vec![],
        };
        let offer = env.krug.create_offer(&env.tenant, &skinerica, draft).await.unwrap();
        let started = std::time::Instant::now();
        let report = env.krug.backtest_offer(&env.tenant, &skinerica, offer.id, 31, None).await.unwrap();
        let took = started.elapsed();
        println!("backtest: {} purchases, {} matched, in {took:?}", report.purchases, report.matched);
        assert_eq!((report.purchases, report.matched), (100_000, 20_000));
    }
);

backend_test!(
    async fn a_clinic_visit_does_not_count_in_the_categories_another_partners_script_sees(db: TestDb) {
        let env = env(db).await;
        running(&env, "explorer", "if member.categories >= 2 { bonus(100); }", OfferRules::default()).await;
        let anna = env.member(1).await;
        env.medical_consent(anna).await;
        env.buy(anna, "stim-center", 1_000, "D-1").await;
        // Dentistry + cosmetology, but the clinic's category is not counted: 1.
        assert!(env.buy(anna, "skinerica", 1_000, "S-1").await.offers.is_empty());
        env.buy(anna, "mindal", 1_000, "M-1").await;
        assert_eq!(env.buy(anna, "skinerica", 1_000, "S-2").await.offers.len(), 1);
    }
);
