//! Ingest settings. Strict (`deny_unknown_fields`), with defaults suited to real cameras.
//! Durations are written in the configuration as seconds (a number, fractions allowed):
//! `stall_timeout = 2.5`. Every duration must be finite, positive and at most one day.

use crate::FrameTap;
use roeh_domain::Transport;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;
use std::time::Duration;

/// What to do when the recorder's queue is full. The recording path never drops silently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WhenFull {
    /// Wait up to [`IngestOptions::backpressure_timeout`] for room. If the wait runs out the frame
    /// is lost, so the session is torn down and `Disconnected { reason: Backpressure }` is sent:
    /// the loss becomes an explicit gap in the recording, then ingest reconnects.
    #[default]
    Block,
}

/// Settings for [`crate::run_camera`] and the openers.
///
/// Equality compares the settings and whether both name the same tap (by pointer).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestOptions {
    /// Default RTP transport for cameras configured without one. The camera task itself always
    /// uses [`roeh_domain::Camera::transport`]; whoever builds `Camera` records from configuration
    /// applies this default.
    pub transport: Transport,
    /// Bound on connecting: TCP connect, DESCRIBE, SETUP and PLAY together (seconds).
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// No frame for this long ⇒ the session is torn down with reason `Stall` (seconds).
    #[serde(with = "secs")]
    pub stall_timeout: Duration,
    /// First reconnect delay (seconds); doubles after each failure up to `backoff_max`.
    #[serde(with = "secs")]
    pub backoff_initial: Duration,
    /// Longest reconnect delay (seconds).
    #[serde(with = "secs")]
    pub backoff_max: Duration,
    /// A connection that streamed frames for at least this long resets the delay to
    /// `backoff_initial` (seconds).
    #[serde(with = "secs")]
    pub backoff_reset_after: Duration,
    /// Full-queue policy of the recording path.
    pub when_full: WhenFull,
    /// How long a frame may wait for room in the recorder's queue (seconds); see [`WhenFull`].
    #[serde(with = "secs")]
    pub backpressure_timeout: Duration,
    /// Largest accepted forward jump of media time between consecutive frames (seconds).
    #[serde(with = "secs")]
    pub max_pts_jump: Duration,
    /// Where access units go besides the recorder (analytics), if anywhere. Not part of the
    /// configuration file: the process wires it.
    #[serde(skip)]
    pub tap: Option<Arc<dyn FrameTap>>,
}

impl PartialEq for IngestOptions {
    fn eq(&self, other: &Self) -> bool {
        let same_tap = match (&self.tap, &other.tap) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_tap
            && self.transport == other.transport
            && self.connect_timeout == other.connect_timeout
            && self.stall_timeout == other.stall_timeout
            && self.backoff_initial == other.backoff_initial
            && self.backoff_max == other.backoff_max
            && self.backoff_reset_after == other.backoff_reset_after
            && self.when_full == other.when_full
            && self.backpressure_timeout == other.backpressure_timeout
            && self.max_pts_jump == other.max_pts_jump
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            transport: Transport::Tcp,
            connect_timeout: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            backoff_reset_after: Duration::from_secs(30),
            when_full: WhenFull::Block,
            backpressure_timeout: Duration::from_secs(5),
            max_pts_jump: Duration::from_secs(10),
            tap: None,
        }
    }
}

impl IngestOptions {
    /// How long a new connection may take to deliver its first key frame: the stall timeout,
    /// times this factor, so cameras with long key-frame intervals still connect.
    pub const KEY_FRAME_WAIT_FACTOR: u32 = 3;

    /// The bound on waiting for the first key frame of a connection.
    pub fn key_frame_wait(&self) -> Duration {
        self.stall_timeout
            .saturating_mul(Self::KEY_FRAME_WAIT_FACTOR)
    }
}

mod secs {
    use super::*;

    const MAX_SECS: f64 = 86_400.0;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        if !v.is_finite() || v <= 0.0 || v > MAX_SECS {
            return Err(serde::de::Error::custom(format!(
                "duration must be a number of seconds in (0, {MAX_SECS}], got {v}"
            )));
        }
        Ok(Duration::from_secs_f64(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seconds_and_defaults() {
        let o: IngestOptions =
            toml::from_str("stall_timeout = 2.5\ntransport = \"udp\"\nbackoff_max = 60").unwrap();
        assert_eq!(o.stall_timeout, Duration::from_millis(2500));
        assert_eq!(o.transport, Transport::Udp);
        assert_eq!(o.backoff_max, Duration::from_secs(60));
        assert_eq!(o.connect_timeout, IngestOptions::default().connect_timeout);
        assert_eq!(o.when_full, WhenFull::Block);
    }

    #[test]
    fn refuses_unknown_fields_and_bad_durations() {
        assert!(toml::from_str::<IngestOptions>("stall = 2").is_err());
        assert!(toml::from_str::<IngestOptions>("stall_timeout = -1").is_err());
        assert!(toml::from_str::<IngestOptions>("stall_timeout = 0").is_err());
        assert!(toml::from_str::<IngestOptions>("stall_timeout = nan").is_err());
        assert!(toml::from_str::<IngestOptions>("stall_timeout = 1e12").is_err());
        assert!(toml::from_str::<IngestOptions>("when_full = \"drop_newest\"").is_err());
    }

    #[test]
    fn round_trips_through_json() {
        let o = IngestOptions::default();
        let j = serde_json::to_string(&o).unwrap();
        let back: IngestOptions = serde_json::from_str(&j).unwrap();
        assert_eq!(o, back);
    }
}
