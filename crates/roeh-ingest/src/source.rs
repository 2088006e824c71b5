//! The seam between a camera and the camera task (STYLE.md rule 1): an [`Opener`] opens a
//! camera and returns a [`MediaStream`] of access units. Real implementations speak RTSP or drive
//! GStreamer; tests use scripted fakes.
//!
//! Contract for implementations:
//! - [`MediaStream::next`] yields only video access units of one stream, with `data` in 4-byte
//!   length-prefixed NAL framing, `pts` in 90 kHz units relative to the start of this stream,
//!   `received_at` read from the injected clock, and `params` shared (same `Arc`) until they
//!   change;
//! - `Ok(None)` means the source ended (EOF); an error means it failed;
//! - dropping the stream tears the session down;
//! - neither the opener nor the stream needs to bound its own waits: the camera task does.
//!   They must be cancel-safe (dropping a pending future loses nothing but that wait).

use crate::Error;
use roeh_domain::{AccessUnit, Camera, Clock};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, sendable future, as returned by the trait methods here.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens a camera. This is a trait for test injection.
pub trait Opener: Send + Sync + std::fmt::Debug {
    /// Connects to `camera` and starts playing. Frames are stamped with `clock`'s wall time.
    fn open<'a>(
        &'a self,
        camera: &'a Camera,
        clock: Arc<dyn Clock>,
    ) -> BoxFuture<'a, Result<Box<dyn MediaStream>, Error>>;
}

/// A playing source of access units. See the module docs for the contract.
pub trait MediaStream: Send {
    /// The next access unit; `Ok(None)` at the end of the source.
    fn next(&mut self) -> BoxFuture<'_, Result<Option<AccessUnit>, Error>>;
}

/// The RFC 6381 codec string described by a decoder configuration record: `avc1.PPCCLL` from an
/// avcC, `hvc1.…` from an hvcC (ISO/IEC 14496-15 annex E). `None` if the record is too short.
pub fn rfc6381_from_config_record(codec: roeh_domain::VideoCodec, record: &[u8]) -> Option<String> {
    use std::fmt::Write as _;
    match codec {
        roeh_domain::VideoCodec::H264 => {
            let b = record.get(1..4)?;
            Some(format!("avc1.{:02X}{:02X}{:02X}", b[0], b[1], b[2]))
        }
        roeh_domain::VideoCodec::H265 => {
            let b = record.get(..13)?;
            let space = match b[1] >> 6 {
                0 => "",
                1 => "A",
                2 => "B",
                _ => "C",
            };
            let tier = if b[1] & 0x20 != 0 { "H" } else { "L" };
            let idc = b[1] & 0x1f;
            let compat = u32::from_be_bytes([b[2], b[3], b[4], b[5]]).reverse_bits();
            let level = b[12];
            let mut out = format!("hvc1.{space}{idc}.{compat:X}.{tier}{level}");
            let mut flags = &b[6..12];
            while let [head @ .., 0] = flags {
                if head.is_empty() {
                    break;
                }
                flags = head;
            }
            for f in flags {
                let _ = write!(out, ".{f:02X}");
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roeh_domain::VideoCodec;

    #[test]
    fn rfc6381_strings() {
        assert_eq!(
            rfc6381_from_config_record(VideoCodec::H264, &[1, 0x4d, 0x40, 0x1e, 0xff]).as_deref(),
            Some("avc1.4D401E")
        );
        // Main profile, compat flags 0x60000000 (flags 1 and 2), level 3.0, progressive source.
        let hvcc = [1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 90];
        assert_eq!(
            rfc6381_from_config_record(VideoCodec::H265, &hvcc).as_deref(),
            Some("hvc1.1.6.L90.90")
        );
        assert_eq!(
            rfc6381_from_config_record(VideoCodec::H265, &hvcc[..5]),
            None
        );
        assert_eq!(rfc6381_from_config_record(VideoCodec::H264, &[1]), None);
    }
}
