//! Wiring of `serve` and `demo`: store, pipeline, HTTP API, signals and the shutdown order of
//! `docs/design/0004-shutdown-order.md`.

use crate::config::{self, Config, secs};
use anyhow::Context;
use roeh_domain::{Camera, CameraId, CameraUrl, Clock, StreamHealth, SystemClock};
use roeh_pipeline::{Pipeline, PipelineConfig};
use roeh_store::Store;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Logs to stderr; `ROEH_LOG_FORMAT=json` for JSON lines (fields escaped), `RUST_LOG` filters.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,retina=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("ROEH_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the database named by the configuration (SQLite in the data directory by default).
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("creating data directory {}", cfg.server.data_dir.display()))?;
    let url = if cfg.server.database_url.is_empty() {
        let p = cfg.server.data_dir.join("roeh.db");
        format!("sqlite://{}?mode=rwc", p.display())
    } else {
        cfg.server.database_url.clone()
    };
    Ok(Store::open(&url).await?)
}

fn pipeline_config(cfg: &Config) -> anyhow::Result<PipelineConfig> {
    let i = &cfg.ingest;
    let ingest = roeh_ingest::IngestOptions {
        connect_timeout: secs("connect_timeout_secs", i.connect_timeout_secs)?,
        stall_timeout: secs("stall_timeout_secs", i.stall_timeout_secs)?,
        backoff_initial: secs("backoff_initial_secs", i.backoff_initial_secs)?,
        backoff_max: secs("backoff_max_secs", i.backoff_max_secs)?,
        backpressure_timeout: secs("backpressure_timeout_secs", i.backpressure_timeout_secs)?,
        max_pts_jump: secs("max_pts_jump_secs", i.max_pts_jump_secs)?,
        ..roeh_ingest::IngestOptions::default()
    };
    let r = &cfg.recording;
    Ok(PipelineConfig {
        footage_root: cfg.server.data_dir.join("footage"),
        segment_duration: secs("segment_secs", r.segment_secs)?,
        commit_interval: secs("commit_interval_secs", r.commit_interval_secs)?,
        queue_frames: r.queue_frames,
        ingest,
        retention_interval: secs("retention_interval_secs", r.retention_interval_secs)?,
        min_free_bytes: r.min_free_bytes,
        default_retention: config::retention(r.retention_max_age_days, r.retention_max_bytes),
        ..PipelineConfig::default()
    })
}

/// Makes the store's cameras match the `[[camera]]` entries by name: adds new ones, updates
/// the URL, login and transport of existing ones. Cameras added by other means are left alone.
async fn sync_config_cameras(store: &Store, cfg: &Config, clock: &dyn Clock) -> anyhow::Result<()> {
    let existing = store.list_cameras().await?;
    for cc in &cfg.cameras {
        let url = CameraUrl::parse_local_source(&cc.url)?;
        let credentials = cc.credentials()?;
        let retention = cc.retention(&cfg.recording);
        match existing.iter().find(|c| c.name == cc.name) {
            Some(c) => {
                let mut c = c.clone();
                c.url = url;
                c.credentials = credentials;
                c.transport = cc.transport;
                c.retention = retention;
                store.update_camera(&c).await?;
            }
            None => {
                let cam = Camera {
                    id: CameraId::new_random(),
                    name: cc.name.clone(),
                    url,
                    credentials,
                    transport: cc.transport,
                    enabled: true,
                    retention,
                };
                store.insert_camera(&cam, clock.wall()).await?;
            }
        }
    }
    Ok(())
}

/// The API's view of the pipeline.
struct Control(Pipeline);

impl roeh_api::CameraControl for Control {
    fn health(&self, id: CameraId) -> Option<StreamHealth> {
        self.0.health(id)
    }

    fn start_camera(&self, camera: Camera) {
        self.0.start_camera(camera);
    }

    fn stop_camera(&self, id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.0.stop_camera(id))
    }
}

/// Resolves on the first SIGINT/SIGTERM; a second one exits the process at once.
async fn first_signal() {
    wait_signal().await;
    tokio::spawn(async {
        wait_signal().await;
        eprintln!("roeh: second signal, exiting now");
        std::process::exit(130);
    });
}

async fn wait_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Runs the recorder and the API until `stop` resolves, then shuts down in order.
async fn run_until(
    cfg: &Config,
    store: Store,
    clock: Arc<dyn Clock>,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let pcfg = pipeline_config(cfg)?;
    let footage_root = pcfg.footage_root.clone();
    let opener = Arc::new(roeh_ingest::CameraOpener::new());
    let pipeline = Pipeline::start(store.clone(), clock.clone(), opener, pcfg).await?;
    let api_stop = CancellationToken::new();
    let state = roeh_api::AppState {
        store: store.clone(),
        control: Arc::new(Control(pipeline.clone())),
        footage_root,
        clock,
    };
    let api = tokio::spawn(roeh_api::serve(
        listener,
        state,
        api_stop.clone().cancelled_owned(),
    ));
    stop.await;
    tracing::info!("Shutting down: sealing segments.");
    let grace = secs("shutdown_grace_secs", cfg.server.shutdown_grace_secs)?;
    let clean = pipeline.shutdown(grace).await;
    api_stop.cancel();
    match tokio::time::timeout(Duration::from_secs(5), api).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server ended with an error."),
        Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server task failed."),
        Err(_) => tracing::warn!("HTTP server did not stop in time."),
    }
    store.close().await;
    if !clean {
        anyhow::bail!("shutdown deadline passed before every camera was sealed");
    }
    tracing::info!("Stopped.");
    Ok(())
}

/// `roeh serve`.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let store = open_store(&cfg).await?;
    sync_config_cameras(&store, &cfg, clock.as_ref()).await?;
    if !cfg.server.listen.ip().is_loopback() {
        tracing::warn!(listen = %cfg.server.listen, "The API has no authentication yet and listens beyond loopback.");
    }
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("binding {}", cfg.server.listen))?;
    eprintln!("roeh: API at http://{}/api/health", listener.local_addr()?);
    run_until(&cfg, store, clock, listener, first_signal()).await
}

/// Options of `roeh demo`.
#[derive(Debug)]
pub struct DemoArgs {
    pub data_dir: PathBuf,
    pub cameras: usize,
    pub port: u16,
    pub footage: Option<PathBuf>,
    pub segment_secs: f64,
    pub duration_secs: f64,
}

/// `roeh demo`: bundled test cameras on a local RTSP server, recorded like real ones.
pub async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    if args.cameras == 0 || args.cameras > roeh_testcam::MAX_CAMERAS {
        anyhow::bail!(
            "--cameras must be between 1 and {}",
            roeh_testcam::MAX_CAMERAS
        );
    }
    let footage = args
        .footage
        .clone()
        .unwrap_or_else(|| roeh_testcam::default_footage_dir().join("vtest_h264.mp4"));
    let n = args.cameras;
    let server = tokio::task::spawn_blocking(move || {
        roeh_testcam::TestCamServer::start(roeh_testcam::TestCamConfig::new(footage, n))
    })
    .await??;
    let mut cfg = Config::default();
    cfg.server.data_dir = args.data_dir.clone();
    cfg.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], args.port));
    cfg.recording.segment_secs = args.segment_secs;
    cfg.recording.min_free_bytes = 256 << 20;
    // Demo footage is kept for a day.
    cfg.recording.retention_max_age_days = 1.0;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let store = open_store(&cfg).await?;
    // The test server picks a new port each run: point the demo cameras at it.
    let existing = store.list_cameras().await?;
    for (i, url) in server.urls().iter().enumerate() {
        let name = format!("Demo camera {}", i + 1);
        let url = CameraUrl::parse(url)?;
        match existing.iter().find(|c| c.name == name) {
            Some(c) => {
                let mut c = c.clone();
                c.url = url;
                c.enabled = true;
                store.update_camera(&c).await?;
            }
            None => {
                let cam = Camera {
                    id: CameraId::new_random(),
                    name,
                    url,
                    credentials: None,
                    transport: Default::default(),
                    enabled: true,
                    retention: config::retention(1.0, 0),
                };
                store.insert_camera(&cam, clock.wall()).await?;
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("binding {} (try --port 0)", cfg.server.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "roeh demo: {n} test cameras on rtsp://127.0.0.1:{}/cam0..",
        server.port()
    );
    println!("roeh demo: recording into {}", args.data_dir.display());
    println!("roeh demo: API at http://{addr}/api/cameras");
    let duration = args.duration_secs;
    let stop = async move {
        if duration > 0.0 {
            tokio::select! {
                _ = first_signal() => {}
                _ = tokio::time::sleep(Duration::from_secs_f64(duration)) => {}
            }
        } else {
            first_signal().await;
        }
    };
    let result = run_until(&cfg, store, clock, listener, stop).await;
    tokio::task::spawn_blocking(move || server.stop()).await?;
    result
}
