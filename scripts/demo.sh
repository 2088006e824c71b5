#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh), builds roeh in release mode and runs the demo:
# bundled test cameras on a real RTSP server on loopback, embedded SQLite and local disk in
# ./data/demo, and the HTTP API on localhost. Extra arguments go to `roeh demo`
# (for example: --cameras 8 --port 8080).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
export ROEH_FOOTAGE_DIR="${ROEH_FOOTAGE_DIR:-$ROOT/.cache/roeh/footage}"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ROOT/.cache/roeh/onnxruntime/libonnxruntime.so.1.31.1}"
cargo build --release --locked -p roeh
exec "$ROOT/target/release/roeh" demo --data-dir "$ROOT/data/demo" "$@"
