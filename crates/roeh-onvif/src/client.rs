//! The ONVIF device and media service client.
//!
//! Invariants:
//! - every request goes to a [`Target`] pinned through the [`NetPolicy`]; the device address is
//!   resolved once per client, the media XAddr once when learned;
//! - with credentials, every request carries a WS-Security UsernameToken whose `Created` is the
//!   injected clock plus the device's clock offset (learned from `GetSystemDateAndTime`, which
//!   is first tried without authentication, as ONVIF requires devices to allow);
//! - HTTP Digest is answered only when the device sends a `401` with a Digest challenge, at most
//!   once per request (a second `401` is `PermissionDenied`); the challenge is then reused with
//!   an increasing nonce count, until a `401` brings a new one (a `stale=true` nonce is answered
//!   the same way: one retry with the new nonce);
//! - device-supplied strings are cleaned ([`crate::sanitize`]) before they leave this module.

use crate::auth::{self, DigestChallenge};
use crate::http::{self, Target};
use crate::media::{self, MediaProfile, SelectionRule};
use crate::policy::NetPolicy;
use crate::ptz::{self, PtzPreset, PtzStatus, PtzVector};
use crate::soap::{self, NS_MEDIA, NS_PTZ};
use crate::xml::{self, Element};
use crate::{Error, Result, sanitize};
use roeh_domain::{CameraUrl, Clock, Credentials, ErrorKind, WallTime};
use std::sync::{Arc, Mutex};
use tokio::sync::OnceCell;

/// What a device says about itself (all strings cleaned and capped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
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
}

/// Everything needed to offer a device for onboarding.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceSummary {
    /// The device service URL probed.
    pub device_url: url::Url,
    /// Device information.
    pub info: DeviceInfo,
    /// Device clock minus our clock, in microseconds (device time is only known to the second);
    /// `None` if the device did not report UTC time.
    pub clock_offset_micros: Option<i64>,
    /// The media service URL used.
    pub media_url: url::Url,
    /// All profiles, in the device's order.
    pub profiles: Vec<MediaProfile>,
    /// Index into `profiles` of the recording profile.
    pub main: Option<usize>,
    /// Index into `profiles` of the analysis profile.
    pub sub: Option<usize>,
}

impl DeviceSummary {
    /// The chosen main (recording) profile.
    pub fn main_profile(&self) -> Option<&MediaProfile> {
        self.main.and_then(|i| self.profiles.get(i))
    }

    /// The chosen sub (analysis) profile.
    pub fn sub_profile(&self) -> Option<&MediaProfile> {
        self.sub.and_then(|i| self.profiles.get(i))
    }
}

/// A client for one ONVIF device.
#[derive(Debug)]
pub struct OnvifClient {
    device_url: url::Url,
    creds: Option<Credentials>,
    policy: NetPolicy,
    clock: Arc<dyn Clock>,
    rule: SelectionRule,
    device: OnceCell<Target>,
    media: OnceCell<Target>,
    /// The PTZ service; `None` inside: the device has none.
    ptz: OnceCell<Option<Target>>,
    clock_offset_micros: Mutex<Option<i64>>,
    digest: Mutex<Option<DigestChallenge>>,
}

const ACTION_DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
const ACTION_MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
const ACTION_PTZ: &str = "http://www.onvif.org/ver20/ptz/wsdl";

impl OnvifClient {
    /// A client for the device service at `device_url` (e.g.
    /// `http://10.20.0.7/onvif/device_service`). Checks the URL's form and, for an IP literal,
    /// the allow-list now; a host name is resolved (once) on first use.
    pub fn new(
        device_url: url::Url,
        creds: Option<Credentials>,
        policy: &NetPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let device_url = http::check_service_url(&device_url, "device")?;
        match device_url.host() {
            Some(url::Host::Ipv4(a)) => policy.check_ip(a.into(), "device")?,
            Some(url::Host::Ipv6(a)) => policy.check_ip(a.into(), "device")?,
            _ => {}
        }
        Ok(OnvifClient {
            device_url,
            creds,
            policy: policy.clone(),
            clock,
            rule: SelectionRule::default(),
            device: OnceCell::new(),
            media: OnceCell::new(),
            ptz: OnceCell::new(),
            clock_offset_micros: Mutex::new(None),
            digest: Mutex::new(None),
        })
    }

    /// Replaces the main/sub selection rule used by [`OnvifClient::probe_device`].
    pub fn with_selection_rule(mut self, rule: SelectionRule) -> Self {
        self.rule = rule;
        self
    }

    /// The device service URL.
    pub fn device_url(&self) -> &url::Url {
        &self.device_url
    }

    /// The last learned clock offset (device minus ours), in microseconds.
    pub fn clock_offset_micros(&self) -> Option<i64> {
        *self
            .clock_offset_micros
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    async fn device_target(&self) -> Result<&Target> {
        self.device
            .get_or_try_init(|| Target::resolve(&self.policy, &self.device_url, "device"))
            .await
    }

    async fn media_target(&self) -> Result<&Target> {
        self.media
            .get_or_try_init(|| async {
                let url = self.get_media_xaddr().await?;
                Target::resolve(&self.policy, &url, "media").await
            })
            .await
    }

    /// Runs everything onboarding needs: clock, device information, media service, profiles
    /// with stream and snapshot URIs, and the main/sub choice.
    pub async fn probe_device(&self) -> Result<DeviceSummary> {
        let clock_offset_micros = match self.get_system_date_and_time().await {
            Ok(t) => t.map(|(_, off)| off),
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                tracing::debug!(error = %e, "device clock unavailable; assuming no offset");
                None
            }
            Err(e) => return Err(e),
        };
        let info = self.get_device_information().await?;
        let media_url = self.media_target().await?.url.clone();
        let mut profiles = self.get_profiles().await?;
        for p in &mut profiles {
            if p.encoding.is_none() {
                continue;
            }
            let (uri, stripped) = self.get_stream_uri(&p.token).await?;
            p.stream_uri = Some(uri);
            p.stream_credentials_stripped = stripped;
            p.snapshot_uri = self.get_snapshot_uri(&p.token).await?;
        }
        let (main, sub) = media::select_profiles(&profiles, self.rule);
        Ok(DeviceSummary {
            device_url: self.device_url.clone(),
            info,
            clock_offset_micros,
            media_url,
            profiles,
            main,
            sub,
        })
    }

    /// `GetSystemDateAndTime`: the device's UTC time and its offset from our clock
    /// (`None` if the device gave no UTC time). Tried without authentication first.
    pub async fn get_system_date_and_time(&self) -> Result<Option<(WallTime, i64)>> {
        let body = "<tds:GetSystemDateAndTime/>";
        let before = self.clock.wall();
        let root = match self.call(false, "GetSystemDateAndTime", body, false).await {
            Err(e) if e.kind() == ErrorKind::PermissionDenied && self.creds.is_some() => {
                self.call(false, "GetSystemDateAndTime", body, true).await?
            }
            r => r?,
        };
        let after = self.clock.wall();
        let resp = soap::response(&root, "GetSystemDateAndTimeResponse")?;
        let Some(utc) = resp.find("UTCDateTime") else {
            return Ok(None);
        };
        let num = |path: &[&str]| -> Option<i64> { utc.text_at(path)?.parse().ok() };
        let fields = (
            num(&["Date", "Year"]),
            num(&["Date", "Month"]),
            num(&["Date", "Day"]),
            num(&["Time", "Hour"]),
            num(&["Time", "Minute"]),
            num(&["Time", "Second"]),
        );
        let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = fields else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "device reported an incomplete UTC date and time",
            ));
        };
        let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
        let device = WallTime::parse(&text)
            .filter(|_| (1970..=9999).contains(&y))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    "device reported an invalid date and time",
                )
            })?;
        let ours = WallTime(
            before
                .0
                .saturating_add(after.0.saturating_sub(before.0) / 2),
        );
        let offset = device.0.saturating_sub(ours.0);
        *self
            .clock_offset_micros
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(offset);
        Ok(Some((device, offset)))
    }

    /// `GetDeviceInformation`.
    pub async fn get_device_information(&self) -> Result<DeviceInfo> {
        let root = self
            .call(
                false,
                "GetDeviceInformation",
                "<tds:GetDeviceInformation/>",
                true,
            )
            .await?;
        let r = soap::response(&root, "GetDeviceInformationResponse")?;
        let s = |n: &str| sanitize::device_string(r.text_at(&[n]).unwrap_or_default());
        Ok(DeviceInfo {
            manufacturer: s("Manufacturer"),
            model: s("Model"),
            firmware_version: s("FirmwareVersion"),
            serial_number: s("SerialNumber"),
            hardware_id: s("HardwareId"),
        })
    }

    /// The media service XAddr, from `GetCapabilities` or else `GetServices`. Not yet checked
    /// against the policy (that happens when it is used).
    pub async fn get_media_xaddr(&self) -> Result<url::Url> {
        self.service_xaddr("Media", NS_MEDIA, "media")
            .await?
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "device offers no media service"))
    }

    /// The PTZ service XAddr, `None` when the device offers none. Not yet checked against the
    /// policy (that happens when it is used).
    pub async fn get_ptz_xaddr(&self) -> Result<Option<url::Url>> {
        self.service_xaddr("PTZ", NS_PTZ, "PTZ").await
    }

    /// A service's XAddr: the `capability` element of `GetCapabilities`, or else the service of
    /// `namespace` in `GetServices`; `None` when neither names one.
    async fn service_xaddr(
        &self,
        capability: &str,
        namespace: &str,
        what: &str,
    ) -> Result<Option<url::Url>> {
        let caps = self
            .call_device(
                "GetCapabilities",
                "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
                true,
            )
            .await
            .and_then(|root| {
                let r = soap::response(&root, "GetCapabilitiesResponse")?;
                Ok(r.find(capability)
                    .and_then(|m| m.child("XAddr"))
                    .map(|x| x.text.trim().to_owned())
                    .filter(|x| !x.is_empty()))
            });
        let xaddr = match caps {
            Ok(Some(x)) => x,
            Ok(None) | Err(_) => {
                let services = self
                    .call_device(
                        "GetServices",
                        "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
                        true,
                    )
                    .await;
                let root = match services {
                    Ok(root) => root,
                    // The capabilities were answered without this service, and the device has
                    // no GetServices to say otherwise.
                    Err(_) if caps.is_ok() => return Ok(None),
                    Err(e) => return Err(e),
                };
                let r = match soap::response(&root, "GetServicesResponse") {
                    Ok(r) => r,
                    Err(_) if caps.is_ok() => return Ok(None),
                    Err(e) => return Err(e),
                };
                match r
                    .children_named("Service")
                    .find(|s| s.text_at(&["Namespace"]) == Some(namespace))
                    .and_then(|s| s.text_at(&["XAddr"]))
                {
                    Some(x) => x.trim().to_owned(),
                    None => return Ok(None),
                }
            }
        };
        let url = url::Url::parse(&xaddr).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("device {what} XAddr is not a valid URL"),
            )
        })?;
        http::check_service_url(&url, what).map(Some)
    }

    async fn ptz_target(&self) -> Result<&Target> {
        let t = self
            .ptz
            .get_or_try_init(|| async {
                match self.get_ptz_xaddr().await? {
                    Some(url) => Target::resolve(&self.policy, &url, "PTZ").await.map(Some),
                    None => Ok(None),
                }
            })
            .await?;
        t.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                "the device offers no PTZ service",
            )
        })
    }

    /// Whether the device offers a PTZ service (asked once, then remembered).
    pub async fn has_ptz(&self) -> Result<bool> {
        match self.ptz_target().await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::FailedPrecondition => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn call_ptz(&self, op: &str, body: &str) -> Result<Element> {
        let target = self.ptz_target().await?;
        self.call_target(target, ACTION_PTZ, op, body, true).await
    }

    /// `GetPresets` of a media profile.
    pub async fn ptz_presets(&self, profile_token: &str) -> Result<Vec<PtzPreset>> {
        let root = self
            .call_ptz("GetPresets", &ptz::get_presets_body(profile_token))
            .await?;
        Ok(ptz::parse_presets(soap::response(
            &root,
            "GetPresetsResponse",
        )?))
    }

    /// `GotoPreset`: turns the camera to a stored position.
    pub async fn ptz_goto_preset(&self, profile_token: &str, preset_token: &str) -> Result<()> {
        let root = self
            .call_ptz(
                "GotoPreset",
                &ptz::goto_preset_body(profile_token, preset_token),
            )
            .await?;
        soap::response(&root, "GotoPresetResponse").map(|_| ())
    }

    /// `GotoHomePosition`: turns the camera to its home position.
    pub async fn ptz_goto_home(&self, profile_token: &str) -> Result<()> {
        let root = self
            .call_ptz("GotoHomePosition", &ptz::goto_home_body(profile_token))
            .await?;
        soap::response(&root, "GotoHomePositionResponse").map(|_| ())
    }

    /// `ContinuousMove` at `velocity` (each part in `[-1, 1]`), with a device-side timeout of
    /// `timeout_secs` for devices that honour it.
    pub async fn ptz_continuous_move(
        &self,
        profile_token: &str,
        velocity: PtzVector,
        timeout_secs: u32,
    ) -> Result<()> {
        let body = ptz::continuous_move_body(profile_token, velocity, timeout_secs)?;
        let root = self.call_ptz("ContinuousMove", &body).await?;
        soap::response(&root, "ContinuousMoveResponse").map(|_| ())
    }

    /// `Stop` of pan, tilt and zoom.
    pub async fn ptz_stop(&self, profile_token: &str) -> Result<()> {
        let root = self
            .call_ptz("Stop", &ptz::stop_body(profile_token))
            .await?;
        soap::response(&root, "StopResponse").map(|_| ())
    }

    /// `GetStatus`: where the camera points and whether it moves.
    pub async fn ptz_status(&self, profile_token: &str) -> Result<PtzStatus> {
        let root = self
            .call_ptz("GetStatus", &ptz::get_status_body(profile_token))
            .await?;
        ptz::parse_status(soap::response(&root, "GetStatusResponse")?)
    }

    /// `GetProfiles` (media ver10). URIs are not filled in.
    pub async fn get_profiles(&self) -> Result<Vec<MediaProfile>> {
        let root = self
            .call(true, "GetProfiles", "<trt:GetProfiles/>", true)
            .await?;
        media::parse_profiles(soap::response(&root, "GetProfilesResponse")?)
    }

    /// `GetStreamUri` for RTP-Unicast over RTSP. Returns the checked, pinned URI and whether
    /// user-info was stripped from it.
    pub async fn get_stream_uri(&self, profile_token: &str) -> Result<(CameraUrl, bool)> {
        let body = format!(
            concat!(
                "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>",
                "<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>",
                "<trt:ProfileToken>{}</trt:ProfileToken></trt:GetStreamUri>"
            ),
            soap::escape(profile_token)
        );
        let root = self.call(true, "GetStreamUri", &body, true).await?;
        let r = soap::response(&root, "GetStreamUriResponse")?;
        let uri = r.text_at(&["MediaUri", "Uri"]).ok_or_else(|| {
            Error::new(ErrorKind::InvalidArgument, "device returned no stream URI")
        })?;
        media::check_stream_uri(&self.policy, uri).await
    }

    /// `GetSnapshotUri`. `None` if the device answers with a SOAP fault (snapshots are
    /// optional); a URI that breaks the rules is an error.
    pub async fn get_snapshot_uri(&self, profile_token: &str) -> Result<Option<url::Url>> {
        let body = format!(
            "<trt:GetSnapshotUri><trt:ProfileToken>{}</trt:ProfileToken></trt:GetSnapshotUri>",
            soap::escape(profile_token)
        );
        let root = self.call(true, "GetSnapshotUri", &body, true).await?;
        let r = match soap::response(&root, "GetSnapshotUriResponse") {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::Unavailable => return Ok(None),
            Err(e) => return Err(e),
        };
        match r.text_at(&["MediaUri", "Uri"]) {
            Some(u) if !u.is_empty() => media::check_snapshot_uri(&self.policy, u).await.map(Some),
            _ => Ok(None),
        }
    }

    /// One SOAP call with authentication handling. Returns the parsed envelope (possibly a fault,
    /// which [`soap::response`] turns into an error).
    async fn call(&self, media: bool, op: &str, body: &str, authenticate: bool) -> Result<Element> {
        if media {
            let target = self.media_target().await?;
            self.call_target(target, ACTION_MEDIA, op, body, authenticate)
                .await
        } else {
            self.call_device(op, body, authenticate).await
        }
    }

    async fn call_device(&self, op: &str, body: &str, authenticate: bool) -> Result<Element> {
        let target = self.device_target().await?;
        self.call_target(target, ACTION_DEVICE, op, body, authenticate)
            .await
    }

    async fn call_target(
        &self,
        target: &Target,
        service_ns: &str,
        op: &str,
        body: &str,
        authenticate: bool,
    ) -> Result<Element> {
        let action = format!("{service_ns}/{op}");
        let creds = self.creds.as_ref().filter(|_| authenticate);
        let mut answered_challenge = false;
        loop {
            let security = creds.map(|c| {
                let offset = self.clock_offset_micros().unwrap_or(0);
                let created = WallTime(self.clock.wall().0.saturating_add(offset));
                auth::username_token_header(c, &auth::random_nonce(), created)
            });
            let envelope = soap::envelope(security.as_deref(), body);
            let authorization = match creds {
                Some(c) => self.next_digest(c, &target.request_target())?,
                None => None,
            };
            let reply =
                http::post_soap(&self.policy, target, &action, envelope, authorization).await?;
            if reply.status == 401 {
                let challenge =
                    DigestChallenge::pick(reply.www_authenticate.iter().map(String::as_str))?;
                let challenged = challenge.is_some();
                let stale = challenge.as_ref().is_some_and(DigestChallenge::stale);
                if let (Some(ch), Some(_)) = (challenge, &self.creds) {
                    // Kept even for an unauthenticated call, so the authenticated retry (and
                    // every later request) answers it without another round trip.
                    *self.digest.lock().unwrap_or_else(|p| p.into_inner()) = Some(ch);
                }
                match (creds, challenged) {
                    (Some(_), true) if !answered_challenge => {
                        tracing::debug!(
                            service = target.what,
                            op,
                            stale,
                            "answering HTTP Digest challenge"
                        );
                        answered_challenge = true;
                        continue;
                    }
                    (None, _) => {
                        return Err(Error::new(
                            ErrorKind::PermissionDenied,
                            format!(
                                "device requires authentication for {op}; no credentials configured"
                            ),
                        ));
                    }
                    _ => {
                        return Err(Error::new(
                            ErrorKind::PermissionDenied,
                            format!("device refused the credentials for {op}"),
                        ));
                    }
                }
            }
            let parsed = xml::parse(&reply.body);
            return match (reply.status, parsed) {
                (200, Ok(root)) => Ok(root),
                (200, Err(e)) => Err(e),
                (400 | 403 | 500, Ok(root)) if soap::fault(&root).is_some() => Ok(root),
                (status, _) => Err(Error::new(
                    if status == 403 {
                        ErrorKind::PermissionDenied
                    } else {
                        ErrorKind::Unavailable
                    },
                    format!("device answered {op} with HTTP status {status}"),
                )),
            };
        }
    }

    /// The `Authorization` header for the cached Digest challenge, if any, advancing its nonce
    /// count.
    fn next_digest(&self, creds: &Credentials, uri: &str) -> Result<Option<String>> {
        let mut g = self.digest.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(ch) => ch.authorization(creds, "POST", uri).map(Some),
            None => Ok(None),
        }
    }
}
