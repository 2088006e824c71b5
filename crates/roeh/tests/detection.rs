//! Detection as a user runs it: `roeh serve` with the real model and ONNX Runtime against the
//! RTSP test server looping vtest (a fixed campus camera, 768x576, people on a walkway).
//!
//! One server run holds every rule of the acceptance at once on one camera, to keep CI time
//! down: intrusion on a walkway zone, intrusion on a zone where nobody walks, loitering with a
//! short dwell and crowding with four people. The zones were placed from the detector's own
//! output over the whole clip: feet are on the walkway in every second of it, and never in the
//! top strip (roofs and parked vans).

#![allow(clippy::unwrap_used)]

mod common;
use common::{BIN, Site, get_json, wait_streaming};
use roeh_domain::WallTime;
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{footage, output_ok, wait_for};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the zone where nobody walks is watched, from the moment its rule is armed.
const EMPTY_ZONE_WATCH: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A site recording `cameras`, with `[analytics]` set to `analytics` (lines).
fn site(cameras: &[(String, String)], analytics: &str) -> Site {
    let site = Site::new(4.0, cameras);
    let mut text = std::fs::read_to_string(&site.config).unwrap();
    text.push_str(&format!("[analytics]\n{analytics}\n"));
    std::fs::write(&site.config, text).unwrap();
    site
}

fn models_line() -> String {
    format!(
        "models = \"{}\"",
        root().join("models/models.toml").display()
    )
}

/// A request with a JSON body, signed in as the site's test admin.
fn send(method: reqwest::Method, url: &str, body: &Value) -> (u16, Value) {
    let r = roeh_testkit::request(method, url)
        .json(body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    send(reqwest::Method::POST, url, body)
}

fn time(v: &Value) -> WallTime {
    WallTime::parse(v.as_str().unwrap()).unwrap()
}

/// Packed RGB24 of a JPEG, decoded by ffmpeg.
fn decode_jpeg(path: &Path) -> Vec<u8> {
    output_ok(
        std::process::Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-i"])
            .arg(path)
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]),
    )
    .stdout
}

/// The longest horizontal run of box-red pixels, and how many there are. In the raw footage
/// (checked over the whole clip at 2 fps) the longest run is 10 pixels and no frame has more
/// than 65 such pixels.
fn red_boxes(rgb: &[u8], width: usize) -> (usize, usize) {
    let (mut best, mut count) = (0, 0);
    for row in rgb.chunks(width * 3) {
        let mut run = 0;
        for p in row.chunks(3) {
            if p[0] > 200 && p[1] < 70 && p[2] < 70 {
                run += 1;
                count += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
    }
    (best, count)
}

#[test]
fn incidents_from_live_footage_with_the_real_model() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = site(&[("Campus".into(), server.url(0))], &models_line());
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();

    // Bad input is refused with the problem named; nothing is stored.
    let hotspot = |polygon: Value, schedule: Value| {
        json!({"name": "Campus walkway", "lat": 53.38, "lon": -1.48, "priority": 2,
            "cameras": [cam],
            "zones": [
                {"id": "walkway", "camera": cam, "name": "Walkway", "polygon": polygon},
                {"id": "roofs", "camera": cam, "name": "Roofs",
                 "polygon": [[0.3, 0.0], [1.0, 0.0], [1.0, 0.1], [0.3, 0.1]]}
            ],
            "schedule": schedule})
    };
    let always = json!({"tz": "Europe/London", "always": true});
    let walkway = json!([[0.0, 0.3], [1.0, 0.2], [1.0, 0.8], [0.0, 0.5]]);
    let refusals = [
        (
            hotspot(json!([[0, 0], [1, 1], [1, 0], [0, 1]]), always.clone()),
            "self-intersecting",
        ),
        (
            hotspot(json!([[0, 0], [1.2, 1], [1, 0]]), always.clone()),
            "(1.2, 1) is outside 0..1",
        ),
        (
            hotspot(json!([[0, 0], [1, 1]]), always.clone()),
            "has 2 points; at least 3 are needed",
        ),
        (
            hotspot(
                walkway.clone(),
                json!({"tz": "Europe/London", "windows": [{"days": ["mon"], "from": "25:00", "to": "05:00"}]}),
            ),
            "schedule.windows[0].from",
        ),
    ];
    for (body, want) in refusals {
        let (status, v) = post(&format!("{base}/api/hotspots"), &body);
        assert_eq!(status, 400, "{want}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(want), "want {want:?} in {msg:?}");
    }
    assert_eq!(get_json(&format!("{base}/api/hotspots")), json!([]));

    // The hotspot, then its rules; the walkway intrusion last, so it is armed from its
    // creation time on.
    let (status, v) = post(&format!("{base}/api/hotspots"), &hotspot(walkway, always));
    assert_eq!(status, 201, "{v}");
    let hid = v["id"].as_str().unwrap().to_string();
    let rule = |name: &str, kind: Value| {
        let mut r = json!({"hotspot": hid, "name": name, "severity": "high"});
        for (k, v) in kind.as_object().unwrap() {
            r[k] = v.clone();
        }
        let (status, v) = post(&format!("{base}/api/rules"), &r);
        assert_eq!(status, 201, "{name}: {v}");
        v
    };
    let (status, v) = post(
        &format!("{base}/api/rules"),
        &json!({"hotspot": hid, "name": "x", "severity": "low", "kind": "intrusion", "zone": "lawn"}),
    );
    assert_eq!(status, 400, "{v}");
    let empty = rule("Roofs", json!({"kind": "intrusion", "zone": "roofs"}));
    let loiter = rule(
        "Loitering",
        json!({"kind": "loitering", "zone": "walkway", "dwell_secs": 3, "severity": "medium"}),
    );
    let crowd = rule(
        "Crowd",
        json!({"kind": "crowding", "zone": "walkway", "min_count": 4, "for_secs": 2}),
    );
    let intrusion = rule("Walkway", json!({"kind": "intrusion", "zone": "walkway"}));
    let armed_at = time(&intrusion["created_at"]);
    let armed = Instant::now();
    let id_of = |v: &Value| v["id"].as_str().unwrap().to_string();
    let (empty, loiter, crowd, intrusion) = (
        id_of(&empty),
        id_of(&loiter),
        id_of(&crowd),
        id_of(&intrusion),
    );

    // Every rule but the empty zone's fires.
    let incidents = wait_for(
        "intrusion, loitering and crowding",
        Duration::from_secs(90),
        || {
            let v = get_json(&format!("{base}/api/incidents?camera={cam}&limit=1000"));
            let list = v.as_array()?.clone();
            let has = |r: &str| list.iter().any(|i| i["rule_id"] == r);
            (has(&intrusion) && has(&loiter) && has(&crowd)).then_some(list)
        },
    )
    .unwrap();
    let first = |r: &str| {
        incidents
            .iter()
            .filter(|i| i["rule_id"] == r)
            .min_by_key(|i| i["opened_at_us"].as_i64().unwrap())
            .unwrap()
            .clone()
    };
    let walk = first(&intrusion);
    // People are on the walkway all the time, so "the first person entering" is the moment the
    // rule was armed. Incident time is the time the camera's picture was received.
    let latency = time(&walk["opened_at"]).duration_since(armed_at);
    eprintln!(
        "intrusion incident {:.2} s after the rule was armed",
        latency.as_secs_f64()
    );
    assert!(latency <= Duration::from_secs(5), "{latency:?}");
    assert_eq!(walk["kind"], "intrusion");
    assert_eq!(walk["model_id"], "ssdlite-mobilenet-v2-ped");
    assert_eq!(walk["hotspot_id"], hid.as_str());
    assert!(walk["peak_score"].as_f64().unwrap() >= 0.5, "{walk}");
    assert!(!walk["track_ids"].as_array().unwrap().is_empty());
    let l = first(&loiter);
    assert_eq!(
        (l["kind"].as_str(), l["severity"].as_str()),
        (Some("loitering"), Some("medium"))
    );
    let c = first(&crowd);
    assert_eq!(c["kind"], "crowding");
    assert!(c["track_ids"].as_array().unwrap().len() >= 4, "{c}");

    // The snapshot: a JPEG of the camera's size with boxes drawn on people.
    let snap_url = format!("{base}{}", walk["snapshot_url"].as_str().unwrap());
    let r = roeh_testkit::get(&snap_url).unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let jpeg = r.bytes().unwrap();
    let file = site.dir.path().join("snapshot.jpg");
    std::fs::write(&file, &jpeg).unwrap();
    let probe = roeh_testkit::probe(&file).unwrap();
    assert_eq!(
        (probe.codec.as_str(), probe.width, probe.height),
        ("mjpeg", 768, 576)
    );
    let (run, red) = red_boxes(&decode_jpeg(&file), 768);
    assert!(
        run >= 20 && red > 200,
        "box edges: longest run {run}, {red} red pixels"
    );

    // The incident points at its evidence: recorded segments from 10 s before it opened.
    let detail = get_json(&format!(
        "{base}/api/incidents/{}",
        walk["id"].as_str().unwrap()
    ));
    let ev = &detail["evidence"];
    assert_eq!(
        ev["start_us"].as_i64().unwrap(),
        walk["opened_at_us"].as_i64().unwrap() - 10_000_000
    );
    assert!(!ev["segments"].as_array().unwrap().is_empty(), "{ev}");

    // Figures.
    let st = get_json(&format!("{base}/api/analytics/stats"));
    assert_eq!(st["model_id"], "ssdlite-mobilenet-v2-ped");
    assert!(st["frames_analysed"].as_u64().unwrap() > 0, "{st}");
    assert!(st["inference_ms_p50"].as_f64().unwrap() > 0.0, "{st}");
    assert_eq!(st["cameras"][0]["fps_target"], 5.0);
    eprintln!(
        "analytics: decode {:.1} fps, inference p50 {:.1} ms p99 {:.1} ms, batch mean {:.2}, dropped {} + {}",
        st["cameras"][0]["decode_fps"].as_f64().unwrap_or(0.0),
        st["inference_ms_p50"].as_f64().unwrap(),
        st["inference_ms_p99"].as_f64().unwrap(),
        st["batch_size_mean"].as_f64().unwrap(),
        st["frames_dropped_queue"],
        st["frames_dropped_stale"],
    );

    // Nobody enters the empty zone while it is watched.
    if let Some(rest) = EMPTY_ZONE_WATCH.checked_sub(armed.elapsed()) {
        std::thread::sleep(rest);
    }
    let all = get_json(&format!("{base}/api/incidents?hotspot={hid}&limit=1000"));
    let all = all.as_array().unwrap();
    assert!(
        all.iter().all(|i| i["rule_id"] != empty.as_str()),
        "an incident in the empty zone: {all:?}"
    );
    let st = get_json(&format!("{base}/api/analytics/stats"));
    assert!(st["frames_analysed"].as_u64().unwrap() >= 300, "{st}");

    // Analysis switched off for the camera: it is no longer decoded, its incidents close.
    let (status, v) = send(
        reqwest::Method::PUT,
        &format!("{base}/api/cameras/{cam}/analysis"),
        &json!({"enabled": false}),
    );
    assert_eq!(status, 200, "{v}");
    wait_for("analysis to stop", Duration::from_secs(10), || {
        let st = get_json(&format!("{base}/api/analytics/stats"));
        let open = get_json(&format!("{base}/api/incidents?camera={cam}&state=open"));
        (st["cameras_analysed"] == 0 && open.as_array()?.is_empty()).then_some(())
    })
    .unwrap();
    let status = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(status.success(), "{status:?}");
    server.stop();
}

/// A model that cannot be used is refused with the reason in the log, and roeh runs on; a
/// missing ONNX Runtime library stops start-up with the setup command.
#[test]
fn bad_models_are_refused_and_a_missing_runtime_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let yolo = root().join("crates/roeh-detect/tests/fixtures/yolo_tiny.onnx");
    let entry = |sha: &str, output: &str| {
        format!(
            "[[model]]\nid = \"m\"\nfile = \"{}\"\nsha256 = \"{sha}\"\n\
             input = {{ name = \"images\", dtype = \"float32\", layout = \"NCHW\", channels = \"RGB\", size = [64, 64] }}\n\
             output = {output}\nlabels = [\"person\"]\nscore_threshold = 0.4\nlicence = \"test\"\n",
            yolo.display()
        )
    };
    let good_sha = "c79de7f8116f5a46b3342c84361965aed0ae0af6464e30791cb3a4ddd5091ff0";
    let cases = [
        (
            entry(
                &"0".repeat(64),
                "{ layout = \"yolo\", predictions = \"output0\" }",
            ),
            "sha256",
        ),
        (
            entry(good_sha, "{ layout = \"tf-od-api\" }"),
            "detection_boxes:0",
        ),
    ];
    for (i, (manifest, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("models{i}.toml"));
        std::fs::write(&path, manifest).unwrap();
        let site = site(
            &[],
            &format!("models = \"{}\"\nmodel = \"m\"", path.display()),
        );
        let (proc_, base) = site.serve();
        let log = wait_for("the refusal in the log", Duration::from_secs(30), || {
            let log = std::fs::read_to_string(&site.log).ok()?;
            log.contains("Analytics is off").then_some(log)
        })
        .unwrap();
        assert!(log.contains(want), "want {want:?} in the log:\n{log}");
        // The rest keeps running: the API answers, analytics says why it is not there.
        assert_eq!(get_json(&format!("{base}/api/health"))["status"], "ok");
        let r = roeh_testkit::get(&format!("{base}/api/analytics/stats")).unwrap();
        assert_eq!(r.status().as_u16(), 409);
        assert!(proc_.terminate(Duration::from_secs(30)).unwrap().success());
    }

    let site = site(&[], &models_line());
    let mut child = std::process::Command::new(BIN)
        .args(["serve", "--config", site.config.to_str().unwrap()])
        .env(
            "ORT_DYLIB_PATH",
            dir.path().join("libonnxruntime.so.1.31.1"),
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_for("roeh to refuse to start", Duration::from_secs(30), || {
        child.try_wait().unwrap()
    });
    if status.is_err() {
        let _ = child.kill();
    }
    assert!(!status.unwrap().success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bash scripts/setup.sh"), "{err}");
    assert!(err.contains("ONNX Runtime library"), "{err}");
}
