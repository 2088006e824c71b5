//! Evidence, as an investigator and a supervisor would use it: export a 60 s clip from live
//! recording over the API, verify it offline (our verifier and OpenSSL for the signature), play
//! it with ffprobe/ffmpeg, catch a tampered copy; prove the log only grew; and keep a held range
//! through a retention pass that deletes everything around it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{BIN, Site, get_json, wait_streaming};
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{footage, output_ok};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn cams(server: &TestCamServer) -> Vec<(String, String)> {
    (0..1)
        .map(|i| (format!("cam{i}"), server.url(i).to_string()))
        .collect()
}

fn post(url: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    roeh_testkit::post(url, &body).unwrap()
}

fn segments(base: &str, cam: &str) -> Vec<serde_json::Value> {
    let now = roeh_domain::Clock::wall(&roeh_domain::SystemClock::new());
    let v = get_json(&format!(
        "{base}/api/cameras/{cam}/segments?start={}&end={}",
        now.minus(Duration::from_secs(3600)).0,
        now.plus(Duration::from_secs(3600)).0
    ));
    v.as_array()
        .unwrap_or_else(|| panic!("segments: {v}"))
        .clone()
}

/// Asks for an export (`202 Accepted`) and waits until it is done: its id and final state.
fn export(base: &str, request: serde_json::Value) -> (String, serde_json::Value) {
    let (s, job) = post(&format!("{base}/api/exports"), request);
    assert_eq!(s, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let done = wait_export(base, &id);
    (id, done)
}

fn wait_export(base: &str, id: &str) -> serde_json::Value {
    roeh_testkit::wait_for("export done", Duration::from_secs(60), || {
        let j = get_json(&format!("{base}/api/exports/{id}"));
        match j["state"].as_str()? {
            "done" => Some(j),
            "failed" => panic!("export failed: {j}"),
            _ => None,
        }
    })
    .unwrap()
}

fn roeh_verify(bundle: &Path, key: &Path) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["verify", "--key"])
        .arg(key)
        .arg(bundle)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_60s_clip_exports_plays_and_verifies_offline() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::new(4.0, &cams(&server));
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();

    // A checkpoint handed out early; later the log must prove it only grew since.
    let early = get_json(&format!("{base}/api/log/checkpoint"));

    // 70 s of footage, then export 60 s of it.
    let t0 = Instant::now();
    let first = roeh_testkit::wait_for("first segment", Duration::from_secs(30), || {
        segments(&base, &cam).first().cloned()
    })
    .unwrap();
    let first_start = first["start_us"].as_i64().unwrap();
    roeh_testkit::wait_for("70 s recorded", Duration::from_secs(120), || {
        let segs = segments(&base, &cam);
        let end = segs.last()?["end_us"].as_i64()?;
        (end - first_start >= 70_000_000).then_some(())
    })
    .unwrap();
    eprintln!("recorded 70 s in {:?}", t0.elapsed());
    let start = roeh_domain::WallTime(first_start + 5_000_000).to_rfc3339();
    let end = roeh_domain::WallTime(first_start + 65_000_000).to_rfc3339();

    // Refused requests change nothing.
    let (s, body) = post(
        &format!("{base}/api/exports"),
        serde_json::json!({"camera": cam, "start": start, "end": end, "reason": "",
            "case": "C-1"}),
    );
    assert_eq!(s, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reason")
    );
    let (s, _) = post(
        &format!("{base}/api/exports"),
        serde_json::json!({"camera": cam, "start": "2026-01-01T00:00:00Z",
            "end": "2026-03-01T00:00:00Z", "reason": "r", "case": "C-1"}),
    );
    assert_eq!(s, 400, "an absurd range is refused");

    // A directory bundle.
    let (id, _) = export(
        &base,
        serde_json::json!({"camera": cam, "start": start, "end": end,
            "reason": "assault reported at the walkway", "case": "PD-2026-4711", "form": "directory"}),
    );
    let dir = site.data().join("exports").join(&id);
    assert!(
        dir.join("clip.mp4").is_file(),
        "bundle at {}",
        dir.display()
    );

    // The site's public key, from the API (as a court expert would receive it).
    let keys = get_json(&format!("{base}/api/keys"));
    let pem = keys[0]["pem"].as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let key_path = site.dir.path().join("site-key.pem");
    std::fs::write(&key_path, pem).unwrap();

    let (code, text) = roeh_verify(&dir, &key_path);
    assert_eq!(code, 0, "{text}");
    assert!(text.starts_with("OK"), "{text}");

    // The clip plays: every frame is there and decodes without error.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let want_frames: u64 = manifest["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["frames"].as_u64().unwrap())
        .sum();
    let probe = roeh_testkit::probe(&dir.join("clip.mp4")).unwrap();
    assert_eq!(probe.frames, want_frames);
    assert!(probe.duration >= 59.0, "{probe:?}");
    let errors = roeh_testkit::decode_errors(&dir.join("clip.mp4")).unwrap();
    assert!(errors.trim().is_empty(), "decode errors: {errors}");

    // The signature holds for a stock tool too, over the documented bytes.
    let openssl = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
        .arg(&key_path)
        .arg("-rawin")
        .arg("-in")
        .arg(dir.join("checkpoint.txt"))
        .arg("-sigfile")
        .arg(dir.join("checkpoint.sig"))
        .output()
        .unwrap();
    assert!(
        openssl.status.success(),
        "openssl: {}{}",
        String::from_utf8_lossy(&openssl.stdout),
        String::from_utf8_lossy(&openssl.stderr)
    );

    // A zip bundle, downloaded like an investigator would; the download is a custody event.
    let (_, done) = export(
        &base,
        serde_json::json!({"camera": cam, "start": start, "end": end,
            "reason": "copy for the prosecutor", "case": "PD-2026-4711"}),
    );
    let before = get_json(&format!("{base}/api/log/checkpoint"));
    let bytes = roeh_testkit::get(&format!("{base}{}", done["download"].as_str().unwrap()))
        .unwrap()
        .bytes()
        .unwrap();
    let zip_path = site.dir.path().join("bundle.zip");
    std::fs::write(&zip_path, &bytes).unwrap();
    let (code, text) = roeh_verify(&zip_path, &key_path);
    assert_eq!(code, 0, "{text}");
    let (_, after) = post(&format!("{base}/api/log/checkpoint"), serde_json::json!({}));
    assert!(
        after["size"].as_u64().unwrap() > before["size"].as_u64().unwrap(),
        "the download was logged"
    );

    // A tampered copy fails: one byte of footage flipped near the end of the clip.
    let clip = dir.join("clip.mp4");
    let mut data = std::fs::read(&clip).unwrap();
    let at = data.len() - 1000;
    data[at] ^= 0x40;
    std::fs::write(&clip, &data).unwrap();
    let (code, text) = roeh_verify(&dir, &key_path);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("FAILED"), "{text}");

    // The log only grew since the early checkpoint: the consistency proof holds.
    let (from, to) = (
        early["size"].as_u64().unwrap(),
        after["size"].as_u64().unwrap(),
    );
    let proof = get_json(&format!("{base}/api/log/consistency?from={from}&to={to}"));
    let hashes: Vec<[u8; 32]> = proof["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| hex_hash(h.as_str().unwrap()))
        .collect();
    roeh_evidence::merkle::verify_consistency(
        from,
        to,
        &hex_hash(early["root"].as_str().unwrap()),
        &hex_hash(after["root"].as_str().unwrap()),
        &hashes,
    )
    .unwrap();

    // Key rotation (TRUST I6): a new key signs from now on; bundles signed by the old key still
    // verify with the old key, and a new bundle verifies with the new key only.
    output_ok(
        Command::new(BIN)
            .args(["keys", "rotate", "--config"])
            .arg(&site.config),
    );
    let (rid, _) = export(
        &base,
        serde_json::json!({"camera": cam, "start": start, "end": end,
            "reason": "after rotation", "case": "PD-2026-4711", "form": "directory"}),
    );
    let rotated = site.data().join("exports").join(&rid);
    let keys = get_json(&format!("{base}/api/keys"));
    assert_eq!(keys.as_array().unwrap().len(), 2);
    assert!(keys[0]["retired_at"].is_string(), "{keys}");
    let new_key = site.dir.path().join("site-key-2.pem");
    std::fs::write(&new_key, keys[1]["pem"].as_str().unwrap()).unwrap();
    let (code, text) = roeh_verify(&zip_path, &key_path);
    assert_eq!(code, 0, "old bundle, old key: {text}");
    let (code, text) = roeh_verify(&rotated, &new_key);
    assert_eq!(code, 0, "new bundle, new key: {text}");
    let (code, text) = roeh_verify(&rotated, &key_path);
    assert_eq!(code, 1, "new bundle, old key: {text}");

    proc_.terminate(Duration::from_secs(20)).unwrap();
    common::check_footage(&site);
}

fn hex_hash(s: &str) -> [u8; 32] {
    let v = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>();
    v.try_into().unwrap()
}

#[test]
fn a_held_range_survives_retention_that_deletes_everything_around_it() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    // Footage older than 30 s is deleted, checked every second.
    let site = Site::with_recording(
        3.0,
        &cams(&server),
        "retention_max_age_days = 0.000347\nretention_interval_secs = 1.0\n",
    );
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    let first = roeh_testkit::wait_for("segments", Duration::from_secs(60), || {
        let segs = segments(&base, &cam);
        (segs.len() >= 4).then(|| segs[0].clone())
    })
    .unwrap();
    let t0 = first["start_us"].as_i64().unwrap();
    // Hold 4 s of the early footage for a case.
    let (hs, he) = (t0 + 4_000_000, t0 + 8_000_000);
    let (s, hold) = post(
        &format!("{base}/api/holds"),
        serde_json::json!({"camera": cam,
            "start": roeh_domain::WallTime(hs).to_rfc3339(),
            "end": roeh_domain::WallTime(he).to_rfc3339(),
            "case": "PD-2026-0815", "reason": "fight at the kiosk"}),
    );
    assert_eq!(s, 201, "{hold}");
    let (s, _) = post(
        &format!("{base}/api/holds"),
        serde_json::json!({"camera": cam, "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-02T00:00:00Z", "case": "", "reason": "x"}),
    );
    assert_eq!(s, 400, "a hold without a case is refused");

    // Wait until retention deleted footage recorded after the held range.
    let segs = roeh_testkit::wait_for("retention past the hold", Duration::from_secs(120), || {
        let segs = segments(&base, &cam);
        segs.iter()
            .any(|s| s["state"] == "deleted" && s["start_us"].as_i64().unwrap() > he)
            .then_some(segs)
    })
    .unwrap();
    let overlaps = |s: &serde_json::Value| {
        s["start_us"].as_i64().unwrap() < he && s["end_us"].as_i64().unwrap() > hs
    };
    let held: Vec<_> = segs.iter().filter(|s| overlaps(s)).collect();
    assert!(!held.is_empty());
    for s in &held {
        assert_eq!(s["state"], "committed", "held segment deleted: {s}");
    }
    let before: Vec<_> = segs
        .iter()
        .filter(|s| s["end_us"].as_i64().unwrap() <= hs)
        .collect();
    assert!(
        before.iter().all(|s| s["state"] == "deleted"),
        "footage before the hold is deleted"
    );
    // The held footage still exports and verifies.
    let (id, _) = export(
        &base,
        serde_json::json!({"camera": cam,
            "start": roeh_domain::WallTime(hs).to_rfc3339(),
            "end": roeh_domain::WallTime(he).to_rfc3339(),
            "reason": "held footage", "case": "PD-2026-0815",
            "form": "directory"}),
    );
    let key_path = site.dir.path().join("site-key.pem");
    std::fs::write(
        &key_path,
        get_json(&format!("{base}/api/keys"))[0]["pem"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let (code, text) = roeh_verify(&site.data().join("exports").join(&id), &key_path);
    assert_eq!(code, 0, "{text}");

    // Lifting the hold lets retention take it.
    let hid = hold["id"].as_i64().unwrap();
    let (s, _) = post(
        &format!("{base}/api/holds/{hid}/clear"),
        serde_json::json!({"reason": "case closed"}),
    );
    assert_eq!(s, 200);
    roeh_testkit::wait_for("held footage released", Duration::from_secs(30), || {
        let segs = segments(&base, &cam);
        segs.iter()
            .filter(|s| overlaps(s))
            .all(|s| s["state"] == "deleted")
            .then_some(())
    })
    .unwrap();
    proc_.terminate(Duration::from_secs(20)).unwrap();
    common::check_footage(&site);
}
