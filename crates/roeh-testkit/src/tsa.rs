//! A local RFC 3161 time-stamping authority (TSA) made with the stock `openssl` command, for the
//! tests of roeh-evidence (checking tokens) and roeh-custody (asking a TSA over HTTP).
//!
//! Invariants: every file is written below the directory the caller names; keys are unencrypted;
//! the CA and the TSA's certificate are valid for ten years from now. The `openssl` command is
//! the only external program run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Media type of an RFC 3161 response (RFC 3161 §3.4), as the HTTP server answers it.
const REPLY_MEDIA_TYPE: &str = "application/timestamp-reply";

/// Whether `openssl` runs. When it does not, the calling test fails (`scripts/setup.sh`
/// installs it), unless `ROEH_ALLOW_SKIP=1` asks to skip it: then this prints `SKIPPED` and
/// answers `false`.
pub fn have_openssl() -> bool {
    if Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return true;
    }
    let why = "the openssl command is not on PATH (bash scripts/setup.sh installs it)";
    assert!(
        crate::skipping_allowed(),
        "OpenSSL cross-check: {why}; set {}=1 only to skip it deliberately",
        crate::ALLOW_SKIP_ENV
    );
    eprintln!(
        "SKIPPED OpenSSL cross-check: {why} ({}=1)",
        crate::ALLOW_SKIP_ENV
    );
    false
}

/// The key of the TSA's signing certificate (the CA's key is always ECDSA P-256).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TsaKey {
    /// ECDSA on P-256 (signatures ecdsa-with-SHA256).
    #[default]
    EcP256,
    /// ECDSA on P-384 (signatures ecdsa-with-SHA256: the configured signer digest).
    EcP384,
    /// RSA with a 2048-bit key (PKCS#1 v1.5 signatures with SHA-256).
    Rsa2048,
}

impl TsaKey {
    /// The `openssl req` arguments that make a new unencrypted key of this kind.
    fn newkey(self) -> &'static [&'static str] {
        match self {
            TsaKey::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            TsaKey::EcP384 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            TsaKey::Rsa2048 => &["-newkey", "rsa:2048"],
        }
    }
}

/// A CA, a TSA certificate it issued (critical extendedKeyUsage timeStamping, a subject key
/// identifier) and an `openssl ts` configuration, in a directory.
#[derive(Debug, Clone)]
pub struct TestTsa {
    /// The directory holding the files.
    pub dir: PathBuf,
}

fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("running openssl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(out.stdout)
}

const TS_CNF: &str = "\
[ tsa ]
default_tsa = tsa_config

[ tsa_config ]
serial = ./tsaserial
crypto_device = builtin
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_alg = sha256
";

impl TestTsa {
    /// Makes the CA, the TSA's ECDSA P-256 key and certificate and the configuration in `dir`.
    pub fn create(dir: &Path) -> Result<TestTsa, String> {
        TestTsa::create_with(dir, TsaKey::EcP256)
    }

    /// Makes the CA, the TSA's key of kind `key` and its certificate and the configuration in
    /// `dir`.
    pub fn create_with(dir: &Path, key: TsaKey) -> Result<TestTsa, String> {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        run(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=roeh test TSA CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        )?;
        let mut args = vec!["req", "-new"];
        args.extend(key.newkey());
        args.extend([
            "-nodes",
            "-keyout",
            "tsa.key",
            "-out",
            "tsa.csr",
            "-subj",
            "/CN=roeh test TSA",
        ]);
        run(dir, &args)?;
        std::fs::write(
            dir.join("tsa.ext"),
            "basicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,nonRepudiation\n\
             extendedKeyUsage=critical,timeStamping\n\
             subjectKeyIdentifier=hash\n",
        )
        .map_err(|e| e.to_string())?;
        run(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "tsa.pem",
                "-days",
                "3650",
                "-extfile",
                "tsa.ext",
            ],
        )?;
        std::fs::write(dir.join("ts.cnf"), TS_CNF).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("tsaserial"), "01\n").map_err(|e| e.to_string())?;
        Ok(TestTsa {
            dir: dir.to_path_buf(),
        })
    }

    /// The CA certificate (PEM) to give `openssl ts -verify -CAfile`.
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The TSA's signing certificate (PEM).
    pub fn tsa_pem(&self) -> PathBuf {
        self.dir.join("tsa.pem")
    }

    /// Answers a DER `TimeStampReq` with `openssl ts -reply`, returning the DER
    /// `TimeStampResp`. Calls are serialised by the caller (the serial file is shared).
    pub fn reply(&self, query: &[u8]) -> Result<Vec<u8>, String> {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let q = format!("query-{n}.tsq");
        let r = format!("reply-{n}.tsr");
        std::fs::write(self.dir.join(&q), query).map_err(|e| e.to_string())?;
        run(
            &self.dir,
            &[
                "ts",
                "-reply",
                "-queryfile",
                &q,
                "-signer",
                "tsa.pem",
                "-inkey",
                "tsa.key",
                "-config",
                "ts.cnf",
                "-out",
                &r,
            ],
        )?;
        let out = std::fs::read(self.dir.join(&r)).map_err(|e| e.to_string())?;
        let _ = std::fs::remove_file(self.dir.join(&q));
        let _ = std::fs::remove_file(self.dir.join(&r));
        Ok(out)
    }

    /// Whether `openssl ts -verify -in <response> -data <data> -CAfile ca.pem` succeeds,
    /// the command design record 0005 gives to check a bundle's `checkpoint.tsr`.
    pub fn openssl_verifies(&self, response: &Path, data: &Path) -> bool {
        Command::new("openssl")
            .arg("ts")
            .arg("-verify")
            .arg("-in")
            .arg(response)
            .arg("-data")
            .arg(data)
            .arg("-CAfile")
            .arg(self.ca_pem())
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Serves the TSA over HTTP on 127.0.0.1 (an ephemeral port) from a thread: every POST
    /// is answered `200` with `application/timestamp-reply` and the DER response (or `500`
    /// when openssl fails). Returns the URL to post to. The thread lives as long as the
    /// process.
    pub fn serve(&self) -> Result<String, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let tsa = self.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = answer(&tsa, &mut conn);
            }
        });
        Ok(format!("http://{addr}/tsa"))
    }
}

fn answer(tsa: &TestTsa, conn: &mut std::net::TcpStream) -> std::io::Result<()> {
    use std::io::{Read, Write};
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, len) = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (i + 4, len);
        }
        if buf.len() > 1 << 16 {
            return Ok(());
        }
    };
    while buf.len() < head_end + len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf.get(head_end..).unwrap_or(&[]);
    let (status, reply) = match tsa.reply(body) {
        Ok(r) => ("200 OK", r),
        Err(_) => ("500 Internal Server Error", Vec::new()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {REPLY_MEDIA_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(&reply)?;
    conn.flush()
}
