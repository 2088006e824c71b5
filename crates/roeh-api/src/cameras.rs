//! Camera routes. Passwords are accepted on add and never returned.

use crate::extract::ApiJson;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roeh_domain::camera::validate_name;
use roeh_domain::{
    Camera, CameraId, CameraUrl, Credentials, Retention, Secret, StreamHealth, Transport,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A camera as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CameraView {
    #[schemars(with = "uuid::Uuid")]
    id: CameraId,
    name: String,
    url: String,
    #[schemars(with = "roeh_onvif::schema::Transport")]
    transport: Transport,
    enabled: bool,
    username: Option<String>,
    has_password: bool,
    retention_max_age_secs: Option<u64>,
    retention_max_bytes: Option<u64>,
    health: Option<StreamHealth>,
    /// Gaps in its recording that reach into the site's current day (open ones included).
    gaps_today: u64,
}

fn view(st: &AppState, c: Camera) -> CameraView {
    CameraView {
        id: c.id,
        health: st.control.health(c.id),
        name: c.name,
        url: c.url.to_string(),
        transport: c.transport,
        enabled: c.enabled,
        has_password: c
            .credentials
            .as_ref()
            .is_some_and(|cr| !cr.password.expose().is_empty()),
        username: c.credentials.map(|cr| cr.username),
        retention_max_age_secs: c.retention.max_age.map(|d| d.as_secs()),
        retention_max_bytes: c.retention.max_bytes,
        gaps_today: 0,
    }
}

/// Gaps per camera that reach into the site's current day (in `[alerts] time_zone`).
async fn gaps_today(st: &AppState) -> Result<std::collections::HashMap<CameraId, u64>, ApiError> {
    let tz = st.alerts.settings().shifts.time_zone();
    let since = roeh_rules::local_day_start(tz, st.clock.wall());
    Ok(st.store.gap_counts_since(since).await?)
}

pub(crate) fn parse_id(s: &str) -> Result<CameraId, ApiError> {
    // An unknown and a malformed id look the same to the client.
    CameraId::parse(s).map_err(|_| ApiError::not_found("no such camera"))
}

pub(crate) async fn load(st: &AppState, id: &str) -> Result<Camera, ApiError> {
    let id = parse_id(id)?;
    st.store
        .get_camera(id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such camera"))
}

pub(crate) async fn list(
    State(st): State<AppState>,
    axum::Extension(p): axum::Extension<roeh_auth::Principal>,
) -> Result<Json<Vec<CameraView>>, ApiError> {
    let cams = st.store.list_cameras().await?;
    let reach = crate::reach::reach(&st, &p.scope).await?;
    let gaps = gaps_today(&st).await?;
    Ok(Json(
        cams.into_iter()
            .filter(|c| reach.allows(c.id))
            .map(|c| {
                let n = gaps.get(&c.id).copied().unwrap_or(0);
                CameraView {
                    gaps_today: n,
                    ..view(&st, c)
                }
            })
            .collect(),
    ))
}

pub(crate) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraView>, ApiError> {
    let cam = load(&st, &id).await?;
    let n = gaps_today(&st).await?.get(&cam.id).copied().unwrap_or(0);
    Ok(Json(CameraView {
        gaps_today: n,
        ..view(&st, cam)
    }))
}

/// Least age a camera's own retention may keep footage for, days.
pub const MIN_RETENTION_DAYS: f64 = 1.0;
/// Least size a camera's own retention may keep, bytes.
pub const MIN_RETENTION_BYTES: u64 = 1 << 30;

/// Body of `PUT /api/cameras/{id}/retention`: the camera's own retention; a limit absent (or
/// null) is the site's (`[recording]`), so both absent returns the camera to the default.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Oldest footage kept, days (fractions allowed), at least one day, at most ten years.
    #[serde(default)]
    #[schemars(range(min = MIN_RETENTION_DAYS, max = 3650.0))]
    max_age_days: Option<f64>,
    /// Most bytes of footage kept, at least 1 GiB.
    #[serde(default)]
    #[schemars(range(min = MIN_RETENTION_BYTES))]
    max_bytes: Option<u64>,
}

/// `PUT /api/cameras/{id}/retention` (admins: shortening it deletes footage at the next
/// retention pass, so it is not an integrator's change): footage under a legal hold is kept
/// whatever it says, and a limit left out is the site's.
pub(crate) async fn set_retention(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RetentionBody>,
) -> Result<Json<CameraView>, ApiError> {
    let mut cam = load(&st, &id).await?;
    let max_age = match b.max_age_days {
        None => None,
        Some(d) if d.is_finite() && (MIN_RETENTION_DAYS..=3650.0).contains(&d) => {
            Some(Duration::from_secs_f64(d * 86_400.0))
        }
        Some(d) => {
            return Err(ApiError::invalid(format!(
                "max_age_days: {d} is out of range (at least {MIN_RETENTION_DAYS}, at most 3650)"
            )));
        }
    };
    if b.max_bytes.is_some_and(|n| n < MIN_RETENTION_BYTES) {
        return Err(ApiError::invalid(format!(
            "max_bytes: must be at least {MIN_RETENTION_BYTES} (1 GiB); leave it out for the \
             site's limit"
        )));
    }
    cam.retention = Retention {
        max_age,
        max_bytes: b.max_bytes,
    };
    st.store.update_camera(&cam).await?;
    tracing::info!(camera = %cam.id, "Camera retention changed.");
    Ok(Json(view(&st, cam)))
}

/// What the footage takes, per camera, and what the disk has left.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StorageView {
    /// Bytes free for roeh on the file system of the footage directory.
    free_bytes: u64,
    /// Size of that file system.
    total_bytes: u64,
    /// Bytes of committed footage of the cameras listed.
    used_bytes: u64,
    cameras: Vec<CameraStorageView>,
}

/// One camera's footage and retention.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CameraStorageView {
    #[schemars(with = "uuid::Uuid")]
    camera: CameraId,
    name: String,
    /// Bytes of its committed segments.
    bytes: u64,
    /// Its own limits; both null: the site's default.
    retention_max_age_secs: Option<u64>,
    retention_max_bytes: Option<u64>,
}

/// `GET /api/storage`: footage per camera (the caller's cameras) and the disk's free space.
pub(crate) async fn storage(
    State(st): State<AppState>,
    axum::Extension(p): axum::Extension<roeh_auth::Principal>,
) -> Result<Json<StorageView>, ApiError> {
    let root = st.footage_root.clone();
    let (free_bytes, total_bytes) = tokio::task::spawn_blocking(move || {
        // Before the first segment the directory may not exist yet: its nearest existing
        // parent is on the same file system.
        let dir = root
            .ancestors()
            .find(|p| p.exists())
            .unwrap_or(root.as_path());
        let st = rustix::fs::statvfs(dir)?;
        Ok::<_, std::io::Error>((
            st.f_bavail.saturating_mul(st.f_frsize),
            st.f_blocks.saturating_mul(st.f_frsize),
        ))
    })
    .await
    .map_err(|e| ApiError::new(roeh_domain::ErrorKind::Internal, e.to_string()))?
    .map_err(|e| {
        ApiError::new(
            roeh_domain::ErrorKind::Unavailable,
            format!("reading the footage directory's free space: {e}"),
        )
    })?;
    let reach = crate::reach::reach(&st, &p.scope).await?;
    let mut cameras = Vec::new();
    for c in st.store.list_cameras().await? {
        if !reach.allows(c.id) {
            continue;
        }
        cameras.push(CameraStorageView {
            bytes: st.store.camera_bytes(c.id).await?,
            camera: c.id,
            name: c.name,
            retention_max_age_secs: c.retention.max_age.map(|d| d.as_secs()),
            retention_max_bytes: c.retention.max_bytes,
        });
    }
    cameras.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    Ok(Json(StorageView {
        free_bytes,
        total_bytes,
        used_bytes: cameras.iter().map(|c| c.bytes).sum(),
        cameras,
    }))
}

/// Body of `POST /api/cameras`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCamera {
    name: String,
    url: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    #[schemars(with = "Option<roeh_onvif::schema::Transport>")]
    transport: Option<Transport>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    retention_max_age_secs: Option<u64>,
    #[serde(default)]
    retention_max_bytes: Option<u64>,
}

/// Validates a new camera request into a camera with a fresh id.
pub fn camera_from_request(req: NewCamera) -> Result<Camera, ApiError> {
    validate_name(&req.name)?;
    let url = CameraUrl::parse(&req.url)?;
    if let Some(u) = &req.username
        && (u.len() > 256 || u.chars().any(char::is_control) || u.contains(':'))
    {
        return Err(ApiError::invalid(
            "username must be at most 256 characters, no ':' or control characters",
        ));
    }
    if req
        .password
        .as_ref()
        .is_some_and(|p| p.len() > 1024 || p.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "password must be at most 1024 bytes, no control characters",
        ));
    }
    if req.password.is_some() && req.username.is_none() {
        return Err(ApiError::invalid("a password needs a username"));
    }
    let max_age = match req.retention_max_age_secs {
        Some(0) | None => None,
        Some(s) if s > 10 * 365 * 86_400 => {
            return Err(ApiError::invalid(
                "retention_max_age_secs must be at most ten years",
            ));
        }
        Some(s) => Some(Duration::from_secs(s)),
    };
    Ok(Camera {
        id: CameraId::new_random(),
        name: req.name.trim().to_string(),
        url,
        credentials: req.username.map(|username| Credentials {
            username,
            password: Secret::new(req.password.unwrap_or_default()),
        }),
        transport: req.transport.unwrap_or_default(),
        enabled: req.enabled.unwrap_or(true),
        retention: Retention {
            max_age,
            max_bytes: req.retention_max_bytes.filter(|b| *b > 0),
        },
    })
}

pub(crate) async fn add(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<NewCamera>,
) -> Result<(StatusCode, Json<CameraView>), ApiError> {
    let cam = camera_from_request(req)?;
    st.store.insert_camera(&cam, st.clock.wall()).await?;
    if cam.enabled {
        st.control.start_camera(cam.clone());
    }
    tracing::info!(camera = %cam.id, "Camera added.");
    Ok((StatusCode::CREATED, Json(view(&st, cam))))
}

/// The answer of `DELETE /api/cameras/{id}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct RemovedView {
    #[schemars(with = "uuid::Uuid")]
    id: CameraId,
    /// `deleted`, or `retired_footage_kept` when recorded footage keeps the camera's row.
    #[schemars(extend("enum" = ["deleted", "retired_footage_kept"]))]
    outcome: &'static str,
}

pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RemovedView>, ApiError> {
    let cam = load(&st, &id).await?;
    st.control.stop_camera(cam.id).await;
    let removal = st.store.delete_camera(cam.id, st.clock.wall()).await?;
    tracing::info!(camera = %cam.id, ?removal, "Camera removed.");
    let outcome = match removal {
        roeh_store::CameraRemoval::Deleted => "deleted",
        roeh_store::CameraRemoval::Retired => "retired_footage_kept",
    };
    Ok(Json(RemovedView {
        id: cam.id,
        outcome,
    }))
}
