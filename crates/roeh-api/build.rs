//! Builds the browser console (`console/`, TypeScript and Preact, bundled by esbuild from the
//! npm packages of its lockfile) into `$OUT_DIR/console`, where `src/console.rs` embeds it.
//! `scripts/setup.sh` installs Node and the packages (`npm ci`); without them the build stops
//! here with that instruction.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let console = manifest.join("../../console");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("console");
    for p in [
        "src",
        "build.mjs",
        "package.json",
        "package-lock.json",
        "node_modules/.package-lock.json",
    ] {
        println!("cargo:rerun-if-changed={}", console.join(p).display());
    }
    if !console.join("node_modules/esbuild").is_dir() {
        panic!(
            "the console's npm packages are missing ({}/node_modules): run `bash scripts/setup.sh` \
             (it installs Node and runs `npm ci` in console/)",
            console.display()
        );
    }
    let status = Command::new("node")
        .arg(console.join("build.mjs"))
        .arg(&out)
        .current_dir(&console)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("building the console failed ({s}); see the esbuild messages above"),
        Err(e) => {
            panic!("cannot run `node` to build the console ({e}): run `bash scripts/setup.sh`")
        }
    }
}
