#!/usr/bin/env bash
# The scale-out check on real engines: tests/test_scaleout.py starts the topology of
# scripts/scaleout.sh (PostgreSQL, Redis, two workers, two serve nodes, nginx) in
# var/test-scaleout on ports 18420.. (SCALEOUT_BASE_PORT), runs against it and stops it again.
# Installs what is missing (Debian's postgresql, redis-server, nginx; the scale-out requirements).
# Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
need_debs postgresql redis-server nginx
ensure_venv requirements/dev.txt
.venv/bin/python -m pip install -q -r requirements/scaleout.txt
export ROUTING_VAR_DIR="${ROUTING_VAR_DIR:-$ROOT/var/test}"
export ROUTING_LOG_DIR="${ROUTING_LOG_DIR:-$ROOT/var/test/logs}"
export SCALEOUT_DIR="${SCALEOUT_DIR:-$ROOT/var/test-scaleout}"
export SCALEOUT_BASE_PORT="${SCALEOUT_BASE_PORT:-18420}"
mkdir -p "$ROUTING_VAR_DIR"
echo "== pytest: the scale-out topology"
# The scaleout tests are deselected by default (pyproject.toml); the module's other tests (the
# runtime's shared-storage grace, in-process) run in the main suite.
status=0
.venv/bin/pytest tests/test_scaleout.py -m scaleout -s "$@" || status=$?
# whatever happened in the tests, nothing the topology started may keep running
bash scripts/scaleout.sh down >/dev/null
exit "$status"
