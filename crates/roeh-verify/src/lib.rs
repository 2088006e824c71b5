//! The verifier's commands as a library, so that `roeh verify` and `roeh-verify` print the same
//! verdicts with the same exit codes: 0 OK (with or without declared gaps), 1 FAILED, 2 unusable
//! input.

use roeh_evidence::keys::PublicKey;
use roeh_evidence::verify::{read_public_key, verify_bundle};
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Clips at least this large get a progress bar (on a terminal).
pub const PROGRESS_MIN_BYTES: u64 = 64 * 1024 * 1024;

/// Verifies `bundle` (a directory or a ZIP), trusting `key` (a PEM file) if given; prints the
/// verdict on stdout and returns the exit code.
pub fn run_bundle(bundle: &Path, key: Option<&Path>, quiet: bool) -> u8 {
    let key: Option<PublicKey> = match key.map(read_public_key) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => return unusable(&e.chain()),
    };
    let mut bar = Progress::new(!quiet && std::io::stderr().is_terminal());
    let result = verify_bundle(bundle, key.as_ref(), &mut |d, t| bar.update(d, t));
    bar.finish();
    match result {
        Ok(v) => {
            print_verdict(&v.to_string(), quiet);
            v.exit_code()
        }
        Err(e) => unusable(&e.chain()),
    }
}

/// Prints a verdict (only its first line with `quiet`).
pub fn print_verdict(text: &str, quiet: bool) {
    let mut out = std::io::stdout().lock();
    let shown = if quiet {
        text.lines().next().unwrap_or("")
    } else {
        text
    };
    // A closed stdout leaves only the exit code to tell; nothing else to do.
    let _ = writeln!(out, "{shown}");
}

/// Prints why the input is unusable; returns exit code 2.
pub fn unusable(why: &str) -> u8 {
    let _ = writeln!(std::io::stdout().lock(), "UNUSABLE INPUT: {why}");
    2
}

/// A one-line progress bar on stderr, drawn only for large clips and only on a terminal.
struct Progress {
    enabled: bool,
    shown: Option<u64>,
}

impl Progress {
    fn new(enabled: bool) -> Self {
        Progress {
            enabled,
            shown: None,
        }
    }

    fn update(&mut self, done: u64, total: u64) {
        if !self.enabled || total < PROGRESS_MIN_BYTES {
            return;
        }
        let pct = done.saturating_mul(100) / total.max(1);
        if self.shown == Some(pct) {
            return;
        }
        self.shown = Some(pct);
        const WIDTH: u64 = 40;
        let filled = (pct.min(100) * WIDTH / 100) as usize;
        let bar = format!(
            "{}{}",
            "#".repeat(filled),
            ".".repeat(WIDTH as usize - filled)
        );
        let mib = |b: u64| b / (1024 * 1024);
        let _ = write!(
            std::io::stderr().lock(),
            "\rverifying [{bar}] {pct:3}% {}/{} MiB",
            mib(done),
            mib(total)
        );
    }

    fn finish(&mut self) {
        if self.shown.is_some() {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}
