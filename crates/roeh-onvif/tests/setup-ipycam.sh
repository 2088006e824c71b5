#!/usr/bin/env bash
# Creates (idempotently) the Python virtual environment holding ipycam 1.3.0, the virtual ONVIF
# camera used by roeh-onvif's simulator test (tests/ipycam_simulator.rs).
#
#   crates/roeh-onvif/tests/setup-ipycam.sh            # venv at <workspace>/.cache/roeh/venv-onvif
#   ROEH_ONVIF_VENV=/path/to/venv crates/roeh-onvif/tests/setup-ipycam.sh
#
# Needs python3 with the venv module and access to the Python package index. The test itself
# also needs `unshare` and `ip` (iproute2) and root, because the camera binds all interfaces and
# therefore runs in a private network namespace.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="${ROEH_ONVIF_VENV:-$root/.cache/roeh/venv-onvif}"
want="1.3.0"

have_version() {
    "$venv/bin/python" - "$want" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if m.version("ipycam") == sys.argv[1] else 1)
PY
}

if [ -x "$venv/bin/python" ] && have_version; then
    echo "ipycam $want already installed in $venv"
    exit 0
fi

python="${PYTHON:-}"
if [ -z "$python" ]; then
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import venv' >/dev/null 2>&1; then
            python="$p"
            break
        fi
    done
fi
if [ -z "$python" ]; then
    echo "setup-ipycam: no python3 with the venv module found" >&2
    exit 1
fi

mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ipycam==$want"
have_version
echo "ipycam $want installed in $venv"
