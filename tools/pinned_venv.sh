#!/usr/bin/env bash
# Build a virtualenv from pinned requirements, once: the test services that
# run from virtualenvs of their own (Keystone, Barbican), whose
# requirements need not agree with glance's.  A stamp file records the
# pins it was built from, so changing a pin rebuilds it.
#
#   tools/pinned_venv.sh WHAT VENV_DIR REQUIREMENTS CONSTRAINTS CHECK
#
# CHECK is a shell command run with the venv's bin/ first on PATH after
# installing (for example 'python -c "import keystone"'); it must succeed
# for the build to count.
set -euo pipefail

what="$1" venv="$2" reqs="$3" constraints="$4" check="$5"
python="${PYTHON:-python3}"
stamp="$venv/.installed"

want="$(cat "$reqs" "$constraints" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "Building $venv ($what for the functional tests)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv"
log="$venv/build.log"
if ! { "$venv/bin/pip" install -q --upgrade pip &&
       "$venv/bin/pip" install -q -r "$reqs" -c "$constraints" &&
       PATH="$venv/bin:$PATH" bash -c "$check"; } >"$log" 2>&1
then
    grep -v '^WARNING: Location' "$log" | tail -40 >&2
    echo "tools/pinned_venv.sh: building $venv failed (log: $log)" >&2
    exit 1
fi
echo "$want" > "$stamp"
