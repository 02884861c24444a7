#!/usr/bin/env bash
# Download the wheels the installation test installs from, offline.
#
# glance/tests/functional/test_install.py builds a clean virtualenv and
# pip-installs the project into it the way an operator would; a test
# must not reach the package index, so the distributions it needs (the
# service's requirements and setuptools to build the project's wheel)
# are fetched here, at `make` time, the way `make venv` fetches its own:
# .wheelhouse in the repository root (gitignored), refreshed when
# requirements.txt or this script change.
#
#   tools/wheelhouse.sh [DIR]     (PYTHON: the interpreter to match)
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$here/.wheelhouse}"
python="${PYTHON:-python3}"
stamp="$dir/.downloaded"

want="$(cat "$here/requirements.txt" "$0" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "Downloading the wheels of the installation test into $dir..." >&2
rm -rf "$dir"
mkdir -p "$dir"
log="$dir/download.log"
if ! "$python" -m pip download -d "$dir" --only-binary :all: \
        -r "$here/requirements.txt" setuptools >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" | tail -40 >&2
    echo "tools/wheelhouse.sh: downloading into $dir failed (log: $log)" >&2
    exit 1
fi
echo "$want" > "$stamp"
