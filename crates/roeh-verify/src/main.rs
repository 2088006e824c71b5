//! `roeh-verify`: the standalone verifier of roeh clip bundles and checkpoint consistency
//! (design record 0005 §5).
//!
//! ```text
//! roeh-verify [--key PEM] [--quiet] BUNDLE
//! roeh-verify consistency --key PEM OLD.txt OLD.sig NEW.txt NEW.sig PROOF.json
//! ```
//!
//! Invariants:
//! - the first line on stdout is the verdict: `OK`, `OK WITH DECLARED GAPS`, `FAILED: <where>:
//!   <what>`, or `UNUSABLE INPUT: <why>`; exit codes are 0, 0, 1 and 2 (usage errors are 2 too);
//! - nothing is written anywhere but stdout and stderr; a bundle is never extracted;
//! - no input makes it panic: every input error is a value that ends in exit code 2.

use clap::{Parser, Subcommand};
use roeh_evidence::verify::{read_public_key, verify_consistency_files};
use roeh_verify::{print_verdict, run_bundle, unusable};
use std::path::PathBuf;
use std::process::ExitCode;

/// Verifies a roeh clip bundle (a directory or a ZIP), or that one signed checkpoint of a roeh
/// log extends another.
#[derive(Debug, Parser)]
#[command(
    name = "roeh-verify",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    /// The site's public key (SubjectPublicKeyInfo PEM), obtained from the site. Without it the
    /// bundle's own site-key.pem is used and the verdict says the key was not pinned.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Print only the verdict's first line; no progress.
    #[arg(long, short)]
    quiet: bool,
    /// The bundle: a directory or a ZIP file.
    #[arg(value_name = "BUNDLE", required = true)]
    bundle: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Checks that the NEW checkpoint extends the OLD one (rollback and fork are named).
    Consistency {
        /// The site's public key (PEM).
        #[arg(long, value_name = "PEM")]
        key: PathBuf,
        /// Print only the verdict's first line.
        #[arg(long, short)]
        quiet: bool,
        /// Older checkpoint text.
        old_txt: PathBuf,
        /// Its signature (64 raw bytes).
        old_sig: PathBuf,
        /// Newer checkpoint text.
        new_txt: PathBuf,
        /// Its signature.
        new_sig: PathBuf,
        /// Consistency proof: {"from":N,"to":M,"proof":[hex…]}.
        proof: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Consistency {
            key,
            quiet,
            old_txt,
            old_sig,
            new_txt,
            new_sig,
            proof,
        }) => {
            let result = read_public_key(&key).and_then(|k| {
                verify_consistency_files(&k, &old_txt, &old_sig, &new_txt, &new_sig, &proof)
            });
            match result {
                Ok(c) => {
                    print_verdict(&c.to_string(), quiet);
                    ExitCode::from(c.exit_code())
                }
                Err(e) => ExitCode::from(unusable(&e.chain())),
            }
        }
        None => {
            let Some(bundle) = cli.bundle else {
                return ExitCode::from(unusable("no bundle given"));
            };
            ExitCode::from(run_bundle(&bundle, cli.key.as_deref(), cli.quiet))
        }
    }
}
