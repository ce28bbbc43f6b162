# Shared by up.sh and test.sh: Debian packages, the virtualenv and the Python requirements.
# Idempotent: a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

need_debs() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

ensure_venv() {
  local reqs="$1"
  if [ ! -x .venv/bin/python ]; then
    echo "Creating the virtualenv in .venv"
    "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  local stamp=".venv/.installed-$(basename "$reqs")"
  if [ ! -f "$stamp" ] || [ "$reqs" -nt "$stamp" ] || [ requirements/base.txt -nt "$stamp" ]; then
    echo "Installing Python requirements ($reqs; hnswlib compiles once, about a minute)"
    .venv/bin/python -m pip install -q -r "$reqs"
    touch "$stamp"
  fi
}

# ODBC: unixODBC + the mdbtools driver (Access files) + the SQLite ODBC driver; gcc for hnswlib.
BASE_DEBS=(unixodbc unixodbc-dev odbc-mdbtools mdbtools libsqliteodbc gcc g++ python3-dev)
