"""What waitress alone costs per request on this machine: the floor under every endpoint.

    .venv/bin/python scripts/bench/waitress_floor.py                 # the default grid
    .venv/bin/python scripts/bench/waitress_floor.py --threads 1 8 --switch-us 5000 500 --rounds 3

Serves a WSGI application that reads the body and answers 11 bytes of JSON (no Django, no
model) with waitress on a loopback port, in a child process, for each combination of waitress
threads and interpreter switch interval (``sys.setswitchinterval``, what
``ROUTING_SWITCH_INTERVAL_US`` sets for ``manage.py serve``); loads it with ``wrk`` (the same
POST script and connection count as ``manage.py bench``) and prints, per combination and
round: requests/s, wrk's p50/p95/p99 and the server process's CPU milliseconds per request
(user + system, from its own process times). The combinations run in turn within each round,
so a busy machine slows them alike. Needs ``wrk`` (Debian package).
"""

from __future__ import annotations

import argparse
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


def app(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    body = b'{"ok": true}'
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "12")])
    return [body]


def serve(port: int, threads: int, switch_us: int) -> None:
    import logging

    import waitress

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # one warning per queued request
    sys.setswitchinterval(switch_us / 1e6)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)


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


def measure(threads: int, switch_us: int, seconds: float, clients: int, bodies: str) -> dict:
    port = free_port()
    command = [sys.executable, __file__, "--serve", str(port), str(threads), str(switch_us)]
    server = subprocess.Popen(command)
    try:
        wait_for(port)
        process = psutil.Process(server.pid)
        before = process.cpu_times()
        run = subprocess.run(
            ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "-s", str(SCRIPT),
             f"http://127.0.0.1:{port}", "--", bodies, "/", "unused"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        after = process.cpu_times()
    finally:
        server.terminate()
        server.wait(timeout=10)
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK "))
    found = json.loads(line.removeprefix("WRK "))
    cpu = (after.user + after.system) - (before.user + before.system)
    return {
        "threads": threads,
        "switch_us": switch_us,
        "rps": round(found["requests"] / found["seconds"]),
        "p50_ms": found["p50_us"] / 1000,
        "p95_ms": found["p95_us"] / 1000,
        "p99_ms": found["p99_us"] / 1000,
        "cpu_ms_per_request": round(cpu * 1000 / max(1, found["requests"]), 3),
    }


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(*map(int, sys.argv[2:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 8])
    parser.add_argument("--switch-us", type=int, nargs="+", default=[5000, 500])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    o = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk (scripts/bench.sh does it)")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write(BODY + "\n")
    try:
        for round_ in range(1, o.rounds + 1):
            for threads in o.threads:
                for switch_us in o.switch_us:
                    found = measure(threads, switch_us, o.seconds, o.clients, fh.name)
                    print("FLOOR " + json.dumps({"round": round_, **found}), flush=True)
    finally:
        os.unlink(fh.name)


if __name__ == "__main__":
    main()
