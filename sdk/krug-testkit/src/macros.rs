//! `backend_test!`: one test body, run once per backend on a fresh database.

/// Expands one async test into a module with a `sqlite` and a `postgres` test, each given a fresh
/// [`TestDb`](crate::TestDb) bound to the name in the signature.
///
/// ```ignore
/// use krug_testkit::{backend_test, TestDb};
///
/// backend_test!(async fn redeem_is_refused_when_balance_is_insufficient(db: TestDb) {
///     let store = connect(db.url()).await;
///     // …
/// });
/// ```
///
/// runs as `redeem_is_refused_when_balance_is_insufficient::sqlite` and `…::postgres`. The
/// PostgreSQL half skips with a printed notice when `KRUG_TEST_DATABASE_URL` is unset (and fails
/// when `KRUG_REQUIRE_PG=1`). Bodies run on a two-worker multi-thread tokio runtime, so tasks
/// spawned by a concurrency test really run in parallel. Attributes before `async fn` (such as
/// `#[ignore]` or doc comments) apply to both tests; the module `use`s its parent's items.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($db:ident : TestDb) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $(#[$meta])*
            #[test]
            fn sqlite() {
                $crate::__private::run(async {
                    let $db = $crate::TestDb::sqlite();
                    $body
                });
            }

            $(#[$meta])*
            #[test]
            fn postgres() {
                let Some($db) = $crate::TestDb::postgres() else { return };
                $crate::__private::run(async move { $body });
            }
        }
    };
}
