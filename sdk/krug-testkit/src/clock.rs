//! A clock that moves only when the test moves it. Clones share one instant, so a test keeps a
//! handle while the SDK holds another, and every reading is in UTC like `SystemClock`'s.

use std::sync::{Arc, Mutex, PoisonError};

use krug::types::Clock;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

/// A manually driven [`Clock`]: `now()` returns the instant last set, until `set` or `advance`.
///
/// Clones share the same instant.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl ManualClock {
    /// A clock standing at `start` (converted to UTC).
    pub fn new(start: OffsetDateTime) -> Self {
        Self { now: Arc::new(Mutex::new(start.to_offset(UtcOffset::UTC))) }
    }

    /// A clock standing at an RFC 3339 instant, e.g. `"2026-03-01T12:00:00Z"`.
    ///
    /// # Panics
    /// If `rfc3339` does not parse: it is a literal in a test, so a typo should fail loudly.
    #[allow(clippy::panic)] // see "Panics": a malformed literal is a bug in the test
    pub fn at(rfc3339: &str) -> Self {
        match OffsetDateTime::parse(rfc3339, &Rfc3339) {
            Ok(start) => Self::new(start),
            Err(err) => panic!("ManualClock::at({rfc3339:?}): not an RFC 3339 instant: {err}"),
        }
    }

    /// The instant the clock stands at (UTC).
    pub fn now(&self) -> OffsetDateTime {
        *self.lock()
    }

    /// Moves the clock to `t` (converted to UTC); it may move backwards.
    pub fn set(&self, t: OffsetDateTime) {
        *self.lock() = t.to_offset(UtcOffset::UTC);
    }

    /// Moves the clock by exactly `by` (negative moves it back).
    ///
    /// # Panics
    /// If the result is outside the range `OffsetDateTime` can hold.
    #[allow(clippy::panic)] // see "Panics": only a test asking for year ±10000 gets here
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        match now.checked_add(by) {
            Some(next) => *now = next,
            None => panic!("ManualClock::advance({by}) from {} overflows OffsetDateTime", *now),
        }
    }

    /// A poisoned lock only means another test thread panicked mid-assignment of a `Copy` value,
    /// which cannot leave it torn, so the value is still good.
    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        ManualClock::now(self)
    }
}
