//! Refresh-token rotation with reuse detection.

use krug::Session;
use krug_testkit::backend_test;
use time::Duration;

use crate::common::*;

fn cashier() -> Session {
    Session { subject: "staff-1".into(), role: "cashier".into(), business: Some(biz("mindal")) }
}

backend_test!(
    async fn a_refresh_token_rotates_once_and_its_reuse_revokes_the_family(db: TestDb) {
        let env = env(db).await;
        let ttl = Duration::days(30);
        let first = env.krug.issue_refresh(&env.tenant, &cashier(), ttl).await.unwrap();
        let (session, second) = env.krug.rotate_refresh(&env.tenant, &first, ttl).await.unwrap();
        assert_eq!(session, cashier());
        assert_ne!(first, second);
        let (_, third) = env.krug.rotate_refresh(&env.tenant, &second, ttl).await.unwrap();

        // The stolen first token comes back: refused, and the live third token dies with it.
        let reused = env.krug.rotate_refresh(&env.tenant, &first, ttl).await.unwrap_err();
        assert_eq!((reused.code(), reused.http_status()), ("refresh_reused", 401));
        assert_eq!(env.krug.rotate_refresh(&env.tenant, &third, ttl).await.unwrap_err().code(), "refresh_invalid");
        assert_eq!(scalar_i64(&env.db, "SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL").await, 0);
    }
);

backend_test!(
    async fn expired_forged_and_foreign_refresh_tokens_are_refused(db: TestDb) {
        let env = env(db).await;
        let token = env.krug.issue_refresh(&env.tenant, &cashier(), Duration::days(1)).await.unwrap();
        let (id, _) = token.split_once('.').unwrap();
        for forged in [format!("{id}.AAAA"), "garbage".to_owned(), format!("{}.x", uuid::Uuid::nil().simple())] {
            assert_eq!(
                env.krug.rotate_refresh(&env.tenant, &forged, Duration::days(1)).await.unwrap_err().code(),
                "refresh_invalid"
            );
        }
        assert_eq!(
            env.krug.rotate_refresh(&env.other, &token, Duration::days(1)).await.unwrap_err().code(),
            "refresh_invalid",
            "another tenant does not know the token"
        );
        env.days(1);
        assert_eq!(
            env.krug.rotate_refresh(&env.tenant, &token, Duration::days(1)).await.unwrap_err().code(),
            "refresh_invalid"
        );
        let secret_free = scalar_i64(
            &env.db,
            &format!("SELECT COUNT(*) FROM refresh_tokens WHERE secret_hash = '{}'", token.split_once('.').unwrap().1),
        )
        .await;
        assert_eq!(secret_free, 0, "only a hash of the secret is stored");
    }
);

backend_test!(
    async fn sign_out_revokes_the_family(db: TestDb) {
        let env = env(db).await;
        let token = env.krug.issue_refresh(&env.tenant, &cashier(), Duration::days(1)).await.unwrap();
        env.krug.revoke_refresh(&env.tenant, &token).await.unwrap();
        assert_eq!(
            env.krug.rotate_refresh(&env.tenant, &token, Duration::days(1)).await.unwrap_err().code(),
            "refresh_invalid"
        );
        env.krug.revoke_refresh(&env.tenant, "not-a-token").await.unwrap();
    }
);
