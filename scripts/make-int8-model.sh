#!/usr/bin/env bash
# Makes models/ssdlite_mobilenet_v2_ped_int8.onnx, the int8 variant of the default person model,
# with ONNX Runtime's static quantization (scripts/quantize_model.py), calibrated on vtest frames.
# Needs the footage of scripts/setup.sh. The tools come from PyPI into a virtual environment under
# .cache/roeh/venv-quant. Prints the timing and recall of both quantization methods and keeps the
# faster one whose person recall stays within 2 points of the float model's; prints the sha256 to
# put in models/models.toml.
#
#   bash scripts/make-int8-model.sh            # writes models/ssdlite_mobilenet_v2_ped_int8.onnx
#   bash scripts/make-int8-model.sh OUT.onnx   # writes elsewhere
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ROEH_CACHE:-$ROOT/.cache/roeh}"
VENV="$CACHE/venv-quant"
FOOTAGE="${ROEH_FOOTAGE_DIR:-$CACHE/footage}/vtest_h264.mp4"
OUT="${1:-$ROOT/models/ssdlite_mobilenet_v2_ped_int8.onnx}"
log() { printf '[make-int8-model] %s\n' "$*" >&2; }

if [ ! -s "$FOOTAGE" ]; then
  log "footage $FOOTAGE is missing: run bash scripts/setup.sh"
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6 av==18.1.0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$VENV/bin/python" "$ROOT/scripts/quantize_model.py" \
  "$ROOT/models/ssdlite_mobilenet_v2_ped.onnx" "$FOOTAGE" "$work/int8.onnx" --method both
cp "$work/int8.onnx" "$OUT"
log "wrote $OUT"
sha256sum "$OUT"
