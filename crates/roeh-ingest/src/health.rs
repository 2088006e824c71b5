//! Live health of one camera stream, shared between the camera task (writer) and whoever shows it
//! (readers). A std mutex guards it; it is never held across an `.await`, and every critical
//! section is a few field updates.
//!
//! `fps` and `bitrate_bps` are measured over the frames of the last [`RATE_WINDOW`] (by the
//! injected clock's monotonic time) and read zero whenever the stream is not streaming. A handle
//! made by [`HealthHandle::reporting`] with the process's [`Metrics`] also sets the camera's
//! `roeh_camera_fps` and `roeh_camera_bitrate_bps` gauges to the same figures, and counts its
//! reconnects in `roeh_camera_reconnects`.

use roeh_domain::{AccessUnit, CameraId, StreamHealth, StreamState};
use roeh_metrics::{CameraMetrics, Metrics};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Width of the sliding window for `fps` and `bitrate_bps`.
pub const RATE_WINDOW: Duration = Duration::from_secs(5);

/// Most frames remembered in the window (bounds memory for absurd frame rates).
const MAX_WINDOW_FRAMES: usize = 4096;

/// A change of a camera stream's state, as [`HealthHandle::reporting`] announces it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateChange {
    /// The camera.
    pub camera: CameraId,
    /// Its state from now on.
    pub state: StreamState,
}

/// A cheap-to-clone handle on one stream's health.
#[derive(Clone, Debug, Default)]
pub struct HealthHandle {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    health: StreamHealth,
    /// (monotonic arrival, bytes) of recent frames, oldest first.
    window: VecDeque<(Duration, usize)>,
    /// Where state changes are announced, if anywhere. Full policy: a broadcast keeps the
    /// newest changes; a receiver that lags learns so and reads every camera's state anew.
    changes: Option<(CameraId, tokio::sync::broadcast::Sender<StateChange>)>,
    /// The camera's series in the process's metrics, if measured.
    metrics: Option<CameraMetrics>,
}

impl HealthHandle {
    /// Health that reads `Idle` with zero counters.
    pub fn new() -> Self {
        HealthHandle::default()
    }

    /// As [`HealthHandle::new`], announcing every change of `camera`'s state on `changes`, and
    /// keeping `camera`'s ingest figures in `metrics` when given.
    pub fn reporting(
        camera: CameraId,
        changes: tokio::sync::broadcast::Sender<StateChange>,
        metrics: Option<&Metrics>,
    ) -> Self {
        let h = HealthHandle::default();
        {
            let mut g = h.lock();
            g.changes = Some((camera, changes));
            g.metrics = metrics.map(|m| m.camera(camera));
        }
        h
    }

    /// Sets the state, announcing it when it changed.
    fn change_state(g: &mut Inner, state: StreamState) {
        if g.health.state == state {
            return;
        }
        g.health.state = state;
        if let Some((camera, tx)) = &g.changes {
            // Nobody listening is fine.
            let _ = tx.send(StateChange {
                camera: *camera,
                state,
            });
        }
    }

    /// The current health.
    pub fn snapshot(&self) -> StreamHealth {
        self.lock().health.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn set_state(&self, state: StreamState) {
        let mut g = self.lock();
        Self::change_state(&mut g, state);
        if state != StreamState::Streaming {
            g.window.clear();
            g.health.fps = 0.0;
            g.health.bitrate_bps = 0.0;
            if let Some(m) = &g.metrics {
                m.set_rates(0.0, 0.0);
            }
        }
    }

    pub(crate) fn set_error(&self, redacted: String) {
        self.lock().health.last_error = Some(redacted);
    }

    pub(crate) fn count_reconnect(&self) {
        let mut g = self.lock();
        g.health.reconnects += 1;
        if let Some(m) = &g.metrics {
            m.count_reconnect();
        }
    }

    /// Records a frame delivered to the recorder; `now` is the clock's monotonic time.
    pub(crate) fn frame(&self, au: &AccessUnit, now: Duration) {
        let mut g = self.lock();
        let len = au.data.len();
        g.window.push_back((now, len));
        while let Some(&(t, _)) = g.window.front() {
            let too_old = now.saturating_sub(t) > RATE_WINDOW;
            if too_old || g.window.len() > MAX_WINDOW_FRAMES {
                g.window.pop_front();
            } else {
                break;
            }
        }
        let (fps, bps) = rates(&g.window);
        Self::change_state(&mut g, StreamState::Streaming);
        if let Some(m) = &g.metrics {
            m.set_rates(fps, bps);
        }
        let h = &mut g.health;
        h.last_frame_at = Some(au.received_at);
        h.frames += 1;
        h.bytes += len as u64;
        h.fps = fps;
        h.bitrate_bps = bps;
        h.codec = Some(au.params.codec);
        h.width = Some(au.params.width);
        h.height = Some(au.params.height);
    }
}

/// Frame and bit rates over the window: intervals between the first and last frame, counting the
/// frames (and bytes) that end each interval.
fn rates(window: &VecDeque<(Duration, usize)>) -> (f64, f64) {
    let (Some(first), Some(last)) = (window.front(), window.back()) else {
        return (0.0, 0.0);
    };
    let span = last.0.saturating_sub(first.0).as_secs_f64();
    if window.len() < 2 || span <= 0.0 {
        return (0.0, 0.0);
    }
    let frames = (window.len() - 1) as f64;
    let bytes: usize = window.iter().skip(1).map(|&(_, b)| b).sum();
    (frames / span, bytes as f64 * 8.0 / span)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use roeh_domain::{CameraId, CodecParams, Pts90k, VideoCodec, WallTime};

    #[test]
    fn state_changes_are_announced_once_each() {
        let (tx, mut rx) = tokio::sync::broadcast::channel(16);
        let cam = CameraId::new_random();
        let h = HealthHandle::reporting(cam, tx, None);
        h.set_state(StreamState::Connecting);
        h.set_state(StreamState::Connecting);
        h.set_state(StreamState::Backoff);
        let got: Vec<StreamState> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|c| {
                assert_eq!(c.camera, cam);
                c.state
            })
            .collect();
        assert_eq!(got, [StreamState::Connecting, StreamState::Backoff]);
        // Without a channel nothing is announced and nothing fails.
        HealthHandle::new().set_state(StreamState::Streaming);
    }

    #[test]
    fn rates_over_the_window() {
        let h = HealthHandle::new();
        let params = Arc::new(CodecParams {
            codec: VideoCodec::H264,
            width: 768,
            height: 576,
            rfc6381: "avc1.4D401E".into(),
            config_record: vec![1],
        });
        for i in 0..100u64 {
            let au = AccessUnit {
                camera: CameraId::new_random(),
                pts: Pts90k(i as i64 * 9000),
                received_at: WallTime(i as i64 * 100_000),
                is_key: i == 0,
                params: params.clone(),
                data: Bytes::from(vec![0u8; 1000]),
            };
            h.frame(&au, Duration::from_millis(i * 100));
        }
        let s = h.snapshot();
        assert_eq!(s.frames, 100);
        assert_eq!(s.bytes, 100_000);
        assert!((s.fps - 10.0).abs() < 1e-9, "{}", s.fps);
        assert!((s.bitrate_bps - 80_000.0).abs() < 1e-6, "{}", s.bitrate_bps);
        assert_eq!(s.state, StreamState::Streaming);
        assert_eq!((s.width, s.height), (Some(768), Some(576)));
        h.set_state(StreamState::Backoff);
        let s = h.snapshot();
        assert_eq!((s.fps, s.bitrate_bps), (0.0, 0.0));
        assert_eq!(s.frames, 100);
    }
}
