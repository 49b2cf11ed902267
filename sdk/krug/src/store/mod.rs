//! One store over SQLite (the embedded default) and PostgreSQL (production).
//!
//! Invariants:
//! - every statement is one SQL text that runs on both backends (numbered `$n` placeholders);
//!   where the dialects must differ, both texts stand side by side in the same function;
//! - tenancy is structural: [`TenantTx`] carries the tenant and binds it as `$1` of every
//!   statement, so no query can forget its scope;
//! - a write happens inside one transaction; on SQLite write transactions run one at a time on a
//!   single writer connection (see [`writer`]: `BEGIN IMMEDIATE`, savepoints, group commit), so
//!   concurrent writers queue instead of failing with `SQLITE_BUSY` half-way and share fsyncs
//!   without being acknowledged before their commit is durable; on PostgreSQL the member's account
//!   row is locked with `FOR UPDATE` before anything is read that a decision depends on;
//! - no write queues without bound: one that cannot have SQLite's writer (or a PostgreSQL
//!   connection) within the wait budget ([`WriteLimits`]) is refused with [`StoreError::Busy`]
//!   before it has written anything.

pub(crate) mod batch;
mod chains;
mod coupons;
mod decision;
mod events;
mod identity;
mod ledger;
mod members;
mod offers;
mod purchases;
mod qr;
mod sessions;
mod tenants;
mod views;
mod writer;

pub use writer::WriteStats;

pub(crate) use chains::{ChainRow, PurchaseFact, RewardRow, RewardsBy, StepRow};
pub(crate) use coupons::{Issue, NewRedemption, RedemptionRow, TemplateRow};
pub(crate) use events::EventBudgetEntry;
pub(crate) use members::MemberRow;
pub(crate) use offers::{NewActivation, NewVersion, OfferRow, RunningRow, StatDelta, VersionRow};
pub(crate) use purchases::{BudgetEntry, NewPurchase};
pub(crate) use qr::QrSecretRow;
pub(crate) use sessions::RefreshRow;
pub(crate) use views::{PurchaseScope, PurchaseWindow};

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqliteConnection, SqlitePool};
use time::OffsetDateTime;

use crate::types::TenantId;

/// A failure of the store, classified at the boundary.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row does not exist (in this tenant).
    #[error("not found")]
    NotFound,
    /// A uniqueness or foreign-key rule refused the write.
    #[error("conflict on {constraint}")]
    Conflict {
        /// The constraint's name where the backend reports it.
        constraint: String,
    },
    /// A stored value could not be read back into a domain type.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Backend(#[source] sqlx::Error),
    /// PostgreSQL aborted the transaction to break a deadlock or a serialization conflict with a
    /// concurrent one (SQLSTATE `40P01` / `40001`): nothing of it was written, and running it
    /// again is expected to succeed.
    #[error("aborted by a concurrent transaction: {0}")]
    Contention(#[source] sqlx::Error),
    /// The group commit this write joined failed: nothing of it was written.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The store is overloaded: a write waited for the writer longer than its time budget, or no
    /// PostgreSQL connection (or SQLite reader) could be had in time. Nothing was written; retry
    /// after `retry_after`.
    #[error("the store is busy; retry in {retry_after:?}")]
    Busy {
        /// How long to wait before trying again.
        retry_after: Duration,
    },
}

/// How long a caller refused with [`StoreError::Busy`] for want of a pool connection waits
/// before trying again.
const POOL_BUSY_RETRY: Duration = Duration::from_secs(1);

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db)
                if matches!(
                    db.kind(),
                    sqlx::error::ErrorKind::UniqueViolation | sqlx::error::ErrorKind::ForeignKeyViolation
                ) =>
            {
                StoreError::Conflict { constraint: db.constraint().unwrap_or(db.message()).to_owned() }
            }
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001")) => {
                StoreError::Contention(err)
            }
            // The pool's acquire timeout is the write wait budget (`Db::open_postgres`). sqlx's pool
            // does not say how many wait for a connection, so the retry is the shortest a
            // `Retry-After` can say: a pool backlog clears in milliseconds once it stops growing.
            sqlx::Error::PoolTimedOut => StoreError::Busy { retry_after: POOL_BUSY_RETRY },
            _ => StoreError::Backend(err),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Backend(sqlx::Error::Migrate(Box::new(err)))
    }
}

/// SQLite durability: `Full` survives power loss, `Normal` (in WAL) may lose the last commits on
/// power loss but never corrupts. The default is `Full`: an acknowledged write is never lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteDurability {
    /// `synchronous=FULL`.
    #[default]
    Full,
    /// `synchronous=NORMAL`.
    Normal,
}

/// How long a write may wait for the store before it is refused with [`StoreError::Busy`], by
/// default: far above any wait seen at full load (tens of milliseconds at p99 with 32 writers, see
/// BENCHMARKS.md) and far below the timeouts of the tills and clients calling (10–60 s), so an
/// overloaded store answers "retry later" quickly instead of letting a queue grow that nobody will
/// wait for. Waiting 2 s for SQLite's writer means about two thousand writes queued ahead.
pub const DEFAULT_WRITE_WAIT_BUDGET: Duration = Duration::from_secs(2);

/// How long a SQLite group-commit batch stays open at most, by default. Each batch ends in one
/// `COMMIT` whose fixed cost (the fsync, ≈ 0.35–0.5 ms on the development machine) the batch shares;
/// after 5 ms of work that cost is under a tenth of the writer's time, while no acknowledgement
/// waits more than 5 ms (plus the last member's own turn and the `COMMIT`) for the batch it joined.
pub const DEFAULT_SQLITE_BATCH_MAX_AGE: Duration = Duration::from_millis(5);

/// Bounds on how long writes wait: see [`DEFAULT_WRITE_WAIT_BUDGET`] and
/// [`DEFAULT_SQLITE_BATCH_MAX_AGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteLimits {
    /// The longest a write transaction waits for SQLite's writer, or for a PostgreSQL connection
    /// (the pool's acquire timeout), before it is refused with [`StoreError::Busy`].
    pub(crate) wait_budget: Duration,
    /// The longest a SQLite group-commit batch stays open: a member finishing after it commits the
    /// batch even when more writers are queued to join it.
    pub(crate) batch_max_age: Duration,
}

impl Default for WriteLimits {
    fn default() -> Self {
        WriteLimits { wait_budget: DEFAULT_WRITE_WAIT_BUDGET, batch_max_age: DEFAULT_SQLITE_BATCH_MAX_AGE }
    }
}

/// The connection pools.
#[derive(Debug, Clone)]
pub(crate) enum Db {
    Sqlite { write: Arc<writer::Writer>, read: SqlitePool },
    Postgres(PgPool),
}

/// An open transaction (or SQLite lookup connection) on either backend.
pub(crate) enum Tx {
    Sqlite(SqliteTx),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A SQLite transaction: a write on the single writer connection (group-committed), a read
/// snapshot on the read pool, or a read-pool connection without a transaction
/// ([`Db::lookup`]). All deref to the connection statements run on.
pub(crate) enum SqliteTx {
    Write(writer::WriteTx),
    Read(sqlx::Transaction<'static, sqlx::Sqlite>),
    Lookup(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

impl Deref for SqliteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            SqliteTx::Write(w) => w,
            SqliteTx::Read(r) => r,
            SqliteTx::Lookup(c) => c,
        }
    }
}

impl DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            SqliteTx::Write(w) => w,
            SqliteTx::Read(r) => r,
            SqliteTx::Lookup(c) => c,
        }
    }
}

/// Runs one body against whichever backend the transaction is on: the body is written once and
/// compiled for both connection types. Deferred writes ([`batch`]) are sent first, so the body
/// sees everything written before it.
macro_rules! on {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx.flushed().await {
            Err(e) => Err(e),
            Ok($crate::store::Tx::Sqlite(t)) => {
                let $conn = &mut **t;
                $body.map_err($crate::store::StoreError::from)
            }
            Ok($crate::store::Tx::Postgres(t)) => {
                let $conn = &mut **t;
                $body.map_err($crate::store::StoreError::from)
            }
        }
    };
}
pub(crate) use on;

/// A transaction scoped to one tenant. Repository methods (in the submodules) bind the tenant
/// themselves; a caller cannot reach another tenant's rows through it. Statements reach the
/// connection only through [`TenantTx::flushed`] (or `on!`), which first sends the writes
/// [`TenantTx::defer`] queued.
pub(crate) struct TenantTx {
    pub(crate) tenant: TenantId,
    tx: Tx,
    pending: batch::Pending,
}

impl Db {
    /// [`Db::open_sqlite`] with the default limits.
    #[cfg(test)]
    pub(crate) async fn sqlite(url: &str, durability: SqliteDurability) -> Result<Db, StoreError> {
        Db::open_sqlite(url, durability, WriteLimits::default()).await
    }

    /// [`Db::open_postgres`] with the default limits.
    #[cfg(test)]
    pub(crate) async fn postgres(url: &str, max_connections: u32) -> Result<Db, StoreError> {
        Db::open_postgres(url, max_connections, WriteLimits::default()).await
    }

    /// Opens (creating if needed) a SQLite database at `url` and migrates it.
    pub(crate) async fn open_sqlite(
        url: &str,
        durability: SqliteDurability,
        limits: WriteLimits,
    ) -> Result<Db, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                SqliteDurability::Full => SqliteSynchronous::Full,
                SqliteDurability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let mut conn = writer::connect(&options).await?;
        sqlx::migrate!("migrations/sqlite").run(&mut conn).await?;
        // No ping before handing out a read connection: a local file's connection does not go
        // stale, and the ping is a round trip to its thread on every read.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Db::Sqlite { write: writer::Writer::start(conn, limits), read })
    }

    /// Connects to PostgreSQL at `url` and migrates it. A transaction that cannot have a
    /// connection within the wait budget is refused with [`StoreError::Busy`]; the same bound
    /// applies to opening a connection (at start and whenever the pool grows), so the budget must
    /// exceed what connecting takes.
    pub(crate) async fn open_postgres(url: &str, max_connections: u32, limits: WriteLimits) -> Result<Db, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(limits.wait_budget)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Db::Postgres(pool))
    }

    /// Begins a write transaction for `tenant`.
    pub(crate) async fn begin(&self, tenant: &TenantId) -> Result<TenantTx, StoreError> {
        let tx = match self {
            Db::Sqlite { write, .. } => Tx::Sqlite(SqliteTx::Write(write.begin().await?)),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        };
        Ok(TenantTx { tenant: tenant.clone(), tx, pending: batch::Pending::default() })
    }

    /// Begins a read-only transaction for `tenant` (a consistent snapshot for views).
    pub(crate) async fn read(&self, tenant: &TenantId) -> Result<TenantTx, StoreError> {
        let tx = match self {
            Db::Sqlite { read, .. } => Tx::Sqlite(SqliteTx::Read(read.begin().await?)),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        };
        Ok(TenantTx { tenant: tenant.clone(), tx, pending: batch::Pending::default() })
    }

    /// On SQLite, a read connection for `tenant` for reads that need neither a snapshot across
    /// statements nor a lock: each statement sees what was committed when it ran, and runs beside
    /// the single writer instead of inside its turn. Only for what a write re-checks or may safely
    /// see a moment old (anything acknowledged has committed, so it is visible here).
    ///
    /// `None` on PostgreSQL, where writers do not take turns: the same reads inside the write
    /// transaction cost nothing extra, while a second connection would (measured: +0.3 ms per
    /// scan at 200/s, the pool's checkout and check-in pings on 2 shared cores).
    pub(crate) async fn lookup(&self, tenant: &TenantId) -> Result<Option<TenantTx>, StoreError> {
        let tx = match self {
            Db::Sqlite { read, .. } => Tx::Sqlite(SqliteTx::Lookup(read.acquire().await?)),
            Db::Postgres(_) => return Ok(None),
        };
        Ok(Some(TenantTx { tenant: tenant.clone(), tx, pending: batch::Pending::default() }))
    }

    /// Whether the database answers.
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Db::Sqlite { read, .. } => sqlx::query("SELECT 1").execute(read).await.map(|_| ())?,
            Db::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.map(|_| ())?,
        };
        Ok(())
    }

    /// The SQLite writer's totals; `None` on PostgreSQL.
    pub(crate) fn write_stats(&self) -> Option<WriteStats> {
        match self {
            Db::Sqlite { write, .. } => Some(write.stats()),
            Db::Postgres(_) => None,
        }
    }

    /// Closes every connection, waiting for checked-out ones to return.
    pub(crate) async fn close(&self) {
        match self {
            Db::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl TenantTx {
    /// Commits everything written through this transaction.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        // A SQLite write inside a group-commit batch ends by releasing its savepoint: that goes
        // out with the deferred writes, one round trip for both.
        let release = matches!(&self.tx, Tx::Sqlite(SqliteTx::Write(w)) if w.in_savepoint());
        if release {
            self.pending.push(batch::Deferred { sql: writer::RELEASE, shape: batch::Shape::Opaque, args: Vec::new() });
        }
        self.flush().await?;
        match self.tx {
            Tx::Sqlite(SqliteTx::Write(t)) if release => t.commit_released().await?,
            Tx::Sqlite(SqliteTx::Write(t)) => t.commit().await?,
            Tx::Sqlite(SqliteTx::Read(t)) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
            Tx::Sqlite(SqliteTx::Lookup(_)) => {}
        }
        Ok(())
    }

    /// The tenant as bound to statements.
    pub(crate) fn tenant_str(&self) -> &str {
        self.tenant.as_str()
    }

    /// The connection, after the deferred writes have been sent.
    pub(crate) async fn flushed(&mut self) -> Result<&mut Tx, StoreError> {
        self.flush().await?;
        Ok(&mut self.tx)
    }

    /// Queues a write that nothing waits for: it is sent with the transaction's next statement,
    /// its [`TenantTx::send_writes`] or its commit.
    pub(crate) async fn defer(&mut self, stmt: batch::Stmt, args: Vec<batch::Arg>) -> Result<(), StoreError> {
        if self.pending.full_for(args.len()) {
            self.flush().await?;
        }
        self.pending.push(batch::Deferred { sql: stmt.sql, shape: stmt.shape, args });
        Ok(())
    }

    /// Sends the deferred writes now, so that their failure (the constraint that refused one) is
    /// reported here, to the command that queued them, and not to whatever statement comes next.
    pub(crate) async fn send_writes(&mut self) -> Result<(), StoreError> {
        self.flush().await
    }

    /// Sends the deferred writes: one statement on SQLite, one per clash-free part on PostgreSQL.
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.poisoned {
            return Err(StoreError::CommitFailed("an earlier write of this transaction failed".into()));
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let stmts = self.pending.take();
        let result = match &mut self.tx {
            Tx::Sqlite(t) => {
                let (sql, args) = batch::sqlite_text(stmts);
                batch::bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), args).execute(&mut **t).await.map(|_| ())
            }
            Tx::Postgres(t) => {
                let mut result = Ok(());
                for (sql, args) in batch::pg_groups(stmts) {
                    result = batch::bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
                        .execute(&mut **t)
                        .await
                        .map(|_| ());
                    if result.is_err() {
                        break;
                    }
                }
                result
            }
        };
        result.map_err(|e| {
            self.pending.poisoned = true;
            StoreError::from(e)
        })
    }
}

/// Stored form of an instant: microseconds since the Unix epoch (UTC). Integers compare and
/// index the same on both backends, unlike text or native timestamp types.
pub(crate) fn ts(at: OffsetDateTime) -> i64 {
    let micros = at.unix_timestamp_nanos() / 1_000;
    i64::try_from(micros).unwrap_or(i64::MAX)
}

/// Reads a stored instant back.
pub(crate) fn from_ts(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {micros}: {e}")))
}

/// Parses a stored value with a domain parser, mapping failures to [`StoreError::Corrupt`].
pub(crate) fn parse<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Result<T, StoreError> {
    result.map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}
