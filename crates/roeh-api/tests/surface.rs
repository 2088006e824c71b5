//! The API's own surface over real HTTP on a bound port: the OpenAPI document lists every route
//! with its access policy and the shared error schema; `/metrics` answers the Prometheus text
//! format with alerts by state, connected push clients, push latency and request counts, and
//! escapes hostile label values.

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::Method;
use futures::StreamExt;
use roeh_api::alerts::{AlertsService, AlertsSettings};
use roeh_api::auth::{Policy, route_policy};
use roeh_api::metrics::{Gauges, Metrics};
use roeh_api::{AppState, CameraControl, ROUTES};
use roeh_auth::{Role, Scope};
use roeh_domain::{Camera, CameraId, Clock, StreamHealth, SystemClock};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

struct Env {
    addr: std::net::SocketAddr,
    store: roeh_store::Store,
    svc: Arc<AlertsService>,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
    admin: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Env {
    async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Value,
    ) -> (u16, String) {
        let url = format!("http://{}{path}", self.addr);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).json(&body),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (s, text) = self.call(Some(&self.admin), method, path, body).await;
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn scrape(&self) -> Vec<Sample> {
        let (s, text) = self
            .call(Some(&self.admin), "GET", "/metrics", Value::Null)
            .await;
        assert_eq!(s, 200, "{text}");
        parse(&text)
    }
}

async fn env() -> Env {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let dir = tempfile::tempdir().unwrap();
    let store = roeh_store::Store::open(dir.path().join("roeh.db").to_str().unwrap())
        .await
        .unwrap();
    store
        .set_credential_key(roeh_store::CredentialKey::generate().unwrap())
        .unwrap();
    let custody = support::custody(&store, clock.clone(), dir.path()).await;
    let svc = AlertsService::new(store.clone(), clock.clone(), AlertsSettings::default());
    let state = AppState {
        store: store.clone(),
        alerts: svc.clone(),
        control: Arc::new(NoCameras),
        footage_root: dir.path().join("footage"),
        clock: clock.clone(),
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
        svc,
        clock,
        http: reqwest::Client::new(),
        admin,
        _stop: stop,
        _dir: dir,
    }
}

// ----- the exposition format, parsed strictly -----

#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses every sample line; panics on a malformed one. `# TYPE` lines are checked to precede
/// their samples.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "comment: {line}"
            );
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name = &line[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name:?}"
        );
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            loop {
                let (start, c) = chars.next().unwrap();
                if c == '}' {
                    rest = &r[start + 1..];
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = r[start..].find('=').unwrap() + start;
                let key = r[start..eq].to_string();
                while chars.next_if(|(i, _)| *i < eq + 1).is_some() {}
                assert_eq!(chars.next().map(|x| x.1), Some('"'), "{line}");
                let mut value = String::new();
                loop {
                    match chars.next().unwrap().1 {
                        '"' => break,
                        '\\' => match chars.next().unwrap().1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            c => panic!("bad escape \\{c} in {line}"),
                        },
                        c => value.push(c),
                    }
                }
                labels.push((key, value));
            }
        }
        let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value {value:?} in {line}"));
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

fn types(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let (n, t) = l.split_once(' ').unwrap();
            (n.to_string(), t.to_string())
        })
        .collect()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

// ----- the OpenAPI document -----

#[tokio::test]
async fn the_document_lists_every_route_with_its_policy() {
    let e = env().await;
    // Not public: a signed-in user reads it.
    let (s, _) = e.call(None, "GET", "/api/openapi.json", Value::Null).await;
    assert_eq!(s, 401);
    let (s, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    assert_eq!(s, 200, "{doc}");
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, roeh_api::openapi::document(), "served = generated");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["cookie"]["in"], "cookie");
    let mut ops = 0;
    for (m, p) in ROUTES {
        let op = &doc["paths"][p][m.to_ascii_lowercase()];
        assert!(op.is_object(), "{m} {p} missing");
        ops += 1;
        let policy = route_policy(&Method::from_bytes(m.as_bytes()).unwrap(), p).unwrap();
        let security = op["security"].as_array().unwrap();
        match policy {
            Policy::Public => {
                assert!(security.is_empty(), "{m} {p}");
                assert!(op.get("x-roeh-permission").is_none(), "{m} {p}");
            }
            Policy::SignedIn | Policy::Needs(_) => {
                assert_eq!(
                    security,
                    &vec![json!({"bearer": []}), json!({"cookie": []})],
                    "{m} {p}"
                );
            }
        }
        match policy {
            Policy::Needs(perm) => assert_eq!(op["x-roeh-permission"], perm.as_str(), "{m} {p}"),
            _ => assert!(op.get("x-roeh-permission").is_none(), "{m} {p}"),
        }
        // Path parameters match the template.
        let want: Vec<&str> = p
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let got: Vec<&str> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, want, "{m} {p}");
    }
    let total: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_object().unwrap().len())
        .sum();
    assert_eq!(total, ops, "nothing beyond ROUTES");
    assert_eq!(
        doc["paths"]["/metrics"]["get"]["x-roeh-permission"],
        "view_status"
    );
    assert_eq!(
        doc["paths"]["/api/alerts"]["get"]["x-roeh-pagination"],
        "cursor"
    );
}

#[tokio::test]
async fn every_error_response_uses_the_shared_schema() {
    let e = env().await;
    let (_, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(error["required"], json!(["error"]));
    assert_eq!(
        error["properties"]["error"]["required"],
        json!(["kind", "message"])
    );
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, resp) in op["responses"].as_object().unwrap() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let r = resp["$ref"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}"));
                assert_eq!(r, format!("#/components/responses/Error{status}"));
                let name = r.rsplit('/').next().unwrap();
                let shared = &doc["components"]["responses"][name];
                assert_eq!(
                    shared["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{name}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= ROUTES.len() * 5);
    // A real error matches the schema, its status is listed for the route and the kind's
    // status in the document is the one answered.
    let (s, text) = e
        .call(
            Some(&e.admin),
            "GET",
            "/api/alerts/not-an-alert",
            Value::Null,
        )
        .await;
    let body: Value = serde_json::from_str(&text).unwrap();
    let err = body["error"].as_object().unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1);
    assert_eq!(err.len(), 2);
    let kind = err["kind"].as_str().unwrap();
    assert!(err["message"].is_string());
    let kinds = error["properties"]["error"]["properties"]["kind"]["enum"]
        .as_array()
        .unwrap();
    assert!(kinds.iter().any(|k| k == kind), "{kind}");
    assert_eq!(error["x-roeh-status-of-kind"][kind], s);
    assert!(
        doc["paths"]["/api/alerts/{id}"]["get"]["responses"]
            .get(s.to_string())
            .is_some()
    );
    assert_eq!((s, kind), (404, "not_found"));
    let r404 = &doc["components"]["responses"]["Error404"]["x-roeh-error-kinds"];
    assert_eq!(r404, &json!(["not_found"]));
    let r409 = &doc["components"]["responses"]["Error409"]["x-roeh-error-kinds"];
    assert_eq!(r409, &json!(["already_exists", "failed_precondition"]));
}

// ----- metrics -----

async fn raise_alert(e: &Env) {
    let (s, v) = e
        .json(
            "POST",
            "/api/cameras",
            json!({"name": "gate", "url": "rtsp://127.0.0.1:9/gate"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let cam = CameraId::parse(v["id"].as_str().unwrap()).unwrap();
    let (s, v) = e
        .json(
            "POST",
            "/api/hotspots",
            json!({
                "name": "square", "lat": 59.3, "lon": 18.0, "priority": 2,
                "cameras": [cam.to_string()],
                "zones": [{"id": "z", "camera": cam.to_string(), "polygon":
                    [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
                "schedule": {"tz": "Europe/Stockholm", "always": true},
            }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let hotspot = uuid::Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
    let now = e.clock.wall();
    e.store
        .insert_incident(&roeh_store::NewIncident {
            id: uuid::Uuid::new_v4(),
            rule_id: uuid::Uuid::from_u128(42),
            camera: cam,
            hotspot_id: hotspot,
            seq: 1,
            kind: "fight".into(),
            severity: "high".into(),
            priority: 4,
            alerting: true,
            reason: "test".into(),
            opened_at: now,
            peak_score: 0.9,
            track_ids: vec![1, 2],
            model_id: "m".into(),
            evidence_start: now.minus(Duration::from_secs(10)),
        })
        .await
        .unwrap();
    assert_eq!(e.svc.ingest_once().await.unwrap(), 1);
}

/// Scrapes until `cond` holds (the server notes a send or a close just after the client sees
/// it); the guard only stops a hung test.
async fn scrape_until(e: &Env, cond: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    tokio::time::timeout(GUARD, async {
        loop {
            let s = e.scrape().await;
            if cond(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the metric to reach the expected value")
}

#[tokio::test]
async fn metrics_count_alerts_clients_latency_and_requests() {
    let e = env().await;
    // Access: a scraper needs ViewStatus.
    let (s, _) = e.call(None, "GET", "/metrics", Value::Null).await;
    assert_eq!(s, 401);
    let investigator =
        support::user_token(&e.store, "ines", Role::Investigator, Scope::unrestricted()).await;
    let (s, _) = e
        .call(Some(&investigator), "GET", "/metrics", Value::Null)
        .await;
    assert_eq!(s, 403);
    let operator =
        support::user_token(&e.store, "olle", Role::Operator, Scope::unrestricted()).await;
    let resp = e
        .http
        .get(format!("http://{}/metrics", e.addr))
        .bearer_auth(&operator)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );

    // One WebSocket and one SSE client, both operators.
    let mut req = format!("ws://{}/api/push/ws", e.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", e.admin).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut sse = e
        .http
        .get(format!("http://{}/api/push/sse", e.addr))
        .bearer_auth(&e.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);

    raise_alert(&e).await;
    // Both clients receive the live event.
    let m = tokio::time::timeout(GUARD, ws.next()).await.unwrap();
    assert!(m.unwrap().unwrap().is_text());
    let chunk = tokio::time::timeout(GUARD, sse.chunk()).await.unwrap();
    assert!(String::from_utf8_lossy(&chunk.unwrap().unwrap()).contains("event: alert"));
    // A miss, counted by route template.
    let missing = uuid::Uuid::new_v4();
    let (s, _) = e
        .call(
            Some(&e.admin),
            "GET",
            &format!("/api/alerts/{missing}"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 404);

    let text = e
        .call(Some(&e.admin), "GET", "/metrics", Value::Null)
        .await
        .1;
    let t = types(&text);
    for (name, kind) in [
        ("roeh_alerts", "gauge"),
        ("roeh_cameras", "gauge"),
        ("roeh_push_clients", "gauge"),
        ("roeh_push_latency_seconds", "histogram"),
        ("roeh_http_requests_total", "counter"),
    ] {
        assert!(
            t.contains(&(name.into(), kind.into())),
            "{name} {kind}: {t:?}"
        );
    }
    let samples = scrape_until(&e, |s| {
        value(s, "roeh_push_latency_seconds_count", &[]).unwrap_or(0.0) >= 2.0
    })
    .await;
    assert_eq!(
        value(&samples, "roeh_alerts", &[("state", "new")]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "roeh_alerts", &[("state", "claimed")]),
        Some(0.0)
    );
    assert_eq!(
        value(&samples, "roeh_cameras", &[("state", "not_running")]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "roeh_cameras", &[("state", "streaming")]),
        Some(0.0)
    );
    let clients = |kind, transport| {
        value(
            &samples,
            "roeh_push_clients",
            &[("kind", kind), ("transport", transport)],
        )
    };
    assert_eq!(clients("operator", "ws"), Some(1.0));
    assert_eq!(clients("operator", "sse"), Some(1.0));
    assert_eq!(clients("unit", "ws"), Some(0.0));
    assert_eq!(clients("unit", "sse"), Some(0.0));
    // The histogram: cumulative buckets, +Inf equals the count (one live event, two clients).
    let buckets: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "roeh_push_latency_seconds_bucket")
        .collect();
    assert_eq!(buckets.len(), 13);
    assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value));
    assert_eq!(buckets[0].label("le"), Some("0.001"));
    assert_eq!(buckets[12].label("le"), Some("+Inf"));
    assert_eq!(buckets[11].label("le"), Some("5"));
    assert_eq!(buckets[12].value, 2.0);
    assert_eq!(
        value(&samples, "roeh_push_latency_seconds_count", &[]),
        Some(2.0)
    );
    assert!(value(&samples, "roeh_push_latency_seconds_sum", &[]).unwrap() >= 0.0);
    // Requests, by template and status; never a raw path.
    let req = |route, method, status| {
        value(
            &samples,
            "roeh_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(req("/api/cameras", "POST", "201"), Some(1.0));
    assert_eq!(req("/api/hotspots", "POST", "201"), Some(1.0));
    assert_eq!(req("/api/alerts/{id}", "GET", "404"), Some(1.0));
    assert_eq!(req("/metrics", "GET", "401"), Some(1.0));
    assert_eq!(req("/metrics", "GET", "403"), Some(1.0));
    assert!(req("/metrics", "GET", "200").unwrap() >= 2.0);
    assert!(samples.iter().all(|s| {
        s.label("route")
            .is_none_or(|r| !r.contains(&missing.to_string()))
    }));

    // Clients that leave stop being counted.
    drop(ws);
    drop(sse);
    scrape_until(&e, |s| {
        value(
            s,
            "roeh_push_clients",
            &[("kind", "operator"), ("transport", "ws")],
        ) == Some(0.0)
            && value(
                s,
                "roeh_push_clients",
                &[("kind", "operator"), ("transport", "sse")],
            ) == Some(0.0)
    })
    .await;
}

#[test]
fn hostile_label_values_are_escaped_and_cannot_forge_samples() {
    let m = Metrics::new();
    let hostile = "/api/x\"} 1\nroeh_forged{a=\"b\"} 9\\";
    m.count_request(hostile, &Method::GET, 200);
    m.count_request(hostile, &Method::GET, 200);
    let text = m.render(&Gauges {
        alerts: vec![("new", 3)],
        cameras: vec![],
    });
    assert!(
        !text.lines().any(|l| l.starts_with("roeh_forged")),
        "{text}"
    );
    let samples = parse(&text);
    assert!(samples.iter().all(|s| s.name != "roeh_forged"));
    assert_eq!(
        value(
            &samples,
            "roeh_http_requests_total",
            &[("route", hostile), ("method", "GET"), ("status", "200")],
        ),
        Some(2.0),
        "the value round-trips through the escaping"
    );
    assert_eq!(
        value(&samples, "roeh_alerts", &[("state", "new")]),
        Some(3.0)
    );
    assert!(text.contains(r#"route="/api/x\"} 1\nroeh_forged{a=\"b\"} 9\\""#));
}
