//! `Krug`, the facade integrators use: it composes the pure engines with the store, the clock and
//! the id generator. Each command loads state, asks the engines for a decision, and commits the
//! decision in one transaction together with its idempotency record.

mod budget;
mod chain_analytics;
mod chains;
mod commands;
mod coupon_types;
mod coupons;
mod events;
mod identity;
mod ledger;
mod members;
mod offer_runs;
mod offers;
mod proposals;
mod purchases;
mod scan;
mod sessions;
mod view_types;
mod views;

pub use budget::{BudgetSummary, ContributionStatement, EventFunding, EventFundsLine, budget_ledger_csv};
pub use chain_analytics::{ChainAnalytics, MIN_MEDICAL_GROUP, PartnerStats, StepStats, chain_analytics_csv};
pub use chains::{
    ChainActor, ChainPartner, ChainRewardPaid, ChainStatus, ChainStepMade, ChainView, MemberChain, WaitingCoupon,
};
pub use commands::{
    Adjust, AdjustmentReceipt, AuditRecord, BudgetReport, ExpiryReport, HistoryItem, HistoryPage, MemberProfile,
    Receipt, RecordPurchase, RefundPurchase, RefundReceipt, RegisterMember, SettlementLine, StatusView,
};
pub use coupon_types::{
    AppliedCoupon, CouponAuthor, CouponPreview, CouponTemplateView, IssuedBatch, IssuedCoupon, MemberCoupon,
    MemberCouponStatus, NewPromoCode, PreviewCoupon,
};
pub use coupons::MAX_BULK;
pub use events::{EventActor, NewEvent, RegisterForEvent};
pub use identity::{hash_secret, verify_secret};
pub use offer_runs::{AppliedOffer, BacktestDay, BacktestProgress, BacktestReport};
pub use offers::{Badge, DryRun, DryRunOutcome, OfferDayStats, OfferDraft, OfferStatus, OfferVersionView, OfferView};
pub use proposals::{Moderation, NewProposal};
pub use scan::{QrProvisioning, Scan};
pub use sessions::Session;
pub use view_types::{
    BusinessClient, CatalogueEntry, ClientQuery, Page, PageItem, PurchaseQuery, PurchaseRecord, TenantSummary,
    TierInfo, clients_csv, purchases_csv,
};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::pii::KeyRing;
use crate::store::{Db, SqliteDurability, StoreError, TenantTx, WriteLimits};
use crate::tenant::TenantConfig;
use crate::types::{Clock, IdGen, SystemClock, TenantId, UuidV7};

/// A tenant as the facade holds it: its validated configuration, its personal-data keys, and
/// whether it is suspended (mirrors `tenants.suspended`; loaded when the tenant is applied and
/// flipped by `suspend_tenant`/`resume_tenant` after their commit).
struct Tenant {
    config: Arc<TenantConfig>,
    keys: Arc<KeyRing>,
    suspended: AtomicBool,
}

struct Inner {
    db: Db,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    tenants: RwLock<HashMap<TenantId, Arc<Tenant>>>,
    /// Serialises applying, suspending and resuming tenants, so the in-memory suspension flag
    /// always ends equal to what the last of them committed.
    admin: tokio::sync::Mutex<()>,
    /// Offer engines and compiled offer scripts.
    offers: offers::OfferCache,
}

/// The Krug SDK handle. Cheap to clone; share one per process.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use krug::pii::{KeyId, KeyRing};
/// use krug::tenant::TenantConfig;
/// use krug::types::{Bonus, BusinessId, Kopecks, Phone};
/// use krug::{Krug, RecordPurchase, RegisterMember};
///
/// let config = TenantConfig::load_dir("tenants/svoy-krug".as_ref())?;
/// let tenant = config.id.clone();
/// let keys = KeyRing::generate(KeyId::parse("k1")?);
/// let krug = Krug::builder().sqlite("sqlite://krug.db?mode=rwc").tenant(config, keys).build().await?;
///
/// let anna = krug.register_member(&tenant, RegisterMember::phone(Phone::parse("8 (912) 345-67-89")?)).await?;
/// let purchase = RecordPurchase::new(anna, BusinessId::parse("skinerica")?, Kopecks::rubles(1_500)?, "R-1");
/// let receipt = krug.record_purchase(&tenant, purchase.redeem(Bonus::ZERO)).await?;
/// println!("cashback {} at {:?}", receipt.cashback, receipt.tier_after);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Krug {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Krug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Krug").finish_non_exhaustive()
    }
}

enum Backend {
    Sqlite(String, SqliteDurability),
    Postgres(String, u32),
}

/// Builds a [`Krug`]: choose a store, optionally a clock and an id generator, and the tenants.
#[must_use]
pub struct KrugBuilder {
    backend: Option<Backend>,
    limits: WriteLimits,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGen>,
    tenants: Vec<(TenantConfig, KeyRing)>,
}

impl Krug {
    /// Starts building a handle.
    pub fn builder() -> KrugBuilder {
        KrugBuilder {
            backend: None,
            limits: WriteLimits::default(),
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7),
            tenants: Vec::new(),
        }
    }
}

impl KrugBuilder {
    /// Use SQLite at `url` (e.g. `sqlite://./krug-data/krug.db?mode=rwc`), WAL, `synchronous=FULL`.
    pub fn sqlite(mut self, url: &str) -> Self {
        self.backend = Some(Backend::Sqlite(url.to_owned(), SqliteDurability::Full));
        self
    }

    /// Use SQLite with the given durability (see [`SqliteDurability`]).
    pub fn sqlite_with(mut self, url: &str, durability: SqliteDurability) -> Self {
        self.backend = Some(Backend::Sqlite(url.to_owned(), durability));
        self
    }

    /// Use PostgreSQL at `url`, with a pool of up to 16 connections.
    pub fn postgres(mut self, url: &str) -> Self {
        self.backend = Some(Backend::Postgres(url.to_owned(), 16));
        self
    }

    /// Use PostgreSQL at `url` with a pool of up to `max_connections`.
    pub fn postgres_with(mut self, url: &str, max_connections: u32) -> Self {
        self.backend = Some(Backend::Postgres(url.to_owned(), max_connections));
        self
    }

    /// How long a write may wait for the store before it is refused with
    /// [`StoreError::Busy`] (nothing written; the caller retries after its `retry_after`):
    /// on SQLite the wait for the single writer, on PostgreSQL for a pool connection — the pool's
    /// acquire timeout, which also bounds opening a connection. Default
    /// [`DEFAULT_WRITE_WAIT_BUDGET`](crate::DEFAULT_WRITE_WAIT_BUDGET) (2 s). Zero never waits
    /// for SQLite's writer, but takes it when it is free.
    pub fn write_wait_budget(mut self, budget: std::time::Duration) -> Self {
        self.limits.wait_budget = budget;
        self
    }

    /// The longest a SQLite group-commit batch stays open: a write transaction finishing after it
    /// commits the batch even when more writers are queued to join (none is acknowledged before
    /// that commit is durable). Longer shares each fsync among more writes; shorter bounds how
    /// long an acknowledgement waits for company. Default
    /// [`DEFAULT_SQLITE_BATCH_MAX_AGE`](crate::DEFAULT_SQLITE_BATCH_MAX_AGE) (5 ms); zero commits
    /// every write transaction on its own.
    pub fn sqlite_batch_max_age(mut self, age: std::time::Duration) -> Self {
        self.limits.batch_max_age = age;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The id generator (default: UUIDv7).
    pub fn ids(mut self, ids: impl IdGen) -> Self {
        self.ids = Arc::new(ids);
        self
    }

    /// Hosts a tenant with its personal-data keys; its configuration is applied to the store at
    /// build (idempotently).
    pub fn tenant(mut self, config: TenantConfig, keys: KeyRing) -> Self {
        self.tenants.push((config, keys));
        self
    }

    /// Connects, migrates the store and applies the tenants.
    pub async fn build(self) -> Result<Krug> {
        let db = match self.backend {
            Some(Backend::Sqlite(url, durability)) => Db::open_sqlite(&url, durability, self.limits).await?,
            Some(Backend::Postgres(url, max)) => Db::open_postgres(&url, max, self.limits).await?,
            None => {
                return Err(Error::InvalidInput {
                    field: "store",
                    message: "choose a store: .sqlite(url) or .postgres(url)".into(),
                });
            }
        };
        let krug = Krug {
            inner: Arc::new(Inner {
                db,
                clock: self.clock,
                ids: self.ids,
                tenants: RwLock::new(HashMap::new()),
                admin: tokio::sync::Mutex::new(()),
                offers: offers::OfferCache::new(),
            }),
        };
        for (config, keys) in self.tenants {
            krug.apply_tenant(config, keys).await?;
        }
        Ok(krug)
    }
}

impl Krug {
    /// Applies a tenant's configuration to the store (idempotent) and hosts it with its keys.
    /// A configuration change takes effect for every command that starts after this returns.
    /// A suspended tenant stays suspended: the flag is the store's, not the configuration's.
    pub async fn apply_tenant(&self, config: TenantConfig, keys: KeyRing) -> Result<()> {
        self.host(config, Arc::new(keys)).await
    }

    async fn host(&self, config: TenantConfig, keys: Arc<KeyRing>) -> Result<()> {
        let _admin = self.inner.admin.lock().await;
        let source = config.source.clone();
        let hash = hex(&Sha256::digest(source.as_bytes()));
        let mut tx = self.inner.db.begin(&config.id).await?;
        tx.apply_tenant(&config, &source, &hash, self.now()).await?;
        let suspended = tx.tenant_suspended().await?;
        tx.commit().await?;
        let tenant = Arc::new(Tenant { config: Arc::new(config), keys, suspended: AtomicBool::new(suspended) });
        let mut tenants = self.inner.tenants.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants.insert(tenant.config.id.clone(), tenant);
        Ok(())
    }

    /// Applies a new configuration to a hosted tenant, keeping its personal-data keys. The new
    /// configuration must be for the same tenant id.
    pub async fn update_tenant_config(&self, config: TenantConfig) -> Result<()> {
        let keys = self.hosted(&config.id)?.keys.clone();
        self.host(config, keys).await
    }

    /// Every tenant configuration the store holds, as `(id, TOML source)`: what an appliance
    /// re-hosts at start-up (with each tenant's keys from its own key store). Reads across
    /// tenants by design; nothing else but the superadmin's tenant list does.
    pub async fn stored_tenant_configs(&self) -> Result<Vec<(TenantId, String)>> {
        let rows = self.inner.db.stored_tenant_sources().await?;
        rows.into_iter()
            .map(|(id, source)| {
                let id =
                    TenantId::parse(&id).map_err(|e| Error::Store(StoreError::Corrupt(format!("tenant id: {e}"))))?;
                Ok((id, source))
            })
            .collect()
    }

    /// The configuration of a hosted tenant.
    pub fn tenant_config(&self, tenant: &TenantId) -> Result<Arc<TenantConfig>> {
        Ok(self.tenant(tenant)?.config.clone())
    }

    /// Whether the store answers (for readiness probes).
    pub async fn ping(&self) -> Result<()> {
        Ok(self.inner.db.ping().await?)
    }

    /// What the embedded SQLite store's writer has done (group commits and the write
    /// transactions in them); `None` on PostgreSQL, which batches commits by itself.
    pub fn write_stats(&self) -> Option<crate::store::WriteStats> {
        self.inner.db.write_stats()
    }

    /// Closes the store's connections; in-flight commands finish first.
    pub async fn close(&self) {
        self.inner.db.close().await;
    }

    /// The hosted tenant a command runs on: every facade command resolves its tenant here, so a
    /// suspended tenant is refused ([`Error::TenantSuspended`]) before anything is read or written.
    fn tenant(&self, id: &TenantId) -> Result<Arc<Tenant>> {
        let tenant = self.hosted(id)?;
        if tenant.suspended.load(Ordering::Acquire) {
            return Err(Error::TenantSuspended(id.clone()));
        }
        Ok(tenant)
    }

    /// The hosted tenant whether or not it is suspended (tenant administration only).
    fn hosted(&self, id: &TenantId) -> Result<Arc<Tenant>> {
        let tenants = self.inner.tenants.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        tenants.get(id).cloned().ok_or_else(|| Error::UnknownTenant(id.clone()))
    }

    fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    async fn begin(&self, tenant: &TenantId) -> Result<TenantTx> {
        Ok(self.inner.db.begin(tenant).await?)
    }

    async fn read(&self, tenant: &TenantId) -> Result<TenantTx> {
        Ok(self.inner.db.read(tenant).await?)
    }

    /// See `Db::lookup`: on SQLite, reads outside any transaction and beside the writer;
    /// `None` on PostgreSQL (read inside the write transaction instead).
    async fn lookup(&self, tenant: &TenantId) -> Result<Option<TenantTx>> {
        Ok(self.inner.db.lookup(tenant).await?)
    }
}

/// SHA-256 of a command's canonical JSON: what "the same request" means for idempotency.
fn request_hash<T: serde::Serialize>(request: &T) -> Result<String> {
    let json = serde_json::to_vec(request)
        .map_err(|e| Error::InvalidInput { field: "request", message: format!("cannot be encoded: {e}") })?;
    Ok(hex(&Sha256::digest(&json)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Outcome of looking up an idempotency key.
enum Replay<T> {
    /// The key is new.
    Fresh,
    /// The same request ran before: here is its result.
    Done(T),
}

/// Looks up `key` in `scope`: a stored result for the same request is returned, a stored result
/// for a different request is a conflict.
async fn replay<T: serde::de::DeserializeOwned>(
    tx: &mut TenantTx,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Replay<T>> {
    match tx.idempotent(scope, key).await? {
        None => Ok(Replay::Fresh),
        Some((stored_hash, _)) if stored_hash != hash => Err(Error::IdempotencyConflict { key: key.to_owned() }),
        Some((_, response)) => serde_json::from_str(&response)
            .map(Replay::Done)
            .map_err(|e| Error::Store(StoreError::Corrupt(format!("stored response: {e}")))),
    }
}

/// Whether a failed write lost a race to a concurrent one and is worth one more try: on a unique
/// key (the other writer's result can then be replayed), or to PostgreSQL breaking a deadlock
/// between them (nothing of it was written).
fn lost_race(err: &Error) -> bool {
    matches!(err, Error::Store(StoreError::Conflict { .. } | StoreError::Contention(_)))
}
