//! Many idle push clients (bad input S18): the API on a real port holds up to 10,000 idle
//! WebSocket connections (as many as the open-files limit allows, two descriptors each, since
//! client and server live in this process). While they are open the server answers other
//! requests and each connection costs little memory; when they close, the connected-clients
//! gauge returns to zero and no per-connection task is left behind (a unit's feed sees no
//! events, so it must notice the closed connection by itself).

#![allow(clippy::unwrap_used)]

mod support;

use futures::StreamExt;
use roeh_api::metrics::{ClientKind, Transport};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Memory a connection may cost, client and server side together (resident, bytes).
const BYTES_PER_CONNECTION: u64 = 64 * 1024;

fn proc_value(file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    let v = line[key.len()..].split_whitespace().next().unwrap();
    v.parse().unwrap_or(u64::MAX)
}

fn rss_bytes() -> u64 {
    proc_value("/proc/self/status", "VmRSS:") * 1024
}

/// Waits (at most 30 s: a guard, not a timing assertion) until `f` holds.
async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_push_clients_cost_little_and_leave_nothing_behind() {
    let limit = proc_value("/proc/self/limits", "Max open files");
    let n = 10_000.min((limit.saturating_sub(1_000) / 2) as usize);
    assert!(n >= 1_000, "the open-files limit ({limit}) is too low");

    let site = support::default_site().await;
    let clock = site.state.clock.clone();
    let e = site.serve(clock).await;
    let (addr, admin) = (e.addr, e.admin.clone());
    let body = serde_json::json!({"name": "car-1"});
    let (_, text) = support::call(
        &e.http,
        addr,
        Some(&admin),
        "POST",
        "/api/units",
        Some(&body),
    )
    .await;
    let v = support::json(&text);
    let unit = v["token"].as_str().unwrap().to_string();
    let metrics = e.metrics.clone();
    let connected = move || {
        metrics.connected_clients(ClientKind::Operator, Transport::Ws)
            + metrics.connected_clients(ClientKind::Unit, Transport::Ws)
    };
    let tasks = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };

    // Half operators, half units; the client side keeps small buffers so that the memory
    // measured is mostly the server's.
    let tasks_before = tasks();
    let rss_before = rss_bytes();
    let started = Instant::now();
    let mut clients = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(250) {
        let conns = chunk.iter().map(|i| {
            let token = if i % 2 == 0 { &admin } else { &unit };
            let mut req = format!("ws://{addr}/api/push/ws")
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        });
        for c in futures::future::join_all(conns).await {
            clients.push(c.unwrap().0);
        }
    }
    let c = connected.clone();
    wait_until("every client counted", || c() == n as i64).await;
    let rss_open = rss_bytes();
    let per_conn = rss_open.saturating_sub(rss_before) / n as u64;
    eprintln!(
        "{n} idle push clients opened in {:.1} s; RSS {} → {} MB, {} bytes per connection",
        started.elapsed().as_secs_f64(),
        rss_before >> 20,
        rss_open >> 20,
        per_conn
    );

    // The server still answers, and a new client still gets events.
    let t = Instant::now();
    let r = e
        .http
        .get(format!("http://{addr}/api/alerts"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    eprintln!(
        "GET /api/alerts with {n} idle clients: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    assert!(
        per_conn < BYTES_PER_CONNECTION,
        "{per_conn} bytes per idle connection"
    );

    // Close them all: the gauge returns to zero and their tasks end.
    for chunk in clients.chunks_mut(500) {
        futures::future::join_all(chunk.iter_mut().map(|ws| ws.close(None))).await;
    }
    for ws in &mut clients {
        // Read to the server's close answer (or the end of the stream).
        while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(5), ws.next()).await {}
    }
    drop(clients);
    let c = connected.clone();
    wait_until("the gauge back to zero", || c() == 0).await;
    wait_until("the connections' tasks to end", || {
        tasks() <= tasks_before + 10
    })
    .await;
}
