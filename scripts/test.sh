#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian's ODBC drivers and Chromium for the browser
# tests, the dev requirements), checks lint and migrations, then runs pytest. Extra arguments
# go to pytest (e.g. scripts/test.sh -k registry).
source "$(dirname "$0")/_env.sh"
need_debs "${BASE_DEBS[@]}" chromium chromium-driver
ensure_venv requirements/dev.txt
PY=.venv/bin/python
export ROUTING_VAR_DIR="${ROUTING_VAR_DIR:-$ROOT/var/test}"
export ROUTING_LOG_DIR="${ROUTING_LOG_DIR:-$ROOT/var/test/logs}"
mkdir -p "$ROUTING_VAR_DIR"
echo "== ruff"
.venv/bin/ruff check .
echo "== migrations in step with models"
$PY manage.py makemigrations --check --dry-run
echo "== pytest"
exec .venv/bin/pytest "$@"
