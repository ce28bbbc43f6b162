"""How `manage.py serve --workers N` splits a keep-alive load between its workers.

    .venv/bin/python scripts/bench/worker_split.py var/bench-325000 --runs 8 --seconds 4

Starts ``manage.py serve`` on a bench folder (the bench's environment), then runs wrk
``--runs`` times (``--clients`` keep-alive connections, new ones each run, ``--endpoint``'s
bench bodies) and prints, per run, each worker's open connections on the port (sampled in the
middle of the run), its CPU seconds during the run and wrk's requests/s and p95. Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts" / "bench"))

from cold_start import PROBE, bench_env, token_for  # noqa: E402


def one_run(workers, port: int, args, bodies: str, token: str) -> str:
    from profile_server import load

    from inference_app.management.commands.bench import WorkerSplit

    split = WorkerSplit(workers, port, args.seconds)
    found = load(port, f"/api/v1/{args.endpoint}", token, bodies, args.seconds, args.clients)
    per_worker = split.done()
    return (
        f"connections {per_worker['connections']}  CPU s {per_worker['cpu_s']}  "
        f"{found['requests'] / found['seconds']:.0f} req/s  p95 {found['p95_us'] / 1000:.1f} ms"
    )


def main(args: argparse.Namespace) -> None:
    import psutil

    from inference_app.management.commands.bench import Client, request_bodies, sample_items

    work = Path(args.folder).resolve()
    env = {**bench_env(work), "RUNTIME_POLL_SECONDS": "0.5"}
    token = token_for(env)
    active = json.loads((work / "models" / "active.json").read_text())
    make = request_bodies(sample_items(work / "models" / active["label"]))[args.endpoint]
    command = [sys.executable, "manage.py", "serve", "--port", str(args.port)]
    server = subprocess.Popen(
        [*command, "--workers", str(args.workers)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as fh:
        fh.write("\n".join(json.dumps(make(i)) for i in range(3000)) + "\n")
        fh.flush()
        try:
            client = Client(args.port, token)
            while True:
                try:
                    if client.post("/api/v1/predict", PROBE)[0] == 200:
                        break
                except OSError:
                    time.sleep(0.05)
            client.conn.close()
            parent = psutil.Process(server.pid)
            workers = parent.children() or [parent]
            print(f"workers {[w.pid for w in workers]}", flush=True)
            for run in range(args.runs):
                print(f"run {run + 1}: " + one_run(workers, args.port, args, fh.name, token))
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a bench folder (registry.sqlite3, models/)")
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--endpoint", default="predict", choices=["predict", "similar", "time-summary"]
    )
    parser.add_argument("--port", type=int, default=8767)
    main(parser.parse_args())
