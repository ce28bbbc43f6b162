"""cProfile of the request path in one process: N POSTs through Django's full handler
(middleware, authentication, view, renderer, request log), bodies from a JSON-lines file.

    .venv/bin/python scripts/bench/profile_requests.py /api/v1/similar BODIES.jsonl TOKEN 3000

Uses the registry of DATABASE_URL / ROUTING_MODELS_DIR like manage.py; prints the 30 most
expensive functions (cumulative), the CPU milliseconds per request, and the status codes.
"""

from __future__ import annotations

import cProfile
import itertools
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")


def main(path: str, bodies_file: str, token: str, count: int) -> None:
    import django

    django.setup()
    from django.test import Client

    from inference_app.runtime import runtime

    runtime.refresh()
    bodies = Path(bodies_file).read_text().splitlines()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1")
    send = lambda body: client.post(path, body, content_type="application/json")  # noqa: E731
    statuses = Counter(send(b).status_code for b in bodies[:50])  # warm up
    profile = cProfile.Profile()
    started = time.process_time()
    profile.enable()
    for body in itertools.islice(itertools.cycle(bodies), count):
        statuses[send(body).status_code] += 1
    profile.disable()
    cpu_ms = 1000 * (time.process_time() - started) / count
    pstats.Stats(profile).sort_stats("cumulative").print_stats(30)
    print(
        f"{count} requests, {cpu_ms:.2f} ms CPU per request (profiled), statuses {dict(statuses)}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 3000)
