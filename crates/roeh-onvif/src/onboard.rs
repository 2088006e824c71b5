//! ONVIF onboarding on a site's database: discovery into the list of devices awaiting approval,
//! and adding a device as a camera with a main (recording) and a sub (analysis) profile. The HTTP
//! routes (`POST /api/onvif/discover`, `POST /api/onvif/add`) and the command line
//! (`roeh onvif discover|add`) both call [`discover_and_record`] and [`onboard`].
//!
//! Invariants:
//! - nothing is recorded from a device without an operator's approval: discovery only fills the
//!   pending list; a camera is created only by [`onboard`], and a dismissed entry is never added;
//! - every address the device gives (device service, media service, stream and snapshot URIs)
//!   must lie inside [`OnvifSettings::policy`]; redirects are not followed; replies with a DTD or
//!   entity declarations, replies over the size limit and slow devices are refused by the client
//!   and nothing is stored;
//! - a stream URI carrying embedded credentials, or not `rtsp`/`rtsps`, is refused;
//! - the camera, its ONVIF description and the approval are stored in one transaction;
//! - the password is only sent to the device (as digests) and stored encrypted; no view carries
//!   it and no log line or error message contains it.
//!
//! Errors: a device's error keeps its kind and reads `ONVIF: …` with its causes; a store error
//! keeps its kind and full message; the message of every error is complete (callers show
//! [`Error::message`]).

use crate::{
    DiscoveryOptions, Error, MediaProfile, NetPolicy, OnvifClient, SelectionRule, VideoEncoding,
};
use roeh_domain::camera::validate_name;
use roeh_domain::{
    Camera, CameraId, Clock, Credentials, ErrorKind, Retention, Secret, Transport, WallTime,
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
    /// The clients of cameras that are turned, shared by every holder of these settings.
    pub ptz: Arc<crate::PtzClients>,
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

/// A discovered device: an entry of the list awaiting approval.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    #[cfg_attr(feature = "schema", schemars(with = "Option<uuid::Uuid>"))]
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

/// What to add: exactly one of `address` and `discovered_id` (the body of `POST /api/onvif/add`).
#[derive(Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::schema::Transport>")
    )]
    pub transport: Option<Transport>,
    /// Token of the profile to record; absent: the selection rule chooses.
    #[serde(default)]
    pub main_profile: Option<String>,
    /// Token of the profile to analyse; absent: the selection rule chooses; empty: none (the
    /// main profile is analysed).
    #[serde(default)]
    pub sub_profile: Option<String>,
}

impl std::fmt::Debug for AddRequest {
    /// Everything but the password, which only shows whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddRequest")
            .field("address", &self.address)
            .field("discovered_id", &self.discovered_id)
            .field("name", &self.name)
            .field("username", &self.username)
            .field("has_password", &self.password.is_some())
            .field("transport", &self.transport)
            .field("main_profile", &self.main_profile)
            .field("sub_profile", &self.sub_profile)
            .finish()
    }
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

fn invalid(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// A store error with its kind and full message.
fn store_err(e: roeh_store::Error) -> Error {
    Error::new(e.kind(), e.chain())
}

/// A device error with its kind and full message, `ONVIF: `-prefixed (the client keeps secrets
/// and device-supplied URIs out of its messages).
fn device_err(e: Error) -> Error {
    Error::new(e.kind(), format!("ONVIF: {}", e.chain()))
}

/// Runs a discovery probe as configured and records every answering device (new ones as
/// `pending`). Returns the entries of the devices that answered.
pub async fn discover_and_record(
    store: &Store,
    settings: &OnvifSettings,
    clock: &dyn Clock,
) -> Result<Vec<DiscoveredView>, Error> {
    let opts = settings.discovery_options();
    if opts.multicast_interface.is_none() && opts.unicast_targets.is_empty() {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            "ONVIF discovery is not configured: set [onvif] discovery_interface or \
             probe_addresses",
        ));
    }
    let found = crate::discover(&opts).await.map_err(device_err)?;
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

fn check_login(username: Option<&str>, password: Option<&str>) -> Result<(), Error> {
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

fn profile_row(p: &MediaProfile) -> Result<OnvifProfileRow, Error> {
    let Some(url) = &p.stream_uri else {
        return Err(Error::new(
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

/// What to probe before adding a device: exactly one of `address` and `discovered_id`, and the
/// login (the body of `POST /api/onvif/profiles`).
#[derive(Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// Device service URL.
    #[serde(default)]
    pub address: Option<String>,
    /// A pending discovered device.
    #[serde(default)]
    pub discovered_id: Option<i64>,
    /// User name on the device.
    #[serde(default)]
    pub username: Option<String>,
    /// Password; only sent to the device, never stored by a probe.
    #[serde(default)]
    pub password: Option<String>,
}

impl std::fmt::Debug for ProbeRequest {
    /// Everything but the password, which only shows whether there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeRequest")
            .field("address", &self.address)
            .field("discovered_id", &self.discovered_id)
            .field("username", &self.username)
            .field("has_password", &self.password.is_some())
            .finish()
    }
}

/// One media profile of a probed device, as offered for the choice of main and sub.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ProfileOption {
    /// Profile token (what [`AddRequest::main_profile`] and `sub_profile` name).
    pub token: String,
    /// Profile name.
    pub name: String,
    /// Encoding (`H264`, `H265`, `JPEG`, …; empty when unknown).
    pub encoding: String,
    /// Width in pixels.
    pub width: Option<u32>,
    /// Height in pixels.
    pub height: Option<u32>,
    /// Frame rate limit.
    pub fps: Option<f64>,
    /// Whether roeh can record or analyse it (H.264 or H.265, a resolution, a stream URI).
    pub usable: bool,
}

/// A probed device's profiles and the choice the selection rule would make (the reply of
/// `POST /api/onvif/profiles`). Nothing is stored.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeviceProfiles {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Every profile, in the device's order.
    pub profiles: Vec<ProfileOption>,
    /// Token of the profile the rule records.
    pub main: Option<String>,
    /// Token of the profile the rule analyses.
    pub sub: Option<String>,
}

/// A device reached for onboarding.
struct Reached {
    discovered_id: Option<i64>,
    endpoint_ref: Option<String>,
    creds: Option<Credentials>,
    summary: crate::DeviceSummary,
}

/// Resolves the device (by address or a pending discovered entry) and probes it with the login.
async fn reach(
    store: &Store,
    settings: &OnvifSettings,
    clock: Arc<dyn Clock>,
    target: (Option<&str>, Option<i64>),
    username: Option<&str>,
    password: Option<&str>,
) -> Result<Reached, Error> {
    check_login(username, password)?;
    let (address, mut discovered_id, mut endpoint_ref) = match target {
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
                .ok_or_else(|| Error::new(ErrorKind::NotFound, "no such discovered device"))?;
            match row.state {
                DiscoveredState::Pending => {}
                DiscoveredState::Dismissed => {
                    return Err(Error::new(
                        ErrorKind::FailedPrecondition,
                        format!(
                            "discovered device {id} was dismissed; it is not added without \
                             approval"
                        ),
                    ));
                }
                DiscoveredState::Approved => {
                    return Err(Error::new(
                        ErrorKind::AlreadyExists,
                        format!("discovered device {id} was already added as a camera"),
                    ));
                }
            }
            let first = row.device.xaddrs.first().ok_or_else(|| {
                Error::new(
                    ErrorKind::FailedPrecondition,
                    format!("discovered device {id} has no device address"),
                )
            })?;
            let url = url::Url::parse(first).map_err(|_| {
                Error::new(
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
    let creds = username.map(|username| Credentials {
        username: username.to_owned(),
        password: Secret::new(password.unwrap_or_default().to_owned()),
    });
    let client = OnvifClient::new(address.clone(), creds.clone(), &settings.policy, clock)
        .map_err(device_err)?
        .with_selection_rule(settings.selection);
    let summary = client.probe_device().await.map_err(device_err)?;
    Ok(Reached {
        discovered_id,
        endpoint_ref,
        creds,
        summary,
    })
}

/// Whether roeh can record or analyse `p`.
fn usable(p: &MediaProfile) -> bool {
    p.encoding.is_some_and(VideoEncoding::is_recordable)
        && p.stream_uri.is_some()
        && p.pixels().is_some()
}

/// Probes a device and lists its profiles with the rule's choice; stores nothing.
pub async fn profiles(
    store: &Store,
    settings: &OnvifSettings,
    clock: Arc<dyn Clock>,
    req: ProbeRequest,
) -> Result<DeviceProfiles, Error> {
    let r = reach(
        store,
        settings,
        clock,
        (req.address.as_deref(), req.discovered_id),
        req.username.as_deref(),
        req.password.as_deref(),
    )
    .await?;
    let s = &r.summary;
    Ok(DeviceProfiles {
        manufacturer: s.info.manufacturer.clone(),
        model: s.info.model.clone(),
        profiles: s
            .profiles
            .iter()
            .map(|p| ProfileOption {
                token: p.token.clone(),
                name: p.name.clone(),
                encoding: p.encoding.map_or_else(String::new, |e| e.to_string()),
                width: p.width,
                height: p.height,
                fps: p.fps.map(f64::from),
                usable: usable(p),
            })
            .collect(),
        main: s.main_profile().map(|p| p.token.clone()),
        sub: s.sub_profile().map(|p| p.token.clone()),
    })
}

/// The profiles to record and analyse: those named (checked), else the rule's choice.
fn choose<'a>(
    summary: &'a crate::DeviceSummary,
    main: Option<&str>,
    sub: Option<&str>,
) -> Result<(&'a MediaProfile, Option<&'a MediaProfile>), Error> {
    let named = |field: &str, token: &str| {
        let p = summary
            .profiles
            .iter()
            .find(|p| p.token == token)
            .ok_or_else(|| invalid(format!("{field} {token:?} is not a profile of the device")))?;
        if usable(p) {
            Ok(p)
        } else {
            Err(invalid(format!(
                "{field} {token:?} cannot be used: roeh needs H.264 or H.265 with a resolution \
                 and a stream URI"
            )))
        }
    };
    let main = match main {
        Some(token) => named("main_profile", token)?,
        None => summary.main_profile().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                "ONVIF device offers no H.264 or H.265 profile with a resolution and a stream \
                 URI; nothing to record",
            )
        })?,
    };
    let sub = match sub {
        Some("") => None,
        Some(token) if token == main.token => {
            return Err(invalid(
                "sub_profile is the main profile; leave it empty to analyse the main profile",
            ));
        }
        Some(token) => Some(named("sub_profile", token)?),
        None => summary.sub_profile().filter(|s| s.token != main.token),
    };
    Ok((main, sub))
}

/// Probes a device, chooses its main and sub profiles (those named in the request, else by the
/// selection rule), checks every URL against the policy and stores the camera with its
/// description (approving the discovered entry) in one transaction. Nothing is stored on any
/// error. The caller starts recording.
pub async fn onboard(
    store: &Store,
    settings: &OnvifSettings,
    clock: Arc<dyn Clock>,
    req: AddRequest,
) -> Result<Onboarded, Error> {
    validate_name(&req.name).map_err(|e| Error::new(e.kind(), e.message()))?;
    let Reached {
        discovered_id,
        endpoint_ref,
        creds,
        summary,
    } = reach(
        store,
        settings,
        clock.clone(),
        (req.address.as_deref(), req.discovered_id),
        req.username.as_deref(),
        req.password.as_deref(),
    )
    .await?;
    let (main, sub) = choose(
        &summary,
        req.main_profile.as_deref(),
        req.sub_profile.as_deref(),
    )?;
    let main_row = profile_row(main)?;
    let sub_row = sub.map(profile_row).transpose()?;
    let snapshot_url = main
        .snapshot_uri
        .as_ref()
        .or_else(|| sub.and_then(|s| s.snapshot_uri.as_ref()))
        .map(|u| u.to_string());
    let Some(camera_url) = main.stream_uri.clone() else {
        return Err(Error::new(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_checked_before_any_device_is_reached() {
        assert!(check_login(None, None).is_ok());
        assert!(check_login(Some("operator"), Some("pw")).is_ok());
        for (u, p, text) in [
            (Some(""), None, "username"),
            (Some("a:b"), None, "username"),
            (Some("a\nb"), None, "username"),
            (Some("op"), Some("p\u{7}w"), "password"),
            (None, Some("pw"), "needs a username"),
        ] {
            let e = check_login(u, p).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(text), "{}", e.message());
        }
    }

    fn prof(token: &str, enc: VideoEncoding, w: u32, h: u32) -> MediaProfile {
        MediaProfile {
            token: token.into(),
            name: token.into(),
            encoding: Some(enc),
            width: Some(w),
            height: Some(h),
            fps: None,
            stream_uri: Some(
                roeh_domain::CameraUrl::parse(&format!("rtsp://10.0.0.1/{token}")).unwrap(),
            ),
            stream_credentials_stripped: false,
            snapshot_uri: None,
        }
    }

    #[test]
    fn profiles_named_in_the_request_are_checked_else_the_rule_chooses() {
        let summary = crate::DeviceSummary {
            device_url: url::Url::parse("http://10.0.0.1/onvif/device_service").unwrap(),
            info: crate::DeviceInfo::default(),
            clock_offset_micros: None,
            media_url: url::Url::parse("http://10.0.0.1/onvif/media").unwrap(),
            profiles: vec![
                prof("main", VideoEncoding::H264, 1920, 1080),
                prof("sub", VideoEncoding::H264, 640, 360),
                prof("jpeg", VideoEncoding::Jpeg, 640, 360),
            ],
            main: Some(0),
            sub: Some(1),
        };
        let tokens = |(m, s): (&MediaProfile, Option<&MediaProfile>)| {
            (m.token.clone(), s.map(|s| s.token.clone()))
        };
        let pick = |m, s| choose(&summary, m, s).map(tokens);
        assert_eq!(
            pick(None, None).unwrap(),
            ("main".into(), Some("sub".into()))
        );
        assert_eq!(
            pick(Some("sub"), Some("main")).unwrap(),
            ("sub".into(), Some("main".into()))
        );
        // The rule's sub is dropped when it was chosen as main; an empty sub is none.
        assert_eq!(pick(Some("sub"), None).unwrap(), ("sub".into(), None));
        assert_eq!(pick(None, Some("")).unwrap(), ("main".into(), None));
        for (m, s, text) in [
            (Some("nope"), None, "main_profile \"nope\" is not a profile"),
            (Some("jpeg"), None, "main_profile \"jpeg\" cannot be used"),
            (None, Some("jpeg"), "sub_profile \"jpeg\" cannot be used"),
            (None, Some("main"), "sub_profile is the main profile"),
        ] {
            let e = pick(m, s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains(text), "{}", e.message());
        }
    }

    #[test]
    fn a_request_never_prints_its_password() {
        let r = AddRequest {
            name: "Gate".into(),
            username: Some("operator".into()),
            password: Some("s3cret-pw".into()),
            ..AddRequest::default()
        };
        let s = format!("{r:?}");
        assert!(!s.contains("s3cret-pw"), "{s}");
        assert!(s.contains("has_password: true"), "{s}");
    }
}
