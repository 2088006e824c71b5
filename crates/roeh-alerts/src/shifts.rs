//! Shifts of the control room, and the statistics of response-time reports.
//!
//! A [`Shifts`] is an IANA time zone and a list of named shifts, each given by its local start
//! time (`morning 07:00`, `evening 15:00`, `night 23:00`). The shifts are kept in the order of
//! their start times; that is also the order reports list them in. A shift runs until the next
//! one starts; the last one runs over midnight until the first one starts on the next day.
//!
//! Invariants:
//! - there is at least one shift; names are unique, 1 to 64 printable characters without
//!   surrounding spaces; start times are unique;
//! - every instant belongs to exactly one shift occurrence, named by the shift and its *shift
//!   date*: the local date on which that occurrence started. The night shift that starts at
//!   23:00 on 26 March and ends at 07:00 on 27 March has the shift date 26 March throughout;
//! - the occurrences of a day follow each other without gap or overlap, also across daylight
//!   saving changes. An occurrence starts at the first instant whose local wall-clock time is at
//!   or after `date + start`: a start time that is repeated (clocks going back) is taken at its
//!   first pass, so the repeated hour stays in the shift it started in and a shift occurs once
//!   per date; a start time that does not exist that day (clocks going forward) is taken as the
//!   end of the gap. A shift that spans a change is an hour longer or shorter that day. Should
//!   two start times fall in the same gap, the earlier shift is empty that day;
//! - instants too far from the epoch for the calendar (before year 1 or after year 9999) are
//!   treated as the nearest representable instant.
//!
//! Statistics ([`DurationStats`]) use the nearest-rank definition: for `n` durations sorted
//! ascending, the `p`-th percentile is the one at 1-based rank `ceil(p / 100 × n)`. The median is
//! the 50th percentile (for an even count, the lower of the two middle values, never an average),
//! p90 the 90th. Every reported value is a measured duration.

use chrono::{DateTime, Duration as ChronoDuration, LocalResult, NaiveDate, NaiveDateTime};
use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;
use roeh_domain::{ErrorKind, WallTime};
use serde::Serialize;
use std::time::Duration;

use crate::Error;

/// Most shifts one [`Shifts`] may have.
pub const MAX_SHIFTS: usize = 48;

/// Longest shift name, in characters.
pub const MAX_SHIFT_NAME: usize = 64;

/// One shift: a name and the local time it starts at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    /// Name, e.g. `night`.
    pub name: String,
    /// Local start time.
    pub start: NaiveTime,
}

/// A time zone and its shifts, ordered by start time (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shifts {
    tz: Tz,
    shifts: Vec<Shift>,
}

impl Default for Shifts {
    /// One shift, `all`, from 00:00 UTC: every instant's shift date is its UTC date.
    fn default() -> Self {
        Shifts {
            tz: Tz::UTC,
            shifts: vec![Shift {
                name: "all".into(),
                start: NaiveTime::MIN,
            }],
        }
    }
}

fn bad(field: &str, msg: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("{field}: {msg}"))
}

/// Parses `HH:MM` or `HH:MM:SS` (24-hour clock, two digits each).
pub fn parse_time_of_day(s: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let num = |p: &str| p.parse::<u32>().ok();
    let (h, m) = (num(parts[0])?, num(parts[1])?);
    let sec = match parts.get(2) {
        Some(p) => num(p)?,
        None => 0,
    };
    NaiveTime::from_hms_opt(h, m, sec)
}

/// The earliest representable instant, microseconds (0001-01-03T00:00:00Z).
const MIN_MICROS: i64 = (-62_135_596_800 + 2 * 86_400) * 1_000_000;
/// The latest representable instant, microseconds (9999-12-29T23:59:59Z).
const MAX_MICROS: i64 = (253_402_300_799 - 2 * 86_400) * 1_000_000;

impl Shifts {
    /// Shifts in `tz`. Refuses an empty list, more than [`MAX_SHIFTS`], a bad or duplicate name
    /// and a duplicate start time; errors name the field (`shifts[1].name`).
    pub fn new(tz: Tz, shifts: Vec<Shift>) -> Result<Shifts, Error> {
        if shifts.is_empty() {
            return Err(bad("shifts", "is empty; name at least one shift"));
        }
        if shifts.len() > MAX_SHIFTS {
            return Err(bad(
                "shifts",
                format!("has {} shifts; at most {MAX_SHIFTS}", shifts.len()),
            ));
        }
        for (i, s) in shifts.iter().enumerate() {
            let n = &s.name;
            if n.is_empty()
                || n.chars().count() > MAX_SHIFT_NAME
                || n.trim() != n
                || n.chars().any(char::is_control)
            {
                return Err(bad(
                    &format!("shifts[{i}].name"),
                    format!(
                        "{n:?} is not a shift name (1 to {MAX_SHIFT_NAME} printable characters, \
                         no leading or trailing spaces)"
                    ),
                ));
            }
            if let Some(j) = shifts[..i].iter().position(|o| o.name == *n) {
                return Err(bad(
                    &format!("shifts[{i}].name"),
                    format!("{n:?} is also the name of shifts[{j}]"),
                ));
            }
            if let Some(j) = shifts[..i].iter().position(|o| o.start == s.start) {
                return Err(bad(
                    &format!("shifts[{i}].start"),
                    format!(
                        "{} is also the start of shifts[{j}] ({:?})",
                        s.start.format("%H:%M:%S"),
                        shifts[j].name
                    ),
                ));
            }
        }
        let mut shifts = shifts;
        shifts.sort_by_key(|s| s.start);
        Ok(Shifts { tz, shifts })
    }

    /// Shifts from their text form: an IANA time zone name (`Asia/Jerusalem`) and `(name,
    /// start)` pairs with starts as `HH:MM` or `HH:MM:SS`. Errors name the field (`time_zone`,
    /// `shifts[2].start`) and what was wrong.
    pub fn parse<N: AsRef<str>, S: AsRef<str>>(
        time_zone: &str,
        shifts: &[(N, S)],
    ) -> Result<Shifts, Error> {
        let tz = time_zone.parse::<Tz>().map_err(|_| {
            bad(
                "time_zone",
                format!("{time_zone:?} is not a known IANA time zone (e.g. Asia/Jerusalem)"),
            )
        })?;
        let mut list = Vec::with_capacity(shifts.len());
        for (i, (name, start)) in shifts.iter().enumerate() {
            let start = start.as_ref();
            let t = parse_time_of_day(start).ok_or_else(|| {
                bad(
                    &format!("shifts[{i}].start"),
                    format!("{start:?} is not a time of day (HH:MM or HH:MM:SS)"),
                )
            })?;
            list.push(Shift {
                name: name.as_ref().to_string(),
                start: t,
            });
        }
        Shifts::new(tz, list)
    }

    /// The time zone.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The shifts, ordered by start time.
    pub fn shifts(&self) -> &[Shift] {
        &self.shifts
    }

    /// The position of the shift named `name` in [`Shifts::shifts`].
    pub fn position(&self, name: &str) -> Option<usize> {
        self.shifts.iter().position(|s| s.name == name)
    }

    /// The shift `at` falls in, and its shift date (the local date that occurrence started).
    pub fn shift_of(&self, at: WallTime) -> (&str, NaiveDate) {
        let (i, date) = self.shift_index_of(at);
        (self.shifts[i].name.as_str(), date)
    }

    /// As [`Shifts::shift_of`], with the shift's position in [`Shifts::shifts`].
    pub fn shift_index_of(&self, at: WallTime) -> (usize, NaiveDate) {
        let at = at.as_micros().clamp(MIN_MICROS, MAX_MICROS);
        let utc = DateTime::from_timestamp_micros(at).unwrap_or(DateTime::UNIX_EPOCH);
        let today = self.tz.from_utc_datetime(&utc.naive_utc()).date_naive();
        let last = self.shifts.len() - 1;
        // The occurrence holding `at` is the latest one starting at or before it. Occurrences
        // start in order of (date, start), so only the local dates around `at` can hold it:
        // the day before (a night shift), the day itself, and the day after (a change of
        // offset that moves the clock back across midnight).
        let mut best: Option<(i64, usize, NaiveDate)> = None;
        for date in [today.pred_opt(), Some(today), today.succ_opt()]
            .into_iter()
            .flatten()
        {
            for (i, s) in self.shifts.iter().enumerate() {
                let Some(b) = occurrence_start(self.tz, date.and_time(s.start)) else {
                    continue;
                };
                if b <= at && best.is_none_or(|(bb, _, _)| b >= bb) {
                    best = Some((b, i, date));
                }
            }
        }
        match best {
            Some((_, i, d)) => (i, d),
            // Not reached: the last shift of the day before always starts before `at`.
            None => (last, today.pred_opt().unwrap_or(today)),
        }
    }
}

/// The first instant (microseconds) whose local wall-clock time in `tz` is at or after `local`.
fn occurrence_start(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.timestamp_micros()),
        LocalResult::Ambiguous(a, b) => Some(a.timestamp_micros().min(b.timestamp_micros())),
        LocalResult::None => gap_end(tz, local),
    }
}

/// For a local time that does not exist (clocks went forward over it): the instant the clocks
/// jumped, i.e. the first instant whose local time is past `local`, to the second.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<i64> {
    let local_at = |secs: i64| -> Option<NaiveDateTime> {
        let utc = DateTime::from_timestamp(secs, 0)?;
        Some(tz.from_utc_datetime(&utc.naive_utc()).naive_local())
    };
    // The first local time after the gap that exists, by minutes (gaps are at most a day).
    for k in 1..=(48 * 60) {
        let later = local.checked_add_signed(ChronoDuration::minutes(k))?;
        let Some(after) = tz.from_local_datetime(&later).earliest() else {
            continue;
        };
        // Between `after - k min` (still before the jump: its local time is below `local`) and
        // `after`, local time only moves forward: find the jump by bisection.
        let (mut lo, mut hi) = (after.timestamp() - k * 60, after.timestamp());
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if local_at(mid)? >= local {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        return hi.checked_mul(1_000_000);
    }
    None
}

/// Count, median and 90th percentile of some durations (nearest rank; see the module docs).
/// The percentiles are `None` when there are no durations.
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct DurationStats {
    /// How many durations.
    pub count: u64,
    /// The median (50th percentile, nearest rank), seconds.
    pub median_secs: Option<f64>,
    /// The 90th percentile (nearest rank), seconds.
    pub p90_secs: Option<f64>,
}

impl DurationStats {
    /// The statistics of `durations` (in any order).
    pub fn of(durations: impl IntoIterator<Item = Duration>) -> DurationStats {
        let mut v: Vec<Duration> = durations.into_iter().collect();
        v.sort_unstable();
        DurationStats {
            count: v.len() as u64,
            median_secs: nearest_rank(&v, 50).map(|d| d.as_secs_f64()),
            p90_secs: nearest_rank(&v, 90).map(|d| d.as_secs_f64()),
        }
    }
}

/// The `percent`-th percentile of ascending `sorted` by nearest rank: the value at 1-based rank
/// `ceil(percent / 100 × n)` (rank 1 for `percent` 0; the largest for 100 and above). `None` if
/// `sorted` is empty.
pub fn nearest_rank(sorted: &[Duration], percent: u32) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let p = u128::from(percent.min(100));
    let rank = (p * n as u128).div_ceil(100).max(1);
    let rank = usize::try_from(rank).unwrap_or(n).min(n);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> WallTime {
        WallTime::parse(s).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn three(tz: &str) -> Shifts {
        Shifts::parse(
            tz,
            &[
                ("morning", "07:00"),
                ("evening", "15:00"),
                ("night", "23:00"),
            ],
        )
        .unwrap()
    }

    fn check(s: &Shifts, cases: &[(&str, &str, &str)]) {
        for (instant, name, day) in cases {
            assert_eq!(s.shift_of(at(instant)), (*name, date(day)), "{instant}");
        }
    }

    #[test]
    fn default_is_one_utc_shift_by_utc_date() {
        let s = Shifts::default();
        assert_eq!(s.time_zone(), Tz::UTC);
        assert_eq!(s.shifts().len(), 1);
        check(
            &s,
            &[
                ("2026-05-01T00:00:00Z", "all", "2026-05-01"),
                ("2026-05-01T23:59:59.999999Z", "all", "2026-05-01"),
                ("2026-05-02T00:00:00Z", "all", "2026-05-02"),
                ("1970-01-01T00:00:00Z", "all", "1970-01-01"),
            ],
        );
    }

    #[test]
    fn shifts_are_ordered_by_start_and_the_last_wraps_over_midnight() {
        let s = Shifts::parse(
            "UTC",
            &[
                ("night", "23:00"),
                ("morning", "07:00"),
                ("evening", "15:00"),
            ],
        )
        .unwrap();
        let names: Vec<&str> = s.shifts().iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["morning", "evening", "night"]);
        assert_eq!(s.position("night"), Some(2));
        assert_eq!(s.position("day"), None);
        check(
            &s,
            &[
                ("2026-05-01T06:59:59Z", "night", "2026-04-30"),
                ("2026-05-01T07:00:00Z", "morning", "2026-05-01"),
                ("2026-05-01T14:59:59Z", "morning", "2026-05-01"),
                ("2026-05-01T15:00:00Z", "evening", "2026-05-01"),
                ("2026-05-01T23:00:00Z", "night", "2026-05-01"),
                ("2026-05-02T00:30:00Z", "night", "2026-05-01"),
            ],
        );
        assert_eq!(s.shift_index_of(at("2026-05-02T00:30:00Z")).0, 2);
    }

    #[test]
    fn jerusalem_spring_forward_keeps_the_night_shift_whole() {
        // Israel moved to summer time on Friday 27 March 2026 at 02:00 (+02:00 to +03:00).
        let s = three("Asia/Jerusalem");
        check(
            &s,
            &[
                ("2026-03-26T20:59:59Z", "evening", "2026-03-26"), // 22:59:59 +02
                ("2026-03-26T21:00:00Z", "night", "2026-03-26"),   // 23:00 +02
                ("2026-03-26T23:59:59Z", "night", "2026-03-26"),   // 01:59:59 +02
                ("2026-03-27T00:00:00Z", "night", "2026-03-26"),   // 03:00 +03
                ("2026-03-27T03:59:59Z", "night", "2026-03-26"),   // 06:59:59 +03
                ("2026-03-27T04:00:00Z", "morning", "2026-03-27"), // 07:00 +03
                ("2026-03-27T12:00:00Z", "evening", "2026-03-27"), // 15:00 +03
                ("2026-03-27T20:00:00Z", "night", "2026-03-27"),   // 23:00 +03
            ],
        );
        // A start inside the skipped hour begins when the clocks jump.
        let g = Shifts::parse("Asia/Jerusalem", &[("a", "00:00"), ("b", "02:30")]).unwrap();
        check(
            &g,
            &[
                ("2026-03-26T23:59:59Z", "a", "2026-03-27"), // 01:59:59 +02
                ("2026-03-27T00:00:00Z", "b", "2026-03-27"), // 03:00 +03
                ("2026-03-27T20:59:59Z", "b", "2026-03-27"), // 23:59:59 +03
                ("2026-03-27T21:00:00Z", "a", "2026-03-28"), // 00:00 +03
                ("2026-03-27T23:30:00Z", "b", "2026-03-28"), // 02:30 +03
            ],
        );
    }

    #[test]
    fn jerusalem_fall_back_keeps_the_repeated_hour_in_one_occurrence() {
        // Back to standard time on Sunday 25 October 2026 at 02:00 (+03:00 to +02:00): the
        // night shift of the 24th runs 23:00 +03 to 07:00 +02, nine hours.
        let s = three("Asia/Jerusalem");
        check(
            &s,
            &[
                ("2026-10-24T20:00:00Z", "night", "2026-10-24"), // 23:00 +03
                ("2026-10-24T22:30:00Z", "night", "2026-10-24"), // 01:30 +03
                ("2026-10-24T23:30:00Z", "night", "2026-10-24"), // 01:30 +02
                ("2026-10-25T04:59:59Z", "night", "2026-10-24"), // 06:59:59 +02
                ("2026-10-25T05:00:00Z", "morning", "2026-10-25"), // 07:00 +02
            ],
        );
        // A start inside the repeated hour is taken at its first pass, once.
        let r = Shifts::parse("Asia/Jerusalem", &[("a", "00:00"), ("b", "01:30")]).unwrap();
        check(
            &r,
            &[
                ("2026-10-24T22:29:59Z", "a", "2026-10-25"), // 01:29:59 +03
                ("2026-10-24T22:30:00Z", "b", "2026-10-25"), // 01:30 +03
                ("2026-10-24T23:00:00Z", "b", "2026-10-25"), // 01:00 +02 (again)
                ("2026-10-24T23:15:00Z", "b", "2026-10-25"), // 01:15 +02
                ("2026-10-25T21:59:59Z", "b", "2026-10-25"), // 23:59:59 +02
                ("2026-10-25T22:00:00Z", "a", "2026-10-26"), // 00:00 +02
            ],
        );
    }

    #[test]
    fn london_transitions() {
        // BST starts 29 March 2026 01:00 UTC (01:00 GMT -> 02:00 BST) and ends 25 October 2026
        // 01:00 UTC (02:00 BST -> 01:00 GMT).
        let s = three("Europe/London");
        check(
            &s,
            &[
                ("2026-03-28T23:00:00Z", "night", "2026-03-28"), // 23:00 GMT
                ("2026-03-29T00:59:59Z", "night", "2026-03-28"), // 00:59:59 GMT
                ("2026-03-29T01:00:00Z", "night", "2026-03-28"), // 02:00 BST
                ("2026-03-29T05:59:59Z", "night", "2026-03-28"), // 06:59:59 BST
                ("2026-03-29T06:00:00Z", "morning", "2026-03-29"), // 07:00 BST
                ("2026-03-29T22:00:00Z", "night", "2026-03-29"), // 23:00 BST
                ("2026-10-24T22:00:00Z", "night", "2026-10-24"), // 23:00 BST
                ("2026-10-25T00:30:00Z", "night", "2026-10-24"), // 01:30 BST
                ("2026-10-25T01:30:00Z", "night", "2026-10-24"), // 01:30 GMT
                ("2026-10-25T06:59:59Z", "night", "2026-10-24"), // 06:59:59 GMT
                ("2026-10-25T07:00:00Z", "morning", "2026-10-25"), // 07:00 GMT
            ],
        );
        // Shifts starting in the gap and in the repeated hour.
        let g = Shifts::parse("Europe/London", &[("a", "00:00"), ("b", "01:30")]).unwrap();
        check(
            &g,
            &[
                ("2026-03-29T00:59:59Z", "a", "2026-03-29"),
                ("2026-03-29T01:00:00Z", "b", "2026-03-29"), // 02:00 BST: 01:30 never came
                ("2026-10-25T00:29:59Z", "a", "2026-10-25"),
                ("2026-10-25T00:30:00Z", "b", "2026-10-25"),
                ("2026-10-25T01:00:00Z", "b", "2026-10-25"), // 01:00 GMT, the second pass
            ],
        );
    }

    #[test]
    fn two_starts_in_one_gap_leave_the_first_empty() {
        let s = Shifts::parse(
            "Europe/London",
            &[("a", "01:15"), ("b", "01:45"), ("c", "12:00")],
        )
        .unwrap();
        check(
            &s,
            &[
                ("2026-03-29T00:59:59Z", "c", "2026-03-28"),
                ("2026-03-29T01:00:00Z", "b", "2026-03-29"),
                ("2026-03-30T00:15:00Z", "a", "2026-03-30"), // 01:15 BST, a normal day
            ],
        );
    }

    #[test]
    fn instants_far_from_the_epoch_do_not_panic() {
        let s = three("Asia/Jerusalem");
        let (_, d) = s.shift_of(WallTime(i64::MIN));
        assert_eq!(d.format("%Y").to_string(), "0001");
        let (_, d) = s.shift_of(WallTime(i64::MAX));
        assert_eq!(d.format("%Y").to_string(), "9999");
    }

    #[test]
    fn bad_shifts_are_refused_with_the_field_named() {
        let e = |tz: &str, list: &[(&str, &str)]| Shifts::parse(tz, list).unwrap_err();
        let none: &[(&str, &str)] = &[];
        let err = e("UTC", none);
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().starts_with("shifts: is empty"), "{err}");
        let err = e("Mars/Olympus", &[("a", "00:00")]);
        assert!(
            err.message().starts_with("time_zone: \"Mars/Olympus\""),
            "{err}"
        );
        for (list, field) in [
            (&[("a", "07:00"), ("a", "15:00")][..], "shifts[1].name"),
            (&[("a", "07:00"), ("b", "07:00:00")][..], "shifts[1].start"),
            (&[("a", "25:00")][..], "shifts[0].start"),
            (&[("a", "7:00")][..], "shifts[0].start"),
            (&[("a", "07:60")][..], "shifts[0].start"),
            (&[("a", "07:00"), ("b", "noon")][..], "shifts[1].start"),
            (&[("", "07:00")][..], "shifts[0].name"),
            (&[(" a", "07:00")][..], "shifts[0].name"),
            (&[("a\nb", "07:00")][..], "shifts[0].name"),
        ] {
            let err = e("UTC", list);
            assert_eq!(err.kind(), ErrorKind::InvalidArgument);
            assert!(err.message().starts_with(field), "{list:?}: {err}");
        }
        let many: Vec<(String, String)> = (0..=MAX_SHIFTS)
            .map(|i| (format!("s{i}"), format!("{:02}:{:02}", i / 2, (i % 2) * 30)))
            .collect();
        assert!(Shifts::parse("UTC", &many[..MAX_SHIFTS]).is_ok());
        assert!(Shifts::parse("UTC", &many).is_err());
        assert_eq!(
            parse_time_of_day("23:59:59"),
            NaiveTime::from_hms_opt(23, 59, 59)
        );
        assert_eq!(parse_time_of_day("24:00"), None);
    }

    #[test]
    fn nearest_rank_statistics() {
        let secs = |v: &[u64]| DurationStats::of(v.iter().map(|s| Duration::from_secs(*s)));
        assert_eq!(
            secs(&[]),
            DurationStats {
                count: 0,
                median_secs: None,
                p90_secs: None
            }
        );
        assert_eq!(
            secs(&[42]),
            DurationStats {
                count: 1,
                median_secs: Some(42.0),
                p90_secs: Some(42.0)
            }
        );
        // Even count: the lower middle value, not the average.
        let s = secs(&[30, 10]);
        assert_eq!((s.median_secs, s.p90_secs), (Some(10.0), Some(30.0)));
        // 1..=10 in any order: median rank 5, p90 rank 9.
        let s = secs(&[7, 3, 10, 1, 9, 2, 8, 4, 6, 5]);
        assert_eq!(
            (s.count, s.median_secs, s.p90_secs),
            (10, Some(5.0), Some(9.0))
        );
        // 11 values: median rank 6, p90 rank ceil(9.9) = 10.
        let s = secs(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!((s.median_secs, s.p90_secs), (Some(6.0), Some(10.0)));
        let v: Vec<Duration> = (1..=4).map(Duration::from_secs).collect();
        assert_eq!(nearest_rank(&v, 0), Some(Duration::from_secs(1)));
        assert_eq!(nearest_rank(&v, 25), Some(Duration::from_secs(1)));
        assert_eq!(nearest_rank(&v, 26), Some(Duration::from_secs(2)));
        assert_eq!(nearest_rank(&v, 100), Some(Duration::from_secs(4)));
        assert_eq!(nearest_rank(&v, 500), Some(Duration::from_secs(4)));
        assert_eq!(nearest_rank(&[], 50), None);
        // Sub-second durations keep their microseconds.
        let s = DurationStats::of([Duration::from_micros(1_500_000)]);
        assert_eq!(s.median_secs, Some(1.5));
        let j = serde_json::to_value(secs(&[])).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"count": 0, "median_secs": null, "p90_secs": null})
        );
    }
}
