//! Where a benchmark runs: a store kind (SQLite with `synchronous=FULL` or `NORMAL`, or
//! PostgreSQL) and a fresh database of its own, removed afterwards.

use std::path::{Path, PathBuf};

use krug::{Krug, KrugBuilder, SqliteDurability};
use sqlx::Connection as _;

use crate::Result;

/// The store under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
pub enum StoreKind {
    /// SQLite, WAL, `synchronous=FULL` (power-loss durable; the SDK's default).
    SqliteFull,
    /// SQLite, WAL, `synchronous=NORMAL` (may lose the last commits on power loss).
    SqliteNormal,
    /// PostgreSQL with the server's settings (`synchronous_commit=on` by default).
    Postgres,
}

impl StoreKind {
    /// The name used in tables.
    pub fn label(self) -> &'static str {
        match self {
            StoreKind::SqliteFull => "sqlite-full",
            StoreKind::SqliteNormal => "sqlite-normal",
            StoreKind::Postgres => "postgres",
        }
    }

    /// The kind of a store URL; SQLite durability as given.
    pub fn of_url(url: &str, sqlite_normal: bool) -> StoreKind {
        match (url.starts_with("sqlite:"), sqlite_normal) {
            (true, false) => StoreKind::SqliteFull,
            (true, true) => StoreKind::SqliteNormal,
            (false, _) => StoreKind::Postgres,
        }
    }

    /// The SQLite durability of this kind.
    pub fn durability(self) -> SqliteDurability {
        match self {
            StoreKind::SqliteNormal => SqliteDurability::Normal,
            _ => SqliteDurability::Full,
        }
    }
}

/// A store URL with its kind, and what to remove afterwards.
#[derive(Debug)]
pub struct Target {
    /// The kind.
    pub kind: StoreKind,
    /// The store URL the SDK (and the appliance) open.
    pub url: String,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Nothing,
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

impl Target {
    /// An existing store (the caller keeps it).
    pub fn existing(url: &str, kind: StoreKind) -> Target {
        Target { kind, url: url.to_owned(), cleanup: Cleanup::Nothing }
    }

    /// A fresh store: a new SQLite file in a new folder under `dir`, or a new PostgreSQL
    /// database `krug_bench_<unique>` created through `pg_admin_url`.
    pub async fn fresh(kind: StoreKind, dir: &Path, pg_admin_url: &str) -> Result<Target> {
        let unique =
            uuid::Uuid::from_u128(u128::from(std::process::id()) << 64 | u128::from(nanos_now())).simple().to_string();
        let short = unique.get(unique.len().saturating_sub(16)..).unwrap_or("x").to_owned();
        match kind {
            StoreKind::SqliteFull | StoreKind::SqliteNormal => {
                let folder = dir.join(format!("krug-bench-{short}"));
                std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
                let url = format!("sqlite://{}?mode=rwc", folder.join("krug.db").display());
                Ok(Target { kind, url, cleanup: Cleanup::Dir(folder) })
            }
            StoreKind::Postgres => {
                let name = format!("krug_bench_{short}");
                let mut admin = sqlx::PgConnection::connect(pg_admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("create database {name}"))).execute(&mut admin).await?;
                admin.close().await?;
                Ok(Target {
                    kind,
                    url: with_database(pg_admin_url, &name),
                    cleanup: Cleanup::Database { admin_url: pg_admin_url.to_owned(), name },
                })
            }
        }
    }

    /// A Krug builder on this store (PostgreSQL with a pool of `pg_pool` connections).
    pub fn builder(&self, pg_pool: u32) -> KrugBuilder {
        match self.kind {
            StoreKind::Postgres => Krug::builder().postgres_with(&self.url, pg_pool),
            kind => Krug::builder().sqlite_with(&self.url, kind.durability()),
        }
    }

    /// The SQLite file of this store, if it is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.url.strip_prefix("sqlite://").or_else(|| self.url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        Some(PathBuf::from(path))
    }

    /// Removes what [`Target::fresh`] created.
    pub async fn remove(self) -> Result<()> {
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Dir(dir) => std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?,
            Cleanup::Database { admin_url, name } => {
                let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("drop database if exists {name} with (force)")))
                    .execute(&mut admin)
                    .await?;
                admin.close().await?;
            }
        }
        Ok(())
    }
}

/// `url` with its database name replaced (query options kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    // The database is the path after the authority: `postgres://user@host:port/db`.
    let authority_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match base.get(authority_end..).and_then(|rest| rest.find('/')) {
        Some(slash) => base.get(..authority_end + slash).unwrap_or(base),
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

/// Nanoseconds since the Unix epoch from the SDK's system clock (the one sanctioned wall-clock
/// read), for unique names and receipt ids.
pub fn nanos_now() -> u64 {
    use krug::types::Clock as _;
    u64::try_from(krug::types::SystemClock.now().unix_timestamp_nanos()).unwrap_or(0)
}
