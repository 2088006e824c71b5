//! The roeh recorder: turns a camera's [`roeh_domain::IngestEvent`]s into segment files that hold
//! the camera's coded bytes untouched, with a per-frame index, a SHA-256 per segment and a
//! per-camera hash chain, and into gap records whenever footage is missing.
//!
//! # Invariants
//! - **Byte-exact.** A segment file is the concatenation of the access units' `data`, as
//!   received; nothing is decoded or re-encoded. Segments start on a key frame.
//! - **Commit order.** data file fsync → rename `.partial` → final name → directory fsync →
//!   index row inserted (with its hash-chain link) → journal removed. A segment is committed
//!   only once its row is in; committed files are never modified, only deleted by retention or
//!   disk-full handling after their row is marked `deleted`.
//! - **Crash safety.** While a segment is open, frames are written in batches spanning at most
//!   the commit interval (default 500 ms), each frame with a checksummed journal record, so
//!   [`recover`] can commit the verified prefix of a segment interrupted by `kill -9` or power
//!   loss (marked `recovered`), and quarantines anything it cannot verify. Nothing unverified is
//!   committed; nothing committed is touched by recovery.
//! - **Gaps are facts.** Whenever frames are not being recorded, a gap row is open: disconnects
//!   (with ingest's reason), dropped frames while waiting for a key frame, bad media time,
//!   clock steps, disk full, I/O errors, a database away longer than the backlog holds,
//!   shutdown and crashes. A gap is closed at the arrival of the first frame of the next
//!   segment; at that moment *all* open gaps of the camera are closed (including `shutdown` and
//!   `crash` gaps left by an earlier process).
//! - **Database outages cost no committed footage.** Store writes go through a per-camera
//!   backlog ([`backlog`]): while the database is unavailable, finished segments stay durable
//!   on disk with their journals, their rows and the gap writes wait in order, and recording
//!   goes on; when the database answers again they are written (a segment insert is idempotent
//!   on its seq and hash). The backlog is bounded: when full, no new segment opens and a gap
//!   with reason `database` covers the time until it has room again.
//! - **Bounded.** Memory per camera is one frame plus the open segment's index (and the
//!   backlog's, while the database is away); frames larger than
//!   [`roeh_domain::media::MAX_ACCESS_UNIT_BYTES`] are refused. File I/O runs on the blocking
//!   pool, never on the async executor.
//!
//! # Time
//! Media time is the access unit's 90 kHz pts. Wall time is the access unit's `received_at`
//! (stamped by ingest from the injected [`roeh_domain::Clock`]). Per segment:
//! - `duration` = media time from the first frame to the first frame of the following segment
//!   (when the segment was closed for length or a parameter change), else to the last frame plus
//!   the previous frame interval;
//! - `start` = the previous segment's `end` when both belong to the same run (so segments of a
//!   run are contiguous and never overlap), else the earliest origin the segment's frames imply
//!   (`received_at` minus media offset: frames that arrive in a burst after a connect are
//!   older than their arrival), but never
//!   before the end of the camera's last committed segment (frames arriving in a burst after a
//!   reconnect must not overlap earlier footage);
//! - `end` = `start` + `duration`, corrected toward the observed arrival of what follows by at
//!   most 500 ppm of the duration (the slew bound of ARCHITECTURE decision 4).
//!
//! The recorder also compares [`roeh_domain::Clock::wall`] with [`roeh_domain::Clock::monotonic`]
//! at every frame: if wall time moved more than `clock_step_threshold` (1 s) differently from
//! monotonic time, it writes a `time_events` row, closes the segment, opens a `clock_step` gap
//! and starts a new run at the next key frame.

pub mod backlog;
pub mod journal;
pub mod layout;
mod read;
mod recorder;
mod recovery;
mod retention;
mod writer;

pub use layout::{journal_path, partial_path, segment_path};
pub use read::{VerifyReport, read_segment, read_segment_frames, split_frames, verify_camera};
pub use recorder::{RecorderConfig, RecorderStats, run_recorder};
pub use recovery::{RecoveryReport, recover, recover_camera, recover_where};
pub use retention::{
    DiskSpace, LegalHolds, NoHolds, OldestFirst, RetentionReport, delete_segment, enforce_retention,
};

roeh_domain::define_error!();

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<roeh_store::Error> for Error {
    fn from(e: roeh_store::Error) -> Self {
        Error::with_source(e.kind(), "store", e)
    }
}

/// An I/O error as this crate's error: `ResourceExhausted` for a full disk, `NotFound`, else
/// `Unavailable`.
pub(crate) fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> Error {
    let kind = if layout::is_storage_full(&e) {
        roeh_domain::ErrorKind::ResourceExhausted
    } else if e.kind() == std::io::ErrorKind::NotFound {
        roeh_domain::ErrorKind::NotFound
    } else {
        roeh_domain::ErrorKind::Unavailable
    };
    Error::with_source(kind, what, e)
}

/// Runs blocking work on tokio's blocking pool; a panic there becomes an `Internal` error.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Error::with_source(roeh_domain::ErrorKind::Internal, "blocking task failed", e)
    })
}
