//! Cameras and their stream addresses.
//!
//! A [`CameraUrl`] is parsed strictly: `rtsp` or `rtsps` only (the site configuration file may also
//! name `file` and `http(s)` sources), a host, no credentials, no control
//! characters or whitespace, at most [`MAX_URL_LEN`] bytes. Credentials travel separately as
//! [`Credentials`], whose password never prints.

use crate::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;
use uuid::Uuid;

/// Longest camera URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest camera name accepted.
pub const MAX_NAME_LEN: usize = 200;

/// A camera's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CameraId(pub Uuid);

impl CameraId {
    /// A fresh random id.
    pub fn new_random() -> Self {
        CameraId(Uuid::new_v4())
    }

    /// Parses the hyphenated UUID form.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Uuid::parse_str(s)
            .map(CameraId)
            .map_err(|_| Error::new(ErrorKind::InvalidArgument, "camera id is not a UUID"))
    }
}

impl fmt::Display for CameraId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// A validated RTSP(S) URL without credentials.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CameraUrl(url::Url);

/// Where a camera's stream comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// An RTSP(S) camera (retina).
    Rtsp,
    /// A local H.264/H.265 video file, looped (GStreamer); configuration file only.
    File,
    /// An HTTP(S) H.264/H.265 stream or file (GStreamer); configuration file only.
    Http,
}

impl CameraUrl {
    /// Parses and validates a camera URL: `rtsp` or `rtsps` only. This is the parser for
    /// everything that reaches roeh from outside (API, CLI, ONVIF). See the module docs.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::parse_with(s, false)
    }

    /// Like [`CameraUrl::parse`], but also accepts the sources only the site's own
    /// configuration file may declare (TRUST S1/S14): `file:///absolute/path` and
    /// `http(s)://host/...` without credentials. Also used for URLs read back from the store,
    /// which only validated paths wrote.
    pub fn parse_local_source(s: &str) -> Result<Self, Error> {
        Self::parse_with(s, true)
    }

    fn parse_with(s: &str, local: bool) -> Result<Self, Error> {
        let bad = |why: &str| Error::new(ErrorKind::InvalidArgument, format!("camera URL {why}"));
        if s.len() > MAX_URL_LEN {
            return Err(bad(&format!("is longer than {MAX_URL_LEN} bytes")));
        }
        if s.is_empty() {
            return Err(bad("is empty"));
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad("contains control characters or whitespace"));
        }
        if s.contains(['`', '$', '|', ';', '\\', '"', '\'', '<', '>', '{', '}']) {
            return Err(bad(
                "contains characters that are not allowed (shell or quoting syntax)",
            ));
        }
        let lower = s.to_ascii_lowercase();
        if lower.contains("%0d") || lower.contains("%0a") || lower.contains("%00") {
            return Err(bad("contains encoded control characters"));
        }
        let url = url::Url::parse(s).map_err(|_| bad("is not a valid URL"))?;
        match url.scheme() {
            "rtsp" | "rtsps" => {}
            "file" | "http" | "https" if local => {}
            _ if local => {
                return Err(bad("must use the rtsp, rtsps, file, http or https scheme"));
            }
            _ => return Err(bad("must use the rtsp or rtsps scheme")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "must not contain credentials; pass username and password separately",
            ));
        }
        if url.fragment().is_some() {
            return Err(bad("must not contain a fragment"));
        }
        if url.scheme() == "file" {
            if url
                .host_str()
                .is_some_and(|h| !h.is_empty() && h != "localhost")
            {
                return Err(bad("must name a local file"));
            }
            let written_absolute =
                lower.starts_with("file:///") || lower.starts_with("file://localhost/");
            if !written_absolute || url.query().is_some() || url.to_file_path().is_err() {
                return Err(bad("must be an absolute file path"));
            }
        } else if matches!(url.host(), None | Some(url::Host::Domain("")))
            || s.split_once("://")
                .is_none_or(|(_, rest)| rest.starts_with('/'))
        {
            return Err(bad("has no host"));
        }
        Ok(CameraUrl(url))
    }

    /// What kind of source this is.
    pub fn kind(&self) -> SourceKind {
        match self.0.scheme() {
            "file" => SourceKind::File,
            "http" | "https" => SourceKind::Http,
            _ => SourceKind::Rtsp,
        }
    }

    /// The URL as text (never contains credentials).
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL.
    pub fn as_url(&self) -> &url::Url {
        &self.0
    }
}

impl fmt::Debug for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CameraUrl({})", self.0)
    }
}

impl fmt::Display for CameraUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl TryFrom<String> for CameraUrl {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        CameraUrl::parse(&s)
    }
}

impl From<CameraUrl> for String {
    fn from(u: CameraUrl) -> String {
        u.0.into()
    }
}

/// A secret string that never prints.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself. Call only where it is sent to its peer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Camera login, passed to the RTSP client as options, never inside URLs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}

/// RTP transport for RTSP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// RTP interleaved on the RTSP TCP connection (the default: works through NAT and firewalls).
    #[default]
    Tcp,
    /// RTP over UDP.
    Udp,
}

impl Transport {
    /// `tcp` or `udp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }

    /// Parses [`Transport::as_str`] output.
    pub fn parse(s: &str) -> Option<Transport> {
        match s {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            _ => None,
        }
    }
}

/// How long a camera's footage is kept. `None` means no limit of that kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Delete footage older than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest footage while the camera uses more than this many bytes.
    pub max_bytes: Option<u64>,
}

/// A camera as configured.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Camera {
    /// Identity.
    pub id: CameraId,
    /// Human name; validated by [`validate_name`].
    pub name: String,
    /// Stream URL (no credentials).
    pub url: CameraUrl,
    /// Login for the stream, if any.
    pub credentials: Option<Credentials>,
    /// RTP transport.
    pub transport: Transport,
    /// Whether roeh records it.
    pub enabled: bool,
    /// Retention policy.
    pub retention: Retention,
}

/// Checks a camera name: 1..=200 characters, no control characters.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::new(ErrorKind::InvalidArgument, format!("camera name {why}"));
    if name.trim().is_empty() {
        return Err(bad("is empty"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(bad(&format!("is longer than {MAX_NAME_LEN} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_rtsp() {
        for u in [
            "rtsp://127.0.0.1:8554/cam0",
            "rtsps://camera.example:322/live/main?channel=1",
            "rtsp://[::1]/x",
        ] {
            CameraUrl::parse(u).unwrap();
        }
    }

    #[test]
    fn refuses_hostile_urls() {
        let long = format!("rtsp://h/{}", "a".repeat(64 * 1024));
        let cases: Vec<&str> = vec![
            "rtsp://x/;id",
            "rtsp://x/$(id)",
            "rtsp://x/`id`",
            "rtsp://x/|id",
            "rtsp://a -i /etc/passwd",
            "exec:sh -c id",
            "echo:hello",
            "expr:1",
            "file:///etc/shadow",
            "ffmpeg:cam",
            "concat:a|b",
            "subfile,,start,0,end,0,,:x",
            "http://camera/stream",
            "rtsp://x/a%0d%0aInjected: yes",
            "rtsp://x/a\r\nInjected: yes",
            "rtsp://x/\u{7}",
            "rtsp://user:pass@cam/stream",
            "rtsp://user@cam/stream",
            "rtsp:///nohost",
            "",
            &long,
        ];
        for c in cases {
            let e = CameraUrl::parse(c).expect_err(c);
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{c}");
        }
    }

    #[test]
    fn local_sources_only_through_the_configuration_parser() {
        for u in [
            "file:///var/lib/roeh/clip.mp4",
            "http://10.0.0.5/live.ts",
            "https://h/x.mkv",
        ] {
            assert!(
                CameraUrl::parse(u).is_err(),
                "{u} accepted by the strict parser"
            );
            let url = CameraUrl::parse_local_source(u).unwrap();
            assert_ne!(url.kind(), SourceKind::Rtsp);
        }
        assert_eq!(
            CameraUrl::parse_local_source("rtsp://h/x").unwrap().kind(),
            SourceKind::Rtsp
        );
        for u in [
            "file://otherhost/etc/passwd",
            "file:relative/clip.mp4",
            "http://user:pw@h/x.ts",
            "http:///x.ts",
            "ftp://h/x.mp4",
            "file:///tmp/$(id).mp4",
            "concat:a|b",
        ] {
            assert!(CameraUrl::parse_local_source(u).is_err(), "{u}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials {
            username: "admin".into(),
            password: Secret::new("hunter2"),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
    }

    #[test]
    fn names() {
        validate_name("Gate 3 – north").unwrap();
        assert!(validate_name("").is_err());
        assert!(validate_name("a\nb").is_err());
        assert!(validate_name(&"x".repeat(201)).is_err());
    }
}
