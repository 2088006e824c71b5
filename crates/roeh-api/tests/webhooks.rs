//! Outbound webhooks against a real local receiver: signed deliveries, retries with backoff under
//! one idempotency key until a 2xx, no redirects, dead after the last attempt, a restarted worker
//! resumes the outbox without resending, secrets never leave the API, and only admins manage
//! subscriptions. The target allow-list refuses internal addresses at creation and again at
//! every attempt; subscriptions are disabled and enabled; deliveries page; HTTPS receivers are
//! trusted through a site CA.
//!
//! Receivers run on 127.0.0.1, so most tests allow `127.0.0.0/8` (and `::1`) and plain http
//! explicitly ([`local`]); the defaults refuse both.

#![allow(clippy::unwrap_used)]

mod support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use roeh_api::alerts::AlertsSettings;
use roeh_api::webhooks::{Cidr, WebhookSettings, WebhookWorker};
use roeh_auth::{Role, Scope};
use roeh_domain::{CameraId, Clock, SimClock, WallTime};
use roeh_store::{AlertIncident, NewAlert, NewIncident, Store};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec_4f9c2d1e8a7b6c5d";

/// Settings that let webhooks reach receivers on this machine over plain http.
fn local() -> WebhookSettings {
    WebhookSettings {
        allowed_networks: vec![
            Cidr::parse("127.0.0.0/8").unwrap(),
            Cidr::parse("::1/128").unwrap(),
        ],
        allow_http: true,
        ..Default::default()
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
    content_type: String,
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
        content_type: h("content-type"),
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

/// The API served with a test site on a simulated clock.
type Env = support::HttpSite<SimClock>;

impl support::HttpSite<SimClock> {
    /// `GET`, `DELETE`, or `POST` with the body (`null` included) as `token`.
    async fn call(&self, token: &str, method: &str, path: &str, body: Value) -> (u16, String) {
        let method = if matches!(method, "GET" | "DELETE") {
            method
        } else {
            "POST"
        };
        let body = (method == "POST").then_some(&body);
        support::call(&self.http, self.addr, Some(token), method, path, body).await
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (s, t) = self.call(&self.admin, method, path, body).await;
        (s, support::json(&t))
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
            evidence_start: now,
            ..support::incident(hotspot, CameraId::new_random(), now)
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

/// An API whose create route checks targets with [`local`] settings.
async fn env() -> Env {
    env_with(Some(local())).await
}

/// An API whose create route checks targets with `settings` (through a worker's layer), or with
/// no worker installed at all.
async fn env_with(settings: Option<WebhookSettings>) -> Env {
    let clock = Arc::new(SimClock::new(WallTime::from_secs(1_790_000_000)));
    let site = support::site(clock.clone(), AlertsSettings::default()).await;
    match settings {
        Some(settings) => {
            let worker = WebhookWorker::new(
                site.store.clone(),
                clock.clone() as Arc<dyn Clock>,
                settings,
            )
            .unwrap();
            let app =
                roeh_api::router(site.state.clone()).layer(roeh_api::webhooks::layer(&worker));
            site.serve_app(app, clock).await
        }
        None => site.serve(clock).await,
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

    let settings = local();
    let w1 = e.worker(e.store.clone(), settings.clone());
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

    // A new worker on a fresh handle of the same database resumes the outbox.
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
            ..local()
        },
    );
    w.enqueue_once().await.unwrap();
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    let d = e.deliveries(&id).await;
    assert_eq!(d[0]["last_status"], 302);
    assert_eq!(
        d[0]["last_error"],
        "answered HTTP 302; redirects are not followed"
    );
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
    let w = e.worker(e.store.clone(), local());
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
            ("POST", format!("/api/webhooks/{only_h1}/disable")),
            ("POST", format!("/api/webhooks/{only_h1}/enable")),
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

/// The worker as `roeh serve` runs it, with its look for other processes' events an hour away:
/// it delivers what it finds at start, then is woken by each committed event and by the retry
/// falling due, and stops when told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spawned_worker_delivers_on_commits_and_retries_at_their_time_and_stops() {
    let e = env().await;
    // The second request fails once.
    let (rx, url) = receiver(&[200, 500]).await;
    let id = e.subscribe(&url, json!({})).await;
    let hotspot = uuid::Uuid::new_v4();
    let first = e.raise(hotspot).await;
    let w = e.worker(
        e.store.clone(),
        WebhookSettings {
            poll_every: Duration::from_secs(3600),
            first_backoff: Duration::from_secs(1),
            ..local()
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = w.spawn(async move {
        let _ = stopped.await;
    });
    // A guard against a hung test, not a timing assertion.
    let until = |n: usize| {
        let rx = rx.clone();
        tokio::time::timeout(Duration::from_secs(30), async move {
            while rx.got().len() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    until(1).await.expect("the event found at start");
    assert_eq!(rx.got()[0].key, format!("{id}-{first}"));
    assert!(rx.got()[0].signed);
    // Committed while the worker sleeps: delivered, and refused once.
    let second = e.raise(hotspot).await;
    until(2).await.expect("woken by the commit");
    assert_eq!(rx.got()[1].key, format!("{id}-{second}"));
    // Its retry is due a second later on the site's clock: not before.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.got().len(), 2, "retried before its time");
    e.clock.advance(Duration::from_secs(1));
    until(3).await.expect("woken when the retry fell due");
    assert_eq!(rx.got()[2].key, format!("{id}-{second}"));
    let d = e
        .store
        .webhook_deliveries(id.parse().unwrap(), 10)
        .await
        .unwrap();
    assert!(
        d.iter()
            .all(|d| d.state == roeh_store::DeliveryState::Delivered),
        "{d:?}"
    );
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .unwrap()
        .unwrap();
}

/// The message of an error answer.
fn message(text: &str) -> String {
    let v = support::json(text);
    v["error"]["message"].as_str().unwrap_or(text).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_settings_refuse_internal_targets_and_store_nothing() {
    // Without a worker installed, and with a worker on the default settings: the same policy.
    for e in [
        env_with(None).await,
        env_with(Some(WebhookSettings::default())).await,
    ] {
        let mut refused = vec![
            // Plain http is refused whatever the address.
            ("http://127.0.0.1/hook", "allow_http"),
            ("http://169.254.169.254/", "allow_http"),
            ("http://[::1]/", "allow_http"),
            ("http://10.0.0.1/", "allow_http"),
            ("http://localhost/", "allow_http"),
            ("http://93.184.216.34/hook", "allow_http"),
            // Over https, the address is what is refused, and the answer says what it is.
            ("https://127.0.0.1/hook", "127.0.0.1 is a loopback address"),
            ("https://127.0.0.1:8443/hook", "loopback"),
            ("https://2130706433/hook", "127.0.0.1 is a loopback address"),
            ("https://169.254.169.254/latest/meta-data/", "link-local"),
            ("https://[::1]/", "::1 is a loopback address"),
            ("https://[::ffff:127.0.0.1]/", "loopback"),
            ("https://[fe80::1]/", "link-local"),
            ("https://10.0.0.1/", "10.0.0.1 is a private address"),
            ("https://192.168.1.10/", "private"),
            ("https://[fd12::1]/", "private"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://224.0.0.1/", "multicast"),
            ("https://localhost/hook", "the host resolves to"),
            // Credentials in the URL, and schemes other than http(s).
            ("https://user:pw@93.184.216.34/", "credentials"),
            ("https://user@93.184.216.34/", "credentials"),
            ("ftp://93.184.216.34/", "https"),
            ("file:///etc/passwd", "https"),
            ("gopher://93.184.216.34:70/", "https"),
            ("ws://93.184.216.34/", "https"),
            ("javascript:alert(1)", "https"),
            ("data:text/plain,hi", "https"),
        ];
        // A host name resolving to loopback names the reason too.
        refused.push(("https://localhost:8443/", "loopback"));
        for (url, why) in refused {
            let body = json!({"name": "x", "url": url, "secret": SECRET});
            let (s, text) = e.call(&e.admin, "POST", "/api/webhooks", body).await;
            assert_eq!(s, 400, "{url}: {text}");
            let m = message(&text);
            assert!(m.contains(why), "{url}: {m}");
        }
        assert!(
            e.store.list_webhooks().await.unwrap().is_empty(),
            "nothing stored"
        );
        // A public address over https is a target (no name to resolve here).
        let id = e.subscribe("https://93.184.216.34/hook", json!({})).await;
        assert_eq!(e.store.list_webhooks().await.unwrap().len(), 1);
        assert!(
            e.store
                .get_webhook(id.parse().unwrap())
                .await
                .unwrap()
                .is_some()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_the_worker_forbids_fails_at_delivery_and_receives_nothing() {
    // Allowed when created (the API's settings permit loopback), forbidden when delivered: a
    // changed configuration, or a name that resolves elsewhere by then.
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let literal = e.subscribe(&url, json!({})).await;
    let named = e.subscribe(&by_name, json!({})).await;
    let seq = e.raise(uuid::Uuid::new_v4()).await;

    // No plain http: refused before anything is resolved or sent.
    let https_only = e.worker(
        e.store.clone(),
        WebhookSettings {
            allow_http: false,
            ..local()
        },
    );
    assert_eq!(https_only.enqueue_once().await.unwrap(), 2);
    assert_eq!(https_only.deliver_once().await.unwrap(), 2);
    for id in [&literal, &named] {
        let d = e.deliveries(id).await;
        assert_eq!(d[0]["state"], "pending");
        assert_eq!(d[0]["attempts"], 1);
        assert!(d[0]["last_status"].is_null());
        let err = d[0]["last_error"].as_str().unwrap();
        assert!(
            err.starts_with("blocked: ") && err.contains("allow_http"),
            "{err}"
        );
    }

    // Plain http allowed, loopback not: the literal is refused before sending, the name inside
    // the client's resolver, before any connection.
    let public_only = e.worker(
        e.store.clone(),
        WebhookSettings {
            allow_http: true,
            ..Default::default()
        },
    );
    e.advance(Duration::from_secs(1));
    assert_eq!(public_only.deliver_once().await.unwrap(), 2);
    let d = e.deliveries(&literal).await;
    let err = d[0]["last_error"].as_str().unwrap();
    assert!(
        err.starts_with("blocked: the address 127.0.0.1 is a loopback address"),
        "{err}"
    );
    let d = e.deliveries(&named).await;
    assert_eq!(d[0]["attempts"], 2);
    let err = d[0]["last_error"].as_str().unwrap();
    // 127.0.0.1 or ::1, whichever the resolver answers first.
    assert!(
        err.starts_with("blocked: the host resolves to ") && err.contains(", a loopback address"),
        "{err}"
    );
    assert!(err.ends_with("nothing was sent"), "{err}");
    assert!(
        !err.contains("localhost") && !err.contains("/hook"),
        "no URL: {err}"
    );
    assert!(rx.got().is_empty(), "nothing reached the receiver");

    // The same deliveries go out once the worker's settings permit the receiver.
    let permitted = e.worker(e.store.clone(), local());
    e.advance(Duration::from_secs(2));
    assert_eq!(permitted.deliver_once().await.unwrap(), 2);
    let got = rx.got();
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|g| g.signed));
    let mut keys: Vec<_> = got.iter().map(|g| g.key.clone()).collect();
    keys.sort();
    let mut want = vec![format!("{literal}-{seq}"), format!("{named}-{seq}")];
    want.sort();
    assert_eq!(keys, want);
    for id in [&literal, &named] {
        let d = e.deliveries(id).await;
        assert_eq!(
            (&d[0]["state"], &d[0]["attempts"]),
            (&json!("delivered"), &json!(3))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_subscription_gets_nothing_new_and_its_pending_deliveries_wait() {
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let hotspot = uuid::Uuid::new_v4();
    let id = e.subscribe(&url, json!({})).await;
    let other = e.subscribe(&url, json!({})).await;
    let w = e.worker(e.store.clone(), local());
    let s1 = e.raise(hotspot).await;
    assert_eq!(w.enqueue_once().await.unwrap(), 2);

    // Disabled before its delivery went out: it waits; the other subscription is served.
    let (s, v) = e
        .json("POST", &format!("/api/webhooks/{id}/disable"), Value::Null)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((&v["id"], &v["enabled"]), (&json!(id), &json!(false)));
    assert!(v.get("secret").is_none());
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    assert_eq!(rx.got().len(), 1);
    assert_eq!(rx.got()[0].key, format!("{other}-{s1}"));
    let d = e.deliveries(&id).await;
    assert_eq!(
        (&d[0]["state"], &d[0]["attempts"]),
        (&json!("pending"), &json!(0))
    );

    // Events while disabled are not queued for it, not even after it is enabled again.
    let s2 = e.raise(hotspot).await;
    assert_eq!(w.enqueue_once().await.unwrap(), 1, "only the other one");
    let (s, _) = e
        .json("POST", &format!("/api/webhooks/{id}/disable"), Value::Null)
        .await;
    assert_eq!(s, 200, "disabling twice is fine");
    let (s, v) = e
        .json("POST", &format!("/api/webhooks/{id}/enable"), Value::Null)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["enabled"], true);
    assert_eq!(w.enqueue_once().await.unwrap(), 0);
    // The waiting delivery goes out now; later events are delivered again.
    assert_eq!(w.deliver_once().await.unwrap(), 2);
    let s3 = e.raise(hotspot).await;
    assert_eq!(w.enqueue_once().await.unwrap(), 2);
    assert_eq!(w.deliver_once().await.unwrap(), 2);
    let seqs: Vec<u64> = e
        .deliveries(&id)
        .await
        .iter()
        .map(|d| d["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![s3, s1], "{s2} was never queued for it");
    let mine: Vec<String> = rx
        .got()
        .iter()
        .filter(|g| g.key.starts_with(&id))
        .map(|g| g.key.clone())
        .collect();
    assert_eq!(mine, vec![format!("{id}-{s1}"), format!("{id}-{s3}")]);
    let listed = e
        .store
        .get_webhook(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(listed.enabled);

    // Unknown ids; the changes are audited like the other webhook changes.
    for p in [
        "/api/webhooks/nope/enable".to_string(),
        format!("/api/webhooks/{}/disable", uuid::Uuid::new_v4()),
    ] {
        let (s, _) = e.call(&e.admin, "POST", &p, Value::Null).await;
        assert_eq!(s, 404, "{p}");
    }
    for (action, n) in [
        ("POST /api/webhooks/{id}/disable", 2),
        ("POST /api/webhooks/{id}/enable", 1),
    ] {
        let audit = e
            .store
            .audit(&roeh_store::AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let ok: Vec<_> = audit
            .iter()
            .filter(|a| a.entry.outcome == "ok")
            .map(|a| a.entry.clone())
            .collect();
        assert_eq!(ok.len(), n, "{action}: {audit:?}");
        assert!(ok.iter().all(|a| a.actor == "admin"
            && a.target.as_deref().is_some_and(|t| t.contains(&id))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_page_newest_first_by_seq() {
    let e = env().await;
    let (_rx, url) = receiver(&[]).await;
    let id = e.subscribe(&url, json!({})).await;
    let mut seqs = Vec::new();
    for _ in 0..5 {
        seqs.push(e.raise(uuid::Uuid::new_v4()).await);
    }
    let w = e.worker(e.store.clone(), local());
    assert_eq!(w.enqueue_once().await.unwrap(), 5);
    seqs.reverse();
    let page = |q: String| {
        let e = &e;
        let id = &id;
        async move {
            let (s, v) = e
                .json(
                    "GET",
                    &format!("/api/webhooks/{id}/deliveries{q}"),
                    Value::Null,
                )
                .await;
            assert_eq!(s, 200, "{q}: {v}");
            v.as_array()
                .unwrap()
                .iter()
                .map(|d| d["seq"].as_u64().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(page(String::new()).await, seqs);
    assert_eq!(page("?limit=2".into()).await, seqs[..2]);
    assert_eq!(
        page(format!("?limit=2&before={}", seqs[1])).await,
        seqs[2..4]
    );
    assert_eq!(
        page(format!("?before={}&limit=2", seqs[3])).await,
        seqs[4..],
        "a short page is the last"
    );
    assert!(page(format!("?before={}", seqs[4])).await.is_empty());
    assert_eq!(page("?limit=1000".into()).await, seqs);

    for bad in [
        "?limit=0",
        "?limit=1001",
        "?limit=-1",
        "?limit=ten",
        "?before=0",
        "?before=-5",
        "?before=abc",
        "?since=1",
    ] {
        let (s, text) = e
            .call(
                &e.admin,
                "GET",
                &format!("/api/webhooks/{id}/deliveries{bad}"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 400, "{bad}: {text}");
    }
    let (s, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    assert_eq!(s, 200);
    let op = &doc["paths"]["/api/webhooks/{id}/deliveries"]["get"];
    assert_eq!(op["x-roeh-pagination"], "cursor");
    let params: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        params.contains(&"before") && params.contains(&"limit"),
        "{params:?}"
    );
}

/// A webhook receiver over TLS: the [`Receiver`] behind a rustls acceptor. Handshakes the
/// client aborts are counted and never reach the handler.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    failed_handshakes: Arc<std::sync::atomic::AtomicUsize>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.tls.accept(tcp).await {
                Ok(s) => return (s, addr),
                Err(_) => {
                    self.failed_handshakes
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// An HTTPS receiver on 127.0.0.1 with `cert` and `key`; its URL names `localhost`.
async fn tls_receiver(
    cert: &[u8],
    key: &[u8],
) -> (Arc<Receiver>, Arc<std::sync::atomic::AtomicUsize>, String) {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let r = Arc::new(Receiver::default());
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(r.clone());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let listener = TlsListener {
        tcp,
        tls: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        failed_handshakes: failed.clone(),
    };
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, failed, format!("https://localhost:{port}/hook"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_delivery_trusts_the_site_ca_and_refuses_an_unknown_issuer() {
    let e = env().await;
    let pki = tempfile::tempdir().unwrap();
    let site =
        roeh_testkit::pki::site_pki(pki.path(), roeh_testkit::pki::KeyAlgorithm::Ec).unwrap();
    let read = |f: &std::path::Path| std::fs::read(f).unwrap();
    let (ca, cert, key) = (read(&site.ca), read(&site.cert), read(&site.key));
    let (rx, failed, url) = tls_receiver(&cert, &key).await;
    let id = e.subscribe(&url, json!({})).await;
    let seq = e.raise(uuid::Uuid::new_v4()).await;
    // https only, as by default; the receiver's network is allowed.
    let https = || WebhookSettings {
        allow_http: false,
        ..local()
    };

    // Without the site CA the certificate's issuer is unknown: the attempt fails, nothing is
    // delivered.
    let untrusting = e.worker(e.store.clone(), https());
    assert_eq!(untrusting.enqueue_once().await.unwrap(), 1);
    assert_eq!(untrusting.deliver_once().await.unwrap(), 1);
    let d = e.deliveries(&id).await;
    assert_eq!(
        (&d[0]["state"], &d[0]["attempts"]),
        (&json!("pending"), &json!(1))
    );
    let err = d[0]["last_error"].as_str().unwrap();
    assert!(
        err.starts_with("could not connect") && err.contains("certificate"),
        "{err}"
    );
    assert!(err.contains("its issuer is not trusted"), "{err}");
    // TLS failures are described by kind, naming no host.
    assert!(
        !err.contains("localhost") && !err.contains("127.0.0.1"),
        "{err}"
    );
    assert!(rx.got().is_empty());
    assert!(failed.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // A CA file that holds no certificate is refused when the worker is built.
    assert!(
        WebhookWorker::new(
            e.store.clone(),
            e.clock.clone() as Arc<dyn Clock>,
            WebhookSettings {
                extra_ca_pem: Some(b"not a certificate".to_vec()),
                ..https()
            },
        )
        .is_err()
    );

    // Trusting the site CA, the signed delivery arrives over TLS.
    let trusting = e.worker(
        e.store.clone(),
        WebhookSettings {
            extra_ca_pem: Some(ca),
            ..https()
        },
    );
    e.advance(Duration::from_secs(1));
    assert_eq!(trusting.deliver_once().await.unwrap(), 1);
    let got = rx.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].signed, "{:?}", got[0]);
    assert_eq!(got[0].key, format!("{id}-{seq}"));
    let d = e.deliveries(&id).await;
    assert_eq!(
        (&d[0]["state"], &d[0]["attempts"], &d[0]["last_status"]),
        (&json!("delivered"), &json!(2), &json!(200))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_keeps_the_events_committed_while_it_was_enabled() {
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let hotspot = uuid::Uuid::new_v4();
    let id = e.subscribe(&url, json!({})).await;
    let w = e.worker(e.store.clone(), local());
    // Committed while the subscription is enabled, not yet picked up by the worker's pass.
    let s1 = e.raise(hotspot).await;
    let (s, v) = e
        .json("POST", &format!("/api/webhooks/{id}/disable"), Value::Null)
        .await;
    assert_eq!(s, 200, "{v}");
    // Committed while disabled: never for this subscription.
    let s2 = e.raise(hotspot).await;
    assert_eq!(
        w.enqueue_once().await.unwrap(),
        0,
        "{s1} was queued by the disable"
    );
    assert_eq!(
        w.deliver_once().await.unwrap(),
        0,
        "it waits while disabled"
    );
    let (s, v) = e
        .json("POST", &format!("/api/webhooks/{id}/enable"), Value::Null)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(w.deliver_once().await.unwrap(), 1);
    let seqs: Vec<u64> = e
        .deliveries(&id)
        .await
        .iter()
        .map(|d| d["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![s1], "{s2} is not queued for it");
    let got: Vec<String> = rx.got().iter().map(|g| g.key.clone()).collect();
    assert_eq!(got, vec![format!("{id}-{s1}")]);
}

/// A subscription in the CAP format gets each event of an alert's life as an OASIS CAP 1.2
/// message (`application/cap+xml`, signed like JSON): the raise is an Alert, later events are
/// Updates that reference it, a resolution says all clear, and a false alarm cancels it. Every
/// message validates against the OASIS schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_subscriptions_get_an_alerts_life_as_cap_messages_that_validate() {
    if !roeh_testkit::cap::have_validator("cap_subscriptions_get_an_alerts_life") {
        return;
    }
    let e = env().await;
    let (rx, url) = receiver(&[]).await;
    let hotspot = uuid::Uuid::new_v4();
    let now = e.clock.wall();
    e.store
        .insert_hotspot(
            hotspot,
            "Herzl & Allenby <north>",
            &json!({"id": hotspot, "name": "Herzl & Allenby <north>", "lat": 32.0686,
                    "lon": 34.7706, "cameras": [], "schedule": {"tz": "Asia/Jerusalem",
                    "always": true}})
            .to_string(),
            now,
        )
        .await
        .unwrap();
    let rule = uuid::Uuid::from_u128(42);
    e.store
        .insert_rule(&roeh_store::RuleRow {
            id: rule,
            hotspot_id: hotspot,
            document: json!({"id": rule, "hotspot": hotspot, "name": "Fight on the corner",
                             "kind": "fight", "severity": "high"})
            .to_string(),
            enabled: true,
            created_at: now,
            updated_at: now,
        })
        .await
        .unwrap();
    let (s, v) = e
        .json(
            "POST",
            "/api/webhooks",
            json!({"name": "police dispatch", "url": url, "secret": SECRET, "format": "xml"}),
        )
        .await;
    assert_eq!(s, 400, "an unknown format is refused: {v}");
    let id = e.subscribe(&url, json!({"format": "cap"})).await;
    let (_, list) = e.json("GET", "/api/webhooks", Value::Null).await;
    assert_eq!(list[0]["format"], "cap", "{list}");

    // Two alerts: one claimed, dispatched and resolved; one marked a false alarm.
    let mut alerts = Vec::new();
    for _ in 0..2 {
        let inc = support::incident(hotspot, CameraId::new_random(), e.clock.wall());
        e.store.insert_incident(&inc).await.unwrap();
        let link = AlertIncident {
            incident_id: inc.id,
            rule_id: inc.rule_id,
            camera: inc.camera,
            opened_at: inc.opened_at,
        };
        let new = NewAlert {
            id: uuid::Uuid::new_v4(),
            hotspot_id: hotspot,
            severity: "high".into(),
            priority: 4,
            lat: Some(32.0686),
            lon: Some(34.7706),
            created_at: e.clock.wall(),
        };
        let (a, _, _) = e
            .store
            .raise_or_merge_alert(&link, &new, "system", |_| None)
            .await
            .unwrap()
            .unwrap();
        alerts.push(a.id);
        e.advance(Duration::from_secs(600));
    }
    let step = |alert: uuid::Uuid, from: &str, to: &str, kind: &str| {
        let (store, at) = (e.store.clone(), e.clock.wall());
        let (from, to, kind) = (from.to_string(), to.to_string(), kind.to_string());
        async move {
            store
                .alert_transition(
                    alert,
                    &roeh_store::AlertChange {
                        from_state: from,
                        from_claimed_by: None,
                        to_state: to,
                        claimed_by: None,
                        at,
                    },
                    &roeh_store::NewAlertEvent {
                        kind,
                        actor: "op-campus".into(),
                        unit_id: None,
                        detail: "{}".into(),
                    },
                )
                .await
                .unwrap();
        }
    };
    step(alerts[0], "new", "dispatched", "dispatch").await;
    step(alerts[0], "dispatched", "resolved", "resolve").await;
    step(alerts[1], "new", "false_alarm", "false_alarm").await;

    let w = e.worker(e.store.clone(), local());
    assert_eq!(w.enqueue_once().await.unwrap(), 5);
    assert_eq!(w.deliver_once().await.unwrap(), 5);
    let mut got = rx.got();
    assert_eq!(got.len(), 5);
    // Delivered side by side: in the order of the events' seq.
    got.sort_by_key(|g| g.key.rsplit('-').next().unwrap().parse::<u64>().unwrap());
    let texts: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8(g.body.clone()).unwrap())
        .collect();
    for (g, t) in got.iter().zip(&texts) {
        assert!(g.signed, "signed like JSON: {g:?}");
        assert_eq!(g.content_type, "application/cap+xml");
        assert!(g.key.starts_with(&id));
        if let Err(err) = roeh_testkit::cap::validate(&g.body) {
            panic!("{err}\n{t}");
        }
        // No people's names go out in CAP.
        assert!(!t.contains("op-campus"), "{t}");
        assert!(t.contains("<scope>Restricted</scope>"), "{t}");
        assert!(
            t.contains("<areaDesc>Herzl &amp; Allenby &lt;north&gt;</areaDesc>"),
            "{t}"
        );
        assert!(
            t.contains("<circle>32.068600,34.770600 0.100</circle>"),
            "{t}"
        );
        assert!(t.contains("<event>Fight on the corner</event>"), "{t}");
        assert!(t.contains("<severity>Severe</severity>"), "{t}");
    }
    let of = |alert: uuid::Uuid| -> Vec<&String> {
        texts
            .iter()
            .filter(|t| t.contains(&format!("<incidents>{alert}</incidents>")))
            .collect()
    };
    let life = of(alerts[0]);
    let kinds: Vec<bool> = ["Alert", "Update", "Update"]
        .iter()
        .zip(&life)
        .map(|(k, t)| t.contains(&format!("<msgType>{k}</msgType>")))
        .collect();
    assert_eq!(kinds, [true, true, true], "{life:?}");
    let first_id = life[0]
        .split("<identifier>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    assert!(!life[0].contains("<references>"));
    for t in &life[1..] {
        assert!(t.contains(&format!("<references>roeh,{first_id},")), "{t}");
    }
    assert!(life[0].contains("<certainty>Possible</certainty>"));
    assert!(life[2].contains("<responseType>AllClear</responseType>"));
    assert!(life[2].contains("<urgency>Past</urgency>"));
    let cancelled = of(alerts[1]);
    assert_eq!(cancelled.len(), 2);
    assert!(cancelled[1].contains("<msgType>Cancel</msgType>"));
    assert!(cancelled[1].contains("<certainty>Unlikely</certainty>"));

    // The schema check is a real one: a message with a wrong msgType does not pass.
    let broken = texts[0].replace("<msgType>Alert</msgType>", "<msgType>Alarm</msgType>");
    assert!(roeh_testkit::cap::validate(broken.as_bytes()).is_err());
}
