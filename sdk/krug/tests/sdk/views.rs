//! Read views and tenant administration: a business's clients and purchases (exact pages and
//! cursors, refunds, CSV), medical secrecy between partners, a member's own purchases, the
//! catalogue and tier ladder, and suspending a tenant.

use krug::pii::KeyRing;
use krug::types::{Bps, Category, Kopecks, MemberId, Phone, PurchaseId, TierCode};
use krug::{
    Adjust, BusinessClient, CatalogueEntry, ClientQuery, Error, Page, PurchaseQuery, PurchaseRecord, RecordPurchase,
    RefundPurchase, RegisterMember, TenantSummary, TierInfo, clients_csv, purchases_csv,
};
use krug_testkit::{backend_test, tenants};
use time::{Duration, OffsetDateTime};

use crate::common::*;

fn tier(code: &str) -> Option<TierCode> {
    Some(TierCode::parse(code).unwrap())
}

fn client(
    member: MemberId,
    phone_masked: &str,
    last_visit: OffsetDateTime,
    visits: u64,
    spend: Kopecks,
) -> BusinessClient {
    BusinessClient {
        member,
        phone_masked: phone_masked.into(),
        tier: tier("insider"),
        last_visit,
        visits,
        spend_here: spend,
    }
}

fn ids(page: &Page<PurchaseRecord>) -> Vec<PurchaseId> {
    page.items.iter().map(|p| p.purchase).collect()
}

fn query(limit: u32) -> PurchaseQuery {
    PurchaseQuery::latest(limit)
}

fn sorted(mut members: Vec<MemberId>) -> Vec<MemberId> {
    members.sort();
    members
}

backend_test!(
    async fn business_clients_page_by_member_with_exact_cursors(db: TestDb) {
        let env = env(db).await;
        let (m1, m2, m3) = (env.member(1).await, env.member(2).await, env.member(3).await);
        let only_elsewhere = env.member(4).await;
        let _never_bought = env.member(5).await;
        env.buy(m1, "skinerica", 1_000, "S-1").await;
        env.buy(m1, "lisichkino", 700, "L-1").await;
        env.buy(only_elsewhere, "lisichkino", 900, "L-2").await;
        env.clock.advance(Duration::hours(1));
        env.buy(m2, "skinerica", 2_000, "S-2").await;
        env.clock.advance(Duration::hours(1));
        env.buy(m3, "skinerica", 500, "S-3").await;
        env.clock.advance(Duration::hours(1));
        env.buy(m3, "skinerica", 250, "S-4").await;

        let expected = |m: MemberId| {
            if m == m1 {
                client(m1, "+7 900 ***-**-01", start(), 1, rub(1_000))
            } else if m == m2 {
                client(m2, "+7 900 ***-**-02", start() + Duration::hours(1), 1, rub(2_000))
            } else {
                client(m3, "+7 900 ***-**-03", start() + Duration::hours(3), 2, rub(750))
            }
        };
        let order = sorted(vec![m1, m2, m3]);
        let skinerica = biz("skinerica");

        let first = env.krug.business_clients(&env.tenant, &skinerica, ClientQuery::first(2)).await.unwrap();
        assert_eq!(first, Page { items: vec![expected(order[0]), expected(order[1])], next: Some(order[1]) });
        let second = env
            .krug
            .business_clients(&env.tenant, &skinerica, ClientQuery { after: first.next, limit: 2 })
            .await
            .unwrap();
        assert_eq!(second, Page { items: vec![expected(order[2])], next: None });

        // A page that holds exactly the rest does not point at an empty one.
        let all = env.krug.business_clients(&env.tenant, &skinerica, ClientQuery::first(3)).await.unwrap();
        assert_eq!(all, Page { items: order.iter().map(|m| expected(*m)).collect(), next: None });

        let lisichkino =
            env.krug.business_clients(&env.tenant, &biz("lisichkino"), ClientQuery::first(200)).await.unwrap();
        assert_eq!(
            lisichkino.items.iter().map(|c| (c.member, c.spend_here)).collect::<Vec<_>>(),
            sorted(vec![m1, only_elsewhere])
                .into_iter()
                .map(|m| (m, if m == m1 { rub(700) } else { rub(900) }))
                .collect::<Vec<_>>()
        );
        let mindal = env.krug.business_clients(&env.tenant, &biz("mindal"), ClientQuery::first(10)).await.unwrap();
        assert_eq!(mindal, Page { items: vec![], next: None });
    }
);

backend_test!(
    async fn refunds_reduce_spend_here_and_the_phone_is_masked(db: TestDb) {
        let env = env(db).await;
        let anna = env
            .krug
            .register_member(&env.tenant, RegisterMember::phone(Phone::parse("8 (912) 345-67-89").unwrap()))
            .await
            .unwrap();
        let first = env.buy(anna, "skinerica", 1_000, "S-1").await;
        env.clock.advance(Duration::minutes(10));
        let second = env.buy(anna, "skinerica", 500, "S-2").await;
        let refund = |purchase, id: &str, amount| RefundPurchase { purchase, refund_id: id.into(), amount };
        env.krug.refund(&env.tenant, refund(first.purchase, "F-1", Some(rub(300)))).await.unwrap();
        env.krug.refund(&env.tenant, refund(second.purchase, "F-2", None)).await.unwrap();

        let page = env.krug.business_clients(&env.tenant, &biz("skinerica"), ClientQuery::first(10)).await.unwrap();
        assert_eq!(
            page,
            Page {
                items: vec![BusinessClient {
                    member: anna,
                    phone_masked: "+7 912 ***-**-89".into(),
                    tier: tier("insider"),
                    last_visit: start() + Duration::minutes(10),
                    visits: 2,
                    spend_here: rub(700),
                }],
                next: None,
            }
        );
        let purchases = env.krug.business_purchases(&env.tenant, &biz("skinerica"), query(10)).await.unwrap();
        assert_eq!(
            purchases.items.iter().map(|p| (p.purchase, p.refunded)).collect::<Vec<_>>(),
            vec![(second.purchase, rub(500)), (first.purchase, rub(300))]
        );
    }
);

backend_test!(
    async fn skinerica_never_sees_anything_from_the_dental_clinic(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let bella = env.member(2).await;
        let skin = env.buy(anna, "skinerica", 1_000, "S-1").await;
        env.clock.advance(Duration::hours(2));
        env.medical_consent(anna).await;
        env.medical_consent(bella).await;
        let tooth = env.buy(anna, "stim-center", 5_000, "DENT-1").await;
        let bella_tooth = env.buy(bella, "stim-center", 3_000, "DENT-2").await;
        let (skinerica, stim) = (biz("skinerica"), biz("stim-center"));

        // Skinerica: only its own visit and spend, even for a member who also saw the dentist later.
        let clients = env.krug.business_clients(&env.tenant, &skinerica, ClientQuery::first(200)).await.unwrap();
        assert_eq!(clients, Page { items: vec![client(anna, "+7 900 ***-**-01", start(), 1, rub(1_000))], next: None });
        for q in [query(200), PurchaseQuery { member: Some(anna), ..query(200) }] {
            let page = env.krug.business_purchases(&env.tenant, &skinerica, q).await.unwrap();
            assert_eq!(ids(&page), vec![skin.purchase]);
        }
        let page = env
            .krug
            .business_purchases(&env.tenant, &skinerica, PurchaseQuery { member: Some(bella), ..query(200) })
            .await
            .unwrap();
        assert_eq!(page, Page { items: vec![], next: None });
        let exports = clients_csv(&clients.items)
            + purchases_csv(&env.krug.business_purchases(&env.tenant, &skinerica, query(200)).await.unwrap().items)
                .as_str();
        // (Only strings that cannot occur inside a UUID's hex by chance.)
        for secret in ["DENT", "dentistry", "stim", "Стим", &bella.to_string(), &tooth.purchase.to_string()] {
            assert!(!exports.contains(secret), "Skinerica's export shows {secret:?}:\n{exports}");
        }
        // Nor can a clinic purchase id used as a cursor place Skinerica's page in time.
        let r = env
            .krug
            .business_purchases(&env.tenant, &skinerica, PurchaseQuery { before: Some(tooth.purchase), ..query(10) })
            .await;
        assert!(matches!(r, Err(Error::InvalidInput { field: "before", .. })), "{r:?}");

        // The clinic sees its own patients and visits.
        let clients = env.krug.business_clients(&env.tenant, &stim, ClientQuery::first(200)).await.unwrap();
        let spend: Vec<_> = clients.items.iter().map(|c| (c.member, c.spend_here, c.visits)).collect();
        let mut want = vec![(anna, rub(5_000), 1), (bella, rub(3_000), 1)];
        want.sort();
        assert_eq!(spend, want);
        let page = env.krug.business_purchases(&env.tenant, &stim, query(200)).await.unwrap();
        let mut want = vec![tooth.purchase, bella_tooth.purchase];
        want.sort_by(|a, b| b.cmp(a));
        assert_eq!(ids(&page), want, "same instant: ties newest id first");

        // Anna's own history shows her clinic visit; another tenant cannot read it.
        let mine = env.krug.member_purchases(&env.tenant, anna, None, 10).await.unwrap();
        assert_eq!(ids(&mine), vec![tooth.purchase, skin.purchase]);
        assert_eq!(mine.items[0].business, stim);
        let r = env.krug.member_purchases(&env.other, anna, None, 10).await;
        assert!(matches!(r, Err(Error::MemberNotFound)), "{r:?}");
        let r = env.krug.member_purchases(&env.tenant, anna, Some(bella_tooth.purchase), 10).await;
        assert!(matches!(r, Err(Error::InvalidInput { field: "before", .. })), "{r:?}");
    }
);

backend_test!(
    async fn business_purchases_are_newest_first_with_filters_and_exact_cursors(db: TestDb) {
        let env = env(db).await;
        let (m1, m2) = (env.member(1).await, env.member(2).await);
        let skinerica = biz("skinerica");
        let p1 = env.buy(m1, "skinerica", 1_000, "S-1").await;
        env.buy(m1, "lisichkino", 400, "L-1").await;
        env.clock.advance(Duration::hours(1));
        let p2 = env.buy(m2, "skinerica", 2_000, "S-2").await;
        env.clock.advance(Duration::hours(1));
        let credit = Adjust {
            member: m1,
            amount: bonus(10_000),
            reason: "welcome".into(),
            actor: "ops".into(),
            funded_by: None,
            key: "A-1".into(),
        };
        env.krug.adjust(&env.tenant, credit).await.unwrap();
        let p3 = env
            .krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(m1, skinerica.clone(), rub(1_000), "S-3").redeem(bonus(10_000)),
            )
            .await
            .unwrap();
        env.clock.advance(Duration::hours(1));
        // Synced late from the partner's system: it happened between p1 and p2.
        let p4 = env
            .krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(m2, skinerica.clone(), rub(300), "S-4").at(start() + Duration::minutes(30)),
            )
            .await
            .unwrap();

        let first = env.krug.business_purchases(&env.tenant, &skinerica, query(2)).await.unwrap();
        assert_eq!((ids(&first), first.next), (vec![p3.purchase, p2.purchase], Some(p2.purchase)));
        let second = env
            .krug
            .business_purchases(&env.tenant, &skinerica, PurchaseQuery { before: first.next, ..query(2) })
            .await
            .unwrap();
        assert_eq!((ids(&second), second.next), (vec![p4.purchase, p1.purchase], None));

        assert_eq!(
            first.items[0],
            PurchaseRecord {
                purchase: p3.purchase,
                member: m1,
                business: skinerica.clone(),
                receipt_id: "S-3".into(),
                category: Category::parse("cosmetology").unwrap(),
                amount: rub(1_000),
                redeemed: bonus(10_000),
                paid: rub(900),
                cashback: bonus(4_500),
                refunded: Kopecks::ZERO,
                at: start() + Duration::hours(2),
            }
        );
        assert_eq!(second.items[0].at, start() + Duration::minutes(30));

        let window = PurchaseQuery {
            from: Some(start() + Duration::minutes(30)),
            to: Some(start() + Duration::hours(2)),
            ..query(10)
        };
        let page = env.krug.business_purchases(&env.tenant, &skinerica, window).await.unwrap();
        assert_eq!((ids(&page), page.next), (vec![p2.purchase, p4.purchase], None), "[from, to)");
        let page = env
            .krug
            .business_purchases(&env.tenant, &skinerica, PurchaseQuery { member: Some(m1), ..query(1) })
            .await
            .unwrap();
        assert_eq!((ids(&page), page.next), (vec![p3.purchase], Some(p3.purchase)));
        let page = env
            .krug
            .business_purchases(
                &env.tenant,
                &skinerica,
                PurchaseQuery { member: Some(m1), before: page.next, ..query(1) },
            )
            .await
            .unwrap();
        assert_eq!((ids(&page), page.next), (vec![p1.purchase], None));

        let mine = env.krug.member_purchases(&env.tenant, m1, None, 2).await.unwrap();
        assert_eq!(mine.items.len(), 2);
        assert_eq!(mine.items[1].business, biz("lisichkino"));
        let rest = env.krug.member_purchases(&env.tenant, m1, mine.next, 2).await.unwrap();
        assert_eq!((ids(&rest), rest.next), (vec![p1.purchase], None));

        let backwards = PurchaseQuery { from: Some(start() + Duration::hours(1)), to: Some(start()), ..query(10) };
        let r = env.krug.business_purchases(&env.tenant, &skinerica, backwards).await;
        assert!(matches!(r, Err(Error::InvalidInput { field: "to", .. })), "{r:?}");
        for limit in [0, 201] {
            let r = env.krug.business_purchases(&env.tenant, &skinerica, query(limit)).await;
            assert!(matches!(r, Err(Error::InvalidInput { field: "limit", .. })), "{r:?}");
            let r = env.krug.business_clients(&env.tenant, &skinerica, ClientQuery::first(limit)).await;
            assert!(matches!(r, Err(Error::InvalidInput { field: "limit", .. })), "{r:?}");
            let r = env.krug.member_purchases(&env.tenant, m1, None, limit).await;
            assert!(matches!(r, Err(Error::InvalidInput { field: "limit", .. })), "{r:?}");
        }
        assert_eq!(env.krug.business_purchases(&env.tenant, &skinerica, query(200)).await.unwrap().items.len(), 4);
    }
);

backend_test!(
    async fn csv_exports_are_exact_quoted_and_formula_safe(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let skinerica = biz("skinerica");
        let a = env.buy(anna, "skinerica", 1_000, "=HYPERLINK(\"http://evil\")").await;
        env.clock.advance(Duration::seconds(90));
        let b = env.buy(anna, "skinerica", 250, "R-\"7\",b").await;
        env.krug
            .refund(
                &env.tenant,
                RefundPurchase { purchase: b.purchase, refund_id: "F-1".into(), amount: Some(rub(50)) },
            )
            .await
            .unwrap();

        let clients = env.krug.business_clients(&env.tenant, &skinerica, ClientQuery::first(10)).await.unwrap();
        assert_eq!(
            clients_csv(&clients.items),
            format!(
                "member,phone,tier,last_visit,visits,spend_here_kopecks\r\n\
                 {anna},'+7 900 ***-**-01,insider,2026-03-02T09:01:30Z,2,120000\r\n"
            )
        );
        let purchases = env.krug.business_purchases(&env.tenant, &skinerica, query(10)).await.unwrap();
        assert_eq!(
            purchases_csv(&purchases.items),
            format!(
                "purchase,member,business,receipt_id,category,amount_kopecks,redeemed_kopecks,paid_kopecks,\
                 cashback_kopecks,refunded_kopecks,at\r\n\
                 {b},{anna},skinerica,\"R-\"\"7\"\",b\",cosmetology,25000,0,25000,1250,5000,2026-03-02T09:01:30Z\r\n\
                 {a},{anna},skinerica,\"'=HYPERLINK(\"\"http://evil\"\")\",cosmetology,100000,0,100000,5000,0,2026-03-02T09:00:00Z\r\n",
                a = a.purchase,
                b = b.purchase,
            )
        );
        assert_eq!(
            purchases_csv(&[]),
            "purchase,member,business,receipt_id,category,amount_kopecks,redeemed_kopecks,paid_kopecks,cashback_kopecks,refunded_kopecks,at\r\n"
        );
    }
);

backend_test!(
    async fn another_tenants_business_is_not_found(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 1_000, "S-1").await;
        for (tenant, business) in [(&env.tenant, "florist"), (&env.other, "skinerica"), (&env.tenant, "no-such-shop")] {
            let r = env.krug.business_clients(tenant, &biz(business), ClientQuery::first(10)).await;
            let e = r.unwrap_err();
            assert_eq!((e.code(), e.http_status()), ("business_not_found", 404), "{business}");
            let e = env.krug.business_purchases(tenant, &biz(business), query(10)).await.unwrap_err();
            assert_eq!((e.code(), e.http_status()), ("business_not_found", 404), "{business}");
        }
    }
);

backend_test!(
    async fn catalogue_and_tier_ladder_come_from_the_tenant_configuration(db: TestDb) {
        let env = env(db).await;
        let entry = |b: &str, name: &str, category: &str, medical| CatalogueEntry {
            business: biz(b),
            name: name.into(),
            category: Category::parse(category).unwrap(),
            medical,
        };
        assert_eq!(
            env.krug.catalogue(&env.tenant).unwrap(),
            vec![
                entry("skinerica", "Skinerica", "cosmetology", false),
                entry("lisichkino", "Лисичкино", "gastro_market", false),
                entry("stim-center", "Стим Центр", "dentistry", true),
                entry("mindal", "Миндаль", "beauty_salon", false),
                entry("millennium", "Миллениум", "medical_centre", true),
            ]
        );
        let info = |code: &str, name: &str, spend: i64, categories, bps, invitation_only| TierInfo {
            code: TierCode::parse(code).unwrap(),
            name: name.into(),
            min_spend: Kopecks::new(spend).unwrap(),
            min_categories: categories,
            cashback: Bps::new(bps).unwrap(),
            invitation_only,
        };
        assert_eq!(
            env.krug.tier_ladder(&env.tenant).unwrap(),
            vec![
                info("insider", "Insider", 0, 1, 500, false),
                info("vip", "VIP", 3_000_000, 3, 700, false),
                info("elite", "Elite", 10_000_000, 5, 1_000, false),
                info("inner-circle", "Inner Circle", 0, 0, 1_000, true),
            ]
        );
        assert_eq!(
            env.krug.tier_ladder(&env.other).unwrap(),
            vec![info("friend", "Друг", 0, 1, 300, false), info("neighbour", "Сосед", 1_500_000, 2, 600, false)]
        );
        assert_eq!(env.krug.catalogue(&env.other).unwrap()[2], entry("optika", "Оптика Зрение", "optometry", true));
        let r = env.krug.catalogue(&tid("nobody-here"));
        assert!(matches!(r, Err(Error::UnknownTenant(_))), "{r:?}");
    }
);

backend_test!(
    async fn tenants_list_counts_businesses_and_members_of_every_tenant(db: TestDb) {
        let env = env(db).await;
        env.member(1).await;
        env.member(2).await;
        env.krug.register_member(&env.other, RegisterMember::phone(phone(3))).await.unwrap();
        let summary = |id: &str, name: &str, suspended, businesses, members| TenantSummary {
            id: tid(id),
            name: name.into(),
            suspended,
            businesses,
            members,
        };
        assert_eq!(
            env.krug.tenants().await.unwrap(),
            vec![
                summary("svoy-krug", "Свой Круг", false, 5, 2),
                summary("zelenyi-kvartal", "Зелёный Квартал", false, 3, 1)
            ]
        );
        assert_eq!(env.krug.hosted_tenants(), vec![tid("svoy-krug"), tid("zelenyi-kvartal")]);

        env.krug.suspend_tenant(&env.other, "root@krug").await.unwrap();
        assert_eq!(
            env.krug.tenants().await.unwrap(),
            vec![
                summary("svoy-krug", "Свой Круг", false, 5, 2),
                summary("zelenyi-kvartal", "Зелёный Квартал", true, 3, 1)
            ]
        );
        assert_eq!(
            env.krug.hosted_tenants(),
            vec![tid("svoy-krug"), tid("zelenyi-kvartal")],
            "suspended is still hosted"
        );

        // A business dropped from the configuration is no longer counted.
        let shipped = include_str!("../../../../tenants/svoy-krug/tenant.toml");
        let without_mindal =
            shipped.replace("[[businesses]]\nid = \"mindal\"\nname = \"Миндаль\"\ncategory = \"beauty_salon\"\n\n", "");
        assert_ne!(without_mindal, shipped);
        let smaller = krug::tenant::TenantConfig::from_toml_str(&without_mindal).unwrap();
        env.krug.apply_tenant(smaller, KeyRing::from_toml_str(KEYS_V1).unwrap()).await.unwrap();
        assert_eq!(env.krug.tenants().await.unwrap()[0], summary("svoy-krug", "Свой Круг", false, 4, 2));
    }
);

backend_test!(
    async fn a_suspended_tenant_refuses_every_command_until_resumed(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        env.buy(anna, "skinerica", 1_000, "S-1").await;
        env.krug.suspend_tenant(&env.tenant, "root@krug").await.unwrap();
        let before = env.counts().await;

        let e = env
            .krug
            .record_purchase(&env.tenant, RecordPurchase::new(anna, biz("skinerica"), rub(500), "S-2"))
            .await
            .unwrap_err();
        assert!(matches!(&e, Error::TenantSuspended(t) if *t == env.tenant), "{e:?}");
        assert_eq!((e.code(), e.http_status()), ("tenant_suspended", 403));
        let e = env.krug.balance(&env.tenant, anna).await.unwrap_err();
        assert_eq!((e.code(), e.http_status()), ("tenant_suspended", 403));
        for r in [
            env.krug.business_clients(&env.tenant, &biz("skinerica"), ClientQuery::first(10)).await.map(|_| ()),
            env.krug.member_purchases(&env.tenant, anna, None, 10).await.map(|_| ()),
            env.krug.register_member(&env.tenant, RegisterMember::phone(phone(2))).await.map(|_| ()),
            env.krug.catalogue(&env.tenant).map(|_| ()),
            env.krug.audit_log(&env.tenant, 10).await.map(|_| ()),
        ] {
            assert!(matches!(r, Err(Error::TenantSuspended(_))), "{r:?}");
        }
        // Suspending again is a no-op: nothing is written, not even an audit record.
        env.krug.suspend_tenant(&env.tenant, "root@krug").await.unwrap();
        assert_eq!(env.counts().await, before, "a refused command or a repeated suspension wrote something");

        // The other tenant is untouched.
        let olga = env.krug.register_member(&env.other, RegisterMember::phone(phone(9))).await.unwrap();
        env.krug.record_purchase(&env.other, RecordPurchase::new(olga, biz("florist"), rub(100), "F-1")).await.unwrap();

        // Re-applying the configuration, or a new handle over the same store, keeps the suspension.
        env.krug.apply_tenant(tenants::svoy_krug(), KeyRing::from_toml_str(KEYS_V1).unwrap()).await.unwrap();
        assert!(matches!(env.krug.balance(&env.tenant, anna).await, Err(Error::TenantSuspended(_))));
        let restarted = connect(&env.db, env.clock.clone(), KEYS_V1, tenants::svoy_krug()).await;
        assert!(matches!(restarted.balance(&env.tenant, anna).await, Err(Error::TenantSuspended(_))));
        restarted.close().await;

        env.clock.advance(Duration::minutes(5));
        env.krug.resume_tenant(&env.tenant, "root@krug").await.unwrap();
        assert_eq!(env.krug.balance(&env.tenant, anna).await.unwrap().pending, bonus(5_000));
        let r = env.buy(anna, "skinerica", 500, "S-2").await;
        assert_eq!(r.cashback, bonus(2_500));
        let audit: Vec<_> = env
            .krug
            .audit_log(&env.tenant, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.actor, a.action, a.target, a.at))
            .collect();
        let row = |action: &str, at| ("root@krug".to_owned(), action.to_owned(), "tenant:svoy-krug".to_owned(), at);
        assert_eq!(audit, vec![row("tenant.resume", start() + Duration::minutes(5)), row("tenant.suspend", start())]);
        assert!(env.krug.audit_log(&env.other, 10).await.unwrap().is_empty(), "the record is in that tenant only");

        let e = env.krug.suspend_tenant(&env.tenant, " ").await.unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        let e = env.krug.suspend_tenant(&tid("nobody-here"), "root@krug").await.unwrap_err();
        assert_eq!(e.code(), "tenant_not_found");
        assert!(env.krug.balance(&env.tenant, anna).await.is_ok(), "a refused suspension changed nothing");
    }
);
