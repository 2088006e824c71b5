//! The shipping rule of the int8 person model: on real vtest frames its person recall stays
//! within 2 points of the float model's, both measured against the same reference.
//!
//! Invariants of the measurement (the same as `scripts/quantize_model.py`, which chose the model):
//! - 40 test frames, pictures 10, 30, ..., 790 of `vtest_h264.mp4`, full size (768x576) as roeh
//!   feeds them; the int8 model was calibrated on other pictures (0, 40, ..., 760);
//! - the reference is every person either model reports with a score >= 0.5, boxes of the two
//!   merged at IoU >= 0.5, so neither model is the yardstick of the other;
//! - each model is run at the manifest's threshold (0.4) and its boxes are matched one-to-one to
//!   the reference, greedily, at IoU >= 0.5; recall is matched / reference.
//!
//! Needs the ONNX Runtime library and the footage (`bash scripts/setup.sh`) and `ffmpeg`.

#![allow(clippy::unwrap_used)] // Test helpers: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use roeh_detect::{
    Detection, Detector, ModelManifest, OrtDetector, OrtDetectorOptions, OrtRuntime, RgbFrame, iou,
};
use roeh_domain::{CameraId, Pts90k};
use roeh_testkit::footage_dir;

const FLOAT_MODEL: &str = "ssdlite-mobilenet-v2-ped";
const INT8_MODEL: &str = "ssdlite-mobilenet-v2-ped-int8";
const WIDTH: u32 = 768;
const HEIGHT: u32 = 576;
const FRAMES: usize = 40;
const REFERENCE_SCORE: f32 = 0.5;
const MATCH_IOU: f32 = 0.5;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Pictures 10, 30, ..., 790 of the H.264 footage as full-size RGB24 frames, one ffmpeg run.
fn test_frames() -> Vec<RgbFrame> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(footage_dir().join("vtest_h264.mp4"))
        .args([
            "-vf",
            "select=eq(mod(n\\,20)\\,10)",
            "-fps_mode",
            "passthrough",
        ])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg runs (bash scripts/setup.sh)");
    assert!(out.status.success(), "ffmpeg failed: {out:?}");
    let size = (WIDTH * HEIGHT * 3) as usize;
    assert_eq!(out.stdout.len(), FRAMES * size, "40 frames of 768x576");
    let camera = CameraId::new_random();
    out.stdout
        .chunks_exact(size)
        .enumerate()
        .map(|(i, px)| {
            let pts = Pts90k(i64::try_from((10 + 20 * i) * 9000).unwrap());
            RgbFrame::new(camera, pts, WIDTH, HEIGHT, Arc::from(px)).unwrap()
        })
        .collect()
}

fn detector(model: &str) -> OrtDetector {
    let rt = OrtRuntime::from_env().expect("ONNX Runtime (run bash scripts/setup.sh)");
    let manifest = ModelManifest::load(root().join("models/models.toml")).unwrap();
    let opts = OrtDetectorOptions {
        intra_threads: 1,
        ..OrtDetectorOptions::default()
    };
    OrtDetector::load(&rt, &manifest, model, &opts).expect("model loads and matches its manifest")
}

fn boxes(items: &[Detection], min_score: f32) -> Vec<[f32; 4]> {
    items
        .iter()
        .filter(|d| d.score >= min_score)
        .map(|d| d.bbox)
        .collect()
}

/// `a`, plus the boxes of `b` that overlap none of `a` at [`MATCH_IOU`] or more.
fn merged(a: &[[f32; 4]], b: &[[f32; 4]]) -> Vec<[f32; 4]> {
    let mut out = a.to_vec();
    out.extend(
        b.iter()
            .filter(|x| a.iter().all(|y| iou(x, y) < MATCH_IOU))
            .copied(),
    );
    out
}

/// Reference boxes matched one-to-one by `found` (greedy, best IoU first per reference box).
fn matched(reference: &[[f32; 4]], found: &[[f32; 4]]) -> usize {
    let mut used = vec![false; found.len()];
    let mut hits = 0;
    for r in reference {
        let best = found
            .iter()
            .enumerate()
            .filter(|(j, _)| !used[*j])
            .map(|(j, f)| (j, iou(r, f)))
            .filter(|(_, v)| *v >= MATCH_IOU)
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((j, _)) = best {
            used[j] = true;
            hits += 1;
        }
    }
    hits
}

#[test]
fn matching_is_one_to_one_and_needs_overlap() {
    let a = [0.1, 0.1, 0.3, 0.5];
    let near = [0.11, 0.1, 0.31, 0.5];
    let far = [0.6, 0.6, 0.8, 0.9];
    assert_eq!(matched(&[a], &[near]), 1);
    assert_eq!(matched(&[a], &[far]), 0);
    // One found box cannot count for two reference people.
    assert_eq!(matched(&[a, a], &[near]), 1);
    assert_eq!(merged(&[a], &[near, far]), vec![a, far]);
}

#[test]
fn int8_person_recall_is_within_two_points_of_float() {
    let frames = test_frames();
    let float = detector(FLOAT_MODEL);
    let int8 = detector(INT8_MODEL);
    let f = float.detect_batch(&frames).unwrap();
    let q = int8.detect_batch(&frames).unwrap();
    assert_eq!(int8.spec().score_threshold, float.spec().score_threshold);

    let (mut reference, mut float_hits, mut int8_hits) = (0, 0, 0);
    let (mut float_count, mut int8_count, mut agreement) = (0, 0, 0);
    for (f, q) in f.iter().zip(&q) {
        let f_shipped = boxes(&f.items, 0.0);
        let q_shipped = boxes(&q.items, 0.0);
        let r = merged(
            &boxes(&f.items, REFERENCE_SCORE),
            &boxes(&q.items, REFERENCE_SCORE),
        );
        reference += r.len();
        float_hits += matched(&r, &f_shipped);
        int8_hits += matched(&r, &q_shipped);
        float_count += f_shipped.len();
        int8_count += q_shipped.len();
        agreement += matched(&f_shipped, &q_shipped);
    }
    let pct = |n: usize| 100.0 * n as f64 / reference as f64;
    let (float_recall, int8_recall) = (pct(float_hits), pct(int8_hits));
    eprintln!(
        "person recall on {FRAMES} frames, {reference} reference people: float {float_recall:.1} % \
         ({float_count} detections), int8 {int8_recall:.1} % ({int8_count} detections); int8 \
         finds {agreement} of the float model's {float_count} detections"
    );
    // The footage has several people in most frames; a reference this small means a broken run.
    assert!(reference >= 100, "only {reference} reference people");
    assert!(float_recall >= 90.0, "float recall {float_recall:.1} %");
    assert!(
        int8_recall >= float_recall - 2.0,
        "int8 recall {int8_recall:.1} % is more than 2 points below float {float_recall:.1} %"
    );
    // Not a copy of the float model: its scores differ.
    let differs = f
        .iter()
        .zip(&q)
        .any(|(f, q)| f.items.first().map(|d| d.score) != q.items.first().map(|d| d.score));
    assert!(differs, "int8 scores are identical to float scores");
}

// ---------------------------------------------------------------------------------------------
// The int8 model's detections do not depend on the CPU.
//
// ONNX Runtime's default u8 x s8 kernels add pairs of products in saturating 16-bit lanes on
// x86-64 CPUs without VNNI (AVX2 only), and in 32 bits on VNNI CPUs, so the same int8 model once
// found other people on each. On CPUs without VNNI roeh's sessions set ONNX Runtime's
// exact-accumulation option (`EXACT_INT8_KEY`, `needs_exact_int8` in src/ort_detector.rs): the
// integer sums are then exact on every CPU. This test runs the test binary again under
// `qemu-x86_64 -cpu Haswell`, an emulated CPU with AVX2 and FMA but no AVX-512 and no VNNI
// (whatever CPU runs the suite), and requires the int8 model to give there the same detections,
// boxes and scores as on this CPU (on a VNNI CPU: VNNI kernels against the exact u8 x u8 ones).

/// Env var naming the file the emulated run writes its detections to.
const EMULATED_OUT_ENV: &str = "ROEH_INT8_EMULATED_OUT";
/// Frames compared across CPUs: every 4th test frame (emulation runs about 50x slower).
const CROSS_CPU_STEP: usize = 4;
/// Scores collected down to this, so a score near the shipped threshold cannot hide a difference.
const CROSS_CPU_FLOOR: f32 = 0.2;
/// Largest score difference allowed across CPUs: only float rounding in the graph's float parts
/// (resize, box decoding) may differ. Saturated sums moved scores by tenths.
const CROSS_CPU_SCORE_TOLERANCE: f32 = 1e-3;

/// `(score, [xmin, ymin, xmax, ymax])` of each compared frame, as JSON.
fn cross_cpu_detections() -> Vec<Vec<(f32, [f32; 4])>> {
    let frames: Vec<RgbFrame> = test_frames().into_iter().step_by(CROSS_CPU_STEP).collect();
    let rt = OrtRuntime::from_env().expect("ONNX Runtime (run bash scripts/setup.sh)");
    let manifest = ModelManifest::load(root().join("models/models.toml")).unwrap();
    let opts = OrtDetectorOptions {
        intra_threads: 1,
        score_threshold: Some(CROSS_CPU_FLOOR),
        ..OrtDetectorOptions::default()
    };
    let det = OrtDetector::load(&rt, &manifest, INT8_MODEL, &opts).unwrap();
    det.detect_batch(&frames)
        .unwrap()
        .iter()
        .map(|d| d.items.iter().map(|i| (i.score, i.bbox)).collect())
        .collect()
}

#[test]
fn int8_detections_are_the_same_on_a_cpu_without_avx512_or_vnni() {
    if let Some(out) = std::env::var_os(EMULATED_OUT_ENV) {
        // The emulated run: prove which CPU this is, then detect.
        assert!(std::arch::is_x86_feature_detected!("avx2"), "AVX2 expected");
        assert!(!std::arch::is_x86_feature_detected!("avx512f"));
        assert!(!std::arch::is_x86_feature_detected!("avx512vnni"));
        assert!(!std::arch::is_x86_feature_detected!("avxvnni"));
        assert!(roeh_detect::needs_exact_int8());
        let json = serde_json::to_vec(&cross_cpu_detections()).unwrap();
        std::fs::write(out, json).unwrap();
        return;
    }
    let qemu = "qemu-x86_64";
    if std::process::Command::new(qemu)
        .arg("-version")
        .output()
        .is_err()
    {
        return roeh_testkit::prerequisite_missing(
            "int8 across CPUs",
            "qemu-x86_64 (Debian's qemu-user) is not installed",
        );
    }
    eprintln!(
        "this CPU {} VNNI",
        if roeh_detect::needs_exact_int8() {
            "lacks"
        } else {
            "has"
        }
    );
    let native = cross_cpu_detections();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("emulated.json");
    let run = std::process::Command::new(qemu)
        .args(["-cpu", "Haswell"])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "int8_detections_are_the_same_on_a_cpu_without_avx512_or_vnni",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(EMULATED_OUT_ENV, &out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the emulated run failed: {}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let emulated: Vec<Vec<(f32, [f32; 4])>> =
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(native.len(), emulated.len());
    let (mut people, mut worst_score, mut worst_iou) = (0, 0f32, 1f32);
    for (i, (n, e)) in native.iter().zip(&emulated).enumerate() {
        // Every person found at the shipped threshold on either CPU is found on the other, in
        // the same place, with the same score: integer sums are exact, only float rounding of
        // the graph's float parts may differ.
        for (a, b, who) in [(n, e, "this CPU"), (e, n, "the emulated CPU")] {
            for (score, bbox) in a.iter().filter(|d| d.0 >= 0.4) {
                let twin = b
                    .iter()
                    .max_by(|x, y| iou(&x.1, bbox).total_cmp(&iou(&y.1, bbox)))
                    .unwrap_or_else(|| panic!("frame {i}: nothing on one side"));
                worst_score = worst_score.max((twin.0 - score).abs());
                worst_iou = worst_iou.min(iou(&twin.1, bbox));
                assert!(
                    (twin.0 - score).abs() <= CROSS_CPU_SCORE_TOLERANCE
                        && iou(&twin.1, bbox) >= 0.99,
                    "frame {i}: a person found on {who} at {score:.3} {bbox:?} is at \
                     {:.3} {:?} on the other",
                    twin.0,
                    twin.1
                );
                people += 1;
            }
        }
    }
    eprintln!(
        "{people} detections compared across CPUs: largest score difference {worst_score:.5}, \
         smallest IoU {worst_iou:.4}"
    );
    assert!(people >= 20, "only {people} detections compared");
}
