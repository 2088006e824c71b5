//! The situational picture (docs/design/0015-situational-picture.md): incident and alert
//! statistics, counts imported from other sources, enforcement operations and their effect, and
//! an aggregate-only export for residents.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/stats/incidents` | incidents by hotspot, camera, kind, severity, outcome, source; hour × weekday; trend |
//! | `GET /api/stats/alerts` | alerts by hotspot, outcome, severity; trend; precision per rule and camera; unit workload |
//! | `GET /api/stats/external` | imported counts per source, category and area, by period |
//! | `GET`/`POST /api/stats/imports` | imported files (CSV, [`roeh_stats::external`]) |
//! | `GET`/`POST /api/operations`, `DELETE /api/operations/{id}` | enforcement operations |
//! | `GET /api/operations/{id}/effect` | before / during / after with rate ratios |
//! | `GET /api/stats/public` | incidents per hotspot per ISO week, cells below a minimum withheld |
//!
//! Invariants:
//! - ranges are `from`/`to` as local dates (`to` included) or RFC 3339 instants, in the site's
//!   zone (`[alerts] time_zone`) or `zone=`; empty, reversed, longer than ten years or in an
//!   unknown zone is refused naming the problem;
//! - everything is in the caller's scope: an incident counts when its camera or hotspot is
//!   granted, an alert, a dispatch or an imported count when its hotspot is; so a total is the
//!   sum of what the caller may see, and a hotspot outside the scope answers like one without
//!   incidents;
//! - every figure comes from one of the store's counting queries, so each number the console or
//!   the weekly report shows is an answer of these routes.

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono_tz::Tz;
use roeh_auth::{Principal, Scope};
use roeh_report::csv_field;
use roeh_stats::local::{Interval, Localizer, Tally, bucket_secs, date_of_day, day_number};
use roeh_stats::operation::{Effect, EffectCounter, Operation, OperationDoc};
use roeh_stats::{Range, anon, external};
use roeh_store::{CountRow, ImportRow, OperationRow, StatsFilter};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// The smallest cell a public export shows, unless the request asks for a larger one.
pub const PUBLIC_MIN_COUNT: u64 = 5;

impl From<roeh_stats::Error> for ApiError {
    fn from(e: roeh_stats::Error) -> Self {
        ApiError::invalid(e.message)
    }
}

/// The query of the statistics routes.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// Required: a local date `YYYY-MM-DD` (its start) or an RFC 3339 instant.
    pub from: Option<String>,
    /// Required: a local date (included) or an RFC 3339 instant (excluded).
    pub to: Option<String>,
    /// Only this hotspot (UUID).
    pub hotspot: Option<String>,
    /// Only incidents of this kind.
    pub kind: Option<String>,
    /// `day`, `week` (default) or `month`.
    pub interval: Option<String>,
    /// An IANA time zone; the site's by default.
    pub zone: Option<String>,
}

impl StatsQuery {
    /// Its query string, as the API takes it.
    pub fn to_query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("from", &self.from),
            ("to", &self.to),
            ("hotspot", &self.hotspot),
            ("kind", &self.kind),
            ("interval", &self.interval),
            ("zone", &self.zone),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        parts.join("&")
    }
}

struct Ctx {
    tz: Tz,
    range: Range,
    interval: Interval,
    filter: StatsFilter,
    places: HashMap<Uuid, Place>,
}

#[derive(Clone)]
struct Place {
    name: String,
    lat: Option<f64>,
    lon: Option<f64>,
    cameras: Vec<roeh_domain::CameraId>,
}

/// Where the figures come from: the store, the site's zone (`[alerts] time_zone`) and the
/// time now. The API's handlers, the weekly report and `roeh report` read through it alike.
#[derive(Clone, Debug)]
pub struct Source {
    /// The store.
    pub store: roeh_store::Store,
    /// The site's zone.
    pub zone: Tz,
    /// Now.
    pub now: roeh_domain::WallTime,
    /// The control room's shifts (for response times).
    pub shifts: roeh_alerts::Shifts,
}

impl Source {
    /// The source of a running API.
    pub(crate) fn of(st: &AppState) -> Source {
        let shifts = st.alerts.settings().shifts.clone();
        Source {
            store: st.store.clone(),
            zone: shifts.time_zone(),
            now: st.clock.wall(),
            shifts,
        }
    }
}

/// The local date of `t` in `tz`.
pub(crate) fn local_date(tz: Tz, t: roeh_domain::WallTime) -> chrono::NaiveDate {
    roeh_stats::local::local_of(tz, t).date
}

fn site_zone(src: &Source, asked: Option<&str>) -> Result<Tz, ApiError> {
    match asked {
        Some(z) => Ok(roeh_stats::zone(z)?),
        None => Ok(src.zone),
    }
}

/// The site's local days, as the store's tallies count them.
struct SiteDays(Tz);

impl roeh_store::LocalDays for SiteDays {
    fn zone(&self) -> &str {
        self.0.name()
    }

    fn local(&self, t: roeh_domain::WallTime) -> (i64, usize) {
        let l = roeh_stats::local::local_of(self.0, t);
        (day_number(l.date), l.hour as usize)
    }

    fn day_start(&self, day: i64) -> roeh_domain::WallTime {
        roeh_stats::day_start(self.0, date_of_day(day))
    }
}

/// Brings the store's tallies up to date in the site's zone.
async fn refresh_tallies(src: &Source) -> Result<(), ApiError> {
    src.store.refresh_tallies(&SiteDays(src.zone)).await?;
    Ok(())
}

/// The local day numbers `[first, after)` of `c`'s range when the tallies answer it: a range
/// of whole local days in the site's zone. Other ranges (instants, another zone) are counted
/// from the incidents themselves, to the same figures.
fn tallied_days(src: &Source, c: &Ctx) -> Option<(i64, i64)> {
    if c.tz != src.zone {
        return None;
    }
    let (first, last) = c.range.local_days(c.tz);
    let after = last.succ_opt()?;
    (roeh_stats::day_start(c.tz, first) == c.range.from
        && roeh_stats::day_start(c.tz, after) == c.range.to)
        .then(|| (day_number(first), day_number(after)))
}

fn uuid_param(name: &str, v: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(v).map_err(|_| ApiError::invalid(format!("{name} must be a UUID, got {v:?}")))
}

/// The store filter of `scope`: `None`s for an unrestricted caller.
fn scoped(scope: &Scope, f: &mut StatsFilter) {
    if scope.is_unrestricted() {
        return;
    }
    f.scope_cameras = Some(scope.cameras.iter().flatten().copied().collect());
    f.scope_hotspots = Some(scope.hotspots.iter().flatten().copied().collect());
}

async fn places(src: &Source) -> Result<HashMap<Uuid, Place>, ApiError> {
    let mut out = HashMap::new();
    for row in src.store.list_hotspots().await? {
        let (name, lat, lon) = match roeh_rules::Hotspot::parse_json(&row.document) {
            Ok(h) => (h.name, Some(h.lat), Some(h.lon)),
            Err(_) => (row.name.clone(), None, None),
        };
        let cameras = crate::detection::hotspot_cameras(&row.document);
        out.insert(
            row.id,
            Place {
                name,
                lat,
                lon,
                cameras,
            },
        );
    }
    Ok(out)
}

async fn camera_names(src: &Source) -> Result<HashMap<Uuid, String>, ApiError> {
    Ok(src
        .store
        .list_cameras()
        .await?
        .into_iter()
        .map(|cam| (cam.id.0, cam.name))
        .collect())
}

async fn ctx(src: &Source, scope: &Scope, q: &StatsQuery) -> Result<Ctx, ApiError> {
    let tz = site_zone(src, q.zone.as_deref())?;
    let need = |n: &str, v: &Option<String>| {
        v.clone().ok_or_else(|| {
            ApiError::invalid(format!(
                "{n} is required (a date YYYY-MM-DD or an RFC 3339 instant)"
            ))
        })
    };
    let range = Range::parse(&need("from", &q.from)?, &need("to", &q.to)?, tz)?;
    let interval = match q.interval.as_deref() {
        None => Interval::Week,
        Some(i) => Interval::parse(i)?,
    };
    let hotspot = q
        .hotspot
        .as_deref()
        .map(|h| uuid_param("hotspot", h))
        .transpose()?;
    if let Some(k) = &q.kind
        && (k.is_empty() || k.len() > 64)
    {
        return Err(ApiError::invalid("kind must be 1 to 64 characters"));
    }
    let mut filter = StatsFilter {
        from: range.from,
        to: range.to,
        hotspot,
        kind: q.kind.clone(),
        ..StatsFilter::default()
    };
    scoped(scope, &mut filter);
    Ok(Ctx {
        tz,
        range,
        interval,
        filter,
        places: places(src).await?,
    })
}

/// A count of one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct KeyCount {
    /// What is counted.
    pub key: String,
    /// How many.
    pub count: u64,
}

/// A hotspot's count, with its place.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HotspotCount {
    /// The hotspot.
    pub hotspot: Uuid,
    /// Its name; empty for a hotspot deleted since.
    pub name: String,
    /// Its place.
    pub lat: Option<f64>,
    /// Its place.
    pub lon: Option<f64>,
    /// How many.
    pub count: u64,
}

/// A camera's count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CameraCount {
    /// The camera.
    pub camera: Uuid,
    /// Its name; empty for a camera removed since.
    pub name: String,
    /// How many.
    pub count: u64,
}

/// A hotspot's hour × weekday grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HotspotGrid {
    /// The hotspot.
    pub hotspot: Uuid,
    /// Seven rows (Monday first) of 24 hours.
    pub grid: Vec<Vec<u64>>,
}

/// Hour × weekday grids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Heat {
    /// Everything counted: seven rows (Monday first) of 24 hours.
    pub all: Vec<Vec<u64>>,
    /// Per hotspot.
    pub by_hotspot: Vec<HotspotGrid>,
}

/// A hotspot's series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct HotspotSeries {
    /// The hotspot.
    pub hotspot: Uuid,
    /// One count per period.
    pub counts: Vec<u64>,
}

/// Counts per period, in columns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Trend {
    /// The periods, every one that touches the range.
    pub periods: Vec<String>,
    /// The total per period.
    pub total: Vec<u64>,
    /// Per hotspot.
    pub by_hotspot: Vec<HotspotSeries>,
}

/// `GET /api/stats/incidents`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct IncidentStats {
    /// Start (included), RFC 3339.
    pub from: String,
    /// End (excluded), RFC 3339.
    pub to: String,
    /// The zone of the local buckets.
    pub time_zone: String,
    /// How the trend is cut.
    #[schemars(extend("enum" = ["day", "week", "month"]))]
    pub interval: &'static str,
    /// Incidents in the range.
    pub total: u64,
    /// Per hotspot, most first.
    pub by_hotspot: Vec<HotspotCount>,
    /// Per camera, most first.
    pub by_camera: Vec<CameraCount>,
    /// Per phenomenon.
    pub by_kind: Vec<KeyCount>,
    /// Per severity.
    pub by_severity: Vec<KeyCount>,
    /// Per outcome of the incident's alert: `resolved`, `false_alarm`, `escalated`, `open`
    /// (still handled) or `no_alert`.
    pub by_outcome: Vec<KeyCount>,
    /// `detected` by the detector or raised by an `operator` (residents' calls, what an
    /// operator saw).
    pub by_source: Vec<KeyCount>,
    /// Hour × weekday.
    pub heat: Heat,
    /// Per period.
    pub trend: Trend,
}

fn sorted(m: BTreeMap<String, u64>) -> Vec<KeyCount> {
    let mut v: Vec<KeyCount> = m
        .into_iter()
        .map(|(key, count)| KeyCount { key, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
    v
}

fn outcome_of(state: &str) -> &'static str {
    match state {
        "" => "no_alert",
        "resolved" => "resolved",
        "false_alarm" => "false_alarm",
        "escalated" => "escalated",
        _ => "open",
    }
}

/// Tallies of a bucketed series, total and per hotspot.
struct Series {
    total: Tally,
    per: BTreeMap<Uuid, Tally>,
}

impl Series {
    fn build(c: &Ctx, buckets: &[roeh_store::BucketCount]) -> Series {
        let mut loc = Localizer::new(c.tz);
        let mut total = Tally::new(&c.range, c.tz, c.interval);
        let mut per: BTreeMap<Uuid, Tally> = BTreeMap::new();
        for b in buckets {
            let l = loc.local(b.at);
            total.add_local(l, b.count);
            per.entry(b.hotspot)
                .or_insert_with(|| Tally::new(&c.range, c.tz, c.interval))
                .add_local(l, b.count);
        }
        Series { total, per }
    }

    /// From the tallies: counts per local day and hotspot, and per weekday and hotspot by
    /// local hour (`day` holding the weekday, Monday 0).
    fn from_tallies(
        c: &Ctx,
        days: &[roeh_store::DayCount],
        weekdays: &[roeh_store::DayHours],
    ) -> Series {
        let mut s = Series::from_days(c, days);
        for r in weekdays {
            let Some(wd) = usize::try_from(r.day).ok().filter(|d| *d < 7) else {
                continue;
            };
            let per = s
                .per
                .entry(r.hotspot)
                .or_insert_with(|| Tally::new(&c.range, c.tz, c.interval));
            for (h, &n) in r.hours.iter().enumerate() {
                s.total.grid[wd][h] += n;
                per.grid[wd][h] += n;
            }
        }
        s
    }

    /// From counts per local day and hotspot (no hours): alerts, or incidents where no grid is
    /// shown.
    fn from_days(c: &Ctx, rows: &[roeh_store::DayCount]) -> Series {
        let mut total = Tally::new(&c.range, c.tz, c.interval);
        let mut per: BTreeMap<Uuid, Tally> = BTreeMap::new();
        for r in rows {
            let date = date_of_day(r.day);
            total.add_day(date, r.count);
            per.entry(r.hotspot)
                .or_insert_with(|| Tally::new(&c.range, c.tz, c.interval))
                .add_day(date, r.count);
        }
        Series { total, per }
    }

    fn by_hotspot(&self, places: &HashMap<Uuid, Place>) -> Vec<HotspotCount> {
        let mut v: Vec<HotspotCount> = self
            .per
            .iter()
            .map(|(h, t)| {
                let p = places.get(h);
                HotspotCount {
                    hotspot: *h,
                    name: p.map(|p| p.name.clone()).unwrap_or_default(),
                    lat: p.and_then(|p| p.lat),
                    lon: p.and_then(|p| p.lon),
                    count: t.total,
                }
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then(a.hotspot.cmp(&b.hotspot)));
        v
    }

    fn heat(&self) -> Heat {
        Heat {
            all: grid_rows(&self.total.grid),
            by_hotspot: self
                .per
                .iter()
                .map(|(h, t)| HotspotGrid {
                    hotspot: *h,
                    grid: grid_rows(&t.grid),
                })
                .collect(),
        }
    }

    fn trend(&self) -> Trend {
        Trend {
            periods: self
                .total
                .periods
                .iter()
                .map(|p| p.period.clone())
                .collect(),
            total: self.total.periods.iter().map(|p| p.count).collect(),
            by_hotspot: self
                .per
                .iter()
                .map(|(h, t)| HotspotSeries {
                    hotspot: *h,
                    counts: t.periods.iter().map(|p| p.count).collect(),
                })
                .collect(),
        }
    }
}

fn grid_rows(g: &roeh_stats::local::Grid) -> Vec<Vec<u64>> {
    g.iter().map(|r| r.to_vec()).collect()
}

/// `GET /api/stats/incidents`: incidents in the caller's scope (see the module docs).
pub(crate) async fn incidents(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<IncidentStats>, ApiError> {
    Ok(Json(
        incident_stats(&Source::of(&st), &who.scope, &q).await?,
    ))
}

/// The answer of `GET /api/stats/incidents?{q}` for a caller of `scope`.
pub async fn incident_stats(
    src: &Source,
    scope: &Scope,
    q: &StatsQuery,
) -> Result<IncidentStats, ApiError> {
    let c = ctx(src, scope, q).await?;
    let (mut kind, mut severity, mut outcome, mut source) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    let mut per_camera: BTreeMap<Uuid, u64> = BTreeMap::new();
    let add = |map: &mut BTreeMap<String, u64>, key: &str, n: u64| {
        if n > 0 {
            *map.entry(key.to_string()).or_default() += n;
        }
    };
    let series = match tallied_days(src, &c) {
        Some(days) => {
            refresh_tallies(src).await?;
            let totals = src.store.tally_day_totals(&c.filter, days).await?;
            let weekdays = src.store.tally_weekday_hours(&c.filter, days).await?;
            for g in src.store.tally_groups(&c.filter, days).await? {
                add(&mut kind, &g.kind, g.count);
                for (s, n) in roeh_store::SEVERITIES.iter().zip(g.severity) {
                    add(&mut severity, s, n);
                }
                for (o, n) in roeh_store::OUTCOMES.iter().zip(g.outcome) {
                    add(&mut outcome, o, n);
                }
                add(&mut source, "operator", g.by_operator);
                add(
                    &mut source,
                    "detected",
                    g.count - g.by_operator.min(g.count),
                );
                *per_camera.entry(g.camera).or_default() += g.count;
            }
            Series::from_tallies(&c, &totals, &weekdays)
        }
        None => {
            let buckets = src
                .store
                .incident_buckets(&c.filter, bucket_secs(c.tz, &c.range))
                .await?;
            for g in &src.store.incident_groups(&c.filter).await? {
                add(&mut kind, &g.kind, g.count);
                add(&mut severity, &g.severity, g.count);
                add(&mut outcome, outcome_of(&g.outcome), g.count);
                add(&mut source, &g.source, g.count);
                *per_camera.entry(g.camera).or_default() += g.count;
            }
            Series::build(&c, &buckets)
        }
    };
    let cameras = camera_names(src).await?;
    let mut by_camera: Vec<CameraCount> = per_camera
        .into_iter()
        .map(|(camera, count)| CameraCount {
            camera,
            name: cameras.get(&camera).cloned().unwrap_or_default(),
            count,
        })
        .collect();
    by_camera.sort_by(|a, b| b.count.cmp(&a.count).then(a.camera.cmp(&b.camera)));
    Ok(IncidentStats {
        from: c.range.from.to_rfc3339(),
        to: c.range.to.to_rfc3339(),
        time_zone: c.tz.name().to_string(),
        interval: c.interval.as_str(),
        total: series.total.total,
        by_hotspot: series.by_hotspot(&c.places),
        by_camera,
        by_kind: sorted(kind),
        by_severity: sorted(severity),
        by_outcome: sorted(outcome),
        by_source: sorted(source),
        heat: series.heat(),
        trend: series.trend(),
    })
}

/// Precision of one rule on one camera.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PrecisionRow {
    /// The rule; `null` for alerts people raised.
    pub rule: Option<Uuid>,
    /// The camera.
    pub camera: Uuid,
    /// Its name.
    pub camera_name: String,
    /// The phenomenon.
    pub kind: String,
    /// Incidents whose alert was resolved or escalated.
    pub confirmed: u64,
    /// Incidents whose alert was marked a false alarm.
    pub false_alarms: u64,
    /// confirmed ÷ (confirmed + false alarms); `null` when neither.
    pub precision: Option<f64>,
}

/// A unit's workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct UnitRow {
    /// The unit.
    pub unit: Uuid,
    /// Its name.
    pub name: String,
    /// Dispatches to it in the range.
    pub dispatches: u64,
    /// Of them, with an `arrived` receipt.
    pub arrived: u64,
}

/// `GET /api/stats/alerts`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct AlertStats {
    /// Start (included), RFC 3339.
    pub from: String,
    /// End (excluded), RFC 3339.
    pub to: String,
    /// The zone of the local buckets.
    pub time_zone: String,
    /// How the trend is cut.
    #[schemars(extend("enum" = ["day", "week", "month"]))]
    pub interval: &'static str,
    /// Alerts raised in the range.
    pub total: u64,
    /// Per hotspot, most first.
    pub by_hotspot: Vec<HotspotCount>,
    /// `resolved`, `false_alarm`, `escalated` or `open`.
    pub by_outcome: Vec<KeyCount>,
    /// Per severity.
    pub by_severity: Vec<KeyCount>,
    /// Per period.
    pub trend: Trend,
    /// Precision per rule and camera, over incidents opened in the range.
    pub precision: Vec<PrecisionRow>,
    /// Dispatches per unit made in the range.
    pub units: Vec<UnitRow>,
}

/// `GET /api/stats/alerts`: alerts in the caller's scope (see the module docs).
pub(crate) async fn alerts(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<AlertStats>, ApiError> {
    Ok(Json(alert_stats(&Source::of(&st), &who.scope, &q).await?))
}

/// The answer of `GET /api/stats/alerts?{q}` for a caller of `scope`.
pub async fn alert_stats(
    src: &Source,
    scope: &Scope,
    q: &StatsQuery,
) -> Result<AlertStats, ApiError> {
    if q.kind.is_some() {
        return Err(ApiError::invalid(
            "kind is a filter of incidents; alerts gather incidents of several kinds",
        ));
    }
    let c = ctx(src, scope, q).await?;
    let (mut outcome, mut severity) = (BTreeMap::new(), BTreeMap::new());
    let mut prec: BTreeMap<(Uuid, Uuid, String), (u64, u64)> = BTreeMap::new();
    let series = match tallied_days(src, &c) {
        Some(days) => {
            refresh_tallies(src).await?;
            let rows = src.store.tally_alert_days(&c.filter, days).await?;
            for g in src.store.tally_alert_groups(&c.filter, days).await? {
                *outcome.entry(outcome_of(&g.state).to_string()).or_default() += g.count;
                *severity.entry(g.severity.clone()).or_default() += g.count;
            }
            for p in src.store.tally_precision(&c.filter, days).await? {
                let e = prec.entry((p.rule, p.camera, p.kind)).or_default();
                e.0 += p.resolved + p.escalated;
                e.1 += p.false_alarm;
            }
            Series::from_days(&c, &rows)
        }
        None => {
            let buckets = src
                .store
                .alert_buckets(&c.filter, bucket_secs(c.tz, &c.range))
                .await?;
            for g in &src.store.alert_groups(&c.filter).await? {
                *outcome.entry(outcome_of(&g.state).to_string()).or_default() += g.count;
                *severity.entry(g.severity.clone()).or_default() += g.count;
            }
            for p in src.store.precision_groups(&c.filter).await? {
                let e = prec.entry((p.rule, p.camera, p.kind)).or_default();
                if p.outcome == "false_alarm" {
                    e.1 += p.count;
                } else {
                    e.0 += p.count;
                }
            }
            Series::build(&c, &buckets)
        }
    };
    let cameras = camera_names(src).await?;
    let precision = prec
        .into_iter()
        .map(|((rule, camera, kind), (ok, fa))| PrecisionRow {
            rule: (!rule.is_nil()).then_some(rule),
            camera,
            camera_name: cameras.get(&camera).cloned().unwrap_or_default(),
            kind,
            confirmed: ok,
            false_alarms: fa,
            precision: (ok + fa > 0).then(|| ok as f64 / (ok + fa) as f64),
        })
        .collect();
    let units = src
        .store
        .unit_loads(&c.filter)
        .await?
        .into_iter()
        .map(|u| UnitRow {
            unit: u.unit,
            name: u.name,
            dispatches: u.dispatches,
            arrived: u.arrived,
        })
        .collect();
    Ok(AlertStats {
        from: c.range.from.to_rfc3339(),
        to: c.range.to.to_rfc3339(),
        time_zone: c.tz.name().to_string(),
        interval: c.interval.as_str(),
        total: series.total.total,
        by_hotspot: series.by_hotspot(&c.places),
        by_outcome: sorted(outcome),
        by_severity: sorted(severity),
        trend: series.trend(),
        precision,
        units,
    })
}

/// One imported series.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ExternalSeries {
    /// The source of its files (`police`, `city`, `survey`, …).
    pub source: String,
    /// What was counted.
    pub category: String,
    /// Where.
    #[schemars(with = "serde_json::Value")]
    pub area: external::Area,
    /// The area's name (the hotspot's, or the district's).
    pub area_name: String,
    /// One count per period: each imported row counts in the period of its first day.
    pub counts: Vec<u64>,
}

/// `GET /api/stats/external`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ExternalStats {
    /// The periods, as in the incident trend of the same query.
    pub periods: Vec<String>,
    /// The series.
    pub series: Vec<ExternalSeries>,
}

fn area_visible(scope: &Scope, area: &external::Area) -> bool {
    match area {
        external::Area::Hotspot(h) => scope.allows_hotspot(*h),
        // A district is not a hotspot: only an unrestricted caller sees it.
        external::Area::District(_) => scope.is_unrestricted(),
    }
}

/// `GET /api/stats/external`: imported counts in the caller's scope, by period.
pub(crate) async fn external_counts(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> Result<Json<ExternalStats>, ApiError> {
    Ok(Json(
        external_stats(&Source::of(&st), &who.scope, &q).await?,
    ))
}

/// The answer of `GET /api/stats/external?{q}` for a caller of `scope`.
pub async fn external_stats(
    src: &Source,
    scope: &Scope,
    q: &StatsQuery,
) -> Result<ExternalStats, ApiError> {
    let c = ctx(src, scope, q).await?;
    let (first, last) = c.range.local_days(c.tz);
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let rows = src.store.counts_between(&day(first), &day(last)).await?;
    let tally = Tally::new(&c.range, c.tz, c.interval);
    let periods: Vec<String> = tally.periods.iter().map(|p| p.period.clone()).collect();
    let index: HashMap<&str, usize> = periods
        .iter()
        .enumerate()
        .map(|(i, p)| (p.as_str(), i))
        .collect();
    let mut series: BTreeMap<(String, String, external::Area), Vec<u64>> = BTreeMap::new();
    for r in rows {
        let area = external::Area::from_key(&r.row.area);
        if !area_visible(scope, &area) {
            continue;
        }
        if let external::Area::Hotspot(h) = &area
            && c.filter.hotspot.is_some_and(|f| f != *h)
        {
            continue;
        }
        let Ok(start) = chrono::NaiveDate::parse_from_str(&r.row.period_start, "%Y-%m-%d") else {
            continue;
        };
        if start < first || start > last {
            continue;
        }
        if let Some(&i) = index.get(c.interval.period_of(start).as_str()) {
            series
                .entry((r.source, r.row.category, area))
                .or_insert_with(|| vec![0; periods.len()])[i] += r.row.count;
        }
    }
    let series = series
        .into_iter()
        .map(|((source, category, area), counts)| {
            let area_name = match &area {
                external::Area::Hotspot(h) => {
                    c.places.get(h).map(|p| p.name.clone()).unwrap_or_default()
                }
                external::Area::District(d) => d.clone(),
            };
            ExternalSeries {
                source,
                category,
                area,
                area_name,
                counts,
            }
        })
        .collect();
    Ok(ExternalStats { periods, series })
}

/// An imported file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ImportView {
    /// Its id.
    pub id: Uuid,
    /// Whose counts.
    pub source: String,
    /// The file's name as given.
    pub file_name: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Rows imported.
    pub rows: u64,
    /// Earliest day counted.
    pub first_day: String,
    /// Latest day counted.
    pub last_day: String,
    /// Who imported it.
    pub imported_by: String,
    /// When, RFC 3339.
    pub imported_at: String,
}

fn import_view(r: ImportRow) -> ImportView {
    ImportView {
        id: r.id,
        source: r.source,
        file_name: r.file_name,
        sha256: r.sha256,
        rows: r.rows,
        first_day: r.first_day,
        last_day: r.last_day,
        imported_by: r.imported_by,
        imported_at: r.imported_at.to_rfc3339(),
    }
}

/// `POST /api/stats/imports` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImportQuery {
    /// Required: whose counts: `police`, `city`, `survey` or `other`.
    source: Option<String>,
    /// The file's name, for the record (1–200 characters).
    file_name: Option<String>,
}

/// The sources an import may name.
pub const SOURCES: [&str; 4] = ["police", "city", "survey", "other"];

/// `GET /api/stats/imports`: every imported file, newest first.
pub(crate) async fn list_imports(
    State(st): State<AppState>,
) -> Result<Json<Vec<ImportView>>, ApiError> {
    Ok(Json(
        st.store
            .list_imports()
            .await?
            .into_iter()
            .map(import_view)
            .collect(),
    ))
}

/// `POST /api/stats/imports?source=&file_name=`: a CSV file of counts (the columns of
/// [`roeh_stats::external`]), checked whole before anything is stored.
pub(crate) async fn import(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let source = q.source.unwrap_or_default();
    if !SOURCES.contains(&source.as_str()) {
        return Err(ApiError::invalid(format!(
            "source must be one of {}, got {source:?}",
            SOURCES.join(", ")
        )));
    }
    let file_name = q.file_name.unwrap_or_else(|| "counts.csv".to_string());
    if file_name.trim().is_empty()
        || file_name.chars().count() > 200
        || file_name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "file_name must have 1 to 200 printable characters",
        ));
    }
    let rows = external::parse(&body)?;
    let places = places(&Source::of(&st)).await?;
    let mut counts = Vec::with_capacity(rows.len());
    let (mut first, mut last) = (rows[0].start, rows[0].end);
    for (i, r) in rows.iter().enumerate() {
        if let external::Area::Hotspot(h) = &r.area
            && !places.contains_key(h)
        {
            return Err(ApiError::invalid(format!(
                "row {}: area {h} is not a hotspot of this site",
                i + 1
            )));
        }
        if !area_visible(&who.scope, &r.area) {
            return Err(ApiError::invalid(format!(
                "row {}: area {} is outside your scope",
                i + 1,
                r.area.key()
            )));
        }
        first = first.min(r.start);
        last = last.max(r.end);
        counts.push(CountRow {
            area: r.area.key(),
            period_start: r.start.format("%Y-%m-%d").to_string(),
            period_end: r.end.format("%Y-%m-%d").to_string(),
            category: r.category.clone(),
            count: r.count,
        });
    }
    let record = ImportRow {
        id: Uuid::new_v4(),
        source,
        file_name: file_name.trim().to_string(),
        sha256: hex::encode(sha2::Sha256::digest(&body)),
        rows: rows.len() as u64,
        first_day: first.format("%Y-%m-%d").to_string(),
        last_day: last.format("%Y-%m-%d").to_string(),
        imported_by: who.username.clone(),
        imported_at: st.clock.wall(),
    };
    st.store.insert_import(&record, &counts).await?;
    Ok((StatusCode::CREATED, Json(import_view(record))).into_response())
}

/// A stored operation.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct OperationView {
    /// Its id.
    pub id: Uuid,
    /// The operation.
    #[serde(flatten)]
    pub doc: OperationDoc,
    /// Who created it.
    pub created_by: String,
    /// When, RFC 3339.
    pub created_at: String,
}

fn operation_view(r: &OperationRow) -> Result<(OperationView, Operation), ApiError> {
    let doc: OperationDoc = serde_json::from_str(&r.document).map_err(|e| {
        ApiError::new(
            roeh_domain::ErrorKind::Internal,
            format!("stored operation is not readable: {e}"),
        )
    })?;
    let op = Operation::parse(&doc)?;
    Ok((
        OperationView {
            id: r.id,
            doc,
            created_by: r.created_by.clone(),
            created_at: r.created_at.to_rfc3339(),
        },
        op,
    ))
}

/// Whether `scope` sees every hotspot `op` names (as the hotspot routes see them: granted, or
/// watched by a granted camera).
fn operation_visible(scope: &Scope, op: &Operation, places: &HashMap<Uuid, Place>) -> bool {
    op.hotspots.iter().chain(op.comparison.iter()).all(|h| {
        let cams = places.get(h).map(|p| p.cameras.as_slice()).unwrap_or(&[]);
        crate::detection::sees_hotspot(scope, *h, cams)
    })
}

/// `GET /api/operations`: the operations whose hotspots the caller may all see, newest first.
pub(crate) async fn list_operations(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Result<Json<Vec<OperationView>>, ApiError> {
    Ok(Json(
        visible_operations(&Source::of(&st), &who.scope).await?,
    ))
}

/// The answer of `GET /api/operations` for a caller of `scope`.
pub async fn visible_operations(
    src: &Source,
    scope: &Scope,
) -> Result<Vec<OperationView>, ApiError> {
    let mut out = Vec::new();
    let places = places(src).await?;
    for r in src.store.list_operations().await? {
        let (v, op) = operation_view(&r)?;
        if operation_visible(scope, &op, &places) {
            out.push(v);
        }
    }
    Ok(out)
}

/// `POST /api/operations`: a new operation; its hotspots must exist and be in the caller's
/// scope.
pub(crate) async fn add_operation(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(doc): ApiJson<OperationDoc>,
) -> Result<Response, ApiError> {
    let op = Operation::parse(&doc)?;
    let places = places(&Source::of(&st)).await?;
    for h in op.hotspots.iter().chain(op.comparison.iter()) {
        if !places.contains_key(h) {
            return Err(ApiError::invalid(format!("no such hotspot: {h}")));
        }
    }
    if !operation_visible(&who.scope, &op, &places) {
        return Err(ApiError::invalid("no such hotspot among those named"));
    }
    let row = OperationRow {
        id: Uuid::new_v4(),
        name: op.name.clone(),
        document: serde_json::to_string(&doc)
            .map_err(|e| ApiError::new(roeh_domain::ErrorKind::Internal, e.to_string()))?,
        created_by: who.username.clone(),
        created_at: st.clock.wall(),
    };
    st.store.insert_operation(&row).await?;
    let (v, _) = operation_view(&row)?;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn visible_operation(
    src: &Source,
    scope: &Scope,
    id: &str,
) -> Result<(OperationView, Operation), ApiError> {
    let missing = || ApiError::not_found("no such operation");
    let id = Uuid::parse_str(id).map_err(|_| missing())?;
    let row = src.store.get_operation(id).await?.ok_or_else(missing)?;
    let (v, op) = operation_view(&row)?;
    if !operation_visible(scope, &op, &places(src).await?) {
        return Err(missing());
    }
    Ok((v, op))
}

/// `DELETE /api/operations/{id}`.
pub(crate) async fn delete_operation(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (v, _) = visible_operation(&Source::of(&st), &who.scope, &id).await?;
    st.store.delete_operation(v.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/operations/{id}/effect`.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct EffectView {
    /// The operation.
    pub operation: OperationView,
    /// The zone its days and windows are in.
    pub time_zone: String,
    /// The figures.
    #[serde(flatten)]
    pub effect: Effect,
}

/// `GET /api/operations/{id}/effect?[zone=]`: the incident rate during the operation against
/// the same hours before it and after it, and against the comparison hotspots
/// ([`roeh_stats::operation`], [`roeh_stats::rate`]).
pub(crate) async fn effect(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<EffectQuery>,
) -> Result<Json<EffectView>, ApiError> {
    let src = Source::of(&st);
    Ok(Json(
        operation_effect(&src, &who.scope, &id, q.zone.as_deref()).await?,
    ))
}

/// The answer of `GET /api/operations/{id}/effect` for a caller of `scope`.
pub async fn operation_effect(
    src: &Source,
    scope: &Scope,
    id: &str,
    zone: Option<&str>,
) -> Result<EffectView, ApiError> {
    let (v, op) = visible_operation(src, scope, id).await?;
    let tz = site_zone(src, zone)?;
    let mut counter = EffectCounter::new(&op, tz, src.now);
    if let Some((from, to)) = counter.periods().span(&op, tz) {
        let hotspots: Vec<Uuid> = op
            .hotspots
            .iter()
            .chain(op.comparison.iter())
            .copied()
            .collect();
        if tz == src.zone && op.on_whole_hours() {
            // Whole hours in the site's zone: the tallies' hours count alike.
            refresh_tallies(src).await?;
            let days = (
                day_number(local_date(tz, from)),
                day_number(local_date(tz, roeh_domain::WallTime(to.0 - 1))) + 1,
            );
            for r in src.store.tally_kind_hours(days, &hotspots).await? {
                counter.add_hours(r.hotspot, &r.kind, date_of_day(r.day), &r.hours);
            }
        } else {
            for m in src.store.incident_minutes(from, to, &hotspots).await? {
                counter.add(m.hotspot, &m.kind, m.at, m.count);
            }
        }
    }
    Ok(EffectView {
        operation: v,
        time_zone: tz.name().to_string(),
        effect: counter.finish(),
    })
}

/// `GET /api/operations/{id}/effect` query.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EffectQuery {
    /// An IANA time zone; the site's by default.
    zone: Option<String>,
}

/// `GET /api/stats/public` query.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublicQuery {
    /// Required: first local day, `YYYY-MM-DD`.
    from: Option<String>,
    /// Required: last local day (included), `YYYY-MM-DD`.
    to: Option<String>,
    /// The smallest count shown; at least [`PUBLIC_MIN_COUNT`].
    min_count: Option<u64>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// One hotspot's published weeks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PublicRow {
    /// The hotspot's name (a place, not an id).
    pub hotspot: String,
    /// Incidents per ISO week; `null` where fewer than `min_count`.
    pub counts: Vec<Option<u64>>,
}

/// `GET /api/stats/public`: incidents per hotspot per ISO week, nothing else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct PublicStats {
    /// The ISO weeks, `2026-W49`.
    pub weeks: Vec<String>,
    /// The smallest count shown.
    pub min_count: u64,
    /// Per hotspot, by name.
    pub rows: Vec<PublicRow>,
}

/// `GET /api/stats/public?from=&to=[&min_count=][&format=csv]`: an aggregate-only table for
/// residents or a city website: counts per hotspot per ISO week, no footage, names, ids or
/// times; a cell below `min_count` is withheld and no total is given ([`roeh_stats::anon`]).
pub(crate) async fn public(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<PublicQuery>,
) -> Result<Response, ApiError> {
    let k = q.min_count.unwrap_or(PUBLIC_MIN_COUNT);
    if k < PUBLIC_MIN_COUNT {
        return Err(ApiError::invalid(format!(
            "min_count is at least {PUBLIC_MIN_COUNT}"
        )));
    }
    for (n, v) in [("from", &q.from), ("to", &q.to)] {
        if v.as_deref()
            .is_some_and(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_err())
        {
            return Err(ApiError::invalid(format!(
                "{n} must be a date YYYY-MM-DD: a public table has no exact times"
            )));
        }
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => {
            return Err(ApiError::invalid(format!(
                "format must be json or csv, got {f:?}"
            )));
        }
    };
    let sq = StatsQuery {
        from: q.from,
        to: q.to,
        interval: Some("week".into()),
        ..StatsQuery::default()
    };
    let src = Source::of(&st);
    let c = ctx(&src, &who.scope, &sq).await?;
    let series = match tallied_days(&src, &c) {
        Some(days) => {
            refresh_tallies(&src).await?;
            let totals = st.store.tally_day_totals(&c.filter, days).await?;
            Series::from_days(&c, &totals)
        }
        None => {
            let buckets = st
                .store
                .incident_buckets(&c.filter, bucket_secs(c.tz, &c.range))
                .await?;
            Series::build(&c, &buckets)
        }
    };
    let trend = series.trend();
    let mut rows: Vec<PublicRow> = c
        .places
        .iter()
        .filter(|(h, _)| who.scope.allows_hotspot(**h) || c.filter.scope_hotspots.is_none())
        .map(|(h, p)| {
            let counts = series.per.get(h).map(|t| {
                t.periods
                    .iter()
                    .map(|p| anon::cell(p.count, k).count)
                    .collect()
            });
            PublicRow {
                hotspot: p.name.clone(),
                counts: counts.unwrap_or_else(|| vec![None; trend.periods.len()]),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.hotspot.cmp(&b.hotspot));
    if csv {
        let mut out = String::from("hotspot");
        for w in &trend.periods {
            out.push(',');
            out.push_str(w);
        }
        out.push('\n');
        for r in &rows {
            out.push_str(&csv_field(&r.hotspot));
            for c in &r.counts {
                out.push(',');
                out.push_str(&anon::Cell { count: *c }.text(k));
            }
            out.push('\n');
        }
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok((h, out).into_response());
    }
    Ok(Json(PublicStats {
        weeks: trend.periods,
        min_count: k,
        rows,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("Promenade, north"), "\"Promenade, north\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("plain"), "plain");
    }
}
