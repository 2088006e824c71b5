//! A generated history of incidents for the situational picture's tests and benchmarks.
//!
//! The generator walks local days and local hours of the site's zone and draws, for every
//! hotspot, hour and phenomenon, a Poisson count (a fixed seed: the same spec gives the same
//! history) from a rate with three known parts:
//! - a **weekly pattern**: nights (22:00–04:00) three times the evening rate and ten times the
//!   day rate, Friday and Saturday nights 1.6 times other nights;
//! - a **seasonal bump**: every rate times [`Spec::season_factor`] on the season's days;
//! - an **operation**: at one hotspot, for one phenomenon, inside its nightly window on its
//!   days, the rate times [`OperationSpec::factor`] (0.6: a 40 % drop).
//!
//! It records what it drew by local day and local hour ([`History::built`]), from its loop
//! variables rather than from the timestamps, so a test can check that the statistics give
//! back exactly the counts the history was built from, in local time, across daylight saving.
//! An hour the clock skips in spring gets no incidents; the autumn hour that happens twice is
//! drawn once, in its first occurrence.

use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use chrono_tz::Tz;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The phenomena, their share of the incidents and their severity.
pub const KINDS: [(&str, f64, &str); 3] = [
    ("violence", 0.5, "high"),
    ("vandalism", 0.3, "medium"),
    ("loitering", 0.2, "low"),
];

/// An enforcement operation built into the history.
#[derive(Clone, Debug)]
pub struct OperationSpec {
    /// Index of the hotspot it covers.
    pub hotspot: usize,
    /// Its first day.
    pub first_day: NaiveDate,
    /// Its last day (included).
    pub last_day: NaiveDate,
    /// The phenomenon it targets.
    pub kind: &'static str,
    /// The rate inside its window is multiplied by this.
    pub factor: f64,
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The site's zone.
    pub zone: Tz,
    /// The first local day.
    pub first_day: NaiveDate,
    /// How many days.
    pub days: u32,
    /// How many hotspots.
    pub hotspots: usize,
    /// Cameras per hotspot.
    pub cameras_per_hotspot: usize,
    /// Mean incidents per hotspot per ordinary day.
    pub per_day: f64,
    /// The share of incidents that raised an alert.
    pub alert_share: f64,
    /// The season's first and last day.
    pub season: (NaiveDate, NaiveDate),
    /// Rates on the season's days are multiplied by this.
    pub season_factor: f64,
    /// The operation, if any.
    pub operation: Option<OperationSpec>,
    /// The random seed.
    pub seed: u64,
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

impl Spec {
    /// The history of the acceptance tests: a year (1 December 2025 to 30 November 2026) in
    /// Asia/Jerusalem, 10 hotspots of 2 cameras, 5 incidents per hotspot per ordinary day, a
    /// summer bump of 1.5 (July and August), and "summer nights at the promenade" at hotspot 0
    /// (1 July to 31 August, 22:00–04:00, violence) dropping its rate by 40 %.
    pub fn year() -> Spec {
        Spec {
            zone: chrono_tz::Asia::Jerusalem,
            first_day: day(2025, 12, 1),
            days: 365,
            hotspots: 10,
            cameras_per_hotspot: 2,
            per_day: 5.0,
            alert_share: 0.3,
            season: (day(2026, 7, 1), day(2026, 8, 31)),
            season_factor: 1.5,
            operation: Some(OperationSpec {
                hotspot: 0,
                first_day: day(2026, 7, 1),
                last_day: day(2026, 8, 31),
                kind: "violence",
                factor: 0.6,
            }),
            seed: 0x5eed_2026,
        }
    }
}

/// One generated incident.
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    /// Its id.
    pub id: Uuid,
    /// Index of its hotspot.
    pub hotspot: usize,
    /// Its camera.
    pub camera: Uuid,
    /// The phenomenon.
    pub kind: &'static str,
    /// Its severity.
    pub severity: &'static str,
    /// When, microseconds since the Unix epoch.
    pub at_micros: i64,
    /// Raised by an operator (from a resident's call) rather than detected.
    pub operator: bool,
    /// Its alert's id and final state.
    pub alert: Option<(Uuid, &'static str)>,
}

/// What the generator drew, by hotspot index, local day, local hour and phenomenon.
pub type Built = BTreeMap<(usize, NaiveDate, u32, &'static str), u64>;

/// A generated history.
#[derive(Clone, Debug)]
pub struct History {
    /// The spec it was made from.
    pub spec: Spec,
    /// Hotspot ids, by index.
    pub hotspots: Vec<Uuid>,
    /// Camera ids, by hotspot index.
    pub cameras: Vec<Vec<Uuid>>,
    /// Every incident, in time order per hotspot.
    pub incidents: Vec<Incident>,
    /// The counts drawn.
    pub built: Built,
}

/// SplitMix64: small, fast and the same everywhere.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn poisson(&mut self, lambda: f64) -> u64 {
        if lambda > 30.0 {
            // Normal approximation for large rates (the benchmark's), rounded, never negative.
            let (u1, u2) = (self.unit().max(f64::MIN_POSITIVE), self.unit());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            return (lambda + z * lambda.sqrt()).round().max(0.0) as u64;
        }
        let l = (-lambda).exp();
        let (mut k, mut p) = (0u64, 1.0);
        loop {
            p *= self.unit();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }

    fn uuid(&mut self) -> Uuid {
        Uuid::from_u64_pair(self.next(), self.next())
    }
}

/// The weekly pattern's weight of local hour `h` on weekday `wd` (Monday 0).
pub fn weight(wd: u32, h: u32) -> f64 {
    let night = !(4..22).contains(&h);
    let base = if night {
        3.0
    } else if (18..22).contains(&h) {
        1.0
    } else {
        0.3
    };
    // Friday and Saturday nights: from 22:00 on Friday (4) and Saturday (5), and the small
    // hours of Saturday (5) and Sunday (6).
    let weekend_night = (h >= 22 && (wd == 4 || wd == 5)) || (h < 4 && (wd == 5 || wd == 6));
    if weekend_night { base * 1.6 } else { base }
}

impl History {
    /// Generates the history of `spec`.
    pub fn generate(spec: Spec) -> History {
        let mut rng = Rng(spec.seed);
        let hotspots: Vec<Uuid> = (0..spec.hotspots).map(|_| rng.uuid()).collect();
        let cameras: Vec<Vec<Uuid>> = (0..spec.hotspots)
            .map(|_| (0..spec.cameras_per_hotspot).map(|_| rng.uuid()).collect())
            .collect();
        let week_sum: f64 = (0..7)
            .map(|wd| (0..24).map(|h| weight(wd, h)).sum::<f64>())
            .sum::<f64>()
            / 7.0;
        let mut incidents = Vec::new();
        let mut built = Built::new();
        for n in 0..spec.days {
            let d = spec.first_day + Duration::days(i64::from(n));
            let wd = d.weekday().num_days_from_monday();
            let season = if spec.season.0 <= d && d <= spec.season.1 {
                spec.season_factor
            } else {
                1.0
            };
            for (hi, cams) in cameras.iter().enumerate() {
                for h in 0..24u32 {
                    let Some(naive) = d.and_hms_opt(h, 0, 0) else {
                        continue;
                    };
                    // An hour the clock skips has no incidents.
                    let Some(start) = spec.zone.from_local_datetime(&naive).earliest() else {
                        continue;
                    };
                    let lambda_h = spec.per_day * weight(wd, h) / week_sum * season;
                    for (kind, share, severity) in KINDS {
                        let mut lambda = lambda_h * share;
                        if let Some(op) = &spec.operation {
                            let night_of = if h >= 22 {
                                Some(d)
                            } else if h < 4 {
                                d.pred_opt()
                            } else {
                                None
                            };
                            let inside =
                                night_of.is_some_and(|nd| op.first_day <= nd && nd <= op.last_day);
                            if op.hotspot == hi && op.kind == kind && inside {
                                lambda *= op.factor;
                            }
                        }
                        let count = rng.poisson(lambda);
                        if count == 0 {
                            continue;
                        }
                        *built.entry((hi, d, h, kind)).or_default() += count;
                        for _ in 0..count {
                            let offset = (rng.unit() * 3_600_000_000.0) as i64;
                            let camera = cams[(rng.next() % cams.len() as u64) as usize];
                            let operator = rng.unit() < 0.1;
                            let alert = (rng.unit() < spec.alert_share).then(|| {
                                let u = rng.unit();
                                let state = if u < 0.6 {
                                    "resolved"
                                } else if u < 0.9 {
                                    "false_alarm"
                                } else {
                                    "escalated"
                                };
                                (rng.uuid(), state)
                            });
                            incidents.push(Incident {
                                id: rng.uuid(),
                                hotspot: hi,
                                camera,
                                kind,
                                severity,
                                at_micros: start.timestamp_micros() + offset,
                                operator,
                                alert,
                            });
                        }
                    }
                }
            }
        }
        History {
            spec,
            hotspots,
            cameras,
            incidents,
            built,
        }
    }

    /// Incidents drawn for which `keep(hotspot, day, hour, kind)` holds.
    pub fn count(&self, keep: impl Fn(usize, NaiveDate, u32, &str) -> bool) -> u64 {
        self.built
            .iter()
            .filter(|((hs, d, h, k), _)| keep(*hs, *d, *h, k))
            .map(|(_, n)| n)
            .sum()
    }

    /// Hour × weekday counts (Monday first) of hotspot `hs`, or of all with `None`.
    pub fn grid(&self, hs: Option<usize>) -> [[u64; 24]; 7] {
        let mut g = [[0u64; 24]; 7];
        for ((h_ix, d, h, _), n) in &self.built {
            if hs.is_none_or(|x| x == *h_ix) {
                g[d.weekday().num_days_from_monday() as usize][*h as usize] += n;
            }
        }
        g
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_same_spec_gives_the_same_history_and_counts_match_incidents() {
        let mut spec = Spec::year();
        spec.days = 30;
        let a = History::generate(spec.clone());
        let b = History::generate(spec);
        assert_eq!(a.incidents, b.incidents);
        assert_eq!(a.count(|_, _, _, _| true), a.incidents.len() as u64);
        let g = a.grid(None);
        assert_eq!(g.iter().flatten().sum::<u64>(), a.incidents.len() as u64);
        // Nights outweigh mornings.
        let nights: u64 = (0..7).map(|wd| g[wd][23]).sum();
        let mornings: u64 = (0..7).map(|wd| g[wd][9]).sum();
        assert!(nights > 3 * mornings, "{nights} vs {mornings}");
    }
}
