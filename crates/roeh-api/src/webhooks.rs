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
//! - no redirect is followed and no proxy is used; every attempt has a timeout;
//! - target URLs are `http` or `https` without credentials;
//! - the secret is write-only: no route returns it and it is never logged; errors stored and
//!   logged name the subscription and seq, never the URL or the secret;
//! - the routes need [`roeh_auth::Permission::ManageUsers`] (admins only): a subscription sends
//!   every alert of the site, whatever the creator's scope, out of the building, so it is an
//!   administrator's decision like creating an account.

use crate::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use hmac::{Hmac, Mac};
use roeh_domain::{Clock, WallTime};
use roeh_store::{AttemptOutcome, DeliveryRow, DeliveryState, NewDelivery, NewWebhook, Store};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

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

/// Checks a target URL: `http` or `https`, a host, no credentials, no fragment, bounded length.
pub fn check_url(s: &str) -> Result<url::Url, ApiError> {
    if s.len() > MAX_URL_LEN {
        return Err(ApiError::invalid(format!(
            "a webhook URL is at most {MAX_URL_LEN} characters"
        )));
    }
    let u = url::Url::parse(s).map_err(|_| ApiError::invalid("the webhook URL is not a URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(ApiError::invalid("a webhook URL is http or https"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("a webhook URL names a host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(ApiError::invalid(
            "a webhook URL carries no credentials; the signature authenticates the sender",
        ));
    }
    if u.fragment().is_some() {
        return Err(ApiError::invalid("a webhook URL has no fragment"));
    }
    Ok(u)
}

/// Settings of the delivery worker.
#[derive(Clone, Copy, Debug)]
pub struct WebhookSettings {
    /// How often new events are enqueued and due deliveries attempted.
    pub poll_every: Duration,
    /// Limit of one attempt (connect, send, answer).
    pub timeout: Duration,
    /// Wait after the first failed attempt; it doubles after each further one.
    pub first_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Attempts before a delivery is dead.
    pub max_attempts: u32,
    /// Deliveries attempted at once.
    pub parallel: usize,
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
}

/// Events read from the store per page.
const EVENT_PAGE: u32 = 500;
/// Due deliveries read per round.
const DELIVERY_BATCH: u32 = 100;

/// The delivery worker: enqueues committed alert events and posts the outbox.
pub struct WebhookWorker {
    store: Store,
    clock: Arc<dyn Clock>,
    settings: WebhookSettings,
    http: reqwest::Client,
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
    /// A worker over `store`, timing retries by `clock`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> Result<Arc<Self>, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("roeh-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ApiError::new(
                    roeh_domain::ErrorKind::Internal,
                    format!("cannot build the webhook HTTP client: {e}"),
                )
            })?;
        Ok(Arc::new(WebhookWorker {
            store,
            clock,
            settings,
            http,
        }))
    }

    /// Enqueues a delivery for every committed event after the cursor and every subscription
    /// that wants it; returns how many deliveries were new.
    pub async fn enqueue_once(&self) -> Result<u64, ApiError> {
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
        let secret = match self.store.webhook_secret(d.webhook_id).await {
            Ok(s) => s,
            // Deleted meanwhile: its deliveries went with it.
            Err(e) if e.kind() == roeh_domain::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(sub) = self.store.get_webhook(d.webhook_id).await? else {
            return Ok(());
        };
        let timestamp = (self.clock.wall().0.div_euclid(1_000_000)).to_string();
        let signature = sign(secret.as_bytes(), &timestamp, d.body.as_bytes());
        drop(secret);
        let sent = self
            .http
            .post(&sub.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(EVENT_HEADER, &d.event_kind)
            .header(IDEMPOTENCY_HEADER, &d.idempotency_key)
            .body(d.body.clone())
            .send()
            .await;
        let (status, error) = match sent {
            Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
            Ok(r) => (
                Some(r.status().as_u16()),
                Some(format!("answered HTTP {}", r.status().as_u16())),
            ),
            Err(e) => (
                e.status().map(|s| s.as_u16()),
                Some(describe(&e.without_url())),
            ),
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

/// A transport error with its causes, without the URL.
fn describe(e: &reqwest::Error) -> String {
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
        s.push_str(&c.to_string());
        src = c.source();
    }
    s.chars().take(500).collect()
}

// ----- handlers -----

/// A subscription as the API shows it: never its secret.
#[derive(Debug, Serialize)]
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    name: String,
    url: String,
    secret: String,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    hotspots: Vec<Uuid>,
    #[serde(default = "yes")]
    enabled: bool,
}

/// `POST /api/webhooks`: a subscription; the secret is stored encrypted and never shown.
pub(crate) async fn create(
    State(st): State<AppState>,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body.map_err(ApiError::body)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid("a webhook name is 1 to 100 characters"));
    }
    let url = check_url(&b.url)?;
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

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found("no such webhook"))
}

/// `DELETE /api/webhooks/{id}`: the subscription and its deliveries.
pub(crate) async fn remove(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if st.store.delete_webhook(parse_id(&id)?).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("no such webhook"))
    }
}

/// A delivery as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    seq: u64,
    idempotency_key: String,
    event: String,
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
}

/// `GET /api/webhooks/{id}/deliveries`: newest first.
pub(crate) async fn deliveries(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::invalid(e.body_text()))?;
    let id = parse_id(&id)?;
    if st.store.get_webhook(id).await?.is_none() {
        return Err(ApiError::not_found("no such webhook"));
    }
    let t = |w: Option<WallTime>| w.map(WallTime::to_rfc3339);
    let rows = st
        .store
        .webhook_deliveries(id, q.limit.unwrap_or(100))
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
}
