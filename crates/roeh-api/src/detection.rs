//! Detection routes: hotspots and rules (validated with roeh-rules, stored as documents), per
//! camera analysis settings, incidents with their snapshots and evidence, analytics figures.
//!
//! Invariants:
//! - a hotspot or rule is stored only after it validates, and a refusal is a 400 whose message
//!   names the field and the problem (e.g. `zones[0].polygon: polygon is self-intersecting: …`);
//! - a hotspot may only name cameras the store knows; a hotspot change that would leave one of
//!   its rules pointing at a missing zone or line is refused (409) and changes nothing;
//! - after every stored change the running analytics reloads; a failed reload is logged and
//!   does not undo the change (the next reload picks it up);
//! - snapshots are served only by incident id, from the file name the store holds (a plain name,
//!   checked again here), never from a path a client gave.

use crate::{ApiError, AppState, cameras};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use roeh_domain::{CameraId, ErrorKind, WallTime};
use roeh_rules::{Hotspot, Rule};
use roeh_store::{HotspotRow, IncidentFilter, IncidentRow, IncidentState, RuleRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use uuid::Uuid;

/// Highest analysis rate the API accepts, frames per second.
pub const MAX_ANALYSIS_FPS: f64 = 30.0;

/// What the API needs from the running analytics. The process implements it over the
/// analytics crate, so the API does not depend on decoding or inference.
pub trait AnalyticsControl: Send + Sync + 'static {
    /// Reads hotspots, rules and camera settings from the store again; resolves once they are
    /// in use.
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
    /// Figures for `GET /api/analytics/stats`.
    fn stats(&self) -> Value;
    /// Where incident snapshots are.
    fn snapshot_dir(&self) -> PathBuf;
    /// The analysis rate of cameras without their own setting, frames per second.
    fn default_fps(&self) -> f64;
}

async fn reload(st: &AppState) {
    if let Some(a) = &st.analytics
        && let Err(e) = a.reload().await
    {
        tracing::warn!(error = %e, "Analytics did not reload after a change.");
    }
}

fn invalid(e: roeh_rules::Error) -> ApiError {
    ApiError::new(ErrorKind::InvalidArgument, e.message())
}

/// A body as a JSON object, with `id` set to `id` when missing. `Some(expected)` refuses
/// another id.
fn with_id(mut body: Value, what: &str, expected: Option<Uuid>) -> Result<(Value, Uuid), ApiError> {
    let Some(obj) = body.as_object_mut() else {
        return Err(ApiError::invalid(format!("{what}: must be a JSON object")));
    };
    let id = match obj.get("id") {
        None | Some(Value::Null) => expected.unwrap_or_else(Uuid::new_v4),
        Some(Value::String(s)) => {
            let id = Uuid::parse_str(s)
                .map_err(|_| ApiError::invalid(format!("{what}: id {s:?} is not a UUID")))?;
            if let Some(want) = expected
                && want != id
            {
                return Err(ApiError::invalid(format!(
                    "{what}: id {id} does not match the path ({want})"
                )));
            }
            id
        }
        Some(_) => return Err(ApiError::invalid(format!("{what}: id must be a string"))),
    };
    obj.insert("id".into(), Value::String(id.to_string()));
    Ok((body, id))
}

fn parse_uuid(s: &str, what: &str) -> Result<Uuid, ApiError> {
    // An unknown and a malformed id look the same to the client.
    Uuid::parse_str(s).map_err(|_| ApiError::not_found(format!("no such {what}")))
}

fn time(t: WallTime) -> String {
    t.to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// Hotspots

/// A stored hotspot as the API shows it.
#[derive(Debug, Serialize)]
pub struct HotspotView {
    id: Uuid,
    name: String,
    created_at: String,
    updated_at: String,
    hotspot: Value,
}

fn hotspot_view(r: HotspotRow) -> Result<HotspotView, ApiError> {
    let doc = serde_json::from_str(&r.document)
        .map_err(|e| ApiError::new(ErrorKind::DataLoss, format!("stored hotspot: {e}")))?;
    Ok(HotspotView {
        id: r.id,
        name: r.name,
        created_at: time(r.created_at),
        updated_at: time(r.updated_at),
        hotspot: doc,
    })
}

/// Validates a hotspot body: the document, then that its cameras exist.
async fn check_hotspot(st: &AppState, body: Value) -> Result<Hotspot, ApiError> {
    let h = Hotspot::parse_json(&body.to_string()).map_err(invalid)?;
    for (i, cam) in h.cameras.iter().enumerate() {
        if st.store.get_camera(*cam).await?.is_none() {
            return Err(ApiError::invalid(format!(
                "hotspot {:?}: cameras[{i}]: camera {cam} is not a known camera",
                h.name
            )));
        }
    }
    Ok(h)
}

fn document<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))
}

async fn load_hotspot(st: &AppState, id: Uuid) -> Result<HotspotRow, ApiError> {
    st.store
        .get_hotspot(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such hotspot"))
}

pub(crate) async fn list_hotspots(
    State(st): State<AppState>,
) -> Result<Json<Vec<HotspotView>>, ApiError> {
    let rows = st.store.list_hotspots().await?;
    Ok(Json(
        rows.into_iter()
            .map(hotspot_view)
            .collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn get_hotspot(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HotspotView>, ApiError> {
    let id = parse_uuid(&id, "hotspot")?;
    Ok(Json(hotspot_view(load_hotspot(&st, id).await?)?))
}

pub(crate) async fn add_hotspot(
    State(st): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<HotspotView>), ApiError> {
    let (body, id) = with_id(body, "hotspot", None)?;
    let h = check_hotspot(&st, body).await?;
    st.store
        .insert_hotspot(id, &h.name, &document(&h)?, st.clock.wall())
        .await?;
    reload(&st).await;
    let view = hotspot_view(load_hotspot(&st, id).await?)?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub(crate) async fn put_hotspot(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<HotspotView>, ApiError> {
    let id = parse_uuid(&id, "hotspot")?;
    load_hotspot(&st, id).await?;
    let (body, _) = with_id(body, "hotspot", Some(id))?;
    let h = check_hotspot(&st, body).await?;
    for row in st.store.list_rules(Some(id)).await? {
        if let Ok(r) = Rule::parse_json(&row.document)
            && let Err(e) = r.validate_for(&h)
        {
            return Err(ApiError::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "the change would break a rule of the hotspot; change or delete the rule \
                     first: {}",
                    e.message()
                ),
            ));
        }
    }
    st.store
        .update_hotspot(id, &h.name, &document(&h)?, st.clock.wall())
        .await?;
    reload(&st).await;
    Ok(Json(hotspot_view(load_hotspot(&st, id).await?)?))
}

pub(crate) async fn delete_hotspot(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_uuid(&id, "hotspot")?;
    if !st.store.delete_hotspot(id).await? {
        return Err(ApiError::not_found("no such hotspot"));
    }
    reload(&st).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Rules

/// A stored rule as the API shows it.
#[derive(Debug, Serialize)]
pub struct RuleView {
    id: Uuid,
    hotspot_id: Uuid,
    enabled: bool,
    created_at: String,
    updated_at: String,
    rule: Value,
}

fn rule_view(r: RuleRow) -> Result<RuleView, ApiError> {
    let doc = serde_json::from_str(&r.document)
        .map_err(|e| ApiError::new(ErrorKind::DataLoss, format!("stored rule: {e}")))?;
    Ok(RuleView {
        id: r.id,
        hotspot_id: r.hotspot_id,
        enabled: r.enabled,
        created_at: time(r.created_at),
        updated_at: time(r.updated_at),
        rule: doc,
    })
}

/// Validates a rule body against its (stored) hotspot.
async fn check_rule(st: &AppState, body: Value) -> Result<Rule, ApiError> {
    let r = Rule::parse_json(&body.to_string()).map_err(invalid)?;
    let Some(row) = st.store.get_hotspot(r.hotspot.0).await? else {
        return Err(ApiError::invalid(format!(
            "rule {:?}: hotspot: {} is not a known hotspot",
            r.name, r.hotspot
        )));
    };
    let h = Hotspot::parse_json(&row.document).map_err(|e| {
        ApiError::new(
            ErrorKind::FailedPrecondition,
            format!("the rule's hotspot does not validate: {}", e.message()),
        )
    })?;
    r.validate_for(&h).map_err(invalid)?;
    Ok(r)
}

async fn load_rule(st: &AppState, id: Uuid) -> Result<RuleRow, ApiError> {
    st.store
        .get_rule(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such rule"))
}

/// `?hotspot=`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesQuery {
    hotspot: Option<String>,
}

pub(crate) async fn list_rules(
    State(st): State<AppState>,
    Query(q): Query<RulesQuery>,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    let hotspot = q
        .hotspot
        .as_deref()
        .map(|h| {
            Uuid::parse_str(h)
                .map_err(|_| ApiError::invalid(format!("hotspot {h:?} is not a UUID")))
        })
        .transpose()?;
    let rows = st.store.list_rules(hotspot).await?;
    Ok(Json(
        rows.into_iter().map(rule_view).collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn get_rule(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RuleView>, ApiError> {
    let id = parse_uuid(&id, "rule")?;
    Ok(Json(rule_view(load_rule(&st, id).await?)?))
}

pub(crate) async fn add_rule(
    State(st): State<AppState>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let (body, id) = with_id(body, "rule", None)?;
    let r = check_rule(&st, body).await?;
    let now = st.clock.wall();
    st.store
        .insert_rule(&RuleRow {
            id,
            hotspot_id: r.hotspot.0,
            document: document(&r)?,
            enabled: r.enabled,
            created_at: now,
            updated_at: now,
        })
        .await?;
    reload(&st).await;
    let view = rule_view(load_rule(&st, id).await?)?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub(crate) async fn put_rule(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<RuleView>, ApiError> {
    let id = parse_uuid(&id, "rule")?;
    let old = load_rule(&st, id).await?;
    let (body, _) = with_id(body, "rule", Some(id))?;
    let r = check_rule(&st, body).await?;
    st.store
        .update_rule(&RuleRow {
            id,
            hotspot_id: r.hotspot.0,
            document: document(&r)?,
            enabled: r.enabled,
            created_at: old.created_at,
            updated_at: st.clock.wall(),
        })
        .await?;
    reload(&st).await;
    Ok(Json(rule_view(load_rule(&st, id).await?)?))
}

pub(crate) async fn delete_rule(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_uuid(&id, "rule")?;
    if !st.store.delete_rule(id).await? {
        return Err(ApiError::not_found("no such rule"));
    }
    reload(&st).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Camera analysis

/// Body of `PUT /api/cameras/{id}/analysis`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisBody {
    enabled: bool,
    /// Frames per second; absent keeps the camera's rate (or the default).
    #[serde(default)]
    fps: Option<f64>,
}

/// A camera's analysis settings as the API shows them.
#[derive(Debug, Serialize)]
pub struct AnalysisView {
    camera_id: CameraId,
    enabled: bool,
    fps: f64,
    /// Whether the camera has its own setting (else the defaults apply).
    configured: bool,
}

fn default_fps(st: &AppState) -> f64 {
    st.analytics.as_ref().map_or(5.0, |a| a.default_fps())
}

pub(crate) async fn get_analysis(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<AnalysisView>, ApiError> {
    let cam = cameras::load(&st, &id).await?;
    let s = st.store.camera_analysis(cam.id).await?;
    Ok(Json(AnalysisView {
        camera_id: cam.id,
        enabled: s.is_none_or(|s| s.enabled),
        fps: s.map_or_else(|| default_fps(&st), |s| s.fps),
        configured: s.is_some(),
    }))
}

pub(crate) async fn put_analysis(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<AnalysisBody>,
) -> Result<Json<AnalysisView>, ApiError> {
    let cam = cameras::load(&st, &id).await?;
    let fps = match body.fps {
        Some(f) => f,
        None => match st.store.camera_analysis(cam.id).await? {
            Some(s) => s.fps,
            None => default_fps(&st),
        },
    };
    if !(fps.is_finite() && fps > 0.0 && fps <= MAX_ANALYSIS_FPS) {
        return Err(ApiError::invalid(format!(
            "fps {fps} is out of range: it must be above 0 and at most {MAX_ANALYSIS_FPS}"
        )));
    }
    st.store
        .set_camera_analysis(cam.id, body.enabled, fps, st.clock.wall())
        .await?;
    reload(&st).await;
    Ok(Json(AnalysisView {
        camera_id: cam.id,
        enabled: body.enabled,
        fps,
        configured: true,
    }))
}

// ---------------------------------------------------------------------------------------------
// Incidents

/// `?hotspot=&camera=&start=&end=&state=&limit=`; times are RFC 3339 or microseconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    hotspot: Option<String>,
    camera: Option<String>,
    start: Option<String>,
    end: Option<String>,
    state: Option<String>,
    limit: Option<u32>,
}

impl IncidentQuery {
    fn filter(&self) -> Result<IncidentFilter, ApiError> {
        let t = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| {
                    WallTime::parse(s).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "{name} must be RFC 3339 (e.g. 2026-11-22T20:00:00Z) or microseconds"
                        ))
                    })
                })
                .transpose()
        };
        let start = t("start", &self.start)?;
        let end = t("end", &self.end)?;
        if let (Some(s), Some(e)) = (start, end)
            && s >= e
        {
            return Err(ApiError::invalid("start must be before end"));
        }
        let limit = self.limit.unwrap_or(100);
        if limit == 0 || limit > roeh_store::MAX_INCIDENT_LIST {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {}",
                roeh_store::MAX_INCIDENT_LIST
            )));
        }
        Ok(IncidentFilter {
            hotspot: self
                .hotspot
                .as_deref()
                .map(|h| {
                    Uuid::parse_str(h)
                        .map_err(|_| ApiError::invalid(format!("hotspot {h:?} is not a UUID")))
                })
                .transpose()?,
            camera: self
                .camera
                .as_deref()
                .map(|c| {
                    CameraId::parse(c)
                        .map_err(|_| ApiError::invalid(format!("camera {c:?} is not a UUID")))
                })
                .transpose()?,
            start,
            end,
            state: self
                .state
                .as_deref()
                .map(|s| {
                    IncidentState::parse(s).ok_or_else(|| {
                        ApiError::invalid(format!("state {s:?} is not open or closed"))
                    })
                })
                .transpose()?,
            limit,
        })
    }
}

/// The footage that belongs to an incident.
#[derive(Debug, Serialize)]
pub struct EvidenceView {
    start: String,
    /// `None` while the incident is open.
    end: Option<String>,
    start_us: i64,
    end_us: Option<i64>,
    /// The recorded range as an MP4 (up to now while open).
    mp4_url: String,
    /// Recorded segments overlapping the window (only on `GET /api/incidents/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    segments: Option<Vec<EvidenceSegment>>,
}

/// A segment of an incident's evidence window.
#[derive(Debug, Serialize)]
pub struct EvidenceSegment {
    id: i64,
    seq: u64,
    start: String,
    end: String,
    state: roeh_domain::SegmentState,
}

/// An incident as the API shows it.
#[derive(Debug, Serialize)]
pub struct IncidentView {
    id: Uuid,
    rule_id: Uuid,
    hotspot_id: Uuid,
    camera_id: CameraId,
    kind: String,
    severity: String,
    priority: u8,
    alerting: bool,
    reason: String,
    state: &'static str,
    opened_at: String,
    opened_at_us: i64,
    updated_at: String,
    closed_at: Option<String>,
    closed_at_us: Option<i64>,
    peak_score: f64,
    track_ids: Vec<u64>,
    model_id: String,
    snapshot_url: Option<String>,
    evidence: EvidenceView,
}

fn incident_view(r: IncidentRow, now: WallTime) -> IncidentView {
    let i = r.incident;
    let end = r.evidence_end.unwrap_or(now);
    IncidentView {
        snapshot_url: r
            .snapshot
            .as_ref()
            .map(|_| format!("/api/incidents/{}/snapshot", i.id)),
        evidence: EvidenceView {
            start: time(i.evidence_start),
            end: r.evidence_end.map(time),
            start_us: i.evidence_start.0,
            end_us: r.evidence_end.map(|t| t.0),
            mp4_url: format!(
                "/api/cameras/{}/mp4?start={}&end={}",
                i.camera,
                i.evidence_start.0,
                end.0.max(i.evidence_start.0 + 1)
            ),
            segments: None,
        },
        id: i.id,
        rule_id: i.rule_id,
        hotspot_id: i.hotspot_id,
        camera_id: i.camera,
        kind: i.kind,
        severity: i.severity,
        priority: i.priority,
        alerting: i.alerting,
        reason: i.reason,
        state: r.state.as_str(),
        opened_at: time(i.opened_at),
        opened_at_us: i.opened_at.0,
        updated_at: time(r.updated_at),
        closed_at: r.closed_at.map(time),
        closed_at_us: r.closed_at.map(|t| t.0),
        peak_score: i.peak_score,
        track_ids: i.track_ids,
        model_id: i.model_id,
    }
}

pub(crate) async fn list_incidents(
    State(st): State<AppState>,
    Query(q): Query<IncidentQuery>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let f = q.filter()?;
    let now = st.clock.wall();
    let rows = st.store.list_incidents(&f).await?;
    Ok(Json(
        rows.into_iter().map(|r| incident_view(r, now)).collect(),
    ))
}

async fn load_incident(st: &AppState, id: &str) -> Result<IncidentRow, ApiError> {
    let id = parse_uuid(id, "incident")?;
    st.store
        .get_incident(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such incident"))
}

pub(crate) async fn get_incident(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let r = load_incident(&st, &id).await?;
    let now = st.clock.wall();
    let (camera, start, end) = (
        r.incident.camera,
        r.incident.evidence_start,
        r.evidence_end.unwrap_or(now),
    );
    let segments = if start < end {
        st.store.segments_in_range(camera, start, end).await?
    } else {
        Vec::new()
    };
    let mut v = incident_view(r, now);
    v.evidence.segments = Some(
        segments
            .into_iter()
            .map(|s| EvidenceSegment {
                id: s.id,
                seq: s.seq,
                start: time(s.start),
                end: time(s.end),
                state: s.state,
            })
            .collect(),
    );
    Ok(Json(v))
}

pub(crate) async fn snapshot(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = load_incident(&st, &id).await?;
    let Some(name) = r.snapshot.filter(|n| roeh_store::is_plain_file_name(n)) else {
        return Err(ApiError::not_found("the incident has no snapshot"));
    };
    let dir = match &st.analytics {
        Some(a) => a.snapshot_dir(),
        None => st
            .footage_root
            .parent()
            .map_or_else(|| PathBuf::from("snapshots"), |p| p.join("snapshots")),
    };
    let bytes = match tokio::fs::read(dir.join(&name)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::not_found(
                "the incident's snapshot file is missing",
            ));
        }
        Err(e) => {
            return Err(ApiError::new(
                ErrorKind::Unavailable,
                format!("reading snapshot {name}: {e}"),
            ));
        }
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "image/jpeg")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from(bytes))
        .map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))
}

pub(crate) async fn stats(State(st): State<AppState>) -> Result<Json<Value>, ApiError> {
    match &st.analytics {
        Some(a) => Ok(Json(a.stats())),
        None => Err(ApiError::new(
            ErrorKind::FailedPrecondition,
            "analytics is not running: it is disabled in the configuration, or its model was \
             refused at start (see the log)",
        )),
    }
}
