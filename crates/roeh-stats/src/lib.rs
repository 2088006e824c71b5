//! The situational picture of roeh (docs/design/0015-situational-picture.md): what the city's
//! enforcement forum reads to set priorities.
//!
//! - [`Range`] and [`zone`]: a time range checked for sense (not empty, not reversed, at most
//!   [`MAX_RANGE_DAYS`]) and a site time zone by its IANA name;
//! - [`local`]: counts stored per UTC bucket turned into the site's local hour × weekday grid and
//!   day, ISO week and month series, correct across daylight saving;
//! - [`operation`]: an enforcement operation (named period, daily window, hotspots, phenomena,
//!   comparison hotspots) and its before / during / after periods and exposure;
//! - [`rate`]: rate ratios with a quasi-Poisson confidence interval;
//! - [`external`]: counts from other sources (police, city, surveys) read from CSV, a bad row
//!   named by its line;
//! - [`anon`]: cells below a minimum count withheld.
//!
//! Pure: no async, no I/O, no clock reads; the caller passes "now" where it matters.

pub mod anon;
pub mod external;
pub mod local;
pub mod operation;
pub mod rate;

use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;
use roeh_domain::WallTime;

/// Longest range a figure covers: ten years.
pub const MAX_RANGE_DAYS: i64 = 3653;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller's input makes no sense; the message names the problem.
    InvalidArgument,
}

/// The crate's error: a kind and a message for the person who sent the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What was wrong, in words.
    pub message: String,
}

impl Error {
    /// Bad input.
    pub fn invalid(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::InvalidArgument,
            message: message.into(),
        }
    }
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

/// The site time zone named `name` (IANA, e.g. `Asia/Jerusalem`).
pub fn zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        Error::invalid(format!(
            "unknown time zone {name:?} (an IANA name such as Asia/Jerusalem)"
        ))
    })
}

/// A half-open time range `[from, to)`: not empty, not reversed, at most ten years.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// First instant included.
    pub from: WallTime,
    /// First instant after the range.
    pub to: WallTime,
}

impl Range {
    /// The range `[from, to)`, refused when empty, reversed or longer than ten years.
    pub fn new(from: WallTime, to: WallTime) -> Result<Range> {
        if to == from {
            return Err(Error::invalid("the range is empty: from and to are equal"));
        }
        if to < from {
            return Err(Error::invalid("the range is reversed: to is before from"));
        }
        if to.0 - from.0 > MAX_RANGE_DAYS * 86_400_000_000 {
            return Err(Error::invalid(format!(
                "the range is longer than 10 years ({MAX_RANGE_DAYS} days); narrow it"
            )));
        }
        Ok(Range { from, to })
    }

    /// Parses the query form of a range end: an RFC 3339 instant, or a local date
    /// (`YYYY-MM-DD`) in `tz`. A date as `from` is the start of that day; a date as `to` is
    /// the end of that day (the day is included).
    pub fn parse(from: &str, to: &str, tz: Tz) -> Result<Range> {
        let from = parse_end("from", from, tz, false)?;
        let to_is_date = NaiveDate::parse_from_str(to, "%Y-%m-%d").is_ok();
        let to = parse_end("to", to, tz, true)?;
        if to_is_date && to <= from {
            // The last day named lies before the first.
            return Err(Error::invalid("the range is reversed: to is before from"));
        }
        Range::new(from, to)
    }

    /// The local date of the range's first instant, and of its last.
    pub fn local_days(&self, tz: Tz) -> (NaiveDate, NaiveDate) {
        (
            local::local_of(tz, self.from).date,
            local::local_of(tz, WallTime(self.to.0 - 1)).date,
        )
    }
}

fn parse_end(name: &str, v: &str, tz: Tz, inclusive_date: bool) -> Result<WallTime> {
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let d = if inclusive_date {
            d.succ_opt()
                .ok_or_else(|| Error::invalid(format!("{name} is out of range: {v:?}")))?
        } else {
            d
        };
        return Ok(day_start(tz, d));
    }
    let rfc = v.bytes().any(|b| b == b'T' || b == b't' || b == b' ');
    rfc.then(|| WallTime::parse(v)).flatten().ok_or_else(|| {
        Error::invalid(format!(
            "{name} must be a date (YYYY-MM-DD, in the site's time zone) or an RFC 3339 \
             instant, got {v:?}"
        ))
    })
}

/// The first instant of local date `d` in `tz` (midnight, or the first instant after a
/// daylight-saving gap that skips it).
pub fn day_start(tz: Tz, d: NaiveDate) -> WallTime {
    let mut t = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    // A gap at midnight (some zones change at 00:00): the day starts when the clock resumes.
    for _ in 0..(4 * 24) {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return wall(dt);
        }
        t += chrono::Duration::minutes(15);
    }
    WallTime::from_secs(tz.from_utc_datetime(&t).timestamp())
}

/// The instant of a zoned date-time.
pub(crate) fn wall(dt: DateTime<Tz>) -> WallTime {
    WallTime(dt.timestamp_micros())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_that_make_no_sense_are_refused_naming_the_problem() {
        let tz = zone("Asia/Jerusalem").unwrap();
        let e = |f: &str, t: &str| Range::parse(f, t, tz).unwrap_err().message;
        assert!(e("2026-01-02", "2026-01-01").contains("reversed"));
        assert!(e("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z").contains("empty"));
        assert!(e("2010-01-01", "2026-01-01").contains("10 years"));
        assert!(e("yesterday", "2026-01-01").contains("from must be"));
        assert!(
            zone("Mars/Olympus")
                .unwrap_err()
                .message
                .contains("unknown time zone")
        );
        // A date `to` includes its day: one day is a valid range.
        let r = Range::parse("2026-03-27", "2026-03-27", tz).unwrap();
        // 27 March 2026 is the spring change in Israel: 23 hours.
        assert_eq!(r.to.0 - r.from.0, 23 * 3_600_000_000);
        assert_eq!(
            r.from,
            WallTime::parse("2026-03-26T22:00:00Z").unwrap(),
            "midnight at +02:00"
        );
    }
}
