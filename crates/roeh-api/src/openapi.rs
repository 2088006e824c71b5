//! The OpenAPI 3.1 document of the API, generated at run time from the route table
//! ([`crate::routes`]) on aide's OpenAPI model, served at `GET /api/openapi.json` (any
//! signed-in user).
//!
//! Invariants:
//! - every route of the table is an operation of the document, and nothing else is; its
//!   `security` follows its policy: none (`[]`) for public routes, bearer or session cookie for
//!   the others, and `x-roeh-permission` names the permission a route needs;
//! - every error response references the one shared schema `Error`
//!   (`{"error": {"kind", "message"}}`); the statuses come from the API's single kind-to-status
//!   mapping, so the document cannot drift from what the server answers;
//! - JSON bodies and query parameters are described by schemas derived (`schemars`, JSON Schema
//!   2020-12) from the very types the handlers deserialize and serialize: the request side from
//!   the handler's own extractors, the answer from its table entry; every definition lives under
//!   `components/schemas` and every `$ref` points there. A request schema follows the
//!   deserializing contract (`#[serde(default)]` fields are optional, `deny_unknown_fields` is
//!   `additionalProperties: false`), a response schema the serializing one (an `Option` is
//!   present as `null` unless skipped);
//! - a body read as raw JSON and parsed by another crate (hotspot and rule documents, parsed by
//!   `roeh_rules`) is described by that crate's schema (`roeh_rules::schema`), which refuses
//!   nothing the parser accepts (a test feeds both the same documents);
//! - a JSON body the handler builds by hand (or whose type is not derived) keeps the generic
//!   `Json` schema and says so with `x-roeh-body: "untyped"`: the document never claims a shape
//!   the code does not have. A route that takes no body has no `requestBody`; one that answers
//!   nothing answers 204;
//! - list routes that page follow one convention, written in [`PAGINATION`].

use crate::auth::Policy;
use crate::routes::{self, Answer, Route};
use aide::openapi::{
    ApiKeyLocation, Components, Info, MediaType, OpenApi, Operation, Parameter, ParameterData,
    ParameterSchemaOrContent, PathItem, PathStyle, Paths, QueryStyle, ReferenceOr, RequestBody,
    Response, Responses, SchemaObject, SecurityScheme, StatusCode,
};
use indexmap::IndexMap;
use roeh_domain::ErrorKind;
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
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

/// Where the document's schemas live; schemars writes its `$ref`s to this path.
const SCHEMAS: &str = "/components/schemas";

/// A JSON body of a route, as the document describes it.
#[derive(Clone, Debug, PartialEq)]
enum Body {
    /// The schema of the handler's own type (`required`: a request must carry it).
    Typed { schema: Value, required: bool },
    /// JSON built by hand in the handler: the generic `Json` schema, marked untyped.
    Untyped,
    /// A text file of another media type.
    Text {
        /// The media type.
        media: &'static str,
        /// What it is.
        what: &'static str,
    },
    /// No body at all.
    Empty,
}

/// A query parameter: name, required, description, schema.
type Param = (String, bool, Option<String>, Value);

/// The query parameters of a query type's schema: one per property, its doc comment the
/// description; `null` is dropped from a parameter's types (a query string cannot say null:
/// an optional parameter is left out).
fn query_params(schema: &Schema) -> Vec<Param> {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, prop)| {
            let mut prop = prop.clone();
            let description = prop
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .and_then(|d| d.as_str().map(str::to_string));
            if let Some(types) = prop.get_mut("type").and_then(Value::as_array_mut) {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let t = types.remove(0);
                    prop["type"] = t;
                }
            }
            if let Some(o) = prop.as_object_mut() {
                // `Option<T>` with a default of `null` says nothing a missing parameter does not.
                if o.get("default") == Some(&Value::Null) {
                    o.remove("default");
                }
            }
            (
                name.clone(),
                required.contains(&name.as_str()),
                description,
                prop,
            )
        })
        .collect()
}

/// The `requestBody` of an operation, if it takes one.
fn request_object(body: &Body) -> Option<ReferenceOr<RequestBody>> {
    let content = |schema: Value| {
        IndexMap::from([(
            "application/json".to_string(),
            MediaType {
                schema: Some(schema_object(schema)),
                ..Default::default()
            },
        )])
    };
    let body = match body {
        Body::Typed { schema, required } => RequestBody {
            required: *required,
            content: content(schema.clone()),
            ..Default::default()
        },
        Body::Untyped => RequestBody {
            required: false,
            content: content(json!({ "$ref": "#/components/schemas/Json" })),
            extensions: IndexMap::from([("x-roeh-body".to_string(), json!("untyped"))]),
            ..Default::default()
        },
        Body::Text { media, what } => RequestBody {
            required: true,
            description: Some((*what).to_string()),
            content: IndexMap::from([(
                (*media).to_string(),
                MediaType {
                    schema: Some(schema_object(json!({ "type": "string" }))),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        },
        Body::Empty => return None,
    };
    Some(ReferenceOr::Item(body))
}

fn schema_object(schema: Value) -> SchemaObject {
    SchemaObject {
        json_schema: Schema::try_from(schema).unwrap_or_else(|_| Schema::from(true)),
        external_docs: None,
        example: None,
    }
}

fn content(media: &str, schema: Value) -> IndexMap<String, MediaType> {
    IndexMap::from([(
        media.to_string(),
        MediaType {
            schema: Some(schema_object(schema)),
            ..Default::default()
        },
    )])
}

/// The success response of a route: media, text and streams as its entry says; JSON of the
/// answer's schema (`answer`, already generated) otherwise.
fn success(route: &Route, answer: Option<&Value>) -> (StatusCode, Response) {
    let response = |description: &str| Response {
        description: description.to_string(),
        ..Default::default()
    };
    let message = |mut r: Response| {
        if let Some(schema) = answer {
            r.extensions
                .insert("x-roeh-message".to_string(), schema.clone());
        }
        r
    };
    match route.answer {
        Answer::Media { media, what, text } => {
            let schema = if text {
                json!({ "type": "string" })
            } else {
                json!({ "type": "string", "contentEncoding": "binary" })
            };
            let mut ok = response(what);
            ok.content = content(media, schema);
            (StatusCode::Code(200), ok)
        }
        Answer::EventStream { what, .. } => {
            let mut ok = response(what);
            ok.content = content("text/event-stream", json!({ "type": "string" }));
            (StatusCode::Code(200), message(ok))
        }
        Answer::Upgrade { what, .. } => (StatusCode::Code(101), message(response(what))),
        Answer::Json(_) => {
            let mut ok = response("Success.");
            ok.content = content(
                "application/json",
                answer.cloned().unwrap_or(Value::Bool(true)),
            );
            (StatusCode::Range(2), ok)
        }
        Answer::Untyped => {
            let mut ok = response("Success.");
            ok.content = content(
                "application/json",
                json!({ "$ref": "#/components/schemas/Json" }),
            );
            ok.extensions
                .insert("x-roeh-body".to_string(), json!("untyped"));
            (StatusCode::Range(2), ok)
        }
        Answer::NoContent => (StatusCode::Code(204), response("Success, no content.")),
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

fn parameter(
    name: &str,
    required: bool,
    description: Option<String>,
    schema: Value,
) -> ParameterData {
    ParameterData {
        name: name.to_string(),
        description,
        required,
        deprecated: None,
        format: ParameterSchemaOrContent::Schema(schema_object(schema)),
        example: None,
        examples: IndexMap::new(),
        explode: None,
        extensions: IndexMap::new(),
    }
}

/// What the document says of one route, its schemas already placed.
struct Described<'a> {
    route: &'a Route,
    request: Body,
    query: Vec<Param>,
    /// The answer's JSON schema, or each message's for a stream.
    answer: Option<Value>,
}

fn operation(d: &Described<'_>, errors: &[(u16, Vec<&str>)]) -> Operation {
    let (method, path) = d.route.key();
    let mut op = Operation {
        operation_id: Some(operation_id(method, path)),
        ..Default::default()
    };
    let tag = path
        .trim_start_matches("/api/")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    op.tags = vec![tag.to_string()];
    op.parameters = path
        .split('/')
        .filter_map(|p| p.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
        .map(|name| {
            ReferenceOr::Item(Parameter::Path {
                parameter_data: parameter(name, true, None, json!({ "type": "string" })),
                style: PathStyle::default(),
            })
        })
        .collect();
    op.parameters
        .extend(d.query.iter().map(|(name, required, description, schema)| {
            ReferenceOr::Item(Parameter::Query {
                parameter_data: parameter(name, *required, description.clone(), schema.clone()),
                allow_reserved: false,
                style: QueryStyle::default(),
                allow_empty_value: None,
            })
        }));
    op.request_body = request_object(&d.request);
    let (code, ok) = success(d.route, d.answer.as_ref());
    let mut responses = IndexMap::from([(code, ReferenceOr::Item(ok))]);
    let limited = matches!(path, "/api/auth/login" | "/api/auth/setup");
    for (status, _) in errors {
        if *status == 429 && !limited {
            continue;
        }
        responses.insert(
            StatusCode::Code(*status),
            ReferenceOr::ref_(&format!("#/components/responses/Error{status}")),
        );
    }
    op.responses = Some(Responses {
        responses,
        ..Default::default()
    });
    let signed_in = vec![
        IndexMap::from([("bearer".to_string(), Vec::new())]),
        IndexMap::from([("cookie".to_string(), Vec::new())]),
    ];
    let x = &mut op.extensions;
    match d.route.policy {
        // An empty `security` (written by [`document`]: the model leaves an empty list out).
        Policy::Public => {
            x.insert("x-roeh-policy".into(), json!("public"));
        }
        Policy::SignedIn => {
            op.security = signed_in;
            x.insert("x-roeh-policy".into(), json!("signed_in"));
        }
        Policy::Needs(p) => {
            op.security = signed_in;
            x.insert("x-roeh-policy".into(), json!("permission"));
            x.insert("x-roeh-permission".into(), json!(p.as_str()));
        }
    }
    if d.route.paged {
        op.extensions
            .insert("x-roeh-pagination".into(), json!("cursor"));
    }
    op
}

/// The OpenAPI 3.1 document of every route of [`crate::router`].
pub fn document() -> Value {
    let errors = error_statuses();
    let (described, schemas) = describe(routes::all());
    let mut paths: IndexMap<String, ReferenceOr<PathItem>> = IndexMap::new();
    for d in &described {
        let op = Some(operation(d, &errors));
        let entry = paths
            .entry(d.route.path.to_string())
            .or_insert_with(|| ReferenceOr::Item(PathItem::default()));
        if let ReferenceOr::Item(item) = entry {
            match d.route.method.as_str() {
                "GET" => item.get = op,
                "POST" => item.post = op,
                "PUT" => item.put = op,
                "DELETE" => item.delete = op,
                "PATCH" => item.patch = op,
                _ => {}
            }
        }
    }
    let mut responses = IndexMap::new();
    for (status, kinds) in &errors {
        let mut r = Response {
            description: format!("Error: {}.", kinds.join(", ")),
            content: content(
                "application/json",
                json!({ "$ref": "#/components/schemas/Error" }),
            ),
            ..Default::default()
        };
        r.extensions
            .insert("x-roeh-error-kinds".to_string(), json!(kinds));
        responses.insert(format!("Error{status}"), ReferenceOr::Item(r));
    }
    let security_schemes = IndexMap::from([
        (
            "bearer".to_string(),
            ReferenceOr::Item(SecurityScheme::Http {
                scheme: "bearer".into(),
                bearer_format: None,
                description: Some(
                    "API token `roeh_<64 hex>` (API clients, units, scrapers).".into(),
                ),
                extensions: IndexMap::new(),
            }),
        ),
        (
            "cookie".to_string(),
            ReferenceOr::Item(SecurityScheme::ApiKey {
                location: ApiKeyLocation::Cookie,
                name: roeh_auth::cookie::SECURE_SESSION_COOKIE.into(),
                description: Some(format!(
                    "Console session (`{}` when the console is served over plain HTTP).",
                    roeh_auth::cookie::SESSION_COOKIE
                )),
                extensions: IndexMap::new(),
            }),
        ),
    ]);
    let doc = OpenApi {
        info: Info {
            title: "roeh API".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: Some(format!(
                "Every error answers `{{\"error\": {{\"kind\", \"message\"}}}}` (schema `Error`). \
                 Cookie-authenticated state changes need the `{}` header. {PAGINATION}",
                roeh_auth::CSRF_HEADER
            )),
            ..Default::default()
        },
        paths: Some(Paths {
            paths,
            ..Default::default()
        }),
        components: Some(Components {
            security_schemes,
            schemas: schemas
                .into_iter()
                .map(|(k, v)| (k, schema_object(v)))
                .collect(),
            responses,
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    // A public route says so with an empty `security`, which the model leaves out.
    for d in described
        .iter()
        .filter(|d| d.route.policy == Policy::Public)
    {
        let (m, p) = d.route.key();
        if let Some(op) = doc
            .get_mut("paths")
            .and_then(|ps| ps.get_mut(p))
            .and_then(|item| item.get_mut(m.to_ascii_lowercase()))
            .and_then(Value::as_object_mut)
        {
            op.insert("security".into(), json!([]));
        }
    }
    doc
}

/// What the document says of each route of `routes` (in its order), and every schema of
/// `components/schemas`: the derived definitions, `Json` and `Error`.
fn describe(routes: &[Route]) -> (Vec<Described<'_>>, Map<String, Value>) {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = SCHEMAS.into();
        s.meta_schema = None;
    });
    let mut requests = settings.clone().for_deserialize().into_generator();
    let mut responses = settings.clone().for_serialize().into_generator();
    // Query parameters are described inline, each on its own.
    let mut queries = settings
        .for_deserialize()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut described: Vec<Described<'_>> = routes
        .iter()
        .map(|route| {
            let request = match route.inputs.body {
                Some(routes::Body::Typed { schema, required }) => Body::Typed {
                    schema: schema(&mut requests).to_value(),
                    required,
                },
                Some(routes::Body::Untyped) => Body::Untyped,
                Some(routes::Body::Text { media, what }) => Body::Text { media, what },
                None => Body::Empty,
            };
            let answer = match route.answer {
                Answer::Json(f)
                | Answer::EventStream { message: f, .. }
                | Answer::Upgrade {
                    message: Some(f), ..
                } => Some(f(&mut responses).to_value()),
                _ => None,
            };
            let query = route
                .inputs
                .query
                .map(|f| query_params(&f(&mut queries)))
                .unwrap_or_default();
            Described {
                route,
                request,
                query,
                answer,
            }
        })
        .collect();
    let mut schemas = fixed_schemas();
    let mut request_schemas: Vec<&mut Value> = Vec::new();
    let mut response_schemas: Vec<&mut Value> = Vec::new();
    for d in &mut described {
        if let Body::Typed { schema, .. } = &mut d.request {
            request_schemas.push(schema);
        }
        if let Some(schema) = &mut d.answer {
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
    (described, schemas)
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

// Only its schema is used: the document itself is built on aide's model.
/// The OpenAPI 3.1 document itself (`GET /api/openapi.json`); its parts follow the
/// OpenAPI 3.1.0 specification and are not described again here.
#[allow(dead_code)]
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
    fn schemas_of_other_crates_match_the_real_types() {
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
        for (m, p) in crate::ROUTES.iter() {
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

    #[test]
    fn query_parameters_are_the_fields_of_the_handlers_query_types() {
        let doc = document();
        let params = |m: &str, p: &str| -> Vec<Value> {
            doc["paths"][p][m]["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|x| x["in"] == "query")
                .collect()
        };
        let names = |m: &str, p: &str| -> Vec<String> {
            params(m, p)
                .iter()
                .map(|x| x["name"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            names("get", "/api/alerts"),
            ["before", "hotspot", "limit", "state"]
        );
        assert_eq!(names("get", "/api/log/consistency"), ["from", "to"]);
        assert_eq!(names("get", "/api/alerts/{id}/clip"), ["exp", "sig"]);
        assert_eq!(names("get", "/api/units"), ["alert"]);
        assert_eq!(names("get", "/api/cameras/{id}/mp4"), ["end", "start"]);
        assert!(names("get", "/api/health").is_empty());
        // Required where the type requires it; typed by the field; described by its doc.
        for x in params("get", "/api/log/consistency") {
            assert_eq!(x["required"], true, "{x}");
            assert_eq!(x["schema"]["type"], "integer", "{x}");
        }
        let before = &params("get", "/api/alerts")[0];
        assert!(before.get("required").is_none(), "optional: {before}");
        assert_eq!(
            before["schema"],
            json!({ "type": "string", "format": "uuid" })
        );
        assert!(before["description"].as_str().unwrap().contains("Cursor"));
        // A query string cannot say null: no parameter's type includes it.
        for (p, item) in doc["paths"].as_object().unwrap() {
            for (m, op) in item.as_object().unwrap() {
                for x in op["parameters"].as_array().into_iter().flatten() {
                    assert!(x["schema"]["type"].is_string(), "{m} {p}: {x}");
                    assert!(
                        x.get("description").is_some() || x["in"] == "path",
                        "{m} {p}: {x}"
                    );
                }
            }
        }
    }
}
