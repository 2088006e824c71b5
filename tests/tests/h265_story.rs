//! One process, real parts: the RTSP test server loops H.265 footage, the pipeline records it
//! through retina, the API serves a range as MP4, ffprobe accepts it, and the chain verifies.

#![allow(clippy::unwrap_used)]

use roeh_api::{AppState, CameraControl};
use roeh_domain::{Camera, CameraId, CameraUrl, Clock, StreamHealth, StreamState, SystemClock};
use roeh_pipeline::{Pipeline, PipelineConfig};
use roeh_testcam::{TestCamConfig, TestCamServer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

struct Control(Pipeline);

impl CameraControl for Control {
    fn health(&self, id: CameraId) -> Option<StreamHealth> {
        self.0.health(id)
    }
    fn start_camera(&self, camera: Camera) {
        self.0.start_camera(camera)
    }
    fn stop_camera(&self, id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.0.stop_camera(id))
    }
}

async fn wait<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h265_camera_is_recorded_and_exported() {
    let footage = roeh_testkit::footage("vtest_h265.mp4");
    let server =
        tokio::task::spawn_blocking(move || TestCamServer::start(TestCamConfig::new(footage, 1)))
            .await
            .unwrap()
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = roeh_store::Store::open(dir.path().join("roeh.db").to_str().unwrap())
        .await
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let cam = Camera {
        id: CameraId::new_random(),
        name: "H.265 camera".into(),
        url: CameraUrl::parse(&server.url(0)).unwrap(),
        credentials: None,
        transport: Default::default(),
        enabled: true,
        retention: Default::default(),
    };
    store.insert_camera(&cam, clock.wall()).await.unwrap();
    let cfg = PipelineConfig {
        footage_root: dir.path().join("footage"),
        segment_duration: Duration::from_secs(2),
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(
        store.clone(),
        clock.clone(),
        Arc::new(roeh_ingest::RetinaOpener::new()),
        cfg,
    )
    .await
    .unwrap();
    let custody = roeh_custody::Custody::open(
        store.clone(),
        clock.clone(),
        roeh_custody::CustodyConfig {
            keys_dir: dir.path().join("keys"),
            exports_dir: dir.path().join("exports"),
            footage_root: dir.path().join("footage"),
            origin: "roeh:h265".into(),
            checkpoint_every: Duration::from_secs(60),
        },
    )
    .await
    .unwrap();
    let setup = roeh_api::auth::prepare_setup(&store, clock.wall())
        .await
        .unwrap()
        .unwrap();
    let state = AppState {
        store: store.clone(),
        alerts: roeh_api::alerts::AlertsService::new(
            store.clone(),
            clock.clone(),
            Default::default(),
        ),
        control: Arc::new(Control(pipeline.clone())),
        footage_root: dir.path().join("footage"),
        clock: clock.clone(),
        custody,
        onvif: Arc::new(roeh_api::onvif::OnvifSettings::default()),
        analytics: None,
        auth: Arc::new(
            roeh_api::auth::AuthState::new(roeh_auth::HashParams::INSECURE_FAST, false).unwrap(),
        ),
        console: Arc::default(),
        metrics: roeh_api::metrics::Metrics::new(),
        looks: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = tokio_util_stop();
    let api = tokio::spawn(roeh_api::serve(listener, state, stop.1));
    // The first admin, made with the setup token, signs in for a bearer token.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{base}/api/auth/setup"))
        .json(&serde_json::json!({"token": setup, "username": "chief",
            "password": "a-long-test-passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({"username": "chief",
            "password": "a-long-test-passphrase", "kind": "api"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();

    wait("streaming", 30, async || {
        (pipeline.health(cam.id)?.state == StreamState::Streaming).then_some(())
    })
    .await;
    let t0 = clock.wall();
    // Three segments of 2 s.
    let segs = wait("three segments", 30, async || {
        let s = store
            .segments_in_range(cam.id, roeh_domain::WallTime(0), clock.wall())
            .await
            .ok()?;
        (s.len() >= 3).then_some(s)
    })
    .await;
    assert!(
        segs.iter()
            .all(|s| s.codec == roeh_domain::VideoCodec::H265)
    );
    assert_eq!((segs[0].width, segs[0].height), (768, 576));
    let end = clock.wall();
    let url = format!(
        "{base}/api/cameras/{}/mp4?start={}&end={}",
        cam.id, t0.0, end.0
    );
    let anonymous = reqwest::get(&url).await.unwrap();
    assert_eq!(anonymous.status(), 401, "footage needs a signed-in user");
    let bytes = http
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mp4 = dir.path().join("clip.mp4");
    std::fs::write(&mp4, &bytes).unwrap();
    let p = roeh_testkit::probe(&mp4).unwrap();
    assert_eq!(p.codec, "hevc");
    assert_eq!((p.width, p.height), (768, 576));
    assert!(p.frames >= 10, "{p:?}");
    assert_eq!(roeh_testkit::decode_errors(&mp4).unwrap(), "");

    assert!(
        pipeline.shutdown(Duration::from_secs(10)).await,
        "shutdown deadline"
    );
    stop.0.send(()).unwrap();
    api.await.unwrap().unwrap();
    let all = store.chain_segments(cam.id, 1, u32::MAX).await.unwrap();
    roeh_evidence::verify_chain(&all).unwrap();
    let gaps = store.open_gaps(Some(cam.id)).await.unwrap();
    assert!(
        gaps.iter()
            .any(|g| g.reason == roeh_domain::GapReason::Shutdown),
        "{gaps:?}"
    );
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap();
}

fn tokio_util_stop() -> (
    tokio::sync::oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}
