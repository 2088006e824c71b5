#!/usr/bin/env bash
# Virtual environment of the Python detection baseline (detect_baseline.py), from PyPI:
# PyAV for decoding, onnxruntime (the same release as roeh's library) and numpy. Benchmarks are
# not run in CI, so scripts/setup.sh does not call this; the detect_path bench runs it when the
# environment is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${ROEH_CACHE:-$ROOT/.cache/roeh}/venv-bench"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q onnxruntime==1.31.1 numpy==2.4.6 av==18.1.0
echo "$VENV/bin/python"
