//! Fixture tests: recorded-style ONVIF replies served by a local axum device on 127.0.0.1:0, and
//! raw TCP / UDP peers for hostile behaviour (stalls, floods of bytes, redirects, spoofed
//! discovery replies). Every test talks only to loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use roeh_domain::{Clock, Credentials, ErrorKind, Secret, SimClock, WallTime};
use roeh_onvif::{Cidr, DiscoveryOptions, NetPolicy, OnvifClient, VideoEncoding, discover};
use sha1::Digest as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{OPERATIONS, fixture, soap_reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const PASSWORD: &str = "S3cr3t-Pa55-do-not-leak";
const USER: &str = "operator";

fn creds() -> Credentials {
    Credentials {
        username: USER.into(),
        password: Secret::new(PASSWORD),
    }
}

fn loopback_policy() -> NetPolicy {
    let mut p = NetPolicy::new(vec![Cidr::parse("127.0.0.0/8").unwrap()]);
    p.timeout = Duration::from_secs(2);
    p.connect_timeout = Duration::from_secs(1);
    p
}

/// Our clock: 30 s behind the fixture device (which says 20:12:30Z).
fn sim_clock() -> Arc<dyn Clock> {
    Arc::new(SimClock::new(
        WallTime::parse("2026-11-22T20:12:00Z").unwrap(),
    ))
}

/// Asserts the password is nowhere in an error's text, chain or debug form.
fn assert_no_secret(e: &roeh_onvif::Error) {
    let all = format!("{e} | {} | {e:?}", e.chain());
    assert!(!all.contains(PASSWORD), "password leaked: {all}");
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Auth {
    None,
    WsSecurity,
    Digest { sha256: bool },
}

/// One request seen: (path, op, Created of the UsernameToken if any, Authorization if any).
type Logged = (String, String, Option<String>, Option<String>);

/// A scripted ONVIF device.
#[derive(Debug)]
struct Device {
    auth: Auth,
    base: Mutex<String>,
    media_xaddr: Mutex<Option<String>>,
    stream_uri: Mutex<Option<String>>,
    snapshot_uri: Mutex<Option<String>>,
    device_info: Mutex<Option<String>>,
    log: Mutex<Vec<Logged>>,
    /// The Digest nonce now current.
    digest_nonce: Mutex<String>,
    /// Accepted requests after which the nonce is replaced (later answers to the old one get a
    /// `stale=true` challenge); `None`: the nonce never changes.
    nonce_lifetime: Mutex<Option<usize>>,
    nonce_uses: AtomicUsize,
    stale_401s: AtomicUsize,
    /// A `WWW-Authenticate` value sent instead of the usual Digest challenge.
    challenge: Mutex<Option<String>>,
}

impl Device {
    fn new(auth: Auth) -> Arc<Self> {
        Arc::new(Device {
            auth,
            base: Mutex::new(String::new()),
            media_xaddr: Mutex::new(None),
            stream_uri: Mutex::new(None),
            snapshot_uri: Mutex::new(None),
            device_info: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            digest_nonce: Mutex::new("dcd98b7102dd2f0e8b11d0f600bfb0c093".into()),
            nonce_lifetime: Mutex::new(None),
            nonce_uses: AtomicUsize::new(0),
            stale_401s: AtomicUsize::new(0),
            challenge: Mutex::new(None),
        })
    }
}

/// Text of the first element whose start tag is exactly `open` (followed by `>` or a space).
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let mut from = 0;
    loop {
        let i = from + s.get(from..)?.find(open)? + open.len();
        let rest = s.get(i..)?;
        if rest.starts_with('>') || rest.starts_with(' ') {
            let rest = rest.get(rest.find('>')? + 1..)?;
            return rest.get(..rest.find(close)?);
        }
        from = i;
    }
}

fn op_of(body: &str) -> &'static str {
    for op in OPERATIONS {
        if body.contains(&format!("<tds:{op}")) || body.contains(&format!("<trt:{op}")) {
            return op;
        }
    }
    "unknown"
}

/// Independent check of a UsernameToken (the formula from the WS-Security UsernameToken
/// profile, computed here without the library).
fn ws_security_ok(body: &str) -> bool {
    let (Some(user), Some(pw), Some(nonce), Some(created)) = (
        between(body, "<wsse:Username", "</wsse:Username>"),
        between(body, "<wsse:Password", "</wsse:Password>"),
        between(body, "<wsse:Nonce", "</wsse:Nonce>"),
        between(body, "<wsu:Created", "</wsu:Created>"),
    ) else {
        return false;
    };
    let Ok(nonce) = B64.decode(nonce) else {
        return false;
    };
    let mut h = sha1::Sha1::new();
    h.update(&nonce);
    h.update(created.as_bytes());
    h.update(PASSWORD.as_bytes());
    user == USER && B64.encode(h.finalize()) == pw
}

/// The value of `k` in an `Authorization` header.
fn authz_field(authz: &str, k: &str) -> Option<String> {
    let i = authz.find(&format!(" {k}="))? + k.len() + 2;
    let rest = authz.get(i..)?;
    if let Some(r) = rest.strip_prefix('"') {
        Some(r.get(..r.find('"')?)?.to_owned())
    } else {
        Some(rest.split([',', ' ']).next()?.to_owned())
    }
}

/// Independent check of an RFC 7616 Digest `Authorization` header with qop=auth. Returns the
/// nonce it answers if the response is right for that nonce.
fn digest_ok(authz: &str, sha256: bool) -> Option<String> {
    let h = |s: String| -> String {
        if sha256 {
            hex::encode(sha2::Sha256::digest(s.as_bytes()))
        } else {
            hex::encode(md5::Md5::digest(s.as_bytes()))
        }
    };
    let field = |k: &str| authz_field(authz, k);
    let (Some(user), Some(uri), Some(nc), Some(cnonce), Some(resp), Some(nonce)) = (
        field("username"),
        field("uri"),
        field("nc"),
        field("cnonce"),
        field("response"),
        field("nonce"),
    ) else {
        return None;
    };
    let ha1 = h(format!("{user}:roeh-test:{PASSWORD}"));
    let ha2 = h(format!("POST:{uri}"));
    let want = h(format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    (user == USER && want == resp).then_some(nonce)
}

async fn handle(
    State(dev): State<Arc<Device>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let op = op_of(&body);
    let authz = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let created = between(&body, "<wsu:Created", "</wsu:Created>").map(str::to_owned);
    dev.log
        .lock()
        .unwrap()
        .push((uri.path().to_owned(), op.to_owned(), created, authz.clone()));
    match dev.auth {
        Auth::None => {}
        Auth::WsSecurity => {
            if op != "GetSystemDateAndTime" && !ws_security_ok(&body) {
                return soap_reply(StatusCode::BAD_REQUEST, fixture("fault_not_authorized.xml"));
            }
        }
        Auth::Digest { sha256 } => {
            let current = dev.digest_nonce.lock().unwrap().clone();
            let answered = authz.as_deref().and_then(|a| digest_ok(a, sha256));
            if answered.as_deref() == Some(current.as_str()) {
                let lifetime = *dev.nonce_lifetime.lock().unwrap();
                if lifetime.is_some_and(|n| dev.nonce_uses.fetch_add(1, Ordering::SeqCst) + 1 >= n)
                {
                    dev.nonce_uses.store(0, Ordering::SeqCst);
                    *dev.digest_nonce.lock().unwrap() = format!("{current}x");
                }
            } else {
                // A right answer for an earlier nonce: that nonce is stale.
                let stale = answered.is_some();
                if stale {
                    dev.stale_401s.fetch_add(1, Ordering::SeqCst);
                }
                let alg = if sha256 { "SHA-256" } else { "MD5" };
                let mut r = Response::new(Body::from("Unauthorized"));
                *r.status_mut() = StatusCode::UNAUTHORIZED;
                let v = dev.challenge.lock().unwrap().clone().unwrap_or_else(|| {
                    format!(
                        r#"Digest realm="roeh-test", qop="auth", nonce="{current}", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm={alg}{}"#,
                        if stale { ", stale=true" } else { "" }
                    )
                });
                r.headers_mut()
                    .append(header::WWW_AUTHENTICATE, HeaderValue::from_str(&v).unwrap());
                r.headers_mut().append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="roeh-test""#),
                );
                return r;
            }
        }
    }
    let base = dev.base.lock().unwrap().clone();
    let xml = match op {
        "GetSystemDateAndTime" => fixture("get_system_date_and_time.xml"),
        "GetDeviceInformation" => dev.device_info.lock().unwrap().clone().unwrap_or_else(|| {
            fixture("get_device_information.xml").replace("{{LONG}}", &"9".repeat(400))
        }),
        "GetCapabilities" => {
            let media = dev
                .media_xaddr
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| format!("{base}/onvif/Media"));
            fixture("get_capabilities.xml")
                .replace("{{DEVICE_XADDR}}", &format!("{base}/onvif/device_service"))
                .replace("{{MEDIA_XADDR}}", &media)
        }
        "GetProfiles" => fixture("get_profiles.xml"),
        "GetStreamUri" => {
            let token = between(&body, "<trt:ProfileToken", "</trt:ProfileToken>").unwrap_or("");
            let host = base
                .trim_start_matches("http://")
                .split(':')
                .next()
                .unwrap_or("");
            let uri = dev
                .stream_uri
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| format!("rtsp://{host}:8554/Streaming/Channels/{token}"));
            fixture("get_stream_uri.xml").replace("{{URI}}", &xml_escape(&uri))
        }
        "GetSnapshotUri" => {
            let token = between(&body, "<trt:ProfileToken", "</trt:ProfileToken>").unwrap_or("");
            if token == "Profile_3" {
                return soap_reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    fixture("fault_action_not_supported.xml"),
                );
            }
            let uri = dev
                .snapshot_uri
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| format!("{base}/onvif/snapshot?token={token}"));
            fixture("get_snapshot_uri.xml").replace("{{URI}}", &xml_escape(&uri))
        }
        _ => {
            return soap_reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                fixture("fault_action_not_supported.xml"),
            );
        }
    };
    soap_reply(StatusCode::OK, xml)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;")
}

/// Starts the scripted device; returns its base URL (`http://127.0.0.1:PORT`).
async fn start_device(dev: Arc<Device>) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    *dev.base.lock().unwrap() = base.clone();
    let app = Router::new().fallback(handle).with_state(dev);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    url::Url::parse(&format!("{base}/onvif/device_service")).unwrap()
}

fn client(url: url::Url, creds: Option<Credentials>) -> OnvifClient {
    OnvifClient::new(url, creds, &loopback_policy(), sim_clock()).unwrap()
}

#[tokio::test]
async fn full_probe_with_ws_security() {
    let dev = Device::new(Auth::WsSecurity);
    let url = start_device(dev.clone()).await;
    let port = url.port().unwrap();
    let s = client(url.clone(), Some(creds()))
        .probe_device()
        .await
        .unwrap();

    assert_eq!(s.clock_offset_micros, Some(30_000_000));
    assert_eq!(s.info.manufacturer, "Acme Vision <script>alert(1)</script>");
    assert!(
        s.info.model.starts_with("IPC-4MP-gpj.exe999"),
        "{}",
        s.info.model
    );
    assert_eq!(
        s.info.model.chars().count(),
        roeh_onvif::MAX_DEVICE_STRING_CHARS
    );
    assert_eq!(s.info.firmware_version, "V5.7.3 build 230915");
    assert_eq!(s.info.serial_number, "ACME-00042");
    assert_eq!(s.info.hardware_id, "HW-1.0");
    assert_eq!(
        s.media_url.as_str(),
        format!("http://127.0.0.1:{port}/onvif/Media")
    );

    assert_eq!(s.profiles.len(), 4);
    let main = s.main_profile().unwrap();
    assert_eq!(main.token, "Profile_1");
    assert_eq!((main.width, main.height), (Some(2560), Some(1440)));
    assert_eq!(main.encoding, Some(VideoEncoding::H264));
    assert_eq!(main.fps, Some(25.0));
    assert_eq!(
        main.stream_uri.as_ref().unwrap().as_str(),
        "rtsp://127.0.0.1:8554/Streaming/Channels/Profile_1"
    );
    assert_eq!(
        main.snapshot_uri.as_ref().unwrap().as_str(),
        format!("http://127.0.0.1:{port}/onvif/snapshot?token=Profile_1")
    );
    let sub = s.sub_profile().unwrap();
    assert_eq!(sub.token, "Profile_2");
    assert_eq!(sub.encoding, Some(VideoEncoding::H265));
    assert_eq!((sub.width, sub.height), (Some(640), Some(360)));
    // The 176x144 profile is below the sub minimum; its snapshot faulted (optional).
    let third = &s.profiles[2];
    assert!(third.stream_uri.is_some() && third.snapshot_uri.is_none());
    // Audio-only profile: no encoder, no URIs asked for.
    assert!(s.profiles[3].encoding.is_none() && s.profiles[3].stream_uri.is_none());

    let log = dev.log.lock().unwrap().clone();
    // Clock first and unauthenticated; every later request carries a token whose Created is our
    // clock plus the device's offset.
    assert_eq!(log[0].1, "GetSystemDateAndTime");
    assert_eq!(log[0].2, None);
    for (path, op, created, authz) in &log[1..] {
        assert_eq!(created.as_deref(), Some("2026-11-22T20:12:30.000Z"), "{op}");
        assert!(authz.is_none());
        let want = if matches!(
            op.as_str(),
            "GetProfiles" | "GetStreamUri" | "GetSnapshotUri"
        ) {
            "/onvif/Media"
        } else {
            "/onvif/device_service"
        };
        assert_eq!(path, want, "{op}");
    }
}

#[tokio::test]
async fn wrong_password_is_permission_denied_without_leaking() {
    let dev = Device::new(Auth::WsSecurity);
    let url = start_device(dev).await;
    let wrong = Credentials {
        username: USER.into(),
        password: Secret::new("not-the-password"),
    };
    let e = client(url.clone(), Some(wrong))
        .probe_device()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(!e.chain().contains("not-the-password"));
    let e = client(url, None).probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
}

#[tokio::test]
async fn http_digest_md5_and_sha256() {
    for sha256 in [false, true] {
        let dev = Device::new(Auth::Digest { sha256 });
        let url = start_device(dev.clone()).await;
        let s = client(url.clone(), Some(creds()))
            .probe_device()
            .await
            .unwrap();
        assert_eq!(s.main_profile().unwrap().token, "Profile_1");
        let log = dev.log.lock().unwrap().clone();
        // One challenge answered, then the challenge is reused with a rising nonce count.
        assert!(log[0].3.is_none());
        let counts: Vec<String> = log
            .iter()
            .filter_map(|l| l.3.as_ref())
            .map(|a| a.split("nc=").nth(1).unwrap()[..8].to_owned())
            .collect();
        assert_eq!(counts.first().map(String::as_str), Some("00000001"));
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
        let unauth = log.iter().filter(|l| l.3.is_none()).count();
        assert_eq!(unauth, 1, "only the first request goes without Digest");
        for a in log.iter().filter_map(|l| l.3.as_ref()) {
            assert!(!a.contains(PASSWORD));
            assert!(a.contains(if sha256 {
                "algorithm=SHA-256"
            } else {
                "algorithm=MD5"
            }));
        }

        let wrong = Credentials {
            username: USER.into(),
            password: Secret::new("nope"),
        };
        let e = client(url.clone(), Some(wrong))
            .probe_device()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        let e = client(url, None).probe_device().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
        assert_no_secret(&e);
    }
}

#[tokio::test]
async fn http_digest_stale_nonce_is_answered_with_the_new_one() {
    let dev = Device::new(Auth::Digest { sha256: true });
    *dev.nonce_lifetime.lock().unwrap() = Some(2);
    let url = start_device(dev.clone()).await;
    let s = client(url, Some(creds())).probe_device().await.unwrap();
    assert_eq!(s.main_profile().unwrap().token, "Profile_1");
    let stale = dev.stale_401s.load(Ordering::SeqCst);
    assert!(stale >= 2, "only {stale} stale nonces");
    let log = dev.log.lock().unwrap().clone();
    assert_eq!(log.iter().filter(|l| l.3.is_none()).count(), 1);
    let answers: Vec<(&str, String, String)> = log
        .iter()
        .filter_map(|l| {
            let a = l.3.as_ref()?;
            Some((
                l.1.as_str(),
                authz_field(a, "nonce")?,
                authz_field(a, "nc")?,
            ))
        })
        .collect();
    assert!(answers.iter().all(|a| a.1.starts_with(&answers[0].1)));
    for w in answers.windows(2) {
        let ((op0, nonce0, nc0), (op1, nonce1, nc1)) = (&w[0], &w[1]);
        if nonce0 == nonce1 {
            assert!(nc0 < nc1, "{answers:?}");
        } else {
            // The stale answer is retried once, for the same operation, with the new nonce.
            assert_eq!(op0, op1, "{answers:?}");
            assert_eq!(nc1, "00000001", "{answers:?}");
            assert!(nonce1.len() > nonce0.len(), "{answers:?}");
        }
    }
    let nonces: std::collections::BTreeSet<&String> = answers.iter().map(|a| &a.1).collect();
    assert_eq!(nonces.len(), stale + 1, "{answers:?}");
}

#[tokio::test]
async fn unusable_digest_challenge_is_invalid_argument() {
    for challenge in [
        r#"Digest realm="roeh-test", qop="auth", nonce="unterminated"#,
        r#"Digest realm="roeh-test", qop="auth", nonce="n", algorithm=SHA-512-256"#,
        r#"Digest realm="roeh-test", qop="auth-int", nonce="n""#,
        r#"Digest qop="auth", nonce="n""#,
    ] {
        let dev = Device::new(Auth::Digest { sha256: false });
        *dev.challenge.lock().unwrap() = Some(challenge.into());
        let url = start_device(dev.clone()).await;
        let e = client(url, Some(creds())).probe_device().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{challenge}: {e}");
        assert!(e.to_string().contains("Digest challenge"), "{e}");
        assert_no_secret(&e);
        assert!(dev.log.lock().unwrap().iter().all(|l| l.3.is_none()));
    }
}

#[tokio::test]
async fn xxe_and_billion_laughs_refused() {
    for (name, body) in [
        ("xxe", fixture("xxe_device_information.xml")),
        ("billion laughs", fixture("billion_laughs.xml")),
    ] {
        let dev = Device::new(Auth::None);
        *dev.device_info.lock().unwrap() = Some(body);
        let url = start_device(dev).await;
        let e = client(url, Some(creds())).probe_device().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{name}: {e}");
        assert!(e.to_string().contains("document type"), "{name}: {e}");
        assert!(!e.chain().contains("root:"), "{name}: file content leaked");
        assert_no_secret(&e);
    }
}

#[tokio::test]
async fn xaddr_outside_allow_list_refused() {
    let dev = Device::new(Auth::None);
    *dev.media_xaddr.lock().unwrap() = Some("http://169.254.169.254/onvif/Media".into());
    let url = start_device(dev.clone()).await;
    let e = client(url, Some(creds())).probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.to_string()
            .contains("outside the allowed camera networks"),
        "{e}"
    );
    assert!(dev.log.lock().unwrap().iter().all(|l| l.1 != "GetProfiles"));
    assert_no_secret(&e);

    // The device URL itself is checked before anything is sent.
    let e = OnvifClient::new(
        url::Url::parse("http://169.254.169.254/onvif/device_service").unwrap(),
        None,
        &loopback_policy(),
        sim_clock(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    // Loopback is refused when the allow-list does not include it.
    let lan_only = NetPolicy::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
    for u in [
        "http://127.0.0.1:1/x",
        "http://[::ffff:127.0.0.1]:1/x",
        "http://2130706433:1/x",
    ] {
        let e = OnvifClient::new(url::Url::parse(u).unwrap(), None, &lan_only, sim_clock())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{u}");
    }
    let e = OnvifClient::new(
        url::Url::parse(&format!("http://{USER}:{PASSWORD}@127.0.0.1:1/x")).unwrap(),
        None,
        &loopback_policy(),
        sim_clock(),
    )
    .unwrap_err();
    assert_no_secret(&e);
}

#[tokio::test]
async fn hostile_stream_and_snapshot_uris() {
    // Refused outright.
    for uri in [
        "rtsp://10.9.9.9/outside",
        "file:///etc/passwd",
        "rtsp://127.0.0.1/$(id)",
        "rtsp://127.0.0.1/`id`",
        "http://127.0.0.1/stream",
        "rtsp://127.0.0.1 -i /etc/passwd",
        "rtsp://169.254.169.254/latest",
    ] {
        let dev = Device::new(Auth::None);
        *dev.stream_uri.lock().unwrap() = Some(uri.into());
        let url = start_device(dev).await;
        let e = client(url, Some(creds())).probe_device().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{uri}: {e}");
        assert!(
            e.to_string().contains("stream URI refused") || e.to_string().contains("outside"),
            "{uri}: {e}"
        );
    }
    // Credentials in the URI: stripped and flagged, never kept.
    let dev = Device::new(Auth::None);
    *dev.stream_uri.lock().unwrap() = Some(format!(
        "rtsp://admin:{PASSWORD}@127.0.0.1:554/live?channel=1"
    ));
    *dev.snapshot_uri.lock().unwrap() = Some(format!("http://admin:{PASSWORD}@127.0.0.1/snap.jpg"));
    let url = start_device(dev).await;
    let s = client(url, Some(creds())).probe_device().await.unwrap();
    let main = s.main_profile().unwrap();
    assert_eq!(
        main.stream_uri.as_ref().unwrap().as_str(),
        "rtsp://127.0.0.1:554/live?channel=1"
    );
    assert!(main.stream_credentials_stripped);
    assert_eq!(
        main.snapshot_uri.as_ref().unwrap().as_str(),
        "http://127.0.0.1/snap.jpg"
    );
    assert!(!format!("{s:?}").contains(PASSWORD));
    // A snapshot URI outside the allow-list fails the probe.
    let dev = Device::new(Auth::None);
    *dev.snapshot_uri.lock().unwrap() = Some("http://169.254.169.254/latest/meta-data".into());
    let url = start_device(dev).await;
    let e = client(url, Some(creds())).probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

/// What a raw hostile peer does after reading a request.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Sends headers and a little body, then goes silent.
    Stall,
    /// Declares 5 MB and sends it.
    HugeDeclared,
    /// Chunked, never-ending body.
    Endless,
    /// 302 to the cloud metadata address.
    Redirect,
}

async fn start_hostile(mode: Hostile, sent: Arc<AtomicUsize>, hits: Arc<AtomicUsize>) -> url::Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let sent = sent.clone();
            hits.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let chunk = vec![b'<'; 64 * 1024];
                match mode {
                    Hostile::Stall => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 4096\r\n\r\n<?xml version=\"1.0\"?><s:Envelope")
                            .await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Hostile::HugeDeclared => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 5242880\r\n\r\n")
                            .await;
                        for _ in 0..80 {
                            if s.write_all(&chunk).await.is_err() {
                                return;
                            }
                            sent.fetch_add(chunk.len(), Ordering::SeqCst);
                        }
                    }
                    Hostile::Endless => {
                        let _ = s
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\n\r\n")
                            .await;
                        loop {
                            let head = format!("{:x}\r\n", chunk.len());
                            if s.write_all(head.as_bytes()).await.is_err()
                                || s.write_all(&chunk).await.is_err()
                                || s.write_all(b"\r\n").await.is_err()
                            {
                                return;
                            }
                            sent.fetch_add(chunk.len(), Ordering::SeqCst);
                        }
                    }
                    Hostile::Redirect => {
                        let _ = s
                            .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    url::Url::parse(&format!("http://{addr}/onvif/device_service")).unwrap()
}

#[tokio::test]
async fn stalled_device_times_out() {
    let sent = Arc::new(AtomicUsize::new(0));
    let url = start_hostile(Hostile::Stall, sent, Arc::new(AtomicUsize::new(0))).await;
    let start = Instant::now();
    let e = client(url, Some(creds())).probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_no_secret(&e);
}

#[tokio::test]
async fn oversized_replies_refused_without_buffering() {
    for mode in [Hostile::HugeDeclared, Hostile::Endless] {
        let sent = Arc::new(AtomicUsize::new(0));
        let url = start_hostile(mode, sent.clone(), Arc::new(AtomicUsize::new(0))).await;
        let start = Instant::now();
        let e = client(url, Some(creds())).probe_device().await.unwrap_err();
        // Refused for size (not a timeout): the endless body proves the client stops reading
        // rather than buffering until the end.
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{mode:?}: {e}");
        assert!(
            e.to_string().contains("larger than 1048576 bytes"),
            "{mode:?}: {e}"
        );
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test]
async fn redirect_not_followed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let url = start_hostile(
        Hostile::Redirect,
        Arc::new(AtomicUsize::new(0)),
        hits.clone(),
    )
    .await;
    let e = client(url, Some(creds())).probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("redirect"), "{e}");
    assert!(!e.to_string().contains("169.254"), "{e}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "exactly one connection, no follow-up"
    );
}

#[tokio::test]
async fn unreachable_device_is_unavailable() {
    // Bind then drop to get a port with nothing listening.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/onvif/device_service")).unwrap();
    let e = client(url, Some(creds())).probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert_no_secret(&e);
}

/// A fake camera answering unicast probes, plus noise: a reply to someone else's probe, a spoofed
/// duplicate with an SSRF XAddr, an oversized datagram, and garbage.
#[tokio::test]
async fn unicast_discovery_filters_and_dedups() {
    let cam = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cam_addr: SocketAddr = cam.local_addr().unwrap();
    let http_port = 18080;
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        let Ok((n, from)) = cam.recv_from(&mut buf).await else {
            return;
        };
        let probe = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(probe.contains("dn:NetworkVideoTransmitter"));
        let id = between(&probe, "<a:MessageID", "</a:MessageID>")
            .unwrap()
            .to_owned();
        assert!(id.starts_with("urn:uuid:"));
        let make = |relates: &str, endpoint: &str, xaddrs: &str| {
            fixture("probe_match.xml")
                .replace("{{RELATES_TO}}", relates)
                .replace("{{ENDPOINT}}", endpoint)
                .replace("{{XADDRS}}", xaddrs)
        };
        let good = make(
            &id,
            "urn:uuid:cam-1",
            &format!("http://127.0.0.1:{http_port}/onvif/device_service http://169.254.169.254/x"),
        );
        let unrelated = make(
            "urn:uuid:someone-else",
            "urn:uuid:cam-2",
            "http://127.0.0.1/a",
        );
        let spoof = make(&id, "urn:uuid:cam-1", "http://127.0.0.2/evil");
        let only_bad = make(&id, "urn:uuid:cam-3", "http://169.254.169.254/latest");
        let huge = make(
            &id,
            "urn:uuid:cam-4",
            &format!("http://127.0.0.1/{}", "a".repeat(70_000)),
        );
        let xxe = fixture("xxe_device_information.xml");
        for d in [
            &unrelated,
            &good,
            &spoof,
            &only_bad,
            &xxe,
            &"garbage<<<".to_owned(),
        ] {
            cam.send_to(d.as_bytes(), from).await.unwrap();
        }
        // Larger than the client's datagram cap (but a legal UDP size).
        let _ = cam
            .send_to(&huge.as_bytes()[..huge.len().min(65_000)], from)
            .await;
    });
    let mut opts = DiscoveryOptions::new(loopback_policy());
    opts.unicast_targets = vec![cam_addr];
    opts.timeout = Duration::from_millis(800);
    opts.max_datagram_bytes = 16 * 1024;
    let found = discover(&opts).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(d.endpoint_ref, "urn:uuid:cam-1");
    assert_eq!(d.from, cam_addr);
    assert_eq!(
        d.xaddrs.iter().map(url::Url::as_str).collect::<Vec<_>>(),
        vec![format!("http://127.0.0.1:{http_port}/onvif/device_service").as_str()]
    );
    assert_eq!(d.scopes.name.as_deref(), Some("Gate 3 North"));
    assert_eq!(d.scopes.hardware.as_deref(), Some("IPC-4MP"));
    assert_eq!(d.scopes.location.as_deref(), Some("city/harbour"));
    assert!(d.types.iter().any(|t| t == "dn:NetworkVideoTransmitter"));

    // A unicast target outside the allow-list is never probed.
    let mut opts = DiscoveryOptions::new(loopback_policy());
    opts.unicast_targets = vec!["169.254.169.254:3702".parse().unwrap()];
    assert_eq!(
        discover(&opts).await.unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
}
