//! Acceptance of ONVIF onboarding against a real virtual ONVIF camera, `ipycam==1.3.0`, streaming
//! the project's test footage: discovery lists it, an operator adds it (both profiles stored,
//! credentials encrypted and never shown), and `roeh serve` records it like any camera.
//!
//! ipycam binds all interfaces on fixed ports (HTTP 8080, RTSP 8554, WS-Discovery 3702), so the
//! test re-runs itself inside a private network namespace (`unshare -n`) where only loopback
//! exists; no traffic leaves it.
//!
//! Prerequisites (installed by `scripts/setup.sh`; a missing one fails the test unless
//! `ROEH_ALLOW_SKIP=1`): the venv of `crates/roeh-onvif/tests/setup-ipycam.sh` (or
//! `ROEH_ONVIF_VENV`), the `ip` and `unshare` commands, permission to create a network namespace
//! (root), and the footage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{BIN, Site, get_json, wait_streaming};
use roeh_testkit::ipycam::{self, Camera};
use roeh_testkit::wait_for;
use std::process::Command;
use std::time::Duration;

const INNER_ENV: &str = "ROEH_ONVIF_ACCEPTANCE_IN_NETNS";
const USER: &str = "operator";
const PASSWORD: &str = "Virtual-Cam-Pa55-acceptance";
const XADDR: &str = ipycam::DEVICE_SERVICE_URL;

#[test]
fn onvif_camera_is_discovered_approved_added_and_recorded() {
    ipycam::in_private_netns(
        "onvif",
        INNER_ENV,
        "onvif_camera_is_discovered_approved_added_and_recorded",
        inside_namespace,
    );
}

fn inside_namespace() {
    ipycam::prepare_loopback().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let cam = Camera::start(dir.path(), USER, PASSWORD).unwrap();
    eprintln!(
        "[onvif] camera up after {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let site = Site::new(1.0, &[]);
    let mut toml = std::fs::read_to_string(&site.config).unwrap();
    toml.push_str(
        "[onvif]\nallowed_networks = [\"127.0.0.0/8\"]\ndiscovery_interface = \"127.0.0.1\"\n\
         probe_addresses = [\"127.0.0.1:3702\"]\ndiscovery_timeout_secs = 2.0\n",
    );
    std::fs::write(&site.config, toml).unwrap();
    ipycam::tell_logs_on_failure(cam, Some(&site.log), || story(&site, t0));
}

fn post(url: &str, body: serde_json::Value) -> (u16, String) {
    let r = roeh_testkit::request(reqwest::Method::POST, url)
        .json(&body)
        .timeout(Duration::from_secs(60))
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// Asserts that the site lists no camera.
fn assert_no_cameras(base: &str) {
    let cams = get_json(&format!("{base}/api/cameras"));
    assert!(cams.as_array().unwrap().is_empty(), "{cams}");
}

fn get_text(url: &str) -> String {
    roeh_testkit::get(url).unwrap().text().unwrap()
}

fn roeh(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Prints how long the story has run when it reaches `what` (to see where a slow run spends it).
fn mark(t0: std::time::Instant, what: &str) {
    eprintln!("[onvif] {what} after {:.1} s", t0.elapsed().as_secs_f64());
}

fn story(site: &Site, t0: std::time::Instant) {
    let (proc_, base) = site.serve();

    // Discovery (unicast and multicast probes) lists the camera for approval, and adds nothing.
    let found = wait_for(
        "the camera to answer discovery",
        Duration::from_secs(60),
        || {
            let (st, text) = post(&format!("{base}/api/onvif/discover"), serde_json::json!({}));
            assert_eq!(st, 200, "{text}");
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            (!v.as_array()?.is_empty()).then_some(v)
        },
    )
    .unwrap();
    mark(t0, "discovered");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(d["state"], "pending");
    assert_eq!(d["xaddrs"], serde_json::json!([XADDR]));
    assert_eq!(d["name"], "Roeh-Test-Cam");
    assert!(d["endpoint_ref"].as_str().unwrap().starts_with("urn:uuid:"));
    let discovered_id = d["id"].as_i64().unwrap();
    let pending = get_json(&format!("{base}/api/onvif/discovered"));
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_no_cameras(&base);

    // A wrong password is refused by the camera: nothing stored, the entry stays pending.
    let (st, text) = post(
        &format!("{base}/api/onvif/add"),
        serde_json::json!({"discovered_id": discovered_id, "name": "Gate",
                           "username": USER, "password": "Wrong-Pa55-xyz"}),
    );
    assert_eq!(st, 403, "{text}");
    assert!(!text.contains("Wrong-Pa55-xyz"));
    assert_no_cameras(&base);

    // Approving it adds the camera with both profiles and starts recording.
    let (st, text) = post(
        &format!("{base}/api/onvif/add"),
        serde_json::json!({"discovered_id": discovered_id, "name": "ONVIF gate",
                           "username": USER, "password": PASSWORD}),
    );
    assert_eq!(st, 201, "{text}");
    assert!(!text.contains(PASSWORD), "password in the reply: {text}");
    let added: serde_json::Value = serde_json::from_str(&text).unwrap();
    let id = added["camera"]["id"].as_str().unwrap().to_owned();
    assert_eq!(added["camera"]["url"], "rtsp://127.0.0.1:8554/video_main");
    assert_eq!(added["camera"]["has_password"], true);
    assert_eq!(added["discovered_id"], discovered_id);
    let o = &added["onvif"];
    assert_eq!(o["device_url"], XADDR);
    assert_eq!(o["manufacturer"], "PythonCam");
    assert_eq!(o["model"], "VirtualCam-1");
    assert_eq!(o["serial_number"], "PY-000001");
    assert_eq!(o["main"]["token"], "Profile_Main");
    assert_eq!(
        (o["main"]["width"].as_u64(), o["main"]["height"].as_u64()),
        (Some(768), Some(576))
    );
    assert_eq!(o["main"]["encoding"], "H264");
    assert_eq!(o["main"]["stream_url"], "rtsp://127.0.0.1:8554/video_main");
    assert_eq!(o["sub"]["token"], "Profile_Sub");
    assert_eq!(
        (o["sub"]["width"].as_u64(), o["sub"]["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(o["sub"]["stream_url"], "rtsp://127.0.0.1:8554/video_sub");
    assert_eq!(o["snapshot_url"], "http://127.0.0.1:8080/snapshot.jpg");

    // Recorded like any camera: streaming, segments committed at the main profile's size.
    mark(t0, "added");
    let cams = wait_streaming(&base, Some(1)).unwrap();
    mark(t0, "streaming");
    assert_eq!(cams[0]["id"], id.as_str());
    let segs = wait_for("two committed segments", Duration::from_secs(60), || {
        let v = get_json(&format!("{base}/api/cameras/{id}/segments"));
        (v.as_array()?.len() >= 2).then_some(v)
    })
    .unwrap();
    mark(t0, "two segments committed");
    assert_eq!(segs[0]["width"], 768);
    assert_eq!(segs[0]["height"], 576);
    assert_eq!(segs[0]["state"], "committed");

    // The device description shows both profiles and never the credentials.
    let text = get_text(&format!("{base}/api/cameras/{id}/onvif"));
    assert!(!text.contains(PASSWORD), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(&v, o);
    let cam = get_text(&format!("{base}/api/cameras/{id}"));
    assert!(!cam.contains(PASSWORD), "{cam}");
    let all = get_json(&format!("{base}/api/onvif/discovered?all=true"));
    assert_eq!(all[0]["state"], "approved");
    assert_eq!(all[0]["camera_id"], id.as_str());

    proc_.terminate(Duration::from_secs(30)).unwrap();

    // The password is in neither the database files nor the log.
    for f in ["roeh.db", "roeh.db-wal", "roeh.db-shm"] {
        if let Ok(bytes) = std::fs::read(site.data().join(f)) {
            assert!(
                !contains(&bytes, PASSWORD.as_bytes()),
                "password in plain text in {f}"
            );
        }
    }
    assert!(
        !std::fs::read_to_string(&site.log)
            .unwrap()
            .contains(PASSWORD)
    );
    let key = site.data().join("keys/credentials.key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // The footage verifies like any camera's (files, hashes, chain, evidence log).
    let all = common::check_footage(site);
    assert!(all.keys().any(|(c, _)| c == &id));

    // The CLI shows the approved device and the camera with both profiles.
    let cfg = site.config.to_str().unwrap();
    let out = roeh(&["onvif", "list", "--all", "--config", cfg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(
        list.contains(&format!("discovered\t{discovered_id}\tapproved")),
        "{list}"
    );
    assert!(list.contains(&format!("camera={id}")), "{list}");
    assert!(list.contains(&format!("camera\t{id}\t{XADDR}")), "{list}");
    assert!(list.contains("main=Profile_Main 768x576"), "{list}");
    assert!(list.contains("sub=Profile_Sub 640x360"), "{list}");
    assert!(!list.contains(PASSWORD));
    // Discovery from the CLI sees it again (still approved); adding it again is refused.
    let out = roeh(&["onvif", "discover", "--probe", "127.0.0.1", "--config", cfg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("approved"));
    let out = Command::new(BIN)
        .args([
            "onvif",
            "add",
            "--address",
            XADDR,
            "--name",
            "Again",
            "--username",
            USER,
        ])
        .args(["--password-env", "ROEH_TEST_CAM_PW", "--config", cfg])
        .env("ROEH_TEST_CAM_PW", PASSWORD)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already camera"), "{err}");
    assert!(!err.contains(PASSWORD));
}
