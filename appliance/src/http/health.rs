//! Liveness, readiness and metrics.

use poem::web::Data;
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};

use super::ApiTags;
use crate::state::AppState;

/// Health endpoints.
pub struct HealthApi;

/// Readiness.
#[derive(ApiResponse)]
pub enum Ready {
    /// The store answers.
    #[oai(status = 200)]
    Ready(PlainText<String>),
    /// The store does not answer.
    #[oai(status = 503)]
    NotReady(PlainText<String>),
}

#[OpenApi]
impl HealthApi {
    /// Liveness: the process is up.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz", tag = "ApiTags::Health")]
    async fn healthz(&self) -> PlainText<&'static str> {
        PlainText("ok")
    }

    /// Readiness: the store is reachable.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz", tag = "ApiTags::Health")]
    async fn readyz(&self, state: Data<&AppState>) -> Ready {
        match state.krug.ping().await {
            Ok(()) => Ready::Ready(PlainText("ready".into())),
            Err(e) => {
                tracing::warn!(error = %e, "store not reachable");
                Ready::NotReady(PlainText("store not reachable".into()))
            }
        }
    }

    /// Prometheus metrics (text exposition format).
    #[oai(path = "/metrics", method = "get", operation_id = "metrics", tag = "ApiTags::Health")]
    async fn metrics(&self, state: Data<&AppState>) -> PlainText<String> {
        state.metrics.observe_store(state.krug.write_stats());
        PlainText(state.metrics.render())
    }
}
