//! Prometheus metrics: requests and latency by operation, scans, accrued bonus.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder};

/// The appliance's metrics, registered once per application.
pub struct Metrics {
    registry: Registry,
    /// Requests by OpenAPI operation id and HTTP status.
    pub requests: IntCounterVec,
    /// Request latency by operation id.
    pub latency: HistogramVec,
    /// Scans accepted at the counter.
    pub scans: IntCounter,
    /// Cashback accrued through the API, in bonus kopecks.
    pub accrued: IntCounter,
    /// SQLite group commits (one fsync each).
    store_batches: IntCounter,
    /// SQLite write transactions acknowledged through those commits.
    store_transactions: IntCounter,
    /// SQLite group commits that failed (their writers were told; nothing was written).
    store_failed_batches: IntCounter,
    /// Microseconds write transactions held the SQLite writer, and spent in its commits: their
    /// rate over time is how busy the single writer is (1.0 s/s = saturated).
    store_held_micros: IntCounter,
    store_commit_micros: IntCounter,
    /// SQLite write transactions refused as busy: they waited for the writer past the budget.
    store_refused: IntCounter,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("krug_http_requests_total", "HTTP requests by operation and status"),
            &["operation", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("krug_http_request_duration_seconds", "HTTP request latency by operation")
                .buckets(vec![0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
            &["operation"],
        )?;
        let scans = IntCounter::new("krug_scans_total", "Scans accepted at the counter")?;
        let accrued = IntCounter::new("krug_accrued_bonus_kopecks_total", "Cashback accrued, in bonus kopecks")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(scans.clone()))?;
        registry.register(Box::new(accrued.clone()))?;
        let store_batches = IntCounter::new("krug_store_commits_total", "SQLite group commits (one fsync each)")?;
        let store_transactions = IntCounter::new(
            "krug_store_write_transactions_total",
            "SQLite write transactions acknowledged after their group commit",
        )?;
        let store_failed_batches =
            IntCounter::new("krug_store_failed_commits_total", "SQLite group commits that failed (nothing written)")?;
        registry.register(Box::new(store_batches.clone()))?;
        registry.register(Box::new(store_transactions.clone()))?;
        registry.register(Box::new(store_failed_batches.clone()))?;
        let store_held_micros = IntCounter::new(
            "krug_store_writer_held_microseconds_total",
            "Microseconds write transactions held the SQLite writer connection",
        )?;
        let store_commit_micros =
            IntCounter::new("krug_store_commit_microseconds_total", "Microseconds spent in SQLite group commits")?;
        registry.register(Box::new(store_held_micros.clone()))?;
        registry.register(Box::new(store_commit_micros.clone()))?;
        let store_refused = IntCounter::new(
            "krug_store_writes_refused_total",
            "SQLite write transactions refused as busy after waiting for the writer past the budget",
        )?;
        registry.register(Box::new(store_refused.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            scans,
            accrued,
            store_batches,
            store_transactions,
            store_failed_batches,
            store_held_micros,
            store_commit_micros,
            store_refused,
        })
    }

    /// Brings the store counters up to the SQLite writer's totals (`None` on PostgreSQL).
    pub fn observe_store(&self, stats: Option<krug::WriteStats>) {
        let Some(stats) = stats else { return };
        for (counter, total) in [
            (&self.store_batches, stats.batches),
            (&self.store_transactions, stats.transactions),
            (&self.store_failed_batches, stats.failed_batches),
            (&self.store_held_micros, stats.held_micros),
            (&self.store_commit_micros, stats.commit_micros),
            (&self.store_refused, stats.refused),
        ] {
            counter.inc_by(total.saturating_sub(counter.get()));
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
