//! ONVIF PTZ (ver20): request bodies and the reading of replies, for the calls an operator's
//! pan, tilt, zoom and presets need: `GetPresets`, `GotoPreset`, `GotoHomePosition`,
//! `ContinuousMove`, `Stop` and `GetStatus`.
//!
//! Invariants:
//! - every value put into a request is a checked number or an escaped token ([`soap::escape`]);
//!   a velocity is finite and inside `[-1, 1]` (the generic velocity space) or refused;
//! - a reply is read as untrusted: at most [`MAX_PRESETS`] presets, tokens of at most
//!   [`crate::media::MAX_TOKEN_CHARS`] characters (longer ones are skipped), names cleaned like
//!   every device string, positions kept only when they are finite numbers.

use crate::soap;
use crate::xml::Element;
use crate::{Error, Result, sanitize};
use roeh_domain::ErrorKind;

/// Most presets read from one device.
pub const MAX_PRESETS: usize = 100;

/// A position or a velocity in ONVIF's generic spaces: pan and tilt in `[-1, 1]`, zoom in
/// `[0, 1]` for a position and `[-1, 1]` for a velocity.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PtzVector {
    /// Pan (positive: right).
    pub pan: f64,
    /// Tilt (positive: up).
    pub tilt: f64,
    /// Zoom (positive: in).
    pub zoom: f64,
}

impl PtzVector {
    /// Checks a velocity: every part finite and inside `[-1, 1]`.
    pub fn check_velocity(self) -> Result<PtzVector> {
        for (name, v) in [("pan", self.pan), ("tilt", self.tilt), ("zoom", self.zoom)] {
            if !(v.is_finite() && (-1.0..=1.0).contains(&v)) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{name} speed must be a number between -1 and 1"),
                ));
            }
        }
        Ok(self)
    }

    /// Whether every part is zero (a move that moves nothing).
    pub fn is_zero(self) -> bool {
        self.pan == 0.0 && self.tilt == 0.0 && self.zoom == 0.0
    }
}

/// A stored position of the camera.
#[derive(Clone, Debug, PartialEq)]
pub struct PtzPreset {
    /// The device's token for it (what `GotoPreset` takes).
    pub token: String,
    /// Its name (cleaned device string; may be empty).
    pub name: String,
    /// Where it points, when the device says.
    pub position: Option<PtzVector>,
}

/// Where the camera points now and whether it moves.
#[derive(Clone, Debug, PartialEq)]
pub struct PtzStatus {
    /// The position, when the device reports one.
    pub position: Option<PtzVector>,
    /// Whether pan/tilt or zoom is moving; `None` when the device does not say clearly.
    pub moving: Option<bool>,
}

fn profile(token: &str) -> String {
    format!(
        "<tptz:ProfileToken>{}</tptz:ProfileToken>",
        soap::escape(token)
    )
}

/// `GetPresets` for a media profile.
pub(crate) fn get_presets_body(profile_token: &str) -> String {
    format!(
        "<tptz:GetPresets>{}</tptz:GetPresets>",
        profile(profile_token)
    )
}

/// `GotoPreset` for a media profile.
pub(crate) fn goto_preset_body(profile_token: &str, preset_token: &str) -> String {
    format!(
        "<tptz:GotoPreset>{}<tptz:PresetToken>{}</tptz:PresetToken></tptz:GotoPreset>",
        profile(profile_token),
        soap::escape(preset_token)
    )
}

/// `GotoHomePosition` for a media profile.
pub(crate) fn goto_home_body(profile_token: &str) -> String {
    format!(
        "<tptz:GotoHomePosition>{}</tptz:GotoHomePosition>",
        profile(profile_token)
    )
}

/// `ContinuousMove` at `velocity` (checked), stopping by itself after `timeout_secs` on devices
/// that honour the timeout.
pub(crate) fn continuous_move_body(
    profile_token: &str,
    velocity: PtzVector,
    timeout_secs: u32,
) -> Result<String> {
    let v = velocity.check_velocity()?;
    Ok(format!(
        concat!(
            "<tptz:ContinuousMove>{}<tptz:Velocity>",
            r#"<tt:PanTilt x="{}" y="{}"/><tt:Zoom x="{}"/>"#,
            "</tptz:Velocity><tptz:Timeout>PT{}S</tptz:Timeout></tptz:ContinuousMove>"
        ),
        profile(profile_token),
        v.pan,
        v.tilt,
        v.zoom,
        timeout_secs.max(1),
    ))
}

/// `Stop` of pan/tilt and zoom.
pub(crate) fn stop_body(profile_token: &str) -> String {
    format!(
        concat!(
            "<tptz:Stop>{}<tptz:PanTilt>true</tptz:PanTilt>",
            "<tptz:Zoom>true</tptz:Zoom></tptz:Stop>"
        ),
        profile(profile_token)
    )
}

/// `GetStatus` for a media profile.
pub(crate) fn get_status_body(profile_token: &str) -> String {
    format!(
        "<tptz:GetStatus>{}</tptz:GetStatus>",
        profile(profile_token)
    )
}

fn number(el: Option<&Element>, attr: &str) -> Option<f64> {
    el?.attr(attr)?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// A `PTZPosition`/`Position`-shaped element: `PanTilt x y` and `Zoom x`.
fn position(el: Option<&Element>) -> Option<PtzVector> {
    let el = el?;
    let pt = el.child("PanTilt");
    let z = el.child("Zoom");
    let (pan, tilt, zoom) = (number(pt, "x"), number(pt, "y"), number(z, "x"));
    if pan.is_none() && tilt.is_none() && zoom.is_none() {
        return None;
    }
    Some(PtzVector {
        pan: pan.unwrap_or(0.0),
        tilt: tilt.unwrap_or(0.0),
        zoom: zoom.unwrap_or(0.0),
    })
}

/// Reads a `GetPresetsResponse`.
pub(crate) fn parse_presets(resp: &Element) -> Vec<PtzPreset> {
    resp.children_named("Preset")
        .filter_map(|p| {
            let token = p.attr("token")?.trim();
            if token.is_empty() || token.chars().count() > crate::media::MAX_TOKEN_CHARS {
                return None;
            }
            Some(PtzPreset {
                token: token.to_owned(),
                name: sanitize::device_string(p.text_at(&["Name"]).unwrap_or_default()),
                position: position(p.child("PTZPosition")),
            })
        })
        .take(MAX_PRESETS)
        .collect()
}

/// Reads a `GetStatusResponse`.
pub(crate) fn parse_status(resp: &Element) -> Result<PtzStatus> {
    let status = resp.child("PTZStatus").ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            "device reply to GetStatus has no PTZStatus",
        )
    })?;
    let moving = status.child("MoveStatus").and_then(|m| {
        let states: Vec<&str> = ["PanTilt", "Zoom"]
            .iter()
            .filter_map(|n| m.text_at(&[n]))
            .map(str::trim)
            .collect();
        if states.iter().any(|s| s.eq_ignore_ascii_case("MOVING")) {
            Some(true)
        } else if !states.is_empty() && states.iter().all(|s| s.eq_ignore_ascii_case("IDLE")) {
            Some(false)
        } else {
            None
        }
    });
    Ok(PtzStatus {
        position: position(status.child("Position")),
        moving,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn body(xml: &str) -> Element {
        let doc = format!(
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><s:Body>{xml}</s:Body></s:Envelope>"#
        );
        crate::xml::parse(doc.as_bytes()).unwrap()
    }

    #[test]
    fn presets_are_read_cleaned_and_bounded() {
        let long = "t".repeat(crate::media::MAX_TOKEN_CHARS + 1);
        let root = body(&format!(
            r#"<tptz:GetPresetsResponse>
              <tptz:Preset token="home"><tt:Name>Home</tt:Name><tt:PTZPosition>
                <tt:PanTilt x="0.0" y="0.0"/><tt:Zoom x="0.0"/></tt:PTZPosition></tptz:Preset>
              <tptz:Preset token="gate"><tt:Name>Gate&#x202E; &lt;b&gt;</tt:Name><tt:PTZPosition>
                <tt:PanTilt x="0.5" y="-0.25"/><tt:Zoom x="NaN"/></tt:PTZPosition></tptz:Preset>
              <tptz:Preset token=""><tt:Name>empty token</tt:Name></tptz:Preset>
              <tptz:Preset token="{long}"><tt:Name>too long</tt:Name></tptz:Preset>
              <tptz:Preset token="bare"/>
            </tptz:GetPresetsResponse>"#
        ));
        let resp = soap::response(&root, "GetPresetsResponse").unwrap();
        let p = parse_presets(resp);
        assert_eq!(p.len(), 3, "{p:?}");
        assert_eq!(p[0].token, "home");
        assert_eq!(p[0].name, "Home");
        assert_eq!(p[0].position, Some(PtzVector::default()));
        assert_eq!(
            p[1].name, "Gate <b>",
            "bidi override removed, markup kept as text"
        );
        assert_eq!(
            p[1].position,
            Some(PtzVector {
                pan: 0.5,
                tilt: -0.25,
                zoom: 0.0
            })
        );
        assert_eq!(p[2].token, "bare");
        assert_eq!(p[2].name, "");
        assert_eq!(p[2].position, None);
    }

    #[test]
    fn many_presets_are_capped() {
        let items: String = (0..MAX_PRESETS + 20)
            .map(|i| format!(r#"<tptz:Preset token="p{i}"/>"#))
            .collect();
        let root = body(&format!(
            "<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"
        ));
        let resp = soap::response(&root, "GetPresetsResponse").unwrap();
        assert_eq!(parse_presets(resp).len(), MAX_PRESETS);
    }

    #[test]
    fn status_reads_position_and_movement() {
        let root = body(
            r#"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>
                <tt:PanTilt x="0.5" y="0.1"/><tt:Zoom x="0.2"/></tt:Position>
                <tt:MoveStatus><tt:PanTilt>MOVING</tt:PanTilt><tt:Zoom>IDLE</tt:Zoom></tt:MoveStatus>
               </tptz:PTZStatus></tptz:GetStatusResponse>"#,
        );
        let s = parse_status(soap::response(&root, "GetStatusResponse").unwrap()).unwrap();
        assert_eq!(
            s.position,
            Some(PtzVector {
                pan: 0.5,
                tilt: 0.1,
                zoom: 0.2
            })
        );
        assert_eq!(s.moving, Some(true));
        // A device that fills in no clear movement state says nothing about it.
        let root = body(
            r#"<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position><tt:PanTilt x="0" y="0"/>
               </tt:Position><tt:MoveStatus><tt:PanTilt>{{x}}</tt:PanTilt></tt:MoveStatus>
               </tptz:PTZStatus></tptz:GetStatusResponse>"#,
        );
        let s = parse_status(soap::response(&root, "GetStatusResponse").unwrap()).unwrap();
        assert_eq!(s.moving, None);
        assert_eq!(s.position, Some(PtzVector::default()));
        let root = body("<tptz:GetStatusResponse/>");
        let e = parse_status(soap::response(&root, "GetStatusResponse").unwrap()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn bodies_escape_tokens_and_check_speeds() {
        let b = goto_preset_body("main<1>", "a&b");
        assert!(b.contains("<tptz:ProfileToken>main&lt;1&gt;</tptz:ProfileToken>"));
        assert!(b.contains("<tptz:PresetToken>a&amp;b</tptz:PresetToken>"));
        let m = continuous_move_body(
            "p",
            PtzVector {
                pan: 0.5,
                tilt: -1.0,
                zoom: 0.0,
            },
            5,
        )
        .unwrap();
        assert!(
            m.contains(r#"<tt:PanTilt x="0.5" y="-1"/><tt:Zoom x="0"/>"#),
            "{m}"
        );
        assert!(m.contains("<tptz:Timeout>PT5S</tptz:Timeout>"));
        for bad in [1.5, -1.01, f64::NAN, f64::INFINITY] {
            let e = continuous_move_body(
                "p",
                PtzVector {
                    pan: bad,
                    tilt: 0.0,
                    zoom: 0.0,
                },
                5,
            )
            .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        }
        assert!(stop_body("p").contains("<tptz:PanTilt>true</tptz:PanTilt>"));
        assert!(goto_home_body("p").starts_with("<tptz:GotoHomePosition>"));
        assert!(get_status_body("p").starts_with("<tptz:GetStatus>"));
        assert!(get_presets_body("p").starts_with("<tptz:GetPresets>"));
    }
}
