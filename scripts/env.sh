# Sourced by scripts/demo.sh and scripts/test.sh: where setup.sh put the footage and the ONNX
# Runtime library. Expects ROOT to be the repository root.
export ROEH_FOOTAGE_DIR="${ROEH_FOOTAGE_DIR:-$ROOT/.cache/roeh/footage}"
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$ROOT/.cache/roeh/onnxruntime/libonnxruntime.so.1.31.1}"
