use krug_testkit::{Backend, TestDb, backend_test};
use sqlx::{Connection, PgConnection, PgPool, SqlitePool};

/// Creates a table, writes a row and reads it back; a reused database would already have `t`.
async fn round_trip(db: &TestDb) -> i64 {
    match db.backend() {
        Backend::Sqlite => {
            let pool = SqlitePool::connect(db.url()).await.unwrap();
            sqlx::query("CREATE TABLE t(x BIGINT)").execute(&pool).await.unwrap();
            sqlx::query("INSERT INTO t(x) VALUES ($1)").bind(42_i64).execute(&pool).await.unwrap();
            let x = sqlx::query_scalar("SELECT x FROM t").fetch_one(&pool).await.unwrap();
            pool.close().await;
            x
        }
        Backend::Postgres => {
            let pool = PgPool::connect(db.url()).await.unwrap();
            sqlx::query("CREATE TABLE t(x BIGINT)").execute(&pool).await.unwrap();
            sqlx::query("INSERT INTO t(x) VALUES ($1)").bind(42_i64).execute(&pool).await.unwrap();
            let x = sqlx::query_scalar("SELECT x FROM t").fetch_one(&pool).await.unwrap();
            pool.close().await;
            x
        }
    }
}

backend_test!(
    async fn each_test_gets_a_fresh_writable_database(db: TestDb) {
        assert_eq!(round_trip(&db).await, 42);
        assert!(db.url().starts_with(db.backend().name()), "{db:?} has url scheme of its backend");
    }
);

backend_test!(
    async fn two_test_dbs_never_share_a_database(db: TestDb) {
        let other = match db.backend() {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => TestDb::postgres().unwrap(),
        };
        assert_ne!(db.url(), other.url());
        assert_eq!(round_trip(&db).await, 42);
        assert_eq!(round_trip(&other).await, 42);
    }
);

#[test]
fn a_sqlite_test_db_leaves_no_file_behind() {
    let db = TestDb::sqlite();
    let path = db.url().trim_start_matches("sqlite://").trim_end_matches("?mode=rwc").to_owned();
    let dir = std::path::Path::new(&path).parent().unwrap().to_owned();
    assert!(dir.exists());
    drop(db);
    assert!(!dir.exists(), "{} must be removed with the TestDb", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_test_db_is_dropped_with_its_handle() {
    let Some(db) = TestDb::postgres() else { return };
    let name = db.url().rsplit('/').next().unwrap().split('?').next().unwrap().to_owned();
    assert!(name.starts_with("krug_t_"), "{name}");
    // Leave a connection open: the drop must not wait for the test to close it.
    let mut open = PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut open).await.unwrap();

    let admin_url = std::env::var("KRUG_TEST_DATABASE_URL").unwrap();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let count = || sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1");
    assert_eq!(count().bind(&name).fetch_one(&mut admin).await.unwrap(), 1);

    drop(db);

    assert_eq!(count().bind(&name).fetch_one(&mut admin).await.unwrap(), 0, "{name} must be gone");
}
