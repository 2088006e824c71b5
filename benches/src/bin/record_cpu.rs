//! Recording cost: roeh vs `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`, same RTSP
//! test server, same cameras, same window, one run. Also the many-camera load run.
//!
//! ```sh
//! cargo build --release -p roeh -p roeh-benches
//! target/release/record_cpu --cameras 8 --secs 60                 # roeh vs ffmpeg
//! target/release/record_cpu --cameras 64 --secs 120 --no-ffmpeg --footage .cache/roeh/footage/vtest_h264_small.mp4
//! ```

use anyhow::Context;
use clap::Parser;
use roeh_benches::proc_usage;
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{RoehProcess, wait_for};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Number of cameras.
    #[arg(long, default_value_t = 8)]
    cameras: usize,
    /// Measurement window, seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Footage the test cameras loop.
    #[arg(long)]
    footage: Option<PathBuf>,
    /// Skip the ffmpeg baseline (load runs).
    #[arg(long)]
    no_ffmpeg: bool,
    /// The roeh binary (default: next to this one).
    #[arg(long)]
    roeh: Option<PathBuf>,
}

struct Measured {
    cpu_s: f64,
    rss_per_stream_mb: f64,
    frames_sent: u64,
    frames_received: Option<u64>,
    /// Gaps opened in the window, and reconnects since start, over all cameras.
    gaps: Option<(usize, u64)>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let footage = args
        .footage
        .clone()
        .unwrap_or_else(|| roeh_testkit::footage("vtest_h264.mp4"));
    let roeh = match &args.roeh {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("roeh"),
    };
    anyhow::ensure!(
        roeh.is_file(),
        "{} not found: cargo build --release -p roeh",
        roeh.display()
    );
    let server = TestCamServer::start(TestCamConfig::new(&footage, args.cameras))?;
    println!(
        "footage {} ({}x{}), {} cameras, window {} s",
        footage.display(),
        server.resolution().0,
        server.resolution().1,
        args.cameras,
        args.secs
    );

    let r = measure_roeh(&roeh, &server, &args)?;
    let cam_min = args.cameras as f64 * args.secs as f64 / 60.0;
    println!(
        "roeh:   {:.3} CPU s per camera-minute, RSS {:.2} MB per stream, frames received/sent {}/{} ({:.4})",
        r.cpu_s / cam_min,
        r.rss_per_stream_mb,
        r.frames_received.unwrap_or(0),
        r.frames_sent,
        r.frames_received.unwrap_or(0) as f64 / r.frames_sent.max(1) as f64
    );
    if let Some((gaps, reconnects)) = r.gaps {
        println!("roeh:   gaps opened in the window {gaps}, reconnects since start {reconnects}");
    }
    if !args.no_ffmpeg {
        let f = measure_ffmpeg(&server, &args)?;
        println!(
            "ffmpeg: {:.3} CPU s per camera-minute, RSS {:.2} MB per stream",
            f.cpu_s / cam_min,
            f.rss_per_stream_mb
        );
        println!("ratio roeh/ffmpeg CPU: {:.3}", r.cpu_s / f.cpu_s);
    }
    server.stop();
    Ok(())
}

fn measure_roeh(
    bin: &std::path::Path,
    server: &TestCamServer,
    args: &Args,
) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[recording]\nsegment_secs = 10.0\nmin_free_bytes = 0\n",
        dir.path().join("data").display()
    );
    for (i, u) in server.urls().iter().enumerate() {
        toml.push_str(&format!("[[camera]]\nname = \"cam{i}\"\nurl = \"{u}\"\n"));
    }
    let cfg = dir.path().join("roeh.toml");
    std::fs::write(&cfg, toml)?;
    let log = dir.path().join("roeh.log");
    let p = RoehProcess::spawn(
        bin,
        &["serve", "--config", cfg.to_str().context("path")?],
        &log,
    )?;
    let base = roeh_testkit::wait_api_base(&log, 0)?;
    let frames = |base: &str| -> Option<(usize, u64)> {
        let v: serde_json::Value = roeh_testkit::get(&format!("{base}/api/cameras"))
            .ok()?
            .json()
            .ok()?;
        let a = v.as_array()?;
        let streaming = a
            .iter()
            .filter(|c| c["health"]["state"] == "streaming")
            .count();
        Some((
            streaming,
            a.iter()
                .map(|c| c["health"]["frames"].as_u64().unwrap_or(0))
                .sum(),
        ))
    };
    wait_for("all cameras streaming", Duration::from_secs(120), || {
        frames(&base)
            .filter(|(s, _)| *s == args.cameras)
            .map(|_| ())
    })?;
    // Warm-up, then the window.
    std::thread::sleep(Duration::from_secs(3));
    let sent0: u64 = (0..args.cameras).map(|i| server.frames_sent(i)).sum();
    let (_, recv0) = frames(&base).context("health")?;
    let health: serde_json::Value = roeh_testkit::get(&format!("{base}/api/health"))?.json()?;
    let window_start = health["time"].as_str().context("health time")?.to_string();
    let u0 = proc_usage(p.pid())?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(args.secs));
    let u1 = proc_usage(p.pid())?;
    let sent1: u64 = (0..args.cameras).map(|i| server.frames_sent(i)).sum();
    let (_, recv1) = frames(&base).context("health")?;
    let wall = t0.elapsed().as_secs_f64();
    // Loss as the recorder itself reports it: gaps opened and reconnects during the window.
    let cams: serde_json::Value = roeh_testkit::get(&format!("{base}/api/cameras"))?.json()?;
    let (mut gaps, mut reconnects) = (0usize, 0u64);
    for c in cams.as_array().context("cameras")? {
        let id = c["id"].as_str().context("camera id")?;
        let g: serde_json::Value = roeh_testkit::get(&format!(
            "{base}/api/cameras/{id}/gaps?start={window_start}"
        ))?
        .json()?;
        gaps += g.as_array().map_or(0, |a| a.len());
        reconnects += c["health"]["reconnects"].as_u64().unwrap_or(0);
    }
    let _ = p.terminate(Duration::from_secs(20))?;
    let cpu = (u1.cpu - u0.cpu).as_secs_f64() * args.secs as f64 / wall;
    Ok(Measured {
        cpu_s: cpu,
        rss_per_stream_mb: u1.rss as f64 / args.cameras as f64 / 1e6,
        frames_sent: sent1 - sent0,
        frames_received: Some(recv1 - recv0),
        gaps: Some((gaps, reconnects)),
    })
}

fn measure_ffmpeg(server: &TestCamServer, args: &Args) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    let mut kids: Vec<Child> = Vec::new();
    for (i, u) in server.urls().iter().enumerate() {
        let out = dir.path().join(format!("cam{i}_%05d.mp4"));
        let child = Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-loglevel",
                "error",
                "-rtsp_transport",
                "tcp",
                "-i",
            ])
            .arg(u)
            .args([
                "-c",
                "copy",
                "-f",
                "segment",
                "-segment_time",
                "10",
                "-reset_timestamps",
                "1",
            ])
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        kids.push(child);
    }
    std::thread::sleep(Duration::from_secs(5));
    let usage = |kids: &Vec<Child>| -> anyhow::Result<(Duration, u64)> {
        let mut cpu = Duration::ZERO;
        let mut rss = 0;
        for k in kids {
            let u = proc_usage(k.id())?;
            cpu += u.cpu;
            rss += u.rss;
        }
        Ok((cpu, rss))
    };
    let (c0, _) = usage(&kids)?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(args.secs));
    let (c1, rss) = usage(&kids)?;
    let wall = t0.elapsed().as_secs_f64();
    for k in &mut kids {
        let _ = k.kill();
        let _ = k.wait();
    }
    Ok(Measured {
        cpu_s: (c1 - c0).as_secs_f64() * args.secs as f64 / wall,
        rss_per_stream_mb: rss as f64 / args.cameras as f64 / 1e6,
        frames_sent: 0,
        frames_received: None,
        gaps: None,
    })
}
