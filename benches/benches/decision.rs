//! Criterion micro-benches of the in-memory scan decision — no I/O: QR code verification, tier
//! evaluation with the svoy-krug ladder, and the whole decision the store path makes per scan
//! (tier + redemption plan over an account of ~10 lots + cashback + budget share + the balance
//! view the receipt returns), through the SDK's public pure APIs — and the same decision with ten
//! active offers (Rhai scripts from the templates and by hand) evaluated and credited, and chain
//! evaluation for a member in five running chains.
//!
//! `cargo bench -p krug-benches --bench decision`; `cargo test` only builds this file.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::float_arithmetic, missing_docs)] // a bench, like a test

use std::collections::BTreeSet;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use krug::chain::{self, ChainDefinition, ChainKind, Progress, PurchaseFacts, Reward, RewardKind, Step, StepTarget};
use krug::ledger::{Account, Credit, Ctx, Debit, EntryKind, Lot, Plan, Source, redemption_cap};
use krug::pii::{KeyId, KeyRing, aad};
use krug::qr::{self, QrCode, QrSecret};
use krug::status::{self, HeldStatus, SpendStats};
use krug::tenant::TenantConfig;
use krug::types::{Bonus, BusinessId, Category, Clock as _, Kopecks, LotId, MemberId, PurchaseId, SystemClock, UuidV7};
use time::{Duration, OffsetDateTime};

fn config() -> TenantConfig {
    TenantConfig::load_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../tenants/svoy-krug").as_ref()).expect("svoy-krug")
}

fn qr(c: &mut Criterion) {
    let now = SystemClock.now();
    let secret = QrSecret::from_bytes(*b"0123456789abcdefghij");
    let step = qr::step_at(now);
    let member = MemberId::generate(&UuidV7);
    let payload = QrCode::new(member, qr::code_at(&secret, step)).to_string();
    let mut g = c.benchmark_group("qr");
    g.bench_function("code_at", |b| b.iter(|| qr::code_at(black_box(&secret), black_box(step))));
    g.bench_function("parse+verify", |b| {
        b.iter(|| {
            let code = QrCode::parse(black_box(&payload)).unwrap();
            qr::verify(&secret, code.digits(), black_box(now)).unwrap()
        })
    });
    // What the scan does before verifying: open the member's sealed secret with the tenant's keys.
    let keys = KeyRing::generate(KeyId::parse("k1").unwrap());
    let ad = aad("svoy-krug", &member.to_string(), "qr_secret");
    let sealed = keys.seal(&ad, secret.as_bytes()).unwrap();
    g.bench_function("open_sealed+verify", |b| {
        b.iter(|| {
            let code = QrCode::parse(black_box(&payload)).unwrap();
            let bytes = keys.open(&sealed.key_id, &ad, &sealed.ciphertext).unwrap();
            let secret = QrSecret::from_slice(&bytes).unwrap();
            qr::verify(&secret, code.digits(), black_box(now)).unwrap()
        })
    });
    g.finish();
}

fn stats(spend_rubles: i64, categories: &[&str]) -> SpendStats {
    SpendStats {
        spend: Kopecks::rubles(spend_rubles).unwrap(),
        categories: categories.iter().map(|c| Category::parse(c).unwrap()).collect::<BTreeSet<_>>(),
    }
}

fn tiers(c: &mut Criterion) {
    let config = config();
    let now = SystemClock.now();
    let held = HeldStatus::default();
    let insider = stats(4_000, &["gastro_market"]);
    let vip = stats(45_000, &["gastro_market", "beauty_salon", "cosmetology"]);
    let mut g = c.benchmark_group("status");
    g.bench_function("evaluate/insider", |b| {
        b.iter(|| status::evaluate(&config.tiers, black_box(&insider), &held, black_box(now)))
    });
    g.bench_function("evaluate/vip", |b| b.iter(|| status::evaluate(&config.tiers, black_box(&vip), &held, now)));
    g.finish();
}

/// An account of ten lots from five partners: seven available, three still in their hold.
fn account(now: OffsetDateTime, businesses: &[BusinessId]) -> Account {
    let lots = (0..10)
        .map(|i| {
            let bought = now - Duration::days(200 - 18 * i64::from(i));
            Lot {
                id: LotId::generate(&UuidV7),
                issuer: businesses.get(i as usize % businesses.len()).cloned(),
                source: Source::Purchase,
                purchase: Some(PurchaseId::generate(&UuidV7)),
                amount: Bonus::new(10_000 + 1_000 * i64::from(i)).unwrap(),
                remaining: Bonus::new(8_000 + 1_000 * i64::from(i)).unwrap(),
                available_at: bought + Duration::days(14),
                expires_at: bought + Duration::days(365),
            }
        })
        .collect();
    Account { lots, debt: Bonus::ZERO }
}

/// The pure part of one scan, as the store path runs it between loading and writing.
fn decide(
    config: &TenantConfig,
    account: &mut Account,
    stats: &SpendStats,
    business: &BusinessId,
    amount: Kopecks,
    redeem: Bonus,
    now: OffsetDateTime,
) -> (Plan, Bonus, Kopecks) {
    let ids = UuidV7;
    let ctx = Ctx { now, ids: &ids };
    let policy = &config.bonus;
    let purchase = PurchaseId::generate(&ids);
    let mut plan = Plan::default();
    let cap = redemption_cap(amount, policy);
    assert!(redeem <= cap);
    if !redeem.is_zero() {
        let debit = Debit {
            kind: EntryKind::Redemption,
            source: Source::Purchase,
            redeemer: Some(business.clone()),
            purchase: Some(purchase),
            amount: redeem,
            reason: None,
            actor: None,
        };
        account.debit(&mut plan, debit, ctx).unwrap();
    }
    let paid = amount.checked_sub(redeem.as_kopecks().unwrap()).unwrap();
    let decision = status::evaluate(&config.tiers, stats, &HeldStatus::default(), now);
    let cashback = paid.accrue_at(decision.cashback, policy.rounding);
    if !cashback.is_zero() {
        let credit = Credit {
            kind: EntryKind::Accrual,
            source: Source::Purchase,
            issuer: Some(business.clone()),
            purchase: Some(purchase),
            amount: cashback,
            available_at: now + Duration::days(i64::from(policy.hold_days)),
            expires_at: now + Duration::days(i64::from(policy.expiry_days)),
            reason: None,
            actor: None,
        };
        account.credit(&mut plan, credit, ctx).unwrap();
    }
    let contribution = paid.share(config.budget.event_share, policy.rounding);
    let _view = account.view(now, Duration::days(30)).unwrap();
    (plan, cashback, contribution)
}

fn scan_decision(c: &mut Criterion) {
    let config = config();
    let now = SystemClock.now();
    let businesses: Vec<BusinessId> = config.businesses.iter().map(|b| b.id.clone()).collect();
    let base = account(now, &businesses);
    let vip = stats(45_000, &["gastro_market", "beauty_salon", "cosmetology"]);
    let mindal = BusinessId::parse("mindal").unwrap();
    let amount = Kopecks::rubles(5_000).unwrap();
    let mut g = c.benchmark_group("scan_decision");
    for (name, redeem) in [("accrue", Bonus::ZERO), ("redeem+accrue", Bonus::new(30_000).unwrap())] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || base.clone(),
                |mut account| decide(&config, &mut account, &vip, &mindal, amount, black_box(redeem), now),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// Ten active offers of one business, as templates and hand-written scripts generate them.
fn ten_offers() -> Vec<(krug::offer::OfferRules, String)> {
    use krug::offer::{OfferRules, Template};
    use krug::types::Bps;
    let b = |k| Bonus::new(k).unwrap();
    let templates = [
        Template::WelcomeBonus { bonus: b(30_000) },
        Template::Birthday { bonus: b(50_000), whole_week: true },
        Template::WeekdayHourMultiplier { weekdays: vec![2, 4], from_hour: 12, to_hour: 16, percent: 200 },
        Template::CategoryBonus { category: Category::parse("beauty_salon").unwrap(), rate: Bps::new(300).unwrap() },
        Template::EveryNthVisit { n: 5, bonus: b(20_000) },
        Template::SpendThreshold { min_amount: Kopecks::rubles(3_000).unwrap(), bonus: b(15_000) },
        Template::WinBack { days: 60, bonus: b(25_000) },
    ];
    let mut offers: Vec<(OfferRules, String)> = templates
        .iter()
        .enumerate()
        .map(|(i, t)| (OfferRules { priority: i as i32, ..OfferRules::default() }, t.script().unwrap()))
        .collect();
    for script in [
        "if member.tier == \"vip\" && purchase.amount >= 100000 { bonus_rate(150); award_badge(\"vip-regular\"); }",
        "if member.categories >= 3 { issue_coupon(\"spa-10\"); }",
        "let h = purchase.hour; if h >= 8 && h < 11 && member.visits > 2 { bonus(5000); }",
    ] {
        offers.push((OfferRules { priority: -1, budget: Some(b(10_000_000)), ..OfferRules::default() }, script.into()));
    }
    offers
}

/// The scan decision plus ten active offers: each script runs in the sandbox on the purchase's
/// facts, its effects are priced, its limits and the per-purchase cap applied, and each grant
/// credited as its own lot — everything the store path does between loading and writing.
fn scan_decision_with_offers(c: &mut Criterion) {
    use krug::offer::policy::{self, Usage};
    use krug::offer::{BusinessFacts, Facts, MemberFacts, PurchaseFacts, Sandbox};
    let config = config();
    let now = SystemClock.now();
    let businesses: Vec<BusinessId> = config.businesses.iter().map(|b| b.id.clone()).collect();
    let base = account(now, &businesses);
    let vip = stats(45_000, &["gastro_market", "beauty_salon", "cosmetology"]);
    let mindal = BusinessId::parse("mindal").unwrap();
    let amount = Kopecks::rubles(5_000).unwrap();
    let sandbox = Sandbox::new(&config.offers);
    let offers: Vec<_> =
        ten_offers().into_iter().map(|(rules, script)| (rules, sandbox.compile(&script).unwrap())).collect();
    let business = BusinessFacts { id: mindal.clone(), category: Category::parse("beauty_salon").unwrap() };
    let member = MemberFacts {
        tier: Some(krug::types::TierCode::parse("vip").unwrap()),
        days_since_joining: 200,
        visits: 9,
        spend: Kopecks::rubles(40_000).unwrap(),
        categories: 3,
        birthday_today: false,
        birthday_this_week: false,
        days_since_last_visit: Some(12),
    };
    // A Tuesday 13:00 purchase of 5 000 ₽ at Миндаль, all paid with money.
    let purchase_facts = |cashback: Bonus| PurchaseFacts {
        amount,
        paid: amount,
        category: business.category.clone(),
        business: mindal.clone(),
        weekday: 2,
        hour: 13,
        date: now.date(),
        cashback,
    };
    let mut g = c.benchmark_group("offers");
    g.bench_function("scan_decision+10_offers", |b| {
        b.iter_batched(
            || base.clone(),
            |mut account| {
                let (mut plan, cashback, _) = decide(&config, &mut account, &vip, &mindal, amount, Bonus::ZERO, now);
                let purchase = purchase_facts(cashback);
                let mut scope = sandbox.scope(&Facts { purchase: &purchase, member: &member, business: &business });
                let mut cap = config.offers.purchase_cap();
                let ids = UuidV7;
                let ctx = Ctx { now, ids: &ids };
                for (rules, ast) in &offers {
                    let Ok(effects) = sandbox.run(&mut scope, ast) else { continue };
                    if effects.is_empty() {
                        continue;
                    }
                    let wanted = policy::bonus_of(&effects, amount, cashback, config.bonus.rounding).unwrap();
                    let Some(granted) = policy::grant(rules, &Usage::default(), wanted, cap) else { continue };
                    cap = cap.checked_sub(granted).unwrap();
                    if !granted.is_zero() {
                        let credit = Credit {
                            kind: EntryKind::Accrual,
                            source: Source::Offer,
                            issuer: Some(mindal.clone()),
                            purchase: None,
                            amount: granted,
                            available_at: now + Duration::days(14),
                            expires_at: now + Duration::days(365),
                            reason: None,
                            actor: None,
                        };
                        account.credit(&mut plan, credit, ctx).unwrap();
                    }
                    if rules.exclusive {
                        break;
                    }
                }
                black_box(plan)
            },
            BatchSize::SmallInput,
        )
    });
    // One small rule from a cached AST, for scale.
    let (_, ast) = offers.first().unwrap();
    let purchase = purchase_facts(Bonus::ZERO);
    let mut scope = sandbox.scope(&Facts { purchase: &purchase, member: &member, business: &business });
    g.bench_function("one_rule", |b| b.iter(|| sandbox.run(&mut scope, black_box(ast)).unwrap()));
    let happy_hours = ten_offers().get(2).unwrap().1.clone();
    g.bench_function("compile", |b| b.iter(|| sandbox.compile(black_box(&happy_hours)).unwrap()));
    g.finish();
}

/// Five running chains of every kind, the member in each at a different step.
fn five_chains(now: OffsetDateTime) -> Vec<(ChainDefinition, Option<Progress>)> {
    let b = |s: &str| BusinessId::parse(s).unwrap();
    let bonus =
        |k: i64, f: &str| Some(Reward { kind: RewardKind::Bonus { amount: Bonus::new(k).unwrap() }, funded_by: b(f) });
    let step = |biz: &str, w: Option<u32>, r: Option<Reward>| Step {
        target: StepTarget::Business(b(biz)),
        min_amount: Kopecks::rubles(500).unwrap(),
        window_days: w,
        reward: r,
    };
    let def = |kind, steps, cycles| ChainDefinition {
        name: "bench".into(),
        kind,
        steps,
        completion_reward: bonus(20_000, "mindal"),
        starts_at: now - Duration::days(30),
        ends_at: now + Duration::days(60),
        max_cycles: cycles,
        per_member_limit: 3,
    };
    let at = |next_step: usize| Progress {
        run: 0,
        cycle: 0,
        next_step,
        branch: None,
        completed: false,
        started_at: now - Duration::days(2),
        deadline: Some(now + Duration::days(5)),
    };
    vec![
        (
            def(
                ChainKind::Simple,
                vec![step("lisichkino", None, bonus(5_000, "mindal")), step("mindal", Some(14), None)],
                None,
            ),
            Some(at(1)),
        ),
        (
            def(
                ChainKind::Sequential,
                vec![
                    step("skinerica", None, None),
                    step("lisichkino", Some(7), bonus(10_000, "lisichkino")),
                    step("mindal", Some(7), None),
                ],
                None,
            ),
            Some(at(2)),
        ),
        (
            def(ChainKind::Cyclic, vec![step("mindal", Some(10), None), step("lisichkino", Some(10), None)], Some(3)),
            Some(at(0)),
        ),
        (
            def(
                ChainKind::FanOut,
                vec![
                    step("skinerica", None, None),
                    step("mindal", Some(10), bonus(3_000, "mindal")),
                    step("lisichkino", Some(10), None),
                ],
                None,
            ),
            Some(at(1)),
        ),
        (def(ChainKind::Sequential, vec![step("mindal", None, None), step("skinerica", Some(7), None)], None), None),
    ]
}

fn chains(c: &mut Criterion) {
    let now = SystemClock.now();
    let chains = five_chains(now);
    let mindal = BusinessId::parse("mindal").unwrap();
    let category = Category::parse("beauty_salon").unwrap();
    let facts = PurchaseFacts { business: &mindal, category: &category, amount: Kopecks::rubles(5_000).unwrap() };
    // What the store path reads per scan: each running chain's definition and the member's
    // progress, as stored JSON.
    let stored: Vec<(String, Option<String>)> = chains
        .iter()
        .map(|(d, p)| (serde_json::to_string(d).unwrap(), p.as_ref().map(|p| serde_json::to_string(p).unwrap())))
        .collect();
    let mut g = c.benchmark_group("chains");
    g.bench_function("advance/5_active", |b| {
        b.iter(|| chains.iter().filter_map(|(d, p)| chain::advance(d, p.as_ref(), black_box(&facts), now)).count())
    });
    g.bench_function("decode+advance/5_active", |b| {
        b.iter(|| {
            stored
                .iter()
                .filter_map(|(d, p)| {
                    let d: ChainDefinition = serde_json::from_str(black_box(d)).unwrap();
                    let p: Option<Progress> = p.as_ref().map(|p| serde_json::from_str(p).unwrap());
                    chain::advance(&d, p.as_ref(), &facts, now)
                })
                .count()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short runs: these are sub-microsecond to few-microsecond functions; 2 s is plenty.
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = qr, tiers, scan_decision, scan_decision_with_offers, chains
}
criterion_main!(benches);
