"""cProfile of the request path in one process: N POSTs through the WSGI application, as
waitress calls it under ``manage.py serve`` (the lean handler in front of Django's; ``--django``:
Django's handler, middleware, authentication, view, renderer, request log, as before).

    .venv/bin/python scripts/bench/profile_requests.py /api/v1/similar BODIES TOKEN 3000

BODIES is a JSON-lines file (one body per line) or ``bench``: the bodies ``manage.py bench``
sends to that endpoint, made from the active version. Uses the registry of DATABASE_URL /
ROUTING_MODELS_DIR like manage.py; prints the 30 most expensive functions (cumulative, sorted
by ``--sort``), the CPU milliseconds per request, and the status codes. ``--no-profile``: the
CPU per request without the profiler's own overhead. ``--warm`` sends every body once before
measuring: what a serving process spends once its memos hold the values the bodies bring.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import itertools
import json
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")


def bench_bodies(path: str) -> list[str]:
    from inference_app.management.commands.bench import request_bodies, sample_items
    from inference_app.runtime import runtime

    make = request_bodies(sample_items(Path(runtime.model.folder)))[path.rsplit("/", 1)[-1]]
    return [json.dumps(make(i)) for i in range(3000)]


def post(application, path: str, authorization: str, body: str) -> int:
    """One POST through the WSGI application; its status code."""
    raw = body.encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_AUTHORIZATION": authorization,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
    started = []
    chunks = application(environ, lambda status, headers: started.append(status))
    b"".join(chunks)
    chunks.close()
    return int(started[0].split()[0])


def main(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from inference_app.runtime import runtime
    from routing_site.wsgi import application

    runtime.refresh()
    if not args.django:  # as inference_app.inline.make_server serves it
        from inference_app.fastpath import LeanApplication

        application = LeanApplication(application)
    if args.bodies == "bench":
        bodies = bench_bodies(args.path)
    else:
        bodies = Path(args.bodies).read_text().splitlines()
    send = functools.partial(post, application, args.path, f"Bearer {args.token}")
    warm = bodies if args.warm else bodies[:50]  # --warm: every body once, memos filled
    statuses = Counter(send(b) for b in warm)
    profile = cProfile.Profile()
    started = time.process_time()
    if args.profile:
        profile.enable()
    for body in itertools.islice(itertools.cycle(bodies), args.count):
        statuses[send(body)] += 1
    profile.disable()
    cpu_ms = 1000 * (time.process_time() - started) / args.count
    if args.profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(30)
    kind = "profiled" if args.profile else "not profiled"
    print(f"{args.count} requests, {cpu_ms:.2f} ms CPU per request ({kind}), {dict(statuses)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("bodies", help="a JSON-lines file, or 'bench'")
    parser.add_argument("token")
    parser.add_argument("count", type=int, nargs="?", default=3000)
    parser.add_argument("--sort", default="cumulative", help="pstats key, e.g. tottime")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--django", action="store_true", help="without the lean handler")
    parser.add_argument(
        "--warm", action="store_true", help="send every body once before measuring (no first "
        "sight of a value left: the steady state of the bench's 15 s of load)",
    )  # fmt: skip
    main(parser.parse_args())
