//! Exit codes and output of the `roeh-verify` binary on real bundles.
#![allow(clippy::unwrap_used)]

#[path = "../../roeh-evidence/tests/fixture/mod.rs"]
mod fixture;

use fixture::{FixtureOptions, write_fixture};
use roeh_evidence::bundle::BundleForm;
use roeh_evidence::checkpoint::Checkpoint;
use roeh_evidence::keys::SiteKey;
use roeh_evidence::merkle::MerkleTree;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roeh-verify"));
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn first_line(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

#[test]
fn verdicts_and_exit_codes() {
    let t = tempfile::tempdir().unwrap();
    let ok = t.path().join("ok");
    let w1 = t.path().join("w1");
    std::fs::create_dir(&w1).unwrap();
    let fx = write_fixture(&w1, &ok, BundleForm::Directory, FixtureOptions::default()).unwrap();
    let pem = t.path().join("site.pem");
    std::fs::write(&pem, fx.key.public().to_pem()).unwrap();

    // OK, pinned and unpinned.
    let o = run(&[&"--key", &pem, &ok]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(first_line(&o), "OK");
    assert!(!String::from_utf8_lossy(&o.stdout).contains("not pinned"));
    let o = run(&[&ok]);
    assert_eq!(code(&o), 0);
    assert_eq!(first_line(&o), "OK");
    assert!(String::from_utf8_lossy(&o.stdout).contains("not pinned"));
    let o = run(&[&"--quiet", &ok]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "OK\n");

    // OK WITH DECLARED GAPS, as a ZIP.
    let w2 = t.path().join("w2");
    std::fs::create_dir(&w2).unwrap();
    let gz = t.path().join("gaps.zip");
    let fx2 = write_fixture(
        &w2,
        &gz,
        BundleForm::Zip,
        FixtureOptions {
            gaps: true,
            param_change: false,
        },
    )
    .unwrap();
    let pem2 = t.path().join("site2.pem");
    std::fs::write(&pem2, fx2.key.public().to_pem()).unwrap();
    let o = run(&[&"--key", &pem2, &gz]);
    assert_eq!(code(&o), 0);
    assert_eq!(first_line(&o), "OK WITH DECLARED GAPS");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("gap 41") && out.contains("gap 42"), "{out}");

    // FAILED: footage altered in segment seq 4.
    let clip = ok.join("clip.mp4");
    let mut bytes = std::fs::read(&clip).unwrap();
    let footage: u64 = fx.input.segments.iter().map(|s| s.segment.bytes).sum();
    let header = bytes.len() - footage as usize;
    let at = header + fx.input.segments[0].segment.bytes as usize + 10;
    bytes[at] ^= 0x40;
    std::fs::write(&clip, &bytes).unwrap();
    let o = run(&[&"--key", &pem, &ok]);
    assert_eq!(code(&o), 1);
    let l = first_line(&o);
    assert!(
        l.starts_with("FAILED: camera ") && l.contains(" seq 4 "),
        "{l}"
    );

    // FAILED: another key pinned.
    let other = t.path().join("other.pem");
    std::fs::write(&other, SiteKey::from_seed(&[2; 32]).public().to_pem()).unwrap();
    let o = run(&[&"--key", &other, &gz]);
    assert_eq!(code(&o), 1);
    assert!(first_line(&o).starts_with("FAILED: checkpoint: "));

    // Unusable: no such path, not a bundle, bad key file, wrong format, usage errors.
    let o = run(&[&t.path().join("nope")]);
    assert_eq!(code(&o), 2);
    assert!(first_line(&o).starts_with("UNUSABLE INPUT: "));
    let junk = t.path().join("junk.zip");
    std::fs::write(&junk, b"PK\x03\x04 not really").unwrap();
    assert_eq!(code(&run(&[&junk])), 2);
    let badkey = t.path().join("bad.pem");
    std::fs::write(
        &badkey,
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    assert_eq!(code(&run(&[&"--key", &badkey, &gz])), 2);
    let m = ok.join("manifest.json");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replace("roeh-bundle/v1", "roeh-bundle/v9")).unwrap();
    let o = run(&[&ok]);
    assert_eq!(code(&o), 2);
    assert!(
        first_line(&o).contains("unsupported format"),
        "{}",
        first_line(&o)
    );
    assert_eq!(code(&run(&[])), 2);
    assert_eq!(code(&run(&[&"--bogus", &gz])), 2);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn consistency_exit_codes() {
    let t = tempfile::tempdir().unwrap();
    let p = |n: &str| t.path().join(n);
    let key = SiteKey::from_seed(&[5; 32]);
    std::fs::write(p("k.pem"), key.public().to_pem()).unwrap();
    let mut tree = MerkleTree::new();
    for i in 0..20u8 {
        tree.push([i; 32]);
    }
    let write_cp = |tree: &MerkleTree, size: u64, name: &str| {
        let cp = Checkpoint {
            origin: "roeh:site".into(),
            size,
            root: tree.root_at(size).unwrap(),
            time: roeh_domain::WallTime(1_800_000_000_000_000),
            key_id: key.id(),
        };
        let s = cp.sign(&key).unwrap();
        std::fs::write(p(&format!("{name}.txt")), s.text).unwrap();
        std::fs::write(p(&format!("{name}.sig")), s.signature).unwrap();
    };
    write_cp(&tree, 7, "old");
    write_cp(&tree, 20, "new");
    let proof: Vec<String> = tree
        .consistency_proof(7, 20)
        .unwrap()
        .iter()
        .map(|h| format!("\"{}\"", hex(h)))
        .collect();
    std::fs::write(
        p("proof.json"),
        format!("{{\"from\":7,\"to\":20,\"proof\":[{}]}}", proof.join(",")),
    )
    .unwrap();
    let cons = |old: &str, new: &str, proof: &Path| {
        run(&[
            &"consistency",
            &"--key",
            &p("k.pem"),
            &p(&format!("{old}.txt")),
            &p(&format!("{old}.sig")),
            &p(&format!("{new}.txt")),
            &p(&format!("{new}.sig")),
            &proof,
        ])
    };
    let o = cons("old", "new", &p("proof.json"));
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(first_line(&o), "OK");
    let o = cons("new", "old", &p("proof.json"));
    assert_eq!(code(&o), 1);
    assert!(first_line(&o).starts_with("FAILED: rollback: "));
    let mut forked = MerkleTree::new();
    for i in 0..20u8 {
        forked.push(if i == 2 { [0xaa; 32] } else { [i; 32] });
    }
    write_cp(&forked, 20, "fork");
    let o = cons("old", "fork", &p("proof.json"));
    assert_eq!(code(&o), 1);
    assert!(
        first_line(&o).starts_with("FAILED: fork: "),
        "{}",
        first_line(&o)
    );
    std::fs::write(p("junk.json"), "{").unwrap();
    assert_eq!(code(&cons("old", "new", &p("junk.json"))), 2);
}
