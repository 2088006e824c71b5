//! One camera's recorder task: [`run_recorder`].
//!
//! Invariants (see also the crate docs):
//! - at most one open segment per camera; its seq is the camera's last committed seq + 1;
//! - a segment opens only on a key frame; frames that cannot be recorded are counted as dropped
//!   and covered by an open gap;
//! - the task ends when its input channel closes (the pipeline cancels ingest, which drops the
//!   sender): the open segment is committed and a `shutdown` gap opened unless one is open;
//! - store writes (segment rows, gaps, clock-step events) go through the camera's
//!   [`crate::backlog`], in order: while the database is unavailable they wait there and recording
//!   goes on; a backlog that is full stops new segments and queues a `database` gap;
//! - an error is returned only where continuing could break the chain or durability (a
//!   directory fsync failure, a segment row the store refuses); the supervisor may restart
//!   the task, which first runs [`crate::recover_camera`].
//!
//! Measured in [`RecorderConfig::metrics`]: every segment commit (`roeh_recorder_commit_seconds`,
//! by tokio's clock, from the data file's fsync to its index row inserted), every gap opened
//! (`roeh_camera_gaps{camera,reason}`, crash gaps of the recovery it runs first included), and
//! the depth of the input queue each time an event is taken from it
//! (`roeh_queue_depth{queue="recorder"}`, summed over cameras).

use crate::backlog::{Backlog, QueuedSegment, Write};
use crate::writer::{FinishError, FrameIn, SegmentWriter, media_duration, wall_span};
use crate::{DiskSpace, Result, blocking, io_err, layout, recover_camera};
use roeh_domain::media::MAX_ACCESS_UNIT_BYTES;
use roeh_domain::{
    AccessUnit, CameraId, Clock, GapReason, IngestEvent, Pts90k, Segment, SegmentState, WallTime,
};
use roeh_evidence::{SegmentLinkInput, ZERO_LINK, chain_link};
use roeh_metrics::{Metrics, Queue};
use roeh_store::{Store, TimeEvent};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Largest batch of queued frame bytes before it is written, whatever the commit interval.
const MAX_PENDING_BYTES: usize = 1 << 20;

/// Recorder settings, shared by all cameras' recorders.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Root directory of footage.
    pub root: PathBuf,
    /// A segment is closed before the first key frame at or beyond this media duration.
    pub target_duration: Duration,
    /// Wall time moving this much differently from monotonic time between frames is a step.
    pub clock_step_threshold: Duration,
    /// Media time jumping forward more than this between frames (or not advancing) splits the
    /// run with a `bad_stream` gap.
    pub max_frame_interval: Duration,
    /// How much to free when the disk is full.
    pub disk_full_free_bytes: u64,
    /// Frames are written in batches spanning at most this much media time (the commit
    /// interval C: a `kill -9` loses at most this much of the open segment).
    pub commit_interval: Duration,
    /// Who frees space when the disk is full.
    pub space: Arc<dyn DiskSpace>,
    /// The process's metrics (commit latency, gaps, queue depth); fresh ones by default.
    pub metrics: Arc<Metrics>,
    /// A store write taking longer than this is abandoned and retried from the backlog (see
    /// [`crate::backlog`]), so the frame path waits at most this long on a database going away.
    pub store_timeout: Duration,
    /// While the database is away, how often it is probed.
    pub store_retry_interval: Duration,
    /// Most frame-index entries of segments waiting for the database, per camera (memory: about
    /// 32 bytes each). When reached, no new segment opens until the database is back: a gap
    /// with reason `database`.
    pub backlog_frames: usize,
}

impl RecorderConfig {
    /// Defaults: 10 s segments, 1 s clock-step threshold, 10 s frame interval limit, 256 MiB
    /// freed per disk-full event, 500 ms commit interval; store writes abandoned after 5 s, the
    /// database probed every second while away, and 15 000 frames (10 minutes at 25 fps) of
    /// segments held for it.
    pub fn new(root: PathBuf, space: Arc<dyn DiskSpace>) -> Self {
        RecorderConfig {
            root,
            target_duration: Duration::from_secs(10),
            clock_step_threshold: Duration::from_secs(1),
            max_frame_interval: Duration::from_secs(10),
            disk_full_free_bytes: 256 << 20,
            commit_interval: Duration::from_millis(500),
            space,
            metrics: Metrics::new(),
            store_timeout: Duration::from_secs(5),
            store_retry_interval: Duration::from_secs(1),
            backlog_frames: 15_000,
        }
    }
}

/// What one recorder did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Frames written to segment files.
    pub frames_written: u64,
    /// Bytes written to segment files.
    pub bytes_written: u64,
    /// Frames received but not recorded (waiting for a key frame, refused, write failed).
    pub frames_dropped: u64,
    /// Segments committed.
    pub segments_committed: u64,
    /// Gap rows opened.
    pub gaps_opened: u64,
    /// Disk-full events.
    pub disk_full_events: u64,
    /// Clock steps seen.
    pub clock_steps: u64,
    /// Segments recovered at start.
    pub segments_recovered: u64,
    /// Segments whose row had to wait for the database (committed later, or left for recovery).
    pub segments_deferred: u64,
    /// Times the database became unavailable to this recorder.
    pub database_outages: u64,
}

/// Records one camera until `rx` closes. Run [`crate::recover`] (or let this call run
/// [`crate::recover_camera`], which it does first) before frames flow.
pub async fn run_recorder(
    camera: CameraId,
    mut rx: mpsc::Receiver<IngestEvent>,
    store: Store,
    clock: Arc<dyn Clock>,
    cfg: Arc<RecorderConfig>,
) -> Result<RecorderStats> {
    let report = recover_camera(&cfg.root, &store, camera, clock.as_ref()).await?;
    for _ in &report.crash_gaps {
        cfg.metrics.count_gap(camera, GapReason::Crash);
    }
    let last = store.last_segment(camera).await?;
    let mut rec = Rec {
        camera,
        backlog: Backlog::new(camera, store.clone(), &cfg),
        store,
        clock,
        cfg,
        open: None,
        next_seq: last.as_ref().map_or(1, |s| s.seq + 1),
        last_chain: last.as_ref().map_or(ZERO_LINK, |s| s.chain),
        run: last.as_ref().map_or(0, |s| s.run),
        new_run: true,
        anchor: None,
        last_end: last.as_ref().map(|s| s.end),
        gap_open: false,
        database_gap: false,
        stale_gaps: true,
        last_frame: None,
        pending: Vec::new(),
        pending_bytes: 0,
        last_clock: None,
        stats: RecorderStats {
            segments_recovered: report.recovered.len() as u64,
            ..RecorderStats::default()
        },
    };
    tracing::info!(%camera, next_seq = rec.next_seq, "Recorder started.");
    let mut depth = rec.cfg.metrics.queue(Queue::Recorder);
    enum Next {
        Event(Option<IngestEvent>),
        Probe(bool),
    }
    loop {
        // The probe first: it finishes once per retry interval, frames may never pause.
        let next = tokio::select! {
            biased;
            up = rec.backlog.probe_done() => Next::Probe(up),
            ev = rx.recv() => Next::Event(ev),
        };
        let ev = match next {
            Next::Probe(up) => {
                rec.backlog.after_probe(up).await?;
                continue;
            }
            Next::Event(Some(ev)) => ev,
            Next::Event(None) => break,
        };
        depth.set(rx.len());
        match ev {
            IngestEvent::Frame(au) => rec.frame(au).await?,
            IngestEvent::Connected { at, .. } => rec.connected(at).await?,
            IngestEvent::Disconnected {
                at, reason, detail, ..
            } => rec.disconnected(at, reason, &detail).await?,
            _ => {}
        }
    }
    rec.shutdown().await?;
    rec.stats.segments_committed = rec.backlog.committed;
    rec.stats.segments_deferred = rec.backlog.deferred;
    rec.stats.database_outages = rec.backlog.outages;
    tracing::info!(%camera, stats = ?rec.stats, "Recorder stopped.");
    Ok(rec.stats)
}

struct Rec {
    camera: CameraId,
    /// Every store write goes through it, in order.
    backlog: Backlog,
    store: Store,
    clock: Arc<dyn Clock>,
    cfg: Arc<RecorderConfig>,
    open: Option<SegmentWriter>,
    next_seq: u64,
    last_chain: [u8; 32],
    run: u64,
    /// The next segment starts a new run.
    new_run: bool,
    /// End of the last committed segment of the current run.
    anchor: Option<WallTime>,
    /// End of the camera's last committed segment: no new segment starts before it.
    last_end: Option<WallTime>,
    /// A gap this task opened (its write may still wait in the backlog) is open.
    gap_open: bool,
    /// The open gap is a `database` gap opened because the backlog was full: it covers
    /// everything until a segment opens again.
    database_gap: bool,
    /// Gaps from before this task (shutdown, crash, offline) may be open: close them all at
    /// the next recorded frame.
    stale_gaps: bool,
    /// pts and received_at of the last frame recorded into the open segment.
    last_frame: Option<(Pts90k, WallTime)>,
    /// Frames of the open segment not yet written (at most one commit interval).
    pending: Vec<AccessUnit>,
    /// Bytes in `pending`.
    pending_bytes: usize,
    /// Wall and monotonic readings at the previous frame.
    last_clock: Option<(WallTime, Duration)>,
    stats: RecorderStats,
}

impl Rec {
    async fn frame(&mut self, au: AccessUnit) -> Result<()> {
        self.check_clock(&au).await?;

        if au.data.is_empty() || au.data.len() > MAX_ACCESS_UNIT_BYTES {
            self.stats.frames_dropped += 1;
            let end = self.close_segment(None, None).await?;
            self.split(
                end.unwrap_or(au.received_at),
                GapReason::BadStream,
                &format!("refused access unit of {} bytes", au.data.len()),
            )
            .await?;
            return Ok(());
        }

        if let Some(w) = &self.open {
            let (last_pts, _) = self.last_frame.unwrap_or((w.start_pts, au.received_at));
            let step = au.pts.0.saturating_sub(last_pts.0);
            let max = Pts90k::from_duration(self.cfg.max_frame_interval).0;
            let params_changed = !Arc::ptr_eq(&w.params, &au.params) && *w.params != *au.params;
            if step <= 0 || step > max {
                let end = self.close_segment(None, None).await?;
                self.split(
                    end.unwrap_or(au.received_at),
                    GapReason::BadStream,
                    &format!("media time jumped by {step} (90 kHz units)"),
                )
                .await?;
            } else if params_changed {
                // The new segment continues the same run: media time is continuous.
                self.close_segment(Some(au.received_at), Some(au.pts))
                    .await?;
            } else if au.is_key
                && au.pts.since(w.start_pts) >= Pts90k::from_duration(self.cfg.target_duration)
            {
                self.close_segment(Some(au.received_at), Some(au.pts))
                    .await?;
            }
        }

        if self.open.is_none() {
            if !au.is_key {
                self.stats.frames_dropped += 1;
                if !self.gap_open && !self.stale_gaps {
                    self.open_gap(
                        au.received_at,
                        GapReason::BadStream,
                        "waiting for a key frame",
                    )
                    .await?;
                    self.new_run = true;
                }
                return Ok(());
            }
            if !self.start_segment(&au).await? {
                return Ok(());
            }
        }
        self.append(au).await
    }

    /// Notices wall-clock steps (wall time moving differently from monotonic time).
    async fn check_clock(&mut self, au: &AccessUnit) -> Result<()> {
        let wall = self.clock.wall();
        let mono = self.clock.monotonic();
        let prev = self.last_clock.replace((wall, mono));
        let Some((pw, pm)) = prev else {
            return Ok(());
        };
        let dm = i64::try_from(mono.saturating_sub(pm).as_micros()).unwrap_or(i64::MAX);
        let expected = WallTime(pw.0.saturating_add(dm));
        let delta = wall.0.saturating_sub(expected.0);
        let threshold =
            i64::try_from(self.cfg.clock_step_threshold.as_micros()).unwrap_or(i64::MAX);
        if delta.abs() <= threshold {
            return Ok(());
        }
        self.stats.clock_steps += 1;
        let detail = format!("wall clock stepped by {delta} µs");
        tracing::warn!(camera = %self.camera, delta_micros = delta, "Wall clock stepped.");
        self.backlog
            .push(Write::TimeEvent(Box::new(TimeEvent {
                id: 0,
                camera: Some(self.camera),
                monotonic: mono,
                wall_before: expected,
                wall_after: wall,
                delta_micros: delta,
                detail: detail.clone(),
            })))
            .await?;
        self.close_segment(None, None).await?;
        // The gap starts on the new time line, where the step was seen.
        self.split(au.received_at, GapReason::ClockStep, &detail)
            .await
    }

    /// Ends the current run: closes this task's gap and opens a new one with `reason`.
    async fn split(&mut self, at: WallTime, reason: GapReason, detail: &str) -> Result<()> {
        self.new_run = true;
        self.open_gap(at, reason, detail).await
    }

    /// Closes this task's gap and opens a new one with `reason` from `at`. While the backlog is
    /// full the gap is a `database` gap, and a `database` gap already open covers any other.
    async fn open_gap(&mut self, at: WallTime, reason: GapReason, detail: &str) -> Result<()> {
        if self.database_gap {
            return Ok(());
        }
        let (reason, detail) = if self.backlog.full() || reason == GapReason::Database {
            self.database_gap = true;
            let waiting = format!(
                "database unavailable; {} writes wait for it",
                self.backlog.len()
            );
            let detail = if reason == GapReason::Database {
                waiting
            } else {
                format!("{waiting} (and {}: {detail})", reason.as_str())
            };
            (GapReason::Database, detail)
        } else {
            (reason, detail.to_string())
        };
        self.backlog
            .push(Write::OpenGap {
                at,
                reason,
                detail: detail.clone(),
            })
            .await?;
        self.gap_open = true;
        self.stats.gaps_opened += 1;
        self.cfg.metrics.count_gap(self.camera, reason);
        tracing::info!(camera = %self.camera, reason = reason.as_str(), detail, "Gap opened.");
        Ok(())
    }

    /// Opens a segment starting with key frame `au`. Returns `false` if it could not be opened
    /// (a gap is then open and the next key frame retries).
    async fn start_segment(&mut self, au: &AccessUnit) -> Result<bool> {
        if self.backlog.full() {
            // The database has been away too long: stop and gap (see `crate::backlog`).
            self.stats.frames_dropped += 1;
            if !self.database_gap {
                let at = self.anchor.unwrap_or(au.received_at);
                tracing::error!(camera = %self.camera, queued = self.backlog.len(),
                    "Database away too long: recording stops until it is back.");
                self.split(at, GapReason::Database, "").await?;
            }
            return Ok(false);
        }
        if self.new_run {
            self.run += 1;
            self.anchor = None;
        }
        let root = self.cfg.root.clone();
        let (camera, seq, run, params, pts) = (
            self.camera,
            self.next_seq,
            self.run,
            au.params.clone(),
            au.pts,
        );
        let created =
            blocking(move || SegmentWriter::create(&root, camera, seq, run, params, pts)).await?;
        match created {
            Ok(w) => {
                self.open = Some(w);
                self.new_run = false;
                self.last_frame = None;
                self.close_gaps(au.received_at).await?;
                Ok(true)
            }
            Err(e) => {
                self.stats.frames_dropped += 1;
                if layout::is_storage_full(&e) {
                    self.disk_full(au.received_at, &e).await?;
                } else if e.kind() == std::io::ErrorKind::AlreadyExists {
                    // Debris of an earlier failure under this seq: recover it, then retry at
                    // the next key frame.
                    recover_camera(&self.cfg.root, &self.store, camera, self.clock.as_ref())
                        .await?;
                    self.reload_chain().await?;
                    self.split(
                        au.received_at,
                        GapReason::Io,
                        &format!("segment files existed: {e}"),
                    )
                    .await?;
                } else {
                    self.split(
                        au.received_at,
                        GapReason::Io,
                        &format!("opening segment: {e}"),
                    )
                    .await?;
                }
                Ok(false)
            }
        }
    }

    async fn reload_chain(&mut self) -> Result<()> {
        let last = self.store.last_segment(self.camera).await?;
        self.next_seq = last.as_ref().map_or(1, |s| s.seq + 1);
        self.last_chain = last.as_ref().map_or(ZERO_LINK, |s| s.chain);
        self.last_end = last.as_ref().map(|s| s.end);
        self.run = self.run.max(last.as_ref().map_or(0, |s| s.run));
        self.new_run = true;
        Ok(())
    }

    /// Closes every open gap of the camera (this task's and older ones) at `at`.
    async fn close_gaps(&mut self, at: WallTime) -> Result<()> {
        if !self.gap_open && !self.stale_gaps {
            return Ok(());
        }
        self.gap_open = false;
        self.database_gap = false;
        self.stale_gaps = false;
        self.backlog.push(Write::CloseGaps { at }).await
    }

    /// Queues a frame of the open segment; the queue is written in one blocking call once it
    /// spans `commit_interval` of media time or `MAX_PENDING_BYTES`, and always before the
    /// segment closes. One hand-off to the blocking pool per batch, not per frame.
    async fn append(&mut self, au: AccessUnit) -> Result<()> {
        if self.open.is_none() {
            return Ok(());
        }
        self.last_frame = Some((au.pts, au.received_at));
        self.pending_bytes += au.data.len();
        let first_pts = self.pending.first().map_or(au.pts, |f| f.pts);
        let due = au.pts.since(first_pts) >= Pts90k::from_duration(self.cfg.commit_interval)
            || self.pending_bytes >= MAX_PENDING_BYTES;
        self.pending.push(au);
        if due { self.flush().await } else { Ok(()) }
    }

    /// Writes the queued frames to the open segment (data, then journal record, per frame).
    /// A write error stops the batch: what was written stays and is committed, the rest is
    /// dropped and counted, and the error becomes a `disk_full` or `io` gap.
    async fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        let Some(mut w) = self.open.take() else {
            self.stats.frames_dropped += pending.len() as u64;
            return Ok(());
        };
        if pending.is_empty() {
            self.open = Some(w);
            return Ok(());
        }
        let (w, written, failed) = blocking(move || {
            let frames: Vec<FrameIn<'_>> = pending
                .iter()
                .map(|au| FrameIn {
                    data: &au.data,
                    pts: au.pts,
                    received_at: au.received_at,
                    is_key: au.is_key,
                })
                .collect();
            let bytes: u64 = pending.iter().map(|a| a.data.len() as u64).sum();
            match w.append_batch(&frames) {
                Ok(()) => (w, (pending.len(), bytes), None),
                Err(e) => {
                    let at = pending.first().map(|a| a.received_at);
                    (w, (0, 0), Some((e, at.unwrap_or_default(), pending.len())))
                }
            }
        })
        .await?;
        self.open = Some(w);
        self.stats.frames_written += written.0 as u64;
        self.stats.bytes_written += written.1;
        let Some((e, failed_at, dropped)) = failed else {
            return Ok(());
        };
        self.stats.frames_dropped += dropped as u64;
        // What is already written stays: commit it, then record the gap.
        let end = self.close_segment(None, None).await?;
        let at = end.unwrap_or(failed_at);
        if layout::is_storage_full(&e) {
            self.disk_full(at, &e).await
        } else {
            self.split(at, GapReason::Io, &format!("writing frame: {e}"))
                .await
        }
    }

    /// Frees the oldest footage and opens a `disk_full` gap; recording retries at the next key
    /// frame.
    async fn disk_full(&mut self, at: WallTime, e: &std::io::Error) -> Result<()> {
        self.stats.disk_full_events += 1;
        tracing::error!(camera = %self.camera, err = %e, "Disk full; freeing oldest footage.");
        let freed = match self
            .cfg
            .space
            .free_oldest(self.cfg.disk_full_free_bytes)
            .await
        {
            Ok(n) => n,
            Err(err) => {
                tracing::error!(camera = %self.camera, err = %err.chain(),
                    "Could not free disk space.");
                0
            }
        };
        let detail = if freed == 0 {
            format!("{e}; nothing deletable remained")
        } else {
            format!("{e}; freed {freed} bytes of oldest footage")
        };
        self.split(at, GapReason::DiskFull, &detail).await
    }

    /// Commits the open segment, if any; returns its wall end. `observed_end` and `next_pts` are
    /// the arrival and pts of the frame that follows when it continues the same run.
    async fn close_segment(
        &mut self,
        observed_end: Option<WallTime>,
        next_pts: Option<Pts90k>,
    ) -> Result<Option<WallTime>> {
        if !self.pending.is_empty() {
            Box::pin(self.flush()).await?;
        }
        let Some(w) = self.open.take() else {
            return Ok(None);
        };
        self.last_frame = None;
        if w.index.is_empty() {
            blocking(move || w.abandon()).await?;
            return Ok(None);
        }
        let continues = next_pts.is_some();
        let index = w.index.clone();
        let (seq, run, params, start_pts) = (w.seq, w.run, w.params.clone(), w.start_pts);
        // The commit, as measured: fsync, rename, directory fsync, then the index row.
        let commit_started = tokio::time::Instant::now();
        let finished = blocking(move || w.finish()).await?;
        let file = match finished {
            Ok(f) => f,
            Err(FinishError::Abandoned(e)) => {
                let at = index.first().map_or(self.clock.wall(), |e| e.received_at);
                tracing::error!(camera = %self.camera, seq, err = %e,
                    "Segment abandoned: it could not be made durable.");
                self.split(at, GapReason::Io, &format!("segment {seq} abandoned: {e}"))
                    .await?;
                return Ok(None);
            }
            Err(FinishError::DirSync(e)) => {
                return Err(io_err(
                    format!(
                        "directory fsync after committing segment {seq} of {}",
                        self.camera
                    ),
                    e,
                ));
            }
        };
        let duration = media_duration(&index, next_pts.map(|p| p.0 - start_pts.0));
        let (start, end) = wall_span(self.anchor, self.last_end, &index, duration, observed_end);
        let mut seg = Segment {
            id: 0,
            camera: self.camera,
            seq,
            run,
            codec: params.codec,
            start,
            end,
            start_pts,
            duration: Pts90k(duration),
            frames: u32::try_from(index.len()).unwrap_or(u32::MAX),
            bytes: file.bytes,
            sha256: file.sha256,
            prev_chain: self.last_chain,
            chain: ZERO_LINK,
            config_record: params.config_record.clone(),
            width: params.width,
            height: params.height,
            rfc6381: params.rfc6381.clone(),
            recovered: false,
            state: SegmentState::Committed,
        };
        seg.chain = chain_link(&seg.prev_chain, &SegmentLinkInput::from(&seg));
        let chain = seg.chain;
        // The row, then the journal's removal and the trim of the gaps this run's first frame
        // closed: at once, or once the database is back (see `crate::backlog`). The file is
        // durable either way, and the chain goes on from this segment.
        self.backlog
            .push(Write::Segment(Box::new(QueuedSegment {
                seg,
                index,
                journal: file.journal,
                commit_started,
                waited: false,
            })))
            .await?;
        self.next_seq = seq + 1;
        self.last_chain = chain;
        self.anchor = if continues { Some(end) } else { None };
        self.last_end = Some(end);
        Ok(Some(end))
    }

    async fn connected(&mut self, at: WallTime) -> Result<()> {
        let end = self.close_segment(None, None).await?;
        self.new_run = true;
        if let Some(end) = end
            && !self.gap_open
        {
            // A new stream without a Disconnected first: footage between is missing.
            self.open_gap(end.min(at), GapReason::CameraOffline, "stream restarted")
                .await?;
        }
        Ok(())
    }

    async fn disconnected(&mut self, at: WallTime, reason: GapReason, detail: &str) -> Result<()> {
        let end = self.close_segment(None, None).await?;
        self.split(end.unwrap_or(at), reason, detail).await
    }

    async fn shutdown(&mut self) -> Result<()> {
        let end = self.close_segment(None, None).await?;
        // No gap of this task is open, and this task recorded something or found no gap open.
        let covered = self.gap_open || (self.stale_gaps && end.is_none());
        if !covered {
            let at = end.unwrap_or_else(|| self.clock.wall());
            self.open_gap(at, GapReason::Shutdown, "recorder stopped")
                .await?;
        }
        self.backlog.finish().await
    }
}
