//! Enforcement operations and their effect.
//!
//! An operation is a named run of local days (`start`..=`end`) with an optional daily window
//! (`22:00`–`04:00` crosses midnight: the window of a day ends on the next morning), the
//! hotspots it covers, the phenomena (incident kinds) it targets, and comparison hotspots the
//! forum picks. Its effect compares:
//! - **before**: the same number of days right before `start`, the same daily window;
//! - **during**: the operation's days whose window has ended by now;
//! - **after**: once the operation ended, as many days after `end` as it lasted (those whose
//!   window has ended by now).
//!
//! Exposure is the sum of the windows' real lengths (a window across the spring change is an
//! hour shorter), so rates stay comparable across daylight saving. A moment belongs to the day
//! whose window contains it.

use crate::local::{Local, at_minute, local_of};
use crate::rate::{RateRatio, dispersion, rate_ratio, ratio_of_ratios};
use crate::{Error, MAX_RANGE_DAYS, Result, day_start};
use chrono::{Datelike, Duration, NaiveDate};
use chrono_tz::Tz;
use roeh_domain::WallTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Most hotspots (covered plus comparison) and kinds an operation names.
pub const MAX_OPERATION_PARTS: usize = 64;
/// Longest name.
pub const MAX_NAME: usize = 200;

/// An operation as the API takes and stores it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OperationDoc {
    /// What the forum calls it ("summer nights at the promenade").
    pub name: String,
    /// First local day, `YYYY-MM-DD`.
    pub start: String,
    /// Last local day (included), `YYYY-MM-DD`.
    pub end: String,
    /// The daily window, local `HH:MM`; absent for whole days. `from` after `to` crosses
    /// midnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowDoc>,
    /// The hotspots it covers.
    pub hotspots: Vec<Uuid>,
    /// The phenomena (incident kinds) it targets; empty for all.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Hotspots to compare with (not covered by it).
    #[serde(default)]
    pub comparison: Vec<Uuid>,
}

/// A daily window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WindowDoc {
    /// Start, `HH:MM`.
    pub from: String,
    /// End, `HH:MM`; before `from` for a window across midnight.
    pub to: String,
}

/// A checked operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Its name.
    pub name: String,
    /// First day.
    pub start: NaiveDate,
    /// Last day, included.
    pub end: NaiveDate,
    /// Window start and end in minutes after local midnight; `None` for whole days.
    pub window: Option<(u32, u32)>,
    /// Covered hotspots.
    pub hotspots: BTreeSet<Uuid>,
    /// Targeted kinds; empty for all.
    pub kinds: BTreeSet<String>,
    /// Comparison hotspots.
    pub comparison: BTreeSet<Uuid>,
}

fn date(name: &str, v: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| Error::invalid(format!("{name} must be a date (YYYY-MM-DD), got {v:?}")))
}

fn minute(name: &str, v: &str) -> Result<u32> {
    let bad = || Error::invalid(format!("{name} must be a time HH:MM, got {v:?}"));
    let (h, m) = v.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

impl Operation {
    /// Checks `doc`.
    pub fn parse(doc: &OperationDoc) -> Result<Operation> {
        let name = doc.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(Error::invalid(format!(
                "name must have 1 to {MAX_NAME} characters"
            )));
        }
        let start = date("start", &doc.start)?;
        let end = date("end", &doc.end)?;
        if end < start {
            return Err(Error::invalid("end is before start"));
        }
        if (end - start).num_days() >= MAX_RANGE_DAYS {
            return Err(Error::invalid("an operation lasts at most 10 years"));
        }
        let window = match &doc.window {
            None => None,
            Some(w) => {
                let (f, t) = (minute("window.from", &w.from)?, minute("window.to", &w.to)?);
                if f == t {
                    return Err(Error::invalid(
                        "window.from equals window.to; leave the window out for whole days",
                    ));
                }
                Some((f, t))
            }
        };
        let hotspots: BTreeSet<Uuid> = doc.hotspots.iter().copied().collect();
        let comparison: BTreeSet<Uuid> = doc.comparison.iter().copied().collect();
        let kinds: BTreeSet<String> = doc.kinds.iter().map(|k| k.trim().to_string()).collect();
        if hotspots.is_empty() {
            return Err(Error::invalid("hotspots must name at least one hotspot"));
        }
        if hotspots.len() + comparison.len() > MAX_OPERATION_PARTS
            || kinds.len() > MAX_OPERATION_PARTS
        {
            return Err(Error::invalid(format!(
                "an operation names at most {MAX_OPERATION_PARTS} hotspots and kinds"
            )));
        }
        if let Some(h) = hotspots.intersection(&comparison).next() {
            return Err(Error::invalid(format!(
                "hotspot {h} is both covered and a comparison"
            )));
        }
        if kinds.iter().any(|k| k.is_empty() || k.len() > 64) {
            return Err(Error::invalid("kinds must be names of 1 to 64 characters"));
        }
        Ok(Operation {
            name: name.to_string(),
            start,
            end,
            window,
            hotspots,
            kinds,
            comparison,
        })
    }

    /// Whether its daily window starts and ends on whole local hours (or it has none).
    pub fn on_whole_hours(&self) -> bool {
        self.window.is_none_or(|(f, t)| f % 60 == 0 && t % 60 == 0)
    }

    /// Its length in days.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// Where day `d`'s window starts and ends.
    pub fn window_of(&self, tz: Tz, d: NaiveDate) -> (WallTime, WallTime) {
        match self.window {
            None => (day_start(tz, d), day_start(tz, d + Duration::days(1))),
            Some((f, t)) if f < t => (at_minute(tz, d, f), at_minute(tz, d, t)),
            Some((f, t)) => (at_minute(tz, d, f), at_minute(tz, d + Duration::days(1), t)),
        }
    }

    /// The day whose window holds local moment `l`, if any.
    pub fn window_day(&self, l: &Local) -> Option<NaiveDate> {
        let m = l.minute_of_day;
        match self.window {
            None => Some(l.date),
            Some((f, t)) if f < t => (f <= m && m < t).then_some(l.date),
            Some((f, t)) => {
                if m >= f {
                    Some(l.date)
                } else if m < t {
                    l.date.pred_opt()
                } else {
                    None
                }
            }
        }
    }

    /// The periods of the comparison at `now` (see the module docs).
    pub fn periods(&self, tz: Tz, now: WallTime) -> Periods {
        let n = self.days();
        let done = |d: NaiveDate| self.window_of(tz, d).1 <= now;
        let clip = |first: NaiveDate, last: NaiveDate| -> Option<Days> {
            let mut l = last;
            while l >= first && !done(l) {
                l = l.pred_opt()?;
            }
            (l >= first).then_some(Days { first, last: l })
        };
        let before = Days {
            first: self.start - Duration::days(n),
            last: self.start - Duration::days(1),
        };
        let during = clip(self.start, self.end);
        let after = if done(self.end) {
            clip(self.end + Duration::days(1), self.end + Duration::days(n))
        } else {
            None
        };
        Periods {
            before: clip(before.first, before.last),
            during,
            after,
        }
    }

    /// The exposure of `days`, hours: the sum of their windows' lengths.
    pub fn hours(&self, tz: Tz, days: Days) -> f64 {
        let mut d = days.first;
        let mut us = 0i64;
        while d <= days.last {
            let (a, b) = self.window_of(tz, d);
            us += b.0 - a.0;
            d += Duration::days(1);
        }
        us as f64 / 3_600_000_000.0
    }
}

/// A run of local days, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days {
    /// First day.
    pub first: NaiveDate,
    /// Last day.
    pub last: NaiveDate,
}

impl Days {
    /// Whether `d` is one of them.
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.first <= d && d <= self.last
    }
}

/// The periods compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periods {
    /// Before the operation (`None` only before it has any past day).
    pub before: Option<Days>,
    /// The elapsed part of the operation.
    pub during: Option<Days>,
    /// After it, once it ended.
    pub after: Option<Days>,
}

impl Periods {
    /// The instants that hold every window of every period.
    pub fn span(&self, op: &Operation, tz: Tz) -> Option<(WallTime, WallTime)> {
        let all: Vec<Days> = [self.before, self.during, self.after]
            .into_iter()
            .flatten()
            .collect();
        let first = all.iter().map(|d| d.first).min()?;
        let last = all.iter().map(|d| d.last).max()?;
        Some((op.window_of(tz, first).0, op.window_of(tz, last).1))
    }
}

/// Which period a day is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Phase {
    /// Before the operation.
    Before,
    /// During it.
    During,
    /// After it.
    After,
}

/// The figures of one period.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PeriodFigures {
    /// First day, `YYYY-MM-DD`.
    pub first_day: String,
    /// Last day, `YYYY-MM-DD`.
    pub last_day: String,
    /// Hours of exposure (the windows' lengths).
    pub hours: f64,
    /// Incidents at the covered hotspots inside the windows.
    pub incidents: u64,
    /// Incidents at the comparison hotspots inside the windows.
    pub comparison_incidents: u64,
    /// Incidents per 100 hours of exposure at the covered hotspots.
    pub rate_per_100h: f64,
}

/// One week of the chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct WeekPoint {
    /// First day of the 7-day stretch, `YYYY-MM-DD`.
    pub first_day: String,
    /// Its period.
    pub phase: Phase,
    /// Incidents at the covered hotspots.
    pub incidents: u64,
    /// Incidents at the comparison hotspots.
    pub comparison_incidents: u64,
}

/// What the operation changed, as far as can be told.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Effect {
    /// Before.
    pub before: Option<PeriodFigures>,
    /// During (its elapsed days).
    pub during: Option<PeriodFigures>,
    /// After, once it ended.
    pub after: Option<PeriodFigures>,
    /// Rate during ÷ rate before, covered hotspots.
    pub during_vs_before: Option<RateRatio>,
    /// Rate after ÷ rate before, covered hotspots.
    pub after_vs_before: Option<RateRatio>,
    /// (during ÷ before at the covered hotspots) ÷ (during ÷ before at the comparison ones).
    pub during_vs_comparison: Option<RateRatio>,
    /// Seven-day stretches of every period, from the first day before, for the chart.
    pub weeks: Vec<WeekPoint>,
}

/// Counts incidents into an operation's periods.
#[derive(Debug)]
pub struct EffectCounter<'a> {
    op: &'a Operation,
    tz: Tz,
    periods: Periods,
    counts: [[u64; 2]; 3],
    weeks: Vec<WeekPoint>,
    origin: Option<NaiveDate>,
}

impl<'a> EffectCounter<'a> {
    /// For `op` at `now` in `tz`.
    pub fn new(op: &'a Operation, tz: Tz, now: WallTime) -> EffectCounter<'a> {
        let periods = op.periods(tz, now);
        let origin = [periods.before, periods.during, periods.after]
            .into_iter()
            .flatten()
            .map(|d| d.first)
            .min();
        let mut weeks = Vec::new();
        if let Some(o) = origin {
            for (phase, days) in [
                (Phase::Before, periods.before),
                (Phase::During, periods.during),
                (Phase::After, periods.after),
            ] {
                let Some(days) = days else { continue };
                let mut d = days.first;
                while d <= days.last {
                    let idx = ((d - o).num_days() / 7) as usize;
                    if weeks.len() <= idx {
                        weeks.resize(
                            idx + 1,
                            WeekPoint {
                                first_day: String::new(),
                                phase,
                                incidents: 0,
                                comparison_incidents: 0,
                            },
                        );
                    }
                    if weeks[idx].first_day.is_empty() {
                        weeks[idx].first_day = d.format("%Y-%m-%d").to_string();
                        weeks[idx].phase = phase;
                    }
                    d += Duration::days(1);
                }
            }
        }
        EffectCounter {
            op,
            tz,
            periods,
            counts: [[0; 2]; 3],
            weeks,
            origin,
        }
    }

    /// The periods counted.
    pub fn periods(&self) -> Periods {
        self.periods
    }

    /// Adds `n` incidents of kind `kind` at `hotspot`, at `at` (a minute's start).
    pub fn add(&mut self, hotspot: Uuid, kind: &str, at: WallTime, n: u64) {
        let l = local_of(self.tz, at);
        self.add_local(hotspot, kind, l, n);
    }

    /// Adds local day `date`'s incidents of kind `kind` at `hotspot`, per local hour: exact
    /// when the operation's window starts and ends on whole hours
    /// ([`Operation::on_whole_hours`]), as every minute of an hour then counts alike.
    pub fn add_hours(&mut self, hotspot: Uuid, kind: &str, date: NaiveDate, hours: &[u64; 24]) {
        let weekday = date.weekday().num_days_from_monday() as usize;
        for (h, &n) in (0u32..).zip(hours.iter()) {
            if n > 0 {
                let l = Local {
                    date,
                    weekday,
                    hour: h,
                    minute_of_day: h * 60,
                };
                self.add_local(hotspot, kind, l, n);
            }
        }
    }

    /// Adds `n` incidents of kind `kind` at `hotspot`, at local moment `l`.
    pub fn add_local(&mut self, hotspot: Uuid, kind: &str, l: Local, n: u64) {
        if !self.op.kinds.is_empty() && !self.op.kinds.contains(kind) {
            return;
        }
        let side = if self.op.hotspots.contains(&hotspot) {
            0
        } else if self.op.comparison.contains(&hotspot) {
            1
        } else {
            return;
        };
        let Some(day) = self.op.window_day(&l) else {
            return;
        };
        let phase = [self.periods.before, self.periods.during, self.periods.after]
            .iter()
            .position(|p| p.is_some_and(|p| p.contains(day)));
        let Some(phase) = phase else { return };
        self.counts[phase][side] += n;
        if let Some(o) = self.origin {
            let idx = ((day - o).num_days() / 7) as usize;
            if let Some(w) = self.weeks.get_mut(idx) {
                if side == 0 {
                    w.incidents += n;
                } else {
                    w.comparison_incidents += n;
                }
            }
        }
    }

    /// The effect.
    pub fn finish(self) -> Effect {
        let tz = self.tz;
        let op = self.op;
        let fig = |days: Option<Days>, i: usize| {
            days.map(|d| {
                let hours = op.hours(tz, d);
                PeriodFigures {
                    first_day: d.first.format("%Y-%m-%d").to_string(),
                    last_day: d.last.format("%Y-%m-%d").to_string(),
                    hours,
                    incidents: self.counts[i][0],
                    comparison_incidents: self.counts[i][1],
                    rate_per_100h: if hours > 0.0 {
                        self.counts[i][0] as f64 * 100.0 / hours
                    } else {
                        0.0
                    },
                }
            })
        };
        let before = fig(self.periods.before, 0);
        let during = fig(self.periods.during, 1);
        let after = fig(self.periods.after, 2);
        // Dispersion from the covered hotspots' full weeks before the operation.
        let before_weeks: Vec<u64> = match self.periods.before {
            Some(b) => self
                .weeks
                .iter()
                .filter(|w| w.phase == Phase::Before)
                .take(((b.last - b.first).num_days() as usize + 1) / 7)
                .map(|w| w.incidents)
                .collect(),
            None => Vec::new(),
        };
        let phi = dispersion(&before_weeks);
        let vs = |x: &Option<PeriodFigures>, y: &Option<PeriodFigures>| match (x, y) {
            (Some(x), Some(y)) if x.hours > 0.0 && y.hours > 0.0 => {
                Some(rate_ratio(x.incidents, x.hours, y.incidents, y.hours, phi))
            }
            _ => None,
        };
        let during_vs_before = vs(&during, &before);
        let after_vs_before = vs(&after, &before);
        let during_vs_comparison = match (&during, &before) {
            (Some(d), Some(b)) if !op.comparison.is_empty() && d.hours > 0.0 && b.hours > 0.0 => {
                Some(ratio_of_ratios(
                    ((d.incidents, d.hours), (b.incidents, b.hours)),
                    (
                        (d.comparison_incidents, d.hours),
                        (b.comparison_incidents, b.hours),
                    ),
                    phi,
                ))
            }
            _ => None,
        };
        Effect {
            before,
            during,
            after,
            during_vs_before,
            after_vs_before,
            during_vs_comparison,
            weeks: self.weeks,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::zone;

    fn op(window: Option<(&str, &str)>) -> Operation {
        Operation::parse(&OperationDoc {
            name: "summer nights at the promenade".into(),
            start: "2026-07-01".into(),
            end: "2026-08-31".into(),
            window: window.map(|(f, t)| WindowDoc {
                from: f.into(),
                to: t.into(),
            }),
            hotspots: vec![Uuid::from_u128(1)],
            kinds: vec!["violence".into()],
            comparison: vec![Uuid::from_u128(2)],
        })
        .unwrap()
    }

    #[test]
    fn bad_operations_are_refused_naming_the_field() {
        let mut d = OperationDoc {
            name: "x".into(),
            start: "2026-07-01".into(),
            end: "2026-06-30".into(),
            window: None,
            hotspots: vec![Uuid::from_u128(1)],
            kinds: vec![],
            comparison: vec![],
        };
        assert!(
            Operation::parse(&d)
                .unwrap_err()
                .message
                .contains("before start")
        );
        d.end = "2026-07-31".into();
        d.window = Some(WindowDoc {
            from: "25:00".into(),
            to: "04:00".into(),
        });
        assert!(
            Operation::parse(&d)
                .unwrap_err()
                .message
                .contains("window.from")
        );
        d.window = None;
        d.comparison = vec![Uuid::from_u128(1)];
        assert!(
            Operation::parse(&d)
                .unwrap_err()
                .message
                .contains("both covered")
        );
        d.comparison.clear();
        d.hotspots.clear();
        assert!(
            Operation::parse(&d)
                .unwrap_err()
                .message
                .contains("at least one")
        );
    }

    #[test]
    fn a_night_window_belongs_to_the_evening_it_starts_and_periods_follow_now() {
        let tz = zone("Asia/Jerusalem").unwrap();
        let o = op(Some(("22:00", "04:00")));
        // 02:00 on 1 July belongs to the night of 30 June: before the operation.
        let l = local_of(tz, WallTime::parse("2026-06-30T23:00:00Z").unwrap());
        assert_eq!(o.window_day(&l), NaiveDate::from_ymd_opt(2026, 6, 30));
        let l = local_of(tz, WallTime::parse("2026-07-01T12:00:00Z").unwrap());
        assert_eq!(o.window_day(&l), None, "15:00 is outside the window");
        // In mid-July: 62 days before, the nights of 1–14 July so far, nothing after.
        let p = o.periods(tz, WallTime::parse("2026-07-15T12:00:00Z").unwrap());
        assert_eq!(
            p.before.unwrap().first,
            NaiveDate::from_ymd_opt(2026, 4, 30).unwrap()
        );
        assert_eq!(
            p.during.unwrap().last,
            NaiveDate::from_ymd_opt(2026, 7, 14).unwrap()
        );
        assert_eq!(p.after, None);
        // Six hours a night, 62 nights.
        assert!((o.hours(tz, p.before.unwrap()) - 62.0 * 6.0).abs() < 1e-9);
        // Long after: the after period is as long as the operation.
        let p = o.periods(tz, WallTime::parse("2027-01-01T00:00:00Z").unwrap());
        let a = p.after.unwrap();
        assert_eq!((a.last - a.first).num_days() + 1, 62);
    }

    #[test]
    fn a_night_across_the_autumn_change_is_an_hour_longer() {
        let tz = zone("Europe/Stockholm").unwrap();
        let o = op(Some(("22:00", "04:00")));
        let d = NaiveDate::from_ymd_opt(2026, 10, 24).unwrap();
        let h = o.hours(tz, Days { first: d, last: d });
        assert!((h - 7.0).abs() < 1e-9);
    }

    #[test]
    fn the_counter_sorts_incidents_into_periods_sides_and_weeks() {
        let tz = zone("UTC").unwrap();
        let o = op(None);
        let now = WallTime::parse("2027-01-01T00:00:00Z").unwrap();
        let mut c = EffectCounter::new(&o, tz, now);
        let t = |s: &str| WallTime::parse(s).unwrap();
        c.add(
            Uuid::from_u128(1),
            "violence",
            t("2026-06-01T10:00:00Z"),
            10,
        );
        c.add(Uuid::from_u128(1), "violence", t("2026-07-10T10:00:00Z"), 6);
        c.add(
            Uuid::from_u128(1),
            "vandalism",
            t("2026-07-10T10:00:00Z"),
            99,
        );
        c.add(Uuid::from_u128(2), "violence", t("2026-07-10T10:00:00Z"), 5);
        c.add(Uuid::from_u128(3), "violence", t("2026-07-10T10:00:00Z"), 7);
        c.add(Uuid::from_u128(1), "violence", t("2026-09-05T10:00:00Z"), 8);
        let e = c.finish();
        assert_eq!(e.before.as_ref().unwrap().incidents, 10);
        assert_eq!(e.during.as_ref().unwrap().incidents, 6);
        assert_eq!(e.during.as_ref().unwrap().comparison_incidents, 5);
        assert_eq!(e.after.as_ref().unwrap().incidents, 8);
        assert!((e.during_vs_before.unwrap().ratio.unwrap() - 0.6).abs() < 1e-12);
        assert_eq!(e.weeks.iter().map(|w| w.incidents).sum::<u64>(), 24);
        assert_eq!(e.weeks.first().unwrap().phase, Phase::Before);
        assert_eq!(e.weeks.last().unwrap().phase, Phase::After);
    }
}
