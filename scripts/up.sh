#!/usr/bin/env bash
# Brings up the whole product on the embedded defaults: installs what is missing, creates the
# database and an admin account, generates the sample plant database, trains, approves and
# activates a first model version, then starts the task cluster and the web server.
#   ROUTING_SAMPLE_ITEMS (default 20000), ROUTING_PORT (default 8000), ADMIN_USER (default admin)
source "$(dirname "$0")/_env.sh"
need_debs "${BASE_DEBS[@]}"
ensure_venv requirements/base.txt
PY=.venv/bin/python
ITEMS="${ROUTING_SAMPLE_ITEMS:-20000}"
PORT="${ROUTING_PORT:-8000}"
ADMIN_USER="${ADMIN_USER:-admin}"

$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
# the admin's password: private (0600) from the first byte, then moved into place
(umask 077 && $PY manage.py create_admin "$ADMIN_USER" > var/admin-login.txt.new)
mv var/admin-login.txt.new var/admin-login.txt
if [ ! -f var/plant.sqlite ]; then
  $PY manage.py make_sample_data --items "$ITEMS" --seed 1 --out var/plant.sqlite
fi
if ! $PY manage.py versions --json | grep -q '"state": "active"'; then
  LABEL="$($PY manage.py train --wait | tail -n 1)"
  $PY manage.py approve "$LABEL" --comment "first version, installed by scripts/up.sh"
  $PY manage.py activate "$LABEL" --comment "first version, installed by scripts/up.sh"
fi
$PY manage.py preflight --skip-port || true

mkdir -p logs
$PY manage.py qcluster >> logs/qcluster.out 2>&1 &
QPID=$!
trap 'kill $QPID 2>/dev/null || true' EXIT INT TERM
echo
echo "Task cluster started (pid $QPID, output in logs/qcluster.out)."
cat var/admin-login.txt
echo "Console:   http://127.0.0.1:${PORT}/      Admin: http://127.0.0.1:${PORT}/admin/"
echo "API docs:  http://127.0.0.1:${PORT}/api/v1/docs/"
echo
$PY manage.py serve --port "$PORT"
