//! The SQLite writer: one connection, write transactions one at a time, and **group commit** —
//! many write transactions share one `COMMIT` (one fsync) while none is acknowledged before that
//! commit is durable.
//!
//! How it works:
//! - the connection sits behind a fair (FIFO) async mutex; a write transaction holds it from
//!   [`Writer::begin`] until it commits or is dropped, so writes never interleave and SQLite never
//!   answers `SQLITE_BUSY` half-way through one;
//! - the first transaction of a batch opens the database transaction (`BEGIN IMMEDIATE`); the
//!   following ones run inside it, each in its own `SAVEPOINT`, so a failing or abandoned one is
//!   rolled back alone (`ROLLBACK TO`) and the others keep their writes;
//! - [`WriteTx::commit`] releases the savepoint, hands the connection to the next writer, and waits
//!   for the batch's outcome. Whoever finishes while no other writer is queued, when the batch is
//!   full ([`MAX_BATCH`]) or when it has been open for its max age
//!   ([`WriteLimits::batch_max_age`]) commits it before anyone else takes the connection: a task of
//!   its own runs the one `COMMIT` (so it runs to its end even if the caller stops waiting), then
//!   tells every member of the batch whether it is durable. A member whose batch failed gets an
//!   error: nothing of it was written, and its caller may retry;
//! - at light load a batch is one transaction, so nothing waits for company: the commit happens as
//!   soon as the writer has no one queued behind it. Under a steady stream of writers the max age
//!   ends every batch, so no acknowledgement waits longer than that (plus the last member's turn
//!   and the `COMMIT`) for company;
//! - a writer waits for the connection at most [`WriteLimits::wait_budget`]; past it, it is refused
//!   with [`StoreError::Busy`] before it has written anything, instead of queueing without bound.
//!   One that leaves the queue without its turn wakes the *flusher* task, as does a transaction
//!   dropped without committing: a batch left to a writer that is gone is committed by it.
//!
//! A transaction's own reads see the writes of earlier members of its batch — exactly as if they
//! had committed before it — and nothing else sees them until the batch commits.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard, watch};
// tokio's clock, so tests can move it (paused time).
use tokio::time::Instant;

use super::{StoreError, WriteLimits};

/// Most write transactions committed together.
const MAX_BATCH: usize = 256;

/// Ends a write transaction that ran in a savepoint of its batch.
pub(crate) const RELEASE: &str = "RELEASE krug_write";

/// The outcome of one batch: `None` until its `COMMIT` has run, then whether it is durable.
type Outcome = Option<Result<(), String>>;

/// The single SQLite write connection and its group-commit state.
pub(crate) struct Writer {
    state: Arc<Mutex<State>>,
    /// Writers waiting for the connection; a finishing writer leaves the commit to them when
    /// there are any.
    queued: AtomicUsize,
    /// Wakes the flusher.
    flush: Arc<Notify>,
    counters: Arc<Counters>,
    limits: WriteLimits,
}

/// Running totals of the writer's work, read without taking the connection.
#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    transactions: AtomicU64,
    failed_batches: AtomicU64,
    held_micros: AtomicU64,
    commit_micros: AtomicU64,
    refused: AtomicU64,
}

/// What the SQLite writer has done since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Batches committed: one `COMMIT`, one fsync each.
    pub batches: u64,
    /// Write transactions acknowledged as durable; `transactions / batches` is the mean batch.
    pub transactions: u64,
    /// Batches whose commit failed; their members were told, and nothing of them was written.
    pub failed_batches: u64,
    /// Microseconds write transactions held the connection, from their start to their end
    /// (commit or abandonment): the writer's serial work, excluding `COMMIT`s.
    pub held_micros: u64,
    /// Microseconds spent in batches' `COMMIT`s (the fsyncs), during which no one can write.
    pub commit_micros: u64,
    /// Write transactions refused with [`StoreError::Busy`]: they waited for the writer longer
    /// than the wait budget, and nothing of them was written.
    pub refused: u64,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("queued", &self.queued.load(Ordering::Relaxed)).finish_non_exhaustive()
    }
}

/// How the transaction that holds the connection is nested in the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Nobody is writing.
    Idle,
    /// It opened the database transaction itself (it is first in its batch): undoing it is a
    /// plain `ROLLBACK`.
    Whole,
    /// It runs in a savepoint of a batch that already holds committed-to-be writes.
    Savepoint,
}

struct State {
    conn: SqliteConnection,
    /// A database transaction is open.
    open: bool,
    /// The current holder's nesting; anything other than `Idle` when a new holder arrives means
    /// the previous one was abandoned and must be undone first.
    scope: Scope,
    /// Finished write transactions in the open database transaction, waiting for its `COMMIT`.
    members: usize,
    /// When the open batch began (its `BEGIN IMMEDIATE`).
    opened: Instant,
    /// Where the open batch's outcome is published.
    outcome: watch::Sender<Outcome>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Wraps the (already migrated) write connection and starts its flusher on the current
    /// runtime. The flusher ends when the writer is dropped.
    pub(crate) fn start(conn: SqliteConnection, limits: WriteLimits) -> Arc<Writer> {
        let flush = Arc::new(Notify::new());
        let counters = Arc::new(Counters::default());
        let writer = Arc::new(Writer {
            state: Arc::new(Mutex::new(State {
                conn,
                open: false,
                scope: Scope::Idle,
                members: 0,
                opened: Instant::now(),
                outcome: watch::channel(None).0,
                counters: Arc::clone(&counters),
            })),
            queued: AtomicUsize::new(0),
            flush: Arc::clone(&flush),
            counters,
            limits,
        });
        // Per process by nature, not background work that needs a lease: the flusher serves this
        // process's one SQLite connection (SQLite has one writer per file, so it never runs on
        // several replicas), and it ends when the writer is dropped (it holds only a `Weak`).
        tokio::spawn(flusher(Arc::downgrade(&writer), flush));
        writer
    }

    /// Takes the connection (waiting behind earlier writers) and opens a write transaction; after
    /// waiting longer than the wait budget, [`StoreError::Busy`] instead.
    pub(crate) async fn begin(self: &Arc<Self>) -> Result<WriteTx, StoreError> {
        let queued = Queued::enter(self);
        // The mutex is fair, and a waiter that times out leaves its place without disturbing the
        // others; a budget of zero still takes a free connection (the lock is tried first).
        let Ok(guard) = tokio::time::timeout(self.limits.wait_budget, Arc::clone(&self.state).lock_owned()).await
        else {
            drop(queued);
            self.counters.refused.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Busy { retry_after: self.retry_after() });
        };
        queued.served();
        let mut tx = WriteTx { turn: Turn { writer: Arc::clone(self), since: Instant::now(), finished: false }, guard };
        tx.guard.settle_abandoned().await;
        if tx.guard.open {
            sqlx::query("SAVEPOINT krug_write").execute(&mut tx.guard.conn).await?;
            tx.guard.scope = Scope::Savepoint;
        } else {
            sqlx::query("BEGIN IMMEDIATE").execute(&mut tx.guard.conn).await?;
            tx.guard.open = true;
            tx.guard.opened = Instant::now();
            tx.guard.scope = Scope::Whole;
        }
        Ok(tx)
    }

    /// When a refused writer may come back: the time the writers still queued need at the
    /// writer's mean cost per acknowledged write so far (its turn plus its share of a `COMMIT`),
    /// in whole seconds from 1 to 60. Measured, not guessed: a backlog of slow writes (or a slow
    /// disk) asks for a longer pause than one of quick ones.
    fn retry_after(&self) -> Duration {
        let s = self.stats();
        let per_write = s.held_micros.saturating_add(s.commit_micros) / s.transactions.max(1);
        let queued = u64::try_from(self.queued.load(Ordering::SeqCst)).unwrap_or(u64::MAX);
        Duration::from_secs(per_write.saturating_mul(queued).div_ceil(1_000_000).clamp(1, 60))
    }

    /// What the writer has done so far.
    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            failed_batches: self.counters.failed_batches.load(Ordering::Relaxed),
            held_micros: self.counters.held_micros.load(Ordering::Relaxed),
            commit_micros: self.counters.commit_micros.load(Ordering::Relaxed),
            refused: self.counters.refused.load(Ordering::Relaxed),
        }
    }

    /// Commits whatever is pending and waits for it; used when the store closes.
    pub(crate) async fn close(&self) {
        let mut state = self.state.lock().await;
        state.settle_abandoned().await;
        state.flush().await;
    }
}

/// Counts a writer as queued while it waits for the connection, also when its future is dropped.
/// One that leaves without its turn (refused, or its caller gave up) wakes the flusher: a
/// finishing writer may have left the open batch to it, and the batch must not wait for a writer
/// that is gone.
struct Queued<'a> {
    writer: &'a Writer,
    served: bool,
}

impl<'a> Queued<'a> {
    fn enter(writer: &'a Writer) -> Queued<'a> {
        writer.queued.fetch_add(1, Ordering::SeqCst);
        Queued { writer, served: false }
    }

    /// Leaves the queue with the connection.
    fn served(mut self) {
        self.served = true;
    }
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.writer.queued.fetch_sub(1, Ordering::SeqCst);
        if !self.served {
            self.writer.flush.notify_one();
        }
    }
}

impl State {
    /// Undoes the writes of a holder that went away without committing (an error, or its caller
    /// gave up). If even that fails, the whole batch is lost and its members are told so.
    async fn settle_abandoned(&mut self) {
        let (undo, closes) = match self.scope {
            Scope::Idle => return,
            Scope::Whole => ("ROLLBACK", true),
            Scope::Savepoint => ("ROLLBACK TO krug_write; RELEASE krug_write", false),
        };
        self.scope = Scope::Idle;
        match sqlx::raw_sql(undo).execute(&mut self.conn).await {
            Ok(_) => self.open = self.open && !closes,
            Err(e) => self.abort(format!("undoing an abandoned write failed: {e}")).await,
        }
    }

    /// Commits the open batch, if it holds anything, and publishes the outcome to its members.
    async fn flush(&mut self) {
        if !self.open {
            return;
        }
        if self.members == 0 {
            // Only abandoned or failed writes were here: nothing to keep.
            if sqlx::query("ROLLBACK").execute(&mut self.conn).await.is_ok() {
                self.open = false;
            } else {
                self.abort("closing an empty batch failed".into()).await;
            }
            return;
        }
        let started = Instant::now();
        let committed = sqlx::query("COMMIT").execute(&mut self.conn).await;
        self.counters.commit_micros.fetch_add(micros(started), Ordering::Relaxed);
        match committed {
            Ok(_) => {
                self.open = false;
                self.publish(Ok(()));
            }
            Err(e) => self.abort(format!("group commit failed: {e}")).await,
        }
    }

    /// Gives up the open batch: rolls back whatever is left of it and reports `reason` to its
    /// members.
    async fn abort(&mut self, reason: String) {
        tracing::error!(reason = %reason, members = self.members, "sqlite write batch rolled back");
        // The transaction may already be gone (SQLite rolls back by itself on some errors).
        let _ = sqlx::query("ROLLBACK").execute(&mut self.conn).await;
        self.open = false;
        self.scope = Scope::Idle;
        self.publish(Err(reason));
    }

    /// Tells the batch's members its outcome and starts a new batch.
    fn publish(&mut self, outcome: Result<(), String>) {
        if outcome.is_ok() {
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            self.counters.transactions.fetch_add(self.members as u64, Ordering::Relaxed);
        } else {
            self.counters.failed_batches.fetch_add(1, Ordering::Relaxed);
        }
        self.members = 0;
        let done = std::mem::replace(&mut self.outcome, watch::channel(None).0);
        done.send_replace(Some(outcome));
    }
}

/// Undoes abandoned transactions and commits the batch they (or a writer that left the queue)
/// leave behind, when woken.
async fn flusher(writer: Weak<Writer>, flush: Arc<Notify>) {
    loop {
        flush.notified().await;
        let Some(writer) = writer.upgrade() else { return };
        let mut state = writer.state.lock().await;
        state.settle_abandoned().await;
        state.flush().await;
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Lets the flusher see the writer is gone and end.
        self.flush.notify_one();
    }
}

/// A write transaction holding the SQLite connection. Dropping it without
/// [`WriteTx::commit`] undoes its writes (and only its writes).
pub(crate) struct WriteTx {
    // Declared first, so dropped first: the turn ends before the connection is handed on.
    turn: Turn,
    guard: OwnedMutexGuard<State>,
}

/// A write transaction's turn at the connection. Ending, it adds its time to the writer's
/// totals; ending unfinished, it has the flusher undo its writes.
struct Turn {
    writer: Arc<Writer>,
    finished: bool,
    /// When it took the connection.
    since: Instant,
}

/// Microseconds since `start`.
fn micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl WriteTx {
    /// Finishes the transaction and returns once the batch it joined is durably committed — or
    /// with an error when that batch failed, in which case nothing of this transaction was
    /// written.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        if self.guard.scope == Scope::Savepoint {
            sqlx::query(RELEASE).execute(&mut self.guard.conn).await?;
        }
        self.commit_released().await
    }

    /// Whether this transaction runs in a savepoint of a batch (and so ends with [`RELEASE`]).
    pub(crate) fn in_savepoint(&self) -> bool {
        self.guard.scope == Scope::Savepoint
    }

    /// [`WriteTx::commit`] for a caller that has already run [`RELEASE`] on this connection
    /// (with its last writes, in one round trip).
    pub(crate) async fn commit_released(self) -> Result<(), StoreError> {
        let WriteTx { mut turn, mut guard } = self;
        guard.scope = Scope::Idle;
        guard.members += 1;
        let mut outcome = guard.outcome.subscribe();
        let writer = &turn.writer;
        let due = writer.queued.load(Ordering::SeqCst) == 0
            || guard.members >= MAX_BATCH
            || guard.opened.elapsed() >= writer.limits.batch_max_age;
        turn.finished = true;
        drop(turn);
        if due {
            // Committed before anyone else takes the connection, in a task of its own: once the
            // batch's members count on this `COMMIT`, it must run to its end even if this caller
            // stops waiting for it.
            tokio::spawn(async move {
                let mut state = guard;
                state.flush().await;
            });
        } else {
            drop(guard);
        }
        let result = match outcome.wait_for(Option::is_some).await {
            Ok(done) => done.clone().unwrap_or_else(|| Err("no outcome".into())),
            Err(_) => Err("the writer closed before the batch committed".into()),
        };
        result.map_err(StoreError::CommitFailed)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.writer.counters.held_micros.fetch_add(micros(self.since), Ordering::Relaxed);
        if !self.finished {
            // Its writes are undone by whoever takes the connection next; the flusher does it
            // now so the batch it may leave behind is not kept waiting.
            self.writer.flush.notify_one();
        }
    }
}

impl Deref for WriteTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.guard.conn
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.guard.conn
    }
}

/// Opens the write connection.
pub(crate) async fn connect(options: &sqlx::sqlite::SqliteConnectOptions) -> Result<SqliteConnection, StoreError> {
    Ok(SqliteConnection::connect_with(options).await?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::str::FromStr;

    use sqlx::sqlite::SqliteConnectOptions;

    use super::*;

    /// Limits that never end a batch or refuse a writer within a test: the sharing a test asserts
    /// must not depend on how fast the machine is.
    const PATIENT: WriteLimits =
        WriteLimits { wait_budget: Duration::from_secs(3_600), batch_max_age: Duration::from_secs(3_600) };

    async fn writer() -> Arc<Writer> {
        writer_with(PATIENT).await
    }

    async fn writer_with(limits: WriteLimits) -> Arc<Writer> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").unwrap().foreign_keys(true);
        let mut conn = connect(&options).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE t (id INTEGER PRIMARY KEY,
                             parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        Writer::start(conn, limits)
    }

    async fn insert(tx: &mut WriteTx, id: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO t (id) VALUES ($1)").bind(id).execute(&mut **tx).await?;
        Ok(())
    }

    async fn rows(writer: &Arc<Writer>) -> Vec<i64> {
        let mut tx = writer.begin().await.unwrap();
        let ids: Vec<(i64,)> = sqlx::query_as("SELECT id FROM t ORDER BY id").fetch_all(&mut *tx).await.unwrap();
        ids.into_iter().map(|(id,)| id).collect()
    }

    /// Starts `body` in a task and returns once it is queued for the connection behind the
    /// current holder.
    async fn behind<T, Fut>(w: &Arc<Writer>, body: impl FnOnce(Arc<Writer>) -> Fut) -> tokio::task::JoinHandle<T>
    where
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let handle = tokio::spawn(body(Arc::clone(w)));
        while w.queued.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        handle
    }

    #[tokio::test]
    async fn a_lone_writer_commits_in_a_batch_of_its_own() {
        let w = writer().await;
        let mut a = w.begin().await.unwrap();
        insert(&mut a, 1).await.unwrap();
        a.commit().await.unwrap();
        let s = w.stats();
        assert_eq!((s.batches, s.transactions, s.failed_batches), (1, 1, 0));
        assert_eq!(rows(&w).await, vec![1]);
    }

    #[tokio::test]
    async fn a_writer_queued_behind_another_shares_its_commit() {
        let w = writer().await;
        let mut a = w.begin().await.unwrap();
        let b = behind(&w, |w| async move {
            let mut b = w.begin().await?;
            insert(&mut b, 2).await?;
            b.commit().await
        })
        .await;
        insert(&mut a, 1).await.unwrap();
        // `b` is queued, so `a` leaves the commit to it and waits for the batch.
        a.commit().await.unwrap();
        b.await.unwrap().unwrap();
        let s = w.stats();
        assert_eq!((s.batches, s.transactions, s.failed_batches), (1, 2, 0));
        assert_eq!(rows(&w).await, vec![1, 2]);
    }

    #[tokio::test]
    async fn an_abandoned_writer_is_undone_alone_and_its_batch_still_commits() {
        let w = writer().await;
        let mut a = w.begin().await.unwrap();
        let (entered, wait) = tokio::sync::oneshot::channel::<()>();
        let b = behind(&w, |w| async move {
            let mut b = w.begin().await.unwrap();
            insert(&mut b, 2).await.unwrap();
            entered.send(()).unwrap();
            // Dropped without committing: its row must go, `a`'s must stay.
            drop(b);
        })
        .await;
        insert(&mut a, 1).await.unwrap();
        let a = tokio::spawn(a.commit());
        wait.await.unwrap();
        b.await.unwrap();
        a.await.unwrap().unwrap();
        assert_eq!(rows(&w).await, vec![1]);
        let s = w.stats();
        assert_eq!((s.batches, s.transactions, s.failed_batches), (1, 1, 0));
    }

    #[tokio::test]
    async fn a_failed_statement_undoes_only_its_own_writer() {
        let w = writer().await;
        let mut a = w.begin().await.unwrap();
        let b = behind(&w, |w| async move {
            let mut b = w.begin().await.unwrap();
            insert(&mut b, 3).await.unwrap();
            // The same key as `a`'s row: refused; the caller drops the transaction.
            insert(&mut b, 1).await
        })
        .await;
        insert(&mut a, 1).await.unwrap();
        let a = tokio::spawn(a.commit());
        assert!(matches!(b.await.unwrap(), Err(StoreError::Conflict { .. })));
        a.await.unwrap().unwrap();
        assert_eq!(rows(&w).await, vec![1]);
    }

    #[tokio::test]
    async fn a_failed_commit_is_reported_to_every_member_and_writes_nothing() {
        let w = writer().await;
        let mut a = w.begin().await.unwrap();
        let b = behind(&w, |w| async move {
            let mut b = w.begin().await?;
            // A dangling deferred reference: accepted now, refused by the COMMIT.
            sqlx::query("INSERT INTO t (id, parent) VALUES (2, 99)").execute(&mut *b).await?;
            b.commit().await
        })
        .await;
        insert(&mut a, 1).await.unwrap();
        let a = a.commit().await;
        assert!(matches!(a, Err(StoreError::CommitFailed(_))), "{a:?}");
        assert!(matches!(b.await.unwrap(), Err(StoreError::CommitFailed(_))));
        let s = w.stats();
        assert_eq!((s.batches, s.transactions, s.failed_batches), (0, 0, 1));
        assert!(rows(&w).await.is_empty());
        // The writer carries on.
        let mut c = w.begin().await.unwrap();
        insert(&mut c, 5).await.unwrap();
        c.commit().await.unwrap();
        assert_eq!(rows(&w).await, vec![5]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_writer_queued_longer_than_the_budget_is_refused_as_busy_and_writes_nothing() {
        let w = writer_with(WriteLimits { wait_budget: Duration::from_secs(2), ..PATIENT }).await;
        let mut a = w.begin().await.unwrap();
        insert(&mut a, 1).await.unwrap();
        let b = behind(&w, |w| async move {
            let mut b = w.begin().await?;
            insert(&mut b, 2).await?;
            b.commit().await
        })
        .await;
        // Everything now waits, so the paused clock runs on to the end of `b`'s budget (the
        // earlier of the two deadlines: a writer that waited without bound would meet the other).
        let refused = tokio::time::timeout(Duration::from_secs(3), b).await.expect("b waited past its budget").unwrap();
        assert!(
            matches!(refused, Err(StoreError::Busy { retry_after }) if retry_after >= Duration::from_secs(1)),
            "{refused:?}"
        );
        assert_eq!(w.queued.load(Ordering::SeqCst), 0);
        // The holder carries on and its batch commits without `b`.
        a.commit().await.unwrap();
        let s = w.stats();
        assert_eq!((s.batches, s.transactions, s.failed_batches, s.refused), (1, 1, 0, 1));
        assert_eq!(rows(&w).await, vec![1]);
    }

    #[tokio::test]
    async fn a_zero_budget_still_takes_a_free_connection() {
        let w = writer_with(WriteLimits { wait_budget: Duration::ZERO, ..PATIENT }).await;
        let mut a = w.begin().await.unwrap();
        insert(&mut a, 1).await.unwrap();
        a.commit().await.unwrap();
        assert_eq!(rows(&w).await, vec![1]);
        assert_eq!(w.stats().refused, 0);
    }

    /// Takes the connection the way a writer does, and tells whether a batch is still open: after
    /// a member has finished, it is open only if that member left the batch to the next writer.
    async fn batch_left_open(w: &Arc<Writer>) -> (bool, usize) {
        let state = w.state.lock().await;
        (state.open, state.members)
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_older_than_its_max_age_commits_although_writers_keep_arriving() {
        let w = writer_with(WriteLimits { batch_max_age: Duration::from_millis(5), ..PATIENT }).await;
        // A writer is queued all along: without the age bound no member would ever commit.
        let arriving = Queued::enter(&w);
        let mut a = w.begin().await.unwrap();
        insert(&mut a, 1).await.unwrap();
        tokio::time::advance(Duration::from_millis(3)).await;
        let a = tokio::spawn(a.commit());
        // Young: `a` leaves the batch open for the writer queued behind it.
        assert_eq!(batch_left_open(&w).await, (true, 1));
        assert_eq!(w.stats().batches, 0);

        let mut b = w.begin().await.unwrap();
        insert(&mut b, 2).await.unwrap();
        tokio::time::advance(Duration::from_millis(3)).await;
        let b = tokio::spawn(b.commit());
        // 6 ms old when `b` finishes: committed at once, with a writer still queued to join.
        assert_eq!(batch_left_open(&w).await, (false, 0));
        let s = w.stats();
        assert_eq!((s.batches, s.transactions), (1, 2));
        a.await.unwrap().unwrap();
        b.await.unwrap().unwrap();
        drop(arriving);
        assert_eq!(rows(&w).await, vec![1, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_left_to_a_writer_that_gives_up_still_commits() {
        let w = writer().await;
        let arriving = Queued::enter(&w);
        let mut a = w.begin().await.unwrap();
        insert(&mut a, 1).await.unwrap();
        let a = tokio::spawn(a.commit());
        assert_eq!(batch_left_open(&w).await, (true, 1));
        // The writer `a` left its batch to goes away without its turn (refused, or cancelled).
        drop(arriving);
        a.await.unwrap().unwrap();
        assert_eq!(w.stats().batches, 1);
        assert_eq!(rows(&w).await, vec![1]);
    }
}
