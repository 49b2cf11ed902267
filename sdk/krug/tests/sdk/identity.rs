//! Identity on both stores: staff accounts and their sign-in, audit records with the client
//! address, SMS sign-in codes (registration, rate limits, expiry, attempts, nothing in clear),
//! the consent ledger, and profile updates.

use std::fmt::Debug;
use std::future::Future;

use krug::identity::{PROCESSING_CONSENT_SHA256, PROCESSING_CONSENT_VERSION};
use krug::types::{Phone, StaffId};
use krug::{
    AuditEvent, Consent, ConsentKind, Error, GrantConsent, MemberProfile, NewStaff, ProfileUpdate, RegisterMember,
    Role, SignIn, Staff, StaffUpdate,
};
use krug_testkit::{ManualClock, backend_test, tenants};
use time::Duration;
use time::macros::date;

use crate::common::*;

const PASSWORD: &str = "correct-horse-battery";

fn new_staff(login: &str, role: Role, business: Option<&str>) -> NewStaff {
    NewStaff {
        login: login.into(),
        password: PASSWORD.into(),
        role,
        business: business.map(biz),
        actor: "operator:olga".into(),
        client: Some("203.0.113.7:51234".into()),
    }
}

fn update(actor: &str) -> StaffUpdate {
    StaffUpdate { actor: actor.into(), ..StaffUpdate::default() }
}

fn marketing_sms(version: &str) -> GrantConsent {
    GrantConsent {
        kind: ConsentKind::MarketingSms,
        text_version: version.into(),
        text_sha256: "ab".repeat(32),
        channel: "app".into(),
    }
}

/// Row counts and the mutable columns of every identity table, and the base tables' counts: a
/// refused call must leave all of it unchanged.
async fn snapshot(env: &Env) -> (String, Vec<(&'static str, i64)>) {
    let sql = "SELECT (SELECT COUNT(*) FROM staff) || ',' || \
               (SELECT COUNT(*) FROM staff WHERE active = TRUE) || ',' || \
               (SELECT COUNT(*) FROM sms_codes) || ',' || \
               (SELECT COALESCE(SUM(attempts), 0) FROM sms_codes) || ',' || \
               (SELECT COUNT(*) FROM sms_codes WHERE consumed_at IS NOT NULL) || ',' || \
               (SELECT COUNT(*) FROM consents) || ',' || \
               (SELECT COUNT(*) FROM consents WHERE withdrawn_at IS NOT NULL)";
    (scalar_text(&env.db, sql).await, env.counts().await)
}

/// Awaits `op`, asserts it was refused with `code` and `status`, that nothing was written, and
/// returns the error.
async fn refused<T: Debug>(env: &Env, code: &str, status: u16, op: impl Future<Output = krug::Result<T>>) -> Error {
    let before = snapshot(env).await;
    let err = match op.await {
        Ok(v) => panic!("expected {code}, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!((err.code(), err.http_status()), (code, status), "{err:?}");
    assert_eq!(snapshot(env).await, before, "refused with {code} but the store changed");
    err
}

async fn count(env: &Env, sql: &str) -> i64 {
    scalar_i64(&env.db, sql).await
}

/// A six-digit code that is not `code`.
fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that no row of `table` holds `secret`, raw or hex-encoded.
async fn assert_absent(env: &Env, table: &str, secret: &str) {
    for row in dump(&env.db, table).await {
        assert!(!contains(&row, secret.as_bytes()), "{table} holds {secret:?} in clear");
        assert!(!contains(&row.to_ascii_lowercase(), hex(secret.as_bytes()).as_bytes()), "{table} holds it as hex");
    }
}

// ---------------------------------------------------------------------------------------------
// Staff accounts

backend_test!(
    async fn a_staff_account_is_created_and_signs_in_with_its_password(db: TestDb) {
        let env = env(db).await;
        let id = env
            .krug
            .create_staff(&env.tenant, new_staff("Olga.P@Skinerica", Role::Cashier, Some("skinerica")))
            .await
            .unwrap();
        let expected = Staff {
            id,
            login: krug::identity::Login::parse("olga.p@skinerica").unwrap(),
            role: Role::Cashier,
            business: Some(biz("skinerica")),
            active: true,
            created_at: start(),
        };
        assert_eq!(env.krug.staff(&env.tenant, id).await.unwrap(), expected);
        // The login is case-insensitive; the password is not.
        for login in ["olga.p@skinerica", "OLGA.P@SKINERICA"] {
            assert_eq!(env.krug.verify_staff_login(&env.tenant, login, PASSWORD).await.unwrap(), expected);
        }
        let operator = env.krug.create_staff(&env.tenant, new_staff("ops", Role::Operator, None)).await.unwrap();
        let all: Vec<StaffId> = env.krug.list_staff(&env.tenant, None).await.unwrap().iter().map(|s| s.id).collect();
        assert_eq!(all, [id, operator]);
        assert_eq!(env.krug.list_staff(&env.tenant, Some(&biz("skinerica"))).await.unwrap(), vec![expected.clone()]);
        assert_eq!(env.krug.list_staff(&env.tenant, Some(&biz("lisichkino"))).await.unwrap(), []);
        // Only an Argon2id hash is stored.
        let stored = scalar_text(&env.db, "SELECT password_hash FROM staff WHERE login = 'olga.p@skinerica'").await;
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert_absent(&env, "staff", PASSWORD).await;
        // Another tenant sees neither the account nor the login.
        assert_eq!(env.krug.staff(&env.other, id).await.unwrap_err().code(), "staff_not_found");
        assert_eq!(env.krug.list_staff(&env.other, None).await.unwrap(), []);
        let err = env.krug.verify_staff_login(&env.other, "olga.p@skinerica", PASSWORD).await.unwrap_err();
        assert_eq!(err.code(), "invalid_credentials");
    }
);

backend_test!(
    async fn wrong_password_unknown_login_and_inactive_account_are_refused_alike(db: TestDb) {
        let env = env(db).await;
        let id = env.krug.create_staff(&env.tenant, new_staff("olga", Role::Manager, Some("mindal"))).await.unwrap();
        let deactivate = StaffUpdate { active: Some(false), ..update("operator:ivan") };
        let inactive =
            env.krug.create_staff(&env.tenant, new_staff("ivan", Role::Owner, Some("mindal"))).await.unwrap();
        env.krug.update_staff(&env.tenant, inactive, deactivate).await.unwrap();
        let attempts = [
            ("olga", "correct-horse-batterY"),
            ("olga", ""),
            ("nobody", PASSWORD),
            ("x", PASSWORD), // not even a valid login
            ("ivan", PASSWORD),
        ];
        let mut messages = Vec::new();
        for (login, password) in attempts {
            let err =
                refused(&env, "invalid_credentials", 401, env.krug.verify_staff_login(&env.tenant, login, password))
                    .await;
            assert!(matches!(err, Error::InvalidCredentials), "{login}: {err:?}");
            messages.push(err.to_string());
        }
        messages.dedup();
        assert_eq!(messages, ["invalid login or password"]);
        // A new password replaces the old one; reactivation lets the account in again.
        let change = StaffUpdate { password: Some("a-new-long-password".into()), ..update("operator:ivan") };
        env.krug.update_staff(&env.tenant, id, change).await.unwrap();
        refused(&env, "invalid_credentials", 401, env.krug.verify_staff_login(&env.tenant, "olga", PASSWORD)).await;
        assert_eq!(env.krug.verify_staff_login(&env.tenant, "olga", "a-new-long-password").await.unwrap().id, id);
        let reactivate = StaffUpdate { active: Some(true), ..update("operator:ivan") };
        assert!(env.krug.update_staff(&env.tenant, inactive, reactivate).await.unwrap().active);
        assert_eq!(env.krug.verify_staff_login(&env.tenant, "ivan", PASSWORD).await.unwrap().id, inactive);
    }
);

backend_test!(
    async fn a_duplicate_login_is_refused_in_any_case_but_free_in_another_tenant(db: TestDb) {
        let env = env(db).await;
        env.krug.create_staff(&env.tenant, new_staff("olga", Role::Cashier, Some("skinerica"))).await.unwrap();
        let again = new_staff("OLGA", Role::Operator, None);
        let err = refused(&env, "login_taken", 409, env.krug.create_staff(&env.tenant, again)).await;
        assert!(matches!(err, Error::LoginTaken));
        assert_eq!(count(&env, "SELECT COUNT(*) FROM staff").await, 1);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM audit_log").await, 1);
        env.krug.create_staff(&env.other, new_staff("olga", Role::Operator, None)).await.unwrap();
        assert_eq!(count(&env, "SELECT COUNT(*) FROM staff").await, 2);
    }
);

backend_test!(
    async fn roles_and_businesses_must_fit_and_bad_input_writes_nothing(db: TestDb) {
        let env = env(db).await;
        let cases = [
            (new_staff("cashier", Role::Cashier, None), "invalid_input", 422),
            (new_staff("owner", Role::Owner, None), "invalid_input", 422),
            (new_staff("operator", Role::Operator, Some("skinerica")), "invalid_input", 422),
            (new_staff("manager", Role::Manager, Some("no-such-shop")), "business_not_found", 404),
            (new_staff("ab", Role::Operator, None), "invalid_input", 422),
            (new_staff("olga petrova", Role::Operator, None), "invalid_input", 422),
            (
                NewStaff { password: "123456789".into(), ..new_staff("olga", Role::Operator, None) },
                "invalid_input",
                422,
            ),
            (NewStaff { actor: " ".into(), ..new_staff("olga", Role::Operator, None) }, "invalid_input", 422),
            (
                NewStaff { client: Some("not an ip".into()), ..new_staff("olga", Role::Operator, None) },
                "invalid_input",
                422,
            ),
        ];
        for (cmd, code, status) in cases {
            let shown = format!("{cmd:?}");
            assert!(!shown.contains(PASSWORD), "{shown}");
            refused(&env, code, status, env.krug.create_staff(&env.tenant, cmd)).await;
        }
        assert_eq!(count(&env, "SELECT COUNT(*) FROM staff").await, 0);
        // Updates keep the pair consistent too.
        let ops = env.krug.create_staff(&env.tenant, new_staff("ops", Role::Operator, None)).await.unwrap();
        let to_cashier = StaffUpdate { role: Some(Role::Cashier), ..update("root") };
        refused(&env, "invalid_input", 422, env.krug.update_staff(&env.tenant, ops, to_cashier)).await;
        let nothing = update("root");
        refused(&env, "invalid_input", 422, env.krug.update_staff(&env.tenant, ops, nothing)).await;
        let to_unknown = StaffUpdate { role: Some(Role::Cashier), business: Some(Some(biz("nope"))), ..update("root") };
        refused(&env, "business_not_found", 404, env.krug.update_staff(&env.tenant, ops, to_unknown)).await;
        let short = StaffUpdate { password: Some("short".into()), ..update("root") };
        refused(&env, "invalid_input", 422, env.krug.update_staff(&env.tenant, ops, short)).await;
        let stranger = StaffId::from_uuid(uuid::Uuid::from_u128(7));
        let activate = StaffUpdate { active: Some(true), ..update("root") };
        refused(&env, "staff_not_found", 404, env.krug.update_staff(&env.tenant, stranger, activate)).await;
        let to_cashier =
            StaffUpdate { role: Some(Role::Cashier), business: Some(Some(biz("lisichkino"))), ..update("root") };
        let moved = env.krug.update_staff(&env.tenant, ops, to_cashier).await.unwrap();
        assert_eq!((moved.role, moved.business.clone()), (Role::Cashier, Some(biz("lisichkino"))));
        assert_eq!(env.krug.staff(&env.tenant, ops).await.unwrap(), moved);
        let back = StaffUpdate { role: Some(Role::Operator), business: Some(None), ..update("root") };
        let back = env.krug.update_staff(&env.tenant, ops, back).await.unwrap();
        assert_eq!((back.role, back.business), (Role::Operator, None));
    }
);

backend_test!(
    async fn staff_changes_are_audited_with_the_client_address_and_never_the_password(db: TestDb) {
        let env = env(db).await;
        let id = env.krug.create_staff(&env.tenant, new_staff("olga", Role::Cashier, Some("skinerica"))).await.unwrap();
        env.clock.advance(Duration::minutes(1));
        let change = StaffUpdate {
            password: Some("another-long-secret".into()),
            active: Some(false),
            client: Some("2001:db8::1".into()),
            ..update("operator:ivan")
        };
        env.krug.update_staff(&env.tenant, id, change).await.unwrap();
        let log = env.krug.audit_log(&env.tenant, 10).await.unwrap();
        let rows: Vec<_> = log
            .iter()
            .map(|r| (r.actor.as_str(), r.action.as_str(), r.target.as_str(), r.client.as_deref(), r.at))
            .collect();
        let target = format!("staff:{id}");
        assert_eq!(
            rows,
            [
                ("operator:ivan", "staff.update", target.as_str(), Some("2001:db8::1"), start() + Duration::minutes(1)),
                ("operator:olga", "staff.create", target.as_str(), Some("203.0.113.7"), start()),
            ]
        );
        let detail = |i: usize| serde_json::from_str::<serde_json::Value>(&log[i].detail).unwrap();
        assert_eq!(
            detail(1),
            serde_json::json!({"login": "olga", "role": "cashier", "business": "skinerica", "active": true,
                               "password_changed": true})
        );
        assert_eq!(
            detail(0),
            serde_json::json!({"login": "olga", "role": "cashier", "business": "skinerica", "active": false,
                               "password_changed": true})
        );
        for secret in [PASSWORD, "another-long-secret", "$argon2id"] {
            assert_absent(&env, "audit_log", secret).await;
        }
    }
);

backend_test!(
    async fn the_appliance_records_its_own_audit_events_with_the_client_address(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        let read = AuditEvent {
            actor: "staff:olga".into(),
            action: "member.read".into(),
            target: format!("member:{anna}"),
            detail_json: r#"{"fields":["phone","name"],"purpose":"support"}"#.into(),
            client: Some("198.51.100.23".into()),
        };
        env.krug.record_audit(&env.tenant, read.clone()).await.unwrap();
        let log = env.krug.audit_log(&env.tenant, 10).await.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(
            (log[0].actor.as_str(), log[0].action.as_str(), log[0].target.clone(), log[0].client.as_deref()),
            ("staff:olga", "member.read", format!("member:{anna}"), Some("198.51.100.23"))
        );
        assert_eq!(log[0].detail, read.detail_json);
        // Records written by the SDK's own commands carry no address.
        env.clock.advance(Duration::minutes(1));
        env.krug
            .invite(&env.tenant, anna, &krug::types::TierCode::parse("inner-circle").unwrap(), "ops")
            .await
            .unwrap();
        assert_eq!(env.krug.audit_log(&env.tenant, 10).await.unwrap()[0].client, None);
        let bad = [
            AuditEvent { detail_json: "not json".into(), ..read.clone() },
            AuditEvent { client: Some("localhost".into()), ..read.clone() },
            AuditEvent { action: "Member Read".into(), ..read.clone() },
            AuditEvent { actor: String::new(), ..read.clone() },
            AuditEvent { target: " ".into(), ..read.clone() },
        ];
        for event in bad {
            refused(&env, "invalid_input", 422, env.krug.record_audit(&env.tenant, event)).await;
        }
    }
);

// ---------------------------------------------------------------------------------------------
// SMS sign-in

backend_test!(
    async fn an_sms_sign_in_registers_a_new_member_with_her_processing_consent(db: TestDb) {
        let env = env(db).await;
        let anna = Phone::parse("+7 912 345-67-89").unwrap();
        let issued = env.krug.issue_sms_code(&env.tenant, &anna).await.unwrap();
        assert_eq!(issued.code.len(), 6);
        assert!(issued.code.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(issued.expires_at, start() + Duration::minutes(5));
        assert!(!format!("{issued:?}").contains(&issued.code));
        env.clock.advance(Duration::seconds(30));
        // Any written form of the phone reaches the same code.
        let written = Phone::parse("8 912 3456789").unwrap();
        let SignIn { member, new_member } =
            env.krug.verify_sms_code(&env.tenant, &written, &issued.code).await.unwrap();
        assert!(new_member);
        assert_eq!(env.krug.find_member_by_phone(&env.tenant, &anna).await.unwrap(), Some(member));
        assert_eq!(
            env.krug.member(&env.tenant, member).await.unwrap(),
            MemberProfile { id: member, phone: anna.clone(), name: None, birthday: None, joined_at: env.clock.now() }
        );
        let consents = env.krug.consents(&env.tenant, member).await.unwrap();
        assert_eq!(consents.len(), 1);
        assert_eq!(
            consents[0],
            Consent {
                id: consents[0].id,
                member,
                kind: ConsentKind::Processing,
                text_version: PROCESSING_CONSENT_VERSION.into(),
                text_sha256: PROCESSING_CONSENT_SHA256.into(),
                channel: "sms".into(),
                granted_at: env.clock.now(),
                withdrawn_at: None,
            }
        );
        // She can earn at once: her account exists.
        assert_eq!(env.buy(member, "skinerica", 1_000, "R-1").await.member, member);
        // The code is used up.
        let err = refused(&env, "code_expired", 422, env.krug.verify_sms_code(&env.tenant, &anna, &issued.code)).await;
        assert!(matches!(err, Error::CodeExpired));
        // A second sign-in finds her again; nothing new is registered or consented.
        env.clock.advance(Duration::seconds(60));
        let again = env.krug.issue_sms_code(&env.tenant, &anna).await.unwrap();
        let sign_in = env.krug.verify_sms_code(&env.tenant, &anna, &again.code).await.unwrap();
        assert_eq!(sign_in, SignIn { member, new_member: false });
        assert_eq!(count(&env, "SELECT COUNT(*) FROM members").await, 1);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM consents").await, 1);
        // A member registered the classic way signs in without a second registration.
        let boris = Phone::parse("+7 999 111-22-33").unwrap();
        let existing = env.krug.register_member(&env.tenant, RegisterMember::phone(boris.clone())).await.unwrap();
        let code = env.krug.issue_sms_code(&env.tenant, &boris).await.unwrap().code;
        let sign_in = env.krug.verify_sms_code(&env.tenant, &boris, &code).await.unwrap();
        assert_eq!(sign_in, SignIn { member: existing, new_member: false });
    }
);

backend_test!(
    async fn sms_codes_are_limited_to_one_a_minute_and_five_an_hour_with_the_exact_wait(db: TestDb) {
        let env = env(db).await;
        let phone = Phone::parse("+79123456789").unwrap();
        let issue = || env.krug.issue_sms_code(&env.tenant, &phone);
        let wait = |err: Error| match err {
            Error::RateLimited { retry_after_seconds } => retry_after_seconds,
            other => panic!("expected rate_limited, got {other:?}"),
        };
        issue().await.unwrap();
        assert_eq!(wait(refused(&env, "rate_limited", 429, issue()).await), 60);
        env.clock.advance(Duration::seconds(45));
        assert_eq!(wait(refused(&env, "rate_limited", 429, issue()).await), 15);
        env.clock.advance(Duration::seconds(14));
        assert_eq!(wait(refused(&env, "rate_limited", 429, issue()).await), 1);
        env.clock.advance(Duration::seconds(1));
        issue().await.unwrap(); // t = 60 s
        // Codes at 0, 60, 120, 180 and 240 s: the sixth waits for the first to leave its hour.
        for _ in 0..3 {
            env.clock.advance(Duration::seconds(60));
            issue().await.unwrap();
        }
        env.clock.advance(Duration::seconds(60)); // t = 300 s
        assert_eq!(wait(refused(&env, "rate_limited", 429, issue()).await), 3_300);
        // Another phone is not limited by hers.
        env.krug.issue_sms_code(&env.tenant, &Phone::parse("+79123456780").unwrap()).await.unwrap();
        env.clock.set(start() + Duration::seconds(3_599));
        assert_eq!(wait(refused(&env, "rate_limited", 429, issue()).await), 1);
        env.clock.set(start() + Duration::seconds(3_600));
        let sixth = issue().await.unwrap();
        // t = 3660 s: the minute has passed and the 60 s code has just left its hour.
        env.clock.advance(Duration::seconds(60));
        let seventh = issue().await.unwrap();
        assert_eq!(count(&env, "SELECT COUNT(*) FROM sms_codes").await, 8);
        // The limits are per tenant: the same phone in another tenant is free.
        env.krug.issue_sms_code(&env.other, &phone).await.unwrap();
        // Only the newest code works; issuing it made the older ones unusable.
        let err = env.krug.verify_sms_code(&env.tenant, &phone, &sixth.code).await;
        if sixth.code != seventh.code {
            assert_eq!(err.unwrap_err().code(), "code_invalid");
        }
        assert!(env.krug.verify_sms_code(&env.tenant, &phone, &seventh.code).await.unwrap().new_member);
        // Once the newest is used, the older (unexpired) one does not come back to life.
        refused(&env, "code_expired", 422, env.krug.verify_sms_code(&env.tenant, &phone, &sixth.code)).await;
        // Of this tenant's codes only the other phone's is still usable.
        let usable = "SELECT COUNT(*) FROM sms_codes WHERE consumed_at IS NULL AND tenant_id = 'svoy-krug'";
        assert_eq!(count(&env, usable).await, 1);
    }
);

backend_test!(
    async fn an_sms_code_expires_five_minutes_after_it_was_issued(db: TestDb) {
        let env = env(db).await;
        let (anna, boris) = (Phone::parse("+79123456789").unwrap(), Phone::parse("+79123456788").unwrap());
        let a = env.krug.issue_sms_code(&env.tenant, &anna).await.unwrap();
        let b = env.krug.issue_sms_code(&env.tenant, &boris).await.unwrap();
        env.clock.advance(Duration::minutes(5) - Duration::seconds(1));
        assert!(env.krug.verify_sms_code(&env.tenant, &boris, &b.code).await.unwrap().new_member);
        env.clock.advance(Duration::seconds(1));
        let err = refused(&env, "code_expired", 422, env.krug.verify_sms_code(&env.tenant, &anna, &a.code)).await;
        assert!(matches!(err, Error::CodeExpired));
        // An expired code costs no attempt and registers no one.
        assert_eq!(count(&env, "SELECT COALESCE(SUM(attempts), 0) FROM sms_codes").await, 0);
        assert_eq!(env.krug.find_member_by_phone(&env.tenant, &anna).await.unwrap(), None);
        // A phone that never got a code has nothing to verify; malformed codes cost nothing.
        let carol = Phone::parse("+79001112233").unwrap();
        refused(&env, "code_expired", 422, env.krug.verify_sms_code(&env.tenant, &carol, "123456")).await;
        refused(&env, "invalid_input", 422, env.krug.verify_sms_code(&env.tenant, &anna, "12345")).await;
    }
);

backend_test!(
    async fn five_wrong_entries_kill_the_code_even_for_the_right_one(db: TestDb) {
        let env = env(db).await;
        let phone = Phone::parse("+79123456789").unwrap();
        let issued = env.krug.issue_sms_code(&env.tenant, &phone).await.unwrap();
        let bad = wrong(&issued.code);
        let mut left = Vec::new();
        for _ in 0..4 {
            match env.krug.verify_sms_code(&env.tenant, &phone, &bad).await.unwrap_err() {
                e @ Error::CodeInvalid { attempts_left } => {
                    assert_eq!((e.code(), e.http_status()), ("code_invalid", 422));
                    left.push(attempts_left);
                }
                other => panic!("expected code_invalid, got {other:?}"),
            }
        }
        assert_eq!(left, [4, 3, 2, 1]);
        let err = env.krug.verify_sms_code(&env.tenant, &phone, &bad).await.unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("too_many_attempts", 429));
        assert_eq!(count(&env, "SELECT CAST(attempts AS BIGINT) FROM sms_codes").await, 5);
        let err =
            refused(&env, "too_many_attempts", 429, env.krug.verify_sms_code(&env.tenant, &phone, &issued.code)).await;
        assert!(matches!(err, Error::TooManyAttempts));
        assert_eq!(env.krug.find_member_by_phone(&env.tenant, &phone).await.unwrap(), None);
        // A new code (after the minute) starts afresh.
        env.clock.advance(Duration::seconds(60));
        let fresh = env.krug.issue_sms_code(&env.tenant, &phone).await.unwrap();
        assert!(env.krug.verify_sms_code(&env.tenant, &phone, &fresh.code).await.unwrap().new_member);
    }
);

backend_test!(
    async fn the_sms_codes_table_never_holds_a_code_or_a_phone(db: TestDb) {
        let env = env(db).await;
        let mut codes = Vec::new();
        for n in 0..4 {
            let phone = phone(n);
            codes.push((phone.clone(), env.krug.issue_sms_code(&env.tenant, &phone).await.unwrap().code));
        }
        let (first_phone, first_code) = codes[0].clone();
        env.krug.verify_sms_code(&env.tenant, &first_phone, &wrong(&first_code)).await.unwrap_err();
        env.krug.verify_sms_code(&env.tenant, &first_phone, &first_code).await.unwrap();
        let rows = dump(&env.db, "sms_codes").await;
        assert_eq!(rows.len(), 4);
        for (phone, code) in &codes {
            assert_absent(&env, "sms_codes", code).await;
            assert_absent(&env, "sms_codes", phone.as_e164()).await;
            assert_absent(&env, "sms_codes", &phone.as_e164()[2..]).await;
        }
        // What is stored instead: a 64-digit keyed hash per code, all different.
        let hashes = scalar_text(
            &env.db,
            "SELECT COUNT(DISTINCT code_hash) || ',' || MIN(LENGTH(code_hash)) || ',' || MAX(LENGTH(code_hash)) \
             FROM sms_codes",
        )
        .await;
        assert_eq!(hashes, "4,64,64");
        assert_eq!(count(&env, "SELECT COUNT(*) FROM sms_codes WHERE consumed_at IS NOT NULL").await, 1);
    }
);

backend_test!(
    async fn concurrent_requests_for_one_phone_issue_one_code_and_sign_in_once(db: TestDb) {
        let env = env(db).await;
        let phone = Phone::parse("+79123456789").unwrap();
        let spawn_issue = || {
            let (krug, tenant, phone) = (env.krug.clone(), env.tenant.clone(), phone.clone());
            tokio::spawn(async move { krug.issue_sms_code(&tenant, &phone).await })
        };
        let tasks: Vec<_> = (0..8).map(|_| spawn_issue()).collect();
        let mut codes = Vec::new();
        let mut waits = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(issued) => codes.push(issued.code),
                Err(Error::RateLimited { retry_after_seconds }) => waits.push(retry_after_seconds),
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((codes.len(), waits), (1, vec![60; 7]));
        assert_eq!(count(&env, "SELECT COUNT(*) FROM sms_codes").await, 1);
        // Eight concurrent entries of the right code: one signs in, the rest find it used.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (krug, tenant, phone, code) =
                    (env.krug.clone(), env.tenant.clone(), phone.clone(), codes[0].clone());
                tokio::spawn(async move { krug.verify_sms_code(&tenant, &phone, &code).await })
            })
            .collect();
        let mut signed_in = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(sign_in) => signed_in.push(sign_in),
                Err(e) => assert_eq!(e.code(), "code_expired"),
            }
        }
        assert_eq!(signed_in.len(), 1);
        assert!(signed_in[0].new_member);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM members").await, 1);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM consents").await, 1);
    }
);

// ---------------------------------------------------------------------------------------------
// Consents

backend_test!(
    async fn consents_are_granted_listed_and_withdrawn_one_row_at_a_time(db: TestDb) {
        let env = env(db).await;
        let anna = env.member(1).await;
        assert_eq!(env.krug.consents(&env.tenant, anna).await.unwrap(), []);
        let sms = env.krug.grant_consent(&env.tenant, anna, marketing_sms("marketing-sms-v1")).await.unwrap();
        assert_eq!(
            sms,
            Consent {
                id: sms.id,
                member: anna,
                kind: ConsentKind::MarketingSms,
                text_version: "marketing-sms-v1".into(),
                text_sha256: "ab".repeat(32),
                channel: "app".into(),
                granted_at: start(),
                withdrawn_at: None,
            }
        );
        // Granting an active kind again is a no-op that returns the active row.
        env.clock.advance(Duration::minutes(1));
        let before = snapshot(&env).await;
        let again = env.krug.grant_consent(&env.tenant, anna, marketing_sms("marketing-sms-v2")).await.unwrap();
        assert_eq!(again, sms);
        assert_eq!(snapshot(&env).await, before);
        let transfer = GrantConsent {
            kind: ConsentKind::PartnerTransfer,
            text_version: "partners-2026-03".into(),
            text_sha256: "cd".repeat(32),
            channel: "app".into(),
        };
        let transfer = env.krug.grant_consent(&env.tenant, anna, transfer).await.unwrap();
        let boris = env.member(2).await;
        let boris_sms = env.krug.grant_consent(&env.tenant, boris, marketing_sms("marketing-sms-v1")).await.unwrap();
        assert_eq!(env.krug.consents(&env.tenant, anna).await.unwrap(), [sms.clone(), transfer.clone()]);
        // Withdrawal changes exactly one row, and only its withdrawn_at.
        env.clock.advance(Duration::minutes(1));
        let rows_before = dump(&env.db, "consents").await;
        let withdrawn = env.krug.withdraw_consent(&env.tenant, anna, ConsentKind::MarketingSms).await.unwrap();
        assert_eq!(withdrawn, Consent { withdrawn_at: Some(start() + Duration::minutes(2)), ..sms.clone() });
        let rows_after = dump(&env.db, "consents").await;
        assert_eq!(rows_after.len(), rows_before.len());
        let changed = rows_before.iter().filter(|r| !rows_after.contains(r)).count();
        assert_eq!(changed, 1);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM consents WHERE withdrawn_at IS NOT NULL").await, 1);
        assert_eq!(env.krug.consents(&env.tenant, boris).await.unwrap(), [boris_sms]);
        // Withdrawing it again, or a kind never granted, is refused.
        let err = refused(
            &env,
            "consent_not_active",
            409,
            env.krug.withdraw_consent(&env.tenant, anna, ConsentKind::MarketingSms),
        )
        .await;
        assert!(matches!(err, Error::ConsentNotActive));
        refused(
            &env,
            "consent_not_active",
            409,
            env.krug.withdraw_consent(&env.tenant, anna, ConsentKind::MarketingPush),
        )
        .await;
        // A new grant after withdrawal is a new row; the withdrawn one stays as proof.
        let regrant = env.krug.grant_consent(&env.tenant, anna, marketing_sms("marketing-sms-v2")).await.unwrap();
        assert_ne!(regrant.id, sms.id);
        assert_eq!(env.krug.consents(&env.tenant, anna).await.unwrap(), [withdrawn, transfer, regrant]);
        // Bad input and strangers are refused without writing.
        let stranger = krug::types::MemberId::from_uuid(uuid::Uuid::from_u128(9));
        refused(&env, "member_not_found", 404, env.krug.grant_consent(&env.tenant, stranger, marketing_sms("v1")))
            .await;
        refused(&env, "member_not_found", 404, env.krug.consents(&env.tenant, stranger)).await;
        refused(&env, "member_not_found", 404, env.krug.grant_consent(&env.other, anna, marketing_sms("v1"))).await;
        let bad_hash = GrantConsent { text_sha256: "xyz".into(), ..marketing_sms("v1") };
        refused(&env, "invalid_input", 422, env.krug.grant_consent(&env.tenant, boris, bad_hash)).await;
    }
);

// ---------------------------------------------------------------------------------------------
// Profile

backend_test!(
    async fn a_profile_update_sets_and_clears_fields_and_stores_no_plaintext(db: TestDb) {
        let env = env(db).await;
        let phone = Phone::parse("+79123456789").unwrap();
        let anna = env.krug.register_member(&env.tenant, RegisterMember::phone(phone.clone())).await.unwrap();
        let set = ProfileUpdate {
            name: Some(Some("  Анна Петрова ".into())),
            birthday: Some(Some(date!(1990 - 05 - 17))),
        };
        let profile = env.krug.update_profile(&env.tenant, anna, set).await.unwrap();
        let expected = MemberProfile {
            id: anna,
            phone: phone.clone(),
            name: Some("Анна Петрова".into()),
            birthday: Some(date!(1990 - 05 - 17)),
            joined_at: start(),
        };
        assert_eq!(profile, expected);
        assert_eq!(env.krug.member(&env.tenant, anna).await.unwrap(), expected);
        for secret in ["Анна Петрова", "1990-05-17", "+79123456789", "9123456789"] {
            assert_absent(&env, "members", secret).await;
        }
        // Clear the name, leave the birthday.
        let clear = ProfileUpdate { name: Some(None), birthday: None };
        let cleared = env.krug.update_profile(&env.tenant, anna, clear).await.unwrap();
        assert_eq!(cleared, MemberProfile { name: None, ..expected.clone() });
        assert_eq!(env.krug.member(&env.tenant, anna).await.unwrap(), cleared);
        assert_eq!(count(&env, "SELECT COUNT(*) FROM members WHERE name_ct IS NULL AND name_key IS NULL").await, 1);
        // Clear the birthday, set the name.
        let swap = ProfileUpdate { name: Some(Some("Анна".into())), birthday: Some(None) };
        let swapped = env.krug.update_profile(&env.tenant, anna, swap).await.unwrap();
        assert_eq!(swapped, MemberProfile { name: Some("Анна".into()), birthday: None, ..expected.clone() });
        assert_absent(&env, "members", "Анна").await;
        // Refusals validate like registration and write nothing.
        let tomorrow = ProfileUpdate { name: None, birthday: Some(Some(date!(2026 - 03 - 03))) };
        refused(&env, "invalid_input", 422, env.krug.update_profile(&env.tenant, anna, tomorrow)).await;
        let long = ProfileUpdate { name: Some(Some("я".repeat(201))), birthday: None };
        refused(&env, "invalid_input", 422, env.krug.update_profile(&env.tenant, anna, long)).await;
        refused(&env, "invalid_input", 422, env.krug.update_profile(&env.tenant, anna, ProfileUpdate::default())).await;
        let stranger = krug::types::MemberId::from_uuid(uuid::Uuid::from_u128(9));
        let name = ProfileUpdate { name: Some(Some("Ева".into())), birthday: None };
        refused(&env, "member_not_found", 404, env.krug.update_profile(&env.tenant, stranger, name.clone())).await;
        refused(&env, "member_not_found", 404, env.krug.update_profile(&env.other, anna, name)).await;
        assert_eq!(env.krug.member(&env.tenant, anna).await.unwrap(), swapped);
    }
);

backend_test!(
    async fn a_profile_update_reseals_every_field_under_the_active_key(db: TestDb) {
        let env = env(db).await;
        let anna = env
            .krug
            .register_member(
                &env.tenant,
                RegisterMember {
                    phone: Phone::parse("+79123456789").unwrap(),
                    name: Some("Анна".into()),
                    birthday: Some(date!(1990 - 05 - 17)),
                },
            )
            .await
            .unwrap();
        let keys =
            "SELECT phone_key || ',' || COALESCE(name_key, '-') || ',' || COALESCE(birthday_key, '-') FROM members";
        assert_eq!(scalar_text(&env.db, keys).await, "k1,k1,k1");
        // The same database under the rotated ring (k2 active, k1 kept for reading).
        let rotated = connect(&env.db, ManualClock::new(start()), KEYS_V2, tenants::svoy_krug()).await;
        let profile = rotated
            .update_profile(&env.tenant, anna, ProfileUpdate { name: None, birthday: Some(None) })
            .await
            .unwrap();
        assert_eq!((profile.name.as_deref(), profile.birthday), (Some("Анна"), None));
        assert_eq!(scalar_text(&env.db, keys).await, "k2,k2,-");
        assert_eq!(rotated.member(&env.tenant, anna).await.unwrap(), profile);
    }
);
