//! The console's session cookie and CSRF tokens.
//!
//! Invariants:
//! - the session cookie is always `HttpOnly; SameSite=Strict; Path=/` with a `Max-Age`, and
//!   `Secure` unless configured off for plain-HTTP development; when secure it is named
//!   `__Host-roeh_session`, which browsers only accept from a secure origin, without `Domain`,
//!   with `Path=/`;
//! - a request carrying the session cookie more than once is treated as carrying none (a cookie
//!   planted by a sibling host cannot shadow the real one);
//! - state-changing requests authenticated by cookie must carry [`CSRF_HEADER`] equal to
//!   `HMAC-SHA256(server key, "roeh-csrf-v1" ‖ session hash)`; the key is the server's, the
//!   session hash is the stored SHA-256 of the session token, so the CSRF token needs no storage
//!   and dies with the session (TRUST.md S13). Bearer-authenticated requests need none: browsers
//!   never attach a bearer header on their own.

use crate::token::is_token_shaped;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::time::Duration;

/// Cookie name over plain HTTP.
pub const SESSION_COOKIE: &str = "roeh_session";
/// Cookie name when `Secure`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-roeh_session";
/// The request header that carries the CSRF token.
pub const CSRF_HEADER: &str = "X-Roeh-CSRF";

/// How the session cookie is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    /// Add `Secure` (and use the `__Host-` name). Turn off only for plain-HTTP development.
    pub secure: bool,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig { secure: true }
    }
}

impl CookieConfig {
    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    fn attrs(&self, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("Path=/; Max-Age={max_age}; HttpOnly{secure}; SameSite=Strict")
    }

    /// The `Set-Cookie` value that installs a session token for `max_age`.
    pub fn session_cookie(&self, token: &str, max_age: Duration) -> String {
        format!("{}={token}; {}", self.name(), self.attrs(max_age.as_secs()))
    }

    /// The `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!("{}=; {}", self.name(), self.attrs(0))
    }

    /// The session token in the request's `Cookie` header values, if exactly one cookie of
    /// ours is present and it is shaped like a token.
    pub fn session_from_cookie_headers<'a>(
        &self,
        headers: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let name = self.name();
        let mut found = None;
        for h in headers {
            for pair in h.split(';') {
                let pair = pair.trim_matches(' ');
                let Some((k, v)) = pair.split_once('=') else {
                    continue;
                };
                if k == name {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(v);
                }
            }
        }
        found.filter(|v| is_token_shaped(v))
    }
}

/// Whether a request with this method changes state and so needs the CSRF header when
/// authenticated by cookie. Only `GET`, `HEAD` and `OPTIONS` are safe.
pub fn needs_csrf(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// What a cookie-authenticated request's `Origin` header says about where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginCheck {
    /// No `Origin` header (a same-origin `GET` from a page, or a client that is not a browser).
    Absent,
    /// The page that made the request was served by this host.
    SameOrigin,
    /// Another site, an opaque origin (`null`) or an unreadable header.
    Foreign,
}

/// Compares a request's `Origin` header with the `Host` it was sent to (the second line of
/// defence beside `SameSite=Strict`: a page of another site must not use a console session).
/// Hosts compare case-insensitively; a missing port is the default port of the origin's scheme
/// (80 for `http`, 443 for `https`), on both sides.
pub fn check_origin(origin: Option<&str>, host: Option<&str>) -> OriginCheck {
    let Some(origin) = origin else {
        return OriginCheck::Absent;
    };
    let parsed = origin.split_once("://").and_then(|(scheme, rest)| {
        let default = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        // An origin is scheme://host[:port] and nothing more.
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return None;
        }
        Some((default, authority(rest, default)?))
    });
    let same = match (parsed, host) {
        (Some((default, o)), Some(h)) => authority(h, default).is_some_and(|h| h == o),
        _ => false,
    };
    if same {
        OriginCheck::SameOrigin
    } else {
        OriginCheck::Foreign
    }
}

/// `host[:port]` (an IPv6 host in brackets) as lower-case host and port, `default` when absent.
fn authority(text: &str, default: u16) -> Option<(String, u16)> {
    let text = text.trim();
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default,
            None => return None,
        };
        (format!("[{h}]"), port)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (text.to_string(), default),
        }
    };
    let bracketed = host.starts_with('[');
    if host.is_empty() || host.chars().any(char::is_whitespace) || !bracketed && host.contains(':')
    {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

/// The server's CSRF key. Its `Debug` does not print it.
#[derive(Clone)]
pub struct CsrfKey([u8; 32]);

impl fmt::Debug for CsrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfKey(<redacted>)")
    }
}

const CSRF_CONTEXT: &[u8] = b"roeh-csrf-v1";

impl CsrfKey {
    /// A fresh random key. Keys made at start-up invalidate CSRF tokens of earlier processes;
    /// the console then fetches a new one with its session.
    pub fn generate() -> CsrfKey {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        CsrfKey(k)
    }

    /// A key from stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> CsrfKey {
        CsrfKey(bytes)
    }

    fn mac(&self, session_hash: &[u8; 32]) -> Hmac<Sha256> {
        // HMAC takes keys of any length; 32 bytes cannot fail.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        m.update(CSRF_CONTEXT);
        m.update(session_hash);
        m
    }

    /// The CSRF token of the session whose stored hash is `session_hash` (64 hex digits).
    pub fn csrf_token_for(&self, session_hash: &[u8; 32]) -> String {
        hex::encode(self.mac(session_hash).finalize().into_bytes())
    }

    /// Whether `presented` is that session's CSRF token. Constant time.
    pub fn check_csrf(&self, session_hash: &[u8; 32], presented: &str) -> bool {
        if presented.len() != 64 {
            return false;
        }
        let Ok(bytes) = hex::decode(presented) else {
            return false;
        };
        self.mac(session_hash).verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::token::{hash_token, new_token};

    #[test]
    fn origin_must_name_the_host_it_was_sent_to() {
        use OriginCheck::*;
        let c = |o: Option<&str>, h: Option<&str>| check_origin(o, h);
        assert_eq!(c(None, Some("roeh.example")), Absent);
        assert_eq!(
            c(Some("https://roeh.example"), Some("roeh.example")),
            SameOrigin
        );
        assert_eq!(
            c(Some("https://ROEH.example"), Some("roeh.example:443")),
            SameOrigin
        );
        assert_eq!(
            c(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")),
            SameOrigin
        );
        assert_eq!(c(Some("http://[::1]:8080"), Some("[::1]:8080")), SameOrigin);
        assert_eq!(
            c(Some("http://localhost"), Some("localhost:80")),
            SameOrigin
        );
        // Another site, another port, another default port, an opaque or malformed origin.
        assert_eq!(
            c(Some("http://evil.example"), Some("127.0.0.1:8080")),
            Foreign
        );
        assert_eq!(
            c(Some("http://127.0.0.1:8081"), Some("127.0.0.1:8080")),
            Foreign
        );
        assert_eq!(
            c(Some("https://roeh.example"), Some("roeh.example:80")),
            Foreign
        );
        assert_eq!(c(Some("null"), Some("roeh.example")), Foreign);
        assert_eq!(c(Some("file://"), Some("roeh.example")), Foreign);
        assert_eq!(
            c(Some("https://roeh.example/x"), Some("roeh.example")),
            Foreign
        );
        assert_eq!(
            c(Some("https://u@roeh.example"), Some("roeh.example")),
            Foreign
        );
        assert_eq!(
            c(Some("https://roeh.example:x"), Some("roeh.example")),
            Foreign
        );
        assert_eq!(c(Some("https://roeh.example"), None), Foreign);
        assert_eq!(c(Some("https://a:b:c"), Some("a:b:c")), Foreign);
    }

    #[test]
    fn cookie_attributes() {
        let (t, _) = new_token();
        let c = CookieConfig::default().session_cookie(t.expose(), Duration::from_secs(3600));
        assert_eq!(
            c,
            format!(
                "__Host-roeh_session={}; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Strict",
                t.expose()
            )
        );
        assert!(!c.contains("Domain"));
        let dev = CookieConfig { secure: false };
        let c = dev.session_cookie(t.expose(), Duration::from_secs(60));
        assert!(c.starts_with("roeh_session="));
        assert!(c.contains("; HttpOnly;") && c.contains("SameSite=Strict"));
        assert!(!c.contains("Secure"));
        assert_eq!(
            CookieConfig::default().clear_cookie(),
            "__Host-roeh_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
        );
        assert!(
            dev.clear_cookie()
                .starts_with("roeh_session=; Path=/; Max-Age=0;")
        );
    }

    #[test]
    fn cookie_parsing() {
        let (t, _) = new_token();
        let tok = t.expose();
        let cfg = CookieConfig::default();
        let one = format!("theme=dark; __Host-roeh_session={tok}; lang=nl");
        assert_eq!(cfg.session_from_cookie_headers([one.as_str()]), Some(tok));
        // Spread over two headers, still one cookie.
        let a = "theme=dark".to_string();
        let b = format!("__Host-roeh_session={tok}");
        assert_eq!(
            cfg.session_from_cookie_headers([a.as_str(), b.as_str()]),
            Some(tok)
        );
        // Twice: refused, even if both are equal.
        let twice = format!("__Host-roeh_session={tok}; __Host-roeh_session={tok}");
        assert_eq!(cfg.session_from_cookie_headers([twice.as_str()]), None);
        // The other name does not count; a non-token value does not count.
        let plain = format!("roeh_session={tok}");
        assert_eq!(cfg.session_from_cookie_headers([plain.as_str()]), None);
        assert_eq!(
            CookieConfig { secure: false }.session_from_cookie_headers([plain.as_str()]),
            Some(tok)
        );
        assert_eq!(
            cfg.session_from_cookie_headers(["__Host-roeh_session=eyJhbGciOiJub25lIn0.e30."]),
            None
        );
        assert_eq!(cfg.session_from_cookie_headers([]), None);
    }

    #[test]
    fn csrf_tokens() {
        let key = CsrfKey::generate();
        let (t, h) = new_token();
        assert_eq!(h, hash_token(t.expose()));
        let csrf = key.csrf_token_for(&h);
        assert_eq!(csrf.len(), 64);
        assert!(key.check_csrf(&h, &csrf));
        assert_eq!(key.csrf_token_for(&h), csrf);
        // Another session, another key, tampering, junk: refused.
        let (_, h2) = new_token();
        assert!(!key.check_csrf(&h2, &csrf));
        assert!(!CsrfKey::generate().check_csrf(&h, &csrf));
        let mut bad = csrf.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        assert!(!key.check_csrf(&h, std::str::from_utf8(&bad).unwrap()));
        assert!(!key.check_csrf(&h, &csrf.to_uppercase().replace(char::is_numeric, "g")));
        assert!(!key.check_csrf(&h, ""));
        assert!(!key.check_csrf(&h, &csrf[..62]));
        // The same key bytes give the same tokens (a key kept across restarts).
        let k2 = CsrfKey::from_bytes([7; 32]);
        assert_eq!(
            k2.csrf_token_for(&h),
            CsrfKey::from_bytes([7; 32]).csrf_token_for(&h)
        );
        assert_eq!(format!("{k2:?}"), "CsrfKey(<redacted>)");
    }

    #[test]
    fn safe_methods() {
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert!(!needs_csrf(m));
        }
        for m in ["POST", "PUT", "PATCH", "DELETE", "get", "TRACE", ""] {
            assert!(needs_csrf(m), "{m}");
        }
    }
}
