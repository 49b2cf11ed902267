//! What every handler can reach: the SDK handle, the signing keys, the clock, the SMS gateway,
//! the rate limiter and the metrics. Cloned per request (everything inside is shared).

use std::sync::Arc;

use krug::Krug;
use krug::types::Clock;
use time::OffsetDateTime;

use crate::auth::jwt::JwtKeys;
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::sms::SmsGateway;

/// Shared application state.
#[derive(Clone)]
pub struct AppState {
    /// The SDK.
    pub krug: Krug,
    /// Access-token keys.
    pub jwt: Arc<JwtKeys>,
    /// The settings in effect.
    pub settings: Arc<Settings>,
    /// The clock (the SDK's too).
    pub clock: Arc<dyn Clock>,
    /// Where sign-in codes go.
    pub sms: Arc<dyn SmsGateway>,
    /// Per-client-address limits on the sign-in endpoints.
    pub limiter: RateLimiter,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Now, from the injected clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
