"""End-to-end benchmark of DESIGN §9, in an isolated work folder (its own registry and models)."""

from __future__ import annotations

import http.client
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference_app.management.commands.serve import load_seconds

REPO = Path(__file__).resolve().parents[3]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


class Command(BaseCommand):
    help = (
        "Benchmark the product on a generated plant of N items: training time and peak memory, "
        "cold start, HTTP latency with concurrent clients, HNSW recall@10, serving RSS, and "
        "failed requests while the active version is switched. Prints the figures."
    )

    def add_arguments(self, parser):
        parser.add_argument("--items", type=int, default=325_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--dir", default="", help="work folder (default var/bench-<items>)")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--clients", type=int, default=4)
        parser.add_argument("--workers", type=int, default=2, help="serving processes")
        parser.add_argument("--threads", type=int, default=8, help="waitress threads per process")
        parser.add_argument("--seconds", type=float, default=15.0, help="load time per endpoint")
        parser.add_argument("--swaps", type=int, default=10)
        parser.add_argument(
            "--skip-training", action="store_true", help="reuse the work folder's versions"
        )
        parser.add_argument(
            "--load",
            choices=["auto", "wrk", "python"],
            default="auto",
            help="load generator: wrk (Debian package, scripts/bench/post.lua) or the Python "
            "client processes; auto = wrk when installed",
        )

    def handle(self, *args, **o):
        if o["items"] < 100 or o["clients"] < 1:
            raise CommandError("--items must be at least 100 and --clients at least 1.")
        if o["load"] == "wrk" and not shutil.which("wrk"):
            raise CommandError("--load wrk: wrk is not installed (Debian: apt-get install wrk).")
        o["load"] = "wrk" if o["load"] != "python" and shutil.which("wrk") else "python"
        work = Path(o["dir"]) if o["dir"] else settings.VAR_DIR / f"bench-{o['items']}"
        work.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{(work / 'registry.sqlite3').as_posix()}",
            "ROUTING_MODELS_DIR": str(work / "models"),
            "ROUTING_LOG_DIR": str(work / "logs"),
            "ROUTING_SOURCE": f"sqlite:///{(work / 'plant.sqlite').as_posix()}",
            "RUNTIME_POLL_SECONDS": "0.5",
        }
        self.figures: dict = {"items": o["items"]}
        self.manage("migrate", "-v0")
        if not (work / "plant.sqlite").exists():
            started = time.perf_counter()
            self.manage(
                "make_sample_data",
                "--items",
                str(o["items"]),
                "--seed",
                str(o["seed"]),
                "--out",
                str(work / "plant.sqlite"),
            )
            self.report("sample data generation", f"{time.perf_counter() - started:.1f} s")
        labels = self.existing_labels() if o["skip_training"] else []
        while len(labels) < (2 if o["swaps"] else 1):  # a second version only to switch to
            labels.append(self.train())
        for label in labels:
            self.manage("approve", label, check=False)
        if labels[0] not in self.existing_labels(states=("active",)):
            self.manage("activate", labels[0])
        token = (
            self.manage("issue_token", "bench-client", "--role", "admin").strip().splitlines()[-1]
        )
        self.serve_and_measure(o, token, labels)
        self.stdout.write("\nFIGURES " + json.dumps(self.figures))

    # -- helpers -----------------------------------------------------------------------------
    def manage(self, *args, check=True) -> str:
        proc = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if check and proc.returncode:
            raise CommandError(f"manage.py {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def report(self, name: str, value: str) -> None:
        self.stdout.write(f"{name:44} {value}")

    def existing_labels(self, states=("pending", "approved", "active", "retired")) -> list[str]:
        versions = json.loads(self.manage("versions", "--json"))
        return [v["label"] for v in versions if v["state"] in states][:2]

    def train(self) -> str:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        out = self.manage("train", "--wait")
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        label = out.strip().splitlines()[-1]
        timings = next((ln for ln in out.splitlines() if ln.startswith("Trained ")), "")
        self.report(
            f"training {label} (end to end)",
            f"{seconds:.1f} s, peak RSS {peak_mb:.0f} MB"
            + ("" if peak_mb > before / 1024 else " (max of runs)"),
        )
        self.report("  stages", timings.split("—")[-1].strip())
        self.figures.setdefault("training_s", []).append(round(seconds, 1))
        self.figures["training_peak_rss_mb"] = round(peak_mb)
        return label

    def serve_and_measure(self, o: dict, token: str, labels: list[str]) -> None:
        import psutil

        out_path = Path(self.env["ROUTING_LOG_DIR"]) / "bench-serve.out"
        out_path.parent.mkdir(parents=True, exist_ok=True)
        server_out = out_path.open("w")
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--port",
                str(o["port"]),
                "--threads",
                str(o["threads"]),
                "--workers",
                str(o["workers"]),
            ],
            cwd=REPO,
            env=self.env,
            stdout=server_out,
            stderr=subprocess.STDOUT,
        )
        try:
            client = Client(o["port"], token)
            probe = {
                "items": [
                    {"item_code": "__cold_start_probe__", "attributes": {"PART_TYPE": "SEAL"}}
                ]
            }
            while True:
                if server.poll() is not None:
                    raise CommandError("the server exited during start-up; see its logs")
                try:
                    status, _ = client.post("/api/v1/predict", probe)
                    if status == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.02)
            cold = time.perf_counter() - started
            client.conn.close()  # an idle kept connection would count in the workers' split
            self.report("cold start to first prediction", f"{cold:.2f} s")
            self.figures["cold_start_s"] = round(cold, 2)
            self.startup_breakdown(out_path, cold)
            parent = psutil.Process(server.pid)
            serving = parent.children() or [parent]  # the workers when --workers > 1
            sample = self.sample_items(client)
            self.raw_query(sample)
            self.load_tests(o, token, sample, [parent, *parent.children()], serving)
            infos = [p.memory_full_info() for p in serving]
            rss, uss = max(i.rss for i in infos) / 1e6, max(i.uss for i in infos) / 1e6
            self.report(
                f"serving process RSS after load (largest of {len(serving)})",
                f"{rss:.0f} MB (private {uss:.0f} MB; the rest is shared pages of the "
                "memory-mapped tables and, with several workers, of the model loaded before fork)",
            )
            self.figures["serving_rss_mb"] = round(rss)
            self.figures["serving_uss_mb"] = round(uss)
            self.figures["workers"] = len(serving)
            self.recall()
            if o["swaps"] and len(labels) > 1:
                self.swap_test(o, token, sample, labels)
        finally:
            server.terminate()
            server.wait(timeout=20)
            server_out.close()

    def startup_breakdown(self, out_path: Path, cold: float) -> None:
        """The serve command's own ``Start-up`` line (seconds per stage since process start)."""
        line = next(
            (ln for ln in out_path.read_text().splitlines() if ln.startswith("Start-up ")), ""
        )
        if not line:
            self.report("  cold start stages", "not reported by the server")
            return
        found = json.loads(line.removeprefix("Start-up "))
        stages = found["stages"]
        stages["listen and first request"] = round(cold - sum(stages.values()), 3)
        self.report("  cold start stages (s)", ", ".join(f"{k} {v:.3f}" for k, v in stages.items()))
        self.report(
            "  beside the loads (s)", ", ".join(f"{k} {v:.3f}" for k, v in found["beside"].items())
        )
        loads = load_seconds(found)
        self.report("  outside the index and table loads", f"{100 * (1 - loads / cold):.0f} %")
        self.figures["cold_start_stages_s"] = found

    def sample_items(self, client) -> dict:
        return sample_items(self.active_folder())

    def active_folder(self) -> Path:
        versions = json.loads(self.manage("versions", "--json"))
        active = next(v["label"] for v in versions if v["state"] == "active")
        return Path(self.env["ROUTING_MODELS_DIR"]) / active

    def raw_query(self, sample: dict) -> None:
        """hnswlib alone on the serving index (same ef, one thread), the reference of the ratios:
        the stored vectors of the sampled routed items, k = 20 (predict) and 10 (similar)."""
        import numpy as np

        from registry_app.pipeline import index as hnsw

        folder = self.active_folder()
        params = json.loads((folder / "manifest.json").read_text())["parameters"]
        index = hnsw.load_index(folder, params["embedding_dim"], params["hnsw"]["ef_search"])
        vectors = np.asarray(index.get_items(sample["rows"]), dtype=np.float32)
        for k in (20, 10):
            lat = []
            for v in vectors:
                t0 = time.perf_counter()
                index.knn_query(v.reshape(1, -1), k=k)
                lat.append((time.perf_counter() - t0) * 1000)
            self.report(
                f"raw hnswlib query k={k} ef={index.ef} (1 thread)",
                f"p50 {pct(lat, 0.5):.3f} ms  p95 {pct(lat, 0.95):.3f} ms ({len(lat)} queries)",
            )
            self.figures[f"raw_query_k{k}"] = {
                "p50_ms": round(pct(lat, 0.5), 4),
                "p95_ms": round(pct(lat, 0.95), 4),
            }

    def load_tests(self, o, token, sample, server_procs, serving) -> None:
        bodies = request_bodies(sample)
        self.report("load generator", LOADERS[o["load"]])
        self.figures["load_generator"] = o["load"]
        raw_p95 = self.figures["raw_query_k20"]["p95_ms"]
        for endpoint, make in bodies.items():
            cpu_before = cpu_seconds(server_procs)
            split = WorkerSplit(serving, o["port"], o["seconds"])
            if o["load"] == "wrk":
                f = wrk_load(o, token, f"/api/v1/{endpoint}", [make(i) for i in range(3000)])
            else:
                lat, errors, count = run_load(
                    o["port"], token, f"/api/v1/{endpoint}", make, o["clients"], o["seconds"]
                )
                f = {
                    "p50_ms": pct(lat, 0.5),
                    "p95_ms": pct(lat, 0.95),
                    "p99_ms": pct(lat, 0.99),
                    "requests": count,
                    "errors": errors,
                }
            cpu_ms = 1000 * (cpu_seconds(server_procs) - cpu_before) / max(1, f["requests"])
            f = {k: round(v, 2) for k, v in f.items()}
            f["per_worker"] = split.done()
            f |= {
                "rps": round(f["requests"] / o["seconds"]),
                "cpu_ms_per_request": round(cpu_ms, 3),
            }
            f["p95_x_raw_query"] = round(f["p95_ms"] / raw_p95, 1)
            self.report(
                f"{endpoint} ({o['clients']} clients)",
                f"p50 {f['p50_ms']:.1f} ms  p95 {f['p95_ms']:.1f} ms ({f['p95_x_raw_query']:.0f} × "
                f"raw query)  p99 {f['p99_ms']:.1f} ms  {f['rps']} req/s  "
                f"server CPU {cpu_ms:.2f} ms/request  errors {f['errors']}",
            )
            self.report(
                "  per worker: connections halfway, CPU s",
                f"{f['per_worker']['connections']}, {f['per_worker']['cpu_s']}",
            )
            self.figures[endpoint] = f

    def recall(self) -> None:
        script = (
            "import json,sys,numpy as np;from pathlib import Path;"
            "from registry_app.pipeline import index as h;"
            "f=Path(sys.argv[1]);m=json.loads((f/'manifest.json').read_text());"
            "p=m['parameters'];i=h.load_index(f,p['embedding_dim'],p['hnsw']['ef_search']);"
            "lab=np.array(i.get_ids_list(),dtype=np.int64);v=np.asarray(i.get_items(lab),dtype=np.float32);"
            "v/=np.linalg.norm(v,axis=1,keepdims=True);"
            "print(h.recall_at_k(i,v,lab,k=10,sample=1000,seed=3))"
        )
        folder = self.active_folder()
        out = subprocess.run(
            [sys.executable, "-c", script, str(folder)],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        recall = float(out.strip().splitlines()[-1])
        self.report("HNSW recall@10 vs exact (1,000 queries)", f"{recall:.4f}")
        self.figures["recall_at_10"] = round(recall, 4)

    def swap_test(self, o, token, sample, labels) -> None:
        stop = threading.Event()
        holder: dict = {}

        def load():
            holder["result"] = run_load(
                o["port"],
                token,
                "/api/v1/predict",
                lambda i: {
                    "items": [{"attributes": sample["new"][i % len(sample["new"])]}],
                    "candidates": 4,
                },
                o["clients"],
                None,
                stop,
                versions=True,
            )

        thread = threading.Thread(target=load)
        thread.start()
        time.sleep(1.0)
        for n in range(o["swaps"]):
            self.manage("activate", labels[(n + 1) % 2])
            time.sleep(1.5)
        stop.set()
        thread.join()
        lat, errors, count, seen = holder["result"]
        self.report(
            "switches of the active version under load",
            f"{o['swaps']} switches, {count} requests, "
            f"{errors} failed, versions answering {sorted(seen)}",
        )
        self.figures["swap"] = {
            "switches": o["swaps"],
            "requests": count,
            "errors": errors,
            "versions": sorted(seen),
        }


LOADERS = {
    "wrk": "wrk (native, one thread, scripts/bench/post.lua)",
    "python": "Python client processes (wrk not installed or --load python)",
}
WRK_SCRIPT = REPO / "scripts" / "bench" / "post.lua"


def sample_items(folder: Path) -> dict:
    """Codes of routed items and attributes of items without routings (new items) of the
    version in ``folder``, and an 8-operation routing."""
    import numpy as np

    from registry_app.pipeline.tables import RoutingTables

    manifest = json.loads((folder / "manifest.json").read_text())
    tables = RoutingTables(folder, [a["name"] for a in manifest["profile"]["attributes"]])
    has = np.asarray(tables.a["item_rt_end"]) > np.asarray(tables.a["item_rt_start"])
    rng = random.Random(5)
    routed = [int(i) for i in rng.sample(list(np.flatnonzero(has)), 3000)]
    new = [int(i) for i in np.flatnonzero(~has)[:3000]]
    return {
        "rows": routed,
        "codes": [tables.code_of(i) for i in routed],
        "new": [{k: v for k, v in tables.attributes(i).items() if v is not None} for i in new],
        "ops": [
            {
                "seq": 10 * (j + 1),
                "op_code": f"OP{j}",
                "setup_min": 30,
                "run_min": 2.5,
                "run_qty": 1,
                "queue_min": 60,
                "wait_min": 5,
                "move_min": 10,
            }
            for j in range(8)
        ],
    }


def request_bodies(sample: dict) -> dict:
    """Endpoint -> the i-th request body of the load (also scripts/bench/profile_requests.py)."""
    return {
        "similar": lambda i: {"item_code": sample["codes"][i % len(sample["codes"])], "top_k": 10},
        "predict": lambda i: {
            "items": [{"attributes": sample["new"][i % len(sample["new"])]}],
            "candidates": 4,
            "quantity": 1 + i % 50,
        },
        "time-summary": lambda i: {"operations": sample["ops"], "quantity": 1 + i % 500},
    }


def cpu_seconds(procs) -> float:
    """User + system CPU time of the serving processes so far (their own process times)."""
    total = 0.0
    for p in procs:
        times = p.cpu_times()
        total += times.user + times.system
    return total


def connections_of(proc, port: int) -> int:
    """Established TCP connections of ``proc`` on its local ``port``."""
    return sum(
        1
        for c in proc.net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.status == "ESTABLISHED"
    )


class WorkerSplit:
    """How one load fell on the serving workers: each one's open connections on the port,
    sampled halfway through the load, and its CPU seconds during the load."""

    def __init__(self, workers: list, port: int, seconds: float):
        self.workers, self.port, self.connections = workers, port, []
        self.cpu = [cpu_seconds([w]) for w in workers]
        self.timer = threading.Timer(seconds / 2, self.sample)
        self.timer.start()

    def sample(self) -> None:
        self.connections = [connections_of(w, self.port) for w in self.workers]

    def done(self) -> dict:
        self.timer.join()
        used = [cpu_seconds([w]) - c for w, c in zip(self.workers, self.cpu, strict=True)]
        return {"connections": self.connections, "cpu_s": [round(u, 2) for u in used]}


def wrk_load(o: dict, token: str, path: str, bodies: list[dict]) -> dict:
    """``o["clients"]`` keep-alive connections from one wrk thread for ``o["seconds"]``."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(json.dumps(b) for b in bodies) + "\n")
    try:
        proc = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{o['clients']}",
                f"-d{max(1, round(o['seconds']))}s",
                "--timeout",
                "30s",
            ]
            + ["-s", str(WRK_SCRIPT), f"http://127.0.0.1:{o['port']}", "--", f.name, path, token],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK ")), None)
    if proc.returncode or line is None:
        raise CommandError(f"wrk failed:\n{proc.stdout}\n{proc.stderr}")
    r = json.loads(line[4:])
    return {
        "p50_ms": r["p50_us"] / 1000,
        "p95_ms": r["p95_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "requests": r["requests"],
        "errors": r["non_2xx"] + r["socket_errors"],
    }


class Client:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(self, path: str, body: dict) -> tuple[int, bytes]:
        try:
            self.conn.request(
                "POST",
                path,
                json.dumps(body),
                {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            )
            response = self.conn.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            raise


def _client_loop(port, token, path, make, n, deadline, stop, versions, results) -> None:
    """One client: sequential requests on one keep-alive connection until told to stop."""
    client, i = Client(port, token), n * 100_000
    latencies, errors, seen = [], 0, set()
    while not stop.is_set() and not (deadline and time.time() > deadline):
        i += 1
        t0 = time.perf_counter()
        try:
            status, payload = client.post(path, make(i))
        except (http.client.HTTPException, OSError):  # refused, reset or cut off: a failure
            status, payload = 0, b""
        latencies.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            errors += 1
        elif versions:
            seen.add(json.loads(payload).get("model_version"))
    results.put((latencies, errors, seen))


def _collect(results, procs) -> list:
    """Each client's result; a client that died without one ends the load with an error
    instead of waiting for it forever."""
    import queue

    parts = []
    while len(parts) < len(procs):
        try:
            parts.append(results.get(timeout=1))
        except queue.Empty:
            dead = [p.exitcode for p in procs if not p.is_alive() and p.exitcode]
            if dead:
                for p in procs:
                    p.terminate()
                raise CommandError(
                    f"{len(dead)} load client(s) died (exit codes {dead}); see the traceback above."
                ) from None
    return parts


def run_load(port, token, path, make, clients, seconds, stop=None, versions=False):
    """``clients`` concurrent clients, each in its own process (forked where the OS can), so
    the load generator's own interpreter lock does not add to the measured latency."""
    import multiprocessing as mp

    ctx = mp.get_context("fork" if hasattr(os, "fork") else "spawn")
    results, stop_event = ctx.Queue(), ctx.Event()
    deadline = time.time() + seconds if seconds else None
    procs = [
        ctx.Process(
            target=_client_loop,
            args=(port, token, path, make, n, deadline, stop_event, versions, results),
        )
        for n in range(clients)
    ]
    for p in procs:
        p.start()
    if stop is not None:
        stop.wait()
        stop_event.set()
    parts = _collect(results, procs)
    for p in procs:
        p.join()
    latencies = [ms for part in parts for ms in part[0]]
    errors = sum(part[1] for part in parts)
    if versions:
        return latencies, errors, len(latencies), set().union(*(part[2] for part in parts))
    return latencies, errors, len(latencies)
