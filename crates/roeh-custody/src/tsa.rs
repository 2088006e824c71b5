//! Client of an RFC 3161 time-stamping authority (TSA): asks for a timestamp token over the
//! SHA-256 of a checkpoint's text (design record 0005 §3).
//!
//! Invariants:
//! - one `POST` per request with `Content-Type: application/timestamp-query`; no redirect is
//!   followed (a 3xx is an error) and the whole exchange (connect, send, headers, body) is
//!   bounded by [`TsaConfig::timeout`];
//! - the body is refused as soon as it passes [`MAX_RESPONSE_BYTES`] (or its declared
//!   `Content-Length` does); it is never buffered past the cap;
//! - a response is returned only when [`check_response`] accepts it: granted, stamping exactly
//!   the hash sent, carrying the random nonce sent, its CMS signature verifying with the signer
//!   certificate the token carries. Whether that certificate chains to the TSA's CA is not
//!   checked here (design record 0005 leaves it to `openssl ts -verify`);
//! - errors never include the URL (it may carry credentials).
//!
//! Only `http://` URLs are accepted: this build has no TLS client, and RFC 3161 tokens are
//! signed, so plain HTTP is the usual transport. The usual `HTTP_PROXY`/`NO_PROXY` environment
//! variables apply (a TSA is often outside the site's network).

use crate::{Error, Result};
use roeh_domain::ErrorKind;
use roeh_evidence::tsa::{
    MAX_RESPONSE_BYTES, QUERY_MEDIA_TYPE, REPLY_MEDIA_TYPE, TstInfo, check_response, request_der,
};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The media type some TSAs still send for a reply (from drafts of RFC 3161).
const LEGACY_REPLY_MEDIA_TYPE: &str = "application/timestamp-response";

/// Where and how to ask for timestamps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsaConfig {
    /// The TSA's URL (`http://…`).
    pub url: String,
    /// Limit of one whole exchange.
    pub timeout: Duration,
}

/// A TSA client.
#[derive(Debug)]
pub struct TsaClient {
    http: reqwest::Client,
    url: reqwest::Url,
}

fn unavailable(msg: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        format!("timestamp authority: {msg}"),
    )
}

fn http_error(e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        ErrorKind::DeadlineExceeded
    } else {
        ErrorKind::Unavailable
    };
    // Without the URL, which may hold credentials.
    Error::with_source(kind, "timestamp authority: request failed", e.without_url())
}

impl TsaClient {
    /// A client of the TSA at `cfg.url`. Refuses a URL that is not `http://` and a zero
    /// timeout.
    pub fn new(cfg: &TsaConfig) -> Result<TsaClient> {
        let url = reqwest::Url::parse(&cfg.url).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("timestamp authority URL: {e}"),
            )
        })?;
        if url.scheme() != "http" || url.host_str().is_none() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "timestamp authority URL must be http://host/… (the token is signed; \
                 https is not supported by this build)",
            ));
        }
        if cfg.timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "timestamp authority timeout must be positive",
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.timeout)
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| Error::with_source(ErrorKind::Internal, "building the HTTP client", e))?;
        Ok(TsaClient { http, url })
    }

    /// Asks the TSA to stamp SHA-256 of `data`; returns its DER `TimeStampResp` once checked
    /// (see the module docs) with what its token says.
    pub async fn timestamp(&self, data: &[u8]) -> Result<(Vec<u8>, TstInfo)> {
        let digest: [u8; 32] = Sha256::digest(data).into();
        let nonce: u64 = rand::random();
        let mut resp = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, QUERY_MEDIA_TYPE)
            .header(reqwest::header::ACCEPT, REPLY_MEDIA_TYPE)
            .body(request_der(&digest, nonce))
            .send()
            .await
            .map_err(http_error)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(unavailable(format!("answered HTTP {status}")));
        }
        let ctype = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if ctype != REPLY_MEDIA_TYPE && ctype != LEGACY_REPLY_MEDIA_TYPE {
            return Err(unavailable(format!(
                "answered {ctype:?}, not {REPLY_MEDIA_TYPE}"
            )));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(Error::new(
                ErrorKind::ResourceExhausted,
                format!("timestamp authority: reply larger than {MAX_RESPONSE_BYTES} bytes"),
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(Error::new(
                    ErrorKind::ResourceExhausted,
                    format!("timestamp authority: reply larger than {MAX_RESPONSE_BYTES} bytes"),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let info = check_response(&body, &digest, Some(nonce))
            .map_err(|e| unavailable(format!("unusable reply: {e}")))?;
        Ok((body, info))
    }
}
