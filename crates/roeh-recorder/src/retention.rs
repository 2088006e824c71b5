//! Retention (per camera, by age and by bytes) and freeing space when the disk is full.
//!
//! Invariants:
//! - only committed segments are deleted; the open segment has no row and is never touched;
//! - a held range ([`LegalHolds::is_held`]) is never deleted, by retention or by disk-full
//!   handling;
//! - deleting a segment marks its row `deleted` first, then removes the file and fsyncs the
//!   directory. The row and its hashes remain as proof of what existed; a crash between the two
//!   steps leaves a file whose row says `deleted`, which [`crate::recover`] removes.

use crate::{Result, blocking, io_err, layout};
use roeh_domain::{CameraId, Clock, Retention, Segment, SegmentState, WallTime};
use roeh_store::Store;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

/// Legal holds on footage. A later issue stores holds (case id, range, expiry) in the store;
/// until then [`NoHolds`] holds nothing.
pub trait LegalHolds: Send + Sync + fmt::Debug + 'static {
    /// Whether any footage of `camera` within `[start, end)` is held and must not be deleted.
    fn is_held(&self, camera: CameraId, start: WallTime, end: WallTime) -> bool;
}

/// No legal holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHolds;

impl LegalHolds for NoHolds {
    fn is_held(&self, _camera: CameraId, _start: WallTime, _end: WallTime) -> bool {
        false
    }
}

/// A boxed future, for the object-safe [`DiskSpace`] trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Frees disk space when a write fails with "no space left". Shared by all cameras' recorders.
pub trait DiskSpace: Send + Sync + fmt::Debug + 'static {
    /// Deletes the oldest deletable footage until at least `want_bytes` were freed or nothing
    /// deletable remains; returns the bytes freed.
    fn free_oldest(&self, want_bytes: u64) -> BoxFuture<'_, Result<u64>>;
}

/// The default [`DiskSpace`]: deletes the oldest committed, unheld segments across all cameras.
#[derive(Debug, Clone)]
pub struct OldestFirst {
    store: Store,
    root: PathBuf,
    holds: Arc<dyn LegalHolds>,
    clock: Arc<dyn Clock>,
}

impl OldestFirst {
    /// Frees space under `root`, recording deletions in `store` at `clock`'s time.
    pub fn new(
        store: Store,
        root: PathBuf,
        holds: Arc<dyn LegalHolds>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        OldestFirst {
            store,
            root,
            holds,
            clock,
        }
    }
}

/// How many of the oldest segments one disk-full pass considers.
const DISK_FULL_PAGE: u32 = 1024;

impl DiskSpace for OldestFirst {
    fn free_oldest(&self, want_bytes: u64) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let mut freed = 0u64;
            let segs = self.store.oldest_segments(None, DISK_FULL_PAGE).await?;
            for s in segs {
                if freed >= want_bytes {
                    break;
                }
                if self.holds.is_held(s.camera, s.start, s.end) {
                    continue;
                }
                delete_segment(&self.store, &self.root, &s, self.clock.wall()).await?;
                freed += s.bytes;
                tracing::warn!(camera = %s.camera, seq = s.seq, bytes = s.bytes,
                    "Deleted oldest segment to free disk space.");
            }
            Ok(freed)
        })
    }
}

/// What a retention pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Seqs deleted for age.
    pub deleted_for_age: Vec<u64>,
    /// Seqs deleted for size.
    pub deleted_for_bytes: Vec<u64>,
    /// Bytes freed.
    pub bytes_freed: u64,
    /// Segments kept only because they are held.
    pub held: u64,
}

/// Deletes one committed segment: marks the row `deleted`, removes the file, fsyncs the
/// directory. A file already gone is not an error (the row is what matters).
pub async fn delete_segment(store: &Store, root: &Path, seg: &Segment, at: WallTime) -> Result<()> {
    if seg.state != SegmentState::Committed {
        return Ok(());
    }
    store.mark_segment_deleted(seg.id, at).await?;
    let path = layout::segment_path(root, seg.camera, seg.seq, seg.codec);
    let dir = layout::camera_dir(root, seg.camera);
    blocking(move || -> Result<()> {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing segment file", e)),
        }
        layout::fsync_dir(&dir).map_err(|e| io_err("syncing camera directory", e))
    })
    .await?
}

/// Applies a camera's retention policy at `now`: first deletes, oldest first, committed segments
/// that ended more than `max_age` ago; then the oldest while the camera's committed bytes exceed
/// `max_bytes`. Held segments are skipped (and counted).
pub async fn enforce_retention(
    store: &Store,
    root: &Path,
    camera: CameraId,
    policy: &Retention,
    now: WallTime,
    holds: &dyn LegalHolds,
) -> Result<RetentionReport> {
    let mut report = RetentionReport::default();
    const PAGE: u32 = 256;
    if let Some(max_age) = policy.max_age {
        let cutoff = now.minus(max_age);
        let mut done = false;
        let mut skipped = 0u64;
        while !done {
            let segs = store
                .oldest_segments(Some(camera), PAGE + skipped as u32)
                .await?;
            let n = segs.len();
            let mut progressed = false;
            for s in segs.into_iter().skip(skipped as usize) {
                if s.end >= cutoff {
                    done = true;
                    break;
                }
                if holds.is_held(camera, s.start, s.end) {
                    skipped += 1;
                    report.held += 1;
                    continue;
                }
                delete_segment(store, root, &s, now).await?;
                report.bytes_freed += s.bytes;
                report.deleted_for_age.push(s.seq);
                progressed = true;
            }
            if n < (PAGE + skipped as u32) as usize || !progressed {
                done = true;
            }
        }
    }
    if let Some(max_bytes) = policy.max_bytes {
        let mut total = store.camera_bytes(camera).await?;
        let mut skipped = 0usize;
        'outer: while total > max_bytes {
            let segs = store
                .oldest_segments(Some(camera), PAGE + skipped as u32)
                .await?;
            if segs.len() <= skipped {
                break;
            }
            for s in segs.into_iter().skip(skipped) {
                if total <= max_bytes {
                    break 'outer;
                }
                if holds.is_held(camera, s.start, s.end) {
                    skipped += 1;
                    report.held += 1;
                    continue;
                }
                delete_segment(store, root, &s, now).await?;
                total = total.saturating_sub(s.bytes);
                report.bytes_freed += s.bytes;
                report.deleted_for_bytes.push(s.seq);
            }
        }
    }
    if report.bytes_freed > 0 {
        tracing::info!(%camera, freed = report.bytes_freed,
            age = report.deleted_for_age.len(), size = report.deleted_for_bytes.len(),
            "Retention deleted segments.");
    }
    Ok(report)
}
