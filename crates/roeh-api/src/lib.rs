//! roeh's HTTP API: `pub fn router(state) -> Router`, and [`serve`], which takes a bound listener
//! and a shutdown future so tests bind port 0 and never sleep.
//!
//! Invariants:
//! - every error leaves through [`ApiError`], whose one `IntoResponse` maps kinds to statuses and
//!   writes `{"error": {"kind", "message"}}`;
//! - JSON bodies and query strings are read only through `extract::ApiJson` and
//!   `extract::ApiQuery`, so a malformed one is refused with that same error body;
//! - camera passwords are write-only: no route returns them;
//! - footage is addressed only by camera id and time range, never by a path;
//! - request bodies are capped ([`MAX_BODY_BYTES`]);
//! - every route has an access policy ([`auth::route_policy`]) enforced by one route layer
//!   ([`auth::authenticate`]), which also writes the audit log; a route without a policy is
//!   refused. The console's static files ([`console`]) are the one exception: public bytes
//!   without data, served outside that layer.

pub mod alerts;
pub mod auth;
mod cameras;
pub mod console;
pub mod detection;
mod error;
mod evidence;
mod export;
mod extract;
pub mod live;
pub mod metrics;
pub mod onvif;
pub mod openapi;
pub mod ptz;
pub mod push;
mod raise;
mod reach;
mod recordings;
pub mod reports;
pub mod tls;
pub mod webhooks;

pub use error::ApiError;
pub use roeh_custody::{ExportPlan, MAX_EXPORT_RANGE, plan_export};

use axum::Router;
use axum::extract::State;
use axum::routing::{delete, get, post};
use roeh_domain::{Camera, CameraId, Clock, StreamHealth};
use roeh_store::Store;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the API needs from the running recorder: start and stop cameras, read their health.
/// The pipeline implements it; the API never sees channels or tasks.
pub trait CameraControl: Send + Sync + 'static {
    /// Health of a running camera, `None` if it is not running.
    fn health(&self, id: CameraId) -> Option<StreamHealth>;
    /// Starts recording a camera (already stored).
    fn start_camera(&self, camera: Camera);
    /// Stops recording a camera, sealing its open segment; resolves when it has stopped.
    fn stop_camera(&self, id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Starts watching a camera live (`live::ws`); `None` where this node serves no live video.
    fn live(&self, id: CameraId) -> Option<live::LiveFeed> {
        let _ = id;
        None
    }
    /// Starts watching a camera's second (sub) stream, `camera.url` its address, opened on
    /// demand and closed after its last viewer; `None` where this node opens none.
    fn live_sub(&self, camera: &roeh_domain::Camera) -> Option<live::LiveFeed> {
        let _ = camera;
        None
    }
}

/// Everything handlers need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The running recorder.
    pub control: Arc<dyn CameraControl>,
    /// Root directory of segment files.
    pub footage_root: PathBuf,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// Evidence custody: keys, checkpoints, holds, exports.
    pub custody: Arc<roeh_custody::Custody>,
    /// ONVIF onboarding: camera networks, discovery targets and limits.
    pub onvif: Arc<onvif::OnvifSettings>,
    /// The running analytics; `None` when disabled in the configuration.
    pub analytics: Option<Arc<dyn detection::AnalyticsControl>>,
    /// Authentication: password hashing, login limits, CSRF and cookie settings.
    pub auth: Arc<auth::AuthState>,
    /// Alerts, patrol units and the push of their events.
    pub alerts: Arc<alerts::AlertsService>,
    /// The process's metrics (one per process, shared with the pipeline and the analytics);
    /// the API records requests by route, connected push clients and push latency.
    pub metrics: Arc<metrics::Metrics>,
    /// How the console is served (the site's map tile server).
    pub console: Arc<console::ConsoleSettings>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("footage_root", &self.footage_root)
            .finish_non_exhaustive()
    }
}

/// Largest `limit` of a paged list.
pub const MAX_PAGE: u32 = 1000;

/// The `limit` of a paged list: 100 when absent, else 1..=[`MAX_PAGE`] (400 otherwise).
pub(crate) fn page_limit(limit: Option<u32>) -> Result<u32, ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        ))),
    }
}

/// Every route of [`router`], by method and template: the access-policy matrix and its tests are
/// generated from this list, and a test checks that the router answers each of them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/health"),
    ("POST", "/api/auth/setup"),
    ("POST", "/api/auth/login"),
    ("POST", "/api/auth/device"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/auth/me"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("POST", "/api/users/{id}/disable"),
    ("POST", "/api/users/{id}/tokens"),
    ("GET", "/api/audit"),
    ("GET", "/api/cameras"),
    ("POST", "/api/cameras"),
    ("GET", "/api/cameras/{id}"),
    ("DELETE", "/api/cameras/{id}"),
    ("GET", "/api/cameras/{id}/segments"),
    ("GET", "/api/cameras/{id}/gaps"),
    ("GET", "/api/cameras/{id}/mp4"),
    ("GET", "/api/cameras/{id}/live"),
    ("GET", "/api/cameras/{id}/ptz"),
    ("POST", "/api/cameras/{id}/ptz/move"),
    ("POST", "/api/cameras/{id}/ptz/stop"),
    ("POST", "/api/cameras/{id}/ptz/home"),
    ("POST", "/api/cameras/{id}/ptz/presets/{preset}"),
    ("GET", "/api/cameras/{id}/analysis"),
    ("PUT", "/api/cameras/{id}/analysis"),
    ("GET", "/api/hotspots"),
    ("POST", "/api/hotspots"),
    ("GET", "/api/hotspots/{id}"),
    ("PUT", "/api/hotspots/{id}"),
    ("DELETE", "/api/hotspots/{id}"),
    ("GET", "/api/rules"),
    ("POST", "/api/rules"),
    ("GET", "/api/rules/{id}"),
    ("PUT", "/api/rules/{id}"),
    ("DELETE", "/api/rules/{id}"),
    ("GET", "/api/incidents"),
    ("GET", "/api/incidents/{id}"),
    ("GET", "/api/incidents/{id}/snapshot"),
    ("GET", "/api/analytics/stats"),
    ("GET", "/api/cameras/{id}/onvif"),
    ("POST", "/api/onvif/discover"),
    ("GET", "/api/onvif/discovered"),
    ("POST", "/api/onvif/discovered/{id}/dismiss"),
    ("POST", "/api/onvif/add"),
    ("GET", "/api/keys"),
    ("GET", "/api/log/checkpoint"),
    ("POST", "/api/log/checkpoint"),
    ("GET", "/api/log/consistency"),
    ("GET", "/api/holds"),
    ("POST", "/api/holds"),
    ("POST", "/api/holds/{id}/clear"),
    ("GET", "/api/exports"),
    ("POST", "/api/exports"),
    ("GET", "/api/exports/{id}"),
    ("GET", "/api/exports/{id}/download"),
    ("GET", "/api/alerts"),
    ("POST", "/api/alerts"),
    ("GET", "/api/alerts/precision"),
    ("GET", "/api/reports/response-times"),
    ("GET", "/api/alerts/{id}"),
    ("GET", "/api/alerts/{id}/clip"),
    ("POST", "/api/alerts/{id}/claim"),
    ("POST", "/api/alerts/{id}/acknowledge"),
    ("POST", "/api/alerts/{id}/dispatch"),
    ("POST", "/api/alerts/{id}/note"),
    ("POST", "/api/alerts/{id}/resolve"),
    ("POST", "/api/alerts/{id}/false-alarm"),
    ("POST", "/api/alerts/{id}/escalate"),
    ("GET", "/api/units"),
    ("POST", "/api/units"),
    ("POST", "/api/units/me/position"),
    ("POST", "/api/units/me/status"),
    ("POST", "/api/units/me/receipts"),
    ("GET", "/api/units/me/alerts"),
    ("GET", "/api/units/me/alerts/{id}/snapshot"),
    ("GET", "/api/push/ws"),
    ("GET", "/api/push/sse"),
    ("GET", "/api/push/key"),
    ("GET", "/api/webhooks"),
    ("POST", "/api/webhooks"),
    ("DELETE", "/api/webhooks/{id}"),
    ("POST", "/api/webhooks/{id}/disable"),
    ("POST", "/api/webhooks/{id}/enable"),
    ("GET", "/api/webhooks/{id}/deliveries"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
];

/// The API's router.
pub fn router(state: AppState) -> Router {
    let console_settings = state.console.clone();
    Router::new()
        .route("/api/health", get(health))
        .route("/api/auth/setup", post(auth::setup))
        .route("/api/auth/login", post(auth::login))
        .route("/api/auth/device", post(auth::device))
        .route("/api/auth/logout", post(auth::logout))
        .route("/api/auth/me", get(auth::me))
        .route("/api/users", get(auth::list_users).post(auth::create_user))
        .route("/api/users/{id}/disable", post(auth::disable_user))
        .route("/api/users/{id}/tokens", post(auth::create_token))
        .route("/api/audit", get(auth::audit))
        .route("/api/cameras", get(cameras::list).post(cameras::add))
        .route(
            "/api/cameras/{id}",
            get(cameras::get).delete(cameras::remove),
        )
        .route("/api/cameras/{id}/segments", get(recordings::segments))
        .route("/api/cameras/{id}/gaps", get(recordings::gaps))
        .route("/api/cameras/{id}/mp4", get(export::mp4))
        .route("/api/cameras/{id}/live", get(live::ws))
        .route("/api/cameras/{id}/ptz", get(ptz::get))
        .route("/api/cameras/{id}/ptz/move", post(ptz::r#move))
        .route("/api/cameras/{id}/ptz/stop", post(ptz::stop))
        .route("/api/cameras/{id}/ptz/home", post(ptz::home))
        .route("/api/cameras/{id}/ptz/presets/{preset}", post(ptz::preset))
        .route(
            "/api/cameras/{id}/analysis",
            get(detection::get_analysis).put(detection::put_analysis),
        )
        .route(
            "/api/hotspots",
            get(detection::list_hotspots).post(detection::add_hotspot),
        )
        .route(
            "/api/hotspots/{id}",
            get(detection::get_hotspot)
                .put(detection::put_hotspot)
                .delete(detection::delete_hotspot),
        )
        .route(
            "/api/rules",
            get(detection::list_rules).post(detection::add_rule),
        )
        .route(
            "/api/rules/{id}",
            get(detection::get_rule)
                .put(detection::put_rule)
                .delete(detection::delete_rule),
        )
        .route("/api/incidents", get(detection::list_incidents))
        .route("/api/incidents/{id}", get(detection::get_incident))
        .route("/api/incidents/{id}/snapshot", get(detection::snapshot))
        .route("/api/analytics/stats", get(detection::stats))
        .route("/api/cameras/{id}/onvif", get(onvif::camera_onvif))
        .route("/api/onvif/discover", post(onvif::discover))
        .route("/api/onvif/discovered", get(onvif::discovered))
        .route("/api/onvif/discovered/{id}/dismiss", post(onvif::dismiss))
        .route("/api/onvif/add", post(onvif::add))
        .route("/api/keys", get(evidence::keys))
        .route(
            "/api/log/checkpoint",
            get(evidence::latest_checkpoint).post(evidence::sign_checkpoint),
        )
        .route("/api/log/consistency", get(evidence::consistency))
        .route(
            "/api/holds",
            get(evidence::holds).post(evidence::place_hold),
        )
        .route("/api/holds/{id}/clear", post(evidence::clear_hold))
        .route(
            "/api/exports",
            get(evidence::exports).post(evidence::start_export),
        )
        .route("/api/exports/{id}", get(evidence::export))
        .route("/api/exports/{id}/download", get(evidence::download))
        .route("/api/alerts", get(alerts::list).post(raise::raise))
        .route("/api/alerts/precision", get(alerts::precision))
        .route("/api/reports/response-times", get(reports::response_times))
        .route("/api/alerts/{id}", get(alerts::get))
        .route("/api/alerts/{id}/clip", get(alerts::clip))
        .route("/api/alerts/{id}/claim", post(alerts::claim))
        .route("/api/alerts/{id}/acknowledge", post(alerts::acknowledge))
        .route("/api/alerts/{id}/dispatch", post(alerts::dispatch))
        .route("/api/alerts/{id}/note", post(alerts::note))
        .route("/api/alerts/{id}/resolve", post(alerts::resolve))
        .route("/api/alerts/{id}/false-alarm", post(alerts::false_alarm))
        .route("/api/alerts/{id}/escalate", post(alerts::escalate))
        .route(
            "/api/units",
            get(alerts::list_units).post(alerts::register_unit),
        )
        .route("/api/units/me/position", post(alerts::my_position))
        .route("/api/units/me/status", post(alerts::my_status))
        .route("/api/units/me/receipts", post(alerts::my_receipt))
        .route("/api/units/me/alerts", get(alerts::my_alerts))
        .route(
            "/api/units/me/alerts/{id}/snapshot",
            get(alerts::my_snapshot),
        )
        .route("/api/push/ws", get(push::ws))
        .route("/api/push/sse", get(push::sse))
        .route("/api/push/key", get(alerts::push_key))
        .route("/api/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/webhooks/{id}", delete(webhooks::remove))
        .route("/api/webhooks/{id}/disable", post(webhooks::disable))
        .route("/api/webhooks/{id}/enable", post(webhooks::enable))
        .route("/api/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        // The console's static files: public, outside the route layer (see console.rs).
        .merge(console::router(&console_settings))
        .fallback(|| async { ApiError::not_found("no such route") })
        // The extractors enforce the cap, so an oversized body is refused with the shared
        // error body (413 resource_exhausted), whether or not it announces its length.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes in-flight
/// requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app(listener, router(state), shutdown).await
}

/// As [`serve`], for a [`router`] with extra layers (e.g. [`webhooks::WebhookWorker::layer`]).
pub async fn serve_app(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(listener, app, shutdown).await
}

/// As [`serve`], over HTTPS: each connection completes a TLS handshake with `tls` (see
/// [`tls::server_config`]) before it reaches the router; a failed or stalled handshake closes
/// that connection only (see [`tls::TlsListener`]).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<tls::rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_app_tls(listener, tls, router(state), shutdown).await
}

/// As [`serve_tls`], for a [`router`] with extra layers, as [`serve_app`].
pub async fn serve_app_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<tls::rustls::ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // `tap_io` is axum's way to a custom listener's peer address as `ConnectInfo<SocketAddr>`,
    // which the login limiter and the audit log read.
    let listener = tls::TlsListener::new(listener, tls).tap_io(|_| {});
    serve_on(listener, app, shutdown).await
}

/// The one serving loop of [`serve_app`] and [`serve_tls`]: peer addresses as connect info,
/// graceful shutdown.
async fn serve_on<L>(
    listener: L,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
    std::net::SocketAddr:
        for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// `GET /api/health`.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct Health {
    status: &'static str,
    version: &'static str,
    time: String,
    cameras: usize,
    streaming: usize,
}

async fn health(State(st): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    let cams = st.store.list_cameras().await?;
    let streaming = cams
        .iter()
        .filter(|c| {
            st.control
                .health(c.id)
                .is_some_and(|h| h.state == roeh_domain::StreamState::Streaming)
        })
        .count();
    Ok(axum::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        time: st.clock.wall().to_rfc3339(),
        cameras: cams.len(),
        streaming,
    }))
}
