//! Alerts over real HTTP on a bound port: an alerting incident becomes an alert pushed over
//! WebSocket and SSE; operators claim, acknowledge and dispatch the nearest unit; the unit gets
//! only its own dispatch and answers with receipts (a replay changes nothing); scopes hide
//! alerts; a reconnect or a lagging subscriber resyncs from the store and misses nothing.

#![allow(clippy::unwrap_used)]

mod support;

use futures::StreamExt;
use roeh_alerts::push::{PushVerifier, Rejected};
use roeh_api::alerts::{AlertsSettings, Viewer};
use roeh_auth::{Role, Scope};
use roeh_domain::{CameraId, Clock, SimClock, SystemClock, WallTime};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

/// The API served with a test site.
type Env = support::HttpSite<dyn Clock>;

impl support::HttpSite<dyn Clock> {
    /// `GET` or `POST` (a `null` body sends none) as `token`, answering JSON.
    async fn call(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        let method = if method == "GET" { "GET" } else { "POST" };
        let body = (method == "POST" && !body.is_null()).then_some(&body);
        let (s, text) = support::call(&self.http, self.addr, Some(token), method, path, body).await;
        (s, support::json(&text))
    }
}

async fn env(capacity: usize) -> Env {
    env_with(capacity, Arc::new(SystemClock::new())).await
}

async fn env_with(capacity: usize, clock: Arc<dyn Clock>) -> Env {
    let site = support::site(
        clock.clone(),
        AlertsSettings {
            broadcast_capacity: capacity,
            ..Default::default()
        },
    )
    .await;
    site.serve(clock).await
}

type WsStream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A push client as a unit's or operator's app runs it: every message is checked by the
/// client-side verifier (signature, expiry, replay and order) before it is used.
struct Ws {
    s: WsStream,
    verifier: PushVerifier,
    clock: Arc<dyn Clock>,
}

impl Ws {
    async fn close(&mut self) {
        let _ = self.s.close(None).await;
    }
}

/// The verifier a client builds from `GET /api/push/key`, accepting messages up to 120 s old.
async fn verifier(e: &Env, token: &str) -> PushVerifier {
    let (s, key) = e.call(token, "GET", "/api/push/key", Value::Null).await;
    assert_eq!(s, 200, "{key}");
    assert_eq!(key["algorithm"], "Ed25519");
    PushVerifier::from_public_pem(
        key["public_key"].as_str().unwrap(),
        Duration::from_secs(120),
    )
    .unwrap()
}

async fn ws(e: &Env, token: &str, since: Option<u64>) -> Ws {
    let mut verifier = verifier(e, token).await;
    if let Some(s) = since {
        verifier.resume_after(s);
    }
    Ws {
        s: ws_raw(e, token, since).await,
        verifier,
        clock: e.clock.clone(),
    }
}

async fn ws_raw(e: &Env, token: &str, since: Option<u64>) -> WsStream {
    let q = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let mut req = format!("ws://{}/api/push/ws{q}", e.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (s, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    s
}

async fn next_text(ws: &mut WsStream) -> String {
    loop {
        let m = tokio::time::timeout(GUARD, ws.next())
            .await
            .expect("a pushed message")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            return t.as_str().to_owned();
        }
    }
}

async fn next(ws: &mut Ws) -> Value {
    let t = next_text(&mut ws.s).await;
    let a = ws
        .verifier
        .accept(&t, ws.clock.wall())
        .unwrap_or_else(|r| panic!("the client refused a genuine push message: {r}"));
    let v: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["seq"].as_u64(), Some(a.seq));
    v
}

async fn camera(e: &Env, name: &str) -> CameraId {
    e.add_camera(name).await
}

async fn hotspot(e: &Env, name: &str, cam: CameraId, lat: f64, lon: f64) -> uuid::Uuid {
    e.add_hotspot(name, cam, (lat, lon), "Europe/Stockholm")
        .await
}

async fn incident(e: &Env, hotspot: uuid::Uuid, cam: CameraId, severity: &str) -> uuid::Uuid {
    let now = e.clock.wall();
    let id = uuid::Uuid::new_v4();
    e.store
        .insert_incident(&roeh_store::NewIncident {
            id,
            severity: severity.into(),
            track_ids: vec![1, 2],
            ..support::incident(hotspot, cam, now)
        })
        .await
        .unwrap();
    id
}

async fn unit(e: &Env, name: &str, lat: f64, lon: f64) -> (uuid::Uuid, String) {
    e.add_unit(name, Some((lat, lon))).await
}

/// Opens the SSE push stream as `token` after `last_event_id` and reads it until `done` finds
/// what it waits for in the text so far (status line and headers included).
async fn sse_until<T>(
    e: &Env,
    token: &str,
    last_event_id: u64,
    mut done: impl FnMut(&str) -> Option<T>,
) -> T {
    let mut s = tokio::net::TcpStream::connect(e.addr).await.unwrap();
    let req = format!(
        "GET /api/push/sse HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Last-Event-ID: {last_event_id}\r\nAccept: text/event-stream\r\n\r\n",
        e.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(found) = done(&text) {
            return found;
        }
        let k = tokio::time::timeout(GUARD, s.read(&mut buf))
            .await
            .expect("SSE data")
            .unwrap();
        assert!(k > 0, "SSE stream ended: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..k]));
    }
}

/// Reads server-sent events until `n` ids were seen; returns them.
async fn sse_ids(e: &Env, token: &str, last_event_id: u64, n: usize) -> Vec<u64> {
    sse_until(e, token, last_event_id, |text| {
        let ids: Vec<u64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("id: ").or_else(|| l.strip_prefix("id:")))
            .map(|v| v.trim().parse().unwrap())
            .collect();
        if ids.len() < n {
            return None;
        }
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.to_ascii_lowercase().contains("text/event-stream"));
        Some(ids)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_becomes_an_alert_that_is_handled_dispatched_and_pushed_to_the_right_clients() {
    let e = env(1024).await;
    let (cam_a, cam_b) = (camera(&e, "gate-a").await, camera(&e, "gate-b").await);
    let square = hotspot(&e, "Square", cam_a, 59.3300, 18.0600).await;
    let station = hotspot(&e, "Station", cam_b, 59.3310, 18.0590).await;
    let op = support::user_token(&e.store, "op-a", Role::Operator, Scope::cameras([cam_a])).await;
    let op_b = support::user_token(&e.store, "op-b", Role::Operator, Scope::cameras([cam_b])).await;
    let (car1, car1_token) = unit(&e, "car-1", 59.3310, 18.0610).await;
    let (car2, car2_token) = unit(&e, "car-2", 59.4000, 18.2000).await;
    // Only units and alert handlers subscribe; units cannot act on alerts.
    let inv = support::user_token(&e.store, "inv", Role::Investigator, Scope::unrestricted()).await;
    let (s, _) = e.call(&inv, "GET", "/api/push/sse", Value::Null).await;
    assert_eq!(s, 403);

    let mut op_ws = ws(&e, &op, Some(0)).await;
    let mut op_b_ws = ws(&e, &op_b, None).await;
    let mut car1_ws = ws(&e, &car1_token, None).await;
    let mut car2_ws = ws(&e, &car2_token, None).await;

    // An alerting incident, and a second camera's incident of the same hotspot: one alert.
    incident(&e, square, cam_a, "high").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let raised = next(&mut op_ws).await;
    assert_eq!(raised["kind"], "raised");
    let alert = raised["alert"].as_str().unwrap().to_string();
    let n = raised["seq"].as_u64().unwrap();
    assert_eq!(raised["summary"]["location"]["lat"], 59.33);
    incident(&e, square, cam_a, "critical").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let merged = next(&mut op_ws).await;
    assert_eq!(
        (merged["kind"].as_str(), merged["alert"].as_str()),
        (Some("merged"), Some(alert.as_str()))
    );
    assert_eq!(merged["seq"].as_u64(), Some(n + 1));
    assert_eq!(merged["summary"]["severity"], "critical");
    assert_eq!(e.svc.ingest_once().await.unwrap(), 0, "each incident once");

    // The out-of-scope operator sees nothing of it.
    let (s, v) = e.call(&op_b, "GET", "/api/alerts", Value::Null).await;
    assert_eq!((s, v), (200, json!([])));
    let (s, _) = e
        .call(&op_b, "GET", &format!("/api/alerts/{alert}"), Value::Null)
        .await;
    assert_eq!(s, 404);
    let (s, v) = e
        .call(
            &op_b,
            "POST",
            &format!("/api/alerts/{alert}/claim"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = e
        .call(&op, "GET", "/api/alerts?state=new", Value::Null)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 1);

    // Claim, acknowledge; illegal moves are refused.
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/resolve"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 409, "resolving a new alert is illegal");
    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/claim"),
            Value::Null,
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("claimed")), "{v}");
    let claim_seq = next(&mut op_ws).await["seq"].as_u64().unwrap();
    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/acknowledge"),
            json!({"note": "looks real"}),
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("acknowledged")), "{v}");
    assert_eq!(next(&mut op_ws).await["kind"], "acknowledge");
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/note"),
            json!({"text": "two people"}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(next(&mut op_ws).await["kind"], "note");

    // The nearest available unit is suggested and dispatched.
    let (s, v) = e
        .call(
            &op,
            "GET",
            &format!("/api/units?alert={alert}"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["suggested"][0]["unit"], json!(car1));
    assert_eq!(v["suggested"][1]["unit"], json!(car2));
    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/dispatch"),
            json!({"units": [car1]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let d = next(&mut op_ws).await;
    assert_eq!(
        (d["kind"].as_str(), d["unit"].clone()),
        (Some("dispatch"), json!(car1))
    );
    let got = next(&mut car1_ws).await;
    assert_eq!(
        got["seq"], d["seq"],
        "the unit's first message is its dispatch"
    );
    assert_eq!(got["summary"]["location"]["lon"], 18.06);
    // The clip link is signed and short-lived: it needs no credentials (a unit hands it to a
    // player), but a changed signature, another alert or an old expiry is refused.
    let clip = got["summary"]["clip"].as_str().unwrap().to_string();
    let alert_id = got["summary"]["id"].as_str().unwrap().to_string();
    assert!(
        clip.starts_with(&format!("/api/alerts/{alert_id}/clip?exp=")),
        "{clip}"
    );
    let status = |path: String| {
        let http = e.http.clone();
        let url = format!("http://{}{path}", e.addr);
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    let ok = status(clip.clone()).await;
    assert!(ok != 401 && ok != 403, "a valid link is accepted: {ok}");
    let (path, query) = clip.split_once('?').unwrap();
    let mut parts: Vec<String> = query.split('&').map(str::to_string).collect();
    let sig = parts[1].clone();
    let last = if sig.ends_with('0') { '1' } else { '0' };
    parts[1] = format!("{}{last}", &sig[..sig.len() - 1]);
    assert_eq!(
        status(format!("{path}?{}", parts.join("&"))).await,
        403,
        "forged signature"
    );
    let other = uuid::Uuid::new_v4();
    assert_eq!(
        status(format!("/api/alerts/{other}/clip?{query}")).await,
        403,
        "the link names one alert"
    );
    let exp: i64 = query.split('&').next().unwrap()[4..].parse().unwrap();
    assert_eq!(
        status(format!("{path}?exp={}&{sig}", exp - 3600)).await,
        403,
        "an old expiry"
    );

    // Receipts; a replayed receipt id changes nothing; a reused id for another kind conflicts.
    for (i, kind) in ["delivered", "accepted", "arrived", "closed"]
        .into_iter()
        .enumerate()
    {
        let (s, v) = e
            .call(
                &car1_token,
                "POST",
                "/api/units/me/receipts",
                json!({"receipt_id": format!("r{i}"), "alert": alert, "kind": kind}),
            )
            .await;
        assert_eq!(s, 201, "{kind}: {v}");
        let m = next(&mut car1_ws).await;
        assert_eq!(
            (m["kind"].as_str(), m["detail"]["kind"].as_str()),
            (Some("receipt"), Some(kind))
        );
        assert_eq!(next(&mut op_ws).await["seq"], m["seq"]);
        if kind == "arrived" {
            assert_eq!(m["state"], "on_scene");
        }
    }
    let last_before = e.store.last_alert_seq().await.unwrap();
    let (s, v) = e
        .call(
            &car1_token,
            "POST",
            "/api/units/me/receipts",
            json!({"receipt_id": "r2", "alert": alert, "kind": "arrived"}),
        )
        .await;
    assert_eq!((s, v["replayed"].as_bool()), (200, Some(true)));
    let (s, _) = e
        .call(
            &car1_token,
            "POST",
            "/api/units/me/receipts",
            json!({"receipt_id": "r2", "alert": alert, "kind": "closed"}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        e.store.last_alert_seq().await.unwrap(),
        last_before,
        "nothing appended"
    );
    // The other unit cannot post receipts for an alert not dispatched to it.
    let (s, _) = e
        .call(
            &car2_token,
            "POST",
            "/api/units/me/receipts",
            json!({"receipt_id": "x", "alert": alert, "kind": "delivered"}),
        )
        .await;
    assert_eq!(s, 404);

    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/resolve"),
            Value::Null,
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("resolved")));
    let resolved = next(&mut op_ws).await;
    assert_eq!(resolved["kind"], "resolve");
    let end_seq = resolved["seq"].as_u64().unwrap();
    assert_eq!(next(&mut car1_ws).await["seq"].as_u64(), Some(end_seq));

    // Response times are recorded.
    let (s, v) = e
        .call(&op, "GET", &format!("/api/alerts/{alert}"), Value::Null)
        .await;
    assert_eq!(s, 200);
    let r = &v["dispatches"][0];
    assert_eq!(r["unit"], json!(car1));
    assert!(r["response"]["arrived_s"].as_f64().unwrap() >= 0.0);
    assert!(r["closed_at"].is_string());
    assert_eq!(
        v["events"].as_array().unwrap().len() as u64,
        end_seq - n + 1
    );

    // Every change was audited.
    let audit = e
        .store
        .audit(&roeh_store::AuditFilter::default())
        .await
        .unwrap();
    for action in [
        "POST /api/alerts/{id}/claim",
        "POST /api/alerts/{id}/acknowledge",
        "POST /api/alerts/{id}/dispatch",
        "POST /api/alerts/{id}/resolve",
        "POST /api/units/me/receipts",
    ] {
        assert!(
            audit
                .iter()
                .any(|a| a.entry.action == action && a.entry.actor != "anonymous"),
            "{action} audited"
        );
    }

    // A reconnect from the claim's seq replays exactly what came after it, in order.
    let mut again = ws(&e, &op, Some(claim_seq)).await;
    let mut seqs = Vec::new();
    for _ in claim_seq..end_seq {
        seqs.push(next(&mut again).await["seq"].as_u64().unwrap());
    }
    assert_eq!(seqs, (claim_seq + 1..=end_seq).collect::<Vec<_>>());
    // SSE resumes from Last-Event-ID alike.
    let ids = sse_ids(&e, &op, claim_seq, (end_seq - claim_seq) as usize).await;
    assert_eq!(ids, seqs);

    // Second alerts: one at the station (op-b's scope) dispatched to car 2. The first message
    // op-b and car 2 ever receive is about it: nothing of the first alert reached them.
    incident(&e, station, cam_b, "low").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let first_b = next(&mut op_b_ws).await;
    let alert2 = first_b["alert"].as_str().unwrap().to_string();
    assert_ne!(alert2, alert);
    assert_eq!(first_b["kind"], "raised");
    for step in ["claim", "acknowledge"] {
        let (s, _) = e
            .call(
                &op_b,
                "POST",
                &format!("/api/alerts/{alert2}/{step}"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = e
        .call(
            &op_b,
            "POST",
            &format!("/api/alerts/{alert2}/dispatch"),
            json!({"units": [car2]}),
        )
        .await;
    assert_eq!(s, 200);
    let first_car2 = next(&mut car2_ws).await;
    assert_eq!(
        (first_car2["alert"].as_str(), first_car2["kind"].as_str()),
        (Some(alert2.as_str()), Some("dispatch"))
    );
    // Precision per rule and camera: the first alert was resolved, not a false alarm.
    let (s, v) = e
        .call(&op, "GET", "/api/alerts/precision", Value::Null)
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v.as_array().unwrap().len(),
        1,
        "op-a sees camera A only: {v}"
    );
    assert_eq!(v[0]["precision"], 1.0);
    op_ws.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_subscriber_resyncs_from_the_store_and_misses_no_seq() {
    // A broadcast of two messages: a subscriber that does not read falls behind at once.
    let e = env(2).await;
    let cam = camera(&e, "gate").await;
    let h = hotspot(&e, "Square", cam, 59.33, 18.06).await;
    incident(&e, h, cam, "medium").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let first = e.store.last_alert_seq().await.unwrap();
    let alert = e.store.alert_events_after(0, 10).await.unwrap()[0].alert_id;
    // A subscriber whose outlet holds one message, not read while 30 events are written.
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let feed = tokio::spawn(roeh_api::push::feed(
        e.svc.clone(),
        Viewer::Operator(Scope::unrestricted()),
        first,
        tx,
    ));
    // Also a real WebSocket client from the same point, read only at the end.
    let mut slow = ws(&e, &e.admin, Some(first)).await;
    // Both listen live before the events are written (else they would only read the store and
    // never lag, which is what this test is about).
    let listening = tokio::time::timeout(GUARD, async {
        while e.svc.hub().subscribers() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(listening.is_ok(), "both subscribers listen to the hub");
    for i in 0..30 {
        let (s, _) = e
            .call(
                &e.admin,
                "POST",
                &format!("/api/alerts/{alert}/note"),
                json!({"text": format!("n{i}")}),
            )
            .await;
        assert_eq!(s, 201);
    }
    let last = e.store.last_alert_seq().await.unwrap();
    assert_eq!(last, first + 30);
    let mut got = Vec::new();
    while got.len() < 30 {
        let m = tokio::time::timeout(GUARD, rx.recv())
            .await
            .unwrap()
            .unwrap();
        got.push(m.seq);
    }
    assert_eq!(got, (first + 1..=last).collect::<Vec<_>>());
    let mut got_ws = Vec::new();
    while got_ws.len() < 30 {
        got_ws.push(next(&mut slow).await["seq"].as_u64().unwrap());
    }
    assert_eq!(got_ws, got);
    assert!(e.svc.hub().resyncs() > 0, "the subscribers did lag");
    drop(rx);
    feed.abort();
    slow.close().await;
    // The stored event times are real wall times.
    assert!(e.store.alert_events_after(0, 1).await.unwrap()[0].time > WallTime(0));
}

/// The service as `roeh serve` runs it, with its look for other processes' rows an hour away:
/// what reaches the clients was woken by the store's signals and the deadline alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_service_wakes_on_commits_and_deadlines_not_on_a_timer() {
    let mut settings = AlertsSettings {
        poll_every: Duration::from_secs(3600),
        ..Default::default()
    };
    settings.alerts.escalation.critical = Duration::from_secs(2);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let e = support::site(clock.clone(), settings)
        .await
        .serve(clock)
        .await;
    let cam = camera(&e, "gate").await;
    let square = hotspot(&e, "Square", cam, 59.33, 18.06).await;
    let sup = support::user_token(&e.store, "sup", Role::Supervisor, Scope::unrestricted()).await;
    let mut sup_ws = ws(&e, &sup, None).await;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = e.svc.clone().spawn(async move {
        let _ = stop_rx.await;
    });
    // Let its first look pass (nothing to gather), so what follows is woken, not found.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // An incident committed: raised at once.
    let inc = incident(&e, square, cam, "critical").await;
    let raised = next(&mut sup_ws).await;
    assert_eq!(raised["kind"], "raised");
    assert_eq!(raised["summary"]["incidents"][0]["id"], inc.to_string());
    let created =
        chrono::DateTime::parse_from_rfc3339(raised["summary"]["created_at"].as_str().unwrap())
            .unwrap();
    // Nobody acknowledges it: escalated at its deadline, not before.
    let escalated = next(&mut sup_ws).await;
    assert_eq!(escalated["kind"], "escalate");
    assert_eq!(escalated["alert"], raised["alert"]);
    let at = chrono::DateTime::parse_from_rfc3339(escalated["time"].as_str().unwrap()).unwrap();
    assert!(
        at - created >= chrono::TimeDelta::seconds(2),
        "escalated {} after its creation",
        at - created
    );
    // A second incident of the hotspot merges, woken by its commit again.
    incident(&e, square, cam, "high").await;
    let merged = next(&mut sup_ws).await;
    assert_eq!(
        (merged["kind"].as_str(), merged["alert"].as_str()),
        (Some("merged"), raised["alert"].as_str())
    );
    let _ = stop_tx.send(());
    tokio::time::timeout(GUARD, task).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unacknowledged_alerts_escalate_to_supervisors_by_their_severity_deadline() {
    let clock = Arc::new(SimClock::new(WallTime::from_secs(1_790_000_000)));
    let e = env_with(16, clock.clone()).await;
    let (cam, cam2) = (camera(&e, "gate").await, camera(&e, "gate-2").await);
    let square = hotspot(&e, "Square", cam, 59.33, 18.06).await;
    let park = hotspot(&e, "Park", cam2, 59.34, 18.07).await;
    let op = support::user_token(&e.store, "op", Role::Operator, Scope::unrestricted()).await;
    let sup = support::user_token(&e.store, "sup", Role::Supervisor, Scope::unrestricted()).await;
    let alert_of = |v: &Value| v[0]["id"].as_str().unwrap().to_string();

    // A critical alert, claimed but not acknowledged: escalates after 60 s, once.
    incident(&e, square, cam, "critical").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let (_, v) = e
        .call(
            &op,
            "GET",
            &format!("/api/alerts?hotspot={square}"),
            Value::Null,
        )
        .await;
    let critical = alert_of(&v);
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{critical}/claim"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200);
    clock.advance(Duration::from_secs(59));
    assert_eq!(e.svc.escalate_once().await.unwrap(), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(e.svc.escalate_once().await.unwrap(), 1);
    assert_eq!(e.svc.escalate_once().await.unwrap(), 0, "never twice");
    let (_, v) = e
        .call(&op, "GET", &format!("/api/alerts/{critical}"), Value::Null)
        .await;
    assert_eq!(v["alert"]["state"], "escalated");
    let last = v["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["actor"].as_str()),
        (Some("escalate"), Some("system"))
    );
    // Its claimer may still acknowledge it.
    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{critical}/acknowledge"),
            Value::Null,
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("acknowledged")), "{v}");

    // A low alert nobody claimed: 900 s, then only a supervisor takes it over.
    incident(&e, park, cam2, "low").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let (_, v) = e
        .call(
            &op,
            "GET",
            &format!("/api/alerts?hotspot={park}"),
            Value::Null,
        )
        .await;
    let low = alert_of(&v);
    // Pages: newest first, the cursor is the last alert of the page before.
    let (_, p1) = e.call(&op, "GET", "/api/alerts?limit=1", Value::Null).await;
    assert_eq!(alert_of(&p1), low);
    let (_, p2) = e
        .call(
            &op,
            "GET",
            &format!("/api/alerts?limit=1&before={low}"),
            Value::Null,
        )
        .await;
    assert_eq!(alert_of(&p2), critical);
    let (_, p3) = e
        .call(
            &op,
            "GET",
            &format!("/api/alerts?limit=1&before={critical}"),
            Value::Null,
        )
        .await;
    assert_eq!(p3, json!([]));
    // A cursor must name an alert of the caller's list: an unknown one is refused, and one the
    // caller may not see is refused alike (no existence oracle).
    let blind = support::user_token(
        &e.store,
        "op-elsewhere",
        Role::Operator,
        Scope::cameras([CameraId::new_random()]),
    )
    .await;
    let (s1, v1) = e
        .call(
            &blind,
            "GET",
            &format!("/api/alerts?before={low}"),
            Value::Null,
        )
        .await;
    let (s2, v2) = e
        .call(
            &blind,
            "GET",
            &format!("/api/alerts?before={}", uuid::Uuid::new_v4()),
            Value::Null,
        )
        .await;
    assert_eq!((s1, &v1), (s2, &v2));
    assert_eq!(s1, 400, "{v1}");
    for bad in ["limit=0", "limit=1001"] {
        let (s, v) = e
            .call(&op, "GET", &format!("/api/alerts?{bad}"), Value::Null)
            .await;
        assert_eq!(s, 400, "{bad}: {v}");
    }
    clock.advance(Duration::from_secs(899));
    assert_eq!(e.svc.escalate_once().await.unwrap(), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(e.svc.escalate_once().await.unwrap(), 1);
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{low}/claim"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 403);
    let (s, v) = e
        .call(
            &sup,
            "POST",
            &format!("/api/alerts/{low}/claim"),
            Value::Null,
        )
        .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("claimed")), "{v}");
    // A false alarm counts against the rule's precision on that camera.
    let (s, _) = e
        .call(
            &sup,
            "POST",
            &format!("/api/alerts/{low}/false-alarm"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200);
    let (_, v) = e
        .call(&sup, "GET", "/api/alerts/precision", Value::Null)
        .await;
    let row = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["camera"] == json!(cam2))
        .unwrap()
        .clone();
    assert_eq!(
        (row["closed"].as_u64(), row["false_alarms"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(row["precision"], 0.0);
}

/// Reads server-sent events after `last_event_id` until one `data:` line arrives; returns it.
async fn sse_first_data(e: &Env, token: &str, last_event_id: u64) -> String {
    sse_until(e, token, last_event_id, |text| {
        let d = text
            .lines()
            .find_map(|l| l.strip_prefix("data: ").or_else(|| l.strip_prefix("data:")))?;
        text.contains("\n\n").then(|| d.trim().to_owned())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_alerts_are_signed_expire_and_a_client_refuses_forged_stale_and_replayed_ones() {
    let clock = Arc::new(SimClock::new(WallTime::from_secs(1_790_000_000)));
    let e = env_with(64, clock.clone()).await;
    let cam = camera(&e, "gate").await;
    let h = hotspot(&e, "Square", cam, 59.33, 18.06).await;
    // A unit is provisioned with the push key at registration; it is the served one.
    let (s, reg) = e
        .call(&e.admin, "POST", "/api/units", json!({"name": "car-9"}))
        .await;
    assert_eq!(s, 201, "{reg}");
    let (s, served) = e.call(&e.admin, "GET", "/api/push/key", Value::Null).await;
    assert_eq!(s, 200);
    assert_eq!(reg["push_key"], served);
    assert_eq!(served["ttl_secs"], 60);
    // Without signing in there is no key either.
    let resp = e
        .http
        .get(format!("http://{}/api/push/key", e.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let mut client = verifier(&e, &e.admin).await;
    let mut raw = ws_raw(&e, &e.admin, Some(0)).await;
    incident(&e, h, cam, "high").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let raised_text = next_text(&mut raw).await;
    let raised = client.accept(&raised_text, clock.wall()).unwrap();
    let body: Value = serde_json::from_str(&raised.body).unwrap();
    assert_eq!(body["kind"], "raised");
    assert_eq!(body["issued_at"], clock.wall().to_rfc3339());
    assert_eq!(
        body["expires_at"],
        clock.wall().plus(Duration::from_secs(60)).to_rfc3339()
    );
    let alert = body["alert"].as_str().unwrap().to_owned();

    // Replayed: the captured message again is refused, also a second later.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        client.accept(&raised_text, clock.wall()),
        Err(Rejected::Replayed {
            seq: raised.seq,
            last: raised.seq
        })
    );
    // Forged: the alert moved to another place, or the whole message signed by another key.
    let mut env: roeh_alerts::push::Envelope = serde_json::from_str(&raised_text).unwrap();
    env.msg = env.msg.replace("\"lat\":59.33", "\"lat\":59.4");
    env.msg = env
        .msg
        .replace(&format!("\"seq\":{}", raised.seq), "\"seq\":999999");
    assert_ne!(env.msg, raised.body, "the forgery changed the body");
    assert_eq!(
        client.accept(&serde_json::to_string(&env).unwrap(), clock.wall()),
        Err(Rejected::BadSignature)
    );
    let other = roeh_alerts::push::PushSigner::from_seed(&[1; 32]);
    assert!(matches!(
        client.accept(&other.seal(env.msg.clone()), clock.wall()),
        Err(Rejected::UnknownKey(_))
    ));
    assert_eq!(
        client.last_seq(),
        Some(raised.seq),
        "refusals change nothing"
    );

    // Stale: an event signed now but received after its expiry is refused ...
    let (s, _) = e
        .call(
            &e.admin,
            "POST",
            &format!("/api/alerts/{alert}/note"),
            json!({"text": "units en route"}),
        )
        .await;
    assert_eq!(s, 201);
    let note_text = next_text(&mut raw).await;
    clock.advance(Duration::from_secs(61));
    let note_seq = raised.seq + 1;
    assert_eq!(
        client.accept(&note_text, clock.wall()),
        Err(Rejected::Expired { seq: note_seq })
    );
    let _ = raw.close(None).await;
    // ... and the client resyncs from its last accepted seq: the same event, signed afresh,
    // whose own time still says when it happened.
    let mut again = ws_raw(&e, &e.admin, client.last_seq()).await;
    let fresh = client
        .accept(&next_text(&mut again).await, clock.wall())
        .unwrap();
    assert_eq!(fresh.seq, note_seq);
    let fresh: Value = serde_json::from_str(&fresh.body).unwrap();
    assert_eq!(fresh["kind"], "note");
    assert_eq!(fresh["issued_at"], clock.wall().to_rfc3339());
    assert!(
        WallTime::parse(fresh["time"].as_str().unwrap()).unwrap()
            < WallTime::parse(fresh["issued_at"].as_str().unwrap()).unwrap()
    );
    let _ = again.close(None).await;

    // The SSE fallback carries the same signed envelope.
    let data = sse_first_data(&e, &e.admin, raised.seq - 1).await;
    let mut sse_client = verifier(&e, &e.admin).await;
    let a = sse_client.accept(&data, clock.wall()).unwrap();
    assert_eq!(a.seq, raised.seq);
}

/// A console session (cookie) of a new operator, made as `POST /api/auth/login` makes one.
async fn session_cookie(e: &Env, name: &str) -> String {
    let op = support::user_token(&e.store, name, Role::Operator, Scope::unrestricted()).await;
    let user = e
        .store
        .user_for_token(&roeh_auth::hash_token(&op), WallTime(0))
        .await;
    let user_id = user.unwrap().unwrap().0.id;
    let (text, hash) = roeh_auth::new_token();
    e.store
        .create_token(&roeh_store::NewToken {
            hash,
            user_id,
            kind: roeh_store::TokenKind::Session,
            label: "console".into(),
            created_at: WallTime(0),
            expires_at: WallTime(i64::MAX / 2),
        })
        .await
        .unwrap();
    format!("{}={}", roeh_auth::cookie::SESSION_COOKIE, text.expose())
}

/// The status of a push WebSocket upgrade carrying `headers`.
async fn ws_upgrade_status(e: &Env, headers: &[(&'static str, &str)]) -> u16 {
    let mut req = format!("ws://{}/api/push/ws", e.addr)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut s, resp)) => {
            let _ = s.close(None).await;
            resp.status().as_u16()
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(other) => panic!("upgrade failed without an HTTP answer: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_session_is_refused_on_push_streams_opened_by_another_site() {
    let e = env(64).await;
    let cookie = session_cookie(&e, "op-origin").await;
    let own = format!("http://{}", e.addr);
    let evil = "http://evil.example";

    // A page of another site that got the browser to send the session cookie: refused.
    assert_eq!(
        ws_upgrade_status(&e, &[("cookie", &cookie), ("origin", evil)]).await,
        403
    );
    assert_eq!(
        ws_upgrade_status(&e, &[("cookie", &cookie), ("origin", "null")]).await,
        403
    );
    let sse = |origin: &'static str| {
        e.http
            .get(format!("http://{}/api/push/sse", e.addr))
            .header("cookie", &cookie)
            .header("origin", origin)
            .send()
    };
    let r = sse(evil).await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert!(r.text().await.unwrap().contains("cross-site"));

    // The console's own page (same origin), or a client that sends no Origin: served.
    assert_eq!(
        ws_upgrade_status(&e, &[("cookie", &cookie), ("origin", &own)]).await,
        101
    );
    assert_eq!(ws_upgrade_status(&e, &[("cookie", &cookie)]).await, 101);
    // A bearer token is never sent by a browser on its own: the Origin does not matter.
    let op =
        support::user_token(&e.store, "op-bearer", Role::Operator, Scope::unrestricted()).await;
    let bearer = format!("Bearer {op}");
    assert_eq!(
        ws_upgrade_status(&e, &[("authorization", &bearer), ("origin", evil)]).await,
        101
    );

    // Each refusal is in the audit log, with the user whose session was misused.
    let audit = e
        .store
        .audit(&roeh_store::AuditFilter::default())
        .await
        .unwrap();
    let refused: Vec<_> = audit
        .iter()
        .filter(|a| a.entry.actor == "op-origin" && a.entry.status == Some(403))
        .map(|a| a.entry.action.as_str())
        .collect();
    assert_eq!(
        refused,
        ["GET /api/push/sse", "GET /api/push/ws", "GET /api/push/ws"],
        "{audit:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_units_phone_signs_in_with_its_device_token_and_sees_only_its_own_dispatches() {
    let e = env(1024).await;
    let cam = camera(&e, "gate").await;
    let square = hotspot(&e, "Square", cam, 59.3300, 18.0600).await;
    let op = support::user_token(&e.store, "op", Role::Operator, Scope::unrestricted()).await;
    let (car1, car1_token) = unit(&e, "car-1", 59.3310, 18.0610).await;
    let (_car2, car2_token) = unit(&e, "car-2", 59.4000, 18.2000).await;

    // The device token becomes a console session; nothing else does.
    let device = |token: &str| {
        let url = format!("http://{}/api/auth/device", e.addr);
        let req = e.http.post(url).json(&json!({ "token": token }));
        async move {
            let r = req.send().await.unwrap();
            let cookie = r
                .headers()
                .get("set-cookie")
                .map(|v| v.to_str().unwrap().to_string());
            let status = r.status().as_u16();
            (status, cookie, support::json(&r.text().await.unwrap()))
        }
    };
    let (s, cookie, v) = device("not-a-token").await;
    assert_eq!((s, cookie), (401, None), "{v}");
    let (s, _, v) = device(&op).await;
    assert_eq!(s, 401, "an operator's token is no device token: {v}");
    let (s, _, v) = device("  ").await;
    assert_eq!(s, 400, "{v}");
    let (s, cookie, v) = device(&car1_token).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["role"], "unit");
    assert!(v["csrf"].is_string() && v.get("token").is_none(), "{v}");
    assert!(cookie.unwrap().contains("HttpOnly"));

    // The unit's list: itself, nothing dispatched yet; operators have no such list.
    let (s, v) = e
        .call(&car1_token, "GET", "/api/units/me/alerts", Value::Null)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        (v["unit"].as_str(), v["name"].as_str()),
        (Some(car1.to_string().as_str()), Some("car-1"))
    );
    assert_eq!(v["dispatches"], json!([]));
    let (s, _) = e
        .call(&op, "GET", "/api/units/me/alerts", Value::Null)
        .await;
    assert_eq!(s, 403);

    incident(&e, square, cam, "high").await;
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
    let (_, list) = e.call(&op, "GET", "/api/alerts", Value::Null).await;
    let alert = list[0]["id"].as_str().unwrap().to_string();
    assert_eq!(list[0]["place"], "Square");
    for step in ["claim", "acknowledge"] {
        let (s, v) = e
            .call(
                &op,
                "POST",
                &format!("/api/alerts/{alert}/{step}"),
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{step}: {v}");
    }
    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/dispatch"),
            json!({ "units": [car1] }),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    // Only the unit it was sent to has it, with its place; the other sees nothing of it.
    let (_, v) = e
        .call(&car1_token, "GET", "/api/units/me/alerts", Value::Null)
        .await;
    let d = &v["dispatches"][0];
    assert_eq!(d["alert"]["id"], alert.as_str());
    assert_eq!(d["alert"]["place"], "Square");
    assert!(d["delivered_at"].is_null());
    let (_, v) = e
        .call(&car2_token, "GET", "/api/units/me/alerts", Value::Null)
        .await;
    assert_eq!(v["dispatches"], json!([]));
    let snap = format!("/api/units/me/alerts/{alert}/snapshot");
    let (s, other) = e.call(&car2_token, "GET", &snap, Value::Null).await;
    assert_eq!(s, 404);
    assert_eq!(other["error"]["message"], "no such alert");
    let (s, missing) = e
        .call(
            &car2_token,
            "GET",
            &format!("/api/units/me/alerts/{}/snapshot", uuid::Uuid::new_v4()),
            Value::Null,
        )
        .await;
    assert_eq!(
        (s, &missing),
        (404, &other),
        "another unit's alert answers like a missing one"
    );
    // The dispatched unit reaches the route (this incident was stored without a picture).
    let (s, v) = e.call(&car1_token, "GET", &snap, Value::Null).await;
    assert_eq!(s, 404);
    assert_ne!(v["error"]["message"], "no such alert", "{v}");

    // Closing the dispatch takes it off the unit's list.
    let (s, v) = e
        .call(
            &car1_token,
            "POST",
            "/api/units/me/receipts",
            json!({"receipt_id": format!("{alert}:closed"), "alert": alert, "kind": "closed"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["dispatch"]["unit_name"], "car-1");
    let (_, v) = e
        .call(&car1_token, "GET", "/api/units/me/alerts", Value::Null)
        .await;
    assert_eq!(v["dispatches"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_raise_alerts_by_hand_and_a_volunteer_patrol_receives_the_place_and_text_only() {
    let e = env(1024).await;
    let cam = camera(&e, "gate").await;
    let square = hotspot(&e, "Square", cam, 59.3300, 18.0600).await;
    let far_cam = camera(&e, "harbour").await;
    hotspot(&e, "Harbour", far_cam, 59.5000, 18.5000).await;
    let op = support::user_token(&e.store, "op", Role::Operator, Scope::cameras([cam])).await;
    let raise = |body: Value| e.call(&op, "POST", "/api/alerts", body);

    // Refused, each with the reason, and nothing raised.
    let call_at = |lat: f64, lon: f64| {
        json!({"source": "call", "lat": lat, "lon": lon, "phenomenon": "fight",
               "severity": "high", "description": "Two youths fighting by the kiosk"})
    };
    let (s, v) = raise(call_at(60.0, 19.0)).await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("1000 m"),
        "{v}"
    );
    let (s, v) = raise(call_at(59.5001, 18.5001)).await;
    assert_eq!(s, 400, "a hotspot outside the scope is not offered: {v}");
    let (s, v) = raise(json!({"source": "camera", "camera": far_cam.to_string(),
        "phenomenon": "fight", "severity": "high", "description": "x"}))
    .await;
    assert_eq!(
        s, 404,
        "a camera outside the scope answers like a missing one: {v}"
    );
    for bad in [
        json!({"source": "call", "lat": 59.33, "lon": 18.06, "phenomenon": "<b>",
               "severity": "high", "description": "x"}),
        json!({"source": "call", "lat": 59.33, "lon": 18.06, "phenomenon": "fight",
               "severity": "urgent", "description": "x"}),
        json!({"source": "call", "lat": 59.33, "lon": 18.06, "phenomenon": "fight",
               "severity": "high", "description": "  "}),
        json!({"source": "call", "phenomenon": "fight", "severity": "high", "description": "x"}),
    ] {
        let (s, v) = raise(bad.clone()).await;
        assert_eq!(s, 400, "{bad} → {v}");
    }
    let (_, v) = e.call(&op, "GET", "/api/alerts", Value::Null).await;
    assert_eq!(v, json!([]));

    // A resident's call 200 m from the Square: an alert of the Square at the caller's place,
    // with the Square's camera as its evidence, raised by the operator.
    let (s, v) = raise(call_at(59.3318, 18.0600)).await;
    assert_eq!(s, 201, "{v}");
    let a = &v["alert"];
    let alert = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        (a["hotspot"].as_str(), a["place"].as_str()),
        (Some(square.to_string().as_str()), Some("Square"))
    );
    assert_eq!(a["location"], json!({"lat": 59.3318, "lon": 18.06}));
    assert_eq!(a["cameras"], json!([cam.to_string()]));
    assert_eq!(
        (a["state"].as_str(), v["merged"].as_bool()),
        (Some("new"), Some(false))
    );
    let (_, d) = e
        .call(&op, "GET", &format!("/api/alerts/{alert}"), Value::Null)
        .await;
    let raised = &d["events"][0];
    assert_eq!(
        (raised["kind"].as_str(), raised["actor"].as_str()),
        (Some("raised"), Some("op"))
    );
    assert_eq!(raised["detail"]["text"], "Two youths fighting by the kiosk");
    // The gathering of detected incidents does not take it again.
    assert_eq!(e.svc.ingest_once().await.unwrap(), 0);
    // Seen on the camera a moment later: it joins the open alert of the same hotspot.
    let (s, v) = raise(
        json!({"source": "camera", "camera": cam.to_string(), "phenomenon": "fight",
        "severity": "critical", "description": "Now four of them"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["alert"]["id"].as_str(), v["merged"].as_bool()),
        (Some(alert.as_str()), Some(true))
    );
    assert_eq!(v["alert"]["severity"], "critical");

    // A volunteer patrol: dispatched with a text, it receives the place, the state and the text;
    // no pictures, footage, cameras, incidents or names, and no notes.
    let (s, v) = e
        .call(
            &e.admin,
            "POST",
            "/api/units",
            json!({"name": "parents-1", "kind": "volunteer"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (vol, vol_token) = (
        v["id"].as_str().unwrap().to_string(),
        v["token"].as_str().unwrap().to_string(),
    );
    let (_, units) = e.call(&op, "GET", "/api/units", Value::Null).await;
    assert!(
        units["units"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == vol.as_str() && u["kind"] == "volunteer"),
        "{units}"
    );
    let mut vol_ws = ws(&e, &vol_token, None).await;
    for step in ["claim", "acknowledge"] {
        let (s, v) = e
            .call(
                &op,
                "POST",
                &format!("/api/alerts/{alert}/{step}"),
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{step}: {v}");
    }
    let text = "Youths fighting by the kiosk, north side";
    let (s, v) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/dispatch"),
            json!({"units": [vol], "text": text}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let m = next(&mut vol_ws).await;
    assert_eq!(m["kind"], "dispatch");
    assert_eq!(m["detail"], json!({"text": text}));
    assert_eq!(m["actor"], "");
    let sum = &m["summary"];
    assert_eq!(
        (sum["place"].as_str(), sum["location"]["lat"].as_f64()),
        (Some("Square"), Some(59.3318))
    );
    for hidden in ["snapshot", "clip", "claimed_by"] {
        assert!(sum[hidden].is_null(), "{hidden}: {m}");
    }
    assert_eq!(
        (sum["incidents"].clone(), sum["cameras"].clone()),
        (json!([]), json!([]))
    );
    // Its list says the same: the text, the place, no pictures or cameras.
    let (_, v) = e
        .call(&vol_token, "GET", "/api/units/me/alerts", Value::Null)
        .await;
    let d = &v["dispatches"][0];
    assert_eq!(
        (d["text"].as_str(), d["alert"]["place"].as_str()),
        (Some(text), Some("Square"))
    );
    assert!(
        d["alert"]["snapshot"].is_null() && d["alert"]["clip"].is_null(),
        "{d}"
    );
    assert_eq!(d["alert"]["cameras"], json!([]));
    // A text that is too long is refused.
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/dispatch"),
            json!({"units": [vol], "text": "x".repeat(281)}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/note"),
            json!({"text": "Caller is Dana from no. 5"}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = e
        .call(
            &op,
            "POST",
            &format!("/api/alerts/{alert}/resolve"),
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let m = next(&mut vol_ws).await;
    assert_eq!(
        m["kind"], "resolve",
        "the note must not reach a volunteer: {m}"
    );
    assert!(!m.to_string().contains("Dana"), "{m}");
    // The same on its list, and no snapshot route.
    let (s, snap) = e
        .call(
            &vol_token,
            "GET",
            &format!("/api/units/me/alerts/{alert}/snapshot"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 403, "{snap}");
    vol_ws.close().await;
}
