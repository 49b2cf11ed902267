//! A per-key fixed-window request limiter (per client address on the sign-in endpoints), kept in
//! memory. Per-phone limits on SMS codes are durable and live in the SDK; this one only blunts
//! floods from one address, so losing it on restart is harmless.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use moka::future::Cache;

/// Counts requests per key per window.
#[derive(Clone)]
pub struct RateLimiter {
    windows: Cache<String, Arc<AtomicU32>>,
    limit: u32,
    window: Duration,
}

impl RateLimiter {
    /// At most `limit` requests per key per `window`.
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter { windows: Cache::builder().time_to_live(window).max_capacity(100_000).build(), limit, window }
    }

    /// Counts one request for `key`; `Err(retry_after_seconds)` when over the limit.
    pub async fn hit(&self, key: &str) -> Result<(), u32> {
        let counter = self.windows.get_with(key.to_owned(), async { Arc::new(AtomicU32::new(0)) }).await;
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        if n > self.limit { Err(u32::try_from(self.window.as_secs()).unwrap_or(60).max(1)) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_limit_applies_per_key() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.hit("a").await.is_ok());
        assert!(limiter.hit("a").await.is_ok());
        assert_eq!(limiter.hit("a").await, Err(60));
        assert!(limiter.hit("b").await.is_ok());
    }
}
