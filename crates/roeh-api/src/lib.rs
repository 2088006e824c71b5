//! roeh's HTTP API: `pub fn router(state) -> Router`, and [`serve`], which takes a bound listener
//! and a shutdown future so tests bind port 0 and never sleep.
//!
//! Invariants:
//! - every error leaves through [`ApiError`], whose one `IntoResponse` maps kinds to statuses and
//!   writes `{"error": {"kind", "message"}}`;
//! - camera passwords are write-only: no route returns them;
//! - footage is addressed only by camera id and time range, never by a path;
//! - request bodies are capped ([`MAX_BODY_BYTES`]).
//!
//! Authentication arrives in a later slice; until then the server binds to loopback by default.

mod cameras;
mod error;
mod export;
mod recordings;

pub use error::ApiError;
pub use export::{ExportPlan, MAX_EXPORT_RANGE, plan_export};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
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
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("footage_root", &self.footage_root)
            .finish_non_exhaustive()
    }
}

/// The API's router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/cameras", get(cameras::list).post(cameras::add))
        .route(
            "/api/cameras/{id}",
            get(cameras::get).delete(cameras::remove),
        )
        .route("/api/cameras/{id}/segments", get(recordings::segments))
        .route("/api/cameras/{id}/gaps", get(recordings::gaps))
        .route("/api/cameras/{id}/mp4", get(export::mp4))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes in-flight
/// requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

#[derive(serde::Serialize)]
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
