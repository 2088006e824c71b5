//! The topology: per camera, an ingest task and a recorder task joined by one bounded channel
//! (policy `Block`, then `backpressure` gap: `docs/design/0003-backpressure.md`), under a
//! per-camera cancellation token that is a child of the root token, all tracked.
//!
//! Invariants:
//! - this is the only crate that knows how stages connect; stages know only their channels;
//! - a camera's failure (a recorder error, a panic) restarts that camera after a delay and
//!   never touches the others;
//! - crash recovery runs before any camera starts;
//! - shutdown cancels sources first; recorders drain and seal; then the caller stops the API;
//! - it records, recovers, applies retention to and frees disk space from only the cameras of
//!   the store's node ([`Store::node`]; docs/design/0014-nodes-on-one-database.md): processes
//!   sharing one database never touch each other's cameras or footage.

use roeh_domain::{
    Camera, CameraId, Clock, IngestEvent, Retention, StreamHealth, StreamState, WallTime,
};
use roeh_ingest::{HealthHandle, IngestOptions, Opener, StateChange};
use roeh_metrics::Metrics;

/// State changes a lagging receiver of [`Pipeline::state_changes`] may fall behind by.
pub const STATE_CHANGES: usize = 256;
use roeh_recorder::{DiskSpace, LegalHolds, NoHolds, RecorderConfig, RecoveryReport};
use roeh_store::Store;
use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
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
    /// A recorder's database write taking longer than this waits in its backlog (see
    /// `RecorderConfig::store_timeout`).
    pub database_write_timeout: Duration,
    /// How often a recorder probes a database that went away.
    pub database_retry: Duration,
    /// Frames of finished segments a camera holds for a database that is away.
    pub database_backlog_frames: usize,
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
            database_write_timeout: Duration::from_secs(5),
            database_retry: Duration::from_secs(1),
            database_backlog_frames: 15_000,
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
    space: Arc<NodeOldestFirst>,
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
    /// Recovers what a crash left, then starts every enabled camera of the store's node, the
    /// retention loop and the reconcile loop.
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
        let space = Arc::new(NodeOldestFirst {
            store: store.clone(),
            root: cfg.footage_root.clone(),
            holds: cfg.holds.clone(),
            clock: clock.clone(),
        });
        let mut rc = RecorderConfig::new(cfg.footage_root.clone(), space.clone());
        rc.target_duration = cfg.segment_duration;
        rc.commit_interval = cfg.commit_interval;
        rc.store_timeout = cfg.database_write_timeout;
        rc.store_retry_interval = cfg.database_retry;
        rc.backlog_frames = cfg.database_backlog_frames;
        rc.metrics = cfg.metrics.clone();
        let recorder_cfg = Arc::new(rc);
        let report = recover_node(&cfg.footage_root, &store, clock.as_ref()).await?;
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

    /// Starts recording `camera` (no-op if it runs already or the pipeline is shutting down). A
    /// camera of another node is not recorded: its task checks the store first and ends.
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

    /// Starts enabled cameras of the store's node that are not running; stops running ones that
    /// are gone, disabled or moved to another node.
    async fn reconcile(&self) {
        let cams = match self.inner.store.list_node_cameras().await {
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

    /// One retention pass over every camera of the store's node, then the free-space check.
    /// The holds are read from the store first (see [`StoredHolds`]); a pass that cannot read
    /// them deletes nothing.
    pub async fn retention_pass(&self) {
        let inner = &self.inner;
        let holds = match StoredHolds::load(&inner.store, &inner.cfg.holds).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e.chain(), "Reading legal holds for retention failed.");
                return;
            }
        };
        let cams = match inner.store.list_node_cameras().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e.chain(), "Listing cameras for retention failed.");
                return;
            }
        };
        for cam in cams {
            // Each limit the camera does not set is the site's: a camera limited by size
            // alone still keeps footage no longer than the site's age limit.
            let default = inner.cfg.default_retention;
            let policy = roeh_domain::Retention {
                max_age: cam.retention.max_age.or(default.max_age),
                max_bytes: cam.retention.max_bytes.or(default.max_bytes),
            };
            if let Err(e) = roeh_recorder::enforce_retention(
                &inner.store,
                &inner.cfg.footage_root,
                cam.id,
                &policy,
                inner.clock.wall(),
                &holds,
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
    // A camera of another node, handed over directly rather than by reconcile, is that node's to
    // record. If the store cannot say, the camera is recorded: reconcile, which lists only this
    // node's cameras, stops it if it is not ours.
    match inner.store.records_camera(camera.id).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!("Camera is not this node's: not recorded here.");
            return;
        }
        Err(e) => tracing::warn!(error = %e.chain(), "Could not read the camera's node."),
    }
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

/// Recovers, as [`roeh_recorder::recover`] does, every camera found under `root` or with
/// segment rows, except cameras of other nodes: their footage lives on another node's disk.
async fn recover_node(
    root: &Path,
    store: &Store,
    clock: &dyn Clock,
) -> Result<RecoveryReport, Error> {
    let err =
        |e: roeh_store::Error| Error::with_source(e.kind(), "recovering footage after restart", e);
    let nodes: HashMap<CameraId, Option<String>> = store
        .camera_nodes()
        .await
        .map_err(err)?
        .into_iter()
        .collect();
    // A directory of a camera the store does not know is this node's debris.
    roeh_recorder::recover_where(root, store, clock, |c| {
        nodes.get(&c).is_none_or(|n| n.as_deref() == store.node())
    })
    .await
    .map_err(|e| Error::with_source(e.kind(), "recovering footage after restart", e))
}

/// Frees disk space as [`roeh_recorder::OldestFirst`] does, from the footage of this node's
/// cameras only: the oldest committed, unheld segments first.
#[derive(Debug)]
struct NodeOldestFirst {
    store: Store,
    root: PathBuf,
    holds: Arc<dyn LegalHolds>,
    clock: Arc<dyn Clock>,
}

/// How many of the oldest segments one disk-full pass considers.
const DISK_FULL_PAGE: u32 = 1024;

impl DiskSpace for NodeOldestFirst {
    fn free_oldest(
        &self,
        want_bytes: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = roeh_recorder::Result<u64>> + Send + '_>> {
        Box::pin(async move {
            let mut freed = 0u64;
            let holds = StoredHolds::load(&self.store, &self.holds).await?;
            for s in self.store.oldest_node_segments(DISK_FULL_PAGE).await? {
                if freed >= want_bytes {
                    break;
                }
                if holds.is_held(s.camera, s.start, s.end) {
                    continue;
                }
                roeh_recorder::delete_segment(&self.store, &self.root, &s, self.clock.wall())
                    .await?;
                freed += s.bytes;
                tracing::warn!(camera = %s.camera, seq = s.seq, bytes = s.bytes,
                    "Deleted oldest segment to free disk space.");
            }
            Ok(freed)
        })
    }
}

/// The legal holds in force as the store has them now, with those of the configured
/// [`LegalHolds`]: a hold placed by another process (another node, or `roeh hold place`)
/// protects footage from the next deletion of this one, not only from its next start.
#[derive(Debug)]
struct StoredHolds {
    active: Vec<roeh_store::HoldRow>,
    configured: Arc<dyn LegalHolds>,
}

impl StoredHolds {
    async fn load(
        store: &Store,
        configured: &Arc<dyn LegalHolds>,
    ) -> Result<StoredHolds, roeh_store::Error> {
        Ok(StoredHolds {
            active: store.holds(true).await?,
            configured: configured.clone(),
        })
    }
}

impl LegalHolds for StoredHolds {
    fn is_held(&self, camera: CameraId, start: WallTime, end: WallTime) -> bool {
        self.configured.is_held(camera, start, end)
            || self
                .active
                .iter()
                .any(|h| h.hold.camera == camera && h.hold.start < end && h.hold.end > start)
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
