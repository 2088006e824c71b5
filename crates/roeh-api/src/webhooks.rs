//! Outbound webhooks: the delivery worker and the routes under `/api/webhooks`.
//!
//! The worker reads committed alert events from the store (never from the live push, so a
//! restart misses nothing), enqueues one delivery per matching subscription in the store's
//! outbox, and only then posts them. Each post carries:
//! - `X-Roeh-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`,
//! - `X-Roeh-Timestamp` (Unix seconds of the attempt), `X-Roeh-Event` (the event kind),
//! - `Idempotency-Key: <subscription id>-<seq>`, the same on every attempt of a delivery.
//!
//! Invariants:
//! - a delivery is stored before its first attempt, and its body never changes: every attempt
//!   sends the same bytes under the same idempotency key; only a 2xx answer delivers it;
//! - a failed attempt is retried with exponential backoff ([`WebhookSettings::first_backoff`],
//!   doubling, capped at [`WebhookSettings::max_backoff`]) timed by the injected clock, until
//!   [`WebhookSettings::max_attempts`], after which the delivery is dead with its last error;
//! - no redirect is followed (a 3xx answer is a failed attempt) and no proxy is used; every
//!   attempt has a timeout;
//! - target URLs are `https` (`http` only with [`WebhookSettings::allow_http`]) without
//!   credentials, and reach only permitted addresses (the server-side request forgery
//!   allow-list, [`WebhookSettings::check_address`]): public unicast addresses, addresses inside
//!   [`WebhookSettings::allowed_networks`], and any unicast address of a host named in
//!   [`WebhookSettings::allowed_hosts`]. The URL is checked when a subscription is created and
//!   again at every attempt: an address literal before sending, a host name inside the HTTP
//!   client's resolver, which returns only addresses it has checked (and refuses the name if
//!   any of its addresses is not permitted), so the connection goes exactly to a checked address
//!   and a DNS answer that changed since creation (rebinding) cannot slip through. A refused
//!   attempt sends nothing and is recorded as a failure whose error starts with `blocked:`;
//! - the secret is write-only: no route returns it and it is never logged; errors stored and
//!   logged name the subscription and seq, never the URL, its host or the secret;
//! - a disabled subscription gets no new deliveries and its pending ones wait (the store skips
//!   them) until it is enabled again, from when it receives newly committed events only;
//! - the routes need [`roeh_auth::Permission::ManageUsers`] (admins only): a subscription sends
//!   every alert of the site, whatever the creator's scope, out of the building, so it is an
//!   administrator's decision like creating an account. The create route checks targets with
//!   the settings of the worker installed by [`WebhookWorker::layer`]; without one it applies
//!   [`WebhookSettings::default`], the strictest policy.

use crate::extract::{ApiJson, ApiQuery, path_id};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use roeh_domain::{Clock, WallTime};
use roeh_store::{AttemptOutcome, DeliveryRow, DeliveryState, NewDelivery, NewWebhook, Store};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub use roeh_onvif::Cidr;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Roeh-Signature";
/// The timestamp header (Unix seconds of the attempt, part of the signed text).
pub const TIMESTAMP_HEADER: &str = "X-Roeh-Timestamp";
/// The event kind header.
pub const EVENT_HEADER: &str = "X-Roeh-Event";
/// The idempotency key header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Shortest secret accepted, bytes.
pub const MIN_SECRET_LEN: usize = 16;
/// Longest secret accepted, bytes.
pub const MAX_SECRET_LEN: usize = 512;
/// Longest target URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Default page size of the deliveries list.
pub const DEFAULT_DELIVERY_PAGE: u32 = 100;

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = new_mac(key);
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: longer ones are hashed, shorter ones padded.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of every length"),
    }
}

/// The signature header's value for `body` sent at `timestamp` under `secret`:
/// `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(secret, &[timestamp.as_bytes(), b".", body]);
    format!("sha256={}", hex::encode(mac))
}

/// Whether `header` is the signature of `body` at `timestamp` under `secret` (compared in
/// constant time). Receivers should also refuse old timestamps.
pub fn verify(secret: &[u8], timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(Ok(given)) = header.strip_prefix("sha256=").map(hex::decode) else {
        return false;
    };
    let mut mac = new_mac(secret);
    for p in [timestamp.as_bytes(), b".", body] {
        mac.update(p);
    }
    mac.verify_slice(&given).is_ok()
}

/// Checks the form of a target URL: `http` or `https`, a host, no credentials, no fragment,
/// bounded length. Where it may go is [`WebhookSettings::check_target`]'s business.
pub fn check_url(s: &str) -> Result<url::Url, ApiError> {
    url_form(s).map_err(ApiError::invalid)
}

fn url_form(s: &str) -> Result<url::Url, String> {
    if s.len() > MAX_URL_LEN {
        return Err(format!("a webhook URL is at most {MAX_URL_LEN} characters"));
    }
    let u = url::Url::parse(s).map_err(|_| "the webhook URL is not a URL".to_string())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("a webhook URL is https (or http where the configuration allows it)".into());
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("a webhook URL names a host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(
            "a webhook URL carries no credentials; the signature authenticates the sender".into(),
        );
    }
    if u.fragment().is_some() {
        return Err("a webhook URL has no fragment".into());
    }
    Ok(u)
}

/// What an address outside the allow-list is, and whether even a host named in
/// [`WebhookSettings::allowed_hosts`] may not use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Special {
    what: &'static str,
    never: bool,
}

const fn special(what: &'static str) -> Option<Special> {
    Some(Special { what, never: false })
}

const fn never(what: &'static str) -> Option<Special> {
    Some(Special { what, never: true })
}

/// The special-purpose range `a` lies in, `None` for a public unicast address.
fn special_v4(a: Ipv4Addr) -> Option<Special> {
    let n = u32::from(a);
    let within =
        |net: [u8; 4], prefix: u32| n >> (32 - prefix) == u32::from_be_bytes(net) >> (32 - prefix);
    if a.is_unspecified() {
        never("the unspecified address")
    } else if a.is_broadcast() {
        never("the broadcast address")
    } else if a.is_multicast() {
        never("a multicast address")
    } else if within([0, 0, 0, 0], 8) {
        special("a \"this network\" address")
    } else if a.is_loopback() {
        special("a loopback address")
    } else if a.is_link_local() {
        special("a link-local address (where cloud metadata services answer)")
    } else if a.is_private() {
        special("a private address")
    } else if within([100, 64, 0, 0], 10) {
        special("a shared (carrier-grade NAT) address")
    } else if within([192, 0, 0, 0], 24) {
        special("an IETF protocol address")
    } else if a.is_documentation() {
        special("a documentation address")
    } else if within([198, 18, 0, 0], 15) {
        special("a benchmarking address")
    } else if within([240, 0, 0, 0], 4) {
        special("a reserved address")
    } else {
        None
    }
}

/// As [`special_v4`]; addresses embedding an IPv4 address (mapped, NAT64, 6to4) are judged by
/// it.
fn special_v6(a: Ipv6Addr) -> Option<Special> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let n = u128::from(a);
    let within = |net: u128, prefix: u32| n >> (128 - prefix) == net >> (128 - prefix);
    if a.is_unspecified() {
        never("the unspecified address")
    } else if a.is_multicast() {
        never("a multicast address")
    } else if a.is_loopback() {
        special("a loopback address")
    } else if within(0x0064_ff9b << 96, 96) {
        // NAT64 (RFC 6052): the gateway connects to the embedded IPv4 address.
        special_v4(Ipv4Addr::from((n & 0xffff_ffff) as u32))
    } else if within(0x2002 << 112, 16) {
        // 6to4 (RFC 3056): the IPv4 address follows the prefix.
        special_v4(Ipv4Addr::from(((n >> 80) & 0xffff_ffff) as u32))
    } else if within(0xfe80 << 112, 10) {
        special("a link-local address")
    } else if within(0xfc00 << 112, 7) || within(0xfec0 << 112, 10) {
        special("a private (unique or site local) address")
    } else if within(0x0064_ff9b_0001 << 80, 48) {
        special("a local-use NAT64 address")
    } else if within(0x2001_0db8 << 96, 32) || within(0x3fff << 112, 20) {
        special("a documentation address")
    } else if within(0x2001 << 112, 23) {
        special("an IETF protocol address (Teredo, benchmarking and others)")
    } else if !within(0x2000 << 112, 3) {
        // Global unicast is 2000::/3; the rest is reserved, discard-only or deprecated.
        special("a reserved address")
    } else {
        None
    }
}

fn special_range(ip: IpAddr) -> Option<Special> {
    match ip {
        IpAddr::V4(a) => special_v4(a),
        IpAddr::V6(a) => special_v6(a),
    }
}

/// Why a target may not be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
enum TargetError {
    /// The policy refuses it (the text says why).
    Blocked(String),
    /// The host name does not resolve (the text says why).
    Unresolved(String),
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetError::Blocked(why) => write!(f, "blocked: {why}; nothing was sent"),
            TargetError::Unresolved(why) => write!(f, "the host does not resolve: {why}"),
        }
    }
}

impl std::error::Error for TargetError {}

/// The host name as compared with [`WebhookSettings::allowed_hosts`]: lower case, without a
/// trailing dot.
fn host_key(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Settings of the delivery worker, including where webhooks may go.
#[derive(Clone)]
pub struct WebhookSettings {
    /// How often new events are enqueued and due deliveries attempted.
    pub poll_every: Duration,
    /// Limit of one attempt (connect, send, answer), and of resolving a host at creation.
    pub timeout: Duration,
    /// Wait after the first failed attempt; it doubles after each further one.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// Deliveries attempted at once.
    pub parallel: usize,
    /// Networks receivers may live on besides the public internet (loopback, link-local,
    /// private and other special-purpose addresses are refused unless listed here).
    pub allowed_networks: Vec<Cidr>,
    /// Host names trusted whatever unicast address they resolve to (exact names, compared
    /// without case and trailing dot). Address literals in URLs are judged by
    /// [`WebhookSettings::allowed_networks`] only.
    pub allowed_hosts: Vec<String>,
    /// Whether plain `http://` targets are allowed (default: `https://` only).
    pub allow_http: bool,
    /// PEM certificates of extra certificate authorities trusted for `https://` targets,
    /// besides the bundled web PKI roots (a site's own PKI).
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("poll_every", &self.poll_every)
            .field("timeout", &self.timeout)
            .field("first_backoff", &self.first_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_attempts", &self.max_attempts)
            .field("parallel", &self.parallel)
            .field("allowed_networks", &self.allowed_networks)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allow_http", &self.allow_http)
            .field(
                "extra_ca_pem",
                &self
                    .extra_ca_pem
                    .as_ref()
                    .map(|p| format!("{} bytes", p.len())),
            )
            .finish()
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            poll_every: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            max_attempts: 12,
            parallel: 8,
            allowed_networks: Vec::new(),
            allowed_hosts: Vec::new(),
            allow_http: false,
            extra_ca_pem: None,
        }
    }
}

impl WebhookSettings {
    /// The wait after the `failures`-th failed attempt (1-based).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(31));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Whether a webhook may connect to `ip` (of an address literal, or of a host not named in
    /// [`WebhookSettings::allowed_hosts`]); `Err` says what the address is and why it is
    /// refused.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), String> {
        self.address_refusal(ip, false)
            .map_or(Ok(()), |why| Err(format!("{ip} is {why}")))
    }

    /// What `ip` is and why it is refused, `None` if permitted; `trusted`: the host is in
    /// `allowed_hosts`.
    fn address_refusal(&self, ip: IpAddr, trusted: bool) -> Option<String> {
        if self.allowed_networks.iter().any(|c| c.contains(ip)) {
            return None;
        }
        let s = special_range(ip)?;
        if s.never {
            Some(format!("{}, never a webhook target", s.what))
        } else if trusted {
            None
        } else {
            Some(format!(
                "{}, which webhooks.allowed_networks does not list",
                s.what
            ))
        }
    }

    fn host_trusted(&self, host: &str) -> bool {
        let key = host_key(host);
        self.allowed_hosts.iter().any(|h| host_key(h) == key)
    }

    /// The checks that need no name resolution: the URL's form, its scheme against
    /// [`WebhookSettings::allow_http`], and an address literal against the allow-list.
    fn check_literal(&self, s: &str) -> Result<url::Url, TargetError> {
        let u = url_form(s).map_err(TargetError::Blocked)?;
        if u.scheme() != "https" && !self.allow_http {
            return Err(TargetError::Blocked(
                "a webhook URL is https; plain http needs webhooks.allow_http = true".into(),
            ));
        }
        let ip = match u.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            _ => None,
        };
        if let Some(ip) = ip
            && let Some(why) = self.address_refusal(ip, false)
        {
            return Err(TargetError::Blocked(format!("the address {ip} is {why}")));
        }
        Ok(u)
    }

    /// Resolves `host` and checks every address it resolves to; all must be permitted.
    async fn resolve_checked(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, TargetError> {
        let trusted = self.host_trusted(host);
        let found = tokio::time::timeout(self.timeout, tokio::net::lookup_host((host, port)))
            .await
            .map_err(|_| TargetError::Unresolved("timed out".into()))?
            .map_err(|e| TargetError::Unresolved(e.to_string()))?;
        let addrs: Vec<SocketAddr> = found.collect();
        if addrs.is_empty() {
            return Err(TargetError::Unresolved("no address".into()));
        }
        for a in &addrs {
            if let Some(why) = self.address_refusal(a.ip(), trusted) {
                return Err(TargetError::Blocked(format!(
                    "the host resolves to {}, {why}",
                    a.ip()
                )));
            }
        }
        Ok(addrs)
    }

    /// Checks a target URL before a subscription is stored: its form, https (or http where
    /// allowed), and every address its host resolves to now. The answer names why a URL is
    /// refused.
    pub async fn check_target(&self, s: &str) -> Result<url::Url, ApiError> {
        let refused = |e: TargetError| match e {
            TargetError::Blocked(why) => {
                ApiError::invalid(format!("webhook target refused: {why}"))
            }
            TargetError::Unresolved(why) => {
                ApiError::invalid(format!("the webhook URL's host does not resolve: {why}"))
            }
        };
        let u = self.check_literal(s).map_err(refused)?;
        if let Some(url::Host::Domain(host)) = u.host()
            && !self.host_trusted(host)
        {
            self.resolve_checked(host, u.port_or_known_default().unwrap_or(443))
                .await
                .map_err(refused)?;
        }
        Ok(u)
    }
}

/// The HTTP client's resolver: it answers only addresses the settings permit, so a connection
/// goes exactly to an address that was checked (no second resolution to race).
struct GuardedResolver(Arc<WebhookSettings>);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let settings = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: the client puts the URL's port in.
            let addrs = settings.resolve_checked(&host, 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Events read from the store per page.
const EVENT_PAGE: u32 = 500;
/// Due deliveries read per round.
const DELIVERY_BATCH: u32 = 100;

/// The delivery worker: enqueues committed alert events and posts the outbox.
pub struct WebhookWorker {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: Arc<WebhookSettings>,
    http: reqwest::Client,
    /// Held by each enqueue pass and by enabling or disabling a subscription, so a disable
    /// first enqueues every event committed while the subscription was enabled.
    enqueue: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The JSON body of a delivery.
#[derive(Debug, Serialize)]
struct Payload<'a> {
    seq: u64,
    idempotency_key: &'a str,
    kind: &'a str,
    alert: Uuid,
    hotspot: Uuid,
    time: String,
    actor: &'a str,
    state: &'a str,
    unit: Option<Uuid>,
    detail: serde_json::Value,
}

impl WebhookWorker {
    /// A worker over `store`, timing retries by `clock`. `InvalidArgument` if
    /// [`WebhookSettings::extra_ca_pem`] holds no usable certificate.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> Result<Arc<Self>, ApiError> {
        let settings = Arc::new(settings);
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .https_only(!settings.allow_http)
            .dns_resolver(Arc::new(GuardedResolver(settings.clone())))
            .user_agent(concat!("roeh-webhooks/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &settings.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                ApiError::invalid(format!("the extra webhook CA certificates: {e}"))
            })?;
            if certs.is_empty() {
                return Err(ApiError::invalid(
                    "the extra webhook CA file holds no PEM certificate",
                ));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(|e| {
            let kind = if settings.extra_ca_pem.is_some() {
                roeh_domain::ErrorKind::InvalidArgument
            } else {
                roeh_domain::ErrorKind::Internal
            };
            ApiError::new(kind, format!("cannot build the webhook HTTP client: {e}"))
        })?;
        Ok(Arc::new(WebhookWorker {
            store,
            clock,
            settings,
            http,
            enqueue: tokio::sync::Mutex::new(()),
        }))
    }

    /// Enables or disables a subscription. Disabling first enqueues every event committed so
    /// far (they were committed while it was enabled: they are delivered once it is enabled
    /// again); events committed while it is disabled are never enqueued for it.
    pub async fn set_enabled(
        &self,
        id: Uuid,
        on: bool,
    ) -> Result<Option<roeh_store::WebhookRow>, ApiError> {
        let _pass = self.enqueue.lock().await;
        if !on {
            self.enqueue_locked().await?;
        }
        Ok(self.store.set_webhook_enabled(id, on).await?)
    }

    /// The settings this worker delivers with.
    pub fn settings(&self) -> &WebhookSettings {
        &self.settings
    }

    /// A layer for [`crate::router`] that lets the create route check targets against this
    /// worker's settings (see [`crate::serve_app`]).
    pub fn layer(self: &Arc<Self>) -> Extension<Arc<WebhookWorker>> {
        Extension(self.clone())
    }

    /// Enqueues a delivery for every committed event after the cursor and every subscription
    /// that wants it; returns how many deliveries were new.
    pub async fn enqueue_once(&self) -> Result<u64, ApiError> {
        let _pass = self.enqueue.lock().await;
        self.enqueue_locked().await
    }

    async fn enqueue_locked(&self) -> Result<u64, ApiError> {
        let mut added = 0;
        loop {
            let cursor = self.store.webhook_cursor().await?;
            // Events first, then subscriptions: one created meanwhile starts after these events.
            let events = self.store.alert_events_after(cursor, EVENT_PAGE).await?;
            let Some(last) = events.last().map(|e| e.seq) else {
                return Ok(added);
            };
            let subs: Vec<_> = self
                .store
                .list_webhooks()
                .await?
                .into_iter()
                .filter(|s| s.enabled && s.after_seq < last)
                .collect();
            let mut hotspots: HashMap<Uuid, Option<Uuid>> = HashMap::new();
            let mut batch = Vec::new();
            for e in &events {
                if !subs.iter().any(|s| e.seq > s.after_seq) {
                    continue;
                }
                let hotspot = match hotspots.get(&e.alert_id) {
                    Some(h) => *h,
                    None => {
                        let h = self
                            .store
                            .get_alert(e.alert_id)
                            .await?
                            .map(|a| a.hotspot_id);
                        hotspots.insert(e.alert_id, h);
                        h
                    }
                };
                let Some(hotspot) = hotspot else { continue };
                for s in subs.iter().filter(|s| s.wants(e.seq, &e.kind, hotspot)) {
                    let key = roeh_store::idempotency_key(s.id, e.seq);
                    let body = serde_json::to_string(&Payload {
                        seq: e.seq,
                        idempotency_key: &key,
                        kind: &e.kind,
                        alert: e.alert_id,
                        hotspot,
                        time: e.time.to_rfc3339(),
                        actor: &e.actor,
                        state: &e.state,
                        unit: e.unit_id,
                        detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                    })
                    .map_err(|e| {
                        ApiError::new(
                            roeh_domain::ErrorKind::Internal,
                            format!("encoding a webhook body: {e}"),
                        )
                    })?;
                    batch.push(NewDelivery {
                        webhook_id: s.id,
                        seq: e.seq,
                        event_kind: e.kind.clone(),
                        body,
                    });
                }
            }
            added += self
                .store
                .enqueue_webhook_deliveries(last, &batch, self.clock.wall())
                .await?;
            if events.len() < EVENT_PAGE as usize {
                return Ok(added);
            }
        }
    }

    /// Attempts every delivery due now; returns how many attempts were made.
    pub async fn deliver_once(&self) -> Result<usize, ApiError> {
        let due = self
            .store
            .due_webhook_deliveries(self.clock.wall(), DELIVERY_BATCH)
            .await?;
        let n = due.len();
        futures::stream::iter(due)
            .for_each_concurrent(self.settings.parallel.max(1), |d| async move {
                if let Err(e) = self.attempt(&d).await {
                    tracing::warn!(
                        webhook = %d.webhook_id, seq = d.seq, error = ?e,
                        "Could not record a webhook attempt."
                    );
                }
            })
            .await;
        Ok(n)
    }

    /// One attempt of `d`, recorded in the store.
    async fn attempt(&self, d: &DeliveryRow) -> Result<(), ApiError> {
        let Some(sub) = self.store.get_webhook(d.webhook_id).await? else {
            // Deleted meanwhile: its deliveries went with it.
            return Ok(());
        };
        if !sub.enabled {
            // Disabled meanwhile: it waits.
            return Ok(());
        }
        let (status, error) = match self.settings.check_literal(&sub.url) {
            Err(e) => (None, Some(e.to_string())),
            Ok(url) => match self.send(d, url).await? {
                Some(sent) => sent,
                None => return Ok(()),
            },
        };
        let now = self.clock.wall();
        let failures = d.attempts.saturating_add(1);
        let outcome = match (status, error) {
            (Some(status), None) => AttemptOutcome::Delivered { status },
            (status, Some(error)) if failures >= self.settings.max_attempts => {
                tracing::warn!(
                    webhook = %d.webhook_id, seq = d.seq, attempts = failures, %error,
                    "Gave up on a webhook delivery."
                );
                AttemptOutcome::Dead { status, error }
            }
            (status, error) => {
                let error = error.unwrap_or_else(|| "no answer".into());
                tracing::debug!(
                    webhook = %d.webhook_id, seq = d.seq, attempts = failures, %error,
                    "A webhook attempt failed; retrying."
                );
                AttemptOutcome::Retry {
                    status,
                    error,
                    next: now.plus(self.settings.backoff(failures)),
                }
            }
        };
        self.store
            .record_webhook_attempt(d.id, &outcome, now)
            .await?;
        Ok(())
    }

    /// Posts `d` to `url` (whose form, scheme and address literal are checked; a host name is
    /// checked by the client's resolver). The status and the error, if any; `None` if the
    /// subscription went away meanwhile.
    async fn send(
        &self,
        d: &DeliveryRow,
        url: url::Url,
    ) -> Result<Option<(Option<u16>, Option<String>)>, ApiError> {
        let secret = match self.store.webhook_secret(d.webhook_id).await {
            Ok(s) => s,
            Err(e) if e.kind() == roeh_domain::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let timestamp = (self.clock.wall().0.div_euclid(1_000_000)).to_string();
        let signature = sign(secret.as_bytes(), &timestamp, d.body.as_bytes());
        drop(secret);
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(EVENT_HEADER, &d.event_kind)
            .header(IDEMPOTENCY_HEADER, &d.idempotency_key)
            .body(d.body.clone())
            .send()
            .await;
        Ok(Some(match sent {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) if r.status().is_redirection() => (
                Some(r.status().as_u16()),
                Some(format!(
                    "answered HTTP {}; redirects are not followed",
                    r.status().as_u16()
                )),
            ),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("answered HTTP {}", r.status().as_u16())),
            ),
            Err(e) => (
                e.status().map(|s| s.as_u16()),
                Some(describe(&e.without_url())),
            ),
        }))
    }

    /// Enqueues and delivers every [`WebhookSettings::poll_every`] until `shutdown` resolves.
    pub fn spawn(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(self.settings.poll_every);
            poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tokio::pin!(shutdown);
            loop {
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    _ = poll.tick() => {
                        if let Err(e) = self.enqueue_once().await {
                            tracing::warn!(error = ?e, "Enqueueing webhook deliveries failed.");
                        }
                        let round = self.deliver_once();
                        tokio::select! {
                            biased;
                            () = &mut shutdown => break,
                            r = round => if let Err(e) = r {
                                tracing::warn!(error = ?e, "Delivering webhooks failed.");
                            }
                        }
                    }
                }
            }
        })
    }
}

/// A transport error with its causes, without the URL. A target the resolver refused is
/// described by its reason alone.
fn describe(e: &reqwest::Error) -> String {
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        if let Some(t) = c.downcast_ref::<TargetError>() {
            return t.to_string().chars().take(500).collect();
        }
        src = c.source();
    }
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else if e.is_redirect() {
        "redirects are not followed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        // TLS errors can name the receiver (a certificate for another name): say what kind of
        // failure it was, never the names.
        // (rustls reports through an io::Error, whose `source` skips the wrapped error.)
        let tls = c.downcast_ref::<tokio_rustls::rustls::Error>().or_else(|| {
            c.downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .and_then(|i| i.downcast_ref::<tokio_rustls::rustls::Error>())
        });
        if let Some(t) = tls {
            s.push_str(&describe_tls(t));
            break;
        }
        let text = c.to_string();
        // Some connectors flatten the TLS error into text: classify it, never copy it.
        if text.contains("certificate") || text.contains("TLS") || text.contains("handshake") {
            s.push_str(&describe_tls_text(&text));
            break;
        }
        s.push_str(&text);
        src = c.source();
    }
    s.chars().take(500).collect()
}

/// A TLS failure reported only as text, in words that name no host.
fn describe_tls_text(text: &str) -> String {
    let why = if text.contains("UnknownIssuer") {
        "its issuer is not trusted"
    } else if text.contains("NotValidForName") || text.contains("not valid for name") {
        "it is not valid for the receiver's name"
    } else if text.contains("Expired") || text.contains("expired") {
        "it has expired"
    } else if text.contains("certificate") {
        "it is not acceptable"
    } else {
        return "the TLS handshake failed".into();
    };
    format!("the receiver's TLS certificate was refused: {why}")
}

/// A TLS failure in words that name no host.
fn describe_tls(e: &tokio_rustls::rustls::Error) -> String {
    use tokio_rustls::rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(c) => {
            let why = match c {
                C::UnknownIssuer => "its issuer is not trusted",
                C::Expired | C::ExpiredContext { .. } => "it has expired",
                C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet",
                C::Revoked => "it is revoked",
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "it is not valid for the receiver's name"
                }
                C::BadSignature => "its signature is bad",
                _ => "it is not acceptable",
            };
            format!("the receiver's TLS certificate was refused: {why}")
        }
        E::AlertReceived(_) => "the receiver ended the TLS handshake".into(),
        E::NoCertificatesPresented => "the receiver presented no certificate".into(),
        _ => "the TLS handshake failed".into(),
    }
}

// ----- handlers -----

/// A subscription as the API shows it: never its secret.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct WebhookView {
    id: Uuid,
    name: String,
    url: String,
    kinds: Vec<String>,
    hotspots: Vec<Uuid>,
    enabled: bool,
    created_at: String,
}

fn webhook_view(w: roeh_store::WebhookRow) -> WebhookView {
    WebhookView {
        id: w.id,
        name: w.name,
        url: w.url,
        kinds: w.kinds,
        hotspots: w.hotspots,
        enabled: w.enabled,
        created_at: w.created_at.to_rfc3339(),
    }
}

/// `GET /api/webhooks`.
pub(crate) async fn list(State(st): State<AppState>) -> Result<Json<Vec<WebhookView>>, ApiError> {
    Ok(Json(
        st.store
            .list_webhooks()
            .await?
            .into_iter()
            .map(webhook_view)
            .collect(),
    ))
}

fn yes() -> bool {
    true
}

/// `POST /api/webhooks` body.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    /// 1 to 100 characters after trimming, no control characters.
    #[schemars(length(min = 1))]
    name: String,
    /// The target: `https://` (or `http://` where allowed), with a host whose addresses are
    /// permitted; no credentials or fragment.
    #[schemars(url)]
    url: String,
    /// The HMAC key, 16 to 512 bytes; stored encrypted and never shown.
    #[schemars(length(max = MAX_SECRET_LEN))]
    secret: String,
    /// Event kinds to deliver (all when empty).
    #[serde(default)]
    #[schemars(length(max = 32), inner(regex(pattern = r"^[a-z_-]{1,40}$")))]
    kinds: Vec<String>,
    /// Hotspots whose alerts to deliver (all when empty).
    #[serde(default)]
    #[schemars(length(max = 256))]
    hotspots: Vec<Uuid>,
    #[serde(default = "yes")]
    enabled: bool,
}

/// `POST /api/webhooks`: a subscription; the secret is stored encrypted and never shown. The
/// target is checked against the installed worker's settings (the strictest defaults without
/// one), resolving its host now.
pub(crate) async fn create(
    State(st): State<AppState>,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    ApiJson(b): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("a webhook name is 1 to 100 characters"));
    }
    check_url(&b.url)?;
    if !(MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&b.secret.len()) {
        return Err(ApiError::invalid(format!(
            "a webhook secret is {MIN_SECRET_LEN} to {MAX_SECRET_LEN} bytes"
        )));
    }
    if b.kinds.len() > 32
        || b.kinds.iter().any(|k| {
            k.is_empty()
                || k.len() > 40
                || !k
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c == b'_' || c == b'-')
        })
    {
        return Err(ApiError::invalid(
            "kinds are at most 32 event kinds (lowercase letters, '_' and '-')",
        ));
    }
    if b.hotspots.len() > 256 {
        return Err(ApiError::invalid("at most 256 hotspots"));
    }
    let mut kinds = b.kinds;
    kinds.sort();
    kinds.dedup();
    let mut hotspots = b.hotspots;
    hotspots.sort();
    hotspots.dedup();
    let url = match worker {
        Some(Extension(w)) => w.settings.check_target(&b.url).await?,
        None => WebhookSettings::default().check_target(&b.url).await?,
    };
    let row = st
        .store
        .insert_webhook(&NewWebhook {
            id: Uuid::new_v4(),
            name: name.to_string(),
            url: url.to_string(),
            secret: b.secret,
            kinds,
            hotspots,
            enabled: b.enabled,
            created_at: st.clock.wall(),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(webhook_view(row))).into_response())
}

/// `DELETE /api/webhooks/{id}`: the subscription and its deliveries.
pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.delete_webhook(path_id(&id, "webhook")?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such webhook"))
    }
}

/// `POST /api/webhooks/{id}/disable`: no new deliveries; pending ones wait.
pub(crate) async fn disable(
    State(st): State<AppState>,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    set_enabled(&st, worker, &id, false).await
}

/// `POST /api/webhooks/{id}/enable`: pending deliveries are due again; events committed from
/// now on are delivered (those committed while it was disabled are not).
pub(crate) async fn enable(
    State(st): State<AppState>,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    set_enabled(&st, worker, &id, true).await
}

async fn set_enabled(
    st: &AppState,
    worker: Option<Extension<Arc<WebhookWorker>>>,
    id: &str,
    on: bool,
) -> Result<Json<WebhookView>, ApiError> {
    let id = path_id(id, "webhook")?;
    // Through the worker when one runs, so a disable does not drop events committed just
    // before it that the worker has not enqueued yet.
    let row = match worker {
        Some(Extension(w)) => w.set_enabled(id, on).await?,
        None => st.store.set_webhook_enabled(id, on).await?,
    }
    .ok_or_else(|| ApiError::not_found("no such webhook"))?;
    Ok(Json(webhook_view(row)))
}

/// A delivery as the API shows it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub(crate) struct DeliveryView {
    seq: u64,
    idempotency_key: String,
    event: String,
    #[schemars(extend("enum" = ["pending", "delivered", "dead"]))]
    state: &'static str,
    attempts: u32,
    next_attempt_at: Option<String>,
    last_status: Option<u16>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
}

/// `GET /api/webhooks/{id}/deliveries` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    limit: Option<u32>,
    before: Option<u64>,
}

/// `GET /api/webhooks/{id}/deliveries?limit=&before=`: newest (highest seq) first, `limit`
/// (default 100, 1 to 1000) at a time; `before` is the `seq` of the last delivery of the
/// previous page, and the page starts after it.
pub(crate) async fn deliveries(
    State(st): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let max = roeh_store::MAX_DELIVERY_LIST;
    let limit = q.limit.unwrap_or(DEFAULT_DELIVERY_PAGE);
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(format!("limit is 1 to {max}")));
    }
    if q.before == Some(0) {
        return Err(ApiError::invalid(
            "before is the seq of the last delivery of the previous page (1 or more)",
        ));
    }
    let id = path_id(&id, "webhook")?;
    if st.store.get_webhook(id).await?.is_none() {
        return Err(ApiError::not_found("no such webhook"));
    }
    let t = |w: Option<WallTime>| w.map(WallTime::to_rfc3339);
    let rows = st
        .store
        .webhook_deliveries_page(id, q.before, limit)
        .await?;
    Ok(
        Json(
            rows.into_iter()
                .map(|d| DeliveryView {
                    seq: d.seq,
                    idempotency_key: d.idempotency_key,
                    event: d.event_kind,
                    state: d.state.as_str(),
                    attempts: d.attempts,
                    next_attempt_at: t(
                        (d.state == DeliveryState::Pending).then_some(d.next_attempt_at)
                    ),
                    last_status: d.last_status,
                    last_error: d.last_error,
                    created_at: d.created_at.to_rfc3339(),
                    delivered_at: t(d.delivered_at),
                })
                .collect(),
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tls_failures_are_described_without_the_receivers_name() {
        let mismatch = "invalid peer certificate: certificate not valid for name \
                        \"hooks.example.org\"; certificate is only valid for \
                        DnsName(\"other.example.org\")";
        let d = describe_tls_text(mismatch);
        assert_eq!(
            d,
            "the receiver's TLS certificate was refused: it is not valid for the receiver's name"
        );
        assert!(describe_tls_text("invalid peer certificate: UnknownIssuer").contains("issuer"));
        let e = tokio_rustls::rustls::Error::InvalidCertificate(
            tokio_rustls::rustls::CertificateError::NotValidForName,
        );
        assert!(!describe_tls(&e).contains("example"));
        assert!(describe_tls(&e).contains("not valid for the receiver's name"));
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 of RFC 4231 (the last with a key longer than a block).
        let cases: [(Vec<u8>, &[u8], &str); 3] = [
            (
                vec![0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, msg, want) in cases {
            assert_eq!(hex::encode(hmac_sha256(&key, &[msg])), want);
            // Split input gives the same MAC.
            let (a, b) = msg.split_at(3);
            assert_eq!(hex::encode(hmac_sha256(&key, &[a, b])), want);
        }
    }

    #[test]
    fn signature_covers_timestamp_and_body() {
        let s = sign(b"Jefe", "what do ya want", b" for nothing?");
        // timestamp + "." + body is the signed text.
        assert_eq!(
            s,
            format!(
                "sha256={}",
                hex::encode(hmac_sha256(b"Jefe", &[b"what do ya want. for nothing?"]))
            )
        );
        assert!(verify(b"Jefe", "what do ya want", b" for nothing?", &s));
        assert!(!verify(b"Jefe", "what do ya want", b" for nothing!", &s));
        assert!(!verify(b"Jefe", "what do ya wanT", b" for nothing?", &s));
        assert!(!verify(b"jefe", "what do ya want", b" for nothing?", &s));
        assert!(!verify(
            b"Jefe",
            "what do ya want",
            b" for nothing?",
            &s[..20]
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = WebhookSettings::default();
        let waits: Vec<u64> = (1..=12).map(|n| s.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
        assert_eq!(s.backoff(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn urls_are_http_without_credentials() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "https://hooks.example.org/a?b=c",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.org/",
            "file:///etc/passwd",
            "https://user:pw@example.org/",
            "https://user@example.org/",
            "https://example.org/#frag",
            "not a url",
            "unix:/run/x.sock",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://e.org/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_addresses_are_allowed_by_default() {
        let s = WebhookSettings::default();
        for ok in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:93.184.216.34",
            "64:ff9b::5db8:d822",
            "2002:5db8:d822::1",
        ] {
            assert_eq!(s.check_address(ip(ok)), Ok(()), "{ok}");
        }
        for (bad, what) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("fe80::1", "link-local"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("192.168.1.1", "private"),
            ("fd00::1", "private"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("0.1.2.3", "this network"),
            ("224.0.0.1", "multicast"),
            ("ff02::1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("192.0.2.1", "documentation"),
            ("2001:db8::1", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("240.0.0.1", "reserved"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("2002:7f00:1::1", "loopback"),
            ("2001::1", "Teredo"),
            ("::127.0.0.1", "reserved"),
            ("100::1", "reserved"),
        ] {
            let e = s.check_address(ip(bad)).unwrap_err();
            assert!(e.contains(what), "{bad}: {e}");
        }
    }

    #[test]
    fn allowed_networks_and_hosts_widen_the_list() {
        let s = WebhookSettings {
            allowed_networks: vec![
                Cidr::parse("10.20.0.0/16").unwrap(),
                Cidr::parse("224.0.0.0/4").unwrap(),
            ],
            allowed_hosts: vec!["Hooks.Internal.".into()],
            ..Default::default()
        };
        assert_eq!(s.check_address(ip("10.20.3.4")), Ok(()));
        assert_eq!(s.check_address(ip("::ffff:10.20.3.4")), Ok(()));
        assert!(s.check_address(ip("10.21.0.1")).is_err());
        // Listed explicitly, even a range that is never allowed otherwise.
        assert_eq!(s.check_address(ip("224.0.0.1")), Ok(()));
        // A trusted host may use special-purpose unicast addresses, never these.
        assert!(s.host_trusted("hooks.internal"));
        assert!(s.host_trusted("HOOKS.internal."));
        assert!(!s.host_trusted("evil.hooks.internal"));
        assert_eq!(s.address_refusal(ip("127.0.0.1"), true), None);
        assert_eq!(s.address_refusal(ip("169.254.169.254"), true), None);
        for never in ["0.0.0.0", "255.255.255.255", "::", "ff02::1"] {
            assert!(s.address_refusal(ip(never), true).is_some(), "{never}");
        }
    }

    #[test]
    fn targets_are_https_to_permitted_address_literals() {
        let strict = WebhookSettings::default();
        assert!(strict.check_literal("https://93.184.216.34/hook").is_ok());
        assert!(
            strict
                .check_literal("https://hooks.example.org/hook")
                .is_ok()
        );
        for (bad, why) in [
            ("http://93.184.216.34/hook", "allow_http"),
            ("https://127.0.0.1/", "loopback"),
            ("https://2130706433/", "127.0.0.1 is a loopback"),
            ("https://0x7f.1/", "loopback"),
            ("https://[::ffff:7f00:1]/", "loopback"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://0.0.0.0:8080/", "unspecified"),
            ("https://user:pw@93.184.216.34/", "credentials"),
            ("gopher://93.184.216.34/", "https"),
        ] {
            match strict.check_literal(bad) {
                Err(TargetError::Blocked(e)) => assert!(e.contains(why), "{bad}: {e}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let open = WebhookSettings {
            allow_http: true,
            allowed_networks: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            ..Default::default()
        };
        assert!(open.check_literal("http://127.0.0.1:8080/hook").is_ok());
        assert!(open.check_literal("http://[::1]:8080/hook").is_err());
    }

    #[tokio::test]
    async fn a_host_name_is_judged_by_every_address_it_resolves_to() {
        let strict = WebhookSettings::default();
        let e = strict.resolve_checked("localhost", 80).await.unwrap_err();
        match e {
            TargetError::Blocked(why) => {
                assert!(why.contains("loopback"), "{why}");
                assert!(why.starts_with("the host resolves to "), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert!(strict.check_target("https://localhost/hook").await.is_err());
        let trusted = WebhookSettings {
            allowed_hosts: vec!["localhost".into()],
            ..Default::default()
        };
        let addrs = trusted.resolve_checked("localhost", 8443).await.unwrap();
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8443)
        );
        assert!(trusted.check_target("https://localhost/hook").await.is_ok());
        let loopback = WebhookSettings {
            allowed_networks: vec![
                Cidr::parse("127.0.0.0/8").unwrap(),
                Cidr::parse("::1/128").unwrap(),
            ],
            ..Default::default()
        };
        assert!(
            loopback
                .check_target("https://localhost:9/hook")
                .await
                .is_ok()
        );
        assert!(matches!(
            strict.resolve_checked("no-such-host.invalid", 443).await,
            Err(TargetError::Unresolved(_))
        ));
    }

    #[test]
    fn settings_debug_omits_the_ca_bytes() {
        let s = WebhookSettings {
            extra_ca_pem: Some(b"-----BEGIN CERTIFICATE-----\nMIIB".to_vec()),
            ..Default::default()
        };
        let d = format!("{s:?}");
        assert!(d.contains("32 bytes") && !d.contains("MIIB"), "{d}");
    }
}
