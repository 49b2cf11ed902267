//! The SQLite and the PostgreSQL migrations build the same schema, and that schema keeps the
//! tenancy rule (DESIGN §2: every table begins with `tenant_id`, its keys include it).
//!
//! Each store is migrated through `Krug::builder()` and read back from its catalogue into one
//! normalised [`Schema`]: per table the ordered columns with a type class and NOT NULL, the
//! primary key, the unique keys (constraints and unique indexes alike, as column sets, marked when
//! partial), the foreign keys and the other indexes (by name, columns in order, marked when
//! partial). Column defaults are compared in one spelling (see [`normalise_default`]). sqlx's
//! `_sqlx_migrations` is not ours and is left out. CHECK constraints are not compared: SQLite
//! keeps them only inside the CREATE TABLE text.
//!
//! Type classes. SQLite keeps whatever name a column was declared with; PostgreSQL names its own
//! types (`udt_name`). Both map onto one class:
//!
//! | class       | SQLite declared         | PostgreSQL                    |
//! |-------------|-------------------------|-------------------------------|
//! | `smallint`  | SMALLINT, INT2          | int2                          |
//! | `integer`   | INTEGER, INT, INT4      | int4                          |
//! | `bigint`    | BIGINT, INT8            | int8                          |
//! | `boolean`   | BOOLEAN, BOOL           | bool                          |
//! | `text`      | TEXT, VARCHAR…, CHAR…   | text, varchar, bpchar         |
//! | `blob`      | BLOB, BYTEA             | bytea                         |
//! | `uuid`      | UUID                    | uuid                          |
//! | `json`      | JSON, JSONB             | json, jsonb                   |
//! | `real`      | REAL, DOUBLE…, FLOAT…   | float4, float8                |
//! | `numeric`   | NUMERIC, DECIMAL…       | numeric                       |
//! | `timestamp` | TIMESTAMP…              | timestamp, timestamptz        |
//!
//! anything else is `other(<name>)` and equals only itself. The integer widths stay apart although
//! SQLite stores any integer in up to eight bytes: the migrations spell PostgreSQL's widths on
//! both sides, and the store binds `i32` to INTEGER columns (`lot_moves.seq`,
//! `sms_codes.attempts`) and `i64` to BIGINT ones, which PostgreSQL holds it to.
//!
//! Allowed differences, by rule (see [`same_in_both_dialects`]): SQLite `integer` against
//! PostgreSQL `boolean`, and SQLite `blob` against PostgreSQL `uuid` — SQLite has neither type.
//! Today that is 5 boolean and 70 uuid columns; nothing else differs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use krug::Krug;
use krug_testkit::{Backend, ManualClock, TestDb, backend_test};

use crate::common::start;

/// Tables the tenancy rule does not hold for. None: even `tenants` begins with `tenant_id` and is
/// keyed by it, and `budget_locks` is keyed by it alone. A genuinely global table (one row for
/// the whole deployment) would be named here, with the reason.
const GLOBAL_TABLES: &[&str] = &[];

/// sqlx's record of applied migrations: its own, and shaped differently per backend.
const SQLX_TABLE: &str = "_sqlx_migrations";

/// A backend's schema: table name → its normalised shape.
type Schema = BTreeMap<String, Table>;

#[derive(Debug, Clone, Default, PartialEq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    /// Unique constraints and unique indexes, each as its sorted column set.
    unique: BTreeSet<Key>,
    foreign_keys: BTreeSet<ForeignKey>,
    /// Non-unique indexes by name, columns in index order.
    indexes: BTreeMap<String, Key>,
}

#[derive(Debug, Clone, PartialEq)]
struct Column {
    name: String,
    class: Class,
    not_null: bool,
    default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    SmallInt,
    Integer,
    BigInt,
    Boolean,
    Text,
    Blob,
    Uuid,
    Json,
    Real,
    Numeric,
    Timestamp,
    Other(String),
}

/// Columns of a key or an index; `partial` when it covers only rows matching a WHERE (the
/// predicates themselves are printed differently by each backend, so they are not compared).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    columns: Vec<String>,
    partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    references: Vec<String>,
    on_update: String,
    on_delete: String,
}

impl Table {
    fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The names of the columns `other` has too, in this table's order.
    fn names_also_in(&self, other: &Table) -> Vec<&str> {
        self.columns.iter().filter(|c| other.column(&c.name).is_some()).map(|c| c.name.as_str()).collect()
    }
}

impl Class {
    /// The class of a column SQLite declared as `declared` (its affinity rules, keeping widths).
    fn of_sqlite(declared: &str) -> Class {
        let name = declared.trim().to_ascii_uppercase();
        let base = name.split('(').next().unwrap_or_default().trim();
        match base {
            "SMALLINT" | "INT2" => Class::SmallInt,
            "INTEGER" | "INT" | "INT4" => Class::Integer,
            "BIGINT" | "INT8" => Class::BigInt,
            "BOOLEAN" | "BOOL" => Class::Boolean,
            "TEXT" | "CLOB" => Class::Text,
            "BLOB" | "BYTEA" => Class::Blob,
            "UUID" => Class::Uuid,
            "JSON" | "JSONB" => Class::Json,
            "REAL" | "FLOAT" | "DOUBLE" | "DOUBLE PRECISION" => Class::Real,
            "NUMERIC" | "DECIMAL" => Class::Numeric,
            b if b.contains("CHAR") => Class::Text,
            b if b.starts_with("TIMESTAMP") => Class::Timestamp,
            _ => Class::Other(declared.to_owned()),
        }
    }

    /// The class of a PostgreSQL column of type `udt_name`.
    fn of_postgres(udt_name: &str) -> Class {
        match udt_name {
            "int2" => Class::SmallInt,
            "int4" => Class::Integer,
            "int8" => Class::BigInt,
            "bool" => Class::Boolean,
            "text" | "varchar" | "bpchar" => Class::Text,
            "bytea" => Class::Blob,
            "uuid" => Class::Uuid,
            "json" | "jsonb" => Class::Json,
            "float4" | "float8" => Class::Real,
            "numeric" => Class::Numeric,
            "timestamp" | "timestamptz" => Class::Timestamp,
            other => Class::Other(other.to_owned()),
        }
    }
}

/// Whether a column of class `sqlite` on SQLite and `postgres` on PostgreSQL hold the same values.
/// Besides equal classes, two dialect pairs: SQLite has no boolean type and sqlx binds a `bool`
/// there as INTEGER 0/1 (the store reads it back as `bool` on both), and it has no uuid type and
/// sqlx binds a `Uuid` there as a 16-byte BLOB.
fn same_in_both_dialects(sqlite: &Class, postgres: &Class) -> bool {
    sqlite == postgres || matches!((sqlite, postgres), (Class::Integer, Class::Boolean) | (Class::Blob, Class::Uuid))
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Class::SmallInt => "smallint",
            Class::Integer => "integer",
            Class::BigInt => "bigint",
            Class::Boolean => "boolean",
            Class::Text => "text",
            Class::Blob => "blob",
            Class::Uuid => "uuid",
            Class::Json => "json",
            Class::Real => "real",
            Class::Numeric => "numeric",
            Class::Timestamp => "timestamp",
            Class::Other(name) => return write!(f, "other({name})"),
        };
        f.write_str(name)
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.class, if self.not_null { "NOT NULL" } else { "NULL" })?;
        match &self.default {
            Some(default) => write!(f, " DEFAULT {default}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({})", self.columns.join(", "))?;
        if self.partial { f.write_str(" WHERE …") } else { Ok(()) }
    }
}

impl fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}) → {} ({})", self.columns.join(", "), self.table, self.references.join(", "))?;
        for (event, action) in [("UPDATE", &self.on_update), ("DELETE", &self.on_delete)] {
            if action != "NO ACTION" {
                write!(f, " ON {event} {action}")?;
            }
        }
        Ok(())
    }
}

/// Migrates the (fresh) database through the facade, then reads its schema from the catalogue.
async fn migrated_schema(db: &TestDb) -> Schema {
    let builder = Krug::builder().clock(ManualClock::new(start()));
    let builder = match db.backend() {
        Backend::Sqlite => builder.sqlite(db.url()),
        Backend::Postgres => builder.postgres_with(db.url(), 2),
    };
    let krug = builder.build().await.unwrap();
    krug.close().await;
    let schema = match db.backend() {
        Backend::Sqlite => sqlite_schema(db.url()).await,
        Backend::Postgres => postgres_schema(db.url()).await,
    };
    assert!(schema.contains_key("entries"), "{} schema read back without the ledger: {schema:?}", db.backend());
    schema
}

/// SQLite: `sqlite_master` joined with the `pragma_*` table functions.
async fn sqlite_schema(url: &str) -> Schema {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut schema = Schema::new();

    let columns: Vec<(String, String, String, bool, Option<String>, i64)> = catalogue(
        &pool,
        "SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> $1 \
         ORDER BY m.name, p.cid",
    )
    .await;
    let mut primary: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for (table, name, declared, not_null, default, pk) in columns {
        if pk > 0 {
            primary.entry(table.clone()).or_default().push((pk, name.clone()));
        }
        let default = default.as_deref().map(normalise_default);
        let column = Column { name, class: Class::of_sqlite(&declared), not_null, default };
        schema.entry(table).or_default().columns.push(column);
    }
    for (table, mut key) in primary {
        key.sort();
        schema.entry(table).or_default().primary_key = key.into_iter().map(|(_, name)| name).collect();
    }

    // origin: 'pk' (the primary key's own index: compared as the primary key), 'u' (a UNIQUE
    // constraint), 'c' (CREATE [UNIQUE] INDEX). A NULL column name is an expression.
    let index_columns: Vec<(String, String, bool, String, bool, Option<String>)> = catalogue(
        &pool,
        "SELECT m.name, l.name, l.\"unique\", l.origin, l.partial, i.name \
         FROM sqlite_master m JOIN pragma_index_list(m.name) l JOIN pragma_index_info(l.name) i \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> $1 \
         ORDER BY m.name, l.name, i.seqno",
    )
    .await;
    let index_columns = index_columns
        .into_iter()
        .filter(|(.., origin, _, _)| origin != "pk")
        .map(|(table, index, unique, _, partial, column)| (table, index, unique, partial, column));
    add_indexes(&mut schema, index_columns);

    let fk_columns: Vec<FkRow<i64>> = catalogue(
        &pool,
        "SELECT m.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_update, f.on_delete \
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> $1 \
         ORDER BY m.name, f.id, f.seq",
    )
    .await;
    pool.close().await;
    add_foreign_keys(&mut schema, fk_columns);
    schema
}

/// PostgreSQL: `information_schema` for tables and columns, `pg_constraint` for primary and
/// foreign keys, `pg_index` for unique constraints, unique indexes and the other indexes.
async fn postgres_schema(url: &str) -> Schema {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut schema = Schema::new();

    let columns: Vec<(String, String, String, String, Option<String>)> = catalogue(
        &pool,
        "SELECT c.table_name::text, c.column_name::text, c.udt_name::text, c.is_nullable::text, \
                c.column_default::text \
         FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> $1 \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .await;
    for (table, name, udt_name, nullable, default) in columns {
        let default = default.as_deref().map(normalise_default);
        let column = Column { name, class: Class::of_postgres(&udt_name), not_null: nullable == "NO", default };
        schema.entry(table).or_default().columns.push(column);
    }

    let key_columns: Vec<(String, String)> = catalogue(
        &pool,
        "SELECT t.relname::text, a.attname::text \
         FROM pg_constraint con \
         JOIN pg_class t ON t.oid = con.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE con.contype = 'p' AND n.nspname = current_schema() AND t.relname <> $1 \
         ORDER BY t.relname, k.ord",
    )
    .await;
    for (table, column) in key_columns {
        schema.entry(table).or_default().primary_key.push(column);
    }

    // Key columns only (not INCLUDE ones); attnum 0 is an expression.
    let index_columns: Vec<(String, String, bool, bool, Option<String>)> = catalogue(
        &pool,
        "SELECT t.relname::text, i.relname::text, x.indisunique, x.indpred IS NOT NULL, a.attname::text \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
         LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0 \
         WHERE NOT x.indisprimary AND k.ord <= x.indnkeyatts AND n.nspname = current_schema() AND t.relname <> $1 \
         ORDER BY t.relname, i.relname, k.ord",
    )
    .await;
    add_indexes(&mut schema, index_columns);

    let fk_columns: Vec<(String, String, String, String, String, String, String)> = catalogue(
        &pool,
        "SELECT t.relname::text, con.conname::text, r.relname::text, a.attname::text, ra.attname::text, \
                con.confupdtype::text, con.confdeltype::text \
         FROM pg_constraint con \
         JOIN pg_class t ON t.oid = con.conrelid \
         JOIN pg_class r ON r.oid = con.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refnum, ord) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = k.refnum \
         WHERE con.contype = 'f' AND n.nspname = current_schema() AND t.relname <> $1 \
         ORDER BY t.relname, con.conname, k.ord",
    )
    .await;
    pool.close().await;
    let fk_columns =
        fk_columns.into_iter().map(|(table, constraint, target, column, reference, on_update, on_delete)| {
            (table, constraint, target, column, Some(reference), pg_action(&on_update), pg_action(&on_delete))
        });
    add_foreign_keys(&mut schema, fk_columns);
    schema
}

/// Runs one catalogue query, whose `$1` is sqlx's own table (left out everywhere).
async fn catalogue<DB, T>(pool: &sqlx::Pool<DB>, sql: &'static str) -> Vec<T>
where
    DB: sqlx::Database,
    T: for<'r> sqlx::FromRow<'r, DB::Row> + Send + Unpin,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    sqlx::query_as(sql).bind(SQLX_TABLE).fetch_all(pool).await.unwrap()
}

/// A column default in one spelling: outer parentheses and PostgreSQL's trailing cast
/// (`'x'::text`) dropped, and booleans as SQLite stores them (`TRUE` → `1`, `FALSE` → `0`).
fn normalise_default(raw: &str) -> String {
    let mut s = raw.trim();
    while let Some(inner) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        s = inner.trim();
    }
    if let Some((value, _cast)) = s.rsplit_once("::").filter(|(_, cast)| !cast.contains('\'')) {
        s = value.trim();
    }
    match s.to_ascii_lowercase().as_str() {
        "true" => "1".to_owned(),
        "false" => "0".to_owned(),
        _ => s.to_owned(),
    }
}

/// `pg_constraint.conf{upd,del}type` in the words SQLite's `pragma_foreign_key_list` uses.
fn pg_action(code: &str) -> String {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        other => other,
    }
    .to_owned()
}

/// Files index columns, rows of `(table, index, unique, partial, column)` in index order (`None`
/// for an expression), as unique keys (columns as a set: a UNIQUE constraint's index name is the
/// backend's own) or as named indexes.
fn add_indexes(schema: &mut Schema, rows: impl IntoIterator<Item = (String, String, bool, bool, Option<String>)>) {
    let mut indexes: BTreeMap<(String, String), (bool, Key)> = BTreeMap::new();
    for (table, index, unique, partial, column) in rows {
        let entry = indexes.entry((table, index)).or_insert_with(|| (unique, Key { columns: Vec::new(), partial }));
        entry.1.columns.push(column.unwrap_or_else(|| "<expression>".to_owned()));
    }
    for ((table, name), (unique, mut key)) in indexes {
        let table = schema.entry(table).or_default();
        if unique {
            key.columns.sort();
            table.unique.insert(key);
        } else {
            table.indexes.insert(name, key);
        }
    }
}

/// One column of a foreign key: `(table, constraint, referenced table, column, referenced column,
/// on update, on delete)`. A `None` referenced column (SQLite, when the reference names only the
/// table) means the referenced table's primary key.
type FkRow<K> = (String, K, String, String, Option<String>, String, String);

/// Files foreign-key columns, given in key order (primary keys must be read before).
fn add_foreign_keys<K: Ord>(schema: &mut Schema, rows: impl IntoIterator<Item = FkRow<K>>) {
    let mut fks: BTreeMap<(String, K), ForeignKey> = BTreeMap::new();
    for (table, constraint, target, column, reference, on_update, on_delete) in rows {
        let fk = fks.entry((table, constraint)).or_insert_with(|| ForeignKey {
            columns: Vec::new(),
            table: target,
            references: Vec::new(),
            on_update,
            on_delete,
        });
        fk.columns.push(column);
        fk.references.extend(reference);
    }
    for ((table, _), mut fk) in fks {
        if fk.references.is_empty() {
            fk.references = schema.get(&fk.table).map(|t| t.primary_key.clone()).unwrap_or_default();
        }
        schema.entry(table).or_default().foreign_keys.insert(fk);
    }
}

/// Every difference between the two schemas, one block per table, readable as a failure message.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let names: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    let mut out = Vec::new();
    for name in names {
        match (sqlite.get(name), postgres.get(name)) {
            (Some(s), Some(p)) => {
                let lines = table_differences(s, p);
                if !lines.is_empty() {
                    out.push(format!("table {name}:\n  {}", lines.join("\n  ")));
                }
            }
            (Some(_), None) => out.push(format!("table {name}: only on sqlite")),
            (None, _) => out.push(format!("table {name}: only on postgres")),
        }
    }
    out
}

fn table_differences(s: &Table, p: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for sc in &s.columns {
        match p.column(&sc.name) {
            None => out.push(format!("column {} only on sqlite: {sc}", sc.name)),
            Some(pc)
                if !same_in_both_dialects(&sc.class, &pc.class)
                    || (sc.not_null, &sc.default) != (pc.not_null, &pc.default) =>
            {
                out.push(format!("column {}: sqlite {sc}, postgres {pc}", sc.name));
            }
            Some(_) => {}
        }
    }
    for pc in p.columns.iter().filter(|pc| s.column(&pc.name).is_none()) {
        out.push(format!("column {} only on postgres: {pc}", pc.name));
    }
    let (s_order, p_order) = (s.names_also_in(p), p.names_also_in(s));
    if s_order != p_order {
        out.push(format!("column order: sqlite ({}), postgres ({})", s_order.join(", "), p_order.join(", ")));
    }
    if s.primary_key != p.primary_key {
        out.push(format!(
            "primary key: sqlite ({}), postgres ({})",
            s.primary_key.join(", "),
            p.primary_key.join(", ")
        ));
    }
    only_on_one_side("unique key", &s.unique, &p.unique, &mut out);
    only_on_one_side("foreign key", &s.foreign_keys, &p.foreign_keys, &mut out);
    let index_names: BTreeSet<&String> = s.indexes.keys().chain(p.indexes.keys()).collect();
    for name in index_names {
        let (si, pi) = (s.indexes.get(name), p.indexes.get(name));
        if si != pi {
            let show = |k: Option<&Key>| k.map_or_else(|| "none".to_owned(), Key::to_string);
            out.push(format!("index {name}: sqlite {}, postgres {}", show(si), show(pi)));
        }
    }
    out
}

fn only_on_one_side<T: Ord + fmt::Display>(what: &str, s: &BTreeSet<T>, p: &BTreeSet<T>, out: &mut Vec<String>) {
    out.extend(s.difference(p).map(|k| format!("{what} only on sqlite: {k}")));
    out.extend(p.difference(s).map(|k| format!("{what} only on postgres: {k}")));
}

/// Where a table breaks the tenancy rule: `tenant_id` first, the primary key starting with it,
/// every unique key including it, every foreign key carrying it to the referenced `tenant_id`.
fn tenancy_violations(schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for (name, table) in schema.iter().filter(|(name, _)| !GLOBAL_TABLES.contains(&name.as_str())) {
        let mut problems = Vec::new();
        if table.columns.first().map(|c| c.name.as_str()) != Some("tenant_id") {
            problems.push("its first column is not tenant_id".to_owned());
        }
        if table.primary_key.first().map(String::as_str) != Some("tenant_id") {
            problems.push(format!("primary key ({}) does not start with tenant_id", table.primary_key.join(", ")));
        }
        for key in table.unique.iter().filter(|k| !k.columns.iter().any(|c| c == "tenant_id")) {
            problems.push(format!("unique key {key} lacks tenant_id"));
        }
        for fk in &table.foreign_keys {
            let carried = fk.columns.iter().zip(&fk.references).any(|(c, r)| c == "tenant_id" && r == "tenant_id");
            if !carried {
                problems.push(format!("foreign key {fk} does not carry tenant_id"));
            }
        }
        if !problems.is_empty() {
            out.push(format!("table {name}: {}", problems.join("; ")));
        }
    }
    for global in GLOBAL_TABLES.iter().filter(|g| !schema.contains_key(**g)) {
        out.push(format!("GLOBAL_TABLES names {global}, which the schema does not have"));
    }
    out
}

/// Migrating a fresh SQLite and a fresh PostgreSQL database gives the same tables with the same
/// columns, types, nullability, primary, unique and foreign keys and indexes.
#[tokio::test]
async fn sqlite_and_postgres_migrations_build_the_same_schema() {
    let Some(pg) = TestDb::postgres() else { return };
    let sqlite = migrated_schema(&TestDb::sqlite()).await;
    let postgres = migrated_schema(&pg).await;
    let differences = differences(&sqlite, &postgres);
    assert!(
        differences.is_empty(),
        "the SQLite and PostgreSQL migrations disagree (fix with a new migration, never an applied one):\n{}",
        differences.join("\n")
    );
}

/// The comparison sees what it is meant to: a changed type, a dropped NOT NULL, a lost default, a
/// lost foreign key, a missing index, column and table each show up, under their table.
#[tokio::test]
async fn a_schema_difference_is_reported_under_its_table() {
    let sqlite = migrated_schema(&TestDb::sqlite()).await;
    let mut other = sqlite.clone();
    let purchases = other.get_mut("purchases").unwrap();
    purchases.columns[6].class = Class::Integer;
    purchases.columns[7].not_null = false;
    purchases.columns[9].default = None;
    purchases.foreign_keys.pop_first();
    purchases.indexes.remove("purchases_member_at");
    other.remove("qr_uses");
    other.get_mut("audit_log").unwrap().columns.pop();

    let report = differences(&sqlite, &other).join("\n");
    for expected in [
        "table purchases:\n  column amount: sqlite bigint NOT NULL, postgres integer NOT NULL",
        "column redeemed: sqlite bigint NOT NULL, postgres bigint NULL",
        "column refunded: sqlite bigint NOT NULL DEFAULT 0, postgres bigint NOT NULL",
        "foreign key only on sqlite: (tenant_id, business_id) → businesses (tenant_id, business_id)",
        "index purchases_member_at: sqlite (tenant_id, member_id, purchased_at), postgres none",
        "table qr_uses: only on sqlite",
        "table audit_log:\n  column client_addr only on sqlite: text NULL",
    ] {
        assert!(report.contains(expected), "missing `{expected}` in:\n{report}");
    }
    assert!(differences(&sqlite, &sqlite).is_empty());
}

backend_test!(
    /// DESIGN §2: every table but the listed global ones begins with `tenant_id`, its primary key
    /// starts with it, and its unique and foreign keys include it.
    async fn every_table_begins_with_tenant_id_and_is_keyed_by_it(db: TestDb) {
        let schema = migrated_schema(&db).await;
        let violations = tenancy_violations(&schema);
        assert!(violations.is_empty(), "tenancy rule broken on {}:\n{}", db.backend(), violations.join("\n"));
    }
);
