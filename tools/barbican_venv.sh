#!/usr/bin/env bash
# Build the virtualenv that the functional tests run Barbican from.
#
# Barbican (the key manager that signature verification reads signing
# certificates from, through castellan) is a test dependency only; its
# requirements need not agree with glance's, so it gets a virtualenv of
# its own: .barbican-venv in the repository root (gitignored), built once
# and reused until tools/barbican-*.txt change.
#
#   tools/barbican_venv.sh [VENV_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.barbican-venv}"
python="${PYTHON:-python3}"
reqs="$here/tools/barbican-requirements.txt"
constraints="$here/tools/barbican-constraints.txt"
stamp="$venv/.installed"

want="$(cat "$reqs" "$constraints" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "Building $venv (Barbican for the functional tests)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv"
log="$venv/build.log"
if ! { "$venv/bin/pip" install -q --upgrade pip &&
       "$venv/bin/pip" install -q -r "$reqs" -c "$constraints" &&
       "$venv/bin/python" -c "import barbican.api.app, gunicorn"; } >"$log" 2>&1
then
    grep -v '^WARNING: Location' "$log" | tail -40 >&2
    echo "tools/barbican_venv.sh: building $venv failed (log: $log)" >&2
    exit 1
fi
echo "$want" > "$stamp"
