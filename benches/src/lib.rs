//! Benchmarks of roeh. `src/bin/record_cpu.rs` compares the recorder's CPU cost with
//! `ffmpeg -c copy -f segment` against the same RTSP test server, in one run, and measures
//! how many streams one node records without loss. Figures go to `docs/PERFORMANCE.md`.

use std::time::Duration;

/// The machine a figure was measured on, for the first line a bench prints: the CPU model, the
/// cores this process may use, and the vector extensions that change the figures (AVX2,
/// AVX-512, VNNI): figures differ between, say, an AVX2-only EPYC and a Xeon with VNNI.
pub fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default()
    };
    let flags = field("flags");
    let have: Vec<&str> = flags
        .split_whitespace()
        .filter(|f| {
            matches!(
                *f,
                "avx2" | "fma" | "avx512f" | "avx512bw" | "avx512_vnni" | "avx_vnni" | "amx_int8"
            )
        })
        .collect();
    let model = field("model name");
    format!(
        "machine: {}, {} cores, {}",
        if model.is_empty() {
            "unknown CPU"
        } else {
            &model
        },
        std::thread::available_parallelism().map_or(0, usize::from),
        if have.is_empty() {
            "no AVX2".to_string()
        } else {
            have.join(" ")
        }
    )
}

/// The roeh binary a bench runs: `given`, else the one next to the bench; an error naming the
/// build command if it is not there.
pub fn roeh_binary(given: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    let roeh = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()?.with_file_name("roeh"),
    };
    anyhow::ensure!(
        roeh.is_file(),
        "{} not found: cargo build --release -p roeh",
        roeh.display()
    );
    Ok(roeh)
}

/// `roeh serve` from `bin` with the configuration `toml`, written into `dir` with its log: the
/// process and its API's base URL once it answers.
pub fn serve(
    bin: &std::path::Path,
    dir: &std::path::Path,
    toml: &str,
) -> anyhow::Result<(roeh_testkit::RoehProcess, String)> {
    let cfg = dir.join("roeh.toml");
    std::fs::write(&cfg, toml)?;
    let log = dir.join("roeh.log");
    let cfg = cfg
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", cfg.display()))?;
    let p = roeh_testkit::RoehProcess::spawn(bin, &["serve", "--config", cfg], &log)?;
    let base = roeh_testkit::wait_api_base(&log, 0)?;
    Ok((p, base))
}

/// CPU time (user + system) and resident memory of a process, from `/proc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcUsage {
    /// User + system CPU time.
    pub cpu: Duration,
    /// Resident set size, bytes.
    pub rss: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`.
pub fn proc_usage(pid: u32) -> anyhow::Result<ProcUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hz = 100u64; // USER_HZ on Linux
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(ProcUsage {
        cpu: Duration::from_millis(ticks * 1000 / hz),
        rss: rss_kb * 1024,
    })
}
