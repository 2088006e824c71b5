//! End-to-end checks of `OrtDetector` with the real ONNX Runtime library, the shipped person
//! model, real vtest footage and the YOLO-layout fixture.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.
#![allow(clippy::needless_range_loop)] // Indexing several arrays in step reads best.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use roeh_detect::{
    Detector, ErrorKind, Execution, InputTensor, ModelManifest, OrtDetector, OrtDetectorOptions,
    OrtRuntime, RgbFrame,
};
use roeh_domain::{CameraId, Pts90k};
use roeh_testkit::footage_dir;
use sha2::{Digest, Sha256};

const DEFAULT_MODEL: &str = "ssdlite-mobilenet-v2-ped";
const YOLO_SHA256: &str = "c79de7f8116f5a46b3342c84361965aed0ae0af6464e30791cb3a4ddd5091ff0";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn runtime() -> OrtRuntime {
    OrtRuntime::from_env().expect("ONNX Runtime (run bash scripts/setup.sh)")
}

fn manifest() -> ModelManifest {
    ModelManifest::load(root().join("models/models.toml")).expect("models/models.toml")
}

fn person_detector(opts: &OrtDetectorOptions) -> OrtDetector {
    OrtDetector::load(&runtime(), &manifest(), DEFAULT_MODEL, opts).expect("default model loads")
}

/// A manifest with one YOLO-layout entry in a temp dir, pointing at `file` with `sha256`.
fn yolo_manifest(dir: &Path, file: &Path, sha256: &str, extra: &str) -> ModelManifest {
    let text = format!(
        r#"
[[model]]
id = "yolo-tiny"
file = "{}"
sha256 = "{sha256}"
input = {{ name = "images", dtype = "float32", layout = "NCHW", channels = "RGB", size = [64, 64] }}
output = {{ layout = "yolo", predictions = "output0", nms_iou_threshold = 0.45 }}
labels = ["person", "bicycle", "car"]
score_threshold = 0.4
licence = "test fixture"
{extra}
"#,
        file.display()
    );
    let path = dir.join("models.toml");
    std::fs::write(&path, text).unwrap();
    ModelManifest::load(&path).unwrap()
}

fn frame(w: u32, h: u32, data: Vec<u8>) -> RgbFrame {
    RgbFrame::new(CameraId::new_random(), Pts90k(0), w, h, Arc::from(data)).unwrap()
}

/// Frame `index` of vtest.avi, full size (768x576), decoded with ffmpeg.
fn vtest_frame(index: u32) -> RgbFrame {
    let out = roeh_testkit::output_ok(
        Command::new("ffmpeg")
            .args(["-nostdin", "-loglevel", "error", "-i"])
            .arg(footage_dir().join("vtest.avi"))
            .args(["-vf", &format!("select=eq(n\\,{index})"), "-frames:v", "1"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]),
    );
    frame(768, 576, out.stdout)
}

fn persons(d: &roeh_detect::Detections, min: f32) -> usize {
    d.items
        .iter()
        .filter(|i| &*i.label == "person" && i.score >= min)
        .count()
}

#[test]
fn matches_the_python_reference_within_1e_4() {
    let reference: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("reference.json")).unwrap()).unwrap();
    let data = std::fs::read(fixtures().join(reference["frame_file"].as_str().unwrap())).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&data)),
        reference["frame_sha256"].as_str().unwrap(),
        "fixture frame changed"
    );
    let (w, h) = (
        reference["width"].as_u64().unwrap() as u32,
        reference["height"].as_u64().unwrap() as u32,
    );
    let f = frame(w, h, data.clone());

    let det = person_detector(&OrtDetectorOptions::default());
    // The detector's own preprocessing feeds exactly the tensor the reference was computed on.
    let (tensor, _) = det.preprocess(std::slice::from_ref(&f)).unwrap();
    assert_eq!(
        tensor,
        InputTensor::U8 {
            shape: [1, h as usize, w as usize, 3],
            data
        }
    );
    let raw = det.run_raw(&tensor).unwrap();
    let get = |name: &str| raw.iter().find(|r| r.name == name).unwrap();
    let boxes = get("detection_boxes:0");
    let scores = get("detection_scores:0");
    let classes = get("detection_classes:0");
    assert_eq!(boxes.shape, vec![1, 100, 4]);
    assert_eq!(scores.shape, vec![1, 100]);
    assert_eq!(
        get("num_detections:0").data,
        vec![reference["num_detections"].as_f64().unwrap() as f32]
    );
    let top = reference["top"].as_u64().unwrap() as usize;
    let close = |a: f32, b: &serde_json::Value, what: &str| {
        let b = b.as_f64().unwrap() as f32;
        assert!((a - b).abs() <= 1e-4, "{what}: rust {a} vs python {b}");
    };
    for i in 0..top {
        close(
            scores.data[i],
            &reference["scores"][i],
            &format!("score {i}"),
        );
        close(
            classes.data[i],
            &reference["classes"][i],
            &format!("class {i}"),
        );
        for k in 0..4 {
            close(
                boxes.data[i * 4 + k],
                &reference["boxes_ymin_xmin_ymax_xmax"][i][k],
                &format!("box {i}[{k}]"),
            );
        }
    }

    // Decoded: boxes turned into xmin,ymin,xmax,ymax, thresholded at the manifest's 0.4.
    let d = det.detect(&f).unwrap();
    assert_eq!(&*d.model_id, DEFAULT_MODEL);
    assert_eq!(d.camera, f.camera);
    assert!(persons(&d, 0.4) >= 3, "{:?}", d.items);
    assert!(d.items.iter().all(|i| i.score >= 0.4 && i.class_id == 1));
    let b0 = &reference["boxes_ymin_xmin_ymax_xmax"][0];
    let want = [b0[1].clone(), b0[0].clone(), b0[3].clone(), b0[2].clone()];
    for k in 0..4 {
        close(d.items[0].bbox[k], &want[k], &format!("decoded box [{k}]"));
    }
}

#[test]
fn finds_people_in_full_frames_and_batches_agree_with_single_frames() {
    let det = person_detector(&OrtDetectorOptions::default());
    // Frames from different "cameras", one at half size: a batch resizes them to one size.
    let frames = vec![
        vtest_frame(100),
        vtest_frame(200),
        vtest_frame(300),
        vtest_frame(400),
    ];
    let batch = det.detect_batch(&frames).unwrap();
    assert_eq!(batch.len(), 4);
    let mut total = 0;
    for (f, b) in frames.iter().zip(&batch) {
        assert_eq!(b.camera, f.camera);
        let single = det.detect(f).unwrap();
        assert_eq!(single.items.len(), b.items.len());
        for (s, x) in single.items.iter().zip(&b.items) {
            assert!((s.score - x.score).abs() < 1e-4);
            for k in 0..4 {
                assert!((s.bbox[k] - x.bbox[k]).abs() < 1e-4);
                assert!((0.0..=1.0).contains(&x.bbox[k]));
            }
        }
        total += persons(b, 0.4);
    }
    assert!(total >= 12, "only {total} people in 4 busy frames");
    assert!(persons(&batch[0], 0.4) >= 3);

    // Mixed sizes in one batch, and more frames than max_batch.
    let small = frame(
        384,
        288,
        std::fs::read(fixtures().join("vtest_f100_384x288.rgb")).unwrap(),
    );
    let mixed: Vec<RgbFrame> = [frames.clone(), vec![small]].concat();
    let out = det.detect_batch(&mixed).unwrap();
    assert_eq!(out.len(), 5);
    assert!(persons(&out[4], 0.4) >= 3);
}

#[test]
fn yolo_layout_thresholds_nms_and_letterbox() {
    let tmp = tempfile::tempdir().unwrap();
    let m = yolo_manifest(
        tmp.path(),
        &fixtures().join("yolo_tiny.onnx"),
        YOLO_SHA256,
        "",
    );
    let det = OrtDetector::load(&runtime(), &m, "yolo-tiny", &OrtDetectorOptions::default())
        .expect("yolo fixture loads");

    // White square frame: the brightness-driven bicycle (0.5) appears.
    let white = det.detect(&frame(64, 64, vec![255; 64 * 64 * 3])).unwrap();
    let got: Vec<(&str, f32)> = white
        .items
        .iter()
        .map(|i| (&*i.label, (i.score * 1000.0).round() / 1000.0))
        .collect();
    assert_eq!(
        got,
        vec![
            ("person", 0.9),
            ("car", 0.7),
            ("person", 0.6),
            ("bicycle", 0.5)
        ]
    );
    // Box of anchor 0: cx 20, cy 32, w 10, h 20 in a 64x64 input, no letterbox.
    let b = white.items[0].bbox;
    let want = [15.0 / 64.0, 22.0 / 64.0, 25.0 / 64.0, 42.0 / 64.0];
    for k in 0..4 {
        assert!((b[k] - want[k]).abs() < 1e-6, "{b:?} vs {want:?}");
    }

    // Black frame: no bicycle.
    let black = det.detect(&frame(64, 64, vec![0; 64 * 64 * 3])).unwrap();
    assert!(black.items.iter().all(|i| &*i.label != "bicycle"));
    assert_eq!(black.items.len(), 3);

    // A 128x64 frame is letterboxed (scale 0.5, 16 rows of padding above and below); boxes map
    // back to the frame: x = px / 0.5 / 128, y = (py - 16) / 0.5 / 64.
    let wide = det.detect(&frame(128, 64, vec![0; 128 * 64 * 3])).unwrap();
    let b = wide.items[0].bbox;
    let want = [
        15.0 / 0.5 / 128.0,
        (22.0 - 16.0) / 0.5 / 64.0,
        25.0 / 0.5 / 128.0,
        (42.0 - 16.0) / 0.5 / 64.0,
    ];
    for k in 0..4 {
        assert!((b[k] - want[k]).abs() < 1e-6, "{b:?} vs {want:?}");
    }
    // The model has a fixed batch of 1: larger batches are split, results stay in order.
    let batch = det
        .detect_batch(&[
            frame(64, 64, vec![255; 64 * 64 * 3]),
            frame(64, 64, vec![0; 64 * 64 * 3]),
        ])
        .unwrap();
    assert_eq!(batch[0].items.len(), 4);
    assert_eq!(batch[1].items.len(), 3);
}

#[test]
fn hash_mismatch_names_file_and_both_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    let wrong = "0".repeat(64);
    let file = fixtures().join("yolo_tiny.onnx");
    let m = yolo_manifest(tmp.path(), &file, &wrong, "");
    let e = OrtDetector::load(&runtime(), &m, "yolo-tiny", &OrtDetectorOptions::default())
        .expect_err("hash mismatch");
    assert_eq!(e.kind(), ErrorKind::DataLoss);
    let msg = e.to_string();
    assert!(msg.contains(&file.display().to_string()), "{msg}");
    assert!(msg.contains(&wrong) && msg.contains(YOLO_SHA256), "{msg}");
}

#[test]
fn missing_model_file_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let m = yolo_manifest(tmp.path(), Path::new("no_such_model.onnx"), YOLO_SHA256, "");
    let e = OrtDetector::load(&runtime(), &m, "yolo-tiny", &OrtDetectorOptions::default())
        .expect_err("missing file");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("no_such_model.onnx"), "{e}");
}

#[test]
fn a_model_that_does_not_match_its_manifest_entry_is_refused() {
    // The YOLO entry pointed at the TF person model (with that file's real hash).
    let tmp = tempfile::tempdir().unwrap();
    let tf = root().join("models/ssdlite_mobilenet_v2_ped.onnx");
    let sha = manifest().model(DEFAULT_MODEL).unwrap().sha256.clone();
    let m = yolo_manifest(tmp.path(), &tf, &sha, "");
    let e = OrtDetector::load(&runtime(), &m, "yolo-tiny", &OrtDetectorOptions::default())
        .expect_err("mismatched graph");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let msg = e.to_string();
    assert!(
        msg.contains("\"images\"") && msg.contains("\"image_tensor:0\""),
        "{msg}"
    );

    // Right input, wrong outputs: the TF entry pointed at the YOLO fixture.
    let text = format!(
        r#"
[[model]]
id = "tf"
file = "{}"
sha256 = "{YOLO_SHA256}"
input = {{ name = "images", dtype = "float32", layout = "NCHW", channels = "RGB", size = [64, 64] }}
output = {{ layout = "tf-od-api" }}
labels = ["person"]
score_threshold = 0.4
licence = "test"
"#,
        fixtures().join("yolo_tiny.onnx").display()
    );
    let m = ModelManifest::parse(&text, tmp.path()).unwrap();
    let e = OrtDetector::load(&runtime(), &m, "tf", &OrtDetectorOptions::default())
        .expect_err("mismatched outputs");
    let msg = e.to_string();
    assert!(
        msg.contains("detection_boxes:0") && msg.contains("unexpected [\"output0\"]"),
        "{msg}"
    );
}

#[test]
fn a_frame_with_the_wrong_length_is_refused() {
    let det = person_detector(&OrtDetectorOptions::default());
    let good = frame(64, 48, vec![0; 64 * 48 * 3]);
    let bad = RgbFrame {
        data: Arc::from(vec![0u8; 64 * 48 * 3 - 1]),
        ..good.clone()
    };
    let e = det.detect_batch(&[good, bad]).expect_err("short frame");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("needs 9216 bytes, got 9215"), "{e}");
}

#[test]
fn a_missing_runtime_library_names_the_setup_command() {
    let e = OrtRuntime::init("/nonexistent/libonnxruntime.so.1.31.1").expect_err("missing lib");
    assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
    let msg = e.to_string();
    assert!(
        msg.contains("bash scripts/setup.sh") && msg.contains("/nonexistent/libonnxruntime"),
        "{msg}"
    );
}

#[test]
fn cuda_falls_back_to_cpu_unless_required() {
    let opts = OrtDetectorOptions {
        execution: Execution::Cuda { device_id: 0 },
        ..OrtDetectorOptions::default()
    };
    // This machine's ONNX Runtime is the CPU build: the request falls back, with a warning.
    let det = person_detector(&opts);
    assert_eq!(det.execution(), Execution::Cpu);
    let f = frame(
        384,
        288,
        std::fs::read(fixtures().join("vtest_f100_384x288.rgb")).unwrap(),
    );
    assert!(persons(&det.detect(&f).unwrap(), 0.4) >= 3);

    let required = OrtDetectorOptions {
        require_cuda: true,
        ..opts
    };
    let e = OrtDetector::load(&runtime(), &manifest(), DEFAULT_MODEL, &required)
        .expect_err("CUDA required");
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("CUDA"), "{e}");
}

/// Downscaling before inference keeps detections equivalent: on 10 busy vtest frames, every
/// person found at full size (768 px wide) with score >= 0.5 is found again at 640 px wide with
/// a box overlapping it by IoU >= 0.7.
#[test]
fn downscaling_to_640_keeps_detections() {
    let rt = runtime();
    let m = manifest();
    let at = |w: u32| {
        let opts = OrtDetectorOptions {
            max_width: Some(w),
            ..OrtDetectorOptions::default()
        };
        OrtDetector::load(&rt, &m, DEFAULT_MODEL, &opts).unwrap()
    };
    let (full, small) = (at(768), at(640));
    let mut checked = 0;
    for i in 0..10 {
        let f = vtest_frame(60 + 70 * i);
        let a = full.detect(&f).unwrap();
        let b = small.detect(&f).unwrap();
        for d in a.items.iter().filter(|d| d.score >= 0.5) {
            let best = b
                .items
                .iter()
                .map(|e| roeh_detect::iou(&d.bbox, &e.bbox))
                .fold(0.0f32, f32::max);
            assert!(
                best >= 0.7,
                "frame {i}: {d:?} lost at 640 px (best IoU {best})"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 20,
        "only {checked} confident people in 10 frames"
    );
}
