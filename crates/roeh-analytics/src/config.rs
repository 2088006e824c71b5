//! Settings of the analytics path.
//!
//! Invariants: a config that passed [`AnalyticsConfig::validate`] has `1..=64` frames per batch,
//! a batch wait of at most one second, a frame queue of `1..=4096` frames, a default rate within
//! `(0, MAX_FPS]`, pre- and post-rolls of at most ten minutes, a tick of 100 ms to one minute, a
//! JPEG quality within `1..=100`, a latency window of at least one batch, and a valid decode
//! config.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use roeh_decode::DecodeConfig;
use roeh_domain::ErrorKind;
use roeh_metrics::Metrics;
use roeh_rules::EngineConfig;

use crate::{Error, Result};

/// Highest analysis rate a camera may ask for, frames per second.
pub const MAX_FPS: f64 = 30.0;

/// What the frame queue between the decoders and the detector does when it is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrameQueueFull {
    /// The decoder's new frame is dropped (counted as `frames_dropped_queue`, and in the
    /// camera's decode `dropped_output`); frames already queued are kept.
    #[default]
    DropNewest,
}

/// Settings of [`crate::Analytics`].
#[derive(Clone, Debug)]
pub struct AnalyticsConfig {
    /// Where incident snapshots (`<incident id>.jpg`) are written.
    pub snapshot_dir: PathBuf,
    /// Most frames per detector call. Default 4.
    pub max_batch: usize,
    /// How long the first frame of a batch waits for more. Default 40 ms.
    pub max_wait: Duration,
    /// Capacity of the one frame queue shared by every camera's decoder. Default 8.
    pub queue_frames: usize,
    /// What the frame queue does when full.
    pub queue_full: FrameQueueFull,
    /// Frames that waited longer than this (since the camera sent them) are skipped before
    /// detection (counted as `frames_dropped_stale`). Default 5 s.
    pub max_frame_age: Duration,
    /// Analysis rate of cameras without their own setting, frames per second. Default 5.
    pub default_fps: f64,
    /// Evidence window before an incident opens. Default 10 s.
    pub pre_roll: Duration,
    /// Evidence window after an incident closes. Default 10 s.
    pub post_roll: Duration,
    /// Decoder settings; the rate is replaced by each camera's own.
    pub decode: DecodeConfig,
    /// Rule engine settings.
    pub engine: EngineConfig,
    /// How often the rule engine ticks (closes incidents, checks schedules). Default 1 s.
    pub tick: Duration,
    /// JPEG quality of snapshots. Default 85.
    pub jpeg_quality: u8,
    /// Batches kept for the inference latency percentiles. Default 512.
    pub latency_window: usize,
    /// The process's metrics: decode and inference latency, the frame queue's depth. Fresh
    /// ones by default.
    pub metrics: Arc<Metrics>,
}

impl AnalyticsConfig {
    /// The defaults, with snapshots under `snapshot_dir`. Decoding keeps frames up to 1280
    /// pixels wide, so snapshots of common cameras have the camera's own size.
    pub fn new(snapshot_dir: impl Into<PathBuf>) -> AnalyticsConfig {
        AnalyticsConfig {
            snapshot_dir: snapshot_dir.into(),
            max_batch: 4,
            max_wait: Duration::from_millis(40),
            queue_frames: 8,
            queue_full: FrameQueueFull::DropNewest,
            max_frame_age: Duration::from_secs(5),
            default_fps: 5.0,
            pre_roll: Duration::from_secs(10),
            post_roll: Duration::from_secs(10),
            decode: DecodeConfig {
                max_width: 1280,
                ..DecodeConfig::default()
            },
            engine: EngineConfig::default(),
            tick: Duration::from_secs(1),
            jpeg_quality: 85,
            latency_window: 512,
            metrics: Metrics::new(),
        }
    }

    /// Checks the ranges in the module docs.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::new(ErrorKind::InvalidArgument, m));
        if !(1..=64).contains(&self.max_batch) {
            return bad(format!(
                "analytics max_batch {} is out of range 1..=64",
                self.max_batch
            ));
        }
        if self.max_wait > Duration::from_secs(1) {
            return bad("analytics max_wait must be at most 1 s".into());
        }
        if !(1..=4096).contains(&self.queue_frames) {
            return bad(format!(
                "analytics queue_frames {} is out of range 1..=4096",
                self.queue_frames
            ));
        }
        check_fps(self.default_fps)?;
        let ten_minutes = Duration::from_secs(600);
        if self.pre_roll > ten_minutes || self.post_roll > ten_minutes {
            return bad("analytics pre- and post-roll must be at most 600 s".into());
        }
        if self.tick < Duration::from_millis(100) || self.tick > Duration::from_secs(60) {
            return bad("analytics tick must be between 0.1 and 60 s".into());
        }
        if self.max_frame_age.is_zero() {
            return bad("analytics max_frame_age must be positive".into());
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad(format!(
                "analytics jpeg_quality {} is out of range 1..=100",
                self.jpeg_quality
            ));
        }
        if self.latency_window == 0 {
            return bad("analytics latency_window must be at least 1".into());
        }
        self.decode
            .validate()
            .map_err(|e| Error::with_source(e.kind(), "analytics decode settings", e))
    }
}

/// Checks an analysis rate: finite, positive, at most [`MAX_FPS`].
pub fn check_fps(fps: f64) -> Result<()> {
    if fps.is_finite() && fps > 0.0 && fps <= MAX_FPS {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("analysis fps {fps} is out of range (0, {MAX_FPS}]"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Change = Box<dyn Fn(&mut AnalyticsConfig)>;

    #[test]
    fn defaults_validate_and_ranges_are_checked() {
        let ok = AnalyticsConfig::new("/tmp/s");
        assert!(ok.validate().is_ok());
        let cases: Vec<Change> = vec![
            Box::new(|c| c.max_batch = 0),
            Box::new(|c| c.max_batch = 65),
            Box::new(|c| c.max_wait = Duration::from_secs(2)),
            Box::new(|c| c.queue_frames = 0),
            Box::new(|c| c.default_fps = 0.0),
            Box::new(|c| c.default_fps = f64::NAN),
            Box::new(|c| c.default_fps = 31.0),
            Box::new(|c| c.pre_roll = Duration::from_secs(601)),
            Box::new(|c| c.tick = Duration::from_millis(10)),
            Box::new(|c| c.jpeg_quality = 0),
            Box::new(|c| c.latency_window = 0),
            Box::new(|c| c.max_frame_age = Duration::ZERO),
            Box::new(|c| c.decode.threads = 0),
        ];
        for (i, f) in cases.iter().enumerate() {
            let mut c = ok.clone();
            f(&mut c);
            let e = c.validate().err();
            assert_eq!(
                e.map(|e| e.kind()),
                Some(ErrorKind::InvalidArgument),
                "case {i}"
            );
        }
    }
}
