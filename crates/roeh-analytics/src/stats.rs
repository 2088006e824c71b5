//! Counters and measurements of the analytics path, and their serialisable report.
//!
//! Invariants: counters only grow; latency percentiles are over the last
//! [`crate::AnalyticsConfig::latency_window`] batches (nearest-rank); a camera's decode counters
//! add up every decode stage the camera has had since start.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use roeh_decode::DecodeStatsSnapshot;
use roeh_domain::CameraId;
use serde::Serialize;

/// What [`crate::Analytics::stats`] reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AnalyticsStats {
    /// The detection model in use.
    pub model_id: String,
    /// Hotspots loaded in the rule engine.
    pub hotspots: usize,
    /// Rules loaded in the rule engine (enabled or not).
    pub rules: usize,
    /// Cameras whose pictures are being decoded now.
    pub cameras_analysed: usize,
    /// Per camera that has been decoded since start.
    pub cameras: Vec<CameraStats>,
    /// Frames run through the detector.
    pub frames_analysed: u64,
    /// Frames dropped because the shared frame queue was full.
    pub frames_dropped_queue: u64,
    /// Frames skipped because they were older than `max_frame_age` when their turn came.
    pub frames_dropped_stale: u64,
    /// Frames whose detection failed.
    pub detect_errors: u64,
    /// Detector calls.
    pub batches: u64,
    /// Mean frames per detector call.
    pub batch_size_mean: f64,
    /// `batch_sizes[n]`: detector calls with `n` frames (index 0 unused).
    pub batch_sizes: Vec<u64>,
    /// Median time of one detector call over the window, milliseconds.
    pub inference_ms_p50: f64,
    /// 99th percentile of one detector call over the window, milliseconds.
    pub inference_ms_p99: f64,
    /// Detector calls in the latency window.
    pub inference_window: usize,
    /// Incidents opened since start.
    pub incidents_opened: u64,
    /// Incidents closed since start.
    pub incidents_closed: u64,
}

/// Decode figures of one camera.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CameraStats {
    /// The camera.
    pub camera: CameraId,
    /// Whether a decode stage runs for it now.
    pub decoding: bool,
    /// Its analysis rate, frames per second.
    pub fps_target: f64,
    /// Frames converted for analysis per second, over the last few seconds.
    pub decode_fps: f64,
    /// Access units offered to its decoder.
    pub received: u64,
    /// Pictures decoded.
    pub decoded: u64,
    /// Pictures converted for analysis.
    pub analysed: u64,
    /// Access units dropped: decoder queue full.
    pub dropped_full: u64,
    /// Access units dropped while waiting for a key frame.
    pub dropped_until_key: u64,
    /// Converted frames dropped: the frame queue was full.
    pub dropped_output: u64,
    /// Decode errors.
    pub decode_errors: u64,
}

impl CameraStats {
    /// The counters of `camera` from its decode counters; rates zero, not decoding.
    pub(crate) fn from_decode(camera: CameraId, s: &DecodeStatsSnapshot) -> CameraStats {
        CameraStats {
            camera,
            decoding: false,
            fps_target: 0.0,
            decode_fps: 0.0,
            received: s.received,
            decoded: s.decoded,
            analysed: s.analysed,
            dropped_full: s.dropped_full,
            dropped_until_key: s.dropped_until_key,
            dropped_output: s.dropped_output,
            decode_errors: s.errors,
        }
    }
}

/// The sum of two sets of decode counters (`hw_fallback` of either).
pub(crate) fn add_decode(a: &DecodeStatsSnapshot, b: &DecodeStatsSnapshot) -> DecodeStatsSnapshot {
    DecodeStatsSnapshot {
        received: a.received + b.received,
        skipped_non_key: a.skipped_non_key + b.skipped_non_key,
        decoded: a.decoded + b.decoded,
        analysed: a.analysed + b.analysed,
        dropped_full: a.dropped_full + b.dropped_full,
        dropped_until_key: a.dropped_until_key + b.dropped_until_key,
        dropped_output: a.dropped_output + b.dropped_output,
        errors: a.errors + b.errors,
        reopened: a.reopened + b.reopened,
        hw_fallback: a.hw_fallback || b.hw_fallback,
    }
}

/// The shared counters.
#[derive(Debug)]
pub(crate) struct Counters {
    pub frames_analysed: AtomicU64,
    pub frames_dropped_queue: AtomicU64,
    pub frames_dropped_stale: AtomicU64,
    pub detect_errors: AtomicU64,
    pub incidents_opened: AtomicU64,
    pub incidents_closed: AtomicU64,
    batches: Mutex<Batches>,
}

#[derive(Debug)]
struct Batches {
    window: usize,
    latencies: VecDeque<Duration>,
    sizes: Vec<u64>,
    count: u64,
    frames: u64,
}

impl Counters {
    pub fn new(window: usize) -> Counters {
        Counters {
            frames_analysed: AtomicU64::new(0),
            frames_dropped_queue: AtomicU64::new(0),
            frames_dropped_stale: AtomicU64::new(0),
            detect_errors: AtomicU64::new(0),
            incidents_opened: AtomicU64::new(0),
            incidents_closed: AtomicU64::new(0),
            batches: Mutex::new(Batches {
                window: window.max(1),
                latencies: VecDeque::new(),
                sizes: Vec::new(),
                count: 0,
                frames: 0,
            }),
        }
    }

    pub fn add(a: &AtomicU64, n: u64) {
        a.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(a: &AtomicU64) -> u64 {
        a.load(Ordering::Relaxed)
    }

    /// Records one detector call of `size` frames that took `took`.
    pub fn batch(&self, size: usize, took: Duration) {
        let mut b = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        if b.latencies.len() == b.window {
            b.latencies.pop_front();
        }
        b.latencies.push_back(took);
        if b.sizes.len() <= size {
            b.sizes.resize(size + 1, 0);
        }
        if let Some(n) = b.sizes.get_mut(size) {
            *n += 1;
        }
        b.count += 1;
        b.frames += size as u64;
    }

    /// Fills the counter and batch fields of a report.
    pub fn fill(&self, s: &mut AnalyticsStats) {
        s.frames_analysed = Counters::get(&self.frames_analysed);
        s.frames_dropped_queue = Counters::get(&self.frames_dropped_queue);
        s.frames_dropped_stale = Counters::get(&self.frames_dropped_stale);
        s.detect_errors = Counters::get(&self.detect_errors);
        s.incidents_opened = Counters::get(&self.incidents_opened);
        s.incidents_closed = Counters::get(&self.incidents_closed);
        let b = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        s.batches = b.count;
        s.batch_size_mean = if b.count == 0 {
            0.0
        } else {
            b.frames as f64 / b.count as f64
        };
        s.batch_sizes = b.sizes.clone();
        let mut l: Vec<Duration> = b.latencies.iter().copied().collect();
        drop(b);
        l.sort_unstable();
        s.inference_window = l.len();
        s.inference_ms_p50 = percentile(&l, 50);
        s.inference_ms_p99 = percentile(&l, 99);
    }
}

/// Nearest-rank percentile of sorted durations, in milliseconds; 0 when empty.
fn percentile(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len()).div_ceil(100).clamp(1, sorted.len());
    sorted
        .get(rank - 1)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_batch_sizes() {
        let c = Counters::new(100);
        for ms in 1..=200u64 {
            c.batch(if ms % 2 == 0 { 2 } else { 1 }, Duration::from_millis(ms));
        }
        let mut s = AnalyticsStats::default();
        c.fill(&mut s);
        // The window holds the last 100 calls: 101..=200 ms.
        assert_eq!(s.inference_window, 100);
        assert_eq!(s.inference_ms_p50, 150.0);
        assert_eq!(s.inference_ms_p99, 199.0);
        assert_eq!(s.batches, 200);
        assert_eq!(s.batch_sizes, vec![0, 100, 100]);
        assert_eq!(s.batch_size_mean, 1.5);
        assert_eq!(percentile(&[], 50), 0.0);
        assert_eq!(percentile(&[Duration::from_millis(7)], 99), 7.0);
    }
}
