//! Validation of CAP 1.2 messages against the OASIS schema with `xmllint` (Debian's
//! libxml2-utils); `scripts/setup.sh` installs both the tool and the schema.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The OASIS CAP 1.2 schema: `ROEH_CAP_XSD`, else `<workspace>/.cache/roeh/cap/CAP-v1.2.xsd`.
pub fn schema() -> PathBuf {
    std::env::var_os("ROEH_CAP_XSD").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/roeh/cap/CAP-v1.2.xsd"),
        PathBuf::from,
    )
}

/// Whether the schema and `xmllint` are there; when not, the calling test fails through
/// [`crate::prerequisite_missing`] (and this answers `false` only where skipping was asked for).
pub fn have_validator(test: &str) -> bool {
    let tool = Command::new("xmllint")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if tool && schema().is_file() {
        return true;
    }
    crate::prerequisite_missing(
        test,
        "xmllint (libxml2-utils) or the CAP 1.2 schema in .cache/roeh/cap is missing",
    );
    false
}

/// Validates `xml` against the CAP 1.2 schema; `Err` carries xmllint's complaint.
pub fn validate(xml: &[u8]) -> anyhow::Result<()> {
    let mut child = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(schema())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(xml)?;
    }
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "not valid CAP 1.2: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
