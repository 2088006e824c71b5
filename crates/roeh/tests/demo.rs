//! Acceptance: `roeh demo` with 8 cameras for 2 minutes (ROEH_DEMO_SECS overrides): its seeded
//! hotspot raises an alert within a minute, every camera has contiguous segments, recorded media
//! duration is within 2% of wall time, and an exported 60 s MP4 is accepted by ffprobe with the
//! right frame count and decodes cleanly.

#![allow(clippy::unwrap_used)]

mod common;
use common::{BIN, get_json, runtime, wait_streaming};
use roeh_testkit::{RoehProcess, decode_errors, probe};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn demo_8_cameras_2_minutes() {
    let secs: u64 = std::env::var("ROEH_DEMO_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let cameras = 8;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let log = dir.path().join("demo.log");
    let p = RoehProcess::spawn(
        Path::new(BIN),
        &[
            "demo",
            "--cameras",
            "8",
            "--port",
            "0",
            "--segment-secs",
            "10",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &log,
    )
    .unwrap();
    let base = roeh_testkit::wait_api_base(&log, 0).unwrap();
    let cams = wait_streaming(&base, Some(cameras))
        .unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()));
    let started = Instant::now();
    // The demo is a control room out of the box: its seeded hotspot and rule raise an alert on
    // the first camera's walkway within a minute, with no JSON written by anyone.
    let hotspots = get_json(&format!("{base}/api/hotspots"));
    assert_eq!(hotspots.as_array().map(Vec::len), Some(1), "{hotspots}");
    assert_eq!(hotspots[0]["name"], "Demo walkway");
    let alert = roeh_testkit::wait_for("the first demo alert", Duration::from_secs(60), || {
        let v = get_json(&format!("{base}/api/alerts"));
        v.as_array()?.first().cloned()
    })
    .unwrap();
    assert_eq!(alert["hotspot"], hotspots[0]["id"], "{alert}");
    assert_eq!(alert["severity"], "high");
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("console at http://"), "{log_text}");
    // …and a patrol car to dispatch, whose phone signs in with the link the demo printed.
    let units = get_json(&format!("{base}/api/units"));
    let car = units["units"]
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "demo-car"))
        .unwrap_or_else(|| panic!("no demo patrol car: {units}"));
    assert_eq!(
        (car["kind"].as_str(), car["status"].as_str()),
        (Some("joint"), Some("available"))
    );
    let token = log_text
        .split("#/device/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no device link in the demo's output: {log_text}"));
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/api/auth/device"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the printed device link does not sign in"
    );
    // A readable terminal: ONNX Runtime's own INFO lines are off by default.
    assert!(
        !log_text.contains("ort::logging"),
        "ONNX Runtime INFO lines in the demo's output"
    );
    std::thread::sleep(Duration::from_secs(secs).saturating_sub(started.elapsed()));
    assert!(started.elapsed() >= Duration::from_secs(secs));

    // Export 60 s of committed footage from the first camera: the range ends 15 s ago, before
    // the open segment (10 s segments), which an export covers only once it is committed.
    let id = cams[0]["id"].as_str().unwrap();
    let health = get_json(&format!("{base}/api/health"));
    let now = roeh_domain::WallTime::parse(health["time"].as_str().unwrap()).unwrap();
    let end = now.minus(Duration::from_secs(15));
    let start = end.minus(Duration::from_secs(60.min(secs.saturating_sub(20).max(5))));
    let resp = roeh_testkit::get(&format!(
        "{base}/api/cameras/{id}/mp4?start={}&end={}",
        start.0, end.0
    ))
    .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "video/mp4");
    let mp4 = dir.path().join("export.mp4");
    std::fs::write(&mp4, resp.bytes().unwrap()).unwrap();

    let st = p.terminate(Duration::from_secs(15)).unwrap();
    assert!(st.success(), "demo exited with {st}");

    let pr = probe(&mp4).unwrap();
    assert_eq!(pr.codec, "h264");
    assert_eq!((pr.width, pr.height), (768, 576));
    let want_secs = end.duration_since(start).as_secs_f64();
    // 10 fps; the clip starts at the key frame at or before `start` (key frames every 2 s).
    let want = (want_secs * 10.0) as u64;
    assert!(
        pr.frames >= want && pr.frames <= want + 21,
        "{} frames for {want_secs} s",
        pr.frames
    );
    assert!(
        (pr.duration - pr.frames as f64 / 10.0).abs() < 0.2,
        "{pr:?}"
    );
    assert_eq!(decode_errors(&mp4).unwrap(), "");

    // Every camera: contiguous segments in one run, media duration within 2 % of wall time.
    let rt = runtime();
    rt.block_on(async {
        let url = format!("sqlite://{}?mode=rw", data.join("roeh.db").display());
        let store = roeh_store::Store::open(&url).await.unwrap();
        let cams = store.cameras_with_segments().await.unwrap();
        assert_eq!(cams.len(), cameras);
        for cam in cams {
            let segs = store.chain_segments(cam, 1, u32::MAX).await.unwrap();
            roeh_evidence::verify_chain(&segs).unwrap();
            assert!(
                segs.len() >= (secs / 10) as usize - 1,
                "camera {cam}: {} segments",
                segs.len()
            );
            for w in segs.windows(2) {
                let (a, b) = (&w[0], &w[1]);
                if a.run == b.run {
                    assert_eq!(
                        b.start, a.end,
                        "camera {cam}: segments {} and {} not contiguous",
                        a.seq, b.seq
                    );
                    assert_eq!(b.start_pts.0, a.start_pts.0 + a.duration.0);
                }
            }
            let media: i64 = segs.iter().map(|s| s.duration.0).sum();
            let first = store.frame_index(segs[0].id).await.unwrap();
            let last_seg = segs.last().unwrap();
            let last = store.frame_index(last_seg.id).await.unwrap();
            let last_frame = last.last().unwrap();
            let frame_dur = last_seg.duration.0 - last_frame.pts_offset;
            let wall_us = last_frame.received_at.0 - first[0].received_at.0 + frame_dur * 100 / 9;
            let media_us = media * 100 / 9;
            let err = (media_us - wall_us).abs() as f64 / wall_us as f64;
            assert!(
                err <= 0.02,
                "camera {cam}: media {media_us} µs vs wall {wall_us} µs ({:.2} %)",
                err * 100.0
            );
            let runs: std::collections::BTreeSet<u64> = segs.iter().map(|s| s.run).collect();
            assert_eq!(
                runs.len(),
                1,
                "camera {cam}: recording was interrupted: runs {runs:?}"
            );
        }
        store.close().await;
    });
}
