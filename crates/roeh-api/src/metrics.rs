//! Prometheus metrics of the API, served at `GET /metrics` in the text exposition format 0.0.4
//! (written by hand: no metrics framework).
//!
//! Invariants:
//! - every label set is bounded: HTTP requests are counted by route *template* (never the raw
//!   path), by one of a fixed list of methods (anything else is `OTHER`) and by status code;
//!   client gauges have two kinds times two transports; alert and camera states are enums;
//! - every label value is escaped per the exposition format (`\\`, `\"`, `\n`), so no value can
//!   break a line or forge another sample;
//! - counters only grow; the connected-client gauges are kept by [`ClientGuard`]s, which
//!   decrement on drop, so a client that goes away in any manner stops being counted;
//! - recording is lock-free except the HTTP counter map (one short `Mutex` section per request);
//!   nothing here ever blocks on I/O.

use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the push-latency histogram's buckets, `+Inf` implied.
pub const PUSH_LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Who holds a push connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// A control-room user (operator, supervisor, admin).
    Operator,
    /// A patrol unit.
    Unit,
}

impl ClientKind {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Operator => "operator",
            ClientKind::Unit => "unit",
        }
    }
}

/// How a push client is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// WebSocket (`/api/push/ws`).
    Ws,
    /// Server-sent events (`/api/push/sse`).
    Sse,
}

impl Transport {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ws => "ws",
            Transport::Sse => "sse",
        }
    }
}

const KINDS: [ClientKind; 2] = [ClientKind::Operator, ClientKind::Unit];
const TRANSPORTS: [Transport; 2] = [Transport::Ws, Transport::Sse];

fn slot(kind: ClientKind, transport: Transport) -> usize {
    (kind as usize) * 2 + transport as usize
}

/// The methods counted by name; any other is counted as `OTHER`.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Counters and gauges kept in memory by the API process.
#[derive(Debug, Default)]
pub struct Metrics {
    clients: [AtomicI64; 4],
    /// Non-cumulative counts per bucket; the last slot is `+Inf`.
    latency: [AtomicU64; PUSH_LATENCY_BUCKETS.len() + 1],
    latency_sum_nanos: AtomicU64,
    latency_count: AtomicU64,
    http: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
}

/// Counts one connected push client while it lives.
#[derive(Debug)]
pub struct ClientGuard {
    metrics: Arc<Metrics>,
    slot: usize,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.metrics.clients[self.slot].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Values read from the store and the recorder at scrape time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Alerts per state name.
    pub alerts: Vec<(&'static str, u64)>,
    /// Cameras per stream state name (`not_running` for a camera the recorder does not run).
    pub cameras: Vec<(&'static str, u64)>,
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Counts a push client of `kind` over `transport` until the guard is dropped.
    pub fn client_connected(
        self: &Arc<Self>,
        kind: ClientKind,
        transport: Transport,
    ) -> ClientGuard {
        let slot = slot(kind, transport);
        self.clients[slot].fetch_add(1, Ordering::Relaxed);
        ClientGuard {
            metrics: self.clone(),
            slot,
        }
    }

    /// Push clients of `kind` connected over `transport` now.
    pub fn connected_clients(&self, kind: ClientKind, transport: Transport) -> i64 {
        self.clients[slot(kind, transport)].load(Ordering::Relaxed)
    }

    /// Records one push latency: from the event's commit to its message written to a client.
    pub fn observe_push_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = PUSH_LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(PUSH_LATENCY_BUCKETS.len());
        self.latency[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one answered request of route template `route` (empty: no route matched).
    pub fn count_request(&self, route: &str, method: &Method, status: u16) {
        let method = METHODS
            .iter()
            .find(|m| **m == method.as_str())
            .copied()
            .unwrap_or("OTHER");
        let route = if route.is_empty() { "unmatched" } else { route };
        let mut map = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        match map.get_mut(&(route.to_string(), method, status)) {
            Some(n) => *n += 1,
            None => {
                map.insert((route.to_string(), method, status), 1);
            }
        }
    }

    /// The exposition text of these metrics and of `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::new();
        header_lines(
            &mut out,
            "roeh_alerts",
            "gauge",
            "Alerts by lifecycle state.",
        );
        for (state, n) in &gauges.alerts {
            sample(&mut out, "roeh_alerts", &[("state", state)], &n.to_string());
        }
        header_lines(
            &mut out,
            "roeh_cameras",
            "gauge",
            "Cameras by stream state.",
        );
        for (state, n) in &gauges.cameras {
            sample(
                &mut out,
                "roeh_cameras",
                &[("state", state)],
                &n.to_string(),
            );
        }
        header_lines(
            &mut out,
            "roeh_push_clients",
            "gauge",
            "Connected push clients by kind and transport.",
        );
        for kind in KINDS {
            for transport in TRANSPORTS {
                let n = self.connected_clients(kind, transport);
                sample(
                    &mut out,
                    "roeh_push_clients",
                    &[("kind", kind.as_str()), ("transport", transport.as_str())],
                    &n.to_string(),
                );
            }
        }
        header_lines(
            &mut out,
            "roeh_push_latency_seconds",
            "histogram",
            "From an alert event's commit to its message written to a push client.",
        );
        let mut cumulative = 0u64;
        for (i, le) in PUSH_LATENCY_BUCKETS.iter().enumerate() {
            cumulative += self.latency[i].load(Ordering::Relaxed);
            sample(
                &mut out,
                "roeh_push_latency_seconds_bucket",
                &[("le", &le.to_string())],
                &cumulative.to_string(),
            );
        }
        cumulative += self.latency[PUSH_LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        sample(
            &mut out,
            "roeh_push_latency_seconds_bucket",
            &[("le", "+Inf")],
            &cumulative.to_string(),
        );
        let sum = self.latency_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        sample(
            &mut out,
            "roeh_push_latency_seconds_sum",
            &[],
            &sum.to_string(),
        );
        // The count is the +Inf bucket, so the two always agree in one scrape.
        sample(
            &mut out,
            "roeh_push_latency_seconds_count",
            &[],
            &cumulative.to_string(),
        );
        header_lines(
            &mut out,
            "roeh_http_requests_total",
            "counter",
            "Answered HTTP requests by route template, method and status.",
        );
        let map = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        for ((route, method, status), n) in map.iter() {
            sample(
                &mut out,
                "roeh_http_requests_total",
                &[
                    ("route", route),
                    ("method", method),
                    ("status", &status.to_string()),
                ],
                &n.to_string(),
            );
        }
        out
    }
}

fn header_lines(out: &mut String, name: &str, kind: &str, help: &str) {
    let help = help.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            out.push_str(&escape_label_value(v));
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// A label value escaped for the exposition format: backslash, double quote and line feed.
pub fn escape_label_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

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
    let body = st.metrics.render(&gauges);
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body,
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn latency_buckets_are_cumulative_and_count_matches() {
        let m = Metrics::new();
        m.observe_push_latency(Duration::from_micros(500));
        m.observe_push_latency(Duration::from_millis(30));
        m.observe_push_latency(Duration::from_secs(9));
        let text = m.render(&Gauges::default());
        assert!(text.contains("roeh_push_latency_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(text.contains("roeh_push_latency_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("roeh_push_latency_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(text.contains("roeh_push_latency_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("roeh_push_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("roeh_push_latency_seconds_count 3\n"));
    }

    #[test]
    fn client_guards_count_while_alive() {
        let m = Metrics::new();
        let a = m.client_connected(ClientKind::Unit, Transport::Sse);
        let b = m.client_connected(ClientKind::Unit, Transport::Sse);
        assert_eq!(m.connected_clients(ClientKind::Unit, Transport::Sse), 2);
        assert_eq!(m.connected_clients(ClientKind::Operator, Transport::Sse), 0);
        drop(a);
        assert_eq!(m.connected_clients(ClientKind::Unit, Transport::Sse), 1);
        drop(b);
        assert_eq!(m.connected_clients(ClientKind::Unit, Transport::Sse), 0);
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let m = Metrics::new();
        m.count_request("/api/health", &Method::from_bytes(b"BREW").unwrap(), 403);
        m.count_request("", &Method::GET, 404);
        let text = m.render(&Gauges::default());
        assert!(
            text.contains(
                "roeh_http_requests_total{route=\"/api/health\",method=\"OTHER\",status=\"403\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.contains("route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
    }
}
