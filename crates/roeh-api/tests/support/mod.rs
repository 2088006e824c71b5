//! Shared by the API's integration tests: a test site (a real store with a credential key, its
//! files in a temporary directory, custody, alerts, an admin signed in with a bearer token) whose
//! [`AppState`] each test adjusts, a server for it on 127.0.0.1:0 that stops when dropped
//! ([`HttpSite`], with fixtures added through the API), requests over HTTP or in process, and a
//! router that sends the admin's token with every request that names no credentials itself.
//!
//! The store is a SQLite file in the site's directory, or, where
//! `ROEH_STORE_TEST_POSTGRES=1`, a fresh database on the test binary's PostgreSQL cluster
//! ([`roeh_testkit::postgres::test_database`]): the same tests run on both databases.
//!
//! Every test binary compiles this module on its own and uses only part of it, hence the
//! `dead_code` allowance.
#![allow(dead_code, clippy::unwrap_used)]

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use roeh_api::alerts::{AlertsService, AlertsSettings};
use roeh_api::auth::AuthState;
use roeh_api::{AppState, CameraControl};
use roeh_auth::{HashParams, PasswordHasher, Role, Scope};
use roeh_domain::{Camera, CameraId, Clock, StreamHealth, WallTime};
use roeh_store::{CredentialKey, NewToken, NewUser, Store, TokenKind};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// A recorder that records nothing: no camera has health, starting and stopping do nothing.
#[derive(Default)]
pub struct NoCameras;

impl CameraControl for NoCameras {
    fn health(&self, _id: CameraId) -> Option<StreamHealth> {
        None
    }
    fn start_camera(&self, _camera: Camera) {}
    fn stop_camera(&self, _id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// A test site: its directory lives as long as the value.
pub struct Site {
    /// The API's state (see [`bare_state`]); tests replace the fields they need.
    pub state: AppState,
    /// The store (also in `state`).
    pub store: Store,
    /// The store's credential key.
    pub key: CredentialKey,
    /// The database: what [`Store::open`] takes (see [`database`]).
    pub db: String,
    /// An unrestricted admin's API token.
    pub admin: String,
    /// The site's directory (SQLite's database, keys, exports, footage).
    pub dir: tempfile::TempDir,
}

/// The database of a site in `dir`, as [`Store::open`] takes it: a new database on PostgreSQL
/// where the tests run there, else the SQLite file `roeh.db` in `dir`.
pub fn database(dir: &std::path::Path) -> String {
    roeh_testkit::postgres::test_database()
        .unwrap_or_else(|| dir.join("roeh.db").to_str().unwrap().to_string())
}

/// The API's state for a site in `dir` with no users yet: the store (a new [`database`]) with a
/// fresh credential key (returned), custody, alerts on `clock` with `alerts`, [`NoCameras`],
/// default ONVIF settings and no analytics; and the database.
pub async fn bare_state(
    dir: &std::path::Path,
    clock: Arc<dyn Clock>,
    alerts: AlertsSettings,
) -> (AppState, CredentialKey, String) {
    let db = database(dir);
    let store = Store::open(&db).await.unwrap();
    let key = CredentialKey::generate().unwrap();
    store.set_credential_key(key.clone()).unwrap();
    let custody = custody(&store, clock.clone(), dir).await;
    let state = AppState {
        store: store.clone(),
        alerts: AlertsService::new(store.clone(), clock.clone(), alerts),
        control: Arc::new(NoCameras),
        footage_root: dir.join("footage"),
        clock,
        custody,
        onvif: Arc::new(roeh_api::onvif::OnvifSettings::default()),
        analytics: None,
        auth: auth_state(),
        console: Arc::default(),
        metrics: roeh_api::metrics::Metrics::new(),
        looks: Arc::default(),
    };
    (state, key, db)
}

/// A [`Site`] on `clock` whose alerts service runs with `alerts` (see [`bare_state`]), with an
/// admin.
pub async fn site(clock: Arc<dyn Clock>, alerts: AlertsSettings) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let (state, key, db) = bare_state(dir.path(), clock, alerts).await;
    let store = state.store.clone();
    let admin = admin_token(&store).await;
    Site {
        state,
        store,
        key,
        db,
        admin,
        dir,
    }
}

impl Site {
    /// Serves [`roeh_api::router`] of the site's state on 127.0.0.1:0, keeping `clock` (the one
    /// the site runs on) for the test.
    pub async fn serve<C: ?Sized>(self, clock: Arc<C>) -> HttpSite<C> {
        let app = roeh_api::router(self.state.clone());
        self.serve_app(app, clock).await
    }

    /// Serves `app` (the site's router with extra layers) on 127.0.0.1:0, as
    /// [`Site::serve`].
    pub async fn serve_app<C: ?Sized>(self, app: Router, clock: Arc<C>) -> HttpSite<C> {
        let served = spawn_server(|listener, stop| roeh_api::serve_app(listener, app, stop)).await;
        HttpSite {
            addr: served.addr,
            store: self.store,
            svc: self.state.alerts,
            metrics: self.state.metrics,
            clock,
            http: reqwest::Client::new(),
            admin: self.admin,
            key: self.key,
            db: self.db,
            served,
            dir: self.dir,
        }
    }
}

/// A [`Site`] served over HTTP on 127.0.0.1; the server stops and the directory goes when it
/// is dropped.
pub struct HttpSite<C: ?Sized> {
    /// The server's address.
    pub addr: SocketAddr,
    /// The site's store.
    pub store: Store,
    /// The alerts service the server runs.
    pub svc: Arc<AlertsService>,
    /// The API's metrics.
    pub metrics: Arc<roeh_api::metrics::Metrics>,
    /// The clock the site runs on, as the test knows it (a simulated one can be advanced).
    pub clock: Arc<C>,
    /// A client for requests to the server.
    pub http: reqwest::Client,
    /// An unrestricted admin's API token.
    pub admin: String,
    /// The store's credential key.
    pub key: CredentialKey,
    /// The database, as [`Site::db`].
    pub db: String,
    /// The running server.
    pub served: Served,
    /// The site's directory.
    pub dir: tempfile::TempDir,
}

impl<C: ?Sized> HttpSite<C> {
    /// Adds a camera `name` (at `rtsp://127.0.0.1:9/{name}`) through the API as the admin.
    pub async fn add_camera(&self, name: &str) -> CameraId {
        let body = serde_json::json!({"name": name, "url": format!("rtsp://127.0.0.1:9/{name}")});
        let (s, text) = call(
            &self.http,
            self.addr,
            Some(&self.admin),
            "POST",
            "/api/cameras",
            Some(&body),
        )
        .await;
        assert_eq!(s, 201, "{text}");
        CameraId::parse(json(&text)["id"].as_str().unwrap()).unwrap()
    }

    /// Adds a hotspot `name` at (`lat`, `lon`) through the API as the admin: `camera` watches
    /// it, with one zone `z` covering most of the picture, always armed in the time zone `tz`.
    pub async fn add_hotspot(
        &self,
        name: &str,
        camera: CameraId,
        (lat, lon): (f64, f64),
        tz: &str,
    ) -> uuid::Uuid {
        let body = serde_json::json!({
            "name": name, "lat": lat, "lon": lon, "priority": 2,
            "cameras": [camera.to_string()],
            "zones": [{"id": "z", "camera": camera.to_string(), "polygon":
                [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
            "schedule": {"tz": tz, "always": true},
        });
        let (s, text) = call(
            &self.http,
            self.addr,
            Some(&self.admin),
            "POST",
            "/api/hotspots",
            Some(&body),
        )
        .await;
        assert_eq!(s, 201, "{text}");
        uuid::Uuid::parse_str(json(&text)["id"].as_str().unwrap()).unwrap()
    }

    /// Registers a unit `name` as the admin; the unit reports its position (where given) and
    /// that it is available. Returns the unit's id and token.
    pub async fn add_unit(&self, name: &str, position: Option<(f64, f64)>) -> (uuid::Uuid, String) {
        let post = async |token: &str, path: &str, body: serde_json::Value| {
            call(
                &self.http,
                self.addr,
                Some(token),
                "POST",
                path,
                Some(&body),
            )
            .await
        };
        let (s, text) = post(&self.admin, "/api/units", serde_json::json!({"name": name})).await;
        assert_eq!(s, 201, "{text}");
        let v = json(&text);
        let token = v["token"].as_str().unwrap().to_string();
        if let Some((lat, lon)) = position {
            let body = serde_json::json!({"lat": lat, "lon": lon});
            let (s, _) = post(&token, "/api/units/me/position", body).await;
            assert_eq!(s, 204);
        }
        let body = serde_json::json!({"status": "available"});
        let (s, _) = post(&token, "/api/units/me/status", body).await;
        assert_eq!(s, 204);
        (
            uuid::Uuid::parse_str(v["id"].as_str().unwrap()).unwrap(),
            token,
        )
    }
}

/// An alerting incident (a fight of high severity, priority 4, under rule 42) opened `now` at
/// `hotspot` and seen by `camera`, with evidence from 10 s before; tests change what they need.
pub fn incident(hotspot: uuid::Uuid, camera: CameraId, now: WallTime) -> roeh_store::NewIncident {
    roeh_store::NewIncident {
        id: uuid::Uuid::new_v4(),
        rule_id: uuid::Uuid::from_u128(42),
        camera,
        hotspot_id: hotspot,
        seq: 1,
        kind: "fight".into(),
        severity: "high".into(),
        priority: 4,
        alerting: true,
        reason: "test".into(),
        opened_at: now,
        peak_score: 0.9,
        track_ids: vec![1],
        model_id: "m".into(),
        evidence_start: now.minus(std::time::Duration::from_secs(10)),
    }
}

/// A [`Site`] on the system clock with default alert settings.
pub async fn default_site() -> Site {
    site(
        Arc::new(roeh_domain::SystemClock::new()),
        AlertsSettings::default(),
    )
    .await
}

/// The future a server waits on before it shuts down gracefully.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A server on 127.0.0.1; dropping `stop` (or the whole value) shuts it down.
pub struct Served {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Dropping or sending on it starts the graceful shutdown.
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// The serving task, finished once the server has stopped.
    pub served: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds 127.0.0.1:0 and spawns `serve` on the listener with a shutdown signal.
pub async fn spawn_server<F, Fut>(serve: F) -> Served
where
    F: FnOnce(tokio::net::TcpListener, Shutdown) -> Fut,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(serve(
        listener,
        Box::pin(async move {
            let _ = stopped.await;
        }),
    ));
    Served { addr, stop, served }
}

/// Sends `method path` (`GET`, `DELETE`, `PUT`, anything else as `POST`) to the server at
/// `addr` with `token` as a bearer token and `body` as JSON, each where given; returns the status
/// and the answer's text.
pub async fn call(
    http: &reqwest::Client,
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    let url = format!("http://{addr}{path}");
    let mut req = match method {
        "GET" => http.get(url),
        "DELETE" => http.delete(url),
        "PUT" => http.put(url),
        _ => http.post(url),
    };
    if let Some(body) = body {
        req = req.json(body);
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Sends `req` through `router` in process; returns the status, headers and body (at most
/// 1 MiB) of the answer.
pub async fn send(
    router: &Router,
    req: Request,
) -> (
    axum::http::StatusCode,
    axum::http::HeaderMap,
    axum::body::Bytes,
) {
    use tower::ServiceExt;
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, headers, bytes)
}

/// As [`send`], with the body as JSON (`null` where it is not JSON).
pub async fn call_app(
    router: &Router,
    req: Request,
) -> (axum::http::StatusCode, serde_json::Value) {
    let (status, _, bytes) = send(router, req).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// `text` as JSON, or `null` where it is not JSON.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

/// Header that keeps [`with_token`] from adding credentials (for unauthenticated requests).
pub const ANONYMOUS: &str = "x-test-anonymous";

/// Cheap Argon2 parameters: tests hash many passwords.
pub fn auth_state() -> Arc<AuthState> {
    Arc::new(AuthState::new(HashParams::INSECURE_FAST, false).unwrap())
}

/// Creates a user with `role` and `scope` and returns a fresh API token for them.
pub async fn user_token(store: &Store, name: &str, role: Role, scope: Scope) -> String {
    let hasher = PasswordHasher::new(HashParams::INSECURE_FAST).unwrap();
    let now = WallTime(1_800_000_000_000_000);
    let id = store
        .create_user(
            &NewUser {
                username: name.into(),
                password_hash: hasher.hash("a-long-test-password").unwrap(),
                role: role.as_str().into(),
                scope: scope.to_json().unwrap(),
            },
            WallTime(0),
        )
        .await
        .unwrap();
    let (text, hash) = roeh_auth::new_token();
    store
        .create_token(&NewToken {
            hash,
            user_id: id,
            kind: TokenKind::Api,
            label: "test".into(),
            created_at: WallTime(0),
            expires_at: now,
        })
        .await
        .unwrap();
    text.expose().to_string()
}

/// An unrestricted admin's token.
pub async fn admin_token(store: &Store) -> String {
    user_token(store, "admin", Role::Admin, Scope::unrestricted()).await
}

/// `router` sending `token` with every request that has no `Authorization` header and no
/// [`ANONYMOUS`] header.
pub fn with_token(router: Router, token: String) -> Router {
    router.layer(axum::middleware::map_request(move |mut req: Request| {
        let token = token.clone();
        async move {
            let h = req.headers_mut();
            if h.remove(ANONYMOUS).is_none()
                && !h.contains_key(header::AUTHORIZATION)
                && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}"))
            {
                h.insert(header::AUTHORIZATION, v);
            }
            req
        }
    }))
}

/// The custody service of a test site in `dir` (keys, exports and footage below it).
pub async fn custody(
    store: &Store,
    clock: Arc<dyn roeh_domain::Clock>,
    dir: &std::path::Path,
) -> Arc<roeh_custody::Custody> {
    roeh_custody::Custody::open(
        store.clone(),
        clock,
        roeh_custody::CustodyConfig {
            keys_dir: dir.join("keys"),
            exports_dir: dir.join("exports"),
            footage_root: dir.join("footage"),
            origin: "roeh:test".into(),
            checkpoint_every: std::time::Duration::from_secs(60),
        },
    )
    .await
    .unwrap()
}

/// Every byte the database `db` (a [`Site::db`]) has written to disk so far: SQLite's file and
/// its WAL; on PostgreSQL, after a checkpoint, the database's own files and the cluster's WAL
/// (shared with the other tests of the binary, which only adds bytes). For checks that a secret
/// never reaches the disk in clear.
pub fn database_bytes(db: &str) -> Vec<u8> {
    let mut files = Vec::new();
    if db.starts_with("postgres:") {
        let name = db.rsplit('/').next().unwrap();
        let cluster = roeh_testkit::postgres::shared();
        cluster.psql(name, "CHECKPOINT").unwrap();
        let oid = cluster
            .psql(
                name,
                "SELECT oid FROM pg_database WHERE datname = current_database()",
            )
            .unwrap();
        let data = cluster.data_dir();
        for sub in [data.join("base").join(oid.trim()), data.join("pg_wal")] {
            for e in std::fs::read_dir(&sub).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_file() {
                    files.push(e.path());
                }
            }
        }
        assert!(files.len() > 1, "no files under {}", data.display());
    } else {
        files.push(std::path::PathBuf::from(db));
        files.push(std::path::PathBuf::from(format!("{db}-wal")));
    }
    let mut all = Vec::new();
    for f in files {
        if let Ok(b) = std::fs::read(f) {
            all.extend(b);
        }
    }
    all
}
