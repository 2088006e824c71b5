//! Writing and verifying real bundles built from the test footage.
#![allow(clippy::unwrap_used)]

mod fixture;

use fixture::{FixtureOptions, assert_ok_unpinned, fixture, write_fixture};
use roeh_domain::ErrorKind;
use roeh_evidence::bundle::{BundleForm, CLIP, write_bundle};
use roeh_evidence::checkpoint::Checkpoint;
use roeh_evidence::keys::SiteKey;
use roeh_evidence::merkle::MerkleTree;
use roeh_evidence::verify::{Consistency, Verdict, verify_bundle, verify_consistency};
use std::path::Path;
use std::process::Command;

fn verify(p: &Path, key: Option<&roeh_evidence::keys::PublicKey>) -> Verdict {
    verify_bundle(p, key, &mut |_, _| {}).unwrap()
}

/// Frames ffprobe decodes from `clip` (ffprobe comes with ffmpeg, installed by
/// `scripts/setup.sh`; its absence fails the test).
fn ffprobe_frames(clip: &Path) -> u64 {
    roeh_testkit::probe(clip).unwrap().frames
}

#[test]
fn intact_bundles_verify_ok() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("bundle");
    let fx = write_fixture(
        t.path(),
        &dir,
        BundleForm::Directory,
        FixtureOptions::default(),
    )
    .unwrap();
    let zip = t.path().join("bundle.zip");
    let mut calls = 0;
    let mut last = (0, 0);
    let sum = write_bundle(&fx.input, &zip, BundleForm::Zip, &mut |d, n| {
        calls += 1;
        last = (d, n);
    })
    .unwrap();
    assert_eq!(sum.frames, 100);
    assert_eq!(sum.segments, 4);
    assert!(calls >= 2);
    assert_eq!(last, (sum.bytes, sum.bytes));
    let pk = fx.key.public();
    for p in [&dir, &zip] {
        let v = verify(p, Some(&pk));
        assert!(
            matches!(
                v,
                Verdict::Ok {
                    key_pinned: true,
                    ..
                }
            ),
            "{v}"
        );
        assert_eq!(v.to_string().lines().next(), Some("OK"));
        let v = verify(p, None);
        assert_ok_unpinned(&v);
        let mut seen = (0, 0);
        verify_bundle(p, None, &mut |d, n| seen = (d, n)).unwrap();
        assert_eq!(seen, (sum.bytes, sum.bytes));
    }
    // Same input, same clip bytes in both forms.
    let a = std::fs::read(dir.join(CLIP)).unwrap();
    assert_eq!(a.len() as u64, sum.bytes);
    let zbytes = std::fs::read(&zip).unwrap();
    assert!(
        zbytes
            .windows(a.len().min(4096))
            .any(|w| w == &a[a.len() - 4096..])
    );
    // The clip plays: every frame decodes.
    assert_eq!(ffprobe_frames(&dir.join(CLIP)), 100);
    // The README tells how to verify, and OpenSSL agrees with the signature.
    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    assert!(readme.contains("roeh-verify --key"));
    assert!(readme.contains("openssl pkeyutl -verify -pubin -inkey site-key.pem -rawin -in checkpoint.txt -sigfile checkpoint.sig"));
    if let Ok(out) = Command::new("openssl")
        .current_dir(&dir)
        .args([
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "site-key.pem",
            "-rawin",
            "-in",
            "checkpoint.txt",
            "-sigfile",
            "checkpoint.sig",
        ])
        .output()
    {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn gaps_and_parameter_changes() {
    let t = tempfile::tempdir().unwrap();
    let opts = FixtureOptions {
        gaps: true,
        param_change: true,
    };
    let dir = t.path().join("b");
    let fx = write_fixture(t.path(), &dir, BundleForm::Directory, opts).unwrap();
    let v = verify(&dir, Some(&fx.key.public()));
    let Verdict::OkWithGaps {
        gaps,
        key_pinned,
        summary,
    } = &v
    else {
        panic!("{v}");
    };
    assert!(key_pinned);
    assert_eq!(gaps.len(), 2);
    assert!(gaps[0].proven && gaps[0].end.is_some());
    assert!(!gaps[1].proven && gaps[1].end.is_none());
    assert_eq!(summary.seqs, (3, 6));
    let text = v.to_string();
    assert_eq!(text.lines().next(), Some("OK WITH DECLARED GAPS"));
    assert!(text.contains("gap 41") && text.contains("gap 42") && text.contains("camera_offline"));
    // Two sample entries, switching at the new run.
    let clip = std::fs::read(dir.join(CLIP)).unwrap();
    let track = roeh_mp4::read_video_track(&clip).unwrap();
    assert_eq!(track.params.len(), 2);
    assert_eq!(track.samples[39].entry, 0);
    assert_eq!(track.samples[40].entry, 1);
    assert_eq!(ffprobe_frames(&dir.join(CLIP)), 100);
    // Gaps without parameter change, as a ZIP.
    let t2 = tempfile::tempdir().unwrap();
    let zip = t2.path().join("b.zip");
    let fx = write_fixture(
        t2.path(),
        &zip,
        BundleForm::Zip,
        FixtureOptions {
            gaps: true,
            param_change: false,
        },
    )
    .unwrap();
    assert!(matches!(
        verify(&zip, Some(&fx.key.public())),
        Verdict::OkWithGaps { .. }
    ));
    assert!(matches!(
        verify(&zip, None),
        Verdict::OkWithGaps {
            key_pinned: false,
            ..
        }
    ));
}

#[test]
fn another_key_fails_and_a_bad_key_file_is_unusable() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("b");
    write_fixture(
        t.path(),
        &dir,
        BundleForm::Directory,
        FixtureOptions::default(),
    )
    .unwrap();
    let other = SiteKey::from_seed(&[1; 32]).public();
    let v = verify(&dir, Some(&other));
    let Verdict::Failed { at, .. } = &v else {
        panic!("{v}")
    };
    assert_eq!(at, "checkpoint");
    assert!(v.to_string().starts_with("FAILED: checkpoint: "));
    std::fs::write(dir.join("site-key.pem"), "not a key").unwrap();
    let e = verify_bundle(&dir, None, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn writing_refuses_existing_output_and_altered_footage() {
    let t = tempfile::tempdir().unwrap();
    let fx = fixture(t.path(), FixtureOptions::default()).unwrap();
    let out = t.path().join("exists");
    std::fs::create_dir(&out).unwrap();
    let e = write_bundle(&fx.input, &out, BundleForm::Directory, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let f = t.path().join("exists.zip");
    std::fs::write(&f, b"x").unwrap();
    let e = write_bundle(&fx.input, &f, BundleForm::Zip, &mut |_, _| {}).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&f).unwrap(), b"x");

    // One byte of segment seq 5 changed on disk: refused, naming it, nothing left behind.
    let seg = &fx.input.segments[2];
    let mut data = std::fs::read(&seg.path).unwrap();
    data[100] ^= 1;
    std::fs::write(&seg.path, &data).unwrap();
    for (form, name) in [(BundleForm::Directory, "d"), (BundleForm::Zip, "z.zip")] {
        let out = t.path().join(name);
        let e = write_bundle(&fx.input, &out, form, &mut |_, _| {}).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DataLoss);
        assert!(e.to_string().contains("seq 5"), "{e}");
        assert!(!out.exists());
    }
    // A truncated one too.
    data.truncate(50);
    std::fs::write(&seg.path, &data).unwrap();
    let e = write_bundle(
        &fx.input,
        &t.path().join("d2"),
        BundleForm::Directory,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("seq 5"), "{e}");
}

#[test]
fn consistency_of_checkpoints() {
    let key = SiteKey::from_seed(&[3; 32]);
    let mut tree = MerkleTree::new();
    let sign = |tree: &MerkleTree, size: u64, key: &SiteKey| {
        let cp = Checkpoint {
            origin: "roeh:site".into(),
            size,
            root: tree.root_at(size).unwrap(),
            time: roeh_domain::WallTime(1_800_000_000_000_000 + size as i64),
            key_id: key.id(),
        };
        let s = cp.sign(key).unwrap();
        (s.text.into_bytes(), s.signature.to_vec())
    };
    for i in 0..40u8 {
        tree.push([i; 32]);
    }
    let proof_json = |tree: &MerkleTree, a: u64, b: u64| {
        let p: Vec<String> = tree
            .consistency_proof(a, b)
            .unwrap()
            .iter()
            .map(hex::encode)
            .collect();
        serde_json::to_vec(&serde_json::json!({"from": a, "to": b, "proof": p})).unwrap()
    };
    let pk = key.public();
    let (o_txt, o_sig) = sign(&tree, 13, &key);
    let (n_txt, n_sig) = sign(&tree, 40, &key);
    let ok = verify_consistency(
        &pk,
        &o_txt,
        &o_sig,
        &n_txt,
        &n_sig,
        &proof_json(&tree, 13, 40),
    )
    .unwrap();
    assert!(
        matches!(
            ok,
            Consistency::Consistent {
                old_size: 13,
                new_size: 40,
                ..
            }
        ),
        "{ok}"
    );
    assert!(ok.to_string().starts_with("OK\n"));
    assert_eq!(ok.exit_code(), 0);

    // Rolled back: the "new" checkpoint is the older one.
    let r = verify_consistency(
        &pk,
        &n_txt,
        &n_sig,
        &o_txt,
        &o_sig,
        &proof_json(&tree, 13, 40),
    )
    .unwrap();
    assert!(
        matches!(
            r,
            Consistency::Rollback {
                old_size: 40,
                new_size: 13
            }
        ),
        "{r}"
    );
    assert!(r.to_string().starts_with("FAILED: rollback: "));
    assert_eq!(r.exit_code(), 1);

    // A fork: a different history of the same size signed by the same key.
    let mut forked = MerkleTree::new();
    for i in 0..40u8 {
        forked.push(if i == 5 { [0xee; 32] } else { [i; 32] });
    }
    let (f_txt, f_sig) = sign(&forked, 40, &key);
    let f = verify_consistency(
        &pk,
        &o_txt,
        &o_sig,
        &f_txt,
        &f_sig,
        &proof_json(&forked, 13, 40),
    )
    .unwrap();
    assert!(matches!(f, Consistency::Fork { .. }), "{f}");
    assert!(f.to_string().starts_with("FAILED: fork: "));
    // Same size, different roots: a fork too.
    let (g_txt, g_sig) = sign(&forked, 13, &key);
    let g = verify_consistency(
        &pk,
        &o_txt,
        &o_sig,
        &g_txt,
        &g_sig,
        &proof_json(&tree, 13, 13),
    )
    .unwrap();
    assert!(matches!(g, Consistency::Fork { .. }), "{g}");

    // Proof for other sizes; another key; a tampered signature.
    let p = verify_consistency(
        &pk,
        &o_txt,
        &o_sig,
        &n_txt,
        &n_sig,
        &proof_json(&tree, 12, 40),
    )
    .unwrap();
    assert!(
        matches!(&p, Consistency::Failed { at, .. } if at == "proof"),
        "{p}"
    );
    let other = SiteKey::from_seed(&[4; 32]);
    let (x_txt, x_sig) = sign(&tree, 40, &other);
    let x = verify_consistency(
        &pk,
        &o_txt,
        &o_sig,
        &x_txt,
        &x_sig,
        &proof_json(&tree, 13, 40),
    )
    .unwrap();
    assert!(
        matches!(&x, Consistency::Failed { at, .. } if at == "new checkpoint"),
        "{x}"
    );
    let mut bad = o_sig.clone();
    bad[0] ^= 1;
    let y = verify_consistency(
        &pk,
        &o_txt,
        &bad,
        &n_txt,
        &n_sig,
        &proof_json(&tree, 13, 40),
    )
    .unwrap();
    assert!(
        matches!(&y, Consistency::Failed { at, .. } if at == "old checkpoint"),
        "{y}"
    );
    // An unusable proof file.
    for junk in [
        &b""[..],
        b"{}",
        b"{\"from\":1,\"to\":2,\"proof\":[\"zz\"]}",
        b"[1,2]",
    ] {
        assert!(verify_consistency(&pk, &o_txt, &o_sig, &n_txt, &n_sig, junk).is_err());
    }
}
