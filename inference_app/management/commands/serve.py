import gc
import json
import os
import signal
import socket
import sys
import threading
import time
import warnings
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from registry_app.pipeline import preload
from registry_app.pipeline.filehash import early_seconds

WAITRESS_OPTIONS = {"ident": "routing-ml", "channel_timeout": 60, "connection_limit": 200}
# An answer below this many bytes is sent by waitress's main thread, which wakes for the
# finished request anyway, instead of first by the request's own thread (waitress's default
# of 1 byte): fewer hand-overs of the interpreter lock, less CPU per request and a lower p95
# for the small JSON answers (docs/benchmarks.md). A streamed answer's chunks would wait until
# this many bytes gather; the product streams none. Deprecated by waitress 3: passed only while
# waitress still knows it.
SEND_BYTES = 18_000
# With several workers the supervising process runs Django's system checks while the workers
# give their first answers; at this lower CPU priority (Unix niceness, added to its own) the
# checks use a core only when the workers leave one. The supervisor does nothing else after.
SUPERVISOR_NICENESS = 10


def waitress_options() -> dict:
    """The keyword arguments of ``waitress.serve`` besides the application, socket, threads."""
    from waitress.adjustments import Adjustments

    if "send_bytes" not in Adjustments._param_map:
        return dict(WAITRESS_OPTIONS)
    warnings.filterwarnings("ignore", "send_bytes will be removed", DeprecationWarning)
    return {**WAITRESS_OPTIONS, "send_bytes": SEND_BYTES}


def startup_stages(set_up_at: float, load: dict, model) -> dict:
    """Seconds per stage from process start, one after the other, for ``manage.py bench``:
    imports (interpreter, Django, settings), Django set-up (apps, models, this command), the
    registry read and the model's load stages, then what the main thread's work beside the load
    still took after it (``load["beside"]`` names that work); ``beside``: the hash check run
    during the loads, the hashes and the index read begun at process start (beside Django's
    set-up; the read's own seconds, then how long it waited for the hashing to reach the index
    file), and the main thread's work during the load."""
    stages = {
        "imports": process_age() - (time.time() - settings.SETTINGS_READ_AT),
        "Django setup": set_up_at - settings.SETTINGS_READ_AT,
    }
    loaded_in = load["done"] - set_up_at
    stages["registry read"] = loaded_in - getattr(model, "load_seconds", 0.0)
    stages |= getattr(model, "stages", {})
    stages[f"{load['after']} after the load"] = max(0.0, load["checked"] - load["done"])
    beside = {
        "manifest verification": getattr(model, "verify_seconds", 0.0),
        "hashing from the process start": early_seconds() or 0.0,
        "index read from the process start": preload.early_seconds() or 0.0,
        "index read held for the hashing": preload.early_wait_seconds(),
        load["beside"]: load["checked"] - set_up_at,
    }
    return {
        "stages": {k: round(v, 3) for k, v in stages.items()},
        "beside": {k: round(v, 3) for k, v in beside.items()},
    }


def resume_garbage_collection() -> None:
    """``manage.py`` turns the cyclic garbage collector off for a serving process's start: its
    imports make about 150,000 objects and little garbage (about 2,300 objects in cycles), and
    the collections they set off cost a few hundredths of a second. Once the version is loaded,
    before the fork, the objects made so far are frozen (``gc.freeze``: the collector leaves
    them alone from then on, those few cycles included, so the workers do not write to their
    pages) and the collector runs again."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def load_seconds(found: dict) -> float:
    """The index and table loads of a ``Start-up`` line: the load stages plus the index read
    begun at process start (the load stage then only takes it over)."""
    stages, beside = found["stages"], found.get("beside", {})
    early = beside.get("index read from the process start", 0.0)
    return stages.get("index load", 0.0) + stages.get("tables", 0.0) + early


def process_age() -> float:
    """Seconds since this process started: from the kernel's clock ticks on Linux (psutil's
    start time is rounded to the boot time's whole second)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot
    except (OSError, ValueError, AttributeError, IndexError):
        import psutil

        return time.time() - psutil.Process().create_time()


class Command(BaseCommand):
    # the system checks run in handle(): beside the model's load with one worker, in this
    # process once the workers serve with several (they import the URL modules)
    requires_system_checks = []
    help = (
        "Serve the console and the API with waitress (static files included). Loads the active "
        "model version before accepting requests and follows the registry from then on. "
        "--workers N (Linux) forks N serving processes that share the listening socket and the "
        "model's memory pages, so a 2-core server uses both cores; they take its connections "
        "in turn (evenly, within one); each process hot-swaps on its own."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SERVE_HOST)
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument("--threads", type=int, default=settings.SERVE_THREADS)
        parser.add_argument("--workers", type=int, default=settings.SERVE_WORKERS)

    def handle(self, *args, host, port, threads, workers, **options):
        from inference_app.runtime import runtime

        if not 0 < port < 65536 or threads < 1 or workers < 1:
            raise CommandError("--port must be 1..65535, --threads and --workers at least 1.")
        if workers > 1 and not hasattr(os, "fork"):
            raise CommandError(
                "--workers above 1 needs fork (Linux). On Windows run one service per port "
                "behind the reverse proxy (deploy/nginx/routing.conf)."
            )
        set_up_at = time.time()
        sys.setswitchinterval(settings.SERVE_SWITCH_INTERVAL_US / 1e6)  # the workers inherit it
        listener = self.listen(host, port)
        # before forking: the children share the model's pages. With several workers the system
        # checks run in this process once they serve (supervise): the hot API calls need
        # neither the checks nor the URL modules.
        load = self.load_beside_imports(checks=workers == 1)
        resume_garbage_collection()
        self.stdout.write("Start-up " + json.dumps(startup_stages(set_up_at, load, runtime.model)))
        health = runtime.health()
        self.stdout.write(
            f"Model: {health['serving_version'] or 'none'} ({health['status']})"
            + (f" — {health['detail']}" if health["detail"] else "")
        )
        self.stdout.write(
            f"Serving on http://{host}:{port}/ with {workers} process(es) × {threads} threads, "
            f"switch interval {sys.getswitchinterval() * 1000:g} ms (Ctrl+C stops)."
        )
        self.stdout.flush()
        if workers == 1:
            self.serve(listener, threads)
        else:
            self.supervise(listener, threads, workers)

    def load_beside_imports(self, checks: bool) -> dict:
        """Load the active version in a thread while this one imports what the first answer
        needs (the middleware, the API views, numpy.ma) and, with ``checks``, the URL modules
        and Django's system checks: the hash check reads files without the interpreter lock, the
        imports need it. Nothing is served before both are done (the listening socket accepts,
        but no request is read until ``serve``)."""
        from inference_app.runtime import runtime

        times: dict = {"beside": "WSGI application import", "after": "imports"}
        if checks:
            times.update(beside="system checks and URL imports", after="checks")

        def load() -> None:
            try:
                runtime.refresh()
                preload.discard()  # read for a version that is no longer the active one
            finally:
                connections.close_all()  # this thread's own database connection
                times["done"] = time.time()

        loader = threading.Thread(target=load, name="model-load")
        loader.start()
        try:
            if checks:
                self.run_checks()
            # before the fork, not in each worker: the middleware and views, waitress and its
            # server, numpy.ma (np.unique on the memory-mapped tables imports it at the first
            # prediction) and the IDNA codec (waitress resolves its listen address with it)
            import encodings.idna  # noqa: F401

            import numpy.ma  # noqa: F401
            import waitress  # noqa: F401

            import inference_app.inline  # noqa: F401
            import routing_site.wsgi  # noqa: F401
        finally:
            times["checked"] = time.time()
            loader.join()
        return times

    def run_checks(self) -> float:
        """Django's system checks (they import the URL modules); their seconds. Raises
        ``SystemCheckError`` on an error."""
        started = time.perf_counter()
        self.check(display_num_errors=False)
        return time.perf_counter() - started

    def listen(self, host: str, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if os.name != "nt":  # on Windows SO_REUSEADDR would let two servers share the port
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((host, port))
        except OSError as exc:
            listener.close()
            raise CommandError(
                f"Cannot listen on {host}:{port} ({exc.strerror}): stop the other server or "
                "choose another port with --port."
            ) from None
        listener.listen(1024)
        return listener

    def serve(self, listener: socket.socket, threads: int, loads=None) -> None:
        """Serve on ``listener`` in this process; ``loads``: the workers' shared connection
        counts (``inference_app.inline.WorkerLoads``, its slot set) when several share it."""
        from inference_app.inline import make_server
        from inference_app.runtime import runtime
        from routing_site.wsgi import application

        runtime.start(refresh=False)  # loaded before the fork (handle)
        options = waitress_options()
        server = make_server(application, listener, loads=loads, threads=threads, **options)
        server.print_listen("Serving on http://{}:{}")  # waitress's own line, to the app log
        server.run()

    def supervise(self, listener: socket.socket, threads: int, workers: int) -> None:
        """Fork the workers; stop them all when one dies or when we are told to stop. The
        workers share the listening socket and spread its connections evenly: each accepts
        only while it holds no more open connections than the least loaded
        (``inference_app.inline.WorkerLoads``, shared memory made here before the fork)."""
        from inference_app.inline import WorkerLoads

        connections.close_all()  # no database connection may be shared across a fork
        loads = WorkerLoads(workers)
        children = []
        for slot in range(workers):
            pid = os.fork()
            if pid == 0:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                loads.slot = slot
                try:
                    self.serve(listener, threads, loads)
                finally:
                    os._exit(0)
            children.append(pid)

        def stop(signum, frame):
            end_all(children)
            sys.exit(0)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.checks_beside_workers(children)
        pid, status = os.wait()  # any worker ending ends the service (its manager restarts it)
        self.stderr.write(f"Serving process {pid} ended (status {status}); stopping the others.")
        children.remove(pid)
        stop(None, None)

    def checks_beside_workers(self, children: list[int]) -> None:
        """Django's system checks in this process while the workers answer (the first answers
        need neither the checks nor the URL modules they import). An error stops the workers
        and the service, with the checks' message, as it would have before they started."""
        try:
            os.nice(SUPERVISOR_NICENESS)  # its checks take no core from the first answers
            seconds = self.run_checks()
        except BaseException:  # a failed check, or an import error of a URL module
            end_all(children, wait=True)
            raise
        self.stdout.write(f"System checks passed in {seconds:.3f} s, beside the workers.")
        self.stdout.flush()


def end_all(children: list[int], wait: bool = False) -> None:
    """SIGTERM to each worker still running; with ``wait``, reap them too."""
    for child in children:
        try:
            os.kill(child, signal.SIGTERM)
        except ProcessLookupError:
            continue
        if wait:
            os.waitpid(child, 0)
