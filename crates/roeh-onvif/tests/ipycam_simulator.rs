//! Acceptance test against a real virtual ONVIF camera: `ipycam==1.3.0` (PyPI), streaming the
//! project's test footage.
//!
//! ipycam binds all interfaces on fixed ports (HTTP 8080, RTSP 8554, WS-Discovery 3702), so the
//! test re-runs itself inside a private network namespace (`unshare -n`), where only loopback
//! exists, starts the camera there with WS-Security credentials enabled, and runs the client
//! against it: unicast and multicast discovery, then `probe_device`, then PTZ (presets, moves,
//! home). No traffic leaves the namespace.
//!
//! Prerequisites (installed by `scripts/setup.sh`; a missing one fails the test unless
//! `ROEH_ALLOW_SKIP=1`): the venv made by `crates/roeh-onvif/tests/setup-ipycam.sh` (or
//! `ROEH_ONVIF_VENV`), the `ip` and `unshare` commands, permission to create a network namespace
//! (root), and the footage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use roeh_domain::{Credentials, ErrorKind, Secret, SystemClock};
use roeh_onvif::{
    Cidr, DiscoveryOptions, NetPolicy, OnvifClient, PtzVector, VideoEncoding, discover,
};
use roeh_testkit::ipycam::{self, Camera};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

const INNER_ENV: &str = "ROEH_ONVIF_IN_NETNS";
const USER: &str = "operator";
const PASSWORD: &str = "Virtual-Cam-Pa55";

#[test]
fn ipycam_simulator() {
    ipycam::in_private_netns(
        "ipycam_simulator",
        INNER_ENV,
        "ipycam_simulator",
        inside_namespace,
    );
}

fn inside_namespace() {
    ipycam::prepare_loopback().unwrap();
    let dir = std::env::temp_dir().join(format!("roeh-ipycam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    ipycam::write_ptz_presets(
        &dir,
        &[
            ("home", "Home", 0.0, 0.0, 0.0),
            ("gate", "Gate", 0.5, -0.25, 0.5),
        ],
    )
    .unwrap();
    let cam = Camera::start(&dir, USER, PASSWORD).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    ipycam::tell_logs_on_failure(cam, None, || rt.block_on(checks()));
    let _ = std::fs::remove_dir_all(&dir);
}

async fn checks() {
    let policy = NetPolicy::new(vec![Cidr::parse("127.0.0.0/8").unwrap()]);
    let xaddr = ipycam::DEVICE_SERVICE_URL;

    // Discovery by unicast, then by multicast on loopback; retried briefly while the camera's
    // discovery thread comes up.
    for multicast in [false, true] {
        let mut opts = DiscoveryOptions::new(policy.clone());
        opts.timeout = Duration::from_secs(2);
        if multicast {
            opts.multicast_interface = Some(Ipv4Addr::LOCALHOST);
        } else {
            opts.unicast_targets = vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 3702))];
        }
        let mut found = Vec::new();
        for _ in 0..5 {
            found = discover(&opts).await.expect("discover");
            if !found.is_empty() {
                break;
            }
        }
        assert_eq!(found.len(), 1, "multicast={multicast}: {found:?}");
        let d = &found[0];
        assert!(d.endpoint_ref.starts_with("urn:uuid:"), "{d:?}");
        assert_eq!(d.xaddrs.len(), 1);
        assert_eq!(d.xaddrs[0].as_str(), xaddr);
        assert_eq!(d.scopes.name.as_deref(), Some("Roeh-Test-Cam"));
        assert!(d.types.iter().any(|t| t == "dn:NetworkVideoTransmitter"));
    }

    // Full probe with WS-Security (ipycam verifies the PasswordDigest and Created skew).
    let creds = Credentials {
        username: USER.into(),
        password: Secret::new(PASSWORD),
    };
    let client = OnvifClient::new(
        url::Url::parse(xaddr).unwrap(),
        Some(creds),
        &policy,
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    let s = client.probe_device().await.expect("probe_device");
    assert_eq!(s.info.manufacturer, "PythonCam");
    assert_eq!(s.info.model, "VirtualCam-1");
    assert_eq!(s.info.serial_number, "PY-000001");
    assert_eq!(s.info.hardware_id, "PY-HW-01");
    assert_eq!(s.info.firmware_version, "1.3.0");
    let offset = s.clock_offset_micros.expect("clock offset");
    assert!(
        offset.abs() < 5_000_000,
        "same host clock, offset {offset} µs"
    );
    assert_eq!(
        s.media_url.as_str(),
        "http://127.0.0.1:8080/onvif/media_service"
    );
    assert_eq!(s.profiles.len(), 2, "{:?}", s.profiles);

    let main = s.main_profile().expect("main profile");
    assert_eq!(main.token, "Profile_Main");
    assert_eq!((main.width, main.height), (Some(768), Some(576)));
    assert_eq!(main.encoding, Some(VideoEncoding::H264));
    assert_eq!(main.fps, Some(ipycam::FPS as f32));
    assert_eq!(
        main.stream_uri.as_ref().map(|u| u.as_str()),
        Some("rtsp://127.0.0.1:8554/video_main")
    );
    let sub = s.sub_profile().expect("sub profile");
    assert_eq!(sub.token, "Profile_Sub");
    assert_eq!((sub.width, sub.height), (Some(640), Some(360)));
    assert_eq!(
        sub.stream_uri.as_ref().map(|u| u.as_str()),
        Some("rtsp://127.0.0.1:8554/video_sub")
    );
    for p in [main, sub] {
        assert_eq!(
            p.snapshot_uri.as_ref().map(url::Url::as_str),
            Some("http://127.0.0.1:8080/snapshot.jpg")
        );
        assert!(!p.stream_credentials_stripped);
    }

    // The advertised RTSP endpoint really serves the stream.
    let reply = rtsp_options("127.0.0.1:8554", "rtsp://127.0.0.1:8554/video_main");
    assert!(
        reply.starts_with("RTSP/1.0 200"),
        "RTSP OPTIONS answered: {reply}"
    );

    ptz_checks(&client, &main.token).await;

    // Wrong password: refused by the camera, and the password is not in the error.
    let wrong = OnvifClient::new(
        url::Url::parse(xaddr).unwrap(),
        Some(Credentials {
            username: USER.into(),
            password: Secret::new("Wrong-Pa55-xyz"),
        }),
        &policy,
        Arc::new(SystemClock::new()),
    )
    .unwrap();
    let e = wrong.probe_device().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    let text = format!("{e} {} {e:?}", e.chain());
    assert!(
        !text.contains("Wrong-Pa55-xyz") && !text.contains(PASSWORD),
        "{text}"
    );

    // With the camera outside the allow-list nothing is sent at all.
    let lan = NetPolicy::new(vec![Cidr::parse("10.0.0.0/8").unwrap()]);
    let e = OnvifClient::new(
        url::Url::parse(xaddr).unwrap(),
        None,
        &lan,
        Arc::new(SystemClock::new()),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

fn rtsp_options(addr: &str, url: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect RTSP");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The PTZ service: presets, going to one, moving and stopping, going home, with the camera's
/// own status as the proof of where it points.
async fn ptz_checks(client: &OnvifClient, profile: &str) {
    assert!(client.has_ptz().await.expect("has_ptz"));
    let presets = client.ptz_presets(profile).await.expect("GetPresets");
    let mut tokens: Vec<&str> = presets.iter().map(|p| p.token.as_str()).collect();
    tokens.sort_unstable();
    assert_eq!(tokens, ["gate", "home"], "{presets:?}");
    let g = presets.iter().find(|p| p.token == "gate").unwrap();
    assert_eq!(g.name, "Gate");
    let gate = PtzVector {
        pan: 0.5,
        tilt: -0.25,
        zoom: 0.5,
    };
    assert_eq!(g.position, Some(gate));

    client
        .ptz_goto_preset(profile, "gate")
        .await
        .expect("GotoPreset");
    let s = client.ptz_status(profile).await.expect("GetStatus");
    assert_eq!(s.position, Some(gate), "{s:?}");

    // A continuous move changes the position until it is stopped.
    client
        .ptz_continuous_move(
            profile,
            PtzVector {
                pan: -1.0,
                tilt: 0.0,
                zoom: 0.0,
            },
            5,
        )
        .await
        .expect("ContinuousMove");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = client.ptz_status(profile).await.unwrap().position.unwrap();
        if p.pan < gate.pan - 0.05 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the camera did not pan: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client.ptz_stop(profile).await.expect("Stop");
    let a = client.ptz_status(profile).await.unwrap().position.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = client.ptz_status(profile).await.unwrap().position.unwrap();
    assert_eq!(a, b, "the camera still moves after Stop");

    client
        .ptz_goto_home(profile)
        .await
        .expect("GotoHomePosition");
    let s = client.ptz_status(profile).await.unwrap();
    assert_eq!(s.position, Some(PtzVector::default()), "{s:?}");

    // A speed out of range is refused before anything is sent.
    let e = client
        .ptz_continuous_move(
            profile,
            PtzVector {
                pan: 2.0,
                tilt: 0.0,
                zoom: 0.0,
            },
            5,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}
