//! Domain types of roeh. This crate performs no I/O and has no async runtime: every other crate
//! shares these types, so they stay small, pure and cheap to compile.
//!
//! Invariants kept here:
//! - media time is always 90 kHz ([`Pts90k`]); wall time is always UTC microseconds ([`WallTime`]);
//! - a [`CameraUrl`] never carries credentials and is only ever `rtsp` or `rtsps`;
//! - secrets ([`Secret`]) never print in `Debug` or `Display`.

pub mod camera;
pub mod clock;
pub mod error;
pub mod map;
pub mod media;
pub mod recording;
pub mod text;
pub mod time;
pub mod token;

pub use camera::{
    Camera, CameraId, CameraUrl, Credentials, Retention, Secret, SourceKind, Transport,
};
pub use clock::{Clock, OffsetClock, SimClock, SystemClock};
pub use error::{Error, ErrorKind};
pub use map::MapTiles;
pub use media::{AccessUnit, CodecParams, IngestEvent, StreamHealth, StreamState, VideoCodec};
pub use recording::{FrameIndexEntry, Gap, GapReason, Segment, SegmentState};
pub use time::{Pts90k, WallTime};
pub use token::TokenKind;
