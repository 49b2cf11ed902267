//! Cross-promo chains through the facade, on both stores: each kind with exact rewards and
//! deadlines (time moved by the test clock), lapsed windows, refunds rolling steps back, no
//! double reward under concurrent scans, partner approval before start, hand-computed win-win
//! numbers with a clinic's step kept aggregate, and bad definitions refused with field paths.

use krug::chain::{ChainDefinition, ChainKind, Reward, RewardKind, Standing, Step, StepTarget};
use krug::coupon::{CouponKind, CouponScope, CouponTerms, Validity};
use krug::types::{Kopecks, MemberId};
use krug::{ChainActor, ChainStatus, Error, RefundPurchase};
use krug_testkit::backend_test;
use time::Duration;
use uuid::Uuid;

use crate::common::*;

const OPERATOR: ChainActor = ChainActor::Operator;

fn bonus_reward(kopecks: i64, funder: &str) -> Option<Reward> {
    Some(Reward { kind: RewardKind::Bonus { amount: bonus(kopecks) }, funded_by: biz(funder) })
}

fn step(business: &str, min_rub: i64, window: Option<u32>, reward: Option<Reward>) -> Step {
    Step { target: StepTarget::Business(biz(business)), min_amount: rub(min_rub), window_days: window, reward }
}

fn definition(kind: ChainKind, steps: Vec<Step>, completion: Option<Reward>) -> ChainDefinition {
    ChainDefinition {
        name: "Весна в Круге".into(),
        kind,
        steps,
        completion_reward: completion,
        starts_at: start() - Duration::days(1),
        ends_at: start() + Duration::days(90),
        max_cycles: None,
        per_member_limit: 1,
    }
}

impl Env {
    /// Drafts, has every partner approve, and starts.
    async fn running(&self, def: ChainDefinition) -> Uuid {
        let view = self.krug.draft_chain(&self.tenant, &OPERATOR, def).await.unwrap();
        for p in &view.partners {
            self.krug.approve_chain(&self.tenant, &p.business, "owner", view.id).await.unwrap();
        }
        let started = self.krug.start_chain(&self.tenant, &OPERATOR, view.id).await.unwrap();
        assert_eq!(started.status, ChainStatus::Active);
        view.id
    }

    async fn total(&self, m: MemberId) -> i64 {
        self.krug.balance(&self.tenant, m).await.unwrap().total.get()
    }

    async fn standing(&self, m: MemberId, chain: Uuid) -> Option<Standing> {
        let list = self.krug.member_chains(&self.tenant, m).await.unwrap();
        list.into_iter().find(|c| c.chain == chain).map(|c| c.standing)
    }

    async fn chain_rows(&self, table: &str) -> i64 {
        scalar_i64(&self.db, &format!("SELECT COUNT(*) FROM {table}")).await
    }
}

backend_test! {
    async fn a_simple_chain_gives_a_coupon_for_the_next_partner_and_completes_there(db: TestDb) {
        let env = env(db).await;
        let terms = CouponTerms {
            code: "mindal-300".into(),
            name: "300 off at Миндаль".into(),
            kind: CouponKind::FixedOff { amount: rub(300) },
            scope: CouponScope::Business(biz("mindal")),
            validity: Validity::DaysFromIssue(14),
            min_purchase: Kopecks::ZERO,
            per_member_limit: None,
            global_limit: None,
            stackable: true,
        };
        env.krug.create_coupon_template(&env.tenant, &krug::CouponAuthor::Operator, terms).await.unwrap();
        let coupon = Some(Reward { kind: RewardKind::Coupon { template: "mindal-300".into() }, funded_by: biz("mindal") });
        let chain = env
            .running(definition(ChainKind::Simple, vec![step("skinerica", 1_000, None, coupon), step("mindal", 0, Some(14), None)], None))
            .await;
        let anna = env.member(1).await;
        assert_eq!(env.standing(anna, chain).await, Some(Standing::NotStarted));

        let r = env.buy(anna, "skinerica", 1_500, "S-1").await;
        assert_eq!(r.chains.len(), 1);
        let made = &r.chains[0];
        assert_eq!((made.step, made.completed), (0, false));
        assert_eq!(made.deadline, Some(start() + Duration::days(14)));
        assert_eq!(made.next.as_deref(), Some("buy at Миндаль by 16 Mar"));
        let code = made.rewards[0].coupon.clone().unwrap();
        assert_eq!(made.rewards[0].funded_by, biz("mindal"));

        let view = env.krug.member_chains(&env.tenant, anna).await.unwrap();
        let mine = view.iter().find(|c| c.chain == chain).unwrap();
        assert_eq!(mine.standing, Standing::Active);
        assert_eq!(mine.rewards_waiting.len(), 1);
        assert_eq!(mine.rewards_waiting[0].code, code);

        env.days(3);
        let used = env
            .krug
            .record_purchase(&env.tenant, krug::RecordPurchase::new(anna, biz("mindal"), rub(1_000), "M-1").coupon(code))
            .await
            .unwrap();
        assert_eq!(used.coupon.as_ref().unwrap().discount, rub(300));
        assert_eq!(used.chains.len(), 1);
        assert!(used.chains[0].completed);
        assert_eq!(env.standing(anna, chain).await, Some(Standing::Completed));
        // A second visit to the first partner makes no new run: one run per member.
        assert!(env.buy(anna, "skinerica", 2_000, "S-2").await.chains.is_empty());
    }
}

backend_test! {
    async fn a_sequential_chain_pays_step_and_completion_rewards_within_its_windows(db: TestDb) {
        let env = env(db).await;
        env.running(definition(
                ChainKind::Sequential,
                vec![
                    step("skinerica", 1_000, None, None),
                    step("lisichkino", 500, Some(7), bonus_reward(10_000, "lisichkino")),
                    step("mindal", 0, Some(5), None),
                ],
                bonus_reward(50_000, "mindal"),
            ))
            .await;
        let anna = env.member(1).await;
        let r0 = env.buy(anna, "skinerica", 1_000, "S-1").await;
        assert_eq!(r0.chains[0].next.as_deref(), Some("buy at Лисичкино (from 500 ₽) by 9 Mar to get 100 ₽ bonus"));
        env.days(6);
        let before = env.total(anna).await;
        let r1 = env.buy(anna, "lisichkino", 600, "L-1").await;
        assert_eq!(r1.chains[0].rewards[0].bonus, bonus(10_000));
        assert_eq!(r1.chains[0].deadline, Some(start() + Duration::days(11)));
        assert_eq!(env.total(anna).await - before, r1.cashback.get() + 10_000);
        env.days(4);
        let before = env.total(anna).await;
        let r2 = env.buy(anna, "mindal", 100, "M-1").await;
        assert!(r2.chains[0].completed);
        assert_eq!(r2.chains[0].rewards.len(), 1, "the last step has no reward of its own");
        assert_eq!(r2.chains[0].rewards[0].slot, 3);
        assert_eq!(r2.chains[0].rewards[0].bonus, bonus(50_000));
        assert_eq!(env.total(anna).await - before, r2.cashback.get() + 50_000);
        env.krug.verify_ledger(&env.tenant, anna).await.unwrap();
        // The chain's bonus is a ledger credit from the funding partner, source "chain".
        let funded = scalar_i64(
            &env.db,
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM lots WHERE source = 'chain' AND issuer_business_id = 'mindal'",
        )
        .await;
        assert_eq!(funded, 50_000);
    }
}

backend_test! {
    async fn a_step_after_its_window_makes_nothing_and_the_chain_shows_lapsed(db: TestDb) {
        let env = env(db).await;
        let chain = env
            .running(definition(
                ChainKind::Sequential,
                vec![step("skinerica", 0, None, None), step("lisichkino", 0, Some(7), bonus_reward(10_000, "lisichkino"))],
                None,
            ))
            .await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 1_000, "S-1").await;
        env.clock.advance(Duration::days(7));
        assert_eq!(env.standing(anna, chain).await, None, "lapsed with no runs left: no longer offered");
        let r = env.buy(anna, "lisichkino", 1_000, "L-1").await;
        assert!(r.chains.is_empty());
        assert_eq!(env.chain_rows("chain_rewards").await, 0);
        // One second earlier it would have counted.
        let bob = env.member(2).await;
        env.buy(bob, "skinerica", 1_000, "S-2").await;
        env.clock.advance(Duration::days(7) - Duration::seconds(1));
        assert_eq!(env.buy(bob, "lisichkino", 1_000, "L-2").await.chains[0].rewards[0].bonus, bonus(10_000));
    }
}

backend_test! {
    async fn a_cyclic_chain_pays_each_cycle_up_to_its_cap(db: TestDb) {
        let env = env(db).await;
        let mut def = definition(
            ChainKind::Cyclic,
            vec![step("skinerica", 0, Some(10), None), step("lisichkino", 0, Some(10), None)],
            bonus_reward(20_000, "skinerica"),
        );
        def.max_cycles = Some(2);
        let chain = env.running(def).await;
        let anna = env.member(1).await;
        let mut paid = Vec::new();
        for i in 0..3 {
            env.buy(anna, "skinerica", 1_000, &format!("S-{i}")).await;
            env.days(1);
            let r = env.buy(anna, "lisichkino", 1_000, &format!("L-{i}")).await;
            paid.push(r.chains.first().map(|c| (c.cycle, c.rewards[0].bonus.get(), c.completed, c.deadline)));
            env.days(1);
        }
        assert_eq!(paid[0], Some((0, 20_000, true, Some(start() + Duration::days(11)))));
        assert_eq!(paid[1], Some((1, 20_000, true, None)));
        assert_eq!(paid[2], None, "the cap of two cycles holds");
        assert_eq!(env.standing(anna, chain).await, Some(Standing::Completed));
        assert_eq!(env.chain_rows("chain_rewards").await, 2);
    }
}

backend_test! {
    async fn a_fan_out_pays_the_first_branch_used_or_the_one_chosen_and_the_others_lapse(db: TestDb) {
        let env = env(db).await;
        let chain = env
            .running(definition(
                ChainKind::FanOut,
                vec![
                    step("skinerica", 0, None, None),
                    step("lisichkino", 0, Some(10), bonus_reward(10_000, "lisichkino")),
                    step("mindal", 0, Some(10), bonus_reward(30_000, "mindal")),
                ],
                None,
            ))
            .await;
        let anna = env.member(1).await;
        let r = env.buy(anna, "skinerica", 1_000, "S-1").await;
        assert_eq!(
            r.chains[0].next.as_deref(),
            Some("buy at Лисичкино to get 100 ₽ bonus or Миндаль to get 300 ₽ bonus by 12 Mar")
        );
        let first = env.buy(anna, "mindal", 1_000, "M-1").await;
        assert_eq!((first.chains[0].step, first.chains[0].rewards[0].bonus.get()), (2, 30_000));
        assert!(env.buy(anna, "lisichkino", 1_000, "L-1").await.chains.is_empty(), "the other branch lapsed");

        let bob = env.member(2).await;
        env.buy(bob, "skinerica", 1_000, "S-2").await;
        let before = env.total(bob).await;
        let chosen = env.krug.choose_chain_branch(&env.tenant, bob, chain, 1).await.unwrap();
        assert_eq!(chosen.next.as_deref(), Some("buy at Лисичкино by 12 Mar to get 100 ₽ bonus"));
        assert!(chosen.choices.is_empty());
        assert_eq!(env.total(bob).await - before, 10_000, "the branch's reward is paid at the choice");
        let retried = env.krug.choose_chain_branch(&env.tenant, bob, chain, 1).await.unwrap();
        assert_eq!(retried, chosen, "the same choice again changes nothing");
        assert_eq!(env.total(bob).await - before, 10_000, "and pays nothing more");
        let again = env.krug.choose_chain_branch(&env.tenant, bob, chain, 2).await.unwrap_err();
        assert_eq!(again.code(), "chain_no_choice");
        assert!(env.buy(bob, "mindal", 1_000, "M-2").await.chains.is_empty(), "not the chosen branch");
        let done = env.buy(bob, "lisichkino", 1_000, "L-2").await;
        assert!(done.chains[0].completed);
        assert!(done.chains[0].rewards.is_empty(), "the chosen branch's reward was paid once, at the choice");
        env.krug.verify_ledger(&env.tenant, bob).await.unwrap();
    }
}

backend_test! {
    async fn a_refund_inside_the_window_rolls_the_step_back_and_takes_its_bonus_back(db: TestDb) {
        let env = env(db).await;
        let chain = env
            .running(definition(
                ChainKind::Sequential,
                vec![
                    step("skinerica", 0, None, None),
                    step("lisichkino", 500, Some(7), bonus_reward(10_000, "lisichkino")),
                    step("mindal", 0, Some(7), None),
                ],
                None,
            ))
            .await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 1_000, "S-1").await;
        env.days(1);
        let base = env.total(anna).await;
        let r = env.buy(anna, "lisichkino", 1_000, "L-1").await;
        // A partial refund that leaves 600 ₽ (≥ the 500 ₽ minimum) keeps the step.
        env.krug
            .refund(&env.tenant, RefundPurchase { purchase: r.purchase, refund_id: "R-1".into(), amount: Some(rub(400)) })
            .await
            .unwrap();
        assert_eq!(env.chain_rows("chain_steps").await, 2);
        // The rest brings it under the minimum: the step is rolled back and its bonus reversed.
        env.krug
            .refund(&env.tenant, RefundPurchase { purchase: r.purchase, refund_id: "R-2".into(), amount: None })
            .await
            .unwrap();
        assert_eq!(env.total(anna).await, base);
        assert_eq!(env.chain_rows("chain_steps").await, 1);
        assert_eq!(env.chain_rows("chain_rewards").await, 0);
        let view = env.krug.member_chains(&env.tenant, anna).await.unwrap();
        let mine = view.iter().find(|c| c.chain == chain).unwrap();
        assert_eq!(mine.deadline, Some(start() + Duration::days(7)), "back to waiting for step 1, same deadline");
        env.krug.verify_ledger(&env.tenant, anna).await.unwrap();
        // Redoing the step pays its reward again (the first one was taken back).
        let redo = env.buy(anna, "lisichkino", 800, "L-2").await;
        assert_eq!(redo.chains[0].rewards[0].bonus, bonus(10_000));

        // Outside the window a refund keeps the step (and its reward).
        let bob = env.member(2).await;
        env.buy(bob, "skinerica", 1_000, "S-2").await;
        let rb = env.buy(bob, "lisichkino", 1_000, "L-3").await;
        env.days(8);
        env.krug
            .refund(&env.tenant, RefundPurchase { purchase: rb.purchase, refund_id: "R-3".into(), amount: None })
            .await
            .unwrap();
        let kept = scalar_i64(&env.db, "SELECT COUNT(*) FROM chain_rewards WHERE funded_by = 'lisichkino'").await;
        assert_eq!(kept, 2);
    }
}

backend_test! {
    async fn concurrent_scans_of_one_member_pay_a_step_reward_once(db: TestDb) {
        let env = env(db).await;
        env.running(definition(
            ChainKind::Sequential,
            vec![step("skinerica", 0, None, bonus_reward(5_000, "skinerica")), step("mindal", 0, Some(7), None)],
            None,
        ))
        .await;
        let anna = env.member(1).await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let krug = env.krug.clone();
            let tenant = env.tenant.clone();
            tasks.push(tokio::spawn(async move {
                krug.record_purchase(&tenant, krug::RecordPurchase::new(anna, biz("skinerica"), rub(1_000), format!("C-{i}")))
                    .await
                    .unwrap()
            }));
        }
        let mut rewarded = 0;
        for t in tasks {
            rewarded += t.await.unwrap().chains.iter().map(|c| c.rewards.len()).sum::<usize>();
        }
        assert_eq!(rewarded, 1);
        assert_eq!(env.chain_rows("chain_rewards").await, 1);
        assert_eq!(env.chain_rows("chain_steps").await, 1);
        env.krug.verify_ledger(&env.tenant, anna).await.unwrap();
    }
}

backend_test! {
    async fn a_partner_that_has_not_approved_blocks_the_start(db: TestDb) {
        let env = env(db).await;
        let def = definition(
            ChainKind::Simple,
            vec![step("skinerica", 0, None, bonus_reward(5_000, "mindal")), step("mindal", 0, Some(7), None)],
            None,
        );
        let view = env.krug.draft_chain(&env.tenant, &OPERATOR, def).await.unwrap();
        assert_eq!(view.status, ChainStatus::Draft);
        env.krug.approve_chain(&env.tenant, &biz("skinerica"), "owner-s", view.id).await.unwrap();
        let err = env.krug.start_chain(&env.tenant, &OPERATOR, view.id).await.unwrap_err();
        assert_eq!(err.code(), "chain_not_approved");
        assert_eq!(err.http_status(), 409);
        assert!(matches!(err, Error::Chain(krug::chain::ChainError::NotApproved { ref missing }) if missing == &vec![biz("mindal")]));
        // A business outside the chain cannot approve it (nor see it).
        let outsider = env.krug.approve_chain(&env.tenant, &biz("lisichkino"), "owner-l", view.id).await.unwrap_err();
        assert_eq!(outsider.code(), "chain_not_found");
        let hidden = env.krug.chain(&env.tenant, &ChainActor::Owner(biz("lisichkino")), view.id).await.unwrap_err();
        assert_eq!(hidden.code(), "chain_not_found");
        // While not started, purchases make no steps.
        let anna = env.member(1).await;
        assert!(env.buy(anna, "skinerica", 1_000, "S-1").await.chains.is_empty());
        env.krug.approve_chain(&env.tenant, &biz("mindal"), "owner-m", view.id).await.unwrap();
        env.krug.start_chain(&env.tenant, &OPERATOR, view.id).await.unwrap();
        assert_eq!(env.buy(anna, "skinerica", 1_000, "S-2").await.chains.len(), 1);
        // Paused: no steps.
        env.krug.pause_chain(&env.tenant, &ChainActor::Owner(biz("mindal")), view.id).await.unwrap();
        assert!(env.buy(anna, "mindal", 1_000, "M-1").await.chains.is_empty());
    }
}

backend_test! {
    async fn bad_definitions_are_refused_with_field_paths_and_nothing_is_written(db: TestDb) {
        let env = env(db).await;
        let paths = |err: Error| match err {
            Error::Chain(krug::chain::ChainError::Invalid(problems)) => {
                problems.into_iter().map(|p| p.field).collect::<Vec<_>>()
            }
            other => panic!("not an invalid chain: {other:?}"),
        };
        let empty = definition(ChainKind::Sequential, vec![], None);
        assert_eq!(paths(env.krug.draft_chain(&env.tenant, &OPERATOR, empty).await.unwrap_err()), vec!["steps"]);

        let mut cyclic =
            definition(ChainKind::Cyclic, vec![step("skinerica", 0, Some(5), None), step("mindal", 0, Some(0), None)], None);
        cyclic.max_cycles = None;
        assert_eq!(
            paths(env.krug.draft_chain(&env.tenant, &OPERATOR, cyclic).await.unwrap_err()),
            vec!["max_cycles", "steps[1].window_days"]
        );

        let unknown = definition(
            ChainKind::Sequential,
            vec![
                step("skinerica", 0, None, None),
                step("nowhere", 0, Some(3), Some(Reward { kind: RewardKind::Coupon { template: "no-such".into() }, funded_by: biz("skinerica") })),
            ],
            bonus_reward(0, "skinerica"),
        );
        assert_eq!(
            paths(env.krug.draft_chain(&env.tenant, &OPERATOR, unknown).await.unwrap_err()),
            vec!["steps[1].target", "steps[1].reward.template", "completion_reward.amount"]
        );
        let foreign = definition(
            ChainKind::Simple,
            vec![step("skinerica", 0, None, bonus_reward(100, "skinerica")), step("mindal", 0, Some(3), None)],
            None,
        );
        let err = env.krug.draft_chain(&env.tenant, &ChainActor::Owner(biz("lisichkino")), foreign).await.unwrap_err();
        assert_eq!(err.code(), "invalid_chain");
        assert_eq!(err.http_status(), 422);
        assert_eq!(env.chain_rows("chains").await, 0);
        assert_eq!(env.chain_rows("chain_partners").await, 0);
    }
}

backend_test! {
    async fn win_win_numbers_match_a_hand_computed_data_set_and_a_clinic_stays_aggregate(db: TestDb) {
        let env = env(db).await;
        // skinerica → stim-center (a clinic, 10 days) → mindal (10 days); mindal funds 100 ₽ at
        // step 1 and 200 ₽ on completion.
        let chain = env
            .running(definition(
                ChainKind::Sequential,
                vec![
                    step("skinerica", 0, None, None),
                    step("stim-center", 0, Some(10), bonus_reward(10_000, "mindal")),
                    step("mindal", 0, Some(10), None),
                ],
                bonus_reward(20_000, "mindal"),
            ))
            .await;
        let (a, b, c) = (env.member(1).await, env.member(2).await, env.member(3).await);
        for m in [a, b, c] {
            env.medical_consent(m).await;
        }
        // c bought at mindal before: not a new client there.
        env.buy(c, "mindal", 500, "M-0").await;
        env.days(1);
        env.buy(a, "skinerica", 1_000, "S-a").await; // a: steps 0, 1, 2
        env.buy(b, "skinerica", 2_000, "S-b").await; // b: steps 0, 1
        env.buy(c, "skinerica", 3_000, "S-c").await; // c: steps 0, 1, 2
        env.days(1);
        env.buy(a, "stim-center", 4_000, "T-a").await;
        env.buy(b, "stim-center", 5_000, "T-b").await;
        env.buy(c, "stim-center", 6_000, "T-c").await;
        env.days(1);
        env.buy(a, "mindal", 700, "M-a").await;
        env.buy(c, "mindal", 900, "M-c").await;
        // Baseline: d, e, f are not in the chain (the chain started before they bought, but each
        // has used up nothing: they simply buy at stim-center first, then some at mindal).
        let (d, e, f) = (env.member(4).await, env.member(5).await, env.member(6).await);
        for m in [d, e, f] {
            env.medical_consent(m).await;
        }
        // They enter the chain only via skinerica, so buying at stim-center/mindal is baseline.
        env.buy(d, "stim-center", 1_000, "T-d").await;
        env.buy(e, "stim-center", 1_000, "T-e").await;
        env.buy(f, "stim-center", 1_000, "T-f").await;
        env.days(2);
        env.buy(d, "mindal", 1_000, "M-d").await; // within 10 days
        env.days(20);
        env.buy(e, "mindal", 1_000, "M-e").await; // too late

        let all = env.krug.chain_analytics(&env.tenant, &OPERATOR, chain).await.unwrap();
        let entered: Vec<u64> = all.steps.iter().map(|s| s.entered).collect();
        assert_eq!(entered, vec![3, 3, 2]);
        let conv: Vec<Option<i64>> = all.steps.iter().map(|s| s.conversion_bps).collect();
        assert_eq!(conv, vec![None, Some(10_000), Some(6_666)]);
        let row = |b: &str| all.partners.iter().find(|p| p.business == biz(b)).unwrap().clone();
        let s = row("skinerica");
        assert_eq!((s.revenue_kopecks, s.reward_cost_kopecks, s.new_clients), (600_000, 0, 3));
        assert_eq!((s.enrolled_rate_bps, s.uplift_bps), (None, None));
        let t = row("stim-center");
        assert_eq!((t.revenue_kopecks, t.new_clients), (1_500_000, 3));
        // Baseline into stim-center: non-members who bought at skinerica — none.
        assert_eq!((t.enrolled_rate_bps, t.baseline_rate_bps), (Some(10_000), None));
        let m = row("mindal");
        // 700 + 900 ₽ revenue; rewards: 3 × 100 ₽ (step 1) + 2 × 200 ₽ (completion) = 700 ₽.
        assert_eq!((m.revenue_kopecks, m.reward_cost_kopecks, m.net_gain_kopecks), (160_000, 70_000, 90_000));
        assert_eq!(m.new_clients, 1, "c had bought at mindal before the chain");
        // Enrolled 2/3 = 6666 bps; baseline: d, e, f bought at stim-center, only d at mindal within
        // 10 days → 3333 bps; uplift 3333.
        assert_eq!((m.enrolled_rate_bps, m.baseline_rate_bps, m.uplift_bps), (Some(6_666), Some(3_333), Some(3_333)));

        // Mindal's own view: its row only; the clinic's step unnamed, as an aggregate count — and
        // three members are below the minimum group, so even the count is withheld.
        let own = env.krug.chain_analytics(&env.tenant, &ChainActor::Owner(biz("mindal")), chain).await.unwrap();
        assert_eq!(own.partners.len(), 1);
        assert_eq!(own.partners[0].business, biz("mindal"));
        let clinic = &own.steps[1];
        assert!(clinic.aggregate_only && clinic.suppressed);
        assert_eq!((clinic.target.as_str(), clinic.entered, clinic.conversion_bps), ("medical", 0, None));
        assert!(!krug::chain_analytics_csv(&own).contains("stim-center"));
        // The clinic itself sees its own step in full.
        let clinic_view = env.krug.chain_analytics(&env.tenant, &ChainActor::Owner(biz("stim-center")), chain).await.unwrap();
        assert!(!clinic_view.steps[1].aggregate_only && !clinic_view.steps[1].suppressed);
        assert_eq!((clinic_view.steps[1].target.as_str(), clinic_view.steps[1].entered), ("stim-center", 3));
        let csv = krug::chain_analytics_csv(&all);
        assert_eq!(csv.lines().count(), 1 + 3 + 3);
        assert!(csv.contains("partner,,,,,mindal,160000,70000,90000,1,6666,3333,3333"));
    }
}
