//! The virtual ONVIF camera `ipycam==1.3.0` (PyPI), streaming the project's test footage, run
//! inside a private network namespace.
//!
//! ipycam binds all interfaces on fixed ports (HTTP 8080, RTSP 8554, WS-Discovery 3702), so a
//! test re-runs its own binary inside `unshare -n` ([`run_in_private_netns`]), where only
//! loopback exists, brings loopback up with multicast ([`prepare_loopback`]) and starts the
//! camera there ([`Camera::start`]).
//!
//! Invariants: nothing here starts the camera outside a namespace the caller created; the camera
//! process is killed and reaped when its [`Camera`] is dropped; the camera's config and log are
//! written only below the directory the caller names; the only programs run are `ip`,
//! `unshare`, the test binary itself and the venv's Python.

use crate::footage_dir;
use anyhow::Context;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The camera's ONVIF device service, as seen inside the namespace.
pub const DEVICE_SERVICE_URL: &str = "http://127.0.0.1:8080/onvif/device_service";

/// The camera's HTTP port on loopback; open once the camera is ready.
const HTTP_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080));

/// Frame rate of both of the camera's streams.
pub const FPS: u32 = 5;

/// How long the camera may take to open its HTTP port.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of the end of a log [`tail`] returns, in bytes.
const TAIL_BYTES: usize = 4000;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's Python: `$ROEH_ONVIF_VENV/bin/python`, else
/// `<workspace>/.cache/roeh/venv-onvif/bin/python` (made by
/// `crates/roeh-onvif/tests/setup-ipycam.sh`).
pub fn venv_python() -> PathBuf {
    std::env::var_os("ROEH_ONVIF_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/roeh/venv-onvif"))
        .join("bin/python")
}

/// The footage the camera streams (`vtest_h264.mp4` in [`footage_dir`]).
pub fn footage() -> PathBuf {
    footage_dir().join("vtest_h264.mp4")
}

fn command_works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why the camera cannot run here (the venv, the footage, `ip`, or permission to create a
/// network namespace is missing), or `None` when everything is in place.
pub fn missing_prerequisite() -> Option<String> {
    if !venv_python().exists() {
        return Some(format!(
            "{} not found; run crates/roeh-onvif/tests/setup-ipycam.sh",
            venv_python().display()
        ));
    }
    if !footage().exists() {
        return Some(format!("footage {} not found", footage().display()));
    }
    if !command_works("ip", &["-V"]) {
        return Some("the `ip` command (iproute2) is not installed".into());
    }
    if !command_works("unshare", &["-n", "true"]) {
        return Some("cannot create a network namespace (`unshare -n` failed; needs root)".into());
    }
    None
}

/// Runs the test `test_name` of the current test binary again, alone, inside a new network
/// namespace (`unshare -n`) with `inner_env=1` set so that it knows it is inside; returns its
/// exit status.
pub fn run_in_private_netns(inner_env: &str, test_name: &str) -> anyhow::Result<ExitStatus> {
    let exe = std::env::current_exe().context("test binary path")?;
    Command::new("unshare")
        .arg("-n")
        .arg("--")
        .arg(exe)
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(inner_env, "1")
        .status()
        .context("run the test inside unshare -n")
}

/// The shape of every test against the camera: inside the namespace (`inner_env` set) runs
/// `inner`; outside, checks the prerequisites (a missing one fails `test`, or skips it where
/// allowed) and runs the test `test_name` of this binary again inside a new namespace, failing
/// when it fails there.
pub fn in_private_netns(test: &str, inner_env: &str, test_name: &str, inner: impl FnOnce()) {
    if std::env::var_os(inner_env).is_some() {
        inner();
        return;
    }
    if let Some(why) = missing_prerequisite() {
        return crate::prerequisite_missing(test, &why);
    }
    match run_in_private_netns(inner_env, test_name) {
        Ok(status) => assert!(
            status.success(),
            "test inside the namespace failed: {status}"
        ),
        Err(e) => panic!("could not run the test in a network namespace: {e:#}"),
    }
}

/// Runs `story`; when it fails, prints the end of the camera's log and of `other_log` (roeh's),
/// then fails the same way. The camera is stopped either way.
pub fn tell_logs_on_failure(cam: Camera, other_log: Option<&Path>, story: impl FnOnce()) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(story));
    if result.is_err() {
        eprintln!("ipycam log tail:\n{}", cam.log_tail());
        if let Some(log) = other_log {
            eprintln!("roeh log tail:\n{}", tail(log));
        }
    }
    drop(cam);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn run(cmd: &str, args: &[&str]) -> anyhow::Result<()> {
    let st = Command::new(cmd)
        .args(args)
        .status()
        .context(cmd.to_owned())?;
    anyhow::ensure!(st.success(), "{cmd} {args:?} failed");
    Ok(())
}

/// Inside the namespace: brings loopback up with multicast and routes 224.0.0.0/4 to it, so that
/// WS-Discovery's multicast probes reach the camera.
pub fn prepare_loopback() -> anyhow::Result<()> {
    run("ip", &["link", "set", "lo", "up"])?;
    run("ip", &["link", "set", "lo", "multicast", "on"])?;
    run("ip", &["route", "add", "224.0.0.0/4", "dev", "lo"])
}

/// The last 4000 bytes of a log file (empty when it cannot be read).
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(TAIL_BYTES);
    text.get(start..).unwrap_or_default().to_owned()
}

/// A PTZ preset of the virtual camera: token, name, pan, tilt, zoom.
pub type Preset<'a> = (&'a str, &'a str, f64, f64, f64);

/// Writes the presets the camera started in `dir` will have (`ptz_presets.json`, read from the
/// camera's working directory at start). Without this file the camera has one preset, `home`.
pub fn write_ptz_presets(dir: &Path, presets: &[Preset<'_>]) -> anyhow::Result<()> {
    let map: serde_json::Map<String, serde_json::Value> = presets
        .iter()
        .map(|(token, name, pan, tilt, zoom)| {
            (
                (*token).to_owned(),
                serde_json::json!({"token": token, "name": name, "pan": pan, "tilt": tilt,
                                   "zoom": zoom}),
            )
        })
        .collect();
    std::fs::write(
        dir.join("ptz_presets.json"),
        serde_json::to_vec_pretty(&map)?,
    )?;
    Ok(())
}

/// The running virtual camera; killed and reaped when dropped.
#[derive(Debug)]
pub struct Camera {
    child: Child,
    log: PathBuf,
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Camera {
    /// Starts ipycam named `Roeh-Test-Cam` with WS-Security credentials `user`/`password`, a
    /// 768x576 main and a 640x360 sub profile at [`FPS`] fps, streaming [`footage`]; its config
    /// and log (`ipycam.log`) go in `dir`. Waits up to 30 s for its HTTP port; the error then
    /// carries the log's tail.
    ///
    /// The streams are sized for a loaded 2-core machine: ipycam decodes and paces frames in
    /// Python, encodes each stream with its own ffmpeg and forwards RTP through a Python thread.
    /// At its default 8 Mbit/s a key frame is a burst of about a hundred RTP packets that a
    /// starved forwarder loses, and a client then waits in vain for a whole key frame. 5 fps at
    /// 1 Mbit/s (main) and 256 kbit/s (sub) keep the key frames small and the work a fraction.
    pub fn start(dir: &Path, user: &str, password: &str) -> anyhow::Result<Camera> {
        let config = dir.join("camera_config.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"name": "Roeh-Test-Cam", "username": "{user}", "password": "{password}",
               "main_width": 768, "main_height": 576, "main_fps": {FPS}, "main_bitrate": "1M",
               "sub_width": 640, "sub_height": 360, "sub_fps": {FPS}, "sub_bitrate": "256K",
               "show_timestamp": false, "hw_accel": "cpu"}}"#
            ),
        )?;
        let log = dir.join("ipycam.log");
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = Command::new(venv_python())
            .args(["-m", "ipycam", "--config"])
            .arg(&config)
            .arg("--source")
            .arg(footage())
            .args(["--log-level", "WARNING"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context("start ipycam")?;
        let cam = Camera { child, log };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&HTTP_ADDR, Duration::from_secs(1)).is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "ipycam did not open port 8080 within 30 s; log:\n{}",
                cam.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(cam)
    }

    /// The camera's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The end of the camera's log (see [`tail`]).
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_bytes_of_a_log() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short.log");
        std::fs::write(&short, "one\ntwo\n").unwrap();
        assert_eq!(tail(&short), "one\ntwo\n");
        let long = dir.path().join("long.log");
        std::fs::write(
            &long,
            format!("{}{}", "a".repeat(100), "b".repeat(TAIL_BYTES)),
        )
        .unwrap();
        assert_eq!(tail(&long), "b".repeat(TAIL_BYTES));
        assert_eq!(tail(&dir.path().join("missing.log")), "");
    }
}
