"""The main thread's CPU on the serving start's path, without the early threads: what a cold
start must do under the interpreter lock besides the index read, measured in a way a busy
machine disturbs less than a wall-clock start.

    .venv/bin/python scripts/bench/start_cpu.py var/bench-325000 --runs 20
    .venv/bin/python scripts/bench/start_cpu.py var/bench-325000 --runs 20 --other ../main

Each run is a fresh interpreter that does what ``manage.py serve`` does before its first answer,
in order, in one thread, the garbage collector off: the modules ``serve`` leaves unread until used
(``routing_site.startup.defer_imports``, in a checkout that has it), the settings and
``django.setup()``, the serve command, the WSGI application with waitress, numpy.ma and the
inline server, and the model code (``time.thread_time`` around each part; numpy's BLAS held to
one thread so its own thread's start is not counted). With ``--other`` the runs alternate
between that checkout's code and this one's; the medians and minima of each are printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def child() -> None:
    started = time.thread_time()
    gc.disable()  # as manage.py does for serve until the version is loaded
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    try:
        from routing_site.startup import defer_imports
    except ImportError:  # a checkout from before it
        pass
    else:
        defer_imports()
    import django

    django.setup()
    set_up = time.thread_time()
    import encodings.idna  # noqa: F401

    import numpy.ma  # noqa: F401
    import waitress  # noqa: F401
    from django.core.management import load_command_class

    load_command_class("inference_app", "serve")
    import inference_app.inline  # noqa: F401
    import registry_app.pipeline.index  # noqa: F401
    import registry_app.pipeline.tables  # noqa: F401
    import routing_core.predictor  # noqa: F401
    import routing_site.wsgi  # noqa: F401

    done = time.thread_time()
    print(json.dumps({"set-up": set_up - started, "after": done - set_up, "total": done - started}))


def one_run(code: Path, env: dict) -> dict:
    env = {**env, "PYTHONPATH": str(code)}
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(REPO))  # not in a child: it runs the code of its own checkout
    from scripts.bench.cold_start import bench_env

    env = {**bench_env(Path(args.folder).resolve()), "OPENBLAS_NUM_THREADS": "1"}
    codes = {"this": REPO} if args.other is None else {"other": Path(args.other), "this": REPO}
    found: dict[str, list[dict]] = {name: [] for name in codes}
    for _ in range(args.runs):
        for name, code in codes.items():
            found[name].append(one_run(code, env))
    for name, runs in found.items():
        parts = ", ".join(
            f"{part} median {statistics.median(r[part] for r in runs):.3f} "
            f"min {min(r[part] for r in runs):.3f}"
            for part in ("set-up", "after", "total")
        )
        print(f"{name} ({codes[name]}), {len(runs)} runs, CPU seconds: {parts}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child()
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a bench folder (registry.sqlite3, models/)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--other", help="another checkout whose code to run in turn")
    main(parser.parse_args())
