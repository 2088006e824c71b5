//! Retina ingest against a real RTSP server (gst-rtsp-server on loopback serving the test
//! footage): TCP and UDP, H.264 and H.265, credentials, a server restart, and agreement with the
//! GStreamer file path on codec parameters.
#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use roeh_domain::media::check_length_prefixed;
use roeh_domain::{
    AccessUnit, Camera, CameraId, CameraUrl, Clock, Credentials, GapReason, IngestEvent, Secret,
    StreamState, SystemClock, Transport, VideoCodec,
};
use roeh_ingest::{HealthHandle, IngestOptions, Opener, RetinaOpener, run_camera};
use roeh_testcam::{TestCamConfig, TestCamServer, default_footage_dir};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const USER: &str = "operator";
const RIGHT: &str = "Right-Horse-9";
const WRONG: &str = "Wrong-Battery-7";

fn server(file: &str, credentials: bool, port: u16) -> TestCamServer {
    let mut cfg = TestCamConfig::new(default_footage_dir().join(file), 1);
    cfg.port = port;
    if credentials {
        cfg.credentials = Some((USER.into(), RIGHT.into()));
    }
    TestCamServer::start(cfg).expect("test camera server starts")
}

fn camera(url: &str, transport: Transport, password: Option<&str>) -> Camera {
    Camera {
        id: CameraId::new_random(),
        name: "testcam".into(),
        url: CameraUrl::parse(url).unwrap(),
        credentials: password.map(|p| Credentials {
            username: USER.into(),
            password: Secret::new(p),
        }),
        transport,
        enabled: true,
        retention: Default::default(),
    }
}

struct Running {
    rx: mpsc::Receiver<IngestEvent>,
    health: HealthHandle,
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn run(cam: Camera, opts: IngestOptions) -> Running {
    let (tx, rx) = mpsc::channel(256);
    let health = HealthHandle::new();
    let cancel = CancellationToken::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let task = tokio::spawn(run_camera(
        cam,
        Arc::new(RetinaOpener::new()),
        clock,
        tx,
        health.clone(),
        cancel.clone(),
        opts,
    ));
    Running {
        rx,
        health,
        cancel,
        task,
    }
}

impl Running {
    async fn next(&mut self, within: Duration) -> IngestEvent {
        tokio::time::timeout(within, self.rx.recv())
            .await
            .expect("an event in time")
            .expect("channel open")
    }

    /// Waits for `Connected`, then collects `n` frames of that run.
    async fn connected_frames(&mut self, n: usize) -> Vec<AccessUnit> {
        loop {
            match self.next(Duration::from_secs(15)).await {
                IngestEvent::Connected { .. } => break,
                IngestEvent::Disconnected { detail, .. } => panic!("disconnected: {detail}"),
                _ => {}
            }
        }
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            match self.next(Duration::from_secs(5)).await {
                IngestEvent::Frame(au) => out.push(au),
                other => panic!("expected a frame, got {other:?}"),
            }
        }
        out
    }

    async fn stop(self) -> HealthHandle {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("task stops in time")
            .unwrap();
        self.health
    }
}

fn check_frames(aus: &[AccessUnit], codec: VideoCodec) {
    assert!(aus[0].is_key, "first frame after Connected is a key frame");
    for w in aus.windows(2) {
        assert!(
            w[1].pts > w[0].pts,
            "pts increases: {:?} then {:?}",
            w[0].pts,
            w[1].pts
        );
    }
    for au in aus {
        assert!(check_length_prefixed(&au.data).is_ok());
        assert_eq!(au.params.codec, codec);
        assert_eq!((au.params.width, au.params.height), (768, 576));
        assert_eq!(au.params.config_record[0], 1);
    }
    // The footage has a key frame every 20 frames (IDR for H.264; IDR then CRA for H.265).
    for (i, au) in aus.iter().enumerate() {
        assert_eq!(au.is_key, i % 20 == 0, "key flag of frame {i}");
    }
    // Every key frame carries its parameter sets in-band (SPS for H.264, VPS and SPS for H.265).
    for au in aus.iter().filter(|a| a.is_key) {
        let types = in_band_types(codec, &au.data);
        let want: &[u8] = if codec == VideoCodec::H265 {
            &[32, 33, 34]
        } else {
            &[7, 8]
        };
        assert!(
            want.iter().all(|t| types.contains(t)),
            "{types:?} at pts {}",
            au.pts.0
        );
    }
}

async fn stream_once(file: &str, transport: Transport, codec: VideoCodec) {
    let srv = server(file, false, 0);
    let mut r = run(
        camera(&srv.url(0), transport, None),
        IngestOptions::default(),
    );
    let aus = r.connected_frames(30).await;
    check_frames(&aus, codec);
    let health = r.stop().await;
    let snap = health.snapshot();
    assert!(snap.frames >= 30);
    assert_eq!(snap.codec, Some(codec));
    assert_eq!(snap.state, StreamState::Stopped);
    srv.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_over_tcp() {
    let srv = server("vtest_h264.mp4", false, 0);
    let mut r = run(
        camera(&srv.url(0), Transport::Tcp, None),
        IngestOptions::default(),
    );
    let aus = r.connected_frames(30).await;
    check_frames(&aus, VideoCodec::H264);
    let p = &aus[0].params;
    assert!(p.rfc6381.starts_with("avc1.4D"), "{}", p.rfc6381);
    assert_eq!(p.config_record[1], 77, "Main profile");
    assert_eq!(p.config_record[4] & 3, 3, "4-byte NAL lengths");
    // 10 fps footage: media time advances by 9000 per frame.
    for w in aus.windows(2) {
        assert_eq!(w[1].pts.0 - w[0].pts.0, 9000);
    }
    let snap = r.health.snapshot();
    assert_eq!(snap.state, StreamState::Streaming);
    assert!(snap.fps > 5.0 && snap.fps < 20.0, "{}", snap.fps);
    assert!(snap.bitrate_bps > 0.0);
    r.stop().await;
    srv.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_over_tcp() {
    stream_once("vtest_h265.mp4", Transport::Tcp, VideoCodec::H265).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h264_over_udp() {
    stream_once("vtest_h264.mp4", Transport::Udp, VideoCodec::H264).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_right_and_wrong() {
    let srv = server("vtest_h264.mp4", true, 0);
    let opener = RetinaOpener::new();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());

    // Right password: frames flow.
    let good = camera(&srv.url(0), Transport::Tcp, Some(RIGHT));
    let mut stream =
        tokio::time::timeout(Duration::from_secs(10), opener.open(&good, clock.clone()))
            .await
            .unwrap()
            .expect("the right password opens the stream");
    let au = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(check_length_prefixed(&au.data).is_ok());
    drop(stream);

    // No password at all, and the wrong one: refused, and no password in the text.
    for cam in [
        camera(&srv.url(0), Transport::Tcp, None),
        camera(&srv.url(0), Transport::Tcp, Some(WRONG)),
    ] {
        let Err(e) =
            tokio::time::timeout(Duration::from_secs(10), opener.open(&cam, clock.clone()))
                .await
                .unwrap()
        else {
            panic!("must be refused");
        };
        let text = format!("{e} / {e:?} / {}", e.chain());
        assert!(
            text.contains("401") || text.to_lowercase().contains("auth"),
            "{text}"
        );
        assert!(!text.contains(RIGHT) && !text.contains(WRONG), "{text}");
    }

    // Through the camera task: a gap with a redacted detail, and redacted health.
    let mut r = run(
        camera(&srv.url(0), Transport::Tcp, Some(WRONG)),
        IngestOptions::default(),
    );
    match r.next(Duration::from_secs(15)).await {
        IngestEvent::Disconnected { reason, detail, .. } => {
            assert_eq!(reason, GapReason::CameraOffline);
            assert!(
                !detail.contains(WRONG) && !detail.contains(RIGHT),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    let health = r.stop().await;
    let err = health.snapshot().last_error.expect("an error is recorded");
    assert!(!err.contains(WRONG) && !err.contains(RIGHT), "{err}");
    srv.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_does_not_leak_the_password() {
    // A port with nothing listening (bound then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("rtsp://127.0.0.1:{port}/cam0");
    let mut r = run(
        camera(&url, Transport::Tcp, Some(RIGHT)),
        IngestOptions::default(),
    );
    match r.next(Duration::from_secs(15)).await {
        IngestEvent::Disconnected { reason, detail, .. } => {
            assert_eq!(reason, GapReason::CameraOffline);
            assert!(!detail.contains(RIGHT), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    let health = r.stop().await;
    let snap = health.snapshot();
    let err = snap.last_error.clone().expect("an error is recorded");
    assert!(!err.contains(RIGHT), "{err}");
    assert!(!serde_json::to_string(&snap).unwrap().contains(RIGHT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_server_restarts() {
    let srv = server("vtest_h264.mp4", false, 0);
    let port = srv.port();
    let opts = IngestOptions {
        stall_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(3),
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        ..IngestOptions::default()
    };
    let mut r = run(camera(&srv.url(0), Transport::Tcp, None), opts);
    let aus = r.connected_frames(10).await;
    check_frames(&aus, VideoCodec::H264);

    tokio::task::spawn_blocking(move || srv.stop())
        .await
        .unwrap();
    // The run ends: the server closed the connection (offline) or went silent (stall).
    loop {
        match r.next(Duration::from_secs(10)).await {
            IngestEvent::Frame(_) => continue,
            IngestEvent::Disconnected { reason, .. } => {
                assert!(
                    matches!(reason, GapReason::CameraOffline | GapReason::Stall),
                    "{reason:?}"
                );
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    // Let a few reconnect attempts fail against the closed port.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(r.health.snapshot().reconnects >= 1);

    let srv = tokio::task::spawn_blocking(move || server("vtest_h264.mp4", false, port))
        .await
        .unwrap();
    let back = Instant::now();
    let aus = r.connected_frames(5).await;
    assert!(
        back.elapsed() < Duration::from_secs(5),
        "frames flowed again {:?} after the server returned",
        back.elapsed()
    );
    check_frames(&aus, VideoCodec::H264);
    r.stop().await;
    srv.stop();
}

#[cfg(feature = "gstreamer")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gstreamer_file_and_rtsp_agree_on_parameters() {
    use roeh_ingest::{GstOpener, GstSource};
    let file = default_footage_dir().join("vtest_h264.mp4");
    let srv = server("vtest_h264.mp4", false, 0);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let cam = camera(&srv.url(0), Transport::Tcp, None);

    let rtsp = RetinaOpener::new();
    let mut s = rtsp.open(&cam, clock.clone()).await.unwrap();
    let from_rtsp = s.next().await.unwrap().unwrap();
    drop(s);
    let gst = GstOpener::new(GstSource::from_path(&file).unwrap()).unwrap();
    let mut s = gst.open(&cam, clock).await.unwrap();
    let from_file = s.next().await.unwrap().unwrap();
    drop(s);

    let (a, b) = (&from_rtsp.params, &from_file.params);
    assert_eq!(a.codec, b.codec);
    assert_eq!((a.width, a.height), (b.width, b.height));
    assert_eq!(
        a.config_record[..4],
        b.config_record[..4],
        "version, profile, compat, level"
    );
    assert_eq!(
        a.rfc6381.to_ascii_lowercase(),
        b.rfc6381.to_ascii_lowercase()
    );
    srv.stop();
}

/// NAL unit types of a length-prefixed access unit.
fn in_band_types(codec: VideoCodec, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        out.push(match codec {
            VideoCodec::H265 => (rest[4] >> 1) & 0x3f,
            _ => rest[4] & 0x1f,
        });
        rest = &rest[(4 + len).min(rest.len())..];
    }
    out
}
