#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs the whole roeh test suite:
# formatting, clippy with -D warnings, and every test of every crate (unit, integration against
# the real RTSP test server and real footage, and the kill -9 crash loop).
#
# No test may skip: a missing prerequisite (footage, ONVIF simulator, openssl, a tmpfs mount)
# fails its test, because ROEH_ALLOW_SKIP is unset here. The closing line counts every test
# that ran, across both phases below.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
export CARGO_TERM_COLOR=never
if [ -n "${ROEH_ALLOW_SKIP:-}" ]; then
  echo "[test] ROEH_ALLOW_SKIP is ignored here: the whole suite runs, nothing skips"
  unset ROEH_ALLOW_SKIP
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
echo "[test] console: type check and unit tests (node --test)"
(cd console && npm run --silent check) || status=1
(cd console && npm test 2>&1) | tee -a "$log" || status=1
echo "[test] cargo fmt --check"
cargo fmt --all -- --check
echo "[test] cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The acceptance tests against the virtual ONVIF camera run in a phase of their own: the camera
# encodes its streams in Python and must not compete with the rest of the suite for 2 cores.
# Each entry: test target, test name. They run with --workspace like the main phase, so cargo
# builds nothing again (a single package's features would differ and rebuild dependencies).
ALONE=(
  "onvif onvif_camera_is_discovered_approved_added_and_recorded"
  "ipycam_simulator ipycam_simulator"
)
skips=()
for t in "${ALONE[@]}"; do
  read -r _ name <<<"$t"
  skips+=(--skip "$name")
done

echo "[test] cargo test (all but the ONVIF camera tests)"
# Integration tests run real RTSP servers, recorders and databases; two test threads keep a
# 2-core machine responsive.
cargo test --workspace --locked --no-fail-fast -- --test-threads="${ROEH_TEST_THREADS:-2}" \
  "${skips[@]}" 2>&1 | tee -a "$log" || status=1
# The store's repository tests again, each on a throwaway PostgreSQL cluster instead of a
# SQLite file (crates/roeh-store/src/tests.rs, `open_tmp`). All unit tests run, as --workspace
# keeps cargo from building anything again; only the store's read the variable.
echo "[test] the store's repository tests on PostgreSQL"
ROEH_STORE_TEST_POSTGRES=1 cargo test --workspace --locked --lib --no-fail-fast -- \
  --test-threads="${ROEH_TEST_THREADS:-2}" 2>&1 | tee -a "$log" || status=1
for t in "${ALONE[@]}"; do
  read -r target name <<<"$t"
  echo "[test] cargo test --test $target $name (alone)"
  cargo test --workspace --locked --test "$target" -- --exact "$name" 2>&1 | tee -a "$log" || status=1
done

# The first `test result:` line after each test binary cargo runs (a test that re-runs its own
# binary, in a network namespace for example, prints a second one), and the console's
# `# pass` / `# fail` / `# skipped` / `# todo` lines, added up.
read -r passed failed ignored < <(
  {
    awk '/^ +(Running|Doc-tests) / {want = 1; next}
         want && /^test result: / {print; want = 0}' "$log" |
      sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored;.*/\1 \2 \3/p'
    sed -n 's/^# pass \([0-9]*\)$/\1 0 0/p; s/^# fail \([0-9]*\)$/0 \1 0/p; s/^# skipped \([0-9]*\)$/0 0 \1/p; s/^# todo \([0-9]*\)$/0 0 \1/p' "$log"
  } | awk '{p += $1; f += $2; i += $3} END {print p + 0, f + 0, i + 0}'
)
if grep -q '^SKIPPED ' "$log"; then
  echo "[test] tests skipped a missing prerequisite:"
  grep '^SKIPPED ' "$log"
  status=1
fi
if [ "$ignored" -gt 0 ]; then
  echo "[test] $ignored tests were ignored or skipped; every test must run"
  status=1
fi
if [ "$passed" -eq 0 ]; then
  echo "[test] no test ran"
  status=1
fi
echo "tests: $passed passed, $failed failed, $ignored skipped"
exit "$status"
