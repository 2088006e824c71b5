//! Push latency and throughput: the API on a real port with a real store in a temp dir, 1000
//! WebSocket clients (operators and patrol units) connected to `/api/push/ws`, and 10,000
//! alerts raised the way the running system raises them: an alerting incident is written to the
//! store and the alert service's ingest pass turns it into an alert, commits its event and
//! publishes it. A share of the alerts is claimed, acknowledged and dispatched to a unit over
//! HTTP, so units receive their dispatch.
//!
//! Latency of one delivery = the client's wall clock when the message arrived − the event's
//! time (`time`, stamped by the service just before the transaction that commits the event).
//! Each ingest pass handles one incident, so that stamp is at most one commit before the commit.
//! Server and clients run in this one process on one tokio runtime: the clients' work (TLS-free
//! WebSocket framing, JSON parsing) competes with the server's for the same cores.
//!
//! Every message is a signed envelope (`roeh_alerts::push`); the first operator and the first
//! unit run the full client check on each one (signature, expiry, replay, order), the others
//! only unwrap it, since in the field that work is done on the clients' own devices.
//!
//! `--database sqlite|postgres|both`: the store on a SQLite file (the default) or on a local
//! PostgreSQL cluster started for the run with `fsync` on; `both` measures SQLite, then
//! PostgreSQL, in this one run.
//!
//! Invariants: every operator must receive every event (seq contiguous, none twice) and every
//! unit exactly its dispatch; the run fails otherwise. Needs about 2 file descriptors per client
//! (`ulimit -n`).

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures::StreamExt;
use roeh_alerts::push::{Envelope, PushVerifier};
use roeh_api::alerts::{AlertsService, AlertsSettings};
use roeh_api::{AppState, CameraControl};
use roeh_auth::{HashParams, Role, Scope};
use roeh_domain::{Camera, CameraId, Clock, StreamHealth, SystemClock, WallTime};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser, Debug)]
#[command(about = "Push latency: commit of an alert event → receipt by WebSocket clients")]
struct Args {
    /// Operator clients (each sees every alert).
    #[arg(long, default_value_t = 900)]
    operators: usize,
    /// Patrol-unit clients (each sees its own dispatch).
    #[arg(long, default_value_t = 100)]
    units: usize,
    /// Alerts raised.
    #[arg(long, default_value_t = 10_000)]
    alerts: usize,
    /// Alerts raised per second; 0 raises them as fast as the service takes them.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// `sqlite`, `postgres` or `both` (SQLite, then PostgreSQL, in this one run).
    #[arg(long, default_value = "sqlite")]
    database: String,
}

struct NoCameras;

impl CameraControl for NoCameras {
    fn health(&self, _id: CameraId) -> Option<StreamHealth> {
        None
    }
    fn start_camera(&self, _camera: Camera) {}
    fn stop_camera(&self, _id: CameraId) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// What one client saw: `(seq, latency µs, kind)` per message.
type Seen = Vec<(u64, i64, Kind)>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Raised,
    Dispatch,
    Other,
}

#[derive(serde::Deserialize)]
struct Msg<'a> {
    seq: u64,
    time: &'a str,
    kind: &'a str,
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Result<Value> {
    let r = http
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("POST {path}: {status} {v}");
    }
    Ok(v)
}

async fn token_for(store: &roeh_store::Store, name: &str, role: Role) -> Result<String> {
    let hasher = roeh_auth::PasswordHasher::new(HashParams::INSECURE_FAST)?;
    let id = store
        .create_user(
            &roeh_store::NewUser {
                username: name.into(),
                password_hash: hasher.hash("a-long-bench-password")?,
                role: role.as_str().into(),
                scope: Scope::unrestricted().to_json()?,
            },
            WallTime(0),
        )
        .await?;
    let (text, hash) = roeh_auth::new_token();
    store
        .create_token(&roeh_store::NewToken {
            hash,
            user_id: id,
            kind: roeh_store::TokenKind::Api,
            label: "bench".into(),
            created_at: WallTime(0),
            expires_at: WallTime(i64::MAX / 2),
        })
        .await?;
    Ok(text.expose().to_string())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr, token: &str) -> Result<Ws> {
    let mut req = format!("ws://{addr}/api/push/ws").into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (s, _) = tokio_tungstenite::connect_async(req).await?;
    Ok(s)
}

/// Reads messages until `stop` flips; records each one's latency, publishes the highest seq.
async fn client(
    mut ws: Ws,
    clock: Arc<dyn Clock>,
    progress: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut verifier: Option<PushVerifier>,
) -> Result<Seen> {
    let mut seen = Seen::with_capacity(1024);
    loop {
        tokio::select! {
            m = ws.next() => {
                let Some(m) = m else { bail!("the server closed a push connection") };
                let Message::Text(t) = m? else { continue };
                let now = clock.wall();
                let body = match verifier.as_mut() {
                    // The full client check (signature, expiry, replay and order).
                    Some(v) => v.accept(t.as_str(), now)?.body,
                    // Clients run on their own devices in the field; here they share the
                    // server's two cores, so all but a few only unwrap the envelope.
                    None => serde_json::from_str::<Envelope>(t.as_str())?.msg,
                };
                let msg: Msg = serde_json::from_str(&body)?;
                let at = WallTime::parse(msg.time).context("event time")?;
                let kind = match msg.kind {
                    "raised" => Kind::Raised,
                    "dispatch" => Kind::Dispatch,
                    _ => Kind::Other,
                };
                seen.push((msg.seq, now.0 - at.0, kind));
                progress.fetch_max(msg.seq, Ordering::Relaxed);
            }
            _ = stop.changed() => break,
        }
    }
    let _ = ws.close(None).await;
    Ok(seen)
}

fn pct(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64 / 1000.0
}

fn report(what: &str, mut l: Vec<i64>) {
    l.sort_unstable();
    println!(
        "{what}: {} deliveries, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.len(),
        pct(&l, 50.0),
        pct(&l, 99.0),
        l.last().copied().unwrap_or(0) as f64 / 1000.0
    );
}

/// Server-side cost of one signed message (seal = serialise + sign, once per event) and the
/// client's check, against the baseline of serialising the message (what each subscriber's
/// connection did per event before messages were signed once and shared).
async fn signing_cost(http: &reqwest::Client, base: &str, token: &str) -> Result<()> {
    let r = http
        .get(format!("{base}/api/alerts?limit=1"))
        .bearer_auth(token)
        .send()
        .await?;
    let summary: Value = r.json().await?;
    let now = WallTime::from_secs(1_800_000_000);
    let body = json!({
        "seq": 1, "alert": summary[0]["id"], "kind": "raised", "time": now.to_rfc3339(),
        "actor": "system", "state": "new", "detail": {}, "summary": summary[0],
        "issued_at": now.to_rfc3339(),
        "expires_at": now.plus(Duration::from_secs(60)).to_rfc3339(),
    });
    let signer = roeh_alerts::push::PushSigner::from_seed(&[9; 32]);
    let mut verifier =
        PushVerifier::from_public_pem(&signer.public_pem(), Duration::from_secs(120))?;
    const N: u32 = 5_000;
    let t = Instant::now();
    let mut text = String::new();
    for _ in 0..N {
        text = serde_json::to_string(&body)?;
    }
    let ser = t.elapsed() / N;
    let t = Instant::now();
    let mut sealed = String::new();
    for _ in 0..N {
        sealed = signer.seal(serde_json::to_string(&body)?);
    }
    let seal = t.elapsed() / N;
    let t = Instant::now();
    for _ in 0..N {
        verifier.check(&sealed, now)?;
    }
    let check = t.elapsed() / N;
    verifier.accept(&sealed, now)?;
    println!(
        "signing: message {} B, envelope {} B; serialise {:.1} µs (baseline), seal {:.1} µs \
         ({:.1}x), client check {:.1} µs ({:.1}x)",
        text.len(),
        sealed.len(),
        ser.as_secs_f64() * 1e6,
        seal.as_secs_f64() * 1e6,
        seal.as_secs_f64() / ser.as_secs_f64(),
        check.as_secs_f64() * 1e6,
        check.as_secs_f64() / ser.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    println!("{}", roeh_benches::machine());
    let clients = args.operators + args.units;
    if let Some(limit) = open_files_limit() {
        let need = 2 * clients as u64 + 256;
        if limit < need {
            bail!(
                "{clients} clients need about {need} open files; the limit is {limit} (raise it with `ulimit -n {need}`)"
            );
        }
    }
    if args.units > args.alerts {
        bail!("--units must not exceed --alerts (each unit gets one alert)");
    }
    let databases: &[&str] = match args.database.as_str() {
        "sqlite" => &["sqlite"],
        "postgres" => &["postgres"],
        "both" => &["sqlite", "postgres"],
        other => bail!("--database {other}: sqlite, postgres or both"),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for db in databases {
        println!("== database: {db} ==");
        rt.block_on(run(&args, db))?;
    }
    Ok(())
}

async fn run(args: &Args, database: &str) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    // The cluster outlives every use of the store below (it is dropped last).
    let (store, _cluster) = if database == "postgres" {
        let c = roeh_testkit::postgres::Cluster::start_durable(dir.path())?;
        let url = c.create_database("bench")?;
        (roeh_store::Store::open(&url).await?, Some(c))
    } else {
        let db = dir.path().join("roeh.db");
        let store = roeh_store::Store::open(db.to_str().context("temp path")?).await?;
        (store, None)
    };
    store.set_credential_key(roeh_store::CredentialKey::generate()?)?;
    let custody = roeh_custody::Custody::open(
        store.clone(),
        clock.clone(),
        roeh_custody::CustodyConfig {
            keys_dir: dir.path().join("keys"),
            exports_dir: dir.path().join("exports"),
            footage_root: dir.path().join("footage"),
            origin: "roeh:bench".into(),
            checkpoint_every: Duration::from_secs(60),
        },
    )
    .await?;
    let mut settings = AlertsSettings::default();
    // Every incident raises its own alert (none merges into another).
    settings.alerts.merge_window = Duration::ZERO;
    let svc = AlertsService::new(store.clone(), clock.clone(), settings);
    let state = AppState {
        store: store.clone(),
        alerts: svc.clone(),
        control: Arc::new(NoCameras),
        footage_root: dir.path().join("footage"),
        clock: clock.clone(),
        custody,
        onvif: Arc::new(roeh_api::onvif::OnvifSettings::default()),
        analytics: None,
        auth: Arc::new(roeh_api::auth::AuthState::new(
            HashParams::INSECURE_FAST,
            false,
        )?),
        console: Arc::default(),
        metrics: roeh_api::metrics::Metrics::new(),
        looks: Arc::default(),
    };
    let admin = token_for(&store, "admin", Role::Admin).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(roeh_api::serve(listener, state, async move {
        let _ = server_stopped.await;
    }));
    let http = reqwest::Client::new();

    // One camera, one hotspot: with no merge window every incident is its own alert.
    let cam = call(
        &http,
        &base,
        &admin,
        "/api/cameras",
        json!({"name": "bench", "url": "rtsp://127.0.0.1:9/bench"}),
    )
    .await?;
    let cam = CameraId::parse(cam["id"].as_str().context("camera id")?).context("camera id")?;
    let hs = call(
        &http,
        &base,
        &admin,
        "/api/hotspots",
        json!({
            "name": "Square", "lat": 59.33, "lon": 18.06, "priority": 2,
            "cameras": [cam.to_string()],
            "zones": [{"id": "z", "camera": cam.to_string(), "polygon":
                [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]}],
            "schedule": {"tz": "Europe/Stockholm", "always": true},
        }),
    )
    .await?;
    let hotspot = uuid::Uuid::parse_str(hs["id"].as_str().context("hotspot id")?)?;

    let mut tokens = Vec::with_capacity(args.operators + args.units);
    for i in 0..args.operators {
        tokens.push((
            token_for(&store, &format!("op-{i}"), Role::Operator).await?,
            None,
        ));
    }
    for i in 0..args.units {
        let v = call(
            &http,
            &base,
            &admin,
            "/api/units",
            json!({"name": format!("car-{i}")}),
        )
        .await?;
        let id = uuid::Uuid::parse_str(v["id"].as_str().context("unit id")?)?;
        tokens.push((v["token"].as_str().context("token")?.to_string(), Some(id)));
    }

    // Connect every client (64 at a time).
    let t = Instant::now();
    let mut sockets = Vec::with_capacity(tokens.len());
    for chunk in tokens.chunks(64) {
        let conns = futures::future::join_all(chunk.iter().map(|(tok, _)| connect(addr, tok)));
        for c in conns.await {
            sockets.push(c?);
        }
    }
    println!(
        "{} operators and {} units connected in {:.1} s",
        args.operators,
        args.units,
        t.elapsed().as_secs_f64()
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::with_capacity(sockets.len());
    let mut progress = Vec::with_capacity(sockets.len());
    let (_, public_pem) = svc.push_key();
    for (i, ws) in sockets.into_iter().enumerate() {
        let p = Arc::new(AtomicU64::new(0));
        progress.push(p.clone());
        // The first operator and the first unit verify every message they get.
        let verifier = if i == 0 || i == args.operators {
            Some(PushVerifier::from_public_pem(
                &public_pem,
                Duration::from_secs(120),
            )?)
        } else {
            None
        };
        handles.push(tokio::spawn(client(
            ws,
            clock.clone(),
            p,
            stop_rx.clone(),
            verifier,
        )));
    }
    let units: Vec<uuid::Uuid> = tokens.iter().filter_map(|(_, u)| *u).collect();
    let first_seq = store.last_alert_seq().await?;

    // Raise the alerts; every `every`-th one is handled and dispatched to the next unit.
    let every = if units.is_empty() {
        usize::MAX
    } else {
        args.alerts / units.len()
    };
    let started = Instant::now();
    let mut next_unit = 0;
    for i in 0..args.alerts {
        if args.rate > 0.0 {
            let due = started + Duration::from_secs_f64(i as f64 / args.rate);
            tokio::time::sleep_until(due.into()).await;
        }
        let now = clock.wall();
        store
            .insert_incident(&roeh_store::NewIncident {
                id: uuid::Uuid::new_v4(),
                rule_id: uuid::Uuid::from_u128(42),
                camera: cam,
                hotspot_id: hotspot,
                seq: i as u64 + 1,
                kind: "intrusion".into(),
                severity: "low".into(),
                priority: 2,
                alerting: true,
                reason: "bench".into(),
                opened_at: now,
                peak_score: 0.9,
                track_ids: vec![1],
                model_id: "bench".into(),
                evidence_start: now.minus(Duration::from_secs(10)),
            })
            .await?;
        if svc
            .ingest_once()
            .await
            .map_err(|e| anyhow::anyhow!("ingest: {e:?}"))?
            != 1
        {
            bail!("incident {i} raised no alert");
        }
        if i % every == 0 && next_unit < units.len() {
            let ev = store
                .alert_events_after(store.last_alert_seq().await?.saturating_sub(1), 1)
                .await?;
            let alert = ev.first().context("the raised event")?.alert_id;
            for step in ["claim", "acknowledge"] {
                call(
                    &http,
                    &base,
                    &admin,
                    &format!("/api/alerts/{alert}/{step}"),
                    json!({}),
                )
                .await?;
            }
            call(
                &http,
                &base,
                &admin,
                &format!("/api/alerts/{alert}/dispatch"),
                json!({"units": [units[next_unit]]}),
            )
            .await?;
            next_unit += 1;
        }
    }
    let produced = started.elapsed();
    let last_seq = store.last_alert_seq().await?;

    // Wait until every operator has the last event and every unit its dispatch.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = progress
            .iter()
            .zip(&tokens)
            .all(|(p, (_, unit))| match unit {
                None => p.load(Ordering::Relaxed) >= last_seq,
                Some(_) => p.load(Ordering::Relaxed) > first_seq,
            });
        if done {
            break;
        }
        if Instant::now() > deadline {
            bail!("clients did not receive everything within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let delivered = started.elapsed();
    // Unit clients may still be due their dispatch's later events: none follow, so stop now.
    let _ = stop_tx.send(true);
    let mut op_raised = Vec::new();
    let mut op_all = Vec::new();
    let mut unit_dispatch = Vec::new();
    for (h, (_, unit)) in handles.into_iter().zip(&tokens) {
        let seen = h.await??;
        match unit {
            None => {
                let seqs: Vec<u64> = seen.iter().map(|s| s.0).collect();
                if seqs != (first_seq + 1..=last_seq).collect::<Vec<_>>() {
                    bail!("an operator did not receive every event exactly once, in order");
                }
                for (_, l, k) in seen {
                    op_all.push(l);
                    if k == Kind::Raised {
                        op_raised.push(l);
                    }
                }
            }
            Some(_) => {
                if seen.len() != 1 || seen[0].2 != Kind::Dispatch {
                    bail!(
                        "a unit received {} messages, not its one dispatch",
                        seen.len()
                    );
                }
                unit_dispatch.push(seen[0].1);
            }
        }
    }
    let events = last_seq - first_seq;
    println!(
        "{} alerts ({} events) raised in {:.2} s; every client had every event after {:.2} s",
        args.alerts,
        events,
        produced.as_secs_f64(),
        delivered.as_secs_f64()
    );
    println!(
        "throughput: {:.0} alerts/s, {:.0} deliveries/s; resyncs from the store: {}",
        args.alerts as f64 / delivered.as_secs_f64(),
        (op_all.len() + unit_dispatch.len()) as f64 / delivered.as_secs_f64(),
        svc.hub().resyncs()
    );
    report("operators, raised alerts", op_raised);
    report("operators, all events", op_all);
    report("units, their dispatch", unit_dispatch);
    signing_cost(&http, &base, &admin).await?;
    let _ = stop_server.send(());
    let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    store.close().await;
    Ok(())
}
