//! Deterministic ids. Each generator mints the same sequence on every run, so a failing test
//! reproduces with the same ids, and the ids sort in minting order like real UUIDv7s do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use krug::types::IdGen;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::{Builder, Uuid};

/// The timestamp part of [`SequentialIds::new`]'s ids.
const DEFAULT_START: OffsetDateTime = datetime!(2026-01-01 00:00:00 UTC);

/// An [`IdGen`] yielding UUIDv7-shaped ids that strictly increase: a fixed millisecond timestamp
/// followed by a counter where a real UUIDv7 has random bits.
///
/// Clones share the counter, so ids stay unique across every handle of one generator.
#[derive(Debug, Clone)]
pub struct SequentialIds {
    unix_millis: u64,
    counter: Arc<AtomicU64>,
}

impl SequentialIds {
    /// A generator whose ids carry the timestamp 2026-01-01T00:00:00Z.
    pub fn new() -> Self {
        Self::starting_at(DEFAULT_START)
    }

    /// A generator whose ids carry `at` as their timestamp (times before 1970 are taken as 1970).
    pub fn starting_at(at: OffsetDateTime) -> Self {
        let millis = at.unix_timestamp_nanos() / 1_000_000;
        Self { unix_millis: u64::try_from(millis).unwrap_or(0), counter: Arc::new(AtomicU64::new(0)) }
    }
}

impl Default for SequentialIds {
    fn default() -> Self {
        Self::new()
    }
}

impl IdGen for SequentialIds {
    /// The counter fills the low 64 bits of the 74 "random" bits; the variant field takes the top
    /// two of those, so ids increase for the first 2^62 calls — more than any test makes.
    fn next_uuid(&self) -> Uuid {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut tail = [0u8; 10];
        for (slot, byte) in tail.iter_mut().skip(2).zip(n.to_be_bytes()) {
            *slot = byte;
        }
        Builder::from_unix_timestamp_millis(self.unix_millis, &tail).into_uuid()
    }
}
