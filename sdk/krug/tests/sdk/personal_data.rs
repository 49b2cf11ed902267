//! Members' personal data at rest (compliance §1.10): phone, name and birthday never reach the
//! database in clear, the phone is still found in any written form, key rotation keeps old rows
//! readable, and a wrong data key yields an error, never garbage.

use krug::pii::PiiError;
use krug::types::Phone;
use krug::{Adjust, Error, MemberProfile, RecordPurchase, RegisterMember};
use krug_testkit::{backend_test, tenants};
use time::macros::date;

use crate::common::*;

const PHONE_E164: &str = "+79123456789";
const PHONE_NATIONAL: &str = "9123456789";
const NAME: &str = "Анна Петрова";
const BIRTHDAY: &str = "1990-05-17";

/// The same ring as `KEYS_V1` but with another `k1`: the blind index still finds the member,
/// the data key cannot open her fields.
const KEYS_OTHER_K1: &str = r#"
active = "k1"
index_key = "aW5kZXgta2V5LWluZGV4LWtleS1pbmRleC1rZXktMzI="
[keys]
k1 = "YW5vdGhlci1kYXRhLWtleS1mb3ItazEtMzJieXRlcyE="
"#;

fn anna() -> RegisterMember {
    RegisterMember {
        phone: Phone::parse("8 (912) 345-67-89").unwrap(),
        name: Some(NAME.into()),
        birthday: Some(date!(1990 - 05 - 17)),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Asserts that no row of `table` holds `secret`, raw or hex-encoded (PostgreSQL renders bytea
/// as hex text, SQLite returns it raw).
async fn assert_absent(env: &Env, table: &str, secret: &str) {
    let rows = dump(&env.db, table).await;
    let hexed = hex(secret.as_bytes());
    for row in &rows {
        assert!(!contains(row, secret.as_bytes()), "{table} holds {secret:?} in clear");
        assert!(!contains(&row.to_ascii_lowercase(), hexed.as_bytes()), "{table} holds {secret:?} as hex");
    }
}

backend_test!(
    async fn a_raw_dump_holds_no_plaintext_personal_data(db: TestDb) {
        let env = env(db).await;
        let m = env.krug.register_member(&env.tenant, anna()).await.unwrap();
        // Activity in every table that refers to her: purchase, redemption, adjustment, invitation.
        env.buy(m, "skinerica", 10_000, "R-1").await;
        env.medical_consent(m).await;
        env.days(15);
        env.krug
            .record_purchase(
                &env.tenant,
                RecordPurchase::new(m, biz("stim-center"), rub(1_000), "R-2").redeem(bonus(10_000)),
            )
            .await
            .unwrap();
        let adjust = Adjust {
            member: m,
            amount: bonus(500),
            reason: "goodwill".into(),
            actor: "ops@svoy-krug".into(),
            funded_by: None,
            key: "A-1".into(),
        };
        env.krug.adjust(&env.tenant, adjust).await.unwrap();
        env.krug.invite(&env.tenant, m, &krug::types::TierCode::parse("inner-circle").unwrap(), "ops").await.unwrap();

        // The dump is not empty and does carry the member's row: the check below is not vacuous.
        let members = dump(&env.db, "members").await;
        assert_eq!(members.len(), 1);
        assert!(contains(&members[0], b"svoy-krug"), "the dump should show the tenant id in clear");
        for secret in [PHONE_E164, PHONE_NATIONAL, NAME, BIRTHDAY] {
            assert_absent(&env, "members", secret).await;
        }
        for table in
            ["purchases", "entries", "lots", "lot_moves", "accounts", "audit_log", "idempotency", "budget_entries"]
        {
            assert!(!dump(&env.db, table).await.is_empty(), "{table} should have rows");
            for secret in [PHONE_E164, PHONE_NATIONAL, NAME, BIRTHDAY] {
                assert_absent(&env, table, secret).await;
            }
        }
    }
);

backend_test!(
    async fn a_member_is_found_by_every_written_form_of_her_phone(db: TestDb) {
        let env = env(db).await;
        let m = env.krug.register_member(&env.tenant, anna()).await.unwrap();
        for form in [
            "8 (912) 345-67-89",
            "+7 912 3456789",
            "9123456789",
            "+79123456789",
            "89123456789",
            "7-912-345-67-89",
            "(912) 345-67-89",
            "912.345.67.89",
            "+7\u{a0}912\u{a0}345\u{a0}67\u{a0}89",
        ] {
            let phone = Phone::parse(form).unwrap();
            assert_eq!(env.krug.find_member_by_phone(&env.tenant, &phone).await.unwrap(), Some(m), "{form:?}");
        }
        let stranger = Phone::parse("+7 912 345-67-88").unwrap();
        assert_eq!(env.krug.find_member_by_phone(&env.tenant, &stranger).await.unwrap(), None);

        assert_eq!(
            env.krug.member(&env.tenant, m).await.unwrap(),
            MemberProfile {
                id: m,
                phone: Phone::parse(PHONE_E164).unwrap(),
                name: Some(NAME.into()),
                birthday: Some(date!(1990 - 05 - 17)),
                joined_at: start(),
            }
        );
    }
);

backend_test!(
    async fn rotation_keeps_old_members_readable_and_seals_new_ones_under_the_new_key(db: TestDb) {
        let Env { krug, clock, db, tenant, .. } = env(db).await;
        let old = krug.register_member(&tenant, anna()).await.unwrap();
        let old_profile = krug.member(&tenant, old).await.unwrap();
        krug.close().await;
        drop(krug);

        let krug = connect(&db, clock.clone(), KEYS_V2, tenants::svoy_krug()).await;
        assert_eq!(krug.member(&tenant, old).await.unwrap(), old_profile);
        assert_eq!(
            krug.find_member_by_phone(&tenant, &Phone::parse(PHONE_NATIONAL).unwrap()).await.unwrap(),
            Some(old)
        );

        let new = krug
            .register_member(
                &tenant,
                RegisterMember {
                    name: Some("Борис".into()),
                    birthday: Some(date!(1985 - 01 - 31)),
                    ..RegisterMember::phone(phone(2))
                },
            )
            .await
            .unwrap();
        let profile = krug.member(&tenant, new).await.unwrap();
        assert_eq!(
            (profile.phone, profile.name, profile.birthday),
            (phone(2), Some("Борис".into()), Some(date!(1985 - 01 - 31)))
        );
        assert_eq!(krug.find_member_by_phone(&tenant, &phone(2)).await.unwrap(), Some(new));

        // Each row names the key that sealed it: the old one k1, the new one k2, for every field.
        let keyed = |k: &str| {
            format!(
                "SELECT COUNT(*) FROM members WHERE phone_key = '{k}' AND name_key = '{k}' AND birthday_key = '{k}'"
            )
        };
        assert_eq!(scalar_i64(&db, &keyed("k1")).await, 1);
        assert_eq!(scalar_i64(&db, &keyed("k2")).await, 1);
    }
);

backend_test!(
    async fn a_handle_with_another_data_key_gets_an_error_never_garbage(db: TestDb) {
        let Env { krug, clock, db, tenant, .. } = env(db).await;
        let m = krug.register_member(&tenant, anna()).await.unwrap();
        krug.close().await;
        drop(krug);

        let krug = connect(&db, clock.clone(), KEYS_OTHER_K1, tenants::svoy_krug()).await;
        // The index key is the same, so the member is found; her fields cannot be opened.
        assert_eq!(krug.find_member_by_phone(&tenant, &Phone::parse(PHONE_E164).unwrap()).await.unwrap(), Some(m));
        let err = krug.member(&tenant, m).await.unwrap_err();
        assert!(matches!(err, Error::Pii(PiiError::Decrypt)), "{err:?}");
        assert_eq!((err.code(), err.http_status()), ("internal", 500));
        // The error text says what failed, never the data.
        let text = format!("{err} {err:?}");
        for secret in [PHONE_E164, PHONE_NATIONAL, NAME, BIRTHDAY] {
            assert!(!text.contains(secret), "{text}");
        }

        // A ring without the key that sealed the row names the missing key.
        krug.close().await;
        drop(krug);
        let only_k2 = KEYS_V2.replace("k1 = \"ZGF0YS1rZXktb25lLWRhdGEta2V5LW9uZS0zMmJ5dGU=\"\n", "");
        assert!(!only_k2.contains("k1 ="));
        let krug = connect(&db, clock, &only_k2, tenants::svoy_krug()).await;
        let err = krug.member(&tenant, m).await.unwrap_err();
        assert!(matches!(&err, Error::Pii(PiiError::UnknownKey(k)) if k.as_str() == "k1"), "{err:?}");
    }
);
