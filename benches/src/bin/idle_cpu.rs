//! What an idle node costs: `roeh serve` with no cameras, nothing asked of it, measured over a
//! window as the whole process's CPU time, its resident memory and how often its threads woke
//! (voluntary context switches). `--baseline BIN` measures another build in the same run, first.
//!
//! ```sh
//! cargo build --release -p roeh -p roeh-benches --bin idle_cpu
//! target/release/idle_cpu --secs 60                          # analytics on, as deployed
//! target/release/idle_cpu --secs 60 --analytics off
//! target/release/idle_cpu --secs 60 --baseline /tmp/roeh-old  # an older build, same run
//! ```

use clap::Parser;
use roeh_benches::proc_usage;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Measurement window, seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Settling time after the API answers, seconds (start-up work is not idle).
    #[arg(long, default_value_t = 10)]
    settle: u64,
    /// `on` (as deployed: the model is named, analysis may be armed) or `off`.
    #[arg(long, default_value = "on")]
    analytics: String,
    /// The roeh binary (default: next to this one).
    #[arg(long)]
    roeh: Option<PathBuf>,
    /// Another roeh binary measured first in the same run, the same way.
    #[arg(long)]
    baseline: Option<PathBuf>,
}

struct Idle {
    /// From `/proc/PID/stat`: every thread, ended ones included, in 10 ms ticks.
    cpu_s_per_min: f64,
    /// From each live thread's `schedstat`: nanoseconds, threads that ended in the window left
    /// out.
    run_s_per_min: f64,
    wakeups_per_min: f64,
    rss_mb: f64,
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let analytics = match args.analytics.as_str() {
        "on" => true,
        "off" => false,
        other => anyhow::bail!("--analytics {other}: on or off"),
    };
    let roeh = roeh_benches::roeh_binary(args.roeh.as_deref())?;
    println!(
        "roeh serve, no cameras, analytics {}, window {} s after {} s settling",
        args.analytics, args.secs, args.settle
    );
    let mut runs = Vec::new();
    if let Some(b) = &args.baseline {
        runs.push(("baseline", b.clone()));
    }
    runs.push(("roeh", roeh));
    for (name, bin) in runs {
        let m = measure(&bin, &args, analytics)?;
        println!(
            "{name} ({}): {:.4} CPU s per minute ({:.4} by the threads' run time), {:.0} wake-ups per minute, RSS {:.1} MB, {} threads",
            bin.display(),
            m.cpu_s_per_min,
            m.run_s_per_min,
            m.wakeups_per_min,
            m.rss_mb,
            m.threads
        );
    }
    Ok(())
}

fn measure(bin: &Path, args: &Args, analytics: bool) -> anyhow::Result<Idle> {
    let dir = tempfile::tempdir()?;
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[recording]\nmin_free_bytes = 0\n\
         [analytics]\nenabled = {analytics}\n",
        dir.path().join("data").display(),
    );
    let (p, _) = roeh_benches::serve(bin, dir.path(), &toml)?;
    std::thread::sleep(Duration::from_secs(args.settle));
    let (u0, w0) = (proc_usage(p.pid())?, threads(p.pid())?);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(args.secs));
    let (u1, w1) = (proc_usage(p.pid())?, threads(p.pid())?);
    let minutes = t0.elapsed().as_secs_f64() / 60.0;
    let threads = std::fs::read_dir(format!("/proc/{}/task", p.pid()))?.count();
    let _ = p.terminate(Duration::from_secs(20))?;
    Ok(Idle {
        cpu_s_per_min: (u1.cpu - u0.cpu).as_secs_f64() / minutes,
        run_s_per_min: w1.run_ns.saturating_sub(w0.run_ns) as f64 / 1e9 / minutes,
        wakeups_per_min: w1.wakeups.saturating_sub(w0.wakeups) as f64 / minutes,
        rss_mb: u1.rss as f64 / 1e6,
        threads,
    })
}

/// What the threads of a process did so far.
#[derive(Default)]
struct Threads {
    /// Voluntary context switches: how often a thread slept and woke.
    wakeups: u64,
    /// Time on a CPU, nanoseconds.
    run_ns: u64,
}

/// Sums over the live threads of `pid`.
fn threads(pid: u32) -> anyhow::Result<Threads> {
    let mut total = Threads::default();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let dir = t?.path();
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        total.wakeups += status
            .lines()
            .find(|l| l.starts_with("voluntary_ctxt_switches:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        let sched = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
        total.run_ns += sched
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Ok(total)
}
