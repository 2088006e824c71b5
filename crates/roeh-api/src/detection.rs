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
//!   checked again here), never from a path a client gave;
//! - every read and write is limited by the caller's scope (TRUST S9), and an object outside it
//!   answers exactly like one that does not exist (same status, same body): an incident is
//!   visible when the scope allows its camera with its hotspot, or its hotspot; a hotspot when
//!   the scope allows it or any of its cameras; a rule when its hotspot is visible. Lists hold
//!   only visible objects, and a filter naming something outside the scope reads as one with
//!   nothing in it;
//! - a scoped caller changes a hotspot (or its rules) only when the hotspot as a whole is in
//!   the scope or every camera of it is granted by id, and names in a hotspot only cameras it is
//!   granted by id (or the hotspot already had, for a hotspot of the scope); a camera outside
//!   the scope is refused like an unknown camera;
//! - `GET /api/incidents` pages by cursor (`before`, the last incident of the previous page, in
//!   the order `opened_at DESC, id`); the scope is applied in the query, so a page is full while
//!   more visible incidents exist, and a cursor that is unknown or out of scope is refused alike.

use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::{ApiError, AppState, cameras};
use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use roeh_auth::{Principal, Scope};
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
    /// Keeps `camera` decoded for [`WATCH_SECS`] (unless its analysis is switched off) and
    /// tells what the detector saw on it last.
    /// With `frame`, the answer carries the detector's picture too.
    fn watch(
        &self,
        camera: CameraId,
        frame: bool,
    ) -> Pin<Box<dyn Future<Output = Result<DetectionsView, String>> + Send + '_>> {
        let _ = (camera, frame);
        Box::pin(async { Err("this analytics shows no detections".to_string()) })
    }
}

/// How long a look at a camera's detections keeps it decoded, seconds.
pub const WATCH_SECS: u64 = 60;

/// What the detector saw last on a camera (`GET /api/cameras/{id}/detections`).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct DetectionsView {
    /// The camera's analysis is on (not switched off, not turned away from its home position).
    pub analysis_on: bool,
    /// It is decoded now: a rule is armed on it, or someone looked at its detections in the
    /// last minute.
    pub decoding: bool,
    /// When the last analysed frame arrived (RFC 3339); null before the first.
    pub at: Option<String>,
    /// That frame's size in pixels.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The detection model.
    pub model_id: String,
    /// Everything the model found in that frame, whatever a rule would count.
    pub objects: Vec<DetectedView>,
    /// With `?frame=true`: that frame as a JPEG `data:` URL, the picture the boxes belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<String>,
}

/// `?frame=`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectionsQuery {
    /// Also send the frame the detections belong to (a JPEG `data:` URL).
    #[serde(default)]
    frame: bool,
}

/// One detection.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct DetectedView {
    /// The model's label.
    pub label: String,
    /// Confidence, 0 to 1.
    pub score: f32,
    /// `[xmin, ymin, xmax, ymax]`, fractions of the frame from its top left.
    pub bbox: [f32; 4],
}

/// When each user last looked at each camera's detector picture (see [`detections`]).
#[derive(Debug, Default)]
pub struct Looks(std::sync::Mutex<std::collections::HashMap<(String, CameraId), WallTime>>);

impl Looks {
    /// Whether `who` looking at `camera` at `now` starts a new look: none within
    /// [`WATCH_SECS`] before. Looks older than that are forgotten.
    fn start(&self, who: &str, camera: CameraId, now: WallTime) -> bool {
        let window = i64::try_from(WATCH_SECS * 1_000_000).unwrap_or(i64::MAX);
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, at| now.0.saturating_sub(at.0) < window);
        let fresh = !m.contains_key(&(who.to_string(), camera));
        m.insert((who.to_string(), camera), now);
        fresh
    }

    /// Forgets `who`'s look at `camera` (its custody event could not be written).
    fn forget(&self, who: &str, camera: CameraId) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&(who.to_string(), camera));
    }
}

/// `GET /api/cameras/{id}/detections`: what the detector sees on the camera now, for someone
/// drawing zones or checking a rule. Keeps the camera decoded for [`WATCH_SECS`] (a look
/// starts it; nothing is stored and no rule is armed by it). The picture (`?frame=true`) is a
/// live picture of the camera: the first of a user's looks at it, and the first after a pause
/// of [`WATCH_SECS`], is a `footage_viewed` custody event, as opening live video is.
pub(crate) async fn detections(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DetectionsQuery>,
) -> Result<Json<DetectionsView>, ApiError> {
    let cam = cameras::load(&st, &id).await?;
    let Some(a) = &st.analytics else {
        return Err(ApiError::new(
            ErrorKind::FailedPrecondition,
            "analytics is not running on this node ([analytics] in the configuration)",
        ));
    };
    let view = a
        .watch(cam.id, q.frame)
        .await
        .map_err(|e| ApiError::new(ErrorKind::Unavailable, e))?;
    let now = st.clock.wall();
    if view.frame.is_some() && st.looks.start(&who.username, cam.id, now) {
        let recorded = st
            .custody
            .record_access(
                "footage_viewed",
                &who.username,
                Some(cam.id),
                serde_json::json!({"start": now.to_rfc3339(), "route": "detections"}),
            )
            .await;
        if let Err(e) = recorded {
            // Not recorded: the next look starts again, and this one shows nothing.
            st.looks.forget(&who.username, cam.id);
            return Err(e.into());
        }
    }
    Ok(Json(view))
}

/// Lets the running analytics read hotspots, rules, camera settings and positions again; a
/// failure is logged.
pub(crate) async fn reload(st: &AppState) {
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
pub(crate) fn with_id(
    mut body: Value,
    what: &str,
    expected: Option<Uuid>,
) -> Result<(Value, Uuid), ApiError> {
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

fn time(t: WallTime) -> String {
    t.to_rfc3339()
}

// ---------------------------------------------------------------------------------------------
// Scope

/// The cameras a stored hotspot document names (entries that are not camera ids are skipped,
/// which can only narrow what a scoped caller sees).
pub(crate) fn hotspot_cameras(document: &str) -> Vec<CameraId> {
    let Ok(v) = serde_json::from_str::<Value>(document) else {
        return Vec::new();
    };
    v.get("cameras")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|c| CameraId::parse(c).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `scope` sees the hotspot `id` whose cameras are `cameras`.
pub(crate) fn sees_hotspot(scope: &Scope, id: Uuid, cameras: &[CameraId]) -> bool {
    scope.allows_hotspot(id) || cameras.iter().any(|c| scope.allows_camera(*c, [id]))
}

/// Whether `scope` may change the hotspot `id` whose cameras are `cameras`, and its rules.
fn may_change_hotspot(scope: &Scope, id: Uuid, cameras: &[CameraId]) -> bool {
    scope.allows_hotspot(id) || cameras.iter().all(|c| scope.allows_camera(*c, []))
}

/// Whether `scope` sees an incident.
fn sees_incident(scope: &Scope, r: &IncidentRow) -> bool {
    let i = &r.incident;
    scope.allows_camera(i.camera, [i.hotspot_id]) || scope.allows_hotspot(i.hotspot_id)
}

fn no_hotspot() -> ApiError {
    ApiError::not_found("no such hotspot")
}

fn no_rule() -> ApiError {
    ApiError::not_found("no such rule")
}

fn outside_scope() -> ApiError {
    ApiError::new(
        ErrorKind::PermissionDenied,
        "the hotspot has cameras outside your scope",
    )
}

// ---------------------------------------------------------------------------------------------
// Hotspots

/// A stored hotspot as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct HotspotView {
    id: Uuid,
    name: String,
    created_at: String,
    updated_at: String,
    /// The stored document.
    #[schemars(with = "roeh_rules::schema::Hotspot")]
    hotspot: Value,
    /// Whether its schedule arms it at the server's time of the answer.
    armed_now: bool,
}

fn hotspot_view(r: HotspotRow, now: WallTime) -> Result<HotspotView, ApiError> {
    let doc: Value = serde_json::from_str(&r.document)
        .map_err(|e| ApiError::new(ErrorKind::DataLoss, format!("stored hotspot: {e}")))?;
    let armed_now = doc
        .get("schedule")
        .and_then(|v| roeh_rules::Schedule::from_value(v).ok())
        .is_some_and(|sch| sch.is_armed(now));
    Ok(HotspotView {
        armed_now,
        id: r.id,
        name: r.name,
        created_at: time(r.created_at),
        updated_at: time(r.updated_at),
        hotspot: doc,
    })
}

/// Validates a hotspot body: the document, then that its cameras exist and that `who` may name
/// them: granted by id, or already cameras of `stored` (the hotspot being changed) when the
/// hotspot as a whole is in the scope. A camera outside the scope reads as an unknown one.
async fn check_hotspot(
    st: &AppState,
    who: &Principal,
    stored: Option<&HotspotRow>,
    body: Value,
) -> Result<Hotspot, ApiError> {
    let h = Hotspot::parse_json(&body.to_string()).map_err(invalid)?;
    let kept = match stored {
        Some(row) if who.scope.allows_hotspot(row.id) => hotspot_cameras(&row.document),
        _ => Vec::new(),
    };
    for (i, cam) in h.cameras.iter().enumerate() {
        let nameable = who.scope.allows_camera(*cam, []) || kept.contains(cam);
        if !nameable || st.store.get_camera(*cam).await?.is_none() {
            return Err(ApiError::invalid(format!(
                "hotspot {:?}: cameras[{i}]: camera {cam} is not a known camera",
                h.name
            )));
        }
    }
    // A hotspot's cameras are reached by every user scoped to it: a scoped caller adding a
    // camera to an existing hotspot would widen other users' scope. Only unrestricted callers
    // (site admins, unscoped supervisors) add cameras to a stored hotspot.
    if let Some(row) = stored
        && !who.scope.is_unrestricted()
    {
        let before = hotspot_cameras(&row.document);
        if let Some(added) = h.cameras.iter().find(|c| !before.contains(c)) {
            return Err(ApiError::new(
                ErrorKind::PermissionDenied,
                format!(
                    "camera {added} cannot be added to hotspot {:?} by a user with a limited \
                     scope: it would widen the scope of every user limited to this hotspot",
                    h.name
                ),
            ));
        }
    }
    Ok(h)
}

fn document<T: Serialize>(v: &T) -> Result<String, ApiError> {
    serde_json::to_string(v).map_err(|e| ApiError::new(ErrorKind::Internal, e.to_string()))
}

async fn load_hotspot(st: &AppState, id: Uuid) -> Result<HotspotRow, ApiError> {
    st.store.get_hotspot(id).await?.ok_or_else(no_hotspot)
}

/// The hotspot `id` if it exists and `who` sees it; `None` alike for missing and out of scope.
async fn visible_hotspot(
    st: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<Option<HotspotRow>, ApiError> {
    Ok(st
        .store
        .get_hotspot(id)
        .await?
        .filter(|r| sees_hotspot(&who.scope, r.id, &hotspot_cameras(&r.document))))
}

/// `row` if `who` may change it, else `PermissionDenied` (it sees the hotspot already).
fn changeable(who: &Principal, row: HotspotRow) -> Result<HotspotRow, ApiError> {
    if may_change_hotspot(&who.scope, row.id, &hotspot_cameras(&row.document)) {
        Ok(row)
    } else {
        Err(outside_scope())
    }
}

/// A hotspot `who` sees; one outside the scope answers like a missing one.
async fn load_visible_hotspot(
    st: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<HotspotRow, ApiError> {
    visible_hotspot(st, who, id).await?.ok_or_else(no_hotspot)
}

/// A hotspot `who` sees and may change.
async fn load_changeable_hotspot(
    st: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<HotspotRow, ApiError> {
    changeable(who, load_visible_hotspot(st, who, id).await?)
}

pub(crate) async fn list_hotspots(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Vec<HotspotView>>, ApiError> {
    let rows = st.store.list_hotspots().await?;
    Ok(Json(
        rows.into_iter()
            .filter(|r| sees_hotspot(&who.scope, r.id, &hotspot_cameras(&r.document)))
            .map(|r| hotspot_view(r, st.clock.wall()))
            .collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn get_hotspot(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<HotspotView>, ApiError> {
    let id = path_id(&id, "hotspot")?;
    Ok(Json(hotspot_view(
        load_visible_hotspot(&st, &who, id).await?,
        st.clock.wall(),
    )?))
}

pub(crate) async fn add_hotspot(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<HotspotView>), ApiError> {
    let (body, id) = with_id(body, "hotspot", None)?;
    let h = check_hotspot(&st, &who, None, body).await?;
    st.store
        .insert_hotspot(id, &h.name, &document(&h)?, st.clock.wall())
        .await?;
    reload(&st).await;
    let view = hotspot_view(load_hotspot(&st, id).await?, st.clock.wall())?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub(crate) async fn put_hotspot(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<HotspotView>, ApiError> {
    let id = path_id(&id, "hotspot")?;
    let stored = load_changeable_hotspot(&st, &who, id).await?;
    let (body, _) = with_id(body, "hotspot", Some(id))?;
    let h = check_hotspot(&st, &who, Some(&stored), body).await?;
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
    Ok(Json(hotspot_view(
        load_hotspot(&st, id).await?,
        st.clock.wall(),
    )?))
}

pub(crate) async fn delete_hotspot(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "hotspot")?;
    load_changeable_hotspot(&st, &who, id).await?;
    if !st.store.delete_hotspot(id).await? {
        return Err(no_hotspot());
    }
    reload(&st).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Rules

/// A stored rule as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RuleView {
    id: Uuid,
    hotspot_id: Uuid,
    enabled: bool,
    created_at: String,
    updated_at: String,
    /// The stored document.
    #[schemars(with = "roeh_rules::schema::Rule")]
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

/// Validates a rule body against its (stored) hotspot, which `who` must see (else it reads as
/// unknown) and may change.
async fn check_rule(st: &AppState, who: &Principal, body: Value) -> Result<Rule, ApiError> {
    let r = Rule::parse_json(&body.to_string()).map_err(invalid)?;
    let Some(row) = visible_hotspot(st, who, r.hotspot.0).await? else {
        return Err(ApiError::invalid(format!(
            "rule {:?}: hotspot: {} is not a known hotspot",
            r.name, r.hotspot
        )));
    };
    let row = changeable(who, row)?;
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
    st.store.get_rule(id).await?.ok_or_else(no_rule)
}

/// A rule `who` sees (through its hotspot); one outside the scope answers like a missing one.
async fn load_visible_rule(st: &AppState, who: &Principal, id: Uuid) -> Result<RuleRow, ApiError> {
    let rule = load_rule(st, id).await?;
    match st.store.get_hotspot(rule.hotspot_id).await? {
        Some(h) if sees_hotspot(&who.scope, h.id, &hotspot_cameras(&h.document)) => Ok(rule),
        // A rule outlives its hotspot only in a damaged database; unscoped callers still see it.
        None if who.scope.is_unrestricted() => Ok(rule),
        _ => Err(no_rule()),
    }
}

/// A rule `who` sees and may change (through its hotspot).
async fn load_changeable_rule(
    st: &AppState,
    who: &Principal,
    id: Uuid,
) -> Result<RuleRow, ApiError> {
    let rule = load_visible_rule(st, who, id).await?;
    if let Some(h) = st.store.get_hotspot(rule.hotspot_id).await?
        && !may_change_hotspot(&who.scope, h.id, &hotspot_cameras(&h.document))
    {
        return Err(outside_scope());
    }
    Ok(rule)
}

/// `?hotspot=`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesQuery {
    /// Only rules of this hotspot (UUID).
    hotspot: Option<String>,
}

pub(crate) async fn list_rules(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiQuery(q): ApiQuery<RulesQuery>,
) -> Result<Json<Vec<RuleView>>, ApiError> {
    let hotspot = q
        .hotspot
        .as_deref()
        .map(|h| {
            Uuid::parse_str(h)
                .map_err(|_| ApiError::invalid(format!("hotspot {h:?} is not a UUID")))
        })
        .transpose()?;
    let mut rows = st.store.list_rules(hotspot).await?;
    if !who.scope.is_unrestricted() {
        // Rules are visible through their hotspots: a rule of a hotspot outside the scope (or
        // of a `hotspot=` filter outside it) is left out, as if it did not exist.
        let seen: std::collections::HashSet<Uuid> = st
            .store
            .list_hotspots()
            .await?
            .into_iter()
            .filter(|h| sees_hotspot(&who.scope, h.id, &hotspot_cameras(&h.document)))
            .map(|h| h.id)
            .collect();
        rows.retain(|r| seen.contains(&r.hotspot_id));
    }
    Ok(Json(
        rows.into_iter().map(rule_view).collect::<Result<_, _>>()?,
    ))
}

pub(crate) async fn get_rule(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<RuleView>, ApiError> {
    let id = path_id(&id, "rule")?;
    Ok(Json(rule_view(load_visible_rule(&st, &who, id).await?)?))
}

pub(crate) async fn add_rule(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<RuleView>), ApiError> {
    let (body, id) = with_id(body, "rule", None)?;
    let r = check_rule(&st, &who, body).await?;
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
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<RuleView>, ApiError> {
    let id = path_id(&id, "rule")?;
    let old = load_changeable_rule(&st, &who, id).await?;
    let (body, _) = with_id(body, "rule", Some(id))?;
    let r = check_rule(&st, &who, body).await?;
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
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id, "rule")?;
    load_changeable_rule(&st, &who, id).await?;
    if !st.store.delete_rule(id).await? {
        return Err(no_rule());
    }
    reload(&st).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Camera analysis

/// Body of `PUT /api/cameras/{id}/analysis`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalysisBody {
    enabled: bool,
    /// Frames per second, above 0; absent keeps the camera's rate (or the default).
    #[serde(default)]
    #[schemars(range(max = MAX_ANALYSIS_FPS), extend("exclusiveMinimum" = 0.0))]
    fps: Option<f64>,
}

/// A camera's analysis settings as the API shows them.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AnalysisView {
    #[schemars(with = "Uuid")]
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
    ApiJson(body): ApiJson<AnalysisBody>,
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
// Schedules

/// Most changes `POST /api/schedules/preview` lists.
pub const MAX_PREVIEW_CHANGES: u32 = 20;
/// How far ahead it looks, days.
pub const PREVIEW_HORIZON_DAYS: u32 = 400;

/// Body of `POST /api/schedules/preview`: a schedule being edited, before it is saved.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The schedule, as in a hotspot document.
    #[schemars(with = "roeh_rules::schema::Schedule")]
    schedule: Value,
    /// How many changes to list (default 6).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_PREVIEW_CHANGES))]
    count: Option<u32>,
}

/// One moment a schedule turns armed or disarmed.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ScheduleChange {
    /// RFC 3339, UTC.
    at: String,
    /// Armed from then on.
    armed: bool,
}

/// Whether a schedule is armed now and when that changes next.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PreviewView {
    /// The server's time the preview was taken at (RFC 3339).
    now: String,
    /// Armed at `now`.
    armed_now: bool,
    /// The next changes, in order, within `horizon_days`.
    changes: Vec<ScheduleChange>,
    /// How far ahead it looked.
    horizon_days: u32,
}

/// `POST /api/schedules/preview`: validates a schedule as a hotspot's would be (the refusal
/// names the field, e.g. `schedule.windows[0].from: …`) and lists when it next arms and
/// disarms, so a supervisor sees what a change means before saving it.
pub(crate) async fn preview_schedule(
    State(st): State<AppState>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<PreviewView>, ApiError> {
    let count = body.count.unwrap_or(6);
    if !(1..=MAX_PREVIEW_CHANGES).contains(&count) {
        return Err(ApiError::invalid(format!(
            "count: {count} is out of range (1 to {MAX_PREVIEW_CHANGES})"
        )));
    }
    let schedule = roeh_rules::Schedule::from_value(&body.schedule).map_err(invalid)?;
    let now = st.clock.wall();
    let changes = schedule
        .changes_after(now, count as usize, PREVIEW_HORIZON_DAYS)
        .into_iter()
        .map(|(at, armed)| ScheduleChange {
            at: time(at),
            armed,
        })
        .collect();
    Ok(Json(PreviewView {
        now: time(now),
        armed_now: schedule.is_armed(now),
        changes,
        horizon_days: PREVIEW_HORIZON_DAYS,
    }))
}

// ---------------------------------------------------------------------------------------------
// Incidents

/// `?hotspot=&camera=&start=&end=&state=&limit=&before=`; times are RFC 3339 or microseconds;
/// `before` is the last incident of the previous page.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentQuery {
    /// Only incidents of this hotspot (UUID).
    hotspot: Option<String>,
    /// Only incidents of this camera (UUID).
    camera: Option<String>,
    /// Range start (RFC 3339).
    start: Option<String>,
    /// Range end (RFC 3339).
    end: Option<String>,
    /// Only incidents in this state.
    state: Option<String>,
    /// Page size (default 100, max 1000).
    limit: Option<u32>,
    /// Cursor: the last incident of the previous page (UUID).
    before: Option<String>,
}

/// The refusal of a `before` cursor: the same for an unknown id and one outside the scope.
fn bad_cursor() -> ApiError {
    ApiError::invalid("before must be the id of an incident of this listing")
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
            ..IncidentFilter::default()
        })
    }
}

/// The footage that belongs to an incident.
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EvidenceSegment {
    id: i64,
    seq: u64,
    start: String,
    end: String,
    state: roeh_domain::SegmentState,
}

/// An incident as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IncidentView {
    id: Uuid,
    rule_id: Uuid,
    hotspot_id: Uuid,
    #[schemars(with = "Uuid")]
    camera_id: CameraId,
    kind: String,
    severity: String,
    priority: u8,
    alerting: bool,
    reason: String,
    #[schemars(extend("enum" = ["open", "closed"]))]
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
    Extension(who): Extension<Principal>,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> Result<Json<Vec<IncidentView>>, ApiError> {
    let mut f = q.filter()?;
    if let Some(b) = &q.before {
        let id = Uuid::parse_str(b).map_err(|_| bad_cursor())?;
        match st.store.get_incident(id).await? {
            Some(r) if sees_incident(&who.scope, &r) => f.before = Some(id),
            _ => return Err(bad_cursor()),
        }
    }
    // The scope is applied in the query (the same test as `sees_incident`), so pages are full.
    if !who.scope.is_unrestricted() {
        f.scope_cameras = who
            .scope
            .cameras
            .as_ref()
            .map(|c| c.iter().copied().collect());
        f.scope_hotspots = who
            .scope
            .hotspots
            .as_ref()
            .map(|h| h.iter().copied().collect());
    }
    let now = st.clock.wall();
    let rows = st.store.list_incidents(&f).await?;
    Ok(Json(
        rows.into_iter().map(|r| incident_view(r, now)).collect(),
    ))
}

/// An incident `who` sees; one outside the scope answers like a missing one.
async fn load_incident(st: &AppState, who: &Principal, id: &str) -> Result<IncidentRow, ApiError> {
    let id = path_id(id, "incident")?;
    st.store
        .get_incident(id)
        .await?
        .filter(|r| sees_incident(&who.scope, r))
        .ok_or_else(|| ApiError::not_found("no such incident"))
}

pub(crate) async fn get_incident(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<IncidentView>, ApiError> {
    let r = load_incident(&st, &who, &id).await?;
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
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = load_incident(&st, &who, &id).await?;
    snapshot_of(&st, r.snapshot).await
}

/// The JPEG response of an incident's stored snapshot file `name`.
pub(crate) async fn snapshot_of(st: &AppState, name: Option<String>) -> Result<Response, ApiError> {
    let Some(name) = name.filter(|n| roeh_store::is_plain_file_name(n)) else {
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

/// `GET /api/analytics/stats`: site-wide figures, and per-camera figures of the cameras in the
/// caller's scope only.
pub(crate) async fn stats(
    State(st): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    match &st.analytics {
        Some(a) => {
            let reach = crate::reach::reach(&st, &who.scope).await?;
            let mut v = a.stats();
            if !who.scope.is_unrestricted()
                && let Some(cams) = v.get_mut("cameras").and_then(Value::as_array_mut)
            {
                cams.retain(|c| {
                    c.get("camera")
                        .and_then(Value::as_str)
                        .and_then(|id| CameraId::parse(id).ok())
                        .is_some_and(|id| reach.allows(id))
                });
            }
            Ok(Json(v))
        }
        None => Err(ApiError::new(
            ErrorKind::FailedPrecondition,
            "analytics is not running: it is disabled in the configuration, or its model was \
             refused at start (see the log)",
        )),
    }
}
