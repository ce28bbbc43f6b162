"""cProfile of the whole serving process under wrk: waitress (HTTP parsing, the WSGI
environment, the socket writes) and the application together, for the calls the serving
waitress answers in its main thread (similar, time summary: ``inference_app/inline.py``).

    .venv/bin/python scripts/bench/profile_server.py /api/v1/time-summary TOKEN --seconds 10

Serves the WSGI application with ``manage.py serve``'s server and options on a loopback port
in this process, loads it with wrk (the bench's POST script and bodies, ``--clients``
keep-alive connections) and prints the 30 most expensive functions of the main thread (sorted
by ``--sort``), the process's CPU per request and wrk's figures. ``--no-profile``: the CPU per
request without the profiler. Uses the registry of DATABASE_URL / ROUTING_MODELS_DIR like
manage.py; needs ``wrk`` (Debian package).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
SCRIPT = Path(__file__).resolve().parent / "post.lua"


def load(port: int, path: str, token: str, bodies: str, seconds: float, clients: int) -> dict:
    """wrk's figures for ``seconds`` of load (its WRK line)."""
    run = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", str(SCRIPT),
         f"http://127.0.0.1:{port}", "--", bodies, path, token],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK "))
    return json.loads(line.removeprefix("WRK "))


def main(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.conf import settings

    from inference_app.inline import make_server
    from inference_app.management.commands.bench import request_bodies, sample_items
    from inference_app.management.commands.serve import waitress_options
    from inference_app.runtime import runtime
    from routing_site.wsgi import application

    sys.setswitchinterval(settings.SERVE_SWITCH_INTERVAL_US / 1e6)
    runtime.start()
    make = request_bodies(sample_items(Path(runtime.model.folder)))[args.path.rsplit("/", 1)[-1]]
    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    server = make_server(application, listener, threads=args.threads, **waitress_options())
    port = server.effective_port
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("\n".join(json.dumps(make(i)) for i in range(3000)) + "\n")
    profile = cProfile.Profile()
    found: dict = {}

    def drive() -> None:
        try:
            load(port, args.path, args.token, fh.name, 3, args.clients)  # warm up the memos
            if args.profile:  # run by the loop's own thread (cProfile watches the one enabling)
                server.trigger.pull_trigger(profile.enable)
            started = time.process_time()
            found.update(load(port, args.path, args.token, fh.name, args.seconds, args.clients))
            found["cpu_s"] = time.process_time() - started
            server.trigger.pull_trigger(profile.disable)
            time.sleep(0.2)
        finally:
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
            server.close()

    driver = threading.Thread(target=drive)
    driver.start()
    try:
        server.run()
    except (OSError, ValueError):  # the listening socket closed under the loop at the end
        pass
    finally:
        driver.join()
        os.unlink(fh.name)
    if args.profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(30)
    requests = max(1, found["requests"])
    print(
        f"{requests} requests, {1000 * found['cpu_s'] / requests:.3f} ms CPU per request "
        f"({'profiled' if args.profile else 'not profiled'}), p50 {found['p50_us'] / 1000:.2f} "
        f"ms, p95 {found['p95_us'] / 1000:.2f} ms, non-2xx {found['non_2xx']}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("token")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sort", default="tottime", help="pstats key, e.g. cumulative")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    main(parser.parse_args())
