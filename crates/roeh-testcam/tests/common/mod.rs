//! Test helpers: locate the footage and read a camera with a real client (`ffprobe`).

#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A footage file prepared by `scripts/setup.sh`.
pub fn footage(name: &str) -> PathBuf {
    let path = roeh_testcam::default_footage_dir().join(name);
    assert!(
        path.is_file(),
        "{} missing: run scripts/setup.sh",
        path.display()
    );
    path
}

/// What `ffprobe` saw on one camera.
#[derive(Debug)]
pub struct Probe {
    pub codec: String,
    pub width: u64,
    pub height: u64,
    /// Packet presentation times in seconds; `None` where ffprobe reports none.
    pub pts: Vec<Option<f64>>,
    /// Key flag of each packet.
    pub keys: Vec<bool>,
}

impl Probe {
    /// Presentation times after the leading packets without one (RTSP clients learn the
    /// timestamp origin from the first packets). Panics if a later packet lacks one.
    pub fn timed_pts(&self) -> Vec<f64> {
        let first = self
            .pts
            .iter()
            .position(Option::is_some)
            .expect("no packet has a timestamp");
        self.pts[first..]
            .iter()
            .enumerate()
            .map(|(i, p)| p.unwrap_or_else(|| panic!("packet {} has no timestamp", first + i)))
            .collect()
    }

    /// Asserts the timed PTS increase strictly, packet after packet.
    pub fn assert_strictly_increasing(&self) {
        let pts = self.timed_pts();
        for w in pts.windows(2) {
            assert!(
                w[1] > w[0],
                "timestamps do not increase: {} then {} in {pts:?}",
                w[0],
                w[1]
            );
        }
    }
}

/// Outcome of running `ffprobe`.
#[derive(Debug)]
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `ffprobe` on `url` reading `seconds` of stream over RTSP/TCP; kills it after a deadline.
pub fn run_ffprobe(url: &str, seconds: u32) -> Run {
    let mut child = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-timeout",
            "10000000",
            "-read_intervals",
            &format!("%+{seconds}"),
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time,flags:stream=codec_name,width,height",
            "-of",
            "json",
            url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffprobe runs (install ffmpeg)");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(u64::from(seconds) + 30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for ffprobe") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ffprobe on {url} did not finish within the deadline");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        success: status.success(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// Reads `seconds` of `url` with `ffprobe` and parses what it saw; panics if ffprobe fails.
pub fn probe(url: &str, seconds: u32) -> Probe {
    let run = run_ffprobe(url, seconds);
    assert!(run.success, "ffprobe failed on {url}: {}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).expect("ffprobe JSON");
    let stream = &json["streams"][0];
    let packets = json["packets"].as_array().cloned().unwrap_or_default();
    Probe {
        codec: stream["codec_name"].as_str().unwrap_or_default().to_owned(),
        width: stream["width"].as_u64().unwrap_or(0),
        height: stream["height"].as_u64().unwrap_or(0),
        pts: packets
            .iter()
            .map(|p| p["pts_time"].as_str().and_then(|s| s.parse::<f64>().ok()))
            .collect(),
        keys: packets
            .iter()
            .map(|p| p["flags"].as_str().is_some_and(|f| f.starts_with('K')))
            .collect(),
    }
}

/// Waits until `cond` holds, polling, for at most `limit`.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}
