#!/usr/bin/env bash
# Runs every test: installs what is missing (Debian's ODBC drivers and Chromium for the browser
# tests, the dev requirements), runs the checks of .pre-commit-config.yaml on every file (ruff
# lint and format, migrations in step with models, compileall), then runs pytest. Extra
# arguments go to pytest (e.g. scripts/test.sh -k registry).
source "$(dirname "$0")/_env.sh"
need_debs "${BASE_DEBS[@]}" git chromium chromium-driver postgresql odbc-postgresql
ensure_venv requirements/dev.txt
export ROUTING_VAR_DIR="${ROUTING_VAR_DIR:-$ROOT/var/test}"
export ROUTING_LOG_DIR="${ROUTING_LOG_DIR:-$ROOT/var/test/logs}"
mkdir -p "$ROUTING_VAR_DIR"
echo "== checks (.pre-commit-config.yaml: ruff check, ruff format --check, migrations, compileall)"
.venv/bin/pre-commit run --all-files --show-diff-on-failure --color never
echo "== pytest"
exec .venv/bin/pytest "$@"
