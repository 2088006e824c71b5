//! Store benchmark: segment commits through `roeh-store` (the transaction the recorder runs for
//! every segment: chain check, segment row, its log leaf from the head row, gap settling) on a
//! SQLite file with the store's durability settings (WAL, `synchronous = FULL`) and on a local
//! PostgreSQL cluster with `fsync` on (`--database both`, the default): commits per second and
//! the commit latency's median and p99, for one camera and for several cameras committing at
//! once.
//!
//! `cargo run --release -p roeh-benches --bin store_bench -- [--commits 2000] [--cameras 8]
//! [--database sqlite|postgres|both]`
//!
//! Prints one JSON line per configuration.

use clap::Parser;
use roeh_domain::{
    Camera, CameraId, CameraUrl, FrameIndexEntry, Pts90k, Retention, Segment, SegmentState,
    Transport, VideoCodec, WallTime,
};
use roeh_store::Store;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Segments committed per configuration (split over the cameras).
    #[arg(long, default_value_t = 2000)]
    commits: u32,
    /// Cameras committing at once in the second configuration.
    #[arg(long, default_value_t = 8)]
    cameras: u32,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    database: String,
}

/// The `n`-th segment of `camera` after `prev`: 10 s, 250 frames of 4 KiB, as a 25 fps camera's.
fn segment(camera: CameraId, prev: Option<&Segment>) -> (Segment, Vec<FrameIndexEntry>) {
    let seq = prev.map_or(1, |p| p.seq + 1);
    let start = 1_800_000_000_000_000 + i64::try_from(seq).unwrap_or(0) * 10_000_000;
    let frames = 250u32;
    let index: Vec<FrameIndexEntry> = (0..frames)
        .map(|i| FrameIndexEntry {
            offset: u64::from(i) * 4096,
            size: 4096,
            pts_offset: i64::from(i) * 3600,
            received_at: WallTime(start + i64::from(i) * 40_000),
            is_key: i % 50 == 0,
        })
        .collect();
    let mut chain = [0u8; 32];
    chain[..8].copy_from_slice(&seq.to_be_bytes());
    let seg = Segment {
        id: 0,
        camera,
        seq,
        run: 1,
        codec: VideoCodec::H264,
        start: WallTime(start),
        end: WallTime(start + 10_000_000),
        start_pts: Pts90k(i64::try_from(seq).unwrap_or(0) * 900_000),
        duration: Pts90k(900_000),
        frames,
        bytes: u64::from(frames) * 4096,
        sha256: [7; 32],
        prev_chain: prev.map_or([0; 32], |p| p.chain),
        chain,
        config_record: vec![1, 0x4d, 0, 0x1e],
        width: 1920,
        height: 1080,
        rfc6381: "avc1.4d001e".into(),
        recovered: false,
        state: SegmentState::Committed,
    };
    (seg, index)
}

fn camera(i: u32) -> anyhow::Result<Camera> {
    Ok(Camera {
        id: CameraId::new_random(),
        name: format!("bench {i}"),
        url: CameraUrl::parse("rtsp://127.0.0.1:8554/bench")?,
        credentials: None,
        transport: Transport::Tcp,
        enabled: true,
        retention: Retention::default(),
    })
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Commits `commits` segments spread over `cameras` cameras, each camera's in order, the
/// cameras at once; prints the figures.
async fn run(database: &str, commits: u32, cameras: u32) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _cluster) = if database == "postgres" {
        let c = roeh_testkit::postgres::Cluster::start_durable(dir.path())?;
        let url = c.create_database("bench")?;
        (Store::open(&url).await?, Some(c))
    } else {
        let path = dir.path().join("bench.db");
        (Store::open(&path.to_string_lossy()).await?, None)
    };
    let per_camera = commits / cameras;
    let mut tasks = Vec::new();
    let started = Instant::now();
    for i in 0..cameras {
        let cam = camera(i)?;
        store.insert_camera(&cam, WallTime(1)).await?;
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_camera as usize);
            let mut prev: Option<Segment> = None;
            for _ in 0..per_camera {
                let (seg, index) = segment(cam.id, prev.as_ref());
                let t = Instant::now();
                store.insert_segment(&seg, &index).await?;
                latencies.push(t.elapsed());
                prev = Some(seg);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let wall = started.elapsed();
    all.sort();
    println!(
        "{}",
        serde_json::json!({
            "database": database,
            "cameras": cameras,
            "commits": all.len(),
            "commits_per_s": (all.len() as f64 / wall.as_secs_f64() * 10.0).round() / 10.0,
            "p50_ms": (quantile(&all, 0.5) * 100.0).round() / 100.0,
            "p99_ms": (quantile(&all, 0.99) * 100.0).round() / 100.0,
            "log_size": store.log_size().await?,
        })
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let databases: &[&str] = match args.database.as_str() {
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        "both" => &["sqlite", "postgres"],
        other => anyhow::bail!("--database {other}: sqlite, postgres or both"),
    };
    for db in databases {
        run(db, args.commits, 1).await?;
        run(db, args.commits, args.cameras.max(1)).await?;
    }
    Ok(())
}
