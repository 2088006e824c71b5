//! Which decoded pictures go to analytics, decided by media time (pts, 90 kHz) alone, before any
//! conversion work is spent on them.
//!
//! For [`AnalysisRate::Fps`], a picture is selected when its pts reaches the next due time (less
//! a small jitter allowance); the due time then advances by exactly one interval, so the average
//! rate is the configured one whatever the source rate. A pts that goes backwards (a new stream
//! run) or jumps more than a few intervals ahead (a gap) restarts the schedule at that picture.

use crate::AnalysisRate;

/// Allowance for timestamp jitter, in 90 kHz units (10 ms), capped at half an interval.
const JITTER_90K: f64 = 900.0;

/// Intervals ahead of the schedule after which it restarts instead of catching up.
const MAX_LAG_INTERVALS: f64 = 4.0;

/// The selection state of one stream.
#[derive(Debug)]
pub(crate) struct Selector {
    /// Interval between selected pictures in 90 kHz units; `None` selects every picture.
    interval: Option<f64>,
    /// Pts at which the next picture is due.
    next_due: Option<f64>,
    /// Pts of the last picture seen.
    last_pts: Option<i64>,
}

impl Selector {
    pub(crate) fn new(rate: AnalysisRate) -> Selector {
        let interval = match rate {
            AnalysisRate::Fps(fps) => Some(90_000.0 / f64::from(fps)),
            // Key-frame-only filtering happens before decoding; every decoded one is selected.
            AnalysisRate::KeyFramesOnly | AnalysisRate::All => None,
        };
        Selector {
            interval,
            next_due: None,
            last_pts: None,
        }
    }

    /// Whether the picture at `pts` is selected; advances the schedule when it is.
    pub(crate) fn select(&mut self, pts: i64) -> bool {
        let Some(interval) = self.interval else {
            return true;
        };
        let backwards = self.last_pts.is_some_and(|last| pts < last);
        self.last_pts = Some(pts);
        let p = pts as f64;
        let due = match self.next_due {
            Some(due) if !backwards && p < due + MAX_LAG_INTERVALS * interval => due,
            _ => p,
        };
        if p + JITTER_90K.min(interval / 2.0) >= due {
            let mut next = due + interval;
            if next <= p {
                next = p + interval;
            }
            self.next_due = Some(next);
            true
        } else {
            self.next_due = Some(due);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: AnalysisRate, pts: impl IntoIterator<Item = i64>) -> Vec<i64> {
        let mut s = Selector::new(rate);
        pts.into_iter().filter(|&p| s.select(p)).collect()
    }

    #[test]
    fn halves_ten_fps() {
        let got = run(AnalysisRate::Fps(5.0), (0..20).map(|i| i * 9000));
        assert_eq!(got, (0..10).map(|i| i * 18000).collect::<Vec<_>>());
    }

    #[test]
    fn average_rate_holds_for_uneven_ratios() {
        // 3 fps from 25 fps over 60 s: 180 pictures, evenly enough spaced.
        let got = run(AnalysisRate::Fps(3.0), (0..1500).map(|i| i * 3600));
        assert!((179..=181).contains(&got.len()), "{}", got.len());
        for w in got.windows(2) {
            let d = w[1] - w[0];
            assert!((28_800..=32_400).contains(&d), "{d}");
        }
    }

    #[test]
    fn jitter_does_not_halve_the_rate() {
        // 10 fps with pts wobbling by ±1 ms, selected at 5 fps: still every second picture.
        let pts = (0..100).map(|i| i * 9000 + if i % 3 == 0 { 90 } else { -90 });
        assert_eq!(run(AnalysisRate::Fps(5.0), pts).len(), 50);
    }

    #[test]
    fn restarts_after_backwards_or_gap() {
        let mut pts: Vec<i64> = (0..10).map(|i| i * 9000).collect();
        pts.extend((0..10).map(|i| 1_000 + i * 9000)); // new run, earlier origin
        pts.extend((0..4).map(|i| 10_000_000 + i * 9000)); // long gap
        let got = run(AnalysisRate::Fps(5.0), pts);
        assert_eq!(
            got,
            [
                0, 18000, 36000, 54000, 72000, 1_000, 19_000, 37_000, 55_000, 73_000, 10_000_000,
                10_018_000
            ]
        );
    }

    #[test]
    fn all_selects_everything() {
        assert_eq!(run(AnalysisRate::All, [5, 3, 9]).len(), 3);
    }
}
