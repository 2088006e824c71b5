//! Pan, tilt, zoom and presets of ONVIF cameras, for the operator's live view.
//!
//! Routes (policy `view_live`: whoever may watch a camera live may aim it; the camera's scope is
//! checked by the route layer, and every command is audited there with its route and target):
//! - `GET /api/cameras/{id}/ptz`: whether the camera can turn, its presets, where roeh last sent
//!   it and the device's own status;
//! - `POST /api/cameras/{id}/ptz/move` (`{"pan","tilt","zoom"}`, speeds in `[-1, 1]`),
//!   `POST …/ptz/stop`, `POST …/ptz/home`, `POST …/ptz/presets/{preset}`.
//!
//! Invariants:
//! - the camera's hotspot zones were drawn on its home picture, so a camera sent anywhere but
//!   home (a manual move, or a preset that is not the home one) has its rules **paused** until it
//!   is sent home: the state is stored (`camera_ptz`) and the running analytics reloads it;
//! - going away pauses the rules *before* the device is told to move (no detection on a
//!   half-turned picture), and going home resumes them only *after* the device accepted the
//!   command; a failed command leaves the rules paused rather than running on the wrong view;
//! - a continuous move stops by itself: the device is asked to stop after [`MOVE_LIMIT`]
//!   (ONVIF `Timeout`), and roeh sends `Stop` itself when no newer command came by then, for
//!   devices that ignore the timeout; the console repeats a held move before the limit;
//! - a preset counts as home when its token or name is `home` (any case), the convention of
//!   ONVIF devices and of the simulator; `GotoHomePosition` is always home;
//! - one ONVIF client per camera is kept (its service addresses and clock offset learned once)
//!   and rebuilt when the camera's device address or credentials change; its presets are read
//!   when the view opens (`GET`) and when a command names an unknown one, not by every command.

use crate::extract::ApiJson;
use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, State};
use roeh_auth::Principal;
use roeh_domain::{CameraId, ErrorKind};
use roeh_onvif::{OnvifClient, PtzPreset, PtzVector};
use roeh_store::PtzState;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// How long one continuous move lasts unless it is repeated.
pub const MOVE_LIMIT: Duration = Duration::from_secs(5);

/// The per-camera ONVIF clients, presets and command generations, kept in
/// [`crate::onvif::OnvifSettings::ptz`].
pub use roeh_onvif::PtzClients;

/// A camera's PTZ as the console shows it.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PtzView {
    /// Whether the camera can be turned (an ONVIF camera whose device has a PTZ service).
    pub available: bool,
    /// Its presets, in the device's order.
    pub presets: Vec<PresetView>,
    /// Away from its home position: its rules are paused.
    pub away: bool,
    /// Where roeh last sent it: `home`, `preset:<token>` or `moved`.
    pub position: String,
    /// Who sent it there, and when (RFC 3339); absent while it never moved.
    pub changed_by: Option<String>,
    /// When (RFC 3339).
    pub changed_at: Option<String>,
    /// The device's own report of where it points, when it gives one.
    pub status: Option<StatusView>,
}

/// One preset.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PresetView {
    /// The device's token (what `POST …/ptz/presets/{preset}` takes).
    pub token: String,
    /// Its name (device text: render as text).
    pub name: String,
    /// Whether it is the home position (its rules run there).
    pub home: bool,
}

/// Where the device says it points.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StatusView {
    /// Pan, `[-1, 1]`.
    pub pan: f64,
    /// Tilt, `[-1, 1]`.
    pub tilt: f64,
    /// Zoom, `[0, 1]`.
    pub zoom: f64,
    /// Whether it is moving, when the device says.
    pub moving: Option<bool>,
}

/// Body of `POST /api/cameras/{id}/ptz/move`: speeds in `[-1, 1]`, not all zero.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveBody {
    /// Pan speed (positive: right).
    #[serde(default)]
    pub pan: f64,
    /// Tilt speed (positive: up).
    #[serde(default)]
    pub tilt: f64,
    /// Zoom speed (positive: in).
    #[serde(default)]
    pub zoom: f64,
}

fn is_home(p: &PtzPreset) -> bool {
    p.token.eq_ignore_ascii_case("home") || p.name.eq_ignore_ascii_case("home")
}

fn onvif_error(e: roeh_onvif::Error) -> ApiError {
    ApiError::new(e.kind(), format!("the camera's PTZ: {}", e.chain()))
}

/// The camera's client and the profile token PTZ commands name; `None`: not an ONVIF camera.
async fn client_of(
    st: &AppState,
    camera: CameraId,
) -> Result<Option<(Arc<OnvifClient>, String)>, ApiError> {
    let cam = st
        .store
        .get_camera(camera)
        .await?
        .ok_or_else(|| ApiError::not_found(roeh_auth::NO_SUCH_CAMERA))?;
    let Some(dev) = st.store.onvif_device(camera).await? else {
        return Ok(None);
    };
    let ptz = &st.onvif.ptz;
    if let Some(c) = ptz.client(camera, &dev.device_url, cam.credentials.as_ref()) {
        return Ok(Some((c, dev.main.token)));
    }
    let url = url::Url::parse(&dev.device_url).map_err(|_| {
        ApiError::new(
            ErrorKind::DataLoss,
            "the camera's stored ONVIF address is invalid",
        )
    })?;
    let client = Arc::new(
        OnvifClient::new(
            url,
            cam.credentials.clone(),
            &st.onvif.policy,
            st.clock.clone(),
        )
        .map_err(onvif_error)?,
    );
    // The device's clock, for its WS-Security check; a device that does not say keeps ours.
    if let Err(e) = client.get_system_date_and_time().await {
        tracing::debug!(camera = %camera, error = %e, "PTZ device clock unknown; using ours.");
    }
    ptz.keep(camera, dev.device_url, cam.credentials, client.clone());
    Ok(Some((client, dev.main.token)))
}

/// The client of a camera that can turn, or `FailedPrecondition`.
async fn ptz_client(
    st: &AppState,
    camera: CameraId,
) -> Result<(Arc<OnvifClient>, String), ApiError> {
    let no_ptz = || {
        ApiError::new(
            ErrorKind::FailedPrecondition,
            "this camera cannot pan, tilt or zoom",
        )
    };
    let (client, profile) = client_of(st, camera).await?.ok_or_else(no_ptz)?;
    if !client.has_ptz().await.map_err(onvif_error)? {
        return Err(no_ptz());
    }
    Ok((client, profile))
}

/// The camera's PTZ as the console shows it; `refresh`: read the presets from the device again.
async fn view(st: &AppState, camera: CameraId, refresh: bool) -> Result<PtzView, ApiError> {
    let stored = st.store.ptz_state(camera).await?;
    let mut v = PtzView {
        available: false,
        presets: Vec::new(),
        away: stored.as_ref().is_some_and(|s| s.away),
        position: stored
            .as_ref()
            .map_or_else(|| "home".to_owned(), |s| s.position.clone()),
        changed_by: stored.as_ref().map(|s| s.changed_by.clone()),
        changed_at: stored.as_ref().map(|s| s.changed_at.to_rfc3339()),
        status: None,
    };
    let Some((client, profile)) = client_of(st, camera).await? else {
        return Ok(v);
    };
    if !client.has_ptz().await.map_err(onvif_error)? {
        return Ok(v);
    }
    v.available = true;
    v.presets = st
        .onvif
        .ptz
        .presets(camera, &client, &profile, refresh)
        .await
        .map_err(onvif_error)?
        .iter()
        .map(|p| PresetView {
            token: p.token.clone(),
            name: p.name.clone(),
            home: is_home(p),
        })
        .collect();
    // The status is a courtesy: a device that cannot say still turns.
    match client.ptz_status(&profile).await {
        Ok(s) => {
            v.status = s.position.map(|p| StatusView {
                pan: p.pan,
                tilt: p.tilt,
                zoom: p.zoom,
                moving: s.moving,
            });
        }
        Err(e) => tracing::debug!(camera = %camera, error = %e, "PTZ status unavailable."),
    }
    Ok(v)
}

/// Stores where the camera was sent and, when that changes whether it is home, lets the
/// analytics pause or resume its rules.
async fn record(
    st: &AppState,
    camera: CameraId,
    who: &Principal,
    away: bool,
    position: String,
) -> Result<(), ApiError> {
    let before = st.store.ptz_state(camera).await?;
    st.store
        .set_ptz_state(&PtzState {
            camera,
            away,
            position,
            changed_at: st.clock.wall(),
            changed_by: who.username.clone(),
        })
        .await?;
    if before.is_some_and(|b| b.away) != away {
        crate::detection::reload(st).await;
    }
    Ok(())
}

/// `GET /api/cameras/{id}/ptz`.
pub(crate) async fn get(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PtzView>, ApiError> {
    let camera = crate::cameras::parse_id(&id)?;
    Ok(Json(view(&st, camera, true).await?))
}

/// `POST /api/cameras/{id}/ptz/move`: a continuous move at the given speeds, for at most
/// [`MOVE_LIMIT`]. Pauses the camera's rules.
pub(crate) async fn r#move(
    State(st): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(who): axum::Extension<Principal>,
    ApiJson(b): ApiJson<MoveBody>,
) -> Result<Json<PtzView>, ApiError> {
    let camera = crate::cameras::parse_id(&id)?;
    let speed = PtzVector {
        pan: b.pan,
        tilt: b.tilt,
        zoom: b.zoom,
    }
    .check_velocity()
    .map_err(onvif_error)?;
    if speed.is_zero() {
        return Err(ApiError::invalid(
            "a move needs a speed; to stop, use …/ptz/stop",
        ));
    }
    let (client, profile) = ptz_client(&st, camera).await?;
    record(&st, camera, &who, true, "moved".to_owned()).await?;
    let generation = st.onvif.ptz.next_generation(camera);
    client
        .ptz_continuous_move(&profile, speed, MOVE_LIMIT.as_secs() as u32)
        .await
        .map_err(onvif_error)?;
    let clients = st.onvif.ptz.clone();
    tokio::spawn(async move {
        tokio::time::sleep(MOVE_LIMIT).await;
        if clients.is_current(camera, generation)
            && let Err(e) = client.ptz_stop(&profile).await
        {
            tracing::warn!(camera = %camera, error = %e, "Could not stop a PTZ move that ran out.");
        }
    });
    Ok(Json(view(&st, camera, false).await?))
}

/// `POST /api/cameras/{id}/ptz/stop`.
pub(crate) async fn stop(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PtzView>, ApiError> {
    let camera = crate::cameras::parse_id(&id)?;
    let (client, profile) = ptz_client(&st, camera).await?;
    st.onvif.ptz.next_generation(camera);
    client.ptz_stop(&profile).await.map_err(onvif_error)?;
    Ok(Json(view(&st, camera, false).await?))
}

/// `POST /api/cameras/{id}/ptz/home`: back to the home position; the rules resume.
pub(crate) async fn home(
    State(st): State<AppState>,
    Path(id): Path<String>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Result<Json<PtzView>, ApiError> {
    let camera = crate::cameras::parse_id(&id)?;
    let (client, profile) = ptz_client(&st, camera).await?;
    st.onvif.ptz.next_generation(camera);
    client.ptz_goto_home(&profile).await.map_err(onvif_error)?;
    record(&st, camera, &who, false, "home".to_owned()).await?;
    Ok(Json(view(&st, camera, false).await?))
}

/// `POST /api/cameras/{id}/ptz/presets/{preset}`: to a stored position; the rules pause unless
/// it is the home preset.
pub(crate) async fn preset(
    State(st): State<AppState>,
    Path((id, token)): Path<(String, String)>,
    axum::Extension(who): axum::Extension<Principal>,
) -> Result<Json<PtzView>, ApiError> {
    let camera = crate::cameras::parse_id(&id)?;
    let (client, profile) = ptz_client(&st, camera).await?;
    let ptz = &st.onvif.ptz;
    let known = ptz
        .presets(camera, &client, &profile, false)
        .await
        .map_err(onvif_error)?;
    let presets = if known.iter().any(|p| p.token == token) {
        known
    } else {
        // Perhaps stored on the camera since the view was opened.
        ptz.presets(camera, &client, &profile, true)
            .await
            .map_err(onvif_error)?
    };
    let p = presets
        .iter()
        .find(|p| p.token == token)
        .ok_or_else(|| ApiError::not_found("the camera has no such preset"))?;
    st.onvif.ptz.next_generation(camera);
    let position = format!("preset:{}", p.token);
    if is_home(p) {
        client
            .ptz_goto_preset(&profile, &p.token)
            .await
            .map_err(onvif_error)?;
        record(&st, camera, &who, false, position).await?;
    } else {
        record(&st, camera, &who, true, position).await?;
        client
            .ptz_goto_preset(&profile, &p.token)
            .await
            .map_err(onvif_error)?;
    }
    Ok(Json(view(&st, camera, false).await?))
}
