#!/usr/bin/env bash
# Build the virtualenv `make tempest` runs Tempest from.
#
# Tempest and glance-tempest-plugin are test tools only, and their
# requirements need not agree with glance's, so they get a virtualenv of
# their own: .tempest-venv in the repository root (gitignored), built once
# and reused.  The stamp file records the pins it was built from, so
# changing a pin rebuilds it.  The plugin goes in with --no-deps: it must
# never pull the upstream glance or glance-store packages in.
#
#   tools/tempest_venv.sh [VENV_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.tempest-venv}"
python="${PYTHON:-python3}"
reqs="$here/tools/tempest-requirements.txt"
plugins="$here/tools/tempest-plugins.txt"
constraints="$here/tools/tempest-constraints.txt"
stamp="$venv/.installed"

want="$(cat "$reqs" "$plugins" "$constraints" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "Building $venv (Tempest for make tempest)..." >&2
rm -rf "$venv"
"$python" -m venv "$venv"
log="$venv/build.log"
if ! { "$venv/bin/pip" install -q --upgrade pip &&
       "$venv/bin/pip" install -q -r "$reqs" -c "$constraints" &&
       "$venv/bin/pip" install -q --no-deps -r "$plugins" &&
       "$venv/bin/tempest" --version &&
       "$venv/bin/python" -c "import glance_tempest_plugin, subunit" &&
       ! "$venv/bin/python" -I -c "import glance" 2>/dev/null &&
       ! "$venv/bin/python" -I -c "import glance_store" 2>/dev/null; } \
       >"$log" 2>&1
then
    grep -v '^WARNING: Location' "$log" | tail -40 >&2
    echo "tools/tempest_venv.sh: building $venv failed (log: $log)" >&2
    exit 1
fi
echo "$want" > "$stamp"
