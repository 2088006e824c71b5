//! A test site's PKI, made with the `openssl` command at test time: a site CA and a server
//! certificate it issued for `localhost` and 127.0.0.1.
//!
//! Invariants: every file is written below the directory the caller names, prefixed with the
//! algorithm (`ec-…`, `rsa-…`) so that both kinds fit in one directory; keys are unencrypted
//! PKCS#8 PEM; certificates are valid for two days from now. Nothing is read from or written to
//! anywhere else, and the `openssl` command is the only external program run.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The algorithm of the CA's and the server's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on P-256.
    Ec,
    /// RSA with 2048-bit keys.
    Rsa,
}

impl KeyAlgorithm {
    /// The prefix of this algorithm's file names.
    fn prefix(self) -> &'static str {
        match self {
            KeyAlgorithm::Ec => "ec",
            KeyAlgorithm::Rsa => "rsa",
        }
    }

    /// The `openssl req` arguments that make a new unencrypted key of this algorithm.
    fn newkey(self) -> &'static [&'static str] {
        match self {
            KeyAlgorithm::Ec => &[
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
            ],
            KeyAlgorithm::Rsa => &["-newkey", "rsa:2048", "-nodes"],
        }
    }

    /// The server certificate's key usage: ECDSA keys only sign; RSA keys may also encipher.
    fn server_key_usage(self) -> &'static str {
        match self {
            KeyAlgorithm::Ec => "digitalSignature",
            KeyAlgorithm::Rsa => "digitalSignature,keyEncipherment",
        }
    }
}

/// The files of a site's PKI (see [`site_pki`]).
#[derive(Clone, Debug)]
pub struct SitePki {
    /// The site CA's certificate (PEM), the one clients trust.
    pub ca: PathBuf,
    /// The site CA's private key: a valid key that does not belong to [`SitePki::cert`].
    pub ca_key: PathBuf,
    /// The server's certificate (PEM), issued by the CA for `localhost` and 127.0.0.1.
    pub cert: PathBuf,
    /// The server's private key (PKCS#8 PEM).
    pub key: PathBuf,
}

/// Runs `openssl args…` in `dir` with no input and returns its output, successful or not.
///
/// Errors: the command cannot be started (not installed).
pub fn openssl_output(dir: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running the openssl command (tests make their certificates with it)")
}

/// Runs `openssl args…` in `dir`.
///
/// Errors: the command cannot be started, or it fails (its standard error is in the message).
pub fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = openssl_output(dir, args)?;
    anyhow::ensure!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Makes a site CA and a server certificate it issued for `localhost` and 127.0.0.1 in `dir`,
/// both with `algorithm` keys.
///
/// Errors: `openssl` is missing or fails, or a file cannot be written.
pub fn site_pki(dir: &Path, algorithm: KeyAlgorithm) -> anyhow::Result<SitePki> {
    let prefix = algorithm.prefix();
    let f = |name: &str| format!("{prefix}-{name}");
    let (ca, ca_key, csr, cert, key, ext) = (
        f("ca.pem"),
        f("ca.key"),
        f("server.csr"),
        f("server.pem"),
        f("server.key"),
        f("server.ext"),
    );
    let newkey = algorithm.newkey();
    let mut args = vec!["req", "-x509"];
    args.extend(newkey);
    args.extend([
        "-keyout",
        &ca_key,
        "-out",
        &ca,
        "-days",
        "2",
        "-subj",
        "/CN=roeh test site CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args)?;
    let mut args = vec!["req"];
    args.extend(newkey);
    args.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
    openssl(dir, &args)?;
    let extensions = format!(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,{}\nextendedKeyUsage=serverAuth\n",
        algorithm.server_key_usage()
    );
    std::fs::write(dir.join(&ext), extensions)
        .with_context(|| format!("writing {}", dir.join(&ext).display()))?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &cert,
            "-days",
            "2",
            "-extfile",
            &ext,
        ],
    )?;
    Ok(SitePki {
        ca: dir.join(ca),
        ca_key: dir.join(ca_key),
        cert: dir.join(cert),
        key: dir.join(key),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The public key of a certificate or of a private key, as `openssl` prints it.
    fn public_key(dir: &Path, what: &[&str]) -> String {
        let out = openssl_output(dir, what).unwrap();
        assert!(out.status.success(), "{what:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn both_algorithms_share_a_directory_and_the_server_certificate_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let ec = site_pki(dir.path(), KeyAlgorithm::Ec).unwrap();
        let rsa = site_pki(dir.path(), KeyAlgorithm::Rsa).unwrap();
        assert_ne!(ec.cert, rsa.cert);
        for (p, key_type) in [(&ec, "id-ecPublicKey"), (&rsa, "rsaEncryption")] {
            let key = std::fs::read_to_string(&p.key).unwrap();
            assert!(key.contains("BEGIN PRIVATE KEY"), "not PKCS#8: {key:.40}");
            let ca = p.ca.to_str().unwrap();
            let cert = p.cert.to_str().unwrap();
            let out = openssl_output(
                dir.path(),
                &["verify", "-CAfile", ca, "-purpose", "sslserver", cert],
            )
            .unwrap();
            assert!(out.status.success(), "{out:?}");
            let text = public_key(dir.path(), &["x509", "-in", cert, "-noout", "-text"]);
            assert!(
                text.contains("DNS:localhost, IP Address:127.0.0.1"),
                "{text}"
            );
            assert!(text.contains(key_type), "{text}");
            // The server key belongs to the certificate; the CA's key does not.
            let of_cert = public_key(dir.path(), &["x509", "-in", cert, "-noout", "-pubkey"]);
            let of_key =
                |k: &Path| public_key(dir.path(), &["pkey", "-in", k.to_str().unwrap(), "-pubout"]);
            assert_eq!(of_cert, of_key(&p.key));
            assert_ne!(of_cert, of_key(&p.ca_key));
        }
        // A server certificate does not verify against the other site CA.
        let out = openssl_output(
            dir.path(),
            &[
                "verify",
                "-CAfile",
                rsa.ca.to_str().unwrap(),
                ec.cert.to_str().unwrap(),
            ],
        )
        .unwrap();
        assert!(!out.status.success());
    }

    #[test]
    fn a_failing_command_is_an_error_naming_its_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let e = openssl(dir.path(), &["x509", "-in", "missing.pem"]).unwrap_err();
        assert!(e.to_string().contains("missing.pem"), "{e}");
    }
}
