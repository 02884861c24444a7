#!/usr/bin/env bash
# Start glance-api with the configuration ../shared/reference/ was recorded
# with (fresh database), replay the recorded scenarios against it and print
# the differences.  Extra arguments go to diff.py (e.g. --scenario image-list -v).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ref=${REFERENCE_DIR:-$here/../shared/reference}
py=${PYTHON:-$here/.venv/bin/python}
port=${PORT:-19393}
work=${WORK_DIR:-$(mktemp -d)}; mkdir -p "$work"
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; [ -n "${WORK_DIR:-}" ] || rm -rf "$work"' EXIT
"$py" "$here/tools/write_config.py" "$work" --port "$port" --profile reference >/dev/null
"$here/.venv/bin/glance-manage" --config-file "$work/glance-api.conf" db sync >/dev/null
"$here/.venv/bin/glance-api" --config-file "$work/glance-api.conf" >"$work/stdout.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/healthcheck" >/dev/null 2>&1 && break
  sleep 0.1
done
"$py" "$ref/diff.py" --golden "$ref/golden.json" --test "http://127.0.0.1:$port" "$@"
