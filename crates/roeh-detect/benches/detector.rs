//! Detector throughput on real vtest frames (768x576, downscaled to 640x480 by the detector):
//! batch 1 and 4, at 1 and 2 intra-op threads, plus the preprocessing alone.
//!
//! `cargo bench -p roeh-detect`; needs the ONNX Runtime library (`bash scripts/setup.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // A bench that cannot set up should stop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use roeh_detect::{Detector, ModelManifest, OrtDetector, OrtDetectorOptions, OrtRuntime, RgbFrame};
use roeh_domain::{CameraId, Pts90k};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn frames(n: u32) -> Vec<RgbFrame> {
    let footage = std::env::var_os("ROEH_FOOTAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/roeh/footage"));
    (0..n)
        .map(|i| {
            let out = Command::new("ffmpeg")
                .args(["-nostdin", "-loglevel", "error", "-i"])
                .arg(footage.join("vtest.avi"))
                .args(["-vf", &format!("select=eq(n\\,{})", 100 + 50 * i)])
                .args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
                .output()
                .expect("ffmpeg");
            RgbFrame::new(
                CameraId::new_random(),
                Pts90k(0),
                768,
                576,
                Arc::from(out.stdout),
            )
            .expect("frame")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = OrtRuntime::from_env().expect("ONNX Runtime");
    let manifest = ModelManifest::load(root().join("models/models.toml")).expect("manifest");
    let frames = frames(4);

    let mut g = c.benchmark_group("detect_768x576");
    g.sample_size(20);
    for threads in [1, 2] {
        let det = OrtDetector::load(
            &rt,
            &manifest,
            "ssdlite-mobilenet-v2-ped",
            &OrtDetectorOptions {
                intra_threads: threads,
                ..OrtDetectorOptions::default()
            },
        )
        .expect("detector");
        for batch in [1usize, 4] {
            g.throughput(Throughput::Elements(batch as u64));
            g.bench_with_input(
                BenchmarkId::new(format!("threads{threads}"), format!("batch{batch}")),
                &batch,
                |b, &batch| b.iter(|| det.detect_batch(&frames[..batch]).expect("detect")),
            );
        }
    }
    g.finish();

    let det = OrtDetector::load(
        &rt,
        &manifest,
        "ssdlite-mobilenet-v2-ped",
        &OrtDetectorOptions::default(),
    )
    .expect("detector");
    let mut g = c.benchmark_group("preprocess_768x576_to_640x480");
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_frame", |b| {
        b.iter(|| det.preprocess(&frames[..1]).expect("preprocess"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
