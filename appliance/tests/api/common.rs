//! `TestApp`: the appliance on a random port, a fresh database, a manual clock, a capturing SMS
//! gateway, and both fixture tenants.

use std::path::PathBuf;
use std::sync::Arc;

use krug_appliance::sms::CapturingGateway;
use krug_appliance::{Application, Overrides, Settings};
use krug_testkit::{ManualClock, TestDb};
use serde_json::Value;

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub sms: CapturingGateway,
    pub state: krug_appliance::state::AppState,
    settings: Settings,
    _db: TestDb,
    _data: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn repo_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

struct Running {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A response's status and JSON body (problem bodies included).
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// Asserts an RFC 9457 problem with this status and stable code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!((self.status, self.code()), (status, code), "{:?}", self.body);
        assert_eq!(self.content_type, "application/problem+json", "{:?}", self.body);
        assert_eq!(self.body["status"], status, "{:?}", self.body);
    }
}

/// Sends a request and reads its reply. No test accepts a 5xx: a client can never cause one.
pub async fn read_reply(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    assert!(status < 500, "a request was answered {status}: {body:?}");
    Reply { status, content_type, body, headers }
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> TestApp {
        let data = tempfile::tempdir().unwrap();
        let settings = Settings {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            database_url: Some(db.url().to_owned()),
            postgres_pool: 8,
            tenants: vec![repo_path("tenants/svoy-krug"), repo_path("sdk/krug-testkit/fixtures/other-tenant")],
            superadmin_password_hash: Some(krug::hash_secret(PASSWORD).await.unwrap()),
            ..Settings::default()
        };
        let clock = ManualClock::new(time::macros::datetime!(2026-03-02 09:00 UTC));
        let sms = CapturingGateway::default();
        let (running, state) = Self::start(&settings, &clock, &sms).await;
        TestApp {
            base: running.base,
            http: reqwest::Client::new(),
            clock,
            sms,
            state,
            settings,
            _db: db,
            _data: data,
            stop: Some(running.stop),
            server: Some(running.server),
        }
    }

    /// Builds and runs an appliance over the settings, the clock and the gateway.
    async fn start(
        settings: &Settings,
        clock: &ManualClock,
        sms: &CapturingGateway,
    ) -> (Running, krug_appliance::state::AppState) {
        let overrides = Overrides { clock: Some(Arc::new(clock.clone())), sms: Some(Arc::new(sms.clone())) };
        let app = Application::build(settings.clone(), overrides).await.unwrap();
        let state = app.state().clone();
        let base = format!("http://127.0.0.1:{}", app.port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        (Running { base, stop, server }, state)
    }

    /// Stops the appliance (letting it finish and close its store) and starts a new one over the
    /// same settings, data folder, database, clock and SMS gateway — as a restart would.
    pub async fn restart(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        let (running, state) = Self::start(&self.settings, &self.clock, &self.sms).await;
        self.base = running.base;
        self.state = state;
        self.stop = Some(running.stop);
        self.server = Some(running.server);
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        read_reply(req).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(reqwest::Method::POST, path, token, Some(body)).await
    }

    /// Posts raw bytes with a JSON content type (malformed-body tests).
    pub async fn post_raw(&self, path: &str, token: Option<&str>, raw: &str) -> Reply {
        self.send_raw(reqwest::Method::POST, path, token, raw).await
    }

    /// Sends raw bytes with a JSON content type and any method (malformed-body tests).
    pub async fn send_raw(&self, method: reqwest::Method, path: &str, token: Option<&str>, raw: &str) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", "application/json")
            .body(raw.to_owned());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        read_reply(req).await
    }
}

/// A signed-in principal's tokens.
#[derive(Debug, Clone)]
pub struct Login {
    pub access: String,
    pub refresh: Option<String>,
    pub member: Option<String>,
}

pub const PASSWORD: &str = "correct-horse-battery";

impl TestApp {
    /// Signs a member in by SMS (reading the code the gateway captured); registers her on first use.
    pub async fn member(&self, tenant: &str, phone: &str) -> Login {
        let r = self.post("/v1/auth/sms-code", None, &serde_json::json!({"tenant": tenant, "phone": phone})).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let e164 = krug::types::Phone::parse(phone).unwrap().as_e164().to_owned();
        let text = self.sms.last_to(&e164).unwrap();
        let code: String = text.chars().filter(char::is_ascii_digit).collect();
        let r = self
            .post("/v1/auth/sms-verify", None, &serde_json::json!({"tenant": tenant, "phone": phone, "code": code}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        Login {
            access: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh: r.body["refresh_token"].as_str().map(str::to_owned),
            member: r.body["member_id"].as_str().map(str::to_owned),
        }
    }

    /// Creates a staff account through the SDK and signs it in over HTTP.
    pub async fn staff(&self, tenant: &str, login: &str, role: krug::Role, business: Option<&str>) -> Login {
        let t = krug::types::TenantId::parse(tenant).unwrap();
        self.state
            .krug
            .create_staff(
                &t,
                krug::NewStaff {
                    login: login.to_owned(),
                    password: PASSWORD.to_owned(),
                    role,
                    business: business.map(|b| krug::types::BusinessId::parse(b).unwrap()),
                    actor: "test".into(),
                    client: None,
                },
            )
            .await
            .unwrap();
        self.staff_login(tenant, login).await
    }

    /// Signs an existing staff account in again (after the clock moved past its token's life).
    pub async fn staff_login(&self, tenant: &str, login: &str) -> Login {
        let r = self
            .post(
                "/v1/auth/staff-login",
                None,
                &serde_json::json!({"tenant": tenant, "login": login, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        Login {
            access: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh: r.body["refresh_token"].as_str().map(str::to_owned),
            member: None,
        }
    }

    /// Signs the superadmin in (the settings hold the hash of [`PASSWORD`]).
    pub async fn superadmin(&self) -> Login {
        let r = self
            .post("/v1/auth/superadmin-login", None, &serde_json::json!({"login": "superadmin", "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        Login { access: r.body["access_token"].as_str().unwrap().to_owned(), refresh: None, member: None }
    }

    /// New tokens from the refresh token (the old refresh token is used up).
    pub async fn refresh(&self, tenant: &str, login: &Login) -> Login {
        let r = self
            .post(
                "/v1/auth/refresh",
                None,
                &serde_json::json!({"tenant": tenant, "refresh_token": login.refresh.as_deref().unwrap()}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        Login {
            access: r.body["access_token"].as_str().unwrap().to_owned(),
            refresh: r.body["refresh_token"].as_str().map(str::to_owned),
            member: login.member.clone(),
        }
    }

    /// The member consents to medical disclosure (needed before a clinic purchase).
    pub async fn medical_consent(&self, member: &Login) {
        let grant = serde_json::json!({"kind": "medical_disclosure", "text_version": "medical-v1", "text_sha256": "0".repeat(64)});
        let r = self.post("/v1/me/consents", Some(&member.access), &grant).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    /// The member's current QR payload (provisioning her secret first if needed).
    pub async fn qr(&self, member: &Login) -> String {
        let r = self.get("/v1/me/qr", Some(&member.access)).await;
        if r.status == 409 {
            let p = self.post("/v1/me/qr-secret", Some(&member.access), &serde_json::json!({})).await;
            assert_eq!(p.status, 200, "{:?}", p.body);
            return self.qr_now(member).await;
        }
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["qr"].as_str().unwrap().to_owned()
    }

    async fn qr_now(&self, member: &Login) -> String {
        let r = self.get("/v1/me/qr", Some(&member.access)).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["qr"].as_str().unwrap().to_owned()
    }

    /// A cashier scan; returns the raw reply.
    pub async fn scan(&self, cashier: &Login, qr: &str, amount_kopecks: i64, receipt_id: &str, redeem: i64) -> Reply {
        self.post(
            "/v1/scans",
            Some(&cashier.access),
            &serde_json::json!({"qr": qr, "amount_kopecks": amount_kopecks, "receipt_id": receipt_id, "redeem_kopecks": redeem}),
        )
        .await
    }
}
