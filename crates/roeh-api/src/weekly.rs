//! The weekly report for the enforcement forum: `GET /api/reports/weekly?week=2026-W49
//! [&hotspot=][&lang=he|en][&format=pdf|csv]`, `roeh report weekly`, and the reports made each
//! week at the configured time (`GET /api/reports`, `GET /api/reports/files/{id}` (the id is the file name)).
//!
//! Invariants:
//! - the figures are the answers of the statistics API's own queries for the ISO week (local
//!   Monday to Sunday in the site's zone) and the caller's scope ([`crate::stats`]); the report
//!   lists those queries, so every number in it can be asked again;
//! - a week without incidents gives a valid report that says so;
//! - the PDF is laid out off the async runtime (typst is CPU work).

use crate::stats::{self, Source, StatsQuery};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use roeh_auth::{Principal, Scope};
use roeh_domain::{ErrorKind, WallTime};
use roeh_report::{Lang, Weekly, WeeklyRow};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use uuid::Uuid;

/// The ISO week `2026-W49`: its Monday.
pub fn week_monday(week: &str) -> Result<NaiveDate, ApiError> {
    let bad = || {
        ApiError::invalid(format!(
            "week must be an ISO week such as 2026-W49, got {week:?}"
        ))
    };
    let (ys, ws) = week.split_once("-W").ok_or_else(bad)?;
    if ys.len() != 4 || ws.len() != 2 {
        return Err(bad());
    }
    let (y, w): (i32, u32) = (
        ys.parse().map_err(|_| bad())?,
        ws.parse().map_err(|_| bad())?,
    );
    if !(1970..=9999).contains(&y) {
        return Err(bad());
    }
    NaiveDate::from_isoywd_opt(y, w, Weekday::Mon).ok_or_else(bad)
}

/// The ISO week of `d`, `2026-W49`.
pub fn week_of(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{:04}-W{:02}", w.year(), w.week())
}

fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |s| format!("{s:.0} s"))
}

/// The figures of `week` for a caller of `scope`, limited to `hotspot` where given.
pub async fn weekly(
    src: &Source,
    scope: &Scope,
    week: &str,
    hotspot: Option<&str>,
    lang: Lang,
) -> Result<Weekly, ApiError> {
    let monday = week_monday(week)?;
    let sunday = monday + Duration::days(6);
    let first12 = monday - Duration::days(77);
    let hotspot_id = hotspot
        .map(|h| {
            Uuid::parse_str(h)
                .map_err(|_| ApiError::invalid(format!("hotspot must be a UUID, got {h:?}")))
        })
        .transpose()?;
    let q = |from: NaiveDate, interval: &str| StatsQuery {
        from: Some(day(from)),
        to: Some(day(sunday)),
        hotspot: hotspot_id.map(|h| h.to_string()),
        interval: Some(interval.to_string()),
        ..StatsQuery::default()
    };
    let (q_days, q_weeks) = (q(monday, "day"), q(first12, "week"));
    let inc = stats::incident_stats(src, scope, &q_days).await?;
    let trend = stats::incident_stats(src, scope, &q_weeks).await?;
    let al = stats::alert_stats(src, scope, &q_days).await?;
    let ext = stats::external_stats(src, scope, &q_days).await?;

    // Response times per hotspot, as `GET /api/reports/response-times?group=hotspot` gives them.
    let (from, to) = (
        WallTime::parse(&inc.from).unwrap_or(src.now),
        WallTime::parse(&inc.to).unwrap_or(src.now),
    );
    let wanted = crate::reports::hotspots_in_scope(scope, hotspot_id);
    let mut times = match &wanted {
        Some(h) if h.is_empty() => Vec::new(),
        _ => src.store.alert_times(from, to, wanted.as_deref()).await?,
    };
    times.retain(|a| scope.allows_hotspot(a.hotspot_id));
    let rows = crate::reports::aggregate(&times, &src.shifts, crate::reports::Group::Hotspot);

    let name_of = |h: Option<Uuid>| {
        h.and_then(|h| {
            trend
                .by_hotspot
                .iter()
                .find(|x| x.hotspot == h)
                .map(|x| x.name.clone())
        })
        .unwrap_or_default()
    };
    let n = trend.trend.total.len();
    let at = |v: &[u64], back: usize| {
        n.checked_sub(back)
            .and_then(|i| v.get(i))
            .copied()
            .unwrap_or(0)
    };
    let mut hotspots: Vec<(u64, WeeklyRow)> = trend
        .trend
        .by_hotspot
        .iter()
        .map(|s| {
            let (this, before) = (at(&s.counts, 1), at(&s.counts, 2));
            (
                this,
                WeeklyRow {
                    label: name_of(Some(s.hotspot)),
                    values: vec![this.to_string(), before.to_string()],
                },
            )
        })
        .filter(|(this, r)| *this > 0 || r.values[1] != "0")
        .collect();
    hotspots.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.label.cmp(&b.1.label)));

    let mut operations = Vec::new();
    for op in stats::visible_operations(src, scope).await? {
        let (Ok(s), Ok(e)) = (
            NaiveDate::parse_from_str(&op.doc.start, "%Y-%m-%d"),
            NaiveDate::parse_from_str(&op.doc.end, "%Y-%m-%d"),
        ) else {
            continue;
        };
        if s > sunday || e < monday || hotspot_id.is_some_and(|h| !op.doc.hotspots.contains(&h)) {
            continue;
        }
        let eff = stats::operation_effect(src, scope, &op.id.to_string(), None).await?;
        let text = match eff.effect.during_vs_before {
            Some(r) => format!(
                "{} ({:.2}–{:.2})",
                r.ratio.map_or("–".to_string(), |x| format!("{x:.2}")),
                r.low,
                r.high
            ),
            None => "–".to_string(),
        };
        operations.push(WeeklyRow {
            label: op.doc.name.clone(),
            values: vec![text],
        });
    }

    let queries = vec![
        format!("GET /api/stats/incidents?{}", q_days.to_query()),
        format!("GET /api/stats/incidents?{}", q_weeks.to_query()),
        format!("GET /api/stats/alerts?{}", q_days.to_query()),
        format!("GET /api/stats/external?{}", q_days.to_query()),
        format!(
            "GET /api/reports/response-times?from={}&to={}&group=hotspot{}",
            inc.from,
            inc.to,
            hotspot_id.map_or(String::new(), |h| format!("&hotspot={h}"))
        ),
        "GET /api/operations/{id}/effect".to_string(),
    ];
    let count =
        |v: &[stats::KeyCount], k: &str| v.iter().find(|x| x.key == k).map_or(0, |x| x.count);
    Ok(Weekly {
        lang,
        week: week_of(monday),
        first_day: day(monday),
        last_day: day(sunday),
        time_zone: inc.time_zone.clone(),
        generated_on: crate::stats::local_date(src.zone, src.now),
        hotspot: hotspot_id
            .map(|h| name_of(Some(h)))
            .filter(|n| !n.is_empty()),
        incidents: inc.total,
        incidents_before: at(&trend.trend.total, 2),
        alerts: al.total,
        false_alarms: count(&al.by_outcome, "false_alarm"),
        days: inc
            .trend
            .periods
            .iter()
            .zip(&inc.trend.total)
            .map(|(p, n)| {
                let d = NaiveDate::parse_from_str(p, "%Y-%m-%d")
                    .map_or_else(|_| p.clone(), |d| d.format("%d.%m").to_string());
                (d, *n)
            })
            .collect(),
        weeks: trend
            .trend
            .periods
            .iter()
            .zip(&trend.trend.total)
            .map(|(p, n)| {
                (
                    p.split_once('-').map_or(p.as_str(), |x| x.1).to_string(),
                    *n,
                )
            })
            .collect(),
        heat: inc.heat.all.clone(),
        hotspots: hotspots.into_iter().map(|x| x.1).collect(),
        kinds: inc
            .by_kind
            .iter()
            .map(|k| WeeklyRow {
                label: k.key.clone(),
                values: vec![k.count.to_string()],
            })
            .collect(),
        outcomes: inc
            .by_outcome
            .iter()
            .map(|k| WeeklyRow {
                label: k.key.clone(),
                values: vec![k.count.to_string()],
            })
            .collect(),
        response: rows
            .iter()
            .map(|r| WeeklyRow {
                label: name_of(r.hotspot),
                values: vec![
                    r.alerts.to_string(),
                    secs(r.to_claim.median_secs),
                    secs(r.to_claim.p90_secs),
                    secs(r.raised_to_arrive.median_secs),
                ],
            })
            .collect(),
        external: ext
            .series
            .iter()
            .map(|s| WeeklyRow {
                label: format!("{} · {} · {}", s.source, s.category, s.area_name),
                values: vec![s.counts.iter().sum::<u64>().to_string()],
            })
            .collect(),
        operations,
        queries,
    })
}

/// `GET /api/reports/weekly` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WeeklyQuery {
    /// Required: the ISO week, `2026-W49`.
    week: Option<String>,
    /// Only this hotspot (UUID).
    hotspot: Option<String>,
    /// `he` (default) or `en`.
    lang: Option<String>,
    /// `pdf` (default) or `csv` (every table of the report, in long form).
    format: Option<String>,
}

/// A report's bytes as a download.
fn download(bytes: Vec<u8>, media: &'static str, name: &str) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    (h, bytes).into_response()
}

/// Renders `w` as `pdf` or `csv` off the runtime.
pub async fn render(w: Weekly, csv: bool) -> Result<Vec<u8>, ApiError> {
    if csv {
        return Ok(roeh_report::csv(&w).into_bytes());
    }
    tokio::task::spawn_blocking(move || roeh_report::pdf(&w))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))?
        .map_err(|e| ApiError::new(ErrorKind::Internal, e.message))
}

/// `GET /api/reports/weekly?week=&[hotspot=]&[lang=]&[format=]`: the week's report in the
/// caller's scope.
pub(crate) async fn weekly_report(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<WeeklyQuery>,
) -> Result<Response, ApiError> {
    let week = q
        .week
        .ok_or_else(|| ApiError::invalid("week is required (an ISO week such as 2026-W49)"))?;
    let lang = match q.lang.as_deref() {
        None => Lang::He,
        Some(l) => Lang::parse(l)
            .ok_or_else(|| ApiError::invalid(format!("lang must be he or en, got {l:?}")))?,
    };
    let csv = match q.format.as_deref() {
        None | Some("pdf") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(ApiError::invalid(format!(
                "format must be pdf or csv, got {f:?}"
            )));
        }
    };
    let w = weekly(
        &Source::of(&st),
        &who.scope,
        &week,
        q.hotspot.as_deref(),
        lang,
    )
    .await?;
    let name = format!(
        "weekly-{}-{}.{}",
        w.week,
        lang.as_str(),
        if csv { "csv" } else { "pdf" }
    );
    let bytes = render(w, csv).await?;
    Ok(download(
        bytes,
        if csv {
            "text/csv; charset=utf-8"
        } else {
            "application/pdf"
        },
        &name,
    ))
}

/// Where the reports made each week are kept: `reports/` in the data directory, beside the
/// footage root's parent.
pub fn reports_dir(footage_root: &std::path::Path) -> PathBuf {
    footage_root
        .parent()
        .unwrap_or(footage_root)
        .join("reports")
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees half a
/// report.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A report kept in the data directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReportFile {
    /// Its file name, `weekly-2026-W49-he.pdf`.
    pub name: String,
    /// Its ISO week.
    pub week: String,
    /// Its size, bytes.
    pub bytes: u64,
}

/// Whether `name` is the name of a kept report: `weekly-YYYY-Www-xx.pdf|csv`.
fn report_name(name: &str) -> Option<String> {
    let rest = name.strip_prefix("weekly-")?;
    let (stem, ext) = rest.rsplit_once('.')?;
    if ext != "pdf" && ext != "csv" {
        return None;
    }
    let (week, lang) = stem.rsplit_once('-')?;
    Lang::parse(lang)?;
    week_monday(week).ok()?;
    Some(week.to_string())
}

/// `GET /api/reports`: the site-wide reports made each week, newest first. Only a caller who
/// sees the whole site reads them (they are made for the whole site).
pub(crate) async fn list_reports(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Result<axum::Json<Vec<ReportFile>>, ApiError> {
    if !who.scope.is_unrestricted() {
        return Ok(axum::Json(Vec::new()));
    }
    let dir = reports_dir(&st.footage_root);
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let (Some(week), Ok(m)) = (report_name(&name), e.metadata()) {
                out.push(ReportFile {
                    name,
                    week,
                    bytes: m.len(),
                });
            }
        }
    }
    out.sort_by(|a, b| b.week.cmp(&a.week).then(a.name.cmp(&b.name)));
    Ok(axum::Json(out))
}

/// `GET /api/reports/files/{id}` (the id is the file name): one kept report.
pub(crate) async fn report_file(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let missing = || ApiError::not_found("no such report");
    if !who.scope.is_unrestricted() || report_name(&name).is_none() {
        return Err(missing());
    }
    let bytes = tokio::fs::read(reports_dir(&st.footage_root).join(&name))
        .await
        .map_err(|_| missing())?;
    let media = if name.ends_with(".pdf") {
        "application/pdf"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok(download(bytes, media, &name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_parse_and_bad_ones_are_refused() {
        assert_eq!(
            week_monday("2026-W49").unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
        );
        assert_eq!(
            week_of(NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()),
            "2026-W53"
        );
        for bad in ["2026-49", "2026-W54", "2025-W53", "x-W1", "2026-W001"] {
            assert!(week_monday(bad).is_err(), "{bad}");
        }
        assert_eq!(
            report_name("weekly-2026-W49-he.pdf").as_deref(),
            Some("2026-W49")
        );
        assert_eq!(report_name("weekly-2026-W49-fr.pdf"), None);
        assert_eq!(report_name("../weekly-2026-W49-he.pdf"), None);
    }
}

/// When the weekly reports are made: a local weekday and time, and the languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeeklySchedule {
    /// The weekday.
    pub weekday: Weekday,
    /// Minutes after local midnight.
    pub minute: u32,
    /// One report per language.
    pub langs: Vec<Lang>,
}

impl WeeklySchedule {
    /// Parses `mon 06:00` (a weekday's first three letters and a local time) and languages.
    pub fn parse(at: &str, langs: &[String]) -> Result<WeeklySchedule, String> {
        let bad =
            || format!("weekly_at must be a weekday and a time such as \"mon 06:00\", got {at:?}");
        let (d, t) = at.trim().split_once(' ').ok_or_else(bad)?;
        let weekday = match d.to_ascii_lowercase().as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return Err(bad()),
        };
        let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        let langs = langs
            .iter()
            .map(|l| Lang::parse(l).ok_or_else(|| format!("weekly_langs: he or en, got {l:?}")))
            .collect::<Result<Vec<_>, _>>()?;
        if langs.is_empty() {
            return Err("weekly_langs names no language".into());
        }
        Ok(WeeklySchedule {
            weekday,
            minute: h * 60 + m,
            langs,
        })
    }

    /// The moment of the schedule in the local week of `d`, and the ISO week it reports: the
    /// week before.
    fn in_week_of(&self, tz: chrono_tz::Tz, d: NaiveDate) -> (WallTime, String) {
        let monday = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
        let day = monday + Duration::days(i64::from(self.weekday.num_days_from_monday()));
        (
            roeh_stats::local::at_minute(tz, day, self.minute),
            week_of(monday - Duration::days(7)),
        )
    }

    /// The last moment the schedule fell due at or before `now`, with the week it reports.
    pub fn last_due(&self, tz: chrono_tz::Tz, now: WallTime) -> (WallTime, String) {
        let today = crate::stats::local_date(tz, now);
        let (at, week) = self.in_week_of(tz, today);
        if at <= now {
            (at, week)
        } else {
            self.in_week_of(tz, today - Duration::days(7))
        }
    }

    /// The next moment the schedule falls due after `now`, with the week it reports.
    pub fn next_due(&self, tz: chrono_tz::Tz, now: WallTime) -> (WallTime, String) {
        let today = crate::stats::local_date(tz, now);
        let (at, week) = self.in_week_of(tz, today);
        if at > now {
            (at, week)
        } else {
            self.in_week_of(tz, today + Duration::days(7))
        }
    }
}

/// Makes the site-wide reports of `week` in `dir` (a PDF and a CSV per language), skipping
/// those already there; returns the files written.
pub async fn make_weekly(
    src: &Source,
    dir: &std::path::Path,
    week: &str,
    langs: &[Lang],
) -> Result<Vec<PathBuf>, ApiError> {
    let io = |e: std::io::Error| ApiError::new(ErrorKind::Internal, format!("reports: {e}"));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut written = Vec::new();
    for lang in langs {
        for csv in [false, true] {
            let name = format!(
                "weekly-{week}-{}.{}",
                lang.as_str(),
                if csv { "csv" } else { "pdf" }
            );
            let path = dir.join(&name);
            if path.exists() {
                continue;
            }
            let w = weekly(src, &Scope::unrestricted(), week, None, *lang).await?;
            let bytes = render(w, csv).await?;
            write_atomically(&path, &bytes).map_err(io)?;
            written.push(path);
        }
    }
    Ok(written)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod schedule_tests {
    use super::*;

    #[test]
    fn the_schedule_reports_the_week_before_and_falls_due_in_local_time() {
        let s = WeeklySchedule::parse("mon 06:00", &["he".into(), "en".into()]).unwrap();
        let tz = chrono_tz::Asia::Jerusalem;
        // Monday 7 December 2026, 05:00 local: not yet due this week.
        let now = WallTime::parse("2026-12-07T03:00:00Z").unwrap();
        let (at, week) = s.last_due(tz, now);
        assert_eq!(at, WallTime::parse("2026-11-30T04:00:00Z").unwrap());
        assert_eq!(week, "2026-W48");
        let (at, week) = s.next_due(tz, now);
        assert_eq!(at, WallTime::parse("2026-12-07T04:00:00Z").unwrap());
        assert_eq!(week, "2026-W49");
        assert!(WeeklySchedule::parse("someday 06:00", &["he".into()]).is_err());
        assert!(WeeklySchedule::parse("mon 25:00", &["he".into()]).is_err());
        assert!(WeeklySchedule::parse("mon 06:00", &["fr".into()]).is_err());
    }
}
