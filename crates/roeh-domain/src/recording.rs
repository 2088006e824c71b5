//! Recorded footage: segments, their per-frame index, and gaps.
//! See `docs/design/0002-recording-format.md`.

use crate::camera::CameraId;
use crate::media::VideoCodec;
use crate::time::{Pts90k, WallTime};
use serde::{Deserialize, Serialize};

/// One frame in a segment's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameIndexEntry {
    /// Byte offset of the frame in the segment file.
    pub offset: u64,
    /// Byte length of the frame.
    pub size: u32,
    /// Media time relative to the segment's first frame, 90 kHz.
    pub pts_offset: i64,
    /// Wall time at which the frame arrived.
    pub received_at: WallTime,
    /// Whether the frame is a key frame.
    pub is_key: bool,
}

/// Why footage is missing for a stretch of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GapReason {
    /// The camera could not be reached or dropped the connection.
    CameraOffline,
    /// The camera stopped sending frames without closing the connection.
    Stall,
    /// The recorder fell behind and the bounded queue stayed full too long.
    Backpressure,
    /// The process ended without closing the segment (recovered at start-up).
    Crash,
    /// roeh was shut down.
    Shutdown,
    /// The disk was full and nothing deletable remained.
    DiskFull,
    /// Wall time stepped; the run was split.
    ClockStep,
    /// A write or fsync failed.
    Io,
    /// The camera sent data roeh could not accept (malformed, absurd sizes, time jumps).
    BadStream,
    /// The camera was disabled or removed.
    Disabled,
    /// The database was unavailable longer than the recorder could hold uncommitted footage
    /// (see `roeh_recorder`'s commit backlog); footage it could hold was committed afterwards.
    Database,
}

impl GapReason {
    /// Stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::CameraOffline => "camera_offline",
            GapReason::Stall => "stall",
            GapReason::Backpressure => "backpressure",
            GapReason::Crash => "crash",
            GapReason::Shutdown => "shutdown",
            GapReason::DiskFull => "disk_full",
            GapReason::ClockStep => "clock_step",
            GapReason::Io => "io",
            GapReason::BadStream => "bad_stream",
            GapReason::Disabled => "disabled",
            GapReason::Database => "database",
        }
    }

    /// Parses [`GapReason::as_str`] output.
    pub fn parse(s: &str) -> Option<GapReason> {
        Some(match s {
            "camera_offline" => GapReason::CameraOffline,
            "stall" => GapReason::Stall,
            "backpressure" => GapReason::Backpressure,
            "crash" => GapReason::Crash,
            "shutdown" => GapReason::Shutdown,
            "disk_full" => GapReason::DiskFull,
            "clock_step" => GapReason::ClockStep,
            "io" => GapReason::Io,
            "bad_stream" => GapReason::BadStream,
            "disabled" => GapReason::Disabled,
            "database" => GapReason::Database,
            _ => return None,
        })
    }
}

/// A stretch of time with no footage, and why. `end` is `None` while the gap is open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Store id.
    pub id: i64,
    /// Camera.
    pub camera: CameraId,
    /// Start (wall time of the last recorded frame's end, or when footage stopped).
    pub start: WallTime,
    /// End (first frame of the next recording), `None` while open.
    pub end: Option<WallTime>,
    /// Why.
    pub reason: GapReason,
    /// Free-text detail for operators (never contains credentials).
    pub detail: String,
}

/// Lifecycle of a segment row.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentState {
    /// Bytes on disk and row committed.
    Committed,
    /// Bytes deleted by retention; the row (and its hash) stays as proof of what existed.
    Deleted,
}

/// A closed, immutable recording file and its link in the camera's hash chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Store id.
    pub id: i64,
    /// Camera.
    pub camera: CameraId,
    /// Position in the camera's chain, from 1, no holes.
    pub seq: u64,
    /// Recording run (a run is one unbroken connection; a new run starts after any gap).
    pub run: u64,
    /// Codec of the bytes.
    pub codec: VideoCodec,
    /// Wall time of the first frame.
    pub start: WallTime,
    /// Wall time at the end of the last frame.
    pub end: WallTime,
    /// Media time of the first frame (90 kHz, run-relative).
    pub start_pts: Pts90k,
    /// Media duration of the segment (90 kHz).
    pub duration: Pts90k,
    /// Number of frames.
    pub frames: u32,
    /// Byte length of the file.
    pub bytes: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: [u8; 32],
    /// Chain link of the previous segment (zeros for the first).
    pub prev_chain: [u8; 32],
    /// This segment's chain link.
    pub chain: [u8; 32],
    /// Codec parameters (decoder configuration record) in force for the segment.
    pub config_record: Vec<u8>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// RFC 6381 codec string.
    pub rfc6381: String,
    /// Whether this segment was recovered from a crash (may end early).
    pub recovered: bool,
    /// Committed or deleted by retention.
    pub state: SegmentState,
}
