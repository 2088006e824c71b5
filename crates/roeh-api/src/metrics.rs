//! `GET /metrics`: the process's [`Metrics`] (made once at start and shared with the pipeline
//! and the analytics, see `roeh_metrics`) in the OpenMetrics text format, with the gauges read
//! at scrape time: alerts by state (one GROUP BY query) and cameras by the recorder's stream
//! state.
//!
//! Invariants:
//! - every label set is bounded (route templates, a fixed list of methods, enum states; see
//!   `roeh_metrics`), and label values are escaped by the encoder, so no value can break a line
//!   or forge another sample;
//! - the scrape-time gauges are built per scrape: concurrent scrapes do not race;
//! - nothing here holds a lock across an `.await`.

use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
pub use roeh_metrics::{
    CONTENT_TYPE, ClientGuard, ClientKind, Gauges, Metrics, PUSH_LATENCY_BUCKETS, Transport,
};

/// Counts alerts in every state (one GROUP BY query; states with none report 0).
async fn alert_gauges(st: &AppState) -> Result<Vec<(&'static str, u64)>, ApiError> {
    let counts = st.store.count_alerts_by_state().await?;
    Ok(roeh_alerts::AlertState::ALL
        .iter()
        .map(|state| {
            let name = state.as_str();
            let n = counts
                .iter()
                .find(|(s, _)| s == name)
                .map_or(0, |(_, n)| *n);
            (name, n)
        })
        .collect())
}

/// Cameras by the recorder's stream state.
async fn camera_gauges(st: &AppState) -> Result<Vec<(&'static str, u64)>, ApiError> {
    use roeh_domain::StreamState as S;
    let names = [
        (Some(S::Idle), "idle"),
        (Some(S::Connecting), "connecting"),
        (Some(S::Streaming), "streaming"),
        (Some(S::Backoff), "backoff"),
        (Some(S::Stopped), "stopped"),
        (None, "not_running"),
    ];
    let mut counts = [0u64; 6];
    for c in st.store.list_cameras().await? {
        let state = st.control.health(c.id).map(|h| h.state);
        if let Some(i) = names.iter().position(|(s, _)| *s == state) {
            counts[i] += 1;
        }
    }
    Ok(names
        .iter()
        .zip(counts)
        .map(|((_, name), n)| (*name, n))
        .collect())
}

/// `GET /metrics` (needs `ViewStatus`; a bearer token serves a Prometheus scraper).
pub(crate) async fn scrape(State(st): State<AppState>) -> Result<Response, ApiError> {
    let gauges = Gauges {
        alerts: alert_gauges(&st).await?,
        cameras: camera_gauges(&st).await?,
    };
    let body = st
        .metrics
        .render(&gauges)
        .map_err(|e| ApiError::new(e.kind(), e.chain()))?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response())
}
