//! `krug-bench seed`: a realistic data set through the SDK — the five svoy-krug partners, a
//! category mix, a tier distribution, purchases spread over years — so latency can be shown flat
//! as the data grows.
//!
//! Members are registered first (at the start of the period), then purchases are recorded in time
//! order: the SDK runs on a [`ManualClock`] moved to each batch's latest purchase, and each
//! purchase carries its own `at` (never ahead of the clock), so holds, expiry and the rolling
//! status window see the history as it happened.
//!
//! Profiles (drawn per member): casual 70 % (2–6 purchases a year at 1–2 partners), regular 22 %
//! (8–16 a year at 3–4 partners, reaching VIP), devoted 8 % (20–40 a year at all five, reaching
//! Elite). Partners are weighted like a neighbourhood ecosystem — the gastro market most often
//! with small tickets, the dentistry rarely with large ones. One purchase in six pays part with
//! bonuses when the member has some. Members who buy at a clinic give the medical-disclosure
//! consent when they join (the SDK refuses clinic purchases without it).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use krug::types::{Bonus, BusinessId, Kopecks, MemberId, Phone, TenantId};
use krug::{Krug, RecordPurchase, RegisterMember};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use time::OffsetDateTime;

use crate::Result;
use crate::clock::ManualClock;
use crate::target::Target;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SeedOpts {
    /// Members.
    pub members: u64,
    /// Years of purchase history, ending now.
    pub years: u32,
    /// Concurrent SDK calls.
    pub concurrency: usize,
    /// The tenant folder.
    pub tenant_dir: PathBuf,
    /// The appliance data folder whose `keys/<tenant>.toml` the members' personal data is sealed
    /// with (created when missing), so an appliance on the same store and folder can read it.
    pub data_dir: PathBuf,
    /// Random seed (the same seed gives the same data).
    pub rng_seed: u64,
    /// Stop after this many seconds (for measuring the rate of a large run).
    pub max_seconds: Option<f64>,
    /// The first member number (phones continue from it).
    pub first_member: u64,
}

/// What a seed run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SeedReport {
    /// Members registered.
    pub members: u64,
    /// Purchases recorded.
    pub purchases: u64,
    /// Seconds registering.
    pub register_secs: f64,
    /// Seconds recording purchases.
    pub purchase_secs: f64,
    /// Whether the run stopped at `max_seconds`.
    pub stopped_early: bool,
    /// Purchases planned for the members registered.
    pub purchases_planned: u64,
}

/// Partner weights and ticket ranges (kopecks), in the order of the tenant file's partners.
const PARTNERS: [(&str, u32, i64, i64); 5] = [
    ("skinerica", 15, 300_000, 1_200_000),
    ("lisichkino", 40, 50_000, 300_000),
    ("stim-center", 10, 500_000, 4_000_000),
    ("mindal", 20, 150_000, 600_000),
    ("millennium", 15, 200_000, 1_500_000),
];

/// Whether partner `i` (in [`PARTNERS`] order) is a clinic.
fn is_clinic(i: u8) -> bool {
    matches!(PARTNERS.get(usize::from(i)).map(|p| p.0), Some("stim-center" | "millennium"))
}

struct Purchase {
    member: u32,
    partner: u8,
    amount: i64,
    at: i64,
}

/// Runs the generator against `target`.
pub async fn run(target: &Target, opts: &SeedOpts) -> Result<SeedReport> {
    let config = crate::load_tenant(&opts.tenant_dir)?;
    let tenant = config.id.clone();
    let keys_dir = opts.data_dir.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|e| format!("{}: {e}", keys_dir.display()))?;
    let keys = krug_appliance::app::tenant_keys(&opts.data_dir, &config)
        .map_err(|e| format!("keys in {}: {e}", opts.data_dir.display()))?;
    let businesses: Vec<BusinessId> =
        PARTNERS.iter().map(|(id, ..)| BusinessId::parse(id)).collect::<Result<_, _>>()?;
    for b in &businesses {
        if config.business(b).is_none() {
            return Err(format!("the tenant has no partner {b}").into());
        }
    }
    let end = krug::types::Clock::now(&krug::types::SystemClock) - time::Duration::hours(1);
    let start = end - time::Duration::days(365 * i64::from(opts.years.max(1)));
    let clock = ManualClock::new(start);
    let krug = target.builder(16).clock(clock.clone()).tenant(config, keys).build().await?;
    let deadline = opts.max_seconds.map(|s| Instant::now() + Duration::from_secs_f64(s));

    // Plan: every member's purchases (deterministic from the seed), then sorted by time.
    let mut rng = StdRng::seed_from_u64(opts.rng_seed);
    let span = end.unix_timestamp() - start.unix_timestamp();
    let mut plan = Vec::new();
    for m in 0..opts.members {
        plan_member(&mut rng, u32::try_from(m)?, opts.years.max(1), start.unix_timestamp(), span, &mut plan);
    }
    // Members who buy at a clinic give the medical-disclosure consent when they join.
    let mut clinic_goers = vec![false; usize::try_from(opts.members)?];
    for p in plan.iter().filter(|p| is_clinic(p.partner)) {
        if let Some(flag) = clinic_goers.get_mut(p.member as usize) {
            *flag = true;
        }
    }
    plan.sort_by_key(|p| p.at);

    // Members.
    let style = ProgressStyle::with_template("{prefix:>10} {wide_bar} {pos}/{len} {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let bar = ProgressBar::new(opts.members).with_style(style.clone()).with_prefix("members");
    let began = Instant::now();
    let members = register(&krug, &tenant, opts, &bar, deadline, Arc::new(clinic_goers)).await?;
    bar.finish();
    let register_secs = began.elapsed().as_secs_f64();
    let registered = members.len() as u64;
    let plan: Vec<Purchase> = plan.into_iter().filter(|p| u64::from(p.member) < registered).collect();
    let planned = plan.len() as u64;

    // Purchases, in time order, `concurrency` at a time.
    let bar = ProgressBar::new(planned).with_style(style).with_prefix("purchases");
    let began = Instant::now();
    let members = Arc::new(members);
    let balances: Arc<Vec<std::sync::atomic::AtomicI64>> =
        Arc::new((0..members.len()).map(|_| std::sync::atomic::AtomicI64::new(0)).collect());
    let mut done = 0u64;
    let mut stopped_early = registered < opts.members;
    let batch = opts.concurrency.max(1) * 32;
    for chunk in plan.chunks(batch) {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stopped_early = true;
            break;
        }
        let latest = chunk.iter().map(|p| p.at).max().unwrap_or(0);
        clock.set(OffsetDateTime::from_unix_timestamp(latest + 1)?);
        let mut set = tokio::task::JoinSet::new();
        for lane in 0..opts.concurrency.max(1) {
            let items: Vec<(u64, u32, u8, i64, i64)> = chunk
                .iter()
                .enumerate()
                .skip(lane)
                .step_by(opts.concurrency.max(1))
                .map(|(k, p)| (done + k as u64, p.member, p.partner, p.amount, p.at))
                .collect();
            let krug = krug.clone();
            let tenant = tenant.clone();
            let members = members.clone();
            let balances = balances.clone();
            let businesses = businesses.clone();
            let seed = opts.rng_seed ^ done ^ lane as u64;
            let prefix = format!("seed-{}-{}", opts.rng_seed, opts.first_member);
            set.spawn(async move {
                let mut rng = StdRng::seed_from_u64(seed);
                for item in items {
                    record(&krug, &tenant, &members, &balances, &businesses, &mut rng, &prefix, item).await?;
                }
                Ok::<_, crate::BoxError>(())
            });
        }
        while let Some(joined) = set.join_next().await {
            joined??;
        }
        done += chunk.len() as u64;
        bar.set_position(done);
    }
    bar.finish();
    let purchase_secs = began.elapsed().as_secs_f64();
    krug.close().await;
    Ok(SeedReport {
        members: registered,
        purchases: done,
        register_secs,
        purchase_secs,
        stopped_early,
        purchases_planned: planned,
    })
}

fn plan_member(rng: &mut StdRng, member: u32, years: u32, start: i64, span: i64, out: &mut Vec<Purchase>) {
    let profile = rng.gen_range(0..100);
    let (per_year, partners) = match profile {
        0..70 => (rng.gen_range(2..=6), rng.gen_range(1..=2)),
        70..92 => (rng.gen_range(8..=16), rng.gen_range(3..=4)),
        _ => (rng.gen_range(20..=40), 5),
    };
    // The member's partners: distinct, drawn by weight.
    let mut mine: Vec<u8> = Vec::new();
    while mine.len() < partners {
        let p = weighted_partner(rng);
        if !mine.contains(&p) {
            mine.push(p);
        }
    }
    for _ in 0..per_year * years {
        let partner = mine.get(rng.gen_range(0..mine.len())).copied().unwrap_or(0);
        let (_, _, lo, hi) = PARTNERS.get(usize::from(partner)).copied().unwrap_or(PARTNERS[0]);
        out.push(Purchase {
            member,
            partner,
            amount: rng.gen_range(lo..=hi) / 100 * 100,
            at: start + rng.gen_range(0..span),
        });
    }
}

fn weighted_partner(rng: &mut StdRng) -> u8 {
    let total: u32 = PARTNERS.iter().map(|p| p.1).sum();
    let mut x = rng.gen_range(0..total);
    for (i, p) in PARTNERS.iter().enumerate() {
        if x < p.1 {
            return u8::try_from(i).unwrap_or(0);
        }
        x -= p.1;
    }
    0
}

async fn register(
    krug: &Krug,
    tenant: &TenantId,
    opts: &SeedOpts,
    bar: &ProgressBar,
    deadline: Option<Instant>,
    clinic_goers: Arc<Vec<bool>>,
) -> Result<Vec<MemberId>> {
    let lanes = opts.concurrency.max(1) as u64;
    let mut set = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let krug = krug.clone();
        let tenant = tenant.clone();
        let bar = bar.clone();
        let (first, n) = (opts.first_member, opts.members);
        let clinic_goers = clinic_goers.clone();
        set.spawn(async move {
            let mut out = Vec::new();
            let mut i = lane;
            while i < n {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let phone = Phone::parse(&crate::member_phone(first + i))?;
                let id = match krug.register_member(&tenant, RegisterMember::phone(phone)).await {
                    Ok(id) => id,
                    Err(krug::Error::PhoneTaken { member }) => member,
                    Err(e) => return Err(crate::BoxError::from(e)),
                };
                if clinic_goers.get(usize::try_from(i)?).copied().unwrap_or(false) {
                    krug.grant_consent(&tenant, id, crate::medical_consent()).await?;
                }
                out.push((i, id));
                bar.inc(1);
                i += lanes;
            }
            Ok(out)
        });
    }
    let mut all = Vec::new();
    while let Some(joined) = set.join_next().await {
        all.extend(joined??);
    }
    all.sort_by_key(|(i, _)| *i);
    // Keep the contiguous prefix (a stop at the deadline may leave gaps between lanes).
    let mut members = Vec::with_capacity(all.len());
    for (expected, (i, id)) in all.into_iter().enumerate() {
        if i != expected as u64 {
            break;
        }
        members.push(id);
    }
    Ok(members)
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
async fn record(
    krug: &Krug,
    tenant: &TenantId,
    members: &[MemberId],
    balances: &[std::sync::atomic::AtomicI64],
    businesses: &[BusinessId],
    rng: &mut StdRng,
    prefix: &str,
    (n, member, partner, amount, at): (u64, u32, u8, i64, i64),
) -> Result<()> {
    use std::sync::atomic::Ordering;
    let idx = usize::try_from(member)?;
    let id = *members.get(idx).ok_or("member out of range")?;
    let business = businesses.get(usize::from(partner)).ok_or("partner out of range")?.clone();
    let at = OffsetDateTime::from_unix_timestamp(at)?;
    let receipt_id = format!("{prefix}-{n}");
    let mut cmd = RecordPurchase::new(id, business, Kopecks::new(amount)?, receipt_id).at(at);
    let known = balances.get(idx).map_or(0, |b| b.load(Ordering::Relaxed));
    let redeem = (amount * 3 / 10).min(known / 2);
    if rng.gen_range(0..6) == 0 && redeem >= 100 {
        cmd = cmd.redeem(Bonus::new(redeem)?);
    }
    let receipt = match krug.record_purchase(tenant, cmd.clone()).await {
        Ok(r) => r,
        // The known balance is from the member's last receipt; lots may have lapsed since.
        Err(krug::Error::Ledger(_)) => krug.record_purchase(tenant, cmd.redeem(Bonus::ZERO)).await?,
        Err(e) => return Err(e.into()),
    };
    if let Some(b) = balances.get(idx) {
        b.store(receipt.balance.available.get(), Ordering::Relaxed);
    }
    Ok(())
}
