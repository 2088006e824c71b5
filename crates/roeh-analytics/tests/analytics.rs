//! The analytics path end to end inside the process: real footage (vtest, 768x576, 10 fps, a
//! key frame every 20 pictures) as ingest would deliver it, offered through the frame tap to the
//! real decode stage, a scripted or the real detector, the rule engine, and a real store.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use roeh_analytics::{Analytics, AnalyticsConfig};
use roeh_detect::{Detection, Detections, Detector, RgbFrame, ScriptedDetector};
use roeh_domain::{
    AccessUnit, Camera, CameraId, CameraUrl, Clock, CodecParams, Pts90k, Retention, SimClock,
    Transport, WallTime,
};
use roeh_ingest::FrameTap;
use roeh_store::{IncidentFilter, IncidentRow, IncidentState, RuleRow, Store};

/// 2023-11-14T22:13:20Z, a Tuesday.
const START: i64 = 1_700_000_000;

/// The first `n` access units of `name`, as ingest would deliver them for `camera`, received
/// at `START` + media time.
fn footage(name: &str, camera: CameraId, n: usize) -> Vec<AccessUnit> {
    let bytes = std::fs::read(roeh_testkit::footage(name)).unwrap();
    let track = roeh_mp4::read_video_track(&bytes).unwrap();
    let params: Vec<Arc<CodecParams>> = track.params.iter().cloned().map(Arc::new).collect();
    track
        .samples
        .iter()
        .enumerate()
        .take(n)
        .map(|(i, s)| {
            let pts =
                i64::try_from(u128::from(s.decode_time) * 90_000 / u128::from(track.timescale))
                    .unwrap();
            AccessUnit {
                camera,
                pts: Pts90k(pts),
                received_at: at_pts(Pts90k(pts)),
                is_key: s.is_key,
                params: Arc::clone(&params[s.entry]),
                data: Bytes::copy_from_slice(track.sample_data(&bytes, i).unwrap()),
            }
        })
        .collect()
}

fn at_pts(pts: Pts90k) -> WallTime {
    WallTime(START * 1_000_000 + pts.0 * 100 / 9)
}

/// A detector that remembers which frames it saw, in order, and passes them on.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn Detector>,
    seen: Mutex<Vec<Pts90k>>,
}

impl Detector for Recording {
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn detect_batch(&self, frames: &[RgbFrame]) -> Result<Vec<Detections>, roeh_detect::Error> {
        self.seen
            .lock()
            .unwrap()
            .extend(frames.iter().map(|f| f.pts));
        self.inner.detect_batch(frames)
    }
}

struct Site {
    dir: tempfile::TempDir,
    store: Store,
    camera: CameraId,
    clock: Arc<SimClock>,
}

async fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("roeh.db").to_str().unwrap())
        .await
        .unwrap();
    let cam = Camera {
        id: CameraId::new_random(),
        name: "Walkway".into(),
        url: CameraUrl::parse("rtsp://127.0.0.1:8554/cam0").unwrap(),
        credentials: None,
        transport: Transport::Tcp,
        enabled: true,
        retention: Retention::default(),
    };
    store.insert_camera(&cam, WallTime(1)).await.unwrap();
    Site {
        store,
        camera: cam.id,
        clock: Arc::new(SimClock::new(WallTime::from_secs(START))),
        dir,
    }
}

impl Site {
    fn snapshots(&self) -> PathBuf {
        self.dir.path().join("snapshots")
    }

    /// Settings for tests: nothing dropped for lack of room or age, ticks only when asked.
    fn config(&self) -> AnalyticsConfig {
        let mut c = AnalyticsConfig::new(self.snapshots());
        c.queue_frames = 1024;
        c.decode.queue_capacity = 4096;
        c.max_frame_age = Duration::from_secs(86_400);
        c.tick = Duration::from_secs(60);
        c
    }

    /// Stores a hotspot on the camera with one zone and `schedule`, and returns its id.
    async fn hotspot(&self, polygon: &str, schedule: &str) -> uuid::Uuid {
        let id = uuid::Uuid::new_v4();
        let doc = format!(
            r#"{{"id":"{id}","name":"Square","lat":59.3,"lon":18.1,"priority":2,
            "cameras":["{cam}"],
            "zones":[{{"id":"walkway","camera":"{cam}","name":"Walkway","polygon":{polygon}}}],
            "schedule":{schedule}}}"#,
            cam = self.camera
        );
        roeh_rules::Hotspot::parse_json(&doc).unwrap();
        self.store
            .insert_hotspot(id, "Square", &doc, WallTime(2))
            .await
            .unwrap();
        id
    }

    /// Stores a rule of `hotspot` (`kind` holds the kind's JSON fields).
    async fn rule(&self, hotspot: uuid::Uuid, kind: &str, extra: &str) -> uuid::Uuid {
        let id = uuid::Uuid::new_v4();
        let doc = format!(
            r#"{{"id":"{id}","hotspot":"{hotspot}","name":"r","severity":"high",{kind}{extra}}}"#
        );
        roeh_rules::Rule::parse_json(&doc).unwrap();
        self.store
            .insert_rule(&RuleRow {
                id,
                hotspot_id: hotspot,
                document: doc,
                enabled: true,
                created_at: WallTime(3),
                updated_at: WallTime(3),
            })
            .await
            .unwrap();
        id
    }

    async fn incidents(&self) -> Vec<IncidentRow> {
        self.store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
    }
}

const ALWAYS: &str = r#"{"tz":"Europe/Stockholm","always":true}"#;
const LOWER_HALF: &str = "[[0,0.5],[1,0.5],[1,1],[0,1]]";

/// Polls `f` every 20 ms for up to a minute.
async fn wait_until<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut f: impl FnMut() -> F,
) -> T {
    for _ in 0..3000 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

fn person(score: f32, bbox: [f32; 4]) -> Detection {
    Detection {
        class_id: 1,
        label: Arc::from("person"),
        score,
        bbox,
    }
}

/// Decodes a JPEG with ffmpeg into packed RGB24.
fn decode_jpeg(path: &Path) -> Vec<u8> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * width + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

fn is_box_red(p: [u8; 3]) -> bool {
    p[0] > 180 && p[1] < 90 && p[2] < 90
}

/// Frames 10..=13 show a person at 0.6, frames 14..=19 at 0.9 a little to the right; no one
/// before or after. The incident opens at frame 10 and rises at 14. The track then coasts for
/// the tracker's `max_missed` (10) frames, still counting, so the last hit is frame 29 and the
/// incident closes at the first frame at least the hold time (5 s) after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intrusion_opens_rises_and_closes_with_snapshot_and_evidence() {
    let s = site().await;
    let hotspot = s.hotspot(LOWER_HALF, ALWAYS).await;
    let rule = s
        .rule(hotspot, r#""kind":"intrusion","zone":"walkway""#, "")
        .await;
    let (a, b) = ([0.40, 0.60, 0.50, 0.90], [0.42, 0.60, 0.52, 0.90]);
    let mut script = vec![vec![]; 10];
    script.extend((0..4).map(|_| vec![person(0.6, a)]));
    script.extend((0..6).map(|_| vec![person(0.9, b)]));
    let det = Arc::new(Recording {
        inner: Arc::new(ScriptedDetector::new("scripted-test", script)),
        seen: Mutex::new(Vec::new()),
    });
    let clock: Arc<dyn Clock> = s.clock.clone();
    let metrics = roeh_metrics::Metrics::new();
    let cfg = AnalyticsConfig {
        metrics: metrics.clone(),
        ..s.config()
    };
    let an = Analytics::start(s.store.clone(), clock, det.clone(), cfg)
        .await
        .unwrap();
    assert_eq!(an.wanted_cameras().get(&s.camera), Some(&5.0));

    let aus = footage("vtest_h264.mp4", s.camera, 200);
    for au in &aus {
        an.offer(au);
    }
    // 20 s of footage at 5 fps; the last picture or two may stay in the decoder.
    let seen = wait_until("frames analysed", || async {
        let seen = det.seen.lock().unwrap().clone();
        (seen.len() >= 95 && an.stats().frames_analysed == seen.len() as u64).then_some(seen)
    })
    .await;
    let inc = wait_until("the incident to close", || async {
        s.incidents()
            .await
            .pop()
            .filter(|i| i.state == IncidentState::Closed)
    })
    .await;
    assert_eq!(s.incidents().await.len(), 1);
    let t = |i: usize| at_pts(seen[i]);
    let i = &inc.incident;
    assert_eq!(i.rule_id, rule);
    assert_eq!(i.hotspot_id, hotspot);
    assert_eq!(i.camera, s.camera);
    assert_eq!(
        (i.kind.as_str(), i.severity.as_str()),
        ("intrusion", "high")
    );
    assert_eq!(i.priority, 2);
    assert_eq!(i.model_id, "scripted-test");
    assert_eq!(i.track_ids, vec![1]);
    assert!((i.peak_score - 0.9).abs() < 1e-6, "{}", i.peak_score);
    assert_eq!(i.opened_at, t(10));
    assert_eq!(i.evidence_start, t(10).minus(Duration::from_secs(10)));
    let closed_at = seen
        .iter()
        .map(|p| at_pts(*p))
        .find(|w| *w >= t(29).plus(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(inc.closed_at, Some(closed_at));
    assert_eq!(
        inc.evidence_end,
        Some(closed_at.plus(Duration::from_secs(10)))
    );

    // The snapshot is of the peak frame: box b drawn, box a not.
    let file = s.snapshots().join(inc.snapshot.as_deref().unwrap());
    assert_eq!(
        inc.snapshot.as_deref(),
        Some(format!("{}.jpg", i.id).as_str())
    );
    let rgb = decode_jpeg(&file);
    assert_eq!(rgb.len(), 768 * 576 * 3, "snapshot is 768x576");
    let mid_y = (0.75 * 575.0) as u32;
    let x_of = |v: f64| (v * 767.0).round() as u32;
    assert!(is_box_red(pixel(&rgb, 768, x_of(0.42) + 1, mid_y)));
    assert!(is_box_red(pixel(&rgb, 768, x_of(0.52) - 1, mid_y)));
    assert!(!is_box_red(pixel(&rgb, 768, x_of(0.40) - 1, mid_y)));
    let top_y = (0.60f64 * 575.0).round() as u32 + 1;
    assert!(is_box_red(pixel(&rgb, 768, x_of(0.47), top_y)));

    let st = an.stats();
    assert_eq!(st.model_id, "scripted-test");
    assert_eq!((st.hotspots, st.rules), (1, 1));
    assert_eq!((st.incidents_opened, st.incidents_closed), (1, 1));
    assert_eq!(st.frames_dropped_queue + st.frames_dropped_stale, 0);
    assert!(st.batches > 0 && st.inference_window > 0);
    assert_eq!(
        st.batch_sizes.iter().sum::<u64>(),
        st.batches,
        "{:?}",
        st.batch_sizes
    );
    assert_eq!(st.cameras.len(), 1);
    let c = &st.cameras[0];
    assert!(c.decoding && c.fps_target == 5.0);
    assert_eq!(c.received, 200);
    assert_eq!(c.decoded, c.received.min(c.decoded));
    assert!(c.analysed >= 95 && c.dropped_full == 0, "{c:?}");

    // Every detector call observed the inference histogram, every access unit decoded the
    // decode histogram (a unit's time is told before its picture is handed over).
    let text = metrics.render(&roeh_metrics::Gauges::default()).unwrap();
    let sample = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("{prefix}: {text}"))
            .trim()
            .parse()
            .unwrap()
    };
    // (The decoder may still hand over its last pictures: at least the calls counted so far.)
    let calls = sample("roeh_inference_seconds_count ");
    assert!(calls >= st.batches as f64, "{calls} < {}", st.batches);
    assert_eq!(sample("roeh_inference_seconds_bucket{le=\"+Inf\"} "), calls);
    assert!(sample("roeh_decode_seconds_count ") >= c.analysed as f64);
    assert!(sample("roeh_decode_seconds_sum ") > 0.0);
    an.shutdown(Duration::from_secs(10)).await;
    // The batcher has stopped: the frame queue's gauge holds nothing of it.
    let text = metrics.render(&roeh_metrics::Gauges::default()).unwrap();
    assert!(
        text.contains("roeh_queue_depth{queue=\"analytics_frames\"} 0\n"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cameras_are_decoded_only_when_analysis_is_on_and_a_rule_is_armed() {
    let s = site().await;
    // A window on Mondays only; START is a Tuesday evening.
    let monday = r#"{"tz":"UTC","windows":[{"days":["mon"],"from":"08:00","to":"09:00"}]}"#;
    let hotspot = s.hotspot(LOWER_HALF, monday).await;
    let rule = s
        .rule(hotspot, r#""kind":"intrusion","zone":"walkway""#, "")
        .await;
    let det = Arc::new(
        ScriptedDetector::new("s", [vec![person(0.9, [0.4, 0.6, 0.5, 0.9])]]).repeat_last(),
    );
    let clock: Arc<dyn Clock> = s.clock.clone();
    let an = Analytics::start(s.store.clone(), clock, det.clone(), s.config())
        .await
        .unwrap();
    assert!(an.wanted_cameras().is_empty(), "not armed now");
    for au in footage("vtest_h264.mp4", s.camera, 40) {
        an.offer(&au);
    }
    assert_eq!(an.stats().cameras_analysed, 0);
    assert!(an.stats().cameras.is_empty());

    // Monday 08:00 UTC comes: the next tick arms it.
    s.clock
        .step_wall(WallTime::from_secs(1_700_438_400 + 8 * 3600 + 60));
    an.tick().await.unwrap();
    assert_eq!(an.wanted_cameras().get(&s.camera), Some(&5.0));

    // Analysis switched off for the camera: not decoded though armed.
    s.store
        .set_camera_analysis(s.camera, false, 2.0, WallTime(5))
        .await
        .unwrap();
    an.reload().await.unwrap();
    assert!(an.wanted_cameras().is_empty());

    // Back on at 2 fps, and a rule that ignores the schedule.
    s.store
        .set_camera_analysis(s.camera, true, 2.0, WallTime(6))
        .await
        .unwrap();
    s.clock.step_wall(WallTime::from_secs(START));
    an.reload().await.unwrap();
    assert!(an.wanted_cameras().is_empty(), "Tuesday again");
    let doc = s.store.get_rule(rule).await.unwrap().unwrap();
    let mut r = roeh_rules::Rule::parse_json(&doc.document).unwrap();
    r.always_armed = true;
    s.store
        .update_rule(&RuleRow {
            document: serde_json::to_string(&r).unwrap(),
            updated_at: WallTime(7),
            ..doc
        })
        .await
        .unwrap();
    an.reload().await.unwrap();
    assert_eq!(an.wanted_cameras().get(&s.camera), Some(&2.0));
    for au in footage("vtest_h264.mp4", s.camera, 100) {
        an.offer(&au);
    }
    let st = wait_until("frames at 2 fps", || async {
        let st = an.stats();
        (st.frames_analysed >= 18).then_some(st)
    })
    .await;
    assert_eq!(st.cameras_analysed, 1);
    assert_eq!(st.cameras[0].fps_target, 2.0);
    // 10 s at 2 fps: about 20 frames, never the 50 of 5 fps.
    assert!(st.cameras[0].analysed <= 21, "{:?}", st.cameras[0]);
    an.shutdown(Duration::from_secs(10)).await;
    assert_eq!(an.stats().cameras_analysed, 0);
}

/// Someone watching what the detector sees on a camera keeps it decoded for a while, though no
/// rule is armed on it, and reads the last frame's detections; a camera whose analysis is
/// switched off stays off; the watch ends by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_camera_is_decoded_for_a_while_and_shows_what_the_detector_sees() {
    let s = site().await;
    let monday = r#"{"tz":"UTC","windows":[{"days":["mon"],"from":"08:00","to":"09:00"}]}"#;
    let hotspot = s.hotspot(LOWER_HALF, monday).await;
    s.rule(hotspot, r#""kind":"intrusion","zone":"walkway""#, "")
        .await;
    let det = Arc::new(
        ScriptedDetector::new("s", [vec![person(0.8, [0.4, 0.6, 0.5, 0.9])]]).repeat_last(),
    );
    let clock: Arc<dyn Clock> = s.clock.clone();
    let an = Analytics::start(s.store.clone(), clock, det.clone(), s.config())
        .await
        .unwrap();
    assert!(an.wanted_cameras().is_empty(), "no rule armed now");
    let seen = an.watch(s.camera, Duration::from_secs(60)).await.unwrap();
    assert!(
        seen.analysis_on && seen.decoding && seen.last.is_none(),
        "{seen:?}"
    );
    assert_eq!(an.wanted_cameras().get(&s.camera), Some(&5.0));
    for au in footage("vtest_h264.mp4", s.camera, 40) {
        an.offer(&au);
    }
    let last = wait_until("the detector's last frame", || async {
        an.watch(s.camera, Duration::from_secs(60))
            .await
            .unwrap()
            .last
    })
    .await;
    assert_eq!(last.objects.len(), 1, "{last:?}");
    assert_eq!(last.objects[0].label, "person");
    assert_eq!(last.objects[0].bbox, [0.4, 0.6, 0.5, 0.9]);
    assert!(last.width > 0 && last.height > 0);
    // No incident: watching arms nothing.
    assert!(
        s.store
            .list_incidents(&IncidentFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    // The watch ends a minute later, at the next tick.
    s.clock.advance(Duration::from_secs(61));
    an.tick().await.unwrap();
    assert!(an.wanted_cameras().is_empty(), "the watch ended");

    // Analysis switched off: watching does not turn it on.
    s.store
        .set_camera_analysis(s.camera, false, 2.0, WallTime(5))
        .await
        .unwrap();
    an.reload().await.unwrap();
    let seen = an.watch(s.camera, Duration::from_secs(60)).await.unwrap();
    assert!(!seen.analysis_on && !seen.decoding, "{seen:?}");
    assert!(an.wanted_cameras().is_empty());
    an.shutdown(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loitering_and_crowding_and_shutdown_closes_what_is_open() {
    let s = site().await;
    let hotspot = s.hotspot(LOWER_HALF, ALWAYS).await;
    let loiter = s
        .rule(
            hotspot,
            r#""kind":"loitering","zone":"walkway","dwell_secs":3"#,
            "",
        )
        .await;
    let crowd = s
        .rule(
            hotspot,
            r#""kind":"crowding","zone":"walkway","min_count":4,"for_secs":1"#,
            "",
        )
        .await;
    // One person stays; from frame 20 on four people stand apart.
    let one = person(0.8, [0.1, 0.6, 0.15, 0.9]);
    let mut script: Vec<Vec<Detection>> = (0..20).map(|_| vec![one.clone()]).collect();
    let four = vec![
        one.clone(),
        person(0.7, [0.3, 0.6, 0.35, 0.9]),
        person(0.7, [0.5, 0.6, 0.55, 0.9]),
        person(0.7, [0.7, 0.6, 0.75, 0.9]),
    ];
    script.push(four);
    let det = Arc::new(Recording {
        inner: Arc::new(ScriptedDetector::new("s", script).repeat_last()),
        seen: Mutex::new(Vec::new()),
    });
    let clock: Arc<dyn Clock> = s.clock.clone();
    let an = Analytics::start(s.store.clone(), clock, det.clone(), s.config())
        .await
        .unwrap();
    for au in footage("vtest_h264.mp4", s.camera, 100) {
        an.offer(&au);
    }
    let incs = wait_until("loitering and crowding", || async {
        let v = s.incidents().await;
        (v.len() == 2).then_some(v)
    })
    .await;
    let seen = det.seen.lock().unwrap().clone();
    let by_rule = |r| incs.iter().find(|i| i.incident.rule_id == r).unwrap();
    let l = by_rule(loiter);
    assert_eq!(l.incident.kind, "loitering");
    // Seen at frame 0, in the zone for 3 s at frame 15 (5 fps).
    assert_eq!(l.incident.opened_at, at_pts(seen[15]));
    let c = by_rule(crowd);
    assert_eq!(c.incident.kind, "crowding");
    // Four from frame 20, for 1 s at frame 25.
    assert_eq!(c.incident.opened_at, at_pts(seen[25]));
    assert_eq!(c.incident.track_ids.len(), 4);
    assert!(incs.iter().all(|i| i.state == IncidentState::Open));
    an.shutdown(Duration::from_secs(10)).await;
    let incs = s.incidents().await;
    assert!(
        incs.iter().all(|i| i.state == IncidentState::Closed),
        "{incs:?}"
    );
    assert!(
        incs.iter()
            .all(|i| i.evidence_end == i.closed_at.map(|c| c.plus(Duration::from_secs(10))))
    );
}

/// The real detector and model on the walkway: people are on it from the first picture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_detector_finds_people_on_the_walkway() {
    // ORT_DYLIB_PATH, else the library `bash scripts/setup.sh` puts in the workspace cache.
    let runtime = roeh_detect::OrtRuntime::from_env().expect("ONNX Runtime: bash scripts/setup.sh");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let manifest = roeh_detect::ModelManifest::load(root.join("models/models.toml")).unwrap();
    let det = roeh_detect::OrtDetector::load(
        &runtime,
        &manifest,
        "ssdlite-mobilenet-v2-ped",
        &roeh_detect::OrtDetectorOptions::default(),
    )
    .unwrap();
    let s = site().await;
    let walkway = "[[0.0,0.3],[1.0,0.2],[1.0,0.8],[0.0,0.5]]";
    let hotspot = s.hotspot(walkway, ALWAYS).await;
    s.rule(hotspot, r#""kind":"intrusion","zone":"walkway""#, "")
        .await;
    let clock: Arc<dyn Clock> = s.clock.clone();
    let an = Analytics::start(s.store.clone(), clock, Arc::new(det), s.config())
        .await
        .unwrap();
    for au in footage("vtest_h264.mp4", s.camera, 60) {
        an.offer(&au);
    }
    let inc = wait_until("a person on the walkway", || async {
        s.incidents().await.pop().filter(|i| i.snapshot.is_some())
    })
    .await;
    let i = &inc.incident;
    assert_eq!(i.model_id, "ssdlite-mobilenet-v2-ped");
    assert_eq!(i.kind, "intrusion");
    assert!(i.peak_score >= 0.5 && !i.track_ids.is_empty(), "{i:?}");
    // Two people are on the walkway in the very first picture.
    assert_eq!(i.opened_at, WallTime::from_secs(START));
    let rgb = decode_jpeg(&s.snapshots().join(inc.snapshot.as_deref().unwrap()));
    assert_eq!(rgb.len(), 768 * 576 * 3);
    let red = rgb
        .chunks(3)
        .filter(|p| is_box_red([p[0], p[1], p[2]]))
        .count();
    assert!(red > 200, "boxes drawn: {red} red pixels");
    let st = an.stats();
    assert!(st.inference_ms_p50 > 0.0 && st.inference_ms_p99 >= st.inference_ms_p50);
    an.shutdown(Duration::from_secs(10)).await;
}

/// A camera turned away from its home position (PTZ) is analysed like one switched off: the
/// incident it had open closes, it is no longer decoded, and when it is back home its rules run
/// again and open a new incident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_away_from_home_pauses_its_rules_until_it_returns() {
    let s = site().await;
    let hotspot = s.hotspot(LOWER_HALF, ALWAYS).await;
    // A short cooldown, so that the incident after the return is not held back by the one the
    // turn closed.
    s.rule(
        hotspot,
        r#""kind":"intrusion","zone":"walkway""#,
        r#","cooldown_secs":1"#,
    )
    .await;
    let det = Arc::new(
        ScriptedDetector::new("s", [vec![person(0.9, [0.4, 0.6, 0.5, 0.9])]]).repeat_last(),
    );
    let clock: Arc<dyn Clock> = s.clock.clone();
    let an = Analytics::start(s.store.clone(), clock, det, s.config())
        .await
        .unwrap();
    let aus = footage("vtest_h264.mp4", s.camera, 120);
    for au in &aus[..40] {
        an.offer(au);
    }
    let first = wait_until("an incident to open", || async {
        s.incidents().await.pop()
    })
    .await;
    assert_eq!(first.state, IncidentState::Open);

    let state = |away: bool, position: &str, at: i64| roeh_store::PtzState {
        camera: s.camera,
        away,
        position: position.into(),
        changed_at: WallTime::from_secs(at),
        changed_by: "dana".into(),
    };
    s.store
        .set_ptz_state(&state(true, "preset:gate", START + 10))
        .await
        .unwrap();
    an.reload().await.unwrap();
    assert!(an.wanted_cameras().is_empty(), "not decoded while away");
    let closed = s
        .store
        .get_incident(first.incident.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        closed.state,
        IncidentState::Closed,
        "closed when turned away"
    );
    let opened_before = an.stats().incidents_opened;
    for au in &aus[40..80] {
        an.offer(au);
    }
    an.tick().await.unwrap();
    assert_eq!(s.incidents().await.len(), 1, "no incident while away");

    s.store
        .set_ptz_state(&state(false, "home", START + 20))
        .await
        .unwrap();
    an.reload().await.unwrap();
    assert_eq!(an.wanted_cameras().get(&s.camera), Some(&5.0));
    // Decoding resumes at the next key frame.
    for au in &aus[80..] {
        an.offer(au);
    }
    let again = wait_until("a new incident after returning home", || async {
        let all = s.incidents().await;
        (all.len() == 2).then_some(all)
    })
    .await;
    assert!(again.iter().any(|i| i.state == IncidentState::Open));
    assert_eq!(an.stats().incidents_opened, opened_before + 1);
    an.shutdown(Duration::from_secs(10)).await;
}
