//! The site's signing keys: Ed25519 (RFC 8032, pure), `docs/design/0005-evidence-format.md` §2.
//!
//! Invariants:
//! - a key's id is the first 8 bytes of `SHA-256("roeh/key-id/v1\0" ‖ 32-byte public key)`,
//!   written as 16 lowercase hex digits ([`key_id`]);
//! - a private key lives only in `<dir>/<key id>.key` as PKCS#8 PEM, created exclusively with
//!   mode 0600 in a directory created with mode 0700; [`SiteKey::load`] refuses a file that
//!   group or others may access. Nothing here prints, logs or serialises secret material: the
//!   `Debug` of [`SiteKey`] shows only its id;
//! - public keys travel as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`), which
//!   OpenSSL reads as is;
//! - signatures are 64 raw bytes, checked strictly ([`PublicKey::verify`]: canonical encodings,
//!   no small-order keys).

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, KeypairBytes,
};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::str::FromStr;

/// Domain prefix of the key id hash.
pub const KEY_ID_PREFIX: &[u8] = b"roeh/key-id/v1\0";

/// The largest private key file [`SiteKey::load`] reads.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// What kind of key failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// Reading or writing a key file failed.
    Io,
    /// A key, key id or signature is malformed.
    Format,
    /// A private key file is accessible to group or others.
    Permissions,
    /// A signature does not verify.
    BadSignature,
}

/// A key failure: its kind and a message for people (never secret material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    /// What kind of failure.
    pub kind: KeyErrorKind,
    /// What happened.
    pub message: String,
}

impl KeyError {
    fn new(kind: KeyErrorKind, message: impl Into<String>) -> Self {
        KeyError {
            kind,
            message: message.into(),
        }
    }

    fn io(what: &str, path: &Path, e: &std::io::Error) -> Self {
        KeyError::new(KeyErrorKind::Io, format!("{what} {}: {e}", path.display()))
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            KeyErrorKind::Io => "i/o",
            KeyErrorKind::Format => "format",
            KeyErrorKind::Permissions => "permissions",
            KeyErrorKind::BadSignature => "bad signature",
        };
        write!(f, "site key ({kind}): {}", self.message)
    }
}

impl std::error::Error for KeyError {}

/// A key's id: the first 8 bytes of `SHA-256("roeh/key-id/v1\0" ‖ public key)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 8]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    /// Exactly 16 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::manifest::parse_hex::<8>(s.as_bytes())
            .map(KeyId)
            .ok_or_else(|| {
                KeyError::new(
                    KeyErrorKind::Format,
                    "key id is not 16 lowercase hex digits",
                )
            })
    }
}

/// The id of a 32-byte Ed25519 public key.
pub fn key_id(public: &[u8; 32]) -> KeyId {
    let mut h = Sha256::new();
    h.update(KEY_ID_PREFIX);
    h.update(public);
    let d: [u8; 32] = h.finalize().into();
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    KeyId(id)
}

/// The site's private signing key. Its `Debug` shows only the key id.
pub struct SiteKey {
    signing: SigningKey,
}

impl fmt::Debug for SiteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteKey").field("id", &self.id()).finish()
    }
}

impl SiteKey {
    /// A fresh key from the operating system's randomness (`/dev/urandom`).
    ///
    /// # Panics
    ///
    /// If the operating system's random source cannot be read, as a missing system RNG leaves
    /// nothing safe to do. [`SiteKey::try_generate`] reports that as an error instead.
    #[allow(clippy::panic)]
    pub fn generate() -> Self {
        match SiteKey::try_generate() {
            Ok(k) => k,
            Err(e) => panic!("{e}"),
        }
    }

    /// A fresh key from the operating system's randomness (`/dev/urandom`), or an error if it
    /// cannot be read.
    pub fn try_generate() -> Result<Self, KeyError> {
        let path = Path::new("/dev/urandom");
        let mut seed = [0u8; 32];
        File::open(path)
            .and_then(|mut f| f.read_exact(&mut seed))
            .map_err(|e| KeyError::io("cannot read randomness from", path, &e))?;
        let signing = SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(SiteKey { signing })
    }

    /// The key from its 32-byte secret seed (RFC 8032). For tests and key import.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SiteKey {
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        key_id(self.signing.verifying_key().as_bytes())
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            key: self.signing.verifying_key(),
        }
    }

    /// The Ed25519 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// Generates a key and writes it to `<dir>/<key id>.key` (PKCS#8 PEM, mode 0600, refusing
    /// to overwrite), creating `dir` with mode 0700 if it is missing (an existing directory is
    /// left as it is). The file and the directory are synced before this returns.
    pub fn write_new(dir: &Path) -> Result<SiteKey, KeyError> {
        if !dir.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| KeyError::io("cannot create key directory", dir, &e))?;
        }
        let key = SiteKey::try_generate()?;
        let pem = key.to_pkcs8_pem()?;
        let path = dir.join(format!("{}.key", key.id()));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| KeyError::io("cannot create key file", &path, &e))?;
        let written = file
            .write_all(pem.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            // Best effort: a half-written key file must not be left behind to be loaded later.
            let _ = fs::remove_file(&path);
            return Err(KeyError::io("cannot write key file", &path, &e));
        }
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| KeyError::io("cannot sync key directory", dir, &e))?;
        Ok(key)
    }

    /// Loads a key written by [`SiteKey::write_new`]. Refuses a file that group or others may
    /// access (`mode & 0o077 != 0`), anything but a regular file, and files over 64 KiB.
    pub fn load(path: &Path) -> Result<SiteKey, KeyError> {
        let mut file =
            File::open(path).map_err(|e| KeyError::io("cannot open key file", path, &e))?;
        let meta = file
            .metadata()
            .map_err(|e| KeyError::io("cannot stat key file", path, &e))?;
        if !meta.is_file() {
            return Err(KeyError::new(
                KeyErrorKind::Format,
                format!("{} is not a regular file", path.display()),
            ));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::new(
                KeyErrorKind::Permissions,
                format!(
                    "key file {} has mode {mode:04o}; it must not be accessible to group or \
                     others (chmod 600)",
                    path.display()
                ),
            ));
        }
        if meta.len() > MAX_KEY_FILE {
            return Err(KeyError::new(
                KeyErrorKind::Format,
                format!("key file {} is too large", path.display()),
            ));
        }
        let mut pem = String::new();
        Read::by_ref(&mut file)
            .take(MAX_KEY_FILE)
            .read_to_string(&mut pem)
            .map_err(|e| KeyError::io("cannot read key file", path, &e))?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
            KeyError::new(
                KeyErrorKind::Format,
                format!(
                    "key file {} is not an Ed25519 PKCS#8 PEM private key",
                    path.display()
                ),
            )
        })?;
        Ok(SiteKey { signing })
    }

    /// The private key as PKCS#8 v1 PEM (`-----BEGIN PRIVATE KEY-----`, RFC 8410). Secret: only for
    /// [`SiteKey::write_new`] and tests.
    pub fn to_pkcs8_pem(&self) -> Result<String, KeyError> {
        // Version 1 of PKCS#8 (RFC 8410 §7, no embedded public key): OpenSSL 3.0 reads only
        // this form.
        let pair = KeypairBytes {
            secret_key: self.signing.to_bytes(),
            public_key: None,
        };
        pair.to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.as_str().to_owned())
            .map_err(|_| KeyError::new(KeyErrorKind::Format, "cannot encode private key"))
    }
}

/// An Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl PublicKey {
    /// The key's id.
    pub fn id(&self) -> KeyId {
        key_id(self.key.as_bytes())
    }

    /// SubjectPublicKeyInfo PEM (RFC 8410), `-----BEGIN PUBLIC KEY-----`, lines ending in `\n`.
    pub fn to_pem(&self) -> String {
        // Encoding the fixed 44-byte SubjectPublicKeyInfo of a valid key cannot fail.
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// Reads SubjectPublicKeyInfo PEM of an Ed25519 key.
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let key = VerifyingKey::from_public_key_pem(pem.trim()).map_err(|_| {
            KeyError::new(
                KeyErrorKind::Format,
                "not an Ed25519 public key in SubjectPublicKeyInfo PEM",
            )
        })?;
        Ok(PublicKey { key })
    }

    /// The key from its 32 bytes (RFC 8032 encoding).
    pub fn from_bytes(b: &[u8; 32]) -> Result<PublicKey, KeyError> {
        let key = VerifyingKey::from_bytes(b)
            .map_err(|_| KeyError::new(KeyErrorKind::Format, "not a valid Ed25519 public key"))?;
        Ok(PublicKey { key })
    }

    /// The key's 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Checks `sig` (exactly 64 bytes) over `msg`, strictly: non-canonical signatures and
    /// small-order keys are refused.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        let sig: &[u8; 64] = sig.try_into().map_err(|_| {
            KeyError::new(
                KeyErrorKind::Format,
                format!("signature is {} bytes, not 64", sig.len()),
            )
        })?;
        self.key
            .verify_strict(msg, &Signature::from_bytes(sig))
            .map_err(|_| {
                KeyError::new(
                    KeyErrorKind::BadSignature,
                    format!("signature does not verify with key {}", self.id()),
                )
            })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePublicKey;
    use std::process::Command;

    pub(crate) use roeh_testkit::tsa::have_openssl;

    /// Verifies with `openssl pkeyutl -verify -rawin`, as 0005 §3 tells users to.
    pub(crate) fn openssl_verifies(public_pem: &str, msg: &[u8], sig: &[u8]) -> bool {
        let dir = tempfile::tempdir().unwrap();
        let (k, m, s) = (
            dir.path().join("pub.pem"),
            dir.path().join("msg"),
            dir.path().join("sig"),
        );
        fs::write(&k, public_pem).unwrap();
        fs::write(&m, msg).unwrap();
        fs::write(&s, sig).unwrap();
        let out = Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&k)
            .arg("-rawin")
            .arg("-in")
            .arg(&m)
            .arg("-sigfile")
            .arg(&s)
            .output()
            .unwrap();
        out.status.success()
    }

    #[test]
    fn key_id_is_stable() {
        // Fixed vector: the id of the all-zero 32-byte string, computed from the definition.
        let mut h = Sha256::new();
        h.update(b"roeh/key-id/v1\0");
        h.update([0u8; 32]);
        let d = h.finalize();
        let id = key_id(&[0u8; 32]);
        assert_eq!(&id.0[..], &d[..8]);
        let s = id.to_string();
        assert_eq!(s.len(), 16);
        assert!(s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(s, "6d16aedbb6c1a0fe");
        assert_eq!(s.parse::<KeyId>().unwrap(), id);
    }

    #[test]
    fn key_id_parse_is_strict() {
        for bad in [
            "",
            "d2fc6aadc1d67fb",
            "d2fc6aadc1d67fb55",
            "D2FC6AADC1D67FB5",
            "d2fc6aadc1d67fbg",
            " d2fc6aadc1d67fb",
            "+2fc6aadc1d67fb5",
        ] {
            let e = bad.parse::<KeyId>().unwrap_err();
            assert_eq!(e.kind, KeyErrorKind::Format, "{bad}");
        }
    }

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1 (empty message).
        let seed: [u8; 32] =
            hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
                .unwrap()
                .try_into()
                .unwrap();
        let k = SiteKey::from_seed(&seed);
        assert_eq!(
            hex::encode(k.public().to_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(k.sign(b"")),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
    }

    #[test]
    fn sign_and_verify() {
        let k = SiteKey::generate();
        let p = k.public();
        assert_eq!(p.id(), k.id());
        let msg = b"roeh-checkpoint/v1\nexample\n";
        let sig = k.sign(msg);
        p.verify(msg, &sig).unwrap();
        // Tampered message.
        let e = p
            .verify(b"roeh-checkpoint/v1\nexample!\n", &sig)
            .unwrap_err();
        assert_eq!(e.kind, KeyErrorKind::BadSignature);
        // Every single-bit flip of the signature fails.
        for bit in 0..512 {
            let mut s = sig;
            s[bit / 8] ^= 1 << (bit % 8);
            assert!(p.verify(msg, &s).is_err(), "bit {bit}");
        }
        // Another key.
        let other = SiteKey::generate();
        assert_ne!(other.id(), k.id());
        assert_eq!(
            other.public().verify(msg, &sig).unwrap_err().kind,
            KeyErrorKind::BadSignature
        );
        // Wrong lengths are format errors, not panics.
        for len in [0, 1, 63, 65, 128] {
            let s = vec![0u8; len];
            assert_eq!(p.verify(msg, &s).unwrap_err().kind, KeyErrorKind::Format);
        }
        assert_eq!(
            p.verify(msg, &sig[..63]).unwrap_err().kind,
            KeyErrorKind::Format
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let seed = [7u8; 32];
        let k = SiteKey::from_seed(&seed);
        let dbg = format!("{k:?}");
        assert_eq!(dbg, format!("SiteKey {{ id: KeyId({:?}) }}", k.id().0));
        assert!(!dbg.contains(&hex::encode(seed)));
        assert!(!dbg.contains("7, 7, 7, 7"));
    }

    #[test]
    fn public_pem_round_trip() {
        let k = SiteKey::generate();
        let p = k.public();
        let pem = p.to_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"));
        // Same text as the pkcs8 crate's encoder.
        assert_eq!(
            pem,
            k.signing
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
        );
        assert_eq!(PublicKey::from_pem(&pem).unwrap(), p);
        assert_eq!(PublicKey::from_bytes(&p.to_bytes()).unwrap(), p);
        assert!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
        assert!(PublicKey::from_pem("").is_err());
        // A private key is not a public key.
        assert!(PublicKey::from_pem(&k.to_pkcs8_pem().unwrap()).is_err());
    }

    #[test]
    fn write_new_and_load() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data").join("keys");
        let k = SiteKey::write_new(&dir).unwrap();
        let dir_mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let path = dir.join(format!("{}.key", k.id()));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let loaded = SiteKey::load(&path).unwrap();
        assert_eq!(loaded.id(), k.id());
        assert_eq!(loaded.public(), k.public());
        let sig = loaded.sign(b"m");
        k.public().verify(b"m", &sig).unwrap();
        // A second key in the same directory is a different file.
        let k2 = SiteKey::write_new(&dir).unwrap();
        assert_ne!(k2.id(), k.id());
        assert!(dir.join(format!("{}.key", k2.id())).is_file());
    }

    #[test]
    fn load_refuses_loose_permissions() {
        let tmp = tempfile::tempdir().unwrap();
        let k = SiteKey::write_new(tmp.path()).unwrap();
        let path = tmp.path().join(format!("{}.key", k.id()));
        for mode in [0o644, 0o640, 0o604, 0o660, 0o601] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let e = SiteKey::load(&path).unwrap_err();
            assert_eq!(e.kind, KeyErrorKind::Permissions, "{mode:o}");
            assert!(e.to_string().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(SiteKey::load(&path).unwrap().id(), k.id());
    }

    #[test]
    fn load_refuses_garbage_and_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.key");
        assert_eq!(SiteKey::load(&path).unwrap_err().kind, KeyErrorKind::Io);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        f.write_all(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap();
        drop(f);
        assert_eq!(SiteKey::load(&path).unwrap_err().kind, KeyErrorKind::Format);
        // A public key file is not a private key.
        fs::write(&path, SiteKey::generate().public().to_pem()).unwrap();
        assert_eq!(SiteKey::load(&path).unwrap_err().kind, KeyErrorKind::Format);
        // A directory is not a key file.
        assert!(SiteKey::load(tmp.path()).is_err());
    }

    #[test]
    fn pkcs8_round_trip() {
        let k = SiteKey::generate();
        let pem = k.to_pkcs8_pem().unwrap();
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(key_id(back.verifying_key().as_bytes()), k.id());
    }

    #[test]
    fn openssl_reads_keys_and_verifies_signatures() {
        if !have_openssl() {
            return;
        }
        let k = SiteKey::generate();
        let pem = k.public().to_pem();
        let msg = b"some bytes\n";
        let sig = k.sign(msg);
        assert!(openssl_verifies(&pem, msg, &sig));
        assert!(!openssl_verifies(&pem, b"some bytes!\n", &sig));
        let mut bad = sig;
        bad[10] ^= 4;
        assert!(!openssl_verifies(&pem, msg, &bad));
        // OpenSSL derives the same public key from our private key file.
        let tmp = tempfile::tempdir().unwrap();
        let key_path = tmp.path().join("site.key");
        fs::write(&key_path, k.to_pkcs8_pem().unwrap()).unwrap();
        let out = roeh_testkit::output_ok(
            Command::new("openssl")
                .args(["pkey", "-pubout", "-in"])
                .arg(&key_path),
        );
        assert_eq!(String::from_utf8(out.stdout).unwrap(), pem);
        // And a key generated by OpenSSL loads and signs as expected.
        let theirs = tmp.path().join("theirs.key");
        roeh_testkit::output_ok(
            Command::new("openssl")
                .args(["genpkey", "-algorithm", "ed25519", "-out"])
                .arg(&theirs),
        );
        fs::set_permissions(&theirs, fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = SiteKey::load(&theirs).unwrap();
        let out = Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&theirs)
            .output()
            .unwrap();
        let their_pem = String::from_utf8(out.stdout).unwrap();
        assert_eq!(loaded.public().to_pem(), their_pem);
        assert!(openssl_verifies(&their_pem, msg, &loaded.sign(msg)));
    }
}
