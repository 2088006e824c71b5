//! Signed checkpoints of the site's log (`docs/design/0005-evidence-format.md` §3) — a public
//! contract.
//!
//! The signed bytes are exactly this UTF-8 text, every line ending in `\n`, nothing else:
//!
//! ```text
//! roeh-checkpoint/v1
//! <origin>
//! <tree size, decimal>
//! <root hash, 64 lowercase hex digits>
//! <time, RFC 3339 UTC with microseconds>
//! <key id>
//! ```
//!
//! The signature is Ed25519 over exactly these bytes, 64 raw bytes.
//!
//! Invariants: there is one text per checkpoint. [`Checkpoint::parse`] accepts only the
//! canonical form [`Checkpoint::to_text`] writes: six lines, each ending in `\n` (no `\r`), an
//! origin of printable ASCII without spaces, a decimal size without sign or leading zeros, a
//! lowercase root, a time of the form `YYYY-MM-DDTHH:MM:SS.ffffffZ`, and a key id of 16
//! lowercase hex digits; so `parse(to_text(c)) == c` and `to_text(parse(t)) == t`.
//! [`Checkpoint::sign`] refuses a checkpoint with no canonical text, so every signed text parses.

use crate::keys::{KeyId, PublicKey, SiteKey};
use crate::manifest::{self, parse_hex};
use crate::merkle::Hash;
use roeh_domain::WallTime;
use std::fmt;

/// The first line of a version 1 checkpoint.
pub const CHECKPOINT_HEADER: &str = "roeh-checkpoint/v1";

/// What kind of checkpoint failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckpointErrorKind {
    /// The text is not a canonical version 1 checkpoint.
    Format,
    /// The signature is malformed or does not verify.
    Signature,
    /// The checkpoint names another key than the one signing or checking it.
    KeyMismatch,
}

/// A checkpoint failure: its kind and a message for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointError {
    /// What kind of failure.
    pub kind: CheckpointErrorKind,
    /// What happened.
    pub message: String,
}

impl CheckpointError {
    fn new(kind: CheckpointErrorKind, message: impl Into<String>) -> Self {
        CheckpointError {
            kind,
            message: message.into(),
        }
    }

    fn format(message: impl Into<String>) -> Self {
        CheckpointError::new(CheckpointErrorKind::Format, message)
    }
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            CheckpointErrorKind::Format => "format",
            CheckpointErrorKind::Signature => "signature",
            CheckpointErrorKind::KeyMismatch => "key mismatch",
        };
        write!(f, "checkpoint ({kind}): {}", self.message)
    }
}

impl std::error::Error for CheckpointError {}

/// A checkpoint: the log's size and root at a time, named by the key that signs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name (printable ASCII, no spaces).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// Root of the tree of `size` leaves.
    pub root: Hash,
    /// When the checkpoint was made.
    pub time: WallTime,
    /// Id of the signing key.
    pub key_id: KeyId,
}

impl Checkpoint {
    /// The text that is signed (see the module docs).
    pub fn to_text(&self) -> String {
        format!(
            "{CHECKPOINT_HEADER}\n{}\n{}\n{}\n{}\n{}\n",
            self.origin,
            self.size,
            hex::encode(self.root),
            self.time.to_rfc3339(),
            self.key_id
        )
    }

    /// Parses a checkpoint text, strictly (see the module docs).
    pub fn parse(text: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let Some(body) = text.strip_suffix(b"\n") else {
            return Err(CheckpointError::format("text does not end in a newline"));
        };
        if text.contains(&b'\r') {
            return Err(CheckpointError::format("text contains a carriage return"));
        }
        let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
        let [header, origin, size, root, time, key_id] = lines[..] else {
            return Err(CheckpointError::format(format!(
                "text has {} lines, not 6",
                lines.len()
            )));
        };
        if header != CHECKPOINT_HEADER.as_bytes() {
            return Err(CheckpointError::format(format!(
                "first line is not {CHECKPOINT_HEADER}"
            )));
        }
        if origin.is_empty() || !origin.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
            return Err(CheckpointError::format(
                "origin is empty or not printable ASCII without spaces",
            ));
        }
        let size = parse_size(size)?;
        let root = parse_root(root)?;
        let time = parse_time(time)?;
        let key_id = ascii(key_id)
            .and_then(|s| s.parse::<KeyId>().ok())
            .ok_or_else(|| CheckpointError::format("key id is not 16 lowercase hex digits"))?;
        Ok(Checkpoint {
            // Printable ASCII, checked above.
            origin: String::from_utf8_lossy(origin).into_owned(),
            size,
            root,
            time,
            key_id,
        })
    }

    /// Signs the checkpoint's text with `key`. Refuses a checkpoint naming another key id
    /// ([`CheckpointErrorKind::KeyMismatch`]) or one whose text would not parse back to it
    /// (a bad origin, a time outside years 0000–9999: [`CheckpointErrorKind::Format`]).
    pub fn sign(&self, key: &SiteKey) -> Result<SignedCheckpoint, CheckpointError> {
        if key.id() != self.key_id {
            return Err(CheckpointError::new(
                CheckpointErrorKind::KeyMismatch,
                format!(
                    "checkpoint names key {} but is signed with key {}",
                    self.key_id,
                    key.id()
                ),
            ));
        }
        let text = self.to_text();
        if Checkpoint::parse(text.as_bytes())? != *self {
            return Err(CheckpointError::format("checkpoint has no canonical text"));
        }
        let signature = key.sign(text.as_bytes());
        Ok(SignedCheckpoint {
            checkpoint: self.clone(),
            text,
            signature,
        })
    }
}

/// A checkpoint with its exact text and signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// Its text, exactly the signed bytes.
    pub text: String,
    /// Ed25519 signature over `text`.
    pub signature: [u8; 64],
}

impl SignedCheckpoint {
    /// Parses `text` and checks that its key id line names `key` and that `sig` is `key`'s
    /// signature over exactly `text`.
    pub fn verify(text: &[u8], sig: &[u8], key: &PublicKey) -> Result<Checkpoint, CheckpointError> {
        let checkpoint = Checkpoint::parse(text)?;
        if checkpoint.key_id != key.id() {
            return Err(CheckpointError::new(
                CheckpointErrorKind::KeyMismatch,
                format!(
                    "checkpoint names key {} but the key given is {}",
                    checkpoint.key_id,
                    key.id()
                ),
            ));
        }
        key.verify(text, sig)
            .map_err(|e| CheckpointError::new(CheckpointErrorKind::Signature, e.message))?;
        Ok(checkpoint)
    }
}

fn ascii(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        std::str::from_utf8(b).ok()
    } else {
        None
    }
}

fn parse_size(b: &[u8]) -> Result<u64, CheckpointError> {
    let bad = || CheckpointError::format("tree size is not a canonical decimal number");
    let canonical = !b.is_empty()
        && b.iter().all(u8::is_ascii_digit)
        && (b.len() == 1 || b.first() != Some(&b'0'));
    if !canonical {
        return Err(bad());
    }
    ascii(b).and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad)
}

fn parse_root(b: &[u8]) -> Result<Hash, CheckpointError> {
    parse_hex::<32>(b).ok_or_else(|| CheckpointError::format("root is not 64 lowercase hex digits"))
}

fn parse_time(b: &[u8]) -> Result<WallTime, CheckpointError> {
    ascii(b).and_then(manifest::parse_time).ok_or_else(|| {
        CheckpointError::format("time is not RFC 3339 UTC with microseconds (…T…:…:….ffffffZ)")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::keys::tests::{have_openssl, openssl_verifies};

    fn key() -> SiteKey {
        SiteKey::from_seed(&[42u8; 32])
    }

    fn sample(key: &SiteKey) -> Checkpoint {
        Checkpoint {
            origin: "roeh:site-7f3a".into(),
            size: 1234,
            root: [0xab; 32],
            time: WallTime::parse("2026-11-22T20:11:58.123456Z").unwrap(),
            key_id: key.id(),
        }
    }

    fn text_of(key: &SiteKey) -> String {
        format!(
            "roeh-checkpoint/v1\nroeh:site-7f3a\n1234\n{}\n2026-11-22T20:11:58.123456Z\n{}\n",
            "ab".repeat(32),
            key.id()
        )
    }

    #[test]
    fn text_is_exact_and_round_trips() {
        let k = key();
        let c = sample(&k);
        let text = c.to_text();
        assert_eq!(text, text_of(&k));
        assert_eq!(Checkpoint::parse(text.as_bytes()).unwrap(), c);
        // Edge values.
        for (size, time) in [
            (0u64, WallTime(0)),
            (u64::MAX, WallTime(-1)),
            (1, WallTime::parse("9999-12-31T23:59:59.999999Z").unwrap()),
            (10, WallTime::parse("0000-01-01T00:00:00.000000Z").unwrap()),
        ] {
            let c = Checkpoint {
                size,
                time,
                ..c.clone()
            };
            let t = c.to_text();
            assert_eq!(Checkpoint::parse(t.as_bytes()).unwrap(), c, "{t}");
            assert_eq!(Checkpoint::parse(t.as_bytes()).unwrap().to_text(), t);
        }
    }

    fn replace_line(text: &str, i: usize, with: &str) -> String {
        let mut lines: Vec<&str> = text.split_terminator('\n').collect();
        lines[i] = with;
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    #[test]
    fn parse_rejects_non_canonical_text() {
        let k = key();
        let good = text_of(&k);
        let id = k.id().to_string();
        let mut bad: Vec<(String, &str)> = vec![
            (good.trim_end_matches('\n').to_owned(), "no final newline"),
            (format!("{good}\n"), "extra empty line"),
            (format!("{good}extra\n"), "extra line"),
            (good.replace('\n', "\r\n"), "CRLF"),
            (String::new(), "empty"),
            ("\n".into(), "one empty line"),
        ];
        let mut without = good.split_terminator('\n').collect::<Vec<_>>();
        without.remove(3);
        bad.push((format!("{}\n", without.join("\n")), "missing line"));
        let line_cases: [(usize, &str, &str); 30] = [
            (0, "roeh-checkpoint/v2", "version"),
            (0, "ROEH-CHECKPOINT/V1", "header case"),
            (0, "roeh-checkpoint/v1 ", "header space"),
            (1, "", "empty origin"),
            (1, "roeh site", "origin space"),
            (1, "roeh:\tsite", "origin tab"),
            (1, "roeh:sité", "origin non-ascii"),
            (1, "roeh:\x7fsite", "origin DEL"),
            (2, "", "empty size"),
            (2, "01234", "leading zero"),
            (2, "00", "zeros"),
            (2, "+1234", "plus"),
            (2, "-1", "minus"),
            (2, " 1234", "space"),
            (2, "18446744073709551616", "overflow"),
            (2, "12a", "non-digit"),
            (3, &"AB".repeat(32), "uppercase root"),
            (3, &"ab".repeat(31), "short root"),
            (3, &"ab".repeat(33), "long root"),
            (3, &format!("{}g", "a".repeat(63)), "non-hex root"),
            (4, "2026-11-22T20:11:58Z", "no fraction"),
            (4, "2026-11-22T20:11:58.123Z", "millis"),
            (4, "2026-11-22T21:11:58.123456+01:00", "offset"),
            (4, "2026-11-22t20:11:58.123456z", "lowercase"),
            (4, "2026-11-22 20:11:58.123456Z", "space separator"),
            (4, "1795378318123456", "integer micros"),
            (4, "2026-02-30T20:11:58.123456Z", "no such day"),
            (4, "2026-11-22T23:59:60.000000Z", "leap second"),
            (5, &id.to_uppercase(), "uppercase key id"),
            (5, &id[..15], "short key id"),
        ];
        for (i, with, why) in line_cases {
            bad.push((replace_line(&good, i, with), why));
        }
        bad.push((replace_line(&good, 5, &format!("{id}0")), "long key id"));
        bad.push((replace_line(&good, 5, "zzzzzzzzzzzzzzzz"), "non-hex key id"));
        for (text, why) in &bad {
            let e = Checkpoint::parse(text.as_bytes()).unwrap_err();
            assert_eq!(e.kind, CheckpointErrorKind::Format, "{why}: {e}");
        }
        // Invalid UTF-8 anywhere.
        let mut bytes = good.clone().into_bytes();
        bytes[20] = 0xff;
        assert!(Checkpoint::parse(&bytes).is_err());
        assert!(Checkpoint::parse(good.as_bytes()).is_ok());
    }

    #[test]
    fn sign_and_verify() {
        let k = key();
        let c = sample(&k);
        let s = c.sign(&k).unwrap();
        assert_eq!(s.text, c.to_text());
        assert_eq!(s.checkpoint, c);
        let got = SignedCheckpoint::verify(s.text.as_bytes(), &s.signature, &k.public()).unwrap();
        assert_eq!(got, c);

        // Any change of the text breaks the signature (or the format).
        let mut t = s.text.clone().into_bytes();
        t[40] ^= 1;
        assert!(SignedCheckpoint::verify(&t, &s.signature, &k.public()).is_err());
        let moved = Checkpoint {
            size: c.size + 1,
            ..c.clone()
        };
        let e = SignedCheckpoint::verify(moved.to_text().as_bytes(), &s.signature, &k.public())
            .unwrap_err();
        assert_eq!(e.kind, CheckpointErrorKind::Signature);
        let mut sig = s.signature;
        sig[0] ^= 0x80;
        let e = SignedCheckpoint::verify(s.text.as_bytes(), &sig, &k.public()).unwrap_err();
        assert_eq!(e.kind, CheckpointErrorKind::Signature);
        let e = SignedCheckpoint::verify(s.text.as_bytes(), &s.signature[..10], &k.public())
            .unwrap_err();
        assert_eq!(e.kind, CheckpointErrorKind::Signature);

        // Checked against another key: the key id line does not match.
        let other = SiteKey::from_seed(&[43u8; 32]);
        let e =
            SignedCheckpoint::verify(s.text.as_bytes(), &s.signature, &other.public()).unwrap_err();
        assert_eq!(e.kind, CheckpointErrorKind::KeyMismatch);
        // Another key cannot sign it, and a text naming the other key signed by the first fails.
        assert_eq!(
            c.sign(&other).unwrap_err().kind,
            CheckpointErrorKind::KeyMismatch
        );
        let renamed = Checkpoint {
            key_id: other.id(),
            ..c.clone()
        };
        let forged = k.sign(renamed.to_text().as_bytes());
        let e = SignedCheckpoint::verify(renamed.to_text().as_bytes(), &forged, &other.public())
            .unwrap_err();
        assert_eq!(e.kind, CheckpointErrorKind::Signature);
    }

    #[test]
    fn sign_refuses_non_canonical_checkpoints() {
        let k = key();
        for c in [
            Checkpoint {
                origin: "has space".into(),
                ..sample(&k)
            },
            Checkpoint {
                origin: String::new(),
                ..sample(&k)
            },
            Checkpoint {
                origin: "two\nlines".into(),
                ..sample(&k)
            },
            Checkpoint {
                time: WallTime(i64::MAX),
                ..sample(&k)
            },
            Checkpoint {
                time: WallTime(i64::MIN),
                ..sample(&k)
            },
        ] {
            assert_eq!(c.sign(&k).unwrap_err().kind, CheckpointErrorKind::Format);
        }
    }

    #[test]
    fn openssl_verifies_checkpoint_signature() {
        if !have_openssl() {
            return;
        }
        let k = SiteKey::generate();
        let c = Checkpoint {
            key_id: k.id(),
            ..sample(&k)
        };
        let s = c.sign(&k).unwrap();
        let pem = k.public().to_pem();
        assert!(openssl_verifies(&pem, s.text.as_bytes(), &s.signature));
        let moved = Checkpoint {
            size: c.size + 1,
            ..c.clone()
        };
        assert!(!openssl_verifies(
            &pem,
            moved.to_text().as_bytes(),
            &s.signature
        ));
    }
}
