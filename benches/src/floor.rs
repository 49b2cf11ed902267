//! The floor: a bare one-row `INSERT` transaction on the same store type with the same durability
//! settings as the SDK uses — `BEGIN IMMEDIATE; INSERT; COMMIT` on one SQLite writer connection
//! (WAL, `synchronous` FULL or NORMAL), `BEGIN; INSERT; COMMIT` on a PostgreSQL pool. Nothing the
//! SDK does per write can be faster than this, so every figure is reported as a ratio to it.
//!
//! Beside it on SQLite, the **group-commit floor**: `BEGIN IMMEDIATE`, N one-row `INSERT`s (one
//! statement each, as the writer's members send theirs), one `COMMIT`, back to back on the same
//! writer connection — what SQLite itself does when N writes share an fsync, as the SDK's group
//! commit has them share it. Reported in inserts/s, so a throughput run's rate divided by it says
//! how close N scans per commit come to N bare inserts per commit.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::Result;
use crate::report::{Recorder, Row, Summary};
use crate::target::{StoreKind, Target};

/// An open floor table.
pub struct Floor {
    pool: FloorPool,
    /// The SQLite file to remove afterwards.
    file: Option<std::path::PathBuf>,
}

enum FloorPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Floor {
    /// Opens the floor beside `target`: for SQLite a separate file in the same folder (same
    /// filesystem, same pragmas, one writer connection like the SDK's); for PostgreSQL a table
    /// `bench_floor` in the same database, with a pool of `pg_pool` connections.
    pub async fn open(target: &Target, pg_pool: u32) -> Result<Floor> {
        match target.kind {
            StoreKind::SqliteFull | StoreKind::SqliteNormal => {
                let db = target.sqlite_path().ok_or("not a SQLite URL")?;
                let file = db.with_file_name("krug-bench-floor.db");
                let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(match target.kind {
                        StoreKind::SqliteNormal => SqliteSynchronous::Normal,
                        _ => SqliteSynchronous::Full,
                    })
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
                sqlx::query(
                    "create table if not exists bench_floor (id integer primary key, member text not null, \
                     amount integer not null, at integer not null)",
                )
                .execute(&pool)
                .await?;
                Ok(Floor { pool: FloorPool::Sqlite(pool), file: Some(file) })
            }
            StoreKind::Postgres => {
                let pool = PgPoolOptions::new().max_connections(pg_pool).connect(&target.url).await?;
                sqlx::query(
                    "create table if not exists bench_floor (id bigserial primary key, member text not null, \
                     amount bigint not null, at bigint not null)",
                )
                .execute(&pool)
                .await?;
                Ok(Floor { pool: FloorPool::Postgres(pool), file: None })
            }
        }
    }

    /// One bare transaction: begin, insert one row, commit (durably, per the settings).
    pub async fn once(&self, n: i64) -> Result<()> {
        let member = format!("{n:032x}");
        match &self.pool {
            FloorPool::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query("insert into bench_floor (member, amount, at) values ($1, $2, $3)")
                    .bind(&member)
                    .bind(n)
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            FloorPool::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("insert into bench_floor (member, amount, at) values ($1, $2, $3)")
                    .bind(&member)
                    .bind(n)
                    .bind(n)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// One group commit on SQLite: begin, insert `n` rows one statement at a time, commit.
    async fn group_once(pool: &SqlitePool, first: i64, n: u32) -> Result<()> {
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for k in 0..i64::from(n) {
            sqlx::query("insert into bench_floor (member, amount, at) values ($1, $2, $3)")
                .bind(format!("{:032x}", first + k))
                .bind(first + k)
                .bind(first + k)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The group-commit floor: `n` one-row inserts per `COMMIT`, flat out for `duration` on the
    /// one writer connection (more tasks would only queue for it). Latencies are per commit; `ok`
    /// and `rate` count inserts. `None` on PostgreSQL, whose floor with N tasks already shares
    /// commits in the server.
    pub async fn measure_group(&self, n: u32, duration: Duration) -> Result<Option<Summary>> {
        let FloorPool::Sqlite(pool) = &self.pool else { return Ok(None) };
        let n = n.max(1);
        let mut next = -(1_i64 << 40);
        for _ in 0..10 {
            Self::group_once(pool, next, n).await?;
            next += i64::from(n);
        }
        let mut rec = Recorder::new();
        let start = Instant::now();
        let deadline = start + duration;
        while Instant::now() < deadline {
            let began = Instant::now();
            match Self::group_once(pool, next, n).await {
                Ok(()) => rec.ok(began.elapsed()),
                Err(e) => rec.error(&format!("group floor: {e}")),
            }
            next += i64::from(n);
        }
        let mut summary = rec.summary(start.elapsed());
        summary.ok *= u64::from(n);
        summary.rate *= f64::from(n);
        Ok(Some(summary))
    }

    /// `tasks` tasks committing flat out for `duration` (after a short warm-up): latency and rate.
    pub async fn measure(self: &Arc<Self>, tasks: u32, duration: Duration) -> Result<Summary> {
        for i in 0..50 {
            self.once(-i).await?;
        }
        let start = Instant::now();
        let deadline = start + duration;
        let mut handles = Vec::new();
        for t in 0..tasks {
            let floor = self.clone();
            handles.push(tokio::spawn(async move {
                let mut rec = Recorder::new();
                let mut n = i64::from(t) << 40;
                while Instant::now() < deadline {
                    n += 1;
                    let began = Instant::now();
                    match floor.once(n).await {
                        Ok(()) => rec.ok(began.elapsed()),
                        Err(e) => rec.error(&format!("floor: {e}")),
                    }
                }
                rec
            }));
        }
        let mut total = Recorder::new();
        for h in handles {
            total.merge(&h.await?);
        }
        Ok(total.summary(start.elapsed()))
    }

    /// Closes the pool and removes the SQLite floor file.
    pub async fn close(self) {
        match &self.pool {
            FloorPool::Sqlite(p) => p.close().await,
            FloorPool::Postgres(p) => {
                let _ = sqlx::query("drop table if exists bench_floor").execute(p).await;
                p.close().await;
            }
        }
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

/// The row of a group-commit floor measurement: `n` inserts per `COMMIT` (`ok/s` in inserts)
/// beside the one-row floor of the same run, so `rate ÷ floor` is what sharing an fsync gains.
pub fn group_row(suite: &str, store: &str, n: u32, group: &Summary, floor1: &Summary) -> Row {
    Row {
        suite: suite.into(),
        store: store.into(),
        op: format!("floor: {n} inserts per COMMIT"),
        tasks: 1,
        summary: group.clone(),
        floor: floor1.clone(),
        group_floor: None,
        writer: None,
        note: "inserts/s; latency per COMMIT".into(),
    }
}
