//! A recorder's writes to the store, in order, and what happens to them while the database is
//! away: the [`Backlog`].
//!
//! Invariants:
//! - every store write of a recorder (segment rows, opening and closing its gaps, clock-step
//!   events) goes through its camera's backlog and is done in the order it was made;
//! - while the database answers, a write is done at once and the backlog is empty between
//!   events, as if the recorder called the store directly;
//! - a write that fails because the database is unavailable (`Unavailable`), or that takes longer
//!   than [`RecorderConfig::store_timeout`] (abandoned: `DeadlineExceeded`), stays at the head of
//!   the backlog; later writes queue behind it without touching the database, so the frame path
//!   never waits on a database that is away. A probe task (the camera's last segment, read every
//!   [`RecorderConfig::store_retry_interval`]) watches for it; once it answers, the backlog is
//!   written in order. Writing it again is safe: a segment insert is idempotent on (camera, seq)
//!   with the same SHA-256 and chain (see `roeh_store::Store::insert_segment`), closing a gap
//!   twice changes nothing, and a gap opened by an abandoned write is closed with the others at
//!   the next recorded frame;
//! - a queued segment's file is finished, fsynced and renamed, and its journal stays on disk
//!   until its row is in, so a process that ends with writes queued leaves them to the next
//!   start's recovery, which commits them in seq order;
//! - **bounded**: the backlog holds at most [`RecorderConfig::backlog_frames`] frame-index entries
//!   of queued segments and [`MAX_BACKLOG_WRITES`] writes. Full-policy **stop and gap**: while it
//!   is full the recorder opens no new segment (frames are dropped and counted) and queues one
//!   gap with reason `database` from where footage stopped; that gap is written once the
//!   database is back and closed by the first frame recorded after the backlog has room again.
//!   A clock-step event made while the backlog is full is dropped (logged); the gap covers it.
//!
//! A write that fails for any other reason (a segment that does not extend the chain, a
//! malformed row) ends the recorder task with the error, as before; the pipeline restarts it,
//! and its start-up recovery deals with what is on disk.

use crate::{Error, RecorderConfig, Result, blocking};
use roeh_domain::{CameraId, ErrorKind, FrameIndexEntry, GapReason, Segment, WallTime};
use roeh_metrics::Metrics;
use roeh_store::{Store, TimeEvent};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Most writes a backlog holds (segments, gaps, clock-step events together).
pub const MAX_BACKLOG_WRITES: usize = 4096;

/// One store write of a recorder.
pub(crate) enum Write {
    /// Close this recorder's own open gap at `at`, if any, and open a new one from `at`.
    OpenGap {
        at: WallTime,
        reason: GapReason,
        detail: String,
    },
    /// Close every open gap of the camera at `at` (a run's first frame); the gaps closed are
    /// trimmed to the start of the next segment committed.
    CloseGaps { at: WallTime },
    /// A clock step.
    TimeEvent(Box<TimeEvent>),
    /// A finished segment's row.
    Segment(Box<QueuedSegment>),
}

/// A finished, durable segment waiting for its row.
pub(crate) struct QueuedSegment {
    pub seg: Segment,
    pub index: Vec<FrameIndexEntry>,
    /// Removed once the row is in.
    pub journal: PathBuf,
    /// When its commit began (data file fsync), for the commit-latency metric.
    pub commit_started: tokio::time::Instant,
    /// Whether it had to wait for the database (counted once in [`Backlog::deferred`]).
    pub waited: bool,
}

/// One camera's queue of store writes (see the module docs).
pub(crate) struct Backlog {
    camera: CameraId,
    store: Store,
    metrics: Arc<Metrics>,
    timeout: Duration,
    retry: Duration,
    max_frames: usize,
    writes: VecDeque<Write>,
    /// Frame-index entries held by queued segments.
    frames: usize,
    /// The store id of the gap this recorder opened and has not closed.
    own_gap: Option<i64>,
    /// Gaps closed by a run's first frame, trimmed to its first segment's start.
    closed_at_run_start: Vec<i64>,
    /// Running while the database is away; answers whether it is back.
    probe: Option<JoinHandle<bool>>,
    /// Segments whose row went in.
    pub committed: u64,
    /// Segments that had to wait for the database.
    pub deferred: u64,
    /// Times the database went away for this recorder.
    pub outages: u64,
}

impl Backlog {
    pub fn new(camera: CameraId, store: Store, cfg: &RecorderConfig) -> Backlog {
        Backlog {
            camera,
            store,
            metrics: cfg.metrics.clone(),
            timeout: cfg.store_timeout,
            retry: cfg.store_retry_interval,
            max_frames: cfg.backlog_frames,
            writes: VecDeque::new(),
            frames: 0,
            own_gap: None,
            closed_at_run_start: Vec::new(),
            probe: None,
            committed: 0,
            deferred: 0,
            outages: 0,
        }
    }

    /// Whether the database is away (writes wait for it).
    pub fn waiting(&self) -> bool {
        self.probe.is_some()
    }

    /// Writes queued.
    pub fn len(&self) -> usize {
        self.writes.len()
    }

    /// Whether no new segment may open (see the module docs' full-policy).
    pub fn full(&self) -> bool {
        self.frames >= self.max_frames || self.writes.len() >= MAX_BACKLOG_WRITES
    }

    /// Queues `w` and, unless the database is away, writes everything queued.
    pub async fn push(&mut self, mut w: Write) -> Result<()> {
        let waiting = self.waiting();
        match &mut w {
            Write::TimeEvent(ev) if self.writes.len() >= MAX_BACKLOG_WRITES => {
                tracing::warn!(camera = %self.camera, delta_micros = ev.delta_micros,
                    "Clock-step event dropped: the database is away and the backlog is full.");
                return Ok(());
            }
            Write::Segment(q) => {
                self.frames += q.index.len();
                if waiting {
                    q.waited = true;
                    self.deferred += 1;
                }
            }
            _ => {}
        }
        self.writes.push_back(w);
        if self.waiting() {
            return Ok(());
        }
        self.drain().await
    }

    /// Waits for the probe to finish; pending forever while there is none. Cancel-safe.
    pub async fn probe_done(&mut self) -> bool {
        let Some(h) = self.probe.as_mut() else {
            return std::future::pending().await;
        };
        let up = h.await.unwrap_or(false);
        self.probe = None;
        up
    }

    /// After the probe: writes the backlog if the database answered, else probes again.
    pub async fn after_probe(&mut self, up: bool) -> Result<()> {
        if up {
            tracing::info!(camera = %self.camera, queued = self.writes.len(),
                "Database answers again; writing what waited.");
            self.drain().await
        } else {
            self.start_probe();
            Ok(())
        }
    }

    /// At the end of the task: one last try to write what is queued. What stays queued is
    /// logged; its segments' journals are on disk for the next start's recovery.
    pub async fn finish(&mut self) -> Result<()> {
        if let Some(p) = self.probe.take() {
            p.abort();
        }
        if self.writes.is_empty() {
            return Ok(());
        }
        self.drain().await?;
        if let Some(p) = self.probe.take() {
            p.abort();
        }
        if !self.writes.is_empty() {
            let segments = self
                .writes
                .iter()
                .filter(|w| matches!(w, Write::Segment(_)))
                .count();
            tracing::error!(camera = %self.camera, writes = self.writes.len(), segments,
                "Recorder stopped while the database was away: its queued segments are left \
                 on disk for recovery at the next start.");
        }
        Ok(())
    }

    /// Writes the backlog in order until it is empty or the database fails again.
    async fn drain(&mut self) -> Result<()> {
        while let Some(mut w) = self.writes.pop_front() {
            let r = match tokio::time::timeout(self.timeout, self.apply(&w)).await {
                Ok(r) => r,
                Err(_) => Err(Error::new(
                    ErrorKind::DeadlineExceeded,
                    format!("store write took longer than {:?}", self.timeout),
                )),
            };
            match r {
                Ok(()) => {
                    if let Write::Segment(q) = &w {
                        self.frames = self.frames.saturating_sub(q.index.len());
                    }
                }
                Err(e) if transient(&e) => {
                    if let Write::Segment(q) = &mut w
                        && !q.waited
                    {
                        q.waited = true;
                        self.deferred += 1;
                    }
                    self.writes.push_front(w);
                    if self.probe.is_none() {
                        self.outages += 1;
                        tracing::warn!(camera = %self.camera, err = %e.chain(),
                            queued = self.writes.len(),
                            "Database unavailable; recording goes on and its writes wait.");
                    }
                    self.start_probe();
                    return Ok(());
                }
                Err(e) => {
                    self.writes.push_front(w);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn start_probe(&mut self) {
        if let Some(p) = self.probe.take() {
            p.abort();
        }
        let (store, camera, retry, timeout) =
            (self.store.clone(), self.camera, self.retry, self.timeout);
        self.probe = Some(tokio::spawn(async move {
            tokio::time::sleep(retry).await;
            matches!(
                tokio::time::timeout(timeout, store.last_segment(camera)).await,
                Ok(Ok(_))
            )
        }));
    }

    /// Does one write. Every step records its effect only once it is done, so a write cut
    /// short (error or timeout) can be done again from the start.
    async fn apply(&mut self, w: &Write) -> Result<()> {
        match w {
            Write::OpenGap { at, reason, detail } => {
                if let Some(id) = self.own_gap {
                    self.store.close_gap(id, *at).await?;
                    self.own_gap = None;
                }
                let id = self
                    .store
                    .open_gap(self.camera, *at, *reason, detail)
                    .await?;
                self.own_gap = Some(id);
            }
            Write::CloseGaps { at } => {
                for g in self.store.open_gaps(Some(self.camera)).await? {
                    self.store.close_gap(g.id, *at).await?;
                    self.closed_at_run_start.push(g.id);
                }
                self.own_gap = None;
            }
            Write::TimeEvent(ev) => {
                self.store.insert_time_event(ev).await?;
            }
            Write::Segment(q) => {
                let (seq, camera) = (q.seg.seq, self.camera);
                self.store
                    .insert_segment(&q.seg, &q.index)
                    .await
                    .map_err(|e| {
                        Error::with_source(
                            e.kind(),
                            format!("committing segment {seq} of {camera} (left for recovery)"),
                            e,
                        )
                    })?;
                self.metrics
                    .observe_recorder_commit(q.commit_started.elapsed());
                let journal = q.journal.clone();
                blocking(move || match std::fs::remove_file(&journal) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        tracing::warn!(path = %journal.display(), err = %e,
                            "Could not remove journal.");
                    }
                })
                .await?;
                // The gaps this run's first frame closed end where its footage begins, which
                // may be before that frame arrived (see `wall_span`).
                while let Some(&id) = self.closed_at_run_start.last() {
                    self.store.trim_gap_end(id, q.seg.start).await?;
                    self.closed_at_run_start.pop();
                }
                self.committed += 1;
                tracing::debug!(camera = %self.camera, seq, frames = q.seg.frames,
                    bytes = q.seg.bytes, "Segment committed.");
            }
        }
        Ok(())
    }
}

impl Drop for Backlog {
    fn drop(&mut self) {
        if let Some(p) = self.probe.take() {
            p.abort();
        }
    }
}

/// Whether a failed write may succeed later on its own: the database is away or too slow.
fn transient(e: &Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Unavailable | ErrorKind::DeadlineExceeded
    )
}
