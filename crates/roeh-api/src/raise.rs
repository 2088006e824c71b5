//! Alerts raised by people: `POST /api/alerts`. The control room sits in the municipal hotline,
//! so an operator raises an alert from what a live picture shows ("a fight here", the camera and
//! the moment) or from a resident's call (a place on the map, the phenomenon, what the caller
//! said).
//!
//! Invariants:
//! - a raised alert is an alert like any other: its incidents (one per camera of its evidence,
//!   rule id nil, kind = the phenomenon, model `operator`) are stored and gathered into it in one
//!   transaction (`Store::raise_manual_alert`), with the same merge rule, lifecycle, dispatch,
//!   receipts and push as a detected one;
//! - its evidence window is [moment − 30 s, moment + 30 s] on the camera that showed it, or on
//!   every camera of the hotspot of a call's place that the operator may see;
//! - the `raised` event names the operator and carries the description (`text`), so the alert's
//!   history and the audit log say who raised it and why;
//! - an operator raises alerts only within their scope: a camera outside it answers like a
//!   missing one, and a call's place must lie within [`MAX_CALL_DISTANCE_M`] of a hotspot the
//!   operator may see (alerts belong to hotspots).

use crate::alerts::AlertSummary;
use crate::extract::ApiJson;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use roeh_alerts::{LatLon, Severity, haversine_m};
use roeh_auth::Principal;
use roeh_domain::{CameraId, WallTime};
use roeh_store::{ManualIncident, NewIncident};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// How far from a hotspot a resident's call may place an alert, metres.
pub const MAX_CALL_DISTANCE_M: f64 = 1000.0;
/// Evidence before and after the moment of a raised alert.
const EVIDENCE_AROUND: Duration = Duration::from_secs(30);
/// Longest description.
const MAX_DESCRIPTION: usize = 1000;
/// How far back a moment seen on recorded video may be.
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Where a raised alert comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RaiseSource {
    /// The operator saw it on a camera.
    Camera,
    /// A resident called the hotline.
    Call,
}

/// `POST /api/alerts` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RaiseBody {
    /// `camera` (seen on a live or recorded picture) or `call` (a resident's call).
    source: RaiseSource,
    /// The camera that shows it (`camera`).
    #[serde(default)]
    camera: Option<Uuid>,
    /// The place's latitude (`call`).
    #[serde(default)]
    lat: Option<f64>,
    /// The place's longitude (`call`).
    #[serde(default)]
    lon: Option<f64>,
    /// The hotspot; by default the camera's, or the one nearest to the place.
    #[serde(default)]
    hotspot: Option<Uuid>,
    /// What is happening: a short lowercase word (`fight`, `violence`, `vandalism`, `drugs`,
    /// `weapon`, `gathering`, `noise`, `other`, …).
    #[schemars(length(min = 1, max = 40))]
    phenomenon: String,
    /// `low`, `medium`, `high` or `critical`.
    #[schemars(extend("enum" = ["low", "medium", "high", "critical"]))]
    severity: String,
    /// What the operator sees, or what the caller said.
    #[schemars(length(min = 1, max = 1000))]
    description: String,
    /// The moment seen (RFC 3339; `camera` only); now when absent.
    #[serde(default)]
    at: Option<String>,
}

/// The answer of `POST /api/alerts`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct RaisedView {
    /// The alert as it is now.
    alert: AlertSummary,
    /// Whether the raised alert joined an open alert of the hotspot.
    merged: bool,
}

fn phenomenon_ok(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 40
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A hotspot as a raised alert needs it.
struct Spot {
    id: Uuid,
    name: String,
    lat: f64,
    lon: f64,
    priority: u8,
    cameras: Vec<CameraId>,
}

async fn hotspots(st: &AppState, who: &Principal) -> Result<Vec<Spot>, ApiError> {
    let reach = crate::reach::reach(st, &who.scope).await?;
    let mut out = Vec::new();
    for row in st.store.list_hotspots().await? {
        let Ok(h) = serde_json::from_str::<roeh_rules::Hotspot>(&row.document) else {
            continue;
        };
        let cameras: Vec<CameraId> = h
            .cameras
            .iter()
            .copied()
            .filter(|c| reach.allows(*c))
            .collect();
        if !who.scope.allows_hotspot(row.id) && cameras.is_empty() {
            continue;
        }
        out.push(Spot {
            id: row.id,
            name: row.name,
            lat: h.lat,
            lon: h.lon,
            priority: h.priority,
            cameras,
        });
    }
    Ok(out)
}

/// `POST /api/alerts`: an operator raises an alert (see the module documentation).
pub(crate) async fn raise(
    State(st): State<AppState>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(b): ApiJson<RaiseBody>,
) -> Result<Response, ApiError> {
    let phenomenon = b.phenomenon.trim().to_string();
    if !phenomenon_ok(&phenomenon) {
        return Err(ApiError::invalid(
            "phenomenon: 1 to 40 lowercase letters, digits or underscores",
        ));
    }
    let severity = Severity::parse(&b.severity)
        .map_err(|_| ApiError::invalid("severity: low, medium, high or critical"))?;
    let description = b.description.trim().to_string();
    if description.is_empty()
        || description.chars().count() > MAX_DESCRIPTION
        || description.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::invalid(format!(
            "description: 1 to {MAX_DESCRIPTION} characters, no control characters"
        )));
    }
    let now = st.clock.wall();
    let at = match (&b.at, b.source) {
        (None, _) => now,
        (Some(_), RaiseSource::Call) => {
            return Err(ApiError::invalid(
                "at: a call is raised at the time it is taken",
            ));
        }
        (Some(t), RaiseSource::Camera) => {
            let t =
                WallTime::parse(t).ok_or_else(|| ApiError::invalid("at: not an RFC 3339 time"))?;
            if t > now.plus(Duration::from_secs(5)) || t < now.minus(MAX_AGE) {
                return Err(ApiError::invalid(
                    "at: the moment must lie within the last 24 hours",
                ));
            }
            t
        }
    };
    let spots = hotspots(&st, &who).await?;
    let (spot, cameras, location) = match b.source {
        RaiseSource::Camera => {
            if b.lat.is_some() || b.lon.is_some() {
                return Err(ApiError::invalid(
                    "lat/lon: an alert seen on a camera is placed at its hotspot",
                ));
            }
            let cam = CameraId(
                b.camera
                    .ok_or_else(|| ApiError::invalid("camera: required for source camera"))?,
            );
            crate::reach::require_camera(&st, &who.scope, cam).await?;
            let spot = spots
                .iter()
                .filter(|s| s.cameras.contains(&cam))
                .filter(|s| b.hotspot.is_none_or(|h| h == s.id))
                .max_by_key(|s| s.priority)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "the camera belongs to no hotspot you handle: add it to a hotspot first",
                    )
                })?;
            let location = LatLon::new(spot.lat, spot.lon).ok();
            (spot, vec![cam], location)
        }
        RaiseSource::Call => {
            if b.camera.is_some() {
                return Err(ApiError::invalid(
                    "camera: a call is placed by lat/lon; its evidence is the hotspot's cameras",
                ));
            }
            let (Some(lat), Some(lon)) = (b.lat, b.lon) else {
                return Err(ApiError::invalid("lat and lon: required for source call"));
            };
            let place =
                LatLon::new(lat, lon).map_err(|_| ApiError::invalid("lat/lon out of range"))?;
            let dist = |s: &Spot| {
                LatLon::new(s.lat, s.lon).map_or(f64::INFINITY, |p| haversine_m(p, place))
            };
            let spot = spots
                .iter()
                .filter(|s| b.hotspot.is_none_or(|h| h == s.id))
                .min_by(|a, b| dist(a).total_cmp(&dist(b)))
                .filter(|s| dist(s) <= MAX_CALL_DISTANCE_M)
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "no hotspot you handle lies within {MAX_CALL_DISTANCE_M:.0} m of this place"
                    ))
                })?;
            if spot.cameras.is_empty() {
                return Err(ApiError::invalid(format!(
                    "the hotspot {} has no camera you may see",
                    spot.name
                )));
            }
            (spot, spot.cameras.clone(), Some(place))
        }
    };
    let incidents: Vec<ManualIncident> = cameras
        .iter()
        .map(|cam| ManualIncident {
            incident: NewIncident {
                id: Uuid::new_v4(),
                rule_id: Uuid::nil(),
                camera: *cam,
                hotspot_id: spot.id,
                seq: 0,
                kind: phenomenon.clone(),
                severity: severity.as_str().into(),
                priority: spot.priority,
                alerting: true,
                reason: format!("raised by {}", who.username),
                opened_at: at,
                peak_score: 1.0,
                track_ids: Vec::new(),
                model_id: "operator".into(),
                evidence_start: at.minus(EVIDENCE_AROUND),
            },
            evidence_end: at.plus(EVIDENCE_AROUND),
        })
        .collect();
    let mut detail = serde_json::json!({
        "manual": true,
        "source": b.source,
        "phenomenon": phenomenon,
        "text": description,
        "at": at.to_rfc3339(),
        "cameras": cameras.iter().map(ToString::to_string).collect::<Vec<_>>(),
    });
    if let (RaiseSource::Call, Some(p)) = (b.source, location) {
        detail["location"] = serde_json::json!({ "lat": p.lat, "lon": p.lon });
    }
    let (alert, merged) = st
        .alerts
        .raise_by_hand(&incidents, location, &who.username, detail)
        .await?;
    Ok((StatusCode::CREATED, Json(RaisedView { alert, merged })).into_response())
}

#[cfg(test)]
mod tests {
    use super::phenomenon_ok;

    #[test]
    fn phenomena_are_short_lowercase_words() {
        assert!(phenomenon_ok("fight"));
        assert!(phenomenon_ok("youth_gathering"));
        for bad in ["", "Fight", "fight!", "<b>", &"x".repeat(41), "קטטה"] {
            assert!(!phenomenon_ok(bad), "{bad}");
        }
    }
}
