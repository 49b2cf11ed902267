//! The floor: a bare one-row `INSERT` transaction on the same store type with the same durability
//! settings as the SDK uses — `BEGIN IMMEDIATE; INSERT; COMMIT` on one SQLite writer connection
//! (WAL, `synchronous` FULL or NORMAL), `BEGIN; INSERT; COMMIT` on a PostgreSQL pool. Nothing the
//! SDK does per write can be faster than this, so every figure is reported as a ratio to it.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::Result;
use crate::report::{Recorder, Summary};
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
