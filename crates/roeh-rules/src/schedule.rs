//! When a hotspot is armed: weekly windows, date ranges and exceptions, in the site's time zone.
//!
//! A [`Schedule`] is evaluated for an instant ([`WallTime`], UTC) by converting it to the local
//! wall-clock time of the schedule's IANA time zone ([`chrono_tz::Tz`], data compiled in). The
//! rules, in order:
//!
//! 1. A *window occurrence* starts on a local date `d` whose weekday is in the window's `days`, at
//!    `d + from`, and ends at `d + to`, or at `d + 1 day + to` when `to <= from` (an overnight
//!    window that crosses midnight belongs to the day it starts on; `from == to` is a full 24 h).
//!    The instant is inside the occurrence when its local wall-clock time is in `[start, end)`.
//! 2. An occurrence counts only if its start date `d` is inside one of `dates` (when `dates` is not
//!    empty; ranges include both ends) and inside none of `except`.
//! 3. With `always`, the schedule is armed at every instant whose local date passes the same
//!    `dates`/`except` test; windows then add nothing.
//! 4. Whatever the windows and `dates` say, it is armed at every instant whose local date is in
//!    one of `all_day` and in none of `except` ("every night 22:00–06:00 and all of August":
//!    one window and one `all_day` range).
//!
//! Daylight-saving changes follow from comparing local wall-clock times: in a spring-forward gap
//! the missing local times never occur, so a window covers only the local times that exist (a
//! window wholly inside the gap is not armed that day); on a fall-back day the repeated hour is
//! covered on both passes if the window covers that local time. Nothing depends on resolving an
//! ambiguous or non-existent local time, so the result is deterministic. An instant too far from
//! the epoch for the calendar is never armed.
//!
//! The JSON form (`Schedule::parse_json`, and serde) is:
//! `{"tz": "Asia/Jerusalem", "always": false, "windows": [{"days": ["mon", "tue"], "from": "22:00",
//! "to": "05:00"}], "dates": [{"from": "2026-07-01", "to": "2026-08-31", "label": "summer"}],
//! "except": [...], "all_day": [...]}`. Only `tz` is required; days are English names or their three-letter forms,
//! any case; times are `HH:MM` or `HH:MM:SS`; dates are `YYYY-MM-DD`. Every refusal names the field,
//! e.g. `schedule.windows[0].from: "25:00" is not a time of day (HH:MM or HH:MM:SS)`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;
use roeh_domain::{ErrorKind, WallTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

/// A set of weekdays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

const DAY_NAMES: [(&str, &str, Weekday); 7] = [
    ("mon", "monday", Weekday::Mon),
    ("tue", "tuesday", Weekday::Tue),
    ("wed", "wednesday", Weekday::Wed),
    ("thu", "thursday", Weekday::Thu),
    ("fri", "friday", Weekday::Fri),
    ("sat", "saturday", Weekday::Sat),
    ("sun", "sunday", Weekday::Sun),
];

impl Weekdays {
    /// No day.
    pub const NONE: Weekdays = Weekdays(0);
    /// Every day.
    pub const ALL: Weekdays = Weekdays(0x7f);

    /// The set of the given days.
    pub fn of(days: &[Weekday]) -> Weekdays {
        let mut w = Weekdays::NONE;
        for &d in days {
            w.insert(d);
        }
        w
    }

    /// Adds a day.
    pub fn insert(&mut self, d: Weekday) {
        self.0 |= 1 << d.num_days_from_monday();
    }

    /// Whether `d` is in the set.
    pub fn contains(self, d: Weekday) -> bool {
        self.0 & (1 << d.num_days_from_monday()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The three-letter names of the days in the set, Monday first.
    pub fn names(self) -> Vec<&'static str> {
        DAY_NAMES
            .iter()
            .filter(|(_, _, d)| self.contains(*d))
            .map(|(n, _, _)| *n)
            .collect()
    }
}

/// A window repeated on some weekdays, in local time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeeklyWindow {
    /// The days an occurrence may start on.
    pub days: Weekdays,
    /// Local start time (included).
    pub from: NaiveTime,
    /// Local end time (excluded); `to <= from` ends on the next day.
    pub to: NaiveTime,
}

impl WeeklyWindow {
    /// Whether an occurrence ends on the day after it starts.
    pub fn crosses_midnight(&self) -> bool {
        self.to <= self.from
    }
}

/// An inclusive range of local dates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateRange {
    /// First date.
    pub from: NaiveDate,
    /// Last date (included).
    pub to: NaiveDate,
    /// What the range is, e.g. "summer holidays".
    pub label: Option<String>,
}

impl DateRange {
    /// Whether `d` is within the range, ends included.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// When a hotspot is armed; see the module docs for the exact rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Schedule {
    /// The site's time zone.
    pub tz: Tz,
    /// Armed at all times (subject to `dates` and `except`).
    pub always: bool,
    /// Weekly windows.
    pub windows: Vec<WeeklyWindow>,
    /// If not empty, only occurrences starting on these dates count.
    pub dates: Vec<DateRange>,
    /// Occurrences starting on these dates never count.
    pub except: Vec<DateRange>,
    /// Armed all day on these dates (unless in `except`), besides the windows.
    pub all_day: Vec<DateRange>,
}

impl Schedule {
    /// A schedule armed at all times.
    pub fn always(tz: Tz) -> Schedule {
        Schedule {
            tz,
            always: true,
            windows: Vec::new(),
            dates: Vec::new(),
            except: Vec::new(),
            all_day: Vec::new(),
        }
    }

    /// Parses the JSON form (see the module docs); the error names the offending field.
    pub fn parse_json(s: &str) -> Result<Schedule, Error> {
        let v: Value = serde_json::from_str(s).map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidArgument,
                format!("schedule: not valid JSON: {e}"),
                e,
            )
        })?;
        Schedule::from_value(&v)
    }

    /// Parses the JSON form from an already parsed value.
    pub fn from_value(v: &Value) -> Result<Schedule, Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad("schedule", "must be a JSON object"))?;
        check_keys(
            obj,
            "schedule",
            &["tz", "always", "windows", "dates", "except", "all_day"],
        )?;
        let tz = match obj.get("tz") {
            None => return Err(bad("schedule.tz", "is missing (an IANA time zone name)")),
            Some(Value::String(s)) => s.parse::<Tz>().map_err(|_| {
                bad(
                    "schedule.tz",
                    format!("{s:?} is not a known IANA time zone (e.g. Europe/Stockholm)"),
                )
            })?,
            Some(_) => return Err(bad("schedule.tz", "must be a string")),
        };
        let always = match obj.get("always") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(bad("schedule.always", "must be true or false")),
        };
        let mut windows = Vec::new();
        for (i, w) in array(obj, "windows")?.iter().enumerate() {
            windows.push(parse_window(w, &format!("schedule.windows[{i}]"))?);
        }
        let mut dates = Vec::new();
        for (i, d) in array(obj, "dates")?.iter().enumerate() {
            dates.push(parse_range(d, &format!("schedule.dates[{i}]"))?);
        }
        let mut except = Vec::new();
        for (i, d) in array(obj, "except")?.iter().enumerate() {
            except.push(parse_range(d, &format!("schedule.except[{i}]"))?);
        }
        let mut all_day = Vec::new();
        for (i, d) in array(obj, "all_day")?.iter().enumerate() {
            all_day.push(parse_range(d, &format!("schedule.all_day[{i}]"))?);
        }
        let s = Schedule {
            tz,
            always,
            windows,
            dates,
            except,
            all_day,
        };
        s.validate()?;
        Ok(s)
    }

    /// The JSON form.
    pub fn to_json_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("tz".into(), Value::String(self.tz.name().to_owned()));
        m.insert("always".into(), Value::Bool(self.always));
        let windows = self
            .windows
            .iter()
            .map(|w| {
                let mut o = Map::new();
                o.insert(
                    "days".into(),
                    Value::Array(
                        w.days
                            .names()
                            .into_iter()
                            .map(|n| Value::String(n.to_owned()))
                            .collect(),
                    ),
                );
                o.insert("from".into(), Value::String(fmt_time(w.from)));
                o.insert("to".into(), Value::String(fmt_time(w.to)));
                Value::Object(o)
            })
            .collect();
        m.insert("windows".into(), Value::Array(windows));
        let ranges = |rs: &[DateRange]| {
            Value::Array(
                rs.iter()
                    .map(|r| {
                        let mut o = Map::new();
                        o.insert("from".into(), Value::String(r.from.to_string()));
                        o.insert("to".into(), Value::String(r.to.to_string()));
                        if let Some(l) = &r.label {
                            o.insert("label".into(), Value::String(l.clone()));
                        }
                        Value::Object(o)
                    })
                    .collect(),
            )
        };
        m.insert("dates".into(), ranges(&self.dates));
        m.insert("except".into(), ranges(&self.except));
        // Left out when empty, so documents written before it existed read back unchanged.
        if !self.all_day.is_empty() {
            m.insert("all_day".into(), ranges(&self.all_day));
        }
        Value::Object(m)
    }

    /// Checks what the public fields could break: non-empty weekday sets, ordered date ranges.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, n) in [
            ("windows", self.windows.len()),
            ("dates", self.dates.len()),
            ("except", self.except.len()),
            ("all_day", self.all_day.len()),
        ] {
            if n > MAX_PARTS {
                return Err(bad(
                    &format!("schedule.{name}"),
                    format!("has {n} entries; at most {MAX_PARTS}"),
                ));
            }
        }
        for (i, w) in self.windows.iter().enumerate() {
            if w.days.is_empty() {
                return Err(bad(
                    &format!("schedule.windows[{i}].days"),
                    "is empty; name at least one day",
                ));
            }
        }
        for (name, rs) in [
            ("dates", &self.dates),
            ("except", &self.except),
            ("all_day", &self.all_day),
        ] {
            for (i, r) in rs.iter().enumerate() {
                if r.from > r.to {
                    return Err(bad(
                        &format!("schedule.{name}[{i}]"),
                        format!("from {} is after to {}", r.from, r.to),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The local wall-clock time of `at` in this schedule's time zone; `None` if out of range.
    pub fn local_time(&self, at: WallTime) -> Option<NaiveDateTime> {
        let utc = chrono::DateTime::from_timestamp_micros(at.as_micros())?;
        Some(self.tz.from_utc_datetime(&utc.naive_utc()).naive_local())
    }

    /// Whether the schedule is armed at `at` (see the module docs).
    pub fn is_armed(&self, at: WallTime) -> bool {
        let Some(local) = self.local_time(at) else {
            return false;
        };
        let today = local.date();
        if self.always && self.date_counts(today) {
            return true;
        }
        if self.all_day.iter().any(|r| r.contains(today))
            && !self.except.iter().any(|r| r.contains(today))
        {
            return true;
        }
        let Some(yesterday) = today.pred_opt() else {
            return false;
        };
        for w in &self.windows {
            for d in [yesterday, today] {
                if !w.days.contains(d.weekday()) || !self.date_counts(d) {
                    continue;
                }
                let start = d.and_time(w.from);
                let end = if w.crosses_midnight() {
                    match d.succ_opt() {
                        Some(next) => next.and_time(w.to),
                        None => continue,
                    }
                } else {
                    d.and_time(w.to)
                };
                if start <= local && local < end {
                    return true;
                }
            }
        }
        false
    }

    /// The moments after `after` at which the schedule turns armed (`true`) or disarmed
    /// (`false`), in order, at most `max` of them, looking `horizon_days` ahead.
    ///
    /// Being armed depends only on the local wall-clock time, so it can change only where the
    /// local time passes midnight or a window's `from` or `to`, or where the zone's offset
    /// changes (daylight saving). Those candidate instants are listed and [`Schedule::is_armed`]
    /// is asked at each: between two candidates the answer cannot change.
    pub fn changes_after(
        &self,
        after: WallTime,
        max: usize,
        horizon_days: u32,
    ) -> Vec<(WallTime, bool)> {
        use chrono::LocalResult;
        const DAY_US: i64 = 86_400_000_000;
        let mut out = Vec::new();
        let Some(start) = self.local_time(after) else {
            return out;
        };
        let end = WallTime(
            after
                .0
                .saturating_add(i64::from(horizon_days).saturating_mul(DAY_US)),
        );
        let utc = |t: WallTime| chrono::DateTime::from_timestamp_micros(t.as_micros());
        let offset = |t: WallTime| {
            utc(t).map(|u| {
                chrono::Offset::fix(&self.tz.offset_from_utc_datetime(&u.naive_utc()))
                    .local_minus_utc()
            })
        };
        let mut candidates = Vec::new();
        let mut times = vec![NaiveTime::MIN];
        for w in &self.windows {
            times.push(w.from);
            times.push(w.to);
        }
        let mut day = start.date().pred_opt().unwrap_or(start.date());
        for _ in 0..=horizon_days.saturating_add(2) {
            for t in &times {
                match self.tz.from_local_datetime(&day.and_time(*t)) {
                    LocalResult::Single(x) => candidates.push(WallTime(x.timestamp_micros())),
                    LocalResult::Ambiguous(a, b) => {
                        candidates.push(WallTime(a.timestamp_micros()));
                        candidates.push(WallTime(b.timestamp_micros()));
                    }
                    // A local time skipped in spring: the change happens at the jump, which is
                    // a candidate below.
                    LocalResult::None => {}
                }
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        // Offset changes, found day by day and narrowed to the second.
        let mut t = after;
        while t < end {
            let next = WallTime(t.0.saturating_add(DAY_US).min(end.0));
            if let (Some(a), Some(b)) = (offset(t), offset(next))
                && a != b
            {
                let (mut lo, mut hi) = (t.0, next.0);
                while hi - lo > 1_000_000 {
                    let mid = lo + (hi - lo) / 2;
                    if offset(WallTime(mid)) == Some(a) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                // Transitions fall on whole seconds.
                candidates.push(WallTime(hi - hi.rem_euclid(1_000_000)));
                candidates.push(WallTime(hi));
            }
            t = next;
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut armed = self.is_armed(after);
        for c in candidates.into_iter().filter(|c| *c > after && *c <= end) {
            let now = self.is_armed(c);
            if now != armed {
                out.push((c, now));
                armed = now;
                if out.len() >= max {
                    break;
                }
            }
        }
        out
    }

    fn date_counts(&self, d: NaiveDate) -> bool {
        (self.dates.is_empty() || self.dates.iter().any(|r| r.contains(d)))
            && !self.except.iter().any(|r| r.contains(d))
    }
}

/// Most weekly windows, and most date ranges of each kind, a schedule holds (a real one needs a
/// handful; the bound keeps evaluating it cheap).
pub const MAX_PARTS: usize = 64;

/// The first instant of the local day of `at` in `tz` (local midnight; where a clock change
/// skips midnight, the first local time that exists after it).
pub fn local_day_start(tz: Tz, at: WallTime) -> WallTime {
    let Some(utc) = chrono::DateTime::from_timestamp_micros(at.as_micros()) else {
        return at;
    };
    let day = tz.from_utc_datetime(&utc.naive_utc()).date_naive();
    let midnight = day.and_time(NaiveTime::MIN);
    // Clock changes skip at most a few hours, in steps of a quarter hour somewhere.
    (0..=12)
        .find_map(|q| {
            tz.from_local_datetime(&(midnight + chrono::Duration::minutes(15 * q)))
                .earliest()
        })
        .map_or(at, |t| WallTime(t.timestamp_micros()))
}

impl TryFrom<Value> for Schedule {
    type Error = Error;
    fn try_from(v: Value) -> Result<Schedule, Error> {
        Schedule::from_value(&v)
    }
}

impl From<Schedule> for Value {
    fn from(s: Schedule) -> Value {
        s.to_json_value()
    }
}

fn bad(field: &str, why: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, format!("{field}: {why}"))
}

fn check_keys(obj: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), Error> {
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(bad(
                &format!("{path}.{k}"),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn array<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], Error> {
    match obj.get(key) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(bad(&format!("schedule.{key}"), "must be an array")),
    }
}

fn string<'a>(obj: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a str, Error> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(&format!("{path}.{key}"), "must be a string")),
        None => Err(bad(&format!("{path}.{key}"), "is missing")),
    }
}

fn parse_window(v: &Value, path: &str) -> Result<WeeklyWindow, Error> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad(path, "must be an object with days, from and to"))?;
    check_keys(obj, path, &["days", "from", "to"])?;
    let days_v = match obj.get("days") {
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(bad(
                &format!("{path}.days"),
                "must be an array of day names",
            ));
        }
        None => return Err(bad(&format!("{path}.days"), "is missing")),
    };
    let mut days = Weekdays::NONE;
    for (i, d) in days_v.iter().enumerate() {
        let p = format!("{path}.days[{i}]");
        let s = d.as_str().ok_or_else(|| bad(&p, "must be a string"))?;
        let l = s.to_ascii_lowercase();
        let day = DAY_NAMES
            .iter()
            .find(|(short, long, _)| l == *short || l == *long)
            .map(|(_, _, d)| *d)
            .ok_or_else(|| bad(&p, format!("{s:?} is not a day (mon, tue, ... sun)")))?;
        days.insert(day);
    }
    if days.is_empty() {
        return Err(bad(
            &format!("{path}.days"),
            "is empty; name at least one day",
        ));
    }
    let from = parse_time(string(obj, path, "from")?, &format!("{path}.from"))?;
    let to = parse_time(string(obj, path, "to")?, &format!("{path}.to"))?;
    Ok(WeeklyWindow { days, from, to })
}

fn parse_time(s: &str, path: &str) -> Result<NaiveTime, Error> {
    let err = || {
        bad(
            path,
            format!("{s:?} is not a time of day (HH:MM or HH:MM:SS)"),
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(err());
    }
    let num = |p: &str| p.parse::<u32>().map_err(|_| err());
    let h = num(parts[0])?;
    let m = num(parts[1])?;
    let sec = match parts.get(2) {
        Some(p) => num(p)?,
        None => 0,
    };
    NaiveTime::from_hms_opt(h, m, sec)
        .filter(|_| sec < 60)
        .ok_or_else(err)
}

fn fmt_time(t: NaiveTime) -> String {
    if t.second() == 0 {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }
}

fn parse_range(v: &Value, path: &str) -> Result<DateRange, Error> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad(path, "must be an object with from and to"))?;
    check_keys(obj, path, &["from", "to", "label"])?;
    let date = |key: &str| -> Result<NaiveDate, Error> {
        let s = string(obj, path, key)?;
        let ok_shape = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !ok_shape {
            return Err(bad(
                &format!("{path}.{key}"),
                format!("{s:?} is not a date (YYYY-MM-DD)"),
            ));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            bad(
                &format!("{path}.{key}"),
                format!("{s:?} is not a calendar date"),
            )
        })
    };
    let from = date("from")?;
    let to = date("to")?;
    if from > to {
        return Err(bad(path, format!("from {from} is after to {to}")));
    }
    let label = match obj.get("label") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad(&format!("{path}.label"), "must be a string")),
    };
    Ok(DateRange { from, to, label })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> WallTime {
        WallTime::parse(s).unwrap()
    }

    fn err(json: &str) -> String {
        Schedule::parse_json(json)
            .err()
            .map(|e| e.message().to_owned())
            .unwrap_or_default()
    }

    #[test]
    fn parse_errors_name_the_field() {
        let cases = [
            (r#"{}"#, "schedule.tz: is missing"),
            (
                r#"{"tz":"Mars/Olympus"}"#,
                "schedule.tz: \"Mars/Olympus\" is not a known IANA",
            ),
            (
                r#"{"tz":"UTC","always":"yes"}"#,
                "schedule.always: must be true or false",
            ),
            (
                r#"{"tz":"UTC","windws":[]}"#,
                "schedule.windws: unknown field",
            ),
            (
                r#"{"tz":"UTC","windows":[{"days":["mon"],"from":"25:00","to":"05:00"}]}"#,
                "schedule.windows[0].from: \"25:00\" is not a time of day",
            ),
            (
                r#"{"tz":"UTC","windows":[{"days":["mon"],"from":"22:00","to":"5"}]}"#,
                "schedule.windows[0].to: \"5\" is not a time of day",
            ),
            (
                r#"{"tz":"UTC","windows":[{"days":["mon","fryday"],"from":"22:00","to":"05:00"}]}"#,
                "schedule.windows[0].days[1]: \"fryday\" is not a day",
            ),
            (
                r#"{"tz":"UTC","windows":[{"days":[],"from":"22:00","to":"05:00"}]}"#,
                "schedule.windows[0].days: is empty",
            ),
            (
                r#"{"tz":"UTC","windows":[{"days":["sun"],"to":"05:00"}]}"#,
                "schedule.windows[0].from: is missing",
            ),
            (
                r#"{"tz":"UTC","dates":[{"from":"2026-02-30","to":"2026-03-01"}]}"#,
                "schedule.dates[0].from: \"2026-02-30\" is not a calendar date",
            ),
            (
                r#"{"tz":"UTC","except":[{"from":"2026-09-01","to":"2026-07-01"}]}"#,
                "schedule.except[0]: from 2026-09-01 is after to 2026-07-01",
            ),
            (
                r#"{"tz":"UTC","dates":[{"from":"1/7/2026","to":"2026-08-31"}]}"#,
                "schedule.dates[0].from: \"1/7/2026\" is not a date (YYYY-MM-DD)",
            ),
            (r#"[1]"#, "schedule: must be a JSON object"),
            (r#"{"tz":"#, "schedule: not valid JSON"),
        ];
        for (json, want) in cases {
            let got = err(json);
            assert!(got.starts_with(want), "{json}: got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn json_round_trip() {
        let json = r#"{"tz":"Asia/Jerusalem","windows":[{"days":["Sunday","thu"],"from":"22:00","to":"05:00:30"}],
            "dates":[{"from":"2026-07-01","to":"2026-08-31","label":"summer holidays"}],
            "except":[{"from":"2026-07-15","to":"2026-07-15"}]}"#;
        let s = Schedule::parse_json(json).unwrap();
        assert_eq!(s.tz, chrono_tz::Asia::Jerusalem);
        assert!(s.windows[0].days.contains(Weekday::Sun));
        assert!(s.windows[0].days.contains(Weekday::Thu));
        assert!(!s.windows[0].days.contains(Weekday::Mon));
        assert!(s.windows[0].crosses_midnight());
        let text = serde_json::to_string(&s).unwrap();
        let back: Schedule = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert!(text.contains(r#""days":["thu","sun"]"#), "{text}");
        assert!(text.contains(r#""to":"05:00:30""#), "{text}");
    }

    #[test]
    fn always_and_empty() {
        let s = Schedule::always(chrono_tz::UTC);
        assert!(s.is_armed(at("2026-01-01T00:00:00Z")));
        let never = Schedule::parse_json(r#"{"tz":"UTC"}"#).unwrap();
        assert!(!never.is_armed(at("2026-01-01T12:00:00Z")));
        assert!(!s.is_armed(WallTime(i64::MAX)));
    }

    #[test]
    fn a_schedule_holds_a_bounded_number_of_windows_and_ranges() {
        let window = r#"{"days":["mon"],"from":"22:00","to":"06:00"}"#;
        let many = |n: usize| {
            format!(
                r#"{{"tz":"UTC","windows":[{}]}}"#,
                vec![window; n].join(",")
            )
        };
        assert!(Schedule::parse_json(&many(MAX_PARTS)).is_ok());
        assert_eq!(
            err(&many(MAX_PARTS + 1)),
            format!(
                "schedule.windows: has {} entries; at most {MAX_PARTS}",
                MAX_PARTS + 1
            )
        );
    }

    #[test]
    fn a_local_day_starts_at_local_midnight() {
        // 7 December 2026 in Jerusalem starts at 22:00 UTC the day before.
        assert_eq!(
            local_day_start(chrono_tz::Asia::Jerusalem, at("2026-12-07T09:00:00Z")),
            at("2026-12-06T22:00:00Z")
        );
        assert_eq!(
            local_day_start(chrono_tz::Asia::Jerusalem, at("2026-12-06T22:00:00Z")),
            at("2026-12-06T22:00:00Z")
        );
        // In summer (UTC+3).
        assert_eq!(
            local_day_start(chrono_tz::Asia::Jerusalem, at("2027-08-15T09:00:00Z")),
            at("2027-08-14T21:00:00Z")
        );
        // Havana skips midnight on 8 March 2026: the day starts at 01:00 local.
        assert_eq!(
            local_day_start(chrono_tz::America::Havana, at("2026-03-08T12:00:00Z")),
            at("2026-03-08T05:00:00Z")
        );
    }

    /// "Every night 22:00–06:00 and all of August" in Asia/Jerusalem.
    fn nights_and_august() -> Schedule {
        Schedule::parse_json(
            r#"{"tz":"Asia/Jerusalem","windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],
                "from":"22:00","to":"06:00"}],
                "all_day":[{"from":"2027-08-01","to":"2027-08-31","label":"August"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn all_day_ranges_add_whole_days_and_round_trip() {
        let s = nights_and_august();
        // A December noon: disarmed; an August noon: armed; August ends at 06:00 on 1 September
        // (the night of 31 August is a window occurrence).
        assert!(!s.is_armed(at("2026-12-07T10:00:00Z")));
        assert!(s.is_armed(at("2027-08-15T09:00:00Z")));
        assert!(s.is_armed(at("2027-09-01T02:59:59Z")));
        assert!(!s.is_armed(at("2027-09-01T03:00:00Z")));
        let back = Schedule::parse_json(&s.to_json_value().to_string()).unwrap();
        assert_eq!(back, s);
        // `except` wins over `all_day`; reversed ranges are refused by name.
        let mut with_except = s.clone();
        with_except.except.push(DateRange {
            from: NaiveDate::from_ymd_opt(2027, 8, 15).unwrap(),
            to: NaiveDate::from_ymd_opt(2027, 8, 15).unwrap(),
            label: None,
        });
        assert!(!with_except.is_armed(at("2027-08-15T09:00:00Z")));
        assert!(
            err(r#"{"tz":"UTC","all_day":[{"from":"2027-08-31","to":"2027-08-01"}]}"#)
                .starts_with("schedule.all_day[0]: from 2027-08-31 is after to 2027-08-01"),
        );
        // A document without the field reads back without it.
        let plain = Schedule::parse_json(r#"{"tz":"UTC","always":true}"#).unwrap();
        assert!(plain.to_json_value().get("all_day").is_none());
    }

    #[test]
    fn the_next_changes_of_nights_and_august() {
        let s = nights_and_august();
        // Monday 7 December 2026, 11:00 in Jerusalem (UTC+2).
        let c = s.changes_after(at("2026-12-07T09:00:00Z"), 3, 14);
        assert_eq!(
            c,
            vec![
                (at("2026-12-07T20:00:00Z"), true),
                (at("2026-12-08T04:00:00Z"), false),
                (at("2026-12-08T20:00:00Z"), true),
            ]
        );
        // Across August the nights and the days join: armed from 22:00 on 31 July (UTC+3)
        // until 06:00 on 1 September.
        let c = s.changes_after(at("2027-07-31T09:00:00Z"), 2, 40);
        assert_eq!(
            c,
            vec![
                (at("2027-07-31T19:00:00Z"), true),
                (at("2027-09-01T03:00:00Z"), false),
            ]
        );
        // Nothing within the horizon: nothing listed.
        let never = Schedule::parse_json(r#"{"tz":"UTC"}"#).unwrap();
        assert!(
            never
                .changes_after(at("2026-12-07T09:00:00Z"), 5, 30)
                .is_empty()
        );
    }

    /// The changes found from the candidates are exactly those a scan minute by minute sees,
    /// across daylight-saving changes in both directions and windows inside the skipped hour.
    #[test]
    fn changes_match_a_minute_by_minute_scan_across_daylight_saving() {
        let cases = [
            // Jerusalem: clocks go forward on Friday 27 March 2026 at 02:00, back on Sunday
            // 25 October 2026 at 02:00.
            (
                r#"{"tz":"Asia/Jerusalem","windows":[{"days":["fri","sun"],"from":"01:00","to":"02:30"},
                    {"days":["fri"],"from":"02:15","to":"02:45"},{"days":["sat","sun"],"from":"23:00","to":"01:30"}]}"#,
                "2026-03-25T00:00:00Z",
            ),
            (
                r#"{"tz":"Asia/Jerusalem","windows":[{"days":["sun"],"from":"01:30","to":"01:45"},
                    {"days":["sat"],"from":"22:00","to":"06:00"}],
                    "all_day":[{"from":"2026-10-27","to":"2026-10-27"}]}"#,
                "2026-10-23T00:00:00Z",
            ),
            // Stockholm: forward on 29 March 2026 at 02:00, back on 25 October 2026 at 03:00.
            (
                r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun"],"from":"02:00","to":"03:00"},
                    {"days":["mon","tue","wed","thu","fri","sat","sun"],"from":"22:00","to":"06:00"}],
                    "dates":[{"from":"2026-03-26","to":"2026-03-30"}]}"#,
                "2026-03-26T00:00:00Z",
            ),
            (
                r#"{"tz":"Europe/Stockholm","windows":[{"days":["sun"],"from":"02:30","to":"02:40"}],
                    "except":[{"from":"2026-10-26","to":"2026-10-26"}]}"#,
                "2026-10-22T00:00:00Z",
            ),
        ];
        for (json, from) in cases {
            let s = Schedule::parse_json(json).unwrap();
            let start = at(from);
            let days = 6;
            let mut scanned = Vec::new();
            let mut armed = s.is_armed(start);
            for m in 1..=(days * 24 * 60) {
                let t = WallTime(start.0 + m * 60_000_000);
                let now = s.is_armed(t);
                if now != armed {
                    scanned.push((t, now));
                    armed = now;
                }
            }
            let found = s.changes_after(start, usize::MAX, days as u32);
            assert!(!scanned.is_empty(), "{json}");
            assert_eq!(found, scanned, "{json}");
        }
    }
}
