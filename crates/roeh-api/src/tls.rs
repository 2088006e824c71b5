//! HTTPS for the API: a PEM certificate chain and private key become a rustls [`ServerConfig`]
//! ([`server_config`]), and [`TlsListener`] hands the server only connections whose TLS
//! handshake has completed ([`crate::serve_tls`] serves the router over it).
//!
//! Invariants:
//! - only TLS 1.3 and TLS 1.2 are offered, with the `ring` provider that the HTTP client already
//!   compiles in (no second crypto provider);
//! - ALPN offers `http/1.1` only: the server is built without HTTP/2, and offering `h2` would
//!   let a client pick a protocol nobody answers;
//! - a handshake that fails, or does not finish within [`HANDSHAKE_TIMEOUT`], closes that one
//!   connection and is logged at debug; the listener goes on;
//! - handshakes run concurrently, one task each, so a client that connects and never speaks
//!   delays nobody else. At most [`MAX_PENDING_HANDSHAKES`] run at once; when full the policy is
//!   **Block**: no new TCP connection is taken until one finishes or times out (the kernel's
//!   listen backlog holds the rest). One peer address holds at most
//!   [`MAX_PENDING_PER_PEER`] of them; a further connection from it is closed at once
//!   (policy **Refuse**), so a single client holding silent connections cannot fill the table
//!   and shut everybody else out. Dropping the listener aborts the handshakes in flight;
//! - every loading error names the file it concerns, and no key material is logged.

pub use tokio_rustls::rustls;

use roeh_domain::{Error, ErrorKind};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to complete its TLS handshake after connecting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in flight at most; beyond it, new TCP connections wait in the listen backlog.
pub const MAX_PENDING_HANDSHAKES: usize = 1024;

/// Handshakes in flight from one peer address at most; beyond it, its new connections are
/// closed without a handshake. Far above what a browser or a site behind NAT needs (a
/// handshake takes milliseconds), far below [`MAX_PENDING_HANDSHAKES`].
pub const MAX_PENDING_PER_PEER: usize = 32;

/// The server configuration for the certificate chain in `cert` (PEM, leaf first) and the
/// private key in `key` (unencrypted PEM: PKCS#8, or the older PKCS#1 RSA and SEC1 EC forms),
/// RSA or ECDSA. Fails with `InvalidArgument`, naming the file, when a file is missing or
/// unreadable, holds no certificate or no key, or when the key does not belong to the
/// certificate.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Error> {
    let chain = read_chain(cert)?;
    let key_der = read_key(key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::with_source(ErrorKind::Internal, "choosing TLS versions", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "TLS key {} does not belong to the certificate {}",
                    key.display(),
                    cert.display()
                ),
            ),
            e => Error::with_source(
                ErrorKind::InvalidArgument,
                format!(
                    "TLS certificate {} with key {} refused",
                    cert.display(),
                    key.display()
                ),
                e,
            ),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!("reading TLS {what} {}", path.display()),
            e,
        )
    })
}

fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let pem = read_file(path, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidArgument,
                format!("TLS certificate {} is not valid PEM", path.display()),
                e,
            )
        })?;
    if chain.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "TLS certificate {} holds no PEM CERTIFICATE block",
                path.display()
            ),
        ));
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = read_file(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "TLS key {} holds no unencrypted PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
                path.display()
            ),
        ),
        e => Error::with_source(
            ErrorKind::InvalidArgument,
            format!("TLS key {} is not valid PEM", path.display()),
            e,
        ),
    })
}

/// A TCP listener that yields TLS streams: [`axum::serve::Listener::accept`] returns the next
/// connection whose handshake succeeded, whichever connected first.
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<(IpAddr, Option<Handshaken>)>,
    /// Handshakes in flight per peer address (entries at zero are removed).
    per_peer: HashMap<IpAddr, usize>,
}

impl TlsListener {
    /// Wraps a bound listener; handshakes use `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> Self {
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
            per_peer: HashMap::new(),
        }
    }
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("pending_handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_peer.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_peer.remove(&ip);
            }
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // Both branches are cancel-safe: a dropped `accept` loses no connection, and the
            // handshakes go on in their tasks.
            tokio::select! {
                r = self.tcp.accept(), if self.handshakes.len() < MAX_PENDING_HANDSHAKES => {
                    match r {
                        Ok((tcp, peer)) => {
                            let n = self.per_peer.entry(peer.ip()).or_insert(0);
                            if *n >= MAX_PENDING_PER_PEER {
                                tracing::debug!(%peer, "Too many TLS handshakes from one peer; connection closed.");
                                drop(tcp);
                                continue;
                            }
                            *n += 1;
                            self.handshakes.spawn(handshake(self.acceptor.clone(), tcp, peer));
                        }
                        Err(e) => accept_error(e).await,
                    }
                }
                Some(done) = self.handshakes.join_next() => match done {
                    Ok((ip, conn)) => {
                        self.release(ip);
                        if let Some(conn) = conn {
                            return conn;
                        }
                    }
                    Err(e) => {
                        // A handshake task never panics; if one did, its peer's count is
                        // rebuilt from the tasks still running.
                        tracing::warn!(error = %e, "TLS handshake task failed.");
                        self.per_peer.clear();
                    }
                },
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A connection whose TLS handshake completed, with its peer.
type Handshaken = (TlsStream<TcpStream>, SocketAddr);

/// One handshake, bounded by [`HANDSHAKE_TIMEOUT`]; `None` when it failed.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> (IpAddr, Option<Handshaken>) {
    (peer.ip(), handshake_inner(acceptor, tcp, peer).await)
}

async fn handshake_inner(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<Handshaken> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed.");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out.");
            None
        }
    }
}

/// As axum does for plain TCP: errors of one connection are skipped; others (e.g. too many
/// open files) are logged and retried after a second rather than in a busy loop.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "Accepting a connection failed; retrying in a second.");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
