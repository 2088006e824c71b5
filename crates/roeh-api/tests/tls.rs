//! HTTPS serving (TRUST S16): the real router behind [`roeh_api::serve_tls`] on a real port,
//! with a site CA and a server certificate made by the `openssl` command at test time. A client
//! that trusts the CA is served; one that does not, or that speaks plain HTTP, is not; idle
//! connections that never handshake hold nobody up; TLS below 1.2 is refused; loading errors
//! name the file.

#![allow(clippy::unwrap_used)]

mod support;

use roeh_api::tls::{self, rustls};
use roeh_testkit::pki::{KeyAlgorithm, SitePki, openssl_output, site_pki};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A guard against a hung test, never a timing assertion.
const GUARD: Duration = Duration::from_secs(60);

/// The real router over HTTPS on 127.0.0.1:0; dropping the returned sender shuts it down.
struct Server {
    addr: SocketAddr,
    admin: String,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn server(config: Arc<rustls::ServerConfig>) -> Server {
    let site = support::default_site().await;
    let state = site.state;
    let support::Served { addr, stop, served } =
        support::spawn_server(|listener, stop| roeh_api::serve_tls(listener, config, state, stop))
            .await;
    Server {
        addr,
        admin: site.admin,
        stop,
        served,
        _dir: site.dir,
    }
}

/// A site PKI with EC keys in a fresh directory, and the real router served with its
/// certificate.
async fn ec_site() -> (tempfile::TempDir, SitePki, Server) {
    let dir = tempfile::tempdir().unwrap();
    let p = site_pki(dir.path(), KeyAlgorithm::Ec).unwrap();
    let srv = server(tls::server_config(&p.cert, &p.key).unwrap()).await;
    (dir, p, srv)
}

/// `n` TCP connections to `addr` that never start a handshake.
async fn connect_idle(addr: SocketAddr, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut idle = Vec::with_capacity(n);
    for _ in 0..n {
        idle.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    idle
}

/// `GET /api/health` from a client that trusts `ca`, naming the server `localhost`.
async fn health(ca: &Path, addr: SocketAddr) -> reqwest::Result<reqwest::Response> {
    client(Some(ca))
        .get(format!("https://localhost:{}/api/health", addr.port()))
        .send()
        .await
}

/// An HTTPS client that trusts the CA in `ca` (and nothing else when `ca` is `None`, since
/// the bundled web roots do not know the test CA either).
fn client(ca: Option<&Path>) -> reqwest::Client {
    let mut b = reqwest::Client::builder().timeout(GUARD);
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).unwrap();
        b = b.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

/// An error and all its causes, for assertions on why a request failed.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        out.push_str(": ");
        out.push_str(&format!("{c} ({c:?})"));
        cur = c.source();
    }
    out
}

fn load_err(cert: &Path, key: &Path) -> String {
    tls::server_config(cert, key).unwrap_err().chain()
}

#[test]
fn pem_pairs_load_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let ec = site_pki(dir.path(), KeyAlgorithm::Ec).unwrap();
    let rsa = site_pki(dir.path(), KeyAlgorithm::Rsa).unwrap();
    for p in [&ec, &rsa] {
        let key = std::fs::read_to_string(&p.key).unwrap();
        assert!(key.contains("BEGIN PRIVATE KEY"), "not PKCS#8: {key:.40}");
        let config = tls::server_config(&p.cert, &p.key).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    let missing = dir.path().join("missing.pem");
    let e = load_err(&missing, &ec.key);
    assert!(
        e.contains("certificate") && e.contains(&missing.display().to_string()),
        "{e}"
    );
    let e = load_err(&ec.cert, &missing);
    assert!(
        e.contains("key") && e.contains(&missing.display().to_string()),
        "{e}"
    );
    // The files swapped: neither holds what it should.
    let e = load_err(&ec.key, &ec.cert);
    assert!(
        e.contains("no PEM CERTIFICATE") && e.contains(&ec.key.display().to_string()),
        "{e}"
    );
    let e = load_err(&ec.cert, &ec.cert);
    assert!(
        e.contains("no unencrypted PEM private key") && e.contains(&ec.cert.display().to_string()),
        "{e}"
    );
    // A key of another certificate, of the same and of another algorithm.
    for key in [&ec.ca_key, &rsa.key] {
        let e = load_err(&ec.cert, key);
        assert!(
            e.contains("does not belong") && e.contains(&key.display().to_string()),
            "{e}"
        );
    }
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n",
    )
    .unwrap();
    let e = load_err(&garbage, &ec.key);
    assert!(e.contains(&garbage.display().to_string()), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_is_served_over_https_only() {
    let (_dir, p, srv) = ec_site().await;
    let port = srv.addr.port();

    // Trusting the site CA, by address and by name.
    let trusting = client(Some(&p.ca));
    for host in ["127.0.0.1", "localhost"] {
        let r = trusting
            .get(format!("https://{host}:{port}/api/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["status"], "ok");
    }

    // Without the CA the server's certificate is refused.
    let e = client(None)
        .get(format!("https://127.0.0.1:{port}/api/health"))
        .send()
        .await
        .unwrap_err();
    let why = chain(&e);
    assert!(why.contains("UnknownIssuer"), "{why}");

    // Plain HTTP on the TLS port gets no HTTP answer, and the connection ends.
    let mut tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    tcp.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(GUARD, tcp.read_to_end(&mut answer))
        .await
        .expect("the server left a plain-HTTP connection open");
    assert!(
        !answer.starts_with(b"HTTP/"),
        "plain HTTP was answered: {}",
        String::from_utf8_lossy(&answer)
    );

    // The peer address reaches the handlers as over plain HTTP: a failed login is audited with
    // the client's address.
    let login = trusting
        .post(format!("https://127.0.0.1:{port}/api/auth/login"))
        .json(&serde_json::json!({"username": "mallory", "password": "guess", "kind": "api"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 401);
    let audit: serde_json::Value = trusting
        .get(format!("https://127.0.0.1:{port}/api/audit?actor=mallory"))
        .bearer_auth(&srv.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["source_ip"], "127.0.0.1", "{audit}");

    // Graceful shutdown, as `serve`.
    drop(srv.stop);
    let served = tokio::time::timeout(GUARD, srv.served)
        .await
        .expect("serve_tls did not stop");
    served.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(srv.addr).await.is_err(),
        "still listening after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_handshake_hold_nobody_up() {
    let (_dir, p, srv) = ec_site().await;
    let mut idle = connect_idle(srv.addr, 20).await;
    // Handshaking one after the other, this request would wait for the idle clients to time
    // out first (20 × HANDSHAKE_TIMEOUT, beyond the guard).
    let r = health(&p.ca, srv.addr).await.unwrap();
    assert_eq!(r.status(), 200);
    // A stalled handshake is not kept forever: the server closes the idle connection.
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(GUARD, idle[0].read(&mut buf))
        .await
        .expect("an idle connection was kept beyond the handshake timeout");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // And the listener still serves.
    let r = health(&p.ca, srv.addr).await.unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn only_tls_1_2_and_1_3_are_spoken() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (dir, p, srv) = rt.block_on(ec_site());
    let connect = srv.addr.to_string();
    let ca = p.ca.to_str().unwrap();
    let s_client = |extra: &[&str]| {
        let mut args = vec![
            "s_client",
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-CAfile",
            ca,
            "-verify_return_error",
        ];
        args.extend(extra);
        let out = openssl_output(dir.path(), &args).unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    let (ok, text) = s_client(&["-tls1_3"]);
    assert!(ok && text.contains("TLSv1.3"), "{text}");
    // TLS 1.2, and ALPN picks HTTP/1.1 even when h2 is offered first.
    let (ok, text) = s_client(&["-tls1_2", "-alpn", "h2,http/1.1"]);
    assert!(ok && text.contains("TLSv1.2"), "{text}");
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");

    // TLS 1.1 needs the client's lowest security level to be offered at all.
    let (ok, text) = s_client(&["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    if !ok && text.contains("no protocols available") {
        println!("skipped the TLS 1.1 check: this openssl cannot offer TLS 1.1 ({text})");
    } else {
        // The server answers the TLS 1.1 hello with an alert (rustls sends handshake_failure);
        // no cipher is ever agreed.
        assert!(!ok, "TLS 1.1 was accepted: {text}");
        assert!(
            text.contains("alert") && text.contains("Cipher is (NONE)"),
            "{text}"
        );
    }
    drop(srv.stop);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_peer_cannot_hold_more_than_its_share_of_pending_handshakes() {
    let (_dir, p, srv) = ec_site().await;
    // The peer's share, silent: they wait for their handshake.
    let mut idle = connect_idle(srv.addr, tls::MAX_PENDING_PER_PEER).await;
    // One more from the same address is closed at once, long before the handshake timeout.
    let mut extra = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(tls::HANDSHAKE_TIMEOUT / 2, extra.read(&mut buf))
        .await
        .expect("a connection beyond the peer's share is closed without waiting");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The silent ones are still held (none was closed in its place).
    let still = tokio::time::timeout(Duration::from_millis(200), idle[0].read(&mut buf)).await;
    assert!(
        still.is_err(),
        "an idle connection within the share was closed: {still:?}"
    );
    // A peer that gives up frees its slot: the handshake fails at once and a real client from
    // the same address is served.
    drop(idle.pop());
    let mut served = false;
    for _ in 0..50 {
        let r = health(&p.ca, srv.addr).await;
        if let Ok(r) = r {
            assert_eq!(r.status(), 200);
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served, "the freed slot was not reused");
}
