#!/usr/bin/env bash
# The scale-out topology on one machine, as a plant runs it on several servers:
#   PostgreSQL (registry; the machine's Debian cluster, own database and user), Redis (django-q
#   broker), two task cluster workers (manage.py qcluster), two inference nodes (manage.py serve,
#   each on its own port with its own cache, sharing one artifact store), and Debian's nginx in
#   front (deploy/nginx/routing.conf with this topology's ports).
#
#   scripts/scaleout.sh up              install what is missing, start what is not running
#   scripts/scaleout.sh down            stop every process it started (PostgreSQL keeps running)
#   scripts/scaleout.sh status          one line per service; exit 3 when one is not running
#   scripts/scaleout.sh start|stop NAME...  services: redis worker1 worker2 node1 node2 nginx
#   scripts/scaleout.sh purge           after down: drop its database and delete SCALEOUT_DIR
#   scripts/scaleout.sh bench [SECONDS] requests/s through nginx with 2 nodes, with 1, and of one
#                                       node without nginx (4 clients; 20 s per endpoint)
#
# Environment: SCALEOUT_BASE_PORT (18400: nginx; +1, +2 the nodes; +9 Redis), SCALEOUT_ITEMS
# (20000 sample items for the first version), SCALEOUT_DIR (var/scaleout), SCALEOUT_DB
# (routing_scaleout; the PostgreSQL user is routing_scaleout whatever the database),
# SCALEOUT_EVAL_SAMPLE (unset: the workflow default; set once before the first training, e.g. a
# small sample for quick trial trainings). Processes are started in their own process group and
# stopped by the PID in SCALEOUT_DIR/pids/; logs are in SCALEOUT_DIR/logs/.
# SCALEOUT_DIR/scaleout.env holds the settings every process runs with.
source "$(dirname "$0")/_env.sh"
PY="$ROOT/.venv/bin/python"
BASE="${SCALEOUT_BASE_PORT:-18400}"
SO="${SCALEOUT_DIR:-$ROOT/var/scaleout}"
ITEMS="${SCALEOUT_ITEMS:-20000}"
SERVICES=(redis worker1 worker2 node1 node2 nginx)
PG_USER=routing_scaleout
PG_DB="${SCALEOUT_DB:-routing_scaleout}"

port_of() {
  case "$1" in
    nginx) echo "$BASE" ;;
    node1) echo $((BASE + 1)) ;;
    node2) echo $((BASE + 2)) ;;
    redis) echo $((BASE + 9)) ;;
    *) echo "-" ;;
  esac
}

pid_of() { cat "$SO/pids/$1.pid" 2>/dev/null || true; }

# Running = the PID in its file is alive and still runs the service's program (a PID file left
# by a reboot may name an unrelated process, which must not be reported, let alone signalled).
running() {
  local pid program
  pid="$(pid_of "$1")"
  case "$1" in
    redis) program=redis-server ;;
    worker1 | worker2) program="manage.py qcluster" ;;
    node1 | node2) program="manage.py serve" ;;
    *) program=nginx ;;
  esac
  [ -n "$pid" ] && running_pids "$pid" &&
    { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -q "$program"
}

write_env() {
  mkdir -p "$SO/pids" "$SO/logs" "$SO/models" "$SO/var/imports" "$SO/redis" "$SO/nginx"
  cat > "$SO/scaleout.env" <<EOF
DATABASE_URL=postgres://$PG_USER:$PG_USER@127.0.0.1:5432/$PG_DB
REDIS_URL=redis://127.0.0.1:$(port_of redis)/0
ROUTING_MODELS_DIR=$SO/models
ROUTING_VAR_DIR=$SO/var
ROUTING_SOURCE=sqlite:///$SO/var/imports/plant.sqlite
ROUTING_LOG_DIR=$SO/logs/manage
SCALEOUT_URL=http://127.0.0.1:$(port_of nginx)
SCALEOUT_NODE1_URL=http://127.0.0.1:$(port_of node1)
SCALEOUT_NODE2_URL=http://127.0.0.1:$(port_of node2)
EOF
}

load_env() {
  set -a
  # shellcheck disable=SC1091
  . "$SO/scaleout.env"
  set +a
}

# Runs a command in its own session (process group), output appended to logs/NAME.log.
spawn() {
  local name="$1"
  shift
  ROUTING_LOG_DIR="$SO/logs/$name" setsid "$@" >> "$SO/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$SO/pids/$name.pid"
}

wait_for() {
  local what="$1" tries="$2"
  shift 2
  for _ in $(seq 1 "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "$what did not come up; see $SO/logs/" >&2
  return 1
}

http_ok() { "$PY" -c "import sys,urllib.request as u; u.urlopen(sys.argv[1], timeout=2)" "$1"; }

render_nginx() {
  local conf="$SO/nginx/routing.conf"
  mkdir -p "$SO/nginx/tmp" "$SO/logs/nginx"
  # deploy/nginx/routing.conf is the source: only its ports and log path are replaced.
  sed -e "s#listen 80;#listen 127.0.0.1:$(port_of nginx);#" \
      -e "s#127\.0\.0\.1:8001#127.0.0.1:$(port_of node1)#" \
      -e "s#127\.0\.0\.1:8002#127.0.0.1:$(port_of node2)#" \
      -e "/127\.0\.0\.1:8003/d" \
      -e "s#/var/log/nginx/routing.access.log#$SO/logs/nginx/access.log#" \
      deploy/nginx/routing.conf > "$conf"
  local user=""
  [ "$(id -u)" -eq 0 ] && user="user root root;"
  cat > "$SO/nginx/nginx.conf" <<EOF
$user
worker_processes 1;
pid $SO/nginx/nginx.pid;
error_log $SO/logs/nginx/error.log warn;
events { worker_connections 1024; }
http {
    client_body_temp_path $SO/nginx/tmp/body;
    proxy_temp_path $SO/nginx/tmp/proxy;
    fastcgi_temp_path $SO/nginx/tmp/fastcgi;
    uwsgi_temp_path $SO/nginx/tmp/uwsgi;
    scgi_temp_path $SO/nginx/tmp/scgi;
    include $conf;
}
EOF
  nginx -q -t -p "$SO/nginx" -c "$SO/nginx/nginx.conf"
}

# Starts the named services that are not running, all at once, then waits until each answers.
start_many() {
  local name started=()
  for name in "$@"; do
    running "$name" && continue
    launch "$name"
    started+=("$name")
  done
  for name in "${started[@]}"; do
    ready "$name"
  done
}

launch() {
  case "$1" in
    redis)
      spawn redis redis-server --port "$(port_of redis)" --bind 127.0.0.1 --dir "$SO/redis" \
        --appendonly yes --appendfsync always --save "" --daemonize no
      ;;
    worker1 | worker2) spawn "$1" "$PY" manage.py qcluster ;;
    node1 | node2)
      spawn "$1" "$PY" manage.py serve --host 127.0.0.1 --port "$(port_of "$1")" --workers 1
      ;;
    nginx)
      render_nginx
      spawn nginx nginx -p "$SO/nginx" -c "$SO/nginx/nginx.conf" -g "daemon off;"
      ;;
  esac
}

ready() {
  case "$1" in
    redis) wait_for redis 40 redis-cli -p "$(port_of redis)" ping ;;
    worker1 | worker2) wait_for "$1" 10 running "$1" ;;
    *) wait_for "$1" 120 http_ok "http://127.0.0.1:$(port_of "$1")/api/v1/health" ;;
  esac
}

# Stops the named services together: TERM to each leader, KILL what is left of its group after 10 s.
stop_many() {
  local name pid pids=()
  for name in "$@"; do
    pid="$(pid_of "$name")"
    if running "$name"; then
      kill -TERM "$pid" 2>/dev/null || true # the leader stops its own children
      pids+=("$pid")
    fi
  done
  for _ in $(seq 1 40); do
    running_pids "${pids[@]}" || break
    sleep 0.25
  done
  for pid in "${pids[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  for name in "$@"; do
    rm -f "$SO/pids/$name.pid"
  done
}

running_pids() {
  local pid
  for pid in "$@"; do
    kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && return 0
  done
  return 1
}

psql_as_postgres() { su postgres -c "psql -qtc \"$1\""; }

postgres_ready() {
  local version
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  # The machine's cluster is shared: start it when it is down, never stop it here.
  su postgres -c "pg_isready -q" || pg_ctlcluster "$version" main start
  wait_for postgresql 60 su postgres -c "pg_isready -q"
  psql_as_postgres "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'" | grep -q 1 ||
    psql_as_postgres "CREATE USER $PG_USER WITH PASSWORD '$PG_USER'"
  psql_as_postgres "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1 ||
    psql_as_postgres "CREATE DATABASE $PG_DB OWNER $PG_USER"
}

purge() {
  local name
  for name in "${SERVICES[@]}"; do
    if running "$name"; then
      echo "$name is running: run '$0 down' first." >&2
      return 2
    fi
  done
  su postgres -c "pg_isready -q" && psql_as_postgres "DROP DATABASE IF EXISTS $PG_DB"
  rm -rf "$SO"
  echo "Dropped database $PG_DB and deleted $SO."
}

# The first version, once: train, approve, activate (one process: each start of manage.py costs
# seconds on a busy 2-core machine).
first_version() {
  [ -f "$SO/var/imports/plant.sqlite" ] ||
    "$PY" manage.py make_sample_data --items "$ITEMS" --seed 1 --out "$SO/var/imports/plant.sqlite"
  SCALEOUT_EVAL_SAMPLE="${SCALEOUT_EVAL_SAMPLE:-}" "$PY" manage.py shell -v0 -c "
import os
from django.core.management import call_command
from registry_app.models import ModelVersion, VersionState
from workflow_app.models import WorkflowConfig
if not ModelVersion.objects.filter(state=VersionState.ACTIVE).exists():
    if os.environ['SCALEOUT_EVAL_SAMPLE']:
        sample = int(os.environ['SCALEOUT_EVAL_SAMPLE'])
        WorkflowConfig.apply({'eval_sample': sample}, comment='scripts/scaleout.sh')
    call_command('train', '--wait')
    label = ModelVersion.objects.order_by('-number').first().label
    for verb in ('approve', 'activate'):
        call_command(verb, label, '--comment', 'first version, scripts/scaleout.sh')
"
}

up() {
  need_debs postgresql redis-server nginx
  ensure_venv requirements/scaleout.txt
  postgres_ready
  write_env
  load_env
  start_many redis
  "$PY" manage.py migrate --noinput -v0
  "$PY" manage.py collectstatic --noinput -v0
  first_version
  start_many worker1 worker2 node1 node2
  start_many nginx
  status
}

down() {
  stop_many nginx node1 node2 worker1 worker2
  stop_many redis # last: workers stopping while the broker is gone wait for it until killed
  echo "Stopped (PostgreSQL is shared and keeps running)."
}

status() {
  local all=0 name
  for name in "${SERVICES[@]}"; do
    if running "$name"; then
      printf '%-8s running  pid %-8s port %s\n' "$name" "$(pid_of "$name")" "$(port_of "$name")"
    else
      printf '%-8s stopped\n' "$name"
      all=3
    fi
  done
  [ "$all" -eq 0 ] && echo "Console through nginx: http://127.0.0.1:$(port_of nginx)/"
  return "$all"
}

bench() {
  local seconds="${1:-20}" token
  status >/dev/null || { echo "Every service must be running: $0 up" >&2; return 2; }
  token="$("$PY" manage.py issue_token scaleout-bench --role viewer --name "scaleout.sh bench" | tail -n 1)"
  measure() { "$PY" scripts/scaleout_bench.py "$1" "$2" "$token" "$seconds" "$SO/var/imports/plant.sqlite"; }
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  measure "nginx -> node1 + node2" "$SCALEOUT_URL"
  stop_many node2
  measure "nginx -> node1 (node2 stopped)" "$SCALEOUT_URL"
  measure "node1 directly (no nginx)" "$SCALEOUT_NODE1_URL"
  start_many node2
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  purge) purge ;;
  bench)
    load_env
    bench "${2:-20}"
    ;;
  start | stop)
    [ $# -ge 2 ] || { echo "usage: $0 $1 NAME... (${SERVICES[*]})" >&2; exit 2; }
    action="$1"
    shift
    [ -f "$SO/scaleout.env" ] || { echo "Run '$0 up' first." >&2; exit 2; }
    for name in "$@"; do
      [[ " ${SERVICES[*]} " == *" $name "* ]] || { echo "Unknown service '$name' (one of: ${SERVICES[*]})" >&2; exit 2; }
    done
    load_env
    "${action}_many" "$@"
    ;;
  *)
    echo "usage: $0 up|down|status|purge|bench [SECONDS]|start NAME...|stop NAME..." >&2
    exit 2
    ;;
esac
