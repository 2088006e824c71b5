//! Checks on every access unit before it reaches the recorder. A camera can send anything; what
//! passes here is well-formed enough to store and remux: length-prefixed NAL data that exactly
//! covers the buffer, a bounded size, sane dimensions, a config record whose NAL length size is 4,
//! and media time that never goes back nor leaps forward.

use roeh_domain::media::{MAX_ACCESS_UNIT_BYTES, check_length_prefixed};
use roeh_domain::{AccessUnit, CodecParams, Pts90k, VideoCodec};
use std::time::Duration;

/// Smallest accepted width or height in pixels.
pub const MIN_DIMENSION: u32 = 16;
/// Largest accepted width or height in pixels.
pub const MAX_DIMENSION: u32 = 16384;

/// Validation state of one connection (one recording run).
#[derive(Debug)]
pub struct FrameCheck {
    max_jump: Pts90k,
    last_pts: Option<Pts90k>,
}

impl FrameCheck {
    /// A fresh check for a new connection.
    pub fn new(max_pts_jump: Duration) -> Self {
        FrameCheck {
            max_jump: Pts90k::from_duration(max_pts_jump),
            last_pts: None,
        }
    }

    /// Checks `au`; on success remembers its media time. The error says what is wrong.
    pub fn check(&mut self, au: &AccessUnit) -> Result<(), String> {
        if au.data.len() > MAX_ACCESS_UNIT_BYTES {
            return Err(format!(
                "access unit of {} bytes exceeds the limit of {MAX_ACCESS_UNIT_BYTES}",
                au.data.len()
            ));
        }
        check_length_prefixed(&au.data).map_err(|e| format!("malformed access unit: {e}"))?;
        check_params(&au.params)?;
        if let Some(last) = self.last_pts {
            if au.pts < last {
                return Err(format!(
                    "media time went backwards from {} to {} (90 kHz)",
                    last.0, au.pts.0
                ));
            }
            let step = au.pts.since(last);
            if step > self.max_jump {
                return Err(format!(
                    "media time jumped forward by {:.3} s (limit {:.3} s)",
                    step.as_secs_f64(),
                    self.max_jump.as_secs_f64()
                ));
            }
        }
        self.last_pts = Some(au.pts);
        Ok(())
    }
}

/// Checks codec parameters: dimensions in range and a config record that the recorder can store.
pub fn check_params(p: &CodecParams) -> Result<(), String> {
    for (what, v) in [("width", p.width), ("height", p.height)] {
        if !(MIN_DIMENSION..=MAX_DIMENSION).contains(&v) {
            return Err(format!(
                "{what} {v} is outside {MIN_DIMENSION}..={MAX_DIMENSION}"
            ));
        }
    }
    let rec = &p.config_record;
    let length_size_byte = match p.codec {
        VideoCodec::H264 => rec.get(4),
        VideoCodec::H265 => rec.get(21),
        _ => return Err("unsupported codec".into()),
    };
    if rec.first() != Some(&1) {
        return Err("decoder configuration record is missing or not version 1".into());
    }
    match length_size_byte {
        Some(b) if b & 3 == 3 => Ok(()),
        Some(_) => Err("decoder configuration record does not use 4-byte NAL lengths".into()),
        None => Err("decoder configuration record is truncated".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use roeh_domain::{CameraId, WallTime};
    use std::sync::Arc;

    fn params(w: u32, h: u32) -> Arc<CodecParams> {
        Arc::new(CodecParams {
            codec: VideoCodec::H264,
            width: w,
            height: h,
            rfc6381: "avc1.4D401E".into(),
            config_record: vec![1, 0x4d, 0x40, 0x1e, 0xff, 0xe1],
        })
    }

    fn au(pts: i64, data: &'static [u8], p: Arc<CodecParams>) -> AccessUnit {
        AccessUnit {
            camera: CameraId::new_random(),
            pts: Pts90k(pts),
            received_at: WallTime(0),
            is_key: true,
            params: p,
            data: Bytes::from_static(data),
        }
    }

    #[test]
    fn accepts_good_frames_and_refuses_bad_ones() {
        let mut c = FrameCheck::new(Duration::from_secs(10));
        let good: &[u8] = &[0, 0, 0, 1, 0x65];
        c.check(&au(0, good, params(768, 576))).unwrap();
        c.check(&au(9000, good, params(768, 576))).unwrap();
        c.check(&au(9000, good, params(768, 576))).unwrap();
        assert!(c.check(&au(8999, good, params(768, 576))).is_err());
        assert!(
            c.check(&au(9000 + 900_001, good, params(768, 576)))
                .is_err()
        );
        assert!(
            c.check(&au(18000, &[0, 0, 0, 9, 1], params(768, 576)))
                .is_err()
        );
        assert!(c.check(&au(18000, &[], params(768, 576))).is_err());
        assert!(c.check(&au(18000, good, params(0, 576))).is_err());
        assert!(c.check(&au(18000, good, params(768, 65535))).is_err());
        assert!(c.check(&au(18000, good, params(15, 576))).is_err());
        c.check(&au(18000, good, params(16, 16384))).unwrap();
    }

    #[test]
    fn refuses_config_records_the_recorder_cannot_use() {
        let mut p = (*params(768, 576)).clone();
        p.config_record = vec![1, 0x4d, 0x40, 0x1e, 0xfd];
        assert!(check_params(&p).is_err());
        p.config_record = vec![];
        assert!(check_params(&p).is_err());
        p.config_record = vec![1, 2, 3];
        assert!(check_params(&p).is_err());
    }
}
