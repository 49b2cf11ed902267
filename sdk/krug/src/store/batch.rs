//! Deferred writes: statements whose outcome nothing waits for are queued in the transaction and
//! sent together with whatever the transaction does next — one round trip for many statements.
//!
//! A scan ends in eight or more writes (purchase, lot, entry, lot move, account, budget entry,
//! idempotency record, QR claim) that nothing reads back before the commit. Sent one by one, each
//! is a hop to sqlx's SQLite thread (or a network round trip to PostgreSQL) and back; the hops, not
//! the database's work, bounded the scan (BENCHMARKS.md). Queued, they cost one.
//!
//! Rules that keep a deferred write exactly as if it had run at once:
//! - order is kept: the queue is flushed, in order, before *any* other statement of the
//!   transaction runs (the `on!` macro and [`super::TenantTx::flushed`] do it), and before commit;
//! - only statements declared as [`Stmt`]s are queued: plain `INSERT … VALUES` and `UPDATE … SET`
//!   (or upserts) without a subquery, each naming the table it writes — checked when it compiles,
//!   never guessed from the SQL at run time; anything else runs at once, after the queue;
//! - on SQLite the queue is one multi-statement text: SQLite runs its statements one after the
//!   other, exactly as separate calls would. On PostgreSQL it is one statement of data-modifying
//!   `WITH` parts, which all see the snapshot from before the statement — so a new part is started
//!   ([`Pending::pg_groups`]) whenever a statement touches a table an earlier statement of the
//!   same part updates, or updates a table an earlier statement touches;
//! - a failed flush poisons the transaction: its writes may be half-applied, so every later
//!   statement and the commit fail, and dropping it rolls everything back.

use uuid::Uuid;

/// Most bind parameters in one flush (SQLite allows 32,766 per statement, PostgreSQL 65,535).
const MAX_PARAMS: usize = 30_000;

/// One bind value of a deferred statement, typed as it is bound (`None` binds a typed `NULL`).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(Option<String>),
    I64(Option<i64>),
    I32(Option<i32>),
    Uuid(Option<Uuid>),
}

/// `impl From<type> for Arg` for each `type => |value| arg`.
macro_rules! arg_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Arg {
            fn from($v: $t) -> Arg {
                $e
            }
        })*
    };
}

arg_from! {
    &str => |v| Arg::Text(Some(v.to_owned())),
    &String => |v| Arg::Text(Some(v.clone())),
    Option<&str> => |v| Arg::Text(v.map(str::to_owned)),
    i64 => |v| Arg::I64(Some(v)),
    Option<i64> => |v| Arg::I64(v),
    i32 => |v| Arg::I32(Some(v)),
    Uuid => |v| Arg::Uuid(Some(v)),
    Option<Uuid> => |v| Arg::Uuid(v),
}

/// Builds a `Vec<Arg>` from values of the supported types.
macro_rules! args {
    ($($v:expr),* $(,)?) => { vec![$($crate::store::batch::Arg::from($v)),*] };
}
pub(crate) use args;

/// Binds deferred arguments to a query of either backend.
macro_rules! bind_args {
    ($q:expr, $args:expr) => {{
        let mut q = $q;
        for a in $args {
            q = match a {
                $crate::store::batch::Arg::Text(v) => q.bind(v),
                $crate::store::batch::Arg::I64(v) => q.bind(v),
                $crate::store::batch::Arg::I32(v) => q.bind(v),
                $crate::store::batch::Arg::Uuid(v) => q.bind(v),
            };
        }
        q
    }};
}
pub(crate) use bind_args;

/// What a statement does to which table — all that deciding whether it may share a PostgreSQL
/// statement with others needs. Declared by the statement's author ([`Stmt`]), never read off
/// the SQL at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `INSERT INTO table (…) VALUES (…)`, without `ON CONFLICT`.
    Insert(&'static str),
    /// `UPDATE table SET … WHERE …`, or an insert that may update (`ON CONFLICT`).
    Update(&'static str),
    /// Anything else: sent alone, after everything queued before it.
    Opaque,
}

impl Shape {
    /// Whether two statements must not share one PostgreSQL statement (see the module docs).
    fn clashes(self, other: Shape) -> bool {
        match (self, other) {
            (Shape::Opaque, _) | (_, Shape::Opaque) => true,
            (Shape::Insert(_), Shape::Insert(_)) => false,
            (Shape::Insert(a) | Shape::Update(a), Shape::Insert(b) | Shape::Update(b)) => a == b,
        }
    }
}

/// A write that may be deferred: its SQL with what it does to which table, declared where the
/// statement is written (`const INSERT_LOT: Stmt = Stmt::insert("lots", "INSERT INTO lots …")`).
///
/// The declaration is checked when the constant is compiled: an `insert` must begin
/// `INSERT INTO <table> (` and hold `VALUES`, an `update` must begin `UPDATE <table> SET ` or be
/// an `INSERT INTO <table> (…) … ON CONFLICT` upsert; neither may hold a subquery (`SELECT`),
/// `RETURNING`, a second statement (`;`) or a string literal (`'`, which would confuse the
/// placeholder shift). A statement that breaks a rule does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stmt {
    pub(crate) sql: &'static str,
    pub(crate) shape: Shape,
}

impl Stmt {
    /// A plain `INSERT INTO table (…) VALUES (…)`.
    pub(crate) const fn insert(table: &'static str, sql: &'static str) -> Stmt {
        assert!(plain(sql), "a deferred statement holds no subquery, RETURNING, `;` or literal");
        assert!(begins_with_table(sql, b"INSERT INTO ", table, b" ("), "must begin INSERT INTO <table> (");
        assert!(has_word(sql, b"VALUES"), "an insert must hold VALUES");
        assert!(!has_word(sql, b"CONFLICT"), "an upsert is Stmt::update");
        Stmt { sql, shape: Shape::Insert(table) }
    }

    /// An `UPDATE table SET …`, or an `INSERT INTO table … ON CONFLICT …` upsert.
    pub(crate) const fn update(table: &'static str, sql: &'static str) -> Stmt {
        assert!(plain(sql), "a deferred statement holds no subquery, RETURNING, `;` or literal");
        let update = begins_with_table(sql, b"UPDATE ", table, b" SET ");
        let upsert = begins_with_table(sql, b"INSERT INTO ", table, b" (") && has_word(sql, b"CONFLICT");
        assert!(update || upsert, "must begin UPDATE <table> SET, or be an upsert into <table>");
        Stmt { sql, shape: Shape::Update(table) }
    }
}

/// Whether `sql` begins with `head`, then `table`, then `tail`.
const fn begins_with_table(sql: &str, head: &[u8], table: &str, tail: &[u8]) -> bool {
    let (s, t) = (sql.as_bytes(), table.as_bytes());
    starts_at(s, 0, head) && starts_at(s, head.len(), t) && starts_at(s, head.len() + t.len(), tail)
}

/// Whether `s[at..]` begins with `p`. (Indexing is bounded by the checks before it; these run
/// when a `Stmt` constant is compiled, where a panic is a compile error.)
#[allow(clippy::indexing_slicing)]
const fn starts_at(s: &[u8], at: usize, p: &[u8]) -> bool {
    if at + p.len() > s.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if s[at + i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `word` (upper case) occurs in `sql` as a whole word, in any case.
#[allow(clippy::indexing_slicing)] // bounded by the loop conditions (see `starts_at`)
const fn has_word(sql: &str, word: &[u8]) -> bool {
    let s = sql.as_bytes();
    let mut at = 0;
    while at + word.len() <= s.len() {
        let mut i = 0;
        while i < word.len() && s[at + i].to_ascii_uppercase() == word[i] {
            i += 1;
        }
        let before = at == 0 || !is_word(s[at - 1]);
        let after = at + word.len() == s.len() || !is_word(s[at + word.len()]);
        if i == word.len() && before && after {
            return true;
        }
        at += 1;
    }
    false
}

/// No subquery, `RETURNING`, second statement or string literal.
#[allow(clippy::indexing_slicing)] // bounded by the loop condition
const fn plain(sql: &str) -> bool {
    let s = sql.as_bytes();
    let mut i = 0;
    while i < s.len() {
        if s[i] == b';' || s[i] == b'\'' {
            return false;
        }
        i += 1;
    }
    !has_word(sql, b"SELECT") && !has_word(sql, b"RETURNING")
}

/// A queued statement.
#[derive(Debug)]
pub(crate) struct Deferred {
    pub(crate) sql: &'static str,
    pub(crate) shape: Shape,
    pub(crate) args: Vec<Arg>,
}

/// The transaction's queue of deferred writes.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    stmts: Vec<Deferred>,
    params: usize,
    /// A flush failed: the transaction may be half-written and must not go on.
    pub(crate) poisoned: bool,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.stmts.is_empty()
    }

    /// Whether adding `args` more parameters would pass what one flush may carry.
    pub(crate) fn full_for(&self, args: usize) -> bool {
        self.params + args > MAX_PARAMS
    }

    pub(crate) fn push(&mut self, d: Deferred) {
        self.params += d.args.len();
        self.stmts.push(d);
    }

    /// Empties the queue, returning what was in it.
    pub(crate) fn take(&mut self) -> Vec<Deferred> {
        self.params = 0;
        std::mem::take(&mut self.stmts)
    }
}

/// The queue as one SQLite text of statements separated by `;`, each statement's `$n` shifted
/// past the parameters of the statements before it, and all arguments in order.
pub(crate) fn sqlite_text(stmts: Vec<Deferred>) -> (String, Vec<Arg>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for d in stmts {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(&shift_params(d.sql, args.len()));
        args.extend(d.args);
    }
    (sql, args)
}

/// Splits the queue into PostgreSQL statements: each part is one statement, several queued
/// writes joined as data-modifying `WITH` parts where none clashes with another.
pub(crate) fn pg_groups(stmts: Vec<Deferred>) -> Vec<(String, Vec<Arg>)> {
    let mut groups: Vec<Vec<Deferred>> = Vec::new();
    for d in stmts {
        let fits = groups.last().is_some_and(|g| g.iter().all(|o| !o.shape.clashes(d.shape)));
        match groups.last_mut() {
            Some(group) if fits => group.push(d),
            _ => groups.push(vec![d]),
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let count = group.len();
            let mut sql = String::new();
            let mut args = Vec::new();
            for (i, d) in group.into_iter().enumerate() {
                let text = shift_params(d.sql, args.len());
                if count == 1 {
                    sql = text;
                } else if i + 1 < count {
                    sql.push_str(if i == 0 { "WITH " } else { ", " });
                    sql.push_str(&format!("w{i} AS ({text})"));
                } else {
                    sql.push(' ');
                    sql.push_str(&text);
                }
                args.extend(d.args);
            }
            (sql, args)
        })
        .collect()
}

/// `sql` with every `$n` placeholder renumbered `$(n + by)`. Deferred statements hold no string
/// literals ([`Stmt`] refuses quotes), so every `$` followed by digits is a placeholder.
fn shift_params(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        out.push(c);
        if c != '$' {
            continue;
        }
        let mut n: usize = 0;
        let mut digits = false;
        while let Some(&(_, d)) = chars.peek() {
            let Some(v) = d.to_digit(10) else { break };
            n = n * 10 + v as usize;
            digits = true;
            chars.next();
        }
        if digits {
            out.push_str(&(n + by).to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::store::{Db, SqliteDurability, StoreError, TenantTx, on};
    use crate::types::TenantId;
    use krug_testkit::TestDb;

    /// Fresh stores of both kinds (PostgreSQL when configured), each with a probe table.
    async fn stores() -> Vec<(TestDb, Db)> {
        let mut out = Vec::new();
        let sqlite = TestDb::sqlite();
        let db = Db::sqlite(sqlite.url(), SqliteDurability::Full).await.unwrap();
        out.push((sqlite, db));
        if let Some(pg) = TestDb::postgres() {
            let db = Db::postgres(pg.url(), 4).await.unwrap();
            out.push((pg, db));
        }
        for (_, db) in &out {
            let mut tx = db.begin(&tenant()).await.unwrap();
            create_probe(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        out
    }

    fn tenant() -> TenantId {
        TenantId::parse("probe").unwrap()
    }

    const INSERT: Stmt = Stmt::insert("probe", "INSERT INTO probe (tenant_id, id, v) VALUES ($1, $2, $3)");
    const UPDATE: Stmt = Stmt::update("probe", "UPDATE probe SET v = $3 WHERE tenant_id = $1 AND id = $2");

    async fn create_probe(tx: &mut TenantTx) -> Result<(), StoreError> {
        let sql = "CREATE TABLE probe (tenant_id TEXT NOT NULL, id BIGINT PRIMARY KEY, v BIGINT NOT NULL)";
        on!(tx, c => sqlx::query(sql).execute(c).await.map(|_| ()))
    }

    async fn rows(tx: &mut TenantTx) -> Result<Vec<(i64, i64)>, StoreError> {
        on!(tx, c => sqlx::query_as("SELECT id, v FROM probe ORDER BY id").fetch_all(c).await)
    }

    async fn committed(db: &Db) -> Vec<(i64, i64)> {
        let mut tx = db.read(&tenant()).await.unwrap();
        rows(&mut tx).await.unwrap()
    }

    #[tokio::test]
    async fn deferred_writes_run_in_order_before_the_next_statement_and_at_commit() {
        for (test_db, db) in stores().await {
            let mut tx = db.begin(&tenant()).await.unwrap();
            tx.defer(INSERT, args!["probe", 1_i64, 1_i64]).await.unwrap();
            tx.defer(INSERT, args!["probe", 2_i64, 2_i64]).await.unwrap();
            // Updates a row inserted by the same queue: on PostgreSQL it must be a part of its
            // own to see that row.
            tx.defer(UPDATE, args!["probe", 1_i64, 10_i64]).await.unwrap();
            tx.defer(UPDATE, args!["probe", 1_i64, 11_i64]).await.unwrap();
            assert_eq!(rows(&mut tx).await.unwrap(), vec![(1, 11), (2, 2)], "{}", test_db.backend());
            tx.defer(INSERT, args!["probe", 3_i64, 3_i64]).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(committed(&db).await, vec![(1, 11), (2, 2), (3, 3)], "{}", test_db.backend());
        }
    }

    #[tokio::test]
    async fn a_failed_deferred_write_fails_the_next_statement_and_the_commit_and_writes_nothing() {
        for (test_db, db) in stores().await {
            let mut tx = db.begin(&tenant()).await.unwrap();
            tx.defer(INSERT, args!["probe", 1_i64, 1_i64]).await.unwrap();
            tx.defer(INSERT, args!["probe", 1_i64, 2_i64]).await.unwrap();
            let err = rows(&mut tx).await.unwrap_err();
            assert!(matches!(err, StoreError::Conflict { .. }), "{}: {err:?}", test_db.backend());
            // Poisoned: nothing after the failure runs, and it cannot commit.
            assert!(rows(&mut tx).await.is_err(), "{}", test_db.backend());
            assert!(tx.commit().await.is_err(), "{}", test_db.backend());
            assert_eq!(committed(&db).await, vec![], "{}", test_db.backend());
            // The store goes on: the next transaction writes normally.
            let mut tx = db.begin(&tenant()).await.unwrap();
            tx.defer(INSERT, args!["probe", 5_i64, 5_i64]).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(committed(&db).await, vec![(5, 5)], "{}", test_db.backend());
        }
    }

    #[tokio::test]
    async fn a_dropped_transaction_sends_nothing_it_queued() {
        for (test_db, db) in stores().await {
            let mut tx = db.begin(&tenant()).await.unwrap();
            tx.defer(INSERT, args!["probe", 1_i64, 1_i64]).await.unwrap();
            drop(tx);
            assert_eq!(committed(&db).await, vec![], "{}", test_db.backend());
        }
    }

    #[tokio::test]
    async fn send_writes_reports_the_constraint_that_refused_the_queue() {
        for (test_db, db) in stores().await {
            let mut tx = db.begin(&tenant()).await.unwrap();
            tx.defer(INSERT, args!["probe", 1_i64, 1_i64]).await.unwrap();
            tx.defer(INSERT, args!["probe", 1_i64, 2_i64]).await.unwrap();
            let err = tx.send_writes().await.unwrap_err();
            match err {
                StoreError::Conflict { constraint } => assert!(constraint.contains("probe"), "{constraint}"),
                other => panic!("{}: {other:?}", test_db.backend()),
            }
        }
    }

    fn d(stmt: Stmt, n: usize) -> Deferred {
        Deferred { sql: stmt.sql, shape: stmt.shape, args: (0..n).map(|i| Arg::I64(Some(i as i64))).collect() }
    }

    #[test]
    fn statements_declare_their_table_and_kind() {
        assert_eq!(Stmt::insert("lots", "INSERT INTO lots (a, b) VALUES ($1, $2)").shape, Shape::Insert("lots"));
        assert_eq!(
            Stmt::update("accounts", "UPDATE accounts SET balance = $3 WHERE tenant_id = $1").shape,
            Shape::Update("accounts")
        );
        assert_eq!(
            Stmt::update("s", "INSERT INTO s (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET n = s.n + 1").shape,
            Shape::Update("s")
        );
    }

    #[test]
    fn a_statement_that_cannot_be_deferred_is_refused_where_it_is_declared() {
        let refused = |f: fn() -> Stmt| std::panic::catch_unwind(f).is_err();
        assert!(refused(|| Stmt::insert("t", "INSERT INTO t (a) SELECT a FROM u")));
        assert!(refused(|| Stmt::insert("t", "INSERT INTO t (a) VALUES ($1) RETURNING a")));
        assert!(refused(|| Stmt::insert("t", "INSERT INTO u (a) VALUES ($1)")), "another table");
        assert!(refused(|| Stmt::insert("t", "INSERT INTO t (a) VALUES ($1) ON CONFLICT DO NOTHING")));
        assert!(refused(|| Stmt::update("t", "UPDATE t SET a = (SELECT max(a) FROM u)")));
        assert!(refused(|| Stmt::update("t", "UPDATE t SET a = 'x'")));
        assert!(refused(|| Stmt::update("t", "DELETE FROM t WHERE a = $1")));
        assert!(refused(|| Stmt::update("t", "UPDATE t SET a = $1; DELETE FROM t")));
        assert!(refused(|| Stmt::insert("t", "SELECT 1")));
    }

    #[test]
    fn placeholders_are_shifted_past_earlier_statements() {
        assert_eq!(shift_params("VALUES ($1, $2, $10)", 3), "VALUES ($4, $5, $13)");
        assert_eq!(shift_params("a = $1", 0), "a = $1");
        let (sql, args) = sqlite_text(vec![
            d(Stmt::insert("a", "INSERT INTO a (x, y) VALUES ($1, $2)"), 2),
            d(Stmt::update("b", "UPDATE b SET x = $2 WHERE t = $1"), 2),
        ]);
        assert_eq!(sql, "INSERT INTO a (x, y) VALUES ($1, $2);\nUPDATE b SET x = $4 WHERE t = $3");
        assert_eq!(args.len(), 4);
    }

    const LOTS: Stmt = Stmt::insert("lots", "INSERT INTO lots (x) VALUES ($1)");
    const ACCOUNTS: Stmt = Stmt::update("accounts", "UPDATE accounts SET x = $1");

    #[test]
    fn postgres_parts_never_hold_an_update_beside_another_statement_on_its_table() {
        let groups = pg_groups(vec![
            d(LOTS, 1),
            d(LOTS, 1),
            d(Stmt::insert("entries", "INSERT INTO entries (x) VALUES ($1)"), 1),
            d(ACCOUNTS, 1),
            d(Stmt::update("lots", "UPDATE lots SET x = $1"), 1),
            d(ACCOUNTS, 1),
        ]);
        let texts: Vec<&str> = groups.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "WITH w0 AS (INSERT INTO lots (x) VALUES ($1)), w1 AS (INSERT INTO lots (x) VALUES ($2)), \
                 w2 AS (INSERT INTO entries (x) VALUES ($3)) UPDATE accounts SET x = $4",
                "WITH w0 AS (UPDATE lots SET x = $1) UPDATE accounts SET x = $2",
            ]
        );
        assert_eq!(groups[0].1.len(), 4);
        assert_eq!(groups[1].1.len(), 2);
    }
}
