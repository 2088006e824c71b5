//! The MQTT publisher against a real broker (Debian's mosquitto, started by the test with a
//! password file and persistence) and a real subscriber: an alert and its incident arrive once
//! on their topics, also when the broker restarts in the middle and when the publisher is
//! stopped and started again on the same store; availability is retained with a last will; a
//! wrong password is refused; TLS works through a site CA and fails without it.

#![allow(clippy::unwrap_used)]

use roeh_domain::{Camera, CameraId, CameraUrl, Retention, Transport, WallTime};
use roeh_outbound::mqtt::{MqttPublisher, MqttSettings};
use roeh_store::{AlertChange, AlertIncident, NewAlert, NewAlertEvent, NewIncident, Store};
use roeh_testkit::mosquitto::{Broker, BrokerTls, have_mosquitto};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport as Tx};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(60);

const USER: &str = "roeh";
const PASSWORD: &str = "mqtt-pass-6d1f0c";

/// One message the subscriber got: topic, payload, retained.
type Got = (String, String, bool);

/// A subscriber on `roeh/#` with a persistent session (QoS 1), resubscribing at every connect.
struct Watcher {
    rx: mpsc::Receiver<Got>,
    seen: Vec<Got>,
}

impl Watcher {
    /// Connects and returns once the first subscription is acknowledged.
    async fn start(
        port: u16,
        host: &str,
        tls: Option<Arc<rumqttc::tokio_rustls::rustls::ClientConfig>>,
    ) -> Watcher {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut o = MqttOptions::new(format!("watcher-{n}"), host, port);
        o.set_clean_session(false);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_credentials(USER, PASSWORD);
        if let Some(t) = tls {
            o.set_transport(Tx::tls_with_config(TlsConfiguration::Rustls(t)));
        }
        let (client, mut events) = AsyncClient::new(o, 64);
        // Full: the subscriber waits (and the broker holds QoS 1 messages for it).
        let (tx, rx) = mpsc::channel(1024);
        let (subscribed, first) = oneshot::channel::<()>();
        let mut subscribed = Some(subscribed);
        tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        client.subscribe("roeh/#", QoS::AtLeastOnce).await.unwrap();
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(s) = subscribed.take() {
                            let _ = s.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let text = String::from_utf8_lossy(&p.payload).into_owned();
                        if tx.send((p.topic.clone(), text, p.retain)).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        });
        tokio::time::timeout(GUARD, first).await.unwrap().unwrap();
        Watcher {
            rx,
            seen: Vec::new(),
        }
    }

    /// Waits until `f` holds for what was received so far.
    async fn until(&mut self, what: &str, f: impl Fn(&[Got]) -> bool) {
        let deadline = tokio::time::Instant::now() + GUARD;
        while !f(&self.seen) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => self.seen.push(m),
                _ => panic!("timed out waiting for {what}; got {:#?}", self.seen),
            }
        }
    }

    /// Waits (as [`Watcher::until`]) for an alert event of `kind` on `roeh/alerts`.
    async fn until_alert_event(&mut self, what: &str, kind: &str) {
        let quoted = format!("\"{kind}\"");
        self.until(what, |s| {
            s.iter()
                .any(|(t, p, _)| t == "roeh/alerts" && p.contains(&quoted))
        })
        .await;
    }

    /// Alert events received on `roeh/alerts`, by seq, with how often each came.
    fn alert_seqs(&self) -> BTreeMap<u64, usize> {
        let mut m = BTreeMap::new();
        for (t, p, _) in &self.seen {
            if t == "roeh/alerts" {
                let v: Value = serde_json::from_str(p).unwrap();
                let seq = v["seq"].as_u64().unwrap();
                assert_eq!(v["idempotency_key"], format!("mqtt-{seq}"), "{v}");
                *m.entry(seq).or_insert(0) += 1;
            }
        }
        m
    }

    fn last_available(&self) -> Option<&str> {
        self.seen
            .iter()
            .rev()
            .find(|(t, _, _)| t == "roeh/available")
            .map(|(_, p, _)| p.as_str())
    }
}

/// A store with a camera named "Herzl north" and a hotspot it sees.
async fn site(dir: &std::path::Path) -> (Store, CameraId, Uuid) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("roeh.db").display());
    let store = Store::open(&url).await.unwrap();
    let cam = Camera {
        id: CameraId::new_random(),
        name: "Herzl north".into(),
        url: CameraUrl::parse("rtsp://127.0.0.1:8554/cam0").unwrap(),
        credentials: None,
        transport: Transport::Tcp,
        enabled: true,
        retention: Retention::default(),
    };
    store
        .insert_camera(&cam, WallTime::from_secs(1_800_000_000))
        .await
        .unwrap();
    (store, cam.id, Uuid::new_v4())
}

/// Raises an alert with one incident of `camera`; returns the alert.
async fn raise(store: &Store, camera: CameraId, hotspot: Uuid) -> Uuid {
    let now = WallTime::from_secs(1_800_000_000);
    let inc = NewIncident {
        id: Uuid::new_v4(),
        rule_id: Uuid::from_u128(42),
        camera,
        hotspot_id: hotspot,
        seq: 1,
        kind: "fight".into(),
        severity: "high".into(),
        priority: 4,
        alerting: true,
        reason: "test".into(),
        opened_at: now,
        peak_score: 0.9,
        track_ids: vec![1],
        model_id: "m".into(),
        evidence_start: now,
    };
    store.insert_incident(&inc).await.unwrap();
    let (a, _, _) = store
        .raise_or_merge_alert(
            &AlertIncident {
                incident_id: inc.id,
                rule_id: inc.rule_id,
                camera,
                opened_at: now,
            },
            &NewAlert {
                id: Uuid::new_v4(),
                hotspot_id: hotspot,
                severity: "high".into(),
                priority: 4,
                lat: Some(32.07),
                lon: Some(34.77),
                created_at: now,
            },
            "system",
            |_| None,
        )
        .await
        .unwrap()
        .unwrap();
    a.id
}

/// Moves `alert` from `from` to `to` with an event `kind`; returns the event's seq.
async fn step(store: &Store, alert: Uuid, from: &str, to: &str, kind: &str) -> u64 {
    let (_, ev) = store
        .alert_transition(
            alert,
            &AlertChange {
                from_state: from.into(),
                from_claimed_by: None,
                to_state: to.into(),
                claimed_by: None,
                at: WallTime::from_secs(1_800_000_060),
            },
            &NewAlertEvent {
                kind: kind.into(),
                actor: "op".into(),
                unit_id: None,
                detail: "{}".into(),
            },
        )
        .await
        .unwrap();
    ev.seq
}

fn settings(port: u16) -> MqttSettings {
    let mut s = MqttSettings::new("127.0.0.1", port);
    s.username = Some(USER.into());
    s.password = Some(PASSWORD.into());
    s.allowed_networks = vec![roeh_egress::Cidr::parse("127.0.0.0/8").unwrap()];
    s.first_backoff = Duration::from_millis(200);
    s.max_backoff = Duration::from_secs(1);
    s.timeout = Duration::from_secs(5);
    s
}

/// A running publisher and the sender that stops it.
struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    publisher: Arc<MqttPublisher>,
}

fn run(store: &Store, s: MqttSettings) -> Running {
    let publisher = MqttPublisher::new(store.clone(), s).unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = publisher.clone().spawn(async move {
        let _ = stopped.await;
    });
    Running {
        stop,
        task,
        publisher,
    }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(GUARD, self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_arrives_once_across_a_broker_restart_and_a_publisher_restart() {
    if !have_mosquitto("an_alert_arrives_once_across_a_broker_restart") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(&dir.path().join("broker"), USER, PASSWORD, None).unwrap();
    let (store, camera, hotspot) = site(dir.path()).await;
    let mut watcher = Watcher::start(broker.port, "127.0.0.1", None).await;
    let p1 = run(&store, settings(broker.port));

    // The camera's state, retained; then the raise on roeh/alerts and on the camera's
    // incidents topic; availability retained.
    p1.publisher.set_camera_state("Herzl north", true);
    watcher
        .until("the camera online", |s| {
            s.iter()
                .any(|(t, p, _)| t == "roeh/Herzl_north/state" && p == "online")
        })
        .await;
    let alert = raise(&store, camera, hotspot).await;
    p1.publisher.wake();
    watcher
        .until("the raise and its incident", |s| {
            s.iter().any(|(t, _, _)| t == "roeh/alerts")
                && s.iter().any(|(t, _, _)| t == "roeh/Herzl_north/incidents")
        })
        .await;
    assert_eq!(watcher.last_available(), Some("online"));
    let (_, inc, _) = watcher
        .seen
        .iter()
        .find(|(t, _, _)| t == "roeh/Herzl_north/incidents")
        .unwrap();
    let inc: Value = serde_json::from_str(inc).unwrap();
    assert_eq!(inc["alert"], alert.to_string());
    assert_eq!(inc["camera"], camera.to_string());
    assert_eq!(inc["camera_name"], "Herzl north");
    assert_eq!(inc["hotspot"], hotspot.to_string());
    assert!(
        inc["idempotency_key"]
            .as_str()
            .unwrap()
            .starts_with("mqtt-")
    );

    // The broker goes away; an event committed meanwhile arrives once it is back.
    broker.stop().unwrap();
    let claimed = step(&store, alert, "new", "claimed", "claim").await;
    p1.publisher.wake();
    // The camera goes offline while the broker is away; the state as it is now arrives after.
    p1.publisher.set_camera_state("Herzl north", false);
    p1.publisher.set_camera_state("Herzl north", true);
    p1.publisher.set_camera_state("Herzl north", false);
    broker.restart().unwrap();
    watcher
        .until_alert_event("the claim after the broker restart", "claim")
        .await;

    // The publisher stops (it says offline) and a new one starts on the same store: it
    // sends nothing twice and goes on with the next event.
    p1.stop().await;
    watcher
        .until("offline at shutdown", |s| {
            s.last()
                .is_some_and(|(t, p, _)| t == "roeh/available" && p == "offline")
        })
        .await;
    let resolved = step(&store, alert, "claimed", "resolved", "resolve").await;
    let p2 = run(&store, settings(broker.port));
    watcher
        .until_alert_event("the resolve from the new publisher", "resolve")
        .await;
    assert_eq!(watcher.last_available(), Some("online"));
    let seqs = watcher.alert_seqs();
    assert_eq!(seqs.len(), 3, "{seqs:?}");
    assert!(seqs.values().all(|n| *n == 1), "each event once: {seqs:?}");
    assert!(seqs.contains_key(&claimed) && seqs.contains_key(&resolved));
    // The cursor moves once the broker acknowledged (just after the subscriber may see it).
    let deadline = tokio::time::Instant::now() + GUARD;
    while store
        .outbound_cursor(roeh_outbound::mqtt::CHANNEL)
        .await
        .unwrap()
        != resolved
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cursor stays behind"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A late subscriber gets the retained availability at once.
    let mut late = Watcher::start(broker.port, "127.0.0.1", None).await;
    late.until("the retained availability", |s| {
        s.iter()
            .any(|(t, p, r)| t == "roeh/available" && p == "online" && *r)
    })
    .await;
    p2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_nothing_is_marked_sent() {
    if !have_mosquitto("a_wrong_password_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::start(&dir.path().join("broker"), USER, PASSWORD, None).unwrap();
    let (store, camera, hotspot) = site(dir.path()).await;
    raise(&store, camera, hotspot).await;
    let mut s = settings(broker.port);
    s.password = Some("not-the-password".into());
    let bad = run(&store, s);
    // It keeps trying; the broker's log shows the refusals, and the cursor stays put.
    roeh_testkit::wait_for("refused logins", GUARD, || {
        (broker.log().matches("not authorised").count() >= 2).then_some(())
    })
    .unwrap();
    assert_eq!(
        store
            .outbound_cursor(roeh_outbound::mqtt::CHANNEL)
            .await
            .unwrap(),
        0
    );
    bad.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_trusts_the_site_ca_and_fails_without_it() {
    if !have_mosquitto("tls_trusts_the_site_ca") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pki = roeh_testkit::pki::site_pki(dir.path(), roeh_testkit::pki::KeyAlgorithm::Ec).unwrap();
    let tls = BrokerTls {
        ca: pki.ca.clone(),
        cert: pki.cert.clone(),
        key: pki.key.clone(),
    };
    let broker = Broker::start(&dir.path().join("broker"), USER, PASSWORD, Some(&tls)).unwrap();
    let (store, camera, hotspot) = site(dir.path()).await;
    let ca_pem = std::fs::read(&pki.ca).unwrap();

    // Without the site CA the broker's certificate is not trusted: nothing is sent.
    let mut s = settings(broker.port);
    s.host = "localhost".into();
    s.allowed_hosts = vec!["localhost".into()];
    s.tls = true;
    raise(&store, camera, hotspot).await;
    let untrusting = run(&store, s.clone());
    roeh_testkit::wait_for("refused TLS handshakes", GUARD, || {
        (broker.log().matches("unknown ca").count() >= 2).then_some(())
    })
    .unwrap();
    untrusting.stop().await;
    assert_eq!(
        store
            .outbound_cursor(roeh_outbound::mqtt::CHANNEL)
            .await
            .unwrap(),
        0
    );

    // With it, the alert arrives over TLS.
    let mut roots = rumqttc::tokio_rustls::rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut &ca_pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rumqttc::tokio_rustls::rustls::crypto::ring::default_provider());
    let client_tls = rumqttc::tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut watcher = Watcher::start(broker.port, "localhost", Some(Arc::new(client_tls))).await;
    s.ca_pem = Some(ca_pem);
    let p = run(&store, s);
    watcher
        .until_alert_event("the raise over TLS", "raised")
        .await;
    p.stop().await;
}
