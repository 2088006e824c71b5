//! Coded video as it travels from ingest to the recorder and the decoder.
//!
//! An [`AccessUnit`] is one coded picture exactly as the camera sent it, in the length-prefixed
//! framing of ISO/IEC 14496-15 (each NAL unit preceded by its 4-byte big-endian length) — the
//! framing that MP4 stores, so an export is a remux and never a re-encode.

use crate::camera::CameraId;
use crate::time::{Pts90k, WallTime};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Video codecs roeh records.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum VideoCodec {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    H265,
}

impl VideoCodec {
    /// Lowercase name (`h264`, `h265`), used in file names and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
        }
    }

    /// Parses [`VideoCodec::as_str`] output.
    pub fn parse(s: &str) -> Option<VideoCodec> {
        match s {
            "h264" => Some(VideoCodec::H264),
            "h265" => Some(VideoCodec::H265),
            _ => None,
        }
    }
}

/// Parameters of a coded stream, enough to write an MP4 sample entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodecParams {
    /// The codec.
    pub codec: VideoCodec,
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// RFC 6381 codec string, e.g. `avc1.4d401e`.
    pub rfc6381: String,
    /// The decoder configuration record: `AVCDecoderConfigurationRecord` (avcC) for H.264,
    /// `HEVCDecoderConfigurationRecord` (hvcC) for H.265.
    pub config_record: Vec<u8>,
}

/// Largest access unit accepted anywhere in roeh (a hostile camera can claim anything).
pub const MAX_ACCESS_UNIT_BYTES: usize = 16 * 1024 * 1024;

/// One coded picture as received. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessUnit {
    /// Which camera sent it.
    pub camera: CameraId,
    /// Media time from RTP, 90 kHz, since the start of this stream run.
    pub pts: Pts90k,
    /// Wall time at which roeh received it (from the injected clock).
    pub received_at: WallTime,
    /// Whether this picture is a random access point (IDR / IRAP).
    pub is_key: bool,
    /// Parameters in force for this picture; the same `Arc` until they change.
    pub params: Arc<CodecParams>,
    /// The NAL units, each preceded by a 4-byte big-endian length.
    pub data: Bytes,
}

/// Checks that `data` is well-formed 4-byte-length-prefixed NAL data: every length is non-zero
/// and the lengths exactly cover the buffer. Returns the number of NAL units.
pub fn check_length_prefixed(data: &[u8]) -> Result<usize, &'static str> {
    let mut rest = data;
    let mut n = 0usize;
    if rest.is_empty() {
        return Err("empty access unit");
    }
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err("truncated NAL length prefix");
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len == 0 {
            return Err("zero-length NAL unit");
        }
        if len > rest.len() - 4 {
            return Err("NAL length exceeds access unit");
        }
        rest = &rest[4 + len..];
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_checks() {
        assert_eq!(check_length_prefixed(&[0, 0, 0, 1, 0x65]), Ok(1));
        assert_eq!(
            check_length_prefixed(&[0, 0, 0, 1, 0x65, 0, 0, 0, 2, 1, 2]),
            Ok(2)
        );
        assert!(check_length_prefixed(&[]).is_err());
        assert!(check_length_prefixed(&[0, 0, 0, 0]).is_err());
        assert!(check_length_prefixed(&[0xff, 0xff, 0xff, 0xff, 1]).is_err());
        assert!(check_length_prefixed(&[0, 0, 1]).is_err());
    }
}

/// What ingest hands to the recorder: frames, and the facts about the connection that the
/// recorder turns into segment boundaries and gap records.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum IngestEvent {
    /// A coded picture.
    Frame(AccessUnit),
    /// The stream (re)started: media time restarts from a new origin; the next frame is a key
    /// frame. The recorder starts a new run.
    Connected {
        /// Camera.
        camera: CameraId,
        /// When the stream started.
        at: WallTime,
    },
    /// The stream ended or was torn down. The recorder closes its open segment and opens a gap
    /// with this reason, which stays open until the next frame arrives.
    Disconnected {
        /// Camera.
        camera: CameraId,
        /// When the last good data was seen (or the failure was noticed).
        at: WallTime,
        /// Why.
        reason: crate::recording::GapReason,
        /// Detail for operators (never contains credentials).
        detail: String,
    },
}

/// Connection state of one camera stream.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamState {
    /// Not started yet, or disabled.
    #[default]
    Idle,
    /// Opening the RTSP session.
    Connecting,
    /// Frames are flowing.
    Streaming,
    /// Waiting before the next reconnect attempt.
    Backoff,
    /// Stopped for good (shutdown or camera removed).
    Stopped,
}

/// Health of one camera stream, as shown to operators and integrators.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamHealth {
    /// Connection state.
    pub state: StreamState,
    /// Wall time of the last frame received.
    #[cfg_attr(feature = "schema", schemars(with = "Option<i64>"))]
    pub last_frame_at: Option<WallTime>,
    /// Frames per second over the last few seconds.
    pub fps: f64,
    /// Bits per second over the last few seconds.
    pub bitrate_bps: f64,
    /// Reconnects since start.
    pub reconnects: u64,
    /// Frames received since start.
    pub frames: u64,
    /// Bytes received since start.
    pub bytes: u64,
    /// The last error, without credentials.
    pub last_error: Option<String>,
    /// Codec in use, if known.
    pub codec: Option<VideoCodec>,
    /// Resolution, if known.
    pub width: Option<u32>,
    /// Resolution, if known.
    pub height: Option<u32>,
}
