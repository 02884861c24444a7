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
exec "$here/tools/pinned_venv.sh" Barbican "${1:-$here/.barbican-venv}" \
    "$here/tools/barbican-requirements.txt" \
    "$here/tools/barbican-constraints.txt" \
    'python -c "import barbican.api.app, gunicorn"'
