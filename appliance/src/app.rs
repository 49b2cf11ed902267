//! Building and running the application: settings → keys → SDK → routes → listener.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use krug::Krug;
use krug::pii::{KeyId, KeyRing};
use krug::tenant::TenantConfig;
use krug::types::{Clock, SystemClock};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{EndpointExt, Route, Server};

use crate::auth::jwt::{JwtKeyFile, JwtKeys};
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::sms::{LogGateway, SmsGateway};
use crate::state::AppState;
use crate::{http, problem};

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file or folder could not be read or written.
    #[error("{0}")]
    Io(String),
    /// A tenant configuration or key file is invalid.
    #[error("{0}")]
    Config(String),
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(#[from] krug::Error),
}

/// What tests (or an embedding service) may replace.
#[derive(Default)]
pub struct Overrides {
    /// The clock (default: the system clock).
    pub clock: Option<Arc<dyn Clock>>,
    /// The SMS gateway (default: the log gateway).
    pub sms: Option<Arc<dyn SmsGateway>>,
}

/// A built application with its listener bound.
pub struct Application {
    acceptor: poem::listener::TcpAcceptor,
    port: u16,
    state: AppState,
}

impl Application {
    /// Prepares everything and binds the listener (port 0 picks a free port).
    pub async fn build(settings: Settings, overrides: Overrides) -> Result<Application, StartError> {
        let clock: Arc<dyn Clock> = overrides.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let sms: Arc<dyn SmsGateway> = overrides.sms.unwrap_or_else(|| Arc::new(LogGateway));
        std::fs::create_dir_all(settings.data_dir.join("keys"))
            .map_err(|e| StartError::Io(format!("{}: {e}", settings.data_dir.display())))?;
        let jwt_file: JwtKeyFile = load_or_create(&settings.data_dir.join("jwt-keys.toml"), JwtKeyFile::generate)?;
        let jwt = JwtKeys::new(&jwt_file, &settings.jwt_issuer, &settings.jwt_audience).map_err(StartError::Config)?;

        let mut builder = Krug::builder()
            .clock(clock.clone())
            .write_wait_budget(settings.write_wait_budget())
            .sqlite_batch_max_age(settings.sqlite_batch_max_age());
        let url = settings.database_url();
        builder = if url.starts_with("sqlite:") {
            let durability = if settings.sqlite_synchronous == "normal" {
                krug::SqliteDurability::Normal
            } else {
                krug::SqliteDurability::Full
            };
            builder.sqlite_with(&url, durability)
        } else {
            builder.postgres_with(&url, settings.postgres_pool)
        };
        for dir in &settings.tenants {
            let config =
                TenantConfig::load_dir(dir).map_err(|e| StartError::Config(format!("{}: {e}", dir.display())))?;
            let keys = tenant_keys(&settings.data_dir, &config)?;
            builder = builder.tenant(config, keys);
        }
        let krug = builder.build().await?;
        // Tenants created at run time (by the superadmin) live in the store; host them again with
        // their keys.
        for (id, source) in krug.stored_tenant_configs().await? {
            if krug.hosted_tenants().contains(&id) {
                continue;
            }
            let config = TenantConfig::from_toml_str(&source)
                .map_err(|e| StartError::Config(format!("stored tenant {id}: {e}")))?;
            let path = settings.data_dir.join("keys").join(format!("{id}.toml"));
            if !path.exists() {
                return Err(StartError::Config(format!(
                    "stored tenant {id}: its key file {} is missing",
                    path.display()
                )));
            }
            let keys = tenant_keys(&settings.data_dir, &config)?;
            krug.apply_tenant(config, keys).await?;
        }

        let limiter = RateLimiter::new(settings.auth_requests_per_minute, Duration::from_secs(60));
        let metrics = Arc::new(Metrics::new().map_err(|e| StartError::Config(e.to_string()))?);
        let acceptor = TcpListener::bind(settings.listen.clone())
            .into_acceptor()
            .await
            .map_err(|e| StartError::Io(format!("cannot listen on {}: {e}", settings.listen)))?;
        let port = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().map(|s| s.port())).unwrap_or(0);
        let state = AppState { krug, jwt: Arc::new(jwt), settings: Arc::new(settings), clock, sms, limiter, metrics };
        Ok(Application { acceptor, port, state })
    }

    /// The port the listener is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state (for demo seeding and tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish (up to 10 s) and
    /// closes the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let krug = self.state.krug.clone();
        let routes = routes(self.state);
        let result = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(routes, signal, Some(Duration::from_secs(10)))
            .await;
        krug.close().await;
        result
    }
}

/// The full route tree: the API, its docs and spec, health and metrics.
pub fn routes(state: AppState) -> impl poem::Endpoint + 'static {
    let api = http::service();
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint_yaml();
    Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.yaml", spec)
        .around(crate::http::observe)
        .data(state)
        .catch_all_error(problem::catch_all)
}

/// The key ring of a tenant: `<data_dir>/keys/<tenant>.toml`, generated on first start.
pub fn tenant_keys(data_dir: &Path, config: &TenantConfig) -> Result<KeyRing, StartError> {
    let path = data_dir.join("keys").join(format!("{}.toml", config.id));
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| StartError::Io(format!("{}: {e}", path.display())))?;
        return KeyRing::from_toml_str(&text).map_err(|e| StartError::Config(format!("{}: {e}", path.display())));
    }
    let id = KeyId::parse("k1").map_err(|e| StartError::Config(e.to_string()))?;
    let ring = KeyRing::generate(id);
    write_secret(&path, &ring.to_toml_string())?;
    tracing::info!(tenant = %config.id, path = %path.display(), "generated the tenant's personal-data keys");
    Ok(ring)
}

fn load_or_create<T: serde::de::DeserializeOwned + serde::Serialize>(
    path: &Path,
    create: impl FnOnce() -> T,
) -> Result<T, StartError> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| StartError::Io(format!("{}: {e}", path.display())))?;
        return toml::from_str(&text).map_err(|e| StartError::Config(format!("{}: {}", path.display(), e.message())));
    }
    let value = create();
    let text = toml::to_string(&value).map_err(|e| StartError::Config(e.to_string()))?;
    write_secret(path, &text)?;
    Ok(value)
}

/// Writes a file only its owner can read (keys).
fn write_secret(path: &Path, text: &str) -> Result<(), StartError> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path).map_err(|e| StartError::Io(format!("{}: {e}", path.display())))?;
    file.write_all(text.as_bytes()).map_err(|e| StartError::Io(format!("{}: {e}", path.display())))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
