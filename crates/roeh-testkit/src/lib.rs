//! Test harnesses shared by roeh's integration and end-to-end tests (dev-only).
//!
//! - [`footage`]: the real test footage prepared by `scripts/setup.sh`;
//! - [`probe`]: what `ffprobe` says about a file (codec, size, frame count, duration);
//! - [`output_ok`]: runs a command (a tool, or the binary under test) that must succeed;
//! - [`RoehProcess`]: the `roeh` binary as a child process that tests can stop gracefully or
//!   `kill -9`;
//! - [`wait_for`]: polls a condition with a deadline instead of sleeping a fixed time;
//! - [`pki`]: a site CA and a server certificate for `localhost`, made with `openssl`;
//! - [`ipycam`]: the virtual ONVIF camera ipycam, run inside a private network namespace;
//! - [`cap`]: CAP 1.2 messages validated against the OASIS schema with `xmllint`;
//! - [`mosquitto`]: a real MQTT broker on a free loopback port, stopped and restarted at will;
//! - [`tsa`]: a local RFC 3161 time-stamping authority, made with `openssl`, served over HTTP;
//! - [`postgres`]: a throwaway PostgreSQL cluster, and a database on one per test process for
//!   the suites that run on both stores;
//! - [`history`]: a generated year of incidents with a known weekly pattern, seasonal bump and
//!   operation, and the exact counts it was built from;
//! - [`prerequisite_missing`]: a missing prerequisite fails the test unless a run opts out.

pub mod cap;
pub mod history;
pub mod ipycam;
pub mod mosquitto;
pub mod pki;
pub mod postgres;
pub mod tsa;

/// The variable that lets a deliberate run skip a test whose prerequisite is missing
/// (`ROEH_ALLOW_SKIP=1`). CI and `scripts/test.sh` never set it; there a missing prerequisite
/// fails the test, so a broken setup step cannot turn an acceptance test green.
pub const ALLOW_SKIP_ENV: &str = "ROEH_ALLOW_SKIP";

/// Whether skipping tests with missing prerequisites was asked for ([`ALLOW_SKIP_ENV`] is `1`).
pub fn skipping_allowed() -> bool {
    std::env::var(ALLOW_SKIP_ENV).is_ok_and(|v| v == "1")
}

/// A prerequisite of `test` is missing (`why`, with the step that installs it). Fails the test
/// by panicking, unless [`skipping_allowed`]: then it prints `SKIPPED <test>: <why>` and
/// returns, and the caller returns without checking anything.
pub fn prerequisite_missing(test: &str, why: &str) {
    if skipping_allowed() {
        eprintln!("SKIPPED {test}: {why} ({ALLOW_SKIP_ENV}=1)");
        return;
    }
    panic!(
        "{test}: a prerequisite is missing: {why}. Run `bash scripts/setup.sh` \
         (set {ALLOW_SKIP_ENV}=1 only to skip this test deliberately)"
    );
}

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Directory of the test footage: `ROEH_FOOTAGE_DIR`, else `<workspace>/.cache/roeh/footage`.
pub fn footage_dir() -> PathBuf {
    std::env::var_os("ROEH_FOOTAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cache/roeh/footage"))
}

/// A footage file by name (e.g. `vtest_h264.mp4`); panics with the setup hint if missing.
pub fn footage(name: &str) -> PathBuf {
    let p = footage_dir().join(name);
    assert!(
        p.is_file(),
        "test footage {} is missing: run `bash scripts/setup.sh`",
        p.display()
    );
    p
}

/// What ffprobe reports about the first video stream of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// `h264`, `hevc`, ...
    pub codec: String,
    /// Width.
    pub width: u64,
    /// Height.
    pub height: u64,
    /// Frames ffprobe decoded (`-count_frames`).
    pub frames: u64,
    /// Container duration, seconds.
    pub duration: f64,
}

/// Runs `ffprobe -count_frames` on a file (fixed argv, no shell).
pub fn probe(file: &Path) -> anyhow::Result<Probe> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames:format=duration",
        ])
        .args(["-of", "json"])
        .arg(file)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let s = &v["streams"][0];
    let num = |x: &serde_json::Value| -> u64 {
        x.as_u64()
            .or_else(|| x.as_str().and_then(|t| t.parse().ok()))
            .unwrap_or(0)
    };
    Ok(Probe {
        codec: s["codec_name"].as_str().unwrap_or_default().to_string(),
        width: num(&s["width"]),
        height: num(&s["height"]),
        frames: num(&s["nb_read_frames"]),
        duration: v["format"]["duration"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .unwrap_or(0.0),
    })
}

/// Decodes a whole file with ffmpeg; returns its stderr (empty when the file decodes cleanly).
pub fn decode_errors(file: &Path) -> anyhow::Result<String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "ffmpeg could not decode {}",
        file.display()
    );
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Runs `cmd` to completion and returns its output; panics, with its stderr, unless it ran and
/// exited 0 (`bash scripts/setup.sh` installs the tools tests run).
pub fn output_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Polls `f` every 100 ms until it returns `Some`, or fails after `timeout`.
pub fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `roeh` process under test. Killed (SIGKILL) on drop if still running.
#[derive(Debug)]
pub struct RoehProcess {
    child: Child,
}

impl RoehProcess {
    /// Starts `bin` with `args`; its stderr goes to `log` (appended).
    pub fn spawn(bin: &Path, args: &[&str], log: &Path) -> anyhow::Result<RoehProcess> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(RoehProcess { child })
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal.
    pub fn signal(&self, sig: i32) -> anyhow::Result<()> {
        let pid = libc::pid_t::try_from(self.child.id())?;
        let r = nix_kill(pid, sig);
        anyhow::ensure!(r == 0, "kill({pid}, {sig}) failed");
        Ok(())
    }

    /// `kill -9` and reap.
    pub fn kill9(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, then waits up to `timeout` for the exit status.
    pub fn terminate(mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        self.signal(libc::SIGTERM)?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.try_wait()? {
                return Ok(st);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                anyhow::bail!("roeh did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for RoehProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[allow(unsafe_code)]
fn nix_kill(pid: libc::pid_t, sig: i32) -> i32 {
    // SAFETY: kill(2) takes plain integers and has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) }
}

/// The API base URL (`http://HOST:PORT`) that `roeh serve` or `roeh demo` printed to `log`
/// (its line `… API at http://HOST:PORT/…`), reading from byte `from` on; `None` until printed.
pub fn api_base_in_log(log: &Path, from: u64) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let text = text.get(usize::try_from(from).ok()?..)?;
    let line = text.lines().find(|l| l.contains("API at http://"))?;
    let rest = line.split("API at http://").nth(1)?.trim();
    let host = rest.split('/').next()?;
    Some(format!("http://{host}"))
}

/// Waits up to a minute for [`api_base_in_log`], then signs in as the test admin
/// ([`sign_in`]); the error carries the log.
pub fn wait_api_base(log: &Path, from: u64) -> anyhow::Result<String> {
    let with_log = |e: anyhow::Error| {
        anyhow::anyhow!(
            "{e}\nlog:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        )
    };
    let base = wait_for(
        "the API address in the log",
        Duration::from_secs(60),
        || api_base_in_log(log, from),
    )
    .map_err(with_log)?;
    sign_in(&base, log, from).map_err(with_log)?;
    Ok(base)
}

/// The test admin every test site creates with its setup token.
pub const TEST_ADMIN: &str = "admin";
/// The test admin's password.
pub const TEST_ADMIN_PASSWORD: &str = "test-admin-Passw0rd";

fn tokens() -> &'static std::sync::Mutex<Vec<(String, String)>> {
    static T: std::sync::OnceLock<std::sync::Mutex<Vec<(String, String)>>> =
        std::sync::OnceLock::new();
    T.get_or_init(Default::default)
}

/// The setup token a server printed in `log` after byte `from`, if any.
pub fn setup_token_in_log(log: &Path, from: u64) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    let text = text.get(usize::try_from(from).ok()?..)?;
    let at = text.rfind("roeh_setup_")?;
    let tok: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Some(tok)
}

/// Signs in to the server at `base` as [`TEST_ADMIN`], first creating that admin with the
/// setup token the server printed in `log` (after byte `from`) if there is one; remembers the
/// bearer token for [`get`], [`post`], [`request`]. Retries for 30 s (the server may still be
/// starting, or its setup line not yet written).
pub fn sign_in(base: &str, log: &Path, from: u64) -> anyhow::Result<String> {
    let client = reqwest::blocking::Client::new();
    let token = wait_for("signing in", Duration::from_secs(30), || {
        if let Some(setup) = setup_token_in_log(log, from) {
            let _ = client
                .post(format!("{base}/api/auth/setup"))
                .json(&serde_json::json!({"token": setup, "username": TEST_ADMIN,
                    "password": TEST_ADMIN_PASSWORD}))
                .send();
        }
        let r = client
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({"username": TEST_ADMIN,
                "password": TEST_ADMIN_PASSWORD, "kind": "api"}))
            .send()
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        let v: serde_json::Value = r.json().ok()?;
        v["token"].as_str().map(str::to_string)
    })?;
    register_token(base, &token);
    Ok(token)
}

/// Remembers `token` for requests to URLs starting with `base`.
pub fn register_token(base: &str, token: &str) {
    if let Ok(mut t) = tokens().lock() {
        t.retain(|(b, _)| b != base);
        t.push((base.to_string(), token.to_string()));
    }
}

/// The bearer token registered for `url`'s server, if any.
pub fn token_for(url: &str) -> Option<String> {
    let t = tokens().lock().ok()?;
    t.iter()
        .find(|(b, _)| url.starts_with(b.as_str()))
        .map(|(_, tok)| tok.clone())
}

/// A request to `url` carrying the registered bearer token (if any).
pub fn request(method: reqwest::Method, url: &str) -> reqwest::blocking::RequestBuilder {
    // One client (and connection pool) for all of a test's requests.
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap_or_else(|_| reqwest::blocking::Client::new())
    });
    let rb = client.request(method, url);
    match token_for(url) {
        Some(t) => rb.bearer_auth(t),
        None => rb,
    }
}

/// GET with the registered token.
pub fn get(url: &str) -> reqwest::Result<reqwest::blocking::Response> {
    request(reqwest::Method::GET, url).send()
}

/// POST of a JSON body with the registered token; returns the status and the JSON answer
/// (`Null` when the answer is not JSON).
pub fn post(url: &str, body: &serde_json::Value) -> anyhow::Result<(u16, serde_json::Value)> {
    let r = request(reqwest::Method::POST, url).json(body).send()?;
    let status = r.status().as_u16();
    Ok((status, r.json().unwrap_or(serde_json::Value::Null)))
}
