//! A fresh database per test, removed when the test ends.
//!
//! SQLite: a file in a temp dir of its own. PostgreSQL: a new database `krug_t_<uuid>` created
//! through the admin URL in `KRUG_TEST_DATABASE_URL`; the name is unique across concurrent tests
//! and test binaries, and begins with a UUIDv7 so `.ci/run` can tell stale leftovers by age.
//!
//! `TestDb` is built and dropped from synchronous code that may already sit inside a tokio
//! runtime (a test body), where blocking on a future would panic. The admin statements therefore
//! run on a separate thread with a small runtime of its own, which the caller joins.

use std::fmt;
use std::path::PathBuf;

use krug::types::{IdGen, UuidV7};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;

/// The admin URL PostgreSQL test databases are created through, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`.
const DATABASE_URL_VAR: &str = "KRUG_TEST_DATABASE_URL";
/// When `1`, a missing [`DATABASE_URL_VAR`] fails the test instead of skipping it (`.ci/run`).
const REQUIRE_PG_VAR: &str = "KRUG_REQUIRE_PG";
/// Prefix of every test database's name; `.ci/run` drops stale ones by it.
const NAME_PREFIX: &str = "krug_t_";

/// A store backend Krug runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, a file per deployment (the appliance's default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The lowercase name, as in test names and URLs' schemes: `sqlite`, `postgres`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A database of the test's own; dropping it deletes the database.
pub struct TestDb {
    url: String,
    backend: Backend,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Removing the dir removes the database file with its `-wal` and `-shm` companions.
    Sqlite(TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A new, empty SQLite database file in a temp dir that is removed on drop.
    ///
    /// # Panics
    /// If the temp dir cannot be created or its path is not UTF-8.
    #[allow(clippy::panic)] // see "Panics": without a temp dir no test can run
    pub fn sqlite() -> TestDb {
        let dir = match tempfile::Builder::new().prefix("krug-test-").tempdir() {
            Ok(dir) => dir,
            Err(err) => panic!("TestDb::sqlite: cannot create a temp dir: {err}"),
        };
        let path: PathBuf = dir.path().join("krug.db");
        let Some(path_str) = path.to_str() else { panic!("TestDb::sqlite: temp path {} is not UTF-8", path.display()) };
        TestDb { url: format!("sqlite://{path_str}?mode=rwc"), backend: Backend::Sqlite, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A new, empty PostgreSQL database, or `None` (after printing `SKIPPED (postgres): …` to
    /// stderr) when `KRUG_TEST_DATABASE_URL` is not set.
    ///
    /// # Panics
    /// If `KRUG_TEST_DATABASE_URL` is unset while `KRUG_REQUIRE_PG=1` (CI must not pass by
    /// skipping), or if it is set but the database cannot be created.
    #[allow(clippy::panic)] // see "Panics": a configured but broken PostgreSQL must fail the test
    pub fn postgres() -> Option<TestDb> {
        let admin_url = match std::env::var(DATABASE_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                if std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1") {
                    panic!("{REQUIRE_PG_VAR}=1 but {DATABASE_URL_VAR} is unset");
                }
                eprintln!("SKIPPED (postgres): {DATABASE_URL_VAR} is not set");
                return None;
            }
        };
        let name = format!("{NAME_PREFIX}{}", UuidV7.next_uuid().simple());
        let url = match with_database(&admin_url, &name) {
            Ok(url) => url,
            Err(err) => panic!("{DATABASE_URL_VAR} is not a usable PostgreSQL URL: {err}"),
        };
        // `name` is a fixed prefix plus hex digits, so it needs no quoting beyond the quotes.
        if let Err(err) = admin(&admin_url, format!(r#"CREATE DATABASE "{name}""#)) {
            panic!("cannot create test database {name} through {DATABASE_URL_VAR}: {err}");
        }
        Some(TestDb { url, backend: Backend::Postgres, cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// The connection URL: `sqlite://<path>?mode=rwc` or `postgres://…/krug_t_<uuid>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl fmt::Debug for TestDb {
    /// Leaves out the admin URL, which may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TestDb");
        s.field("backend", &self.backend);
        match &self.cleanup {
            Cleanup::Sqlite(dir) => s.field("dir", &dir.path()),
            Cleanup::Postgres { name, .. } => s.field("database", name),
        };
        s.finish_non_exhaustive()
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database (`WITH (FORCE)` closes pools the test left open). A failure
    /// is reported, not raised: panicking in drop during an unwinding test would abort the binary,
    /// and `.ci/run` sweeps leftovers anyway.
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
            if let Err(err) = admin(admin_url, sql) {
                eprintln!("krug-testkit: could not drop test database {name}: {err}");
            }
        }
    }
}

/// `admin_url` with its database (path) replaced by `name`, keeping credentials and options.
fn with_database(admin_url: &str, name: &str) -> Result<String, url::ParseError> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

/// Runs one statement on the admin database, from a thread of its own (see the module docs).
fn admin(admin_url: &str, sql: String) -> Result<(), String> {
    let admin_url = admin_url.to_owned();
    let worker = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build a tokio runtime: {e}"))?;
        runtime.block_on(async {
            let mut conn = PgConnection::connect(&admin_url).await.map_err(|e| e.to_string())?;
            // Simple protocol: CREATE/DROP DATABASE cannot run inside a transaction block.
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await.map_err(|e| e.to_string())?;
            conn.close().await.map_err(|e| e.to_string())
        })
    });
    worker.join().map_err(|_| "the admin thread panicked".to_owned())?
}
