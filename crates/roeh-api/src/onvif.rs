//! ONVIF onboarding over HTTP: the routes of discovery, of the list of discovered devices
//! awaiting approval, of adding a device as a camera, and of a camera's ONVIF description. The
//! onboarding itself (and its invariants: nothing recorded without approval, every device address
//! inside the camera networks, the password never returned nor logged) lives in
//! [`roeh_onvif::onboard`](mod@roeh_onvif::onboard), shared with `roeh onvif …`; these handlers
//! parse the request, call it, start recording an added camera and shape the reply.
//!
//! Access: `/api/onvif/*` need the `onvif_onboard` permission and `GET /api/cameras/{id}/onvif`
//! needs `view_cameras`, both checked by the route layer ([`crate::auth::route_policy`]).
//!
//! Onboarding's errors carry their full message (a device's causes `ONVIF: `-prefixed) and are
//! answered with their kind and that message.

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roeh_domain::{CameraId, Transport};
use roeh_store::{OnvifDeviceRow, OnvifProfileRow};
use serde::{Deserialize, Serialize};

pub use roeh_onvif::onboard::{
    AddRequest, DeviceProfiles, DiscoveredView, Onboarded, OnvifSettings, ProbeRequest,
    discover_and_record, onboard,
};

/// An onboarding error as answered: its kind and its message, which is complete.
fn onboarding_error(e: roeh_onvif::Error) -> ApiError {
    ApiError::new(e.kind(), e.message())
}

/// A media profile as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct ProfileView {
    /// Profile token.
    pub token: String,
    /// Profile name.
    pub name: String,
    /// Encoding.
    pub encoding: String,
    /// Width.
    pub width: Option<u32>,
    /// Height.
    pub height: Option<u32>,
    /// Frame rate limit.
    pub fps: Option<f64>,
    /// RTSP stream URL (no credentials).
    pub stream_url: String,
}

impl From<OnvifProfileRow> for ProfileView {
    fn from(p: OnvifProfileRow) -> Self {
        ProfileView {
            token: p.token,
            name: p.name,
            encoding: p.encoding,
            width: p.width,
            height: p.height,
            fps: p.fps,
            stream_url: p.stream_url,
        }
    }
}

/// A camera's ONVIF description as the API shows it. Never carries credentials.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct OnvifView {
    /// The camera.
    #[schemars(with = "uuid::Uuid")]
    pub camera_id: CameraId,
    /// Device service URL.
    pub device_url: String,
    /// WS-Discovery endpoint reference, if discovered.
    pub endpoint_ref: Option<String>,
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Serial number.
    pub serial_number: String,
    /// Hardware id.
    pub hardware_id: String,
    /// The recording profile.
    pub main: ProfileView,
    /// The analysis profile.
    pub sub: Option<ProfileView>,
    /// JPEG snapshot URL.
    pub snapshot_url: Option<String>,
    /// When it was added (RFC 3339).
    pub added_at: String,
}

impl From<OnvifDeviceRow> for OnvifView {
    fn from(d: OnvifDeviceRow) -> Self {
        OnvifView {
            camera_id: d.camera,
            device_url: d.device_url,
            endpoint_ref: d.endpoint_ref,
            manufacturer: d.manufacturer,
            model: d.model,
            firmware_version: d.firmware_version,
            serial_number: d.serial_number,
            hardware_id: d.hardware_id,
            main: d.main.into(),
            sub: d.sub.map(Into::into),
            snapshot_url: d.snapshot_url,
            added_at: d.added_at.to_rfc3339(),
        }
    }
}

pub(crate) async fn discover(
    State(st): State<AppState>,
) -> Result<Json<Vec<DiscoveredView>>, ApiError> {
    Ok(Json(
        discover_and_record(&st.store, &st.onvif, st.clock.as_ref())
            .await
            .map_err(onboarding_error)?,
    ))
}

/// Query of `GET /api/onvif/discovered`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    /// Include approved and dismissed entries.
    #[serde(default)]
    all: bool,
}

pub(crate) async fn discovered(
    State(st): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<DiscoveredView>>, ApiError> {
    let rows = st.store.list_discovered(q.all).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

fn parse_discovered_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .map_err(|_| ApiError::not_found("no such discovered device"))
}

pub(crate) async fn dismiss(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DiscoveredView>, ApiError> {
    let id = parse_discovered_id(&id)?;
    let row = st.store.dismiss_discovered(id).await?;
    tracing::info!(discovered = id, "Discovered ONVIF device dismissed.");
    Ok(Json(row.into()))
}

/// Reply of `POST /api/onvif/add`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct Added {
    camera: AddedCamera,
    onvif: OnvifView,
    discovered_id: Option<i64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
struct AddedCamera {
    #[schemars(with = "uuid::Uuid")]
    id: CameraId,
    name: String,
    url: String,
    #[schemars(with = "roeh_onvif::schema::Transport")]
    transport: Transport,
    enabled: bool,
    username: Option<String>,
    has_password: bool,
}

pub(crate) async fn add(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<AddRequest>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let done = onboard(&st.store, &st.onvif, st.clock.clone(), req)
        .await
        .map_err(onboarding_error)?;
    let cam = done.camera;
    if cam.enabled {
        st.control.start_camera(cam.clone());
    }
    Ok((
        StatusCode::CREATED,
        Json(Added {
            camera: AddedCamera {
                id: cam.id,
                name: cam.name,
                url: cam.url.to_string(),
                transport: cam.transport,
                enabled: cam.enabled,
                has_password: cam
                    .credentials
                    .as_ref()
                    .is_some_and(|c| !c.password.expose().is_empty()),
                username: cam.credentials.map(|c| c.username),
            },
            onvif: done.device.into(),
            discovered_id: done.discovered_id,
        }),
    ))
}

/// `POST /api/onvif/profiles`: the profiles of a device (by address or a pending discovered
/// entry), probed with the login, and the rule's choice of main and sub; stores nothing. The
/// console offers them before approving a device.
pub(crate) async fn profiles(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<ProbeRequest>,
) -> Result<Json<DeviceProfiles>, ApiError> {
    let clock = st.clock.clone();
    Ok(Json(
        roeh_onvif::onboard::profiles(&st.store, &st.onvif, clock, req)
            .await
            .map_err(onboarding_error)?,
    ))
}

pub(crate) async fn camera_onvif(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OnvifView>, ApiError> {
    let cam = crate::cameras::load(&st, &id).await?;
    let dev = st
        .store
        .onvif_device(cam.id)
        .await?
        .ok_or_else(|| ApiError::not_found("camera was not added through ONVIF"))?;
    Ok(Json(dev.into()))
}
