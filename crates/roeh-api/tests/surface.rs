//! The API's own surface over real HTTP on a bound port: the OpenAPI document lists every route
//! with its access policy and the shared error schema; `/metrics` answers the OpenMetrics text
//! format with alerts by state, connected push clients, push latency and request counts, and
//! escapes hostile label values.

#![allow(clippy::unwrap_used)]

mod support;

use axum::http::Method;
use futures::StreamExt;
use roeh_api::ROUTES;
use roeh_api::alerts::AlertsSettings;
use roeh_api::auth::{Policy, route_policy};
use roeh_api::metrics::{Gauges, Metrics};
use roeh_auth::{Role, Scope};
use roeh_domain::{CameraId, Clock, SystemClock};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

/// The API served with a test site.
type Env = support::HttpSite<dyn Clock>;

impl support::HttpSite<dyn Clock> {
    async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Value,
    ) -> (u16, String) {
        // `PUT` and `POST` always carry the body, `null` included.
        let body = (!matches!(method, "GET" | "DELETE")).then_some(&body);
        support::call(&self.http, self.addr, token, method, path, body).await
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (s, text) = self.call(Some(&self.admin), method, path, body).await;
        (s, support::json(&text))
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
    let site = support::site(clock.clone(), AlertsSettings::default()).await;
    site.serve(clock).await
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

/// Parses every sample line of an OpenMetrics exposition; panics on a malformed one, and unless
/// it ends with `# EOF` and nothing after.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    assert!(text.ends_with("\n# EOF\n"), "no EOF at the end: {text}");
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP ")
                    || line.starts_with("# TYPE ")
                    || line.starts_with("# UNIT ")
                    || line == "# EOF",
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
    for (m, p) in ROUTES.iter() {
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
    let cam = e.add_camera("gate").await;
    let hotspot = e
        .add_hotspot("square", cam, (59.3, 18.0), "Europe/Stockholm")
        .await;
    let now = e.clock.wall();
    e.store
        .insert_incident(&roeh_store::NewIncident {
            track_ids: vec![1, 2],
            ..support::incident(hotspot, cam, now)
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
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
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
        // OpenMetrics: the family is named without `_total`, its samples with it.
        ("roeh_http_requests", "counter"),
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
    assert_eq!(buckets[11].label("le"), Some("5.0"));
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
    let text = m
        .render(&Gauges {
            alerts: vec![("new", 3)],
            cameras: vec![],
        })
        .unwrap();
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

/// Reads a paged list to its end with `limit`, returning each page's ids.
async fn pages(e: &Env, token: &str, path: &str, limit: u32, id: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let cursor = before
            .as_ref()
            .map(|b| format!("&before={b}"))
            .unwrap_or_default();
        let (s, text) = e
            .call(
                Some(token),
                "GET",
                &format!("{path}{sep}limit={limit}{cursor}"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 200, "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        let ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|x| match &x[id] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let last_page = ids.len() < limit as usize;
        before = ids.last().cloned();
        out.push(ids);
        if last_page {
            return out;
        }
        assert!(out.len() < 1000, "paging does not end");
    }
}

#[tokio::test]
async fn lists_page_by_cursor_with_full_pages_within_scope() {
    let e = env().await;
    let mut cams = Vec::new();
    for name in ["gate-a", "gate-b"] {
        cams.push(e.add_camera(name).await);
    }
    // 45 export jobs, A and B interleaved, three per instant (ties are ordered by id).
    let mut expected_a = Vec::new();
    let mut all = Vec::new();
    for i in 0..45u32 {
        let camera = if i % 3 == 1 { cams[1] } else { cams[0] };
        let created = roeh_domain::WallTime::from_secs(1_800_000_000 + i64::from(i / 3));
        let row = roeh_store::ExportRow {
            id: uuid::Uuid::new_v4().to_string(),
            camera,
            start: created,
            end: created,
            reason: "paging".into(),
            case_ref: format!("case-{i}"),
            requester: "admin".into(),
            state: roeh_store::ExportState::Done,
            bytes_done: 0,
            bytes_total: 0,
            path: None,
            error: None,
            created_at: created,
            finished_at: None,
        };
        e.store.insert_export(&row).await.unwrap();
        all.push((created, row.id.clone(), camera));
    }
    all.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    for (_, id, cam) in &all {
        if *cam == cams[0] {
            expected_a.push(id.clone());
        }
    }
    let every: Vec<String> = all.iter().map(|x| x.1.clone()).collect();

    // The admin reads all 45, newest first, each once; every page but the last is full.
    let p = pages(&e, &e.admin, "/api/exports", 10, "id").await;
    assert_eq!(
        p.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 10, 10, 5]
    );
    assert_eq!(p.concat(), every);
    // An investigator limited to camera A: 30 of them, in full pages, none of B's.
    let inv = support::user_token(
        &e.store,
        "inv-a",
        Role::Investigator,
        Scope::cameras([cams[0]]),
    )
    .await;
    let p = pages(&e, &inv, "/api/exports", 7, "id").await;
    assert!(p[..p.len() - 1].iter().all(|pg| pg.len() == 7), "{p:?}");
    assert_eq!(p.concat(), expected_a);
    // A cursor must be one of the caller's own list: B's export and a made-up id are refused
    // alike (no existence oracle).
    let b_id = &all.iter().find(|x| x.2 == cams[1]).unwrap().1;
    let (s1, t1) = e
        .call(
            Some(&inv),
            "GET",
            &format!("/api/exports?before={b_id}"),
            Value::Null,
        )
        .await;
    let (s2, t2) = e
        .call(
            Some(&inv),
            "GET",
            &format!("/api/exports?before={}", uuid::Uuid::new_v4()),
            Value::Null,
        )
        .await;
    assert_eq!((s1, &t1), (400, &t2));
    assert_eq!(s2, 400);
    for bad in ["limit=0", "limit=1001", "limit=x", "before=../x", "sort=id"] {
        let (s, t) = e
            .call(
                Some(&e.admin),
                "GET",
                &format!("/api/exports?{bad}"),
                Value::Null,
            )
            .await;
        assert_eq!(s, 400, "{bad}: {t}");
        assert!(t.contains("invalid_argument"), "{bad}: {t}");
    }

    // The audit log pages the same way; `before_id` is the older name of `before`.
    for i in 0..8 {
        let (s, v) = e
            .json(
                "POST",
                "/api/cameras",
                json!({"name": format!("extra-{i}"), "url": "rtsp://127.0.0.1:9/x"}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let p = pages(&e, &e.admin, "/api/audit", 5, "id").await;
    let ids: Vec<i64> = p.concat().iter().map(|s| s.parse().unwrap()).collect();
    assert!(ids.len() > 5, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let (_, a) = e
        .json(
            "GET",
            &format!("/api/audit?limit=3&before={}", ids[2]),
            Value::Null,
        )
        .await;
    let (_, b) = e
        .json(
            "GET",
            &format!("/api/audit?limit=3&before_id={}", ids[2]),
            Value::Null,
        )
        .await;
    assert_eq!(a, b);
    assert_eq!(a[0]["id"].as_i64(), Some(ids[3]));
    let (s, v) = e
        .json("GET", "/api/audit?before=5&before_id=5", Value::Null)
        .await;
    assert_eq!(s, 400, "{v}");
}

// ----- body schemas -----

/// Every `$ref` string in `v`, with where it was found.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    Value::String(r) if k == "$ref" => out.push((at.to_string(), r.clone())),
                    _ => refs(x, &format!("{at}/{k}"), out),
                }
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The document node a local `$ref` names.
fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    doc.pointer(r.strip_prefix('#')?)
}

/// The JSON schema of `op`'s request body, if it has one.
fn request_schema(op: &Value) -> Option<&Value> {
    op.get("requestBody")
        .and_then(|b| b["content"].get("application/json"))
        .map(|c| &c["schema"])
}

/// Routes that take a text file rather than JSON: method, path, media type.
const TEXT_BODIES: &[(&str, &str, &str)] = &[("POST", "/api/stats/imports", "text/csv")];

/// The JSON schema of `op`'s success body, if it answers JSON.
fn response_schema(op: &Value) -> Option<&Value> {
    op["responses"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(s, _)| s.starts_with('2'))
        .and_then(|(_, r)| r["content"].get("application/json"))
        .map(|c| &c["schema"])
}

const UNTYPED: &str = "#/components/schemas/Json";

/// Routes that take a JSON body, with the schema that describes it and whether the body may be
/// left out.
const REQUEST_BODIES: &[(&str, &str, &str, bool)] = &[
    ("POST", "/api/auth/setup", "SetupBody", true),
    ("POST", "/api/auth/login", "LoginBody", true),
    ("POST", "/api/auth/device", "DeviceBody", true),
    ("POST", "/api/alerts", "RaiseBody", true),
    ("POST", "/api/users", "NewUserBody", true),
    ("POST", "/api/operations", "OperationDoc", true),
    ("POST", "/api/users/{id}/tokens", "TokenBody", true),
    ("POST", "/api/users/{id}/access", "AccessBody", true),
    ("PUT", "/api/cameras/{id}/retention", "RetentionBody", true),
    ("POST", "/api/cameras", "NewCamera", true),
    ("POST", "/api/onvif/add", "AddRequest", true),
    ("POST", "/api/onvif/profiles", "ProbeRequest", true),
    ("POST", "/api/holds", "HoldBody", true),
    ("POST", "/api/holds/{id}/clear", "ClearBody", true),
    ("POST", "/api/exports", "ExportBody", true),
    ("POST", "/api/alerts/{id}/claim", "ActionBody", false),
    ("POST", "/api/alerts/{id}/acknowledge", "ActionBody", false),
    ("POST", "/api/alerts/{id}/resolve", "ActionBody", false),
    ("POST", "/api/alerts/{id}/false-alarm", "ActionBody", false),
    ("POST", "/api/alerts/{id}/escalate", "ActionBody", false),
    ("POST", "/api/alerts/{id}/note", "NoteBody", true),
    ("POST", "/api/alerts/{id}/dispatch", "DispatchBody", true),
    ("POST", "/api/units", "RegisterBody", true),
    ("POST", "/api/units/me/position", "PositionBody", true),
    ("POST", "/api/units/me/status", "StatusBody", true),
    ("POST", "/api/units/me/receipts", "ReceiptBody", true),
    ("PUT", "/api/cameras/{id}/analysis", "AnalysisBody", true),
    ("POST", "/api/cameras/{id}/ptz/move", "MoveBody", true),
    ("POST", "/api/hotspots", "Hotspot", true),
    ("PUT", "/api/hotspots/{id}", "Hotspot", true),
    ("POST", "/api/rules", "Rule", true),
    ("PUT", "/api/rules/{id}", "Rule", true),
    ("POST", "/api/schedules/preview", "PreviewBody", true),
    ("POST", "/api/webhooks", "CreateBody", true),
];

/// State-changing routes whose handlers read no body at all.
const NO_BODY: &[(&str, &str)] = &[
    ("POST", "/api/auth/logout"),
    ("POST", "/api/users/{id}/disable"),
    ("POST", "/api/log/checkpoint"),
    ("POST", "/api/onvif/discover"),
    ("POST", "/api/onvif/discovered/{id}/dismiss"),
    ("POST", "/api/webhooks/{id}/disable"),
    ("POST", "/api/webhooks/{id}/enable"),
    ("POST", "/api/cameras/{id}/ptz/stop"),
    ("POST", "/api/cameras/{id}/ptz/home"),
    ("POST", "/api/cameras/{id}/ptz/presets/{preset}"),
];

/// Routes whose JSON answer is not described: the figures of the running analytics, which the
/// process builds and hands to the API as plain JSON.
const UNTYPED_ANSWERS: &[(&str, &str)] = &[("GET", "/api/analytics/stats")];

/// Routes that answer something other than JSON, with the media type (or status, for the
/// WebSocket upgrade) they say.
const NOT_JSON: &[(&str, &str, &str)] = &[
    ("GET", "/api/cameras/{id}/mp4", "video/mp4"),
    ("GET", "/api/alerts/{id}/clip", "video/mp4"),
    ("GET", "/api/incidents/{id}/snapshot", "image/jpeg"),
    ("GET", "/api/exports/{id}/download", "application/zip"),
    ("GET", "/api/reports/weekly", "application/pdf"),
    ("GET", "/api/reports/files/{id}", "application/pdf"),
    ("GET", "/api/push/sse", "text/event-stream"),
    ("GET", "/api/push/ws", "101"),
    ("GET", "/api/cameras/{id}/live", "101"),
    ("GET", "/api/units/me/alerts/{id}/snapshot", "image/jpeg"),
    ("GET", "/metrics", roeh_api::metrics::CONTENT_TYPE),
];

/// Routes that answer 204 with no body.
const NO_CONTENT: &[(&str, &str)] = &[
    ("POST", "/api/auth/logout"),
    ("POST", "/api/units/me/position"),
    ("POST", "/api/units/me/status"),
    ("DELETE", "/api/hotspots/{id}"),
    ("DELETE", "/api/rules/{id}"),
    ("DELETE", "/api/operations/{id}"),
    ("DELETE", "/api/webhooks/{id}"),
    ("DELETE", "/api/users/{id}/tokens/{token}"),
];

#[tokio::test]
async fn every_ref_in_the_document_resolves() {
    let e = env().await;
    let (s, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    assert_eq!(s, 200);
    let mut all = Vec::new();
    refs(&doc, "", &mut all);
    for (at, r) in &all {
        assert!(r.starts_with("#/components/"), "{at}: {r}");
        assert!(
            resolve(&doc, r).is_some_and(Value::is_object),
            "{at}: {r} does not resolve"
        );
    }
    // Derived schemas were placed under components/schemas, nowhere else.
    assert!(!doc.to_string().contains("$defs"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let targets: std::collections::BTreeSet<&str> = all
        .iter()
        .filter_map(|(_, r)| r.strip_prefix("#/components/schemas/"))
        .collect();
    for name in schemas.keys() {
        assert!(targets.contains(name.as_str()), "{name} is never used");
    }
    for name in [
        "NewCamera",
        "CameraView",
        "AlertSummary",
        "PushMessage",
        "PushEnvelope",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    // The push routes name the schema of each message.
    for p in ["/api/push/ws", "/api/push/sse"] {
        let ok = doc["paths"][p]["get"]["responses"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(
            ok["x-roeh-message"]["$ref"], "#/components/schemas/PushEnvelope",
            "{p}"
        );
    }
}

#[tokio::test]
async fn every_route_taking_a_json_body_has_a_request_schema() {
    let e = env().await;
    let (_, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    let op = |m: &str, p: &str| doc["paths"][p][m.to_ascii_lowercase()].clone();
    for (m, p, name, required) in REQUEST_BODIES {
        let op = op(m, p);
        let body = &op["requestBody"];
        assert_eq!(
            request_schema(&op).unwrap()["$ref"],
            format!("#/components/schemas/{name}"),
            "{m} {p}"
        );
        // `required` false is OpenAPI's default, which the document leaves out.
        assert_eq!(
            body["required"].as_bool().unwrap_or(false),
            *required,
            "{m} {p}"
        );
        assert!(body.get("x-roeh-body").is_none(), "{m} {p}");
        assert!(
            resolve(&doc, &format!("#/components/schemas/{name}")).is_some(),
            "{name}"
        );
    }
    // Every state change either has a typed schema or takes no body: none is untyped.
    for (m, p) in ROUTES.iter() {
        if !matches!(*m, "POST" | "PUT" | "PATCH") {
            continue;
        }
        let op = op(m, p);
        match request_schema(&op) {
            None if TEXT_BODIES.iter().any(|t| (t.0, t.1) == (*m, *p)) => {
                let media = TEXT_BODIES
                    .iter()
                    .find(|t| (t.0, t.1) == (*m, *p))
                    .unwrap()
                    .2;
                let body = &op["requestBody"];
                assert_eq!(body["required"], true, "{m} {p}");
                assert_eq!(
                    body["content"][media]["schema"]["type"], "string",
                    "{m} {p}"
                );
            }
            None => assert!(NO_BODY.contains(&(*m, *p)), "{m} {p} has no request body"),
            Some(s) => {
                assert_ne!(s["$ref"], UNTYPED, "{m} {p} has an untyped request body");
                assert!(op["requestBody"].get("x-roeh-body").is_none(), "{m} {p}");
                assert!(
                    REQUEST_BODIES.iter().any(|r| (r.0, r.1) == (*m, *p)),
                    "{m} {p} is not listed in REQUEST_BODIES"
                );
            }
        }
    }
    for (m, p) in NO_BODY {
        assert!(op(m, p).get("requestBody").is_none(), "{m} {p}");
    }
    // Answers: a typed JSON schema, except the routes listed as untyped, media or streams, or
    // 204.
    let mut untyped = Vec::new();
    for (m, p) in ROUTES.iter() {
        let op = op(m, p);
        let responses = op["responses"].as_object().unwrap();
        let (status, ok) = responses
            .iter()
            .find(|(s, _)| s.starts_with('2') || s.as_str() == "101")
            .unwrap();
        if let Some((_, _, media)) = NOT_JSON.iter().find(|r| (r.0, r.1) == (*m, *p)) {
            if *media == "101" {
                assert_eq!(status, "101", "{m} {p}");
            } else {
                assert!(ok["content"].get(*media).is_some(), "{m} {p}: {ok}");
            }
            assert!(ok["content"].get("application/json").is_none(), "{m} {p}");
            continue;
        }
        if NO_CONTENT.contains(&(*m, *p)) {
            assert_eq!(status, "204", "{m} {p}");
            assert!(ok.get("content").is_none(), "{m} {p}");
            continue;
        }
        let s = response_schema(&op).unwrap_or_else(|| panic!("{m} {p} answers no JSON"));
        let marked = ok.get("x-roeh-body") == Some(&json!("untyped"));
        assert_eq!(s["$ref"] == UNTYPED, marked, "{m} {p}");
        if marked {
            untyped.push((*m, *p));
        }
    }
    assert_eq!(
        untyped, UNTYPED_ANSWERS,
        "the routes whose answer is untyped"
    );
    let answer = |m: &str, p: &str| response_schema(&op(m, p)).unwrap().clone();
    assert_eq!(
        answer("GET", "/api/cameras"),
        json!({"type": "array", "items": {"$ref": "#/components/schemas/CameraView"}})
    );
    assert_eq!(
        answer("GET", "/api/auth/me")["$ref"],
        "#/components/schemas/MeView"
    );
    assert_eq!(
        answer("POST", "/api/alerts/{id}/claim")["$ref"],
        "#/components/schemas/AlertSummary"
    );
    assert_eq!(
        answer("GET", "/api/audit"),
        json!({"type": "array", "items": {"$ref": "#/components/schemas/AuditView"}})
    );
    assert_eq!(
        answer("GET", "/api/health")["$ref"],
        "#/components/schemas/Health"
    );
    // The figures built elsewhere do not pretend.
    assert_eq!(answer("GET", "/api/analytics/stats")["$ref"], UNTYPED);
    // A 204 has no body.
    assert!(
        op("POST", "/api/units/me/status")["responses"]["204"]
            .get("content")
            .is_none()
    );
}

/// A value that the schema accepts, made from its required properties only (and the first
/// alternative of an object's `oneOf`); a schema's own example is taken where it has one.
fn example(doc: &Value, schema: &Value) -> Value {
    if let Some(r) = schema["$ref"].as_str() {
        return example(doc, resolve(doc, r).unwrap());
    }
    if let Some(c) = schema.get("const") {
        return c.clone();
    }
    if let Some(e) = schema["examples"].get(0) {
        return e.clone();
    }
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().find(|v| !v.is_null()).unwrap().clone();
    }
    let alts = schema["anyOf"].as_array().or(schema["oneOf"].as_array());
    let first_alt = || alts.and_then(|a| a.iter().find(|a| a["type"] != "null"));
    if schema.get("properties").is_none()
        && let Some(alt) = first_alt()
    {
        return example(doc, alt);
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap(),
        _ => "object",
    };
    match ty {
        "string" if schema["format"] == "uuid" => json!(uuid::Uuid::from_u128(1)),
        "string" => json!("x"),
        "integer" => schema.get("minimum").cloned().unwrap_or(json!(1)),
        "number" => schema.get("minimum").cloned().unwrap_or(json!(1.5)),
        "boolean" => json!(true),
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(0);
            Value::Array((0..n).map(|_| example(doc, &schema["items"])).collect())
        }
        "object" => {
            let mut o = serde_json::Map::new();
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                o.insert(r.to_string(), example(doc, &schema["properties"][r]));
            }
            if let Some(Value::Object(more)) = first_alt().map(|a| example(doc, a)) {
                o.extend(more);
            }
            Value::Object(o)
        }
        other => panic!("no example for type {other}"),
    }
}

/// Errors of `instance` against `schema` (which may `$ref` into the document's components).
fn schema_errors(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let root = json!({ "components": doc["components"], "allOf": [schema] });
    let validator = jsonschema::draft202012::new(&root).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn assert_valid(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let errors = schema_errors(doc, schema, instance);
    assert!(errors.is_empty(), "{what}: {errors:?}\n{instance:#}");
}

/// Sends `body`; asserts a 400 with the shared error body whose message names `field`.
async fn assert_refused(e: &Env, doc: &Value, method: &str, path: &str, body: &Value, field: &str) {
    let (s, text) = e.call(Some(&e.admin), method, path, body.clone()).await;
    assert_eq!(s, 400, "{method} {path} {body}: {text}");
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_valid(
        doc,
        &json!({ "$ref": "#/components/schemas/Error" }),
        &err,
        path,
    );
    assert_eq!(err["error"]["kind"], "invalid_argument", "{path}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(message.contains(field), "{method} {path} {body}: {message}");
}

/// A camera, a hotspot with the zone `z` on it and an intrusion rule of that zone, made
/// through the API: (camera, hotspot, rule).
async fn camera_hotspot_rule(e: &Env) -> (String, String, String) {
    let (s, v) = e
        .json(
            "POST",
            "/api/cameras",
            json!({"name": "quay", "url": "rtsp://127.0.0.1:9/quay"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let cam = v["id"].as_str().unwrap().to_string();
    let (s, v) = e
        .json(
            "POST",
            "/api/hotspots",
            json!({
                "name": "quay", "lat": 59.3, "lon": 18.0, "cameras": [cam],
                "zones": [{"id": "z", "camera": cam, "polygon":
                    [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
                "schedule": {"tz": "Europe/Stockholm", "always": true},
            }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let hotspot = v["id"].as_str().unwrap().to_string();
    let (s, v) = e
        .json(
            "POST",
            "/api/rules",
            json!({"hotspot": hotspot, "name": "on the quay", "kind": "intrusion",
                   "zone": "z", "severity": "high"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    (cam, hotspot, v["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn request_schemas_refuse_what_the_server_refuses() {
    let e = env().await;
    let (_, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    // Routes that look their object up before they read the body get a real one.
    let (cam, hotspot, rule) = camera_hotspot_rule(&e).await;
    let cameras = e.store.list_cameras().await.unwrap().len();
    let users = e.store.list_users().await.unwrap().len();
    let hotspots = e.store.list_hotspots().await.unwrap();
    let rules = e.store.list_rules(None).await.unwrap();
    let (mut extra_checked, mut missing_checked) = (0, 0);
    for (m, p) in ROUTES.iter() {
        let op = &doc["paths"][p][m.to_ascii_lowercase()];
        let Some(schema) = request_schema(op) else {
            continue;
        };
        assert_ne!(schema["$ref"], UNTYPED, "{m} {p}");
        assert!(matches!(*m, "POST" | "PUT"), "{m} {p}");
        let object = resolve(&doc, schema["$ref"].as_str().unwrap()).unwrap();
        assert_eq!(object["type"], "object", "{p}");
        // Any id works for the others: they read their body before they look anything up.
        let id = match *p {
            "/api/cameras/{id}/analysis"
            | "/api/cameras/{id}/ptz/move"
            | "/api/cameras/{id}/retention" => cam.as_str(),
            "/api/hotspots/{id}" => hotspot.as_str(),
            "/api/rules/{id}" => rule.as_str(),
            _ => "1",
        };
        let path = p.replace("{id}", id);
        let base = example(&doc, schema);
        assert_valid(&doc, schema, &base, p);
        // A document with members in `oneOf` alternatives closes with `unevaluatedProperties`.
        let closed = |k: &str| object[k] == json!(false);
        if closed("additionalProperties") || closed("unevaluatedProperties") {
            let mut body = base.clone();
            body["zz_unknown"] = json!(1);
            assert!(!schema_errors(&doc, schema, &body).is_empty(), "{p}");
            assert_refused(&e, &doc, m, &path, &body, "zz_unknown").await;
            extra_checked += 1;
        }
        for r in object["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap();
            let mut body = base.clone();
            body.as_object_mut().unwrap().remove(r);
            assert!(!schema_errors(&doc, schema, &body).is_empty(), "{p} {r}");
            assert_refused(&e, &doc, m, &path, &body, r).await;
            missing_checked += 1;
        }
    }
    assert_eq!(
        extra_checked,
        REQUEST_BODIES.len(),
        "every typed body denies unknown fields"
    );
    assert!(missing_checked >= 40, "{missing_checked}");
    // Nothing was changed by the refused requests.
    assert_eq!(e.store.list_cameras().await.unwrap().len(), cameras);
    assert_eq!(e.store.list_users().await.unwrap().len(), users);
    assert_eq!(e.store.list_hotspots().await.unwrap(), hotspots);
    assert_eq!(e.store.list_rules(None).await.unwrap(), rules);
    assert!(e.store.list_webhooks().await.unwrap().is_empty());
    let (_, alerts) = e.json("GET", "/api/alerts", Value::Null).await;
    assert_eq!(alerts, json!([]));
}

/// Calls `method path` as the admin, expects a success and checks the answer against the
/// document's schema for the route `template`.
async fn answer_matches(
    e: &Env,
    doc: &Value,
    method: &str,
    template: &str,
    path: &str,
    body: Value,
) -> Value {
    answer_matches_as(e, &e.admin, doc, method, template, path, body).await
}

/// [`answer_matches`] with the token `token`.
async fn answer_matches_as(
    e: &Env,
    token: &str,
    doc: &Value,
    method: &str,
    template: &str,
    path: &str,
    body: Value,
) -> Value {
    let (s, text) = e.call(Some(token), method, path, body).await;
    let v = support::json(&text);
    assert!((200..300).contains(&s), "{method} {path}: {s} {text}");
    let op = &doc["paths"][template][method.to_ascii_lowercase()];
    let schema = response_schema(op).unwrap();
    assert_ne!(schema["$ref"], UNTYPED, "{method} {template} is typed");
    assert_valid(doc, schema, &v, &format!("{method} {path}"));
    v
}

#[tokio::test]
async fn real_answers_validate_against_the_document() {
    let e = env().await;
    let (_, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    let mut req = format!("ws://{}/api/push/ws", e.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", e.admin).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    raise_alert(&e).await;

    // The pushed message: the envelope, and the body inside it.
    let m = tokio::time::timeout(GUARD, ws.next()).await.unwrap();
    let text = m.unwrap().unwrap().into_text().unwrap();
    let envelope: Value = serde_json::from_str(text.as_str()).unwrap();
    let ws_ok = &doc["paths"]["/api/push/ws"]["get"]["responses"]["101"];
    assert_valid(&doc, &ws_ok["x-roeh-message"], &envelope, "push envelope");
    let envelope_schema = resolve(&doc, "#/components/schemas/PushEnvelope").unwrap();
    let msg_schema = &envelope_schema["properties"]["msg"];
    assert_eq!(msg_schema["contentMediaType"], "application/json");
    let msg: Value = serde_json::from_str(envelope["msg"].as_str().unwrap()).unwrap();
    assert_valid(&doc, &msg_schema["contentSchema"], &msg, "push message");
    drop(ws);

    let me = answer_matches(&e, &doc, "GET", "/api/auth/me", "/api/auth/me", Value::Null).await;
    assert_eq!(me["role"], "admin");
    let cams = answer_matches(&e, &doc, "GET", "/api/cameras", "/api/cameras", Value::Null).await;
    let cam = cams[0]["id"].as_str().unwrap().to_string();
    answer_matches(
        &e,
        &doc,
        "GET",
        "/api/cameras/{id}",
        &format!("/api/cameras/{cam}"),
        Value::Null,
    )
    .await;
    for sub in ["segments", "gaps"] {
        answer_matches(
            &e,
            &doc,
            "GET",
            &format!("/api/cameras/{{id}}/{sub}"),
            &format!("/api/cameras/{cam}/{sub}"),
            Value::Null,
        )
        .await;
    }
    let alerts = answer_matches(&e, &doc, "GET", "/api/alerts", "/api/alerts", Value::Null).await;
    assert_eq!(alerts.as_array().unwrap().len(), 1);
    let alert = alerts[0]["id"].as_str().unwrap().to_string();
    answer_matches(
        &e,
        &doc,
        "POST",
        "/api/alerts/{id}/claim",
        &format!("/api/alerts/{alert}/claim"),
        json!({ "note": "mine" }),
    )
    .await;
    let detail = answer_matches(
        &e,
        &doc,
        "GET",
        "/api/alerts/{id}",
        &format!("/api/alerts/{alert}"),
        Value::Null,
    )
    .await;
    assert!(detail["events"].as_array().unwrap().len() >= 2, "{detail}");

    // Users and a login with an API token.
    let user = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/users",
        "/api/users",
        json!({ "username": "ines", "password": "a-long-enough-passphrase", "role": "investigator",
                "scope": { "cameras": [cam] } }),
    )
    .await;
    assert_eq!(user["scope"]["cameras"], json!([cam]));
    answer_matches(&e, &doc, "GET", "/api/users", "/api/users", Value::Null).await;
    let login = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/auth/login",
        "/api/auth/login",
        json!({ "username": "ines", "password": "a-long-enough-passphrase", "kind": "api" }),
    )
    .await;
    assert!(login["token"].is_string());

    // Evidence: a hold, a checkpoint, an export.
    let now = e.clock.wall();
    answer_matches(
        &e,
        &doc,
        "POST",
        "/api/holds",
        "/api/holds",
        json!({ "camera": cam, "start": now.minus(Duration::from_secs(60)).to_rfc3339(),
                "end": now.to_rfc3339(), "case": "case-1", "reason": "schema check" }),
    )
    .await;
    answer_matches(&e, &doc, "GET", "/api/holds", "/api/holds", Value::Null).await;
    answer_matches(
        &e,
        &doc,
        "POST",
        "/api/log/checkpoint",
        "/api/log/checkpoint",
        Value::Null,
    )
    .await;
    answer_matches(
        &e,
        &doc,
        "GET",
        "/api/log/checkpoint",
        "/api/log/checkpoint",
        Value::Null,
    )
    .await;
    answer_matches(&e, &doc, "GET", "/api/keys", "/api/keys", Value::Null).await;
    let row = roeh_store::ExportRow {
        id: uuid::Uuid::new_v4().to_string(),
        camera: CameraId::parse(&cam).unwrap(),
        start: now,
        end: now,
        reason: "schema".into(),
        case_ref: "case-1".into(),
        requester: "admin".into(),
        state: roeh_store::ExportState::Done,
        bytes_done: 0,
        bytes_total: 0,
        path: None,
        error: None,
        created_at: now,
        finished_at: Some(now),
    };
    e.store.insert_export(&row).await.unwrap();
    let exports =
        answer_matches(&e, &doc, "GET", "/api/exports", "/api/exports", Value::Null).await;
    assert_eq!(exports[0]["id"], row.id.as_str());
    answer_matches(
        &e,
        &doc,
        "GET",
        "/api/exports/{id}",
        &format!("/api/exports/{}", row.id),
        Value::Null,
    )
    .await;
    answer_matches(
        &e,
        &doc,
        "GET",
        "/api/onvif/discovered",
        "/api/onvif/discovered",
        Value::Null,
    )
    .await;

    // The validation has teeth: a camera without its id, or with an unknown transport, fails.
    let schema = response_schema(&doc["paths"]["/api/cameras"]["get"]).unwrap();
    let mut broken = cams.clone();
    broken[0].as_object_mut().unwrap().remove("id");
    assert!(!schema_errors(&doc, schema, &broken).is_empty());
    let mut broken = cams.clone();
    broken[0]["transport"] = json!("carrier-pigeon");
    assert!(!schema_errors(&doc, schema, &broken).is_empty());
}

#[tokio::test]
async fn detection_webhook_report_and_unit_answers_validate_against_the_document() {
    let e = env().await;
    let (_, doc) = e.json("GET", "/api/openapi.json", Value::Null).await;
    let get = |template: &'static str, path: String| {
        let (e, doc) = (&e, &doc);
        async move { answer_matches(e, doc, "GET", template, &path, Value::Null).await }
    };
    // A subscription made before the alert, so the alert's events are queued for it.
    let hook = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/webhooks",
        "/api/webhooks",
        json!({ "name": "desk", "url": "https://93.184.216.34/roeh",
                "secret": "0123456789abcdef0123", "kinds": ["raised", "claim"] }),
    )
    .await;
    let hook = hook["id"].as_str().unwrap().to_string();
    raise_alert(&e).await;
    let worker = roeh_api::webhooks::WebhookWorker::new(
        e.store.clone(),
        e.clock.clone(),
        roeh_api::webhooks::WebhookSettings::default(),
    )
    .unwrap();
    worker.enqueue_once().await.unwrap();

    // Site state, the audit log, the push key and the document itself.
    let health = get("/api/health", "/api/health".into()).await;
    assert_eq!(health["cameras"], 1);
    let audit = get("/api/audit", "/api/audit?limit=2".into()).await;
    assert_eq!(audit.as_array().unwrap().len(), 2, "{audit}");
    get("/api/push/key", "/api/push/key".into()).await;
    get("/api/openapi.json", "/api/openapi.json".into()).await;

    // Hotspots, rules, camera analysis.
    let hotspots = get("/api/hotspots", "/api/hotspots".into()).await;
    let hotspot = hotspots[0]["id"].as_str().unwrap().to_string();
    let cam = hotspots[0]["hotspot"]["cameras"][0]
        .as_str()
        .unwrap()
        .to_string();
    let stored = get("/api/hotspots/{id}", format!("/api/hotspots/{hotspot}")).await;
    let mut changed = stored["hotspot"].clone();
    changed["priority"] = json!(5);
    changed["schedule"] = json!({ "tz": "Europe/Stockholm",
        "windows": [{ "days": ["Sat", "sunday"], "from": "20:00", "to": "06:00" }],
        "except": [{ "from": "2026-12-24", "to": "2026-12-26", "label": "holidays" }] });
    let put = answer_matches(
        &e,
        &doc,
        "PUT",
        "/api/hotspots/{id}",
        &format!("/api/hotspots/{hotspot}"),
        changed,
    )
    .await;
    assert_eq!(put["hotspot"]["priority"], 5);
    let rule = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/rules",
        "/api/rules",
        json!({ "hotspot": hotspot, "name": "crowd", "kind": "crowding", "zone": "z",
                "min_count": 3, "for_secs": 10, "severity": "medium" }),
    )
    .await;
    let rule = rule["id"].as_str().unwrap().to_string();
    answer_matches(
        &e,
        &doc,
        "PUT",
        "/api/rules/{id}",
        &format!("/api/rules/{rule}"),
        json!({ "hotspot": hotspot, "name": "camera covered", "kind": "tamper",
                "dark_luma_max": 10, "always_armed": true, "severity": "low" }),
    )
    .await;
    get("/api/rules", "/api/rules".into()).await;
    let tamper = get("/api/rules/{id}", format!("/api/rules/{rule}")).await;
    assert_eq!(tamper["rule"]["kind"], "tamper");
    get(
        "/api/cameras/{id}/analysis",
        format!("/api/cameras/{cam}/analysis"),
    )
    .await;
    answer_matches(
        &e,
        &doc,
        "PUT",
        "/api/cameras/{id}/analysis",
        &format!("/api/cameras/{cam}/analysis"),
        json!({ "enabled": false, "fps": 2.5 }),
    )
    .await;

    // Incidents and the alert's handling up to a unit's receipt.
    let incidents = get("/api/incidents", "/api/incidents".into()).await;
    assert_eq!(incidents.as_array().unwrap().len(), 1);
    let incident = incidents[0]["id"].as_str().unwrap();
    let one = get("/api/incidents/{id}", format!("/api/incidents/{incident}")).await;
    assert!(one["evidence"]["segments"].is_array(), "{one}");
    let (_, alerts) = e.json("GET", "/api/alerts", Value::Null).await;
    let alert = alerts[0]["id"].as_str().unwrap().to_string();
    for action in ["claim", "acknowledge"] {
        let (s, v) = e
            .json("POST", &format!("/api/alerts/{alert}/{action}"), json!({}))
            .await;
        assert_eq!(s, 200, "{action}: {v}");
    }
    answer_matches(
        &e,
        &doc,
        "POST",
        "/api/alerts/{id}/note",
        &format!("/api/alerts/{alert}/note"),
        json!({ "text": "two people at the gate" }),
    )
    .await;
    let unit = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/units",
        "/api/units",
        json!({ "name": "car-7" }),
    )
    .await;
    assert!(unit["push_key"]["public_key"].is_string(), "{unit}");
    let unit_token = unit["token"].as_str().unwrap().to_string();
    let unit = unit["id"].as_str().unwrap().to_string();
    let (s, _) = e
        .call(
            Some(&unit_token),
            "POST",
            "/api/units/me/position",
            json!({ "lat": 59.31, "lon": 18.01 }),
        )
        .await;
    assert_eq!(s, 204);
    let units = get("/api/units", "/api/units".into()).await;
    assert!(units.get("suggested").is_none(), "{units}");
    let units = get("/api/units", format!("/api/units?alert={alert}")).await;
    assert!(units["suggested"].is_array(), "{units}");
    let dispatched = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/alerts/{id}/dispatch",
        &format!("/api/alerts/{alert}/dispatch"),
        json!({ "units": [unit] }),
    )
    .await;
    assert_eq!(dispatched["dispatched"], json!([unit]));
    let receipt = json!({ "receipt_id": "r-1", "alert": alert, "kind": "delivered" });
    for replayed in [false, true] {
        let v = answer_matches_as(
            &e,
            &unit_token,
            &doc,
            "POST",
            "/api/units/me/receipts",
            "/api/units/me/receipts",
            receipt.clone(),
        )
        .await;
        assert_eq!(v["replayed"], replayed, "{v}");
        assert_eq!(v.get("dispatch").is_some(), !replayed, "{v}");
    }
    get("/api/alerts/precision", "/api/alerts/precision".into()).await;
    let now = e.clock.wall();
    let report = get(
        "/api/reports/response-times",
        format!(
            "/api/reports/response-times?from={}&to={}",
            now.minus(Duration::from_secs(3600)).to_rfc3339(),
            now.plus(Duration::from_secs(3600)).to_rfc3339()
        ),
    )
    .await;
    assert_eq!(report["rows"][0]["alerts"], 1, "{report}");

    // Webhooks: the subscription, its queued delivery, disabling and deleting it.
    get("/api/webhooks", "/api/webhooks".into()).await;
    let deliveries = get(
        "/api/webhooks/{id}/deliveries",
        format!("/api/webhooks/{hook}/deliveries"),
    )
    .await;
    assert!(!deliveries.as_array().unwrap().is_empty(), "{deliveries}");
    for (action, enabled) in [("disable", false), ("enable", true)] {
        let v = answer_matches(
            &e,
            &doc,
            "POST",
            &format!("/api/webhooks/{{id}}/{action}"),
            &format!("/api/webhooks/{hook}/{action}"),
            Value::Null,
        )
        .await;
        assert_eq!(v["enabled"], enabled);
    }
    for (template, path) in [
        ("/api/webhooks/{id}", format!("/api/webhooks/{hook}")),
        ("/api/rules/{id}", format!("/api/rules/{rule}")),
    ] {
        let (s, text) = e.call(Some(&e.admin), "DELETE", &path, Value::Null).await;
        assert_eq!((s, text.as_str()), (204, ""), "{path}");
        assert!(doc["paths"][template]["delete"]["responses"]["204"].is_object());
    }

    // Users, holds and cameras answered by small views.
    let ines = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/users",
        "/api/users",
        json!({ "username": "ines", "password": "a-long-enough-passphrase",
                "role": "investigator" }),
    )
    .await;
    let ines = ines["id"].as_i64().unwrap();
    answer_matches(
        &e,
        &doc,
        "POST",
        "/api/users/{id}/tokens",
        &format!("/api/users/{ines}/tokens"),
        json!({ "label": "laptop", "days": 7 }),
    )
    .await;
    let v = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/users/{id}/disable",
        &format!("/api/users/{ines}/disable"),
        Value::Null,
    )
    .await;
    assert_eq!(v["disabled"], true);
    // Again: a refusal with the shared error body, not a second kind of success body.
    let (s, v) = e
        .json("POST", &format!("/api/users/{ines}/disable"), Value::Null)
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["kind"], "failed_precondition", "{v}");
    answer_matches(
        &e,
        &doc,
        "POST",
        "/api/holds",
        "/api/holds",
        json!({ "camera": cam, "start": now.minus(Duration::from_secs(60)).to_rfc3339(),
                "end": now.to_rfc3339(), "case": "case-2", "reason": "schema check" }),
    )
    .await;
    let holds = e.store.holds(false).await.unwrap();
    let v = answer_matches(
        &e,
        &doc,
        "POST",
        "/api/holds/{id}/clear",
        &format!("/api/holds/{}/clear", holds[0].id),
        json!({ "reason": "case closed" }),
    )
    .await;
    assert_eq!(v["cleared"], true);
    let (s, v) = e
        .json(
            "POST",
            &format!("/api/holds/{}/clear", holds[0].id),
            json!({ "reason": "case closed" }),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["error"]["kind"], "failed_precondition", "{v}");
    let (s, spare) = e
        .json(
            "POST",
            "/api/cameras",
            json!({"name": "spare", "url": "rtsp://127.0.0.1:9/spare"}),
        )
        .await;
    assert_eq!(s, 201);
    let spare = spare["id"].as_str().unwrap();
    let v = answer_matches(
        &e,
        &doc,
        "DELETE",
        "/api/cameras/{id}",
        &format!("/api/cameras/{spare}"),
        Value::Null,
    )
    .await;
    assert_eq!(v["outcome"], "deleted");

    // The validation has teeth: a stored hotspot whose schedule lost its time zone, or a rule
    // of an unknown kind, fails.
    let schema = response_schema(&doc["paths"]["/api/hotspots/{id}"]["get"]).unwrap();
    let mut broken = stored.clone();
    broken["hotspot"]["schedule"]
        .as_object_mut()
        .unwrap()
        .remove("tz");
    assert!(!schema_errors(&doc, schema, &broken).is_empty());
    let schema = response_schema(&doc["paths"]["/api/rules/{id}"]["get"]).unwrap();
    let mut broken = tamper.clone();
    broken["rule"]["kind"] = json!("teleport");
    assert!(!schema_errors(&doc, schema, &broken).is_empty());
}
