//! Alerts, incidents and availability on an MQTT broker, on topics in the style home-automation
//! and VMS users know (`<prefix>` is `roeh` unless configured):
//!
//! | topic | payload | QoS, retained |
//! |---|---|---|
//! | `<prefix>/available` | `online` once connected; `offline` as the last will and at shutdown | 1, retained |
//! | `<prefix>/alerts` | every committed alert event, the webhook JSON body (`seq`, `idempotency_key`, `kind`, `alert`, `hotspot`, `time`, `actor`, `state`, `unit`, `detail`) | 1 |
//! | `<prefix>/<camera>/incidents` | an incident a camera's detection (or a person) added to an alert: `idempotency_key`, `seq`, `alert`, `incident`, `rule`, `camera`, `camera_name`, `hotspot`, `time`, `state` | 1 |
//! | `<prefix>/<camera>/state` | `online` while the camera's frames flow, else `offline` | 1, retained |
//!
//! `<camera>` is the camera's name with `/`, `+`, `#`, spaces and control characters replaced
//! by `_` (MQTT topic levels cannot carry them).
//!
//! Invariants (the same outbox guarantees as webhooks):
//! - events come from the store after a cursor kept in the store (`outbound_cursors`, channel
//!   `mqtt`), never from the live push: a restart of roeh or of the broker loses nothing;
//! - the cursor moves past an event only after the broker acknowledged (PUBACK) every message
//!   of it, so every event is published **at least once**; each message carries an
//!   `idempotency_key` (`mqtt-<seq>`, `mqtt-<seq>-<incident>`) the same on every attempt, for
//!   receivers to drop a repeat;
//! - a lost connection drops the whole session's state (a fresh client, clean session), so
//!   nothing is re-sent by the library behind the cursor's back; reconnects back off from
//!   [`MqttSettings::first_backoff`] doubling to [`MqttSettings::max_backoff`];
//! - the broker's address is checked by the egress policy ([`MqttSettings::policy`]) at every
//!   connect: without TLS the client connects to the checked address itself; with TLS it connects
//!   by name (the certificate must match it) after checking every address the name resolves to;
//! - the password is never logged or shown (`Debug` prints its length only).
//!
//! Work arrives by [`MqttPublisher::wake`] (the binary wakes it on every committed alert event)
//! and [`MqttPublisher::set_camera_state`] (on every change of a camera stream's state); a slow
//! timer ([`MqttSettings::resync_every`]) only guards against a missed wake. Camera states are
//! not events: the publisher keeps the latest of each camera and publishes it (retained) when
//! it changes and after every connect, so a broker that was away ends up with the state as it
//! is now.

use crate::webhook::Payload;
use crate::{Error, Result};
use roeh_domain::{CameraId, ErrorKind};
use roeh_egress::{Cidr, OutboundPolicy};
use roeh_store::{AlertEventRow, Store};
use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_rustls::rustls;
use uuid::Uuid;

/// The cursor's channel name in the store.
pub const CHANNEL: &str = "mqtt";

/// Events read from the store per page.
const EVENT_PAGE: u32 = 200;

/// Settings of the MQTT publisher.
#[derive(Clone)]
pub struct MqttSettings {
    /// The broker's host name or address.
    pub host: String,
    /// The broker's port (1883, or 8883 with TLS).
    pub port: u16,
    /// Whether to connect with TLS (the broker's certificate must match `host`).
    pub tls: bool,
    /// PEM certificates of certificate authorities trusted for the broker besides the bundled
    /// web PKI roots (a site's own PKI).
    pub ca_pem: Option<Vec<u8>>,
    /// User name, if the broker wants one.
    pub username: Option<String>,
    /// Password (with `username`).
    pub password: Option<String>,
    /// The MQTT client id.
    pub client_id: String,
    /// First topic level.
    pub topic_prefix: String,
    /// Networks the broker may live on besides public addresses.
    pub allowed_networks: Vec<Cidr>,
    /// Host names trusted whatever unicast address they resolve to.
    pub allowed_hosts: Vec<String>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Limit of connecting, and of waiting for one acknowledgement.
    pub timeout: Duration,
    /// Wait after the first failed connection; doubles after each further one.
    pub first_backoff: Duration,
    /// Longest wait between connection attempts.
    pub max_backoff: Duration,
    /// How often the store is read without a wake (a guard, not the way work arrives).
    pub resync_every: Duration,
}

impl std::fmt::Debug for MqttSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field(
                "ca_pem",
                &self.ca_pem.as_ref().map(|p| format!("{} bytes", p.len())),
            )
            .field("username", &self.username)
            .field(
                "password",
                &self.password.as_ref().map(|p| format!("{} bytes", p.len())),
            )
            .field("client_id", &self.client_id)
            .field("topic_prefix", &self.topic_prefix)
            .field("allowed_networks", &self.allowed_networks)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl MqttSettings {
    /// Settings for a broker at `host:port` with the defaults: no TLS, no login, client id
    /// `roeh`, prefix `roeh`, public addresses only, 30 s keep-alive, 10 s timeout, backoff
    /// 1 s to 60 s, a resync every 30 s.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        MqttSettings {
            host: host.into(),
            port,
            tls: false,
            ca_pem: None,
            username: None,
            password: None,
            client_id: "roeh".into(),
            topic_prefix: "roeh".into(),
            allowed_networks: Vec::new(),
            allowed_hosts: Vec::new(),
            keep_alive: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            resync_every: Duration::from_secs(30),
        }
    }

    /// The egress policy the broker's address is checked by.
    pub fn policy(&self) -> OutboundPolicy {
        OutboundPolicy {
            section: "mqtt",
            target: "an MQTT broker",
            allowed_networks: self.allowed_networks.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
        }
    }

    /// The wait after the `failures`-th failed connection (1-based).
    pub fn backoff(&self, failures: u32) -> Duration {
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(31));
        self.first_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Checks the settings' form; the error names the setting.
    pub fn check(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::new(ErrorKind::InvalidArgument, m));
        if self.host.is_empty() || self.host.len() > 253 {
            return bad("mqtt.host names the broker");
        }
        if self.port == 0 {
            return bad("mqtt.port is 1 to 65535");
        }
        let level_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && !s
                    .chars()
                    .any(|c| matches!(c, '/' | '+' | '#') || c.is_control())
        };
        if !level_ok(&self.topic_prefix) {
            return bad("mqtt.topic_prefix is one topic level (no '/', '+' or '#')");
        }
        if self.client_id.is_empty()
            || self.client_id.len() > 64
            || !self.client_id.chars().all(|c| c.is_ascii_graphic())
        {
            return bad("mqtt.client_id is 1 to 64 visible ASCII characters");
        }
        if self.password.is_some() && self.username.is_none() {
            return bad("mqtt.password needs mqtt.username");
        }
        Ok(())
    }
}

/// A topic level from a camera name: `/`, `+`, `#`, whitespace and control characters become
/// `_`; at most 64 characters; never empty.
pub fn topic_level(name: &str) -> String {
    let s: String = name
        .chars()
        .take(64)
        .map(|c| {
            if matches!(c, '/' | '+' | '#') || c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

/// One message to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// How a session ended without an error.
enum Ended {
    Shutdown,
}

/// Publishes committed alert events to the broker.
pub struct MqttPublisher {
    store: Store,
    settings: MqttSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    wake: Notify,
    /// Each camera's latest state (topic level → online, still to publish); one entry per
    /// camera, so bounded by the site's cameras.
    cameras: std::sync::Mutex<std::collections::BTreeMap<String, (bool, bool)>>,
}

impl std::fmt::Debug for MqttPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttPublisher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl MqttPublisher {
    /// A publisher over `store`. `InvalidArgument` for settings of the wrong form or a CA file
    /// without a usable certificate.
    pub fn new(store: Store, settings: MqttSettings) -> Result<Arc<Self>> {
        settings.check()?;
        let tls = if settings.tls {
            Some(Arc::new(tls_config(settings.ca_pem.as_deref())?))
        } else {
            None
        };
        Ok(Arc::new(MqttPublisher {
            store,
            settings,
            tls,
            wake: Notify::new(),
            cameras: std::sync::Mutex::new(std::collections::BTreeMap::new()),
        }))
    }

    /// Says that camera `name` is now online (its frames flow) or offline; published retained
    /// on `<prefix>/<camera>/state` when it changed, and again after every connect.
    pub fn set_camera_state(&self, name: &str, online: bool) {
        let mut cams = self.cameras.lock().unwrap_or_else(|p| p.into_inner());
        let e = cams.entry(topic_level(name)).or_insert((!online, true));
        if e.0 != online {
            *e = (online, true);
            drop(cams);
            self.wake.notify_one();
        }
    }

    /// Camera states still to publish, marking them published.
    fn take_camera_states(&self) -> Vec<(String, bool)> {
        let mut cams = self.cameras.lock().unwrap_or_else(|p| p.into_inner());
        cams.iter_mut()
            .filter(|(_, v)| v.1)
            .map(|(k, v)| {
                v.1 = false;
                (k.clone(), v.0)
            })
            .collect()
    }

    /// Marks every camera state to be published again (after a connect).
    fn republish_camera_states(&self) {
        let mut cams = self.cameras.lock().unwrap_or_else(|p| p.into_inner());
        cams.values_mut().for_each(|v| v.1 = true);
    }

    /// Publishes the camera states still to publish; one that fails is marked again.
    async fn publish_camera_states(
        &self,
        client: &AsyncClient,
        events: &mut EventLoop,
    ) -> Result<()> {
        let pending = self.take_camera_states();
        for (i, (level, online)) in pending.iter().enumerate() {
            let topic = format!("{}/{level}/state", self.settings.topic_prefix);
            let payload: &[u8] = if *online { b"online" } else { b"offline" };
            if let Err(e) = self.publish(client, events, &topic, payload, true).await {
                let mut cams = self.cameras.lock().unwrap_or_else(|p| p.into_inner());
                for (level, _) in &pending[i..] {
                    if let Some(v) = cams.get_mut(level) {
                        v.1 = true;
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Says that alert events were committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The messages of event `e`: the event on `<prefix>/alerts`, and for an incident added
    /// to an alert, the incident on its camera's topic.
    pub async fn messages(&self, e: &AlertEventRow) -> Result<Vec<Message>> {
        let Some(alert) = self.store.get_alert(e.alert_id).await? else {
            return Ok(Vec::new());
        };
        let prefix = &self.settings.topic_prefix;
        let key = format!("mqtt-{}", e.seq);
        let detail: serde_json::Value =
            serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null);
        let body = serde_json::to_vec(&Payload {
            seq: e.seq,
            idempotency_key: &key,
            kind: &e.kind,
            alert: e.alert_id,
            hotspot: alert.hotspot_id,
            time: e.time.to_rfc3339(),
            actor: &e.actor,
            state: &e.state,
            unit: e.unit_id,
            detail: detail.clone(),
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("encoding an MQTT message: {e}"),
            )
        })?;
        let mut out = vec![Message {
            topic: format!("{prefix}/alerts"),
            payload: body,
        }];
        if matches!(e.kind.as_str(), "raised" | "merged") {
            let incident = detail
                .get("incident")
                .and_then(|v| v.as_str())
                .and_then(|s| Uuid::parse_str(s).ok());
            let found = alert
                .incidents
                .iter()
                .filter(|i| incident.is_none_or(|id| id == i.incident_id));
            for i in found {
                let name = self
                    .store
                    .get_camera(CameraId(i.camera.0))
                    .await?
                    .map_or_else(|| i.camera.to_string(), |c| c.name);
                let body = serde_json::json!({
                    "idempotency_key": format!("mqtt-{}-{}", e.seq, i.incident_id),
                    "seq": e.seq,
                    "alert": e.alert_id,
                    "incident": i.incident_id,
                    "rule": i.rule_id,
                    "camera": i.camera.to_string(),
                    "camera_name": name,
                    "hotspot": alert.hotspot_id,
                    "time": i.opened_at.to_rfc3339(),
                    "state": e.state,
                });
                out.push(Message {
                    topic: format!("{prefix}/{}/incidents", topic_level(&name)),
                    payload: body.to_string().into_bytes(),
                });
            }
        }
        Ok(out)
    }

    /// Connects, publishes, and reconnects with backoff until `shutdown` resolves; then says
    /// `offline` and disconnects.
    pub fn spawn(
        self: Arc<Self>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        // A flag that stays set, so every wait below can ask again.
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                match self.session(stop.clone(), &mut failures).await {
                    Ok(Ended::Shutdown) => break,
                    Err(e) => {
                        failures = failures.saturating_add(1);
                        let wait = self.settings.backoff(failures);
                        tracing::warn!(
                            error = %e.message(), attempt = failures, retry_in = ?wait,
                            "The MQTT broker connection failed; reconnecting."
                        );
                        tokio::select! {
                            biased;
                            () = stopped(stop.clone()) => break,
                            () = tokio::time::sleep(wait) => {}
                        }
                    }
                }
            }
        })
    }

    /// One connection: publish `online`, then every event after the cursor, then wait for more.
    async fn session(
        &self,
        stop: tokio::sync::watch::Receiver<bool>,
        failures: &mut u32,
    ) -> Result<Ended> {
        let s = &self.settings;
        let (client, mut events) = self.connect().await?;
        let available = format!("{}/available", s.topic_prefix);
        tokio::select! {
            biased;
            () = stopped(stop.clone()) => return Ok(Ended::Shutdown),
            r = self.publish(&client, &mut events, &available, b"online", true) => r?,
        }
        *failures = 0;
        tracing::info!("Connected to the MQTT broker.");
        self.republish_camera_states();
        let mut resync = tokio::time::interval(s.resync_every);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // An event being published is finished (each wait is bounded by the timeout), so a
            // stop does not leave an acknowledged event behind the cursor.
            self.drain(&client, &mut events).await?;
            self.publish_camera_states(&client, &mut events).await?;
            if *stop.borrow() {
                // Best effort: the last will says the same if this does not arrive.
                let bye = self.publish(&client, &mut events, &available, b"offline", true);
                let _ = tokio::time::timeout(s.timeout, bye).await;
                let _ = client.disconnect().await;
                let _ = tokio::time::timeout(s.timeout, events.poll()).await;
                return Ok(Ended::Shutdown);
            }
            tokio::select! {
                biased;
                () = stopped(stop.clone()) => continue,
                () = self.wake.notified() => {}
                _ = resync.tick() => {}
                r = events.poll() => { r.map_err(connection_error)?; }
            }
        }
    }

    /// Publishes every event after the cursor, advancing it event by event.
    async fn drain(&self, client: &AsyncClient, events: &mut EventLoop) -> Result<()> {
        loop {
            let cursor = self.store.outbound_cursor(CHANNEL).await?;
            let page = self.store.alert_events_after(cursor, EVENT_PAGE).await?;
            for e in &page {
                for m in self.messages(e).await? {
                    self.publish(client, events, &m.topic, &m.payload, false)
                        .await?;
                }
                self.store.advance_outbound_cursor(CHANNEL, e.seq).await?;
            }
            if page.len() < EVENT_PAGE as usize {
                return Ok(());
            }
        }
    }

    /// Publishes one message with QoS 1 and waits for the broker's PUBACK.
    async fn publish(
        &self,
        client: &AsyncClient,
        events: &mut EventLoop,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> Result<()> {
        client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await
            .map_err(|e| Error::new(ErrorKind::Unavailable, format!("queueing a message: {e}")))?;
        let wait = async {
            let mut pkid = None;
            loop {
                match events.poll().await.map_err(connection_error)? {
                    Event::Outgoing(Outgoing::Publish(id)) if pkid.is_none() => pkid = Some(id),
                    Event::Incoming(Packet::PubAck(a)) if Some(a.pkid) == pkid => return Ok(()),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(self.settings.timeout, wait)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::DeadlineExceeded,
                    "the broker did not acknowledge a message in time",
                )
            })?
    }

    /// A fresh client and event loop, connected (CONNACK received).
    async fn connect(&self) -> Result<(AsyncClient, EventLoop)> {
        let s = &self.settings;
        let addrs = s
            .policy()
            .resolve_checked(&s.host, s.port, s.timeout)
            .await
            .map_err(|r| Error::new(ErrorKind::PermissionDenied, format!("mqtt: {r}")))?;
        // Without TLS, the checked address itself; with TLS, the name the certificate names.
        let host = match (&self.tls, addrs.first()) {
            (None, Some(a)) => a.ip().to_string(),
            _ => s.host.clone(),
        };
        let mut o = MqttOptions::new(s.client_id.clone(), host, s.port);
        o.set_keep_alive(s.keep_alive.max(Duration::from_secs(5)));
        o.set_clean_session(true);
        o.set_last_will(LastWill::new(
            format!("{}/available", s.topic_prefix),
            "offline",
            QoS::AtLeastOnce,
            true,
        ));
        if let Some(user) = &s.username {
            o.set_credentials(user.clone(), s.password.clone().unwrap_or_default());
        }
        if let Some(tls) = &self.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                tls.clone(),
            )));
        }
        let (client, mut events) = AsyncClient::new(o, 16);
        let connected = async {
            loop {
                if let Event::Incoming(Packet::ConnAck(_)) =
                    events.poll().await.map_err(connection_error)?
                {
                    return Ok::<(), Error>(());
                }
            }
        };
        tokio::time::timeout(s.timeout, connected)
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::DeadlineExceeded,
                    "the MQTT broker did not answer the connection in time",
                )
            })??;
        Ok((client, events))
    }
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A connection error in words without the password or the payloads.
fn connection_error(e: ConnectionError) -> Error {
    let what = match &e {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        ConnectionError::Io(io) => format!("connection: {}", io.kind()),
        ConnectionError::Tls(t) => format!("TLS: {t}"),
        ConnectionError::NetworkTimeout => "the network timed out".into(),
        ConnectionError::FlushTimeout => "sending timed out".into(),
        ConnectionError::MqttState(s) => format!("protocol: {s}"),
        other => format!("{other}"),
    };
    Error::new(ErrorKind::Unavailable, what)
}

/// A rustls client configuration with the ring provider, the bundled web PKI roots and the
/// extra CA certificates in `ca_pem`.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        let mut n = 0;
        for c in rustls_pemfile::certs(&mut &pem[..]) {
            let c = c.map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("the MQTT CA certificates: {e}"),
                )
            })?;
            roots.add(c).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("an MQTT CA certificate: {e}"),
                )
            })?;
            n += 1;
        }
        if n == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the MQTT CA file holds no PEM certificate",
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Internal, format!("TLS versions: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn camera_names_become_one_topic_level() {
        assert_eq!(topic_level("Herzl north"), "Herzl_north");
        assert_eq!(topic_level("a/b+c#d"), "a_b_c_d");
        assert_eq!(topic_level("מצלמה 3"), "מצלמה_3");
        assert_eq!(topic_level(""), "_");
        assert_eq!(topic_level(&"x".repeat(100)).len(), 64);
    }

    #[test]
    fn settings_are_checked_and_the_password_never_shown() {
        let mut s = MqttSettings::new("broker.example", 1883);
        assert!(s.check().is_ok());
        s.username = Some("roeh".into());
        s.password = Some("hunter2-very-secret".into());
        let d = format!("{s:?}");
        assert!(!d.contains("hunter2") && d.contains("19 bytes"), "{d}");
        for bad in ["", "a/b", "a+", "#"] {
            let mut t = s.clone();
            t.topic_prefix = bad.into();
            assert_eq!(
                t.check().unwrap_err().kind(),
                ErrorKind::InvalidArgument,
                "{bad}"
            );
        }
        let mut t = s.clone();
        t.username = None;
        assert!(t.check().is_err());
        let mut t = s.clone();
        t.client_id = "has space".into();
        assert!(t.check().is_err());
        let waits: Vec<u64> = (1..=8).map(|n| s.backoff(n).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let e = tls_config(Some(b"not a certificate")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(tls_config(None).is_ok());
    }

    #[tokio::test]
    async fn the_broker_address_is_checked_by_the_egress_policy() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
        let store = Store::open(&url).await.unwrap();
        let p = MqttPublisher::new(store, MqttSettings::new("127.0.0.1", 1)).unwrap();
        let Err(e) = p.connect().await else {
            panic!("connected to a loopback broker the policy refuses")
        };
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        assert!(
            e.message().contains("loopback") && e.message().contains("mqtt.allowed_networks"),
            "{e}"
        );
    }
}
