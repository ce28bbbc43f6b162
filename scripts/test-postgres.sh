#!/usr/bin/env bash
# The scale-out check: the registry, API, hot-swap, workflow and accounts tests again, and the
# concurrent-writer tests, with a local PostgreSQL as the database (DATABASE_URL; an exported
# one is honoured, e.g. a database of your own on that server) instead of SQLite. Installs
# PostgreSQL from Debian and the scale-out requirements when missing. Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
need_debs postgresql
ensure_venv requirements/dev.txt
.venv/bin/python -m pip install -q -r requirements/scaleout.txt
version="$(ls /etc/postgresql | sort -V | tail -n 1)"
pg_ctlcluster "$version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  su postgres -c "pg_isready -q" && break
  sleep 1
done
su postgres -c "psql -qtc \"SELECT 1 FROM pg_roles WHERE rolname='routing'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE USER routing WITH PASSWORD 'routing' CREATEDB\""
su postgres -c "psql -qtc \"SELECT 1 FROM pg_database WHERE datname='routing'\"" | grep -q 1 ||
  su postgres -c "psql -qc \"CREATE DATABASE routing OWNER routing\""
export DATABASE_URL="${DATABASE_URL:-postgres://routing:routing@127.0.0.1:5432/routing}"
export ROUTING_VAR_DIR="${ROUTING_VAR_DIR:-$ROOT/var/test-postgres}"
export ROUTING_LOG_DIR="${ROUTING_LOG_DIR:-$ROUTING_VAR_DIR/logs}"
mkdir -p "$ROUTING_VAR_DIR"
echo "== pytest on PostgreSQL $version"
exec .venv/bin/pytest tests/test_registry_lifecycle.py tests/test_training_jobs.py \
  tests/test_api_inference.py tests/test_hot_swap.py tests/test_workflow_api.py \
  tests/test_profiles_api.py tests/test_auth_flow.py tests/test_auth_lockout.py \
  tests/test_auth_passwords_and_roles.py tests/test_registry_admin.py tests/test_postgres_races.py "$@"
