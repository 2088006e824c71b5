//! Authentication: WS-Security UsernameToken (PasswordDigest) and HTTP Digest (RFC 7616, with
//! RFC 2617 and RFC 2069 compatibility).
//!
//! HTTP Digest challenge parsing, the response computation and the `Authorization` header are the
//! `http-auth` crate's. This module keeps a thin check in front of it for what it does not refuse
//! itself:
//! - a `WWW-Authenticate` value longer than 2048 bytes, a Digest challenge with more than 16
//!   parameters, or a parameter value longer than 512 bytes;
//! - any algorithm but MD5, MD5-sess, SHA-256 and SHA-256-sess (http-auth would also take
//!   SHA-512-256); the name is matched without regard to case and handed on in its canonical
//!   spelling, which is the only one http-auth knows;
//! - a `qop` list without `auth` (http-auth would take `auth-int` alone, which this client cannot
//!   answer: it does not hash request bodies), and a `-sess` algorithm without `qop`.
//!
//! http-auth's parser takes only ASCII inside quoted strings, so a challenge with, say, a non-ASCII
//! realm is refused as malformed; quotes and backslashes in device values and in the user name are
//! escaped in the `Authorization` header (a user name that cannot be quoted is sent in the RFC 7616
//! `username*` form).
//!
//! Invariants:
//! - the password is only ever fed into a hash (SHA-1 here, http-auth's digest otherwise); no
//!   function here returns or formats it, and the `http_auth::PasswordParams` that carries it is
//!   built per response and never printed;
//! - `Created` is the caller's clock plus the device's clock offset, so a device with a wrong clock
//!   still accepts the token;
//! - a Digest challenge is parsed with bounded parameter lengths; unknown algorithms (and
//!   `qop=auth-int` without `auth`) are refused rather than guessed; a malformed challenge list
//!   that names the Digest scheme is an error, one that does not is ignored.

use crate::{Error, Result, sanitize};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http_auth::{ChallengeParser, ChallengeRef, DigestClient, ParamValue, PasswordParams};
use roeh_domain::{Credentials, ErrorKind, WallTime};
use sha1::{Digest as _, Sha1};

/// `Base64(SHA1(nonce + created + password))`, the WS-Security UsernameToken PasswordDigest.
pub fn password_digest(nonce: &[u8], created: &str, password: &str) -> String {
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(created.as_bytes());
    h.update(password.as_bytes());
    B64.encode(h.finalize())
}

/// `Created` text for a token: UTC with millisecond precision, e.g. `2026-11-22T20:11:58.123Z`.
pub fn created_text(t: WallTime) -> String {
    let full = t.to_rfc3339();
    // `YYYY-MM-DDTHH:MM:SS.mmm` is the first 23 characters of the microsecond form.
    match full.get(..23) {
        Some(head) => format!("{head}Z"),
        None => full,
    }
}

/// A fresh 16-byte nonce.
pub(crate) fn random_nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    rand::fill(&mut n);
    n
}

/// The `<wsse:Security>` SOAP header for `creds`, with the given nonce and `Created` time.
pub fn username_token_header(creds: &Credentials, nonce: &[u8], created: WallTime) -> String {
    let created = created_text(created);
    let digest = password_digest(nonce, &created, creds.password.expose());
    format!(
        concat!(
            r#"<wsse:Security s:mustUnderstand="1" "#,
            r#"xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" "#,
            r#"xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">"#,
            "<wsse:UsernameToken><wsse:Username>{user}</wsse:Username>",
            r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password>"#,
            r#"<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{nonce}</wsse:Nonce>"#,
            "<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        ),
        user = crate::soap::escape(&creds.username),
        digest = digest,
        nonce = B64.encode(nonce),
        created = created,
    )
}

/// Hash algorithm of a Digest challenge: the ones this client answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlgorithm {
    /// MD5 (RFC 2617).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256 (RFC 7616).
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
}

impl DigestAlgorithm {
    /// Parses an `algorithm` parameter, ignoring case; `None` for one this client does not answer.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Md5, Self::Md5Sess, Self::Sha256, Self::Sha256Sess]
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// The name as registered (and as http-auth expects it), e.g. `SHA-256-sess`.
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sha256(self) -> bool {
        matches!(self, DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess)
    }

    fn is_sess(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }
}

/// Longest accepted challenge parameter value (unescaped).
const MAX_PARAM_LEN: usize = 512;
/// Most parameters accepted in one Digest challenge.
const MAX_PARAMS: usize = 16;
/// Longest accepted `WWW-Authenticate` value.
const MAX_HEADER_LEN: usize = 4 * MAX_PARAM_LEN;

fn unusable(why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("device sent an unusable Digest challenge: {why}"),
    )
}

/// A Digest challenge accepted from a device, ready to be answered. Wraps http-auth's client,
/// which also keeps the nonce count: each [`DigestChallenge::authorization`] advances it.
#[derive(Debug)]
pub struct DigestChallenge {
    client: DigestClient,
    algorithm: DigestAlgorithm,
    userhash: bool,
}

impl DigestChallenge {
    /// Parses one `WWW-Authenticate` value, a challenge list (RFC 7235). Returns its strongest
    /// usable Digest challenge, `Ok(None)` if it holds no Digest challenge, an error if its Digest
    /// challenges are all malformed or unsupported.
    pub fn parse(header: &str) -> Result<Option<Self>> {
        Self::pick([header])
    }

    /// The strongest usable Digest challenge among all `WWW-Authenticate` values of a reply:
    /// SHA-256 over MD5, else the first. Other schemes (Basic, ...) are skipped. An error only if
    /// there is no usable Digest challenge and a value that names the scheme was malformed or
    /// unsupported (the last such error).
    pub fn pick<'a>(headers: impl IntoIterator<Item = &'a str>) -> Result<Option<Self>> {
        let mut best: Option<Self> = None;
        let mut last_err = None;
        for value in headers {
            let names_digest = value.to_ascii_lowercase().contains("digest");
            if value.len() > MAX_HEADER_LEN {
                if names_digest {
                    last_err = Some(unusable("too long"));
                }
                continue;
            }
            for challenge in ChallengeParser::new(value) {
                let found = match challenge {
                    Ok(c) if c.scheme.eq_ignore_ascii_case("digest") => Self::from_challenge(c),
                    Ok(_) => continue,
                    Err(_) => {
                        if names_digest {
                            last_err = Some(unusable("malformed challenge list"));
                        }
                        break;
                    }
                };
                match found {
                    Ok(c) => {
                        let stronger =
                            |b: &Self| c.algorithm.is_sha256() && !b.algorithm.is_sha256();
                        if best.as_ref().is_none_or(stronger) {
                            best = Some(c);
                        }
                    }
                    Err(e) => last_err = Some(e),
                }
            }
        }
        match (best, last_err) {
            (Some(b), _) => Ok(Some(b)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }

    /// The thin check (see the module doc), then http-auth's own parse.
    fn from_challenge(mut c: ChallengeRef<'_>) -> Result<Self> {
        if c.params.len() > MAX_PARAMS {
            return Err(unusable("too many parameters"));
        }
        if c.params
            .iter()
            .any(|(_, v)| v.unescaped_len() > MAX_PARAM_LEN)
        {
            return Err(unusable("a parameter is too long"));
        }
        let mut algorithm = DigestAlgorithm::Md5;
        let mut qop = None;
        let mut userhash = false;
        for (k, v) in &mut c.params {
            if k.eq_ignore_ascii_case("algorithm") {
                algorithm = DigestAlgorithm::parse(&v.to_unescaped())
                    .ok_or_else(|| unusable("unsupported algorithm"))?;
                *v = ParamValue::try_from_escaped(algorithm.name()).map_err(unusable)?;
            } else if k.eq_ignore_ascii_case("qop") {
                qop = Some(v.to_unescaped());
            } else if k.eq_ignore_ascii_case("userhash") {
                userhash = v.to_unescaped().eq_ignore_ascii_case("true");
            }
        }
        match qop {
            Some(q) if !q.split(',').any(|t| t.trim().eq_ignore_ascii_case("auth")) => {
                return Err(unusable("only qop=auth is supported"));
            }
            None if algorithm.is_sess() => return Err(unusable("-sess algorithms need qop")),
            _ => {}
        }
        let client =
            DigestClient::try_from(&c).map_err(|e| unusable(sanitize::device_string(&e)))?;
        Ok(DigestChallenge {
            client,
            algorithm,
            userhash,
        })
    }

    /// Protection space.
    pub fn realm(&self) -> &str {
        self.client.realm()
    }

    /// Server nonce.
    pub fn nonce(&self) -> &str {
        self.client.nonce()
    }

    /// Opaque value echoed back, if the device sent one.
    pub fn opaque(&self) -> Option<&str> {
        self.client.opaque()
    }

    /// Hash algorithm.
    pub fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// Whether `qop=auth` was offered (if not, the RFC 2069 form is used).
    pub fn qop_auth(&self) -> bool {
        !self.client.rfc2069_compat()
    }

    /// Whether the user name is sent hashed (RFC 7616 `userhash=true`).
    pub fn userhash(&self) -> bool {
        self.userhash
    }

    /// Whether the device said the previous nonce was stale (`stale=true`).
    pub fn stale(&self) -> bool {
        self.client.stale()
    }

    /// How many requests this nonce has answered so far.
    pub fn nonce_count(&self) -> u32 {
        self.client.nonce_count()
    }

    /// The `Authorization` header value for the next request with `method` and request-target
    /// `uri`, with a fresh random cnonce; advances the nonce count.
    pub fn authorization(
        &mut self,
        creds: &Credentials,
        method: &str,
        uri: &str,
    ) -> Result<String> {
        self.client
            .respond(&password_params(creds, method, uri))
            .map_err(cannot_answer)
    }

    /// [`DigestChallenge::authorization`] with a fixed cnonce, for known-answer tests.
    #[cfg(test)]
    fn authorization_with_cnonce(
        &mut self,
        creds: &Credentials,
        method: &str,
        uri: &str,
        cnonce: &str,
    ) -> Result<String> {
        self.client
            .respond_with_testing_cnonce(&password_params(creds, method, uri), cnonce)
            .map_err(cannot_answer)
    }
}

/// What http-auth hashes; built per response, never printed (its `Debug` would show the password).
fn password_params<'a>(
    creds: &'a Credentials,
    method: &'a str,
    uri: &'a str,
) -> PasswordParams<'a> {
    PasswordParams {
        username: &creds.username,
        password: creds.password.expose(),
        uri,
        method,
        body: None,
    }
}

/// http-auth's respond errors name a parameter and its value, never the password.
fn cannot_answer(why: String) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "cannot answer the device's Digest challenge: {}",
            sanitize::device_string(&why)
        ),
    )
}
#[cfg(test)]
mod tests {
    use super::*;
    use roeh_domain::Secret;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: Secret::new(p),
        }
    }

    #[test]
    fn password_digest_known_vector() {
        // Computed independently with Python's hashlib/base64 (the formula ipycam verifies).
        let nonce = B64.decode("LKqI6G/AikKCQrN0zqZFlg==").unwrap();
        assert_eq!(
            password_digest(&nonce, "2010-09-16T07:50:45Z", "userpassword"),
            "tuOSpGlFlIXsozq4HFNeeGeFLEI="
        );
    }

    #[test]
    fn created_has_milliseconds() {
        let t = WallTime::parse("2026-11-22T20:11:58.123456Z").unwrap();
        assert_eq!(created_text(t), "2026-11-22T20:11:58.123Z");
    }

    /// The value of `key` in an `Authorization` header, read back with http-auth's own parser
    /// (the header has a challenge's syntax).
    fn field(header: &str, key: &str) -> Option<String> {
        let c = http_auth::parse_challenges(header)
            .ok()?
            .into_iter()
            .next()?;
        c.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.to_unescaped())
    }

    const RFC7616: &str = r#"realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
    const RFC7616_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc7616(algorithm: &str) -> DigestChallenge {
        DigestChallenge::parse(&format!("Digest {RFC7616}, algorithm={algorithm}"))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn rfc2617_md5_vector() {
        let mut c = DigestChallenge::parse(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap()
        .unwrap();
        let h = c
            .authorization_with_cnonce(
                &creds("Mufasa", "Circle Of Life"),
                "GET",
                "/dir/index.html",
                "0a4f113b",
            )
            .unwrap();
        assert_eq!(
            field(&h, "response").as_deref(),
            Some("6629fae49393a05397450978507c4ef1")
        );
    }

    #[test]
    fn rfc7616_sha256_and_md5_vectors() {
        let k = creds("Mufasa", "Circle of Life");
        let mut sha = rfc7616("SHA-256");
        let h = sha
            .authorization_with_cnonce(&k, "GET", "/dir/index.html", RFC7616_CNONCE)
            .unwrap();
        assert_eq!(
            field(&h, "response").as_deref(),
            Some("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
        );
        assert!(
            h.contains("nc=00000001") && h.contains("algorithm=SHA-256"),
            "{h}"
        );
        assert!(!h.contains("Circle of Life"));
        for (key, want) in [
            ("username", "Mufasa"),
            ("realm", "http-auth@example.org"),
            ("uri", "/dir/index.html"),
            ("nonce", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"),
            ("cnonce", RFC7616_CNONCE),
            ("qop", "auth"),
            ("opaque", "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"),
        ] {
            assert_eq!(field(&h, key).as_deref(), Some(want), "{key} in {h}");
        }
        let mut md5 = rfc7616("MD5");
        let h = md5
            .authorization_with_cnonce(&k, "GET", "/dir/index.html", RFC7616_CNONCE)
            .unwrap();
        assert_eq!(
            field(&h, "response").as_deref(),
            Some("8ca523f5e9506fed4657c9700eebdbec")
        );
        assert!(h.contains("algorithm=MD5,"), "{h}");
    }

    #[test]
    fn sess_vectors_and_nonce_count() {
        // Expected values computed independently with Python's hashlib:
        // H(H(user:realm:password):nonce:cnonce) as HA1, then the qop=auth response.
        let k = creds("Mufasa", "Circle of Life");
        for (alg, want) in [
            (
                "SHA-256-sess",
                "2fd51b3a77ad75bad6afad6003e818d767133c46d9e2749e7f5232ae1ea3efd7",
            ),
            ("MD5-sess", "e783283f46242139c486a698fec7211d"),
        ] {
            let mut c = rfc7616(alg);
            assert_eq!(c.nonce_count(), 0);
            let h = c
                .authorization_with_cnonce(&k, "GET", "/dir/index.html", RFC7616_CNONCE)
                .unwrap();
            assert_eq!(field(&h, "response").as_deref(), Some(want), "{alg}");
            assert_eq!(field(&h, "algorithm").as_deref(), Some(alg));
            // The production path: a random cnonce each time, the count rising.
            let h2 = c
                .authorization(&k, "POST", "/onvif/device_service")
                .unwrap();
            assert_eq!(field(&h2, "nc").as_deref(), Some("00000002"));
            let h3 = c
                .authorization(&k, "POST", "/onvif/device_service")
                .unwrap();
            assert_eq!(field(&h3, "nc").as_deref(), Some("00000003"));
            assert_ne!(field(&h2, "cnonce"), field(&h3, "cnonce"));
            assert_eq!(c.nonce_count(), 3);
        }
    }

    #[test]
    fn rfc2069_form_without_qop() {
        // RFC 2069 §2.4 with the errata 749 response.
        let mut c = DigestChallenge::parse(
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .unwrap()
        .unwrap();
        assert!(!c.qop_auth());
        assert_eq!(c.algorithm(), DigestAlgorithm::Md5);
        let h = c
            .authorization(&creds("Mufasa", "CircleOfLife"), "GET", "/dir/index.html")
            .unwrap();
        assert_eq!(
            field(&h, "response").as_deref(),
            Some("1949323746fe6a43ef61f9606e7febea")
        );
        assert_eq!(field(&h, "nc"), None);
    }

    #[test]
    fn userhash_sends_the_hashed_name() {
        let mut c = DigestChallenge::parse(&format!(
            "Digest {RFC7616}, algorithm=SHA-256, userhash=true"
        ))
        .unwrap()
        .unwrap();
        assert!(c.userhash());
        let h = c
            .authorization_with_cnonce(
                &creds("Mufasa", "Circle of Life"),
                "GET",
                "/dir/index.html",
                RFC7616_CNONCE,
            )
            .unwrap();
        // SHA-256("Mufasa:http-auth@example.org"), from Python's hashlib.
        assert_eq!(
            field(&h, "username").as_deref(),
            Some("a947aad205e80e429958a387394944c6b496301e79f89d35a4cc23b6ee12b5b6")
        );
        assert_eq!(field(&h, "userhash").as_deref(), Some("true"));
        assert!(!h.contains("Mufasa"));
    }

    #[test]
    fn challenge_parsing_edges() {
        assert!(
            DigestChallenge::parse("Basic realm=\"x\"")
                .unwrap()
                .is_none()
        );
        for bad in [
            r#"Digest nonce="n""#,
            r#"Digest realm="r""#,
            r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#,
            r#"Digest realm="r", nonce="n", qop="auth-int""#,
            r#"Digest realm="r", nonce="unterminated"#,
        ] {
            assert!(DigestChallenge::parse(bad).is_err(), "{bad}");
        }
        let huge = format!(r#"Digest realm="r", nonce="{}""#, "n".repeat(100_000));
        assert!(DigestChallenge::parse(&huge).is_err());
    }

    #[test]
    fn bounds_and_refusals_are_invalid_argument() {
        let long = format!(
            r#"Digest realm="r", nonce="{}""#,
            "n".repeat(MAX_PARAM_LEN + 1)
        );
        let many = format!(
            r#"Digest realm="r", nonce="n"{}"#,
            (0..MAX_PARAMS)
                .map(|i| format!(", x{i}=1"))
                .collect::<String>()
        );
        for bad in [
            long.as_str(),
            many.as_str(),
            r#"Digest realm="r", nonce="n", algorithm=MD6"#,
            r#"Digest realm="r", nonce="n", algorithm=SHA-512-256-sess, qop=auth"#,
            r#"Digest realm="r", nonce="n", algorithm=MD5-sess"#,
            r#"Digest realm="r", nonce="n", qop="auth-int, token""#,
            r#"Digest realm="r", realm="s", nonce="n""#,
            r#"Digest realm="r" nonce="n""#,
            "Digest realm=\"r\u{7}\", nonce=\"n\"",
        ] {
            let e = DigestChallenge::parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
            assert!(e.message().contains("Digest challenge"), "{e}");
        }
        // Exactly at the bounds is fine.
        let at = format!(r#"Digest realm="r", nonce="{}""#, "n".repeat(MAX_PARAM_LEN));
        assert!(DigestChallenge::parse(&at).unwrap().is_some());
    }

    #[test]
    fn several_schemes_pick_digest() {
        // One value with several challenges, Basic first.
        let c = DigestChallenge::parse(
            r#"Basic realm="cam", Digest realm="r", nonce="n", qop="auth", algorithm=MD5"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((c.realm(), c.nonce()), ("r", "n"));
        // Across values: SHA-256 preferred over an earlier MD5, other schemes skipped.
        let headers = [
            r#"Basic realm="cam""#,
            r#"Digest realm="r", nonce="n1", qop="auth", algorithm=MD5"#,
            "Negotiate",
            r#"Digest realm="r", nonce="n2", qop="auth", algorithm=SHA-256"#,
        ];
        let c = DigestChallenge::pick(headers).unwrap().unwrap();
        assert_eq!((c.algorithm(), c.nonce()), (DigestAlgorithm::Sha256, "n2"));
        // Two Digest challenges in one value (RFC 7616 §3.9.1 sends MD5 after SHA-256).
        let c = DigestChallenge::parse(&format!(
            "Digest {RFC7616}, algorithm=MD5, Digest {RFC7616}, algorithm=SHA-256"
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.algorithm(), DigestAlgorithm::Sha256);
        // A bad Digest challenge does not hide a good one.
        let c = DigestChallenge::pick([
            r#"Digest realm="r", nonce="n", algorithm=SHA-512-256"#,
            r#"Digest realm="r", nonce="n""#,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.algorithm(), DigestAlgorithm::Md5);
        // No Digest at all, even a malformed list that does not name it: nothing to answer.
        assert!(
            DigestChallenge::pick([r#"Basic realm="cam""#, "Bearer ===, ,="])
                .unwrap()
                .is_none()
        );
        assert!(DigestChallenge::pick([]).unwrap().is_none());
    }

    #[test]
    fn algorithm_case_and_quoting_are_tolerated() {
        for (alg, want) in [
            ("sha-256", DigestAlgorithm::Sha256),
            ("\"MD5\"", DigestAlgorithm::Md5),
            ("Md5-Sess", DigestAlgorithm::Md5Sess),
            ("SHA-256-SESS", DigestAlgorithm::Sha256Sess),
        ] {
            let mut c = rfc7616(alg);
            assert_eq!(c.algorithm(), want, "{alg}");
            let h = c
                .authorization(&creds("u", "p"), "POST", "/onvif/device_service")
                .unwrap();
            assert_eq!(field(&h, "algorithm").as_deref(), Some(want.name()));
        }
    }

    #[test]
    fn stale_flag_and_fresh_nonce_count() {
        let c = DigestChallenge::parse(&format!("Digest {RFC7616}, algorithm=SHA-256, stale=true"))
            .unwrap()
            .unwrap();
        assert!(c.stale());
        assert_eq!(c.nonce_count(), 0);
        assert!(!rfc7616("MD5").stale());
    }

    #[test]
    fn password_not_in_header_or_debug() {
        let pw = "Pa55\"word\\with,quotes";
        let mut c = rfc7616("SHA-256");
        let h = c
            .authorization(&creds("user \"x\"", pw), "POST", "/onvif/device_service")
            .unwrap();
        assert!(!h.contains(pw) && !h.contains("Pa55"), "{h}");
        // A user name that needs quoting is escaped, not dropped.
        assert_eq!(field(&h, "username").as_deref(), Some("user \"x\""));
        assert!(!format!("{c:?}").contains("Pa55"));
    }
}
