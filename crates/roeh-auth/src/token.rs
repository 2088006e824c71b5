//! Opaque tokens: sessions, API bearer tokens, and the one-time setup token.
//!
//! Invariants:
//! - a token is `roeh_` (or `roeh_setup_` for the setup token) followed by 64 lowercase hex
//!   digits of 32 random bytes; anything else is not a token of ours and authenticates nobody
//!   (JWTs, `alg:none` strings, Basic credentials included);
//! - only `SHA-256(token text)` is ever stored; the text is shown once and then forgotten;
//! - hashes are compared in constant time;
//! - tokens travel only in the `Authorization: Bearer` header or the session cookie, never in a
//!   URL; [`reject_token_in_query`] spots query strings that try (TRUST.md S17);
//! - the setup token has its own prefix, so it can never be used as a bearer token and no bearer
//!   token can be used as a setup token.

use rand::RngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;

/// Prefix of session and API tokens.
pub const TOKEN_PREFIX: &str = "roeh_";
/// Prefix of the setup token.
pub const SETUP_PREFIX: &str = "roeh_setup_";
/// Hex digits after the prefix.
const BODY_HEX: usize = 64;

/// What a token is for; defined in `roeh-domain` so the store shares it.
pub use roeh_domain::TokenKind;

/// A token's text, shown to its owner once. Its `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenText(String);

impl TokenText {
    /// The text, to hand to the client (response body or cookie) and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenText(<redacted>)")
    }
}

fn random_token(prefix: &str) -> (TokenText, [u8; 32]) {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let text = format!("{prefix}{}", hex::encode(bytes));
    let hash = hash_token(&text);
    (TokenText(text), hash)
}

/// A fresh session or API token: its text (for the client) and its hash (for the store).
pub fn new_token() -> (TokenText, [u8; 32]) {
    random_token(TOKEN_PREFIX)
}

/// SHA-256 of a token's text, as stored.
pub fn hash_token(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Constant-time equality of two hashes.
pub fn hashes_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.ct_eq(b).into()
}

fn has_shape(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|body| {
        body.len() == BODY_HEX
            && body
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Whether `s` has the exact shape of a session or API token (not the setup token).
pub fn is_token_shaped(s: &str) -> bool {
    !s.starts_with(SETUP_PREFIX) && has_shape(s, TOKEN_PREFIX)
}

/// The token in an `Authorization` header value, if it is exactly `Bearer <token>`: the scheme
/// in any case (RFC 9110 §11.1), one space, and a token of our shape. Everything else (`Basic`,
/// no scheme, several spaces or tabs, trailing text, JWTs) is `None` and authenticates nobody.
pub fn parse_bearer(header_value: &str) -> Option<&str> {
    let (scheme, rest) = header_value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    is_token_shaped(rest).then_some(rest)
}

/// Query parameter names that carry credentials, compared case-insensitively after
/// percent-decoding.
const CREDENTIAL_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "authorization",
    "bearer",
    "jwt",
    "password",
    "session",
    "setup_token",
];

/// Whether a URL query string tries to carry a credential: a parameter named like one in
/// `CREDENTIAL_PARAMS` (any case, percent-encoded or not), or any value that is one of our
/// tokens. Such requests are refused before authentication (TRUST.md S17).
pub fn reject_token_in_query(query: &str) -> bool {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split(['&', ';'])
        .filter(|p| !p.is_empty())
        .any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(k);
            let key = k.trim().to_ascii_lowercase();
            let key = key.split('[').next().unwrap_or("");
            let v = percent_decode(v);
            CREDENTIAL_PARAMS.contains(&key) || v.trim().starts_with(TOKEN_PREFIX)
        })
}

/// Decodes `%XX` escapes and `+`; malformed escapes stay as they are. Lossy on invalid UTF-8.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex_val = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex_val {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The one-time token that creates the first admin. Printed once at the first start; only its
/// hash is stored.
#[derive(Debug)]
pub struct SetupToken {
    /// The text to print.
    pub text: TokenText,
    /// Its hash, to store.
    pub hash: [u8; 32],
}

impl SetupToken {
    /// A fresh setup token.
    pub fn generate() -> SetupToken {
        let (text, hash) = random_token(SETUP_PREFIX);
        SetupToken { text, hash }
    }
}

/// Whether `presented` is the setup token whose hash is `hash`. Constant time in the hash
/// comparison; anything not shaped like a setup token is refused outright.
pub fn check_setup(hash: &[u8; 32], presented: &str) -> bool {
    has_shape(presented, SETUP_PREFIX) && hashes_equal(&hash_token(presented), hash)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use roeh_domain::WallTime;

    #[test]
    fn tokens_have_the_documented_shape_and_their_hash() {
        let (t, h) = new_token();
        let s = t.expose();
        assert_eq!(s.len(), TOKEN_PREFIX.len() + 64);
        assert!(is_token_shaped(s));
        assert_eq!(hash_token(s), h);
        assert_eq!(h, <[u8; 32]>::from(Sha256::digest(s.as_bytes())));
        let (t2, h2) = new_token();
        assert_ne!(t, t2);
        assert_ne!(h, h2);
        assert_eq!(format!("{t:?}"), "TokenText(<redacted>)");
    }

    #[test]
    fn hash_comparison() {
        let a = hash_token("roeh_a");
        let mut b = a;
        assert!(hashes_equal(&a, &b));
        b[31] ^= 1;
        assert!(!hashes_equal(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!hashes_equal(&a, &b));
    }

    #[test]
    fn bearer_parsing_is_strict() {
        let (t, _) = new_token();
        let tok = t.expose();
        assert_eq!(parse_bearer(&format!("Bearer {tok}")), Some(tok));
        assert_eq!(parse_bearer(&format!("bearer {tok}")), Some(tok));
        assert_eq!(parse_bearer(&format!("BEARER {tok}")), Some(tok));
        for bad in [
            format!("Bearer  {tok}"),
            format!("Bearer\t{tok}"),
            format!(" Bearer {tok}"),
            format!("Bearer {tok} "),
            format!("Bearer {tok} extra"),
            format!("Bearer{tok}"),
            format!("Basic {tok}"),
            "Basic YWRtaW46YWRtaW4=".to_string(),
            tok.to_string(),
            "Bearer ".to_string(),
            "Bearer".to_string(),
            String::new(),
            format!("Bearer {}", tok.to_uppercase()),
            format!("Bearer {}", &tok[..tok.len() - 1]),
            format!("Bearer {tok}0"),
            // A setup token is never a bearer token.
            format!("Bearer {}", SetupToken::generate().text.expose()),
        ] {
            assert_eq!(parse_bearer(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn jwts_are_just_unknown_tokens() {
        // {"alg":"none","typ":"JWT"}.{"sub":"admin","role":"admin"}.
        let none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.";
        assert_eq!(parse_bearer(&format!("Bearer {none}")), None);
        let hs256 = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl";
        assert_eq!(parse_bearer(&format!("Bearer {hs256}")), None);
        assert!(!is_token_shaped(none));
    }

    #[test]
    fn query_tokens_are_detected() {
        let (t, _) = new_token();
        for q in [
            "token=abc".to_string(),
            "?access_token=abc".to_string(),
            "camera=1&session=x".to_string(),
            "TOKEN=abc".to_string(),
            "%74oken=abc".to_string(),
            "auth=YWRtaW46YW55dGhpbmc=".to_string(),
            "a=1;jwt=x".to_string(),
            "api_key".to_string(),
            "token[]=x".to_string(),
            format!("next={}", t.expose()),
            format!("x=%72oeh_{}", "0".repeat(64)),
        ] {
            assert!(reject_token_in_query(&q), "{q:?}");
        }
        for q in [
            "",
            "?",
            "camera=3&from=2026-01-01T00:00:00Z",
            "tokens_total=3",
            "mytoken=1",
            "sort=time&limit=%25",
            "q=%zz",
            "after_seq=17",
        ] {
            assert!(!reject_token_in_query(q), "{q:?}");
        }
    }

    #[test]
    fn setup_token_checks() {
        let s = SetupToken::generate();
        assert!(s.text.expose().starts_with(SETUP_PREFIX));
        assert!(check_setup(&s.hash, s.text.expose()));
        let other = SetupToken::generate();
        assert!(!check_setup(&s.hash, other.text.expose()));
        assert!(!check_setup(&s.hash, ""));
        assert!(!check_setup(&s.hash, &format!("{} ", s.text.expose())));
        // A session token whose hash happened to be stored is still refused by shape.
        let (t, h) = new_token();
        assert!(!check_setup(&h, t.expose()));
        assert!(!is_token_shaped(s.text.expose()));
    }

    #[test]
    fn kinds_and_lifetimes() {
        for k in [TokenKind::Session, TokenKind::Api] {
            assert_eq!(TokenKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TokenKind::parse("Session"), None);
        let now = WallTime::from_secs(1_000);
        assert_eq!(
            TokenKind::Session.expires_at(now, TokenKind::Session.default_ttl()),
            WallTime::from_secs(1_000 + 12 * 3600)
        );
        assert!(TokenKind::Api.default_ttl() > TokenKind::Session.default_ttl());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41%42"), "AB");
    }
}
