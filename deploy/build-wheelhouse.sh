#!/usr/bin/env bash
# Build the offline wheelhouse for a Linux install, on a connected Linux machine of the same
# distribution, architecture and Python (3.11) as the servers.
#
#   deploy/build-wheelhouse.sh [--out DIR] [--requirements FILE] [--extra PKG]... [--skip-verify]
#
# Every package of requirements/base.txt (and its dependencies) lands in DIR (default
# wheelhouse/) as a wheel. hnswlib publishes no wheels: pip builds it from source here, which
# needs gcc, g++ and the Python headers (Debian: apt-get install gcc g++ python3-dev). The folder
# is then installed offline in a scratch virtualenv to prove it complete, and SHA256SUMS is
# written. For PostgreSQL and the Redis broker add: --extra 'psycopg[binary]' --extra redis
#
# The Windows wheelhouse is built on Windows: deploy/windows/build-wheelhouse.ps1 (hnswlib needs
# the MSVC build tools there, and the wheel must be cp311-win_amd64).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/wheelhouse"
REQUIREMENTS="$ROOT/requirements/base.txt"
PYTHON="${PYTHON:-python3.11}"
EXTRA=()
VERIFY=1

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --requirements) REQUIREMENTS="$2"; shift 2 ;;
    --extra) EXTRA+=("$2"); shift 2 ;;
    --skip-verify) VERIFY=0; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v "$PYTHON" >/dev/null || PYTHON=python3
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "Python 3.11 is needed (the servers' version); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# A throwaway build environment keeps the system Python untouched.
"$PYTHON" -m venv "$WORK/build"
"$WORK/build/bin/python" -m pip install -q --upgrade pip wheel
echo "Collecting wheels for $REQUIREMENTS into $OUT (hnswlib compiles, about a minute)"
"$WORK/build/bin/python" -m pip wheel -q --wheel-dir "$OUT" -r "$REQUIREMENTS" "${EXTRA[@]}"
"$WORK/build/bin/python" -m pip download -q --only-binary=:all: --dest "$OUT" pip setuptools
if grep -qi '^hnswlib' "$REQUIREMENTS" && ! ls "$OUT"/hnswlib-*.whl >/dev/null 2>&1; then
  echo "no hnswlib wheel was built: install gcc, g++ and python3-dev, then run again" >&2
  exit 1
fi

if [ "$VERIFY" = 1 ]; then
  "$PYTHON" -m venv "$WORK/check"
  "$WORK/check/bin/python" -m pip install -q --no-index --find-links "$OUT" -r "$REQUIREMENTS" "${EXTRA[@]}"
  echo "Offline install from $OUT verified."
fi

(cd "$OUT" && find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | sort | xargs -r sha256sum > SHA256SUMS)
echo "Wheelhouse ready: $(ls "$OUT"/*.whl | wc -l) wheels in $OUT (check after copying: sha256sum -c SHA256SUMS)."
