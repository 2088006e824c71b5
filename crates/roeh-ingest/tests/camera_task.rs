//! The camera task against scripted fake sources, in paused tokio time: event protocol,
//! validation, stall and backpressure handling, backoff, cancellation and redaction.
#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use bytes::Bytes;
use roeh_domain::{
    AccessUnit, Camera, CameraId, CameraUrl, Clock, CodecParams, Credentials, ErrorKind, GapReason,
    IngestEvent, Pts90k, Retention, Secret, SimClock, StreamState, Transport, VideoCodec, WallTime,
};
use roeh_ingest::{BoxFuture, Error, HealthHandle, IngestOptions, MediaStream, Opener, run_camera};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const PASSWORD: &str = "s3cr3t-Pa55";

#[derive(Clone, Debug)]
enum Step {
    Frame {
        pts: i64,
        key: bool,
    },
    /// A frame with arbitrary data / dimensions.
    Raw {
        pts: i64,
        key: bool,
        data: Vec<u8>,
        width: u32,
        height: u32,
    },
    /// Sleep (in tokio time) before the next step.
    Delay(Duration),
    /// Never yield again.
    Hang,
    Fail(ErrorKind, String),
}

#[derive(Debug)]
enum Script {
    Fail(ErrorKind, String),
    HangOnOpen,
    Stream(Vec<Step>),
    /// Frames every 100 ms forever, key every 10.
    Endless,
}

#[derive(Debug, Default)]
struct FakeOpener {
    scripts: Mutex<VecDeque<Script>>,
    opens: Mutex<Vec<Instant>>,
}

impl FakeOpener {
    fn new(scripts: Vec<Script>) -> Arc<Self> {
        Arc::new(FakeOpener {
            scripts: Mutex::new(scripts.into()),
            opens: Mutex::new(Vec::new()),
        })
    }

    fn open_times(&self) -> Vec<Instant> {
        self.opens.lock().unwrap().clone()
    }
}

fn params(width: u32, height: u32) -> Arc<CodecParams> {
    Arc::new(CodecParams {
        codec: VideoCodec::H264,
        width,
        height,
        rfc6381: "avc1.4D401E".into(),
        config_record: vec![
            1, 0x4d, 0x40, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x4d, 0x40, 0x1e,
        ],
    })
}

struct FakeStream {
    steps: VecDeque<Step>,
    endless: Option<i64>,
    params: Arc<CodecParams>,
    clock: Arc<dyn Clock>,
}

impl FakeStream {
    fn au(&self, pts: i64, key: bool, data: Vec<u8>, params: Arc<CodecParams>) -> AccessUnit {
        AccessUnit {
            camera: CameraId::new_random(),
            pts: Pts90k(pts),
            received_at: self.clock.wall(),
            is_key: key,
            params,
            data: Bytes::from(data),
        }
    }

    async fn step(&mut self) -> Result<Option<AccessUnit>, Error> {
        if let Some(n) = self.endless.as_mut() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let i = *n;
            *n += 1;
            return Ok(Some(self.au(
                i * 9000,
                i % 10 == 0,
                good_nal(i),
                self.params.clone(),
            )));
        }
        loop {
            match self.steps.pop_front() {
                None => return Ok(None),
                Some(Step::Frame { pts, key }) => {
                    return Ok(Some(self.au(pts, key, good_nal(pts), self.params.clone())));
                }
                Some(Step::Raw {
                    pts,
                    key,
                    data,
                    width,
                    height,
                }) => {
                    return Ok(Some(self.au(pts, key, data, params(width, height))));
                }
                Some(Step::Delay(d)) => tokio::time::sleep(d).await,
                Some(Step::Hang) => std::future::pending::<()>().await,
                Some(Step::Fail(k, m)) => return Err(Error::new(k, m)),
            }
        }
    }
}

fn good_nal(i: i64) -> Vec<u8> {
    vec![0, 0, 0, 2, 0x65, (i & 0xff) as u8]
}

impl MediaStream for FakeStream {
    fn next(&mut self) -> BoxFuture<'_, Result<Option<AccessUnit>, Error>> {
        Box::pin(self.step())
    }
}

impl Opener for FakeOpener {
    fn open<'a>(
        &'a self,
        _camera: &'a Camera,
        clock: Arc<dyn Clock>,
    ) -> BoxFuture<'a, Result<Box<dyn MediaStream>, Error>> {
        Box::pin(async move {
            self.opens.lock().unwrap().push(Instant::now());
            let script = self.scripts.lock().unwrap().pop_front();
            let stream = |steps: Vec<Step>, endless| {
                Ok(Box::new(FakeStream {
                    steps: steps.into(),
                    endless,
                    params: params(768, 576),
                    clock,
                }) as Box<dyn MediaStream>)
            };
            match script {
                None => Err(Error::new(ErrorKind::Unavailable, "connection refused")),
                Some(Script::Fail(k, m)) => Err(Error::new(k, m)),
                Some(Script::HangOnOpen) => std::future::pending().await,
                Some(Script::Stream(steps)) => stream(steps, None),
                Some(Script::Endless) => stream(Vec::new(), Some(0)),
            }
        })
    }
}

fn camera() -> Camera {
    Camera {
        id: CameraId::new_random(),
        name: "gate".into(),
        url: CameraUrl::parse("rtsp://127.0.0.1:1/cam0").unwrap(),
        credentials: Some(Credentials {
            username: "admin".into(),
            password: Secret::new(PASSWORD),
        }),
        transport: Transport::Tcp,
        enabled: true,
        retention: Retention::default(),
    }
}

fn opts() -> IngestOptions {
    IngestOptions {
        stall_timeout: Duration::from_secs(2),
        backoff_initial: Duration::from_millis(500),
        backoff_max: Duration::from_secs(4),
        ..IngestOptions::default()
    }
}

struct Harness {
    rx: mpsc::Receiver<IngestEvent>,
    health: HealthHandle,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    opener: Arc<FakeOpener>,
}

fn start(scripts: Vec<Script>, opts: IngestOptions, capacity: usize) -> Harness {
    let opener = FakeOpener::new(scripts);
    let (tx, rx) = mpsc::channel(capacity);
    let health = HealthHandle::new();
    let cancel = CancellationToken::new();
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(WallTime::from_secs(1_700_000_000)));
    let task = tokio::spawn(run_camera(
        camera(),
        opener.clone(),
        clock,
        tx,
        health.clone(),
        cancel.clone(),
        opts,
    ));
    Harness {
        rx,
        health,
        cancel,
        task,
        opener,
    }
}

impl Harness {
    async fn next(&mut self) -> IngestEvent {
        tokio::time::timeout(Duration::from_secs(3600), self.rx.recv())
            .await
            .expect("an event within an hour of virtual time")
            .expect("channel open")
    }

    /// Next event, summarised: "C", "F<pts>k" / "F<pts>", "D:<reason>".
    async fn next_short(&mut self) -> String {
        short(&self.next().await)
    }

    async fn stop(self) -> (Vec<IngestEvent>, HealthHandle) {
        let Harness {
            mut rx,
            health,
            cancel,
            task,
            ..
        } = self;
        cancel.cancel();
        task.await.unwrap();
        let mut rest = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            rest.push(ev);
        }
        (rest, health)
    }
}

fn short(ev: &IngestEvent) -> String {
    match ev {
        IngestEvent::Connected { .. } => "C".into(),
        IngestEvent::Frame(au) => format!("F{}{}", au.pts.0, if au.is_key { "k" } else { "" }),
        IngestEvent::Disconnected { reason, .. } => format!("D:{}", reason.as_str()),
        _ => "?".into(),
    }
}

fn frames(range: std::ops::Range<i64>, key_every: i64) -> Vec<Step> {
    range
        .map(|i| Step::Frame {
            pts: i * 9000,
            key: i % key_every == 0,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn drops_frames_until_a_key_frame_then_streams() {
    let mut steps = vec![
        Step::Frame { pts: 0, key: false },
        Step::Frame {
            pts: 9000,
            key: false,
        },
    ];
    steps.extend((2..6).map(|i| Step::Frame {
        pts: i * 9000,
        key: i == 2,
    }));
    let mut h = start(vec![Script::Stream(steps)], opts(), 64);
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(h.next_short().await);
    }
    assert_eq!(
        got,
        [
            "C",
            "F18000k",
            "F27000",
            "F36000",
            "F45000",
            "D:camera_offline"
        ]
    );
    let snap = h.health.snapshot();
    assert_eq!(snap.frames, 4);
    assert_eq!(snap.codec, Some(VideoCodec::H264));
    assert_eq!((snap.width, snap.height), (Some(768), Some(576)));
    let (rest, health) = h.stop().await;
    // Later attempts fail (no more scripts) but the outage was already reported.
    assert!(
        rest.is_empty(),
        "{:?}",
        rest.iter().map(short).collect::<Vec<_>>()
    );
    assert_eq!(health.snapshot().state, StreamState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_to_the_cap_and_reports_the_outage_once() {
    let mut h = start(Vec::new(), opts(), 64);
    assert_eq!(h.next_short().await, "D:camera_offline");
    tokio::time::sleep(Duration::from_secs(40)).await;
    let times = h.opener.open_times();
    let gaps: Vec<u128> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert!(gaps.len() >= 8, "{gaps:?}");
    assert_eq!(&gaps[..8], &[500, 1000, 2000, 4000, 4000, 4000, 4000, 4000]);
    let snap = h.health.snapshot();
    assert_eq!(snap.reconnects, times.len() as u64 - 1);
    assert_eq!(snap.state, StreamState::Backoff);
    assert!(snap.last_error.unwrap().contains("connection refused"));
    let (rest, _) = h.stop().await;
    assert!(rest.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_long_run_resets_the_backoff() {
    let o = IngestOptions {
        backoff_reset_after: Duration::from_secs(5),
        ..opts()
    };
    // 8 s of frames at 10 fps.
    let long: Vec<Step> = frames(0..80, 10)
        .into_iter()
        .flat_map(|f| [Step::Delay(Duration::from_millis(100)), f])
        .collect();
    let down = || Script::Fail(ErrorKind::Unavailable, "down".into());
    let mut h = start(vec![down(), down(), down(), Script::Stream(long)], o, 256);
    assert_eq!(h.next_short().await, "D:camera_offline");
    assert_eq!(h.next_short().await, "C");
    while h.next_short().await != "D:camera_offline" {}
    tokio::time::sleep(Duration::from_secs(4)).await;
    let t = h.opener.open_times();
    let gaps: Vec<u128> = t.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    // 0.5, 1, 2 s before the long run; after it (8 s of streaming) 0.5 s, 1 s, 2 s again.
    assert_eq!(&gaps[..3], &[500, 1000, 2000]);
    assert_eq!(gaps[3], 8000 + 500);
    assert_eq!(&gaps[4..6], &[1000, 2000]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_short_run_keeps_backing_off() {
    let down = || Script::Fail(ErrorKind::Unavailable, "down".into());
    let scripts = vec![down(), down(), Script::Stream(frames(0..3, 10)), down()];
    let mut h = start(scripts, opts(), 256);
    assert_eq!(h.next_short().await, "D:camera_offline");
    assert_eq!(h.next_short().await, "C");
    while h.next_short().await != "D:camera_offline" {}
    tokio::time::sleep(Duration::from_secs(11)).await;
    let t = h.opener.open_times();
    let gaps: Vec<u128> = t.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert_eq!(&gaps[..5], &[500, 1000, 2000, 4000, 4000]);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stall_ends_the_run_and_the_task_reconnects() {
    let mut first = frames(0..5, 10);
    first.push(Step::Hang);
    let scripts = vec![Script::Stream(first), Script::Stream(frames(0..3, 10))];
    let mut h = start(scripts, opts(), 64);
    let mut got = Vec::new();
    let t0 = Instant::now();
    for _ in 0..12 {
        got.push(h.next_short().await);
    }
    assert_eq!(
        got,
        [
            "C",
            "F0k",
            "F9000",
            "F18000",
            "F27000",
            "F36000",
            "D:stall",
            "C",
            "F0k",
            "F9000",
            "F18000",
            "D:camera_offline"
        ]
    );
    // The stall was noticed after the stall timeout, and the reconnect followed the first delay.
    assert_eq!(Instant::now() - t0, Duration::from_millis(2500));
    assert_eq!(h.health.snapshot().reconnects, 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_camera_that_sends_nothing_stalls() {
    let mut h = start(vec![Script::Stream(vec![Step::Hang])], opts(), 64);
    let ev = h.next().await;
    match ev {
        IngestEvent::Disconnected { reason, detail, .. } => {
            assert_eq!(reason, GapReason::Stall);
            assert!(detail.contains("no frame"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_camera_without_key_frames_is_a_bad_stream() {
    let steps: Vec<Step> = (0..100)
        .flat_map(|i| {
            [
                Step::Delay(Duration::from_millis(100)),
                Step::Frame {
                    pts: i * 9000,
                    key: false,
                },
            ]
        })
        .collect();
    let mut h = start(vec![Script::Stream(steps)], opts(), 64);
    match h.next().await {
        IngestEvent::Disconnected { reason, detail, .. } => {
            assert_eq!(reason, GapReason::BadStream);
            assert!(detail.contains("no key frame"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_hanging_connect_times_out() {
    let mut h = start(vec![Script::HangOnOpen], opts(), 64);
    let t0 = Instant::now();
    match h.next().await {
        IngestEvent::Disconnected { reason, detail, .. } => {
            assert_eq!(reason, GapReason::CameraOffline);
            assert!(detail.contains("timed out"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(Instant::now() - t0, opts().connect_timeout);
    h.stop().await;
}

async fn expect_bad_stream(bad: Step, want: &str) {
    let mut first = frames(0..3, 10);
    first.push(bad);
    first.extend(frames(4..6, 10));
    let scripts = vec![Script::Stream(first), Script::Stream(frames(0..2, 10))];
    let mut h = start(scripts, opts(), 64);
    let mut got = Vec::new();
    let mut detail = String::new();
    for _ in 0..8 {
        let ev = h.next().await;
        if let IngestEvent::Disconnected { detail: d, .. } = &ev
            && detail.is_empty()
        {
            detail = d.clone();
        }
        got.push(short(&ev));
    }
    assert_eq!(
        got,
        [
            "C",
            "F0k",
            "F9000",
            "F18000",
            "D:bad_stream",
            "C",
            "F0k",
            "F9000"
        ],
        "{want}"
    );
    assert!(detail.contains(want), "{detail} should mention {want}");
    assert_eq!(h.health.snapshot().reconnects, 1);
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn backwards_pts_is_a_bad_stream() {
    expect_bad_stream(
        Step::Frame {
            pts: 9000,
            key: false,
        },
        "backwards",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_pts_leap_is_a_bad_stream() {
    expect_bad_stream(
        Step::Frame {
            pts: 18000 + 11 * 90_000,
            key: false,
        },
        "jumped",
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn garbage_nal_lengths_are_a_bad_stream() {
    let bad = Step::Raw {
        pts: 27000,
        key: false,
        data: vec![0xff, 0xff, 0xff, 0xf0, 1, 2],
        width: 768,
        height: 576,
    };
    expect_bad_stream(bad, "NAL length").await;
}

#[tokio::test(start_paused = true)]
async fn absurd_dimensions_are_a_bad_stream() {
    let bad = Step::Raw {
        pts: 27000,
        key: false,
        data: good_nal(3),
        width: 65535,
        height: 2,
    };
    expect_bad_stream(bad, "width 65535").await;
}

#[tokio::test(start_paused = true)]
async fn a_huge_access_unit_is_a_bad_stream() {
    let size = roeh_domain::media::MAX_ACCESS_UNIT_BYTES + 1;
    let mut data = vec![0u8; size];
    data[..4].copy_from_slice(&((size - 4) as u32).to_be_bytes());
    let bad = Step::Raw {
        pts: 27000,
        key: false,
        data,
        width: 768,
        height: 576,
    };
    expect_bad_stream(bad, "exceeds the limit").await;
}

#[tokio::test(start_paused = true)]
async fn source_errors_map_to_reasons() {
    let mut first = frames(0..2, 10);
    first.push(Step::Fail(ErrorKind::DataLoss, "corrupt RTP".into()));
    let mut second = frames(0..2, 10);
    second.push(Step::Fail(
        ErrorKind::Unavailable,
        "connection reset".into(),
    ));
    let scripts = vec![Script::Stream(first), Script::Stream(second)];
    let mut h = start(scripts, opts(), 64);
    let mut got = Vec::new();
    for _ in 0..8 {
        got.push(h.next_short().await);
    }
    assert_eq!(
        got,
        [
            "C",
            "F0k",
            "F9000",
            "D:bad_stream",
            "C",
            "F0k",
            "F9000",
            "D:camera_offline"
        ]
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_ends_the_run_with_backpressure() {
    let o = IngestOptions {
        backpressure_timeout: Duration::from_secs(5),
        ..opts()
    };
    let scripts = vec![Script::Endless, Script::Stream(frames(0..2, 10))];
    let mut h = start(scripts, o, 4);
    // The recorder is stuck for 30 s: the queue fills, a frame waits 5 s and is lost.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let mut got = Vec::new();
    for _ in 0..9 {
        got.push(h.next_short().await);
    }
    assert_eq!(
        got,
        [
            "C",
            "F0k",
            "F9000",
            "F18000",
            "D:backpressure",
            "C",
            "F0k",
            "F9000",
            "D:camera_offline"
        ]
    );
    let err = h.health.snapshot().last_error.unwrap_or_default();
    assert!(
        err.contains("frame was lost") || err.contains("ended"),
        "{err}"
    );
    h.stop().await;
}

#[tokio::test(start_paused = true)]
async fn cancellation_closes_the_run_with_shutdown() {
    let mut h = start(vec![Script::Endless], opts(), 64);
    for _ in 0..20 {
        h.next().await;
    }
    let (rest, health) = h.stop().await;
    let last = rest.last().map(short);
    assert_eq!(last.as_deref(), Some("D:shutdown"));
    assert!(
        rest[..rest.len() - 1]
            .iter()
            .all(|e| matches!(e, IngestEvent::Frame(_)))
    );
    assert_eq!(health.snapshot().state, StreamState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn cancellation_while_backing_off_sends_nothing_more() {
    let mut h = start(Vec::new(), opts(), 64);
    assert_eq!(h.next_short().await, "D:camera_offline");
    let (rest, health) = h.stop().await;
    assert!(rest.is_empty());
    assert_eq!(health.snapshot().state, StreamState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn the_task_ends_when_the_recorder_goes_away() {
    let h = start(vec![Script::Endless], opts(), 4);
    let Harness {
        rx, task, health, ..
    } = h;
    drop(rx);
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(health.snapshot().state, StreamState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn passwords_never_reach_events_or_health() {
    let msg = format!("401 Unauthorized for admin:{PASSWORD}");
    let mut first = frames(0..2, 10);
    first.push(Step::Fail(ErrorKind::Unavailable, msg.clone()));
    let scripts = vec![
        Script::Fail(ErrorKind::PermissionDenied, msg.clone()),
        Script::Stream(first),
    ];
    let mut h = start(scripts, opts(), 64);
    for _ in 0..5 {
        if let IngestEvent::Disconnected { detail, .. } = h.next().await {
            assert!(!detail.contains(PASSWORD), "{detail}");
            assert!(detail.contains("401"), "{detail}");
        }
        let snap = h.health.snapshot();
        let text = serde_json::to_string(&snap).unwrap();
        assert!(!text.contains(PASSWORD), "{text}");
    }
    h.stop().await;
}

/// A tap that remembers what it was offered, summarised like [`short`].
#[derive(Debug, Default)]
struct SeenTap(Mutex<Vec<String>>);

impl roeh_ingest::FrameTap for SeenTap {
    fn offer(&self, au: &AccessUnit) {
        self.0
            .lock()
            .unwrap()
            .push(short(&IngestEvent::Frame(au.clone())));
    }
}

#[tokio::test(start_paused = true)]
async fn the_tap_sees_exactly_the_frames_the_recorder_took() {
    let tap = Arc::new(SeenTap::default());
    let o = IngestOptions {
        backpressure_timeout: Duration::from_secs(5),
        tap: Some(tap.clone()),
        ..opts()
    };
    // As in the full-queue test: the recorder takes three frames, the fourth is lost.
    let scripts = vec![Script::Endless, Script::Stream(frames(0..2, 10))];
    let mut h = start(scripts, o, 4);
    tokio::time::sleep(Duration::from_secs(30)).await;
    let mut frames_recorded = Vec::new();
    for _ in 0..9 {
        let ev = h.next_short().await;
        if ev.starts_with('F') {
            frames_recorded.push(ev);
        }
    }
    assert_eq!(frames_recorded, ["F0k", "F9000", "F18000", "F0k", "F9000"]);
    assert_eq!(*tap.0.lock().unwrap(), frames_recorded);
    h.stop().await;
}

/// The value of the sample `name{camera="<camera>"}` in a scrape.
fn camera_sample(text: &str, name: &str, camera: CameraId) -> Option<f64> {
    let prefix = format!("{name}{{camera=\"{camera}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.parse().unwrap())
}

#[tokio::test(start_paused = true)]
async fn reconnects_and_frame_rate_show_up_in_the_metrics() {
    let metrics = roeh_metrics::Metrics::new();
    let cam = camera();
    let (changes, _) = tokio::sync::broadcast::channel(16);
    let health = HealthHandle::reporting(cam.id, changes, Some(&metrics));
    // Refused once, then frames every 100 ms.
    let opener = FakeOpener::new(vec![
        Script::Fail(ErrorKind::Unavailable, "connection refused".into()),
        Script::Endless,
    ]);
    let sim = Arc::new(SimClock::new(WallTime::from_secs(1_700_000_000)));
    let clock: Arc<dyn Clock> = sim.clone();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_camera(
        cam.clone(),
        opener,
        clock,
        tx,
        health.clone(),
        cancel.clone(),
        opts(),
    ));
    let mut frames = 0;
    while frames < 30 {
        let ev = tokio::time::timeout(Duration::from_secs(3600), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if let IngestEvent::Frame(_) = ev {
            frames += 1;
            // The injected clock moves 100 ms per frame, as tokio's does.
            sim.advance(Duration::from_millis(100));
        }
    }
    let scrape = || metrics.render(&roeh_metrics::Gauges::default()).unwrap();
    let text = scrape();
    let fps = camera_sample(&text, "roeh_camera_fps", cam.id).unwrap();
    assert!((fps - 10.0).abs() < 0.5, "{text}");
    assert_eq!(fps, health.snapshot().fps);
    let bps = camera_sample(&text, "roeh_camera_bitrate_bps", cam.id).unwrap();
    assert!(bps > 0.0, "{text}");
    assert_eq!(
        camera_sample(&text, "roeh_camera_reconnects_total", cam.id),
        Some(1.0),
        "{text}"
    );
    // Stopped: no rate any more; the reconnect stays counted.
    cancel.cancel();
    task.await.unwrap();
    let text = scrape();
    assert_eq!(camera_sample(&text, "roeh_camera_fps", cam.id), Some(0.0));
    assert_eq!(
        camera_sample(&text, "roeh_camera_bitrate_bps", cam.id),
        Some(0.0)
    );
    assert_eq!(
        camera_sample(&text, "roeh_camera_reconnects_total", cam.id),
        Some(1.0)
    );
}

#[test]
fn options_compare_taps_by_identity() {
    let tap: Arc<dyn roeh_ingest::FrameTap> = Arc::new(SeenTap::default());
    let with = IngestOptions {
        tap: Some(tap.clone()),
        ..IngestOptions::default()
    };
    assert_eq!(with, with.clone());
    assert_ne!(with, IngestOptions::default());
    let other = IngestOptions {
        tap: Some(Arc::new(SeenTap::default())),
        ..IngestOptions::default()
    };
    assert_ne!(with, other);
    assert_eq!(IngestOptions::default(), IngestOptions::default());
}
