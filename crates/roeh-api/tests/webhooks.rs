//! Outbound webhooks against a real local receiver: signed deliveries, retries with backoff under
//! one idempotency key until a 2xx, no redirects, dead after the last attempt, a restarted worker
//! resumes the outbox without resending, secrets never leave the API, and only admins manage
//! subscriptions.

#![allow(clippy::unwrap_used)]

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use roeh_api::alerts::{AlertsService, AlertsSettings};
use roeh_api::webhooks::{WebhookSettings, WebhookWorker};
use roeh_api::{AppState, CameraControl};
use roeh_auth::{Role, Scope};
use roeh_domain::{Camera, CameraId, Clock, SimClock, StreamHealth, WallTime};
use roeh_store::{AlertIncident, NewAlert, NewIncident, Store};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec_4f9c2d1e8a7b6c5d";

struct NoCameras;

impl CameraControl for NoCameras {
    fn health(&self, _id: CameraId) -> Option<StreamHealth> {
        None
    }
    fn start_camera(&self, _camera: Camera) {}
    fn stop_camera(&self, _id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    key: String,
    event: String,
    timestamp: String,
    signature: String,
    body: Vec<u8>,
    signed: bool,
}

/// A webhook receiver: checks each signature with the shared secret, records the request, and
/// answers the next scripted status (200 once the script is used up).
#[derive(Default)]
struct Receiver {
    got: Mutex<Vec<Got>>,
    script: Mutex<VecDeque<u16>>,
}

impl Receiver {
    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (timestamp, signature) = (h("x-roeh-timestamp"), h("x-roeh-signature"));
    let signed = roeh_api::webhooks::verify(SECRET.as_bytes(), &timestamp, &body, &signature);
    r.got.lock().unwrap().push(Got {
        path: uri.path().to_string(),
        key: h("idempotency-key"),
        event: h("x-roeh-event"),
        timestamp,
        signature,
        body: body.to_vec(),
        signed,
    });
    let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
    let mut resp =
        axum::response::IntoResponse::into_response(StatusCode::from_u16(status).unwrap());
    if (300..400).contains(&status) {
        resp.headers_mut()
            .insert("location", "/elsewhere".parse().unwrap());
    }
    resp
}

async fn receiver(script: &[u16]) -> (Arc<Receiver>, String) {
    let r = Arc::new(Receiver::default());
    r.script.lock().unwrap().extend(script.iter().copied());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .route("/elsewhere", axum::routing::post(receive))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, format!("http://{addr}/hook"))
}

struct Env {
    addr: std::net::SocketAddr,
    store: Store,
    key: roeh_store::CredentialKey,
    clock: Arc<SimClock>,
    http: reqwest::Client,
    admin: String,
    db: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn call(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, String) {
        let url = format!("http://{}{path}", self.addr);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let resp = req.bearer_auth(token).send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (s, t) = self.call(&self.admin, method, path, body).await;
        (s, serde_json::from_str(&t).unwrap_or(Value::Null))
    }

    fn worker(&self, store: Store, settings: WebhookSettings) -> Arc<WebhookWorker> {
        WebhookWorker::new(store, self.clock.clone() as Arc<dyn Clock>, settings).unwrap()
    }

    fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    /// Raises an alert at `hotspot` directly in the store; returns its event's seq.
    async fn raise(&self, hotspot: uuid::Uuid) -> u64 {
        let now = self.clock.wall();
        let inc = NewIncident {
            id: uuid::Uuid::new_v4(),
            rule_id: uuid::Uuid::from_u128(42),
            camera: CameraId::new_random(),
            hotspot_id: hotspot,
            seq: 1,
            kind: "fight".into(),
            severity: "high".into(),
            priority: 4,
            alerting: true,
            reason: "test".into(),
            opened_at: now,
            peak_score: 0.9,
            track_ids: vec![1],
            model_id: "m".into(),
            evidence_start: now,
        };
        self.store.insert_incident(&inc).await.unwrap();
        let link = AlertIncident {
            incident_id: inc.id,
            rule_id: inc.rule_id,
            camera: inc.camera,
            opened_at: now,
        };
        let new = NewAlert {
            id: uuid::Uuid::new_v4(),
            hotspot_id: hotspot,
            severity: "high".into(),
            priority: 4,
            lat: None,
            lon: None,
            created_at: now,
        };
        let (_, ev, _) = self
            .store
            .raise_or_merge_alert(&link, &new, "system", |_| None)
            .await
            .unwrap()
            .unwrap();
        ev.seq
    }

    async fn subscribe(&self, url: &str, filter: Value) -> String {
        let mut body = json!({"name": "dispatch centre", "url": url, "secret": SECRET});
        if let (Some(b), Some(f)) = (body.as_object_mut(), filter.as_object()) {
            b.extend(f.clone());
        }
        let (s, text) = self.call(&self.admin, "POST", "/api/webhooks", body).await;
        assert_eq!(s, 201, "{text}");
        assert!(!text.contains(SECRET), "the secret is write-only: {text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("secret").is_none());
        v["id"].as_str().unwrap().to_string()
    }

    async fn deliveries(&self, id: &str) -> Vec<Value> {
        let (s, v) = self
            .json(
                "GET",
                &format!("/api/webhooks/{id}/deliveries"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().clone()
    }
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("roeh.db").to_str().unwrap().to_string();
    let store = Store::open(&db).await.unwrap();
    let key = roeh_store::CredentialKey::generate().unwrap();
    store.set_credential_key(key.clone()).unwrap();
    let clock = Arc::new(SimClock::new(WallTime::from_secs(1_790_000_000)));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let custody = support::custody(&store, dyn_clock.clone(), dir.path()).await;
    let state = AppState {
        store: store.clone(),
        alerts: AlertsService::new(store.clone(), dyn_clock.clone(), AlertsSettings::default()),
        control: Arc::new(NoCameras),
        footage_root: dir.path().join("footage"),
        clock: dyn_clock,
        custody,
        onvif: Arc::new(roeh_api::onvif::OnvifSettings::default()),
        analytics: None,
        auth: support::auth_state(),
    };
    let admin = support::admin_token(&store).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(roeh_api::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Env {
        addr,
        store,
        key,
        clock,
        http: reqwest::Client::new(),
        admin,
        db,
        _stop: stop,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_the_same_signed_delivery_until_2xx_and_a_restart_resumes() {
    let e = env().await;
    let (rx, url) = receiver(&[500, 500]).await;
    let hotspot = uuid::Uuid::new_v4();
    // An event from before the subscription is not sent.
    e.raise(hotspot).await;
    let id = e.subscribe(&url, json!({})).await;
    let seq = e.raise(hotspot).await;

    let settings = WebhookSettings::default();
    let w1 = e.worker(e.store.clone(), settings);
    assert_eq!(w1.enqueue_once().await.unwrap(), 1);
    assert_eq!(w1.enqueue_once().await.unwrap(), 0, "enqueued once");
    assert_eq!(w1.deliver_once().await.unwrap(), 1);
    let d = e.deliveries(&id).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["seq"], seq);
    assert_eq!(d[0]["state"], "pending");
    assert_eq!(d[0]["attempts"], 1);
    assert_eq!(d[0]["last_status"], 500);
    assert_eq!(d[0]["last_error"], "answered HTTP 500");

    // Not due before its backoff (1 s), then due; the second failure waits 2 s.
    assert_eq!(w1.deliver_once().await.unwrap(), 0);
    e.advance(Duration::from_secs(1));
    assert_eq!(w1.deliver_once().await.unwrap(), 1);
    e.advance(Duration::from_secs(1));
    assert_eq!(w1.deliver_once().await.unwrap(), 0);
    e.advance(Duration::from_secs(1));
    assert_eq!(w1.deliver_once().await.unwrap(), 1);
    let d = e.deliveries(&id).await;
    assert_eq!(
        (&d[0]["state"], &d[0]["attempts"], &d[0]["last_status"]),
        (&json!("delivered"), &json!(3), &json!(200))
    );
    assert!(d[0]["delivered_at"].is_string());
    e.advance(Duration::from_secs(3600));
    assert_eq!(w1.deliver_once().await.unwrap(), 0, "delivered is final");

    let got = rx.got();
    assert_eq!(got.len(), 3);
    let key = format!("{id}-{seq}");
    for g in &got {
        assert!(g.signed, "signature checks with the shared secret: {g:?}");
        assert_eq!(g.key, key, "one idempotency key on every attempt");
        assert_eq!(g.event, "raised");
        assert_eq!(g.body, got[0].body, "the same body on every attempt");
        assert!(g.signature.starts_with("sha256="));
    }
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["seq"], seq);
    assert_eq!(body["kind"], "raised");
    assert_eq!(body["hotspot"], hotspot.to_string());
    assert_eq!(body["idempotency_key"], key);
    assert!(!String::from_utf8_lossy(&got[0].body).contains(SECRET));

    // A forged or changed body, or a replayed signature with another timestamp, fails.
    let g = &got[0];
    let secret = SECRET.as_bytes();
    let mut forged = g.body.clone();
    forged.extend_from_slice(b" ");
    assert!(!roeh_api::webhooks::verify(
        secret,
        &g.timestamp,
        &forged,
        &g.signature
    ));
    let changed = String::from_utf8(g.body.clone())
        .unwrap()
        .replace("raised", "resolv");
    assert!(!roeh_api::webhooks::verify(
        secret,
        &g.timestamp,
        changed.as_bytes(),
        &g.signature
    ));
    let later = (g.timestamp.parse::<i64>().unwrap() + 1).to_string();
    assert!(!roeh_api::webhooks::verify(
        secret,
        &later,
        &g.body,
        &g.signature
    ));
    assert!(!roeh_api::webhooks::verify(
        b"another secret!!",
        &g.timestamp,
        &g.body,
        &g.signature
    ));

    // Enqueued (persisted) but not sent when the worker stops.
    let seq2 = e.raise(hotspot).await;
    assert_eq!(w1.enqueue_once().await.unwrap(), 1);
    drop(w1);

    // A new worker on a fresh handle of the same database file resumes the outbox.
    let reopened = Store::open(&e.db).await.unwrap();
    reopened.set_credential_key(e.key.clone()).unwrap();
    let w2 = e.worker(reopened, settings);
    assert_eq!(
        w2.enqueue_once().await.unwrap(),
        0,
        "nothing enqueued twice"
    );
    assert_eq!(w2.deliver_once().await.unwrap(), 1);
    assert_eq!(w2.deliver_once().await.unwrap(), 0);
    let got = rx.got();
    assert_eq!(got.len(), 4, "the delivered one is not resent");
    assert_eq!(got[3].key, format!("{id}-{seq2}"));
    assert!(got[3].signed);
    let d = e.deliveries(&id).await;
    assert_eq!(
        d.iter()
            .map(|d| (d["seq"].as_u64().unwrap(), d["state"].clone()))
            .collect::<Vec<_>>(),
        vec![(seq2, json!("delivered")), (seq, json!("delivered"))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_the_last_failure_is_dead() {
    let e = env().await;
    let (rx, url) = receiver(&[302, 503]).await;
    let id = e.subscribe(&url, json!({})).await;
    let seq = e.raise(uuid::Uuid::new_v4()).await;
    let w = e.worker(
        e.store.clone(),
        WebhookSettings {
            max_attempts: 2,
            ..Default::default()
        },
    );
    w.enqueue_once().await.unwrap();
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    e.advance(Duration::from_secs(1));
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    e.advance(Duration::from_secs(3600));
    assert_eq!(w.deliver_once().await.unwrap(), 0, "dead is final");
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(
        got.iter().all(|g| g.path == "/hook"),
        "no redirect followed"
    );
    let d = e.deliveries(&id).await;
    assert_eq!(d[0]["seq"], seq);
    assert_eq!(d[0]["state"], "dead");
    assert_eq!(d[0]["attempts"], 2);
    assert_eq!(d[0]["last_status"], 503);
    assert_eq!(d[0]["last_error"], "answered HTTP 503");
    assert!(d[0]["delivered_at"].is_null());

    // An unreachable receiver is a failure too, recorded without the URL.
    let (s, _) = e
        .call(
            &e.admin,
            "DELETE",
            &format!("/api/webhooks/{id}"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 204);
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hook?token=abc", closed.local_addr().unwrap());
    drop(closed);
    let id2 = e.subscribe(&dead_url, json!({})).await;
    e.raise(uuid::Uuid::new_v4()).await;
    w.enqueue_once().await.unwrap();
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    let d = e.deliveries(&id2).await;
    assert_eq!(d[0]["state"], "pending");
    assert!(d[0]["last_status"].is_null());
    let err = d[0]["last_error"].as_str().unwrap();
    assert!(!err.contains("token=abc"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_validation_secrets_and_admin_only() {
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let (h1, h2) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let only_h1 = e.subscribe(&url, json!({"hotspots": [h1]})).await;
    let only_claims = e.subscribe(&url, json!({"kinds": ["claim"]})).await;
    let off = e.subscribe(&url, json!({"enabled": false})).await;
    let s1 = e.raise(h1).await;
    e.raise(h2).await;
    let w = e.worker(e.store.clone(), WebhookSettings::default());
    assert_eq!(w.enqueue_once().await.unwrap(), 1);
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].key, format!("{only_h1}-{s1}"));
    assert!(e.deliveries(&only_claims).await.is_empty());
    assert!(e.deliveries(&off).await.is_empty());

    // Listing shows the subscriptions and their filters, never a secret.
    let (s, text) = e.call(&e.admin, "GET", "/api/webhooks", Value::Null).await;
    assert_eq!(s, 200);
    assert!(!text.contains(SECRET), "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|w| w.get("secret").is_none())
    );
    let h1s = h1.to_string();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|w| w["hotspots"] == json!([h1s]))
    );

    // Validation.
    for bad in [
        json!({"name": "x", "url": "ftp://127.0.0.1/", "secret": SECRET}),
        json!({"name": "x", "url": "http://u:p@127.0.0.1/", "secret": SECRET}),
        json!({"name": "x", "url": "not a url", "secret": SECRET}),
        json!({"name": "x", "url": url, "secret": "short"}),
        json!({"name": "", "url": url, "secret": SECRET}),
        json!({"name": "x", "url": url, "secret": SECRET, "kinds": ["Bad Kind"]}),
        json!({"name": "x", "url": url, "secret": SECRET, "extra": 1}),
        json!({"name": "x", "url": url}),
    ] {
        let (s, text) = e.call(&e.admin, "POST", "/api/webhooks", bad.clone()).await;
        assert_eq!(s, 400, "{bad}: {text}");
        assert!(!text.contains(SECRET), "{text}");
    }

    // Non-admin roles are refused on every webhook route.
    for (i, role) in [
        Role::Supervisor,
        Role::Operator,
        Role::Investigator,
        Role::Integrator,
        Role::Unit,
    ]
    .into_iter()
    .enumerate()
    {
        let t =
            support::user_token(&e.store, &format!("user{i}"), role, Scope::unrestricted()).await;
        for (m, p) in [
            ("GET", "/api/webhooks".to_string()),
            ("POST", "/api/webhooks".to_string()),
            ("DELETE", format!("/api/webhooks/{only_h1}")),
            ("GET", format!("/api/webhooks/{only_h1}/deliveries")),
        ] {
            let body = json!({"name": "x", "url": url, "secret": SECRET});
            let (s, text) = e.call(&t, m, &p, body).await;
            assert_eq!(s, 403, "{role:?} {m} {p}: {text}");
        }
    }
    let (s, _) = e
        .call("not-a-token", "GET", "/api/webhooks", Value::Null)
        .await;
    assert_eq!(s, 401);

    // Delete removes the subscription and its deliveries.
    let (s, _) = e
        .call(
            &e.admin,
            "DELETE",
            &format!("/api/webhooks/{only_h1}"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 204);
    for p in [
        format!("/api/webhooks/{only_h1}/deliveries"),
        "/api/webhooks/nope/deliveries".to_string(),
    ] {
        let (s, _) = e.call(&e.admin, "GET", &p, Value::Null).await;
        assert_eq!(s, 404, "{p}");
    }
    let (s, _) = e
        .call(
            &e.admin,
            "DELETE",
            &format!("/api/webhooks/{only_h1}"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(e.store.list_webhooks().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spawned_worker_delivers_and_stops() {
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let id = e.subscribe(&url, json!({})).await;
    let seq = e.raise(uuid::Uuid::new_v4()).await;
    let w = e.worker(
        e.store.clone(),
        WebhookSettings {
            poll_every: Duration::from_millis(20),
            ..Default::default()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = w.spawn(async move {
        let _ = stopped.await;
    });
    // A guard against a hung test, not a timing assertion.
    tokio::time::timeout(Duration::from_secs(30), async {
        while rx.got().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .unwrap();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rx.got()[0].key, format!("{id}-{seq}"));
    assert!(rx.got()[0].signed);
}
