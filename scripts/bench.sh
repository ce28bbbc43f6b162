#!/usr/bin/env bash
# manage.py bench with its native load generator: installs wrk from Debian when missing (the
# bench falls back to Python client processes without it, and says so). Arguments go to bench,
# e.g. scripts/bench.sh --items 325000 --skip-training --swaps 0.
source "$(dirname "$0")/_env.sh"
need_debs wrk
ensure_venv requirements/base.txt
exec .venv/bin/python manage.py bench "$@"
