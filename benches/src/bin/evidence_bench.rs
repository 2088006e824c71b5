//! Evidence benchmark: export time of a ~10-minute clip against `cp` of the same segment bytes,
//! and offline verification throughput against `openssl dgst -sha256` (and `sha256sum`) on the
//! same clip, all measured in one run on this machine.
//!
//! The recording is real: the vtest footage's access units, looped to ~10.6 minutes, go through
//! the real recorder (segments, journal, SQLite, evidence log) on a simulated clock, so the
//! recording takes seconds. The export is the real path a user triggers (custody event, signed
//! checkpoint, proofs, bundle written by `write_bundle`). Each measurement is the median of
//! `--runs` runs with a warm page cache on both sides.
//!
//! `cargo run --release -p roeh-benches --bin evidence_bench -- [--runs 5] [--loops 8]`

use anyhow::{Context, bail};
use clap::Parser;
use roeh_domain::{
    AccessUnit, CameraId, Clock, IngestEvent, Pts90k, SimClock, VideoCodec, WallTime,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Runs of each measurement (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// How many times the 79.5 s footage is looped (8 ≈ 10.6 minutes).
    #[arg(long, default_value_t = 8)]
    loops: u32,
    /// Work directory (default: a temp dir).
    #[arg(long)]
    work: Option<PathBuf>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn time_cmd(cmd: &mut Command) -> anyhow::Result<f64> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(secs)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let tmp = tempfile::tempdir()?;
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&work)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(&args, &work))
}

async fn run(args: &Args, work: &Path) -> anyhow::Result<()> {
    let data = work.join("data");
    let footage_root = data.join("footage");
    std::fs::create_dir_all(&footage_root)?;
    let store = roeh_store::Store::open(&format!(
        "sqlite://{}?mode=rwc",
        data.join("roeh.db").display()
    ))
    .await?;
    let t0 = WallTime::parse("2026-11-22T08:00:00Z").context("time")?;
    let clock = Arc::new(SimClock::new(t0));
    let camera = roeh_domain::Camera {
        id: CameraId::new_random(),
        name: "bench".into(),
        url: roeh_domain::CameraUrl::parse("rtsp://127.0.0.1:9/bench")?,
        credentials: None,
        transport: roeh_domain::Transport::Tcp,
        enabled: true,
        retention: roeh_domain::Retention::default(),
    };
    store.insert_camera(&camera, t0).await?;

    // Record the looped footage through the real recorder.
    let src = roeh_testkit::footage("vtest_h264.mp4");
    let bytes = std::fs::read(&src)?;
    let track = roeh_mp4::read_video_track(&bytes)?;
    let infos = track.sample_infos_90k()?;
    let params = Arc::new(track.params[0].clone());
    if params.codec != VideoCodec::H264 {
        bail!("expected H.264 footage");
    }
    let loop_len: i64 = infos.iter().map(|s| i64::from(s.duration)).sum();
    let space = Arc::new(roeh_recorder::OldestFirst::new(
        store.clone(),
        footage_root.clone(),
        Arc::new(roeh_recorder::NoHolds),
        clock.clone(),
    ));
    let mut rc = roeh_recorder::RecorderConfig::new(footage_root.clone(), space);
    rc.target_duration = Duration::from_secs(10);
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let rec = tokio::spawn(roeh_recorder::run_recorder(
        camera.id,
        rx,
        store.clone(),
        clock.clone(),
        Arc::new(rc),
    ));
    tx.send(IngestEvent::Connected {
        camera: camera.id,
        at: t0,
    })
    .await?;
    let t_rec = Instant::now();
    let mut frames = 0u64;
    for l in 0..args.loops {
        let mut pts = i64::from(l) * loop_len;
        for (i, s) in infos.iter().enumerate() {
            let data = track
                .sample_data(&bytes, i)
                .context("sample out of range")?;
            let target = t0.plus(Duration::from_micros((pts as u64) * 100 / 9));
            let now = clock.wall();
            if target > now {
                clock.advance(target.duration_since(now));
            }
            tx.send(IngestEvent::Frame(AccessUnit {
                camera: camera.id,
                pts: Pts90k(pts),
                received_at: clock.wall(),
                is_key: s.is_key,
                params: params.clone(),
                data: bytes::Bytes::copy_from_slice(data),
            }))
            .await?;
            pts += i64::from(s.duration);
            frames += 1;
        }
    }
    drop(tx);
    let stats = rec.await??;
    let segs = store
        .segments_in_range(camera.id, t0, clock.wall().plus(Duration::from_secs(60)))
        .await?;
    let rec_bytes: u64 = segs.iter().map(|s| s.bytes).sum();
    println!(
        "recorded {frames} frames, {} segments, {:.1} MB in {:.1} s ({stats:?})",
        segs.len(),
        rec_bytes as f64 / 1e6,
        t_rec.elapsed().as_secs_f64()
    );
    let (first, last) = match (segs.first(), segs.last()) {
        (Some(f), Some(l)) => (f.start, l.end),
        _ => bail!("nothing recorded"),
    };
    let range = (
        first.plus(Duration::from_secs(1)),
        last.minus(Duration::from_secs(1)),
    );
    println!(
        "clip range {} .. {} ({:.0} s)",
        range.0.to_rfc3339(),
        range.1.to_rfc3339(),
        range.1.duration_since(range.0).as_secs_f64()
    );

    let custody = roeh_custody::Custody::open(
        store.clone(),
        clock.clone(),
        roeh_custody::CustodyConfig {
            keys_dir: data.join("keys"),
            exports_dir: data.join("exports"),
            footage_root: footage_root.clone(),
            origin: "roeh:bench".into(),
            checkpoint_every: Duration::from_secs(3600),
        },
    )
    .await?;
    let pem = custody.public_keys().await?[0].pem.clone();
    let key = roeh_evidence::keys::PublicKey::from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("public key: {e}"))?;

    let mut export_secs = Vec::new();
    let mut cp_secs = Vec::new();
    let mut cp_sync_secs = Vec::new();
    let mut verify_secs = Vec::new();
    let mut openssl_secs = Vec::new();
    let mut sha256sum_secs = Vec::new();
    let mut last_bundle = PathBuf::new();
    let mut clip_bytes = 0u64;
    let mut seg_files = Vec::new();
    for run in 0..args.runs {
        // Export through the real job path.
        let t = Instant::now();
        let job = custody
            .start_export(roeh_custody::ExportRequest {
                camera: camera.id,
                start: range.0,
                end: range.1,
                reason: "benchmark".into(),
                case_ref: format!("BENCH-{run}"),
                requester: "bench".into(),
                form: roeh_custody::ExportForm::Directory,
            })
            .await?;
        let path = loop {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let j = custody
                .export_status(&job.id)
                .await?
                .context("job vanished")?;
            match j.state {
                roeh_store::ExportState::Done => break PathBuf::from(j.path.unwrap_or_default()),
                roeh_store::ExportState::Failed => bail!("export failed: {:?}", j.error),
                _ => {}
            }
        };
        export_secs.push(t.elapsed().as_secs_f64());
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path.join("manifest.json"))?)?;
        seg_files = manifest["segments"]
            .as_array()
            .context("manifest segments")?
            .iter()
            .filter_map(|s| s["seq"].as_u64())
            .map(|seq| roeh_recorder::segment_path(&footage_root, camera.id, seq, VideoCodec::H264))
            .collect::<Vec<_>>();

        // Baseline: cp of the same segment bytes.
        let dest = work.join(format!("cp-{run}"));
        std::fs::create_dir_all(&dest)?;
        cp_secs.push(time_cmd(Command::new("cp").args(&seg_files).arg(&dest))?);
        // The same with the durability a bundle has (its files and directory on disk before
        // the export is done): cp, then `sync -f`, the file system's syncfs.
        let dest = work.join(format!("cp-sync-{run}"));
        std::fs::create_dir_all(&dest)?;
        cp_sync_secs.push(
            time_cmd(Command::new("cp").args(&seg_files).arg(&dest))?
                + time_cmd(Command::new("sync").arg("-f").arg(&dest))?,
        );

        // Verification vs the hardware SHA-256 limit.
        let t = Instant::now();
        let verdict = roeh_evidence::verify::verify_bundle(&path, Some(&key), &mut |_, _| {})
            .map_err(|e| anyhow::anyhow!("verify: {e}"))?;
        verify_secs.push(t.elapsed().as_secs_f64());
        if !verdict.to_string().starts_with("OK") {
            bail!("bundle did not verify: {verdict}");
        }
        let clip = path.join("clip.mp4");
        clip_bytes = std::fs::metadata(&clip)?.len();
        openssl_secs.push(time_cmd(
            Command::new("openssl").args(["dgst", "-sha256"]).arg(&clip),
        )?);
        sha256sum_secs.push(time_cmd(Command::new("sha256sum").arg(&clip))?);
        last_bundle = path;
    }
    let seg_bytes: u64 = seg_files
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let (e, c, cs) = (median(export_secs), median(cp_secs), median(cp_sync_secs));
    let (v, o, s) = (
        median(verify_secs),
        median(openssl_secs),
        median(sha256sum_secs),
    );
    let gb = |b: u64, secs: f64| b as f64 / secs / 1e9;
    println!("bundle: {}", last_bundle.display());
    println!(
        "export of {} segments ({:.1} MB): {:.3} s; cp of the same bytes: {:.3} s; ratio export/cp = {:.2}",
        seg_files.len(),
        seg_bytes as f64 / 1e6,
        e,
        c,
        e / c
    );
    println!(
        "cp + sync -f of the same bytes: {cs:.3} s; ratio export/(cp + sync) = {:.2}",
        e / cs
    );
    println!(
        "verify {:.1} MB: roeh {:.3} s ({:.2} GB/s); openssl dgst -sha256 {:.3} s ({:.2} GB/s); sha256sum {:.3} s ({:.2} GB/s)",
        clip_bytes as f64 / 1e6,
        v,
        gb(clip_bytes, v),
        o,
        gb(clip_bytes, o),
        s,
        gb(clip_bytes, s)
    );
    println!(
        "ratio verify throughput / openssl = {:.2}; / sha256sum = {:.2}",
        o / v,
        s / v
    );
    Ok(())
}
