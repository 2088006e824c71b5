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
    }
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
    Ok(Json(
        cams.into_iter()
            .filter(|c| reach.allows(c.id))
            .map(|c| view(&st, c))
            .collect(),
    ))
}

pub(crate) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CameraView>, ApiError> {
    let cam = load(&st, &id).await?;
    Ok(Json(view(&st, cam)))
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
