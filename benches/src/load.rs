//! `krug-bench load`: an HTTP load generator driving an appliance at the counter.
//!
//! N cashier clients, each on its own keep-alive connection, post `/v1/scans` with valid rotating
//! QR codes of distinct members (computed locally from each member's secret, as her app does) and
//! unique receipt ids. A `(member, step)` pair is never reused: members are taken round-robin and
//! one who has used the current 30 s step is skipped; when the whole pool has, the generator waits
//! for the next step and counts it as starvation (reported, since it would otherwise look like
//! server latency).
//!
//! Open loop (`--rate`): requests are scheduled at fixed intended send times and latency is
//! measured from the intended time, so a slow server shows up as latency instead of quietly
//! lowering the offered rate. Flat out: each client sends its next request when the last returns.
//!
//! Members sign in through `/v1/auth/sms-code` + `/v1/auth/sms-verify`, give the
//! medical-disclosure consent (`POST /v1/me/consents`; scans go to the clinic partners too) and
//! provision their QR secret with `POST /v1/me/qr-secret`. The codes are read from a capturing SMS gateway, so by
//! default the appliance runs in this process on a random port; `--base` drives an external one
//! with members from a `--secrets` file written by an earlier in-process run (`--save-secrets`).
//!
//! Each phase's row carries the SQLite writer's time per scan, from the appliance's `/metrics`
//! (`krug_store_writer_held_microseconds_total` and `krug_store_commit_microseconds_total` read
//! before and after the phase, over the scans that succeeded); the flat-out row also the
//! group-commit floor with as many inserts per `COMMIT` as there are clients.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use krug::qr::{QR_STEP_SECONDS, QrSecret};
use krug::types::{BusinessId, Clock as _, MemberId, SystemClock};
use krug_appliance::sms::CapturingGateway;
use krug_appliance::{Application, Overrides, Settings};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use crate::Result;
use crate::clock::ShiftedClock;
use crate::codes::{CodePool, PoolMember};
use crate::floor::Floor;
use crate::report::{Recorder, Row, Summary, WriterTime, WriterTotals};
use crate::target::{Target, nanos_now};

/// What the load run does.
#[derive(Debug, Clone)]
pub struct LoadOpts {
    /// An external appliance; `None` starts one in this process on `target`.
    pub base: Option<String>,
    /// The appliance data folder (keys) for the in-process appliance.
    pub data_dir: PathBuf,
    /// The tenant id.
    pub tenant: String,
    /// The tenant folder (for the in-process appliance).
    pub tenant_dir: PathBuf,
    /// Cashier logins (`<business>.cashier`); clients take them in turn. The in-process appliance
    /// creates the missing ones with `password`.
    pub cashier_logins: Vec<String>,
    /// Their password.
    pub password: String,
    /// Members to sign in.
    pub members: u64,
    /// The first member number (phones continue from it; a seeded store has them already).
    pub first_member: u64,
    /// Concurrent cashier clients.
    pub concurrency: u32,
    /// Open-loop rate, scans per second.
    pub rate: Option<f64>,
    /// Also (or only) run flat out.
    pub flat_out: bool,
    /// Seconds per phase.
    pub duration: f64,
    /// Concurrent member sign-ins.
    pub signin_concurrency: usize,
    /// Members (`<uuid> <secret>` lines) instead of signing in.
    pub secrets: Option<PathBuf>,
    /// Where to write the signed-in members' secrets.
    pub save_secrets: Option<PathBuf>,
    /// PostgreSQL pool of the in-process appliance.
    pub pg_pool: u32,
    /// Seconds of each floor measurement.
    pub floor_secs: f64,
    /// In-process only: when every member has used the current 30 s step, move the appliance's
    /// clock on a step instead of waiting for it (the server's work per scan is the same; a
    /// smaller member pool then sustains any rate). Reported in the row's note.
    pub virtual_steps: bool,
    /// The in-process appliance's SQLite group-commit max age, ms; `None` keeps the default.
    pub batch_max_age_ms: Option<u32>,
}

/// Runs the load phases and returns one row per phase.
pub async fn run(target: &Target, opts: &LoadOpts) -> Result<Vec<Row>> {
    let started = match &opts.base {
        Some(_) => None,
        None => Some(start_appliance(target, opts).await?),
    };
    let base = match (&opts.base, &started) {
        (Some(b), _) => b.trim_end_matches('/').to_owned(),
        (None, Some(s)) => format!("http://127.0.0.1:{}", s.port),
        (None, None) => return Err("no appliance".into()),
    };
    let clock = started.as_ref().and_then(|s| s.clock.clone());
    let result = drive(target, opts, &base, started.as_ref().map(|s| &s.sms), clock).await;
    if let Some(s) = started {
        let _ = s.stop.send(());
        let _ = s.handle.await;
    }
    result
}

struct Started {
    port: u16,
    clock: Option<ShiftedClock>,
    sms: CapturingGateway,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start_appliance(target: &Target, opts: &LoadOpts) -> Result<Started> {
    let sms = CapturingGateway::default();
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        data_dir: opts.data_dir.clone(),
        database_url: Some(target.url.clone()),
        sqlite_synchronous: if target.kind == crate::target::StoreKind::SqliteNormal { "normal" } else { "full" }
            .into(),
        postgres_pool: opts.pg_pool,
        tenants: vec![opts.tenant_dir.clone()],
        // Every member signs in from 127.0.0.1: the per-address limit would stop the setup.
        auth_requests_per_minute: u32::MAX,
        ..Settings::default()
    };
    let settings = match opts.batch_max_age_ms {
        Some(ms) => Settings { sqlite_batch_max_age_ms: ms, ..settings },
        None => settings,
    };
    let clock = opts.virtual_steps.then(ShiftedClock::new);
    let app_clock: Option<Arc<dyn krug::types::Clock>> = clock.clone().map(|c| Arc::new(c) as _);
    let app = Application::build(settings, Overrides { sms: Some(Arc::new(sms.clone())), clock: app_clock })
        .await
        .map_err(|e| format!("appliance: {e}"))?;
    let krug = app.state().krug.clone();
    let tenant = krug::types::TenantId::parse(&opts.tenant)?;
    for login in &opts.cashier_logins {
        let business = login.split('.').next().unwrap_or(login);
        let created = krug
            .create_staff(
                &tenant,
                krug::NewStaff {
                    login: login.clone(),
                    password: opts.password.clone(),
                    role: krug::Role::Cashier,
                    business: Some(BusinessId::parse(business)?),
                    actor: "krug-bench".into(),
                    client: None,
                },
            )
            .await;
        match created {
            Ok(_) | Err(krug::Error::LoginTaken) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let port = app.port();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(app.run_until(async move {
        let _ = rx.await;
    }));
    Ok(Started { port, clock, sms, stop, handle })
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()?)
}

async fn post(client: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value)> {
    let mut req = client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, value))
}

/// The SQLite writer's totals from the appliance's `/metrics`; `None` when they cannot be read
/// (the run goes on without them).
async fn writer_totals(client: &reqwest::Client, base: &str) -> Option<WriterTotals> {
    let resp = client.get(format!("{base}/metrics")).send().await.ok()?;
    WriterTotals::from_metrics(&resp.text().await.ok()?)
}

fn ok_json(what: &str, (status, body): (u16, Value)) -> Result<Value> {
    if status == 200 { Ok(body) } else { Err(format!("{what}: HTTP {status}: {body}").into()) }
}

async fn drive(
    target: &Target,
    opts: &LoadOpts,
    base: &str,
    sms: Option<&CapturingGateway>,
    clock: Option<ShiftedClock>,
) -> Result<Vec<Row>> {
    let http = client()?;
    // Cashiers.
    let mut tokens = Vec::new();
    for login in &opts.cashier_logins {
        let body = json!({ "tenant": opts.tenant, "login": login, "password": opts.password });
        let v = ok_json("staff-login", post(&http, &format!("{base}/v1/auth/staff-login"), None, &body).await?)?;
        tokens.push(v.get("access_token").and_then(Value::as_str).ok_or("no access_token")?.to_owned());
    }
    if tokens.is_empty() {
        return Err("no cashier logins".into());
    }

    // Members.
    let began = Instant::now();
    let members = match &opts.secrets {
        Some(path) => read_secrets(path)?,
        None => {
            let sms = sms.ok_or("an external appliance sends sign-in codes by SMS: pass --secrets")?;
            sign_in_members(base, opts, sms).await?
        }
    };
    eprintln!("{} members ready in {:.1} s", members.len(), began.elapsed().as_secs_f64());
    let pool = Arc::new(CodePool::new(members));
    if let Some(path) = &opts.save_secrets {
        let text: String = pool.export().into_iter().map(|(m, s)| format!("{} {s}\n", m.as_uuid())).collect();
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }

    // The floor, in this process, before the run: one writer, and as many as there are clients.
    let floor = Arc::new(Floor::open(target, opts.concurrency.max(16)).await?);
    let floor_secs = Duration::from_secs_f64(opts.floor_secs);
    let floor1 = floor.measure(1, floor_secs).await?;
    let floor_n = floor.measure(opts.concurrency, floor_secs).await?;
    let group = if opts.flat_out { floor.measure_group(opts.concurrency, floor_secs).await? } else { None };
    eprintln!(
        "floor ×1: p50 {} µs p99 {} µs {:.0} tx/s; ×{}: {:.0} tx/s",
        floor1.p50_us, floor1.p99_us, floor1.rate, opts.concurrency, floor_n.rate
    );
    if let Some(g) = &group {
        eprintln!("group floor, {} inserts per COMMIT: {:.0} inserts/s", opts.concurrency, g.rate);
    }
    if let Ok(f) = Arc::try_unwrap(floor) {
        f.close().await;
    }

    let shared = Arc::new(Shared {
        base: base.to_owned(),
        tokens,
        pool,
        run: nanos_now(),
        seq: AtomicU64::new(0),
        starved: AtomicU64::new(0),
        clock,
        step_guard: std::sync::Mutex::new(()),
        service: std::sync::Mutex::new(Recorder::new()),
    });
    let store = target.kind.label();
    let mut rows = Vec::new();
    let duration = Duration::from_secs_f64(opts.duration);
    let members_note = |s: &Shared| {
        let service = s.take_service().summary(Duration::from_secs(1));
        let starved = s.starved.swap(0, Ordering::Relaxed);
        let steps = if s.clock.is_some() {
            format!("virtual steps moved {starved}")
        } else {
            format!("starved (waited for the next step) {starved}")
        };
        format!(
            "{} members, {steps}; service time p50 {:.2} / p99 {:.2} ms",
            s.pool.len(),
            service.p50_us as f64 / 1000.0,
            service.p99_us as f64 / 1000.0
        )
    };
    if let Some(rate) = opts.rate {
        let before = writer_totals(&http, base).await;
        let summary = open_loop(&shared, opts.concurrency, rate, duration).await?;
        let writer = WriterTime::between(before, writer_totals(&http, base).await, summary.ok);
        eprintln!(
            "scan @{rate}/s: p50 {} µs p99 {} µs, {} errors",
            summary.p50_us,
            summary.p99_us,
            summary.error_count()
        );
        rows.push(Row {
            suite: "http".into(),
            store: store.into(),
            op: format!("scan @{rate}/s"),
            tasks: opts.concurrency,
            summary,
            floor: floor1.clone(),
            group_floor: None,
            writer,
            note: members_note(&shared),
        });
    }
    if opts.flat_out {
        if let Some(g) = &group {
            rows.push(crate::floor::group_row("http", store, opts.concurrency, g, &floor1));
        }
        let before = writer_totals(&http, base).await;
        let summary = flat_out(&shared, opts.concurrency, duration).await?;
        let writer = WriterTime::between(before, writer_totals(&http, base).await, summary.ok);
        eprintln!("scan flat out: {:.0}/s p50 {} µs p99 {} µs", summary.rate, summary.p50_us, summary.p99_us);
        rows.push(Row {
            suite: "http".into(),
            store: store.into(),
            op: "scan flat-out".into(),
            tasks: opts.concurrency,
            summary,
            floor: floor_n.clone(),
            group_floor: group,
            writer,
            note: members_note(&shared),
        });
    }
    Ok(rows)
}

fn read_secrets(path: &std::path::Path) -> Result<Vec<PoolMember>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (id, secret) = line.split_once(' ').ok_or("secrets: expected `<member uuid> <base32>` lines")?;
        let member = MemberId::from_uuid(uuid::Uuid::parse_str(id.trim())?);
        let secret = QrSecret::from_base32(secret.trim()).ok_or("secrets: bad base32 secret")?;
        out.push(PoolMember::new(member, secret));
    }
    Ok(out)
}

async fn sign_in_members(base: &str, opts: &LoadOpts, sms: &CapturingGateway) -> Result<Vec<PoolMember>> {
    let style = ProgressStyle::with_template("{prefix:>10} {wide_bar} {pos}/{len} {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(opts.members).with_style(style).with_prefix("sign-in");
    let lanes = opts.signin_concurrency.max(1) as u64;
    let mut set = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let (base, tenant, sms, bar) = (base.to_owned(), opts.tenant.clone(), sms.clone(), bar.clone());
        let (first, n) = (opts.first_member, opts.members);
        set.spawn(async move {
            let http = client()?;
            let mut out = Vec::new();
            let mut i = lane;
            while i < n {
                let phone = crate::member_phone(first + i);
                out.push(sign_in(&http, &base, &tenant, &phone, &sms).await?);
                bar.inc(1);
                i += lanes;
            }
            Ok::<_, crate::BoxError>(out)
        });
    }
    let mut members = Vec::new();
    while let Some(joined) = set.join_next().await {
        members.extend(joined??);
    }
    bar.finish_and_clear();
    Ok(members)
}

async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    tenant: &str,
    phone: &str,
    sms: &CapturingGateway,
) -> Result<PoolMember> {
    let body = json!({ "tenant": tenant, "phone": phone });
    ok_json("sms-code", post(http, &format!("{base}/v1/auth/sms-code"), None, &body).await?)?;
    let text = sms.last_to(phone).ok_or("no SMS captured")?;
    let code: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
    let body = json!({ "tenant": tenant, "phone": phone, "code": code });
    let v = ok_json("sms-verify", post(http, &format!("{base}/v1/auth/sms-verify"), None, &body).await?)?;
    let token = v.get("access_token").and_then(Value::as_str).ok_or("no access_token")?;
    let member = v.get("member_id").and_then(Value::as_str).ok_or("no member_id")?;
    let member = MemberId::from_uuid(uuid::Uuid::parse_str(member)?);
    // Scans go to every partner: the clinics need the member's medical-disclosure consent.
    let consent = json!({
        "kind": "medical_disclosure",
        "text_version": "medical-disclosure-v1",
        "text_sha256": crate::MEDICAL_TEXT_SHA256,
    });
    ok_json("consent", post(http, &format!("{base}/v1/me/consents"), Some(token), &consent).await?)?;
    let v = ok_json("qr-secret", post(http, &format!("{base}/v1/me/qr-secret"), Some(token), &json!({})).await?)?;
    let secret = v.get("secret_base32").and_then(Value::as_str).ok_or("no secret")?;
    Ok(PoolMember::new(member, QrSecret::from_base32(secret).ok_or("bad secret")?))
}

struct Shared {
    base: String,
    tokens: Vec<String>,
    pool: Arc<CodePool>,
    run: u64,
    seq: AtomicU64,
    starved: AtomicU64,
    /// The in-process appliance's clock with `--virtual-steps`.
    clock: Option<ShiftedClock>,
    step_guard: std::sync::Mutex<()>,
    /// Service time (from the actual send to the response), beside the latency from the
    /// intended send time that the rows report.
    service: std::sync::Mutex<Recorder>,
}

impl Shared {
    fn now(&self) -> time::OffsetDateTime {
        match &self.clock {
            Some(c) => c.now(),
            None => SystemClock.now(),
        }
    }

    fn take_service(&self) -> Recorder {
        std::mem::take(&mut *self.service.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// A code for now; when the pool has used this step, waits for the next one (starvation) or,
    /// with virtual steps, moves the appliance's clock on a step.
    async fn code(&self) -> crate::codes::Handed {
        loop {
            let now = self.now();
            if let Some(h) = self.pool.next(now) {
                return h;
            }
            self.starved.fetch_add(1, Ordering::Relaxed);
            if let Some(clock) = &self.clock {
                let _guard = self.step_guard.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if krug::qr::step_at(clock.now()) == krug::qr::step_at(now) {
                    clock.shift(time::Duration::seconds(i64::from(QR_STEP_SECONDS)));
                }
                continue;
            }
            let into_step = now.unix_timestamp().rem_euclid(i64::from(QR_STEP_SECONDS));
            let wait = i64::from(QR_STEP_SECONDS) - into_step;
            tokio::time::sleep(Duration::from_millis(u64::try_from(wait).unwrap_or(1) * 1000 / 4 + 10)).await;
        }
    }

    /// One scan by client `client`; `Err` carries the failure kind.
    async fn scan(&self, http: &reqwest::Client, client: u32, rng: &mut StdRng) -> Result<(), String> {
        let handed = self.code().await;
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let token = self.tokens.get(client as usize % self.tokens.len().max(1)).ok_or("no token")?;
        let amount = rng.gen_range(500..15_000_i64) * 100;
        let redeem = (amount * 3 / 10).min(handed.available / 2);
        let mut body = json!({
            "qr": handed.qr,
            "amount_kopecks": amount,
            "receipt_id": format!("load-{:x}-{seq}", self.run),
        });
        if seq.is_multiple_of(4)
            && redeem >= 100
            && let Some(map) = body.as_object_mut()
        {
            map.insert("redeem_kopecks".into(), json!(redeem));
        }
        let sent = Instant::now();
        let (status, v) = post(http, &format!("{}/v1/scans", self.base), Some(token), &body)
            .await
            .map_err(|e| format!("transport: {}", short(&e.to_string())))?;
        self.service.lock().unwrap_or_else(std::sync::PoisonError::into_inner).ok(sent.elapsed());
        if status == 200 {
            if let Some(a) = v.pointer("/balance/available_kopecks").and_then(Value::as_i64) {
                self.pool.set_available(handed.index, a);
            }
            Ok(())
        } else {
            Err(format!("{status} {}", v.get("code").and_then(Value::as_str).unwrap_or("?")))
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Open loop at `rate` for `duration`: a scheduler hands out intended send times; `clients`
/// workers send them; latency counts from the intended time.
async fn open_loop(shared: &Arc<Shared>, clients: u32, rate: f64, duration: Duration) -> Result<Summary> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let start = Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::new();
    for c in 0..clients {
        let (shared, rx) = (shared.clone(), rx.clone());
        handles.push(tokio::spawn(async move {
            let http = client().map_err(|e| e.to_string())?;
            let mut rng = StdRng::seed_from_u64(shared.run ^ u64::from(c));
            let mut rec = Recorder::new();
            loop {
                let intended = { rx.lock().await.recv().await };
                let Some(intended) = intended else { break };
                match shared.scan(&http, c, &mut rng).await {
                    Ok(()) => rec.ok(intended.elapsed()),
                    Err(kind) => rec.error(&kind),
                }
            }
            Ok::<_, String>(rec)
        }));
    }
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let total = (duration.as_secs_f64() * rate).round() as u64;
    // The schedule runs on a thread of its own: the OS sleep is precise to tens of microseconds,
    // while the async runtime's timer wakes on whole milliseconds (which would count as latency).
    let scheduler = std::thread::spawn(move || {
        for i in 0..total {
            let intended = start + interval.mul_f64(i as f64);
            if let Some(wait) = intended.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if tx.send(intended).is_err() {
                break;
            }
        }
    });
    let _ = tokio::task::spawn_blocking(move || scheduler.join()).await;
    let mut rec = Recorder::new();
    for h in handles {
        rec.merge(&h.await??);
    }
    Ok(rec.summary(start.elapsed()))
}

/// `clients` workers sending back to back for `duration`.
async fn flat_out(shared: &Arc<Shared>, clients: u32, duration: Duration) -> Result<Summary> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::new();
    for c in 0..clients {
        let shared = shared.clone();
        handles.push(tokio::spawn(async move {
            let http = client().map_err(|e| e.to_string())?;
            let mut rng = StdRng::seed_from_u64(shared.run ^ u64::from(c) ^ 0xf1a7);
            let mut rec = Recorder::new();
            while Instant::now() < deadline {
                let began = Instant::now();
                match shared.scan(&http, c, &mut rng).await {
                    Ok(()) => rec.ok(began.elapsed()),
                    Err(kind) => rec.error(&kind),
                }
            }
            Ok::<_, String>(rec)
        }));
    }
    let mut rec = Recorder::new();
    for h in handles {
        rec.merge(&h.await??);
    }
    Ok(rec.summary(start.elapsed()))
}
