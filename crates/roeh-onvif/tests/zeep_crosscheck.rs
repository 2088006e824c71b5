//! Cross-check of the requests roeh-onvif sends against an independent ONVIF client,
//! `onvif-zeep-async==4.3.0` (PyPI), which builds its requests from the official ONVIF WSDLs.
//!
//! A capture server on 127.0.0.1:0 records every request and answers with the recorded fixture
//! replies (`tests/fixtures/`), so both clients get through the onboarding flow. roeh's
//! [`OnvifClient`] runs first, then `tests/zeep_requests.py` drives zeep through the same
//! operations: GetSystemDateAndTime, GetDeviceInformation, GetCapabilities, GetServices,
//! GetProfiles, GetStreamUri and GetSnapshotUri (the last two for a plain profile token and for
//! one that needs XML escaping). Both sets of requests are parsed namespace-aware and compared
//! per operation: the SOAP version of the Envelope, the body's operation element and all its
//! descendants (namespace URI, local name, attributes, text, order), the HTTP method, path,
//! `Host`, `Content-Type` (media type, charset, action) and `SOAPAction`, and the WS-Security
//! UsernameToken (structure, attribute URIs, `Created` in UTC near the device's clock, and a
//! PasswordDigest that validates for the password, computed here independently).
//!
//! The only accepted differences are listed in [`TOLERATED`], each with the reason it does not
//! matter to a device; anything else fails the test.
//!
//! Prerequisite: the venv made by `crates/roeh-onvif/tests/setup-zeep.sh` (or `ROEH_ZEEP_VENV`).
//! Without it the cross-check fails (unless `ROEH_ALLOW_SKIP=1`); the comparator's own tests
//! below run regardless.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use roeh_domain::{Clock, Credentials, Secret, SimClock, WallTime};
use roeh_onvif::{Cidr, NetPolicy, OnvifClient};
use sha1::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{OPERATIONS, fixture, soap_reply};

const USER: &str = "operator";
const PASSWORD: &str = "Cross-Check-Pa55";
/// A token from the profiles fixture, and one that needs escaping in XML text.
const TOKENS: [&str; 2] = ["Profile_1", "P&<1>'\"x"];
/// The fixture device's UTC clock (`get_system_date_and_time.xml`).
const DEVICE_UTC: &str = "2026-11-22T20:12:30Z";

const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const NS_DEVICE: &str = "http://www.onvif.org/ver10/device/wsdl";
const NS_MEDIA: &str = "http://www.onvif.org/ver10/media/wsdl";
const NS_SCHEMA: &str = "http://www.onvif.org/ver10/schema";
const NS_WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const NS_WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const NS_WSA: &str = "http://www.w3.org/2005/08/addressing";
const PASSWORD_DIGEST: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest";
const BASE64_BINARY: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary";

/// Every difference between roeh's and zeep's requests that is accepted, with the reason it does
/// not matter to a device. The comparison names the entry it applies; an unnamed difference
/// fails the test.
const TOLERATED: &[(&str, &str)] = &[
    (
        "whitespace",
        "text is compared trimmed and whitespace-only text between elements is ignored; none of \
         the values compared (tokens, enumerations, booleans, base64, dateTime) may carry \
         significant leading or trailing whitespace",
    ),
    (
        "prefixes",
        "elements and attributes are compared by namespace URI and local name; the prefixes \
         chosen, where a namespace is declared, and unused declarations (zeep declares wsnt and \
         wsa on every Envelope, roeh declares tds, trt and tt) carry no meaning in XML Namespaces",
    ),
    (
        "xml-declaration",
        "the XML declaration's quoting and the case of its encoding name (UTF-8, utf-8) are \
         equivalent; both bodies are UTF-8",
    ),
    (
        "header-order",
        "SOAP header blocks are compared as a set: SOAP 1.2 gives their order no meaning",
    ),
    (
        "soapaction-header",
        "zeep also sends the SOAP 1.1 `SOAPAction` HTTP header; with SOAP 1.2, which both use and \
         ONVIF requires, the action is the `action` parameter of Content-Type, which both send \
         identically",
    ),
    (
        "must-understand",
        "roeh marks wsse:Security with s:mustUnderstand=\"1\", zeep leaves the attribute out \
         (meaning false); ONVIF devices must implement the WS-Security UsernameToken profile, so \
         they understand the block either way",
    ),
    (
        "created-fraction",
        "roeh's wsu:Created carries milliseconds, zeep's whole seconds; both are xs:dateTime in \
         UTC with a Z suffix and each PasswordDigest is computed over its own Created text",
    ),
    (
        "wsa-headers",
        "WS-Addressing Action, MessageID and To header blocks, should zeep add them: optional for \
         device and media operations, whose WSDLs declare no wsaw:Action",
    ),
    (
        "http-extras",
        "User-Agent, Accept, Accept-Encoding, Connection and Content-Length (checked by the \
         server's own framing) are outside the SOAP HTTP binding",
    ),
];

// ---------------------------------------------------------------------------------------------
// Namespace-aware XML tree.

/// One element, by namespace URI and local name; text trimmed; `xmlns` declarations dropped.
#[derive(Clone, Debug, Default, PartialEq)]
struct Node {
    ns: String,
    name: String,
    /// (namespace URI or "", local name) -> value.
    attrs: BTreeMap<(String, String), String>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn qname(&self) -> String {
        format!("{{{}}}{}", self.ns, self.name)
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    fn attr(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .get(&(ns.to_owned(), name.to_owned()))
            .map(String::as_str)
    }
}

fn resolved_ns(r: ResolveResult<'_>) -> Result<String, String> {
    match r {
        ResolveResult::Bound(Namespace(n)) => Ok(n.to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(p) => Err(format!("undeclared prefix {p:?}")),
    }
}

/// Parses a request body into its root element.
fn parse_xml(text: &str) -> Result<Node, String> {
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let (res, ev) = reader.read_resolved_event().map_err(|e| e.to_string())?;
        let ns = match &ev {
            Event::Start(_) | Event::Empty(_) => resolved_ns(res)?,
            _ => String::new(),
        };
        match ev {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let mut node = Node {
                    ns,
                    name: s.local_name().as_ref().to_owned(),
                    ..Node::default()
                };
                for a in s.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    let key = a.key.as_ref();
                    if key == "xmlns" || key.starts_with("xmlns:") {
                        continue;
                    }
                    let (ares, local) = reader.resolver().resolve_attribute(a.key);
                    let ans = resolved_ns(ares)?;
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map_err(|e| e.to_string())?;
                    node.attrs
                        .insert((ans, local.as_ref().to_owned()), value.into_owned());
                }
                if matches!(ev, Event::Empty(_)) {
                    close(&mut stack, &mut root, node);
                } else {
                    stack.push(node);
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced end tag")?;
                close(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(format!("undefined entity &{other};")),
                    },
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::DocType(_) => return Err("DOCTYPE in a request".into()),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("truncated document".into());
    }
    root.ok_or_else(|| "no root element".into())
}

fn close(stack: &mut [Node], root: &mut Option<Node>, mut node: Node) {
    // Tolerance "whitespace".
    node.text = node.text.trim().to_owned();
    match stack.last_mut() {
        Some(parent) => parent.children.push(node),
        None => *root = Some(node),
    }
}

// ---------------------------------------------------------------------------------------------
// Capture server.

/// One HTTP request as received.
#[derive(Clone, Debug)]
struct Captured {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body's operation element: (namespace URI, local name).
    fn operation(&self) -> Option<(String, String)> {
        let root = parse_xml(&self.body).ok()?;
        let op = root.child(NS_SOAP12, "Body")?.children.first()?;
        Some((op.ns.clone(), op.name.clone()))
    }
}

#[derive(Debug, Default)]
struct Capture {
    base: Mutex<String>,
    seen: Mutex<Vec<Captured>>,
    /// Answer GetCapabilities with a fault, so a client falls back to GetServices.
    fail_capabilities: AtomicBool,
}

impl Capture {
    fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

async fn handle(
    State(cap): State<Arc<Capture>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let req = Captured {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    let op = req.operation().map(|(_, name)| name).unwrap_or_default();
    cap.seen.lock().unwrap().push(req);
    let base = cap.base.lock().unwrap().clone();
    let fault = || {
        soap_reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            fixture("fault_action_not_supported.xml"),
        )
    };
    let xml = match op.as_str() {
        "GetSystemDateAndTime" => fixture("get_system_date_and_time.xml"),
        "GetDeviceInformation" => fixture("get_device_information.xml").replace("{{LONG}}", ""),
        "GetCapabilities" if cap.fail_capabilities.load(Ordering::SeqCst) => return fault(),
        "GetCapabilities" => fixture("get_capabilities.xml")
            .replace("{{DEVICE_XADDR}}", &format!("{base}/onvif/device_service"))
            .replace("{{MEDIA_XADDR}}", &format!("{base}/onvif/Media")),
        "GetProfiles" => fixture("get_profiles.xml"),
        "GetStreamUri" => fixture("get_stream_uri.xml")
            .replace("{{URI}}", "rtsp://127.0.0.1:8554/Streaming/Channels/101"),
        "GetSnapshotUri" => fixture("get_snapshot_uri.xml")
            .replace("{{URI}}", &format!("{base}/onvif/snapshot?channel=1")),
        // GetServices included: the fixture device predates it, so clients fall back.
        _ => return fault(),
    };
    soap_reply(StatusCode::OK, xml)
}

/// Starts the capture server; returns it and the device service URL.
async fn start_capture() -> (Arc<Capture>, url::Url) {
    let cap = Arc::new(Capture::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *cap.base.lock().unwrap() = base.clone();
    let app = Router::new().fallback(handle).with_state(cap.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = url::Url::parse(&format!("{base}/onvif/device_service")).unwrap();
    (cap, url)
}

// ---------------------------------------------------------------------------------------------
// The two clients.

fn roeh_client(url: &url::Url) -> OnvifClient {
    let mut policy = NetPolicy::new(vec![Cidr::parse("127.0.0.0/8").unwrap()]);
    policy.timeout = Duration::from_secs(5);
    policy.connect_timeout = Duration::from_secs(2);
    // Our clock is 30 s behind the device.
    let clock: Arc<dyn Clock> = Arc::new(SimClock::new(
        WallTime::parse("2026-11-22T20:12:00Z").unwrap(),
    ));
    let creds = Credentials {
        username: USER.into(),
        password: Secret::new(PASSWORD),
    };
    OnvifClient::new(url.clone(), Some(creds), &policy, clock).unwrap()
}

/// roeh's onboarding operations, then (with GetCapabilities refused) its GetServices fallback.
async fn run_roeh(cap: &Capture, url: &url::Url) -> Vec<Captured> {
    let c = roeh_client(url);
    let (_, offset) = c.get_system_date_and_time().await.unwrap().unwrap();
    assert_eq!(offset, 30_000_000);
    c.get_device_information().await.unwrap();
    let profiles = c.get_profiles().await.unwrap();
    assert!(profiles.iter().any(|p| p.token == TOKENS[0]));
    for token in TOKENS {
        c.get_stream_uri(token).await.unwrap();
        c.get_snapshot_uri(token).await.unwrap();
    }
    cap.fail_capabilities.store(true, Ordering::SeqCst);
    let c = roeh_client(url);
    c.get_system_date_and_time().await.unwrap();
    let e = c.get_media_xaddr().await.unwrap_err();
    assert!(e.to_string().contains("Not Implemented"), "{e}");
    cap.fail_capabilities.store(false, Ordering::SeqCst);
    cap.take()
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_python() -> PathBuf {
    std::env::var_os("ROEH_ZEEP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".cache/roeh/venv-zeep"))
        .join("bin/python")
}

async fn run_zeep(cap: &Capture, python: &PathBuf, url: &url::Url) -> Vec<Captured> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/zeep_requests.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(&script)
        .args(["--host", "127.0.0.1"])
        .args(["--port", &url.port().unwrap().to_string()])
        .args(["--user", USER]);
    for t in TOKENS {
        cmd.args(["--profile", t]);
    }
    cmd.env("ROEH_ZEEP_PASSWORD", PASSWORD)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("zeep_requests.py did not finish within 120 s")
        .expect("run zeep_requests.py");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "zeep_requests.py failed:\n{text}");
    eprintln!("zeep_requests.py:\n{text}");
    cap.take()
}

// ---------------------------------------------------------------------------------------------
// Comparison.

/// Differences found, and the tolerances that were applied.
#[derive(Debug, Default)]
struct Cmp {
    diffs: Vec<String>,
    used: BTreeSet<&'static str>,
}

impl Cmp {
    fn diff(&mut self, ctx: &str, what: String) {
        self.diffs.push(format!("{ctx}: {what}"));
    }

    fn tolerate(&mut self, id: &'static str) {
        assert!(
            TOLERATED.iter().any(|(t, _)| *t == id),
            "unlisted tolerance {id}"
        );
        self.used.insert(id);
    }
}

/// `Content-Type` as (lower-case media type, parameters with lower-case names, unquoted values).
fn content_type(v: &str) -> (String, BTreeMap<String, String>) {
    let mut parts = v.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            let v = v.trim().trim_matches('"');
            let k = k.trim().to_ascii_lowercase();
            let v = if k == "charset" {
                v.to_ascii_lowercase()
            } else {
                v.to_owned()
            };
            Some((k, v))
        })
        .collect();
    (media, params)
}

/// The service namespace of an operation element's namespace (device unless media).
fn service_ns(op_ns: &str) -> &'static str {
    match op_ns {
        NS_MEDIA => NS_MEDIA,
        _ => NS_DEVICE,
    }
}

/// Checks the HTTP side of one request on its own and against the other client's.
fn compare_http(cmp: &mut Cmp, ctx: &str, op: &(String, String), r: &Captured, z: &Captured) {
    let action = format!("{}/{}", service_ns(&op.0), op.1);
    for (who, req) in [("roeh", r), ("zeep", z)] {
        if req.method != "POST" {
            cmp.diff(ctx, format!("{who} used HTTP method {}", req.method));
        }
        let (media, params) = content_type(req.header("content-type").unwrap_or(""));
        let want: BTreeMap<String, String> = [
            ("charset".to_owned(), "utf-8".to_owned()),
            ("action".to_owned(), action.clone()),
        ]
        .into();
        if media != "application/soap+xml" || params != want {
            cmp.diff(
                ctx,
                format!(
                    "{who} Content-Type {media} {params:?}, want application/soap+xml {want:?}"
                ),
            );
        }
    }
    if r.path != z.path {
        cmp.diff(ctx, format!("path roeh {} zeep {}", r.path, z.path));
    }
    if r.header("host") != z.header("host") {
        cmp.diff(
            ctx,
            format!(
                "Host roeh {:?} zeep {:?}",
                r.header("host"),
                z.header("host")
            ),
        );
    }
    match (r.header("soapaction"), z.header("soapaction")) {
        (None, None) => {}
        (Some(a), Some(b)) if a.trim_matches('"') == b.trim_matches('"') => {}
        (None, Some(b)) if b.trim_matches('"') == action => cmp.tolerate("soapaction-header"),
        (a, b) => cmp.diff(ctx, format!("SOAPAction roeh {a:?} zeep {b:?}")),
    }
    let extras = ["user-agent", "accept", "accept-encoding", "connection"];
    for req in [r, z] {
        if req
            .headers
            .iter()
            .any(|(n, _)| extras.contains(&n.to_ascii_lowercase().as_str()))
        {
            cmp.tolerate("http-extras");
        }
    }
    let decl = |b: &str| b.trim_start().starts_with("<?xml");
    if decl(&r.body) && decl(&z.body) {
        let head = |b: &str| b.split("?>").next().unwrap_or("").to_owned();
        if head(&r.body) != head(&z.body) {
            cmp.tolerate("xml-declaration");
        }
    }
}

/// Compares two element trees exactly (after trimming); reports the first difference per path.
fn compare_tree(cmp: &mut Cmp, ctx: &str, path: &str, r: &Node, z: &Node) {
    let here = format!("{path}/{}", r.name);
    if r.ns != z.ns || r.name != z.name {
        cmp.diff(
            ctx,
            format!("{path}: element roeh {} zeep {}", r.qname(), z.qname()),
        );
        return;
    }
    if r.attrs != z.attrs {
        cmp.diff(
            ctx,
            format!("{here}: attributes roeh {:?} zeep {:?}", r.attrs, z.attrs),
        );
    }
    if r.text != z.text {
        cmp.diff(
            ctx,
            format!("{here}: text roeh {:?} zeep {:?}", r.text, z.text),
        );
    }
    if r.children.len() != z.children.len() {
        let names = |n: &Node| n.children.iter().map(Node::qname).collect::<Vec<_>>();
        cmp.diff(
            ctx,
            format!("{here}: children roeh {:?} zeep {:?}", names(r), names(z)),
        );
        return;
    }
    for (rc, zc) in r.children.iter().zip(&z.children) {
        compare_tree(cmp, ctx, &here, rc, zc);
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z`; `None` for any other form (offsets included).
fn utc_created(s: &str) -> Option<(WallTime, bool)> {
    let b = s.as_bytes();
    let fixed = |i: usize, c: u8| b.get(i) == Some(&c);
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let shape = digits(0..4)
        && fixed(4, b'-')
        && digits(5..7)
        && fixed(7, b'-')
        && digits(8..10)
        && fixed(10, b'T')
        && digits(11..13)
        && fixed(13, b':')
        && digits(14..16)
        && fixed(16, b':')
        && digits(17..19);
    let rest = s.get(19..)?;
    let fraction = match rest.strip_prefix('.') {
        Some(f) => {
            let f = f.strip_suffix('Z')?;
            if f.is_empty() || !f.bytes().all(|d| d.is_ascii_digit()) {
                return None;
            }
            true
        }
        None if rest == "Z" => false,
        None => return None,
    };
    if !shape {
        return None;
    }
    Some((WallTime::parse(s)?, fraction))
}

/// Checks one client's UsernameToken on its own: structure, URIs, UTC Created near the device's
/// clock, and a PasswordDigest that validates. Returns the Created text and the nonce length.
fn check_token(cmp: &mut Cmp, ctx: &str, who: &str, sec: &Node) -> Option<(String, usize)> {
    let bad = |cmp: &mut Cmp, what: String| {
        cmp.diff(ctx, format!("{who} UsernameToken: {what}"));
        None
    };
    if sec.children.len() != 1 {
        return bad(cmp, format!("Security has {} children", sec.children.len()));
    }
    let Some(tok) = sec.child(NS_WSSE, "UsernameToken") else {
        return bad(cmp, "no wsse:UsernameToken".into());
    };
    let names: Vec<String> = tok.children.iter().map(Node::qname).collect();
    let want = [
        (NS_WSSE, "Username"),
        (NS_WSSE, "Password"),
        (NS_WSSE, "Nonce"),
        (NS_WSU, "Created"),
    ];
    let want_names: Vec<String> = want.iter().map(|(n, l)| format!("{{{n}}}{l}")).collect();
    if names != want_names {
        return bad(cmp, format!("children {names:?}, want {want_names:?}"));
    }
    let [user, pw, nonce, created] = [0, 1, 2, 3].map(|i| &tok.children[i]);
    if user.text != USER {
        return bad(cmp, format!("Username {:?}", user.text));
    }
    if pw.attrs.len() != 1 || pw.attr("", "Type") != Some(PASSWORD_DIGEST) {
        return bad(cmp, format!("Password attributes {:?}", pw.attrs));
    }
    if nonce.attrs.len() != 1 || nonce.attr("", "EncodingType") != Some(BASE64_BINARY) {
        return bad(cmp, format!("Nonce attributes {:?}", nonce.attrs));
    }
    let Some((at, _)) = utc_created(&created.text) else {
        return bad(cmp, format!("Created {:?} is not UTC (Z)", created.text));
    };
    // Both clients apply the device's clock offset: Created is the device's time, not ours.
    let device = WallTime::parse(DEVICE_UTC).unwrap();
    if (at.0 - device.0).abs() > 120_000_000 {
        return bad(
            cmp,
            format!(
                "Created {} is not near the device clock {DEVICE_UTC}",
                created.text
            ),
        );
    }
    let Ok(nonce_bytes) = B64.decode(nonce.text.as_bytes()) else {
        return bad(cmp, format!("Nonce {:?} is not base64", nonce.text));
    };
    if nonce_bytes.len() < 16 {
        return bad(cmp, format!("Nonce of {} bytes", nonce_bytes.len()));
    }
    let mut h = sha1::Sha1::new();
    h.update(&nonce_bytes);
    h.update(created.text.as_bytes());
    h.update(PASSWORD.as_bytes());
    if B64.encode(h.finalize()) != pw.text {
        return bad(
            cmp,
            "PasswordDigest does not validate for the password".into(),
        );
    }
    if !tok.attrs.is_empty() || user.attrs.len() + created.attrs.len() != 0 {
        return bad(cmp, "unexpected attributes on the token".into());
    }
    Some((created.text.clone(), nonce_bytes.len()))
}

/// Compares the SOAP Header of roeh's and zeep's requests.
fn compare_header(cmp: &mut Cmp, ctx: &str, r: Option<&Node>, z: Option<&Node>) {
    let blocks =
        |h: Option<&Node>| -> Vec<Node> { h.map(|h| h.children.clone()).unwrap_or_default() };
    let (rb, mut zb) = (blocks(r), blocks(z));
    let before = zb.len();
    zb.retain(|b| b.ns != NS_WSA);
    if zb.len() != before {
        cmp.tolerate("wsa-headers");
    }
    if r.is_some_and(|h| !h.attrs.is_empty()) || z.is_some_and(|h| !h.attrs.is_empty()) {
        cmp.diff(ctx, "attributes on soap:Header".into());
    }
    // Tolerance "header-order": blocks are matched by name.
    let set = |v: &[Node]| v.iter().map(Node::qname).collect::<BTreeSet<_>>();
    if set(&rb) != set(&zb) || rb.len() != zb.len() {
        cmp.diff(
            ctx,
            format!("header blocks roeh {:?} zeep {:?}", set(&rb), set(&zb)),
        );
        return;
    }
    if rb.iter().zip(&zb).any(|(a, b)| a.qname() != b.qname()) {
        cmp.tolerate("header-order");
    }
    for rs in &rb {
        let Some(zs) = zb.iter().find(|b| b.qname() == rs.qname()) else {
            continue;
        };
        if !rs.is(NS_WSSE, "Security") {
            compare_tree(cmp, ctx, "Header", rs, zs);
            continue;
        }
        let mut ra = rs.attrs.clone();
        let mut za = zs.attrs.clone();
        let mu = (NS_SOAP12.to_owned(), "mustUnderstand".to_owned());
        let true_ = |v: Option<&String>| v.is_some_and(|v| v == "1" || v == "true");
        match (ra.get(&mu), za.get(&mu)) {
            (a, b) if a == b => {}
            (a, None) if true_(a) => cmp.tolerate("must-understand"),
            (a, b) if true_(a) && true_(b) => {}
            (a, b) => cmp.diff(
                ctx,
                format!("Security mustUnderstand roeh {a:?} zeep {b:?}"),
            ),
        }
        ra.remove(&mu);
        za.remove(&mu);
        if !ra.is_empty() || !za.is_empty() {
            cmp.diff(ctx, format!("Security attributes roeh {ra:?} zeep {za:?}"));
        }
        let rt = check_token(cmp, ctx, "roeh", rs);
        let zt = check_token(cmp, ctx, "zeep", zs);
        if let (Some((rc, rn)), Some((zc, zn))) = (rt, zt) {
            if utc_created(&rc).map(|c| c.1) != utc_created(&zc).map(|c| c.1) {
                cmp.tolerate("created-fraction");
            }
            if rn != zn {
                cmp.diff(ctx, format!("nonce length roeh {rn} zeep {zn}"));
            }
        }
    }
}

/// Compares one roeh request with zeep's request for the same operation.
fn compare_request(cmp: &mut Cmp, ctx: &str, r: &Captured, z: &Captured) {
    let (rt, zt) = match (parse_xml(&r.body), parse_xml(&z.body)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            cmp.diff(
                ctx,
                format!("unparsable body: roeh {:?} zeep {:?}", a.err(), b.err()),
            );
            return;
        }
    };
    cmp.tolerate("prefixes");
    for (who, t) in [("roeh", &rt), ("zeep", &zt)] {
        if !t.is(NS_SOAP12, "Envelope") {
            cmp.diff(
                ctx,
                format!("{who} root is {}, not a SOAP 1.2 Envelope", t.qname()),
            );
            return;
        }
    }
    let Some(op) = r.operation() else {
        cmp.diff(ctx, "roeh request has no operation element".into());
        return;
    };
    compare_http(cmp, ctx, &op, r, z);
    let kids = |t: &Node| t.children.iter().map(Node::qname).collect::<Vec<_>>();
    let allowed = |t: &Node| {
        let k = kids(t);
        k == [format!("{{{NS_SOAP12}}}Body")]
            || k == [
                format!("{{{NS_SOAP12}}}Header"),
                format!("{{{NS_SOAP12}}}Body"),
            ]
    };
    if !allowed(&rt) || !allowed(&zt) {
        cmp.diff(
            ctx,
            format!(
                "Envelope children roeh {:?} zeep {:?}",
                kids(&rt),
                kids(&zt)
            ),
        );
        return;
    }
    if !rt.attrs.is_empty() || !zt.attrs.is_empty() {
        cmp.diff(
            ctx,
            format!(
                "Envelope attributes roeh {:?} zeep {:?}",
                rt.attrs, zt.attrs
            ),
        );
    }
    compare_header(
        cmp,
        ctx,
        rt.child(NS_SOAP12, "Header"),
        zt.child(NS_SOAP12, "Header"),
    );
    let rb = rt.child(NS_SOAP12, "Body").unwrap();
    let zb = zt.child(NS_SOAP12, "Body").unwrap();
    if rb.children.len() != 1 || zb.children.len() != 1 {
        cmp.diff(
            ctx,
            format!(
                "Body holds roeh {} zeep {} elements",
                rb.children.len(),
                zb.children.len()
            ),
        );
        return;
    }
    compare_tree(cmp, ctx, "Body", &rb.children[0], &zb.children[0]);
}

/// What roeh must put in the body of each operation, checked on its own (the comparison with
/// zeep then covers zeep too).
fn check_roeh_body(cmp: &mut Cmp, ctx: &str, r: &Captured) {
    let Ok(root) = parse_xml(&r.body) else {
        return;
    };
    let Some(op) = root
        .child(NS_SOAP12, "Body")
        .and_then(|b| b.children.first())
    else {
        return;
    };
    let text = |path: &[(&str, &str)]| -> Option<String> {
        let mut n = op;
        for (ns, name) in path {
            n = n.child(ns, name)?;
        }
        Some(n.text.clone())
    };
    let want: Vec<(Vec<(&str, &str)>, String)> = match op.name.as_str() {
        "GetCapabilities" => vec![(vec![(NS_DEVICE, "Category")], "All".into())],
        "GetServices" => vec![(vec![(NS_DEVICE, "IncludeCapability")], "false".into())],
        "GetStreamUri" => vec![
            (
                vec![(NS_MEDIA, "StreamSetup"), (NS_SCHEMA, "Stream")],
                "RTP-Unicast".into(),
            ),
            (
                vec![
                    (NS_MEDIA, "StreamSetup"),
                    (NS_SCHEMA, "Transport"),
                    (NS_SCHEMA, "Protocol"),
                ],
                "RTSP".into(),
            ),
        ],
        _ => vec![],
    };
    for (path, value) in want {
        let got = text(&path);
        if got.as_deref() != Some(value.as_str()) {
            cmp.diff(ctx, format!("roeh {path:?} is {got:?}, want {value:?}"));
        }
    }
    if matches!(op.name.as_str(), "GetStreamUri" | "GetSnapshotUri") {
        let token = text(&[(NS_MEDIA, "ProfileToken")]);
        if !token.as_deref().is_some_and(|t| TOKENS.contains(&t)) {
            cmp.diff(ctx, format!("roeh ProfileToken {token:?}"));
        }
    }
}

/// Groups requests by operation, in order.
fn by_operation(reqs: &[Captured]) -> BTreeMap<(String, String), Vec<&Captured>> {
    let mut m: BTreeMap<(String, String), Vec<&Captured>> = BTreeMap::new();
    for r in reqs {
        let op = r.operation().unwrap_or_default();
        m.entry(op).or_default().push(r);
    }
    m
}

/// The key that pairs requests of one operation: the ProfileToken, if any.
fn pairing_key(r: &Captured) -> String {
    parse_xml(&r.body)
        .ok()
        .and_then(|t| {
            let op = t.child(NS_SOAP12, "Body")?.children.first()?.clone();
            Some(op.child(NS_MEDIA, "ProfileToken")?.text.clone())
        })
        .unwrap_or_default()
}

/// Compares all of roeh's requests with zeep's. Every operation must appear on both sides; each
/// roeh request is compared with zeep's request for the same operation and profile token.
fn compare_all(roeh: &[Captured], zeep: &[Captured]) -> Cmp {
    let mut cmp = Cmp::default();
    let (r, z) = (by_operation(roeh), by_operation(zeep));
    let rk: BTreeSet<_> = r.keys().collect();
    let zk: BTreeSet<_> = z.keys().collect();
    if rk != zk {
        cmp.diff("operations", format!("roeh {rk:?} zeep {zk:?}"));
    }
    for (op, rs) in &r {
        let Some(zs) = z.get(op) else { continue };
        for (i, rq) in rs.iter().enumerate() {
            let key = pairing_key(rq);
            let ctx = format!(
                "{}#{i}{}",
                op.1,
                if key.is_empty() {
                    String::new()
                } else {
                    format!("[{key}]")
                }
            );
            let Some(zq) = zs.iter().find(|zq| pairing_key(zq) == key) else {
                cmp.diff(&ctx, "zeep sent no request with this profile token".into());
                continue;
            };
            check_roeh_body(&mut cmp, &ctx, rq);
            compare_request(&mut cmp, &ctx, rq, zq);
        }
    }
    cmp
}

/// Flow rules that hold for both clients: the first request is an unauthenticated
/// GetSystemDateAndTime, every later request is authenticated, and no nonce is reused.
fn check_flow(cmp: &mut Cmp, who: &str, reqs: &[Captured]) {
    let has_security = |r: &Captured| {
        parse_xml(&r.body).ok().is_some_and(|t| {
            t.child(NS_SOAP12, "Header")
                .and_then(|h| h.child(NS_WSSE, "Security"))
                .is_some()
        })
    };
    let Some(first) = reqs.first() else {
        cmp.diff(who, "sent no requests".into());
        return;
    };
    if first.operation().map(|o| o.1).as_deref() != Some("GetSystemDateAndTime")
        || has_security(first)
    {
        cmp.diff(
            who,
            "did not start with an unauthenticated GetSystemDateAndTime".into(),
        );
    }
    let mut nonces = BTreeSet::new();
    for r in reqs {
        let op = r.operation().map(|o| o.1).unwrap_or_default();
        if op != "GetSystemDateAndTime" && !has_security(r) {
            cmp.diff(who, format!("{op} sent without WS-Security"));
        }
        let nonce = parse_xml(&r.body).ok().and_then(|t| {
            let n = t
                .child(NS_SOAP12, "Header")?
                .child(NS_WSSE, "Security")?
                .child(NS_WSSE, "UsernameToken")?
                .child(NS_WSSE, "Nonce")?;
            Some(n.text.clone())
        });
        if let Some(n) = nonce
            && !nonces.insert(n)
        {
            cmp.diff(who, format!("{op} reused a nonce"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[tokio::test]
async fn zeep_crosscheck() {
    let python = venv_python();
    if !python.exists() {
        return roeh_testkit::prerequisite_missing(
            "zeep_crosscheck",
            &format!(
                "{} not found (crates/roeh-onvif/tests/setup-zeep.sh makes it)",
                python.display()
            ),
        );
    }
    let (cap, url) = start_capture().await;
    let roeh = run_roeh(&cap, &url).await;
    let zeep = run_zeep(&cap, &python, &url).await;

    let mut cmp = compare_all(&roeh, &zeep);
    check_flow(&mut cmp, "roeh", &roeh);
    check_flow(&mut cmp, "zeep", &zeep);
    let ops: BTreeSet<String> = roeh
        .iter()
        .filter_map(|r| r.operation())
        .map(|o| o.1)
        .collect();
    for want in OPERATIONS {
        assert!(ops.contains(want), "roeh sent no {want}: {ops:?}");
    }
    eprintln!(
        "zeep_crosscheck: compared {} roeh requests with {} zeep requests over {:?}",
        roeh.len(),
        zeep.len(),
        ops
    );
    for id in &cmp.used {
        let why = TOLERATED
            .iter()
            .find(|(t, _)| t == id)
            .map_or("", |(_, w)| w);
        eprintln!("  tolerated {id}: {why}");
    }
    assert!(
        cmp.diffs.is_empty(),
        "roeh's requests differ from onvif-zeep-async's:\n  {}",
        cmp.diffs.join("\n  ")
    );
}

/// The comparator itself, on roeh's real requests: equivalent rewrites pass, meaningful changes
/// fail. Runs without the Python environment.
#[tokio::test]
async fn comparator_accepts_equivalents_and_rejects_changes() {
    let (cap, url) = start_capture().await;
    let roeh = run_roeh(&cap, &url).await;
    assert!(compare_all(&roeh, &roeh).diffs.is_empty());

    let edit = |f: &dyn Fn(&str) -> String| -> Vec<Captured> {
        roeh.iter()
            .map(|r| Captured {
                body: f(&r.body),
                ..r.clone()
            })
            .collect()
    };
    // Other prefixes, whitespace between elements, no mustUnderstand: tolerated.
    let same = edit(&|b| {
        b.replace(r#" s:mustUnderstand="1""#, "")
            .replace("<s:", "<soap-env:")
            .replace("</s:", "</soap-env:")
            .replace("xmlns:s=", "xmlns:soap-env=")
            .replace("<trt:", "<m:")
            .replace("</trt:", "</m:")
            .replace("xmlns:trt=", "xmlns:m=")
            .replace("><", ">\n  <")
    });
    let cmp = compare_all(&roeh, &same);
    assert!(cmp.diffs.is_empty(), "{:?}", cmp.diffs);
    assert!(cmp.used.contains("must-understand"));

    for (what, f) in [
        (
            "multicast stream",
            &(|b: &str| b.replace("RTP-Unicast", "RTP-Multicast")) as &dyn Fn(&str) -> String,
        ),
        ("SOAP 1.1", &|b: &str| {
            b.replace(NS_SOAP12, "http://schemas.xmlsoap.org/soap/envelope/")
        }),
        ("plain-text password type", &|b: &str| {
            b.replace("#PasswordDigest", "#PasswordText")
        }),
        ("wrong media namespace", &|b: &str| {
            b.replace(NS_MEDIA, "http://www.onvif.org/ver20/media/wsdl")
        }),
        ("schema namespace lost", &|b: &str| {
            b.replace("<tt:Stream>", "<trt:Stream>")
                .replace("</tt:Stream>", "</trt:Stream>")
        }),
        ("local-time Created", &|b: &str| {
            b.replace(".000Z<", ".000+01:00<")
        }),
        ("tampered digest", &|b: &str| {
            b.replace("#PasswordDigest\">", "#PasswordDigest\">AAAA")
        }),
        ("nonce without encoding type", &|b: &str| {
            b.replace(&format!(r#" EncodingType="{BASE64_BINARY}""#), "")
        }),
        ("extra body element", &|b: &str| {
            b.replace(
                "</tds:GetCapabilities>",
                "<tds:Extra/></tds:GetCapabilities>",
            )
        }),
    ] {
        let cmp = compare_all(&roeh, &edit(f));
        assert!(!cmp.diffs.is_empty(), "{what} was not detected");
    }

    // HTTP side: a missing action parameter and a different path are differences.
    let mut other = roeh.clone();
    for r in &mut other {
        for (n, v) in &mut r.headers {
            if n == "content-type" {
                *v = "application/soap+xml; charset=utf-8".into();
            }
        }
    }
    assert!(!compare_all(&roeh, &other).diffs.is_empty());
    let mut other = roeh.clone();
    for r in &mut other {
        r.path = "/elsewhere".into();
    }
    assert!(!compare_all(&roeh, &other).diffs.is_empty());
}
