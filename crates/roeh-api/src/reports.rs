//! Response-time reports for the control room: `GET /api/reports/response-times`.
//!
//! For the alerts raised in `[from, to)`, per hotspot, per shift or per both, the report counts
//! alerts, false alarms, dispatched and arrived alerts, and gives count, median and 90th
//! percentile (nearest rank, [`roeh_alerts::DurationStats`]) of six response times, each from
//! stored timestamps of the alert (`alerts`) and its dispatches (`dispatches`):
//!
//! | field | from | to |
//! |---|---|---|
//! | `to_claim` | raised (`created_at`) | first claim (`claimed_at`) |
//! | `to_acknowledge` | raised | first acknowledgement (`acknowledged_at`) |
//! | `to_dispatch` | raised | first dispatch (`dispatched_at`) |
//! | `dispatch_to_accept` | first dispatch | earliest `accepted` receipt |
//! | `dispatch_to_arrive` | first dispatch | earliest `arrived` receipt |
//! | `raised_to_arrive` | raised | earliest `arrived` receipt |
//!
//! Invariants:
//! - an alert belongs to the shift in which it was raised ([`roeh_alerts::Shifts::shift_of`] of
//!   `created_at`, in the configured time zone); shifts of different dates are counted together;
//! - a measure counts an alert only when both its timestamps exist; a negative span (a clock
//!   stepped back) counts as zero;
//! - rows come sorted by hotspot, then by shift in the order of the day; only groups with
//!   alerts have a row;
//! - a caller limited to some hotspots sees only those ([`roeh_auth::Scope::allows_hotspot`]; a
//!   scope of cameras alone reaches no hotspot as a whole); a `hotspot=` outside the scope
//!   answers exactly like a hotspot without alerts, so the report is no existence oracle;
//! - a range is at most [`MAX_REPORT_RANGE`] long and at most [`roeh_store::MAX_REPORT_ALERTS`]
//!   alerts; beyond that the caller is told to narrow it.

use crate::extract::ApiQuery;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use roeh_alerts::{DurationStats, Shifts};
use roeh_auth::{Principal, Scope};
use roeh_domain::WallTime;
use roeh_store::AlertTimesRow;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// The schema of [`DurationStats`].
type Stats = roeh_alerts::DurationStats;

/// Longest range one report covers.
pub const MAX_REPORT_RANGE: Duration = Duration::from_secs(366 * 86_400);

/// How report rows are grouped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Group {
    /// One row per hotspot.
    Hotspot,
    /// One row per shift, over every hotspot in scope.
    Shift,
    /// One row per hotspot and shift.
    #[default]
    HotspotShift,
}

impl Group {
    /// Its query form.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Hotspot => "hotspot",
            Group::Shift => "shift",
            Group::HotspotShift => "hotspot_shift",
        }
    }

    /// Parses [`Group::as_str`].
    pub fn parse(s: &str) -> Option<Group> {
        [Group::Hotspot, Group::Shift, Group::HotspotShift]
            .into_iter()
            .find(|g| g.as_str() == s)
    }
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct ReportRow {
    /// The hotspot; `None` when grouped by shift alone.
    pub hotspot: Option<Uuid>,
    /// The shift's name; `None` when grouped by hotspot alone.
    pub shift: Option<String>,
    /// Alerts raised.
    pub alerts: u64,
    /// Of them, marked false alarms.
    pub false_alarms: u64,
    /// Of them, dispatched to a unit.
    pub dispatched: u64,
    /// Of them, with a unit's `arrived` receipt.
    pub arrived: u64,
    /// Raised to first claim.
    #[schemars(with = "Stats")]
    pub to_claim: DurationStats,
    /// Raised to first acknowledgement.
    #[schemars(with = "Stats")]
    pub to_acknowledge: DurationStats,
    /// Raised to first dispatch.
    #[schemars(with = "Stats")]
    pub to_dispatch: DurationStats,
    /// First dispatch to the earliest `accepted` receipt.
    #[schemars(with = "Stats")]
    pub dispatch_to_accept: DurationStats,
    /// First dispatch to the earliest `arrived` receipt.
    #[schemars(with = "Stats")]
    pub dispatch_to_arrive: DurationStats,
    /// Raised to the earliest `arrived` receipt.
    #[schemars(with = "Stats")]
    pub raised_to_arrive: DurationStats,
}

#[derive(Default)]
struct Acc {
    alerts: u64,
    false_alarms: u64,
    dispatched: u64,
    arrived: u64,
    spans: [Vec<Duration>; 6],
}

/// The report rows of `alerts` (see the module docs), grouped by `group` with `shifts`.
pub fn aggregate(alerts: &[AlertTimesRow], shifts: &Shifts, group: Group) -> Vec<ReportRow> {
    let mut groups: BTreeMap<(Option<Uuid>, Option<usize>), Acc> = BTreeMap::new();
    for a in alerts {
        let shift = shifts.shift_index_of(a.created_at).0;
        let key = match group {
            Group::Hotspot => (Some(a.hotspot_id), None),
            Group::Shift => (None, Some(shift)),
            Group::HotspotShift => (Some(a.hotspot_id), Some(shift)),
        };
        let g = groups.entry(key).or_default();
        g.alerts += 1;
        g.false_alarms += u64::from(a.state == "false_alarm");
        g.dispatched += u64::from(a.dispatched_at.is_some());
        g.arrived += u64::from(a.arrived_at.is_some());
        let span = |from: Option<WallTime>, to: Option<WallTime>| match (from, to) {
            (Some(f), Some(t)) => Some(t.duration_since(f)),
            _ => None,
        };
        let raised = Some(a.created_at);
        let spans = [
            span(raised, a.claimed_at),
            span(raised, a.acknowledged_at),
            span(raised, a.dispatched_at),
            span(a.dispatched_at, a.accepted_at),
            span(a.dispatched_at, a.arrived_at),
            span(raised, a.arrived_at),
        ];
        for (v, s) in g.spans.iter_mut().zip(spans) {
            v.extend(s);
        }
    }
    groups
        .into_iter()
        .map(|((hotspot, shift), g)| {
            let [c, k, d, da, dr, rr] = g.spans.map(DurationStats::of);
            ReportRow {
                hotspot,
                shift: shift.and_then(|i| shifts.shifts().get(i).map(|s| s.name.clone())),
                alerts: g.alerts,
                false_alarms: g.false_alarms,
                dispatched: g.dispatched,
                arrived: g.arrived,
                to_claim: c,
                to_acknowledge: k,
                to_dispatch: d,
                dispatch_to_accept: da,
                dispatch_to_arrive: dr,
                raised_to_arrive: rr,
            }
        })
        .collect()
}

/// `GET /api/reports/response-times` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResponseTimesQuery {
    /// Required: alerts raised at or after this (RFC 3339).
    from: Option<String>,
    /// Required: alerts raised before this (RFC 3339); at most 366 days after `from`.
    to: Option<String>,
    /// Only this hotspot (UUID).
    hotspot: Option<String>,
    /// `hotspot`, `shift` or `hotspot_shift` (default).
    group: Option<String>,
}

/// The report.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ResponseTimesReport {
    /// Start of the range (included), RFC 3339.
    pub from: String,
    /// End of the range (excluded), RFC 3339.
    pub to: String,
    /// The IANA time zone shifts are in.
    pub time_zone: String,
    /// How rows are grouped.
    #[schemars(extend("enum" = ["hotspot", "shift", "hotspot_shift"]))]
    pub group: &'static str,
    /// The rows.
    pub rows: Vec<ReportRow>,
}

fn instant(name: &str, v: Option<&str>) -> Result<WallTime, ApiError> {
    let v = v.ok_or_else(|| {
        ApiError::invalid(format!(
            "{name} is required (RFC 3339, e.g. 2026-11-22T00:00:00Z)"
        ))
    })?;
    // RFC 3339 only: `WallTime::parse` would also take bare microseconds.
    let rfc = v.bytes().any(|b| b == b'T' || b == b't' || b == b' ');
    rfc.then(|| WallTime::parse(v)).flatten().ok_or_else(|| {
        ApiError::invalid(format!(
            "{name} must be RFC 3339 (e.g. 2026-11-22T00:00:00Z), got {v:?}"
        ))
    })
}

/// The hotspots `scope` lets a report read: `None` for all of them.
pub(crate) fn hotspots_in_scope(scope: &Scope, asked: Option<Uuid>) -> Option<Vec<Uuid>> {
    match asked {
        Some(h) if scope.allows_hotspot(h) => Some(vec![h]),
        // Outside the scope: read as a hotspot without alerts.
        Some(_) => Some(Vec::new()),
        None if scope.is_unrestricted() => None,
        None => Some(scope.hotspots.iter().flatten().copied().collect()),
    }
}

/// `GET /api/reports/response-times?from=&to=[&hotspot=][&group=]`: response times per
/// hotspot and shift (see the module docs).
pub(crate) async fn response_times(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiQuery(q): ApiQuery<ResponseTimesQuery>,
) -> Result<Json<ResponseTimesReport>, ApiError> {
    let from = instant("from", q.from.as_deref())?;
    let to = instant("to", q.to.as_deref())?;
    if to <= from {
        return Err(ApiError::invalid("to must be after from"));
    }
    if to.duration_since(from) > MAX_REPORT_RANGE {
        return Err(ApiError::invalid(format!(
            "the range is longer than {} days; narrow it",
            MAX_REPORT_RANGE.as_secs() / 86_400
        )));
    }
    let hotspot = q
        .hotspot
        .as_deref()
        .map(|h| {
            Uuid::parse_str(h)
                .map_err(|_| ApiError::invalid(format!("hotspot must be a UUID, got {h:?}")))
        })
        .transpose()?;
    let group = match q.group.as_deref() {
        None => Group::default(),
        Some(g) => Group::parse(g).ok_or_else(|| {
            ApiError::invalid(format!(
                "group must be hotspot, shift or hotspot_shift, got {g:?}"
            ))
        })?,
    };
    let wanted = hotspots_in_scope(&who.scope, hotspot);
    let mut alerts = match &wanted {
        Some(h) if h.is_empty() => Vec::new(),
        _ => st.store.alert_times(from, to, wanted.as_deref()).await?,
    };
    alerts.retain(|a| who.scope.allows_hotspot(a.hotspot_id));
    let shifts = &st.alerts.settings().shifts;
    Ok(Json(ResponseTimesReport {
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        time_zone: shifts.time_zone().name().to_string(),
        group: group.as_str(),
        rows: aggregate(&alerts, shifts, group),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(hotspot: u128, created: i64, state: &str) -> AlertTimesRow {
        AlertTimesRow {
            id: Uuid::new_v4(),
            hotspot_id: Uuid::from_u128(hotspot),
            created_at: WallTime::from_secs(created),
            claimed_at: None,
            acknowledged_at: None,
            closed_at: None,
            state: state.into(),
            dispatched_at: None,
            delivered_at: None,
            accepted_at: None,
            arrived_at: None,
        }
    }

    #[test]
    fn groups_sort_by_hotspot_then_shift_order_and_spans_need_both_ends() {
        let shifts = Shifts::parse("UTC", &[("night", "22:00"), ("day", "06:00")]).unwrap();
        let day = 7 * 3600; // 07:00 on 1 January 1970
        let mut a = row(2, day, "resolved");
        a.claimed_at = Some(WallTime::from_secs(day + 10));
        a.dispatched_at = Some(WallTime::from_secs(day + 30));
        a.arrived_at = Some(WallTime::from_secs(day + 90));
        let mut b = row(2, 23 * 3600, "false_alarm");
        // A clock stepped back: counted as zero, not dropped.
        b.claimed_at = Some(WallTime::from_secs(23 * 3600 - 5));
        let c = row(1, day + 60, "new");
        let rows = aggregate(&[a, b, c], &shifts, Group::HotspotShift);
        let keys: Vec<(Option<Uuid>, Option<&str>)> = rows
            .iter()
            .map(|r| (r.hotspot, r.shift.as_deref()))
            .collect();
        assert_eq!(
            keys,
            [
                (Some(Uuid::from_u128(1)), Some("day")),
                (Some(Uuid::from_u128(2)), Some("day")),
                (Some(Uuid::from_u128(2)), Some("night")),
            ]
        );
        let r = &rows[1];
        assert_eq!((r.alerts, r.dispatched, r.arrived), (1, 1, 1));
        assert_eq!(r.to_claim.median_secs, Some(10.0));
        assert_eq!(r.to_acknowledge.count, 0);
        assert_eq!(r.dispatch_to_arrive.median_secs, Some(60.0));
        assert_eq!(r.raised_to_arrive.p90_secs, Some(90.0));
        assert_eq!(r.dispatch_to_accept.median_secs, None);
        let r = &rows[2];
        assert_eq!((r.false_alarms, r.to_claim.median_secs), (1, Some(0.0)));
        let by_shift = aggregate(
            &[row(1, day, "new"), row(2, day, "new")],
            &shifts,
            Group::Shift,
        );
        assert_eq!(by_shift.len(), 1);
        assert_eq!((by_shift[0].hotspot, by_shift[0].alerts), (None, 2));
        let by_hotspot = aggregate(
            &[row(1, day, "new"), row(1, 0, "new")],
            &shifts,
            Group::Hotspot,
        );
        assert_eq!(by_hotspot.len(), 1);
        assert_eq!(
            (by_hotspot[0].shift.as_deref(), by_hotspot[0].alerts),
            (None, 2)
        );
    }

    #[test]
    fn scope_limits_the_hotspots_read() {
        let (h1, h2) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let all = Scope::unrestricted();
        assert_eq!(hotspots_in_scope(&all, None), None);
        assert_eq!(hotspots_in_scope(&all, Some(h2)), Some(vec![h2]));
        let one = Scope::hotspots([h1]);
        assert_eq!(hotspots_in_scope(&one, None), Some(vec![h1]));
        assert_eq!(hotspots_in_scope(&one, Some(h1)), Some(vec![h1]));
        assert_eq!(hotspots_in_scope(&one, Some(h2)), Some(vec![]));
        let cams = Scope::cameras([roeh_domain::CameraId::new_random()]);
        assert_eq!(hotspots_in_scope(&cams, None), Some(vec![]));
    }
}
