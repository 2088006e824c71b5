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
# The suites of the store's users again, on PostgreSQL: with ROEH_STORE_TEST_POSTGRES=1 a test
# that opens its store through the store's `open_tmp` (a throwaway cluster per test) or
# `roeh_testkit::postgres::test_database` (a database on one cluster per test binary) gets
# PostgreSQL instead of SQLite. Those are the store's repository tests, custody's and the
# evidence log's (roeh-custody, with its time-stamping tests), and every integration test of the
# API: alerts and units, evidence routes, auth with the S11 injection cases, detection, reports,
# webhooks, ONVIF onboarding, TLS. Each entry: a crate directory and the kind of its test targets
# that run (`lib` for its unit tests, `test` for every integration test). Only these run, from
# the build above: `cargo test -p` would build them again with other features, and
# `--test NAME` would also run crates/roeh's end-to-end tests of the same names, which configure
# their database by file and would only repeat themselves on SQLite.
ON_POSTGRES=(
  "crates/roeh-store lib"
  "crates/roeh-custody lib"
  "crates/roeh-custody test"
  "crates/roeh-api test"
)
echo "[test] the store's, custody's and the API's tests on PostgreSQL"
pg_targets="$(mktemp)"
cargo test --workspace --locked --no-run --message-format=json |
  python3 -c '
import json, os, sys
wanted = {tuple(w.split()) for w in sys.argv[1:]}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable") or not m["profile"]["test"]:
        continue
    crate = os.path.relpath(os.path.dirname(m["manifest_path"]))
    kind = m["target"]["kind"][0]
    if (crate, kind) in wanted:
        print(crate, kind, m["executable"])
' "${ON_POSTGRES[@]}" | sort >"$pg_targets" || status=1
for t in "${ON_POSTGRES[@]}"; do
  if ! grep -q "^$t " "$pg_targets"; then
    echo "[test] no test target of $t to run on PostgreSQL"
    status=1
  fi
done
while read -r crate _ exe; do
  # The line the count below looks for, as cargo prints it before each test binary.
  echo "     Running $crate: $exe (on PostgreSQL)" | tee -a "$log"
  (cd "$crate" && ROEH_STORE_TEST_POSTGRES=1 "$exe" --test-threads="${ROEH_TEST_THREADS:-2}" \
    </dev/null) 2>&1 | tee -a "$log" || status=1
done <"$pg_targets"
rm -f "$pg_targets"
for t in "${ALONE[@]}"; do
  read -r target name <<<"$t"
  echo "[test] cargo test --test $target $name (alone)"
  cargo test --workspace --locked --test "$target" -- --exact "$name" 2>&1 | tee -a "$log" || status=1
done

# The last `test result:` line of each test binary cargo runs (a test that re-runs its own
# binary, in a network namespace for example, makes that child print one of its own first,
# while the binary still runs), and the console's `# pass` / `# fail` / `# skipped` / `# todo`
# lines, added up.
read -r passed failed ignored < <(
  {
    awk '/^ +(Running|Doc-tests) / {if (last != "") print last; last = ""; want = 1; next}
         /^\[test\] / {if (last != "") print last; last = ""; want = 0; next}
         want && /^test result: / {last = $0}
         END {if (last != "") print last}' "$log" |
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
