//! Clocks for benchmarks: the SDK reads time only through [`krug::types::Clock`], so a bench can
//! move time the way a test does, without the dev-only testkit.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use krug::types::{Clock, SystemClock};
use time::{Duration, OffsetDateTime};

/// The system clock shifted by an adjustable offset. Clones share the offset: the bench keeps one
/// handle while the SDK holds another. Moving it forward stands for time passing (a new QR step
/// for every member) without waiting for it.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock {
    offset_ns: Arc<AtomicI64>,
}

impl ShiftedClock {
    /// The system clock, unshifted.
    pub fn new() -> ShiftedClock {
        ShiftedClock::default()
    }

    /// Moves the clock by `by` (negative moves it back).
    pub fn shift(&self, by: Duration) {
        let ns = i64::try_from(by.whole_nanoseconds()).unwrap_or(0);
        self.offset_ns.fetch_add(ns, Ordering::AcqRel);
    }

    /// The current shift.
    pub fn offset(&self) -> Duration {
        Duration::nanoseconds(self.offset_ns.load(Ordering::Acquire))
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let now = SystemClock.now();
        now.checked_add(self.offset()).unwrap_or(now)
    }
}

/// A clock that stands still until moved (Unix nanoseconds in an atomic; clones share it).
#[derive(Debug, Clone)]
pub struct ManualClock {
    unix_ns: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock standing at `at`.
    pub fn new(at: OffsetDateTime) -> ManualClock {
        ManualClock { unix_ns: Arc::new(AtomicI64::new(to_ns(at))) }
    }

    /// Moves the clock to `at` (never backwards: a later `set` to an earlier instant is ignored).
    pub fn set(&self, at: OffsetDateTime) {
        self.unix_ns.fetch_max(to_ns(at), Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.unix_ns.load(Ordering::Acquire)))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

fn to_ns(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX)
}
