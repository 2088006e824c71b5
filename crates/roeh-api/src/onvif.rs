//! ONVIF onboarding over HTTP: discovery, the list of discovered devices awaiting approval, and
//! adding a device as a camera with a main (recording) and a sub (analysis) profile.
//!
//! Invariants:
//! - nothing is recorded from a device without an operator's approval: discovery only fills the
//!   pending list; a camera is created only by `POST /api/onvif/add` (or `roeh onvif add`), and a
//!   dismissed entry is never added;
//! - every address the device gives (device service, media service, stream and snapshot URIs)
//!   must lie inside [`OnvifSettings::policy`]; redirects are not followed; replies with a DTD or
//!   entity declarations, replies over the size limit and slow devices are refused by
//!   `roeh-onvif` and nothing is stored;
//! - a stream URI carrying embedded credentials, or not `rtsp`/`rtsps`, is refused;
//! - the camera, its ONVIF description and the approval are stored in one transaction;
//! - the password is only sent to the device (as digests) and stored encrypted; no route returns
//!   it and no log line or error message contains it.
//!
//! Roles: these routes are meant for the `integrator` role. Authentication does not exist yet
//! (the API binds to loopback until it does); the role check belongs here once it lands.

use crate::extract::{ApiJson, ApiQuery};
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roeh_domain::camera::validate_name;
use roeh_domain::{
    Camera, CameraId, Clock, Credentials, Error as DomainError, ErrorKind, Retention, Secret,
    Transport, WallTime,
};
use roeh_onvif::{
    DiscoveryOptions, MediaProfile, NetPolicy, OnvifClient, SelectionRule, VideoEncoding,
};
use roeh_store::{
    DiscoveredRow, DiscoveredState, NewDiscovered, OnvifDeviceRow, OnvifProfileRow, Store,
};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How ONVIF onboarding reaches devices: the camera networks, where to probe, and how long.
#[derive(Clone, Debug)]
pub struct OnvifSettings {
    /// Camera networks and the per-request size and time limits.
    pub policy: NetPolicy,
    /// IPv4 address of the interface for the multicast probe; `None`: no multicast probe.
    pub multicast_interface: Option<Ipv4Addr>,
    /// Addresses probed by unicast (`ip:3702`).
    pub unicast_targets: Vec<SocketAddr>,
    /// How long discovery collects replies.
    pub discovery_timeout: Duration,
    /// How main and sub profiles are chosen.
    pub selection: SelectionRule,
    /// The ONVIF clients of cameras that are turned (see [`crate::ptz`]).
    pub ptz: Arc<crate::ptz::PtzClients>,
}

impl OnvifSettings {
    /// Settings allowing `policy`'s networks, with no probe targets and a 3 s discovery window.
    pub fn new(policy: NetPolicy) -> Self {
        OnvifSettings {
            policy,
            multicast_interface: None,
            unicast_targets: Vec::new(),
            discovery_timeout: Duration::from_secs(3),
            selection: SelectionRule::default(),
            ptz: Arc::default(),
        }
    }

    /// The discovery options these settings describe.
    pub fn discovery_options(&self) -> DiscoveryOptions {
        let mut o = DiscoveryOptions::new(self.policy.clone());
        o.multicast_interface = self.multicast_interface;
        o.unicast_targets = self.unicast_targets.clone();
        o.timeout = self.discovery_timeout;
        o
    }
}

impl Default for OnvifSettings {
    /// No camera network allowed: every device is refused until configured.
    fn default() -> Self {
        OnvifSettings::new(NetPolicy::new(Vec::new()))
    }
}

impl From<roeh_onvif::Error> for ApiError {
    fn from(e: roeh_onvif::Error) -> Self {
        let e = onvif_err(e);
        ApiError::new(e.kind(), e.message())
    }
}

/// A discovered device as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
pub struct DiscoveredView {
    /// Id to approve (`POST /api/onvif/add` with `discovered_id`) or dismiss.
    pub id: i64,
    /// WS-Discovery endpoint reference.
    pub endpoint_ref: String,
    /// Device service URLs (inside the camera networks).
    pub xaddrs: Vec<String>,
    /// Advertised name.
    pub name: Option<String>,
    /// Advertised hardware.
    pub hardware: Option<String>,
    /// Advertised location.
    pub location: Option<String>,
    /// All advertised scopes.
    pub scopes: Vec<String>,
    /// Where the reply came from.
    pub from: String,
    /// First answer (RFC 3339).
    pub first_seen: String,
    /// Latest answer (RFC 3339).
    pub last_seen: String,
    /// `pending`, `approved` or `dismissed`.
    pub state: String,
    /// The camera, once approved.
    #[schemars(with = "Option<uuid::Uuid>")]
    pub camera_id: Option<CameraId>,
}

impl From<DiscoveredRow> for DiscoveredView {
    fn from(r: DiscoveredRow) -> Self {
        DiscoveredView {
            id: r.id,
            endpoint_ref: r.device.endpoint_ref,
            xaddrs: r.device.xaddrs,
            name: r.device.name,
            hardware: r.device.hardware,
            location: r.device.location,
            scopes: r.device.scopes,
            from: r.device.from_addr,
            first_seen: r.first_seen.to_rfc3339(),
            last_seen: r.last_seen.to_rfc3339(),
            state: r.state.as_str().to_owned(),
            camera_id: r.camera,
        }
    }
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

/// Body of `POST /api/onvif/add`: exactly one of `address` and `discovered_id`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// Device service URL, e.g. `http://10.20.0.7/onvif/device_service`.
    #[serde(default)]
    pub address: Option<String>,
    /// A pending discovered device (approving it).
    #[serde(default)]
    pub discovered_id: Option<i64>,
    /// Camera name.
    pub name: String,
    /// User name on the device (also used for RTSP).
    #[serde(default)]
    pub username: Option<String>,
    /// Password; stored encrypted, never returned.
    #[serde(default)]
    pub password: Option<String>,
    /// `tcp` (default) or `udp`.
    #[serde(default)]
    #[schemars(with = "Option<crate::openapi::foreign::Transport>")]
    pub transport: Option<Transport>,
}

/// What [`onboard`] stored.
#[derive(Debug)]
pub struct Onboarded {
    /// The new camera (recording the main profile).
    pub camera: Camera,
    /// Its ONVIF description.
    pub device: OnvifDeviceRow,
    /// The discovered entry it approved, if any.
    pub discovered_id: Option<i64>,
}

fn invalid(message: impl std::fmt::Display) -> DomainError {
    DomainError::new(ErrorKind::InvalidArgument, message)
}

/// A store error with its kind and full message.
fn store_err(e: roeh_store::Error) -> DomainError {
    DomainError::new(e.kind(), e.chain())
}

/// A device error with its kind and full message (roeh-onvif keeps secrets and device-supplied
/// URIs out of its messages).
fn onvif_err(e: roeh_onvif::Error) -> DomainError {
    DomainError::new(e.kind(), format!("ONVIF: {}", e.chain()))
}

/// Runs a discovery probe as configured and records every answering device (new ones as
/// `pending`). Returns the entries of the devices that answered.
pub async fn discover_and_record(
    store: &Store,
    settings: &OnvifSettings,
    clock: &dyn Clock,
) -> Result<Vec<DiscoveredView>, DomainError> {
    let opts = settings.discovery_options();
    if opts.multicast_interface.is_none() && opts.unicast_targets.is_empty() {
        return Err(DomainError::new(
            ErrorKind::FailedPrecondition,
            "ONVIF discovery is not configured: set [onvif] discovery_interface or \
             probe_addresses",
        ));
    }
    let found = roeh_onvif::discover(&opts).await.map_err(onvif_err)?;
    let now = clock.wall();
    let mut out = Vec::with_capacity(found.len());
    for d in found {
        let row = store
            .record_discovered(
                &NewDiscovered {
                    endpoint_ref: d.endpoint_ref,
                    xaddrs: d.xaddrs.iter().map(|u| u.to_string()).collect(),
                    scopes: d.scopes.all,
                    name: d.scopes.name,
                    hardware: d.scopes.hardware,
                    location: d.scopes.location,
                    from_addr: d.from.to_string(),
                },
                now,
            )
            .await
            .map_err(store_err)?;
        out.push(DiscoveredView::from(row));
    }
    tracing::info!(devices = out.len(), "ONVIF discovery finished.");
    Ok(out)
}

fn check_login(username: Option<&str>, password: Option<&str>) -> Result<(), DomainError> {
    if let Some(u) = username
        && (u.is_empty() || u.len() > 256 || u.chars().any(char::is_control) || u.contains(':'))
    {
        return Err(invalid(
            "username must be 1 to 256 characters, no ':' or control characters",
        ));
    }
    if password.is_some_and(|p| p.len() > 1024 || p.chars().any(char::is_control)) {
        return Err(invalid(
            "password must be at most 1024 bytes, no control characters",
        ));
    }
    if password.is_some() && username.is_none() {
        return Err(invalid("a password needs a username"));
    }
    Ok(())
}

fn profile_row(p: &MediaProfile) -> Result<OnvifProfileRow, DomainError> {
    let Some(url) = &p.stream_uri else {
        return Err(DomainError::new(
            ErrorKind::FailedPrecondition,
            format!("ONVIF profile {:?} has no stream URI", p.token),
        ));
    };
    if p.stream_credentials_stripped {
        return Err(invalid(format!(
            "ONVIF device stream URI of profile {:?} carries embedded credentials; refused \
             (roeh passes the login separately; configure the device not to embed it)",
            p.token
        )));
    }
    Ok(OnvifProfileRow {
        token: p.token.clone(),
        name: p.name.clone(),
        encoding: p
            .encoding
            .map_or_else(String::new, |e: VideoEncoding| e.to_string()),
        width: p.width,
        height: p.height,
        fps: p.fps.map(f64::from),
        stream_url: url.as_str().to_owned(),
    })
}

/// Probes a device, chooses its main and sub profiles, checks every URL against the policy and
/// stores the camera with its description (approving the discovered entry) in one transaction.
/// Nothing is stored on any error. The caller starts recording.
pub async fn onboard(
    store: &Store,
    settings: &OnvifSettings,
    clock: Arc<dyn Clock>,
    req: AddRequest,
) -> Result<Onboarded, DomainError> {
    validate_name(&req.name)?;
    check_login(req.username.as_deref(), req.password.as_deref())?;
    let (address, mut discovered_id, mut endpoint_ref) = match (&req.address, req.discovered_id) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid("give exactly one of address and discovered_id"));
        }
        (Some(a), None) => {
            if a.len() > roeh_domain::camera::MAX_URL_LEN {
                return Err(invalid("device address is too long"));
            }
            let url = url::Url::parse(a.trim())
                .map_err(|_| invalid("device address is not a valid URL"))?;
            (url, None, None)
        }
        (None, Some(id)) => {
            let row = store
                .discovered(id)
                .await
                .map_err(store_err)?
                .ok_or_else(|| {
                    DomainError::new(ErrorKind::NotFound, "no such discovered device")
                })?;
            match row.state {
                DiscoveredState::Pending => {}
                DiscoveredState::Dismissed => {
                    return Err(DomainError::new(
                        ErrorKind::FailedPrecondition,
                        format!(
                            "discovered device {id} was dismissed; it is not added without \
                             approval"
                        ),
                    ));
                }
                DiscoveredState::Approved => {
                    return Err(DomainError::new(
                        ErrorKind::AlreadyExists,
                        format!("discovered device {id} was already added as a camera"),
                    ));
                }
            }
            let first = row.device.xaddrs.first().ok_or_else(|| {
                DomainError::new(
                    ErrorKind::FailedPrecondition,
                    format!("discovered device {id} has no device address"),
                )
            })?;
            let url = url::Url::parse(first).map_err(|_| {
                DomainError::new(
                    ErrorKind::DataLoss,
                    format!("stored address of discovered device {id} is invalid"),
                )
            })?;
            (url, Some(id), Some(row.device.endpoint_ref))
        }
    };
    // Adding by address a device that discovery listed approves that entry too.
    if discovered_id.is_none() {
        let pending = store.list_discovered(false).await.map_err(store_err)?;
        if let Some(d) = pending
            .into_iter()
            .find(|d| d.device.xaddrs.iter().any(|x| x == address.as_str()))
        {
            discovered_id = Some(d.id);
            endpoint_ref = Some(d.device.endpoint_ref);
        }
    }
    let creds = req.username.clone().map(|username| Credentials {
        username,
        password: Secret::new(req.password.clone().unwrap_or_default()),
    });
    let client = OnvifClient::new(
        address.clone(),
        creds.clone(),
        &settings.policy,
        clock.clone(),
    )
    .map_err(onvif_err)?
    .with_selection_rule(settings.selection);
    let summary = client.probe_device().await.map_err(onvif_err)?;
    let Some(main) = summary.main_profile() else {
        return Err(DomainError::new(
            ErrorKind::FailedPrecondition,
            "ONVIF device offers no H.264 or H.265 profile with a resolution and a stream URI; \
             nothing to record",
        ));
    };
    let main_row = profile_row(main)?;
    let sub_row = summary.sub_profile().map(profile_row).transpose()?;
    let snapshot_url = main
        .snapshot_uri
        .as_ref()
        .or_else(|| summary.sub_profile().and_then(|s| s.snapshot_uri.as_ref()))
        .map(|u| u.to_string());
    let Some(camera_url) = main.stream_uri.clone() else {
        return Err(DomainError::new(
            ErrorKind::FailedPrecondition,
            "ONVIF main profile has no stream URI",
        ));
    };
    let camera = Camera {
        id: CameraId::new_random(),
        name: req.name.trim().to_owned(),
        url: camera_url,
        credentials: creds,
        transport: req.transport.unwrap_or_default(),
        enabled: true,
        retention: Retention::default(),
    };
    let now: WallTime = clock.wall();
    let device = OnvifDeviceRow {
        camera: camera.id,
        device_url: summary.device_url.to_string(),
        endpoint_ref,
        manufacturer: summary.info.manufacturer.clone(),
        model: summary.info.model.clone(),
        firmware_version: summary.info.firmware_version.clone(),
        serial_number: summary.info.serial_number.clone(),
        hardware_id: summary.info.hardware_id.clone(),
        main: main_row,
        sub: sub_row,
        snapshot_url,
        added_at: now,
    };
    store
        .add_onvif_camera(&camera, &device, discovered_id)
        .await
        .map_err(store_err)?;
    tracing::info!(
        camera = %camera.id,
        device = %device.device_url,
        main = %device.main.token,
        sub = device.sub.as_ref().map(|s| s.token.as_str()).unwrap_or("-"),
        "ONVIF camera added."
    );
    Ok(Onboarded {
        camera,
        device,
        discovered_id,
    })
}

pub(crate) async fn discover(
    State(st): State<AppState>,
) -> Result<Json<Vec<DiscoveredView>>, ApiError> {
    Ok(Json(
        discover_and_record(&st.store, &st.onvif, st.clock.as_ref()).await?,
    ))
}

/// Query of `GET /api/onvif/discovered`.
#[derive(Debug, Deserialize)]
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
    #[schemars(with = "crate::openapi::foreign::Transport")]
    transport: Transport,
    enabled: bool,
    username: Option<String>,
    has_password: bool,
}

pub(crate) async fn add(
    State(st): State<AppState>,
    ApiJson(req): ApiJson<AddRequest>,
) -> Result<(StatusCode, Json<Added>), ApiError> {
    let done = onboard(&st.store, &st.onvif, st.clock.clone(), req).await?;
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
