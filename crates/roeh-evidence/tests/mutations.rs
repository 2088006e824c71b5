//! Tampering with real bundles: every change an accident or an attacker could make must end in
//! `FAILED` or unusable input, never `OK`, never a panic; where the change is a segment's, the
//! verdict names that segment. Also hostile containers: garbage, oversized, duplicate and
//! path-traversal entries.
#![allow(clippy::unwrap_used)]

mod fixture;

use fixture::{FixtureOptions, assert_ok_unpinned, write_fixture};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use roeh_domain::{CodecParams, WallTime};
use roeh_evidence::bundle::{
    BundleForm, CHECKPOINT_SIG, CHECKPOINT_TXT, CLIP, CUSTODY, MANIFEST, README, SITE_KEY,
    clip_header, clip_samples, readme_text,
};
use roeh_evidence::chain::chain_link;
use roeh_evidence::checkpoint::Checkpoint;
use roeh_evidence::keys::{PublicKey, SiteKey};
use roeh_evidence::manifest::{FrameEntry, Manifest};
use roeh_evidence::verify::{Verdict, verify_bundle};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A bundle held in memory, with its clip split into frames so it can be rewritten
/// consistently, as an attacker would.
#[derive(Clone)]
struct Image {
    entries: BTreeMap<String, Vec<u8>>,
    m: Manifest,
    frames: Vec<Vec<Vec<u8>>>,
    params: Vec<CodecParams>,
    entry_of: Vec<usize>,
}

impl Image {
    fn load(dir: &Path) -> Image {
        let mut entries = BTreeMap::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            entries.insert(
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            );
        }
        let m = Manifest::parse(&entries[MANIFEST]).unwrap();
        let clip = &entries[CLIP];
        let track = roeh_mp4::read_video_track(clip).unwrap();
        let mut frames = Vec::new();
        let mut entry_of = Vec::new();
        let mut k = 0;
        for s in &m.segments {
            entry_of.push(track.samples[k].entry);
            let mut f = Vec::new();
            for _ in &s.frame_index {
                f.push(track.sample_data(clip, k).unwrap().to_vec());
                k += 1;
            }
            frames.push(f);
        }
        Image {
            entries,
            m,
            frames,
            params: track.params.clone(),
            entry_of,
        }
    }

    fn header_len(&self) -> usize {
        let footage: usize = self.frames.iter().flatten().map(Vec::len).sum();
        self.entries[CLIP].len() - footage
    }

    /// Rebuilds clip.mp4 from the manifest and the frames; leaves it as is where no canonical
    /// clip exists (the verifier must then fail on the mismatch).
    fn rebuild_clip(&mut self) {
        let Ok(samples) = clip_samples(&self.m.segments, &self.entry_of) else {
            return;
        };
        let refs: Vec<&CodecParams> = self.params.iter().collect();
        let Ok(h) = clip_header(self.m.created_at, &refs, &samples) else {
            return;
        };
        let mut clip = h.bytes;
        for f in self.frames.iter().flatten() {
            clip.extend_from_slice(f);
        }
        self.entries.insert(CLIP.into(), clip);
    }

    fn write_manifest(&mut self) {
        self.entries.insert(MANIFEST.into(), self.m.to_json());
    }

    /// After frames of segment `i` changed: an index, length and hash that match them, pts
    /// made plausible again, and (optionally) chain links recomputed from `i` on.
    fn fix_segment(&mut self, i: usize, relink: bool) {
        let s = &mut self.m.segments[i];
        let mut off = 0u64;
        for (j, (e, d)) in s.frame_index.iter_mut().zip(&self.frames[i]).enumerate() {
            e.offset = off;
            e.size = d.len() as u32;
            e.pts_offset = j as i64 * 9000;
            off += d.len() as u64;
        }
        s.frames = s.frame_index.len() as u32;
        s.duration_pts = s.frames as i64 * 9000;
        s.bytes = off;
        let mut h = Sha256::new();
        for d in &self.frames[i] {
            h.update(d);
        }
        s.sha256 = h.finalize().into();
        if relink {
            self.relink(i);
        }
        self.write_manifest();
        self.rebuild_clip();
    }

    fn relink(&mut self, from: usize) {
        for k in from..self.m.segments.len() {
            if k > from {
                self.m.segments[k].prev_chain = self.m.segments[k - 1].chain;
            }
            let s = &mut self.m.segments[k];
            s.chain = chain_link(&s.prev_chain, &s.link_input());
        }
    }

    fn write(&self, out: &Path, form: BundleForm) {
        match form {
            BundleForm::Directory => {
                std::fs::create_dir(out).unwrap();
                for (n, b) in &self.entries {
                    std::fs::write(out.join(n), b).unwrap();
                }
            }
            BundleForm::Zip => write_zip(
                out,
                self.entries.iter().map(|(n, b)| (n.as_str(), b.as_slice())),
            ),
        }
    }
}

fn write_zip<'a>(out: &Path, entries: impl Iterator<Item = (&'a str, &'a [u8])>) {
    let f = std::fs::File::create_new(out).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (n, b) in entries {
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file(n, o).unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap();
}

struct Case {
    image: Image,
    /// Seq the verdict must name, where the change is one segment's.
    expect_seq: Option<u64>,
    /// Whether the change is only caught with a pinned key (a wholly re-signed bundle).
    pinned_only: bool,
    /// The mutation, for messages.
    what: String,
    /// A truncation of the written file (clip or ZIP), if any.
    truncate_zip: Option<f64>,
}

fn shift(t: &mut WallTime, rng: &mut StdRng) {
    let d = rng.random_range(1..3_600_000_000i64);
    if rng.random_bool(0.5) {
        t.0 += d;
    } else {
        t.0 -= d;
    }
}

fn flip(h: &mut [u8; 32], rng: &mut StdRng) {
    h[rng.random_range(0..32)] ^= 1 << rng.random_range(0..8);
}

fn mutate(base: &Image, rng: &mut StdRng, other_key: &SiteKey, site_key: &SiteKey) -> Case {
    let mut im = base.clone();
    let n = im.m.segments.len();
    let mut expect_seq = None;
    let mut pinned_only = false;
    let mut truncate_zip = None;
    let kind = rng.random_range(0..22);
    let what: String;
    match kind {
        0..=3 => {
            // Flip a bit of a frame in the mdat.
            let h = im.header_len();
            let clip = im.entries.get_mut(CLIP).unwrap();
            let pos = rng.random_range(h..clip.len());
            clip[pos] ^= 1 << rng.random_range(0..8);
            let mut at = h;
            for s in &im.m.segments {
                at += s.bytes as usize;
                if pos < at {
                    expect_seq = Some(s.seq);
                    break;
                }
            }
            what = format!("flip mdat byte {pos}");
        }
        4 | 5 => {
            // Flip a bit of the header (ftyp, moov with the decoder configuration, mdat header).
            let h = im.header_len();
            let pos = rng.random_range(0..h);
            im.entries.get_mut(CLIP).unwrap()[pos] ^= 1 << rng.random_range(0..8);
            what = format!("flip header byte {pos}");
        }
        6 => {
            let i = rng.random_range(0..n);
            let j = rng.random_range(0..im.frames[i].len());
            if im.frames[i].len() == 1 {
                let f = im.frames[i][0].clone();
                let e = im.m.segments[i].frame_index[0];
                im.frames[i].push(f);
                im.m.segments[i].frame_index.push(e);
            } else {
                im.frames[i].remove(j);
                im.m.segments[i].frame_index.remove(j);
            }
            let relink = rng.random_bool(0.5);
            im.fix_segment(i, relink);
            expect_seq = Some(im.m.segments[i].seq);
            what = format!("drop frame {j} of segment {i} (relink {relink})");
        }
        7 => {
            let i = rng.random_range(0..n);
            let len = im.frames[i].len();
            let a = rng.random_range(0..len);
            let b = (a + rng.random_range(1..len)) % len;
            im.frames[i].swap(a, b);
            im.m.segments[i].frame_index.swap(a, b);
            let relink = rng.random_bool(0.5);
            im.fix_segment(i, relink);
            expect_seq = Some(im.m.segments[i].seq);
            what = format!("swap frames {a} {b} of segment {i}");
        }
        8 => {
            let i = rng.random_range(0..n);
            let j = rng.random_range(0..im.frames[i].len());
            let f = im.frames[i][j].clone();
            let e = im.m.segments[i].frame_index[j];
            im.frames[i].insert(j, f);
            im.m.segments[i].frame_index.insert(j, e);
            im.fix_segment(i, true);
            expect_seq = Some(im.m.segments[i].seq);
            what = format!("duplicate frame {j} of segment {i}");
        }
        9 => {
            // Insert a frame taken from another segment.
            let i = rng.random_range(0..n);
            let src = (i + 1) % n;
            let j = rng.random_range(0..im.frames[src].len());
            let f = im.frames[src][j].clone();
            let at = rng.random_range(1..=im.frames[i].len());
            im.frames[i].insert(at, f.clone());
            im.m.segments[i].frame_index.insert(
                at,
                FrameEntry {
                    offset: 0,
                    size: f.len() as u32,
                    pts_offset: 0,
                    is_key: false,
                },
            );
            im.fix_segment(i, true);
            expect_seq = Some(im.m.segments[i].seq);
            what = format!("insert foreign frame into segment {i} at {at}");
        }
        10 => {
            let i = rng.random_range(0..n);
            im.m.segments.remove(i);
            im.frames.remove(i);
            im.entry_of.remove(i);
            if i > 0 && i < n - 1 {
                expect_seq = Some(base.m.segments[i + 1].seq);
            }
            im.write_manifest();
            im.rebuild_clip();
            what = format!("drop segment {i}");
        }
        11 => {
            let i = rng.random_range(0..n - 1);
            im.m.segments.swap(i, i + 1);
            im.frames.swap(i, i + 1);
            im.entry_of.swap(i, i + 1);
            im.write_manifest();
            im.rebuild_clip();
            what = format!("swap segments {i} {}", i + 1);
        }
        12 => {
            let i = rng.random_range(0..n);
            im.m.segments.insert(i, im.m.segments[i].clone());
            im.frames.insert(i, im.frames[i].clone());
            im.entry_of.insert(i, im.entry_of[i]);
            im.write_manifest();
            im.rebuild_clip();
            what = format!("duplicate segment {i}");
        }
        13 => {
            // A fabricated segment: a copy renumbered and relinked into the chain.
            let i = rng.random_range(0..n);
            let mut s = im.m.segments[i].clone();
            s.seq = im.m.segments[n - 1].seq + 1;
            s.prev_chain = im.m.segments[n - 1].chain;
            s.chain = chain_link(&s.prev_chain, &s.link_input());
            let seq = s.seq;
            im.m.segments.push(s);
            im.frames.push(im.frames[i].clone());
            im.entry_of.push(im.entry_of[i]);
            im.write_manifest();
            im.rebuild_clip();
            expect_seq = Some(seq);
            what = format!("append a copy of segment {i} as seq {seq}");
        }
        14 => {
            let clip = im.entries.get_mut(CLIP).unwrap();
            let keep = rng.random_range(0..clip.len());
            clip.truncate(keep);
            what = format!("truncate clip to {keep}");
        }
        15 => {
            let i = rng.random_range(0..n);
            let field = rng.random_range(0..6);
            match field {
                0 => {
                    shift(&mut im.m.segments[i].start, rng);
                    expect_seq = Some(im.m.segments[i].seq);
                }
                1 => {
                    shift(&mut im.m.segments[i].end, rng);
                    expect_seq = Some(im.m.segments[i].seq);
                }
                2 => shift(&mut im.m.requested.start, rng),
                3 => shift(&mut im.m.requested.end, rng),
                4 => shift(&mut im.m.checkpoint.time, rng),
                _ => match im.m.gaps.iter_mut().find(|g| g.end.is_some()) {
                    Some(g) if rng.random_bool(0.5) => shift(&mut g.start, rng),
                    Some(g) => shift(g.end.as_mut().unwrap(), rng),
                    None => shift(&mut im.m.requested.start, rng),
                },
            }
            im.write_manifest();
            what = format!("edit time {field} of segment {i}");
        }
        16 => {
            let i = rng.random_range(0..n);
            let field = rng.random_range(0..9);
            let s = &mut im.m.segments[i];
            let mut seg_level = true;
            match field {
                0 => flip(&mut s.sha256, rng),
                1 => flip(&mut s.chain, rng),
                2 => flip(&mut s.prev_chain, rng),
                3 => {
                    let k = rng.random_range(0..s.proof.len());
                    flip(&mut s.proof[k], rng);
                }
                4 => {
                    let j = rng.random_range(0..s.frame_index.len());
                    let e = &mut s.frame_index[j];
                    match rng.random_range(0..3) {
                        0 => e.pts_offset += rng.random_range(1..1000),
                        1 => e.is_key = !e.is_key,
                        _ => e.size ^= 1,
                    }
                }
                5 => {
                    seg_level = false;
                    flip(&mut im.m.checkpoint.root, rng);
                }
                6 => {
                    seg_level = false;
                    let k = rng.random_range(0..im.m.custody.proof.len());
                    flip(&mut im.m.custody.proof[k], rng);
                }
                7 => {
                    seg_level = false;
                    match im.m.gaps.iter_mut().find(|g| g.proof.is_some()) {
                        Some(g) => {
                            let p = g.proof.as_mut().unwrap();
                            let k = rng.random_range(0..p.len());
                            flip(&mut p[k], rng);
                        }
                        None => im.m.custody.leaf_index += 1,
                    }
                }
                _ => s.leaf_index = s.leaf_index.wrapping_add(rng.random_range(1..5)),
            }
            if seg_level {
                expect_seq = Some(im.m.segments[i].seq);
            }
            im.write_manifest();
            what = format!("edit hash field {field} of segment {i}");
        }
        17 => {
            // The checkpoint re-signed by another key; sometimes with the key file and the
            // manifest changed to match (then only a pinned key catches it).
            let cp = Checkpoint::parse(&im.entries[CHECKPOINT_TXT]).unwrap();
            let forged = Checkpoint {
                key_id: other_key.id(),
                ..cp
            };
            let s = forged.sign(other_key).unwrap();
            im.entries
                .insert(CHECKPOINT_TXT.into(), s.text.into_bytes());
            im.entries
                .insert(CHECKPOINT_SIG.into(), s.signature.to_vec());
            if rng.random_bool(0.5) {
                im.entries
                    .insert(SITE_KEY.into(), other_key.public().to_pem().into_bytes());
                im.m.checkpoint.key_id = other_key.id();
                im.write_manifest();
                pinned_only = true;
            }
            what = "checkpoint re-signed by another key".into();
        }
        18 => {
            // A checkpoint of another root, signed by the site's own key (as if the site had
            // signed another tree); sometimes with the manifest following it.
            let cp = Checkpoint::parse(&im.entries[CHECKPOINT_TXT]).unwrap();
            let mut root = cp.root;
            flip(&mut root, rng);
            let forged = Checkpoint { root, ..cp };
            let s = forged.sign(site_key).unwrap();
            im.entries
                .insert(CHECKPOINT_TXT.into(), s.text.into_bytes());
            im.entries
                .insert(CHECKPOINT_SIG.into(), s.signature.to_vec());
            if rng.random_bool(0.5) {
                im.m.checkpoint.root = root;
                im.write_manifest();
                expect_seq = Some(im.m.segments[0].seq);
            }
            what = "checkpoint of another root".into();
        }
        19 => {
            if rng.random_bool(0.5) {
                im.entries
                    .insert(SITE_KEY.into(), other_key.public().to_pem().into_bytes());
            } else {
                let mut pem = im.entries[SITE_KEY].clone();
                let k = rng.random_range(30..pem.len() - 30);
                pem[k] = pem[k].wrapping_add(1);
                im.entries.insert(SITE_KEY.into(), pem);
            }
            what = "replace the key file".into();
        }
        20 => {
            // Edit the custody event or the case.
            if rng.random_bool(0.5) {
                let text = String::from_utf8(im.entries[CUSTODY].clone()).unwrap();
                im.entries.insert(
                    CUSTODY.into(),
                    text.replace("CASE-2026-0042", "CASE-2026-0043")
                        .into_bytes(),
                );
            } else {
                im.m.case = "CASE-2026-0043".into();
                im.write_manifest();
            }
            what = "edit the case".into();
        }
        _ => {
            if !im.m.gaps.is_empty() && rng.random_bool(0.5) {
                let k = rng.random_range(0..im.m.gaps.len());
                im.m.gaps.remove(k);
                im.write_manifest();
                what = format!("remove gap {k}");
            } else {
                truncate_zip = Some(rng.random_range(0.0..1.0));
                what = "truncate the written bundle file".into();
            }
        }
    }
    Case {
        image: im,
        expect_seq,
        pinned_only,
        what,
        truncate_zip,
    }
}

fn base_bundle(t: &Path, opts: FixtureOptions) -> (Image, SiteKey, PathBuf) {
    let work = t.join(format!("work-{}-{}", opts.gaps, opts.param_change));
    std::fs::create_dir(&work).unwrap();
    let dir = t.join(format!("base-{}-{}", opts.gaps, opts.param_change));
    let fx = write_fixture(&work, &dir, BundleForm::Directory, opts).unwrap();
    (Image::load(&dir), fx.key, dir)
}

#[test]
fn a_thousand_tampers_all_fail() {
    let t = tempfile::tempdir().unwrap();
    let other = SiteKey::from_seed(&[0x55; 32]);
    let bases = [
        base_bundle(t.path(), FixtureOptions::default()),
        base_bundle(
            t.path(),
            FixtureOptions {
                gaps: true,
                param_change: true,
            },
        ),
    ];
    let mut rng = StdRng::seed_from_u64(0x0005_b0d1);
    let mut named = 0;
    let mut failed_verdicts = 0;
    for round in 0..1200 {
        let (base, key, _) = &bases[round % 2];
        let pk: PublicKey = key.public();
        let case = mutate(base, &mut rng, &other, key);
        let form = if case.truncate_zip.is_some() || rng.random_bool(0.5) {
            BundleForm::Zip
        } else {
            BundleForm::Directory
        };
        let out = t.path().join(format!("m{round}"));
        case.image.write(&out, form);
        if let Some(frac) = case.truncate_zip {
            let len = std::fs::metadata(&out).unwrap().len();
            let f = std::fs::OpenOptions::new().write(true).open(&out).unwrap();
            f.set_len((len as f64 * frac) as u64).unwrap();
        }
        let pinned = case.pinned_only || rng.random_bool(0.5);
        let key = pinned.then_some(&pk);
        let result = verify_bundle(&out, key, &mut |_, _| {});
        match &result {
            Ok(Verdict::Failed { at, what }) => {
                failed_verdicts += 1;
                if let Some(seq) = case.expect_seq {
                    assert!(
                        at.contains(&format!(" seq {seq} ")),
                        "round {round}: {}: expected seq {seq}, got FAILED: {at}: {what}",
                        case.what
                    );
                    named += 1;
                }
            }
            Ok(v) => panic!(
                "round {round}: {}: tampered bundle verified: {v}",
                case.what
            ),
            Err(e) => assert!(
                case.expect_seq.is_none(),
                "round {round}: {}: expected a verdict naming seq {:?}, got unusable: {e}",
                case.what,
                case.expect_seq
            ),
        }
        match form {
            BundleForm::Directory => std::fs::remove_dir_all(&out).unwrap(),
            BundleForm::Zip => std::fs::remove_file(&out).unwrap(),
        }
        // Now and then, the untouched bundle still passes.
        if round % 100 == 0 {
            let (_, key, dir) = &bases[round % 2];
            assert!(
                verify_bundle(dir, Some(&key.public()), &mut |_, _| {})
                    .unwrap()
                    .is_ok()
            );
        }
    }
    eprintln!("named {named} failed {failed_verdicts}");
    assert!(
        named > 300,
        "only {named} verdicts were checked for the segment they name"
    );
    assert!(
        failed_verdicts > 800,
        "only {failed_verdicts} FAILED verdicts"
    );
}

#[test]
fn the_intact_bundle_passes_every_time() {
    let t = tempfile::tempdir().unwrap();
    for opts in [
        FixtureOptions::default(),
        FixtureOptions {
            gaps: true,
            param_change: true,
        },
    ] {
        let (im, key, _) = base_bundle(t.path(), opts);
        for (i, form) in [BundleForm::Directory, BundleForm::Zip]
            .into_iter()
            .enumerate()
        {
            // Re-written from memory: what the mutation test starts from is a valid bundle.
            let out = t.path().join(format!("again-{}-{i}", opts.gaps));
            let mut im2 = im.clone();
            im2.rebuild_clip();
            assert_eq!(im2.entries[CLIP], im.entries[CLIP]);
            im2.write(&out, form);
            for _ in 0..3 {
                assert!(
                    verify_bundle(&out, Some(&key.public()), &mut |_, _| {})
                        .unwrap()
                        .is_ok()
                );
                assert!(verify_bundle(&out, None, &mut |_, _| {}).unwrap().is_ok());
            }
        }
    }
}

#[test]
fn a_wholly_resigned_bundle_needs_a_pinned_key() {
    // Checkpoint, key file and manifest replaced consistently by another key over the same
    // tree: without --key this verifies (the verdict says the key was not pinned); pinned, it
    // fails.
    let t = tempfile::tempdir().unwrap();
    let (mut im, key, _) = base_bundle(t.path(), FixtureOptions::default());
    let other = SiteKey::from_seed(&[0x66; 32]);
    let cp = Checkpoint::parse(&im.entries[CHECKPOINT_TXT]).unwrap();
    let s = Checkpoint {
        key_id: other.id(),
        ..cp
    }
    .sign(&other)
    .unwrap();
    im.entries
        .insert(CHECKPOINT_TXT.into(), s.text.into_bytes());
    im.entries
        .insert(CHECKPOINT_SIG.into(), s.signature.to_vec());
    im.entries
        .insert(SITE_KEY.into(), other.public().to_pem().into_bytes());
    im.m.checkpoint.key_id = other.id();
    im.write_manifest();
    im.entries
        .insert(README.into(), readme_text(&im.m, false).into_bytes());
    let out = t.path().join("resigned");
    im.write(&out, BundleForm::Directory);
    let v = verify_bundle(&out, None, &mut |_, _| {}).unwrap();
    assert_ok_unpinned(&v);
    let v = verify_bundle(&out, Some(&key.public()), &mut |_, _| {}).unwrap();
    assert!(
        matches!(&v, Verdict::Failed { at, .. } if at == "checkpoint"),
        "{v}"
    );
}

#[test]
fn an_edited_readme_fails_and_a_missing_one_is_unusable() {
    let t = tempfile::tempdir().unwrap();
    let (im, key, _) = base_bundle(t.path(), FixtureOptions::default());
    let readme = String::from_utf8(im.entries[README].clone()).unwrap();
    let line = |prefix: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("README has a {prefix} line:\n{readme}"))
            .to_string()
    };
    // What an investigator reads first: the case, the camera, the key. Each edit, and an extra
    // line or a trailing space, fails at README.txt in both forms of the bundle.
    let edits = [
        (line("Case:"), "Case:       \"TLV-2026-999999\"".to_string()),
        (
            line("Camera:"),
            "Camera:     00000000-0000-0000-0000-000000000000".to_string(),
        ),
        (
            line("Checkpoint:"),
            line("Checkpoint:").replace("key ", "key 0"),
        ),
        (line("Case:"), format!("{} ", line("Case:"))),
        (
            line("Case:"),
            format!("{}\nCase:       another", line("Case:")),
        ),
    ];
    for (i, (from, to)) in edits.iter().enumerate() {
        assert_ne!(from, to);
        let mut bad = im.clone();
        bad.entries
            .insert(README.into(), readme.replacen(from, to, 1).into_bytes());
        for (j, form) in [BundleForm::Directory, BundleForm::Zip]
            .into_iter()
            .enumerate()
        {
            let out = t.path().join(format!("readme-{i}-{j}"));
            bad.write(&out, form);
            for k in [Some(key.public()), None] {
                let v = verify_bundle(&out, k.as_ref(), &mut |_, _| {}).unwrap();
                assert!(
                    matches!(&v, Verdict::Failed { at, .. } if at == README),
                    "edit {to:?}: {v}"
                );
            }
        }
    }
    let mut none = im.clone();
    none.entries.remove(README);
    let out = t.path().join("no-readme");
    none.write(&out, BundleForm::Directory);
    assert_unusable(&out, "a bundle without README.txt");
}

/// Unusable input: `Err`, never a panic, never a verdict.
fn assert_unusable(p: &Path, why: &str) {
    match verify_bundle(p, None, &mut |_, _| {}) {
        Err(_) => {}
        Ok(v) => panic!("{why}: expected unusable input, got {v}"),
    }
}

#[test]
fn hostile_containers_are_unusable() {
    let t = tempfile::tempdir().unwrap();
    let (im, _key, dir) = base_bundle(t.path(), FixtureOptions::default());
    let mut rng = StdRng::seed_from_u64(99);
    let mut n = 0;
    let mut next = |t: &Path| {
        n += 1;
        t.join(format!("h{n}"))
    };

    // Not bundles.
    let p = next(t.path());
    std::fs::write(&p, b"").unwrap();
    assert_unusable(&p, "empty file");
    let p = next(t.path());
    std::fs::create_dir(&p).unwrap();
    assert_unusable(&p, "empty directory");
    assert_unusable(&t.path().join("does-not-exist"), "missing path");
    for _ in 0..50 {
        let p = next(t.path());
        let len = rng.random_range(0..4096);
        let mut junk: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if rng.random_bool(0.5) && junk.len() > 30 {
            // An end-of-central-directory signature somewhere, to get past the first check.
            let at = junk.len() - 22;
            junk[at..at + 4].copy_from_slice(b"PK\x05\x06");
        }
        std::fs::write(&p, &junk).unwrap();
        assert_unusable(&p, "random bytes");
    }

    // Missing entries.
    for name in [
        MANIFEST,
        CHECKPOINT_TXT,
        CHECKPOINT_SIG,
        SITE_KEY,
        CUSTODY,
        CLIP,
    ] {
        let mut m = im.clone();
        m.entries.remove(name);
        for form in [BundleForm::Directory, BundleForm::Zip] {
            let p = next(t.path());
            m.write(&p, form);
            assert_unusable(&p, &format!("missing {name}"));
        }
    }

    // Oversized entries (sparse files: nothing is read).
    let p = next(t.path());
    im.write(&p, BundleForm::Directory);
    std::fs::File::options()
        .write(true)
        .open(p.join(MANIFEST))
        .unwrap()
        .set_len(64 * 1024 * 1024 + 1)
        .unwrap();
    assert_unusable(&p, "oversized manifest");
    for name in [CHECKPOINT_TXT, CUSTODY, SITE_KEY] {
        let mut m = im.clone();
        m.entries.insert(name.into(), vec![b'a'; 64 * 1024 + 1]);
        for form in [BundleForm::Directory, BundleForm::Zip] {
            let p = next(t.path());
            m.write(&p, form);
            assert_unusable(&p, &format!("oversized {name}"));
        }
    }

    // Manifests: truncated, garbage, huge numbers, wrong types, other format.
    let good = String::from_utf8(im.entries[MANIFEST].clone()).unwrap();
    let mut bad: Vec<String> = Vec::new();
    for _ in 0..40 {
        let cut = rng.random_range(0..good.len() - 2);
        bad.push(good[..cut].to_string());
    }
    for _ in 0..20 {
        let len = rng.random_range(0..200);
        bad.push(
            (0..len)
                .map(|_| rng.random_range(b' '..=b'~') as char)
                .collect(),
        );
    }
    let v: serde_json::Value = serde_json::from_str(&good).unwrap();
    let edits: Vec<(&str, serde_json::Value)> = vec![
        ("/checkpoint/size", serde_json::json!(-1)),
        ("/checkpoint/size", serde_json::json!("12")),
        ("/checkpoint/size", serde_json::json!(1.5)),
        ("/segments/0/seq", serde_json::json!(null)),
        ("/segments/0/frames", serde_json::json!(4294967296u64)),
        (
            "/segments/0/start_pts",
            serde_json::json!(9223372036854775808u64),
        ),
        ("/segments/0/sha256", serde_json::json!("00")),
        (
            "/segments/0/frame_index/0",
            serde_json::json!({"offset": 0}),
        ),
        ("/segments/0/frame_index", serde_json::json!("all")),
        ("/segments", serde_json::json!({})),
        ("/gaps", serde_json::json!(null)),
        ("/requested/start", serde_json::json!(1767000000)),
        ("/created_at", serde_json::json!("yesterday")),
        ("/format", serde_json::json!("roeh-bundle/v2")),
        ("/format", serde_json::json!(1)),
    ];
    for (ptr, val) in edits {
        let mut w = v.clone();
        *w.pointer_mut(ptr).unwrap() = val;
        bad.push(serde_json::to_string(&w).unwrap());
    }
    bad.push(good.replace("\"size\":", "\"size\":1e999,\"x\":"));
    bad.push(good.replace("\"size\":", "\"size\":184467440737095516160,\"x\":"));
    bad.push("[".repeat(100_000));
    for (k, text) in bad.iter().enumerate() {
        let mut m = im.clone();
        m.entries.insert(MANIFEST.into(), text.clone().into_bytes());
        let form = if k % 2 == 0 {
            BundleForm::Directory
        } else {
            BundleForm::Zip
        };
        let p = next(t.path());
        m.write(&p, form);
        assert_unusable(&p, &format!("manifest {k}"));
    }

    // Path traversal and odd names inside a ZIP; nothing may appear outside.
    for evil in [
        "../evil.txt",
        "/abs/evil.txt",
        "a\\..\\evil.txt",
        "sub/../../evil.txt",
        "C:evil.txt",
    ] {
        let p = next(t.path());
        let mut entries: Vec<(&str, &[u8])> = im
            .entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        entries.push((evil, b"gotcha"));
        write_zip(&p, entries.into_iter());
        assert_unusable(&p, evil);
    }
    assert!(!t.path().join("evil.txt").exists());
    assert!(!Path::new("/abs/evil.txt").exists());

    // Duplicate entries: write a look-alike name and patch it into a duplicate.
    for dup in [MANIFEST, CLIP, CHECKPOINT_SIG] {
        let p = next(t.path());
        let twin = format!("{}X{}", &dup[..dup.len() - 1], "");
        let twin = &twin[..dup.len()];
        let mut entries: Vec<(&str, &[u8])> = im
            .entries
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        entries.push((twin, b"{}"));
        write_zip(&p, entries.into_iter());
        let mut bytes = std::fs::read(&p).unwrap();
        let mut i = 0;
        while i + twin.len() <= bytes.len() {
            if &bytes[i..i + twin.len()] == twin.as_bytes() {
                bytes[i..i + twin.len()].copy_from_slice(dup.as_bytes());
            }
            i += 1;
        }
        std::fs::write(&p, &bytes).unwrap();
        assert_unusable(&p, &format!("duplicate {dup}"));
    }

    // A compressed clip.
    let p = next(t.path());
    {
        let f = std::fs::File::create_new(&p).unwrap();
        let mut z = zip::ZipWriter::new(f);
        for (name, b) in &im.entries {
            let method = if name == CLIP {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            z.start_file(
                name.as_str(),
                zip::write::SimpleFileOptions::default().compression_method(method),
            )
            .unwrap();
            z.write_all(b).unwrap();
        }
        z.finish().unwrap();
    }
    assert_unusable(&p, "deflated clip");

    // A symlink in a directory bundle.
    #[cfg(unix)]
    {
        let p = next(t.path());
        im.write(&p, BundleForm::Directory);
        std::fs::remove_file(p.join(CUSTODY)).unwrap();
        std::os::unix::fs::symlink(dir.join(CUSTODY), p.join(CUSTODY)).unwrap();
        assert_unusable(&p, "symlinked entry");
    }

    // Random corruption of a ZIP's directory: never a panic (some fields are harmless).
    let p = next(t.path());
    im.write(&p, BundleForm::Zip);
    let zbytes = std::fs::read(&p).unwrap();
    let clip_len = im.entries[CLIP].len();
    for _ in 0..200 {
        let mut b = zbytes.clone();
        let from = b.len().saturating_sub(clip_len / 50 + 600);
        for _ in 0..rng.random_range(1..4) {
            let k = rng.random_range(from..b.len());
            b[k] = rng.random();
        }
        let q = next(t.path());
        std::fs::write(&q, &b).unwrap();
        let _ = verify_bundle(&q, None, &mut |_, _| {});
    }
}
