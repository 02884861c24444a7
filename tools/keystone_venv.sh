#!/usr/bin/env bash
# Build the virtualenv that the functional tests run Keystone from.
#
# Keystone is a test dependency only, and its requirements (Flask,
# pysaml2, its own oslo.* floors) need not agree with glance's, so it
# gets a virtualenv of its own: .keystone-venv in the repository root
# (gitignored), built once and reused.  The stamp file records the
# pins it was built from, so changing a pin rebuilds it.
#
#   tools/keystone_venv.sh [VENV_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.keystone-venv}"
python="${PYTHON:-python3}"
reqs="$here/tools/keystone-requirements.txt"
constraints="$here/tools/keystone-constraints.txt"
stamp="$venv/.installed"

want="$(cat "$reqs" "$constraints" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "Building $venv (Keystone for the functional tests)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv"
log="$venv/build.log"
if ! { "$venv/bin/pip" install -q --upgrade pip &&
       "$venv/bin/pip" install -q -r "$reqs" -c "$constraints" &&
       "$venv/bin/keystone-manage" --version &&
       "$venv/bin/python" -c "import keystone, gunicorn"; } >"$log" 2>&1
then
    grep -v '^WARNING: Location' "$log" | tail -40 >&2
    echo "tools/keystone_venv.sh: building $venv failed (log: $log)" >&2
    exit 1
fi
echo "$want" > "$stamp"
