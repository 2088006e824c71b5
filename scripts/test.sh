#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs the whole roeh test suite:
# formatting, clippy with -D warnings, and every test of every crate (unit, integration against
# the real RTSP test server and real footage, and the kill -9 crash loop).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
export CARGO_TERM_COLOR=never
echo "[test] cargo fmt --check"
cargo fmt --all -- --check
echo "[test] cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "[test] cargo test"
# Integration tests run real RTSP servers, recorders and databases; two test threads keep a
# 2-core machine responsive.
cargo test --workspace --locked --no-fail-fast -- --test-threads="${ROEH_TEST_THREADS:-2}"
