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
//! - a subscription's format ([`roeh_store::WebhookFormat`]) is fixed at creation: roeh's JSON
//!   event (`application/json`) or an OASIS CAP 1.2 message (`application/cap+xml`, see
//!   [`crate::cap`]); both are signed the same way.
//!
//! The routes that manage subscriptions are the HTTP crate's; it checks a new target with the
//! settings of the running worker ([`WebhookWorker::settings`]), or with
//! [`WebhookSettings::default`], the strictest policy, when none runs.

use crate::cap::{self, CapContext, CapSettings};
use crate::{Error, Result};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use roeh_domain::{Clock, ErrorKind};
use roeh_egress::{OutboundPolicy, Refusal};
use roeh_store::{AttemptOutcome, DeliveryRow, NewDelivery, Store, WebhookFormat, WebhookRow};
use serde::Serialize;
use sha2::Sha256;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub use roeh_egress::Cidr;

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
pub fn check_url(s: &str) -> Result<url::Url> {
    url_form(s).map_err(|why| Error::new(ErrorKind::InvalidArgument, why))
}

fn url_form(s: &str) -> std::result::Result<url::Url, String> {
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

/// Settings of the delivery worker, including where webhooks may go.
#[derive(Clone)]
pub struct WebhookSettings {
    /// How often the store is also looked at for events another process wrote (this process's
    /// own events, new subscriptions and retries falling due wake the worker at once).
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
    /// The sender and area of CAP messages (subscriptions whose format is CAP).
    pub cap: CapSettings,
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
            .field("cap", &self.cap)
            .finish()
    }
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            poll_every: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            max_attempts: 12,
            parallel: 8,
            allowed_networks: Vec::new(),
            allowed_hosts: Vec::new(),
            allow_http: false,
            extra_ca_pem: None,
            cap: CapSettings::default(),
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
    pub fn check_address(&self, ip: IpAddr) -> std::result::Result<(), String> {
        self.policy().check_address(ip)
    }

    /// The egress policy these settings describe.
    pub fn policy(&self) -> OutboundPolicy {
        OutboundPolicy {
            section: "webhooks",
            target: "a webhook",
            allowed_networks: self.allowed_networks.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
        }
    }

    /// The checks that need no name resolution: the URL's form, its scheme against
    /// [`WebhookSettings::allow_http`], and an address literal against the allow-list.
    fn check_literal(&self, s: &str) -> std::result::Result<url::Url, Refusal> {
        let u = url_form(s).map_err(Refusal::Blocked)?;
        if u.scheme() != "https" && !self.allow_http {
            return Err(Refusal::Blocked(
                "a webhook URL is https; plain http needs webhooks.allow_http = true".into(),
            ));
        }
        let ip = match u.host() {
            Some(url::Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            _ => None,
        };
        if let Some(ip) = ip {
            self.policy().check_literal(ip)?;
        }
        Ok(u)
    }

    /// Resolves `host` and checks every address it resolves to; all must be permitted.
    async fn resolve_checked(
        &self,
        host: &str,
        port: u16,
    ) -> std::result::Result<Vec<SocketAddr>, Refusal> {
        self.policy()
            .resolve_checked(host, port, self.timeout)
            .await
    }

    /// Checks a target URL before a subscription is stored: its form, https (or http where
    /// allowed), and every address its host resolves to now. The answer names why a URL is
    /// refused.
    pub async fn check_target(&self, s: &str) -> Result<url::Url> {
        let refused = |e: Refusal| match e {
            Refusal::Blocked(why) => Error::new(
                ErrorKind::InvalidArgument,
                format!("webhook target refused: {why}"),
            ),
            Refusal::Unresolved(why) => Error::new(
                ErrorKind::InvalidArgument,
                format!("the webhook URL's host does not resolve: {why}"),
            ),
        };
        let u = self.check_literal(s).map_err(refused)?;
        if let Some(url::Host::Domain(host)) = u.host()
            && !self.policy().host_trusted(host)
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

/// How soon a round that failed (the database busy or unreachable) is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

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
pub(crate) struct Payload<'a> {
    pub(crate) seq: u64,
    pub(crate) idempotency_key: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) alert: Uuid,
    pub(crate) hotspot: Uuid,
    pub(crate) time: String,
    pub(crate) actor: &'a str,
    pub(crate) state: &'a str,
    pub(crate) unit: Option<Uuid>,
    pub(crate) detail: serde_json::Value,
}

impl WebhookWorker {
    /// A worker over `store`, timing retries by `clock`. `InvalidArgument` if
    /// [`WebhookSettings::extra_ca_pem`] holds no usable certificate.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> Result<Arc<Self>> {
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
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("the extra webhook CA certificates: {e}"),
                )
            })?;
            if certs.is_empty() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "the extra webhook CA file holds no PEM certificate",
                ));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(|e| {
            let kind = if settings.extra_ca_pem.is_some() {
                ErrorKind::InvalidArgument
            } else {
                ErrorKind::Internal
            };
            Error::new(kind, format!("cannot build the webhook HTTP client: {e}"))
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
    pub async fn set_enabled(&self, id: Uuid, on: bool) -> Result<Option<WebhookRow>> {
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

    /// Enqueues a delivery for every committed event after the cursor and every subscription
    /// that wants it; returns how many deliveries were new.
    pub async fn enqueue_once(&self) -> Result<u64> {
        let _pass = self.enqueue.lock().await;
        self.enqueue_locked().await
    }

    async fn enqueue_locked(&self) -> Result<u64> {
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
            let want_cap = subs.iter().any(|s| s.format == WebhookFormat::Cap);
            let mut alerts: HashMap<Uuid, Option<(Uuid, Option<CapContext>)>> = HashMap::new();
            let mut batch = Vec::new();
            for e in &events {
                if !subs.iter().any(|s| e.seq > s.after_seq) {
                    continue;
                }
                if let std::collections::hash_map::Entry::Vacant(slot) = alerts.entry(e.alert_id) {
                    let found = match self.store.get_alert(e.alert_id).await? {
                        None => None,
                        Some(a) => {
                            let cap = if want_cap {
                                Some(cap::context(&self.store, &a).await?)
                            } else {
                                None
                            };
                            Some((a.hotspot_id, cap))
                        }
                    };
                    slot.insert(found);
                }
                let Some(Some((hotspot, cap_ctx))) = alerts.get(&e.alert_id) else {
                    continue;
                };
                let hotspot = *hotspot;
                for s in subs.iter().filter(|s| s.wants(e.seq, &e.kind, hotspot)) {
                    let key = roeh_store::idempotency_key(s.id, e.seq);
                    let body = match (s.format, cap_ctx) {
                        (WebhookFormat::Cap, Some(c)) => cap::message(
                            &self.settings.cap,
                            c,
                            &cap::CapEvent {
                                seq: e.seq,
                                time: e.time,
                                kind: &e.kind,
                                state: &e.state,
                            },
                        ),
                        _ => serde_json::to_string(&Payload {
                            seq: e.seq,
                            idempotency_key: &key,
                            kind: &e.kind,
                            alert: e.alert_id,
                            hotspot,
                            time: e.time.to_rfc3339(),
                            actor: &e.actor,
                            state: &e.state,
                            unit: e.unit_id,
                            detail: serde_json::from_str(&e.detail)
                                .unwrap_or(serde_json::Value::Null),
                        })
                        .map_err(|e| {
                            Error::new(ErrorKind::Internal, format!("encoding a webhook body: {e}"))
                        })?,
                    };
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
    pub async fn deliver_once(&self) -> Result<usize> {
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
    async fn attempt(&self, d: &DeliveryRow) -> Result<()> {
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
            Ok(url) => match self.send(d, url, sub.format).await? {
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
        format: WebhookFormat,
    ) -> Result<Option<(Option<u16>, Option<String>)>> {
        let secret = match self.store.webhook_secret(d.webhook_id).await {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let timestamp = (self.clock.wall().0.div_euclid(1_000_000)).to_string();
        let signature = sign(secret.as_bytes(), &timestamp, d.body.as_bytes());
        drop(secret);
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, format.media_type())
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

    /// Enqueues new events and delivers what is due until `shutdown` resolves. It wakes when
    /// this process commits an alert event or changes a subscription, when the earliest retry
    /// falls due, and every [`WebhookSettings::poll_every`] for events another process wrote;
    /// otherwise it sleeps.
    pub fn spawn(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut events = self.store.watch(roeh_store::Change::AlertEvents);
            let mut subs = self.store.watch(roeh_store::Change::Webhooks);
            let fallback = self.settings.poll_every;
            tokio::pin!(shutdown);
            loop {
                // Marked seen first: whatever commits during the round wakes it again.
                events.borrow_and_update();
                subs.borrow_and_update();
                let round = self.round();
                let next_due = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    r = round => r,
                };
                let look = tokio::time::Instant::now() + fallback;
                let wake = match next_due {
                    Ok(Some(due)) => {
                        let ahead = due.0.saturating_sub(self.clock.wall().0).max(0);
                        let ahead = Duration::from_micros(u64::try_from(ahead).unwrap_or(0));
                        look.min(tokio::time::Instant::now() + ahead)
                    }
                    Ok(None) => look,
                    Err(e) => {
                        tracing::warn!(error = ?e, "Delivering webhooks failed.");
                        // A busy or unreachable database: tried again soon.
                        look.min(tokio::time::Instant::now() + RETRY_AFTER_FAILURE)
                    }
                };
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    r = events.changed() => if r.is_err() { break },
                    r = subs.changed() => if r.is_err() { break },
                    () = tokio::time::sleep_until(wake) => {}
                }
            }
        })
    }

    /// Enqueues new events, delivers every delivery due now (batch after batch), and tells when
    /// the next pending one falls due.
    async fn round(&self) -> Result<Option<roeh_domain::WallTime>> {
        if let Err(e) = self.enqueue_once().await {
            tracing::warn!(error = ?e, "Enqueueing webhook deliveries failed.");
        }
        // A few batches at most, so a stop is never kept waiting long; more due means an
        // immediate next round.
        for _ in 0..10 {
            if self.deliver_once().await? < DELIVERY_BATCH as usize {
                break;
            }
        }
        Ok(self.store.next_webhook_due().await?)
    }
}

/// A transport error with its causes, without the URL. A target the resolver refused is
/// described by its reason alone.
fn describe(e: &reqwest::Error) -> String {
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        if let Some(t) = c.downcast_ref::<Refusal>() {
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
        assert!(s.policy().host_trusted("hooks.internal"));
        assert!(s.policy().host_trusted("HOOKS.internal."));
        assert!(!s.policy().host_trusted("evil.hooks.internal"));
        assert_eq!(s.policy().address_refusal(ip("127.0.0.1"), true), None);
        assert_eq!(
            s.policy().address_refusal(ip("169.254.169.254"), true),
            None
        );
        for never in ["0.0.0.0", "255.255.255.255", "::", "ff02::1"] {
            assert!(
                s.policy().address_refusal(ip(never), true).is_some(),
                "{never}"
            );
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
                Err(Refusal::Blocked(e)) => assert!(e.contains(why), "{bad}: {e}"),
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
            Refusal::Blocked(why) => {
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
            Err(Refusal::Unresolved(_))
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
