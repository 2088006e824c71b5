#!/usr/bin/env bash
# Creates (idempotently) the Python virtual environment holding onvif-zeep-async 4.3.0, the
# independent ONVIF client (with the ONVIF WSDLs it bundles) used by roeh-onvif's request
# cross-check (tests/zeep_crosscheck.rs, driving tests/zeep_requests.py).
#
#   crates/roeh-onvif/tests/setup-zeep.sh            # venv at <workspace>/.cache/roeh/venv-zeep
#   ROEH_ZEEP_VENV=/path/to/venv crates/roeh-onvif/tests/setup-zeep.sh
#
# Needs python3 with the venv module and access to the Python package index.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
venv="${ROEH_ZEEP_VENV:-$root/.cache/roeh/venv-zeep}"
want="4.3.0"

have_version() {
    "$venv/bin/python" - "$want" <<'PY' 2>/dev/null
import importlib.metadata as m, sys
sys.exit(0 if m.version("onvif-zeep-async") == sys.argv[1] else 1)
PY
}

if [ -x "$venv/bin/python" ] && have_version; then
    echo "onvif-zeep-async $want already installed in $venv"
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
    echo "setup-zeep: no python3 with the venv module found" >&2
    exit 1
fi

mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "onvif-zeep-async==$want"
have_version
# The WSDLs must come with the package; nothing is fetched when the test runs.
"$venv/bin/python" - <<'PY'
import os, onvif
wsdl = os.path.join(os.path.dirname(onvif.__file__), "wsdl")
for f in ("devicemgmt.wsdl", "media.wsdl"):
    if not os.path.isfile(os.path.join(wsdl, f)):
        raise SystemExit(f"setup-zeep: {f} missing from {wsdl}")
PY
echo "onvif-zeep-async $want installed in $venv"
