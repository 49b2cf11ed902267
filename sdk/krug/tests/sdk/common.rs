//! Shared set-up: a `Krug` over the test database with both fixture tenants, a manual clock, and
//! small helpers. Raw SQL here is for assertions only ("nothing was written", "no plaintext").

use krug::pii::KeyRing;
use krug::tenant::TenantConfig;
use krug::types::{Bonus, BusinessId, Kopecks, MemberId, Phone, TenantId};
use krug::{Krug, Receipt, RecordPurchase, RegisterMember};
use krug_testkit::{Backend, ManualClock, TestDb, tenants};
use time::OffsetDateTime;

/// A fixed key ring so a test can rebuild the handle over the same database.
pub const KEYS_V1: &str = r#"
active = "k1"
index_key = "aW5kZXgta2V5LWluZGV4LWtleS1pbmRleC1rZXktMzI="
[keys]
k1 = "ZGF0YS1rZXktb25lLWRhdGEta2V5LW9uZS0zMmJ5dGU="
"#;

/// The same ring after rotating to `k2` (k1 kept for reading).
pub const KEYS_V2: &str = r#"
active = "k2"
index_key = "aW5kZXgta2V5LWluZGV4LWtleS1pbmRleC1rZXktMzI="
[keys]
k1 = "ZGF0YS1rZXktb25lLWRhdGEta2V5LW9uZS0zMmJ5dGU="
k2 = "ZGF0YS1rZXktdHdvLWRhdGEta2V5LXR3by0zMmJ5dGU="
"#;

pub struct Env {
    pub krug: Krug,
    pub clock: ManualClock,
    pub db: TestDb,
    /// svoy-krug: the launch tenant.
    pub tenant: TenantId,
    /// zelenyi-kvartal: the deliberately different fixture tenant.
    pub other: TenantId,
}

pub fn start() -> OffsetDateTime {
    time::macros::datetime!(2026-03-02 09:00 UTC)
}

pub async fn env(db: TestDb) -> Env {
    env_with(db, ManualClock::new(start()), KEYS_V1, tenants::svoy_krug()).await
}

pub async fn env_with(db: TestDb, clock: ManualClock, keys: &str, config: TenantConfig) -> Env {
    let krug = connect(&db, clock.clone(), keys, config).await;
    Env { krug, clock, db, tenant: tid("svoy-krug"), other: tid("zelenyi-kvartal") }
}

pub async fn connect(db: &TestDb, clock: ManualClock, keys: &str, config: TenantConfig) -> Krug {
    let builder = Krug::builder().clock(clock);
    let builder = match db.backend() {
        Backend::Sqlite => builder.sqlite(db.url()),
        Backend::Postgres => builder.postgres_with(db.url(), 8),
    };
    builder
        .tenant(config, KeyRing::from_toml_str(keys).unwrap())
        .tenant(tenants::other_tenant(), KeyRing::from_toml_str(keys).unwrap())
        .build()
        .await
        .unwrap()
}

pub fn tid(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

pub fn biz(s: &str) -> BusinessId {
    BusinessId::parse(s).unwrap()
}

pub fn rub(r: i64) -> Kopecks {
    Kopecks::rubles(r).unwrap()
}

pub fn bonus(k: i64) -> Bonus {
    Bonus::new(k).unwrap()
}

/// A distinct valid phone per `n`.
pub fn phone(n: u32) -> Phone {
    Phone::parse(&format!("+7 900 {:03} {:02} {:02}", n / 10_000, (n / 100) % 100, n % 100)).unwrap()
}

impl Env {
    pub async fn member(&self, n: u32) -> MemberId {
        self.krug.register_member(&self.tenant, RegisterMember::phone(phone(n))).await.unwrap()
    }

    pub async fn buy(&self, member: MemberId, business: &str, rubles: i64, receipt: &str) -> Receipt {
        self.krug
            .record_purchase(&self.tenant, RecordPurchase::new(member, biz(business), rub(rubles), receipt))
            .await
            .unwrap()
    }

    /// Records the member's consent to medical disclosure (needed before a clinic purchase).
    pub async fn medical_consent(&self, member: MemberId) {
        self.medical_consent_in(&self.tenant, member).await;
    }

    /// The same, in another tenant.
    pub async fn medical_consent_in(&self, tenant: &TenantId, member: MemberId) {
        let grant = krug::GrantConsent {
            kind: krug::ConsentKind::MedicalDisclosure,
            text_version: "medical-v1".into(),
            text_sha256: "0".repeat(64),
            channel: "app".into(),
        };
        self.krug.grant_consent(tenant, member, grant).await.unwrap();
    }

    pub fn days(&self, n: i64) {
        self.clock.advance(time::Duration::days(n));
    }

    /// Row counts of every table a command can write, for "nothing was written" checks (one
    /// query, so property tests can call it after every command).
    pub async fn counts(&self) -> Vec<(&'static str, i64)> {
        const TABLES: [&str; 9] = [
            "members",
            "accounts",
            "purchases",
            "lots",
            "entries",
            "lot_moves",
            "budget_entries",
            "idempotency",
            "audit_log",
        ];
        let select: Vec<String> = TABLES.iter().map(|t| format!("(SELECT COUNT(*) FROM {t})")).collect();
        // Σ of lot remaining amounts and entry amounts too: an update that changes no row count
        // (a lot drawn down) must also show.
        let sql = format!(
            "SELECT {} || ',' || (SELECT COALESCE(SUM(remaining), 0) FROM lots) || ',' || (SELECT COALESCE(SUM(amount), 0) FROM entries)",
            select.join(" || ',' || ")
        );
        let row = scalar_text(&self.db, &sql).await;
        let values: Vec<i64> = row.split(',').map(|v| v.parse().unwrap()).collect();
        TABLES.iter().copied().chain(["Σ lots.remaining", "Σ entries.amount"]).zip(values).collect()
    }
}

/// Runs one assertion query returning a single text value.
pub async fn scalar_text(db: &TestDb, sql: &str) -> String {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
            let v: String = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            v
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            let v: String = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            v
        }
    }
}

/// Runs one assertion query returning a single integer.
pub async fn scalar_i64(db: &TestDb, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
            let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            v
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            let v: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            v
        }
    }
}

/// Every byte of every column of `table`, each row rendered as one byte string, for scanning a
/// raw dump for plaintext.
pub async fn dump(db: &TestDb, table: &str) -> Vec<Vec<u8>> {
    use sqlx::{Column, Row, ValueRef};
    let sql = sqlx::AssertSqlSafe(format!("SELECT * FROM {table}"));
    match db.backend() {
        Backend::Sqlite => {
            let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
            let rows = sqlx::query(sql).fetch_all(&pool).await.unwrap();
            let out = rows
                .iter()
                .map(|r| {
                    let mut bytes = Vec::new();
                    for c in r.columns() {
                        let raw = r.try_get_raw(c.ordinal()).unwrap();
                        if raw.is_null() {
                            continue;
                        }
                        if let Ok(b) = r.try_get::<Vec<u8>, _>(c.ordinal()) {
                            bytes.extend(b);
                        } else if let Ok(s) = r.try_get::<String, _>(c.ordinal()) {
                            bytes.extend(s.into_bytes());
                        } else if let Ok(i) = r.try_get::<i64, _>(c.ordinal()) {
                            bytes.extend(i.to_string().into_bytes());
                        }
                        bytes.push(0);
                    }
                    bytes
                })
                .collect();
            pool.close().await;
            out
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
            // Cast every column to text: bytea renders as hex, so compare against both forms.
            let rows: Vec<(String,)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT CAST(t AS TEXT) FROM {table} t")))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            pool.close().await;
            rows.into_iter().map(|(s,)| s.into_bytes()).collect()
        }
    }
}
