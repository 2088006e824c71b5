//! The site's append-only Merkle log, hashed exactly as RFC 9162 §2.1 (RFC 6962 §2.1).
//!
//! - `leaf_hash = SHA-256(0x00 ‖ leaf)`, `node_hash = SHA-256(0x01 ‖ left ‖ right)`, and the root
//!   of the empty tree is `SHA-256("")`.
//! - The tree over `n > 1` leaves splits at `k`, the largest power of two smaller than `n`: the
//!   left subtree holds leaves `[0, k)`, the right one `[k, n)` (RFC 9162 §2.1.1).
//! - Inclusion proofs are `PATH` of §2.1.3.1, consistency proofs `PROOF` of §2.1.4.1. They are
//!   checked with the iterative algorithms of §2.1.3.2 and §2.1.4.2, which never panic, whatever
//!   the sizes, indices and proof lengths they are given.
//!
//! # How [`MerkleTree`] stays O(log n)
//!
//! Every node of the RFC 9162 tree covers leaves `[a, a + m)` where `a` is a multiple of the
//! smallest power of two `≥ m`. If `m` is itself a power of two the node is a *complete, aligned*
//! subtree, and its hash never changes as the log grows. The tree keeps, per level `l`, the
//! hashes of all complete aligned subtrees of `2^l` leaves (about `2n` hashes in all). Any other
//! node is a complete left part followed by a smaller node on its right, so its hash is folded
//! from at most `log2 n` stored hashes. Roots (of the whole tree or of any earlier size) and
//! proofs therefore cost O(log n) hash operations each.

use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 hash: of a leaf, of an inner node, or a root.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A proof that cannot be produced or does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofError {
    /// What is wrong, for people.
    pub what: String,
}

impl ProofError {
    fn new(what: impl Into<String>) -> Self {
        ProofError { what: what.into() }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "merkle proof: {}", self.what)
    }
}

impl std::error::Error for ProofError {}

/// An in-memory, append-only Merkle tree of leaf hashes (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    /// `levels[l][i]` is the hash of the complete subtree over leaves `[i·2^l, (i+1)·2^l)`.
    /// `levels[0]` holds the leaf hashes. Only complete subtrees are stored.
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// An empty tree.
    pub fn new() -> Self {
        MerkleTree::default()
    }

    /// A tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes(hashes: impl IntoIterator<Item = Hash>) -> Self {
        let mut t = MerkleTree::new();
        for h in hashes {
            t.push(h);
        }
        t
    }

    /// Appends a leaf (given by its [`leaf_hash`]); returns the new leaf's index.
    pub fn push(&mut self, leaf_hash: Hash) -> u64 {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        let index = self.len();
        let mut carry = leaf_hash;
        let mut level = 0usize;
        // `levels` always has an entry for `level` here: level 0 was created above and each
        // higher one is created before it is used.
        while let Some(row) = self.levels.get_mut(level) {
            row.push(carry);
            let n = row.len();
            if n % 2 != 0 {
                break;
            }
            carry = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
        }
        index
    }

    /// Number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root of the whole tree ([`empty_root`] when empty).
    pub fn root(&self) -> Hash {
        self.subtree(0, self.len()).unwrap_or_else(|_| empty_root())
    }

    /// The root the tree had when it held `size` leaves (`size ≤ len`).
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        if size > self.len() {
            return Err(ProofError::new(format!(
                "size {size} is beyond the tree's {} leaves",
                self.len()
            )));
        }
        if size == 0 {
            return Ok(empty_root());
        }
        self.subtree(0, size)
    }

    /// The inclusion proof (RFC 9162 `PATH`) of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        if size > self.len() {
            return Err(ProofError::new(format!(
                "size {size} is beyond the tree's {} leaves",
                self.len()
            )));
        }
        if index >= size {
            return Err(ProofError::new(format!(
                "leaf {index} is not in a tree of {size} leaves"
            )));
        }
        // Walk down from the root, collecting siblings; PATH lists them from the leaf up.
        let mut out = Vec::new();
        let (mut start, mut n, mut m) = (0u64, size, index);
        while n > 1 {
            let k = split(n);
            if m < k {
                out.push(self.subtree(start + k, n - k)?);
                n = k;
            } else {
                out.push(self.subtree(start, k)?);
                start += k;
                m -= k;
                n -= k;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// The consistency proof (RFC 9162 `PROOF`) between the trees of `old_size` and `new_size`
    /// leaves (`old_size ≤ new_size ≤ len`). Empty when `old_size` is 0 or equals `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, ProofError> {
        if new_size > self.len() {
            return Err(ProofError::new(format!(
                "size {new_size} is beyond the tree's {} leaves",
                self.len()
            )));
        }
        if old_size > new_size {
            return Err(ProofError::new(format!(
                "old size {old_size} is larger than new size {new_size}"
            )));
        }
        if old_size == 0 || old_size == new_size {
            return Ok(Vec::new());
        }
        // SUBPROOF(m, D[start:start+n], b), unrolled. Its output is the recursive call's output
        // followed by one hash, so the hashes are collected top-down and reversed at the end.
        let mut out = Vec::new();
        let (mut start, mut n, mut m, mut b) = (0u64, new_size, old_size, true);
        loop {
            if m == n {
                if !b {
                    out.push(self.subtree(start, n)?);
                }
                break;
            }
            let k = split(n);
            if m <= k {
                out.push(self.subtree(start + k, n - k)?);
                n = k;
            } else {
                out.push(self.subtree(start, k)?);
                start += k;
                m -= k;
                n -= k;
                b = false;
            }
        }
        out.reverse();
        Ok(out)
    }

    /// The hash of the RFC 9162 node over leaves `[start, start + n)`, `n ≥ 1`. `start` must be
    /// a multiple of the smallest power of two `≥ n` (true of every node of the tree).
    fn subtree(&self, start: u64, n: u64) -> Result<Hash, ProofError> {
        if n == 0 || start.checked_add(n).is_none_or(|end| end > self.len()) {
            return Err(ProofError::new(format!(
                "no subtree [{start}, +{n}) in a tree of {} leaves",
                self.len()
            )));
        }
        // Decompose into complete aligned blocks, largest first, then fold from the right.
        let mut parts: Vec<&Hash> = Vec::with_capacity(64);
        let (mut at, mut left) = (start, n);
        while left > 0 {
            let level = if left.is_power_of_two() {
                left.trailing_zeros()
            } else {
                split(left).trailing_zeros()
            };
            let block = 1u64 << level;
            parts.push(self.stored(level, at >> level)?);
            at += block;
            left -= block;
        }
        let mut parts = parts.into_iter().rev();
        let Some(mut acc) = parts.next().copied() else {
            return Err(ProofError::new("empty subtree"));
        };
        for p in parts {
            acc = node_hash(p, &acc);
        }
        Ok(acc)
    }

    fn stored(&self, level: u32, i: u64) -> Result<&Hash, ProofError> {
        usize::try_from(level)
            .ok()
            .and_then(|l| self.levels.get(l))
            .and_then(|row| row.get(usize::try_from(i).ok()?))
            .ok_or_else(|| ProofError::new(format!("no stored subtree at level {level} index {i}")))
    }
}

/// The largest power of two smaller than `n` (`n ≥ 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    let below = n.saturating_sub(1).max(1);
    1u64 << (63 - below.leading_zeros())
}

/// Checks an inclusion proof with the algorithm of RFC 9162 §2.1.3.2: `leaf_hash` is leaf
/// `index` of the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::new(format!(
            "leaf {index} is not in a tree of {size} leaves"
        )));
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::new("inclusion proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::new("inclusion proof is too short"));
    }
    if r != *root {
        return Err(ProofError::new(format!(
            "leaf {index} is not included under this root of a tree of {size} leaves"
        )));
    }
    Ok(())
}

/// Checks a consistency proof with the algorithm of RFC 9162 §2.1.4.2: the tree of `old_size`
/// leaves with root `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root`.
///
/// Sizes the RFC leaves open: `old_size == new_size` needs an empty proof and equal roots;
/// `old_size == 0` needs an empty proof and `old_root` equal to [`empty_root`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::new(format!(
            "new size {new_size} is smaller than old size {old_size}"
        )));
    }
    if old_size == new_size || old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::new(
                "consistency proof must be empty for an empty or unchanged tree",
            ));
        }
        let expected_old = if old_size == 0 {
            empty_root()
        } else {
            *new_root
        };
        if *old_root != expected_old {
            return Err(ProofError::new("roots differ for the same tree"));
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::new("consistency proof is empty"));
    }
    // Step 2: a power-of-two old tree is a complete subtree; its root starts the path.
    let first = if old_size.is_power_of_two() {
        None
    } else {
        proof.first()
    };
    let rest = if first.is_some() { &proof[1..] } else { proof };
    let start = first.unwrap_or(old_root);
    let (mut fnode, mut snode) = (old_size - 1, new_size - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*start, *start);
    for c in rest {
        if snode == 0 {
            return Err(ProofError::new("consistency proof is too long"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::new("consistency proof is too short"));
    }
    if fr != *old_root {
        return Err(ProofError::new(format!(
            "proof does not lead to the old root of size {old_size}"
        )));
    }
    if sr != *new_root {
        return Err(ProofError::new(format!(
            "proof does not lead to the new root of size {new_size}"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    // ---- Reference: the recursive definitions of RFC 9162 §2.1, over leaf hashes. ----

    fn k_of(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => empty_root(),
            1 => d[0],
            n => {
                let k = k_of(n);
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        let n = d.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = k_of(n);
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(d)] };
        }
        let k = k_of(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], b);
            p.push(mth(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(mth(&d[..k]));
            p
        }
    }

    fn proof(m: usize, d: &[Hash]) -> Vec<Hash> {
        if m == 0 || m == d.len() {
            return Vec::new();
        }
        subproof(m, d, true)
    }

    // ---- Reference verifiers: replay the recursions above, consuming the proof in order. ----

    fn split64(n: u64) -> u64 {
        let mut k = 1u64;
        while k < n - k {
            k *= 2;
        }
        k
    }

    fn ref_verify_inclusion(leaf: &Hash, m: u64, n: u64, proof: &[Hash], root: &Hash) -> bool {
        fn rec(leaf: &Hash, m: u64, n: u64, it: &mut std::slice::Iter<'_, Hash>) -> Option<Hash> {
            if n == 1 {
                return Some(*leaf);
            }
            let k = split64(n);
            if m < k {
                let h = rec(leaf, m, k, it)?;
                Some(node_hash(&h, it.next()?))
            } else {
                let h = rec(leaf, m - k, n - k, it)?;
                Some(node_hash(it.next()?, &h))
            }
        }
        if m >= n {
            return false;
        }
        let mut it = proof.iter();
        match rec(leaf, m, n, &mut it) {
            Some(r) => it.next().is_none() && r == *root,
            None => false,
        }
    }

    fn ref_verify_consistency(m: u64, n: u64, old: &Hash, new: &Hash, proof: &[Hash]) -> bool {
        // Returns (hash of the old part of this node, hash of the node).
        fn rec(
            m: u64,
            n: u64,
            b: bool,
            old: &Hash,
            it: &mut std::slice::Iter<'_, Hash>,
        ) -> Option<(Hash, Hash)> {
            if m == n {
                let h = if b { *old } else { *it.next()? };
                return Some((h, h));
            }
            let k = split64(n);
            if m <= k {
                let (o, l) = rec(m, k, b, old, it)?;
                let r = it.next()?;
                Some((o, node_hash(&l, r)))
            } else {
                let (o, r) = rec(m - k, n - k, false, old, it)?;
                let l = it.next()?;
                Some((node_hash(l, &o), node_hash(l, &r)))
            }
        }
        if m > n {
            return false;
        }
        if m == 0 || m == n {
            return proof.is_empty() && *old == if m == 0 { empty_root() } else { *new };
        }
        let mut it = proof.iter();
        match rec(m, n, true, old, &mut it) {
            Some((o, r)) => it.next().is_none() && o == *old && r == *new,
            None => false,
        }
    }

    /// Length of `PATH(m, D[n])`, or `None` where `m ≥ n`.
    fn path_len(m: u64, n: u64) -> Option<usize> {
        if m >= n {
            return None;
        }
        if n == 1 {
            return Some(0);
        }
        let k = split64(n);
        let below = if m < k {
            path_len(m, k)
        } else {
            path_len(m - k, n - k)
        };
        below.map(|l| l + 1)
    }

    fn leaves(n: usize, seed: u64) -> Vec<Hash> {
        let mut rng = StdRng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let mut b = [0u8; 8];
                rng.fill(&mut b[..]);
                leaf_hash(&b)
            })
            .collect()
    }

    #[test]
    fn empty_tree_root() {
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let t = MerkleTree::new();
        assert!(t.is_empty());
        assert_eq!(t.root(), empty_root());
        assert_eq!(t.root_at(0).unwrap(), empty_root());
        assert!(t.root_at(1).is_err());
        assert!(t.inclusion_proof(0, 0).is_err());
        assert_eq!(t.consistency_proof(0, 0).unwrap(), Vec::<Hash>::new());
    }

    /// The RFC 6962 test vectors used by Certificate Transparency implementations.
    #[test]
    fn rfc6962_known_answers() {
        let inputs: [&str; 8] = [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ];
        let hashes: Vec<Hash> = inputs
            .iter()
            .map(|s| leaf_hash(&hex::decode(s).unwrap()))
            .collect();
        // The hash of the empty leaf is SHA-256(0x00).
        assert_eq!(
            hex::encode(hashes[0]),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let t = MerkleTree::from_leaf_hashes(hashes.iter().copied());
        assert_eq!(t.len(), 8);
        assert_eq!(
            hex::encode(t.root()),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
        assert_eq!(t.root(), mth(&hashes));
        for size in 1..=8u64 {
            assert_eq!(t.root_at(size).unwrap(), mth(&hashes[..size as usize]));
        }
    }

    #[test]
    fn matches_reference_for_all_small_trees() {
        let d = leaves(70, 7);
        let full = MerkleTree::from_leaf_hashes(d.iter().copied());
        let mut grown = MerkleTree::new();
        for n in 0..=70usize {
            if n > 0 {
                assert_eq!(grown.push(d[n - 1]), n as u64 - 1);
            }
            assert_eq!(grown.len(), n as u64);
            assert_eq!(grown.root(), mth(&d[..n]), "root of {n}");
            assert_eq!(full.root_at(n as u64).unwrap(), mth(&d[..n]));
            for t in [&grown, &full] {
                for m in 0..n {
                    let p = t.inclusion_proof(m as u64, n as u64).unwrap();
                    assert_eq!(p, path(m, &d[..n]), "PATH({m}, {n})");
                    verify_inclusion(&d[m], m as u64, n as u64, &p, &mth(&d[..n])).unwrap();
                }
                for m in 0..=n {
                    let p = t.consistency_proof(m as u64, n as u64).unwrap();
                    assert_eq!(p, proof(m, &d[..n]), "PROOF({m}, {n})");
                    verify_consistency(m as u64, n as u64, &mth(&d[..m]), &mth(&d[..n]), &p)
                        .unwrap();
                }
                assert!(t.inclusion_proof(n as u64, n as u64).is_err());
                assert!(t.consistency_proof(n as u64 + 1, n as u64).is_err());
            }
        }
        assert!(full.inclusion_proof(0, 71).is_err());
        assert!(full.consistency_proof(1, 71).is_err());
        assert!(full.root_at(71).is_err());
    }

    #[test]
    fn matches_reference_for_random_large_trees() {
        let mut rng = StdRng::seed_from_u64(11);
        let d = leaves(5000, 12);
        let t = MerkleTree::from_leaf_hashes(d.iter().copied());
        assert_eq!(t.root(), mth(&d));
        for _ in 0..60 {
            let n = rng.random_range(1..=5000usize);
            let root = mth(&d[..n]);
            assert_eq!(t.root_at(n as u64).unwrap(), root);
            let m = rng.random_range(0..n);
            let p = t.inclusion_proof(m as u64, n as u64).unwrap();
            assert_eq!(p, path(m, &d[..n]));
            verify_inclusion(&d[m], m as u64, n as u64, &p, &root).unwrap();
            let old = rng.random_range(0..=n);
            let c = t.consistency_proof(old as u64, n as u64).unwrap();
            assert_eq!(c, proof(old, &d[..n]));
            verify_consistency(old as u64, n as u64, &mth(&d[..old]), &root, &c).unwrap();
        }
    }

    fn flip(p: &[Hash], i: usize, bit: usize) -> Vec<Hash> {
        let mut q = p.to_vec();
        q[i][bit / 8] ^= 1 << (bit % 8);
        q
    }

    #[test]
    fn tampered_inclusion_proofs_fail() {
        let d = leaves(40, 21);
        let t = MerkleTree::from_leaf_hashes(d.iter().copied());
        for n in 1..=40u64 {
            let root = t.root_at(n).unwrap();
            for m in 0..n {
                let leaf = &d[m as usize];
                let p = t.inclusion_proof(m, n).unwrap();
                let ok = |leaf: &Hash, m: u64, n: u64, p: &[Hash], root: &Hash| {
                    let mine = verify_inclusion(leaf, m, n, p, root).is_ok();
                    assert_eq!(mine, ref_verify_inclusion(leaf, m, n, p, root));
                    mine
                };
                assert!(ok(leaf, m, n, &p, &root));
                // Every single-bit flip of every proof element, for the smaller trees; one
                // bit per byte for the larger ones.
                let step = if n <= 20 { 1 } else { 8 };
                for i in 0..p.len() {
                    for bit in (0..256).step_by(step) {
                        assert!(!ok(leaf, m, n, &flip(&p, i, bit), &root));
                    }
                }
                assert!(!ok(&flip(&[*leaf], 0, 3)[0], m, n, &p, &root));
                assert!(!ok(leaf, m, n, &p, &flip(&[root], 0, 200)[0]));
                // Truncated and extended proofs.
                if !p.is_empty() {
                    assert!(!ok(leaf, m, n, &p[..p.len() - 1], &root));
                    assert!(!ok(leaf, m, n, &p[1..], &root));
                }
                let mut longer = p.clone();
                longer.push(root);
                assert!(!ok(leaf, m, n, &longer, &root));
                let mut longer = p.clone();
                longer.insert(0, *leaf);
                assert!(!ok(leaf, m, n, &longer, &root));
                // Other indices and sizes: the root does not commit to the size on its own, so
                // another size can pass only where both verifiers agree (same proof shape).
                for m2 in 0..n + 2 {
                    if m2 != m {
                        assert!(!ok(leaf, m2, n, &p, &root), "index {m2} for {m} of {n}");
                    }
                }
                for n2 in 0..n + 4 {
                    if n2 != n && path_len(m, n2) != Some(p.len()) {
                        assert!(!ok(leaf, m, n2, &p, &root), "size {n2} for ({m}, {n})");
                    }
                }
                assert!(!ok(leaf, m, 0, &p, &root));
                assert!(!ok(leaf, m, u64::MAX, &p, &root));
            }
        }
    }

    #[test]
    fn tampered_consistency_proofs_fail() {
        let d = leaves(40, 31);
        let t = MerkleTree::from_leaf_hashes(d.iter().copied());
        for n in 1..=40u64 {
            let new = t.root_at(n).unwrap();
            for m in 0..=n {
                let old = t.root_at(m).unwrap();
                let p = t.consistency_proof(m, n).unwrap();
                let ok = |m: u64, n: u64, old: &Hash, new: &Hash, p: &[Hash]| {
                    let mine = verify_consistency(m, n, old, new, p).is_ok();
                    assert_eq!(
                        mine,
                        ref_verify_consistency(m, n, old, new, p),
                        "({m}, {n}) len {}",
                        p.len()
                    );
                    mine
                };
                assert!(ok(m, n, &old, &new, &p));
                let step = if n <= 20 { 1 } else { 8 };
                for i in 0..p.len() {
                    for bit in (0..256).step_by(step) {
                        assert!(!ok(m, n, &old, &new, &flip(&p, i, bit)));
                    }
                }
                assert!(!ok(m, n, &flip(&[old], 0, 1)[0], &new, &p));
                // Every tree extends the empty one, whatever its root.
                assert_eq!(ok(m, n, &old, &flip(&[new], 0, 255)[0], &p), m == 0);
                if !p.is_empty() {
                    assert!(!ok(m, n, &old, &new, &p[..p.len() - 1]));
                    assert!(!ok(m, n, &old, &new, &p[1..]));
                }
                let mut longer = p.clone();
                longer.push(new);
                assert!(!ok(m, n, &old, &new, &longer));
                let mut longer = p.clone();
                longer.insert(0, old);
                assert!(!ok(m, n, &old, &new, &longer));
                // Other sizes with the same proof and roots: both verifiers must agree.
                for m2 in m.saturating_sub(3)..m + 3 {
                    for n2 in n.saturating_sub(3)..n + 3 {
                        if (m2, n2) != (m, n) {
                            ok(m2, n2, &old, &new, &p);
                        }
                    }
                }
                // A shrinking log never verifies.
                if m > 0 && m < n {
                    assert!(!ok(n, m, &new, &old, &p));
                    assert!(!ok(n, m, &new, &old, &[]));
                }
            }
        }
    }

    #[test]
    fn huge_and_odd_sizes_never_panic() {
        let h = leaf_hash(b"x");
        let sizes = [
            0,
            1,
            2,
            3,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            (1 << 63) + 1,
            (1 << 63) - 1,
        ];
        let proofs: Vec<Vec<Hash>> = vec![vec![], vec![h], vec![h; 63], vec![h; 64], vec![h; 200]];
        for &a in &sizes {
            for &b in &sizes {
                for p in &proofs {
                    assert!(verify_inclusion(&h, a, b, p, &h).is_err() || (a, b) == (0, 1));
                    assert_eq!(
                        verify_consistency(a, b, &h, &h, p).is_ok(),
                        ref_verify_consistency(a, b, &h, &h, p)
                    );
                }
            }
        }
        // Size 1, index 0 with an empty proof: the root is the leaf hash.
        verify_inclusion(&h, 0, 1, &[], &h).unwrap();
        let t = MerkleTree::from_leaf_hashes([h, h, h]);
        assert!(t.inclusion_proof(u64::MAX, u64::MAX).is_err());
        assert!(t.consistency_proof(u64::MAX, u64::MAX).is_err());
        assert!(t.consistency_proof(2, u64::MAX).is_err());
        assert!(t.root_at(u64::MAX).is_err());
    }
}
