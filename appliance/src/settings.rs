//! Appliance settings: built-in defaults (SQLite in `./krug-data`, the demo tenant, loopback) →
//! an optional TOML file → `KRUG_*` environment variables → validation that reports every bad
//! value at once. No file is needed to start.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Everything the appliance needs to start.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on. Default `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: String,
    /// Folder for the embedded database, generated keys and signing keys. Default `./krug-data`.
    pub data_dir: PathBuf,
    /// Store URL: `sqlite://…` or `postgres://…`. Default: SQLite at `<data_dir>/krug.db`.
    pub database_url: Option<String>,
    /// SQLite durability: `full` (default; survives power loss) or `normal`.
    pub sqlite_synchronous: String,
    /// PostgreSQL pool size. Default 16.
    pub postgres_pool: u32,
    /// Milliseconds a write may wait for the store — SQLite's single writer, or a PostgreSQL pool
    /// connection (the pool's acquire timeout, which also bounds opening a connection) — before it
    /// is refused as busy (HTTP 503 with `Retry-After`; nothing is written). Default 2000: far above
    /// the waits of full load, far below a till's timeout. 1–60000.
    pub write_wait_budget_ms: u32,
    /// Milliseconds a SQLite group commit stays open at most while writers keep arriving: longer
    /// shares each fsync among more writes, shorter bounds how long an acknowledgement waits for
    /// company. Default 5; 0 commits every write on its own. 0–1000.
    pub sqlite_batch_max_age_ms: u32,
    /// Tenant folders (each with `tenant.toml`) applied at start-up, idempotently. Default
    /// `["tenants/svoy-krug"]`.
    pub tenants: Vec<PathBuf>,
    /// JWT issuer (`iss`). Default `krug`.
    pub jwt_issuer: String,
    /// JWT audience (`aud`). Default `krug-api`.
    pub jwt_audience: String,
    /// Access-token lifetime in seconds. Default 900.
    pub access_ttl_seconds: u32,
    /// Refresh-token lifetime in days. Default 30.
    pub refresh_ttl_days: u32,
    /// Superadmin login. Default `superadmin`.
    pub superadmin_login: String,
    /// Superadmin password as an argon2 PHC hash; without it the superadmin cannot sign in
    /// (except in `--demo`, which sets one and prints it).
    pub superadmin_password_hash: Option<String>,
    /// Requests a client address may make per minute to the sign-in endpoints. Default 30.
    pub auth_requests_per_minute: u32,
    /// Seed demo staff and print their logins (set by `serve --demo`).
    pub demo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("krug-data"),
            database_url: None,
            sqlite_synchronous: "full".into(),
            postgres_pool: 16,
            write_wait_budget_ms: millis(krug::DEFAULT_WRITE_WAIT_BUDGET),
            sqlite_batch_max_age_ms: millis(krug::DEFAULT_SQLITE_BATCH_MAX_AGE),
            tenants: vec![PathBuf::from("tenants/svoy-krug")],
            jwt_issuer: "krug".into(),
            jwt_audience: "krug-api".into(),
            access_ttl_seconds: 900,
            refresh_ttl_days: 30,
            superadmin_login: "superadmin".into(),
            superadmin_password_hash: None,
            auth_requests_per_minute: 30,
            demo: false,
        }
    }
}

/// Whole milliseconds of a default, for the settings that count in them.
fn millis(d: std::time::Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// Every problem found in the settings, one per line: `KRUG_LISTEN: not a socket address`.
#[derive(Debug, thiserror::Error)]
#[error("invalid settings:\n{}", .0.join("\n"))]
pub struct SettingsError(pub Vec<String>);

impl Settings {
    /// Defaults, then `file` (if given), then the `KRUG_*` variables of `env`, then validation.
    pub fn load(
        file: Option<&std::path::Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let mut settings = match file {
            None => Settings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SettingsError(vec![format!("{}: cannot read: {e}", path.display())]))?;
                toml::from_str(&text)
                    .map_err(|e| SettingsError(vec![format!("{}: {}", path.display(), e.message())]))?
            }
        };
        let mut problems = Vec::new();
        for (key, value) in env {
            settings.apply_env(&key, value, &mut problems);
        }
        settings.validate(&mut problems);
        if problems.is_empty() { Ok(settings) } else { Err(SettingsError(problems)) }
    }

    fn apply_env(&mut self, key: &str, value: String, problems: &mut Vec<String>) {
        fn number<T: std::str::FromStr>(key: &str, value: &str, problems: &mut Vec<String>) -> Option<T> {
            match value.parse() {
                Ok(v) => Some(v),
                Err(_) => {
                    problems.push(format!("{key}: {value:?} is not a whole number"));
                    None
                }
            }
        }
        match key {
            "KRUG_LISTEN" => self.listen = value,
            "KRUG_DATA_DIR" => self.data_dir = PathBuf::from(value),
            "KRUG_DATABASE_URL" => self.database_url = Some(value),
            "KRUG_SQLITE_SYNCHRONOUS" => self.sqlite_synchronous = value,
            "KRUG_POSTGRES_POOL" => self.postgres_pool = number(key, &value, problems).unwrap_or(self.postgres_pool),
            "KRUG_WRITE_WAIT_BUDGET_MS" => {
                self.write_wait_budget_ms = number(key, &value, problems).unwrap_or(self.write_wait_budget_ms)
            }
            "KRUG_SQLITE_BATCH_MAX_AGE_MS" => {
                self.sqlite_batch_max_age_ms = number(key, &value, problems).unwrap_or(self.sqlite_batch_max_age_ms)
            }
            "KRUG_TENANTS" => self.tenants = value.split(',').filter(|s| !s.is_empty()).map(PathBuf::from).collect(),
            "KRUG_JWT_ISSUER" => self.jwt_issuer = value,
            "KRUG_JWT_AUDIENCE" => self.jwt_audience = value,
            "KRUG_ACCESS_TTL_SECONDS" => {
                self.access_ttl_seconds = number(key, &value, problems).unwrap_or(self.access_ttl_seconds)
            }
            "KRUG_REFRESH_TTL_DAYS" => {
                self.refresh_ttl_days = number(key, &value, problems).unwrap_or(self.refresh_ttl_days)
            }
            "KRUG_SUPERADMIN_LOGIN" => self.superadmin_login = value,
            "KRUG_SUPERADMIN_PASSWORD_HASH" => self.superadmin_password_hash = Some(value),
            "KRUG_AUTH_REQUESTS_PER_MINUTE" => {
                self.auth_requests_per_minute = number(key, &value, problems).unwrap_or(self.auth_requests_per_minute)
            }
            // Read by the CLI or by tests, not settings.
            "KRUG_CONFIG" | "KRUG_LOG" | "KRUG_TEST_DATABASE_URL" | "KRUG_REQUIRE_PG" => {}
            other if other.starts_with("KRUG_") => problems.push(format!("{other}: unknown setting")),
            _ => {}
        }
    }

    fn validate(&self, problems: &mut Vec<String>) {
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!("listen: {:?} is not a socket address such as 127.0.0.1:8080", self.listen));
        }
        if !matches!(self.sqlite_synchronous.as_str(), "full" | "normal") {
            problems.push(format!("sqlite_synchronous: {:?} must be \"full\" or \"normal\"", self.sqlite_synchronous));
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            problems.push("database_url: must start with sqlite:, postgres:// or postgresql://".into());
        }
        if self.postgres_pool == 0 || self.postgres_pool > 1_000 {
            problems.push("postgres_pool: must be 1–1000".into());
        }
        if !(1..=60_000).contains(&self.write_wait_budget_ms) {
            problems.push("write_wait_budget_ms: must be 1–60000".into());
        }
        if self.sqlite_batch_max_age_ms > 1_000 {
            problems.push("sqlite_batch_max_age_ms: must be 0–1000".into());
        }
        if !(30..=86_400).contains(&self.access_ttl_seconds) {
            problems.push("access_ttl_seconds: must be 30–86400".into());
        }
        if !(1..=365).contains(&self.refresh_ttl_days) {
            problems.push("refresh_ttl_days: must be 1–365".into());
        }
        if self.jwt_issuer.is_empty() || self.jwt_audience.is_empty() {
            problems.push("jwt_issuer, jwt_audience: must not be empty".into());
        }
        if self.auth_requests_per_minute == 0 {
            problems.push("auth_requests_per_minute: must be at least 1".into());
        }
    }

    /// How long a write may wait for the store.
    pub fn write_wait_budget(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.write_wait_budget_ms))
    }

    /// How long a SQLite group commit stays open at most.
    pub fn sqlite_batch_max_age(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.sqlite_batch_max_age_ms))
    }

    /// The store URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("krug.db").display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_need_no_file_and_use_sqlite_in_the_data_dir() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.database_url(), "sqlite://krug-data/krug.db?mode=rwc");
        assert_eq!(s.tenants, vec![PathBuf::from("tenants/svoy-krug")]);
    }

    #[test]
    fn environment_overrides_the_file_and_every_bad_value_is_reported() {
        let err = Settings::load(
            None,
            env(&[
                ("KRUG_LISTEN", "nowhere"),
                ("KRUG_POSTGRES_POOL", "many"),
                ("KRUG_SQLITE_SYNCHRONOUS", "off"),
                ("KRUG_TYPO", "1"),
            ]),
        )
        .unwrap_err();
        let text = err.to_string();
        for needle in ["listen:", "KRUG_POSTGRES_POOL:", "sqlite_synchronous:", "KRUG_TYPO: unknown setting"] {
            assert!(text.contains(needle), "{needle} missing in {text}");
        }
        let ok = Settings::load(None, env(&[("KRUG_LISTEN", "0.0.0.0:9000"), ("PATH", "/bin")])).unwrap();
        assert_eq!(ok.listen, "0.0.0.0:9000");
    }

    #[test]
    fn the_write_limits_default_to_the_sdks_and_are_set_by_file_and_environment_within_bounds() {
        let s = Settings::load(None, env(&[])).unwrap();
        assert_eq!(s.write_wait_budget(), krug::DEFAULT_WRITE_WAIT_BUDGET);
        assert_eq!(s.sqlite_batch_max_age(), krug::DEFAULT_SQLITE_BATCH_MAX_AGE);

        let dir = std::env::temp_dir().join(format!("krug-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("krug.toml");
        std::fs::write(&file, "write_wait_budget_ms = 750\nsqlite_batch_max_age_ms = 0\n").unwrap();
        let s = Settings::load(Some(&file), env(&[])).unwrap();
        assert_eq!((s.write_wait_budget_ms, s.sqlite_batch_max_age_ms), (750, 0));
        let s = Settings::load(Some(&file), env(&[("KRUG_WRITE_WAIT_BUDGET_MS", "300")])).unwrap();
        assert_eq!(s.write_wait_budget(), std::time::Duration::from_millis(300));
        std::fs::remove_dir_all(&dir).unwrap();

        let err =
            Settings::load(None, env(&[("KRUG_WRITE_WAIT_BUDGET_MS", "0"), ("KRUG_SQLITE_BATCH_MAX_AGE_MS", "5000")]))
                .unwrap_err()
                .to_string();
        for needle in ["write_wait_budget_ms: must be 1–60000", "sqlite_batch_max_age_ms: must be 0–1000"] {
            assert!(err.contains(needle), "{needle} missing in {err}");
        }
        let err = Settings::load(None, env(&[("KRUG_WRITE_WAIT_BUDGET_MS", "soon")])).unwrap_err().to_string();
        assert!(err.contains("KRUG_WRITE_WAIT_BUDGET_MS:"), "{err}");
    }
}
