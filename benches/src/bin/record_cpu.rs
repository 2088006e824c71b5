//! Recording cost: roeh vs `ffmpeg -rtsp_transport tcp -i URL -c copy -f segment`, same RTSP
//! test server, same cameras, same window, one run. Also the many-camera load run.
//!
//! ```sh
//! cargo build --release -p roeh -p roeh-benches
//! target/release/record_cpu --cameras 8 --secs 60                 # roeh vs ffmpeg
//! target/release/record_cpu --cameras 64 --secs 120 --no-ffmpeg --footage .cache/roeh/footage/vtest_h264_small.mp4
//! target/release/record_cpu --cameras 256 --secs 60 --no-ffmpeg --database both   # SQLite, then PostgreSQL
//! ```
//!
//! `--database postgres` records into a local PostgreSQL cluster started for the run with `fsync`
//! on (`[server] database_url`); its server processes' CPU time over the window is reported
//! beside roeh's, since with SQLite that work runs inside roeh.

use anyhow::Context;
use clap::Parser;
use roeh_benches::proc_usage;
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::wait_for;
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
    /// `sqlite`, `postgres` or `both` (SQLite, then PostgreSQL, in this one run).
    #[arg(long, default_value = "sqlite")]
    database: String,
}

struct Measured {
    cpu_s: f64,
    rss_per_stream_mb: f64,
    frames_sent: u64,
    frames_received: Option<u64>,
    /// Gaps opened in the window, and reconnects since start, over all cameras.
    gaps: Option<(usize, u64)>,
    /// CPU time of the PostgreSQL server's processes over the window, when recording into one.
    db_cpu_s: Option<f64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let footage = args
        .footage
        .clone()
        .unwrap_or_else(|| roeh_testkit::footage("vtest_h264.mp4"));
    let databases: &[&str] = match args.database.as_str() {
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        "both" => &["sqlite", "postgres"],
        other => anyhow::bail!("--database {other}: sqlite, postgres or both"),
    };
    let roeh = roeh_benches::roeh_binary(args.roeh.as_deref())?;
    let server = TestCamServer::start(TestCamConfig::new(&footage, args.cameras))?;
    println!(
        "footage {} ({}x{}), {} cameras, window {} s",
        footage.display(),
        server.resolution().0,
        server.resolution().1,
        args.cameras,
        args.secs
    );

    let cam_min = args.cameras as f64 * args.secs as f64 / 60.0;
    let mut roeh_cpu = 0.0;
    for db in databases {
        let r = measure_roeh(&roeh, &server, &args, db)?;
        roeh_cpu = r.cpu_s;
        println!(
            "roeh ({db}):   {:.3} CPU s per camera-minute, RSS {:.2} MB per stream, frames received/sent {}/{} ({:.4})",
            r.cpu_s / cam_min,
            r.rss_per_stream_mb,
            r.frames_received.unwrap_or(0),
            r.frames_sent,
            r.frames_received.unwrap_or(0) as f64 / r.frames_sent.max(1) as f64
        );
        if let Some(db_cpu) = r.db_cpu_s {
            println!(
                "roeh ({db}):   PostgreSQL server {:.3} CPU s per camera-minute",
                db_cpu / cam_min
            );
        }
        if let Some((gaps, reconnects)) = r.gaps {
            println!(
                "roeh ({db}):   gaps opened in the window {gaps}, reconnects since start {reconnects}"
            );
        }
    }
    if !args.no_ffmpeg {
        let f = measure_ffmpeg(&server, &args)?;
        println!(
            "ffmpeg: {:.3} CPU s per camera-minute, RSS {:.2} MB per stream",
            f.cpu_s / cam_min,
            f.rss_per_stream_mb
        );
        // Against the last database measured.
        println!("ratio roeh/ffmpeg CPU: {:.3}", roeh_cpu / f.cpu_s);
    }
    server.stop();
    Ok(())
}

fn measure_roeh(
    bin: &std::path::Path,
    server: &TestCamServer,
    args: &Args,
    database: &str,
) -> anyhow::Result<Measured> {
    let dir = tempfile::tempdir()?;
    // Dropped after roeh has stopped (declared after `dir`, so dropped before it).
    let cluster = if database == "postgres" {
        Some(roeh_testkit::postgres::Cluster::start_durable(dir.path())?)
    } else {
        None
    };
    let database_url = match &cluster {
        Some(c) => format!("database_url = \"{}\"\n", c.create_database("roeh")?),
        None => String::new(),
    };
    let mut toml = format!(
        "[server]\n{database_url}listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[recording]\nsegment_secs = 10.0\nmin_free_bytes = 0\n",
        dir.path().join("data").display()
    );
    for (i, u) in server.urls().iter().enumerate() {
        toml.push_str(&format!("[[camera]]\nname = \"cam{i}\"\nurl = \"{u}\"\n"));
    }
    let (p, base) = roeh_benches::serve(bin, dir.path(), &toml)?;
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
    // The PostgreSQL server: its postmaster and every backend under it.
    let postmaster = match &cluster {
        Some(_) => Some(postmaster_pid(&dir.path().join("pg/data"))?),
        None => None,
    };
    let db0 = postmaster.map(tree_usage).transpose()?;
    let u0 = proc_usage(p.pid())?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(args.secs));
    let u1 = proc_usage(p.pid())?;
    let db1 = postmaster.map(tree_usage).transpose()?;
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
    drop(cluster);
    let cpu = (u1.cpu - u0.cpu).as_secs_f64() * args.secs as f64 / wall;
    let db_cpu_s = match (db0, db1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() * args.secs as f64 / wall),
        _ => None,
    };
    Ok(Measured {
        cpu_s: cpu,
        rss_per_stream_mb: u1.rss as f64 / args.cameras as f64 / 1e6,
        frames_sent: sent1 - sent0,
        frames_received: Some(recv1 - recv0),
        gaps: Some((gaps, reconnects)),
        db_cpu_s,
    })
}

/// The PostgreSQL postmaster's process id, from the first line of `postmaster.pid`.
fn postmaster_pid(data: &std::path::Path) -> anyhow::Result<u32> {
    let text = std::fs::read_to_string(data.join("postmaster.pid"))?;
    text.lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .context("postmaster.pid")
}

/// CPU time of `root` and every process under it, now (processes that ended are not counted;
/// the store's pool keeps its backends).
fn tree_usage(root: u32) -> anyhow::Result<Duration> {
    let mut parent = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc")? {
        let Ok(pid) = e?.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        if let Some(ppid) = rest
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse::<u32>().ok())
        {
            parent.insert(pid, ppid);
        }
    }
    let mut total = Duration::ZERO;
    for &pid in parent.keys() {
        let mut p = pid;
        let under = loop {
            if p == root {
                break true;
            }
            match parent.get(&p) {
                Some(&pp) if pp != 0 && pp != p => p = pp,
                _ => break false,
            }
        };
        if under && let Ok(u) = proc_usage(pid) {
            total += u.cpu;
        }
    }
    Ok(total)
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
        db_cpu_s: None,
    })
}
