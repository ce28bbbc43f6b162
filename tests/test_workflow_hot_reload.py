"""A running waitress server takes a PATCHed setting within 2 s, without a restart."""

from __future__ import annotations

import time

import pytest

from inference_app.runtime import runtime
from tests.conftest import Api, issue_token

pytestmark = pytest.mark.slow


def neighbours(api: Api, attrs: dict) -> int:
    status, answer, _ = api.post("/api/v1/predict", {"items": [{"attributes": attrs}]})
    assert status == 200, answer
    return len(answer["items"][0]["neighbours"])


def test_a_patched_top_k_reaches_the_running_server_within_2_s(waitress_server, active_model):
    runtime.start()  # the poller `manage.py serve` runs
    reader = Api(waitress_server, issue_token("erp-reader", "viewer"))
    planner = Api(waitress_server, issue_token("planner", "engineer"))
    tables = runtime.model.tables
    attrs = {k: v for k, v in tables.attributes(0).items() if v is not None}
    assert neighbours(reader, attrs) == 20  # the default top_k

    status, body, _ = planner.call("PATCH", "/api/v1/workflow", {"top_k": 3})
    assert status == 200, body
    revision = body["revision"]
    started = time.monotonic()
    while neighbours(reader, attrs) != 3:
        assert time.monotonic() - started < 2.0, "the new top_k did not arrive within 2 s"
        time.sleep(0.05)
    status, health, _ = reader.get("/api/v1/health")
    assert health["settings_revision"] == revision
    assert health["serving_version"] == active_model.label  # same model, same process

    status, body, _ = reader.call("PATCH", "/api/v1/workflow", {"top_k": 5})
    assert status == 403  # viewers read only
    status, body, _ = planner.call("PATCH", "/api/v1/workflow", {"top_k": 0})
    assert status == 400 and "top_k" in body["fields"]
    time.sleep(0.6)
    assert neighbours(reader, attrs) == 3
