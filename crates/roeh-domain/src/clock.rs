//! The injected clock. Stage code never reads the system clock directly (STYLE.md rule 2): it asks
//! a [`Clock`], so tests can run with a [`SimClock`] and the recorder can notice clock steps.

use crate::time::WallTime;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A source of wall time (UTC) and monotonic time.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Current UTC wall time. May step (NTP, `date -s`).
    fn wall(&self) -> WallTime;
    /// Monotonic time since an arbitrary origin fixed when the clock was made. Never goes back.
    fn monotonic(&self) -> Duration;
}

/// The real clock.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    #[allow(clippy::disallowed_methods)]
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> WallTime {
        let now = std::time::SystemTime::now();
        match now.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => WallTime(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            Err(e) => WallTime(-i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX)),
        }
    }

    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// The real clock shifted by a fixed offset: the wall time of a node run for a drill or an
/// acceptance test as if it were another hour (`[server] clock_offset_secs`). Monotonic time is
/// the real one; the shift never changes while it runs, so nothing sees a clock step.
#[derive(Debug)]
pub struct OffsetClock {
    real: SystemClock,
    offset_micros: i64,
}

impl OffsetClock {
    /// The real clock moved `offset_micros` ahead (behind, when negative).
    pub fn new(offset_micros: i64) -> Self {
        OffsetClock {
            real: SystemClock::new(),
            offset_micros,
        }
    }
}

impl Clock for OffsetClock {
    fn wall(&self) -> WallTime {
        WallTime(self.real.wall().0.saturating_add(self.offset_micros))
    }

    fn monotonic(&self) -> Duration {
        self.real.monotonic()
    }
}

/// A simulated clock for tests: time moves only when told to, and wall time can be stepped
/// independently of monotonic time.
#[derive(Debug)]
pub struct SimClock {
    inner: Mutex<(WallTime, Duration)>,
}

impl SimClock {
    /// A simulated clock reading `start`, monotonic zero.
    pub fn new(start: WallTime) -> Self {
        SimClock {
            inner: Mutex::new((start, Duration::ZERO)),
        }
    }

    /// Moves both wall and monotonic time forward by `d`.
    pub fn advance(&self, d: Duration) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = g.0.plus(d);
        g.1 += d;
    }

    /// Steps wall time to `to` without moving monotonic time (as `date -s` would).
    pub fn step_wall(&self, to: WallTime) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0 = to;
    }
}

impl Clock for SimClock {
    fn wall(&self) -> WallTime {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn monotonic(&self) -> Duration {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_clock_steps_wall_not_monotonic() {
        let c = SimClock::new(WallTime::from_secs(1000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.wall(), WallTime::from_secs(1002));
        c.step_wall(WallTime::from_secs(0));
        assert_eq!(c.wall(), WallTime(0));
        assert_eq!(c.monotonic(), Duration::from_secs(2));
    }

    #[test]
    fn offset_clock_is_the_real_one_shifted() {
        let real = SystemClock::new();
        let ahead = OffsetClock::new(3_600_000_000);
        let before = real.wall();
        let shifted = ahead.wall();
        let after = real.wall();
        assert!(shifted.0 >= before.0 + 3_600_000_000 && shifted.0 <= after.0 + 3_600_000_000);
    }
}
