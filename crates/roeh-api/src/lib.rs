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
//! - every route is an entry of one table ([`routes`]) with its handler, its access policy and
//!   its description; the policy is enforced by one route layer
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
pub mod routes;
pub mod stats;
pub mod tls;
pub mod webhooks;
pub mod weekly;

pub use error::ApiError;
pub use roeh_custody::{ExportPlan, MAX_EXPORT_RANGE, plan_export};

use axum::Router;
use axum::extract::State;
use roeh_domain::{Camera, CameraId, Clock, StreamHealth};
use roeh_store::Store;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Cap of a text file a route takes as its body (a CSV of counts from another source: years of
/// weekly counts for a city's districts), bytes.
pub const MAX_TEXT_BODY_BYTES: usize = 4 * 1024 * 1024;

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
    /// Who looked at which camera's detector picture when, so a look is a custody event once
    /// per watch, not once per refresh.
    pub looks: Arc<detection::Looks>,
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

/// Every route of [`router`], by method and template, in the table's order ([`routes::all`]):
/// the access-policy matrix and its tests are generated from this list.
pub static ROUTES: std::sync::LazyLock<Vec<(&'static str, &'static str)>> =
    std::sync::LazyLock::new(|| routes::all().iter().map(routes::Route::key).collect());

/// The API's router.
pub fn router(state: AppState) -> Router {
    let console_settings = state.console.clone();
    // Every route of the table, each under its policy (the route layer reads it from there).
    let app = routes::entries()
        .into_iter()
        .fold(Router::new(), |app, e| app.route(e.route.path, e.handler));
    app.route_layer(axum::middleware::from_fn_with_state(
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
pub(crate) struct Health {
    status: &'static str,
    version: &'static str,
    time: String,
    cameras: usize,
    streaming: usize,
}

pub(crate) async fn health(State(st): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
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
