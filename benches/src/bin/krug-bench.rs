//! `krug-bench`: the Krug benchmark tool — the SDK through the store beside the storage floor
//! (`store`), a realistic data generator (`seed`), an HTTP load generator (`load`), and the
//! combined result table (`report`). See BENCHMARKS.md at the repository root.
#![allow(clippy::float_arithmetic)] // rates and ratios, not money
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use krug_benches::report::{self, Row};
use krug_benches::target::{StoreKind, Target};
use krug_benches::{Result, load, seed, store};

const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Parser)]
#[command(name = "krug-bench", about = "Krug benchmarks: SDK vs the storage floor, seed data, HTTP load")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// `scan` and `record_purchase` through the SDK's store, beside the bare-commit floor, on a
    /// fresh store of the given kind; then N tasks flat out (on SQLite also beside the
    /// group-commit floor of N inserts per `COMMIT`).
    Store {
        /// The store kind of a fresh store.
        #[arg(long, value_enum, required_unless_present = "url")]
        store: Option<StoreKind>,
        /// An existing store instead (e.g. a seeded one; kept afterwards).
        #[arg(long, conflicts_with = "store")]
        url: Option<String>,
        /// SQLite `synchronous=NORMAL` for `--url`.
        #[arg(long)]
        sqlite_normal: bool,
        /// The data folder holding the existing store's tenant keys (`--url`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The first member number of the prepared members (use one past a seeded range).
        #[arg(long, default_value_t = 0)]
        first_member: u64,
        /// PostgreSQL URL through which a fresh database is created (and dropped).
        #[arg(long, env = "KRUG_BENCH_PG_URL", default_value = PG_ADMIN)]
        pg_url: String,
        /// Folder for fresh SQLite stores.
        #[arg(long, default_value = "/var/tmp")]
        dir: PathBuf,
        /// Members prepared (registered, QR secret, three purchases each).
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5.0)]
        secs: f64,
        /// Task counts of the throughput runs (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
        tasks: Vec<u32>,
        /// Append the rows as JSON lines here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// The SQLite group commit's max age in milliseconds (default: the SDK's, 5).
        #[arg(long)]
        sqlite_batch_max_age_ms: Option<u32>,
        /// The tenant folder.
        #[arg(long)]
        tenant_dir: Option<PathBuf>,
    },
    /// Generates members and years of purchases through the SDK.
    Seed {
        /// Store URL (`sqlite://…?mode=rwc` or `postgres://…`).
        #[arg(long)]
        url: String,
        /// SQLite with `synchronous=NORMAL` (faster, not power-loss durable); default FULL.
        #[arg(long)]
        sqlite_normal: bool,
        /// Members to generate.
        #[arg(long)]
        members: u64,
        /// Years of purchase history.
        #[arg(long, default_value_t = 2)]
        years: u32,
        /// Concurrent SDK calls.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// The appliance data folder (tenant keys are read from or written to `keys/`).
        #[arg(long, default_value = "krug-data")]
        data_dir: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        rng_seed: u64,
        /// Stop after this many seconds and report the rate (for projecting large runs).
        #[arg(long)]
        max_seconds: Option<f64>,
        /// The first member number (phones continue from it).
        #[arg(long, default_value_t = 0)]
        first_member: u64,
        /// The tenant folder.
        #[arg(long)]
        tenant_dir: Option<PathBuf>,
    },
    /// Drives an appliance with cashier clients scanning rotating QR codes.
    Load {
        /// An external appliance (`http://127.0.0.1:8080`); without it one is started in this
        /// process on `--store` (or a fresh store, `--fresh`).
        #[arg(long)]
        base: Option<String>,
        /// The appliance's store URL (also where the floor is measured).
        #[arg(long, conflicts_with = "fresh")]
        store: Option<String>,
        /// SQLite with `synchronous=NORMAL`.
        #[arg(long)]
        sqlite_normal: bool,
        /// Start on a fresh store of this kind (removed afterwards).
        #[arg(long, value_enum)]
        fresh: Option<StoreKind>,
        /// PostgreSQL URL for `--fresh postgres`.
        #[arg(long, env = "KRUG_BENCH_PG_URL", default_value = PG_ADMIN)]
        pg_url: String,
        /// Folder for fresh SQLite stores.
        #[arg(long, default_value = "/var/tmp")]
        dir: PathBuf,
        /// The appliance data folder (keys); default: next to a fresh store, else `krug-data`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The tenant.
        #[arg(long, default_value = "svoy-krug")]
        tenant: String,
        /// Cashier logins, `<business>.cashier` (comma-separated; clients take them in turn).
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "skinerica.cashier,lisichkino.cashier,stim-center.cashier,mindal.cashier,millennium.cashier"
        )]
        cashier_login: Vec<String>,
        /// The cashiers' password (the in-process appliance creates them with it).
        #[arg(long, default_value = "krug-bench-password")]
        password: String,
        /// Members to sign in (each scans at most once per 30 s step: ≥ 30 × rate).
        #[arg(long, default_value_t = 6000)]
        members: u64,
        /// The first member number.
        #[arg(long, default_value_t = 0)]
        first_member: u64,
        /// Concurrent cashier clients (keep-alive connections).
        #[arg(long, default_value_t = 32)]
        concurrency: u32,
        /// Open loop at this many scans per second.
        #[arg(long)]
        rate: Option<f64>,
        /// Flat out (after the `--rate` phase when both are given).
        #[arg(long)]
        flat_out: bool,
        /// Seconds per phase.
        #[arg(long, default_value_t = 20.0)]
        duration: f64,
        /// Concurrent member sign-ins.
        #[arg(long, default_value_t = 8)]
        signin_concurrency: usize,
        /// Members from a file (`<uuid> <base32 secret>` lines) instead of signing in.
        #[arg(long)]
        secrets: Option<PathBuf>,
        /// Write the signed-in members' secrets here.
        #[arg(long)]
        save_secrets: Option<PathBuf>,
        /// PostgreSQL pool size of the in-process appliance.
        #[arg(long, default_value_t = 32)]
        pg_pool: u32,
        /// Seconds of each floor measurement.
        #[arg(long, default_value_t = 4.0)]
        floor_secs: f64,
        /// In-process only: when every member has used the current 30 s step, move the
        /// appliance's clock on a step instead of waiting (a small pool then sustains any rate).
        #[arg(long, conflicts_with = "base")]
        virtual_steps: bool,
        /// Append the rows as JSON lines here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// The SQLite group commit's max age in milliseconds (default: the SDK's, 5).
        #[arg(long)]
        sqlite_batch_max_age_ms: Option<u32>,
        /// The tenant folder.
        #[arg(long)]
        tenant_dir: Option<PathBuf>,
    },
    /// Prints the table of rows written with `--json`.
    Report {
        /// JSON-lines files.
        files: Vec<PathBuf>,
        /// Also the criterion medians found here (`$CARGO_TARGET_DIR/criterion`).
        #[arg(long)]
        criterion: Option<PathBuf>,
        /// The files are repeated runs of the same set: print one row per measurement with
        /// the median of each figure over the runs.
        #[arg(long)]
        aggregate: bool,
    },
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("krug-bench: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Store {
            store: kind,
            url,
            sqlite_normal,
            data_dir,
            first_member,
            pg_url,
            dir,
            members,
            secs,
            tasks,
            json,
            tenant_dir,
            sqlite_batch_max_age_ms,
        } => {
            let target = match (url, kind) {
                (Some(url), _) => Target::existing(&url, StoreKind::of_url(&url, sqlite_normal)),
                (None, Some(kind)) => Target::fresh(kind, &dir, &pg_url).await?,
                (None, None) => return Err("give --store KIND or --url URL".into()),
            };
            let opts = store::StoreOpts {
                members,
                secs,
                tasks,
                tenant_dir: tenant_dir.unwrap_or_else(krug_benches::default_tenant_dir),
                first_member,
                data_dir,
                batch_max_age: sqlite_batch_max_age_ms.map(|ms| std::time::Duration::from_millis(u64::from(ms))),
            };
            let result = store::run(&target, &opts).await;
            target.remove().await?;
            emit(&result?, json.as_deref())
        }
        Command::Seed {
            url,
            sqlite_normal,
            members,
            years,
            concurrency,
            data_dir,
            rng_seed,
            max_seconds,
            first_member,
            tenant_dir,
        } => {
            let target = Target::existing(&url, StoreKind::of_url(&url, sqlite_normal));
            let opts = seed::SeedOpts {
                members,
                years,
                concurrency,
                tenant_dir: tenant_dir.unwrap_or_else(krug_benches::default_tenant_dir),
                data_dir,
                rng_seed,
                max_seconds,
                first_member,
            };
            let r = seed::run(&target, &opts).await?;
            println!(
                "seeded {} members in {:.1} s ({:.0}/s) and {} of {} purchases in {:.1} s ({:.0}/s){}",
                r.members,
                r.register_secs,
                r.members as f64 / r.register_secs.max(1e-9),
                r.purchases,
                r.purchases_planned,
                r.purchase_secs,
                r.purchases as f64 / r.purchase_secs.max(1e-9),
                if r.stopped_early { " — stopped at --max-seconds" } else { "" }
            );
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }
        Command::Load {
            base,
            store,
            sqlite_normal,
            fresh,
            pg_url,
            dir,
            data_dir,
            tenant,
            cashier_login,
            password,
            members,
            first_member,
            concurrency,
            rate,
            flat_out,
            duration,
            signin_concurrency,
            secrets,
            save_secrets,
            pg_pool,
            floor_secs,
            virtual_steps,
            json,
            tenant_dir,
            sqlite_batch_max_age_ms,
        } => {
            if rate.is_none() && !flat_out {
                return Err("choose --rate R, --flat-out, or both".into());
            }
            let target = match (&store, fresh) {
                (Some(url), _) => Target::existing(url, StoreKind::of_url(url, sqlite_normal)),
                (None, Some(kind)) => Target::fresh(kind, &dir, &pg_url).await?,
                (None, None) => return Err("give --store URL or --fresh KIND".into()),
            };
            let data_dir = match (data_dir, target.sqlite_path(), fresh) {
                (Some(d), ..) => d,
                (None, Some(db), Some(_)) => db.with_file_name("data"),
                (None, None, Some(_)) => dir.join(format!("krug-bench-data-{}", std::process::id())),
                (None, ..) => PathBuf::from("krug-data"),
            };
            let opts = load::LoadOpts {
                base,
                data_dir: data_dir.clone(),
                tenant,
                tenant_dir: tenant_dir.unwrap_or_else(krug_benches::default_tenant_dir),
                cashier_logins: cashier_login,
                password,
                members,
                first_member,
                concurrency,
                rate,
                flat_out,
                duration,
                signin_concurrency,
                secrets,
                save_secrets,
                pg_pool,
                floor_secs,
                virtual_steps,
                batch_max_age_ms: sqlite_batch_max_age_ms,
            };
            let result = load::run(&target, &opts).await;
            if fresh.is_some() {
                target.remove().await?;
                let _ = std::fs::remove_dir_all(&data_dir);
            }
            emit(&result?, json.as_deref())
        }
        Command::Report { files, criterion, aggregate } => {
            if let Some(dir) = criterion {
                println!("{}", report::criterion_table(&report::criterion_medians(&dir)?));
            }
            let runs = files.iter().map(|f| report::read_rows(f)).collect::<Result<Vec<_>>>()?;
            let rows = if aggregate { report::aggregate(&runs) } else { runs.into_iter().flatten().collect() };
            print!("{}", report::table(&rows));
            Ok(())
        }
    }
}

fn emit(rows: &[Row], json: Option<&std::path::Path>) -> Result<()> {
    print!("{}", report::table(rows));
    if let Some(path) = json {
        for r in rows {
            r.append_to(path)?;
        }
    }
    Ok(())
}
