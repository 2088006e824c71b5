//! The console's figures, measured in Debian's chromium against `roeh serve` and the RTSP test
//! server on loopback (no figure is asserted; the command prints them for docs/PERFORMANCE.md):
//!
//! - **weight**: bytes transferred for the first screen (the page and its two files, gzip as the
//!   browser asks for it) and the time to the first contentful paint;
//! - **live latency**: for 1 and for N tiles, the time from roeh receiving a picture to the
//!   browser presenting it (`requestVideoFrameCallback`; the player maps each frame's media time
//!   back to the wall time roeh received it, carried in the stream), p50 and p95 over the window;
//! - **alert to row**: the time from an alert's commit (its `created_at`, stamped before the
//!   transaction) to its row in the queue of each of B browsers (a MutationObserver, then the
//!   next animation frame), p50 and p99 over A alerts raised through `POST /api/alerts`.
//!
//! Each browser figure has a baseline measured in the same run: a plain WebSocket client (Rust,
//! no browser) on the same routes. For live video it reads the same streams first (the time
//! from roeh receiving a picture to the client receiving its fragment); for alerts it listens
//! to the push stream beside the browsers (commit to the signed message received). The ratio
//! browser / baseline is what the browser adds.
//!
//! `cargo build --release -p roeh -p roeh-benches && ./target/release/console_bench`

use anyhow::Context;
use clap::Parser;
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{RoehProcess, wait_for};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
struct Args {
    /// Tiles of the large live grid.
    #[arg(long, default_value_t = 16)]
    tiles: usize,
    /// Live measurement window per grid, seconds.
    #[arg(long, default_value_t = 60)]
    secs: u64,
    /// Alerts raised for the alert-to-row figure.
    #[arg(long, default_value_t = 200)]
    alerts: usize,
    /// Browsers watching the queue meanwhile.
    #[arg(long, default_value_t = 5)]
    browsers: usize,
    /// The roeh binary (default: next to this one).
    #[arg(long)]
    roeh: Option<PathBuf>,
    /// Which figures: any of `weight`, `live`, `alerts`, comma-separated.
    #[arg(long, default_value = "weight,live,alerts")]
    parts: String,
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "a-long-bench-Passw0rd";

/// One chromium, driven through its own chromedriver.
struct Browser {
    rt: tokio::runtime::Runtime,
    client: fantoccini::Client,
    driver: std::process::Child,
}

impl Browser {
    fn open(width: u32, height: u32) -> anyhow::Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let driver = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting chromedriver (Debian's chromium-driver)")?;
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", format!("--window-size={width},{height}"),
                         "--lang=en", "--autoplay-policy=no-user-gesture-required"],
            }
        }))?;
        let rt = tokio::runtime::Runtime::new()?;
        let _ = roeh_api::tls::rustls::crypto::ring::default_provider().install_default();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let mut b = fantoccini::ClientBuilder::rustls()?;
            b.capabilities(caps.clone());
            match rt.block_on(b.connect(&url)) {
                Ok(client) => return Ok(Browser { rt, client, driver }),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("chromedriver did not accept a session: {last:?}")
    }

    fn js(&self, script: &str) -> anyhow::Result<Value> {
        Ok(self.rt.block_on(self.client.execute(script, vec![]))?)
    }

    fn goto(&self, url: &str) -> anyhow::Result<()> {
        Ok(self.rt.block_on(self.client.goto(url))?)
    }

    fn until(&self, what: &str, script: &str) -> anyhow::Result<Value> {
        wait_for(what, Duration::from_secs(120), || {
            let v = self.js(script).ok()?;
            (!(v.is_null() || v == json!(false))).then_some(v)
        })
    }

    /// Signs in on the console's page as `user`.
    fn sign_in(&self, base: &str, user: &str) -> anyhow::Result<()> {
        self.goto(&format!("{base}/"))?;
        self.until(
            "the sign-in page",
            "return document.getElementById('username')",
        )?;
        self.js(&format!(
            "const set = (id, v) => {{ const e = document.getElementById(id); e.value = v; \
               e.dispatchEvent(new Event('input', {{bubbles: true}})); }}; \
             set('username', '{user}'); set('password', '{PASSWORD}'); \
             document.querySelector('form button[type=submit]').click(); return true"
        ))?;
        self.until(
            "the live queue",
            "return document.querySelector('.conn-live')",
        )?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.client.clone().close());
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut v: Vec<f64>) -> (usize, f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (
        v.len(),
        percentile(&v, 0.5),
        percentile(&v, 0.95),
        percentile(&v, 0.99),
    )
}

/// A site recording `cameras` test cameras, without analytics (the figures are the console's).
fn site(bin: &Path, server: &TestCamServer, dir: &Path) -> anyhow::Result<(RoehProcess, String)> {
    let mut toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n[recording]\nsegment_secs = 10.0\nmin_free_bytes = 0\n",
        dir.join("data").display()
    );
    for (i, u) in server.urls().iter().enumerate() {
        toml.push_str(&format!("[[camera]]\nname = \"cam{i}\"\nurl = \"{u}\"\n"));
    }
    let cfg = dir.join("roeh.toml");
    std::fs::write(&cfg, toml)?;
    let log = dir.join("roeh.log");
    let p = RoehProcess::spawn(
        bin,
        &["serve", "--config", cfg.to_str().context("path")?],
        &log,
    )?;
    let base = roeh_testkit::wait_api_base(&log, 0)?;
    Ok((p, base))
}

fn call(method: reqwest::Method, url: &str, body: Value) -> anyhow::Result<Value> {
    let r = roeh_testkit::request(method, url).json(&body).send()?;
    let s = r.status();
    let v: Value = r.json().unwrap_or(Value::Null);
    anyhow::ensure!(s.is_success(), "{url}: {s} {v}");
    Ok(v)
}

fn weight(base: &str) -> anyhow::Result<()> {
    let b = Browser::open(1400, 900)?;
    // A cold load: the browser's cache is empty in a fresh profile.
    b.goto(&format!("{base}/"))?;
    b.until(
        "the sign-in page",
        "return document.getElementById('username')",
    )?;
    let v = b.js(
        "const nav = performance.getEntriesByType('navigation')[0]; \
         const res = performance.getEntriesByType('resource') \
           .filter(r => r.name.includes('/assets/')); \
         const fcp = performance.getEntriesByName('first-contentful-paint')[0]; \
         return {page: nav.transferSize, files: res.map(r => [r.name, r.transferSize, r.encodedBodySize, r.decodedBodySize]), \
                 fcp: fcp ? fcp.startTime : null, loaded: nav.loadEventEnd}",
    )?;
    let files: u64 = v["files"]
        .as_array()
        .map(|a| a.iter().map(|f| f[1].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0);
    let total = v["page"].as_u64().unwrap_or(0) + files;
    println!(
        "weight: first screen {:.1} KB transferred (page {} B; files {}), first contentful paint {:.0} ms, load event {:.0} ms",
        total as f64 / 1024.0,
        v["page"],
        v["files"],
        v["fcp"].as_f64().unwrap_or(f64::NAN),
        v["loaded"].as_f64().unwrap_or(f64::NAN),
    );
    Ok(())
}

/// Latency samples of every tile over `secs`, after a warm-up.
fn live(base: &str, tiles: usize, secs: u64) -> anyhow::Result<()> {
    // The same streams read by plain clients first, alone on the machine.
    let (raw50, raw95) = live_raw(base, tiles, secs)?;
    // Tall enough that every tile is on screen (tiles off screen stop by design).
    let (w, h) = if tiles > 1 { (1600, 1800) } else { (1200, 900) };
    let b = Browser::open(w, h)?;
    b.sign_in(base, "viewer")?;
    let cams: Value = roeh_testkit::get(&format!("{base}/api/cameras"))?.json()?;
    let first = cams[0]["id"].as_str().context("a camera")?.to_string();
    if tiles == 1 {
        b.js(&format!("location.hash = '#/live/{first}'; return true"))?;
    } else {
        b.js("location.hash = '#/live'; return true")?;
    }
    b.until(
        "every tile playing",
        &format!(
            "const v = [...document.querySelectorAll('video[data-camera]')]; \
             return v.length === {tiles} && v.every(x => x.currentTime > 2)"
        ),
    )?;
    b.js("window.__lat = []; \
         for (const v of document.querySelectorAll('video[data-camera]')) { \
           const cb = () => { const ms = Number(v.dataset.behindMs); \
             if (Number.isFinite(ms)) window.__lat.push(ms); v.requestVideoFrameCallback(cb); }; \
           v.requestVideoFrameCallback(cb); } \
         return true")?;
    // Once a second: how far each player is behind the newest picture it holds.
    let mut ahead_max = 0.0f64;
    let mut stalls = 0u64;
    for _ in 0..secs {
        std::thread::sleep(Duration::from_secs(1));
        let v = b.js(
            "return [...document.querySelectorAll('video[data-camera]')].map(v => \
               [v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : -1, \
                v.paused ? 1 : 0])",
        )?;
        for t in v.as_array().into_iter().flatten() {
            ahead_max = ahead_max.max(t[0].as_f64().unwrap_or(0.0));
            stalls += t[1].as_u64().unwrap_or(0);
        }
    }
    println!(
        "  buffered ahead of the playhead: at most {ahead_max:.2} s; tile-seconds found paused: {stalls}"
    );
    let samples: Vec<f64> = serde_json::from_value(b.js("return window.__lat")?)?;
    let behind: Vec<f64> = serde_json::from_value(b.js(
        "return [...document.querySelectorAll('video[data-camera]')].map(v => v.buffered.length ? v.buffered.end(v.buffered.length - 1) - v.currentTime : -1)",
    )?)?;
    let (n, p50, p95, p99) = summary(samples);
    println!(
        "live latency, {tiles} tile(s): {n} frames presented in {secs} s; receive → present p50 {p50:.0} ms, p95 {p95:.0} ms, p99 {p99:.0} ms; buffered ahead at the end {behind:.2?} s"
    );
    println!(
        "  ratio browser / plain client: p50 {:.1}×, p95 {:.1}×",
        p50 / raw50.max(0.001),
        p95 / raw95.max(0.001)
    );
    Ok(())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to `path` on `base`, with the test admin's bearer token.
async fn ws_connect(base: &str, path: &str) -> anyhow::Result<Ws> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let token = roeh_testkit::token_for(base).context("a bearer token")?;
    let mut req =
        format!("{}{path}", base.replacen("http://", "ws://", 1)).into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    Ok(tokio_tungstenite::connect_async(req).await?.0)
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Baseline of the live figure: plain WebSocket clients on the first `tiles` cameras' live
/// streams for `secs`; for each picture roeh received after the client connected, the time it
/// was received here minus the wall time roeh received it (the header's `wall`). Returns the
/// p50 and p95, ms.
fn live_raw(base: &str, tiles: usize, secs: u64) -> anyhow::Result<(f64, f64)> {
    use futures::StreamExt as _;
    let cams: Value = roeh_testkit::get(&format!("{base}/api/cameras"))?.json()?;
    let ids: Vec<String> = cams
        .as_array()
        .context("cameras")?
        .iter()
        .take(tiles)
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    let rt = tokio::runtime::Runtime::new()?;
    let samples = rt.block_on(async {
        let mut tasks = Vec::new();
        for id in ids {
            let ws = ws_connect(base, &format!("/api/cameras/{id}/live")).await?;
            // Pictures roeh received before the client connected (the group of pictures a new
            // viewer starts with) are a backlog, not a delivery time: left out.
            let connected = now_ms();
            tasks.push(tokio::spawn(async move {
                let (_, mut rx) = ws.split();
                let mut out = Vec::new();
                let end = tokio::time::Instant::now() + Duration::from_secs(secs);
                while let Ok(Some(Ok(m))) = tokio::time::timeout_at(end, rx.next()).await {
                    let at = now_ms();
                    let data = m.into_data();
                    let Some(n) = data
                        .get(..4)
                        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
                    else {
                        continue;
                    };
                    let Some(h) = data.get(4..4 + n) else {
                        continue;
                    };
                    let h: Value = serde_json::from_slice(h).unwrap_or(Value::Null);
                    if h["kind"] == "frame"
                        && let Some(wall) = h["wall"].as_f64()
                        && wall / 1000.0 >= connected
                    {
                        out.push(at - wall / 1000.0);
                    }
                }
                out
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await?);
        }
        anyhow::Ok(all)
    })?;
    let (n, p50, p95, p99) = summary(samples);
    println!(
        "baseline, {tiles} plain WebSocket client(s): {n} pictures in {secs} s; receive → fragment received p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms"
    );
    Ok((p50, p95))
}

/// Baseline of the alert figure: one plain client on the push WebSocket, listening beside the
/// browsers; for each `raised` message, when it arrived (epoch ms), by alert id.
struct PushListener {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<anyhow::Result<std::collections::HashMap<String, f64>>>,
}

impl PushListener {
    fn start(base: &str) -> anyhow::Result<PushListener> {
        use futures::StreamExt as _;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let base = base.to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut ws = ws_connect(&base, "/api/push/ws").await?;
                let _ = ready_tx.send(());
                let mut seen = std::collections::HashMap::new();
                while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                    let Ok(m) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await
                    else {
                        continue;
                    };
                    let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = m else {
                        continue;
                    };
                    let at = now_ms();
                    let env: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    let msg: Value = env["msg"]
                        .as_str()
                        .and_then(|m| serde_json::from_str(m).ok())
                        .unwrap_or(Value::Null);
                    if msg["kind"] == "raised"
                        && let Some(id) = msg["alert"].as_str()
                    {
                        seen.entry(id.to_string()).or_insert(at);
                    }
                }
                anyhow::Ok(seen)
            })
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .context("the push listener did not connect")?;
        Ok(PushListener { stop, thread })
    }

    fn finish(self) -> anyhow::Result<std::collections::HashMap<String, f64>> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the push listener panicked"))?
    }
}

fn alert_to_row(base: &str, alerts: usize, browsers: usize) -> anyhow::Result<()> {
    // A hotspot with one camera and no rule: the only alerts are the ones raised here.
    let cams: Value = roeh_testkit::get(&format!("{base}/api/cameras"))?.json()?;
    let cam = cams[0]["id"].as_str().context("a camera")?;
    call(
        reqwest::Method::POST,
        &format!("{base}/api/hotspots"),
        json!({"name": "Bench square", "lat": 32.08, "lon": 34.77, "priority": 2,
               "cameras": [cam], "zones": [],
               "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    )?;
    let pages: Vec<Browser> = (0..browsers)
        .map(|_| Browser::open(1200, 800))
        .collect::<anyhow::Result<_>>()?;
    for p in &pages {
        p.sign_in(base, "viewer")?;
        // Each new card: when it was painted (the frame after its insertion), epoch ms.
        p.js("window.__seen = {}; \
             new MutationObserver(ms => { for (const m of ms) for (const n of m.addedNodes) { \
               const cards = n.nodeType === 1 ? (n.matches('article.card.alert') ? [n] : \
                 [...n.querySelectorAll('article.card.alert')]) : []; \
               for (const c of cards) if (!(c.id in window.__seen)) { window.__seen[c.id] = 0; \
                 const id = c.id; requestAnimationFrame(() => { \
                   window.__seen[id] = performance.timeOrigin + performance.now(); }); } } }) \
               .observe(document.body, {childList: true, subtree: true}); return true")?;
    }
    let listener = PushListener::start(base)?;
    let mut created = Vec::new();
    let started = Instant::now();
    for i in 0..alerts {
        let v = call(
            reqwest::Method::POST,
            &format!("{base}/api/alerts"),
            json!({"source": "call", "lat": 32.0801, "lon": 34.7701, "phenomenon": "fight",
                   "severity": "high", "description": format!("bench alert {i}")}),
        )?;
        let id = v["alert"]["id"].as_str().context("id")?.to_string();
        let at = roeh_domain::WallTime::parse(v["alert"]["created_at"].as_str().context("time")?)
            .context("created_at")?;
        // Handled and resolved at once, so the next one is a new alert rather than a merge.
        for step in ["claim", "acknowledge", "resolve"] {
            call(
                reqwest::Method::POST,
                &format!("{base}/api/alerts/{id}/{step}"),
                json!({}),
            )?;
        }
        created.push((id, at.as_micros() as f64 / 1000.0));
    }
    let elapsed = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let mut lat = Vec::new();
    let mut missing = 0;
    for p in &pages {
        let seen = p.js("return window.__seen")?;
        for (id, at) in &created {
            match seen[format!("alert-{id}")].as_f64() {
                Some(t) if t > 0.0 => lat.push(t - at),
                _ => missing += 1,
            }
        }
    }
    let (n, p50, p95, p99) = summary(lat);
    println!(
        "alert commit → row painted: {alerts} alerts raised in {:.1} s, {browsers} browsers, {n} rows seen ({missing} not seen): p50 {p50:.0} ms, p95 {p95:.0} ms, p99 {p99:.0} ms",
        elapsed.as_secs_f64()
    );
    let heard = listener.finish()?;
    let raw: Vec<f64> = created
        .iter()
        .filter_map(|(id, at)| heard.get(id).map(|t| t - at))
        .collect();
    let (rn, r50, r95, r99) = summary(raw);
    println!(
        "baseline, plain push WebSocket client beside them: {rn} messages; commit → message received p50 {r50:.1} ms, p95 {r95:.1} ms, p99 {r99:.1} ms"
    );
    println!(
        "  ratio browser row / plain push: p50 {:.2}×, p95 {:.2}×, p99 {:.2}×",
        p50 / r50.max(0.001),
        p95 / r95.max(0.001),
        p99 / r99.max(0.001)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let roeh = roeh_benches::roeh_binary(args.roeh.as_deref())?;
    for bin in [CHROMIUM, CHROMEDRIVER] {
        anyhow::ensure!(
            Path::new(bin).exists(),
            "{bin} missing: bash scripts/setup.sh"
        );
    }
    println!("chromium headless; loopback");
    let footage = roeh_testkit::footage("vtest_h264.mp4");
    let server = TestCamServer::start(TestCamConfig::new(&footage, args.tiles.max(1)))?;
    let dir = tempfile::tempdir()?;
    let (proc_, base) = site(&roeh, &server, dir.path())?;
    wait_for("every camera streaming", Duration::from_secs(120), || {
        let v: Value = roeh_testkit::get(&format!("{base}/api/cameras"))
            .ok()?
            .json()
            .ok()?;
        let a = v.as_array()?;
        (a.len() == args.tiles.max(1) && a.iter().all(|c| c["health"]["state"] == "streaming"))
            .then_some(())
    })?;
    call(
        reqwest::Method::POST,
        &format!("{base}/api/users"),
        json!({"username": "viewer", "password": PASSWORD, "role": "operator", "scope": {}}),
    )?;
    let parts: Vec<&str> = args.parts.split(',').map(str::trim).collect();
    if parts.contains(&"weight") {
        weight(&base)?;
    }
    if parts.contains(&"live") {
        live(&base, 1, args.secs)?;
        if args.tiles > 1 {
            live(&base, args.tiles, args.secs)?;
        }
    }
    if parts.contains(&"alerts") {
        alert_to_row(&base, args.alerts, args.browsers)?;
    }
    proc_.terminate(Duration::from_secs(30))?;
    server.stop();
    Ok(())
}
