//! ONVIF onboarding over HTTP against scripted devices on loopback (axum on 127.0.0.1:0, a raw
//! TCP peer that never answers, a UDP discovery responder): the good path stores a camera with
//! both profiles and starts it; every hostile or broken device is refused with a clear message
//! and nothing is stored.

#![allow(clippy::unwrap_used)]

mod support;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use roeh_api::onvif::OnvifSettings;
use roeh_api::{AppState, CameraControl, router};
use roeh_domain::{Camera, CameraId, StreamHealth};
use roeh_onvif::{Cidr, NetPolicy};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PASSWORD: &str = "Onvif-Pa55-never-shown";

#[derive(Default)]
struct Started(Mutex<Vec<CameraId>>);

impl CameraControl for Started {
    fn health(&self, _id: CameraId) -> Option<StreamHealth> {
        None
    }
    fn start_camera(&self, camera: Camera) {
        self.0.lock().unwrap().push(camera.id);
    }
    fn stop_camera(&self, id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        self.0.lock().unwrap().retain(|c| *c != id);
        Box::pin(async {})
    }
}

struct Env {
    app: axum::Router,
    started: Arc<Started>,
    store: roeh_store::Store,
    /// The database (see `support::database`).
    db: String,
    _dir: tempfile::TempDir,
}

fn loopback_policy() -> NetPolicy {
    let mut p = NetPolicy::new(vec![Cidr::parse("127.0.0.0/8").unwrap()]);
    p.timeout = Duration::from_secs(1);
    p.connect_timeout = Duration::from_secs(1);
    p.max_reply_bytes = 64 * 1024;
    p
}

async fn env_with(settings: OnvifSettings) -> Env {
    let site = support::default_site().await;
    let started = Arc::new(Started::default());
    let state = AppState {
        control: started.clone(),
        onvif: Arc::new(settings),
        ..site.state
    };
    Env {
        app: support::with_token(router(state), site.admin),
        started,
        store: site.store,
        db: site.db,
        _dir: site.dir,
    }
}

async fn env() -> Env {
    env_with(OnvifSettings::new(loopback_policy())).await
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    let (status, _, bytes) = support::send(app, req).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(!text.contains(PASSWORD), "password in a reply: {text}");
    let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, v)
}

async fn post(
    app: &axum::Router,
    uri: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    call(app, req).await
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    call(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

fn add_body(address: &str) -> serde_json::Value {
    serde_json::json!({
        "address": address, "name": "Gate 3", "username": "operator", "password": PASSWORD
    })
}

/// Asserts nothing was stored: no camera, no ONVIF device, nothing started.
async fn assert_nothing_stored(e: &Env) {
    assert!(e.store.list_cameras().await.unwrap().is_empty());
    assert!(e.store.list_onvif_devices().await.unwrap().is_empty());
    assert!(e.started.0.lock().unwrap().is_empty());
}

/// What the scripted device answers.
#[derive(Default)]
struct Script {
    base: String,
    /// Media service XAddr; default `<base>/onvif/media`.
    media_xaddr: Option<String>,
    /// Stream URI (`{token}` replaced); default `rtsp://127.0.0.1:8554/{token}`.
    stream_uri: Option<String>,
    /// Raw reply to GetDeviceInformation.
    device_info: Option<String>,
    /// Answer everything with a redirect.
    redirect: bool,
}

type Device = Arc<Mutex<Script>>;

fn envelope(body: &str) -> String {
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
            r#"xmlns:tt="http://www.onvif.org/ver10/schema" "#,
            r#"xmlns:tds="http://www.onvif.org/ver10/device/wsdl" "#,
            r#"xmlns:trt="http://www.onvif.org/ver10/media/wsdl">"#,
            "<s:Body>{}</s:Body></s:Envelope>"
        ),
        body
    )
}

fn profile(token: &str, w: u32, h: u32) -> String {
    format!(
        concat!(
            r#"<trt:Profiles token="{t}" fixed="true"><tt:Name>{t}</tt:Name>"#,
            r#"<tt:VideoEncoderConfiguration token="enc_{t}"><tt:Name>enc</tt:Name>"#,
            "<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{w}</tt:Width>",
            "<tt:Height>{h}</tt:Height></tt:Resolution><tt:RateControl>",
            "<tt:FrameRateLimit>10</tt:FrameRateLimit></tt:RateControl>",
            "</tt:VideoEncoderConfiguration></trt:Profiles>"
        ),
        t = token,
        w = w,
        h = h
    )
}

fn token_of(body: &str) -> String {
    let start = body
        .find("ProfileToken>")
        .map(|i| i + "ProfileToken>".len());
    start
        .and_then(|s| body.get(s..))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

async fn handle(State(dev): State<Device>, body: String) -> Response {
    let s = dev.lock().unwrap();
    if s.redirect {
        return Response::builder()
            .status(StatusCode::FOUND)
            .header(header::LOCATION, "http://169.254.169.254/latest/meta-data")
            .body(Body::empty())
            .unwrap();
    }
    let xml = if body.contains("<tds:GetSystemDateAndTime") {
        envelope(
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>\
             <tt:DateTimeType>Manual</tt:DateTimeType></tds:SystemDateAndTime>\
             </tds:GetSystemDateAndTimeResponse>",
        )
    } else if body.contains("<tds:GetDeviceInformation") {
        s.device_info.clone().unwrap_or_else(|| {
            envelope(
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme</tds:Manufacturer>\
                 <tds:Model>IPC-1</tds:Model><tds:FirmwareVersion>5.7</tds:FirmwareVersion>\
                 <tds:SerialNumber>SN-1</tds:SerialNumber><tds:HardwareId>HW-1</tds:HardwareId>\
                 </tds:GetDeviceInformationResponse>",
            )
        })
    } else if body.contains("<tds:GetCapabilities") {
        let media = s
            .media_xaddr
            .clone()
            .unwrap_or_else(|| format!("{}/onvif/media", s.base));
        envelope(&format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>{media}\
             </tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
        ))
    } else if body.contains("<trt:GetProfiles") {
        envelope(&format!(
            "<trt:GetProfilesResponse>{}{}</trt:GetProfilesResponse>",
            profile("Main", 1280, 720),
            profile("Sub", 640, 360)
        ))
    } else if body.contains("<trt:GetStreamUri") {
        let uri = s
            .stream_uri
            .clone()
            .unwrap_or_else(|| "rtsp://127.0.0.1:8554/{token}".into())
            .replace("{token}", &token_of(&body))
            .replace('&', "&amp;");
        envelope(&format!(
            "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri></trt:MediaUri>\
             </trt:GetStreamUriResponse>"
        ))
    } else if body.contains("<trt:GetSnapshotUri") {
        envelope(&format!(
            "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{}/snap.jpg</tt:Uri>\
             </trt:MediaUri></trt:GetSnapshotUriResponse>",
            s.base
        ))
    } else {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from("unknown"))
            .unwrap();
    };
    Response::builder()
        .header(header::CONTENT_TYPE, "application/soap+xml")
        .body(Body::from(xml))
        .unwrap()
}

/// Starts a scripted device; returns it and its device service URL.
async fn start_device(script: Script) -> (Device, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dev: Device = Arc::new(Mutex::new(Script {
        base: base.clone(),
        ..script
    }));
    let app = axum::Router::new().fallback(handle).with_state(dev.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (dev, format!("{base}/onvif/device_service"))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn add_by_address_stores_both_profiles_and_starts_recording() {
    let e = env().await;
    let (_dev, url) = start_device(Script::default()).await;
    let (st, v) = post(&e.app, "/api/onvif/add", add_body(&url)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = v["camera"]["id"].as_str().unwrap().to_owned();
    assert_eq!(v["camera"]["url"], "rtsp://127.0.0.1:8554/Main");
    assert_eq!(v["camera"]["has_password"], true);
    assert_eq!(v["onvif"]["main"]["token"], "Main");
    assert_eq!(v["onvif"]["main"]["width"], 1280);
    assert_eq!(v["onvif"]["sub"]["token"], "Sub");
    assert_eq!(v["onvif"]["sub"]["stream_url"], "rtsp://127.0.0.1:8554/Sub");
    assert_eq!(v["onvif"]["manufacturer"], "Acme");
    assert!(
        v["onvif"]["snapshot_url"]
            .as_str()
            .unwrap()
            .ends_with("/snap.jpg")
    );
    let cam_id = CameraId::parse(&id).unwrap();
    assert_eq!(*e.started.0.lock().unwrap(), vec![cam_id]);

    let (st, o) = get(&e.app, &format!("/api/cameras/{id}/onvif")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(o, v["onvif"]);
    assert!(!o.to_string().contains("password"));
    let (st, c) = get(&e.app, &format!("/api/cameras/{id}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(c["username"], "operator");

    // Stored encrypted: the password is not in the database files.
    let cam = e.store.get_camera(cam_id).await.unwrap().unwrap();
    assert_eq!(cam.credentials.unwrap().password.expose(), PASSWORD);
    let stored = support::database_bytes(&e.db);
    assert!(!contains(&stored, PASSWORD.as_bytes()));
    assert!(
        contains(&stored, b"Gate 3"),
        "the bytes read hold the camera"
    );

    // The same device is not added twice; a camera without ONVIF has no description.
    let (st, v) = post(&e.app, "/api/onvif/add", add_body(&url)).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(e.store.list_cameras().await.unwrap().len(), 1);
    let (st, _) = get(
        &e.app,
        &format!("/api/cameras/{}/onvif", CameraId::new_random()),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// Adds `url`, expects `status` with `kind` and a message containing `text`, and checks that
/// nothing was stored.
async fn refused(e: &Env, url: &str, status: StatusCode, kind: &str, text: &str) {
    let (st, v) = post(&e.app, "/api/onvif/add", add_body(url)).await;
    assert_eq!(st, status, "{url}: {v}");
    assert_eq!(v["error"]["kind"], kind, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains(text), "{url}: message {msg:?} lacks {text:?}");
    assert_nothing_stored(e).await;
}

#[tokio::test]
async fn addresses_outside_the_camera_networks_are_refused() {
    let e = env().await;
    for url in [
        "http://10.1.2.3/onvif/device_service",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/onvif/device_service",
    ] {
        refused(
            &e,
            url,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "outside the allowed camera networks",
        )
        .await;
    }
    refused(
        &e,
        "ftp://127.0.0.1/x",
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "device URL",
    )
    .await;
    refused(
        &e,
        "not a url",
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "not a valid URL",
    )
    .await;

    // A device inside whose media service or stream lies outside.
    let (_d, url) = start_device(Script {
        media_xaddr: Some("http://10.9.9.9/onvif/media".into()),
        ..Script::default()
    })
    .await;
    refused(
        &e,
        &url,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "outside the allowed camera networks",
    )
    .await;
    let (_d, url) = start_device(Script {
        stream_uri: Some("rtsp://192.168.1.5:554/{token}".into()),
        ..Script::default()
    })
    .await;
    refused(
        &e,
        &url,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "outside the allowed camera networks",
    )
    .await;
    // Redirects are not followed.
    let (_d, url) = start_device(Script {
        redirect: true,
        ..Script::default()
    })
    .await;
    refused(
        &e,
        &url,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "redirects are not followed",
    )
    .await;
}

#[tokio::test]
async fn stream_uris_with_credentials_or_odd_schemes_are_refused() {
    let e = env().await;
    let (_d, url) = start_device(Script {
        stream_uri: Some("rtsp://admin:devpass@127.0.0.1:8554/{token}".into()),
        ..Script::default()
    })
    .await;
    refused(
        &e,
        &url,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "embedded credentials",
    )
    .await;
    for odd in [
        "http://127.0.0.1/{token}",
        "file:///etc/passwd",
        "rtsp://127.0.0.1/$(id)",
        "exec:sh -c id",
    ] {
        let (_d, url) = start_device(Script {
            stream_uri: Some(odd.into()),
            ..Script::default()
        })
        .await;
        refused(
            &e,
            &url,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "stream URI refused",
        )
        .await;
    }
}

#[tokio::test]
async fn hostile_xml_oversized_replies_and_slow_devices_are_refused() {
    let e = env().await;
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><s:Body><tds:GetDeviceInformationResponse><tds:Manufacturer>&xxe;</tds:Manufacturer></tds:GetDeviceInformationResponse></s:Body></s:Envelope>"#;
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&lol3;</x></s:Body></s:Envelope>"#;
    for doc in [xxe, laughs] {
        let (_d, url) = start_device(Script {
            device_info: Some(doc.into()),
            ..Script::default()
        })
        .await;
        refused(
            &e,
            &url,
            StatusCode::BAD_REQUEST,
            "invalid_argument",
            "document type declarations",
        )
        .await;
    }
    let big = envelope(&format!(
        "<tds:GetDeviceInformationResponse><tds:Manufacturer>{}</tds:Manufacturer>\
         </tds:GetDeviceInformationResponse>",
        "A".repeat(200 * 1024)
    ));
    let (_d, url) = start_device(Script {
        device_info: Some(big),
        ..Script::default()
    })
    .await;
    refused(
        &e,
        &url,
        StatusCode::BAD_REQUEST,
        "invalid_argument",
        "larger than",
    )
    .await;

    // A device that accepts the connection and never answers: the request times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = silent.accept().await {
            keep.lock().unwrap().push(s);
        }
    });
    let (st, v) = post(
        &e.app,
        "/api/onvif/add",
        add_body(&format!("http://{addr}/onvif/device_service")),
    )
    .await;
    assert_eq!(st, StatusCode::GATEWAY_TIMEOUT, "{v}");
    assert_eq!(v["error"]["kind"], "deadline_exceeded");
    assert_nothing_stored(&e).await;
}

#[tokio::test]
async fn bad_requests_are_refused() {
    let e = env().await;
    let (_d, url) = start_device(Script::default()).await;
    for (body, text) in [
        (serde_json::json!({"name": "x"}), "exactly one"),
        (
            serde_json::json!({"name": "x", "address": url, "discovered_id": 1}),
            "exactly one",
        ),
        (
            serde_json::json!({"name": "x", "address": url, "password": "p"}),
            "needs a username",
        ),
        (serde_json::json!({"name": "", "address": url}), "name"),
        (
            serde_json::json!({"name": "x", "address": url, "extra": 1}),
            "unknown field",
        ),
    ] {
        let (st, v) = post(&e.app, "/api/onvif/add", body.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(text), "{body}: {msg}");
    }
    let (st, _) = post(
        &e.app,
        "/api/onvif/add",
        serde_json::json!({"name": "x", "discovered_id": 42}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_nothing_stored(&e).await;
}

/// Answers WS-Discovery probes on a loopback UDP port as one device per entry of `devices`
/// (`(endpoint, xaddr)`).
async fn discovery_responder(devices: Vec<(String, String)>) -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let probe = String::from_utf8_lossy(&buf[..n]).into_owned();
            let Some(id) = probe
                .split("MessageID>")
                .nth(1)
                .and_then(|s| s.split('<').next())
            else {
                continue;
            };
            let matches: String = devices
                .iter()
                .map(|(ep, x)| {
                    format!(
                        "<d:ProbeMatch><a:EndpointReference><a:Address>{ep}</a:Address>\
                         </a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>\
                         <d:Scopes>onvif://www.onvif.org/name/Cam%20{ep}</d:Scopes>\
                         <d:XAddrs>{x}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>\
                         </d:ProbeMatch>"
                    )
                })
                .collect();
            let reply = format!(
                concat!(
                    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                    r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" "#,
                    r#"xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" "#,
                    r#"xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" "#,
                    r#"xmlns:dn="http://www.onvif.org/ver10/network/wsdl">"#,
                    "<s:Header><a:MessageID>urn:uuid:reply</a:MessageID>",
                    "<a:RelatesTo>{}</a:RelatesTo></s:Header>",
                    "<s:Body><d:ProbeMatches>{}</d:ProbeMatches></s:Body></s:Envelope>"
                ),
                id, matches
            );
            let _ = sock.send_to(reply.as_bytes(), from).await;
        }
    });
    addr
}

#[tokio::test]
async fn discovered_devices_wait_for_approval_and_dismissed_ones_are_never_added() {
    let (_d1, url1) = start_device(Script::default()).await;
    let (_d2, url2) = start_device(Script {
        stream_uri: Some("rtsp://127.0.0.1:8554/two/{token}".into()),
        ..Script::default()
    })
    .await;
    let responder = discovery_responder(vec![
        ("urn:uuid:dev-1".into(), url1.clone()),
        ("urn:uuid:dev-2".into(), url2.clone()),
        // Advertises only an address outside the camera networks: dropped.
        (
            "urn:uuid:dev-3".into(),
            "http://10.1.1.1/onvif/device_service".into(),
        ),
    ])
    .await;
    let mut settings = OnvifSettings::new(loopback_policy());
    settings.unicast_targets = vec![responder];
    settings.discovery_timeout = Duration::from_millis(500);
    let e = env_with(settings).await;

    // Discovery stores candidates only.
    let (st, v) = post(&e.app, "/api/onvif/discover", serde_json::json!({})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let found = v.as_array().unwrap();
    assert_eq!(found.len(), 2, "{v}");
    assert!(found.iter().all(|d| d["state"] == "pending"));
    assert_nothing_stored(&e).await;
    let (_, list) = get(&e.app, "/api/onvif/discovered").await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let id_of = |ep: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["endpoint_ref"] == ep)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (id1, id2) = (id_of("urn:uuid:dev-1"), id_of("urn:uuid:dev-2"));
    assert_eq!(list[0]["xaddrs"][0], url1.as_str());
    assert_eq!(list[0]["name"], "Cam urn:uuid:dev-1");

    // Dismissed: never added, not even when it answers again.
    let (st, v) = post(
        &e.app,
        &format!("/api/onvif/discovered/{id2}/dismiss"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "dismissed");
    let (st, _) = post(&e.app, "/api/onvif/discover", serde_json::json!({})).await;
    assert_eq!(st, StatusCode::OK);
    let body = serde_json::json!({"discovered_id": id2, "name": "Two", "username": "operator", "password": PASSWORD});
    let (st, v) = post(&e.app, "/api/onvif/add", body).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["kind"], "failed_precondition");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dismissed")
    );
    assert_nothing_stored(&e).await;
    let (_, pending) = get(&e.app, "/api/onvif/discovered").await;
    assert_eq!(pending.as_array().unwrap().len(), 1);
    let (_, all) = get(&e.app, "/api/onvif/discovered?all=true").await;
    assert_eq!(all.as_array().unwrap().len(), 2);

    // Approved by id: added, and the entry records its camera.
    let body = serde_json::json!({"discovered_id": id1, "name": "One", "username": "operator", "password": PASSWORD});
    let (st, v) = post(&e.app, "/api/onvif/add", body.clone()).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(v["discovered_id"], id1);
    assert_eq!(v["onvif"]["endpoint_ref"], "urn:uuid:dev-1");
    let cam = v["camera"]["id"].clone();
    let (_, all) = get(&e.app, "/api/onvif/discovered?all=true").await;
    let one = all
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id1)
        .unwrap()
        .clone();
    assert_eq!(one["state"], "approved");
    assert_eq!(one["camera_id"], cam);
    let (st, _) = post(&e.app, "/api/onvif/add", body).await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _) = post(
        &e.app,
        &format!("/api/onvif/discovered/{id1}/dismiss"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    let (st, _) = post(
        &e.app,
        "/api/onvif/discovered/999/dismiss",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(e.store.list_cameras().await.unwrap().len(), 1);
}

#[tokio::test]
async fn discovery_without_targets_is_a_clear_error() {
    let e = env().await;
    let (st, v) = post(&e.app, "/api/onvif/discover", serde_json::json!({})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("probe_addresses")
    );
}

/// A camera whose device has no PTZ service shows no controls and refuses commands clearly; a
/// camera added without ONVIF likewise; a speed out of range is refused before the device is
/// asked; an unknown camera is not found.
#[tokio::test]
async fn ptz_commands_need_a_device_that_turns() {
    let e = env().await;
    let (_dev, url) = start_device(Script::default()).await;
    let (st, v) = post(&e.app, "/api/onvif/add", add_body(&url)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let id = v["camera"]["id"].as_str().unwrap().to_owned();
    let (st, v) = get(&e.app, &format!("/api/cameras/{id}/ptz")).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["available"], false);
    assert_eq!(v["away"], false);
    assert_eq!(v["position"], "home");
    assert_eq!(v["presets"], serde_json::json!([]));
    for (path, body) in [
        ("move", serde_json::json!({"pan": 0.5})),
        ("stop", serde_json::Value::Null),
        ("home", serde_json::Value::Null),
        ("presets/gate", serde_json::Value::Null),
    ] {
        let (st, v) = post(&e.app, &format!("/api/cameras/{id}/ptz/{path}"), body).await;
        assert_eq!(st, StatusCode::CONFLICT, "{path}: {v}");
        assert_eq!(v["error"]["kind"], "failed_precondition");
    }
    for bad in [
        serde_json::json!({"pan": 1.5}),
        serde_json::json!({"tilt": -2}),
        serde_json::json!({}),
        serde_json::json!({"pan": 0.5, "speed": 1}),
    ] {
        let (st, v) = post(&e.app, &format!("/api/cameras/{id}/ptz/move"), bad.clone()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    // Nothing was recorded as a move: the camera's rules still run.
    let cam = CameraId::parse(&id).unwrap();
    assert_eq!(e.store.ptz_state(cam).await.unwrap(), None);
    assert!(e.store.cameras_away_from_home().await.unwrap().is_empty());

    let ghost = CameraId::new_random();
    let (st, _) = get(&e.app, &format!("/api/cameras/{ghost}/ptz")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}
