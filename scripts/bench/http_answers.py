"""The full HTTP answers (status line, headers, body) of the bench's similar and time-summary
bodies, similar bodies by attributes and a few bad ones, through the WSGI application as
``manage.py serve`` runs it, to compare two codes byte for byte.

    PYTHONHASHSEED=0 .venv/bin/python scripts/bench/http_answers.py TOKEN OLD.jsonl
    PYTHONHASHSEED=0 .venv/bin/python scripts/bench/http_answers.py TOKEN NEW.jsonl \
        --compare OLD.jsonl

Uses the registry of DATABASE_URL / ROUTING_MODELS_DIR like manage.py. ``--count`` bodies of
each endpoint (3,000: the bench's whole set), then the bad ones (400 naming a field, 404, bad
JSON, no token, a bad token). ``X-Request-ID`` is left out (random per request). Run both codes
with the same PYTHONHASHSEED: the Content-Security-Policy's directives follow the hash seed.
``--compare`` prints the first differing lines and exits 1 when any line differs.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")

BAD = [
    ("/api/v1/similar", b'{"item_code": "NO-SUCH-ITEM", "top_k": 10}'),
    ("/api/v1/similar", b'{"item_code": "X", "top_k": 0}'),
    ("/api/v1/similar", b'{"top_k": 5}'),
    ("/api/v1/similar", b'{"item_code": 12}'),
    ("/api/v1/similar", b'{"item_code": '),
    ("/api/v1/time-summary", b'{"operations": [{"setup": -1}], "quantity": 1}'),
    ("/api/v1/time-summary", b'{"operations": [], "quantity": "many"}'),
    ("/api/v1/time-summary", b'{"quantity": 3}'),
]


def answer(application, path: str, authorization: str, raw: bytes) -> dict:
    """One POST through the application: its status, headers (without X-Request-ID), body."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }  # fmt: skip
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    started: list = []
    chunks = application(environ, lambda status, headers: started.append((status, headers)))
    body = b"".join(chunks)
    chunks.close()
    status, headers = started[0]
    kept = [[k, v] for k, v in headers if k.lower() != "x-request-id"]
    return {"path": path, "status": status, "headers": kept, "body": body.decode()}


def edited(model, count: int) -> list[dict]:
    """Similar bodies by attributes: every 7th of ``count`` items' stored attributes, sent as a
    new item (one text value in lower case, every other one a number 1 % off) or beside its
    code (an edited known item)."""
    tables, out = model.tables, []
    numeric = [c.name for c in model.encoder.codecs if c.kind == "numeric"]
    for i in range(0, count, 7):
        row = (i * 7919) % tables.n_items
        attrs = {k: v for k, v in tables.attributes(row).items() if v not in (None, "")}
        text = next((k for k, v in attrs.items() if k not in numeric), None)
        if text:
            attrs[text] = str(attrs[text]).lower()
        for name in numeric[: i % 2]:
            try:
                attrs[name] = float(str(attrs.get(name, "")).replace(",", ".")) * 1.01
            except ValueError:
                pass
        body = {"attributes": attrs, "top_k": 10, "unknown_attributes": "ignore"}
        if i % 14 == 7:
            body["item_code"] = tables.code_of(row)
        out.append(body)
    return out


def main(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    from inference_app.fastpath import LeanApplication
    from inference_app.management.commands.bench import request_bodies, sample_items
    from inference_app.runtime import runtime

    runtime.refresh()
    application = LeanApplication(WSGIHandler())
    make = request_bodies(sample_items(Path(runtime.model.folder)))
    calls = [
        (f"/api/v1/{name}", json.dumps(make[name](i)).encode())
        for name in ("similar", "time-summary")
        for i in range(args.count)
    ]
    calls += [
        ("/api/v1/similar", json.dumps(b).encode()) for b in edited(runtime.model, args.count)
    ]
    token = f"Bearer {args.token}"
    calls = [(p, b, token) for p, b in calls + BAD]
    calls += [(BAD[0][0], BAD[0][1], ""), (BAD[0][0], BAD[0][1], "Bearer not-a-token")]
    lines = [json.dumps(answer(application, p, t, b)) for p, b, t in calls]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} answers written to {args.out}")
    if args.compare:
        old = Path(args.compare).read_text().splitlines()
        differ = [i for i, (a, b) in enumerate(zip(lines, old, strict=False)) if a != b]
        differ += list(range(min(len(lines), len(old)), max(len(lines), len(old))))
        for i in differ[:3]:
            print(f"line {i + 1} differs:\n  new {lines[i][:300]}\n  old {old[i][:300]}")
        print(f"{len(differ)} of {max(len(lines), len(old))} answers differ")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("token")
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--compare", help="a file written by the other code")
    main(parser.parse_args())
