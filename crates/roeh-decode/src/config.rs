//! Per-camera decode settings and the output size rule.
//!
//! Invariants: a [`DecodeConfig`] that passed [`DecodeConfig::validate`] has a finite analysis
//! rate in `(0, 120]` fps, a `max_width` in `16..=8192`, `1..=16` decoder threads and a queue
//! capacity in `1..=4096`. [`target_size`] never upscales and always returns even dimensions of
//! at least 2×2, or `None`.

use roeh_domain::ErrorKind;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Highest analysis rate accepted, in frames per second.
pub const MAX_ANALYSIS_FPS: f32 = 120.0;

/// Which decoded pictures are converted and handed to analytics.
///
/// In TOML: `rate = { fps = 5.0 }`, `rate = "key_frames_only"` or `rate = "all"`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisRate {
    /// At most this many frames per second of media time (pts), evenly spaced. Every picture is
    /// still decoded; only the selected ones are converted.
    Fps(f32),
    /// Only key frames: the others are never even fed to the decoder.
    KeyFramesOnly,
    /// Every decoded picture.
    All,
}

impl Default for AnalysisRate {
    fn default() -> Self {
        AnalysisRate::Fps(5.0)
    }
}

/// Hardware decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HwAccel {
    /// Software decoding (libavcodec's native decoders).
    #[default]
    None,
    /// NVIDIA NVDEC through FFmpeg's `h264_cuvid` / `hevc_cuvid` decoders, which return frames in
    /// system memory (NV12); scaling and conversion stay on the CPU. When that decoder is missing
    /// from the FFmpeg build or fails to open (no GPU, no driver), decoding falls back to software
    /// with a warning and [`crate::DecodeStatsSnapshot::hw_fallback`] set.
    ///
    /// Not covered by the automated tests, which run without a GPU.
    Cuda,
}

/// Decode settings of one camera.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeConfig {
    /// Which pictures go to analytics. Default 5 fps.
    pub rate: AnalysisRate,
    /// Widest output in pixels; larger pictures are scaled down keeping their aspect ratio,
    /// smaller ones are never scaled up. Default 640.
    pub max_width: u32,
    /// FFmpeg decoder threads (frame threading when above 1, which delays output by as many
    /// pictures). Default 1.
    pub threads: usize,
    /// Hardware decoding. Default none.
    pub hwaccel: HwAccel,
    /// Access units the stage queues between ingest and the decoder thread (about one GOP).
    /// Default 32.
    pub queue_capacity: usize,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            rate: AnalysisRate::default(),
            max_width: 640,
            threads: 1,
            hwaccel: HwAccel::None,
            queue_capacity: 32,
        }
    }
}

impl DecodeConfig {
    /// Checks the ranges documented in the module header.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::new(ErrorKind::InvalidArgument, msg));
        if let AnalysisRate::Fps(fps) = self.rate
            && !(fps.is_finite() && fps > 0.0 && fps <= MAX_ANALYSIS_FPS)
        {
            return bad(format!(
                "decode rate {fps} fps is out of range (0, {MAX_ANALYSIS_FPS}]"
            ));
        }
        if !(16..=8192).contains(&self.max_width) {
            return bad(format!(
                "decode max_width {} is out of range 16..=8192",
                self.max_width
            ));
        }
        if !(1..=16).contains(&self.threads) {
            return bad(format!(
                "decode threads {} is out of range 1..=16",
                self.threads
            ));
        }
        if !(1..=4096).contains(&self.queue_capacity) {
            return bad(format!(
                "decode queue_capacity {} is out of range 1..=4096",
                self.queue_capacity
            ));
        }
        Ok(())
    }
}

/// The output size for a `src_width`×`src_height` picture: at most `max_width` wide, never wider
/// than the source, aspect ratio kept (pixels taken as square), both dimensions rounded down to
/// even. `None` when the result would be smaller than 2×2.
pub fn target_size(src_width: u32, src_height: u32, max_width: u32) -> Option<(u32, u32)> {
    if src_width == 0 || src_height == 0 {
        return None;
    }
    let width = src_width.min(max_width) & !1;
    let height = if width == src_width {
        src_height
    } else {
        let h = (u64::from(src_height) * u64::from(width) + u64::from(src_width) / 2)
            / u64::from(src_width);
        u32::try_from(h).ok()?
    } & !1;
    (width >= 2 && height >= 2).then_some((width, height))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_sizes() {
        assert_eq!(target_size(768, 576, 640), Some((640, 480)));
        assert_eq!(target_size(384, 288, 640), Some((384, 288)));
        assert_eq!(target_size(1920, 1080, 640), Some((640, 360)));
        assert_eq!(target_size(2560, 1440, 640), Some((640, 360)));
        assert_eq!(target_size(641, 481, 640), Some((640, 480)));
        assert_eq!(target_size(333, 101, 640), Some((332, 100)));
        assert_eq!(target_size(1, 100, 640), None);
        assert_eq!(target_size(0, 100, 640), None);
        assert_eq!(target_size(4000, 2, 640), None);
    }

    #[test]
    fn validation() {
        assert!(DecodeConfig::default().validate().is_ok());
        for rate in [0.0, -1.0, 121.0, f32::NAN, f32::INFINITY] {
            let c = DecodeConfig {
                rate: AnalysisRate::Fps(rate),
                ..DecodeConfig::default()
            };
            assert_eq!(
                c.validate().unwrap_err().kind(),
                ErrorKind::InvalidArgument,
                "{rate}"
            );
        }
        let c = DecodeConfig {
            max_width: 8,
            ..DecodeConfig::default()
        };
        assert!(c.validate().is_err());
        let c = DecodeConfig {
            threads: 0,
            ..DecodeConfig::default()
        };
        assert!(c.validate().is_err());
        let c = DecodeConfig {
            queue_capacity: 0,
            ..DecodeConfig::default()
        };
        assert!(c.validate().is_err());
    }
}
