//! Time newtypes. See `docs/design/0001-time-model.md`.
//!
//! - [`Pts90k`]: media time as received from RTP, in 90,000ths of a second. Its origin is
//!   arbitrary per stream run; only differences within one run mean anything.
//! - [`WallTime`]: UTC, microseconds since 1970-01-01T00:00:00Z, read from the injected
//!   [`crate::Clock`], never from the camera.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// Units of [`Pts90k`] per second.
pub const TIME_UNITS_PER_SEC: i64 = 90_000;

/// Media time in 90 kHz units (RTP video clock).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Pts90k(pub i64);

impl Pts90k {
    /// This time in (fractional) seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / TIME_UNITS_PER_SEC as f64
    }

    /// A duration as 90 kHz units (saturating).
    pub fn from_duration(d: Duration) -> Pts90k {
        let units = d.as_micros().saturating_mul(9) / 100;
        Pts90k(i64::try_from(units).unwrap_or(i64::MAX))
    }

    /// `self - earlier`, saturating.
    pub fn since(self, earlier: Pts90k) -> Pts90k {
        Pts90k(self.0.saturating_sub(earlier.0))
    }
}

/// UTC wall time, microseconds since the Unix epoch.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct WallTime(pub i64);

impl WallTime {
    /// Microseconds since the Unix epoch.
    pub fn as_micros(self) -> i64 {
        self.0
    }

    /// From whole seconds since the Unix epoch.
    pub fn from_secs(secs: i64) -> WallTime {
        WallTime(secs.saturating_mul(1_000_000))
    }

    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> WallTime {
        WallTime(
            self.0
                .saturating_add(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        )
    }

    /// `self - d`, saturating.
    pub fn minus(self, d: Duration) -> WallTime {
        WallTime(
            self.0
                .saturating_sub(i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
        )
    }

    /// The non-negative duration from `earlier` to `self` (zero if `earlier` is later).
    pub fn duration_since(self, earlier: WallTime) -> Duration {
        Duration::from_micros(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// RFC 3339 text in UTC with microseconds, e.g. `2026-11-22T20:11:58.000000Z`.
    pub fn to_rfc3339(self) -> String {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )
    }

    /// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`), or integer microseconds.
    pub fn parse(s: &str) -> Option<WallTime> {
        if let Ok(us) = s.parse::<i64>() {
            return Some(WallTime(us));
        }
        let b = s.as_bytes();
        if b.len() < 20 || b.len() > 40 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let t = s.get(r)?;
            if !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        if b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut i = 19;
        let mut micros = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let frac = s.get(start..i)?;
            if frac.is_empty() {
                return None;
            }
            let mut digits: String = frac.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            micros = digits.parse().ok()?;
        }
        let offset_secs = match s.get(i..)? {
            "Z" | "z" => 0,
            rest if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
                let rb = rest.as_bytes();
                if rb[3] != b':' {
                    return None;
                }
                let oh = num(i + 1..i + 3)?;
                let om = num(i + 4..i + 6)?;
                let sign = if rb[0] == b'-' { -1 } else { 1 };
                sign * (oh * 3600 + om * 60)
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_secs;
        Some(WallTime(secs * 1_000_000 + micros))
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

// Howard Hinnant's civil-date algorithms (public domain), proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = WallTime::parse("2026-11-22T20:11:58.123456Z").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-22T20:11:58.123456Z");
        assert_eq!(WallTime::parse("1970-01-01T00:00:00Z"), Some(WallTime(0)));
        assert_eq!(
            WallTime::parse("2026-03-29T03:00:00+02:00"),
            WallTime::parse("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            WallTime::parse("1969-12-31T23:59:59Z"),
            Some(WallTime(-1_000_000))
        );
    }

    #[test]
    fn parse_rejects_garbage() {
        for s in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-11-22",
            "x026-11-22T20:11:58Z",
            "2026-11-22T20:11:58",
        ] {
            assert_eq!(WallTime::parse(s), None, "{s}");
        }
    }

    #[test]
    fn pts_from_duration() {
        assert_eq!(
            Pts90k::from_duration(Duration::from_millis(100)),
            Pts90k(9000)
        );
    }
}
