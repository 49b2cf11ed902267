//! Latency recording (HDR histograms in microseconds) and the result table.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Records latencies of successful operations and counts failures by kind.
#[derive(Clone)]
pub struct Recorder {
    /// `None` only if the constant bounds were refused (they never are); then nothing is recorded.
    hist: Option<Histogram<u64>>,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    /// An empty recorder (1 µs … 10 min, 3 significant digits).
    pub fn new() -> Recorder {
        Recorder { hist: Histogram::new_with_bounds(1, 600_000_000, 3).ok(), errors: BTreeMap::new() }
    }

    /// One success that took `latency`.
    pub fn ok(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
        if let Some(h) = &mut self.hist {
            h.saturating_record(us);
        }
    }

    /// One failure of kind `what` (an HTTP status and problem code, an SDK error code, …).
    pub fn error(&mut self, what: &str) {
        *self.errors.entry(what.to_owned()).or_default() += 1;
    }

    /// Adds another recorder's counts.
    pub fn merge(&mut self, other: &Recorder) {
        if let (Some(h), Some(o)) = (&mut self.hist, &other.hist) {
            let _ = h.add(o);
        }
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }

    /// Successes so far.
    pub fn count(&self) -> u64 {
        self.hist.as_ref().map_or(0, Histogram::len)
    }

    /// The summary over `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let h = self.hist.as_ref().filter(|h| !h.is_empty());
        let q = |p: f64| h.map_or(0, |h| h.value_at_quantile(p));
        let ok = self.count();
        Summary {
            ok,
            errors: self.errors.clone(),
            secs,
            rate: ok as f64 / secs,
            p50_us: q(0.5),
            p90_us: q(0.9),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: h.map_or(0, Histogram::max),
        }
    }
}

/// Latency percentiles and throughput of one measurement.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Successful operations.
    pub ok: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the measurement.
    pub secs: f64,
    /// Successes per second.
    pub rate: f64,
    /// Median latency, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Slowest, µs.
    pub max_us: u64,
}

impl Summary {
    /// Failures in total.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One line of the result table: a measurement with the floor measured beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// `sdk` (through the store in-process) or `http` (through the appliance).
    pub suite: String,
    /// `sqlite-full`, `sqlite-normal`, `postgres`.
    pub store: String,
    /// What was measured (`scan`, `record_purchase`, `scan @200/s`, …).
    pub op: String,
    /// Concurrent tasks or clients.
    pub tasks: u32,
    /// The measurement.
    pub summary: Summary,
    /// The floor measured in the same run with the same number of tasks.
    pub floor: Summary,
    /// On SQLite, for a throughput run with N tasks: the group-commit floor with N inserts per
    /// `COMMIT` measured in the same run (rate in inserts/s).
    #[serde(default)]
    pub group_floor: Option<Summary>,
    /// On SQLite: the writer's time per successful operation during the measurement.
    #[serde(default)]
    pub writer: Option<WriterTime>,
    /// Notes (members in the pool, starvation of the code pool, …).
    pub note: String,
}

/// The SQLite writer's totals at one moment: from `Krug::write_stats` in-process, or from an
/// appliance's `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterTotals {
    /// Group commits.
    pub commits: u64,
    /// Write transactions acknowledged through them.
    pub transactions: u64,
    /// Microseconds write transactions held the writer.
    pub held_micros: u64,
    /// Microseconds in `COMMIT`s.
    pub commit_micros: u64,
}

impl From<krug::WriteStats> for WriterTotals {
    fn from(s: krug::WriteStats) -> Self {
        WriterTotals {
            commits: s.batches,
            transactions: s.transactions,
            held_micros: s.held_micros,
            commit_micros: s.commit_micros,
        }
    }
}

impl WriterTotals {
    /// The totals in a Prometheus text exposition (`krug_store_*` counters); `None` when the
    /// appliance exposes none (PostgreSQL reports zero commits).
    pub fn from_metrics(text: &str) -> Option<WriterTotals> {
        let value =
            |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<u64>().ok());
        Some(WriterTotals {
            commits: value("krug_store_commits_total")?,
            transactions: value("krug_store_write_transactions_total")?,
            held_micros: value("krug_store_writer_held_microseconds_total")?,
            commit_micros: value("krug_store_commit_microseconds_total")?,
        })
    }
}

/// The SQLite writer's work during one measurement, per successful operation: how much of the
/// single writer's time a scan costs, which is what bounds the throughput on SQLite.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriterTime {
    /// Group commits during the measurement.
    pub commits: u64,
    /// Write transactions acknowledged during it.
    pub transactions: u64,
    /// Microseconds the writer was held (the transactions' turns), per operation.
    pub held_us_per_op: u64,
    /// Microseconds in `COMMIT`s, per operation.
    pub commit_us_per_op: u64,
}

impl WriterTime {
    /// The work between two readings of the totals, over `ops` successful operations; `None`
    /// when either reading is missing or nothing was committed (PostgreSQL).
    pub fn between(before: Option<WriterTotals>, after: Option<WriterTotals>, ops: u64) -> Option<WriterTime> {
        let (before, after) = (before?, after?);
        let commits = after.commits.saturating_sub(before.commits);
        if commits == 0 {
            return None;
        }
        let ops = ops.max(1);
        Some(WriterTime {
            commits,
            transactions: after.transactions.saturating_sub(before.transactions),
            held_us_per_op: after.held_micros.saturating_sub(before.held_micros) / ops,
            commit_us_per_op: after.commit_micros.saturating_sub(before.commit_micros) / ops,
        })
    }

    /// Mean write transactions per commit.
    pub fn per_commit(&self) -> f64 {
        self.transactions as f64 / self.commits.max(1) as f64
    }
}

impl Row {
    /// Appends the row as one JSON line to `path`.
    pub fn append_to(&self, path: &std::path::Path) -> crate::Result<()> {
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{}", serde_json::to_string(self)?)?;
        Ok(())
    }
}

/// Reads rows written by [`Row::append_to`].
pub fn read_rows(path: &std::path::Path) -> crate::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| Ok(serde_json::from_str(l)?)).collect()
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// `a ÷ b`: one decimal, two below 1 (a scan rate over the group floor's inserts is ≈ 0.03×).
fn ratio(a: f64, b: f64) -> String {
    match a / b {
        _ if b <= 0.0 => "–".into(),
        r if r < 1.0 => format!("{r:.2}×"),
        r => format!("{r:.1}×"),
    }
}

/// The table (GitHub Markdown): each figure beside the floor of the same run.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(
        "| suite | store | operation | tasks | ok/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | floor p50 | floor p99 | floor tx/s | p50 ÷ floor | p99 ÷ floor | rate ÷ floor | group floor ins/s | rate ÷ group floor | writer held µs/op | COMMIT µs/op | tx/commit | errors | note |\n",
    );
    out.push_str(
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for r in rows {
        let s = &r.summary;
        let f = &r.floor;
        let errors = if s.errors.is_empty() {
            "0".to_owned()
        } else {
            s.errors.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
        };
        let (group_rate, group_ratio) = match &r.group_floor {
            Some(g) => (format!("{:.0}", g.rate), ratio(s.rate, g.rate)),
            None => ("–".into(), "–".into()),
        };
        let (held, commit, per_commit) = match &r.writer {
            Some(w) => (w.held_us_per_op.to_string(), w.commit_us_per_op.to_string(), format!("{:.1}", w.per_commit())),
            None => ("–".into(), "–".into(), "–".into()),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.suite,
            r.store,
            r.op,
            r.tasks,
            s.rate,
            ms(s.p50_us),
            ms(s.p90_us),
            ms(s.p99_us),
            ms(s.p999_us),
            ms(s.max_us),
            ms(f.p50_us),
            ms(f.p99_us),
            f.rate,
            ratio(s.p50_us as f64, f.p50_us as f64),
            ratio(s.p99_us as f64, f.p99_us as f64),
            ratio(s.rate, f.rate),
            group_rate,
            group_ratio,
            held,
            commit,
            per_commit,
            errors,
            r.note,
        ));
    }
    out
}

/// Criterion results under `dir` (`target/criterion`): `(group/bench, median ns, 95 % CI low,
/// high)` from each benchmark's last run.
pub fn criterion_medians(dir: &std::path::Path) -> crate::Result<Vec<(String, f64, f64, f64)>> {
    let mut out = Vec::new();
    let Ok(groups) = std::fs::read_dir(dir) else { return Ok(out) };
    for group in groups.flatten() {
        let Ok(benches) = std::fs::read_dir(group.path()) else { continue };
        for bench in benches.flatten() {
            let file = bench.path().join("new").join("estimates.json");
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let v: serde_json::Value = serde_json::from_str(&text)?;
            let median =
                |k: &str| v.pointer(&format!("/median/{k}")).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
            out.push((
                format!("{}/{}", group.file_name().to_string_lossy(), bench.file_name().to_string_lossy()),
                median("point_estimate"),
                median("confidence_interval/lower_bound"),
                median("confidence_interval/upper_bound"),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The criterion medians as a Markdown table.
pub fn criterion_table(rows: &[(String, f64, f64, f64)]) -> String {
    let mut out = String::from("| micro-bench (criterion) | median | 95 % CI |\n|---|---:|---|\n");
    let fmt = |ns: f64| if ns >= 1000.0 { format!("{:.2} µs", ns / 1000.0) } else { format!("{ns:.0} ns") };
    for (name, median, lo, hi) in rows {
        out.push_str(&format!("| {name} | {} | {} – {} |\n", fmt(*median), fmt(*lo), fmt(*hi)));
    }
    out
}

/// Rows of repeated runs (one `Vec<Row>` per run) folded into one row per measurement: each
/// figure is the median over the runs; the note gives the number of runs and the range of p99.
pub fn aggregate(runs: &[Vec<Row>]) -> Vec<Row> {
    let mut keys: Vec<(String, String, String, u32)> = Vec::new();
    for run in runs {
        for r in run {
            let key = (r.suite.clone(), r.store.clone(), r.op.clone(), r.tasks);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let same: Vec<&Row> = runs
                .iter()
                .flat_map(|run| run.iter())
                .filter(|r| {
                    (r.suite.as_str(), r.store.as_str(), r.op.as_str(), r.tasks) == (&*key.0, &*key.1, &*key.2, key.3)
                })
                .collect();
            let first = *same.first()?;
            let fold =
                |pick: &dyn Fn(&Row) -> &Summary| median_summary(&same.iter().map(|r| pick(r)).collect::<Vec<_>>());
            let groups: Vec<&Summary> = same.iter().filter_map(|r| r.group_floor.as_ref()).collect();
            let writers: Vec<&WriterTime> = same.iter().filter_map(|r| r.writer.as_ref()).collect();
            let med_w = |f: &dyn Fn(&WriterTime) -> u64| median_u64(writers.iter().map(|w| f(w)).collect());
            let writer = (!writers.is_empty()).then(|| WriterTime {
                commits: med_w(&|w| w.commits),
                transactions: med_w(&|w| w.transactions),
                held_us_per_op: med_w(&|w| w.held_us_per_op),
                commit_us_per_op: med_w(&|w| w.commit_us_per_op),
            });
            let p99s: Vec<u64> = same.iter().map(|r| r.summary.p99_us).collect();
            let rates: Vec<f64> = same.iter().map(|r| r.summary.rate).collect();
            let lo = p99s.iter().min().copied().unwrap_or(0);
            let hi = p99s.iter().max().copied().unwrap_or(0);
            let rlo = rates.iter().copied().fold(f64::INFINITY, f64::min);
            let rhi = rates.iter().copied().fold(0.0, f64::max);
            Some(Row {
                suite: first.suite.clone(),
                store: first.store.clone(),
                op: first.op.clone(),
                tasks: first.tasks,
                summary: fold(&|r| &r.summary),
                floor: fold(&|r| &r.floor),
                group_floor: (!groups.is_empty()).then(|| median_summary(&groups)),
                writer,
                note: format!(
                    "median of {} runs; p99 {}–{} ms, ok/s {:.0}–{:.0} across runs",
                    same.len(),
                    ms(lo),
                    ms(hi),
                    rlo,
                    rhi
                ),
            })
        })
        .collect()
}

/// Each figure the median over `summaries`; the errors summed.
fn median_summary(summaries: &[&Summary]) -> Summary {
    let med_u = |f: &dyn Fn(&Summary) -> u64| median_u64(summaries.iter().map(|s| f(s)).collect());
    let med_f = |f: &dyn Fn(&Summary) -> f64| median_f64(summaries.iter().map(|s| f(s)).collect());
    let mut errors = BTreeMap::new();
    for s in summaries {
        for (k, v) in &s.errors {
            *errors.entry(k.clone()).or_insert(0) += v;
        }
    }
    Summary {
        ok: med_u(&|s| s.ok),
        errors,
        secs: med_f(&|s| s.secs),
        rate: med_f(&|s| s.rate),
        p50_us: med_u(&|s| s.p50_us),
        p90_us: med_u(&|s| s.p90_us),
        p99_us: med_u(&|s| s.p99_us),
        p999_us: med_u(&|s| s.p999_us),
        max_us: med_u(&|s| s.max_us),
    }
}

fn median_u64(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_time_per_operation_comes_from_two_readings_of_the_metrics() {
        let text = |commits: u64, tx: u64, held: u64, commit: u64| {
            format!(
                "# TYPE krug_store_commits_total counter\nkrug_store_commits_total {commits}\n\
                 krug_store_write_transactions_total {tx}\nkrug_store_writer_held_microseconds_total {held}\n\
                 krug_store_commit_microseconds_total {commit}\nkrug_store_commits_total_other 7\n"
            )
        };
        let before = WriterTotals::from_metrics(&text(10, 20, 5_000, 9_000));
        let after = WriterTotals::from_metrics(&text(14, 52, 17_800, 13_800));
        let w = WriterTime::between(before, after, 32).unwrap();
        assert_eq!(w, WriterTime { commits: 4, transactions: 32, held_us_per_op: 400, commit_us_per_op: 150 });
        assert_eq!(w.per_commit(), 8.0);
        // PostgreSQL: the counters stay at zero, so there is no writer time to report.
        let zero = WriterTotals::from_metrics(&text(0, 0, 0, 0));
        assert_eq!(WriterTime::between(zero, zero, 100), None);
        assert_eq!(WriterTotals::from_metrics("krug_http_requests_total 3\n"), None);
    }

    #[test]
    fn rows_written_before_the_writer_columns_still_read() {
        let old = r#"{"suite":"sdk","store":"sqlite-full","op":"scan","tasks":1,"summary":{"ok":1,"errors":{},"secs":1.0,"rate":1.0,"p50_us":1,"p90_us":1,"p99_us":1,"p999_us":1,"max_us":1},"floor":{"ok":1,"errors":{},"secs":1.0,"rate":1.0,"p50_us":1,"p90_us":1,"p99_us":1,"p999_us":1,"max_us":1},"note":""}"#;
        let row: Row = serde_json::from_str(old).unwrap();
        assert!(row.writer.is_none() && row.group_floor.is_none());
        assert!(table(&[row]).contains("| – | – | – | – | – |"));
    }
}
