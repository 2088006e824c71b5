//! Wiring of `serve` and `demo`: store, pipeline, HTTP API, signals and the shutdown order of
//! `docs/design/0004-shutdown-order.md`.

use crate::config::{self, Config, secs};
use anyhow::Context;
use roeh_domain::{
    Camera, CameraId, CameraUrl, Clock, OffsetClock, StreamHealth, StreamState, SystemClock,
};
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
        // ONNX Runtime's INFO lines (hundreds per model load) only when asked for.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("info,sqlx=warn,retina=warn,ort=warn")
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("ROEH_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Opens the database named by the configuration (SQLite in the data directory by default),
/// installs the node (`[server] node`: cameras added through this store are that node's), the
/// credential key (`<data_dir>/keys/credentials.key`, created on first use) and
/// encrypts any camera password still stored in plain text.
pub async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&cfg.server.data_dir)
        .with_context(|| format!("creating data directory {}", cfg.server.data_dir.display()))?;
    let url = if cfg.server.database_url.is_empty() {
        let p = cfg.server.data_dir.join("roeh.db");
        format!("sqlite://{}?mode=rwc", p.display())
    } else {
        cfg.server.database_url.clone()
    };
    let store = Store::open_with(&url, &cfg.database.pool).await?;
    if let Some(node) = &cfg.server.node {
        store.set_node(node)?;
    }
    // Camera passwords are encrypted at rest under the site's credential key.
    let key_path = cfg.server.data_dir.join("keys").join("credentials.key");
    let key = roeh_store::CredentialKey::load_or_create(&key_path)
        .with_context(|| format!("loading the credential key {}", key_path.display()))?;
    store.set_credential_key(key)?;
    store.encrypt_legacy_passwords().await?;
    Ok(store)
}

/// The site's push signing key, `<data_dir>/keys/push/<key id>.key` (PKCS#8, 0600), created at
/// first start. Units are provisioned with its public key; it outlives restarts so a unit's
/// client keeps trusting the same key.
pub fn push_signer(data_dir: &std::path::Path) -> anyhow::Result<roeh_alerts::push::PushSigner> {
    let dir = data_dir.join("keys").join("push");
    let mut files = Vec::new();
    if dir.is_dir() {
        for e in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "key") {
                files.push(p);
            }
        }
    }
    let key = match files.as_slice() {
        [] => roeh_evidence::keys::SiteKey::write_new(&dir)
            .with_context(|| format!("creating the push key in {}", dir.display()))?,
        [one] => roeh_evidence::keys::SiteKey::load(one)
            .with_context(|| format!("loading the push key {}", one.display()))?,
        _ => anyhow::bail!(
            "{} holds more than one push key; keep only the one units are provisioned with",
            dir.display()
        ),
    };
    let pem = key.to_pkcs8_pem()?;
    Ok(roeh_alerts::push::PushSigner::from_pkcs8_pem(&pem)?)
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
        database_write_timeout: secs("database_write_timeout_secs", r.database_write_timeout_secs)?,
        database_retry: secs("database_retry_secs", r.database_retry_secs)?,
        database_backlog_frames: r.database_backlog_frames,
        ..PipelineConfig::default()
    })
}

/// Makes the store's cameras match the `[[camera]]` entries by name: adds new ones, updates
/// the URL, login and transport of existing ones. Cameras added by other means are left alone.
/// Every `[[camera]]` is this process's node's (`[server] node`): one of another node moves
/// here.
async fn sync_config_cameras(store: &Store, cfg: &Config, clock: &dyn Clock) -> anyhow::Result<()> {
    let existing = store.list_cameras().await?;
    let nodes: std::collections::HashMap<CameraId, Option<String>> =
        store.camera_nodes().await?.into_iter().collect();
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
                if let Some(before) = nodes.get(&c.id)
                    && before.as_deref() != store.node()
                {
                    store.claim_camera(c.id).await?;
                    tracing::warn!(camera = %c.name, from = ?before, to = ?store.node(),
                        "A configured camera moves to this node.");
                }
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
struct Control {
    pipeline: Pipeline,
    live: Arc<roeh_ingest::LiveHub>,
    /// Sub streams for live grids, opened while watched.
    ondemand: roeh_ingest::OnDemand,
}

impl roeh_api::CameraControl for Control {
    fn health(&self, id: CameraId) -> Option<StreamHealth> {
        self.pipeline.health(id)
    }

    fn start_camera(&self, camera: Camera) {
        self.pipeline.start_camera(camera);
    }

    fn stop_camera(&self, id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.pipeline.stop_camera(id).await;
            // Its viewers see the end of the stream.
            self.live.remove(id);
            self.ondemand.stop(id);
        })
    }

    fn live(&self, id: CameraId) -> Option<roeh_api::live::LiveFeed> {
        let start = self.live.subscribe(id);
        Some(roeh_api::live::LiveFeed {
            gop: start.gop,
            rx: start.rx,
            keep: None,
        })
    }

    fn live_sub(&self, camera: &Camera) -> Option<roeh_api::live::LiveFeed> {
        let (start, viewer) = self.ondemand.watch(camera.clone());
        Some(roeh_api::live::LiveFeed {
            gop: start.gop,
            rx: start.rx,
            keep: Some(Box::new(viewer)),
        })
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

/// Opens the evidence custody service of the configured data directory (creating the site key on
/// first start).
pub async fn open_custody(
    cfg: &Config,
    store: &Store,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<roeh_custody::Custody>> {
    let d = &cfg.server.data_dir;
    let ccfg = roeh_custody::CustodyConfig {
        keys_dir: d.join("keys"),
        exports_dir: d.join("exports"),
        footage_root: d.join("footage"),
        origin: cfg.evidence.origin.clone(),
        checkpoint_every: secs("checkpoint_secs", cfg.evidence.checkpoint_secs)?,
    };
    let tsa = match &cfg.evidence.tsa_url {
        Some(url) => Some(roeh_custody::TsaConfig {
            url: url.clone(),
            timeout: secs("evidence.tsa_timeout_secs", cfg.evidence.tsa_timeout_secs)?,
        }),
        None => None,
    };
    Ok(roeh_custody::Custody::open_with_tsa(store.clone(), clock, ccfg, tsa).await?)
}

/// Loads the detection model and starts analytics, unless `[analytics]` disables it (then ONNX
/// Runtime is never loaded).
///
/// A missing ONNX Runtime library stops start-up with an error naming the setup command. A
/// model that cannot be used (manifest missing or invalid, file missing, sha256 mismatch,
/// unexpected inputs or outputs) is refused with an error in the log naming the problem, and
/// roeh runs on without analytics: recording and the API are not held hostage by a bad model.
pub async fn start_analytics(
    cfg: &Config,
    store: &Store,
    clock: Arc<dyn Clock>,
    metrics: Arc<roeh_api::metrics::Metrics>,
) -> anyhow::Result<Option<Arc<roeh_analytics::Analytics>>> {
    let a = &cfg.analytics;
    if !a.enabled {
        tracing::info!("Analytics is disabled in the configuration.");
        return Ok(None);
    }
    let runtime = roeh_detect::OrtRuntime::from_env().map_err(|e| {
        anyhow::anyhow!(
            "analytics: {} (or set analytics.enabled = false in the configuration)",
            e.chain()
        )
    })?;
    let detector = match load_detector(a, runtime).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "Analytics is off: the detection model was refused. Recording continues.");
            return Ok(None);
        }
    };
    let mut acfg = roeh_analytics::AnalyticsConfig::new(cfg.server.data_dir.join("snapshots"));
    acfg.max_batch = a.max_batch;
    acfg.max_wait = Duration::from_millis(a.max_wait_ms);
    acfg.default_fps = a.default_fps;
    acfg.pre_roll = secs("analytics.pre_secs", a.pre_secs)?;
    acfg.post_roll = secs("analytics.post_secs", a.post_secs)?;
    acfg.metrics = metrics;
    let analytics =
        roeh_analytics::Analytics::start(store.clone(), clock, Arc::new(detector), acfg)
            .await
            .map_err(|e| anyhow::anyhow!("analytics: {}", e.chain()))?;
    tracing::info!(model = %analytics.model_id(), "Analytics started.");
    Ok(Some(analytics))
}

/// The configured model, checked now (sha256, inputs and outputs, by loading it once), and
/// loaded again when a camera's analysis first sends it a frame: a node with nothing armed does
/// not hold the model's sessions in memory.
async fn load_detector(
    a: &config::AnalyticsConfig,
    runtime: roeh_detect::OrtRuntime,
) -> anyhow::Result<roeh_detect::LazyDetector> {
    let manifest_path = a.manifest_path()?;
    let manifest = roeh_detect::ModelManifest::load(&manifest_path)
        .map_err(|e| anyhow::anyhow!("analytics: {}", e.chain()))?;
    let options = roeh_detect::OrtDetectorOptions {
        intra_threads: a.threads,
        max_batch: a.max_batch,
        execution: match a.execution {
            config::Execution::Cpu => roeh_detect::Execution::Cpu,
            config::Execution::Cuda => roeh_detect::Execution::Cuda { device_id: 0 },
        },
        ..roeh_detect::OrtDetectorOptions::default()
    };
    let model = a.model.clone();
    let load = move || {
        roeh_detect::OrtDetector::load(&runtime, &manifest, &model, &options)
            .map(|d| Arc::new(d) as Arc<dyn roeh_detect::Detector>)
    };
    let checked = tokio::task::spawn_blocking(move || load().map(|d| (d, load)))
        .await?
        .map_err(|e| anyhow::anyhow!("analytics: {}", e.chain()))?;
    let (detector, load) = checked;
    let model_id = roeh_detect::Detector::model_id(detector.as_ref()).to_owned();
    drop(detector);
    tracing::info!(model = %model_id, "The detection model is checked; it is loaded when a camera's analysis first needs it.");
    Ok(roeh_detect::LazyDetector::new(model_id, Box::new(load)))
}

/// JPEG quality of the detector's picture sent to the zone editor.
const DETECTOR_FRAME_QUALITY: u8 = 75;

/// The API's view of analytics.
struct AnalyticsApi(Arc<roeh_analytics::Analytics>);

impl roeh_api::detection::AnalyticsControl for AnalyticsApi {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move { self.0.reload().await.map_err(|e| e.chain()) })
    }

    fn stats(&self) -> serde_json::Value {
        serde_json::to_value(self.0.stats()).unwrap_or(serde_json::Value::Null)
    }

    fn snapshot_dir(&self) -> PathBuf {
        self.0.snapshot_dir().to_path_buf()
    }

    fn default_fps(&self) -> f64 {
        self.0.default_fps()
    }

    fn watch(
        &self,
        camera: roeh_domain::CameraId,
        frame: bool,
    ) -> Pin<
        Box<dyn Future<Output = Result<roeh_api::detection::DetectionsView, String>> + Send + '_>,
    > {
        Box::pin(async move {
            let how_long = std::time::Duration::from_secs(roeh_api::detection::WATCH_SECS);
            let seen = self
                .0
                .watch(camera, how_long)
                .await
                .map_err(|e| e.chain())?;
            let last = seen.last;
            let picture = match (&last, frame) {
                (Some(f), true) => {
                    let (rgb, w, h) = (f.rgb.clone(), f.width, f.height);
                    let jpeg = tokio::task::spawn_blocking(move || {
                        roeh_analytics::snapshot::render_jpeg(
                            &rgb,
                            w,
                            h,
                            &roeh_analytics::snapshot::Overlay::default(),
                            DETECTOR_FRAME_QUALITY,
                        )
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.chain())?;
                    Some(format!(
                        "data:image/jpeg;base64,{}",
                        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, jpeg)
                    ))
                }
                _ => None,
            };
            Ok(roeh_api::detection::DetectionsView {
                frame: picture,
                analysis_on: seen.analysis_on,
                decoding: seen.decoding,
                at: last.as_ref().map(|f| f.at.to_rfc3339()),
                width: last.as_ref().map(|f| f.width),
                height: last.as_ref().map(|f| f.height),
                model_id: self.0.model_id().to_string(),
                objects: last
                    .map(|f| f.objects)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|o| roeh_api::detection::DetectedView {
                        label: o.label,
                        score: o.score,
                        bbox: o.bbox,
                    })
                    .collect(),
            })
        })
    }
}

/// Runs the recorder and the API until `stop` resolves, then shuts down in order. The API
/// speaks HTTPS with `tls`, plain HTTP without.
async fn run_until(
    cfg: &Config,
    store: Store,
    clock: Arc<dyn Clock>,
    listener: tokio::net::TcpListener,
    tls: Option<Arc<roeh_api::tls::rustls::ServerConfig>>,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut pcfg = pipeline_config(cfg)?;
    // One set of metrics for the process: the pipeline, the analytics and the API record into it.
    let metrics = roeh_api::metrics::Metrics::new();
    pcfg.metrics = metrics.clone();
    let footage_root = pcfg.footage_root.clone();
    // Everything that can refuse to start (keys, certificates, settings) is read before the
    // recorder and the analytics start: a failure here leaves no camera recording, no segment
    // unsealed and no analytics thread that would keep the process from exiting.
    let custody = open_custody(cfg, &store, clock.clone()).await?;
    pcfg.holds = custody.holds();
    let push_signer = push_signer(&cfg.server.data_dir)?;
    // Served over HTTPS, session cookies are always `Secure`.
    let secure_cookie = cfg.server.secure_cookie || tls.is_some();
    let auth = roeh_api::auth::AuthState::new(roeh_auth::HashParams::default(), secure_cookie)?;
    // The worker's settings also check targets when subscriptions are created (its layer).
    let webhooks = roeh_api::webhooks::WebhookWorker::new(
        store.clone(),
        clock.clone(),
        cfg.webhooks.settings()?,
    )
    .map_err(|e| anyhow::anyhow!("starting the webhook worker: {e:?}"))?;
    // No default credentials: without users, a one-time setup token creates the first admin.
    if let Some(token) = roeh_api::auth::prepare_setup(&store, clock.wall())
        .await
        .map_err(|e| anyhow::anyhow!("preparing the first-admin setup: {e:?}"))?
    {
        eprintln!(
            "roeh: no users yet. Create the first admin with the one-time setup token {token} \
             (in the console's first-admin page, or POST /api/auth/setup with {{\"token\", \
             \"username\", \"password\"}}); it is replaced at every start until used."
        );
    }
    let analytics = start_analytics(cfg, &store, clock.clone(), metrics.clone()).await?;
    // Live viewers and the analytics both see what the recorder's queue accepted.
    let live = Arc::new(roeh_ingest::LiveHub::new());
    let mut taps: Vec<Arc<dyn roeh_ingest::FrameTap>> = vec![live.clone()];
    if let Some(a) = &analytics {
        taps.push(a.clone());
    }
    pcfg.ingest.tap = Some(Arc::new(roeh_ingest::Taps(taps)));
    let opener = Arc::new(roeh_ingest::CameraOpener::new());
    // Sub streams for the live grids: the same ingest settings, no tap (not recorded or
    // analysed), closed 15 s after their last viewer.
    let ondemand = roeh_ingest::OnDemand::new(
        opener.clone(),
        clock.clone(),
        pcfg.ingest.clone(),
        Duration::from_secs(15),
    );
    let pipeline = Pipeline::start(store.clone(), clock.clone(), opener, pcfg).await?;
    let api_stop = CancellationToken::new();
    let checkpointer = custody.spawn_checkpointer(api_stop.clone());
    let alerts = roeh_api::alerts::AlertsService::with_signer(
        store.clone(),
        clock.clone(),
        roeh_api::alerts::AlertsSettings {
            shifts: cfg.alerts.shifts.clone(),
            push_ttl: cfg.alerts.push_ttl,
            ..Default::default()
        },
        push_signer,
    );
    let alerts_task = alerts.clone().spawn(api_stop.clone().cancelled_owned());
    let webhooks_task = webhooks.clone().spawn(api_stop.clone().cancelled_owned());
    // MQTT: woken by every committed alert event the push hub carries (a lagging receiver
    // wakes it too: it reads the store, not the messages).
    let mqtt_task = match cfg.mqtt.settings()? {
        None => None,
        Some(settings) => {
            let publisher = roeh_outbound::mqtt::MqttPublisher::new(store.clone(), settings)
                .map_err(|e| anyhow::anyhow!("starting the MQTT publisher: {}", e.message()))?;
            let mut pushed = alerts.hub().subscribe();
            let woken = publisher.clone();
            let stopped = api_stop.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stopped.cancelled() => break,
                        r = pushed.recv() => match r {
                            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                                woken.wake();
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        },
                    }
                }
            });
            // Camera states: every change the pipeline announces; after a lag, all anew.
            let mut changes = pipeline.state_changes();
            let (cams, pipe, stopped) = (publisher.clone(), pipeline.clone(), api_stop.clone());
            let names = store.clone();
            tokio::spawn(async move {
                let name_of = |id: CameraId| {
                    let names = names.clone();
                    async move { names.get_camera(id).await.ok().flatten().map(|c| c.name) }
                };
                let mut resync = true;
                loop {
                    if resync {
                        for (id, state) in pipe.states() {
                            if let Some(name) = name_of(id).await {
                                cams.set_camera_state(&name, state == StreamState::Streaming);
                            }
                        }
                        resync = false;
                    }
                    tokio::select! {
                        () = stopped.cancelled() => break,
                        r = changes.recv() => match r {
                            Ok(c) => {
                                if let Some(name) = name_of(c.camera).await {
                                    cams.set_camera_state(&name, c.state == StreamState::Streaming);
                                }
                            }
                            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => resync = true,
                            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        },
                    }
                }
            });
            Some(publisher.spawn(api_stop.clone().cancelled_owned()))
        }
    };
    // The weekly report, made at its time for the week before (a missed one at start).
    if let Some(schedule) = cfg.reports.weekly.clone() {
        let dir = roeh_api::weekly::reports_dir(&footage_root);
        let (store, shifts, clock, stopped) = (
            store.clone(),
            cfg.alerts.shifts.clone(),
            clock.clone(),
            api_stop.clone(),
        );
        tokio::spawn(async move {
            let tz = shifts.time_zone();
            let source = |now| roeh_api::stats::Source {
                store: store.clone(),
                zone: tz,
                now,
                shifts: shifts.clone(),
            };
            let make = async |week: String| {
                let src = source(clock.wall());
                match roeh_api::weekly::make_weekly(&src, &dir, &week, &schedule.langs).await {
                    Ok(files) if !files.is_empty() => {
                        tracing::info!(week, files = files.len(), "weekly report made");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(week, error = e.message(), "weekly report failed"),
                }
            };
            make(schedule.last_due(tz, clock.wall()).1).await;
            loop {
                let now = clock.wall();
                let (due, week) = schedule.next_due(tz, now);
                let wait =
                    std::time::Duration::from_micros(due.0.saturating_sub(now.0).max(0) as u64);
                tokio::select! {
                    () = stopped.cancelled() => break,
                    () = tokio::time::sleep(wait) => make(week).await,
                }
            }
        });
    }
    let state = roeh_api::AppState {
        store: store.clone(),
        alerts,
        control: Arc::new(Control {
            pipeline: pipeline.clone(),
            live,
            ondemand,
        }),
        footage_root,
        clock,
        custody: custody.clone(),
        onvif: Arc::new(cfg.onvif.settings()),
        analytics: analytics
            .clone()
            .map(|a| Arc::new(AnalyticsApi(a)) as Arc<dyn roeh_api::detection::AnalyticsControl>),
        auth: Arc::new(auth),
        metrics,
        console: Arc::new(roeh_api::console::ConsoleSettings {
            map_tiles: cfg.console.map_tiles.clone(),
        }),
        looks: Arc::default(),
    };
    let app = roeh_api::router(state).layer(roeh_api::webhooks::layer(&webhooks));
    let api = match tls {
        Some(tls) => tokio::spawn(roeh_api::serve_app_tls(
            listener,
            tls,
            app,
            api_stop.clone().cancelled_owned(),
        )),
        None => tokio::spawn(roeh_api::serve_app(
            listener,
            app,
            api_stop.clone().cancelled_owned(),
        )),
    };
    stop.await;
    tracing::info!("Shutting down: sealing segments.");
    let grace = secs("shutdown_grace_secs", cfg.server.shutdown_grace_secs)?;
    let clean = pipeline.shutdown(grace).await;
    if let Some(a) = &analytics {
        // Ingest has stopped: nothing more is offered; open incidents are closed.
        a.shutdown(grace).await;
    }
    api_stop.cancel();
    let _ = checkpointer.await;
    let _ = alerts_task.await;
    let _ = webhooks_task.await;
    if let Some(t) = mqtt_task {
        let _ = t.await;
    }
    // The last segments sealed by the shutdown get a checkpoint before the store closes.
    if let Err(e) = custody.checkpoint().await {
        tracing::warn!(error = %e.chain(), "Could not sign the final checkpoint.");
    }
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
    let clock: Arc<dyn Clock> = if cfg.server.clock_offset_secs == 0.0 {
        Arc::new(SystemClock::new())
    } else {
        tracing::warn!(
            offset_secs = cfg.server.clock_offset_secs,
            "The node's clock is shifted from the system's ([server] clock_offset_secs): every \
             time it writes is shifted too."
        );
        Arc::new(OffsetClock::new(
            (cfg.server.clock_offset_secs * 1e6) as i64,
        ))
    };
    let store = open_store(&cfg).await?;
    sync_config_cameras(&store, &cfg, clock.as_ref()).await?;
    if !cfg.server.listen.ip().is_loopback() && !store.has_admin().await? {
        anyhow::bail!(
            "no admin exists yet: start once with [server] listen on a loopback address \
             (e.g. 127.0.0.1:8080), create the first admin with the printed setup token, then \
             listen on {}",
            cfg.server.listen
        );
    }
    // Beyond loopback, plain HTTP would carry passwords, tokens and footage in clear.
    let tls = match cfg.server.tls() {
        Some((cert, key)) => Some(roeh_api::tls::server_config(cert, key)?),
        None if !cfg.server.listen.ip().is_loopback() => anyhow::bail!(
            "refusing to serve plain HTTP on {}: set [server] tls_cert and tls_key (PEM \
             certificate chain and private key), or listen on a loopback address behind a \
             TLS-terminating proxy",
            cfg.server.listen
        ),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| format!("binding {}", cfg.server.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let addr = listener.local_addr()?;
    eprintln!("roeh: API at {scheme}://{addr}/api/health");
    eprintln!("roeh: console at {scheme}://{addr}/");
    run_until(&cfg, store, clock, listener, tls, first_signal()).await
}

/// The demo's control room, seeded at its first start so that a new user sees alerts without
/// writing any JSON: the hotspot "Demo walkway" over `camera` (the footage's walkway, where people
/// walk all the time), armed always, with a high-severity intrusion rule on its zone. Nothing is
/// seeded once any hotspot exists (the user's own changes are kept). Returns whether it seeded.
async fn seed_demo_hotspot(
    store: &Store,
    camera: CameraId,
    now: roeh_domain::WallTime,
) -> anyhow::Result<bool> {
    if !store.list_hotspots().await?.is_empty() {
        return Ok(false);
    }
    let id = roeh_rules::HotspotId::new_random();
    let hotspot = roeh_rules::Hotspot::parse_json(
        &serde_json::json!({
            "id": id.to_string(), "name": "Demo walkway", "lat": 32.0853, "lon": 34.7818,
            "priority": 2, "cameras": [camera.to_string()],
            "zones": [{"id": "walkway", "camera": camera.to_string(), "name": "Walkway",
                       "polygon": [[0.0, 0.3], [1.0, 0.2], [1.0, 0.8], [0.0, 0.5]]}],
            "schedule": {"tz": "Asia/Jerusalem", "always": true}
        })
        .to_string(),
    )
    .context("the demo hotspot")?;
    hotspot.validate().context("the demo hotspot")?;
    let rule = roeh_rules::Rule::parse_json(
        &serde_json::json!({
            "id": roeh_rules::RuleId::new_random().to_string(), "hotspot": id.to_string(),
            "name": "People on the walkway", "severity": "high", "kind": "intrusion",
            "zone": "walkway"
        })
        .to_string(),
    )
    .context("the demo rule")?;
    rule.validate_for(&hotspot).context("the demo rule")?;
    store
        .insert_hotspot(id.0, &hotspot.name, &serde_json::to_string(&hotspot)?, now)
        .await?;
    store
        .insert_rule(&roeh_store::RuleRow {
            id: rule.id.0,
            hotspot_id: id.0,
            document: serde_json::to_string(&rule)?,
            enabled: rule.enabled,
            created_at: now,
            updated_at: now,
        })
        .await?;
    Ok(true)
}

/// The demo's patrol car: registered at the first start (a joint patrol, available, near the
/// demo hotspot), with a fresh device token at every start (shown once, in the terminal).
async fn demo_unit_token(store: &Store, now: roeh_domain::WallTime) -> anyhow::Result<String> {
    const NAME: &str = "demo-car";
    let unit = match store
        .list_units()
        .await?
        .into_iter()
        .find(|u| u.name == NAME)
    {
        Some(u) => u,
        None => {
            // The car signs in with its device token only: its password is random and unused.
            let (unusable, _) = roeh_auth::new_token();
            let hasher = roeh_auth::PasswordHasher::new(roeh_auth::HashParams::default())?;
            let user = store
                .create_user(
                    &roeh_store::NewUser {
                        username: NAME.into(),
                        password_hash: hasher.hash(unusable.expose())?,
                        role: roeh_auth::Role::Unit.as_str().into(),
                        scope: roeh_auth::Scope::unrestricted().to_json()?,
                    },
                    now,
                )
                .await?;
            let id = uuid::Uuid::new_v4();
            store.create_unit(id, NAME, "joint", user, now).await?;
            store.set_unit_position(id, 32.0861, 34.7826, now).await?;
            store.set_unit_status(id, "available", now).await?;
            store
                .get_unit(id)
                .await?
                .context("the demo patrol car vanished")?
        }
    };
    let (text, hash) = roeh_auth::new_token();
    store
        .create_token(&roeh_store::NewToken {
            hash,
            user_id: unit.user_id,
            kind: roeh_store::TokenKind::Api,
            label: "demo device".into(),
            created_at: now,
            expires_at: now.plus(Duration::from_secs(7 * 24 * 3600)),
        })
        .await?;
    Ok(text.expose().to_string())
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
    // The demo console is plain HTTP on loopback.
    cfg.server.secure_cookie = false;
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
    let first = store
        .list_cameras()
        .await?
        .into_iter()
        .find(|c| c.name == "Demo camera 1")
        .map(|c| c.id);
    if let Some(camera) = first
        && seed_demo_hotspot(&store, camera, clock.wall()).await?
    {
        println!(
            "roeh demo: seeded the hotspot \"Demo walkway\" on Demo camera 1 with an intrusion \
             rule: people walk there all the time, so alerts reach the console within a minute"
        );
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
    println!("roeh demo: console at http://{addr}/");
    match demo_unit_token(&store, clock.wall()).await {
        Ok(token) => println!(
            "roeh demo: the patrol car \"demo-car\" signs in on a phone (or a second browser \
             window) at http://{addr}/#/device/{token} (a new link at every start)"
        ),
        Err(e) => eprintln!("roeh demo: could not prepare the demo patrol car: {e:#}"),
    }
    println!(
        "roeh demo: at the first start, open the console and create the first admin with the \
         one-time setup token printed below; then sign in there"
    );
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
    let result = run_until(&cfg, store, clock, listener, None, stop).await;
    tokio::task::spawn_blocking(move || server.stop()).await?;
    result
}
