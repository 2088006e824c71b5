//! Analytics of roeh: from the ingest tap to stored incidents.
//!
//! ```text
//! ingest ──FrameTap::offer──▶ per-camera decode stage ──▶ frame queue (all cameras, bounded,
//!   (non-blocking)            (thread; drops to the        DropNewest, counted)
//!                              next key frame when full)        │
//!                                                               ▼
//!                 rule task ◀──Analysed (bounded, Block)── batcher: up to max_batch frames or
//!   (engine: observe, tick every second,                    max_wait, detect_batch on a
//!    incidents: rows, snapshots, evidence)                  blocking thread
//! ```
//!
//! Invariants:
//! - the recording path is never slowed: [`Analytics`] as a [`FrameTap`] only ever `try_send`s,
//!   and every stage after it drops (and counts) rather than wait on the tap;
//! - a camera is decoded only while its analysis is on (per camera, stored, default on) and an
//!   enabled rule on it is armed by its hotspot's schedule (or `always_armed`);
//! - hotspots and rules come from the store; [`Analytics::reload`] reads them again after a
//!   change and returns once the rule engine uses them. Documents that no longer validate are
//!   skipped with a warning, so one bad row does not stop the others;
//! - every incident records its camera, hotspot, rule, kind, severity, peak score, track ids,
//!   the model id, a JPEG snapshot with the counted boxes drawn, and its evidence window
//!   `[opened − pre_roll, closed + post_roll]`; the footage of that window is found by camera and
//!   time in the recorded segments;
//! - incidents left open by an earlier run are closed at start ([`Store::close_stale_incidents`]);
//! - stage code reads time only from the injected [`Clock`];
//! - [`AnalyticsConfig::metrics`] gets every access unit's decode time
//!   (`roeh_decode_seconds`), every detector call's time (`roeh_inference_seconds`, as the
//!   stats measure it) and the frame queue's depth each time the batcher takes a frame
//!   (`roeh_queue_depth{queue="analytics_frames"}`).

mod batcher;
mod config;
mod decoders;
mod incidents;
pub mod snapshot;
mod stats;

pub use config::{AnalyticsConfig, FrameQueueFull, MAX_FPS, check_fps};
pub use stats::{AnalyticsStats, CameraStats};

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roeh_detect::Detector;
use roeh_domain::{AccessUnit, CameraId, Clock, ErrorKind, WallTime};
use roeh_ingest::FrameTap;
use roeh_rules::{Hotspot, Rule};
use roeh_store::Store;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::batcher::BatchSettings;
use crate::decoders::Decoders;
use crate::incidents::{Command, Loaded, RuleSettings, RuleTask};
use crate::stats::Counters;

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Capacity of the detector → rule task channel (policy `Block`).
const ANALYSED_CAPACITY: usize = 64;
/// Capacity of the command channel to the rule task (policy `Block`).
const COMMAND_CAPACITY: usize = 8;

/// What the detector saw last on a camera, for someone drawing zones or checking a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// The camera's analysis is on (not switched off, not turned away from home).
    pub analysis_on: bool,
    /// The camera is being decoded now.
    pub decoding: bool,
    /// The last analysed frame, if any since the start.
    pub last: Option<SeenFrame>,
}

/// One analysed frame's detections.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenFrame {
    /// When the frame arrived.
    pub at: WallTime,
    /// The decoded frame's width in pixels.
    pub width: u32,
    /// Its height.
    pub height: u32,
    /// The picture the detector looked at: packed RGB24, `width * height * 3` bytes.
    pub rgb: Arc<[u8]>,
    /// Everything the model found, whatever a rule would count.
    pub objects: Vec<SeenObject>,
}

/// One detection.
#[derive(Clone, Debug, PartialEq)]
pub struct SeenObject {
    /// The model's label.
    pub label: String,
    /// Confidence, `0..=1`.
    pub score: f32,
    /// `[xmin, ymin, xmax, ymax]`, fractions of the frame.
    pub bbox: [f32; 4],
}

/// The running analytics path. Shared as `Arc<Analytics>`; see the module docs.
pub struct Analytics {
    store: Store,
    clock: Arc<dyn Clock>,
    model_id: String,
    snapshot_dir: std::path::PathBuf,
    default_fps: f64,
    counters: Arc<Counters>,
    decoders: Arc<Decoders>,
    commands: mpsc::Sender<Command>,
    loaded_counts: Arc<(AtomicUsize, AtomicUsize)>,
    cancel: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics")
            .field("model_id", &self.model_id)
            .field("snapshot_dir", &self.snapshot_dir)
            .finish_non_exhaustive()
    }
}

impl Analytics {
    /// Checks `cfg`, closes incidents an earlier run left open, starts the batcher and the rule
    /// task, and loads the stored hotspots, rules and camera settings. Needs a Tokio runtime.
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        detector: Arc<dyn Detector>,
        cfg: AnalyticsConfig,
    ) -> Result<Arc<Analytics>> {
        cfg.validate()?;
        let stale = store
            .close_stale_incidents(cfg.post_roll)
            .await
            .map_err(|e| Error::with_source(e.kind(), "closing incidents left open", e))?;
        if stale > 0 {
            tracing::info!(
                incidents = stale,
                "Closed incidents left open by the last run."
            );
        }
        let counters = Arc::new(Counters::new(cfg.latency_window));
        let (frame_tx, frame_rx) = mpsc::channel(cfg.queue_frames);
        let (analysed_tx, analysed_rx) = mpsc::channel(ANALYSED_CAPACITY);
        let (command_tx, command_rx) = mpsc::channel(COMMAND_CAPACITY);
        let decoders = Arc::new(Decoders::new(
            frame_tx,
            cfg.decode.clone(),
            counters.clone(),
            cfg.metrics.clone(),
        ));
        let loaded_counts = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let model_id = detector.model_id().to_owned();
        let task = RuleTask::new(
            store.clone(),
            clock.clone(),
            RuleSettings {
                engine: cfg.engine.clone(),
                default_fps: cfg.default_fps,
                pre_roll: cfg.pre_roll,
                post_roll: cfg.post_roll,
                snapshot_dir: cfg.snapshot_dir.clone(),
                jpeg_quality: cfg.jpeg_quality,
                tick: cfg.tick,
            },
            model_id.clone(),
            counters.clone(),
            decoders.clone(),
            loaded_counts.clone(),
        )
        .map_err(|e| Error::with_source(e.kind(), "analytics rule engine settings", e))?;
        let cancel = CancellationToken::new();
        let rules = tokio::spawn(task.run(analysed_rx, command_rx, cancel.clone()));
        let batcher = tokio::spawn(batcher::run(
            frame_rx,
            analysed_tx,
            detector,
            clock.clone(),
            BatchSettings {
                max_batch: cfg.max_batch,
                max_wait: cfg.max_wait,
                max_frame_age: cfg.max_frame_age,
                metrics: cfg.metrics.clone(),
            },
            counters.clone(),
            cancel.clone(),
        ));
        let a = Arc::new(Analytics {
            store,
            clock,
            model_id,
            snapshot_dir: cfg.snapshot_dir,
            default_fps: cfg.default_fps,
            counters,
            decoders,
            commands: command_tx,
            loaded_counts,
            cancel,
            tasks: Mutex::new(vec![rules, batcher]),
        });
        a.reload().await?;
        Ok(a)
    }

    /// Reads hotspots, rules and camera analysis settings from the store again and hands them
    /// to the rule engine; returns once it uses them. Stored documents that do not validate are
    /// skipped with a warning.
    pub async fn reload(&self) -> Result<()> {
        let loaded = load(&self.store).await?;
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Load(loaded, tx))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// Runs a rule-engine tick now (closing incidents whose condition ended, re-reading
    /// schedules); the periodic tick does the same every `cfg.tick`.
    pub async fn tick(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Tick(tx))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// Keeps `camera` decoded for `how_long` whether or not a rule is armed on it (a camera
    /// whose analysis is switched off stays off), and returns what the detector saw on it last.
    /// Decoding for a watcher ends by itself at the first tick after `how_long`.
    pub async fn watch(&self, camera: CameraId, how_long: Duration) -> Result<Seen> {
        let until = self.clock.wall().plus(how_long);
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Watch(camera, until, tx))
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())
    }

    /// The figures of the analytics path now.
    pub fn stats(&self) -> AnalyticsStats {
        let mut s = AnalyticsStats {
            model_id: self.model_id.clone(),
            hotspots: self.loaded_counts.0.load(Ordering::Relaxed),
            rules: self.loaded_counts.1.load(Ordering::Relaxed),
            cameras_analysed: self.decoders.running(),
            cameras: self.decoders.stats(),
            ..AnalyticsStats::default()
        };
        self.counters.fill(&mut s);
        s
    }

    /// The cameras to be decoded now, with their analysis rates.
    pub fn wanted_cameras(&self) -> HashMap<roeh_domain::CameraId, f64> {
        self.decoders.wanted()
    }

    /// Where snapshots are written (`<incident id>.jpg`).
    pub fn snapshot_dir(&self) -> &Path {
        &self.snapshot_dir
    }

    /// The analysis rate of cameras without their own setting, frames per second.
    pub fn default_fps(&self) -> f64 {
        self.default_fps
    }

    /// The detection model's id.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Stops decoding, detection and the rule engine; incidents still open are closed now.
    /// Waits up to `grace` for the tasks.
    pub async fn shutdown(&self, grace: Duration) {
        self.decoders.close();
        self.cancel.cancel();
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in tasks {
            match tokio::time::timeout(grace, t).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(err = %e, "An analytics task failed."),
                Err(_) => tracing::warn!("An analytics task did not stop in time."),
            }
        }
        tracing::debug!(at = %self.clock.wall(), "Analytics stopped.");
    }
}

impl FrameTap for Analytics {
    fn offer(&self, au: &AccessUnit) {
        self.decoders.offer(au);
    }
}

impl Drop for Analytics {
    fn drop(&mut self) {
        self.decoders.close();
        self.cancel.cancel();
    }
}

fn stopped() -> Error {
    Error::new(ErrorKind::Unavailable, "analytics has stopped")
}

/// Reads and validates what the rule engine needs; invalid documents are skipped.
async fn load(store: &Store) -> Result<Loaded> {
    let ctx =
        |what: &'static str| move |e: roeh_store::Error| Error::with_source(e.kind(), what, e);
    let mut hotspots: Vec<Hotspot> = Vec::new();
    for row in store
        .list_hotspots()
        .await
        .map_err(ctx("loading hotspots"))?
    {
        match Hotspot::parse_json(&row.document) {
            Ok(h) if h.id.0 == row.id => hotspots.push(h),
            Ok(_) => {
                tracing::warn!(hotspot = %row.id, "Stored hotspot names another id; skipped.");
            }
            Err(e) => {
                tracing::warn!(hotspot = %row.id, err = %e.chain(), "Stored hotspot does not validate; skipped.");
            }
        }
    }
    let mut rules: Vec<Rule> = Vec::new();
    for row in store.list_rules(None).await.map_err(ctx("loading rules"))? {
        let parsed = Rule::parse_json(&row.document).and_then(|r| {
            match hotspots.iter().find(|h| h.id == r.hotspot) {
                Some(h) => r.validate_for(h).map(|()| r),
                None => Err(roeh_rules::Error::new(
                    ErrorKind::InvalidArgument,
                    format!("hotspot {} is not loaded", r.hotspot),
                )),
            }
        });
        match parsed {
            Ok(r) if r.id.0 == row.id => rules.push(r),
            Ok(_) => tracing::warn!(rule = %row.id, "Stored rule names another id; skipped."),
            Err(e) => {
                tracing::warn!(rule = %row.id, err = %e.chain(), "Stored rule does not validate; skipped.");
            }
        }
    }
    let settings = store
        .list_camera_analysis()
        .await
        .map_err(ctx("loading camera analysis settings"))?
        .into_iter()
        .map(|s| (s.camera, s))
        .collect();
    let paused = store
        .cameras_away_from_home()
        .await
        .map_err(ctx("loading cameras away from home"))?
        .into_iter()
        .collect();
    Ok(Loaded {
        hotspots,
        rules,
        settings,
        paused,
    })
}
