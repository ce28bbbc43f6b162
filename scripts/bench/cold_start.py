"""Cold start alone, several times: ``manage.py serve`` started on a bench folder until its first
answered prediction, as ``manage.py bench`` measures it, without the load tests.

    .venv/bin/python scripts/bench/cold_start.py var/bench-325000 --runs 5

The folder is one ``manage.py bench`` made (registry.sqlite3, models/ with an active version).
Each run prints the seconds to the first answered prediction, the server's ``Start-up`` stages
(with *listen and first request*, the rest of the measured time) and the share outside the
index and table loads; the last line gives the median and the range.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
PROBE = {"items": [{"item_code": "__cold_start_probe__", "attributes": {"PART_TYPE": "SEAL"}}]}


def bench_env(work: Path) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "routing_site.settings",
        "DATABASE_URL": f"sqlite:///{(work / 'registry.sqlite3').as_posix()}",
        "ROUTING_MODELS_DIR": str(work / "models"),
        "ROUTING_LOG_DIR": str(work / "logs"),
        "ROUTING_SOURCE": f"sqlite:///{(work / 'plant.sqlite').as_posix()}",
    }


def token_for(env: dict) -> str:
    command = [sys.executable, "manage.py", "issue_token", "cold-start", "--role", "viewer"]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def one_start(env: dict, token: str, port: int, workers: int, out: Path) -> tuple[float, dict]:
    """Seconds from the server's start to its first answered prediction, and its stages."""
    from inference_app.management.commands.bench import Client

    with out.open("w") as server_out:
        started = time.perf_counter()
        command = [sys.executable, "manage.py", "serve", "--port", str(port)]
        server = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=REPO,
            env=env,
            stdout=server_out,
            stderr=subprocess.STDOUT,
        )
        try:
            client = Client(port, token)
            while server.poll() is None:
                try:
                    if client.post("/api/v1/predict", PROBE)[0] == 200:
                        break
                except (http.client.HTTPException, OSError):
                    pass  # not listening yet
                time.sleep(0.02)
            else:
                raise SystemExit(f"the server exited during start-up:\n{out.read_text()}")
            cold = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=20)
    line = next(x for x in out.read_text().splitlines() if x.startswith("Start-up "))
    return cold, json.loads(line.removeprefix("Start-up "))


def main(args: argparse.Namespace) -> None:
    from inference_app.management.commands.serve import load_seconds

    work = Path(args.folder).resolve()
    env = bench_env(work)
    token = token_for(env)
    colds = []
    for _ in range(args.runs):
        cold, found = one_start(env, token, args.port, args.workers, work / "logs" / "cold.out")
        stages = found["stages"]
        stages["listen and first request"] = cold - sum(stages.values())
        loads = load_seconds(found)
        colds.append(cold)
        print(
            f"{cold:.3f} s | "
            + ", ".join(f"{k} {v:.3f}" for k, v in stages.items())
            + " | beside: "
            + ", ".join(f"{k} {v:.3f}" for k, v in found["beside"].items())
            + f" | outside the loads {100 * (1 - loads / cold):.0f} %",
            flush=True,
        )
        time.sleep(1)
    print(
        f"median {statistics.median(colds):.2f} s, range {min(colds):.2f}–{max(colds):.2f} s "
        f"({len(colds)} runs, {args.workers} workers)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a bench folder (registry.sqlite3, models/)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8766)
    main(parser.parse_args())
