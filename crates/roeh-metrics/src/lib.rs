//! roeh's Prometheus metrics: one [`Metrics`] per process, made at start and handed (as an
//! `Arc<Metrics>`) to every stage that records, and to the API, which serves it at
//! `GET /metrics` as OpenMetrics text ([`CONTENT_TYPE`]). Built on `prometheus-client`; there is
//! no global registry.
//!
//! Invariants:
//! - every label set is bounded: HTTP requests by route *template* (never the raw path), one of
//!   a fixed list of methods (anything else is `OTHER`) and the status code; push clients by two
//!   kinds times two transports; camera series by the camera's id (the site's cameras), gaps
//!   also by [`GapReason`]; queues by [`Queue`]; alert and camera states are enums;
//! - label values are escaped by the encoder (`\\`, `\"`, `\n`), so no value can break a line or
//!   forge another sample;
//! - counters only grow; the push-client gauges are kept by [`ClientGuard`]s, which decrement on
//!   drop, and queue depths by [`QueueDepth`]s, which take their share back on drop;
//! - a histogram's buckets, sum and count are read under one lock, so in one scrape the `+Inf`
//!   bucket always equals the count;
//! - recording never blocks on I/O: atomics, and a short lock when a label set is first seen.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use roeh_domain::{CameraId, ErrorKind, GapReason};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

roeh_domain::define_error!();

/// Content type of the OpenMetrics text format the scrape answers.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds (seconds) of the push-latency histogram's buckets, `+Inf` implied.
pub const PUSH_LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Upper bounds (seconds) of the recorder's segment-commit histogram, `+Inf` implied.
pub const RECORDER_COMMIT_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upper bounds (seconds) of the decode histogram (one access unit), `+Inf` implied.
pub const DECODE_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Upper bounds (seconds) of the inference histogram (one detector call), `+Inf` implied.
pub const INFERENCE_BUCKETS: [f64; 11] = [
    0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The methods counted by name; any other is counted as `OTHER`.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];

/// Who holds a push connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

/// A bounded channel on the hot path whose depth is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Queue {
    /// Ingest → recorder, one per camera (the depth is the sum over cameras).
    Recorder,
    /// Decoders → detector, the one frame queue shared by every analysed camera.
    AnalyticsFrames,
}

impl Queue {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Recorder => "recorder",
            Queue::AnalyticsFrames => "analytics_frames",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientLabels {
    kind: &'static str,
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CameraLabels {
    camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GapLabels {
    camera: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// A gauge of `f64` values.
type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric family of the process, registered once in its own registry.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    push_clients: Family<ClientLabels, Gauge>,
    push_latency: Histogram,
    camera_fps: Family<CameraLabels, FloatGauge>,
    camera_bitrate: Family<CameraLabels, FloatGauge>,
    camera_reconnects: Family<CameraLabels, Counter>,
    camera_gaps: Family<GapLabels, Counter>,
    recorder_commit: Histogram,
    decode: Histogram,
    inference: Histogram,
    queue_depth: Family<QueueLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The series themselves are what a scrape is for, not a log line.
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "roeh_http_requests",
            "Answered HTTP requests by route template, method and status",
            http_requests.clone(),
        );
        let push_clients = Family::<ClientLabels, Gauge>::default();
        registry.register(
            "roeh_push_clients",
            "Connected push clients by kind and transport",
            push_clients.clone(),
        );
        // Every combination is shown, 0 while none is connected.
        for kind in [ClientKind::Operator, ClientKind::Unit] {
            for transport in [Transport::Ws, Transport::Sse] {
                push_clients.get_or_create_owned(&client_labels(kind, transport));
            }
        }
        let push_latency = Histogram::new(PUSH_LATENCY_BUCKETS);
        registry.register_with_unit(
            "roeh_push_latency",
            "From an alert event's commit to its message written to a push client",
            Unit::Seconds,
            push_latency.clone(),
        );
        let camera_fps = Family::<CameraLabels, FloatGauge>::default();
        registry.register(
            "roeh_camera_fps",
            "Frames per second a camera delivered to its recorder over the last 5 s (0 while not streaming)",
            camera_fps.clone(),
        );
        let camera_bitrate = Family::<CameraLabels, FloatGauge>::default();
        registry.register(
            "roeh_camera_bitrate_bps",
            "Bits per second a camera delivered to its recorder over the last 5 s (0 while not streaming)",
            camera_bitrate.clone(),
        );
        let camera_reconnects = Family::<CameraLabels, Counter>::default();
        registry.register(
            "roeh_camera_reconnects",
            "Connection attempts of a camera after its first",
            camera_reconnects.clone(),
        );
        let camera_gaps = Family::<GapLabels, Counter>::default();
        registry.register(
            "roeh_camera_gaps",
            "Gaps opened in a camera's recording, by reason",
            camera_gaps.clone(),
        );
        let recorder_commit = Histogram::new(RECORDER_COMMIT_BUCKETS);
        registry.register_with_unit(
            "roeh_recorder_commit",
            "Committing one segment: file fsync, rename, directory fsync and its index row",
            Unit::Seconds,
            recorder_commit.clone(),
        );
        let decode = Histogram::new(DECODE_BUCKETS);
        registry.register_with_unit(
            "roeh_decode",
            "Decoding one access unit for analytics, with the conversion of a selected picture",
            Unit::Seconds,
            decode.clone(),
        );
        let inference = Histogram::new(INFERENCE_BUCKETS);
        registry.register_with_unit(
            "roeh_inference",
            "One detector call on a batch of frames",
            Unit::Seconds,
            inference.clone(),
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "roeh_queue_depth",
            "Items waiting in a bounded queue of the hot path, as its consumer last saw",
            queue_depth.clone(),
        );
        for q in [Queue::Recorder, Queue::AnalyticsFrames] {
            queue_depth.get_or_create_owned(&QueueLabels { queue: q.as_str() });
        }
        Metrics {
            registry,
            http_requests,
            push_clients,
            push_latency,
            camera_fps,
            camera_bitrate,
            camera_reconnects,
            camera_gaps,
            recorder_commit,
            decode,
            inference,
            queue_depth,
        }
    }
}

fn client_labels(kind: ClientKind, transport: Transport) -> ClientLabels {
    ClientLabels {
        kind: kind.as_str(),
        transport: transport.as_str(),
    }
}

fn camera_labels(camera: CameraId) -> CameraLabels {
    CameraLabels {
        camera: camera.to_string(),
    }
}

/// Counts one connected push client while it lives.
#[derive(Debug)]
pub struct ClientGuard {
    gauge: Gauge,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// One camera's ingest figures, resolved once: setting them costs two atomic stores.
#[derive(Clone, Debug)]
pub struct CameraMetrics {
    fps: FloatGauge,
    bitrate: FloatGauge,
    reconnects: Counter,
}

impl CameraMetrics {
    /// Sets the camera's current frame rate and bit rate.
    pub fn set_rates(&self, fps: f64, bitrate_bps: f64) {
        self.fps.set(fps);
        self.bitrate.set(bitrate_bps);
    }

    /// Counts one reconnection attempt.
    pub fn count_reconnect(&self) {
        self.reconnects.inc();
    }
}

/// One consumer's share of a queue's depth gauge: [`QueueDepth::set`] replaces the share, so
/// several queues of one kind (the recorder's, one per camera) add up; dropping it takes the
/// share back.
#[derive(Debug)]
pub struct QueueDepth {
    gauge: Gauge,
    mine: i64,
}

impl QueueDepth {
    /// Sets this queue's depth to `n` items.
    pub fn set(&mut self, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.gauge.inc_by(n.saturating_sub(self.mine));
        self.mine = n;
    }
}

impl Drop for QueueDepth {
    fn drop(&mut self) {
        self.gauge.dec_by(self.mine);
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
    /// Fresh metrics, every counter at zero.
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Counts one answered request of route template `route` (empty: no route matched).
    pub fn count_request(&self, route: &str, method: impl AsRef<str>, status: u16) {
        let method = method.as_ref();
        let method = METHODS
            .iter()
            .find(|m| **m == method)
            .copied()
            .unwrap_or("OTHER");
        let route = if route.is_empty() { "unmatched" } else { route };
        self.http_requests
            .get_or_create(&HttpLabels {
                route: route.to_owned(),
                method,
                status,
            })
            .inc();
    }

    /// Counts a push client of `kind` over `transport` until the guard is dropped.
    pub fn client_connected(&self, kind: ClientKind, transport: Transport) -> ClientGuard {
        let gauge = self
            .push_clients
            .get_or_create_owned(&client_labels(kind, transport));
        gauge.inc();
        ClientGuard { gauge }
    }

    /// Push clients of `kind` connected over `transport` now.
    pub fn connected_clients(&self, kind: ClientKind, transport: Transport) -> i64 {
        self.push_clients
            .get(&client_labels(kind, transport))
            .map_or(0, |g| g.get())
    }

    /// Records one push latency: from the event's commit to its message written to a client.
    pub fn observe_push_latency(&self, d: Duration) {
        self.push_latency.observe(d.as_secs_f64());
    }

    /// The ingest figures of `camera` (`roeh_camera_fps`, `roeh_camera_bitrate_bps`,
    /// `roeh_camera_reconnects`), shown from now on.
    pub fn camera(&self, camera: CameraId) -> CameraMetrics {
        let labels = camera_labels(camera);
        CameraMetrics {
            fps: self.camera_fps.get_or_create_owned(&labels),
            bitrate: self.camera_bitrate.get_or_create_owned(&labels),
            reconnects: self.camera_reconnects.get_or_create_owned(&labels),
        }
    }

    /// Counts one gap opened in `camera`'s recording.
    pub fn count_gap(&self, camera: CameraId, reason: GapReason) {
        self.camera_gaps
            .get_or_create(&GapLabels {
                camera: camera.to_string(),
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Records how long committing one segment took.
    pub fn observe_recorder_commit(&self, d: Duration) {
        self.recorder_commit.observe(d.as_secs_f64());
    }

    /// Records how long decoding one access unit took.
    pub fn observe_decode(&self, d: Duration) {
        self.decode.observe(d.as_secs_f64());
    }

    /// Records how long one detector call took.
    pub fn observe_inference(&self, d: Duration) {
        self.inference.observe(d.as_secs_f64());
    }

    /// A share of `queue`'s depth gauge, for one consumer of one such queue.
    pub fn queue(&self, queue: Queue) -> QueueDepth {
        QueueDepth {
            gauge: self.queue_depth.get_or_create_owned(&QueueLabels {
                queue: queue.as_str(),
            }),
            mine: 0,
        }
    }

    /// The OpenMetrics text of every family, with `gauges` (read at scrape time) as
    /// `roeh_alerts{state}` and `roeh_cameras{state}`, ending in `# EOF`.
    pub fn render(&self, gauges: &Gauges) -> Result<String, Error> {
        // The scrape-time gauges live in a registry of this scrape only: concurrent scrapes do
        // not race, and a state no longer reported leaves no stale series.
        let mut scrape = Registry::default();
        for (name, help, values) in [
            ("roeh_alerts", "Alerts by lifecycle state", &gauges.alerts),
            ("roeh_cameras", "Cameras by stream state", &gauges.cameras),
        ] {
            let family = Family::<StateLabels, Gauge>::default();
            for (state, n) in values {
                family
                    .get_or_create(&StateLabels { state })
                    .set(i64::try_from(*n).unwrap_or(i64::MAX));
            }
            scrape.register(name, help, family);
        }
        let mut out = String::new();
        use prometheus_client::encoding::text;
        text::encode_registry(&mut out, &scrape)
            .and_then(|()| text::encode_registry(&mut out, &self.registry))
            .and_then(|()| text::encode_eof(&mut out))
            .map_err(|e| Error::with_source(ErrorKind::Internal, "encoding the metrics", e))?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        m.render(&Gauges::default()).unwrap()
    }

    #[test]
    fn latency_buckets_are_cumulative_and_count_matches() {
        let m = Metrics::new();
        m.observe_push_latency(Duration::from_micros(500));
        m.observe_push_latency(Duration::from_millis(30));
        m.observe_push_latency(Duration::from_secs(9));
        let t = text(&m);
        assert!(
            t.contains("# TYPE roeh_push_latency_seconds histogram\n"),
            "{t}"
        );
        assert!(t.contains("# UNIT roeh_push_latency_seconds seconds\n"));
        assert!(t.contains("roeh_push_latency_seconds_bucket{le=\"0.001\"} 1\n"));
        assert!(t.contains("roeh_push_latency_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(t.contains("roeh_push_latency_seconds_bucket{le=\"0.05\"} 2\n"));
        assert!(t.contains("roeh_push_latency_seconds_bucket{le=\"5.0\"} 2\n"));
        assert!(t.contains("roeh_push_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(t.contains("roeh_push_latency_seconds_count 3\n"));
        assert!(t.ends_with("# EOF\n"));
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
        assert!(text(&m).contains("roeh_push_clients{kind=\"unit\",transport=\"ws\"} 0\n"));
    }

    #[test]
    fn unknown_methods_share_one_label_and_values_are_escaped() {
        let m = Metrics::new();
        m.count_request("/api/health", "BREW", 403);
        m.count_request("", "GET", 404);
        m.count_request("/x\"}\n\\", "GET", 200);
        let t = text(&m);
        assert!(t.contains("# TYPE roeh_http_requests counter\n"), "{t}");
        assert!(
            t.contains(
                "roeh_http_requests_total{route=\"/api/health\",method=\"OTHER\",status=\"403\"} 1\n"
            ),
            "{t}"
        );
        assert!(t.contains("route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n"));
        assert!(t.contains(r#"route="/x\"}\n\\",method="GET""#), "{t}");
    }

    #[test]
    fn camera_figures_gaps_and_stage_histograms_show_up() {
        let m = Metrics::new();
        let cam = CameraId::new_random();
        let c = m.camera(cam);
        c.set_rates(12.5, 2_000_000.0);
        c.count_reconnect();
        c.count_reconnect();
        m.count_gap(cam, GapReason::Stall);
        m.observe_recorder_commit(Duration::from_millis(20));
        m.observe_decode(Duration::from_millis(3));
        m.observe_inference(Duration::from_millis(40));
        let t = text(&m);
        assert!(
            t.contains(&format!("roeh_camera_fps{{camera=\"{cam}\"}} 12.5\n")),
            "{t}"
        );
        assert!(t.contains(&format!(
            "roeh_camera_bitrate_bps{{camera=\"{cam}\"}} 2000000.0\n"
        )));
        assert!(t.contains(&format!(
            "roeh_camera_reconnects_total{{camera=\"{cam}\"}} 2\n"
        )));
        assert!(t.contains(&format!(
            "roeh_camera_gaps_total{{camera=\"{cam}\",reason=\"stall\"}} 1\n"
        )));
        assert!(t.contains("roeh_recorder_commit_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(t.contains("roeh_recorder_commit_seconds_bucket{le=\"0.01\"} 0\n"));
        assert!(t.contains("roeh_decode_seconds_count 1\n"));
        assert!(t.contains("roeh_decode_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(t.contains("roeh_inference_seconds_count 1\n"));
        assert!(t.contains("roeh_inference_seconds_bucket{le=\"0.05\"} 1\n"));
    }

    #[test]
    fn queue_shares_add_up_and_leave_on_drop() {
        let m = Metrics::new();
        let mut a = m.queue(Queue::Recorder);
        let mut b = m.queue(Queue::Recorder);
        a.set(5);
        b.set(3);
        a.set(2);
        assert!(text(&m).contains("roeh_queue_depth{queue=\"recorder\"} 5\n"));
        drop(a);
        assert!(text(&m).contains("roeh_queue_depth{queue=\"recorder\"} 3\n"));
        drop(b);
        let t = text(&m);
        assert!(t.contains("roeh_queue_depth{queue=\"recorder\"} 0\n"));
        assert!(t.contains("roeh_queue_depth{queue=\"analytics_frames\"} 0\n"));
    }

    #[test]
    fn scrape_time_gauges_are_rendered() {
        let m = Metrics::new();
        let t = m
            .render(&Gauges {
                alerts: vec![("new", 3), ("closed", 0)],
                cameras: vec![("streaming", 2)],
            })
            .unwrap();
        assert!(t.contains("# TYPE roeh_alerts gauge\n"));
        assert!(t.contains("roeh_alerts{state=\"new\"} 3\n"));
        assert!(t.contains("roeh_alerts{state=\"closed\"} 0\n"));
        assert!(t.contains("roeh_cameras{state=\"streaming\"} 2\n"));
    }
}
