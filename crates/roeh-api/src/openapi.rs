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
//! - JSON bodies are described by schemas derived (`schemars`, JSON Schema 2020-12) from the very
//!   types the handlers deserialize and serialize, listed per route in `request_body` and
//!   `response_body`; every definition lives under `components/schemas` and every `$ref`
//!   points there. A request schema follows the deserializing contract (`#[serde(default)]`
//!   fields are optional, `deny_unknown_fields` is `additionalProperties: false`), a response
//!   schema the serializing one (an `Option` is present as `null` unless skipped);
//! - a body read as raw JSON and parsed by another crate (hotspot and rule documents, parsed by
//!   `roeh_rules`) is described by a stand-in in `foreign` that refuses nothing the parser
//!   accepts (a test feeds both the same documents);
//! - a JSON body the handler builds by hand (or whose type is not derived) keeps the generic
//!   `Json` schema and says so with `x-roeh-body: "untyped"`: the document never claims a shape
//!   the code does not have. A route that takes no body has no `requestBody`; one that answers
//!   nothing answers 204;
//! - list routes that page follow one convention, written in [`PAGINATION`].

use crate::ROUTES;
use crate::auth::{Policy, route_policy};
use axum::http::Method;
use roeh_domain::ErrorKind;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The paging convention of list routes, as written in the document.
pub const PAGINATION: &str = "List routes answer a JSON array, newest first. Those that page \
(alerts, incidents, exports, the audit log, webhook deliveries) take `limit` (default 100, \
1..=1000, anything else is refused with 400) and `before`, naming the last item of the previous \
page (alerts, incidents and exports by id, audit entries by their number, deliveries by their \
`seq`; the audit log also accepts the older name `before_id`); the next page starts after it. \
A cursor that names nothing in the caller's list is refused with 400. A page shorter than \
`limit` is the last one; pages are filled within the caller's scope. Incidents also take \
`start`/`end` as filters. Time-ranged lists (segments, gaps) are bounded by `start`/`end`; \
read further by moving `end` back. The other lists (cameras, users, hotspots, rules, units, \
holds, webhooks, discovered devices) are bounded sets returned whole.";

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
        ("GET", "/api/cameras/{id}/live") => &[(
            "stream",
            "string",
            "`main` (default) or `sub`: the camera's second, smaller stream, opened on demand \
             and not recorded; the main stream where the camera has none.",
        )],
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
                "before",
                "integer",
                "Cursor: the last entry id of the previous page.",
            ),
            ("before_id", "integer", "Older name of `before`."),
            LIMIT,
        ],
        ("GET", "/api/exports") => &[
            (
                "before",
                "string",
                "Cursor: the last export of the previous page (UUID).",
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
            (
                "before",
                "string",
                "Cursor: the last incident of the previous page (UUID).",
            ),
            LIMIT,
        ],
        ("GET", "/api/cameras/{id}/segments" | "/api/cameras/{id}/gaps") => &RANGE,
        ("GET", "/api/reports/response-times") => &[
            (
                "from",
                "string",
                "Required: alerts raised at or after this (RFC 3339).",
            ),
            (
                "to",
                "string",
                "Required: alerts raised before this (RFC 3339); at most 366 days after `from`.",
            ),
            ("hotspot", "string", "Only this hotspot (UUID)."),
            (
                "group",
                "string",
                "`hotspot`, `shift` or `hotspot_shift` (default).",
            ),
        ],
        ("GET", "/api/push/ws" | "/api/push/sse") => &[SINCE],
        ("GET", "/api/webhooks/{id}/deliveries") => &[
            (
                "before",
                "integer",
                "Cursor: the seq of the last delivery of the previous page.",
            ),
            LIMIT,
        ],
        _ => &[],
    }
}

/// Whether the route pages with a cursor (see [`PAGINATION`]).
fn is_paged(method: &str, path: &str) -> bool {
    matches!(
        (method, path),
        (
            "GET",
            "/api/alerts"
                | "/api/audit"
                | "/api/exports"
                | "/api/incidents"
                | "/api/webhooks/{id}/deliveries"
        )
    )
}

/// Where the document's schemas live; schemars writes its `$ref`s to this path.
const SCHEMAS: &str = "/components/schemas";

/// A JSON body of a route, as the document describes it.
#[derive(Clone, Debug, PartialEq)]
enum Body {
    /// The schema of the handler's own type (`required`: a request must carry it).
    Typed { schema: Value, required: bool },
    /// JSON built by hand in the handler: the generic `Json` schema, marked untyped.
    Untyped,
    /// No body at all.
    Empty,
}

fn typed<T: JsonSchema>(generator: &mut SchemaGenerator) -> Body {
    Body::Typed {
        schema: generator.subschema_for::<T>().to_value(),
        required: true,
    }
}

/// The request body of a route. `generator` follows the deserializing contract.
fn request_body(method: &str, path: &str, generator: &mut SchemaGenerator) -> Body {
    use crate::{alerts, auth, cameras, detection, evidence, onvif, webhooks};
    let g = generator;
    match (method, path) {
        ("POST", "/api/auth/setup") => typed::<auth::SetupBody>(g),
        ("POST", "/api/auth/login") => typed::<auth::LoginBody>(g),
        ("POST", "/api/users") => typed::<auth::NewUserBody>(g),
        ("POST", "/api/users/{id}/tokens") => typed::<auth::TokenBody>(g),
        ("POST", "/api/cameras") => typed::<cameras::NewCamera>(g),
        ("POST", "/api/onvif/add") => typed::<onvif::AddRequest>(g),
        ("POST", "/api/holds") => typed::<evidence::HoldBody>(g),
        ("POST", "/api/holds/{id}/clear") => typed::<evidence::ClearBody>(g),
        ("POST", "/api/exports") => typed::<evidence::ExportBody>(g),
        (
            "POST",
            "/api/alerts/{id}/claim"
            | "/api/alerts/{id}/acknowledge"
            | "/api/alerts/{id}/resolve"
            | "/api/alerts/{id}/false-alarm"
            | "/api/alerts/{id}/escalate",
        ) => Body::Typed {
            // An empty body is the same as `{}`.
            schema: g.subschema_for::<alerts::ActionBody>().to_value(),
            required: false,
        },
        ("POST", "/api/alerts/{id}/note") => typed::<alerts::NoteBody>(g),
        ("POST", "/api/alerts/{id}/dispatch") => typed::<alerts::DispatchBody>(g),
        ("POST", "/api/units") => typed::<alerts::RegisterBody>(g),
        ("POST", "/api/auth/device") => typed::<auth::DeviceBody>(g),
        ("POST", "/api/alerts") => typed::<crate::raise::RaiseBody>(g),
        ("POST", "/api/cameras/{id}/ptz/move") => typed::<crate::ptz::MoveBody>(g),
        ("POST", "/api/units/me/position") => typed::<alerts::PositionBody>(g),
        ("POST", "/api/units/me/status") => typed::<alerts::StatusBody>(g),
        ("POST", "/api/units/me/receipts") => typed::<alerts::ReceiptBody>(g),
        ("PUT", "/api/cameras/{id}/analysis") => typed::<detection::AnalysisBody>(g),
        // Read as JSON and parsed by roeh-rules; the stand-ins describe what it accepts.
        ("POST", "/api/hotspots") | ("PUT", "/api/hotspots/{id}") => typed::<foreign::Hotspot>(g),
        ("POST", "/api/rules") | ("PUT", "/api/rules/{id}") => typed::<foreign::Rule>(g),
        ("POST", "/api/webhooks") => typed::<webhooks::CreateBody>(g),
        (
            "POST",
            "/api/auth/logout"
            | "/api/users/{id}/disable"
            | "/api/log/checkpoint"
            | "/api/onvif/discover"
            | "/api/onvif/discovered/{id}/dismiss"
            | "/api/webhooks/{id}/disable"
            | "/api/webhooks/{id}/enable"
            | "/api/cameras/{id}/ptz/stop"
            | "/api/cameras/{id}/ptz/home"
            | "/api/cameras/{id}/ptz/presets/{preset}",
        ) => Body::Empty,
        ("POST" | "PUT" | "PATCH", _) => Body::Untyped,
        _ => Body::Empty,
    }
}

/// The JSON success body of a route (media and streams are described by [`success`]; for the
/// push routes this is the schema of each message). `generator` follows the serializing
/// contract.
fn response_body(method: &str, path: &str, generator: &mut SchemaGenerator) -> Body {
    use crate::{alerts, auth, cameras, detection, evidence, onvif, recordings, reports, webhooks};
    let g = generator;
    match (method, path) {
        ("GET", "/api/health") => typed::<crate::Health>(g),
        ("POST", "/api/auth/setup") => typed::<auth::SetupView>(g),
        ("POST", "/api/auth/login") => typed::<auth::LoginView>(g),
        ("GET", "/api/auth/me") => typed::<auth::MeView>(g),
        ("GET", "/api/users") => typed::<Vec<auth::UserView>>(g),
        ("POST", "/api/users") => typed::<auth::UserView>(g),
        ("POST", "/api/users/{id}/disable") => typed::<auth::DisabledView>(g),
        ("POST", "/api/users/{id}/tokens") => typed::<auth::TokenView>(g),
        ("GET", "/api/audit") => typed::<Vec<auth::AuditView>>(g),
        ("GET", "/api/cameras") => typed::<Vec<cameras::CameraView>>(g),
        ("POST", "/api/cameras") | ("GET", "/api/cameras/{id}") => typed::<cameras::CameraView>(g),
        ("DELETE", "/api/cameras/{id}") => typed::<cameras::RemovedView>(g),
        ("GET" | "PUT", "/api/cameras/{id}/analysis") => typed::<detection::AnalysisView>(g),
        (
            "GET" | "POST",
            "/api/cameras/{id}/ptz"
            | "/api/cameras/{id}/ptz/move"
            | "/api/cameras/{id}/ptz/stop"
            | "/api/cameras/{id}/ptz/home"
            | "/api/cameras/{id}/ptz/presets/{preset}",
        ) => typed::<crate::ptz::PtzView>(g),
        ("GET", "/api/hotspots") => typed::<Vec<detection::HotspotView>>(g),
        ("POST", "/api/hotspots") | ("GET" | "PUT", "/api/hotspots/{id}") => {
            typed::<detection::HotspotView>(g)
        }
        ("GET", "/api/rules") => typed::<Vec<detection::RuleView>>(g),
        ("POST", "/api/rules") | ("GET" | "PUT", "/api/rules/{id}") => {
            typed::<detection::RuleView>(g)
        }
        ("GET", "/api/incidents") => typed::<Vec<detection::IncidentView>>(g),
        ("GET", "/api/incidents/{id}") => typed::<detection::IncidentView>(g),
        ("GET", "/api/cameras/{id}/segments") => typed::<Vec<recordings::SegmentView>>(g),
        ("GET", "/api/cameras/{id}/gaps") => typed::<Vec<recordings::GapView>>(g),
        ("GET", "/api/cameras/{id}/onvif") => typed::<onvif::OnvifView>(g),
        ("POST", "/api/onvif/discover") | ("GET", "/api/onvif/discovered") => {
            typed::<Vec<onvif::DiscoveredView>>(g)
        }
        ("POST", "/api/onvif/discovered/{id}/dismiss") => typed::<onvif::DiscoveredView>(g),
        ("POST", "/api/onvif/add") => typed::<onvif::Added>(g),
        ("GET", "/api/keys") => typed::<Vec<evidence::KeyView>>(g),
        ("GET" | "POST", "/api/log/checkpoint") => typed::<evidence::CheckpointView>(g),
        ("GET", "/api/log/consistency") => typed::<evidence::ConsistencyView>(g),
        ("GET", "/api/holds") => typed::<Vec<evidence::HoldView>>(g),
        ("POST", "/api/holds") => typed::<evidence::HoldView>(g),
        ("POST", "/api/holds/{id}/clear") => typed::<evidence::ClearedView>(g),
        ("GET", "/api/exports") => typed::<Vec<evidence::ExportView>>(g),
        ("POST", "/api/exports") | ("GET", "/api/exports/{id}") => typed::<evidence::ExportView>(g),
        ("GET", "/api/alerts") => typed::<Vec<alerts::AlertSummary>>(g),
        ("GET", "/api/alerts/{id}") => typed::<alerts::AlertDetail>(g),
        ("GET", "/api/alerts/precision") => typed::<Vec<alerts::PrecisionView>>(g),
        ("POST", "/api/alerts/{id}/note") => typed::<alerts::NoteView>(g),
        ("POST", "/api/alerts/{id}/dispatch") => typed::<alerts::DispatchedView>(g),
        ("GET", "/api/reports/response-times") => typed::<reports::ResponseTimesReport>(g),
        ("GET", "/api/units") => typed::<alerts::UnitsView>(g),
        ("GET", "/api/units/me/alerts") => typed::<alerts::MyAlertsView>(g),
        ("POST", "/api/auth/device") => typed::<auth::LoginView>(g),
        ("POST", "/api/alerts") => typed::<crate::raise::RaisedView>(g),
        ("POST", "/api/units") => typed::<alerts::RegisteredView>(g),
        ("POST", "/api/units/me/receipts") => typed::<alerts::ReceiptView>(g),
        ("GET", "/api/push/key") => typed::<alerts::PushKeyView>(g),
        ("GET", "/api/webhooks") => typed::<Vec<webhooks::WebhookView>>(g),
        ("POST", "/api/webhooks")
        | ("POST", "/api/webhooks/{id}/disable" | "/api/webhooks/{id}/enable") => {
            typed::<webhooks::WebhookView>(g)
        }
        ("GET", "/api/webhooks/{id}/deliveries") => typed::<Vec<webhooks::DeliveryView>>(g),
        ("GET", "/api/openapi.json") => typed::<foreign::OpenApiDocument>(g),
        (
            "POST",
            "/api/alerts/{id}/claim"
            | "/api/alerts/{id}/acknowledge"
            | "/api/alerts/{id}/resolve"
            | "/api/alerts/{id}/false-alarm"
            | "/api/alerts/{id}/escalate",
        ) => typed::<alerts::AlertSummary>(g),
        ("GET", "/api/push/ws" | "/api/push/sse") => typed::<foreign::PushEnvelope>(g),
        ("POST", "/api/auth/logout" | "/api/units/me/position" | "/api/units/me/status")
        | ("DELETE", "/api/hotspots/{id}" | "/api/rules/{id}" | "/api/webhooks/{id}") => {
            Body::Empty
        }
        // The figures come from the running analytics as it builds them.
        _ => Body::Untyped,
    }
}

/// The `requestBody` of an operation, if it takes one.
fn request_object(body: &Body) -> Option<Value> {
    match body {
        Body::Typed { schema, required } => Some(json!({
            "required": required,
            "content": { "application/json": { "schema": schema } },
        })),
        Body::Untyped => Some(json!({
            "required": false,
            "x-roeh-body": "untyped",
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Json" } } },
        })),
        Body::Empty => None,
    }
}

/// The success response of a route: media, text and streams by route; JSON otherwise, with the
/// schema of `body`.
fn success(method: &str, path: &str, body: &Body) -> (&'static str, Value) {
    let content = |t: &str, schema: Value| json!({ t: { "schema": schema } });
    let binary = json!({ "type": "string", "contentEncoding": "binary" });
    match (method, path) {
        ("GET", "/api/cameras/{id}/mp4" | "/api/alerts/{id}/clip") => (
            "200",
            json!({ "description": "Recorded footage.", "content": content("video/mp4", binary) }),
        ),
        ("GET", "/api/incidents/{id}/snapshot" | "/api/units/me/alerts/{id}/snapshot") => (
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
                "description": "Prometheus metrics, OpenMetrics text format 1.0.0.",
                "content": content(crate::metrics::CONTENT_TYPE, json!({ "type": "string" })),
            }),
        ),
        ("GET", "/api/push/sse") => {
            let mut ok = json!({
                "description": "Server-sent events `alert`, `id:` = event seq; the data of each \
                                is a signed envelope (`x-roeh-message`).",
                "content": content("text/event-stream", json!({ "type": "string" })),
            });
            if let Body::Typed { schema, .. } = body {
                ok["x-roeh-message"] = schema.clone();
            }
            ("200", ok)
        }
        ("GET", "/api/cameras/{id}/live") => (
            "101",
            json!({
                "description": "WebSocket of live video: binary messages, each a 4-byte \
                                big-endian header length, a JSON header (`init`: codec, width, \
                                height; `frame`: t (90 kHz), wall (µs since 1970), key), then \
                                fragmented MP4 (an initialisation segment or one picture's \
                                moof+mdat) for Media Source Extensions.",
            }),
        ),
        ("GET", "/api/push/ws") => {
            let mut ok = json!({
                "description": "WebSocket of push messages: each text message is a signed \
                                envelope (`x-roeh-message`).",
            });
            if let Body::Typed { schema, .. } = body {
                ok["x-roeh-message"] = schema.clone();
            }
            ("101", ok)
        }
        _ => match body {
            Body::Typed { schema, .. } => (
                "2XX",
                json!({
                    "description": "Success.",
                    "content": content("application/json", schema.clone()),
                }),
            ),
            Body::Untyped => (
                "2XX",
                json!({
                    "description": "Success.",
                    "x-roeh-body": "untyped",
                    "content": content("application/json", json!({ "$ref": "#/components/schemas/Json" })),
                }),
            ),
            Body::Empty => ("204", json!({ "description": "Success, no content." })),
        },
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

fn operation(
    method: &str,
    path: &str,
    policy: Policy,
    errors: &[(u16, Vec<&str>)],
    (request, response): &(Body, Body),
) -> Value {
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
    if let Some(body) = request_object(request) {
        op.insert("requestBody".into(), body);
    }
    let (code, ok) = success(method, path, response);
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
    let (bodies, schemas) = body_schemas();
    let mut paths = Map::new();
    for ((m, p), body) in ROUTES.iter().zip(&bodies) {
        let op = match Method::from_bytes(m.as_bytes())
            .ok()
            .and_then(|method| route_policy(&method, p))
        {
            Some(policy) => operation(m, p, policy, &errors, body),
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
            "schemas": schemas,
            "responses": responses,
        },
    })
}

/// The request and response bodies of every route of `ROUTES` (in its order), and every schema
/// of `components/schemas`: the derived definitions, `Json` and `Error`.
fn body_schemas() -> (Vec<(Body, Body)>, Map<String, Value>) {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = SCHEMAS.into();
        s.meta_schema = None;
    });
    let mut requests = settings.clone().for_deserialize().into_generator();
    let mut responses = settings.for_serialize().into_generator();
    let mut bodies: Vec<(Body, Body)> = ROUTES
        .iter()
        .map(|(m, p)| {
            (
                request_body(m, p, &mut requests),
                response_body(m, p, &mut responses),
            )
        })
        .collect();
    let mut schemas = fixed_schemas();
    let mut request_schemas: Vec<&mut Value> = Vec::new();
    let mut response_schemas: Vec<&mut Value> = Vec::new();
    for (req, resp) in &mut bodies {
        if let Body::Typed { schema, .. } = req {
            request_schemas.push(schema);
        }
        if let Body::Typed { schema, .. } = resp {
            response_schemas.push(schema);
        }
    }
    merge_definitions(
        &mut schemas,
        requests.take_definitions(true),
        &mut request_schemas,
    );
    merge_definitions(
        &mut schemas,
        responses.take_definitions(true),
        &mut response_schemas,
    );
    (bodies, schemas)
}

/// Moves `defs` into `into`. A definition whose name is taken there by a different schema (the
/// same type read and written differently, or a clash with `Json` or `Error`) is renamed
/// `{name}2`, `{name}3`, …, and the `$ref`s to it in `defs` and in `uses` follow.
fn merge_definitions(
    into: &mut Map<String, Value>,
    mut defs: Map<String, Value>,
    uses: &mut [&mut Value],
) {
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    for (name, schema) in &defs {
        if into.get(name).is_some_and(|there| there != schema) {
            let free = (2..)
                .map(|i| format!("{name}{i}"))
                .find(|n| !into.contains_key(n) && !defs.contains_key(n));
            if let Some(free) = free {
                renames.insert(ref_to(name), ref_to(&free));
            }
        }
    }
    if !renames.is_empty() {
        for v in defs.values_mut() {
            rename_refs(v, &renames);
        }
        for v in uses.iter_mut() {
            rename_refs(v, &renames);
        }
    }
    for (name, schema) in defs {
        let name = match renames.get(&ref_to(&name)) {
            Some(r) => r.rsplit('/').next().unwrap_or(&name).to_string(),
            None => name,
        };
        into.insert(name, schema);
    }
}

fn ref_to(name: &str) -> String {
    format!("#{SCHEMAS}/{name}")
}

fn rename_refs(v: &mut Value, renames: &BTreeMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(r) if k == "$ref" => {
                        if let Some(to) = renames.get(r.as_str()) {
                            *r = to.clone();
                        }
                    }
                    _ => rename_refs(x, renames),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_refs(x, renames)),
        _ => {}
    }
}

/// The two schemas written by hand: `Json` (an untyped body) and `Error` (every error).
fn fixed_schemas() -> Map<String, Value> {
    let kind_status: Map<String, Value> = KINDS
        .iter()
        .map(|k| {
            (
                k.as_str().to_string(),
                json!(crate::error::status_of(*k).as_u16()),
            )
        })
        .collect();
    let fixed = json!({
        "Json": { "description": "A JSON value the handler builds by hand; where a body \
                  has this schema the route is marked `x-roeh-body: untyped` and its \
                  fields are not described here." },
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
    });
    match fixed {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `GET /api/openapi.json`.
pub(crate) async fn serve() -> axum::response::Response {
    use axum::response::IntoResponse;
    // The document depends only on the code: built and serialised once per process.
    static DOCUMENT: std::sync::LazyLock<bytes::Bytes> =
        std::sync::LazyLock::new(|| serde_json::to_vec(&document()).unwrap_or_default().into());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.clone(),
    )
        .into_response()
}

/// Schemas of the types from other crates that bodies carry, written as the API reads and
/// writes them (a test compares each with the real type's serde form), and of the push
/// envelope.
pub(crate) mod foreign {
    // Only their schemas are used: the API never builds these types.
    #![allow(dead_code)]

    use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

    /// A role name (`roeh_auth::Role`).
    pub(crate) fn role(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = roeh_auth::Role::ALL.iter().map(|r| r.as_str()).collect();
        json_schema!({ "type": "string", "enum": names })
    }

    /// RTP transport for RTSP: the schema the ONVIF add body (`roeh_onvif::AddRequest`) names
    /// too, so that the document has one `Transport`.
    pub(crate) use roeh_onvif::schema::Transport;

    /// A push message on the wire (`roeh_alerts::push::Envelope`): the body as JSON text and
    /// its Ed25519 signature over the push context followed by exactly those bytes.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct PushEnvelope {
        /// Envelope version.
        #[schemars(range(min = 1, max = 1))]
        v: u8,
        /// The signing key's id (`GET /api/push/key`).
        key: String,
        /// The message body: JSON text of a `PushMessage`.
        #[schemars(schema_with = "push_body")]
        msg: String,
        /// The signature, lowercase hex.
        sig: String,
    }

    /// The OpenAPI 3.1 document itself (`GET /api/openapi.json`); its parts follow the
    /// OpenAPI 3.1.0 specification and are not described again here.
    #[derive(JsonSchema)]
    pub(crate) struct OpenApiDocument {
        /// `3.1.0`.
        #[schemars(extend("const" = "3.1.0"))]
        openapi: String,
        /// Title, version and description of the API.
        info: serde_json::Map<String, serde_json::Value>,
        /// One entry per route template.
        paths: serde_json::Map<String, serde_json::Value>,
        /// Schemas, shared responses and security schemes.
        components: serde_json::Map<String, serde_json::Value>,
    }

    // ----- Hotspot and rule documents (`roeh_rules`) -----
    //
    // The API reads these as JSON and hands them to `Hotspot::parse_json` and
    // `Rule::parse_json`; a test checks that a document these schemas refuse is refused by the
    // parsers too. The parsers check more than a schema can say (distinct ids, zones on the
    // hotspot's cameras, simple polygons, ordered date ranges, a known time zone); those
    // refusals are 400s naming the field.

    /// A point `[x, y]` in normalised image coordinates: fractions of the frame's width and
    /// height, from the top left.
    pub(crate) struct Point;

    impl JsonSchema for Point {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "Point".into()
        }

        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "description": "[x, y]: fractions of the frame's width and height, from the \
                                top left.",
                "type": "array",
                "items": { "type": "number", "minimum": 0.0, "maximum": 1.0 },
                "minItems": 2,
                "maxItems": 2,
            })
        }
    }

    /// Which crossings of a trip line count.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub(crate) enum Direction {
        /// From side A (left of the line, walking from its first point to its second) to B.
        AToB,
        /// From side B to side A.
        BToA,
        /// Either way.
        Both,
    }

    /// An area of one camera's picture (`roeh_rules::Zone`).
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Zone {
        /// Unique within the hotspot; rules name zones by it.
        #[schemars(length(min = 1))]
        id: String,
        /// The camera whose picture the polygon is drawn on: one of the hotspot's cameras.
        camera: uuid::Uuid,
        /// For people.
        #[serde(default)]
        #[schemars(length(max = 200))]
        name: String,
        /// The area: a simple polygon (no self-intersection, not degenerate).
        #[schemars(length(min = 3))]
        polygon: Vec<Point>,
    }

    /// A line on one camera's picture that people may cross (`roeh_rules::TripLine`).
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct TripLine {
        /// Unique within the hotspot; rules name lines by it.
        #[schemars(length(min = 1))]
        id: String,
        /// The camera whose picture the line is drawn on: one of the hotspot's cameras.
        camera: uuid::Uuid,
        /// For people.
        #[serde(default)]
        #[schemars(length(max = 200))]
        name: String,
        /// The segment: two distinct points.
        line: [Point; 2],
        /// Which crossings count.
        direction: Direction,
    }

    /// A day of the week: its English name or the name's first three letters, in any case.
    pub(crate) struct Day;

    impl JsonSchema for Day {
        fn schema_name() -> std::borrow::Cow<'static, str> {
            "Day".into()
        }

        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            day()
        }
    }

    fn day() -> Schema {
        let days = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let any_case = |s: &str| -> String {
            s.chars()
                .map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c))
                .collect()
        };
        let names: Vec<String> = days
            .iter()
            .map(|d| format!("{}(?:{})?", any_case(&d[..3]), any_case(&d[3..])))
            .collect();
        json_schema!({
            "type": "string",
            "pattern": format!("^(?:{})$", names.join("|")),
            "examples": ["mon", "Saturday"],
        })
    }

    /// A local time of day, `HH:MM` or `HH:MM:SS`.
    fn time_of_day(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?$",
            "examples": ["22:00"],
        })
    }

    /// A local date, `YYYY-MM-DD`.
    fn date(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "examples": ["2026-07-01"],
        })
    }

    /// A window repeated on some weekdays, in local time; `to <= from` ends on the next day.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct WeeklyWindow {
        /// The days an occurrence may start on.
        #[schemars(length(min = 1))]
        days: Vec<Day>,
        /// Local start time (included).
        #[schemars(schema_with = "time_of_day")]
        from: String,
        /// Local end time (excluded).
        #[schemars(schema_with = "time_of_day")]
        to: String,
    }

    /// An inclusive range of local dates (`from` not after `to`).
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct DateRange {
        /// First date.
        #[schemars(schema_with = "date")]
        from: String,
        /// Last date (included).
        #[schemars(schema_with = "date")]
        to: String,
        /// What the range is, e.g. "summer holidays".
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    }

    /// When a hotspot is armed (`roeh_rules::Schedule`): weekly windows, limited to `dates`
    /// when given and never on `except`, in the IANA time zone `tz`; `always` arms it at
    /// every time of a counted date.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Schedule {
        /// An IANA time zone name.
        #[schemars(length(min = 1), example = &"Europe/Stockholm")]
        tz: String,
        /// Armed at all times (subject to `dates` and `except`).
        #[serde(default)]
        always: bool,
        /// Weekly windows.
        #[serde(default)]
        windows: Vec<WeeklyWindow>,
        /// If not empty, only occurrences starting on these dates count.
        #[serde(default)]
        dates: Vec<DateRange>,
        /// Occurrences starting on these dates never count.
        #[serde(default)]
        except: Vec<DateRange>,
    }

    /// A hotspot document (`roeh_rules::Hotspot`): a watched place with its cameras, zones,
    /// trip lines and schedule. In a request `id` may be left out (a new id is chosen, or the
    /// path's); stored documents always have it.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Hotspot {
        /// Identity.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<uuid::Uuid>,
        /// For people: not blank, at most 200 bytes, no control characters.
        #[schemars(
            length(min = 1, max = 200),
            regex(pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")
        )]
        name: String,
        /// Latitude, degrees.
        #[schemars(range(min = -90.0, max = 90.0))]
        lat: f64,
        /// Longitude, degrees.
        #[schemars(range(min = -180.0, max = 180.0))]
        lon: f64,
        /// Larger is more urgent.
        #[serde(default)]
        priority: u8,
        /// The cameras that see it, each once.
        #[schemars(extend("uniqueItems" = true))]
        cameras: Vec<uuid::Uuid>,
        /// Zones, each on one of the cameras, with distinct ids.
        #[serde(default)]
        zones: Vec<Zone>,
        /// Trip lines, each on one of the cameras, with distinct ids.
        #[serde(default)]
        lines: Vec<TripLine>,
        /// When it is armed.
        schedule: Schedule,
    }

    /// How urgent a rule's incidents are.
    #[derive(JsonSchema)]
    #[serde(rename_all = "snake_case")]
    pub(crate) enum Severity {
        /// Worth a look.
        Low,
        /// Worth attention.
        Medium,
        /// Act soon.
        High,
        /// Act now.
        Critical,
    }

    /// What a rule watches for, tagged by `kind`; its fields sit beside the rule's.
    #[derive(JsonSchema)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub(crate) enum RuleKind {
        /// Presence in a zone while armed.
        Intrusion {
            /// Zone id on the rule's hotspot.
            #[schemars(length(min = 1))]
            zone: String,
        },
        /// Presence in a zone for at least `dwell_secs`.
        Loitering {
            /// Zone id on the rule's hotspot.
            #[schemars(length(min = 1))]
            zone: String,
            /// Seconds in the zone.
            #[schemars(range(min = 1))]
            dwell_secs: u64,
        },
        /// At least `min_count` objects in a zone for at least `for_secs`.
        Crowding {
            /// Zone id on the rule's hotspot.
            #[schemars(length(min = 1))]
            zone: String,
            /// Objects at once.
            #[schemars(range(min = 1))]
            min_count: u32,
            /// Seconds the count must hold.
            for_secs: u64,
        },
        /// A crossing of a trip line, in the line's direction.
        LineCrossing {
            /// Line id on the rule's hotspot.
            #[schemars(length(min = 1))]
            line: String,
        },
        /// A camera without frames, frozen or dark: at least one of `no_frames_secs`,
        /// `frozen_secs` and `dark_luma_max`.
        #[schemars(extend("anyOf" = [
            { "required": ["no_frames_secs"], "properties": { "no_frames_secs": { "type": "integer" } } },
            { "required": ["frozen_secs"], "properties": { "frozen_secs": { "type": "integer" } } },
            { "required": ["dark_luma_max"], "properties": { "dark_luma_max": { "type": "number" } } },
        ]))]
        Tamper {
            /// Seconds without any frame.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 1))]
            no_frames_secs: Option<u64>,
            /// Seconds of the same picture.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 1))]
            frozen_secs: Option<u64>,
            /// Highest mean luma that counts as dark.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(range(min = 0.0, max = 255.0))]
            dark_luma_max: Option<f32>,
            /// Seconds the picture must stay dark (0: the first dark frame).
            #[serde(default)]
            dark_secs: u64,
        },
    }

    fn default_cooldown() -> u64 {
        60
    }

    fn default_min_confidence() -> f32 {
        0.5
    }

    fn default_labels() -> Vec<String> {
        vec!["person".to_owned()]
    }

    fn yes() -> bool {
        true
    }

    /// A rule document (`roeh_rules::Rule`): what, on a hotspot, opens an incident. In a
    /// request `id` may be left out (a new id is chosen, or the path's); stored documents
    /// always have it. The zone or line it names must exist on the hotspot.
    #[derive(JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Rule {
        /// Identity.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<uuid::Uuid>,
        /// The hotspot it watches.
        hotspot: uuid::Uuid,
        /// For people: not blank, at most 200 bytes.
        #[schemars(length(min = 1, max = 200))]
        name: String,
        /// What it watches for.
        #[serde(flatten)]
        kind: RuleKind,
        /// How urgent its incidents are.
        severity: Severity,
        /// Seconds after a close before the same rule and camera may open again.
        #[serde(default = "default_cooldown")]
        cooldown_secs: u64,
        /// Detections below this score are ignored.
        #[serde(default = "default_min_confidence")]
        #[schemars(range(min = 0.0, max = 1.0))]
        min_confidence: f32,
        /// Detection labels it considers, none blank.
        #[serde(default = "default_labels")]
        #[schemars(length(min = 1), inner(length(min = 1)))]
        labels: Vec<String>,
        /// A disabled rule produces nothing.
        #[serde(default = "yes")]
        enabled: bool,
        /// Whether its incidents should alert operators.
        #[serde(default = "yes")]
        alerting: bool,
        /// Ignore the hotspot's schedule: armed at all times.
        #[serde(default)]
        always_armed: bool,
    }

    fn push_body(generator: &mut SchemaGenerator) -> Schema {
        let body = generator.subschema_for::<crate::push::PushMessage>();
        json_schema!({
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": body,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn schema_of(doc: &Value, name: &str) -> Value {
        doc["components"]["schemas"][name].clone()
    }

    fn property_names(schema: &Value) -> Vec<String> {
        keys(&schema["properties"])
    }

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    /// The schema named `name` has exactly the keys of `real`, a serialized real value.
    fn same_keys(doc: &Value, name: &str, real: &Value) {
        assert_eq!(
            keys(real),
            property_names(&schema_of(doc, name)),
            "{name}: {real}"
        );
    }

    fn enum_values(schema: &Value) -> Vec<String> {
        let from_one_of = schema["oneOf"].as_array().map(|alts| {
            alts.iter()
                .filter_map(|a| a["const"].as_str().or_else(|| a["enum"][0].as_str()))
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        from_one_of
            .or_else(|| {
                schema["enum"].as_array().map(|e| {
                    e.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
            })
            .unwrap()
    }

    /// Every enum value of the schema named `name` reads as the real type, and the real values
    /// `real` are all in it.
    fn same_enum<T: serde::de::DeserializeOwned + serde::Serialize>(
        doc: &Value,
        name: &str,
        real: &[T],
    ) {
        let values = enum_values(&schema_of(doc, name));
        assert!(!values.is_empty(), "{name}");
        for v in &values {
            serde_json::from_value::<T>(json!(v)).unwrap_or_else(|e| panic!("{name} {v}: {e}"));
        }
        for r in real {
            let s = serde_json::to_value(r).unwrap();
            assert!(values.iter().any(|v| *v == s), "{name} lacks {s}");
        }
    }

    #[test]
    fn foreign_schemas_match_the_real_types() {
        let doc = document();
        let health = roeh_domain::StreamHealth {
            last_frame_at: Some(roeh_domain::WallTime(1)),
            codec: Some(roeh_domain::VideoCodec::H264),
            ..Default::default()
        };
        let real = serde_json::to_value(&health).unwrap();
        same_keys(&doc, "StreamHealth", &real);
        assert!(real["last_frame_at"].is_i64());
        let times = serde_json::to_value(roeh_alerts::ResponseTimes::default()).unwrap();
        same_keys(&doc, "ResponseTimes", &times);
        let point = serde_json::to_value(roeh_alerts::LatLon { lat: 1.0, lon: 2.0 }).unwrap();
        same_keys(&doc, "LatLon", &point);
        let scope = roeh_auth::Scope {
            cameras: Some([roeh_domain::CameraId::new_random()].into()),
            hotspots: Some([uuid::Uuid::from_u128(7)].into()),
        };
        let scope: Value = serde_json::from_str(&scope.to_json().unwrap()).unwrap();
        same_keys(&doc, "Scope", &scope);
        assert_eq!(
            serde_json::from_str::<Value>(&roeh_auth::Scope::unrestricted().to_json().unwrap())
                .unwrap(),
            json!({}),
            "an unrestricted scope has no keys"
        );
        let envelope = serde_json::to_value(roeh_alerts::push::Envelope {
            v: roeh_alerts::push::ENVELOPE_VERSION,
            key: "k".into(),
            msg: "{}".into(),
            sig: "00".into(),
        })
        .unwrap();
        same_keys(&doc, "PushEnvelope", &envelope);
        let schema = schema_of(&doc, "PushEnvelope");
        assert_eq!(
            schema["properties"]["v"]["minimum"],
            json!(roeh_alerts::push::ENVELOPE_VERSION)
        );
        assert_eq!(schema["additionalProperties"], json!(false));

        let stats = serde_json::to_value(roeh_alerts::DurationStats::default()).unwrap();
        same_keys(&doc, "DurationStats", &stats);
        let suggestion = serde_json::to_value(roeh_alerts::Suggestion {
            unit: uuid::Uuid::from_u128(1),
            distance_m: 2.0,
        })
        .unwrap();
        same_keys(&doc, "Suggestion", &suggestion);
        use roeh_rules::{Direction as D, Severity as V};
        same_enum(&doc, "Direction", &[D::AToB, D::BToA, D::Both]);
        same_enum(&doc, "Severity", &[V::Low, V::Medium, V::High, V::Critical]);
        // States written as text: every real one is listed, and nothing else.
        use roeh_store::{DeliveryState as W, IncidentState as I};
        let listed = |schema: &str, field: &str| -> Vec<String> {
            let mut v: Vec<String> = schema_of(&doc, schema)["properties"][field]["enum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        let same_listed = |schema: &str, field: &str, real: &[&str]| {
            let mut real: Vec<String> = real.iter().map(|s| s.to_string()).collect();
            real.sort();
            assert_eq!(listed(schema, field), real, "{schema}.{field}");
        };
        same_listed(
            "DeliveryView",
            "state",
            &[W::Pending.as_str(), W::Delivered.as_str(), W::Dead.as_str()],
        );
        same_listed(
            "IncidentView",
            "state",
            &[I::Open.as_str(), I::Closed.as_str()],
        );
        use crate::reports::Group;
        same_listed(
            "ResponseTimesReport",
            "group",
            &[
                Group::Hotspot.as_str(),
                Group::Shift.as_str(),
                Group::HotspotShift.as_str(),
            ],
        );

        use roeh_alerts::{ReceiptKind as R, UnitStatus as U};
        use roeh_domain::{SegmentState as G, StreamState as S, Transport as T};
        same_enum(&doc, "Transport", &[T::Tcp, T::Udp]);
        same_enum(&doc, "UnitStatus", &[U::Available, U::Busy, U::OffDuty]);
        same_enum(
            &doc,
            "ReceiptKind",
            &[R::Delivered, R::Accepted, R::Arrived, R::Closed],
        );
        same_enum(&doc, "SegmentState", &[G::Committed, G::Deleted]);
        same_enum(
            &doc,
            "StreamState",
            &[S::Idle, S::Connecting, S::Streaming, S::Backoff, S::Stopped],
        );
        same_enum(
            &doc,
            "VideoCodec",
            &[roeh_domain::VideoCodec::H264, roeh_domain::VideoCodec::H265],
        );
    }

    /// Errors of `instance` against the schema `#/components/schemas/{name}` of `doc`.
    fn schema_errors(doc: &Value, name: &str, instance: &Value) -> Vec<String> {
        let root = json!({
            "components": doc["components"],
            "allOf": [{ "$ref": ref_to(name) }],
        });
        let validator = jsonschema::draft202012::new(&root).unwrap();
        validator
            .iter_errors(instance)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect()
    }

    /// The name of the schema a `$ref` names.
    fn ref_name(v: &Value) -> String {
        v["$ref"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// What the `kind` routes do with a body: fill in the id, then parse it with `parse`.
    fn parse_body<T, E: std::fmt::Display>(
        v: &Value,
        kind: &str,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T, String> {
        let (v, _) =
            crate::detection::with_id(v.clone(), kind, None).map_err(|e| format!("{e:?}"))?;
        parse(&v.to_string()).map_err(|e| e.to_string())
    }

    /// What the hotspot routes do with a body.
    fn parse_hotspot(v: &Value) -> Result<roeh_rules::Hotspot, String> {
        parse_body(v, "hotspot", roeh_rules::Hotspot::parse_json)
    }

    /// What the rule routes do with a body before they look at its hotspot.
    fn parse_rule(v: &Value) -> Result<roeh_rules::Rule, String> {
        parse_body(v, "rule", roeh_rules::Rule::parse_json)
    }

    /// Asserts that every body in `valid` passes the `request` schema and `parse`, and that
    /// what `parse` makes of it (what is stored and shown) passes the `answer` schema.
    fn assert_accepted<T: serde::Serialize>(
        doc: &Value,
        request: &str,
        answer: &str,
        valid: &[Value],
        parse: fn(&Value) -> Result<T, String>,
    ) {
        for v in valid {
            let parsed = parse(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(schema_errors(doc, request, v), Vec::<String>::new(), "{v}");
            let stored = serde_json::to_value(&parsed).unwrap();
            assert_eq!(
                schema_errors(doc, answer, &stored),
                Vec::<String>::new(),
                "{stored}"
            );
        }
    }

    /// Asserts that both the `request` schema and `parse` refuse every body in `refused`.
    fn assert_refused<T>(
        doc: &Value,
        request: &str,
        refused: &[Value],
        parse: fn(&Value) -> Result<T, String>,
    ) {
        for v in refused {
            assert!(!schema_errors(doc, request, v).is_empty(), "schema: {v}");
            assert!(parse(v).is_err(), "parser: {v}");
        }
    }

    /// `base` with `path` (a JSON pointer to an object member) set to `to`, or removed when
    /// `to` is `None`.
    fn with(base: &Value, path: &str, to: Option<Value>) -> Value {
        let mut v = base.clone();
        let (parent, key) = path.rsplit_once('/').unwrap();
        let obj = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match to {
            Some(x) => obj.insert(key.to_string(), x),
            None => obj.remove(key),
        };
        v
    }

    const CAM: &str = "6f1c2f5e-8a47-4a55-9a0e-0d6d3a9f0a11";
    const OTHER_CAM: &str = "0b7e0c55-2a1e-4a3b-8a4f-7b2f1c9d1e22";

    fn full_hotspot() -> Value {
        json!({
            "id": "a3b1c2d4-0000-4000-8000-000000000001",
            "name": "North gate", "lat": 31.77, "lon": 35.21, "priority": 3,
            "cameras": [CAM, OTHER_CAM],
            "zones": [{ "id": "yard", "camera": CAM, "name": "Yard",
                        "polygon": [[0.1, 0.5], [0.9, 0.5], [0.9, 1.0], [0.1, 1]] }],
            "lines": [{ "id": "gate", "camera": OTHER_CAM, "line": [[0.5, 0.2], [0.5, 0.9]],
                        "direction": "a_to_b" }],
            "schedule": {
                "tz": "Asia/Jerusalem",
                "windows": [{ "days": ["sun", "Monday", "TUE"], "from": "22:00",
                              "to": "05:00:30" }],
                "dates": [{ "from": "2026-07-01", "to": "2026-08-31", "label": "summer" }],
                "except": [{ "from": "2026-07-14", "to": "2026-07-14", "label": null }],
            },
        })
    }

    #[test]
    fn the_hotspot_schema_accepts_what_the_parser_accepts_and_refuses_nothing_it_accepts() {
        let doc = document();
        let request = "Hotspot";
        let answer = ref_name(&schema_of(&doc, "HotspotView")["properties"]["hotspot"]);
        let full = full_hotspot();
        let minimal = json!({
            "name": "Square", "lat": -90, "lon": 180, "cameras": [],
            "schedule": { "tz": "Europe/Stockholm", "always": true },
        });
        let valid = [
            full.clone(),
            minimal.clone(),
            with(&minimal, "/id", Some(Value::Null)),
            with(&full, "/schedule", Some(json!({ "tz": "UTC" }))),
            with(
                &full,
                "/schedule/windows/0/days",
                Some(json!(["wednesday", "THU", "Fri", "saturDAY"])),
            ),
        ];
        // What is stored and shown is the parsed document.
        assert_accepted(&doc, request, &answer, &valid, parse_hotspot);
        let refused = [
            with(&full, "/zz_unknown", Some(json!(1))),
            with(&full, "/name", None),
            with(&full, "/lat", None),
            with(&full, "/lon", None),
            with(&full, "/cameras", None),
            with(&full, "/schedule", None),
            with(&full, "/id", Some(json!(5))),
            with(&full, "/name", Some(json!(""))),
            with(&full, "/name", Some(json!("a\u{7}b"))),
            with(&full, "/lat", Some(json!(90.5))),
            with(&full, "/lon", Some(json!(-181))),
            with(&full, "/priority", Some(json!(256))),
            with(&full, "/priority", Some(json!(-1))),
            with(&full, "/priority", Some(Value::Null)),
            with(&full, "/cameras", Some(json!([CAM, CAM]))),
            with(&full, "/zones", Some(Value::Null)),
            with(&full, "/zones/0/zz_unknown", Some(json!(1))),
            with(&full, "/zones/0/id", Some(json!(""))),
            with(
                &full,
                "/zones/0/polygon",
                Some(json!([[0.1, 0.1], [0.9, 0.9]])),
            ),
            with(
                &full,
                "/zones/0/polygon",
                Some(json!([[0.1, 0.1], [1.5, 0.1], [0.5, 0.9]])),
            ),
            with(
                &full,
                "/zones/0/polygon",
                Some(json!([[0.1, 0.1, 0.1], [0.9, 0.1], [0.5, 0.9]])),
            ),
            with(&full, "/lines/0/direction", Some(json!("up"))),
            with(&full, "/lines/0/line", Some(json!([[0.5, 0.2]]))),
            with(&full, "/lines/0/camera", None),
            with(&full, "/schedule/tz", None),
            with(&full, "/schedule/zz_unknown", Some(json!(1))),
            with(&full, "/schedule/always", Some(json!("yes"))),
            with(&full, "/schedule/windows/0/days", Some(json!([]))),
            with(&full, "/schedule/windows/0/days", Some(json!(["funday"]))),
            with(&full, "/schedule/windows/0/days", Some(json!(["mond"]))),
            with(&full, "/schedule/windows/0/from", Some(json!("24:00"))),
            with(&full, "/schedule/windows/0/from", Some(json!("7:00"))),
            with(&full, "/schedule/windows/0/to", Some(json!("12:60"))),
            with(&full, "/schedule/windows/0/to", Some(json!("12:00:60"))),
            with(&full, "/schedule/windows/0/to", None),
            with(&full, "/schedule/windows/0/zz_unknown", Some(json!(1))),
            with(&full, "/schedule/dates/0/from", Some(json!("2026-7-01"))),
            with(&full, "/schedule/dates/0/label", Some(json!(3))),
            with(&full, "/schedule/except/0/to", None),
        ];
        assert_refused(&doc, request, &refused, parse_hotspot);
        // What the schema cannot say is left to the parser, whose refusal names the field.
        let semantic = [
            (
                with(
                    &full,
                    "/zones/0/polygon",
                    Some(json!([[0, 0], [1, 1], [1, 0], [0, 1]])),
                ),
                "polygon is self-intersecting",
            ),
            (
                with(
                    &full,
                    "/zones/0/camera",
                    Some(json!(uuid::Uuid::from_u128(9))),
                ),
                "zones[0].camera",
            ),
            (
                with(&full, "/schedule/tz", Some(json!("Mars/Olympus"))),
                "schedule.tz",
            ),
            (
                with(&full, "/schedule/dates/0/to", Some(json!("2026-06-01"))),
                "schedule.dates[0]",
            ),
        ];
        for (v, field) in &semantic {
            assert_eq!(schema_errors(&doc, request, v), Vec::<String>::new(), "{v}");
            let e = parse_hotspot(v).unwrap_err();
            assert!(e.contains(field), "{field}: {e}");
        }
    }

    fn rule(kind: Value) -> Value {
        let mut v = json!({
            "hotspot": "22222222-2222-4222-8222-222222222222",
            "name": "After hours", "severity": "high",
        });
        for (k, x) in kind.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    }

    #[test]
    fn the_rule_schema_accepts_what_the_parser_accepts_and_refuses_nothing_it_accepts() {
        let doc = document();
        let request = "Rule";
        let answer = ref_name(&schema_of(&doc, "RuleView")["properties"]["rule"]);
        let valid = [
            rule(json!({ "kind": "intrusion", "zone": "yard" })),
            rule(
                json!({ "kind": "loitering", "zone": "yard", "dwell_secs": 30,
                         "id": "11111111-1111-4111-8111-111111111111" }),
            ),
            rule(
                json!({ "kind": "crowding", "zone": "yard", "min_count": 4, "for_secs": 0,
                         "cooldown_secs": 0, "min_confidence": 1, "labels": ["person", "car"],
                         "enabled": false, "alerting": false, "always_armed": true }),
            ),
            rule(json!({ "kind": "line_crossing", "line": "gate", "severity": "critical" })),
            rule(json!({ "kind": "tamper", "dark_luma_max": 12.5, "dark_secs": 5 })),
            rule(json!({ "kind": "tamper", "no_frames_secs": 30, "frozen_secs": null })),
            rule(json!({ "kind": "tamper", "frozen_secs": 60, "severity": "low" })),
        ];
        assert_accepted(&doc, request, &answer, &valid, parse_rule);
        // The defaults the schema states are the parser's.
        let r = parse_rule(&valid[0]).unwrap();
        let props = &schema_of(&doc, request)["properties"];
        assert_eq!(props["cooldown_secs"]["default"], json!(r.cooldown_secs));
        assert_eq!(props["min_confidence"]["default"], json!(r.min_confidence));
        assert_eq!(props["labels"]["default"], json!(r.labels));
        assert_eq!(props["enabled"]["default"], json!(r.enabled));
        assert_eq!(props["alerting"]["default"], json!(r.alerting));
        assert_eq!(props["always_armed"]["default"], json!(r.always_armed));

        let intrusion = &valid[0];
        let refused = [
            with(intrusion, "/zz_unknown", Some(json!(1))),
            with(intrusion, "/dwell_secs", Some(json!(3))),
            with(intrusion, "/hotspot", None),
            with(intrusion, "/name", None),
            with(intrusion, "/severity", None),
            with(intrusion, "/kind", None),
            with(intrusion, "/zone", None),
            with(intrusion, "/kind", Some(json!("teleport"))),
            with(intrusion, "/severity", Some(json!("extreme"))),
            with(intrusion, "/name", Some(json!(""))),
            with(intrusion, "/zone", Some(json!(""))),
            with(intrusion, "/id", Some(json!(7))),
            with(intrusion, "/min_confidence", Some(json!(1.5))),
            with(intrusion, "/min_confidence", Some(json!(-0.1))),
            with(intrusion, "/labels", Some(json!([]))),
            with(intrusion, "/labels", Some(json!(["person", ""]))),
            with(intrusion, "/cooldown_secs", Some(json!(-1))),
            rule(json!({ "kind": "loitering", "zone": "yard" })),
            rule(json!({ "kind": "loitering", "zone": "yard", "dwell_secs": 0 })),
            rule(json!({ "kind": "crowding", "zone": "yard", "min_count": 0, "for_secs": 1 })),
            rule(json!({ "kind": "crowding", "zone": "yard", "min_count": 2 })),
            rule(json!({ "kind": "line_crossing", "zone": "yard" })),
            rule(json!({ "kind": "tamper" })),
            rule(json!({ "kind": "tamper", "dark_secs": 3 })),
            rule(json!({ "kind": "tamper", "no_frames_secs": null })),
            rule(json!({ "kind": "tamper", "frozen_secs": 0 })),
            rule(json!({ "kind": "tamper", "dark_luma_max": 300 })),
            rule(json!({ "kind": "tamper", "frozen_secs": 5, "zone": "yard" })),
        ];
        assert_refused(&doc, request, &refused, parse_rule);
    }

    #[test]
    fn a_name_taken_by_another_schema_is_renamed_with_its_refs() {
        let mut into = Map::new();
        into.insert("A".into(), json!({ "type": "string" }));
        into.insert("B".into(), json!({ "type": "integer" }));
        let mut defs = Map::new();
        defs.insert("A".into(), json!({ "type": "number" }));
        defs.insert("B".into(), json!({ "type": "integer" }));
        defs.insert(
            "C".into(),
            json!({ "properties": { "a": { "$ref": ref_to("A") }, "b": { "$ref": ref_to("B") } } }),
        );
        let mut use1 = json!({ "items": { "$ref": ref_to("A") } });
        merge_definitions(&mut into, defs, &mut [&mut use1]);
        assert_eq!(
            into["A"],
            json!({ "type": "string" }),
            "the first keeps its name"
        );
        assert_eq!(into["A2"], json!({ "type": "number" }));
        assert_eq!(
            into["B"],
            json!({ "type": "integer" }),
            "equal schemas are shared"
        );
        assert!(into.get("B2").is_none());
        assert_eq!(into["C"]["properties"]["a"]["$ref"], ref_to("A2"));
        assert_eq!(into["C"]["properties"]["b"]["$ref"], ref_to("B"));
        assert_eq!(use1["items"]["$ref"], ref_to("A2"));
    }

    #[test]
    fn bodies_are_typed_untyped_or_absent_and_never_both() {
        let doc = document();
        for (m, p) in ROUTES {
            let op = &doc["paths"][p][m.to_ascii_lowercase()];
            if let Some(rb) = op.get("requestBody") {
                let schema = &rb["content"]["application/json"]["schema"];
                let generic = schema["$ref"] == "#/components/schemas/Json";
                assert_eq!(generic, rb.get("x-roeh-body").is_some(), "{m} {p}");
            }
        }
        assert_eq!(
            doc["paths"]["/api/cameras"]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/NewCamera"
        );
        assert!(
            doc["paths"]["/api/auth/logout"]["post"]
                .get("requestBody")
                .is_none()
        );
        assert!(
            doc["paths"]["/api/units/me/position"]["post"]["responses"]
                .get("204")
                .is_some()
        );
    }
}
