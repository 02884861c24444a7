#!/usr/bin/env bash
# Build the virtualenv that the functional tests run Keystone from.
#
# Keystone is a test dependency only, and its requirements (Flask,
# pysaml2, its own oslo.* floors) need not agree with glance's, so it
# gets a virtualenv of its own: .keystone-venv in the repository root
# (gitignored), built once and reused until tools/keystone-*.txt change.
#
#   tools/keystone_venv.sh [VENV_DIR]
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
exec "$here/tools/pinned_venv.sh" Keystone "${1:-$here/.keystone-venv}" \
    "$here/tools/keystone-requirements.txt" \
    "$here/tools/keystone-constraints.txt" \
    'keystone-manage --version && python -c "import keystone, gunicorn"'
