//! Removal of secrets from text bound for errors, health and logs.
//!
//! Peers (RTSP servers, GStreamer elements) write their own error text; it may echo what was sent
//! to them. Every such text passes through [`redact`] with the camera's credentials before it is
//! stored or printed.

use roeh_domain::Credentials;

/// What a secret is replaced with.
pub const REDACTED: &str = "***";

/// Returns `text` with every occurrence of the password (as is, and percent-encoded) replaced by
/// `***`. Without credentials, or with an empty password, `text` is returned unchanged.
pub fn redact(text: &str, creds: Option<&Credentials>) -> String {
    let Some(c) = creds else {
        return text.to_owned();
    };
    let pw = c.password.expose();
    if pw.is_empty() {
        return text.to_owned();
    }
    let mut out = text.replace(pw, REDACTED);
    let encoded: String = url::form_urlencoded::byte_serialize(pw.as_bytes()).collect();
    if encoded != pw {
        out = out.replace(&encoded, REDACTED);
    }
    let pct = percent_encode_all(pw);
    if pct != pw {
        out = out.replace(&pct, REDACTED);
    }
    out
}

/// Percent-encodes everything but unreserved characters (RFC 3986), as URL userinfo would.
fn percent_encode_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use roeh_domain::Secret;

    fn creds(pw: &str) -> Credentials {
        Credentials {
            username: "admin".into(),
            password: Secret::new(pw),
        }
    }

    #[test]
    fn removes_plain_and_encoded_passwords() {
        let c = creds("p@ss word/1");
        let t = "401 for admin:p@ss word/1 (p%40ss%20word%2F1, p%40ss+word%2F1)";
        let r = redact(t, Some(&c));
        assert!(!r.contains("p@ss word/1"), "{r}");
        assert!(!r.contains("p%40ss%20word%2F1"), "{r}");
        assert!(!r.contains("p%40ss+word%2F1"), "{r}");
        assert!(r.contains("admin"), "{r}");
    }

    #[test]
    fn leaves_text_alone_without_a_password() {
        assert_eq!(redact("x", None), "x");
        assert_eq!(redact("x", Some(&creds(""))), "x");
    }
}
