//! Bundles with an RFC 3161 timestamp of their checkpoint (`checkpoint.tsr`), from a local TSA
//! made with the stock `openssl` tool.
#![allow(clippy::unwrap_used)]

mod fixture;

use fixture::{Fixture, FixtureOptions, fixture};
use roeh_evidence::bundle::{BundleForm, CHECKPOINT_TSR, CHECKPOINT_TXT, README, write_bundle};
use roeh_evidence::tsa::{MAX_RESPONSE_BYTES, request_der};
use roeh_evidence::verify::{Verdict, verify_bundle};
use roeh_testkit::tsa::{TestTsa, have_openssl};
use sha2::{Digest, Sha256};
use std::path::Path;

fn verify(p: &Path) -> Result<Verdict, roeh_evidence::BundleError> {
    verify_bundle(p, None, &mut |_, _| {})
}

/// A temporary directory with a local TSA and a bundle fixture in it; `None` when openssl is
/// missing (the test then checks nothing).
fn tsa_and_fixture() -> Option<(tempfile::TempDir, TestTsa, Fixture)> {
    if !have_openssl() {
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    let tsa = TestTsa::create(&t.path().join("tsa")).unwrap();
    let fx = fixture(t.path(), FixtureOptions::default()).unwrap();
    Some((t, tsa, fx))
}

fn stamp(tsa: &TestTsa, data: &[u8], nonce: u64) -> Vec<u8> {
    let digest: [u8; 32] = Sha256::digest(data).into();
    tsa.reply(&request_der(&digest, nonce)).unwrap()
}

fn assert_failed_at_timestamp(v: &Verdict) {
    match v {
        Verdict::Failed { at, what } => {
            assert_eq!(at, "timestamp (checkpoint.tsr)", "{what}");
        }
        other => panic!("expected FAILED at the timestamp, got {other}"),
    }
}

#[test]
fn bundles_with_a_timestamp() {
    let Some((t, tsa, mut fx)) = tsa_and_fixture() else {
        return;
    };
    let text = fx.input.checkpoint.text.clone();
    fx.input.checkpoint_tsr = Some(stamp(&tsa, text.as_bytes(), 7));

    // Both forms verify, and the verdict reports the TSA's time and the openssl command.
    let dir = t.path().join("bundle");
    write_bundle(&fx.input, &dir, BundleForm::Directory, &mut |_, _| {}).unwrap();
    let zip = t.path().join("bundle.zip");
    write_bundle(&fx.input, &zip, BundleForm::Zip, &mut |_, _| {}).unwrap();
    for p in [&dir, &zip] {
        let v = verify(p).unwrap();
        assert!(matches!(v, Verdict::Ok { .. }), "{v}");
        let Verdict::Ok { summary, .. } = &v else {
            unreachable!()
        };
        let ts = summary
            .timestamp
            .as_ref()
            .expect("a timestamp in the summary");
        let shown = v.to_string();
        assert!(
            shown.contains(&format!("timestamped by a TSA at {}", ts.gen_time)),
            "{shown}"
        );
        assert!(
            shown.contains("openssl ts -verify -in checkpoint.tsr -data checkpoint.txt"),
            "{shown}"
        );
    }
    let readme = std::fs::read_to_string(dir.join(README)).unwrap();
    assert!(
        readme.contains("openssl ts -verify -in checkpoint.tsr"),
        "{readme}"
    );

    // The bundle's own files pass the stock tool's check, as the README says.
    assert!(tsa.openssl_verifies(&dir.join(CHECKPOINT_TSR), &dir.join(CHECKPOINT_TXT)));

    // Without a timestamp the summary has none.
    let plain = t.path().join("plain");
    let mut no_tsr = fx.input.clone();
    no_tsr.checkpoint_tsr = None;
    write_bundle(&no_tsr, &plain, BundleForm::Directory, &mut |_, _| {}).unwrap();
    assert!(!plain.join(CHECKPOINT_TSR).exists());
    let v = verify(&plain).unwrap();
    let Verdict::Ok { summary, .. } = &v else {
        panic!("{v}")
    };
    assert_eq!(summary.timestamp, None);
    assert!(!v.to_string().contains("timestamp"), "{v}");
}

#[test]
fn a_wrong_or_damaged_timestamp_fails() {
    let Some((t, tsa, mut fx)) = tsa_and_fixture() else {
        return;
    };
    let text = fx.input.checkpoint.text.clone();
    let good = stamp(&tsa, text.as_bytes(), 9);
    fx.input.checkpoint_tsr = Some(good.clone());
    let dir = t.path().join("bundle");
    write_bundle(&fx.input, &dir, BundleForm::Directory, &mut |_, _| {}).unwrap();
    assert!(verify(&dir).unwrap().is_ok());
    let tsr = dir.join(CHECKPOINT_TSR);

    // A genuine token, but for another text (another checkpoint).
    let other_text = text.replace("roeh:test-site", "roeh:other-site");
    std::fs::write(&tsr, stamp(&tsa, other_text.as_bytes(), 9)).unwrap();
    let v = verify(&dir).unwrap();
    assert_failed_at_timestamp(&v);
    assert!(v.to_string().contains("a token for other data"), "{v}");
    assert!(!tsa.openssl_verifies(&tsr, &dir.join(CHECKPOINT_TXT)));

    // Truncated.
    std::fs::write(&tsr, &good[..good.len() / 2]).unwrap();
    assert_failed_at_timestamp(&verify(&dir).unwrap());

    // Empty, or not DER at all.
    std::fs::write(&tsr, b"").unwrap();
    assert_failed_at_timestamp(&verify(&dir).unwrap());
    std::fs::write(&tsr, b"-----BEGIN TIMESTAMP-----\n").unwrap();
    assert_failed_at_timestamp(&verify(&dir).unwrap());

    // A byte of the stamped hash flipped.
    let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let at = good.windows(32).position(|w| w == digest).unwrap();
    let mut flipped = good.clone();
    flipped[at] ^= 0x40;
    std::fs::write(&tsr, &flipped).unwrap();
    assert_failed_at_timestamp(&verify(&dir).unwrap());
    assert!(!tsa.openssl_verifies(&tsr, &dir.join(CHECKPOINT_TXT)));

    // A byte of the TSA's signature flipped (the token stamps the right hash): the in-process
    // signature check refuses it, as the stock tool does.
    let mut forged = good.clone();
    let last = forged.len() - 3;
    forged[last] ^= 0x01;
    std::fs::write(&tsr, &forged).unwrap();
    let v = verify(&dir).unwrap();
    assert_failed_at_timestamp(&v);
    assert!(v.to_string().contains("signature"), "{v}");
    assert!(!tsa.openssl_verifies(&tsr, &dir.join(CHECKPOINT_TXT)));

    // A refusal from the TSA (status rejection, no token).
    std::fs::write(&tsr, [0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]).unwrap();
    let v = verify(&dir).unwrap();
    assert_failed_at_timestamp(&v);
    assert!(v.to_string().contains("rejection"), "{v}");

    // Oversized: unusable input, like every other oversized entry.
    std::fs::write(&tsr, vec![0u8; MAX_RESPONSE_BYTES + 1]).unwrap();
    assert!(verify(&dir).is_err());

    // Restored, it verifies again.
    std::fs::write(&tsr, &good).unwrap();
    assert!(verify(&dir).unwrap().is_ok());

    // The same in a ZIP: a token for another text fails.
    fx.input.checkpoint_tsr = Some(stamp(&tsa, other_text.as_bytes(), 10));
    let zip = t.path().join("bad.zip");
    write_bundle(&fx.input, &zip, BundleForm::Zip, &mut |_, _| {}).unwrap();
    assert_failed_at_timestamp(&verify(&zip).unwrap());
}
