//! Media profiles, stream and snapshot URI checking, and the main/sub profile choice.
//!
//! Rules (invariants of every value this module returns):
//! - a stream URI must pass [`CameraUrl::parse`] (rtsp/rtsps only, no shell syntax, no control
//!   characters). If it carries user-info (`rtsp://user:pw@host/…`), the user-info is **stripped and
//!   discarded**: roeh always uses the operator-entered [`roeh_domain::Credentials`], never ones a
//!   device advertises, and the profile is flagged [`MediaProfile::stream_credentials_stripped`];
//! - a snapshot URI must be `http` or `https`, with user-info stripped the same way;
//! - the host of every returned URI is an IP inside the allow-list: IP literals are checked, names
//!   are resolved once and replaced by the pinned address (so a later connection cannot be
//!   rebound to another address);
//! - main/sub selection ([`select_profiles`]) is deterministic; see [`SelectionRule`].

use crate::policy::NetPolicy;
use crate::xml::Element;
use crate::{Error, Result, sanitize};
use roeh_domain::{CameraUrl, ErrorKind};
use std::fmt;

/// Longest profile token kept (ONVIF `ReferenceToken` is at most 64 characters).
pub const MAX_TOKEN_CHARS: usize = 64;
/// Most profiles read from one device.
pub const MAX_PROFILES: usize = 32;

/// Video codec of a profile's encoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoEncoding {
    /// H.264 / AVC.
    H264,
    /// H.265 / HEVC.
    H265,
    /// Motion JPEG.
    Jpeg,
    /// MPEG-4 part 2.
    Mpeg4,
    /// Anything else the device named.
    Other,
}

impl VideoEncoding {
    fn parse(s: &str) -> VideoEncoding {
        match s.trim().to_ascii_uppercase().as_str() {
            "H264" | "H.264" => VideoEncoding::H264,
            "H265" | "H.265" | "HEVC" => VideoEncoding::H265,
            "JPEG" | "MJPEG" => VideoEncoding::Jpeg,
            "MPEG4" => VideoEncoding::Mpeg4,
            _ => VideoEncoding::Other,
        }
    }

    /// Whether roeh can record it (H.264 or H.265).
    pub fn is_recordable(self) -> bool {
        matches!(self, VideoEncoding::H264 | VideoEncoding::H265)
    }
}

impl fmt::Display for VideoEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VideoEncoding::H264 => "H264",
            VideoEncoding::H265 => "H265",
            VideoEncoding::Jpeg => "JPEG",
            VideoEncoding::Mpeg4 => "MPEG4",
            VideoEncoding::Other => "other",
        })
    }
}

/// One media profile with its URIs.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaProfile {
    /// Profile token (cleaned, at most [`MAX_TOKEN_CHARS`]).
    pub token: String,
    /// Profile name (cleaned).
    pub name: String,
    /// Encoder, if the profile has a video encoder configuration.
    pub encoding: Option<VideoEncoding>,
    /// Encoded width in pixels.
    pub width: Option<u32>,
    /// Encoded height in pixels.
    pub height: Option<u32>,
    /// Frame rate limit, if the device gave one.
    pub fps: Option<f32>,
    /// RTSP stream URI (RTP-Unicast over RTSP), checked and pinned.
    pub stream_uri: Option<CameraUrl>,
    /// Whether user-info was removed from the device's stream URI.
    pub stream_credentials_stripped: bool,
    /// JPEG snapshot URI, checked and pinned, if the device offers one.
    pub snapshot_uri: Option<url::Url>,
}

impl MediaProfile {
    /// Width × height, if both are known.
    pub fn pixels(&self) -> Option<u64> {
        Some(u64::from(self.width?) * u64::from(self.height?))
    }
}

fn parse_dim(s: Option<&str>) -> Option<u32> {
    let v: u32 = s?.trim().parse().ok()?;
    (1..=16384).contains(&v).then_some(v)
}

/// Reads `GetProfilesResponse` into profiles (URIs not yet filled). Tokens must be present,
/// non-empty and unique.
pub(crate) fn parse_profiles(resp: &Element) -> Result<Vec<MediaProfile>> {
    let mut out: Vec<MediaProfile> = Vec::new();
    for p in resp.children_named("Profiles").take(MAX_PROFILES) {
        let token = p.attr("token").map(|t| sanitize::clean(t, MAX_TOKEN_CHARS));
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "device listed a profile without a token",
            ));
        };
        if out.iter().any(|o| o.token == token) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "device listed two profiles with the same token",
            ));
        }
        let name = sanitize::device_string(p.text_at(&["Name"]).unwrap_or_default());
        let vec = p.child("VideoEncoderConfiguration");
        let encoding = vec.and_then(|v| v.text_at(&["Encoding"]).map(VideoEncoding::parse));
        let width = vec.and_then(|v| parse_dim(v.text_at(&["Resolution", "Width"])));
        let height = vec.and_then(|v| parse_dim(v.text_at(&["Resolution", "Height"])));
        let fps = vec
            .and_then(|v| v.text_at(&["RateControl", "FrameRateLimit"]))
            .and_then(|f| f.parse::<f32>().ok())
            .filter(|f| f.is_finite() && *f > 0.0 && *f <= 1000.0);
        out.push(MediaProfile {
            token,
            name,
            encoding,
            width,
            height,
            fps,
            stream_uri: None,
            stream_credentials_stripped: false,
            snapshot_uri: None,
        });
    }
    Ok(out)
}

/// The URL text with any user-info removed from the authority, and whether there was any. The
/// authority ends at the first `/`, `?` or `#` after `://`; user-info ends at its last `@`.
fn without_userinfo(raw: &str) -> (std::borrow::Cow<'_, str>, bool) {
    let Some(scheme_end) = raw.find("://") else {
        return (raw.into(), false);
    };
    let auth_start = scheme_end + 3;
    let rest = raw.get(auth_start..).unwrap_or_default();
    let auth_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..auth_len).unwrap_or_default();
    match authority.rfind('@') {
        Some(at) => {
            let head = raw.get(..auth_start).unwrap_or_default();
            let tail = rest.get(at + 1..).unwrap_or_default();
            (format!("{head}{tail}").into(), true)
        }
        None => (raw.into(), false),
    }
}

/// Removes user-info; returns whether there was any.
fn strip_userinfo(url: &mut url::Url) -> bool {
    let had = !url.username().is_empty() || url.password().is_some();
    if had {
        // Both only fail for URLs that cannot have a host, which were refused already.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    had
}

/// Replaces the host of `url` with the pinned address from the policy.
async fn pin_host(policy: &NetPolicy, url: &mut url::Url, what: &str) -> Result<()> {
    let addr = policy.resolve_pinned(url, what).await?;
    if matches!(url.host(), Some(url::Host::Domain(_))) {
        url.set_ip_host(addr.ip()).map_err(|()| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("{what} URI host cannot be pinned"),
            )
        })?;
    }
    Ok(())
}

/// Checks a device-returned stream URI. Returns the URI and whether user-info was stripped.
/// Error messages never contain the URI (it may carry a password).
pub async fn check_stream_uri(policy: &NetPolicy, raw: &str) -> Result<(CameraUrl, bool)> {
    let refused = |why: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("device stream URI refused: {why}"),
        )
    };
    let raw = raw.trim();
    if raw.len() > roeh_domain::camera::MAX_URL_LEN {
        return Err(refused("too long".into()));
    }
    // The strict checks run on the device's own text (minus user-info): parsing first would
    // percent-encode characters such as backticks and hide them from the checks.
    let (text, stripped) = without_userinfo(raw);
    let cam = CameraUrl::parse(&text).map_err(|e| refused(e.message().to_owned()))?;
    let mut url = cam.as_url().clone();
    pin_host(policy, &mut url, "stream").await?;
    let cam = CameraUrl::parse(url.as_str()).map_err(|e| refused(e.message().to_owned()))?;
    Ok((cam, stripped))
}

/// Checks a device-returned snapshot URI (`http`/`https`; user-info stripped; host pinned).
pub async fn check_snapshot_uri(policy: &NetPolicy, raw: &str) -> Result<url::Url> {
    let refused = |why: &str| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("device snapshot URI refused: {why}"),
        )
    };
    let raw = raw.trim();
    if raw.len() > roeh_domain::camera::MAX_URL_LEN {
        return Err(refused("too long"));
    }
    if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(refused("contains control characters or whitespace"));
    }
    if raw.contains(['`', '$', '|', '\\', '"', '\'', '<', '>', '{', '}']) {
        return Err(refused("contains shell or quoting characters"));
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%0d") || lower.contains("%0a") || lower.contains("%00") {
        return Err(refused("contains encoded control characters"));
    }
    let mut url = url::Url::parse(raw).map_err(|_| refused("not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused("scheme must be http or https"));
    }
    if url.host().is_none() {
        return Err(refused("has no host"));
    }
    strip_userinfo(&mut url);
    url.set_fragment(None);
    pin_host(policy, &mut url, "snapshot").await?;
    Ok(url)
}

/// How the main (recording) and sub (analysis) profiles are chosen.
///
/// Candidates are profiles with a recordable encoding (H.264/H.265), a known resolution and a
/// stream URI.
/// - **main**: the candidate with the most pixels; ties go to the higher frame rate, then to the
///   device's order.
/// - **sub**: among the *other* candidates with width ≥ `min_sub_width` and height ≥
///   `min_sub_height`, the one with the fewest pixels; ties go to the device's order. `None` if
///   there is no such profile (callers then analyse the main stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectionRule {
    /// Smallest width a sub profile may have.
    pub min_sub_width: u32,
    /// Smallest height a sub profile may have.
    pub min_sub_height: u32,
}

impl Default for SelectionRule {
    /// 320×180: below that, detection is not useful.
    fn default() -> Self {
        SelectionRule {
            min_sub_width: 320,
            min_sub_height: 180,
        }
    }
}

/// Picks `(main, sub)` indexes into `profiles` per [`SelectionRule`].
pub fn select_profiles(
    profiles: &[MediaProfile],
    rule: SelectionRule,
) -> (Option<usize>, Option<usize>) {
    let candidates: Vec<(usize, &MediaProfile, u64)> = profiles
        .iter()
        .enumerate()
        .filter(|(_, p)| p.encoding.is_some_and(VideoEncoding::is_recordable))
        .filter(|(_, p)| p.stream_uri.is_some())
        .filter_map(|(i, p)| p.pixels().map(|px| (i, p, px)))
        .collect();
    let mut main: Option<(usize, u64, f32)> = None;
    for &(i, p, px) in &candidates {
        let fps = p.fps.unwrap_or(0.0);
        let better = match main {
            None => true,
            Some((_, mpx, mfps)) => px > mpx || (px == mpx && fps > mfps),
        };
        if better {
            main = Some((i, px, fps));
        }
    }
    let main_idx = main.map(|m| m.0);
    let mut sub: Option<(usize, u64)> = None;
    for &(i, p, px) in &candidates {
        if Some(i) == main_idx {
            continue;
        }
        let (Some(w), Some(h)) = (p.width, p.height) else {
            continue;
        };
        if w < rule.min_sub_width || h < rule.min_sub_height {
            continue;
        }
        if sub.is_none_or(|(_, spx)| px < spx) {
            sub = Some((i, px));
        }
    }
    (main_idx, sub.map(|s| s.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Cidr;

    fn prof(token: &str, enc: VideoEncoding, w: u32, h: u32, fps: f32) -> MediaProfile {
        MediaProfile {
            token: token.into(),
            name: token.into(),
            encoding: Some(enc),
            width: Some(w),
            height: Some(h),
            fps: Some(fps),
            stream_uri: Some(CameraUrl::parse(&format!("rtsp://10.0.0.1/{token}")).unwrap()),
            stream_credentials_stripped: false,
            snapshot_uri: None,
        }
    }

    #[test]
    fn selection_rule() {
        use VideoEncoding::*;
        let ps = vec![
            prof("sub", H264, 640, 360, 10.0),
            prof("tiny", H264, 176, 144, 5.0),
            prof("main", H265, 1920, 1080, 25.0),
            prof("main30", H264, 1920, 1080, 30.0),
            prof("mjpeg", Jpeg, 3840, 2160, 5.0),
            prof("mid", H264, 1280, 720, 25.0),
        ];
        assert_eq!(
            select_profiles(&ps, SelectionRule::default()),
            (Some(3), Some(0))
        );
        // Only one usable profile: no sub.
        let one = vec![
            prof("only", H264, 768, 576, 10.0),
            prof("tiny", H264, 160, 120, 5.0),
        ];
        assert_eq!(
            select_profiles(&one, SelectionRule::default()),
            (Some(0), None)
        );
        assert_eq!(select_profiles(&[], SelectionRule::default()), (None, None));
    }

    #[tokio::test]
    async fn stream_uri_rules() {
        let p = NetPolicy::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
        let (u, stripped) = check_stream_uri(&p, "rtsp://admin:pw@10.1.2.3:554/live?ch=1")
            .await
            .unwrap();
        assert_eq!(u.as_str(), "rtsp://10.1.2.3:554/live?ch=1");
        assert!(stripped);
        for bad in [
            "file:///etc/passwd",
            "rtsp://10.1.2.3/$(id)",
            "rtsp://10.1.2.3/;id",
            "rtsp://10.1.2.3/`id`",
            "rtsp://u:p@10.1.2.3/`id`",
            "http://10.1.2.3/stream",
            "rtsp://169.254.169.254/x",
            "rtsp://127.0.0.1/x",
            "rtsp://10.1.2.3/a%0d%0aX: y",
            "exec:sh -c id",
        ] {
            let e = check_stream_uri(&p, bad).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
            assert!(!e.to_string().contains("10.1.2.3/"), "{e}");
        }
        let s = check_snapshot_uri(&p, "http://u:secretpw@10.1.2.3/snap.jpg")
            .await
            .unwrap();
        assert_eq!(s.as_str(), "http://10.1.2.3/snap.jpg");
        for bad in [
            "file:///etc/passwd",
            "http://169.254.169.254/",
            "ftp://10.1.2.3/x",
        ] {
            assert!(check_snapshot_uri(&p, bad).await.is_err(), "{bad}");
        }
    }
}
