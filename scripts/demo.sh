#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), builds roeh in release mode and runs the demo:
# bundled test cameras on a real RTSP server on loopback, embedded SQLite and local disk in
# ./data/demo, and the HTTP API on localhost. Extra arguments go to `roeh demo`
# (for example: --cameras 8 --port 8080).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
cargo build --release --locked -p roeh
exec "$ROOT/target/release/roeh" demo --data-dir "$ROOT/data/demo" "$@"
