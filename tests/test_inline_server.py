"""The serving process's waitress (inference_app/inline.py): similar and time summary answered by
the thread that read them, everything else by the pool, every answer whole and in order."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from inference_app.inline import INLINE_PATHS, InlineServer, create_inline_server, make_server
from inference_app.management.commands.serve import waitress_options


def recording_app(seen: list):
    """Answers its path, method and body size; notes which thread answered (``boom``: raises)."""

    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if body == b"boom":
            raise RuntimeError("boom")
        seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], threading.get_ident()))
        answer = json.dumps([environ["REQUEST_METHOD"], environ["PATH_INFO"], len(body)]).encode()
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(answer)))])  # fmt: skip
        return [answer]

    return app


@pytest.fixture
def served():
    """An inline server on a loopback port running in a thread: (server, port, seen)."""
    seen: list = []
    listener = socket.create_server(("127.0.0.1", 0))
    server = create_inline_server(recording_app(seen), listener, threads=2, **waitress_options())
    loop = threading.Thread(target=server.run, daemon=True)
    loop.start()
    yield server, server.effective_port, seen, loop
    server.close()
    loop.join(timeout=5)


def call(conn, method: str, path: str, body: bytes = b"{}") -> tuple[int, list]:
    conn.request(method, path, body=body if method == "POST" else None)
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def test_short_calls_are_answered_by_the_loop_thread_the_rest_by_the_pool(served):
    server, port, seen, loop = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    for path in sorted(INLINE_PATHS):
        assert call(conn, "POST", path) == (200, ["POST", path, 2])
    batch = b"x" * (INLINE_PATHS["/api/v1/predict"] + 1)  # a batch's body: the pool's
    assert call(conn, "POST", "/api/v1/predict", batch) == (200, ["POST", "/api/v1/predict", 4097])
    assert call(conn, "GET", "/api/v1/similar") == (200, ["GET", "/api/v1/similar", 0])
    assert call(conn, "POST", "/api/v1/items") == (200, ["POST", "/api/v1/items", 2])
    conn.close()
    threads = [ident == loop.ident for _, _, ident in seen]
    assert threads == [True] * len(INLINE_PATHS) + [False, False, False]


def read_answer(reader) -> list:
    """One HTTP answer's JSON body from a connection's byte stream."""
    assert reader.readline().startswith(b"HTTP/1.1 200 ")
    headers = dict(line.decode().split(": ", 1) for line in iter(reader.readline, b"\r\n"))
    return json.loads(reader.read(int(headers["Content-Length"].strip())))


def test_pipelined_requests_are_answered_whole_and_in_order(served):
    _, port, seen, loop = served
    paths = ["/api/v1/similar", "/api/v1/predict", "/api/v1/time-summary", "/api/v1/similar"]
    raw = b"".join(
        f"POST {p} HTTP/1.1\r\nHost: x\r\nContent-Length: {i}\r\n\r\n".encode() + b"x" * i
        for i, p in enumerate(paths)
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(raw)
        reader = sock.makefile("rb")
        answers = [read_answer(reader) for _ in paths]
    assert answers == [["POST", p, i] for i, p in enumerate(paths)]
    # the first came alone and was answered inline; once requests queue up behind a pool
    # request they stay on the pool, in order
    assert seen[0][2] == loop.ident and seen[1][2] != loop.ident


def test_a_chunked_body_goes_to_the_pool_whatever_its_size(served):
    _, port, seen, loop = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/v1/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n{}\r\n0\r\n\r\n"
        )
        assert read_answer(sock.makefile("rb")) == ["POST", "/api/v1/predict", 2]
    assert seen[0][2] != loop.ident


def test_an_error_in_an_inline_call_answers_500_and_the_server_goes_on(served):
    _, port, seen, _ = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/api/v1/time-summary", body=b"boom")
    response = conn.getresponse()
    assert response.status == 500 and b"internal server error" in response.read()
    other = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    assert call(other, "POST", "/api/v1/similar")[0] == 200
    other.close()
    conn.close()


def test_a_malformed_request_is_answered_by_waitress_as_before(served):
    _, port, seen, _ = served
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /api/v1/similar HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        first = sock.recv(4096)
    assert first.startswith(b"HTTP/1.1 400 Bad Request")
    assert seen == []  # never reached the application


def test_serve_runs_waitress_own_server_when_inline_is_off(settings):
    listener = socket.create_server(("127.0.0.1", 0))
    settings.SERVE_INLINE = False
    plain = make_server(recording_app([]), listener, threads=1)
    assert not isinstance(plain, InlineServer)
    plain.close()
    listener = socket.create_server(("127.0.0.1", 0))
    settings.SERVE_INLINE = True
    inline = make_server(recording_app([]), listener, threads=1)
    assert isinstance(inline, InlineServer)
    inline.close()


@pytest.mark.slow
def test_the_products_answers_through_the_inline_server(api, active_model):
    """Through ``waitress_server`` (the inline server): answers, input errors with the field
    named, and the refusals of missing credentials, as before."""
    from tests.conftest import Api
    from tests.test_api_fastpath import hot_bodies

    for path, body in hot_bodies().items():
        status, answer, headers = api.post(path, body)
        assert status == 200 and headers["X-Model-Version"] == active_model.label, path
    status, answer, _ = api.post("/api/v1/predict", {"items": [], "candidates": 2})
    assert (status, answer["error"]) == (400, "invalid") and set(answer["fields"]) == {"items"}
    status, answer, _ = api.post("/api/v1/similar", {"item_code": "X", "top_k": 0})
    assert status == 400 and set(answer["fields"]) == {"top_k"}
    status, answer, _ = api.post("/api/v1/time-summary", {"operations": [], "quantity": -1})
    assert status == 400 and set(answer["fields"]) == {"operations", "quantity"}
    status, answer, _ = Api(api.base).post("/api/v1/similar", hot_bodies()["/api/v1/similar"])
    assert (status, answer["error"]) == (401, "not_authenticated")


def record_threads(monkeypatch, owner, name: str) -> list[str]:
    """The names of the threads that call ``owner.name`` from now on (the call goes on)."""
    threads: list[str] = []
    real = getattr(owner, name)

    def recording(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return threads


@pytest.mark.slow
def test_a_due_prediction_log_write_leaves_the_loop_thread(api, active_model, monkeypatch):
    """A predict answered by the loop thread does not write the prediction log there: the
    batch due after it is written by a thread of its own, and its rows arrive."""
    from inference_app import prediction_log
    from inference_app.models import PredictionLog
    from tests.test_api_fastpath import hot_bodies

    prediction_log.buffer.discard()
    writers = record_threads(monkeypatch, prediction_log, "_write")
    monkeypatch.setattr(prediction_log, "BATCH", 2)
    body = hot_bodies()["/api/v1/predict"]
    for _ in range(2):
        assert api.post("/api/v1/predict", body)[0] == 200
    deadline = time.monotonic() + 10
    while PredictionLog.objects.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writers == ["prediction-log"]
    assert PredictionLog.objects.count() == 2 and prediction_log.buffer.pending() == 0


def test_a_service_tokens_use_is_recorded_off_the_loop_thread(api, active_model, monkeypatch):
    """An inline call's token lookup records the token's use in a thread of its own (a write
    that may wait for the database's lock), and the use is recorded."""
    from accounts_app.models import ServiceToken
    from tests.test_api_fastpath import hot_bodies

    writers = record_threads(monkeypatch, ServiceToken, "touch")
    ServiceToken.objects.update(last_used_at=None)
    assert api.post("/api/v1/similar", hot_bodies()["/api/v1/similar"])[0] == 200
    deadline = time.monotonic() + 10
    while not ServiceToken.objects.filter(last_used_at__isnull=False).exists():
        assert time.monotonic() < deadline, "the token's use was never recorded"
        time.sleep(0.05)
    assert writers == ["token-touch"]
