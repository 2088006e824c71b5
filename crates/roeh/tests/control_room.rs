//! The control room's story with `roeh serve`, the RTSP test server (vtest, people on a
//! walkway), the real detector, and real HTTP and WebSocket clients: an intrusion raises an
//! alert that an operator's push connection receives; the operator claims, acknowledges and
//! dispatches the nearest unit; the unit's push connection receives the dispatch and it answers
//! with receipts; the server is killed (-9) in the middle and restarted on the same data; the
//! clients resume by sequence number and find every acknowledged change; the alert resolves
//! with its response times; the audit log names every step; an operator scoped to another
//! camera sees nothing of it.
//!
//! The WebSocket client here is a minimal RFC 6455 reader over a blocking `TcpStream` (the
//! server sends unmasked, unfragmented text frames; the client only reads).

#![allow(clippy::unwrap_used)]

mod common;
use common::{Site, get_json, wait_streaming};
use roeh_alerts::push::PushVerifier;
use roeh_domain::{Clock, SystemClock, WallTime};
use roeh_testcam::{TestCamConfig, TestCamServer};
use roeh_testkit::footage;
use roeh_testkit::mosquitto::{Broker, Subscriber, have_mosquitto};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(60);

fn models_line() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    format!("models = \"{}\"", root.join("models/models.toml").display())
}

fn now() -> WallTime {
    SystemClock::new().wall()
}

fn time(v: &Value) -> WallTime {
    WallTime::parse(v.as_str().unwrap()).unwrap()
}

/// A request with `token` (the site's admin when `None`), JSON in and out.
fn call(method: &str, url: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = match token {
        Some(t) => reqwest::blocking::Client::new()
            .request(m, url)
            .bearer_auth(t),
        None => roeh_testkit::request(m, url),
    };
    if !body.is_null() {
        r = r.json(&body);
    }
    let resp = r.send().unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

/// A push client: `GET /api/push/ws?since=` and the messages it read. Like a unit's app, it
/// verifies every message (signature with the site's push key, expiry, replay and order)
/// before using it.
struct Push {
    r: BufReader<TcpStream>,
    /// Seqs received on this connection, in order.
    seqs: Vec<u64>,
    verifier: PushVerifier,
}

impl Push {
    fn connect(base: &str, token: &str, since: u64) -> Push {
        let (s, key) = call(
            "GET",
            &format!("{base}/api/push/key"),
            Some(token),
            Value::Null,
        );
        assert_eq!(s, 200, "{key}");
        let mut verifier = PushVerifier::from_public_pem(
            key["public_key"].as_str().unwrap(),
            Duration::from_secs(120),
        )
        .unwrap();
        if since > 0 {
            verifier.resume_after(since);
        }
        let host = base.trim_start_matches("http://");
        let s = TcpStream::connect(host).unwrap();
        s.set_read_timeout(Some(GUARD)).unwrap();
        let mut w = s.try_clone().unwrap();
        write!(
            w,
            "GET /api/push/ws?since={since} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
        }
        Push {
            r,
            seqs: Vec::new(),
            verifier,
        }
    }

    /// The next text message; `None` when the wait ran out or the connection ended.
    fn try_next(&mut self) -> Option<Value> {
        loop {
            let mut h = [0u8; 2];
            self.r.read_exact(&mut h).ok()?;
            let opcode = h[0] & 0x0f;
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.r.read_exact(&mut b).ok()?;
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.r.read_exact(&mut b).ok()?;
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
            let mut payload = vec![0u8; len as usize];
            self.r.read_exact(&mut payload).ok()?;
            match opcode {
                0x1 => {
                    assert_eq!(h[0] & 0x80, 0x80, "one frame per message");
                    let text = String::from_utf8(payload).unwrap();
                    let a = self
                        .verifier
                        .accept(&text, now())
                        .unwrap_or_else(|r| panic!("the client refused a push message: {r}"));
                    let v: Value = serde_json::from_str(&a.body).unwrap();
                    assert_eq!(v["seq"].as_u64(), Some(a.seq));
                    self.seqs.push(a.seq);
                    return Some(v);
                }
                0x8 => return None,
                _ => {}
            }
        }
    }

    fn next(&mut self) -> Value {
        self.try_next().expect("a pushed message")
    }

    /// Reads until a message matches `want`; returns it.
    fn until(&mut self, want: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self.next();
            if want(&m) {
                return m;
            }
        }
    }

    fn last(&self) -> u64 {
        self.seqs.last().copied().unwrap_or(0)
    }
}

fn is(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["kind"] == kind
}

fn is_receipt(kind: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["kind"] == "receipt" && m["detail"]["kind"] == kind
}

/// A user with `role` and `scope` created over the API, and a token made for them.
fn user(base: &str, name: &str, role: &str, scope: Value) -> String {
    let (s, v) = call(
        "POST",
        &format!("{base}/api/users"),
        None,
        json!({"username": name, "password": "a-long-operator-Passw0rd", "role": role, "scope": scope}),
    );
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_i64().unwrap();
    let (s, v) = call(
        "POST",
        &format!("{base}/api/users/{id}/tokens"),
        None,
        json!({"label": "console"}),
    );
    assert_eq!(s, 201, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// A unit registered, placed at (lat, lon) and available; its id and device token.
fn unit(base: &str, name: &str, lat: f64, lon: f64) -> (String, String) {
    let (s, v) = call(
        "POST",
        &format!("{base}/api/units"),
        None,
        json!({ "name": name }),
    );
    assert_eq!(s, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let (s, _) = call(
        "POST",
        &format!("{base}/api/units/me/position"),
        Some(&token),
        json!({"lat": lat, "lon": lon}),
    );
    assert_eq!(s, 204);
    let (s, _) = call(
        "POST",
        &format!("{base}/api/units/me/status"),
        Some(&token),
        json!({"status": "available"}),
    );
    assert_eq!(s, 204);
    (v["id"].as_str().unwrap().to_string(), token)
}

fn receipt(base: &str, token: &str, id: &str, alert: &str, kind: &str) -> (u16, Value) {
    call(
        "POST",
        &format!("{base}/api/units/me/receipts"),
        Some(token),
        json!({"receipt_id": id, "alert": alert, "kind": kind}),
    )
}

#[test]
fn an_intrusion_is_handled_end_to_end_and_survives_a_crash() {
    let server = TestCamServer::start(TestCamConfig::new(footage("vtest_h264.mp4"), 1)).unwrap();
    let site = Site::new(4.0, &[("Campus".into(), server.url(0))]);
    // A real MQTT broker with a login: a subscriber on it gets the alert's life.
    assert!(have_mosquitto("an_intrusion_is_handled_end_to_end"));
    let mut broker = Broker::start(
        &site.dir.path().join("broker"),
        "roeh",
        "mqtt-pass-2b7e91",
        None,
    )
    .unwrap();
    let pass_file = site.dir.path().join("mqtt-password");
    std::fs::write(&pass_file, "mqtt-pass-2b7e91\n").unwrap();
    let mut text = std::fs::read_to_string(&site.config).unwrap();
    text.push_str(&format!("[analytics]\n{}\n", models_line()));
    text.push_str(&format!(
        "[mqtt]\nhost = \"127.0.0.1\"\nport = {}\nusername = \"roeh\"\npassword_file = \"{}\"\n\
         allowed_networks = [\"127.0.0.0/8\"]\n",
        broker.port,
        pass_file.display()
    ));
    std::fs::write(&site.config, text).unwrap();
    let mut mqtt = Subscriber::start(&broker, "roeh/#").unwrap();
    let (proc_, base) = site.serve();
    let cams = wait_streaming(&base, Some(1)).unwrap();
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    // A second camera (not reachable) for the operator of another district.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/cameras"),
        None,
        json!({"name": "Harbour", "url": "rtsp://127.0.0.1:9/harbour"}),
    );
    assert_eq!(s, 201, "{v}");
    let other_cam = v["id"].as_str().unwrap().to_string();

    let (s, v) = call(
        "POST",
        &format!("{base}/api/hotspots"),
        None,
        json!({"name": "Campus walkway", "lat": 53.38, "lon": -1.48, "priority": 2,
            "cameras": [cam],
            "zones": [{"id": "walkway", "camera": cam, "name": "Walkway",
                       "polygon": [[0.0, 0.3], [1.0, 0.2], [1.0, 0.8], [0.0, 0.5]]}],
            "schedule": {"tz": "Europe/London", "always": true}}),
    );
    assert_eq!(s, 201, "{v}");
    let hid = v["id"].as_str().unwrap().to_string();
    let op = user(&base, "op-campus", "operator", json!({"cameras": [cam]}));
    let op_b = user(
        &base,
        "op-harbour",
        "operator",
        json!({"cameras": [other_cam]}),
    );
    let (near, near_token) = unit(&base, "car-near", 53.381, -1.481);
    let (_far, _far_token) = unit(&base, "car-far", 53.50, -1.30);
    let mut op_ws = Push::connect(&base, &op, 0);
    let mut op_b_ws = Push::connect(&base, &op_b, 0);
    let mut unit_ws = Push::connect(&base, &near_token, 0);

    // The rule: people are on the walkway all the time, so it fires as soon as it is armed.
    let (s, v) = call(
        "POST",
        &format!("{base}/api/rules"),
        None,
        json!({"hotspot": hid, "name": "Walkway", "severity": "high",
               "kind": "intrusion", "zone": "walkway"}),
    );
    assert_eq!(s, 201, "{v}");
    let raised = op_ws.until(is("raised"));
    let received = now();
    let alert = raised["alert"].as_str().unwrap().to_string();
    assert_eq!(raised["summary"]["hotspot"], hid.as_str());
    assert_eq!(raised["summary"]["location"]["lat"], 53.38);
    // The incident's time is when the camera's picture was received.
    let frame = time(&raised["summary"]["incidents"][0]["opened_at"]);
    let committed = time(&raised["time"]);
    let st = get_json(&format!("{base}/api/analytics/stats"));
    let inference_ms = st["inference_ms_p50"].as_f64().unwrap();
    let frame_to_operator = received.duration_since(frame).as_secs_f64() * 1000.0;
    eprintln!(
        "frame → operator client {frame_to_operator:.0} ms (commit → client {:.1} ms); \
         inference p50 {inference_ms:.1} ms; beyond inference {:.0} ms",
        received.duration_since(committed).as_secs_f64() * 1000.0,
        frame_to_operator - inference_ms
    );

    // The raise and its incident reach the MQTT subscriber; then the broker goes away while
    // the operator claims and acknowledges, and comes back.
    mqtt.until("the raise on MQTT", GUARD, |m| {
        m.iter()
            .any(|x| x.topic == "roeh/alerts" && x.payload.contains(&alert))
            && m.iter()
                .any(|x| x.topic == "roeh/Campus/incidents" && x.payload.contains(&alert))
    })
    .unwrap();
    broker.stop().unwrap();

    // The operator handles it; the nearest available unit is suggested and dispatched.
    let alert_url = format!("{base}/api/alerts/{alert}");
    for (step, state) in [("claim", "claimed"), ("acknowledge", "acknowledged")] {
        let (s, v) = call(
            "POST",
            &format!("{alert_url}/{step}"),
            Some(&op),
            Value::Null,
        );
        assert_eq!((s, v["state"].as_str()), (200, Some(state)), "{v}");
        op_ws.until(is(step));
    }
    broker.restart().unwrap();
    let (s, v) = call(
        "GET",
        &format!("{base}/api/units?alert={alert}"),
        Some(&op),
        Value::Null,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["suggested"][0]["unit"], near.as_str(), "{v}");
    let (s, v) = call(
        "POST",
        &format!("{alert_url}/dispatch"),
        Some(&op),
        json!({ "units": [near] }),
    );
    assert_eq!(s, 200, "{v}");
    let d = unit_ws.next();
    let got = now();
    assert_eq!(
        (d["kind"].as_str(), d["alert"].as_str()),
        (Some("dispatch"), Some(alert.as_str())),
        "the unit's first message is its dispatch"
    );
    eprintln!(
        "dispatch commit → unit client {:.1} ms",
        got.duration_since(time(&d["time"])).as_secs_f64() * 1000.0
    );
    op_ws.until(is("dispatch"));

    // The other district's operator, connected all along, got nothing of it.
    op_b_ws
        .r
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert!(op_b_ws.try_next().is_none(), "{:?}", op_b_ws.seqs);

    // Two receipts, acknowledged with 201; then the server dies.
    for (id, kind) in [("r-delivered", "delivered"), ("r-accepted", "accepted")] {
        let (s, v) = receipt(&base, &near_token, id, &alert, kind);
        assert_eq!(s, 201, "{kind}: {v}");
    }
    let accepted = unit_ws.until(is_receipt("accepted"))["seq"]
        .as_u64()
        .unwrap();
    // Killed once the broker has acknowledged everything so far (the cursor is past it), so
    // the check below can ask for each event exactly once.
    let rt = common::runtime();
    let store = rt
        .block_on(roeh_store::Store::open(&site.db_url()))
        .unwrap();
    roeh_testkit::wait_for("the MQTT cursor past the receipts", GUARD, || {
        let c = rt.block_on(store.outbound_cursor("mqtt")).unwrap();
        (c >= accepted).then_some(())
    })
    .unwrap();
    rt.block_on(store.close());
    proc_.kill9().unwrap();
    // Whatever the clients read before the crash: each resumes from its last seq.
    while op_ws.try_next().is_some() {}
    while unit_ws.try_next().is_some() {}
    let (op_since, unit_since) = (op_ws.last(), unit_ws.last());
    let (op_before, unit_before) = (op_ws.seqs.clone(), unit_ws.seqs.clone());
    let push_key = op_ws.verifier.key_id().to_owned();

    let (proc_, base) = site.serve();
    let alert_url = format!("{base}/api/alerts/{alert}");
    let mut op_ws = Push::connect(&base, &op, op_since);
    let mut unit_ws = Push::connect(&base, &near_token, unit_since);
    // Units keep trusting the same push key across a restart.
    assert_eq!(op_ws.verifier.key_id(), push_key);
    assert_eq!(unit_ws.verifier.key_id(), push_key);
    // Acknowledged receipts survived; a replay of one changes nothing.
    let (s, v) = receipt(&base, &near_token, "r-delivered", &alert, "delivered");
    assert_eq!((s, v["replayed"].as_bool()), (200, Some(true)), "{v}");
    for (id, kind) in [("r-arrived", "arrived"), ("r-closed", "closed")] {
        let (s, v) = receipt(&base, &near_token, id, &alert, kind);
        assert_eq!(s, 201, "{kind}: {v}");
    }
    let (s, v) = call(
        "POST",
        &format!("{alert_url}/resolve"),
        Some(&op),
        Value::Null,
    );
    assert_eq!((s, v["state"].as_str()), (200, Some("resolved")), "{v}");
    let resolved = op_ws.until(is("resolve"))["seq"].as_u64().unwrap();
    assert_eq!(unit_ws.until(is("resolve"))["seq"].as_u64(), Some(resolved));
    // The operator's stream resumed exactly after its last seq: contiguous, nothing twice.
    assert_eq!(
        op_ws.seqs,
        (op_since + 1..=op_ws.last()).collect::<Vec<_>>(),
        "operator resync from {op_since}"
    );

    // Every change of the alert is stored, and each client saw each one meant for it.
    let (s, detail) = call("GET", &alert_url, Some(&op), Value::Null);
    assert_eq!(s, 200, "{detail}");
    let events = detail["events"].as_array().unwrap();
    // The MQTT subscriber got every event of the alert exactly once, across the broker's
    // restart and roeh's kill -9, each with its idempotency key.
    mqtt.until("the resolve on MQTT", GUARD, |m| {
        m.iter()
            .any(|x| x.topic == "roeh/alerts" && x.payload.contains("\"resolve\""))
    })
    .unwrap();
    let mut on_mqtt: Vec<u64> = mqtt
        .seen
        .iter()
        .filter(|x| x.topic == "roeh/alerts")
        .map(|x| serde_json::from_str::<Value>(&x.payload).unwrap())
        .filter(|v| v["alert"] == alert.as_str())
        .map(|v| {
            let seq = v["seq"].as_u64().unwrap();
            assert_eq!(v["idempotency_key"], format!("mqtt-{seq}"));
            seq
        })
        .collect();
    on_mqtt.sort_unstable();
    let stored: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(on_mqtt, stored, "each event once on MQTT");
    assert!(
        mqtt.seen
            .iter()
            .any(|x| x.topic == "roeh/available" && x.payload == "online"),
        "availability"
    );
    let receipts: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "receipt")
        .map(|e| e["detail"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(receipts, ["delivered", "accepted", "arrived", "closed"]);
    let op_seen: BTreeSet<u64> = op_before.iter().chain(&op_ws.seqs).copied().collect();
    let unit_seen: BTreeSet<u64> = unit_before.iter().chain(&unit_ws.seqs).copied().collect();
    assert_eq!(
        op_seen.len(),
        op_before.len() + op_ws.seqs.len(),
        "nothing twice"
    );
    let dispatch_seq = d["seq"].as_u64().unwrap();
    for e in events {
        let seq = e["seq"].as_u64().unwrap();
        assert!(op_seen.contains(&seq), "operator missed {e}");
        if seq >= dispatch_seq {
            assert!(unit_seen.contains(&seq), "unit missed {e}");
        }
    }
    // The unit saw nothing but its alert, from its dispatch on.
    let mine: BTreeSet<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .filter(|s| *s >= dispatch_seq)
        .collect();
    assert_eq!(unit_seen, mine);

    // Response times.
    let r = &detail["dispatches"][0];
    assert_eq!(r["unit"], near.as_str());
    for t in ["delivered_at", "accepted_at", "arrived_at", "closed_at"] {
        assert!(r[t].is_string(), "{t}: {r}");
    }
    assert!(r["response"]["arrived_s"].as_f64().unwrap() >= 0.0, "{r}");

    // The audit log names every step and who took it.
    let (s, audit) = call(
        "GET",
        &format!("{base}/api/audit?limit=1000"),
        None,
        Value::Null,
    );
    assert_eq!(s, 200);
    let audit = audit.as_array().unwrap();
    let steps = [
        ("POST /api/alerts/{id}/claim", "op-campus", 1),
        ("POST /api/alerts/{id}/acknowledge", "op-campus", 1),
        ("POST /api/alerts/{id}/dispatch", "op-campus", 1),
        ("POST /api/alerts/{id}/resolve", "op-campus", 1),
        ("POST /api/units/me/receipts", "car-near", 5),
    ];
    for (action, actor, n) in steps {
        let found = audit
            .iter()
            .filter(|a| a["action"] == action && a["actor"] == actor)
            .count();
        assert!(found >= n, "{action} by {actor}: {found} audit rows");
    }

    // The operator of the other camera sees nothing of it: not in lists, not by id, not in
    // a replay of every event from the start.
    let (s, v) = call(
        "GET",
        &format!("{base}/api/alerts"),
        Some(&op_b),
        Value::Null,
    );
    assert_eq!((s, v), (200, json!([])));
    let (s, _) = call("GET", &alert_url, Some(&op_b), Value::Null);
    assert_eq!(s, 404);
    let mut op_b_ws = Push::connect(&base, &op_b, 0);
    let mut op_all = Push::connect(&base, &op, 0);
    op_all.until(|m| m["seq"].as_u64() == Some(resolved));
    op_b_ws
        .r
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert!(
        op_b_ws.try_next().is_none(),
        "another district's operator got an event"
    );
    assert!(proc_.terminate(Duration::from_secs(30)).unwrap().success());
    server.stop();
}
