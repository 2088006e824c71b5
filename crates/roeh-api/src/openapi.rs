//! The OpenAPI 3.1 document of the API, generated at run time from [`crate::ROUTES`] and
//! [`crate::auth::route_policy`], served at `GET /api/openapi.json` (any signed-in user).
//!
//! Invariants:
//! - every entry of `ROUTES` is an operation of the document, and nothing else is; its
//!   `security` follows its policy: none for public routes, bearer or session cookie for the
//!   others, and `x-roeh-permission` names the permission a route needs;
//! - every error response references the one shared schema `Error`
//!   (`{"error": {"kind", "message"}}`); the statuses come from the API's single kind-to-status
//!   mapping, so the document cannot drift from what the server answers;
//! - request and response bodies are described as generic JSON objects (field-level schemas are
//!   not derived), except the few routes that answer media, text or a stream;
//! - list routes that page follow one convention, written in [`PAGINATION`].

use crate::ROUTES;
use crate::auth::{Policy, route_policy};
use axum::Json;
use axum::http::Method;
use roeh_domain::ErrorKind;
use serde_json::{Map, Value, json};

/// The paging convention of list routes, as written in the document.
pub const PAGINATION: &str = "List routes answer a JSON array, newest first. Those that page \
take `limit` (default 100, at most 1000) and a cursor naming the last item of the previous page \
(`before` for alerts, `before_id` for the audit log); the next page starts after it. A page \
shorter than `limit` is the last one. Time-ranged lists (incidents, segments, gaps) are bounded \
by `start`/`end` instead, and incidents also by `limit`; to read further, move `end` back. \
Webhook deliveries are the newest `limit`. The other lists (cameras, users, hotspots, rules, units, holds, exports, discovered devices) return \
a bounded set whole.";

/// Every error kind, in the order the document lists them.
const KINDS: [ErrorKind; 11] = [
    ErrorKind::InvalidArgument,
    ErrorKind::NotFound,
    ErrorKind::AlreadyExists,
    ErrorKind::FailedPrecondition,
    ErrorKind::Unavailable,
    ErrorKind::ResourceExhausted,
    ErrorKind::DataLoss,
    ErrorKind::DeadlineExceeded,
    ErrorKind::PermissionDenied,
    ErrorKind::Unauthenticated,
    ErrorKind::Internal,
];

/// Query parameters of the routes that take them: (name, JSON type, description).
fn query_params(method: &str, path: &str) -> &'static [(&'static str, &'static str, &'static str)] {
    const LIMIT: (&str, &str, &str) = ("limit", "integer", "Page size (default 100, max 1000).");
    const RANGE: [(&str, &str, &str); 2] = [
        ("start", "string", "Range start (RFC 3339)."),
        ("end", "string", "Range end (RFC 3339)."),
    ];
    const SINCE: (&str, &str, &str) = ("since", "integer", "Resume after this event seq.");
    match (method, path) {
        ("GET", "/api/alerts") => &[
            ("state", "string", "Only alerts in this state."),
            ("hotspot", "string", "Only alerts of this hotspot (UUID)."),
            (
                "before",
                "string",
                "Cursor: the last alert of the previous page (UUID).",
            ),
            LIMIT,
        ],
        ("GET", "/api/audit") => &[
            ("actor", "string", "Only entries of this actor."),
            ("action", "string", "Only entries of this action."),
            (
                "before_id",
                "integer",
                "Cursor: the last entry id of the previous page.",
            ),
            LIMIT,
        ],
        ("GET", "/api/incidents") => &[
            (
                "hotspot",
                "string",
                "Only incidents of this hotspot (UUID).",
            ),
            ("camera", "string", "Only incidents of this camera (UUID)."),
            RANGE[0],
            RANGE[1],
            ("state", "string", "Only incidents in this state."),
            LIMIT,
        ],
        ("GET", "/api/cameras/{id}/segments" | "/api/cameras/{id}/gaps") => &RANGE,
        ("GET", "/api/push/ws" | "/api/push/sse") => &[SINCE],
        ("GET", "/api/webhooks/{id}/deliveries") => &[LIMIT],
        _ => &[],
    }
}

/// Whether the route pages with a cursor (see [`PAGINATION`]).
fn is_paged(method: &str, path: &str) -> bool {
    matches!((method, path), ("GET", "/api/alerts" | "/api/audit"))
}

/// The success response of a route: media, text and streams by route; JSON otherwise.
fn success(method: &str, path: &str) -> (&'static str, Value) {
    let content = |t: &str, schema: Value| json!({ t: { "schema": schema } });
    let binary = json!({ "type": "string", "contentEncoding": "binary" });
    match (method, path) {
        ("GET", "/api/cameras/{id}/mp4" | "/api/alerts/{id}/clip") => (
            "200",
            json!({ "description": "Recorded footage.", "content": content("video/mp4", binary) }),
        ),
        ("GET", "/api/incidents/{id}/snapshot") => (
            "200",
            json!({ "description": "Snapshot.", "content": content("image/jpeg", binary) }),
        ),
        ("GET", "/api/exports/{id}/download") => (
            "200",
            json!({ "description": "Evidence bundle.", "content": content("application/zip", binary) }),
        ),
        ("GET", "/metrics") => (
            "200",
            json!({
                "description": "Prometheus text exposition format 0.0.4.",
                "content": content(crate::metrics::CONTENT_TYPE, json!({ "type": "string" })),
            }),
        ),
        ("GET", "/api/push/sse") => (
            "200",
            json!({
                "description": "Server-sent events `alert`, `id:` = event seq.",
                "content": content("text/event-stream", json!({ "type": "string" })),
            }),
        ),
        ("GET", "/api/push/ws") => (
            "101",
            json!({ "description": "WebSocket of JSON push messages." }),
        ),
        _ => (
            "2XX",
            json!({
                "description": "Success.",
                "content": content("application/json", json!({ "$ref": "#/components/schemas/Json" })),
            }),
        ),
    }
}

/// Statuses an error of some kind answers with, ascending, each with its kinds.
fn error_statuses() -> Vec<(u16, Vec<&'static str>)> {
    let mut out: Vec<(u16, Vec<&'static str>)> = Vec::new();
    for k in KINDS {
        let s = crate::error::status_of(k).as_u16();
        match out.iter_mut().find(|(x, _)| *x == s) {
            Some((_, kinds)) => kinds.push(k.as_str()),
            None => out.push((s, vec![k.as_str()])),
        }
    }
    // The login limiter answers `resource_exhausted` with 429 (and `Retry-After`).
    out.push((429, vec![ErrorKind::ResourceExhausted.as_str()]));
    out.sort_by_key(|(s, _)| *s);
    out
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .filter(|c| *c != '_' || !part.starts_with('{')),
        );
    }
    id
}

fn operation(method: &str, path: &str, policy: Policy, errors: &[(u16, Vec<&str>)]) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(operation_id(method, path)));
    let tag = path
        .trim_start_matches("/api/")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    op.insert("tags".into(), json!([tag]));
    let mut params: Vec<Value> = path
        .split('/')
        .filter_map(|p| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
        .map(|name| {
            json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } })
        })
        .collect();
    params.extend(query_params(method, path).iter().map(|(name, ty, doc)| {
        json!({ "name": name, "in": "query", "required": false, "description": doc,
                "schema": { "type": ty } })
    }));
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if matches!(method, "POST" | "PUT") {
        op.insert(
            "requestBody".into(),
            json!({ "required": false, "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Json" } } } }),
        );
    }
    let (code, ok) = success(method, path);
    let mut responses = Map::new();
    responses.insert(code.into(), ok);
    let limited = matches!(path, "/api/auth/login" | "/api/auth/setup");
    for (status, _) in errors {
        if *status == 429 && !limited {
            continue;
        }
        responses.insert(
            status.to_string(),
            json!({ "$ref": format!("#/components/responses/Error{status}") }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    match policy {
        Policy::Public => {
            op.insert("security".into(), json!([]));
            op.insert("x-roeh-policy".into(), json!("public"));
        }
        Policy::SignedIn => {
            op.insert(
                "security".into(),
                json!([{ "bearer": [] }, { "cookie": [] }]),
            );
            op.insert("x-roeh-policy".into(), json!("signed_in"));
        }
        Policy::Needs(p) => {
            op.insert(
                "security".into(),
                json!([{ "bearer": [] }, { "cookie": [] }]),
            );
            op.insert("x-roeh-policy".into(), json!("permission"));
            op.insert("x-roeh-permission".into(), json!(p.as_str()));
        }
    }
    if is_paged(method, path) {
        op.insert("x-roeh-pagination".into(), json!("cursor"));
    }
    Value::Object(op)
}

/// The OpenAPI 3.1 document of every route of [`crate::router`]. A route of `ROUTES` without a
/// policy (which the router refuses) is listed with `x-roeh-policy: "none"` and no success.
pub fn document() -> Value {
    let errors = error_statuses();
    let mut paths = Map::new();
    for (m, p) in ROUTES {
        let op = match Method::from_bytes(m.as_bytes())
            .ok()
            .and_then(|method| route_policy(&method, p))
        {
            Some(policy) => operation(m, p, policy, &errors),
            None => json!({ "x-roeh-policy": "none", "responses": {
                "403": { "$ref": "#/components/responses/Error403" } } }),
        };
        let entry = paths
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(ops) = entry {
            ops.insert(m.to_ascii_lowercase(), op);
        }
    }
    let mut responses = Map::new();
    for (status, kinds) in &errors {
        responses.insert(
            format!("Error{status}"),
            json!({
                "description": format!("Error: {}.", kinds.join(", ")),
                "x-roeh-error-kinds": kinds,
                "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Error" } } },
            }),
        );
    }
    let kind_status: Map<String, Value> = KINDS
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                json!(crate::error::status_of(*k).as_u16()),
            )
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "roeh API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Every error answers `{{\"error\": {{\"kind\", \"message\"}}}}` (schema `Error`). \
                 Cookie-authenticated state changes need the `{}` header. {PAGINATION}",
                roeh_auth::CSRF_HEADER
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "API token `roeh_<64 hex>` (API clients, units, scrapers).",
                },
                "cookie": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": roeh_auth::cookie::SECURE_SESSION_COOKIE,
                    "description": format!(
                        "Console session (`{}` when the console is served over plain HTTP).",
                        roeh_auth::cookie::SESSION_COOKIE
                    ),
                },
            },
            "schemas": {
                "Json": { "description": "A JSON value; fields are documented per route in the \
                          guide, not derived here." },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "additionalProperties": false,
                    "properties": { "error": {
                        "type": "object",
                        "required": ["kind", "message"],
                        "additionalProperties": false,
                        "properties": {
                            "kind": {
                                "type": "string",
                                "enum": KINDS.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                            },
                            "message": { "type": "string" },
                        },
                    } },
                    "x-roeh-status-of-kind": kind_status,
                },
            },
            "responses": responses,
        },
    })
}

/// `GET /api/openapi.json`.
pub(crate) async fn serve() -> Json<Value> {
    Json(document())
}
