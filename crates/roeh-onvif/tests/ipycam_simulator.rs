//! Acceptance test against a real virtual ONVIF camera: `ipycam==1.3.0` (PyPI), streaming the
//! project's test footage.
//!
//! ipycam binds all interfaces on fixed ports (HTTP 8080, RTSP 8554, WS-Discovery 3702), so the
//! test re-runs itself inside a private network namespace (`unshare -n`), where only loopback
//! exists, starts the camera there with WS-Security credentials enabled, and runs the client
//! against it: unicast and multicast discovery, then `probe_device`. No traffic leaves the
//! namespace.
//!
//! Prerequisites (the test prints `SKIPPED ipycam_simulator: …` and passes when one is missing):
//! the venv made by `crates/roeh-onvif/tests/setup-ipycam.sh` (or `ROEH_ONVIF_VENV`), the `ip`
//! and `unshare` commands, permission to create a network namespace (root), and the footage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use roeh_domain::{Credentials, ErrorKind, Secret, SystemClock};
use roeh_onvif::{Cidr, DiscoveryOptions, NetPolicy, OnvifClient, VideoEncoding, discover};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const INNER_ENV: &str = "ROEH_ONVIF_IN_NETNS";
const USER: &str = "operator";
const PASSWORD: &str = "Virtual-Cam-Pa55";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("ROEH_ONVIF_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/roeh/venv-onvif"));
    venv.join("bin/python")
}

fn footage() -> PathBuf {
    std::env::var_os("ROEH_FOOTAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/roeh/footage"))
        .join("vtest_h264.mp4")
}

fn skip(why: &str) {
    eprintln!("SKIPPED ipycam_simulator: {why}");
}

fn command_works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn ipycam_simulator() {
    if std::env::var_os(INNER_ENV).is_some() {
        inside_namespace();
        return;
    }
    if !venv_python().exists() {
        return skip(&format!(
            "{} not found; run crates/roeh-onvif/tests/setup-ipycam.sh",
            venv_python().display()
        ));
    }
    if !footage().exists() {
        return skip(&format!("footage {} not found", footage().display()));
    }
    if !command_works("ip", &["-V"]) {
        return skip("the `ip` command (iproute2) is not installed");
    }
    if !command_works("unshare", &["-n", "true"]) {
        return skip("cannot create a network namespace (`unshare -n` failed; needs root)");
    }
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new("unshare")
        .arg("-n")
        .arg("--")
        .arg(exe)
        .args([
            "--exact",
            "ipycam_simulator",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER_ENV, "1")
        .status()
        .expect("run the test inside unshare -n");
    assert!(
        status.success(),
        "simulator test inside the namespace failed: {status}"
    );
}

/// Kills the camera when dropped.
struct Camera {
    child: Child,
    log: PathBuf,
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Camera {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

fn run(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd).args(args).status().expect(cmd);
    assert!(st.success(), "{cmd} {args:?} failed");
}

fn start_camera(dir: &Path) -> Camera {
    let config = dir.join("camera_config.json");
    std::fs::write(
        &config,
        format!(
            r#"{{"name": "Roeh-Test-Cam", "username": "{USER}", "password": "{PASSWORD}",
               "main_width": 768, "main_height": 576, "main_fps": 10,
               "sub_width": 640, "sub_height": 360, "sub_fps": 10,
               "show_timestamp": false, "hw_accel": "cpu"}}"#
        ),
    )
    .unwrap();
    let log = dir.join("ipycam.log");
    let out = std::fs::File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let child = Command::new(venv_python())
        .args(["-m", "ipycam", "--config"])
        .arg(&config)
        .arg("--source")
        .arg(footage())
        .args(["--log-level", "WARNING"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start ipycam");
    let cam = Camera { child, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect_timeout(&"127.0.0.1:8080".parse().unwrap(), Duration::from_secs(1))
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "ipycam did not open port 8080 within 30 s; log:\n{}",
            cam.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    cam
}

fn inside_namespace() {
    run("ip", &["link", "set", "lo", "up"]);
    run("ip", &["link", "set", "lo", "multicast", "on"]);
    run("ip", &["route", "add", "224.0.0.0/4", "dev", "lo"]);
    let dir = std::env::temp_dir().join(format!("roeh-ipycam-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cam = start_camera(&dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(checks())));
    if result.is_err() {
        eprintln!("ipycam log tail:\n{}", cam.log_tail());
    }
    drop(cam);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

async fn checks() {
    let policy = NetPolicy::new(vec![Cidr::parse("127.0.0.0/8").unwrap()]);
    let xaddr = "http://127.0.0.1:8080/onvif/device_service";

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
    assert_eq!(main.fps, Some(10.0));
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
