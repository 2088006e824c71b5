//! Signed push messages: what the control room sends to operators and patrol units, and what
//! a receiving client checks before it acts on one (alert spoofing and replay).
//!
//! On the wire every push message is an [`Envelope`]: `{"v":1,"key":ID,"msg":BODY,"sig":HEX}`,
//! where `msg` is the message body as JSON *text* and `sig` the Ed25519 signature of
//! [`PUSH_CONTEXT`] followed by exactly those bytes. Carrying the body as text means a client
//! verifies the bytes it received, with no canonical JSON. The body holds at least `seq` (the
//! event's global sequence number, which is also its idempotency id), `issued_at` and
//! `expires_at` (RFC 3339); the rest is the alert event.
//!
//! Invariants:
//! - [`PushVerifier::check`] accepts a message only if the envelope parses, names the
//!   verifier's key, its signature holds over the received bytes, the body carries `seq`,
//!   `issued_at` and `expires_at`, and `now` lies within `[issued_at - skew, expires_at]` and
//!   no further than the client's own `max_age` from `issued_at`;
//! - [`PushVerifier::accept`] additionally accepts each `seq` at most once and only in
//!   increasing order (the server sends each subscriber its events in seq order), so a replayed
//!   or re-ordered message is [`Rejected::Replayed`]; its memory is one number;
//! - a rejected message changes nothing in the verifier.

use crate::{Error, Result};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use roeh_domain::{ErrorKind, WallTime};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// Domain separation: the signed bytes are this prefix followed by the body's JSON text.
pub const PUSH_CONTEXT: &[u8] = b"roeh/push/v1\n";

/// The envelope version this crate writes and reads.
pub const ENVELOPE_VERSION: u8 = 1;

/// Largest envelope a verifier reads, bytes (a pushed alert is a few KiB).
pub const MAX_ENVELOPE_BYTES: usize = 1 << 20;

/// A push message on the wire.
///
/// With the feature `service` it has a JSON Schema, named `PushEnvelope`, for the HTTP API's
/// OpenAPI document: there `msg` is described as JSON text of a `service::PushMessage`, the
/// body the service signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "service", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "service",
    schemars(
        rename = "PushEnvelope",
        description = "A push message on the wire (`roeh_alerts::push::Envelope`): the body as \
                       JSON text and\nits Ed25519 signature over the push context followed by \
                       exactly those bytes."
    )
)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// [`ENVELOPE_VERSION`].
    #[cfg_attr(
        feature = "service",
        schemars(
            description = "Envelope version.",
            range(min = ENVELOPE_VERSION, max = ENVELOPE_VERSION)
        )
    )]
    pub v: u8,
    /// The signing key's id ([`key_id`]).
    #[cfg_attr(
        feature = "service",
        schemars(description = "The signing key's id (`GET /api/push/key`).")
    )]
    pub key: String,
    /// The message body, JSON text.
    #[cfg_attr(
        feature = "service",
        schemars(
            description = "The message body: JSON text of a `PushMessage`.",
            schema_with = "crate::service::push_body_schema"
        )
    )]
    pub msg: String,
    /// Ed25519 signature of [`PUSH_CONTEXT`] ‖ `msg`, lowercase hex.
    #[cfg_attr(
        feature = "service",
        schemars(description = "The signature, lowercase hex.")
    )]
    pub sig: String,
}

/// The body fields a receiver checks; the rest of the body is the application's.
#[derive(Debug, Deserialize)]
struct Freshness {
    seq: u64,
    issued_at: String,
    expires_at: String,
}

/// The id of a push key: the first 8 bytes of SHA-256("roeh/push-key/v1\0" ‖ public key), hex.
pub fn key_id(public: &VerifyingKey) -> String {
    let mut h = Sha256::new();
    h.update(b"roeh/push-key/v1\0");
    h.update(public.as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// Signs push messages. Holds a private key: its `Debug` shows only the key id.
pub struct PushSigner {
    key: SigningKey,
    id: String,
}

impl fmt::Debug for PushSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSigner")
            .field("key", &self.id)
            .finish_non_exhaustive()
    }
}

impl PushSigner {
    /// A signer from a 32-byte Ed25519 seed (the caller draws it from the OS or a key file).
    pub fn from_seed(seed: &[u8; 32]) -> PushSigner {
        let key = SigningKey::from_bytes(seed);
        let id = key_id(&key.verifying_key());
        PushSigner { key, id }
    }

    /// A signer from a PKCS#8 PEM Ed25519 private key.
    pub fn from_pkcs8_pem(pem: &str) -> Result<PushSigner> {
        let key = SigningKey::from_pkcs8_pem(pem).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                "the push key is not an Ed25519 PKCS#8 PEM private key",
            )
        })?;
        let id = key_id(&key.verifying_key());
        Ok(PushSigner { key, id })
    }

    /// The key id named in every envelope.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The public key as SPKI PEM, for clients to verify with.
    pub fn public_pem(&self) -> String {
        self.key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// The envelope of `body` (JSON text holding `seq`, `issued_at`, `expires_at`), as JSON text.
    pub fn seal(&self, body: String) -> String {
        let mut signed = Vec::with_capacity(PUSH_CONTEXT.len() + body.len());
        signed.extend_from_slice(PUSH_CONTEXT);
        signed.extend_from_slice(body.as_bytes());
        let sig = self.key.sign(&signed);
        let env = Envelope {
            v: ENVELOPE_VERSION,
            key: self.id.clone(),
            msg: body,
            sig: hex::encode(sig.to_bytes()),
        };
        // Serialising strings and a number cannot fail.
        serde_json::to_string(&env).unwrap_or_default()
    }
}

/// Why a client refused a push message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not an envelope of this version, or a body without the required fields.
    Malformed(String),
    /// Signed with another key than the client trusts.
    UnknownKey(String),
    /// The signature does not hold over the received body.
    BadSignature,
    /// `now` is past the message's `expires_at`, or further than the client's own limit from
    /// its `issued_at`.
    Expired {
        /// The message's sequence number.
        seq: u64,
    },
    /// Issued later than `now` plus the allowed clock skew.
    FromTheFuture {
        /// The message's sequence number.
        seq: u64,
    },
    /// A sequence number at or below one already accepted.
    Replayed {
        /// The message's sequence number.
        seq: u64,
        /// The highest sequence number accepted so far.
        last: u64,
    },
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Malformed(why) => write!(f, "malformed push message: {why}"),
            Rejected::UnknownKey(k) => write!(f, "push message signed with unknown key {k:?}"),
            Rejected::BadSignature => f.write_str("push message signature does not verify"),
            Rejected::Expired { seq } => write!(f, "push message {seq} has expired"),
            Rejected::FromTheFuture { seq } => {
                write!(f, "push message {seq} is issued in the future")
            }
            Rejected::Replayed { seq, last } => {
                write!(f, "push message {seq} already seen (last accepted {last})")
            }
        }
    }
}

impl std::error::Error for Rejected {}

/// A message that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Its sequence number.
    pub seq: u64,
    /// The verified body, JSON text.
    pub body: String,
}

/// What a receiving client runs on each push message before acting on it.
#[derive(Clone, Debug)]
pub struct PushVerifier {
    key: VerifyingKey,
    id: String,
    max_age_us: i64,
    skew_us: i64,
    last: Option<u64>,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl PushVerifier {
    /// A verifier trusting the SPKI PEM `public_pem` that refuses messages older than `max_age`
    /// (from their `issued_at`) even if their own expiry is later. Allowed clock skew: 5 s.
    pub fn from_public_pem(public_pem: &str, max_age: Duration) -> Result<PushVerifier> {
        let key = VerifyingKey::from_public_key_pem(public_pem).map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                "the push public key is not an Ed25519 SPKI PEM key",
            )
        })?;
        Ok(PushVerifier {
            id: key_id(&key),
            key,
            max_age_us: micros(max_age),
            skew_us: micros(Duration::from_secs(5)),
            last: None,
        })
    }

    /// The same verifier allowing `skew` between the server's clock and this client's.
    pub fn with_clock_skew(mut self, skew: Duration) -> PushVerifier {
        self.skew_us = micros(skew);
        self
    }

    /// The trusted key's id.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    /// The highest sequence number accepted so far: where to resume (`?since=`) after a
    /// reconnect or a rejected message.
    pub fn last_seq(&self) -> Option<u64> {
        self.last
    }

    /// Treats every seq up to `seq` as seen (a client that stored its position).
    pub fn resume_after(&mut self, seq: u64) {
        self.last = Some(self.last.map_or(seq, |l| l.max(seq)));
    }

    /// Checks envelope, key, signature and freshness at `now`, without remembering anything.
    pub fn check(&self, text: &str, now: WallTime) -> std::result::Result<Accepted, Rejected> {
        if text.len() > MAX_ENVELOPE_BYTES {
            return Err(Rejected::Malformed("envelope too large".into()));
        }
        let env: Envelope = serde_json::from_str(text)
            .map_err(|e| Rejected::Malformed(format!("not an envelope: {e}")))?;
        if env.v != ENVELOPE_VERSION {
            return Err(Rejected::Malformed(format!("unknown version {}", env.v)));
        }
        if env.key != self.id {
            return Err(Rejected::UnknownKey(env.key));
        }
        let mut raw = [0u8; 64];
        hex::decode_to_slice(&env.sig, &mut raw).map_err(|_| Rejected::BadSignature)?;
        let sig = Signature::from_bytes(&raw);
        let mut signed = Vec::with_capacity(PUSH_CONTEXT.len() + env.msg.len());
        signed.extend_from_slice(PUSH_CONTEXT);
        signed.extend_from_slice(env.msg.as_bytes());
        self.key
            .verify(&signed, &sig)
            .map_err(|_| Rejected::BadSignature)?;
        // Only a verified body is parsed further.
        let f: Freshness = serde_json::from_str(&env.msg)
            .map_err(|e| Rejected::Malformed(format!("body: {e}")))?;
        let issued = WallTime::parse(&f.issued_at)
            .ok_or_else(|| Rejected::Malformed("issued_at is not RFC 3339".into()))?;
        let expires = WallTime::parse(&f.expires_at)
            .ok_or_else(|| Rejected::Malformed("expires_at is not RFC 3339".into()))?;
        if issued.0.saturating_sub(self.skew_us) > now.0 {
            return Err(Rejected::FromTheFuture { seq: f.seq });
        }
        if now.0 > expires.0 || now.0.saturating_sub(issued.0) > self.max_age_us {
            return Err(Rejected::Expired { seq: f.seq });
        }
        Ok(Accepted {
            seq: f.seq,
            body: env.msg,
        })
    }

    /// [`PushVerifier::check`], then refuses a seq at or below the last accepted one; on
    /// success the seq becomes the last accepted one.
    pub fn accept(&mut self, text: &str, now: WallTime) -> std::result::Result<Accepted, Rejected> {
        let a = self.check(text, now)?;
        if let Some(last) = self.last
            && a.seq <= last
        {
            return Err(Rejected::Replayed { seq: a.seq, last });
        }
        self.last = Some(a.seq);
        Ok(a)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T0: WallTime = WallTime(1_790_000_000_000_000);

    fn body(seq: u64, issued: WallTime, ttl: Duration) -> String {
        serde_json::json!({
            "seq": seq,
            "issued_at": issued.to_rfc3339(),
            "expires_at": issued.plus(ttl).to_rfc3339(),
            "kind": "raised",
            "summary": { "location": { "lat": 32.08, "lon": 34.78 } },
        })
        .to_string()
    }

    fn pair() -> (PushSigner, PushVerifier) {
        let s = PushSigner::from_seed(&[7; 32]);
        let v = PushVerifier::from_public_pem(&s.public_pem(), Duration::from_secs(120)).unwrap();
        (s, v)
    }

    #[test]
    fn a_sealed_message_is_accepted_once_and_in_order() {
        let (s, mut v) = pair();
        assert_eq!(s.key_id(), v.key_id());
        let m5 = s.seal(body(5, T0, Duration::from_secs(60)));
        let a = v.accept(&m5, T0.plus(Duration::from_secs(1))).unwrap();
        assert_eq!(a.seq, 5);
        assert!(a.body.contains("\"raised\""));
        assert_eq!(v.last_seq(), Some(5));
        // The same message again: replay.
        assert_eq!(
            v.accept(&m5, T0.plus(Duration::from_secs(2))),
            Err(Rejected::Replayed { seq: 5, last: 5 })
        );
        // An older one, properly signed and fresh: out of order, refused.
        let m4 = s.seal(body(4, T0, Duration::from_secs(60)));
        assert_eq!(
            v.accept(&m4, T0),
            Err(Rejected::Replayed { seq: 4, last: 5 })
        );
        let m6 = s.seal(body(6, T0, Duration::from_secs(60)));
        assert_eq!(v.accept(&m6, T0).unwrap().seq, 6);
    }

    #[test]
    fn expiry_clock_skew_and_the_clients_own_limit_hold() {
        let (s, v) = pair();
        let m = s.seal(body(1, T0, Duration::from_secs(60)));
        assert!(v.check(&m, T0.plus(Duration::from_secs(60))).is_ok());
        assert_eq!(
            v.check(&m, T0.plus(Duration::from_millis(60_001))),
            Err(Rejected::Expired { seq: 1 })
        );
        // Issued 4 s ahead of this client's clock: within the 5 s skew; 6 s ahead is not.
        assert!(v.check(&m, T0.minus(Duration::from_secs(4))).is_ok());
        assert_eq!(
            v.check(&m, T0.minus(Duration::from_secs(6))),
            Err(Rejected::FromTheFuture { seq: 1 })
        );
        // The server says valid for an hour; this client accepts at most 120 s of age.
        let long = s.seal(body(2, T0, Duration::from_secs(3600)));
        assert!(v.check(&long, T0.plus(Duration::from_secs(120))).is_ok());
        assert_eq!(
            v.check(&long, T0.plus(Duration::from_secs(121))),
            Err(Rejected::Expired { seq: 2 })
        );
    }

    #[test]
    fn tampering_other_keys_and_bad_shapes_are_refused_without_state_change() {
        let (s, mut v) = pair();
        let m = s.seal(body(9, T0, Duration::from_secs(60)));
        let mut env: Envelope = serde_json::from_str(&m).unwrap();
        // Move the alert: the signature no longer holds.
        env.msg = env.msg.replace("34.78", "34.79");
        let moved = serde_json::to_string(&env).unwrap();
        assert_eq!(v.accept(&moved, T0), Err(Rejected::BadSignature));
        // Re-number it to get past the replay check.
        let mut env: Envelope = serde_json::from_str(&m).unwrap();
        env.msg = env.msg.replace("\"seq\":9", "\"seq\":10");
        assert_eq!(
            v.accept(&serde_json::to_string(&env).unwrap(), T0),
            Err(Rejected::BadSignature)
        );
        // Another key with the right key id claimed.
        let other = PushSigner::from_seed(&[8; 32]);
        let mut forged: Envelope =
            serde_json::from_str(&other.seal(body(11, T0, Duration::from_secs(60)))).unwrap();
        assert_eq!(
            v.accept(&serde_json::to_string(&forged).unwrap(), T0),
            Err(Rejected::UnknownKey(other.key_id().into()))
        );
        forged.key = s.key_id().into();
        assert_eq!(
            v.accept(&serde_json::to_string(&forged).unwrap(), T0),
            Err(Rejected::BadSignature)
        );
        // Shapes.
        for bad in [
            "",
            "null",
            "{}",
            "{\"v\":2,\"key\":\"k\",\"msg\":\"{}\",\"sig\":\"00\"}",
            "{\"v\":1,\"key\":\"k\",\"msg\":\"{}\",\"sig\":\"00\",\"extra\":1}",
        ] {
            assert!(
                matches!(v.accept(bad, T0), Err(Rejected::Malformed(_))),
                "{bad:?}"
            );
        }
        let mut short: Envelope = serde_json::from_str(&m).unwrap();
        short.sig.truncate(10);
        assert_eq!(
            v.accept(&serde_json::to_string(&short).unwrap(), T0),
            Err(Rejected::BadSignature)
        );
        // A signed body without the freshness fields is malformed, not accepted.
        let bare = s.seal("{\"seq\":12}".into());
        assert!(matches!(v.accept(&bare, T0), Err(Rejected::Malformed(_))));
        // Nothing above moved the replay position; the genuine message still passes.
        assert_eq!(v.last_seq(), None);
        assert_eq!(v.accept(&m, T0).unwrap().seq, 9);
    }

    #[test]
    fn resume_after_marks_earlier_seqs_seen() {
        let (s, mut v) = pair();
        v.resume_after(20);
        v.resume_after(10);
        assert_eq!(v.last_seq(), Some(20));
        let m = s.seal(body(20, T0, Duration::from_secs(60)));
        assert!(matches!(v.accept(&m, T0), Err(Rejected::Replayed { .. })));
        let m = s.seal(body(21, T0, Duration::from_secs(60)));
        assert!(v.accept(&m, T0).is_ok());
    }

    #[test]
    fn keys_load_from_pem_and_debug_hides_the_secret() {
        let pem = "-----BEGIN PRIVATE KEY-----\n\
                   MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n\
                   -----END PRIVATE KEY-----\n";
        let s = PushSigner::from_pkcs8_pem(pem).unwrap();
        assert_eq!(s.key_id(), PushSigner::from_seed(&[7; 32]).key_id());
        assert!(!format!("{s:?}").contains("0707"));
        assert!(PushSigner::from_pkcs8_pem("not a key").is_err());
        assert!(PushVerifier::from_public_pem("junk", Duration::from_secs(1)).is_err());
    }

    #[cfg(feature = "service")]
    #[test]
    fn the_envelope_schema_is_the_push_envelope_of_the_api() {
        use schemars::JsonSchema;
        assert_eq!(Envelope::schema_name(), "PushEnvelope");
        let root = schemars::SchemaGenerator::default().into_root_schema_for::<Envelope>();
        let root = serde_json::to_value(root).unwrap();
        assert_eq!(root["type"], "object");
        assert_eq!(root["additionalProperties"], false);
        assert_eq!(
            root["required"],
            serde_json::json!(["v", "key", "msg", "sig"])
        );
        let props = &root["properties"];
        assert_eq!(props.as_object().unwrap().len(), 4);
        assert_eq!(props["v"]["minimum"], ENVELOPE_VERSION);
        assert_eq!(props["v"]["maximum"], ENVELOPE_VERSION);
        assert_eq!(props["v"]["description"], "Envelope version.");
        assert_eq!(props["key"]["type"], "string");
        assert_eq!(props["sig"]["type"], "string");
        assert_eq!(props["sig"]["description"], "The signature, lowercase hex.");
        let msg = &props["msg"];
        assert_eq!(msg["type"], "string");
        assert_eq!(msg["contentMediaType"], "application/json");
        assert_eq!(
            msg["description"],
            "The message body: JSON text of a `PushMessage`."
        );
        assert_eq!(msg["contentSchema"]["$ref"], "#/$defs/PushMessage");
        // The body schema lists the fields a verifier needs.
        let body = &root["$defs"]["PushMessage"]["properties"];
        for field in ["seq", "issued_at", "expires_at"] {
            assert!(body.get(field).is_some(), "{field}");
        }
        // A sealed envelope has exactly the schema's properties.
        let sealed: serde_json::Value =
            serde_json::from_str(&PushSigner::from_seed(&[7; 32]).seal("{}".into())).unwrap();
        let mut names: Vec<&String> = sealed.as_object().unwrap().keys().collect();
        names.sort();
        let mut listed: Vec<&String> = props.as_object().unwrap().keys().collect();
        listed.sort();
        assert_eq!(names, listed);
    }
}
