//! The HTTP transport for SOAP: one POST per connection to a pinned, allowed address.
//!
//! Invariants:
//! - the address connected to is the one [`NetPolicy::resolve_pinned`] returned; the URL's host is
//!   only used for the `Host` header;
//! - no proxy is ever used and no redirect is followed (a 3xx is an error);
//! - the connect step has [`NetPolicy::connect_timeout`]; the whole exchange (connect, send,
//!   headers, body) has [`NetPolicy::timeout`], so a device that stalls mid-reply fails with
//!   `DeadlineExceeded`;
//! - the body is read frame by frame and refused as soon as it passes
//!   [`NetPolicy::max_reply_bytes`] (or its declared `Content-Length` does); it is never buffered
//!   past the cap;
//! - errors name the service (`device`, `media`) and path-free facts, never a credential.

use crate::policy::NetPolicy;
use crate::{Error, Result};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, WWW_AUTHENTICATE};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use roeh_domain::ErrorKind;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// Longest service URL accepted.
pub(crate) const MAX_URL_LEN: usize = 2048;

/// A service endpoint whose host has been resolved once and checked.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub url: url::Url,
    pub addr: SocketAddr,
    /// What the endpoint is, for messages: `device`, `media`.
    pub what: &'static str,
}

impl Target {
    /// Checks a service URL (scheme, no credentials, length) and pins its address.
    pub async fn resolve(policy: &NetPolicy, url: &url::Url, what: &'static str) -> Result<Self> {
        let url = check_service_url(url, what)?;
        let addr = policy.resolve_pinned(&url, what).await?;
        Ok(Target { url, addr, what })
    }

    /// `path?query` for the request line.
    pub fn request_target(&self) -> String {
        match self.url.query() {
            Some(q) => format!("{}?{q}", self.url.path()),
            None => self.url.path().to_owned(),
        }
    }

    fn host_header(&self) -> String {
        let host = match self.url.host() {
            Some(url::Host::Ipv6(a)) => format!("[{a}]"),
            Some(h) => h.to_string(),
            None => self.addr.ip().to_string(),
        };
        match self.url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }
}

/// Refuses service URLs that are not plain `http` with a host and without user-info.
pub(crate) fn check_service_url(url: &url::Url, what: &str) -> Result<url::Url> {
    let bad = |why: &str| Error::new(ErrorKind::InvalidArgument, format!("{what} URL {why}"));
    if url.as_str().len() > MAX_URL_LEN {
        return Err(bad("is too long"));
    }
    match url.scheme() {
        "http" => {}
        "https" => return Err(bad("uses https, which this client does not support")),
        _ => return Err(bad("must use http")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain credentials"));
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    let mut u = url.clone();
    u.set_fragment(None);
    Ok(u)
}

/// What came back.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub www_authenticate: Vec<String>,
    pub body: Vec<u8>,
}

/// POSTs a SOAP envelope to `target`.
pub(crate) async fn post_soap(
    policy: &NetPolicy,
    target: &Target,
    action: &str,
    envelope: String,
    authorization: Option<String>,
) -> Result<Reply> {
    let what = target.what;
    let work = exchange(policy, target, action, envelope, authorization);
    match tokio::time::timeout(policy.timeout, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(
            ErrorKind::DeadlineExceeded,
            format!(
                "{what} service did not answer within {} ms",
                policy.timeout.as_millis()
            ),
        )),
    }
}

async fn exchange(
    policy: &NetPolicy,
    target: &Target,
    action: &str,
    envelope: String,
    authorization: Option<String>,
) -> Result<Reply> {
    let what = target.what;
    let unavailable =
        |msg: String, e: hyper::Error| Error::with_source(ErrorKind::Unavailable, msg, e);
    let stream = tokio::time::timeout(policy.connect_timeout, TcpStream::connect(target.addr))
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::DeadlineExceeded,
                format!(
                    "connecting to the {what} service at {} timed out",
                    target.addr
                ),
            )
        })?
        .map_err(|e| {
            Error::with_source(
                ErrorKind::Unavailable,
                format!("connecting to the {what} service at {} failed", target.addr),
                e,
            )
        })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(64 * 1024)
        .handshake::<_, Full<Bytes>>(TokioIo::new(stream))
        .await
        .map_err(|e| unavailable(format!("HTTP handshake with the {what} service failed"), e))?;

    let mut req = Request::builder()
        .method(Method::POST)
        .uri(target.request_target())
        .header(HOST, target.host_header())
        .header(
            CONTENT_TYPE,
            format!(r#"application/soap+xml; charset=utf-8; action="{action}""#),
        )
        .header(CONTENT_LENGTH, envelope.len());
    if let Some(a) = authorization {
        req = req.header(AUTHORIZATION, a);
    }
    let req = req.body(Full::new(Bytes::from(envelope))).map_err(|e| {
        Error::with_source(ErrorKind::InvalidArgument, format!("bad {what} request"), e)
    })?;

    let max = policy.max_reply_bytes;
    let request = async move {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| unavailable(format!("{what} service request failed"), e))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "{what} service answered with redirect {}; redirects are not followed",
                    status.as_u16()
                ),
            ));
        }
        let www_authenticate = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .take(8)
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_big = || {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("{what} service reply is larger than {max} bytes"),
            )
        };
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_big());
        }
        let mut body = resp.into_body();
        let mut buf = Vec::with_capacity(declared.map_or(8 * 1024, |n| n as usize).min(max));
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| unavailable(format!("reading the {what} reply failed"), e))?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > max {
                    return Err(too_big());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Reply {
            status: status.as_u16(),
            www_authenticate,
            body: buf,
        })
    };
    let mut request = std::pin::pin!(request);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = &mut request => r,
        c = &mut conn => match c {
            // The connection ended first; the request future now sees the outcome.
            Ok(()) => request.await,
            Err(e) => Err(unavailable(format!("connection to the {what} service failed"), e)),
        },
    }
}
