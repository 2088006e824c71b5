//! Camera passwords at rest: the site's credential key and the `enc:v1:` column format.
//!
//! Invariants:
//! - the key is 32 random bytes in its own file (`<data_dir>/keys/credentials.key`), created
//!   with mode 0600 and never overwritten, in a directory created with mode 0700; a key file or
//!   key directory that group or others may access is refused, as is anything but a regular file
//!   of exactly 32 bytes;
//! - a stored password is `enc:v1:` followed by the lower-case hex of a fresh random 96-bit nonce
//!   and the ChaCha20-Poly1305 ciphertext with tag; the camera id (hyphenated) is the associated
//!   data, so a value copied to another camera's row fails to decrypt;
//! - neither the key nor a password ever appears in a `Debug` form or an error message; errors
//!   name the camera only;
//! - a value without the `enc:v1:` prefix is a password written before encryption existed (read
//!   as is, and rewritten encrypted by [`Store::encrypt_legacy_passwords`]).

use crate::{Error, Result, Store, db};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::{Aead, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use roeh_domain::{CameraId, ErrorKind};
use std::fmt;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Prefix of an encrypted password in `cameras.password`.
pub const ENCRYPTED_PREFIX: &str = "enc:v1:";

/// Length of a credential key, bytes.
pub const CREDENTIAL_KEY_LEN: usize = 32;

const NONCE_LEN: usize = 12;

/// Log target of this module's events (names the key, not the module).
const LOG_TARGET: &str = "roeh_store::credential_key";

/// The site's key for camera passwords at rest. Its `Debug` form never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialKey([u8; CREDENTIAL_KEY_LEN]);

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(***)")
    }
}

impl CredentialKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; CREDENTIAL_KEY_LEN]) -> Self {
        CredentialKey(bytes)
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let mut k = [0u8; CREDENTIAL_KEY_LEN];
        OsRng.try_fill_bytes(&mut k).map_err(|_| {
            Error::new(ErrorKind::Unavailable, "the system random generator failed")
        })?;
        Ok(CredentialKey(k))
    }

    /// Loads the key at `path`, or creates it (and its directory, mode 0700) when neither the
    /// file exists yet. See the module invariants for what is refused.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        let dir = path.parent().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "credential key path has no directory",
            )
        })?;
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_err("cannot create the key directory", dir, e))?;
        }
        check_mode(dir, "key directory")?;
        match Self::load(path) {
            Err(e) if e.kind() == ErrorKind::NotFound => Self::create(path),
            r => r,
        }
    }

    /// Writes a new random key to `path` (mode 0600, refusing an existing file) and syncs it.
    pub fn create(path: &Path) -> Result<Self> {
        let key = Self::generate()?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| io_err("cannot create the credential key file", path, e))?;
        if let Err(e) = f.write_all(&key.0).and_then(|()| f.sync_all()) {
            drop(f);
            // A short key file must not be left behind to be loaded later.
            let _ = std::fs::remove_file(path);
            return Err(io_err("cannot write the credential key file", path, e));
        }
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err("cannot sync the key directory", dir, e))?;
        }
        tracing::info!(target: LOG_TARGET, path = %path.display(), "Created the credential key.");
        Ok(key)
    }

    /// Loads an existing key. `NotFound` if the file does not exist.
    pub fn load(path: &Path) -> Result<Self> {
        let mut f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("credential key file {} does not exist", path.display()),
                ));
            }
            Err(e) => return Err(io_err("cannot open the credential key file", path, e)),
        };
        let meta = f
            .metadata()
            .map_err(|e| io_err("cannot stat the credential key file", path, e))?;
        if !meta.is_file() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                format!("credential key {} is not a regular file", path.display()),
            ));
        }
        check_mode(path, "credential key file")?;
        let mut buf = Vec::with_capacity(CREDENTIAL_KEY_LEN + 1);
        Read::by_ref(&mut f)
            .take(CREDENTIAL_KEY_LEN as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(|e| io_err("cannot read the credential key file", path, e))?;
        let k: [u8; CREDENTIAL_KEY_LEN] = buf.as_slice().try_into().map_err(|_| {
            Error::new(
                ErrorKind::DataLoss,
                format!(
                    "credential key file {} is not {CREDENTIAL_KEY_LEN} bytes",
                    path.display()
                ),
            )
        })?;
        Ok(CredentialKey(k))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&self.0.into())
    }

    /// Encrypts `password` for `camera` into the column format.
    pub fn seal(&self, camera: CameraId, password: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.try_fill_bytes(&mut nonce).map_err(|_| {
            Error::new(ErrorKind::Unavailable, "the system random generator failed")
        })?;
        let aad = camera.to_string();
        let ct = self
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: password.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::new(
                    ErrorKind::Internal,
                    format!("encrypting the password of camera {camera} failed"),
                )
            })?;
        let mut out = String::with_capacity(ENCRYPTED_PREFIX.len() + 2 * (NONCE_LEN + ct.len()));
        out.push_str(ENCRYPTED_PREFIX);
        hex_push(&mut out, &nonce);
        hex_push(&mut out, &ct);
        Ok(out)
    }

    /// Decrypts a column value written by [`CredentialKey::seal`] for `camera`. `DataLoss`
    /// (naming the camera, never the value) if it is malformed, was written for another camera
    /// or under another key.
    pub fn open(&self, camera: CameraId, stored: &str) -> Result<String> {
        let bad = || {
            Error::new(
                ErrorKind::DataLoss,
                format!(
                    "the stored password of camera {camera} cannot be decrypted (damaged, \
                     copied from another camera, or written under another credential key)"
                ),
            )
        };
        let body = stored.strip_prefix(ENCRYPTED_PREFIX).ok_or_else(bad)?;
        let bytes = hex_decode(body).ok_or_else(bad)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(bad());
        }
        let (nonce, ct) = bytes.split_at(NONCE_LEN);
        let aad = camera.to_string();
        let pt = self
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        String::from_utf8(pt).map_err(|_| bad())
    }
}

/// Whether a column value is in the encrypted format.
pub fn is_encrypted(stored: &str) -> bool {
    stored.starts_with(ENCRYPTED_PREFIX)
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::with_source(
        ErrorKind::Unavailable,
        format!("{what} {}", path.display()),
        e,
    )
}

/// Refuses a file or directory that group or others may access.
fn check_mode(path: &Path, what: &str) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| io_err("cannot stat", path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorKind::FailedPrecondition,
            format!(
                "{what} {} has mode {mode:04o}; it must not be accessible to group or others \
                 (chmod {})",
                path.display(),
                if meta.is_dir() { "700" } else { "600" }
            ),
        ));
    }
    Ok(())
}

fn hex_push(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some((nib(*p.first()?)? << 4) | nib(*p.get(1)?)?))
        .collect()
}

impl Store {
    /// Installs the site's credential key. Every clone of this store shares it. Installing the
    /// same key again is a no-op; another key is refused (`FailedPrecondition`).
    pub fn set_credential_key(&self, key: CredentialKey) -> Result<()> {
        let installed = self.credential_key.get_or_init(|| key.clone());
        if *installed == key {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::FailedPrecondition,
                "a different credential key is already installed",
            ))
        }
    }

    /// Whether a credential key is installed.
    pub fn has_credential_key(&self) -> bool {
        self.credential_key.get().is_some()
    }

    /// The column value for `password` of `camera`: `None` for an empty password, else the
    /// ciphertext. `FailedPrecondition` without a key.
    pub(crate) fn seal_password(&self, camera: CameraId, password: &str) -> Result<Option<String>> {
        if password.is_empty() {
            return Ok(None);
        }
        let key = self.credential_key.get().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                "camera passwords are stored encrypted and no credential key is installed \
                 (<data_dir>/keys/credentials.key); refusing to store a password",
            )
        })?;
        key.seal(camera, password).map(Some)
    }

    /// The password from a column value (see the module invariants).
    pub(crate) fn open_password(&self, camera: CameraId, stored: &str) -> Result<String> {
        if !is_encrypted(stored) {
            return Ok(stored.to_owned());
        }
        let key = self.credential_key.get().ok_or_else(|| {
            Error::new(
                ErrorKind::FailedPrecondition,
                format!(
                    "the password of camera {camera} is encrypted and no credential key is \
                     installed"
                ),
            )
        })?;
        key.open(camera, stored)
    }

    /// Rewrites every camera password still stored in plain text in the encrypted format (empty
    /// ones become NULL). Returns how many rows changed. `FailedPrecondition` without a key.
    pub async fn encrypt_legacy_passwords(&self) -> Result<u64> {
        if !self.has_credential_key() {
            return Err(Error::new(
                ErrorKind::FailedPrecondition,
                "no credential key is installed",
            ));
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, password FROM cameras WHERE password IS NOT NULL \
             AND substr(password, 1, 7) <> 'enc:v1:'",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading legacy passwords"))?;
        let mut changed = 0u64;
        for (id, plain) in rows {
            let camera = CameraId::parse(&id)
                .map_err(|_| Error::new(ErrorKind::DataLoss, "stored camera id invalid"))?;
            let sealed = self.seal_password(camera, &plain)?;
            // Compare-and-set: a concurrent update of the same row wins.
            let r = sqlx::query("UPDATE cameras SET password = $1 WHERE id = $2 AND password = $3")
                .bind(sealed)
                .bind(&id)
                .bind(&plain)
                .execute(&self.pool)
                .await
                .map_err(db("encrypting a legacy password"))?;
            changed += r.rows_affected();
        }
        if changed > 0 {
            tracing::info!(
                target: LOG_TARGET,
                cameras = changed,
                "Encrypted camera passwords stored in plain text."
            );
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_open_roundtrip_binds_camera_and_key() {
        let k = CredentialKey::generate().unwrap();
        let a = CameraId::new_random();
        let b = CameraId::new_random();
        let s1 = k.seal(a, "pä55word").unwrap();
        let s2 = k.seal(a, "pä55word").unwrap();
        assert!(s1.starts_with(ENCRYPTED_PREFIX));
        assert_ne!(s1, s2, "fresh nonce per write");
        assert!(!s1.contains("55word"));
        assert_eq!(k.open(a, &s1).unwrap(), "pä55word");
        let e = k.open(b, &s1).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DataLoss);
        assert!(e.to_string().contains(&b.to_string()));
        assert!(!e.to_string().contains(&s1));
        let other = CredentialKey::generate().unwrap();
        assert_eq!(other.open(a, &s1).unwrap_err().kind(), ErrorKind::DataLoss);
        // Tampering with any byte fails.
        let mut t = s1.clone().into_bytes();
        let last = t.len() - 1;
        t[last] = if t[last] == b'0' { b'1' } else { b'0' };
        let t = String::from_utf8(t).unwrap();
        assert_eq!(k.open(a, &t).unwrap_err().kind(), ErrorKind::DataLoss);
        for junk in ["enc:v1:", "enc:v1:zz", "enc:v1:abc", "plain"] {
            assert_eq!(k.open(a, junk).unwrap_err().kind(), ErrorKind::DataLoss);
        }
        assert_eq!(format!("{k:?}"), "CredentialKey(***)");
    }

    #[test]
    fn key_file_created_0600_reloaded_and_loose_modes_refused() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let path = keys.join("credentials.key");
        let k1 = CredentialKey::load_or_create(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&keys), 0o700);
        assert_eq!(std::fs::read(&path).unwrap().len(), CREDENTIAL_KEY_LEN);
        let k2 = CredentialKey::load_or_create(&path).unwrap();
        assert_eq!(k1, k2);
        // create never overwrites.
        assert!(CredentialKey::create(&path).is_err());
        assert_eq!(CredentialKey::load(&path).unwrap(), k1);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = CredentialKey::load_or_create(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = CredentialKey::load_or_create(&path).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::FailedPrecondition);
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();

        std::fs::write(&path, b"short").unwrap();
        assert_eq!(
            CredentialKey::load(&path).unwrap_err().kind(),
            ErrorKind::DataLoss
        );
    }
}
