//! The SDK end to end: `record_purchase` and `scan` through the store, each beside the floor of
//! the same store measured in the same run, first one task at a time (latency), then N tasks flat
//! out (throughput: what SQLite's single writer and PostgreSQL's concurrency give). On SQLite each
//! throughput run with N tasks is also set beside the group-commit floor of N inserts per `COMMIT`,
//! and every row carries the writer's time per operation (its turn and its share of the `COMMIT`s,
//! from `Krug::write_stats`).
//!
//! Members are prepared first: registered, with the medical-disclosure consent (scans go to the
//! clinic partners too), a QR secret, and three purchases 40 days ago (so they hold available
//! bonuses to redeem). The SDK runs on a [`ShiftedClock`]: when every
//! member has used the current 30 s step, the clock moves on a step instead of the bench
//! waiting for it — the server's work per scan is the same.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use krug::pii::{KeyId, KeyRing};
use krug::qr::{self, QrSecret};
use krug::types::{Bonus, BusinessId, Clock as _, Kopecks, Phone, TenantId};
use krug::{Krug, RecordPurchase, RegisterMember, Scan};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::Result;
use crate::clock::ShiftedClock;
use crate::codes::{CodePool, PoolMember};
use crate::floor::Floor;
use crate::report::{Recorder, Row, Summary, WriterTime, WriterTotals};
use crate::target::{Target, nanos_now};

/// What the store bench does.
#[derive(Debug, Clone)]
pub struct StoreOpts {
    /// Members prepared (each scanned at most once per 30 s step).
    pub members: usize,
    /// Seconds per measurement.
    pub secs: f64,
    /// Task counts of the throughput runs.
    pub tasks: Vec<u32>,
    /// The tenant folder (svoy-krug).
    pub tenant_dir: PathBuf,
    /// The first member number of the prepared members (their phones continue from it), so the
    /// bench can run on a seeded store without meeting the seeded members' phones.
    pub first_member: u64,
    /// The tenant keys (an existing store's data folder); `None` generates fresh ones.
    pub data_dir: Option<PathBuf>,
    /// The SQLite group commit's max age; `None` keeps the SDK's default.
    pub batch_max_age: Option<Duration>,
}

/// Everything a measurement needs.
struct Bench {
    krug: Krug,
    tenant: TenantId,
    clock: ShiftedClock,
    businesses: Vec<BusinessId>,
    pool: CodePool,
    /// Serialises moving the clock on, so concurrent tasks that find the pool spent move it once.
    step_guard: std::sync::Mutex<()>,
    run: u64,
    /// Receipt ids are `b<run>-<seq>`: unique across every measurement of the run.
    seq: std::sync::atomic::AtomicU64,
}

/// Runs the store bench on `target` and returns its rows.
pub async fn run(target: &Target, opts: &StoreOpts) -> Result<Vec<Row>> {
    let config = crate::load_tenant(&opts.tenant_dir)?;
    let tenant = config.id.clone();
    let businesses: Vec<BusinessId> = config.businesses.iter().map(|b| b.id.clone()).collect();
    let clock = ShiftedClock::new();
    let max_tasks = opts.tasks.iter().copied().max().unwrap_or(1).max(1);
    let keys = match &opts.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir.join("keys"))?;
            krug_appliance::app::tenant_keys(dir, &config).map_err(|e| e.to_string())?
        }
        None => KeyRing::generate(KeyId::parse("k1")?),
    };
    let mut builder = target.builder(max_tasks.max(16));
    if let Some(age) = opts.batch_max_age {
        builder = builder.sqlite_batch_max_age(age);
    }
    let krug = builder.clock(clock.clone()).tenant(config, keys).build().await?;
    eprintln!("[{}] preparing {} members …", target.kind.label(), opts.members);
    let began = Instant::now();
    let pool = prepare(&krug, &tenant, &clock, &businesses, opts.members, opts.first_member).await?;
    eprintln!("[{}] prepared in {:.1} s", target.kind.label(), began.elapsed().as_secs_f64());
    let bench = Arc::new(Bench {
        krug,
        tenant,
        clock,
        businesses,
        pool,
        step_guard: std::sync::Mutex::new(()),
        run: nanos_now(),
        seq: std::sync::atomic::AtomicU64::new(0),
    });
    let floor = Arc::new(Floor::open(target, max_tasks.max(16)).await?);
    let secs = Duration::from_secs_f64(opts.secs);
    let store = target.kind.label();
    let note = format!("{} members", opts.members);
    let totals = || bench.krug.write_stats().map(WriterTotals::from);
    let row = |op: &str, tasks: u32, summary: Summary, floor: &Summary, before: Option<WriterTotals>| Row {
        suite: "sdk".into(),
        store: store.into(),
        op: op.into(),
        tasks,
        writer: WriterTime::between(before, totals(), summary.ok),
        summary,
        floor: floor.clone(),
        group_floor: None,
        note: note.clone(),
    };
    let mut rows = Vec::new();

    // Warm-up: caches, prepared statements, the WAL.
    bench.measure(Op::RecordPurchase, 1, Duration::from_millis(500)).await?;
    bench.measure(Op::Scan, 1, Duration::from_millis(500)).await?;

    let floor1 = floor.measure(1, secs).await?;
    eprintln!("[{store}] floor ×1: p50 {} µs, {:.0} tx/s", floor1.p50_us, floor1.rate);
    let before = totals();
    let rp = bench.measure(Op::RecordPurchase, 1, secs).await?;
    rows.push(row("record_purchase", 1, rp, &floor1, before));
    let before = totals();
    let sc = bench.measure(Op::Scan, 1, secs).await?;
    rows.push(row("scan", 1, sc, &floor1, before));
    for &tasks in opts.tasks.iter().filter(|&&t| t > 1) {
        let f = floor.measure(tasks, secs).await?;
        eprintln!("[{store}] floor ×{tasks}: p50 {} µs, {:.0} tx/s", f.p50_us, f.rate);
        let group = floor.measure_group(tasks, secs).await?;
        if let Some(g) = &group {
            eprintln!(
                "[{store}] group floor, {tasks} inserts per COMMIT: p50 {} µs, {:.0} inserts/s",
                g.p50_us, g.rate
            );
            rows.push(crate::floor::group_row("sdk", store, tasks, g, &floor1));
        }
        let before = totals();
        let s = bench.measure(Op::Scan, tasks, secs).await?;
        rows.push(Row { group_floor: group, ..row("scan", tasks, s, &f, before) });
    }
    if let Ok(floor) = Arc::try_unwrap(floor) {
        floor.close().await;
    }
    if let Ok(bench) = Arc::try_unwrap(bench) {
        bench.krug.close().await;
    }
    Ok(rows)
}

/// Registers `n` members with QR secrets and three purchases each 40 days ago (8 at a time).
async fn prepare(
    krug: &Krug,
    tenant: &TenantId,
    clock: &ShiftedClock,
    businesses: &[BusinessId],
    n: usize,
    first: u64,
) -> Result<CodePool> {
    let past = time::Duration::days(40);
    clock.shift(-past);
    let workers = 8usize;
    let mut handles = Vec::new();
    for w in 0..workers {
        let krug = krug.clone();
        let tenant = tenant.clone();
        let businesses = businesses.to_vec();
        handles.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(w as u64);
            let mut out = Vec::new();
            for i in (w..n).step_by(workers) {
                let phone = Phone::parse(&crate::member_phone(first + i as u64))?;
                let member = krug.register_member(&tenant, RegisterMember::phone(phone)).await?;
                // Scans go to every partner, the clinics included.
                krug.grant_consent(&tenant, member, crate::medical_consent()).await?;
                let p = krug.provision_qr_secret(&tenant, member).await?;
                let secret = QrSecret::from_base32(&p.secret_base32).ok_or("bad QR secret")?;
                let mut available = 0;
                for k in 0..3 {
                    let business = pick(&businesses, &mut rng)?;
                    let amount = Kopecks::new(rng.gen_range(100_000..800_000))?;
                    let receipt = krug
                        .record_purchase(
                            &tenant,
                            RecordPurchase::new(member, business, amount, format!("prep-{}-{i}-{k}", nanos_now())),
                        )
                        .await?;
                    available += receipt.cashback.get();
                }
                let mut m = PoolMember::new(member, secret);
                m.available = available;
                out.push(m);
            }
            Ok::<_, crate::BoxError>(out)
        }));
    }
    let mut members = Vec::with_capacity(n);
    for h in handles {
        members.extend(h.await??);
    }
    clock.shift(past);
    Ok(CodePool::new(members))
}

fn pick(businesses: &[BusinessId], rng: &mut StdRng) -> Result<BusinessId> {
    businesses.get(rng.gen_range(0..businesses.len().max(1))).cloned().ok_or_else(|| "no businesses".into())
}

#[derive(Debug, Clone, Copy)]
enum Op {
    RecordPurchase,
    Scan,
}

impl Bench {
    /// `tasks` tasks running `op` flat out for `duration`.
    async fn measure(self: &Arc<Self>, op: Op, tasks: u32, duration: Duration) -> Result<Summary> {
        let start = Instant::now();
        let deadline = start + duration;
        let mut handles = Vec::new();
        for t in 0..tasks {
            let bench = self.clone();
            handles.push(tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(bench.run ^ u64::from(t));
                let mut rec = Recorder::new();
                while Instant::now() < deadline {
                    let seq = bench.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let receipt_id = format!("b{:x}-{seq}", bench.run);
                    let result = match op {
                        Op::RecordPurchase => bench.record_purchase(&mut rng, receipt_id).await,
                        Op::Scan => bench.scan(&mut rng, receipt_id, seq).await,
                    };
                    match result {
                        Ok(latency) => rec.ok(latency),
                        Err(code) => rec.error(&code),
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

    async fn record_purchase(&self, rng: &mut StdRng, receipt_id: String) -> Result<Duration, String> {
        let handed = self.next_code()?;
        let member = self.pool_member(handed.index)?;
        let business = pick(&self.businesses, rng).map_err(|e| e.to_string())?;
        let amount = Kopecks::new(rng.gen_range(50_000..1_500_000)).map_err(|e| e.to_string())?;
        let began = Instant::now();
        let receipt = self
            .krug
            .record_purchase(&self.tenant, RecordPurchase::new(member, business, amount, receipt_id))
            .await
            .map_err(|e| e.code().to_owned())?;
        let latency = began.elapsed();
        self.pool.set_available(handed.index, receipt.balance.available.get());
        Ok(latency)
    }

    async fn scan(&self, rng: &mut StdRng, receipt_id: String, seq: u64) -> Result<Duration, String> {
        let handed = self.next_code()?;
        let business = pick(&self.businesses, rng).map_err(|e| e.to_string())?;
        let amount_k = rng.gen_range(50_000..1_500_000_i64);
        let mut cmd = Scan::new(handed.qr, business, Kopecks::new(amount_k).map_err(|e| e.to_string())?, receipt_id);
        // Every fourth scan pays part with bonuses (within the 30 % cap and the known balance).
        let redeem = (amount_k * 3 / 10).min(handed.available / 2);
        if seq.is_multiple_of(4) && redeem >= 100 {
            cmd = cmd.redeem(Bonus::new(redeem).map_err(|e| e.to_string())?);
        }
        let began = Instant::now();
        let receipt = self.krug.scan(&self.tenant, cmd).await.map_err(|e| e.code().to_owned())?;
        let latency = began.elapsed();
        self.pool.set_available(handed.index, receipt.balance.available.get());
        Ok(latency)
    }

    /// The next unused code; when every member has used this step, the clock moves on a step.
    fn next_code(&self) -> Result<crate::codes::Handed, String> {
        for _ in 0..3 {
            let now = self.clock.now();
            if let Some(h) = self.pool.next(now) {
                return Ok(h);
            }
            let _guard = self.step_guard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if qr::step_at(self.clock.now()) == qr::step_at(now) {
                self.clock.shift(time::Duration::seconds(i64::from(qr::QR_STEP_SECONDS)));
            }
        }
        Err("pool_exhausted".into())
    }

    fn pool_member(&self, index: usize) -> Result<krug::types::MemberId, String> {
        self.pool.member(index).ok_or_else(|| "no such pool member".to_owned())
    }
}
