//! The topology: per camera, an ingest task and a recorder task joined by one bounded channel
//! (policy `Block`, then `backpressure` gap: `docs/design/0003-backpressure.md`), under a
//! per-camera cancellation token that is a child of the root token, all tracked.
//!
//! Invariants:
//! - this is the only crate that knows how stages connect; stages know only their channels;
//! - a camera's failure (a recorder error, a panic) restarts that camera after a delay and
//!   never touches the others;
//! - crash recovery runs before any camera starts;
//! - shutdown cancels sources first; recorders drain and seal; then the caller stops the API.

use roeh_domain::{Camera, CameraId, Clock, IngestEvent, Retention, StreamHealth, StreamState};
use roeh_ingest::{HealthHandle, IngestOptions, Opener, StateChange};
use roeh_metrics::Metrics;

/// State changes a lagging receiver of [`Pipeline::state_changes`] may fall behind by.
pub const STATE_CHANGES: usize = 256;
use roeh_recorder::{DiskSpace, LegalHolds, NoHolds, OldestFirst, RecorderConfig};
use roeh_store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

roeh_domain::define_error!();

/// Settings of the pipeline.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    /// Root of the segment files.
    pub footage_root: PathBuf,
    /// Target segment length.
    pub segment_duration: Duration,
    /// Frames are written in batches spanning at most this (see `RecorderConfig`).
    pub commit_interval: Duration,
    /// Capacity of each ingest → recorder channel, in access units.
    pub queue_frames: usize,
    /// Ingest settings.
    pub ingest: IngestOptions,
    /// How often retention and the free-space check run.
    pub retention_interval: Duration,
    /// Free bytes to keep on the footage disk.
    pub min_free_bytes: u64,
    /// Retention for cameras that set none.
    pub default_retention: Retention,
    /// How often the camera list is re-read from the store (cameras added by the CLI).
    pub reconcile_interval: Duration,
    /// Delay before a failed camera is restarted.
    pub restart_delay: Duration,
    /// Legal holds: footage they cover is never deleted, by retention or on a full disk.
    pub holds: Arc<dyn LegalHolds>,
    /// The process's metrics: each camera's ingest figures, the recorders' commits, gaps and
    /// queue depth are recorded here. Fresh ones by default.
    pub metrics: Arc<Metrics>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            footage_root: PathBuf::from("footage"),
            segment_duration: Duration::from_secs(10),
            commit_interval: Duration::from_millis(500),
            queue_frames: 256,
            ingest: IngestOptions::default(),
            retention_interval: Duration::from_secs(60),
            min_free_bytes: 1 << 30,
            default_retention: Retention::default(),
            reconcile_interval: Duration::from_secs(5),
            restart_delay: Duration::from_secs(1),
            holds: Arc::new(NoHolds),
            metrics: Metrics::new(),
        }
    }
}

struct Running {
    cancel: CancellationToken,
    health: HealthHandle,
    task: JoinHandle<()>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    opener: Arc<dyn Opener>,
    cfg: PipelineConfig,
    recorder_cfg: Arc<RecorderConfig>,
    space: Arc<OldestFirst>,
    cameras: Mutex<HashMap<CameraId, Running>>,
    tracker: TaskTracker,
    root: CancellationToken,
    /// Every camera's stream state changes (see [`Pipeline::state_changes`]).
    changes: tokio::sync::broadcast::Sender<StateChange>,
}

/// The running pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("cfg", &self.inner.cfg)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// Recovers what a crash left, then starts every enabled camera of the store, the retention
    /// loop and the reconcile loop.
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        opener: Arc<dyn Opener>,
        cfg: PipelineConfig,
    ) -> Result<Pipeline, Error> {
        std::fs::create_dir_all(&cfg.footage_root).map_err(|e| {
            Error::with_source(
                roeh_domain::ErrorKind::Unavailable,
                format!("creating footage directory {}", cfg.footage_root.display()),
                e,
            )
        })?;
        let space = Arc::new(OldestFirst::new(
            store.clone(),
            cfg.footage_root.clone(),
            cfg.holds.clone(),
            clock.clone(),
        ));
        let mut rc = RecorderConfig::new(cfg.footage_root.clone(), space.clone());
        rc.target_duration = cfg.segment_duration;
        rc.commit_interval = cfg.commit_interval;
        rc.metrics = cfg.metrics.clone();
        let recorder_cfg = Arc::new(rc);
        let report = roeh_recorder::recover(&cfg.footage_root, &store, clock.as_ref())
            .await
            .map_err(|e| Error::with_source(e.kind(), "recovering footage after restart", e))?;
        for (camera, _) in &report.crash_gaps {
            cfg.metrics
                .count_gap(*camera, roeh_domain::GapReason::Crash);
        }
        if !report.missing_files.is_empty() || !report.errors.is_empty() {
            tracing::error!(
                ?report,
                "Recovery found committed footage missing or unreadable."
            );
        } else {
            tracing::info!(?report, "Recovery done.");
        }
        let p = Pipeline {
            inner: Arc::new(Inner {
                store,
                clock,
                opener,
                cfg,
                recorder_cfg,
                space,
                cameras: Mutex::new(HashMap::new()),
                tracker: TaskTracker::new(),
                root: CancellationToken::new(),
                changes: tokio::sync::broadcast::channel(STATE_CHANGES).0,
            }),
        };
        p.reconcile().await;
        let me = p.clone();
        p.inner
            .tracker
            .spawn(async move { me.housekeeping_loop().await });
        Ok(p)
    }

    /// The stream state changes of every camera from now on. Full policy: the newest
    /// [`STATE_CHANGES`] are kept; a receiver that lags gets `Lagged` and reads
    /// [`Pipeline::states`] anew.
    pub fn state_changes(&self) -> tokio::sync::broadcast::Receiver<StateChange> {
        self.inner.changes.subscribe()
    }

    /// The stream state of every running camera now.
    pub fn states(&self) -> Vec<(CameraId, StreamState)> {
        self.lock()
            .iter()
            .map(|(id, r)| (*id, r.health.snapshot().state))
            .collect()
    }

    /// Health of a running camera.
    pub fn health(&self, id: CameraId) -> Option<StreamHealth> {
        self.lock().get(&id).map(|r| r.health.snapshot())
    }

    /// Ids of the running cameras.
    pub fn running(&self) -> Vec<CameraId> {
        self.lock().keys().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CameraId, Running>> {
        self.inner.cameras.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts recording `camera` (no-op if it runs already or the pipeline is shutting down).
    pub fn start_camera(&self, camera: Camera) {
        if self.inner.root.is_cancelled() || !camera.enabled {
            return;
        }
        let mut cams = self.lock();
        if cams.contains_key(&camera.id) {
            return;
        }
        let cancel = self.inner.root.child_token();
        let health = HealthHandle::reporting(
            camera.id,
            self.inner.changes.clone(),
            Some(&self.inner.cfg.metrics),
        );
        let span = tracing::info_span!("camera", id = %camera.id);
        let id = camera.id;
        let task = self.inner.tracker.spawn(
            supervise(self.inner.clone(), camera, health.clone(), cancel.clone()).instrument(span),
        );
        cams.insert(
            id,
            Running {
                cancel,
                health,
                task,
            },
        );
    }

    /// Stops recording a camera, waiting until its open segment is sealed.
    pub async fn stop_camera(&self, id: CameraId) {
        let running = self.lock().remove(&id);
        if let Some(r) = running {
            r.cancel.cancel();
            if let Err(e) = r.task.await {
                tracing::warn!(camera = %id, error = %e, "Camera task ended badly.");
            }
        }
    }

    /// Shuts everything down: sources first, recorders drain and seal. Returns whether every
    /// task finished within `grace`.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.inner.root.cancel();
        self.inner.tracker.close();
        tokio::time::timeout(grace, self.inner.tracker.wait())
            .await
            .is_ok()
    }

    /// Starts enabled cameras of the store that are not running; stops running ones that are
    /// gone or disabled.
    async fn reconcile(&self) {
        let cams = match self.inner.store.list_cameras().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e.chain(), "Listing cameras failed.");
                return;
            }
        };
        let wanted: HashMap<CameraId, Camera> = cams
            .into_iter()
            .filter(|c| c.enabled)
            .map(|c| (c.id, c))
            .collect();
        let stale: Vec<CameraId> = self
            .running()
            .into_iter()
            .filter(|id| !wanted.contains_key(id))
            .collect();
        for id in stale {
            self.stop_camera(id).await;
        }
        for cam in wanted.into_values() {
            self.start_camera(cam);
        }
    }

    async fn housekeeping_loop(&self) {
        let mut last_retention: Option<Duration> = None;
        loop {
            tokio::select! {
                biased;
                _ = self.inner.root.cancelled() => return,
                _ = tokio::time::sleep(self.inner.cfg.reconcile_interval) => {}
            }
            self.reconcile().await;
            let now = self.inner.clock.monotonic();
            if last_retention
                .is_none_or(|t| now.saturating_sub(t) >= self.inner.cfg.retention_interval)
            {
                last_retention = Some(now);
                self.retention_pass().await;
            }
        }
    }

    /// One retention pass over every camera, then the free-space check.
    pub async fn retention_pass(&self) {
        let inner = &self.inner;
        let cams = match inner.store.list_cameras().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e.chain(), "Listing cameras for retention failed.");
                return;
            }
        };
        for cam in cams {
            let mut policy = cam.retention;
            if policy.max_age.is_none() && policy.max_bytes.is_none() {
                policy = inner.cfg.default_retention;
            }
            if let Err(e) = roeh_recorder::enforce_retention(
                &inner.store,
                &inner.cfg.footage_root,
                cam.id,
                &policy,
                inner.clock.wall(),
                inner.cfg.holds.as_ref(),
            )
            .await
            {
                tracing::warn!(camera = %cam.id, error = %e.chain(), "Retention failed.");
            }
        }
        let min_free = inner.cfg.min_free_bytes;
        match free_bytes(&inner.cfg.footage_root) {
            Ok(free) if free < min_free => match inner.space.free_oldest(min_free - free).await {
                Ok(freed) => {
                    tracing::warn!(free, freed, "Low disk space: deleted the oldest footage.")
                }
                Err(e) => tracing::warn!(error = %e.chain(), "Freeing disk space failed."),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Reading free disk space failed."),
        }
    }
}

/// Runs one camera's ingest and recorder; restarts the pair after a failure until cancelled.
async fn supervise(
    inner: Arc<Inner>,
    camera: Camera,
    health: HealthHandle,
    cancel: CancellationToken,
) {
    loop {
        let (tx, rx) = tokio::sync::mpsc::channel::<IngestEvent>(inner.cfg.queue_frames.max(1));
        let attempt = cancel.child_token();
        let ingest = tokio::spawn(
            roeh_ingest::run_camera(
                camera.clone(),
                inner.opener.clone(),
                inner.clock.clone(),
                tx,
                health.clone(),
                attempt.clone(),
                inner.cfg.ingest.clone(),
            )
            .in_current_span(),
        );
        let recorder = tokio::spawn(
            roeh_recorder::run_recorder(
                camera.id,
                rx,
                inner.store.clone(),
                inner.clock.clone(),
                inner.recorder_cfg.clone(),
            )
            .in_current_span(),
        );
        // The recorder ends when ingest drops its sender (cancel) or on an error of its own,
        // which drops the receiver and makes ingest stop.
        let rec = recorder.await;
        attempt.cancel();
        let ing = ingest.await;
        if let Err(e) = &ing {
            tracing::error!(error = %e, "Ingest task panicked.");
        }
        match rec {
            Ok(Ok(_)) if cancel.is_cancelled() => return,
            Ok(Ok(_)) => tracing::warn!("Recorder stopped unexpectedly; restarting."),
            Ok(Err(e)) => tracing::error!(error = %e.chain(), "Recorder failed; restarting."),
            Err(e) => tracing::error!(error = %e, "Recorder task panicked; restarting."),
        }
        if cancel.is_cancelled() {
            return;
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(inner.cfg.restart_delay) => {}
        }
    }
}

/// Bytes available to unprivileged writers on the file system holding `path` (`statvfs`, through
/// rustix: no `unsafe` here).
fn free_bytes(path: &std::path::Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(path)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::free_bytes;

    #[test]
    fn free_bytes_reads_the_file_system_and_names_a_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        assert!(free > 0, "a writable temporary directory has room");
        // What df says is available there, give or take what others wrote in between.
        let out = std::process::Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let df: u64 = text.lines().nth(1).unwrap().trim().parse().unwrap();
        assert!(free.abs_diff(df) < 64 << 20, "statvfs {free}, df {df}");
        let e = free_bytes(&dir.path().join("missing")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }
}
