//! Counts stored per UTC bucket, read in the site's local time.
//!
//! The store counts events per UTC bucket of [`bucket_secs`] seconds (an hour where the zone's
//! offset is a whole number of hours throughout the range, else a quarter of an hour: every
//! offset in use is a multiple of 15 minutes). Each bucket then lies inside one local hour, so
//! the hour × weekday grid and the day, ISO week and month series are exact, across daylight
//! saving: the hour skipped in spring has no events, the hour repeated in autumn has both.

use crate::{Range, wall};
use chrono::{Datelike, Duration, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use roeh_domain::WallTime;
use serde::Serialize;
use std::collections::HashMap;

/// A moment in local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Local {
    /// The local date.
    pub date: NaiveDate,
    /// Monday 0 … Sunday 6.
    pub weekday: usize,
    /// 0–23.
    pub hour: u32,
    /// Minutes since local midnight on the clock face.
    pub minute_of_day: u32,
}

/// `t` in `tz`.
pub fn local_of(tz: Tz, t: WallTime) -> Local {
    let secs = t.0.div_euclid(1_000_000);
    let dt = tz
        .timestamp_opt(secs, 0)
        .single()
        .unwrap_or_else(|| tz.from_utc_datetime(&chrono::DateTime::UNIX_EPOCH.naive_utc()));
    Local {
        date: dt.date_naive(),
        weekday: dt.weekday().num_days_from_monday() as usize,
        hour: dt.hour(),
        minute_of_day: dt.hour() * 60 + dt.minute(),
    }
}

/// The bucket size the store counts in for `range` in `tz`, seconds: 3600 when the zone's
/// offset is a whole number of hours on every day of the range, 900 otherwise.
pub fn bucket_secs(tz: Tz, range: &Range) -> i64 {
    let (first, last) = range.local_days(tz);
    let mut d = first;
    while d <= last {
        let noon = d.and_hms_opt(12, 0, 0).unwrap_or_default();
        let off = tz.offset_from_utc_datetime(&noon).fix().local_minus_utc();
        if off % 3600 != 0 {
            return 900;
        }
        match d.succ_opt() {
            Some(n) => d = n,
            None => break,
        }
    }
    3600
}

/// How a series is cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Interval {
    /// Local days, `2026-12-07`.
    Day,
    /// ISO weeks, `2026-W49`.
    #[default]
    Week,
    /// Months, `2026-12`.
    Month,
}

impl Interval {
    /// Its query form.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// Parses [`Interval::as_str`].
    pub fn parse(s: &str) -> crate::Result<Interval> {
        [Interval::Day, Interval::Week, Interval::Month]
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| {
                crate::Error::invalid(format!("interval must be day, week or month, got {s:?}"))
            })
    }

    /// The period of local date `d`.
    pub fn period_of(self, d: NaiveDate) -> String {
        match self {
            Interval::Day => d.format("%Y-%m-%d").to_string(),
            Interval::Week => {
                let w = d.iso_week();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Interval::Month => format!("{:04}-{:02}", d.year(), d.month()),
        }
    }
}

/// Hour × weekday counts: `[weekday][hour]`, Monday first.
pub type Grid = [[u64; 24]; 7];

/// One period of a series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Period {
    /// `2026-12-07`, `2026-W49` or `2026-12`.
    pub period: String,
    /// Events in it.
    pub count: u64,
}

/// Counts of one series in local time: total, the hour × weekday grid and every period that
/// touches the range (zero ones included, so charts have a continuous axis).
#[derive(Clone, Debug)]
pub struct Tally {
    tz: Tz,
    interval: Interval,
    /// Sum of everything added.
    pub total: u64,
    /// `[weekday][hour]`, Monday first.
    pub grid: Grid,
    /// The periods in order.
    pub periods: Vec<Period>,
    index: HashMap<String, usize>,
}

impl Tally {
    /// An empty tally of `range` in `tz`, cut by `interval`.
    pub fn new(range: &Range, tz: Tz, interval: Interval) -> Tally {
        let (first, last) = range.local_days(tz);
        let mut periods: Vec<Period> = Vec::new();
        let mut d = first;
        while d <= last {
            let p = interval.period_of(d);
            if periods.last().is_none_or(|l| l.period != p) {
                periods.push(Period {
                    period: p,
                    count: 0,
                });
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        let index = periods
            .iter()
            .enumerate()
            .map(|(i, p)| (p.period.clone(), i))
            .collect();
        Tally {
            tz,
            interval,
            total: 0,
            grid: [[0; 24]; 7],
            periods,
            index,
        }
    }

    /// Adds `n` events of the bucket starting at `at`.
    pub fn add(&mut self, at: WallTime, n: u64) {
        let l = local_of(self.tz, at);
        self.add_local(l, n);
    }

    /// Adds `n` events at local moment `l`.
    pub fn add_local(&mut self, l: Local, n: u64) {
        self.total += n;
        self.grid[l.weekday][l.hour as usize] += n;
        let p = self.interval.period_of(l.date);
        if let Some(&i) = self.index.get(&p) {
            self.periods[i].count += n;
        }
    }

    /// Adds `n` events of local day `date` to the total and its period (not to the grid).
    pub fn add_day(&mut self, date: NaiveDate, n: u64) {
        self.total += n;
        let p = self.interval.period_of(date);
        if let Some(&i) = self.index.get(&p) {
            self.periods[i].count += n;
        }
    }
}

/// Days since 1970-01-01 of local date `d`: how the store's tallies name a day.
pub fn day_number(d: NaiveDate) -> i64 {
    (d - chrono::DateTime::UNIX_EPOCH.date_naive()).num_days()
}

/// The local date of day number `n` ([`day_number`]).
pub fn date_of_day(n: i64) -> NaiveDate {
    chrono::DateTime::UNIX_EPOCH.date_naive() + Duration::days(n)
}

/// The local moment of each bucket start, computed once per distinct bucket: many series share
/// the same buckets.
#[derive(Debug)]
pub struct Localizer {
    tz: Tz,
    cache: HashMap<i64, Local>,
}

impl Localizer {
    /// For `tz`.
    pub fn new(tz: Tz) -> Localizer {
        Localizer {
            tz,
            cache: HashMap::new(),
        }
    }

    /// The local moment of `at`.
    pub fn local(&mut self, at: WallTime) -> Local {
        let tz = self.tz;
        *self.cache.entry(at.0).or_insert_with(|| local_of(tz, at))
    }
}

/// The first instant of the local day after `d`.
pub fn next_day_start(tz: Tz, d: NaiveDate) -> WallTime {
    crate::day_start(tz, d + Duration::days(1))
}

/// `d` at `minute` minutes past local midnight in `tz` (the first such instant; a time inside
/// a skipped hour is read as the instant the clock resumes).
pub fn at_minute(tz: Tz, d: NaiveDate, minute: u32) -> WallTime {
    let t = d
        .and_hms_opt(minute / 60, minute % 60, 0)
        .unwrap_or_default();
    let mut probe = t;
    for _ in 0..(4 * 24) {
        if let Some(dt) = tz.from_local_datetime(&probe).earliest() {
            return wall(dt);
        }
        probe += Duration::minutes(15);
    }
    WallTime::from_secs(tz.from_utc_datetime(&t).timestamp())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::zone;

    #[test]
    fn a_tally_is_exact_in_local_time_across_both_daylight_saving_changes() {
        let tz = zone("Europe/Stockholm").unwrap();
        let r = Range::parse("2026-03-28", "2026-10-26", tz).unwrap();
        assert_eq!(bucket_secs(tz, &r), 3600);
        let mut t = Tally::new(&r, tz, Interval::Day);
        // One event in every UTC hour of the range.
        let mut at = r.from;
        let mut hours = 0u64;
        while at < r.to {
            t.add(at, 1);
            at = WallTime(at.0 + 3_600_000_000);
            hours += 1;
        }
        assert_eq!(t.total, hours);
        let day = |s: &str| t.periods.iter().find(|p| p.period == s).unwrap().count;
        assert_eq!(day("2026-03-28"), 24);
        assert_eq!(day("2026-03-29"), 23, "spring: 02:00 is skipped");
        assert_eq!(day("2026-10-25"), 25, "autumn: 02:00 happens twice");
        // Sunday 29 March has no 02:00; Sunday 25 October has two.
        let sundays = r.local_days(tz);
        assert!(sundays.0 < sundays.1);
        assert_eq!(t.periods.first().unwrap().period, "2026-03-28");
        assert_eq!(t.periods.last().unwrap().period, "2026-10-26");
    }

    #[test]
    fn a_zone_with_a_half_hour_offset_is_counted_in_quarter_hours() {
        let tz = zone("Asia/Kolkata").unwrap();
        let r = Range::parse("2026-01-01", "2026-01-07", tz).unwrap();
        assert_eq!(bucket_secs(tz, &r), 900);
        let l = local_of(tz, WallTime::parse("2026-01-01T18:30:00Z").unwrap());
        assert_eq!((l.hour, l.weekday), (0, 4), "midnight Friday in Kolkata");
    }

    #[test]
    fn weeks_are_iso_weeks_and_months_calendar_months() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(Interval::Week.period_of(d), "2026-W53");
        let d = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
        assert_eq!(Interval::Week.period_of(d), "2026-W53");
        assert_eq!(Interval::Month.period_of(d), "2027-01");
        assert!(Interval::parse("year").is_err());
    }
}
