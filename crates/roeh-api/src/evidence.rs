//! Evidence routes: site keys, checkpoints, consistency proofs, legal holds, clip-bundle
//! exports (docs/design/0005-evidence-format.md) and the custody log of a case.
//!
//! The actor of every custody event is the signed-in user ([`roeh_auth::Principal`], put in
//! the request by the auth layer, which also checked the role: only investigators, supervisors
//! and admins export and manage holds). A camera outside the caller's scope answers like a
//! camera that does not exist.

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState, cameras};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use roeh_auth::Principal;
use roeh_custody::{ExportForm, ExportRequest, PublicKeyInfo, SignedCheckpointOut};
use roeh_domain::WallTime;
use roeh_store::{ExportRow, HoldRow, NewHold};
use serde::{Deserialize, Serialize};

impl From<roeh_custody::Error> for ApiError {
    fn from(e: roeh_custody::Error) -> Self {
        ApiError::new(e.kind(), e.chain())
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct KeyView {
    key_id: String,
    pem: String,
    created_at: String,
    retired_at: Option<String>,
}

impl From<PublicKeyInfo> for KeyView {
    fn from(k: PublicKeyInfo) -> Self {
        KeyView {
            key_id: k.key_id,
            pem: k.pem,
            created_at: k.created_at.to_rfc3339(),
            retired_at: k.retired_at.map(WallTime::to_rfc3339),
        }
    }
}

pub(crate) async fn keys(State(st): State<AppState>) -> Result<Json<Vec<KeyView>>, ApiError> {
    let keys = st.custody.public_keys().await?;
    Ok(Json(keys.into_iter().map(KeyView::from).collect()))
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct CheckpointView {
    text: String,
    signature: String,
    size: u64,
    root: String,
    key_id: String,
}

impl From<SignedCheckpointOut> for CheckpointView {
    fn from(c: SignedCheckpointOut) -> Self {
        CheckpointView {
            text: c.text,
            signature: hex::encode(&c.signature),
            size: c.size,
            root: hex::encode(c.root),
            key_id: c.key_id,
        }
    }
}

pub(crate) async fn latest_checkpoint(
    State(st): State<AppState>,
) -> Result<Json<CheckpointView>, ApiError> {
    Ok(Json(st.custody.latest_checkpoint().await?.into()))
}

pub(crate) async fn sign_checkpoint(
    State(st): State<AppState>,
) -> Result<Json<CheckpointView>, ApiError> {
    Ok(Json(st.custody.checkpoint().await?.into()))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConsistencyQuery {
    /// The older log size (a checkpoint's).
    from: u64,
    /// The newer log size.
    to: u64,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ConsistencyView {
    from: u64,
    to: u64,
    proof: Vec<String>,
}

pub(crate) async fn consistency(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> Result<Json<ConsistencyView>, ApiError> {
    let proof = st.custody.consistency_proof(q.from, q.to).await?;
    Ok(Json(ConsistencyView {
        from: q.from,
        to: q.to,
        proof: proof.iter().map(hex::encode).collect(),
    }))
}

fn parse_time(name: &str, s: &str) -> Result<WallTime, ApiError> {
    WallTime::parse(s).ok_or_else(|| {
        ApiError::invalid(format!(
            "{name} must be RFC 3339 (e.g. 2026-11-22T20:00:00Z) or microseconds"
        ))
    })
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldBody {
    #[serde(default)]
    incident: Option<String>,
    #[serde(default)]
    camera: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    case: String,
    reason: String,
}

/// What footage a hold or an export covers: an incident (its camera and evidence window), or a
/// camera and a time range.
#[derive(Debug)]
pub(crate) struct Target {
    incident: Option<String>,
    camera: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

/// Resolves a [`Target`] to (camera, start, end), checking the caller's scope.
async fn resolve(
    st: &AppState,
    p: &Principal,
    t: &Target,
) -> Result<(roeh_domain::CameraId, WallTime, WallTime), ApiError> {
    match (&t.incident, &t.camera, &t.start, &t.end) {
        (Some(inc), None, None, None) => {
            let id = uuid::Uuid::parse_str(inc)
                .map_err(|_| ApiError::invalid("incident must be an incident id (UUID)"))?;
            let row = st
                .store
                .get_incident(id)
                .await?
                .ok_or_else(|| ApiError::not_found("no such incident"))?;
            let i = &row.incident;
            if !p
                .scope
                .allows_camera(i.camera, std::iter::once(i.hotspot_id))
            {
                return Err(ApiError::not_found("no such incident"));
            }
            let end = row.evidence_end.unwrap_or_else(|| st.clock.wall());
            if end <= i.evidence_start {
                return Err(ApiError::invalid("the incident's evidence window is empty"));
            }
            Ok((i.camera, i.evidence_start, end))
        }
        (None, Some(cam), Some(start), Some(end)) => {
            let cam = cameras::load(st, cam).await?;
            in_scope(st, p, cam.id).await?;
            Ok((cam.id, parse_time("start", start)?, parse_time("end", end)?))
        }
        _ => Err(ApiError::invalid(
            "give either incident, or camera with start and end",
        )),
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct HoldView {
    id: i64,
    camera: String,
    start: String,
    end: String,
    case: String,
    reason: String,
    created_by: String,
    created_at: String,
    cleared_at: Option<String>,
    cleared_by: Option<String>,
    clear_reason: Option<String>,
}

impl From<HoldRow> for HoldView {
    fn from(h: HoldRow) -> Self {
        let (cleared_at, cleared_by, clear_reason) = match h.cleared {
            Some((t, by, why)) => (Some(t.to_rfc3339()), Some(by), Some(why)),
            None => (None, None, None),
        };
        HoldView {
            id: h.id,
            camera: h.hold.camera.to_string(),
            start: h.hold.start.to_rfc3339(),
            end: h.hold.end.to_rfc3339(),
            case: h.hold.case_ref,
            reason: h.hold.reason,
            created_by: h.hold.created_by,
            created_at: h.created_at.to_rfc3339(),
            cleared_at,
            cleared_by,
            clear_reason,
        }
    }
}

/// Whether the caller reaches `cam`; out of scope answers like a missing camera.
async fn in_scope(
    st: &AppState,
    p: &Principal,
    cam: roeh_domain::CameraId,
) -> Result<(), ApiError> {
    crate::reach::require_camera(st, &p.scope, cam).await
}

pub(crate) async fn place_hold(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<HoldBody>,
) -> Result<Response, ApiError> {
    let target = Target {
        incident: b.incident.clone(),
        camera: b.camera.clone(),
        start: b.start.clone(),
        end: b.end.clone(),
    };
    let (camera, start, end) = resolve(&st, &p, &target).await?;
    if end <= start {
        return Err(ApiError::invalid("end must be after start"));
    }
    let hold = NewHold {
        case_ref: b.case.trim().to_string(),
        camera,
        start,
        end,
        reason: b.reason.trim().to_string(),
        created_by: p.username.clone(),
    };
    let id = st.custody.place_hold(&hold).await?;
    let row = st
        .store
        .holds(false)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| ApiError::not_found("hold vanished"))?;
    Ok((StatusCode::CREATED, Json(HoldView::from(row))).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HoldsQuery {
    /// Also cleared holds (default: active ones only).
    all: Option<bool>,
}

pub(crate) async fn holds(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<HoldsQuery>,
) -> Result<Json<Vec<HoldView>>, ApiError> {
    let rows = st.store.holds(!q.all.unwrap_or(false)).await?;
    let reach = crate::reach::reach(&st, &p.scope).await?;
    Ok(Json(
        rows.into_iter()
            .filter(|h| reach.allows(h.hold.camera))
            .map(HoldView::from)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClearBody {
    reason: String,
}

/// The hold `id` (lifted or not) if the caller's scope reaches its camera; "no such hold"
/// otherwise, so a hold out of scope looks like none.
async fn scoped_hold(
    st: &AppState,
    p: &Principal,
    id: &str,
) -> Result<roeh_store::HoldRow, ApiError> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::invalid("hold id must be an integer"))?;
    let hold = st
        .store
        .holds(false)
        .await?
        .into_iter()
        .find(|h| h.id == id)
        .ok_or_else(|| ApiError::not_found("no such hold"))?;
    in_scope(st, p, hold.hold.camera)
        .await
        .map_err(|_| ApiError::not_found("no such hold"))?;
    Ok(hold)
}

pub(crate) async fn clear_hold(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<ApiJson<ClearBody>, ApiError>,
) -> Result<Response, ApiError> {
    let ApiJson(b) = body?;
    let id = scoped_hold(&st, &p, &id).await?.id;
    if !st.custody.clear_hold(id, &p.username, &b.reason).await? {
        // The shared error body, like every other refusal.
        return Err(ApiError::new(
            roeh_domain::ErrorKind::FailedPrecondition,
            "the hold is cleared already",
        ));
    }
    Ok((StatusCode::OK, Json(ClearedView { id, cleared: true })).into_response())
}

/// The answer of `POST /api/holds/{id}/clear` (a hold cleared already is a 409 with the shared
/// error body).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ClearedView {
    id: i64,
    cleared: bool,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportBody {
    #[serde(default)]
    incident: Option<String>,
    #[serde(default)]
    camera: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    reason: String,
    case: String,
    #[serde(default)]
    #[schemars(extend("enum" = ["zip", "directory", null]))]
    form: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct ExportView {
    id: String,
    camera: String,
    start: String,
    end: String,
    reason: String,
    case: String,
    requester: String,
    state: &'static str,
    bytes_done: u64,
    bytes_total: u64,
    download: Option<String>,
    error: Option<String>,
    created_at: String,
    finished_at: Option<String>,
}

impl From<ExportRow> for ExportView {
    fn from(e: ExportRow) -> Self {
        let download = (e.state == roeh_store::ExportState::Done
            && e.path.as_deref().is_some_and(|p| p.ends_with(".zip")))
        .then(|| format!("/api/exports/{}/download", e.id));
        ExportView {
            camera: e.camera.to_string(),
            start: e.start.to_rfc3339(),
            end: e.end.to_rfc3339(),
            reason: e.reason,
            case: e.case_ref,
            requester: e.requester,
            state: e.state.as_str(),
            bytes_done: e.bytes_done,
            bytes_total: e.bytes_total,
            download,
            error: e.error,
            created_at: e.created_at.to_rfc3339(),
            finished_at: e.finished_at.map(WallTime::to_rfc3339),
            id: e.id,
        }
    }
}

pub(crate) async fn start_export(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiJson(b): ApiJson<ExportBody>,
) -> Result<Response, ApiError> {
    let target = Target {
        incident: b.incident.clone(),
        camera: b.camera.clone(),
        start: b.start.clone(),
        end: b.end.clone(),
    };
    let (camera, start, end) = resolve(&st, &p, &target).await?;
    let form = match b.form.as_deref() {
        None | Some("zip") => ExportForm::Zip,
        Some("directory") => ExportForm::Directory,
        Some(_) => return Err(ApiError::invalid("form must be \"zip\" or \"directory\"")),
    };
    let req = ExportRequest {
        camera,
        start,
        end,
        reason: b.reason,
        case_ref: b.case,
        requester: p.username.clone(),
        form,
    };
    let row = st.custody.start_export(req).await?;
    Ok((StatusCode::ACCEPTED, Json(ExportView::from(row))).into_response())
}

/// `GET /api/exports?limit=&before=`: the pagination convention of the API (newest first,
/// `limit` 1..=1000, default 100; `before` = the last export id of the previous page).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportsQuery {
    /// Page size (default 100, max 1000).
    limit: Option<u32>,
    /// Cursor: the last export of the previous page (UUID).
    before: Option<String>,
}

pub(crate) async fn exports(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<ExportsQuery>,
) -> Result<Json<Vec<ExportView>>, ApiError> {
    let limit = crate::page_limit(q.limit)?;
    // Scope is applied in the query: a page is full while more visible jobs exist.
    let reach = crate::reach::reach(&st, &p.scope).await?;
    let cursor = match q.before.as_deref() {
        None => None,
        Some(b) => {
            // A cursor must name an export the caller may see: a missing one and one of
            // another camera are refused alike.
            let unknown = || ApiError::invalid("before does not name an export of this list");
            let id = uuid_text(b).ok_or_else(unknown)?;
            match st.store.export(&id).await? {
                Some(e) if reach.allows(e.camera) => Some(id),
                _ => return Err(unknown()),
            }
        }
    };
    let cameras = reach.cameras();
    let rows = st
        .store
        .exports_page(cursor.as_deref(), limit, cameras.as_deref())
        .await?;
    let out: Vec<ExportView> = rows.into_iter().map(ExportView::from).collect();
    Ok(Json(out))
}

fn job_id(id: &str) -> Result<String, ApiError> {
    uuid_text(id).ok_or_else(|| ApiError::invalid("export id must be a UUID"))
}

/// The canonical text (lowercase, hyphenated) of a UUID written in the hyphenated form, any
/// case; `None` for anything else (the simple, braced and URN forms included).
fn uuid_text(id: &str) -> Option<String> {
    if id.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(id).ok().map(|u| u.to_string())
}

/// The export job `id`, with the progress of a running one, if the caller's scope reaches its
/// camera; "no such export" otherwise, so a job out of scope looks like none.
async fn scoped_export(
    st: &AppState,
    p: &Principal,
    id: &str,
) -> Result<roeh_store::ExportRow, ApiError> {
    let id = job_id(id)?;
    let row = st
        .custody
        .export_status(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such export"))?;
    in_scope(st, p, row.camera)
        .await
        .map_err(|_| ApiError::not_found("no such export"))?;
    Ok(row)
}

pub(crate) async fn export(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<ExportView>, ApiError> {
    let row = scoped_export(&st, &p, &id).await?;
    Ok(Json(row.into()))
}

pub(crate) async fn download(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = scoped_export(&st, &p, &id).await?;
    let path = match (row.state, &row.path) {
        (roeh_store::ExportState::Done, Some(p)) if p.ends_with(".zip") => p.clone(),
        _ => {
            return Err(ApiError::new(
                roeh_domain::ErrorKind::FailedPrecondition,
                "the export is not a finished zip bundle",
            ));
        }
    };
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        ApiError::new(
            roeh_domain::ErrorKind::Unavailable,
            format!("opening bundle: {e}"),
        )
    })?;
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::new(roeh_domain::ErrorKind::Unavailable, e.to_string()))?
        .len();
    st.custody
        .record_access(
            "export_downloaded",
            &p.username,
            Some(row.camera),
            serde_json::json!({ "export": row.id, "case": row.case_ref }),
        )
        .await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024);
    Response::builder()
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"roeh-evidence-{}.zip\"", row.id),
        )
        .header("x-content-type-options", "nosniff")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::new(roeh_domain::ErrorKind::Internal, e.to_string()))
}

/// Most events read per camera for a case's custody log (oldest first); a camera with more is
/// marked `truncated`.
const MAX_CASE_EVENTS: u32 = 100_000;

/// One custody event of a case, as the evidence log holds it (`json`, byte for byte), with the
/// fields people read pulled out.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct CustodyEventView {
    /// The event's leaf in the evidence log.
    log_index: u64,
    time: String,
    /// `footage_viewed`, `export_created`, `export_downloaded`, `hold_set`, `hold_cleared`, …
    kind: String,
    camera: Option<String>,
    /// Who did it.
    actor: Option<String>,
    /// The export job concerned, if any.
    export: Option<String>,
    /// The hold concerned, if any.
    hold: Option<i64>,
    /// The footage concerned: its start and end (RFC 3339), where the event names them.
    start: Option<String>,
    end: Option<String>,
    reason: Option<String>,
    /// The event's JSON exactly as logged.
    json: String,
}

/// The custody log of a case: every event that names the case (exports, downloads, holds) and
/// every view of footage the case's exports and holds cover (a view names no case: it counts
/// for a case when its range, or for live video its moment, overlaps one of the case's), in log
/// order, on the cameras within the caller's scope.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct CustodyLogView {
    case: String,
    events: Vec<CustodyEventView>,
    /// A camera of the case had more events than one answer reads: the oldest are shown.
    truncated: bool,
}

fn text_at<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .or_else(|| v.get("detail").and_then(|d| d.get(key)))
        .and_then(serde_json::Value::as_str)
}

/// The custody log of `case` on the cameras `reach` allows.
async fn case_log(
    st: &AppState,
    reach: &crate::reach::Reach,
    case: &str,
) -> Result<CustodyLogView, ApiError> {
    use std::collections::BTreeMap;
    // The footage of the case, by camera: its exports' and holds' ranges.
    let mut ranges: BTreeMap<roeh_domain::CameraId, Vec<(WallTime, WallTime)>> = BTreeMap::new();
    for e in st.store.exports(MAX_CASE_EVENTS).await? {
        if e.case_ref == case && reach.allows(e.camera) {
            ranges.entry(e.camera).or_default().push((e.start, e.end));
        }
    }
    for h in st.store.holds(false).await? {
        if h.hold.case_ref == case && reach.allows(h.hold.camera) {
            ranges
                .entry(h.hold.camera)
                .or_default()
                .push((h.hold.start, h.hold.end));
        }
    }
    let mut events = Vec::new();
    let mut truncated = false;
    for (camera, spans) in &ranges {
        let rows = st.store.events(Some(*camera), MAX_CASE_EVENTS).await?;
        truncated |= rows.len() >= MAX_CASE_EVENTS as usize;
        for row in rows {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&row.json) else {
                continue;
            };
            let names_case = text_at(&v, "case") == Some(case);
            let start = text_at(&v, "start").and_then(WallTime::parse);
            let end = text_at(&v, "end").and_then(WallTime::parse);
            // A view of the case's footage: its range (recordings) or its moment (live)
            // overlaps a range of the case.
            let (a, b) = match (start, end) {
                (Some(a), Some(b)) => (a, b),
                _ => (row.time, row.time),
            };
            let viewed =
                row.kind == "footage_viewed" && spans.iter().any(|(s, e)| a <= *e && b >= *s);
            if !(names_case || viewed) {
                continue;
            }
            events.push(CustodyEventView {
                log_index: row.log_index,
                time: row.time.to_rfc3339(),
                kind: row.kind.clone(),
                camera: row.camera.map(|c| c.to_string()),
                actor: text_at(&v, "actor").map(str::to_string),
                export: text_at(&v, "export").map(str::to_string),
                hold: v.get("hold").and_then(serde_json::Value::as_i64),
                start: start.map(WallTime::to_rfc3339),
                end: end.map(WallTime::to_rfc3339),
                reason: text_at(&v, "reason").map(str::to_string),
                json: String::from_utf8_lossy(&row.json).into_owned(),
            });
        }
    }
    events.sort_by_key(|e| e.log_index);
    Ok(CustodyLogView {
        case: case.to_string(),
        events,
        truncated,
    })
}

/// `GET /api/exports/{id}/custody`: the custody log of the export's case.
pub(crate) async fn export_custody(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<CustodyLogView>, ApiError> {
    let row = scoped_export(&st, &p, &id).await?;
    let reach = crate::reach::reach(&st, &p.scope).await?;
    Ok(Json(case_log(&st, &reach, &row.case_ref).await?))
}

/// `GET /api/holds/{id}/custody`: the custody log of the hold's case.
pub(crate) async fn hold_custody(
    State(st): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<CustodyLogView>, ApiError> {
    let hold = scoped_hold(&st, &p, &id).await?;
    let reach = crate::reach::reach(&st, &p.scope).await?;
    Ok(Json(case_log(&st, &reach, &hold.hold.case_ref).await?))
}

#[cfg(test)]
mod tests {
    use super::uuid_text;

    #[test]
    fn uuid_text_is_the_lowercase_hyphenated_form_only() {
        let id = "0E3C5B9A-1F2D-4C6B-8A7E-9D0F1B2C3D4E";
        assert_eq!(
            uuid_text(id).as_deref(),
            Some("0e3c5b9a-1f2d-4c6b-8a7e-9d0f1b2c3d4e")
        );
        for bad in [
            "0e3c5b9a1f2d4c6b8a7e9d0f1b2c3d4e",
            "{0e3c5b9a-1f2d-4c6b-8a7e-9d0f1b2c3d4e}",
            "urn:uuid:0e3c5b9a-1f2d-4c6b-8a7e-9d0f1b2c3d4e",
            "0e3c5b9a1-f2d-4c6b-8a7e-9d0f1b2c3d4e",
            "0e3c5b9a-1f2d-4c6b-8a7e-9d0f1b2c3d4g",
            "",
        ] {
            assert_eq!(uuid_text(bad), None, "{bad}");
        }
    }
}
