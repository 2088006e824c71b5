//! Detection path benchmark: analysed frames per CPU-second for the whole path (demux → decode
//! at the analysis rate → pre-processing → inference → post-processing) on the same clip and
//! model, roeh against a Python baseline (`benches/python/detect_baseline.py`: PyAV decode,
//! onnxruntime, numpy), all measured in one run.
//!
//! The roeh side is the production path: `roeh_mp4` demuxes `vtest_h264.mp4` into the access
//! units ingest would produce, a `roeh_decode::Decoder` (one thread, 5 fps by pts, frames up to
//! 1280 wide, so 768x576 is kept) converts the selected pictures, and an `OrtDetector` runs them
//! in batches. Each variant (model, intra-op threads, batch) and each Python configuration runs
//! the whole clip once per round, interleaved, and the median over `--runs` rounds is reported.
//! CPU is user + system time of the whole process (all threads) over the loop only: model
//! loading and one warm-up inference are excluded on both sides. Per-frame latency is the time
//! from a decoded frame's hand-over to the detector to its detections (one `detect_batch` call;
//! with batches it is the batch's time, waiting for the batch to fill is not included).
//!
//! `cargo build --release -p roeh-benches --bin detect_path && target/release/detect_path`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use roeh_decode::{AnalysisRate, DecodeConfig, DecodedFrame, Decoder};
use roeh_detect::{Detector, ModelManifest, OrtDetector, OrtDetectorOptions, OrtRuntime, RgbFrame};
use roeh_domain::{AccessUnit, CameraId, CodecParams, Pts90k, WallTime};

const FLOAT_MODEL: &str = "ssdlite-mobilenet-v2-ped";
const INT8_MODEL: &str = "ssdlite-mobilenet-v2-ped-int8";
/// Analysis rate per camera.
const ANALYSIS_FPS: f64 = 5.0;
/// Cores of the node the camera count is given for.
const NODE_CORES: f64 = 2.0;

#[derive(Parser, Debug)]
struct Args {
    /// Rounds; every variant runs once per round and the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The clip (default: `.cache/roeh/footage/vtest_h264.mp4`).
    #[arg(long)]
    footage: Option<PathBuf>,
    /// Python interpreter with PyAV, onnxruntime and numpy (default: the environment that
    /// `benches/python/setup.sh` makes, created when missing).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Skip the Python baseline.
    #[arg(long)]
    no_python: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One roeh configuration.
#[derive(Debug, Clone, Copy)]
struct Variant {
    model: &'static str,
    threads: usize,
    batch: usize,
}

impl Variant {
    fn name(&self) -> String {
        let m = if self.model == INT8_MODEL {
            "int8"
        } else {
            "float"
        };
        format!("roeh {m} t{} b{}", self.threads, self.batch)
    }
}

/// What one pass over the clip measured.
#[derive(Debug, Clone, Default)]
struct Pass {
    frames: u64,
    detections: u64,
    cpu: f64,
    wall: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Pass {
    fn per_cpu_second(&self) -> f64 {
        self.frames as f64 / self.cpu
    }
}

fn cpu_now() -> anyhow::Result<Duration> {
    Ok(roeh_benches::proc_usage(std::process::id())?.cpu)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The clip's access units, pts at 90 kHz, as ingest would hand them over.
fn access_units(bytes: &[u8]) -> anyhow::Result<Vec<AccessUnit>> {
    let track = roeh_mp4::read_video_track(bytes).context("demuxing the clip")?;
    let params: Vec<Arc<CodecParams>> = track.params.iter().cloned().map(Arc::new).collect();
    let camera = CameraId::new_random();
    let mut out = Vec::with_capacity(track.samples.len());
    for (i, s) in track.samples.iter().enumerate() {
        let pts =
            i64::try_from(u128::from(s.decode_time) * 90_000 / u128::from(track.timescale.max(1)))?;
        let data = track
            .sample_data(bytes, i)
            .context("sample outside the file")?;
        out.push(AccessUnit {
            camera,
            pts: Pts90k(pts),
            received_at: WallTime(pts * 100 / 9),
            is_key: s.is_key,
            params: Arc::clone(params.get(s.entry).context("sample entry")?),
            data: Bytes::copy_from_slice(data),
        });
    }
    Ok(out)
}

fn rgb(f: DecodedFrame) -> anyhow::Result<RgbFrame> {
    Ok(RgbFrame::new(f.camera, f.pts, f.width, f.height, f.data)?)
}

/// Runs `frames` through the detector (none: decode only), recording each frame's latency (its
/// call's wall time).
fn detect(
    det: Option<&OrtDetector>,
    frames: &mut Vec<RgbFrame>,
    lat: &mut Vec<f64>,
    detections: &mut u64,
) -> anyhow::Result<()> {
    let Some(det) = det.filter(|_| !frames.is_empty()) else {
        frames.clear();
        return Ok(());
    };
    let t = Instant::now();
    let out = det.detect_batch(frames)?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    for d in &out {
        *detections += d.items.iter().filter(|i| &*i.label == "person").count() as u64;
        lat.push(ms);
    }
    frames.clear();
    Ok(())
}

/// One pass of the roeh path over the clip file; without a detector, demux and decode only.
fn roeh_pass(det: Option<&OrtDetector>, batch: usize, clip: &Path) -> anyhow::Result<Pass> {
    let cfg = DecodeConfig {
        rate: AnalysisRate::Fps(ANALYSIS_FPS as f32),
        max_width: 1280,
        ..DecodeConfig::default()
    };
    let cpu0 = cpu_now()?;
    let wall0 = Instant::now();
    let bytes = std::fs::read(clip)?;
    let aus = access_units(&bytes)?;
    let first = aus.first().context("empty clip")?;
    let mut decoder = Decoder::new(&first.params, &cfg)?;
    let mut pending = Vec::with_capacity(batch);
    let mut lat = Vec::new();
    let (mut frames, mut detections) = (0u64, 0u64);
    let mut take = |f: DecodedFrame,
                    pending: &mut Vec<RgbFrame>,
                    lat: &mut Vec<f64>,
                    detections: &mut u64|
     -> anyhow::Result<()> {
        frames += 1;
        pending.push(rgb(f)?);
        if pending.len() >= batch {
            detect(det, pending, lat, detections)?;
        }
        Ok(())
    };
    for au in &aus {
        if let Some(f) = decoder.decode(au)? {
            take(f, &mut pending, &mut lat, &mut detections)?;
        }
        while let Some(f) = decoder.pop_ready() {
            take(f, &mut pending, &mut lat, &mut detections)?;
        }
    }
    for f in decoder.finish()? {
        take(f, &mut pending, &mut lat, &mut detections)?;
    }
    detect(det, &mut pending, &mut lat, &mut detections)?;
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = (cpu_now()? - cpu0).as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    Ok(Pass {
        frames,
        detections,
        cpu,
        wall,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
    })
}

/// One pass of the Python baseline, in a child process.
fn python_pass(
    python: &Path,
    model: &Path,
    clip: &Path,
    threads: usize,
    decode_only: bool,
) -> anyhow::Result<Pass> {
    let mut cmd = Command::new(python);
    cmd.arg(root().join("benches/python/detect_baseline.py"));
    if decode_only {
        cmd.arg("--decode-only");
    }
    let out = cmd
        .arg("--model")
        .arg(model)
        .arg("--footage")
        .arg(clip)
        .args(["--threads", &threads.to_string()])
        .args(["--fps", &ANALYSIS_FPS.to_string()])
        .output()
        .context("running the Python baseline")?;
    if !out.status.success() {
        bail!(
            "Python baseline failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let f = |k: &str| {
        v[k].as_f64()
            .with_context(|| format!("baseline output lacks {k}"))
    };
    Ok(Pass {
        frames: f("frames")? as u64,
        detections: f("detections")? as u64,
        cpu: f("cpu_s")?,
        wall: f("wall_s")?,
        p50_ms: f("p50_ms")?,
        p99_ms: f("p99_ms")?,
    })
}

fn python_env(arg: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(p) = arg {
        return Ok(p);
    }
    let cache = std::env::var_os("ROEH_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/roeh"));
    let py = cache.join("venv-bench/bin/python");
    if !py.is_file() {
        let st = Command::new("bash")
            .arg(root().join("benches/python/setup.sh"))
            .status()?;
        if !st.success() {
            bail!("benches/python/setup.sh failed");
        }
    }
    Ok(py)
}

/// The median pass of a set, by frames per CPU-second (its latencies come with it).
fn median(mut v: Vec<Pass>) -> Pass {
    v.sort_by(|a, b| a.per_cpu_second().total_cmp(&b.per_cpu_second()));
    v.get(v.len() / 2).cloned().unwrap_or_default()
}

fn cameras(per_cpu_s: f64) -> u64 {
    (NODE_CORES * per_cpu_s / ANALYSIS_FPS).floor() as u64
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let clip = args
        .footage
        .clone()
        .unwrap_or_else(|| root().join(".cache/roeh/footage/vtest_h264.mp4"));
    if !clip.is_file() {
        bail!("{} is missing: run bash scripts/setup.sh", clip.display());
    }
    let manifest = ModelManifest::load(root().join("models/models.toml"))?;
    let float_file = manifest.path_of(manifest.model(FLOAT_MODEL)?);
    let rt = OrtRuntime::from_env()?;
    let python = if args.no_python {
        None
    } else {
        Some(python_env(args.python.clone())?)
    };

    let variants = [
        // roeh's defaults: two intra-op threads, batches of up to 4.
        Variant {
            model: FLOAT_MODEL,
            threads: 2,
            batch: 4,
        },
        Variant {
            model: FLOAT_MODEL,
            threads: 1,
            batch: 1,
        },
        Variant {
            model: FLOAT_MODEL,
            threads: 1,
            batch: 4,
        },
        Variant {
            model: INT8_MODEL,
            threads: 1,
            batch: 1,
        },
        Variant {
            model: INT8_MODEL,
            threads: 1,
            batch: 4,
        },
        Variant {
            model: INT8_MODEL,
            threads: 1,
            batch: 8,
        },
        Variant {
            model: INT8_MODEL,
            threads: 2,
            batch: 4,
        },
    ];
    let py_threads = [1usize, 2];
    let warm = RgbFrame::new(
        CameraId::new_random(),
        Pts90k(0),
        768,
        576,
        Arc::from(vec![0u8; 768 * 576 * 3]),
    )?;
    let mut detectors = Vec::new();
    for v in &variants {
        let det = OrtDetector::load(
            &rt,
            &manifest,
            v.model,
            &OrtDetectorOptions {
                intra_threads: v.threads,
                max_batch: v.batch,
                ..OrtDetectorOptions::default()
            },
        )?;
        det.detect(&warm)?;
        detectors.push(det);
    }

    let mut roeh: Vec<Vec<Pass>> = vec![Vec::new(); variants.len()];
    let mut py: Vec<Vec<Pass>> = vec![Vec::new(); py_threads.len()];
    let mut decode_only: (Vec<Pass>, Vec<Pass>) = (Vec::new(), Vec::new());
    for round in 0..args.runs.max(1) {
        for (i, (v, det)) in variants.iter().zip(&detectors).enumerate() {
            let p = roeh_pass(Some(det), v.batch, &clip)?;
            eprintln!(
                "round {round}: {:<18} {:7.1} frames/CPU-s",
                v.name(),
                p.per_cpu_second()
            );
            roeh[i].push(p);
        }
        let p = roeh_pass(None, 1, &clip)?;
        eprintln!(
            "round {round}: roeh decode only    {:7.1} frames/CPU-s",
            p.per_cpu_second()
        );
        decode_only.0.push(p);
        if let Some(python) = &python {
            let p = python_pass(python, &float_file, &clip, 1, true)?;
            eprintln!(
                "round {round}: python decode only  {:7.1} frames/CPU-s",
                p.per_cpu_second()
            );
            decode_only.1.push(p);
            for (i, t) in py_threads.iter().enumerate() {
                let p = python_pass(python, &float_file, &clip, *t, false)?;
                eprintln!(
                    "round {round}: python float t{t}    {:7.1} frames/CPU-s",
                    p.per_cpu_second()
                );
                py[i].push(p);
            }
        }
    }

    println!(
        "clip {}; analysis {ANALYSIS_FPS} fps; median of {} rounds",
        clip.display(),
        args.runs.max(1)
    );
    println!(
        "{:<22} {:>7} {:>6} {:>8} {:>8} {:>11} {:>8} {:>8} {:>8}",
        "path",
        "frames",
        "people",
        "CPU s",
        "wall s",
        "frames/CPU-s",
        "p50 ms",
        "p99 ms",
        "cameras"
    );
    let row = |name: &str, p: &Pass| {
        println!(
            "{:<22} {:>7} {:>6} {:>8.2} {:>8.2} {:>11.1} {:>8.1} {:>8.1} {:>8}",
            name,
            p.frames,
            p.detections,
            p.cpu,
            p.wall,
            p.per_cpu_second(),
            p.p50_ms,
            p.p99_ms,
            cameras(p.per_cpu_second())
        );
    };
    let roeh: Vec<Pass> = roeh.into_iter().map(median).collect();
    let py: Vec<Pass> = py.into_iter().map(median).collect();
    for (v, p) in variants.iter().zip(&roeh) {
        row(&v.name(), p);
    }
    if python.is_some() {
        for (t, p) in py_threads.iter().zip(&py) {
            row(&format!("python float t{t} b1"), p);
        }
    }
    let (roeh_decode, py_decode) = (median(decode_only.0), median(decode_only.1));
    row("roeh decode only", &roeh_decode);
    if python.is_some() {
        row("python decode only", &py_decode);
    }
    println!(
        "cameras = floor({NODE_CORES} CPU-s per s x frames/CPU-s / {ANALYSIS_FPS} fps): 10 fps \
         cameras analysed at {ANALYSIS_FPS} fps that one {NODE_CORES}-core node sustains"
    );
    if python.is_none() {
        return Ok(());
    }
    for (t, p) in py_threads.iter().zip(&py) {
        let same = variants
            .iter()
            .zip(&roeh)
            .filter(|(v, _)| v.model == FLOAT_MODEL && v.threads == *t)
            .map(|(_, r)| r.per_cpu_second())
            .fold(0.0, f64::max);
        println!(
            "same-model ratio at {t} thread(s): roeh float {:.1} / python float {:.1} = {:.2}x",
            same,
            p.per_cpu_second(),
            same / p.per_cpu_second()
        );
    }
    let (best_i, best) = roeh
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.per_cpu_second().total_cmp(&b.1.per_cpu_second()))
        .context("no variant")?;
    let (best_float_i, best_float) = roeh
        .iter()
        .enumerate()
        .filter(|(i, _)| variants[*i].model == FLOAT_MODEL)
        .max_by(|a, b| a.1.per_cpu_second().total_cmp(&b.1.per_cpu_second()))
        .context("no float variant")?;
    let (py_i, py_best) = py
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.per_cpu_second().total_cmp(&b.1.per_cpu_second()))
        .context("no baseline")?;
    println!(
        "same-model ratio, best of each: {} {:.1} / python float t{} {:.1} = {:.2}x",
        variants[best_float_i].name(),
        best_float.per_cpu_second(),
        py_threads[py_i],
        py_best.per_cpu_second(),
        best_float.per_cpu_second() / py_best.per_cpu_second()
    );
    println!(
        "best ratio: {} {:.1} / python float t{} {:.1} = {:.2}x (goal >= 2x)",
        variants[best_i].name(),
        best.per_cpu_second(),
        py_threads[py_i],
        py_best.per_cpu_second(),
        best.per_cpu_second() / py_best.per_cpu_second()
    );
    Ok(())
}
