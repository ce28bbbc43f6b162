"""The lean handler of bearer-token predict / similar / time-summary calls (inference_app/
fastpath.py) answers exactly as the full stack does, and hands everything else to the full
stack."""

from __future__ import annotations

import json
import urllib.request

import pytest

from inference_app import api as views
from inference_app.runtime import runtime

pytestmark = pytest.mark.slow

SAME_HEADERS = (
    "Content-Type",
    "Content-Security-Policy",
    "X-Frame-Options",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Vary",
    "Allow",
    "X-Model-Version",
)


def hot_bodies() -> dict:
    tables = runtime.model.tables
    row = next(r for r in range(tables.n_items) if tables.routings_of(r))
    attributes = {k: v for k, v in tables.attributes(row).items() if v is not None}
    ops = [{"seq": 10, "op_code": "CUT", "setup_min": 30, "run_min": 2.5, "run_qty": 1}]
    return {
        "/api/v1/similar": {"item_code": tables.code_of(row), "top_k": 5},
        "/api/v1/predict": {"items": [{"attributes": attributes}], "candidates": 2},
        "/api/v1/time-summary": {"operations": ops, "quantity": 12},
    }


def refuse_full_stack(monkeypatch) -> None:
    """Any hot call reaching DRF's views fails the test."""

    def full_stack(self, request):
        raise AssertionError("the full stack answered a call the lean handler should")

    for view in (views.PredictView, views.SimilarView, views.TimeSummaryView):
        monkeypatch.setattr(view, "post", full_stack)


def test_the_lean_answers_equal_the_full_stacks(api, active_model, settings, monkeypatch):
    bodies = hot_bodies()
    settings.API_FAST_PATH = False
    full = {p: api.post(p, b) for p, b in bodies.items()}
    full_bad = api.post("/api/v1/time-summary", {"operations": [], "quantity": -1})
    settings.API_FAST_PATH = True
    refuse_full_stack(monkeypatch)
    for path, body in bodies.items():
        status, answer, headers = api.post(path, body)
        assert (status, answer) == full[path][:2], path
        assert {h: headers[h] for h in SAME_HEADERS} == {
            h: full[path][2][h] for h in SAME_HEADERS
        }, path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "Set-Cookie" not in headers
        # a declared length, as the full stack's answer has (no chunked transfer)
        assert "Transfer-Encoding" not in headers, path
        assert headers["Content-Length"] == full[path][2]["Content-Length"], path
    # an input error: the same status, error shape and field paths
    status, answer, _ = api.post("/api/v1/time-summary", {"operations": [], "quantity": -1})
    assert status == 400 and (status, answer) == full_bad[:2]
    assert set(answer["fields"]) == {"operations", "quantity"}


def test_the_lean_handler_logs_and_counts_its_answers(api, active_model, settings, monkeypatch):
    refuse_full_stack(monkeypatch)
    path, body = "/api/v1/similar", hot_bodies()["/api/v1/similar"]
    status, _, headers = api.post(path, body, headers={"X-Request-ID": "erp-fast-1"})
    assert status == 200 and headers["X-Request-ID"] == "erp-fast-1"
    assert headers["X-Model-Version"] == active_model.label
    import logging

    for handler in logging.getLogger("routing.requests").handlers:
        handler.flush()
    lines = [json.loads(x) for x in (settings.LOG_DIR / "requests.log").read_text().splitlines()]
    line = next(x for x in lines if x.get("request_id") == "erp-fast-1")
    assert (line["endpoint"], line["status"], line["user"]) == ("similar", 200, "erp-test")
    assert line["active_version"] == active_model.label and line["cache_hit"] is False
    from inference_app.metrics import metrics

    assert metrics.requests[("similar", "2xx", active_model.label)] >= 1


def test_everything_else_is_answered_by_the_full_stack(api, active_model, settings):
    from tests.conftest import Api

    base = api.base
    body = hot_bodies()["/api/v1/time-summary"]
    # a bad token, no credentials: DRF's 401s with the challenge header
    status, answer, headers = Api(base, "rml_not-a-token").post("/api/v1/time-summary", body)
    assert (status, answer["error"]) == (401, "authentication_failed")
    assert headers["WWW-Authenticate"] == 'Bearer realm="api"'
    status, answer, _ = Api(base).post("/api/v1/time-summary", body)
    assert (status, answer["error"]) == (401, "not_authenticated")
    # bad JSON, JSON nested over the limit, a body over the limit: the limits' answers
    status, answer, _ = api.post("/api/v1/similar", raw=b'{"item_code": ')
    assert (status, answer["error"]) == (400, "parse_error")
    deep = b'{"operations": ' + b"[" * 40 + b"]" * 40 + b"}"
    status, answer, _ = api.post("/api/v1/time-summary", raw=deep)
    assert (status, answer["error"]) == (400, "parse_error") and "nested deeper" in answer["detail"]
    settings.API_MAX_BODY_BYTES = 1024
    status, answer, _ = api.post(
        "/api/v1/time-summary", {"operations": [body["operations"][0]] * 40}
    )
    assert (status, answer["error"]) == (413, "too_large")
    # another media type, a request for indented JSON: DRF's negotiation
    status, answer, _ = api.post(
        "/api/v1/time-summary",
        raw=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert (status, answer["error"]) == (415, "unsupported_media_type")
    request = urllib.request.Request(
        f"{base}/api/v1/time-summary", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {api.token}")
    request.add_header("Accept", "application/json; indent=2")
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
    assert raw.startswith(b'{\n  "')
    assert json.loads(raw) == api.post("/api/v1/time-summary", body)[1]


def test_a_viewer_without_an_approved_account_is_refused(api, active_model):
    """The lean handler checks the account as the full stack does (401, never an answer)."""
    from django.contrib.auth import get_user_model

    from accounts_app import cache

    user = get_user_model().objects.get(username="erp-test")
    user.account.status = "rejected"
    user.account.save(update_fields=["status"])
    cache.clear_auth_cache()
    status, answer, _ = api.post("/api/v1/time-summary", hot_bodies()["/api/v1/time-summary"])
    assert status in (401, 403) and answer["error"] in (
        "authentication_failed",
        "permission_denied",
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/time-summary", {"operations": [{"seq": 10, "setup_min": True}]},
         "operations.0.setup_min"),
        ("/api/v1/time-summary", {"operations": [{"seq": 10.5}]}, "operations.0.seq"),
        ("/api/v1/time-summary", {"operations": [{"op_code": " " + "x" * 65}]},
         "operations.0.op_code"),
        ("/api/v1/time-summary", {"operations": [{"seq": 10}], "quantity": 1e8}, "quantity"),
        ("/api/v1/time-summary", {"operations": [{"seq": 10}], "quantity": "many"}, "quantity"),
        ("/api/v1/similar", {"item_code": 12345}, "item_code"),
        ("/api/v1/similar", {"item_code": "X", "top_k": 0}, "top_k"),
        ("/api/v1/similar", {"item_code": "X", "top_k": True}, "top_k"),
        ("/api/v1/predict", {"items": [{"item_code": "X"}], "quantity": -1}, "quantity"),
    ],
)  # fmt: skip
def test_bad_input_of_a_lean_call_is_400_naming_the_field(api, active_model, path, body, field):
    from inference_app import prediction_log

    prediction_log.buffer.discard()
    status, answer, _ = api.post(path, body)
    assert (status, answer["error"]) == (400, "invalid"), answer
    assert list(answer["fields"]) == [field]
    assert prediction_log.buffer.pending() == 0  # nothing logged for a refused call
    # a padded text within its limit once stripped: accepted, stripped
    status, answer, _ = api.post(
        "/api/v1/time-summary", {"operations": [{"op_code": f"  {'x' * 64}  ", "seq": 10}]}
    )
    assert status == 200 and answer["operations"][0]["op_code"] == "x" * 64


def test_an_unexpected_error_of_a_lean_call_is_a_500_and_the_server_goes_on(
    api, active_model, monkeypatch
):
    from inference_app import fastpath

    def broken(request, body):
        raise RuntimeError("broken")

    path, body = "/api/v1/time-summary", hot_bodies()["/api/v1/time-summary"]
    monkeypatch.setitem(fastpath.HOT, path, ("time-summary", broken))
    status, answer, _ = api.post(path, body)
    assert (status, answer["error"]) == (500, "server_error")
    monkeypatch.undo()
    assert api.post(path, body)[0] == 200


def lean_call(token: str, path: str, body: dict) -> tuple[list, object]:
    """One call through LeanApplication in this thread: (start_response's arguments, answer)."""
    import io
    import sys

    from inference_app.fastpath import LeanApplication
    from routing_site.wsgi import application

    raw = json.dumps(body).encode()
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {token}",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
    }  # fmt: skip
    started = []
    answer = LeanApplication(application)(environ, lambda *args: started.append(args))
    return started, answer


def test_a_lean_call_closes_the_database_connection_its_token_lookup_opened(api, active_model):
    """Django's request_finished closes a connection the request opened (CONN_MAX_AGE 0); a
    lean call does the same when the server closes its answer."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    from accounts_app import cache

    connection.close()
    cache.clear_auth_cache()  # the token is read from the registry again
    opened = []
    connection_created.connect(lambda **kw: opened.append(1), weak=False, dispatch_uid="t")
    try:
        started, answer = lean_call(api.token, "/api/v1/time-summary", hot_bodies()[
            "/api/v1/time-summary"])  # fmt: skip
        assert started[0][0] == "200 OK" and json.loads(b"".join(answer))["lead_min"] > 0
        assert opened and connection.connection is not None  # the lookup's, still open
        answer.close()
        assert connection.connection is None
    finally:
        connection_created.disconnect(dispatch_uid="t")


def test_a_lean_4xx_is_logged_as_djangos_handler_logs_it(api, active_model):
    import logging

    seen = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = seen.append
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        started, answer = lean_call(api.token, "/api/v1/similar", {"item_code": "NO-SUCH-ITEM"})
        answer.close()
    finally:
        logger.removeHandler(handler)
    assert started[0][0] == "404 Not Found"
    assert [(r.levelname, r.getMessage(), r.status_code) for r in seen] == [
        ("WARNING", "Not Found: /api/v1/similar", 404)
    ]


def test_a_large_body_with_a_bad_token_is_refused_as_the_full_stack_refuses_it(
    api, active_model, settings
):
    """A body above Django's in-memory limit, with a token the lean handler does not accept:
    the full stack gets the body's stream untouched and answers 401 (reading the body first
    raised RequestDataTooBig outside any handler: a bare 500)."""
    settings.API_MAX_BODY_BYTES = 4 * 1024 * 1024
    body = {**hot_bodies()["/api/v1/time-summary"], "note": "x" * (3 * 1024 * 1024)}
    started, answer = lean_call("not-a-token", "/api/v1/time-summary", body)
    answer.close()
    assert started[0][0] == "401 Unauthorized"
    assert json.loads(b"".join(answer))["error"]


def test_a_lean_call_ends_a_persistent_connection_past_its_age(api, active_model, settings):
    """With CONN_MAX_AGE, Django checks a kept connection's age at every request's end; so does
    a lean call, also when it opened no connection itself."""
    import time

    from django.db import connection

    from inference_app import fastpath

    lean_call(api.token, "/api/v1/time-summary", hot_bodies()["/api/v1/time-summary"])[1].close()
    kept = settings.DATABASES["default"].get("CONN_MAX_AGE", 0)
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    fastpath._persistent.cache_clear()
    try:
        connection.ensure_connection()
        fastpath._opened.flag = False  # opened before the call, as a kept connection is
        connection.close_at = time.monotonic() - 1  # kept past its age
        started, answer = lean_call(api.token, "/api/v1/time-summary", hot_bodies()[
            "/api/v1/time-summary"])  # fmt: skip
        assert started[0][0] == "200 OK" and connection.connection is not None
        answer.close()
        assert connection.connection is None
    finally:
        settings.DATABASES["default"]["CONN_MAX_AGE"] = kept
        fastpath._persistent.cache_clear()


def test_a_host_not_allowed_is_refused_and_a_change_of_the_allowed_hosts_is_seen(
    active_model, settings
):
    import io
    import sys

    from django.core.handlers.wsgi import WSGIHandler

    from inference_app.fastpath import LeanApplication
    from tests.conftest import issue_token

    application = LeanApplication(WSGIHandler())
    token = issue_token("erp-hosts", "viewer")
    raw = json.dumps(hot_bodies()["/api/v1/time-summary"]).encode()

    def status(host: str) -> int:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/time-summary", "SCRIPT_NAME": "",
            "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": host,
            "HTTP_AUTHORIZATION": f"Bearer {token}", "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
            "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        }  # fmt: skip
        started = []
        answer = application(environ, lambda s, h: started.append(s))
        b"".join(answer)
        answer.close()
        return int(started[0].split()[0])

    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    for _ in range(2):  # the second time from the kept answer
        assert status("127.0.0.1") == 200
        assert status("evil.example") == 400  # Django's answer to a host not allowed
    settings.ALLOWED_HOSTS = ["127.0.0.1", "evil.example"]
    assert status("evil.example") == 200
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    assert status("evil.example") == 400
    settings.ALLOWED_HOSTS, settings.DEBUG = [], True  # Django's local hosts under DEBUG
    assert (status("localhost"), status("evil.example")) == (200, 400)
