"""What waitress alone costs per request on this machine: the floor under every endpoint.

    .venv/bin/python scripts/bench/waitress_floor.py                 # the default grid
    .venv/bin/python scripts/bench/waitress_floor.py --threads 1 8 --switch-us 5000 500 --rounds 3
    .venv/bin/python scripts/bench/waitress_floor.py --threads 8 --switch-us 500 \
        --adj "" send_bytes=1 channel_request_lookahead=1 asyncore_use_poll=true
    .venv/bin/python scripts/bench/waitress_floor.py --threads 8 --switch-us 500 \
        --server pool inline

Serves a WSGI application that reads the body and answers 11 bytes of JSON (no Django, no
model) with waitress on a loopback port, in a child process, for each combination of waitress
threads and interpreter switch interval (``sys.setswitchinterval``, what
``ROUTING_SWITCH_INTERVAL_US`` sets for ``manage.py serve``); loads it with ``wrk`` (the same
POST script and connection count as ``manage.py bench``) and prints, per combination and
round: requests/s, wrk's p50/p95/p99 and the server process's CPU milliseconds per request
(user + system, from its own process times). ``--adj`` adds waitress settings as a third
dimension: each argument is one set of comma-separated ``name=value`` pairs passed to
``waitress.serve`` over the product's own options of ``manage.py serve`` (``""``: those
alone; ``send_bytes=1``: waitress's default instead of the product's). ``--server`` adds
the server as a fourth: ``pool`` (waitress's own, every request handed to a pool thread) and
``inline`` (``inference_app.inline``: the short API calls answered by the main thread; the
requests go to ``/api/v1/similar``). The combinations run in turn within each round, so a busy
machine slows them alike. Needs ``wrk`` (Debian package).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SCRIPT = Path(__file__).resolve().parent / "post.lua"
BODY = json.dumps({"item_code": "A-100", "top_k": 10})
PATH = "/api/v1/similar"  # one of the paths the inline server answers in its main thread


def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = b'{"ok": true}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "12")])
    return [body]


def settings_of(adj: str) -> dict[str, str]:
    """``name=value,name=value`` → waitress keyword arguments (waitress converts the values)."""
    pairs = [p.split("=", 1) for p in adj.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise SystemExit(f"--adj wants name=value pairs separated by commas, not {adj!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def serve(port: int, threads: int, switch_us: int, adj: str = "", server: str = "pool") -> None:
    import logging

    import waitress

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from inference_app.inline import create_inline_server
    from inference_app.management.commands.serve import waitress_options

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # one warning per queued request
    sys.setswitchinterval(switch_us / 1e6)
    options = {**waitress_options(), **settings_of(adj)}
    if server == "pool":
        waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True, **options)
        return
    listener = socket.create_server(("127.0.0.1", port), backlog=1024)
    create_inline_server(app, listener, threads=threads, **options).run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server on port {port} did not start within {seconds:g} s")


def measure(
    threads: int, switch_us: int, adj: str, server: str, seconds: float, clients: int, bodies: str
) -> dict:
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), str(threads), str(switch_us), adj]
    command.append(server)
    child = subprocess.Popen(command)
    try:
        wait_for(port)
        process = psutil.Process(child.pid)
        before = process.cpu_times()
        run = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", str(SCRIPT),
             f"http://127.0.0.1:{port}", "--", bodies, PATH, "unused"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        after = process.cpu_times()
    finally:
        child.terminate()
        child.wait(timeout=10)
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK "))
    found = json.loads(line.removeprefix("WRK "))
    cpu = (after.user + after.system) - (before.user + before.system)
    return {
        "threads": threads,
        "switch_us": switch_us,
        "adj": adj,
        "server": server,
        "rps": round(found["requests"] / found["seconds"]),
        "p50_ms": found["p50_us"] / 1000,
        "p95_ms": found["p95_us"] / 1000,
        "p99_ms": found["p99_us"] / 1000,
        "cpu_ms_per_request": round(cpu * 1000 / max(1, found["requests"]), 3),
    }


def main() -> None:
    if len(sys.argv) == 7 and sys.argv[1] == "--serve":
        serve(*map(int, sys.argv[2:5]), sys.argv[5], sys.argv[6])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 8])
    parser.add_argument("--switch-us", type=int, nargs="+", default=[5000, 500])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--adj", nargs="+", default=[""], help="waitress settings, one set each")
    parser.add_argument("--server", nargs="+", default=["pool"], choices=["pool", "inline"])
    o = parser.parse_args()
    for adj in o.adj:
        settings_of(adj)  # a malformed set stops here, before any server starts
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/bench.sh does it)")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write(BODY + "\n")
    try:
        for round_ in range(1, o.rounds + 1):
            for threads in o.threads:
                for switch_us in o.switch_us:
                    for adj, server in itertools.product(o.adj, o.server):
                        found = measure(
                            threads, switch_us, adj, server, o.seconds, o.clients, fh.name
                        )
                        print("FLOOR " + json.dumps({"round": round_, **found}), flush=True)
    finally:
        os.unlink(fh.name)


if __name__ == "__main__":
    main()
