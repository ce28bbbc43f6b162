"""Request limits against a real waitress server: a body over API_MAX_BODY_BYTES answers 413 and
JSON nested deeper than 32 levels answers 400, both in the error shape, on the hot endpoints
(plain parsing) and on serializer-validated ones; nothing is changed by a refused request."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest

from tests.conftest import Api, issue_token

pytestmark = pytest.mark.slow


def nested(depth: int) -> bytes:
    return b'{"items": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.fixture
def engineer(waitress_server):
    return Api(waitress_server, issue_token("limits-eng", "engineer"))


def test_a_body_over_the_limit_answers_413_in_the_error_shape(engineer, settings):
    settings.API_MAX_BODY_BYTES = 4096
    body = json.dumps({"items": [{"item_code": "X" * 60}] * 100}).encode()
    assert len(body) > 4096
    for path in ("/api/v1/predict", "/api/v1/time-summary", "/api/v1/workflow"):
        method = "PATCH" if path.endswith("workflow") else "POST"
        status, answer, _ = engineer.call(method, path, raw=body)
        assert status == 413, (path, answer)
        assert answer["error"] == "too_large" and "4096 bytes" in answer["detail"]
        assert answer["fields"] == {}


def test_the_default_limit_is_one_megabyte(engineer, settings):
    assert settings.API_MAX_BODY_BYTES == 1024 * 1024
    status, answer, _ = engineer.call("POST", "/api/v1/similar", raw=b" " * (1024 * 1024 + 1))
    assert status == 413 and answer["error"] == "too_large"


def test_a_chunked_body_without_a_length_is_bounded_too(waitress_server, engineer, settings):
    settings.API_MAX_BODY_BYTES = 2048
    url = urlparse(waitress_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    chunks = [b'{"operations": [', b'{"seq": 1},' * 400, b'{"seq": 2}]}']
    conn.request(
        "POST",
        "/api/v1/time-summary",
        body=iter(chunks),
        headers={
            "Authorization": f"Bearer {engineer.token}",
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        encode_chunked=True,
    )
    response = conn.getresponse()
    answer = json.loads(response.read())
    conn.close()
    assert response.status == 413 and answer["error"] == "too_large"


@pytest.mark.parametrize("path", ["/api/v1/predict", "/api/v1/similar", "/api/v1/time-summary"])
def test_deep_json_answers_400_not_a_recursion_error(engineer, path):
    for depth in (33, 5000, 200_000):
        status, answer, _ = engineer.call("POST", path, raw=nested(depth))
        assert status == 400, (depth, answer)
        assert answer["error"] == "parse_error" and "deeper than 32" in answer["detail"]


def test_32_levels_still_parse_and_reach_the_validation(engineer):
    status, answer, _ = engineer.call("POST", "/api/v1/predict", raw=nested(32))
    assert status == 400 and answer["error"] == "invalid"  # the list of lists is not an item


def test_deep_json_on_a_settings_patch_changes_nothing(engineer):
    before = engineer.get("/api/v1/workflow")[1]
    deep = b'{"top_k": 3, "x": ' + b"[" * 100 + b"]" * 100 + b"}"
    status, answer, _ = engineer.call("PATCH", "/api/v1/workflow", raw=deep)
    assert status == 400 and answer["error"] == "parse_error"
    assert engineer.get("/api/v1/workflow")[1] == before


def test_bad_json_and_bare_constants_answer_400(engineer):
    for raw in (b"{", b'{"items": NaN}', b"\xff\xfe", b'{"quantity": Infinity, "items": []}'):
        status, answer, _ = engineer.call("POST", "/api/v1/predict", raw=raw)
        assert status == 400 and answer["error"] == "parse_error", (raw, answer)


def test_feature_weights_must_name_attributes_of_the_training_profile(engineer):
    before = engineer.get("/api/v1/workflow")[1]
    status, answer, _ = engineer.call(
        "PATCH", "/api/v1/workflow", {"feature_weights": {"PART_TYPE": 5, "Materiall": 2}}
    )
    assert status == 400 and "feature_weights" in answer["fields"]
    assert "'Materiall' is not an attribute of the training profile" in answer["detail"]
    assert "PART_TYPE" in answer["detail"]  # the known names are listed
    assert engineer.get("/api/v1/workflow")[1] == before
    status, answer, _ = engineer.call(
        "PATCH", "/api/v1/workflow", {"feature_weights": {"PART_TYPE": 5}}
    )
    assert status == 200 and answer["values"]["feature_weights"] == {"PART_TYPE": 5.0}


def test_oversize_rule_lists_are_refused_and_change_nothing(engineer):
    before = engineer.get("/api/v1/workflow")[1]
    too_many = {"routing_rules": {"allowed_op_codes": [f"OP{i}" for i in range(5001)]}}
    too_long = {"routing_rules": {"mandatory_final_ops": ["X" * 65]}}
    for change in (too_many, too_long):
        status, answer, _ = engineer.call("PATCH", "/api/v1/workflow", change)
        assert status == 400 and "routing_rules" in answer["fields"], answer
    assert engineer.get("/api/v1/workflow")[1] == before


def test_a_path_with_unicode_line_breaks_stays_one_json_log_line(engineer, settings):
    import logging
    from urllib.parse import quote

    log_file = settings.LOG_DIR / "requests.log"
    start = log_file.stat().st_size if log_file.exists() else 0  # the log outlives test runs
    path = "/api/v1/items/" + quote("A\u2028B\x85C\u2029D")
    assert engineer.get(path)[0] in (404, 503)
    for handler in logging.getLogger("routing.requests").handlers:
        handler.flush()
    with open(log_file, "rb") as fh:
        fh.seek(start)
        lines = fh.read().decode("utf-8").splitlines()
    entries = [json.loads(line) for line in lines]  # every line is a whole JSON object
    assert any(e.get("path") == "/api/v1/items/A\u2028B\x85C\u2029D" for e in entries)
