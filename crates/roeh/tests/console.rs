//! The console in a real browser: Debian's chromium, driven through chromedriver by fantoccini,
//! against `roeh serve` with the RTSP test camera (vtest, people on a walkway) and the real
//! detector. Each step saves a screenshot to `target/screenshots/console-…png` (Hebrew and English)
//! for a person to look at.
//!
//! The story: the first admin is created on the console's first-admin page with the one-time setup
//! token, in Hebrew; the queue is empty and mirrored (right to left); a hotspot and a rule are
//! armed and the detector raises an alert, which appears in the queue over the signed push
//! (verified in the browser); the operator claims it from the keyboard; another client's
//! acknowledgement shows in the console; D dispatches the nearest unit the server suggests; Enter
//! opens the snapshot (boxes and zone drawn), the evidence clip (played), the place with the units
//! around it on a map, and the history; the patrol car's phone signs in with its device token,
//! shows the dispatch and sends accepted, arrived and closed with one tap each while the operator's
//! details show every receipt; names carrying markup render as text and run nothing; the page
//! switches to English; the operator resolves the alert; the audit log holds every step; axe-core
//! finds no serious or critical violation. Two operators at once: one claims, the other's console
//! shows who holds the alert, and a second claim is refused. A `kill -9` of the server: the
//! operator's console and the unit's phone say they are reconnecting, and after the restart they
//! resync, holding exactly the open alerts and the dispatch. A session that ends while a note is
//! being typed returns to sign-in, and the note is there after it. The live grid plays every camera
//! (each tile's `currentTime` advances), the single view plays, a scoped user gets no live video of
//! another camera and a foreign Origin is refused. A resident's call placed on the map raises an
//! alert that a volunteer patrol receives as the place and a text only. PTZ on the ONVIF simulator:
//! a preset is reached, the rules pause and resume at home, and the audit log names each command;
//! there the grid plays the camera's sub stream and the single view its main stream.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "console/integrator.rs"]
mod integrator;
#[path = "console/situation.rs"]
mod situation;
use common::{BIN, Site, wait_streaming};
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::{RoehProcess, TEST_ADMIN, TEST_ADMIN_PASSWORD, footage};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(60);
/// Markup in names: must show as text, and nothing of it may run.
const XSS_CAMERA: &str = "Gate <img src=x onerror=window.__xss=1>";
const XSS_HOTSPOT: &str = "Walkway <script>window.__xss=2</script>";

/// Debian's chromium, driven through its chromedriver, with one window per test session.
struct Browser {
    /// Runs the WebDriver client; the test itself is synchronous like the test kit.
    rt: tokio::runtime::Runtime,
    client: fantoccini::Client,
    /// Screenshots go to `target/screenshots/<prefix>-<step>.png`.
    prefix: String,
    _driver: Driver,
}

impl Drop for Browser {
    /// Ends the WebDriver session, so the browser exits even when a test fails half-way (killing
    /// only the driver would leave chromium running). Already ended sessions answer an error.
    fn drop(&mut self) {
        let _ = self.rt.block_on(self.client.clone().close());
    }
}

/// The chromedriver process; killed when dropped.
struct Driver(std::process::Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// A headless chromium of `width`×`height` whose preferred language is `lang`.
    fn open(prefix: &str, lang: &str, width: u32, height: u32) -> Browser {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(bin).exists() {
                roeh_testkit::prerequisite_missing(
                    "console",
                    &format!("{bin} is missing (Debian's chromium and chromium-driver)"),
                );
                panic!("{bin} is missing");
            }
        }
        let port = free_port();
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver(child);
        let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", format!("--window-size={width},{height}"),
                         format!("--lang={lang}"), "--force-device-scale-factor=1",
                         "--autoplay-policy=no-user-gesture-required"],
                "prefs": {"intl.accept_languages": lang}
            }
        }))
        .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let rt = tokio::runtime::Runtime::new().unwrap();
        // The WebDriver client is built with rustls; the binary's one provider is ring.
        let _ = roeh_api::tls::rustls::crypto::ring::default_provider().install_default();
        let mut last = None;
        for _ in 0..100 {
            let mut builder = fantoccini::ClientBuilder::rustls().unwrap();
            builder.capabilities(caps.clone());
            match rt.block_on(builder.connect(&url)) {
                Ok(client) => {
                    return Browser {
                        rt,
                        client,
                        prefix: prefix.to_string(),
                        _driver: driver,
                    };
                }
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chromedriver did not accept a session: {last:?}");
    }

    /// Saves a screenshot of the whole window as `<prefix>-<step>.png`.
    fn shot(&self, step: &str) {
        let png = self.rt.block_on(self.client.screenshot()).unwrap();
        std::fs::write(
            screenshot_dir().join(format!("{}-{step}.png", self.prefix)),
            png,
        )
        .unwrap();
    }

    /// Runs `script` in the page and returns its value.
    fn js(&self, script: &str) -> Value {
        self.rt
            .block_on(self.client.execute(script, vec![]))
            .unwrap()
    }

    /// Opens `url`.
    fn goto(&self, url: &str) {
        self.rt.block_on(self.client.goto(url)).unwrap();
    }

    /// Types `text` into the element with id `id`.
    fn type_into(&self, id: &str, text: &str) {
        self.rt
            .block_on(async {
                let el = self.client.find(fantoccini::Locator::Id(id)).await?;
                el.send_keys(text).await
            })
            .unwrap();
    }

    /// Sends `keys` to the focused element, as a person typing.
    fn keys(&self, keys: &str) {
        self.rt
            .block_on(async {
                let el = self.client.active_element().await?;
                el.send_keys(keys).await
            })
            .unwrap();
    }

    /// Waits (up to [`GUARD`]) until `script` returns a truthy value; returns it.
    fn until(&self, what: &str, script: &str) -> Value {
        let end = std::time::Instant::now() + GUARD;
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if std::time::Instant::now() > end {
                let body = self.js("return document.body.innerText");
                self.shot(&format!("timeout-{}", what.replace(' ', "-")));
                panic!("timed out waiting for {what}; the page says:\n{body}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn models_line() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    format!("models = \"{}\"", root.join("models/models.toml").display())
}

/// The RTSP test camera (vtest: people on a walkway all the time) and a site recording it as
/// `camera` with the real detector; `port` fixes the API's port (else any free one).
fn camera_site(camera: &str, port: Option<u16>) -> (TestCamServer, Site) {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::new(4.0, &[(camera.into(), server.url(0))]);
    let mut text = std::fs::read_to_string(&site.config).unwrap();
    if let Some(port) = port {
        text = text.replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    }
    text.push_str(&format!("[analytics]\n{}\n", models_line()));
    std::fs::write(&site.config, text).unwrap();
    (server, site)
}

/// Arms the walkway of the site's one camera: a hotspot named `name` with the walkway zone and
/// an intrusion rule of `severity`, which fires as soon as it is armed. Returns the hotspot id.
fn arm_walkway(base: &str, name: &str, severity: &str) -> String {
    let cams = wait_streaming(base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        json!({"name": name, "lat": 32.08, "lon": 34.77, "priority": 2,
            "cameras": [cam],
            "zones": [{"id": "walkway", "camera": cam, "name": "Walkway",
                       "polygon": [[0.0, 0.3], [1.0, 0.2], [1.0, 0.8], [0.0, 0.5]]}],
            "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    let hotspot = v["id"].as_str().unwrap().to_string();
    let (s, v) = call(
        "POST",
        &format!("{base}/api/rules"),
        json!({"hotspot": hotspot, "name": "Walkway", "severity": severity,
               "kind": "intrusion", "zone": "walkway"}),
    );
    assert_eq!(s, 201, "{v}");
    hotspot
}

/// The element id of the first alert card, once there is one.
fn first_card(b: &Browser, whose: &str) -> String {
    b.until(
        &format!("the alert in {whose} queue"),
        "const c = document.querySelector('article.card.alert'); return c && c.id",
    )
    .as_str()
    .unwrap()
    .to_string()
}

/// A JSON request as the test admin (bearer token from `roeh_testkit::sign_in`).
fn call(method: &str, url: &str, body: Value) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = roeh_testkit::request(m, url);
    if !body.is_null() {
        r = r.json(&body);
    }
    let resp = r.send().unwrap();
    (resp.status().as_u16(), resp.json().unwrap_or(Value::Null))
}

/// A patrol unit registered by the admin, placed at (lat, lon) and available, as its device
/// reports it; its id and device token.
fn unit(base: &str, name: &str, lat: f64, lon: f64) -> (String, String) {
    let (s, v) = call(
        "POST",
        &format!("{base}/api/units"),
        json!({ "name": name }),
    );
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    {
        let http = reqwest::blocking::Client::new();
        for (path, body) in [
            ("position", json!({"lat": lat, "lon": lon})),
            ("status", json!({"status": "available"})),
        ] {
            let r = http
                .post(format!("{base}/api/units/me/{path}"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
        }
    }
    (v["id"].as_str().unwrap().to_string(), token)
}

/// A 1×1 PNG (one grey-blue pixel), the picture of every tile of [`tile_server`].
const TILE_PNG: [u8; 69] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xb0, 0xf2, 0x8a, 0x02,
    0x00, 0x01, 0xa0, 0x00, 0xdf, 0x62, 0x0b, 0xff, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
    0x44, 0xae, 0x42, 0x60, 0x82,
];

/// A map tile server on loopback: every `GET /osm/{z}/{x}/{y}.png` answers [`TILE_PNG`]; its port
/// and how many tiles it served.
fn tile_server() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let count = count.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(&conn);
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let tile = first.starts_with("GET /osm/") && first.contains(".png ");
                let mut out = &conn;
                if tile {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n",
                        TILE_PNG.len()
                    );
                    let _ = out.write_all(&TILE_PNG);
                } else {
                    let _ = out.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            });
        }
    });
    (port, served)
}

/// axe-core (from the console's npm packages) run on the page: its serious and critical
/// violations, as `id: help (n nodes)` lines.
fn axe_violations(b: &Browser) -> Vec<String> {
    let axe = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../console/node_modules/axe-core/axe.min.js");
    let source = std::fs::read_to_string(&axe)
        .unwrap_or_else(|e| panic!("{}: {e} (bash scripts/setup.sh installs it)", axe.display()));
    b.js(&format!(
        "{source}
return true;"
    ));
    let v =
        b.rt.block_on(b.client.execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(
               r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.help + ' (' + v.nodes.length + ' nodes)')));",
            vec![],
        ))
        .unwrap();
    serde_json::from_value(v).unwrap()
}

#[test]
fn an_operator_signs_in_in_hebrew_and_claims_a_detected_alert_from_the_keyboard() {
    let (server, site) = camera_site(XSS_CAMERA, None);
    // Started by hand: the first admin is made in the browser, not by the test kit.
    let proc_ = RoehProcess::spawn(
        Path::new(BIN),
        &["serve", "--config", site.config.to_str().unwrap()],
        &site.log,
    )
    .unwrap();
    let (base, token) =
        roeh_testkit::wait_for("the console address and the setup token", GUARD, || {
            let log = std::fs::read_to_string(&site.log).ok()?;
            let line = log.lines().find(|l| l.contains("console at http://"))?;
            let base = line
                .split("console at ")
                .nth(1)?
                .trim()
                .trim_end_matches('/')
                .to_string();
            Some((base, roeh_testkit::setup_token_in_log(&site.log, 0)?))
        })
        .unwrap();
    // The page and its files carry the strict policy.
    let page = reqwest::blocking::get(format!("{base}/")).unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );

    let b = Browser::open("console-he", "he", 1400, 900);
    b.goto(&format!("{base}/"));
    // Hebrew by the browser's language: the document is right to left.
    b.until(
        "the sign-in page",
        "return document.getElementById('signin-title')",
    );
    assert_eq!(b.js("return document.documentElement.lang"), "he");
    assert_eq!(b.js("return document.documentElement.dir"), "rtl");
    b.shot("01-sign-in");
    // No admin yet: the sign-in page leads to the first-admin page.
    b.js("document.querySelector('a[href=\"#/setup\"]').click(); return true");
    b.until(
        "the first-admin page",
        "return document.getElementById('setup-token')",
    );
    for (id, value) in [
        ("setup-token", token.as_str()),
        ("setup-username", TEST_ADMIN),
        ("setup-password", TEST_ADMIN_PASSWORD),
    ] {
        b.type_into(id, value);
    }
    b.shot("02-first-admin");
    submit_and_wait_for_queue(&b);
    b.shot("03-queue-empty");
    // Mirrored: in Hebrew the brand sits on the right, the language button on the left.
    let brand_right = b.js(
        "const r = document.querySelector('.brand').getBoundingClientRect(); \
             return r.left > window.innerWidth / 2",
    );
    assert_eq!(brand_right, json!(true), "Hebrew header not mirrored");

    // The test kit signs in with the same admin for the API calls below.
    roeh_testkit::sign_in(&base, &site.log, u64::MAX).unwrap();
    // People are on the walkway all the time: the rule fires as soon as it is armed.
    arm_walkway(&base, XSS_HOTSPOT, "high");

    // The alert arrives over the push and is verified in the browser.
    let card = first_card(&b, "the operator's");
    let alert = card.trim_start_matches("alert-").to_string();
    let title =
        b.js("return document.querySelector('article.card.alert .alert-title').textContent");
    assert!(title.as_str().unwrap().contains(XSS_HOTSPOT), "{title}");
    b.shot("04-alert");

    // Claimed from the keyboard: the card has the focus, C claims.
    b.js(&format!(
        "document.getElementById('{card}').focus(); return true",
        card = card.as_str()
    ));
    b.keys("c");
    // The card says the alert is held, by the operator at this console, and claiming is done.
    b.until(
        "the claim on the card",
        &format!(
            "return document.querySelector('#{} .action-claim').disabled",
            card.as_str()
        ),
    );
    let (s, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
    assert_eq!(
        (s, v["alert"]["state"].as_str()),
        (200, Some("claimed")),
        "{v}"
    );
    b.shot("05-claimed");

    // A change made elsewhere (the API, as another console would) shows without a reload.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/alerts/{alert}/acknowledge"),
        json!({}),
    );
    assert_eq!(s, 200, "{v}");
    b.until(
        "the acknowledgement on the card",
        &format!(
            "return document.getElementById('{}').className.length > 0 && \
                  !document.querySelector('#{} .action-acknowledge:not([disabled])')",
            card.as_str(),
            card.as_str()
        ),
    );

    // Dispatch: D opens the picker with the nearest available unit chosen; sending it dispatches.
    let (near, near_token) = unit(&base, "car-near", 32.081, 34.771);
    let (_far, _) = unit(&base, "car-far", 32.30, 34.95);
    let card_id = card.clone();
    b.js(&format!(
        "document.getElementById('{card_id}').focus(); return true"
    ));
    b.keys("d");
    let chosen = b.until(
        "the dispatch picker",
        &format!("const s = document.getElementById('dispatch-{alert}'); return s && s.value"),
    );
    assert_eq!(
        chosen,
        json!(near),
        "the nearest unit is not the one suggested"
    );
    b.shot("06-dispatch");
    b.js("document.querySelector('form.dispatch button[type=submit]').click(); return true");
    let dispatched = roeh_testkit::wait_for("the dispatch in the store", GUARD, || {
        let (s, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
        (s == 200 && v["alert"]["state"] == "dispatched").then_some(v)
    })
    .unwrap();
    assert_eq!(dispatched["dispatches"][0]["unit"], json!(near));

    // Details: Enter opens the snapshot (with its boxes, as recorded) and the alert's history.
    b.js(&format!(
        "document.getElementById('{card_id}').focus(); return true"
    ));
    b.keys("\u{e007}");
    b.until(
        "the snapshot in the details",
        "const i = document.querySelector('.details img.snapshot'); \
         return i && i.complete && i.naturalWidth > 0",
    );
    b.until(
        "the history in the details",
        "return document.querySelectorAll('.details .history li').length >= 4",
    );
    // The hotspot on the map, with the units around it (the near car inside the view).
    b.until(
        "the alert's place and units on the details map",
        &format!(
            "const m = document.querySelector('.details svg.map'); \
             return m && m.querySelector('[data-alert=\"{alert}\"]') && \
                    m.querySelector('[data-unit=\"{near}\"]')"
        ),
    );
    // The evidence window plays from the recorded footage. Its last segment is served once
    // sealed: until then the player says so, and "try again" reads a fresh link.
    b.until(
        "the evidence clip playing",
        "const d = document.querySelector('.details details.evidence'); \
         if (!d) return false; \
         if (!d.open) d.open = true; \
         const r = d.querySelector('.evidence-retry'); \
         if (r) { if (!window.__retry || Date.now() - window.__retry > 1000) \
                  { window.__retry = Date.now(); r.click(); } return false; } \
         const v = d.querySelector('video'); \
         if (!v) return false; \
         v.muted = true; if (v.paused) v.play().catch(() => {}); \
         return v.currentTime > 0.5 && v.duration > 1",
    );
    b.shot("07-details");
    b.js(
        "document.querySelector('.details svg.map').scrollIntoView({block: 'center'}); return true",
    );
    b.shot("07-details-map");

    // The unit's phone: signed in by the device token carried once in the address's fragment
    // (which leaves the address at once), it shows the dispatch with its place and snapshot and
    // confirms delivery by itself; accepted, arrived and closed are one tap each, and the
    // operator's details show every receipt as it comes.
    let phone = Browser::open("console-unit-he", "he", 390, 844);
    phone.goto(&format!("{base}/#/device/{near_token}"));
    let task = format!(".task[data-alert=\"{alert}\"]");
    phone.until(
        "the dispatch on the unit's phone",
        &format!(
            "const i = document.querySelector('{task} img.task-snapshot'); \
             return i && i.complete && i.naturalWidth > 0"
        ),
    );
    assert_eq!(
        phone.js("return location.href.includes('device')"),
        json!(false),
        "the device token stayed in the address"
    );
    let place = phone.js(&format!(
        "return document.querySelector('{task} .task-place').textContent"
    ));
    assert_eq!(place, json!(XSS_HOTSPOT));
    assert_eq!(phone.js("return document.documentElement.dir"), "rtl");
    phone.until(
        "the delivery receipt",
        &format!("return document.querySelectorAll('{task} .step-done').length === 1"),
    );
    b.until(
        "the delivery on the operator's details",
        "return document.querySelectorAll('.details .receipts li').length === 1",
    );
    phone.shot("01-dispatch");
    for (step, (button, receipts)) in [
        ("receipt-accepted", 2),
        ("receipt-arrived", 3),
        ("receipt-closed", 4),
    ]
    .into_iter()
    .enumerate()
    {
        // As a person would: tap once the button is there and no receipt is being sent.
        phone.until(
            &format!("the {button} button"),
            &format!(
                "const b = document.querySelector('{task} button.{button}'); \
                 return b && !b.disabled"
            ),
        );
        phone.js(&format!(
            "document.querySelector('{task} button.{button}').click(); return true"
        ));
        b.until(
            &format!("receipt {receipts} on the operator's details"),
            &format!(
                "return document.querySelectorAll('.details .receipts li').length === {receipts}"
            ),
        );
        if step == 1 {
            phone.until(
                "the close button",
                &format!("return document.querySelector('{task} button.receipt-closed')"),
            );
            phone.shot("02-on-scene");
        }
    }
    phone.until(
        "the closed dispatch off the phone",
        "return document.querySelectorAll('.task').length === 0 && document.querySelector('.empty')",
    );
    phone.shot("03-closed");
    let axe = axe_violations(&phone);
    assert!(axe.is_empty(), "axe-core (unit's phone): {axe:#?}");
    b.shot("08-receipts");
    let (_, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
    let d = &v["dispatches"][0];
    for k in ["delivered_at", "accepted_at", "arrived_at", "closed_at"] {
        assert!(d[k].is_string(), "{k} missing: {v}");
    }
    drop(phone);
    b.keys("\u{e00c}");
    b.until(
        "the details closed",
        "return !document.querySelector('.details')",
    );

    // Markup in names ran nothing: no flag set, no dialog open, and the camera name is text.
    assert_eq!(b.js("return window.__xss === undefined"), json!(true));
    assert!(
        b.rt.block_on(b.client.get_alert_text()).is_err(),
        "a dialog opened"
    );

    let axe = axe_violations(&b);
    assert!(axe.is_empty(), "axe-core (Hebrew queue): {axe:#?}");

    // English, by the header's switch; remembered for the next load.
    b.js("document.querySelector('.header-tools button[lang=\"en\"]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.lang === 'en'",
    );
    assert_eq!(b.js("return document.documentElement.dir"), "ltr");
    let brand_left = b.js(
        "const r = document.querySelector('.brand').getBoundingClientRect(); \
             return r.right < window.innerWidth / 2",
    );
    assert_eq!(brand_left, json!(true), "English header not left to right");
    b.shot("06-queue-en");
    b.rt.block_on(b.client.refresh()).unwrap();
    b.until(
        "the queue after a reload",
        "return document.querySelector('article.card.alert')",
    );
    assert_eq!(b.js("return document.documentElement.lang"), "en");
    let axe = axe_violations(&b);
    assert!(axe.is_empty(), "axe-core (English queue): {axe:#?}");

    // The operator resolves the alert (R, and R again to confirm): it leaves the queue.
    b.js(&format!(
        "document.getElementById('{card_id}').focus(); return true"
    ));
    b.keys("r");
    b.keys("r");
    b.until(
        "the resolved alert off the queue",
        &format!("return !document.getElementById('{card_id}')"),
    );
    b.shot("09-resolved-en");

    // Every step is in the audit log: the operator's in the browser, the unit's on its phone.
    let (s, audit) = call("GET", &format!("{base}/api/audit?limit=500"), Value::Null);
    assert_eq!(s, 200);
    let by = |who: &str| -> Vec<String> {
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["actor"] == who && a["outcome"] == "ok")
            .map(|a| a["action"].as_str().unwrap().to_string())
            .collect()
    };
    let admin = by(TEST_ADMIN);
    for step in ["claim", "dispatch", "resolve"] {
        assert!(
            admin.contains(&format!("POST /api/alerts/{{id}}/{step}")),
            "{step} missing: {admin:?}"
        );
    }
    let car = by("car-near");
    assert!(car.contains(&"login".to_string()), "{car:?}");
    assert_eq!(
        car.iter()
            .filter(|a| *a == "POST /api/units/me/receipts")
            .count(),
        4,
        "{car:?}"
    );

    b.rt.block_on(b.client.clone().close()).unwrap();
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

/// Submits the page's form and waits for the alert queue with its live push.
fn submit_and_wait_for_queue(b: &Browser) {
    b.js("document.querySelector('form button[type=submit]').click(); return true");
    b.until(
        "the alert queue",
        "return document.getElementById('queue-title')",
    );
    b.until(
        "the live push",
        "return document.querySelector('.conn-live')",
    );
}

/// Signs in on the console's sign-in page as `user`, and waits for the live queue.
fn sign_in_page(b: &Browser, base: &str, user: &str, password: &str) {
    b.goto(&format!("{base}/"));
    b.until(
        "the sign-in page",
        "return document.getElementById('username')",
    );
    b.type_into("username", user);
    b.type_into("password", password);
    submit_and_wait_for_queue(b);
}

/// A user with `role` and a password, made by the test admin.
fn user_with_password(base: &str, name: &str, role: &str, password: &str) {
    let (s, v) = call(
        "POST",
        &format!("{base}/api/users"),
        json!({"username": name, "password": password, "role": role,
               "scope": {}}),
    );
    assert_eq!(s, 201, "{v}");
}

#[test]
fn two_operators_at_once_see_each_others_claim_and_cannot_claim_twice() {
    let (server, site) = camera_site("Gate", None);
    let (proc_, base) = site.serve();
    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "dana", "operator", password);
    user_with_password(&base, "yossi", "operator", password);
    let a = Browser::open("console-two-he", "he", 1400, 900);
    let b = Browser::open("console-two-en", "en", 1400, 900);
    sign_in_page(&a, &base, "dana", password);
    sign_in_page(&b, &base, "yossi", password);

    arm_walkway(&base, "Promenade", "high");
    let card = first_card(&a, "Dana's");
    assert_eq!(first_card(&b, "Yossi's"), card);
    let alert = card.trim_start_matches("alert-").to_string();

    // Dana claims from the keyboard; Yossi's console shows who holds it, without a reload.
    a.js(&format!(
        "document.getElementById('{card}').focus(); return true"
    ));
    let claimed_at = std::time::Instant::now();
    a.keys("c");
    b.until(
        "Dana's claim on Yossi's console",
        &format!(
            "const c = document.getElementById('{card}'); \
             return c.textContent.includes('dana') && c.querySelector('.action-claim').disabled"
        ),
    );
    // Reported, not asserted (tests never assert timings): the issue's goal is under 1 s.
    eprintln!(
        "Dana's claim showed on Yossi's console {} ms after the key press",
        claimed_at.elapsed().as_millis()
    );
    a.shot("claimed");
    b.shot("sees-claim");

    // Yossi's C does nothing (the button is off), and the server refuses a second claim clearly.
    b.js(&format!(
        "document.getElementById('{card}').focus(); return true"
    ));
    b.keys("c");
    let (s, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
    assert_eq!(s, 200);
    let dana = v["alert"]["claimed_by"].clone();
    assert_eq!(v["alert"]["state"], "claimed", "{v}");
    let yossi = reqwest::blocking::Client::new()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "yossi", "password": password, "kind": "api"}))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let r = reqwest::blocking::Client::new()
        .post(format!("{base}/api/alerts/{alert}/claim"))
        .bearer_auth(&yossi)
        .json(&json!({}))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().unwrap();
    assert!(matches!(status, 409 | 412), "{status} {body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("claim"),
        "{body}"
    );
    let (_, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
    assert_eq!(
        v["alert"]["claimed_by"], dana,
        "the second claim changed the holder"
    );

    a.rt.block_on(a.client.clone().close()).unwrap();
    b.rt.block_on(b.client.clone().close()).unwrap();
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

#[test]
fn a_killed_server_shows_reconnecting_and_the_console_resyncs_without_losing_or_doubling() {
    // A fixed port, so the pages find the restarted server where it was.
    let (server, site) = camera_site("Gate", Some(free_port()));
    let (proc_, base) = site.serve();
    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "noa", "operator", password);
    let b = Browser::open("console-restart-he", "he", 1400, 900);
    sign_in_page(&b, &base, "noa", password);
    arm_walkway(&base, "Station", "medium");
    let card = first_card(&b, "Noa's");
    let alert = card.trim_start_matches("alert-").to_string();
    // The alert is dispatched to a patrol car whose phone shows it.
    let (car, car_token) = unit(&base, "car-9", 32.081, 34.771);
    for (step, body) in [
        ("claim", json!({})),
        ("acknowledge", json!({})),
        ("dispatch", json!({"units": [car]})),
    ] {
        let (s, v) = call("POST", &format!("{base}/api/alerts/{alert}/{step}"), body);
        assert_eq!(s, 200, "{step}: {v}");
    }
    b.until(
        "the dispatch on the operator's card",
        &format!("return document.querySelector('#{card} .action-claim').disabled"),
    );
    let phone = Browser::open("console-restart-unit-he", "he", 390, 844);
    phone.goto(&format!("{base}/#/device/{car_token}"));
    let task = format!(".task[data-alert=\"{alert}\"]");
    phone.until(
        "the dispatch on the phone",
        &format!("return document.querySelector('{task}')"),
    );

    // kill -9: both say they are reconnecting, in words, not only a colour.
    proc_.kill9().unwrap();
    for (page, who) in [(&b, "operator"), (&phone, "unit")] {
        page.until(
            &format!("the reconnecting state ({who})"),
            "return document.querySelector('.conn-reconnecting')",
        );
        page.shot("reconnecting");
    }

    // The same data, the same port: the session cookies are still valid, the push resumes from
    // the last sequence number each page verified.
    let (proc_, base2) = site.serve();
    assert_eq!(base2, base);
    for page in [&b, &phone] {
        page.until("live again", "return document.querySelector('.conn-live')");
    }
    // The phone holds its dispatch once, as before.
    phone.until(
        "the phone's one task after the restart",
        "return document.querySelectorAll('.task').length === 1",
    );
    phone.shot("resynced");
    // A change made after the restart shows on both: the alert resolved leaves the queue and
    // the phone.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/alerts/{alert}/resolve"),
        json!({}),
    );
    assert_eq!(s, 200, "{v}");
    b.until(
        "the resolved alert off the operator's queue",
        &format!("return !document.getElementById('{card}')"),
    );
    phone.until(
        "the resolved alert off the phone",
        "return document.querySelectorAll('.task').length === 0",
    );
    let open = || {
        let (s, v) = call("GET", &format!("{base}/api/alerts"), Value::Null);
        assert_eq!(s, 200);
        v.as_array()
            .unwrap()
            .iter()
            .filter(|a| !matches!(a["state"].as_str(), Some("resolved" | "false_alarm")))
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect::<std::collections::BTreeSet<_>>()
    };
    // No alert missing, none twice: the page's cards are the server's open alerts.
    roeh_testkit::wait_for("the page to hold exactly the open alerts", GUARD, || {
        let shown = b.js(
            "return Array.from(document.querySelectorAll('article.card.alert')).map(c => c.id.slice(6))",
        );
        let shown: Vec<String> = serde_json::from_value(shown).ok()?;
        let unique: std::collections::BTreeSet<_> = shown.iter().cloned().collect();
        (unique.len() == shown.len() && unique == open()).then_some(())
    })
    .unwrap();
    b.shot("resynced");

    drop(phone);
    b.rt.block_on(b.client.clone().close()).unwrap();
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

#[test]
fn an_ended_session_returns_to_sign_in_and_keeps_the_note_being_typed() {
    let (server, site) = camera_site("Gate", None);
    let (proc_, base) = site.serve();
    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "rina", "operator", password);
    let b = Browser::open("console-session-he", "he", 1400, 900);
    sign_in_page(&b, &base, "rina", password);
    arm_walkway(&base, "Kiosk", "low");
    let card = first_card(&b, "Rina's");
    // The operator types a note (Hebrew, with a number) ...
    let note = "שני אנשים רבים ליד הקיוסק, 3 עוברי אורח";
    b.js(&format!(
        "document.querySelector('#{card} textarea').focus(); return true"
    ));
    b.keys(note);

    // ... while the session ends elsewhere (signed out from another place, or expired).
    // `roeh_session`, or `__Host-roeh_session` where the cookie is marked Secure.
    let cookie =
        b.rt.block_on(b.client.get_all_cookies())
            .unwrap()
            .into_iter()
            .find(|c| c.name().ends_with(roeh_auth::cookie::SESSION_COOKIE))
            .expect("the console's session cookie");
    let pair = format!("{}={}", cookie.name(), cookie.value());
    let http = reqwest::blocking::Client::new();
    let me: Value = http
        .get(format!("{base}/api/auth/me"))
        .header("cookie", &pair)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let r = http
        .post(format!("{base}/api/auth/logout"))
        .header("cookie", &pair)
        .header("x-roeh-csrf", me["csrf"].as_str().unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    // Sending it meets the ended session: back to sign-in, nothing lost.
    b.keys("\u{e009}\u{e007}\u{e000}");
    b.until(
        "the sign-in page",
        "return document.getElementById('username')",
    );
    b.shot("signed-out");
    sign_in_page(&b, &base, "rina", password);
    let kept = b.until(
        "the note draft after signing in again",
        &format!("const t = document.querySelector('#{card} textarea'); return t && t.value"),
    );
    assert_eq!(kept, json!(note));
    b.shot("draft-kept");

    b.rt.block_on(b.client.clone().close()).unwrap();
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

/// `GET path` with the headers of a WebSocket handshake, as `bearer` (an API token) or with a
/// session `cookie` and an `Origin`; the status and the body.
fn ws_handshake(
    url: &str,
    bearer: Option<&str>,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (u16, String) {
    let mut r = reqwest::blocking::Client::new()
        .get(url)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
    if let Some(t) = bearer {
        r = r.bearer_auth(t);
    }
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    if let Some(o) = origin {
        r = r.header("origin", o);
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().unwrap_or_default())
}

/// Waits until every tile of the page plays: each `<video>`'s `currentTime` moves on by more
/// than a second from where it was first seen playing. Returns the number of tiles.
fn tiles_play(b: &Browser, what: &str) -> u64 {
    b.js("window.__t0 = null; return true");
    b.until(
        what,
        "const vs = [...document.querySelectorAll('video[data-camera]')]; \
         if (vs.length === 0) return false; \
         if (!window.__t0) { if (vs.some(v => v.currentTime <= 0)) return false; \
                             window.__t0 = vs.map(v => v.currentTime); return false; } \
         return vs.every((v, i) => v.currentTime > window.__t0[i] + 1) && vs.length",
    )
    .as_u64()
    .unwrap()
}

#[test]
fn the_live_grid_plays_every_camera_and_live_video_keeps_to_scope_and_origin() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 2)).unwrap();
    let site = Site::new(
        4.0,
        &[
            ("Gate".into(), server.url(0)),
            (XSS_CAMERA.into(), server.url(1)),
        ],
    );
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(2)).unwrap();
    let id_of = |name: &str| {
        cams.iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .get("id")
            .unwrap()
            .as_str()
            .unwrap()
            .to_string()
    };
    let (gate, other) = (id_of("Gate"), id_of(XSS_CAMERA));
    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "maya", "operator", password);

    let b = Browser::open("console-live-he", "he", 1400, 900);
    sign_in_page(&b, &base, "maya", password);
    b.js("location.hash = '#/live'; return true");
    assert_eq!(tiles_play(&b, "both live tiles playing"), 2);
    b.until(
        "the picture time on every tile",
        "return document.querySelectorAll('.tile[data-state=playing] .tile-time').length === 2",
    );
    // The name with markup is text, and its markup ran nothing.
    assert_eq!(b.js("return window.__xss === undefined"), json!(true));
    let names = b.js(
        "return [...document.querySelectorAll('.tile-name')].map(e => e.textContent).join('|')",
    );
    assert!(names.as_str().unwrap().contains(XSS_CAMERA), "{names}");
    b.shot("01-grid");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Every opened stream is a footage view in the audit log, by the operator.
    let (s, v) = call(
        "GET",
        &format!("{base}/api/audit?actor=maya&limit=100"),
        Value::Null,
    );
    assert_eq!(s, 200, "{v}");
    let views: Vec<&Value> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "GET /api/cameras/{id}/live")
        .collect();
    assert!(
        views.len() >= 2 && views.iter().all(|e| e["outcome"] == "ok"),
        "{v}"
    );

    // The single view: the camera's name is the page's title, and it plays.
    b.js(&format!(
        "document.querySelector('.tile[data-camera=\"{gate}\"] a.tile-name').click(); return true"
    ));
    b.until(
        "the single view",
        "return document.querySelectorAll('video[data-camera]').length === 1 && \
                document.querySelector('.tile-big')",
    );
    assert_eq!(tiles_play(&b, "the single view playing"), 1);
    b.shot("02-single");

    // A saved group: only the Gate; chosen, it is the grid; deleted, every camera again.
    b.js("location.hash = '#/live'; return true");
    b.until(
        "the grid again",
        "return document.querySelectorAll('video[data-camera]').length === 2 && \
                document.querySelector('button.group-new')",
    );
    b.js("document.querySelector('button.group-new').click(); return true");
    b.until(
        "the group editor",
        "return document.getElementById('group-name')",
    );
    b.type_into("group-name", "Gate only");
    b.js(
        "for (const box of document.querySelectorAll('.group-cameras input')) { \
           const on = box.closest('label').textContent.trim() === 'Gate'; \
           if (box.checked !== on) box.click(); } return true",
    );
    b.shot("03-group-editor");
    b.js("document.querySelector('form.group-editor button[type=submit]').click(); return true");
    b.until(
        "the group's grid",
        &format!(
            "const v = document.querySelectorAll('video[data-camera]'); \
             return v.length === 1 && v[0].dataset.camera === '{gate}'"
        ),
    );
    assert_eq!(tiles_play(&b, "the group's tile playing"), 1);
    b.js("document.querySelector('button.group-delete').click(); return true");
    b.until(
        "every camera after deleting the group",
        "return document.querySelectorAll('video[data-camera]').length === 2",
    );

    // English, the grid again.
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English grid",
        "return document.documentElement.dir === 'ltr' && \
                document.querySelectorAll('video[data-camera]').length === 2",
    );
    assert_eq!(tiles_play(&b, "both tiles playing in English"), 2);
    b.shot("04-grid-en");

    // Scope: a user of one hotspot (the Gate's) gets no live video of the other camera, and the
    // refusal is the one a missing camera gets (no existence oracle).
    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        json!({"name": "Gate", "lat": 32.08, "lon": 34.77, "priority": 2, "cameras": [gate],
               "zones": [], "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        "POST",
        &format!("{base}/api/users"),
        json!({"username": "scoped", "password": password, "role": "operator",
               "scope": {"hotspots": [v["id"]]}}),
    );
    assert_eq!(s, 201, "{v}");
    let login = |kind: &str| {
        reqwest::blocking::Client::new()
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"username": "scoped", "password": password, "kind": kind}))
            .send()
            .unwrap()
    };
    let token = login("api").json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let live = |cam: &str| format!("{base}/api/cameras/{cam}/live");
    let (s, _) = ws_handshake(&live(&gate), Some(&token), None, None);
    assert_eq!(s, 101, "the scoped user's own camera");
    let outside = ws_handshake(&live(&other), Some(&token), None, None);
    let missing = ws_handshake(
        &live("00000000-0000-4000-8000-000000000000"),
        Some(&token),
        None,
        None,
    );
    assert_eq!(outside.0, 404, "{}", outside.1);
    assert_eq!(
        outside, missing,
        "a camera outside the scope answers like a missing one"
    );

    // A console session used from another site's page is refused; from its own, accepted.
    let cookie = login("session")
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(!cookie.is_empty());
    let (s, body) = ws_handshake(
        &live(&gate),
        None,
        Some(&cookie),
        Some("http://evil.example"),
    );
    assert_eq!(s, 403, "{body}");
    let (s, _) = ws_handshake(&live(&gate), None, Some(&cookie), Some(&base));
    assert_eq!(s, 101);

    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

#[test]
fn a_residents_call_placed_on_the_map_reaches_the_volunteer_patrol_as_place_and_text_only() {
    let (server, site) = camera_site("Gate", None);
    // The site's own map tile server, shown under the map (and allowed by the page's policy).
    let (tile_port, tiles_served) = tile_server();
    let mut text = std::fs::read_to_string(&site.config).unwrap();
    text.push_str(&format!(
        "[console]\nmap_tiles = \"http://127.0.0.1:{tile_port}/osm/{{z}}/{{x}}/{{y}}.png\"\n\
         map_attribution = \"Test tiles\"\n"
    ));
    std::fs::write(&site.config, text).unwrap();
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    // A hotspot with no rule: nothing is detected, the only alert is the one the operator raises.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        json!({"name": "Kiosk square", "lat": 32.0800, "lon": 34.7700, "priority": 3,
               "cameras": [cam], "zones": [],
               "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        "POST",
        &format!("{base}/api/units"),
        json!({"name": "parents-patrol", "kind": "volunteer"}),
    );
    assert_eq!(s, 201, "{v}");
    let (vol, vol_token) = (
        v["id"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    );
    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "shira", "operator", password);

    let b = Browser::open("console-call-he", "he", 1400, 900);
    sign_in_page(&b, &base, "shira", password);
    b.js("location.hash = '#/units'; return true");
    b.until(
        "the hotspot on the map",
        "return document.querySelector('.map-hotspot circle')",
    );
    let drawn = b
        .until(
            "the site's map tiles under the map",
            "return document.querySelectorAll('svg.map image.map-tile').length",
        )
        .as_u64()
        .unwrap();
    let fetched = roeh_testkit::wait_for("the tiles fetched", GUARD, || {
        let n = tiles_served.load(std::sync::atomic::Ordering::SeqCst);
        (n as u64 >= drawn).then_some(n)
    })
    .unwrap();
    assert!(fetched > 0);
    let first =
        b.js("return document.querySelector('svg.map image.map-tile').getAttribute('href')");
    assert!(
        first
            .as_str()
            .unwrap()
            .starts_with(&format!("http://127.0.0.1:{tile_port}/osm/")),
        "{first}"
    );
    // The caller is 40 px east of the hotspot's marker: a click there places the call.
    b.js(
        "const c = document.querySelector('.map-hotspot circle').getBoundingClientRect(); \
         document.querySelector('svg.map').dispatchEvent(new MouseEvent('click', \
           {bubbles: true, clientX: c.x + c.width / 2 + 40, clientY: c.y + c.height / 2})); \
         return true",
    );
    b.until(
        "the picked place",
        "return document.querySelector('.map-pick') && \
                document.querySelector('.call-place bdi')",
    );
    b.type_into("call-description", "Two youths fighting by the kiosk");
    b.shot("01-call-on-map");
    assert_eq!(axe_violations(&b), Vec::<String>::new());
    // The same page in English: left to right, the map not mirrored, the picked place kept.
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.dir === 'ltr' && document.querySelector('.map-pick')",
    );
    b.shot("01-call-on-map-en");
    b.js("document.querySelector('form.call-form button[type=submit]').click(); return true");
    let card = first_card(&b, "the operator's");
    let alert = card.trim_start_matches("alert-").to_string();
    let (_, d) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
    assert_eq!(d["events"][0]["actor"], "shira", "{d}");
    assert_eq!(d["events"][0]["detail"]["source"], "call", "{d}");
    let east = d["alert"]["location"]["lon"].as_f64().unwrap();
    assert!(east > 34.7700, "the place is east of the hotspot: {d}");

    // Claim, acknowledge, and dispatch the volunteer patrol with a short text.
    b.js(&format!(
        "document.getElementById('{card}').focus(); return true"
    ));
    b.keys("c");
    b.until(
        "the claim",
        &format!("return document.querySelector('#{card} .action-claim').disabled"),
    );
    b.keys("a");
    b.until(
        "the acknowledgement",
        &format!("return document.querySelector('#{card} .action-acknowledge').disabled"),
    );
    b.keys("d");
    b.until(
        "the dispatch picker",
        &format!("return document.getElementById('dispatch-{alert}')"),
    );
    b.js(&format!(
        "const s = document.getElementById('dispatch-{alert}'); s.value = '{vol}'; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    ));
    let text = "Kiosk, north side: two youths fighting";
    b.type_into(&format!("dispatch-{alert}-text"), text);
    b.shot("02-dispatch-volunteer");
    b.js("document.querySelector('form.dispatch button[type=submit]').click(); return true");
    roeh_testkit::wait_for("the dispatch", GUARD, || {
        let (_, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
        (v["dispatches"][0]["unit"] == json!(vol)).then_some(())
    })
    .unwrap();

    // The volunteer's phone: the place and the text, and no picture, clip or name.
    let phone = Browser::open("console-volunteer-he", "he", 390, 844);
    phone.goto(&format!("{base}/#/device/{vol_token}"));
    let task = format!(".task[data-alert=\"{alert}\"]");
    let shown = phone.until(
        "the dispatch on the volunteer's phone",
        &format!(
            "const t = document.querySelector('{task} .task-text'); return t && t.textContent"
        ),
    );
    assert_eq!(shown, json!(text));
    assert_eq!(
        phone.js(&format!(
            "return document.querySelector('{task} .task-place').textContent"
        )),
        json!("Kiosk square")
    );
    assert_eq!(
        phone.js("return document.querySelectorAll('.task img, .task video').length"),
        json!(0)
    );
    let page = phone.js("return document.body.innerText");
    assert!(!page.as_str().unwrap().contains("shira"), "{page}");
    phone.shot("01-dispatch");
    // Accepted with one tap: the operator's console sees it.
    phone.js(&format!(
        "document.querySelector('{task} button.receipt-accepted').click(); return true"
    ));
    roeh_testkit::wait_for("the volunteer's acceptance", GUARD, || {
        let (_, v) = call("GET", &format!("{base}/api/alerts/{alert}"), Value::Null);
        v["dispatches"][0]["accepted_at"].is_string().then_some(())
    })
    .unwrap();

    drop(phone);
    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

#[test]
fn recordings_play_from_a_moment_step_by_frame_and_keep_the_time_on_another_camera() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 2)).unwrap();
    let site = Site::new(
        4.0,
        &[
            ("Gate".into(), server.url(0)),
            ("Square".into(), server.url(1)),
        ],
    );
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(2)).unwrap();
    let id = |i: usize| cams[i]["id"].as_str().unwrap().to_string();
    let (gate, square) = (id(0), id(1));
    // At least three sealed segments on each camera (4 s each).
    let first = roeh_testkit::wait_for("recorded segments", GUARD, || {
        let mut firsts = Vec::new();
        for cam in [&gate, &square] {
            let (_, v) = call(
                "GET",
                &format!("{base}/api/cameras/{cam}/segments"),
                Value::Null,
            );
            let a = v.as_array()?;
            if a.len() < 3 {
                return None;
            }
            firsts.push(a[0]["start_us"].as_i64()?);
        }
        firsts.into_iter().max()
    })
    .unwrap();
    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "tamar", "operator", password);
    let b = Browser::open("console-playback-he", "he", 1400, 900);
    sign_in_page(&b, &base, "tamar", password);

    // The moment 2 s into the recording: the player starts there.
    let moment = first + 2_000_000;
    b.js(&format!(
        "location.hash = '#/playback/{gate}/{moment}'; return true"
    ));
    let now = |b: &Browser| -> i64 {
        b.js("const f = document.querySelector('figure[data-now]'); return f ? Number(f.dataset.now) : 0")
            .as_i64()
            .unwrap_or(0)
    };
    b.until(
        "the recording playing",
        "const v = document.querySelector('video.playback-video'); \
         return v && v.currentTime > 0.5 && document.querySelector('figure[data-now]')",
    );
    let shown = now(&b);
    assert!(
        (shown - moment).abs() < 3_000_000,
        "playing {shown}, asked for {moment}"
    );
    b.until(
        "the recorded segments on the timeline",
        "return document.querySelectorAll('svg.timeline .tl-seg').length >= 3",
    );
    b.shot("01-playing");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // One frame forward while paused: a tenth of a second later on the wall clock.
    b.js("document.querySelector('video.playback-video').pause(); return true");
    std::thread::sleep(Duration::from_millis(300));
    let before = now(&b);
    b.js("document.querySelector('button.step-forward').click(); return true");
    let after = b
        .until(
            "one frame further",
            &format!(
                "const n = Number(document.querySelector('figure[data-now]').dataset.now); \
                 return n > {before} && n"
            ),
        )
        .as_i64()
        .unwrap();
    assert!(
        (after - before - 100_000).abs() < 20_000,
        "a step of {} µs",
        after - before
    );

    // The same moment on the other camera: the time is kept.
    b.js(&format!(
        "const s = document.getElementById('playback-camera'); s.value = '{square}'; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    ));
    b.until(
        "the other camera",
        &format!("return location.hash.startsWith('#/playback/{square}/')"),
    );
    b.until(
        "the other camera playing",
        &format!(
            "const v = document.querySelector('video.playback-video'); \
             return v && v.src.includes('{square}') && v.currentTime > 0 && \
                    document.querySelector('figure[data-now]')"
        ),
    );
    let there = now(&b);
    assert!(
        (there - after).abs() < 2_000_000,
        "the other camera shows {there}, the first showed {after}"
    );

    // A click on the timeline plays from that point of the hour (here: the first segment).
    b.js(
        "const r = document.querySelector('svg.timeline .tl-seg').getBoundingClientRect(); \
         document.querySelector('svg.timeline').dispatchEvent(new MouseEvent('click', \
           {bubbles: true, clientX: r.x + r.width / 2, clientY: r.y + r.height / 2})); \
         return true",
    );
    b.until(
        "playing from the clicked point",
        "const v = document.querySelector('video.playback-video'); return v && v.currentTime > 0",
    );
    b.shot("02-other-camera");
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.dir === 'ltr'",
    );
    b.shot("03-en");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // An alert seen on one camera of a hotspot: its details link the hotspot's other camera at
    // the alert's moment.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        json!({"name": "Gate and square", "lat": 32.08, "lon": 34.77, "priority": 2,
               "cameras": [gate, square], "zones": [],
               "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        "POST",
        &format!("{base}/api/alerts"),
        json!({"source": "camera", "camera": gate, "phenomenon": "fight", "severity": "high",
               "description": "Two men pushing at the gate"}),
    );
    assert!(s == 200 || s == 201, "{v}");
    b.js("location.hash = '#/alerts'; return true");
    let card = first_card(&b, "the operator's");
    b.js(&format!(
        "document.getElementById('{card}').focus(); return true"
    ));
    b.keys("\u{e007}");
    b.until(
        "the other camera in the details",
        &format!(
            "return document.querySelector('.details .other-cameras a[data-camera=\"{square}\"]')"
        ),
    );
    assert_eq!(
        b.js(&format!(
            "return !!document.querySelector('.details .other-cameras a[data-camera=\"{gate}\"]')"
        )),
        json!(false),
        "the camera of the alert's own incident is not listed again"
    );
    b.js("document.querySelector('.details .other-cameras').scrollIntoView({block: 'center'}); return true");
    b.shot("04-en-other-cameras");
    b.js(&format!(
        "document.querySelector('.details .other-cameras a[data-camera=\"{square}\"]').click(); \
         return true"
    ));
    b.until(
        "the other camera's recording at the alert's moment",
        &format!("return location.hash.startsWith('#/playback/{square}/')"),
    );

    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

const PTZ_ENV: &str = "ROEH_CONSOLE_PTZ_IN_NETNS";
const PTZ_CAM_USER: &str = "operator";
const PTZ_CAM_PASSWORD: &str = "Virtual-Cam-Pa55-ptz";

/// PTZ on the ONVIF simulator (ipycam, which turns its picture digitally and keeps presets): the
/// operator opens the camera's single view, sends it to a preset, and the camera reports that
/// position; the console says its rules are paused and the analytics stops analysing it; the
/// audit log names the move; "back to the home position" resumes the rules. Runs inside a
/// private network namespace (ipycam binds fixed ports on every interface).
#[test]
fn ptz_on_the_onvif_simulator_reaches_a_preset_pauses_the_rules_and_resumes_them_at_home() {
    roeh_testkit::ipycam::in_private_netns(
        "console",
        PTZ_ENV,
        "ptz_on_the_onvif_simulator_reaches_a_preset_pauses_the_rules_and_resumes_them_at_home",
        ptz_inside_namespace,
    );
}

fn ptz_inside_namespace() {
    use roeh_testkit::ipycam;
    ipycam::prepare_loopback().unwrap();
    let dir = tempfile::tempdir().unwrap();
    ipycam::write_ptz_presets(
        dir.path(),
        &[
            ("home", "Home", 0.0, 0.0, 0.0),
            ("gate", "Gate <b>north</b>", 0.6, -0.3, 0.5),
        ],
    )
    .unwrap();
    let cam = ipycam::Camera::start(dir.path(), PTZ_CAM_USER, PTZ_CAM_PASSWORD).unwrap();
    let site = Site::new(4.0, &[]);
    let mut toml = std::fs::read_to_string(&site.config).unwrap();
    toml.push_str(&format!(
        "[onvif]\nallowed_networks = [\"127.0.0.0/8\"]\n[analytics]\n{}\n",
        models_line()
    ));
    std::fs::write(&site.config, toml).unwrap();
    ipycam::tell_logs_on_failure(cam, Some(&site.log), || ptz_story(&site));
}

fn ptz_story(site: &Site) {
    let (proc_, base) = site.serve();
    let (s, v) = call(
        "POST",
        &format!("{base}/api/onvif/add"),
        json!({"address": roeh_testkit::ipycam::DEVICE_SERVICE_URL, "name": "Square 360",
               "username": PTZ_CAM_USER, "password": PTZ_CAM_PASSWORD}),
    );
    assert_eq!(s, 201, "{v}");
    let cam = v["camera"]["id"].as_str().unwrap().to_string();
    let hotspot = arm_walkway(&base, "Square", "high");
    let analysed = |n: u64| {
        roeh_testkit::wait_for(&format!("{n} camera(s) analysed"), GUARD, || {
            let (_, v) = call("GET", &format!("{base}/api/analytics/stats"), Value::Null);
            (v["cameras_analysed"].as_u64()? == n).then_some(())
        })
        .unwrap()
    };
    analysed(1);

    let password = "a-long-operator-Passw0rd";
    user_with_password(&base, "noa", "operator", password);
    let b = Browser::open("console-ptz-he", "he", 1400, 900);
    sign_in_page(&b, &base, "noa", password);
    // The grid plays the camera's second, smaller stream (640x360, opened on demand); the single
    // view its main, recorded one (768x576).
    b.js("location.hash = '#/live'; return true");
    let grid = b.until(
        "the grid tile playing",
        "const v = document.querySelector('video.tile-video'); \
         return v && v.currentTime > 0 && v.videoWidth + 'x' + v.videoHeight",
    );
    assert_eq!(grid, json!("640x360"), "the grid plays the sub stream");
    let (s, v) = call(
        "GET",
        &format!("{base}/api/cameras/{cam}/live?stream=thumbnail"),
        Value::Null,
    );
    assert_eq!(s, 400, "{v}");
    b.js(&format!("location.hash = '#/live/{cam}'; return true"));
    b.until(
        "the camera's presets",
        "return document.querySelectorAll('button.ptz-preset').length === 2",
    );
    let single = b.until(
        "the single view playing",
        "const v = document.querySelector('video.tile-video'); \
         return v && v.currentTime > 0 && v.videoWidth + 'x' + v.videoHeight",
    );
    assert_eq!(
        single,
        json!("768x576"),
        "the single view plays the main stream"
    );
    assert_eq!(
        b.js("return document.querySelector('.ptz [data-away]').dataset.away"),
        json!("false")
    );
    // The device's preset name is text, not markup.
    assert_eq!(
        b.js("return document.querySelector('button.ptz-preset[data-token=gate] bdi').textContent"),
        json!("Gate <b>north</b>")
    );
    b.shot("01-at-home");

    // To the preset: the camera reports its position, the rules pause, the console says so.
    b.js("document.querySelector('button.ptz-preset[data-token=gate]').click(); return true");
    b.until(
        "the rules-paused notice",
        "return document.querySelector('.ptz-away[data-away=true]')",
    );
    let (s, v) = call("GET", &format!("{base}/api/cameras/{cam}/ptz"), Value::Null);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["away"], true, "{v}");
    assert_eq!(v["position"], "preset:gate");
    assert_eq!(v["changed_by"], "noa");
    let pos = &v["status"];
    assert!(
        (pos["pan"].as_f64().unwrap() - 0.6).abs() < 1e-6
            && (pos["tilt"].as_f64().unwrap() + 0.3).abs() < 1e-6
            && (pos["zoom"].as_f64().unwrap() - 0.5).abs() < 1e-6,
        "the camera reports {pos}"
    );
    analysed(0);
    // A few seconds of live video later the turned picture is on screen.
    let t0 = b
        .js("return document.querySelector('video.tile-video').currentTime")
        .as_f64()
        .unwrap();
    b.until(
        "three more seconds of live video",
        &format!("return document.querySelector('video.tile-video').currentTime > {t0} + 3"),
    );
    b.shot("02-away-rules-paused");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // A held direction button turns the camera until it is let go.
    let pan_before = pos["pan"].as_f64().unwrap();
    b.js(
        "const e = document.querySelector('button.ptz-left'); e.focus(); \
         e.dispatchEvent(new KeyboardEvent('keydown', {key: ' ', bubbles: true})); return true",
    );
    let moved = roeh_testkit::wait_for("the camera to pan left", GUARD, || {
        let (_, v) = call("GET", &format!("{base}/api/cameras/{cam}/ptz"), Value::Null);
        let pan = v["status"]["pan"].as_f64()?;
        (pan < pan_before - 0.05).then_some(pan)
    })
    .unwrap();
    b.js("document.querySelector('button.ptz-left').dispatchEvent(\
           new KeyboardEvent('keyup', {key: ' ', bubbles: true})); return true");
    let stopped = roeh_testkit::wait_for("the camera to stop", GUARD, || {
        let read = || {
            let (_, v) = call("GET", &format!("{base}/api/cameras/{cam}/ptz"), Value::Null);
            v["status"]["pan"].as_f64()
        };
        let a = read()?;
        std::thread::sleep(Duration::from_millis(300));
        (read()? == a).then_some(a)
    })
    .unwrap();
    assert!(stopped <= moved, "{stopped} after {moved}");

    // English, then home: the rules resume.
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.dir === 'ltr'",
    );
    b.shot("03-en-away");
    b.js("document.querySelector('.ptz-away button.ptz-home').click(); return true");
    b.until(
        "the at-home notice",
        "return document.querySelector('.ptz-at-home[data-away=false]')",
    );
    let (_, v) = call("GET", &format!("{base}/api/cameras/{cam}/ptz"), Value::Null);
    assert_eq!(v["away"], false, "{v}");
    assert_eq!(v["position"], "home");
    assert_eq!(v["status"]["pan"].as_f64(), Some(0.0), "{v}");
    analysed(1);
    b.shot("04-en-home");

    // Every command is in the audit log, by the operator, with the camera and the preset.
    let (_, audit) = call(
        "GET",
        &format!("{base}/api/audit?actor=noa&limit=1000"),
        Value::Null,
    );
    let entries: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "noa" && e["outcome"] == "ok")
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let has = |action: &str, target: &str| {
        entries
            .iter()
            .any(|(a, t)| a == action && t == &format!("/api/cameras/{cam}/ptz{target}"))
    };
    assert!(
        has(
            "POST /api/cameras/{id}/ptz/presets/{preset}",
            "/presets/gate"
        ),
        "{entries:?}"
    );
    assert!(
        has("POST /api/cameras/{id}/ptz/move", "/move"),
        "{entries:?}"
    );
    assert!(
        has("POST /api/cameras/{id}/ptz/stop", "/stop"),
        "{entries:?}"
    );
    assert!(
        has("POST /api/cameras/{id}/ptz/home", "/home"),
        "{entries:?}"
    );
    let _ = hotspot;

    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
}

/// Signs in on the console's sign-in page as `user` without waiting for a queue (roles without
/// one land elsewhere).
fn sign_in_as(b: &Browser, base: &str, user: &str, password: &str) {
    b.goto(&format!("{base}/"));
    b.until(
        "the sign-in page",
        "return document.getElementById('username')",
    );
    b.type_into("username", user);
    b.type_into("password", password);
    b.js("document.querySelector('form button[type=submit]').click(); return true");
}

/// Clicks the element `selector` (JavaScript's click, like a person's on a visible element).
fn click(b: &Browser, selector: &str) {
    let done = b.js(&format!(
        "const e = document.querySelector({}); if (!e) return false; e.click(); return true",
        json!(selector)
    ));
    assert_eq!(done, json!(true), "nothing to click at {selector}");
}

/// Fills the export form that the search opened (reason typed, case left out first), checks the
/// server's refusal next to the case field with the reason kept, then gives the case and waits
/// for the progress bar to finish; returns the job's download path.
fn export_with_case(b: &Browser, lang: &str, reason: &str, case: &str) -> String {
    b.until(
        "the export form",
        "return document.getElementById('export-reason')",
    );
    b.type_into("export-reason", reason);
    click(b, "#export-form button[type=submit]");
    let refusal = b.until(
        "the refusal next to the case number",
        "const e = document.getElementById('export-case-error'); return e && e.textContent",
    );
    assert!(
        refusal.as_str().unwrap().contains("case"),
        "the server's message: {refusal}"
    );
    assert_eq!(
        b.js("return [document.getElementById('export-reason').value, \
              document.getElementById('export-case').getAttribute('aria-invalid'), \
              document.getElementById('export-case').getAttribute('aria-describedby')]"),
        json!([reason, "true", "export-case-error export-case-hint"]),
        "the typed reason is kept and the case field is marked"
    );
    b.shot(&format!("export-refused-{lang}"));
    b.type_into("export-case", case);
    click(b, "#export-form button[type=submit]");
    b.until(
        "the progress bar",
        "return document.querySelector('progress#export-progress')",
    );
    b.shot(&format!("export-progress-{lang}"));
    b.until(
        "the progress bar finished",
        "const p = document.querySelector('progress#export-progress'); \
         return p && p.dataset.state === 'done' && p.value === 100 && \
                document.querySelector('a.download-bundle') && \
                document.querySelector('a.download-key')",
    );
    assert!(
        b.js("return document.querySelector('.export-progress').textContent")
            .as_str()
            .unwrap()
            .contains("100%")
    );
    b.js("document.querySelector('.verify').scrollIntoView({block: 'center'}); return true");
    b.shot(&format!("export-done-{lang}"));
    b.js("return document.querySelector('a.download-bundle').getAttribute('href')")
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_investigator_finds_an_incident_exports_it_for_a_case_verifies_the_zip_and_reads_its_custody_log()
 {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::new(4.0, &[("Gate".into(), server.url(0))]);
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let gate = cams[0]["id"].as_str().unwrap().to_string();
    roeh_testkit::wait_for("three recorded segments", GUARD, || {
        let (_, v) = call(
            "GET",
            &format!("{base}/api/cameras/{gate}/segments"),
            Value::Null,
        );
        (v.as_array()?.len() >= 3).then_some(())
    })
    .unwrap();
    // An incident on the gate camera: an alert raised by the control room at this moment.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        json!({"name": "Gate", "lat": 32.08, "lon": 34.77, "priority": 2,
               "cameras": [gate], "zones": [],
               "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        "POST",
        &format!("{base}/api/alerts"),
        json!({"source": "camera", "camera": gate, "phenomenon": "fight", "severity": "high",
               "description": "Two men pushing at the gate"}),
    );
    assert!(s == 200 || s == 201, "{v}");
    let (_, incidents) = call("GET", &format!("{base}/api/incidents"), Value::Null);
    let incident = incidents[0]["id"].as_str().unwrap().to_string();
    let password = "a-long-investigator-Passw0rd";
    user_with_password(&base, "noa", "investigator", password);
    let token = reqwest::blocking::Client::new()
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "noa", "password": password, "kind": "api"}))
        .send()
        .unwrap()
        .json::<Value>()
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();

    // Hebrew: the investigator lands on the footage search; the navigation holds the evidence
    // pages and nothing of the control room's (no queue, no live video).
    let b = Browser::open("investigator", "he", 1400, 900);
    sign_in_as(&b, &base, "noa", password);
    b.until(
        "the footage search",
        "return document.getElementById('search-title')",
    );
    assert_eq!(
        b.js(
            "return [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))"
        ),
        json!([
            "#/playback",
            "#/search",
            "#/exports",
            "#/holds",
            "#/custody"
        ])
    );
    assert_eq!(b.js("return document.documentElement.dir"), json!("rtl"));
    b.js("location.hash = '#/alerts'; return true");
    b.until(
        "the search instead of a queue",
        "return location.hash === '#/alerts' && document.getElementById('search-title') && \
                !document.getElementById('queue-title')",
    );

    // The incident, found by its id, and watched (a view of its footage, logged for custody).
    b.type_into("search-incident", &incident);
    click(&b, ".search-form button[type=submit]");
    let row = format!("#incident-{incident}");
    b.until(
        "the incident found",
        &format!(
            "return document.querySelectorAll('tr.incident-row').length === 1 && \
                    document.querySelector('{row}')"
        ),
    );
    click(&b, &format!("{row} .action-watch"));
    b.until(
        "the incident's footage playing",
        "const v = document.querySelector('video.evidence-video'); return v && v.currentTime > 0.3",
    );
    b.shot("search-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Exported for a case: refused without a case number, then the progress bar runs to the end.
    click(&b, &format!("{row} .action-export"));
    let case = "PD-2026-4711";
    let download = export_with_case(&b, "he", "assault reported at the gate", case);
    assert_eq!(axe_violations(&b), Vec::<String>::new());
    let bundle = b
        .js("return document.querySelector('a.download-bundle').getAttribute('download')")
        .as_str()
        .unwrap()
        .to_string();
    let export_id = download
        .trim_start_matches("/api/exports/")
        .trim_end_matches("/download")
        .to_string();
    assert_eq!(bundle, format!("roeh-evidence-{export_id}.zip"));

    // The ZIP, downloaded as the investigator, and the site key from the page's own link.
    let dir = tempfile::tempdir().unwrap();
    let zip = reqwest::blocking::Client::new()
        .get(format!("{base}{download}"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(zip.status().as_u16(), 200);
    std::fs::write(dir.path().join(&bundle), zip.bytes().unwrap()).unwrap();
    let pem = b.js(
        "const h = document.querySelector('a.download-key').getAttribute('href'); \
         return h.startsWith('data:application/x-pem-file;charset=utf-8,') && \
                decodeURIComponent(h.slice(h.indexOf(',') + 1))",
    );
    let pem = pem.as_str().unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    assert_eq!(
        b.js("return document.querySelector('a.download-key').getAttribute('download')"),
        json!("site-key.pem")
    );
    std::fs::write(dir.path().join("site-key.pem"), pem).unwrap();

    // The page's commands, run as written (the verifier is `roeh verify` here): all say OK.
    let commands = b
        .js("return document.querySelector('pre.commands').textContent")
        .as_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = commands.lines().collect();
    assert_eq!(lines.len(), 3, "{commands}");
    assert_eq!(lines[0], format!("roeh-verify --key site-key.pem {bundle}"));
    assert!(lines[2].starts_with("openssl pkeyutl -verify -pubin -inkey site-key.pem"));
    for line in &lines {
        let line = match line.strip_prefix("roeh-verify ") {
            Some(rest) => format!("'{BIN}' verify {rest}"),
            None => line.to_string(),
        };
        let out = std::process::Command::new("sh")
            .args(["-c", &line])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{line}: {text}");
        if line.contains(" verify --key ") {
            assert!(text.starts_with("OK"), "{text}");
        }
        if line.starts_with("openssl") {
            assert!(text.contains("Signature Verified Successfully"), "{text}");
        }
    }

    // The case's custody log: the view, the export and the download, each by the investigator.
    b.js(&format!(
        "location.hash = '#/custody/' + encodeURIComponent({}); return true",
        json!(case)
    ));
    let kinds = b.until(
        "the custody log with the download",
        "const k = [...document.querySelectorAll('table.custody-log tr[data-kind]')] \
           .map(r => r.dataset.kind); \
         return k.includes('export_downloaded') && k",
    );
    for kind in ["footage_viewed", "export_created", "export_downloaded"] {
        assert!(
            kinds.as_array().unwrap().contains(&json!(kind)),
            "{kind} in {kinds}"
        );
    }
    let log: Value = reqwest::blocking::Client::new()
        .get(format!("{base}/api/exports/{export_id}/custody"))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(log["case"], case);
    for kind in ["footage_viewed", "export_created", "export_downloaded"] {
        let e = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {log}"));
        assert_eq!(e["actor"], "noa", "{e}");
    }
    b.shot("custody-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // English: the same steps for a second case, and a hold placed and lifted with a reason.
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.dir === 'ltr'",
    );
    b.js("location.hash = '#/search'; return true");
    b.until(
        "the incident in the search",
        &format!("return document.querySelector('{row}')"),
    );
    b.shot("search-en");
    click(&b, &format!("{row} .action-export"));
    export_with_case(&b, "en", "copy for the prosecutor", "PD-2026-4712");

    b.js("location.hash = '#/search'; return true");
    b.until(
        "the incident in the search",
        &format!("return document.querySelector('{row} .action-hold')"),
    );
    click(&b, &format!("{row} .action-hold"));
    b.until(
        "the hold form",
        "return document.getElementById('hold-case')",
    );
    b.type_into("hold-case", case);
    b.type_into("hold-reason", "kept for the trial");
    click(&b, "form.ev-form button[type=submit]");
    b.until(
        "the placed hold under its case",
        "return document.querySelector('.case-card .hold:not(.lifted) .action-lift')",
    );
    click(&b, ".case-card .hold:not(.lifted) .action-lift");
    let lift = b
        .until(
            "the lift form",
            "const i = document.querySelector('.lift-form input'); return i && i.id",
        )
        .as_str()
        .unwrap()
        .to_string();
    click(&b, ".lift-form button[type=submit]");
    b.until(
        "the refusal of a lift without a reason",
        &format!("return document.getElementById('{lift}-error')"),
    );
    b.type_into(&lift, "the court released it");
    click(&b, ".lift-form button[type=submit]");
    b.until(
        "the lifted hold",
        "return document.querySelector('.case-card .hold.lifted') && \
                !document.querySelector('.lift-form')",
    );
    b.shot("holds-en");
    b.js(&format!(
        "location.hash = '#/custody/' + encodeURIComponent({}); return true",
        json!(case)
    ));
    b.until(
        "the hold in the custody log",
        "return document.querySelector('table.custody-log tr[data-kind=hold_cleared]') && \
                document.querySelector('table.custody-log tr[data-kind=hold_set]')",
    );
    b.shot("custody-en");
    assert_eq!(axe_violations(&b), Vec::<String>::new());
    b.js("document.querySelector('.header-tools button[lang=he]').click(); return true");
    b.until(
        "the Hebrew page",
        "return document.documentElement.dir === 'rtl'",
    );
    b.js("location.hash = '#/holds'; return true");
    b.until(
        "the holds page",
        "return document.querySelector('.case-card .hold.lifted')",
    );
    b.shot("holds-he");

    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

/// A hotspot named `name` at (`lat`, 34.77) over `camera`, without zones or rules; its id.
fn plain_hotspot(base: &str, name: &str, camera: &str, lat: f64) -> String {
    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        json!({"name": name, "lat": lat, "lon": 34.77, "priority": 2,
               "cameras": [camera], "zones": [],
               "schedule": {"tz": "Asia/Jerusalem", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_string()
}

/// An alert raised by the control room on `camera` (as the test admin); the alert's id.
fn raise_on(base: &str, camera: &str, text: &str) -> String {
    let (s, v) = call(
        "POST",
        &format!("{base}/api/alerts"),
        json!({"source": "camera", "camera": camera, "phenomenon": "fight",
               "severity": "high", "description": text}),
    );
    assert!(s == 200 || s == 201, "{v}");
    v["alert"]["id"].as_str().unwrap().to_string()
}

/// Signs out from the header and waits for the sign-in page.
fn sign_out(b: &Browser) {
    b.js("[...document.querySelectorAll('.header-tools button')].pop().click(); return true");
    b.until(
        "the sign-in page after signing out",
        "return document.getElementById('username') && !document.querySelector('header nav')",
    );
}

#[test]
fn an_admin_creates_an_operator_scoped_to_one_hotspot_who_sees_only_its_cameras_and_alerts() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 2)).unwrap();
    let site = Site::new(
        4.0,
        &[
            ("North gate cam".into(), server.url(0)),
            ("Market cam".into(), server.url(1)),
        ],
    );
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(2)).unwrap();
    let id_of = |name: &str| {
        cams.iter().find(|c| c["name"] == name).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (north_cam, market_cam) = (id_of("North gate cam"), id_of("Market cam"));
    let north = plain_hotspot(&base, "North gate", &north_cam, 32.08);
    let market = plain_hotspot(&base, "Market square", &market_cam, 32.06);

    // Hebrew: the admin's navigation holds the admin pages; the new-user form picks from the
    // hotspots by name.
    let b = Browser::open("scoped", "he", 1400, 900);
    sign_in_as(&b, &base, TEST_ADMIN, TEST_ADMIN_PASSWORD);
    b.until(
        "the admin's navigation",
        "return document.querySelector('header nav a[href=\"#/users\"]')",
    );
    let nav = b.js(
        "return [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))",
    );
    for page in ["#/users", "#/audit", "#/keys"] {
        assert!(nav.as_array().unwrap().contains(&json!(page)), "{nav}");
    }
    b.js("location.hash = '#/users'; return true");
    b.until(
        "both hotspots in the scope picker",
        "return document.querySelectorAll('#user-scope-hotspots input[type=checkbox]').length === 2",
    );

    // A password the server refuses: its message next to the password, everything typed kept.
    let pick = format!("#user-scope-hotspots input[value=\"{north}\"]");
    b.type_into("user-username", "ori");
    b.type_into("user-password", "short");
    click(&b, &pick);
    click(&b, "#user-form button[type=submit]");
    let refusal = b.until(
        "the refusal next to the password",
        "const e = document.getElementById('user-password-error'); return e && e.textContent",
    );
    assert!(
        refusal.as_str().unwrap().contains("password"),
        "the server's message: {refusal}"
    );
    assert_eq!(
        b.js(&format!(
            "return [document.getElementById('user-username').value, \
                     document.getElementById('user-password').value, \
                     document.querySelector('{pick}').checked, \
                     document.getElementById('user-role').value, \
                     document.getElementById('user-password').getAttribute('aria-invalid')]"
        )),
        json!(["ori", "short", true, "operator", "true"]),
        "what was typed and picked is kept and the password is marked"
    );
    // The form's lower half in view: the password's refusal above the kept hotspot pick.
    b.js("window.scrollTo(0, 230); return true");
    b.shot("admin-user-refused-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Corrected, the operator is created scoped to the north gate's hotspot.
    let password = "short-and-now-long-enough-1";
    b.type_into("user-password", &password["short".len()..]);
    click(&b, "#user-form button[type=submit]");
    let scope = b.until(
        "the new operator in the list",
        "const r = document.querySelector('tr.user-row[data-username=ori]'); \
         return r && r.textContent",
    );
    assert!(scope.as_str().unwrap().contains("North gate"), "{scope}");
    assert!(!scope.as_str().unwrap().contains("Market"), "{scope}");
    let (s, users) = call("GET", &format!("{base}/api/users"), Value::Null);
    assert_eq!(s, 200, "{users}");
    let ori = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ori")
        .unwrap()
        .clone();
    assert_eq!(ori["role"], "operator", "{ori}");
    assert_eq!(ori["scope"]["hotspots"], json!([north]), "{ori}");
    b.js("window.scrollTo(0, 0); return true");
    b.shot("admin-users-he");

    // The audit log, filtered by action, names the creation by the admin.
    b.js("location.hash = '#/audit'; return true");
    b.until(
        "the audit log",
        "return document.getElementById('audit-action')",
    );
    b.type_into("audit-action", "POST /api/users");
    click(&b, "#audit-form button[type=submit]");
    b.until(
        "the user's creation in the audit log",
        &format!(
            "const r = [...document.querySelectorAll('tr.audit-row')]; \
             return r.length > 0 && r.every(x => x.dataset.action === 'POST /api/users') && \
                    r.some(x => x.dataset.actor === {} && x.classList.contains('outcome-ok'))",
            json!(TEST_ADMIN)
        ),
    );
    b.shot("admin-audit-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Alerts on both hotspots; signed in as the operator, only the north gate's is there.
    let north_alert = raise_on(&base, &north_cam, "A fight at the north gate");
    let market_alert = raise_on(&base, &market_cam, "A fight at the market");
    sign_out(&b);
    sign_in_as(&b, &base, "ori", password);
    b.until(
        "the north gate's alert in the operator's queue",
        &format!("return document.getElementById('alert-{north_alert}')"),
    );
    assert_eq!(
        b.js("return document.querySelectorAll('article.card.alert').length"),
        json!(1)
    );
    assert_eq!(
        b.js(&format!(
            "return document.getElementById('alert-{market_alert}') === null"
        )),
        json!(true)
    );
    assert_eq!(
        b.js(
            "return [...document.querySelectorAll('header nav a')].map(a => a.getAttribute('href'))"
        ),
        json!(["#/alerts", "#/live", "#/playback", "#/units"])
    );
    // A new alert on the market is not pushed to the operator: the claim that follows it on the
    // north gate's alert arrives, the market's alert never shows.
    let market_again = raise_on(&base, &market_cam, "Again at the market");
    let (s, v) = call(
        "POST",
        &format!("{base}/api/alerts/{north_alert}/claim"),
        json!({}),
    );
    assert_eq!(s, 200, "{v}");
    b.until(
        "the admin's claim on the north gate's alert",
        &format!(
            "return document.getElementById('alert-{north_alert}').textContent.includes({})",
            json!(TEST_ADMIN)
        ),
    );
    let page = b.js(&format!(
        "return [document.querySelectorAll('article.card.alert').length, \
                 document.getElementById('alert-{market_again}') === null, \
                 document.body.textContent.includes('Market')]"
    ));
    assert_eq!(page, json!([1, true, false]), "only the north gate's alert");
    b.shot("operator-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Recordings and the map: the north gate's camera and hotspot, nothing of the market.
    b.js("location.hash = '#/playback'; return true");
    b.until(
        "the recordings' camera list",
        "return document.querySelectorAll('#playback-camera option').length > 0",
    );
    assert_eq!(
        b.js("return [...document.querySelectorAll('#playback-camera option')].map(o => o.value)"),
        json!([north_cam])
    );
    b.js("location.hash = '#/units'; return true");
    b.until(
        "the north gate's hotspot on the map",
        "return document.getElementById('units-title') && \
                document.body.textContent.includes('North gate')",
    );
    assert_eq!(
        b.js("return document.body.textContent.includes('Market')"),
        json!(false)
    );

    // The live grid: the north gate's camera only, and no hotspot or camera of the market.
    b.js("location.hash = '#/live'; return true");
    b.until(
        "the operator's live grid",
        "return document.querySelectorAll('.tile[data-camera]').length > 0",
    );
    assert_eq!(
        b.js(
            "return [...document.querySelectorAll('.tile[data-camera]')].map(t => t.dataset.camera)"
        ),
        json!([north_cam])
    );
    assert_eq!(
        b.js(&format!(
            "return [document.body.textContent.includes('Market'), \
                     document.querySelector('option[value=\"h:{market}\"]') === null, \
                     document.querySelector('option[value=\"h:{north}\"]') !== null]"
        )),
        json!([false, true, true]),
        "the grid offers the north gate's hotspot and nothing of the market"
    );
    b.shot("operator-live-he");

    // English: the same, mirrored back.
    b.js("document.querySelector('.header-tools button[lang=en]').click(); return true");
    b.until(
        "the English page",
        "return document.documentElement.dir === 'ltr'",
    );
    b.shot("operator-live-en");
    b.js("location.hash = '#/alerts'; return true");
    b.until(
        "the operator's queue",
        &format!("return document.getElementById('alert-{north_alert}')"),
    );
    assert_eq!(
        b.js(
            "return [document.querySelectorAll('article.card.alert').length, \
                      document.body.textContent.includes('Market')]"
        ),
        json!([1, false])
    );
    b.shot("operator-en");
    sign_out(&b);
    sign_in_as(&b, &base, TEST_ADMIN, TEST_ADMIN_PASSWORD);
    b.until(
        "the admin's navigation",
        "return document.querySelector('header nav a[href=\"#/users\"]')",
    );
    b.js("location.hash = '#/users'; return true");
    b.until(
        "the users list",
        "return document.querySelector('tr.user-row[data-username=ori]')",
    );
    b.shot("admin-users-en");

    let uid = ori["id"].as_i64().unwrap();
    // A token for a machine acting as the operator: refused without a label (the message next
    // to the label), then shown once; it works until the operator is disabled.
    click(&b, &format!("#user-{uid} .action-token"));
    b.until(
        "the token form",
        &format!("return document.getElementById('token-{uid}-label')"),
    );
    click(&b, ".token-form button[type=submit]");
    let refusal = b.until(
        "the refusal next to the label",
        &format!(
            "const e = document.getElementById('token-{uid}-label-error'); return e && e.textContent"
        ),
    );
    assert!(refusal.as_str().unwrap().contains("label"), "{refusal}");
    b.type_into(&format!("token-{uid}-label"), "north gate wall screen");
    click(&b, ".token-form button[type=submit]");
    let token = b
        .until(
            "the new token, shown once",
            "const c = document.querySelector('code.new-token'); return c && c.textContent",
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.starts_with("roeh_"), "{token}");
    b.shot("admin-token-en");
    let me = |token: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{base}/api/auth/me"))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    let r = me(&token);
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<Value>().unwrap()["username"], "ori");
    // Disabling takes two presses; the row says disabled and the token is refused.
    click(&b, &format!("#user-{uid} .action-disable"));
    click(&b, &format!("#user-{uid} .action-disable"));
    b.until(
        "the operator disabled",
        &format!("return document.querySelector('#user-{uid}.disabled')"),
    );
    assert_eq!(me(&token).status().as_u16(), 401);

    // A patrol unit registered: a bad name is refused next to it with the kind kept; then the
    // phone's sign-in link, its token once and the push key it must trust.
    b.js("document.querySelector('.unit-register').scrollIntoView({block: 'start'}); return true");
    b.type_into("unit-name", "Car 7");
    b.js(
        "const k = document.getElementById('unit-kind'); k.value = 'volunteer'; \
          k.dispatchEvent(new Event('change', {bubbles: true})); return true",
    );
    click(&b, "#unit-form button[type=submit]");
    let refusal = b.until(
        "the refusal next to the unit's name",
        "const e = document.getElementById('unit-name-error'); return e && e.textContent",
    );
    assert!(refusal.as_str().unwrap().contains("username"), "{refusal}");
    assert_eq!(
        b.js("return [document.getElementById('unit-name').value, \
                      document.getElementById('unit-kind').value]"),
        json!(["Car 7", "volunteer"])
    );
    b.js(
        "const i = document.getElementById('unit-name'); i.value = ''; \
          i.dispatchEvent(new Event('input', {bubbles: true})); return true",
    );
    b.type_into("unit-name", "car-7");
    click(&b, "#unit-form button[type=submit]");
    let link = b
        .until(
            "the unit's sign-in link",
            "const c = document.querySelector('code.device-link'); return c && c.textContent",
        )
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        link.starts_with(&format!("{base}/#/device/roeh_")),
        "{link}"
    );
    let (_, key) = call("GET", &format!("{base}/api/push/key"), Value::Null);
    assert_eq!(
        b.js("return document.querySelector('code.push-key').dataset.keyId"),
        key["key_id"]
    );
    b.js("document.querySelector('.unit-once').scrollIntoView({block: 'center'}); return true");
    b.shot("admin-unit-en");
    let (_, units) = call("GET", &format!("{base}/api/units"), Value::Null);
    assert!(
        units.to_string().contains("\"car-7\"") && units.to_string().contains("volunteer"),
        "{units}"
    );
    b.js("location.hash = '#/audit'; return true");
    b.until(
        "the audit log",
        "return document.querySelectorAll('tr.audit-row').length > 0",
    );
    b.shot("admin-audit-en");
    assert_eq!(axe_violations(&b), Vec::<String>::new());
    // The time range the page sends: nothing of the creation after it, the creation before.
    let soon = (std::time::SystemTime::now() + Duration::from_secs(3600))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let soon = roeh_domain::WallTime::from_secs(i64::try_from(soon).unwrap()).to_rfc3339();
    for (range, n) in [("since", 0), ("until", 2)] {
        let (s, v) = call(
            "GET",
            &format!("{base}/api/audit?action=POST%20/api/users&{range}={soon}"),
            Value::Null,
        );
        assert_eq!(s, 200, "{v}");
        assert_eq!(v.as_array().unwrap().len(), n, "{range}: {v}");
    }

    // The site's keys and the evidence log's latest checkpoint.
    b.js("location.hash = '#/keys'; return true");
    b.until(
        "the site key and the checkpoint",
        "return document.querySelector('table.site-keys a[download=\"site-key.pem\"]') && \
                document.querySelector('.checkpoint-size')",
    );
    let (s, cp) = call("GET", &format!("{base}/api/log/checkpoint"), Value::Null);
    assert_eq!(s, 200, "{cp}");
    assert!(
        b.js("return document.querySelector('.checkpoint').textContent")
            .as_str()
            .unwrap()
            .contains(cp["key_id"].as_str().unwrap())
    );
    b.until(
        "the retention of both cameras",
        "return document.querySelectorAll('table.retention tbody tr[data-camera]').length === 2",
    );
    b.shot("admin-keys-en");
    b.js("document.querySelector('.header-tools button[lang=he]').click(); return true");
    b.until(
        "the Hebrew page",
        "return document.documentElement.dir === 'rtl'",
    );
    b.shot("admin-keys-he");
    b.js(
        "document.querySelector('table.retention').scrollIntoView({block: 'center'}); return true",
    );
    b.shot("admin-retention-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    drop(b);
    let st = proc_.terminate(Duration::from_secs(30)).unwrap();
    assert!(st.success(), "roeh exited with {st}");
    server.stop();
}

/// Empties the input `id` as a person selecting its text and deleting it would.
fn clear_field(b: &Browser, id: &str) {
    let done = b.js(&format!(
        "const e = document.getElementById({}); if (!e) return false; e.value = ''; \
         e.dispatchEvent(new Event('input', {{bubbles: true}})); return true",
        json!(id)
    ));
    assert_eq!(done, json!(true), "no field {id}");
}

/// Clicks the zone editor's picture at the fractions `points` of its width and height.
fn click_picture(b: &Browser, points: &[(f64, f64)]) {
    let done = b.js(&format!(
        "const s = document.querySelector('svg.picture-overlay'); if (!s) return false; \
         const r = s.getBoundingClientRect(); \
         for (const [x, y] of {}) s.dispatchEvent(new MouseEvent('click', {{bubbles: true, \
           clientX: r.left + x * r.width, clientY: r.top + y * r.height}})); \
         return true",
        json!(points.iter().map(|(x, y)| [x, y]).collect::<Vec<_>>())
    ));
    assert_eq!(done, json!(true), "no picture to draw on");
}

/// A supervisor, in Hebrew, creates a hotspot over the test camera: places it, draws a zone on
/// the camera's live picture (a crossed shape first, refused with the server's message next to
/// the zone and kept), sets "every night 22:00–06:00 and all of August" in Asia/Jerusalem and
/// reads when it next arms and disarms, saves it and adds an intrusion rule. The node runs with
/// its clock moved into the night window (`[server] clock_offset_secs`), so a person incident
/// follows from the walkway's footage.
#[test]
fn a_supervisor_draws_a_zone_sets_a_night_and_august_schedule_and_an_intrusion_rule_fires() {
    // The node's clock: an hour after the night window next opens, or now when it is open.
    let nights = roeh_rules::Schedule::parse_json(
        r#"{"tz":"Asia/Jerusalem","windows":[{"days":["mon","tue","wed","thu","fri","sat","sun"],
            "from":"22:00","to":"06:00"}]}"#,
    )
    .unwrap();
    let real_now = roeh_domain::Clock::wall(&roeh_domain::SystemClock::new());
    let offset_secs = if nights.is_armed(real_now) {
        0
    } else {
        let (opens, _) = nights.changes_after(real_now, 1, 2)[0];
        (opens.0 - real_now.0) / 1_000_000 + 3600
    };
    let (_server, site) = camera_site("Walkway cam", None);
    let text = std::fs::read_to_string(&site.config).unwrap();
    std::fs::write(
        &site.config,
        text.replacen(
            "[server]\n",
            &format!("[server]\nclock_offset_secs = {offset_secs}.0\n"),
            1,
        ),
    )
    .unwrap();
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    user_with_password(&base, "dana", "supervisor", "supervisor-pass-2026");

    let b = Browser::open("supervisor", "he", 1500, 1000);
    sign_in_as(&b, &base, "dana", "supervisor-pass-2026");
    b.until(
        "the hotspots page in the supervisor's navigation",
        "return document.querySelector('header nav a[href=\"#/hotspots\"]')",
    );
    b.js("location.hash = '#/hotspots'; return true");
    b.until(
        "the empty hotspot list",
        "return document.getElementById('hotspot-new')",
    );
    click(&b, "#hotspot-new");
    b.until(
        "the new hotspot's form",
        "return document.getElementById('hs-name')",
    );
    b.type_into("hs-name", "שביל הטיילת");
    clear_field(&b, "hs-lat");
    b.type_into("hs-lat", "32.0853");
    clear_field(&b, "hs-lon");
    b.type_into("hs-lon", "34.7818");
    click(&b, &format!("#hs-cameras input[value=\"{cam}\"]"));
    b.until(
        "the camera's live picture",
        "const f = document.querySelector('.picture'); return f && (f.dataset.state === 'playing' || f.dataset.state === 'detector')",
    );
    // A crossed (self-intersecting) zone: the server's message next to the zone, points kept.
    click(&b, "#zone-add");
    click_picture(&b, &[(0.1, 0.3), (0.9, 0.8), (0.9, 0.3), (0.1, 0.8)]);
    click(&b, "#zone-done");
    // The schedule: the tz typed, August added as whole days; a window time the server refuses
    // first, shown under the schedule with what was typed kept.
    clear_field(&b, "sched-tz");
    b.type_into("sched-tz", "Asia/Jerusalem");
    clear_field(&b, "sched-window-0-from");
    b.type_into("sched-window-0-from", "25:00");
    let refused = b.until(
        "the schedule's refusal",
        "const e = document.getElementById('sched-error'); return e && e.textContent",
    );
    assert!(
        refused
            .as_str()
            .unwrap()
            .contains("schedule.windows[0].from")
            && refused.as_str().unwrap().contains("25:00"),
        "the server's message: {refused}"
    );
    clear_field(&b, "sched-window-0-from");
    b.type_into("sched-window-0-from", "22:00");
    click(&b, "#sched-allday-add");
    b.type_into("sched-allday-0-from", "2027-08-01");
    b.type_into("sched-allday-0-to", "2027-08-31");
    b.type_into("sched-allday-0-label", "אוגוסט");
    click(&b, "#hotspot-save");
    let refusal = b.until(
        "the zone's refusal next to it",
        "const e = document.getElementById('zone-0-points-error'); return e && e.textContent",
    );
    assert!(
        refusal.as_str().unwrap().contains("self-intersecting"),
        "the server's message: {refusal}"
    );
    assert_eq!(
        b.js("return [document.getElementById('hs-name').value, \
                      document.getElementById('sched-allday-0-to').value, \
                      document.getElementById('zone-0-points').getAttribute('aria-invalid')]"),
        json!(["שביל הטיילת", "2027-08-31", "true"]),
        "everything typed is kept and the zone is marked"
    );
    // The drawn points are kept, where they were clicked (to the pixel).
    let kept = b.js("return document.getElementById('zone-0-points').value");
    let kept: Vec<f64> = kept
        .as_str()
        .unwrap()
        .split([' ', ','])
        .map(|v| v.parse().unwrap())
        .collect();
    let drawn = [0.1, 0.3, 0.9, 0.8, 0.9, 0.3, 0.1, 0.8];
    assert_eq!(kept.len(), drawn.len(), "{kept:?}");
    for (k, d) in kept.iter().zip(drawn) {
        assert!((k - d).abs() < 0.005, "drawn {drawn:?}, kept {kept:?}");
    }
    b.js("document.getElementById('zone-0').scrollIntoView({block: 'center'}); return true");
    b.shot("zone-editor-refused-he");

    // Drawn again as the walkway: saved, and the preview says the node is inside the night.
    click(&b, "#zone-0 .zone-tools .btn-quiet");
    click(&b, "#zone-0 .zone-tools button");
    click_picture(
        &b,
        &[(0.001, 0.3), (0.999, 0.2), (0.999, 0.8), (0.001, 0.5)],
    );
    click(&b, "#zone-done");
    clear_field(&b, "zone-0-id");
    b.type_into("zone-0-id", "walkway");
    b.type_into("zone-0-name", "שביל");
    let preview = b.until(
        "the schedule's preview",
        "const p = document.getElementById('sched-preview'); \
         return p && !document.getElementById('sched-error') && p.textContent",
    );
    let preview = preview.as_str().unwrap().to_string();
    assert!(preview.contains("דרוך עכשיו"), "armed now: {preview}");
    assert!(preview.contains("06:00"), "disarms at 06:00: {preview}");
    click(&b, "#hotspot-save");
    b.until(
        "the saved hotspot's own page",
        "return location.hash.startsWith('#/hotspots/') && location.hash !== '#/hotspots/new' \
         && document.getElementById('rule-form')",
    );
    let hotspot = b
        .js("return decodeURIComponent(location.hash.slice('#/hotspots/'.length))")
        .as_str()
        .unwrap()
        .to_string();
    let (s, v) = call(
        "GET",
        &format!("{base}/api/hotspots/{hotspot}"),
        Value::Null,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["hotspot"]["schedule"],
        json!({"tz": "Asia/Jerusalem", "always": false,
               "windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                            "from": "22:00", "to": "06:00"}],
               "dates": [], "except": [],
               "all_day": [{"from": "2027-08-01", "to": "2027-08-31", "label": "אוגוסט"}]}),
        "{v}"
    );
    assert_eq!(v["hotspot"]["zones"][0]["id"], "walkway", "{v}");
    assert_eq!(v["hotspot"]["zones"][0]["camera"], json!(cam), "{v}");
    b.until(
        "the picture on the saved hotspot",
        "const f = document.querySelector('.picture'); return f && (f.dataset.state === 'playing' || f.dataset.state === 'detector') \
         && document.getElementById('sched-preview')",
    );
    // What the detector sees now: boxes on the picture, people counted in the walkway.
    let in_zone = b.until(
        "the detector's boxes and the people in the zone",
        "const r = document.querySelector('#zone-0 .in-zone'); \
         return r && Number(r.dataset.inZone) > 0 \
           && document.querySelectorAll('svg.picture-overlay rect.det').length > 0 \
           && r.dataset.inZone",
    );
    assert!(in_zone.as_str().unwrap().parse::<u32>().unwrap() >= 1);
    b.js("window.scrollTo(0, 0); return true");
    b.shot("zone-editor-he");
    b.js("document.getElementById('schedule').scrollIntoView({block: 'start'}); return true");
    b.shot("schedule-he");

    // An intrusion rule on the walkway: a person incident follows (the node is in the night).
    b.type_into("rule-name", "חדירה לשביל בלילה");
    click(&b, "#rule-create");
    b.until(
        "the new rule in the list",
        "return document.querySelector('table.rules tr[data-rule]')",
    );
    b.js("document.getElementById('rules-title').scrollIntoView({block: 'start'}); return true");
    b.shot("rules-he");
    let incident = roeh_testkit::wait_for(
        "a person incident at the new hotspot",
        Duration::from_secs(60),
        || {
            let (_, v) = call(
                "GET",
                &format!("{base}/api/incidents?hotspot={hotspot}"),
                Value::Null,
            );
            v.as_array().and_then(|a| a.first().cloned())
        },
    )
    .unwrap();
    assert_eq!(incident["kind"], "intrusion", "{incident}");
    assert_eq!(incident["camera_id"], json!(cam), "{incident}");
    // People tracked in the zone, by a rule that counts people (the default label).
    assert!(
        !incident["track_ids"].as_array().unwrap().is_empty()
            && incident["reason"].as_str().unwrap().contains("in zone"),
        "{incident}"
    );
    let (_, rule) = call(
        "GET",
        &format!("{base}/api/rules/{}", incident["rule_id"].as_str().unwrap()),
        Value::Null,
    );
    assert_eq!(rule["rule"]["labels"], json!(["person"]), "{rule}");
    assert_eq!(rule["rule"]["zone"], "walkway", "{rule}");
    // Opened on the node's clock, inside the night window.
    let opened = roeh_domain::WallTime(incident["opened_at_us"].as_i64().unwrap());
    assert!(
        nights.is_armed(opened),
        "opened at {opened}, outside the night"
    );
    // The rule switched off from its row, as the server stores it.
    click(&b, "table.rules tr[data-rule] .rule-enabled");
    b.until(
        "the rule switched off",
        "const t = document.querySelector('table.rules tr[data-rule] .rule-enabled'); \
         return t && t.getAttribute('aria-pressed') === 'false'",
    );
    let (_, rule) = call(
        "GET",
        &format!("{base}/api/rules/{}", incident["rule_id"].as_str().unwrap()),
        Value::Null,
    );
    assert_eq!(rule["enabled"], false, "{rule}");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // The same editor in English, left to right; the picture is the same way round.
    let en = Browser::open("supervisor-en", "en", 1500, 1000);
    sign_in_as(&en, &base, "dana", "supervisor-pass-2026");
    en.until(
        "the supervisor's navigation",
        "return document.querySelector('header nav a[href=\"#/hotspots\"]')",
    );
    en.js(&format!(
        "location.hash = '#/hotspots/{hotspot}'; return true"
    ));
    en.until(
        "the hotspot in English with its picture",
        "const f = document.querySelector('.picture'); return f && (f.dataset.state === 'playing' || f.dataset.state === 'detector') \
         && document.querySelector('table.rules tr[data-rule]')",
    );
    en.shot("zone-editor-en");
    en.js("location.hash = '#/hotspots'; return true");
    let row = en.until(
        "the hotspot list",
        "const r = document.querySelector('table.hotspots tr[data-hotspot]'); return r && r.textContent",
    );
    assert!(
        row.as_str().unwrap().contains("Armed now"),
        "the node is in the night window: {row}"
    );
    en.shot("hotspots-en");
    drop(proc_);
}

/// An admin, in Hebrew, changes an operator's role and scope, revokes one of her API tokens
/// (the other keeps working), and sets a camera's retention on the storage page: a value the
/// server refuses first, shown next to its field with what was typed kept.
#[test]
fn an_admin_changes_a_users_access_revokes_a_token_and_sets_a_cameras_retention() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::new(2.0, &[("Harbour cam".into(), server.url(0))]);
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    let harbour = plain_hotspot(&base, "Harbour", &cam, 32.05);
    user_with_password(&base, "noa", "operator", "operator-pass-2026-x");
    let (_, users) = call("GET", &format!("{base}/api/users"), Value::Null);
    let noa = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "noa")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let token = |label: &str| {
        let (s, v) = call(
            "POST",
            &format!("{base}/api/users/{noa}/tokens"),
            json!({"label": label, "days": 30}),
        );
        assert_eq!(s, 201, "{v}");
        v["token"].as_str().unwrap().to_string()
    };
    let (old_laptop, new_laptop) = (token("old laptop"), token("new laptop"));
    let me_as = |tok: &str| {
        reqwest::blocking::Client::new()
            .get(format!("{base}/api/auth/me"))
            .bearer_auth(tok)
            .send()
            .unwrap()
    };
    assert_eq!(me_as(&old_laptop).status().as_u16(), 200);

    let b = Browser::open("admin-access", "he", 1400, 900);
    sign_in_as(&b, &base, TEST_ADMIN, TEST_ADMIN_PASSWORD);
    b.until(
        "the admin's navigation",
        "return document.querySelector('header nav a[href=\"#/users\"]')",
    );
    b.js("location.hash = '#/users'; return true");
    b.until(
        "noa's row",
        "return document.querySelector('tr.user-row[data-username=noa] .action-access')",
    );
    // Role and scope: supervisor of the harbour.
    click(&b, "tr.user-row[data-username=noa] .action-access");
    let form = format!("#access-{noa}");
    b.until(
        "the access form",
        &format!("return document.querySelector('{form} select')"),
    );
    b.js(&format!(
        "const s = document.querySelector('{form} select'); s.value = 'supervisor'; \
         s.dispatchEvent(new Event('change', {{bubbles: true}})); return true"
    ));
    // Unscoped now: the whole site is ticked, and unticked to pick one hotspot.
    assert_eq!(
        b.js(&format!(
            "return document.querySelector('{form} .access-whole').checked"
        )),
        json!(true)
    );
    click(&b, &format!("{form} .access-whole"));
    click(
        &b,
        &format!("{form} input[type=checkbox][value=\"{harbour}\"]"),
    );
    b.shot("users-access-he");
    click(&b, &format!("{form} button[type=submit]"));
    b.until(
        "noa as a supervisor of the harbour",
        "const r = document.querySelector('tr.user-row[data-username=noa]'); \
         return r && r.textContent.includes('Harbour') && !document.querySelector('.access-form') \
         && r.textContent",
    );
    let (_, me) = {
        let r = me_as(&new_laptop);
        (r.status().as_u16(), r.json::<Value>().unwrap())
    };
    assert_eq!(me["role"], "supervisor", "{me}");
    assert_eq!(me["scope"]["hotspots"], json!([harbour]), "{me}");

    // Her tokens: the old laptop's revoked, the new one still works.
    click(&b, "tr.user-row[data-username=noa] .action-tokens");
    b.until(
        "her tokens",
        &format!("return document.querySelectorAll('#tokens-{noa} tr[data-token]').length === 2"),
    );
    let revoked = b.js(&format!(
        "const r = [...document.querySelectorAll('#tokens-{noa} tr[data-token]')] \
           .find(r => r.textContent.includes('old laptop')); \
         r.querySelector('.token-revoke').click(); return r.dataset.token"
    ));
    b.until(
        "the old laptop's token revoked",
        &format!(
            "const r = document.querySelector('#tokens-{noa} tr[data-token=\"{}\"]'); \
             return r && r.classList.contains('dead') && !r.querySelector('.token-revoke')",
            revoked.as_str().unwrap()
        ),
    );
    assert_eq!(me_as(&old_laptop).status().as_u16(), 401, "revoked");
    assert_eq!(me_as(&new_laptop).status().as_u16(), 200, "kept");
    b.shot("users-tokens-he");
    assert_eq!(axe_violations(&b), Vec::<String>::new());

    // Storage and retention: the disk's free space, the camera's footage, its retention set.
    b.js("location.hash = '#/keys'; return true");
    b.until(
        "the storage table",
        &format!(
            "return document.getElementById('storage-free') && \
             document.querySelector('table.retention tr[data-camera=\"{cam}\"] .retention-edit')"
        ),
    );
    click(
        &b,
        &format!("table.retention tr[data-camera=\"{cam}\"] .retention-edit"),
    );
    let days = format!("ret-{cam}-days");
    b.until(
        "the retention form",
        &format!("return document.getElementById('{days}')"),
    );
    clear_field(&b, &days);
    b.type_into(&days, "5000");
    clear_field(&b, &format!("ret-{cam}-gib"));
    b.type_into(&format!("ret-{cam}-gib"), "2");
    click(&b, ".retention-form button[type=submit]");
    let refusal = b.until(
        "the refusal next to the days",
        &format!("const e = document.getElementById('{days}-error'); return e && e.textContent"),
    );
    assert!(
        refusal.as_str().unwrap().contains("max_age_days"),
        "the server's message: {refusal}"
    );
    assert_eq!(
        b.js(&format!(
            "return [document.getElementById('{days}').value, \
                     document.getElementById('ret-{cam}-gib').value]"
        )),
        json!(["5000", "2"])
    );
    b.js(&format!(
        "document.getElementById('{days}').scrollIntoView({{block: 'center'}}); return true"
    ));
    b.shot("storage-retention-refused-he");
    clear_field(&b, &days);
    b.type_into(&days, "14");
    click(&b, ".retention-form button[type=submit]");
    b.until(
        "the camera's new retention in the table",
        &format!(
            "const r = document.querySelector('table.retention tr[data-camera=\"{cam}\"]'); \
             return r && !document.querySelector('.retention-form') && r.textContent.includes('14') \
             && r.textContent"
        ),
    );
    let (_, c) = call("GET", &format!("{base}/api/cameras/{cam}"), Value::Null);
    assert_eq!(c["retention_max_age_secs"], 14 * 86_400, "{c}");
    assert_eq!(c["retention_max_bytes"], 2u64 << 30, "{c}");
    b.js("document.getElementById('storage-title').scrollIntoView({block: 'start'}); return true");
    b.shot("storage-he");
    drop(proc_);
}
