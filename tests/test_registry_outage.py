"""The registry database missing or read-only, against a real waitress server: requests that need
it answer 503 in the error shape, health says ``degraded`` with the reason, the server never
creates a new empty database file, and prediction keeps serving from the loaded model."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from django.db import connection

from inference_app.runtime import runtime
from tests.conftest import Api, issue_token

pytestmark = pytest.mark.slow


def registry_file() -> Path:
    return Path(connection.settings_dict["NAME"])


def predict_body() -> dict:
    tables = runtime.model.tables
    attributes = {k: v for k, v in tables.attributes(0).items() if v is not None}
    return {"items": [{"attributes": attributes}]}


@pytest.fixture
def engineer(waitress_server):
    return Api(waitress_server, issue_token("outage-eng", "engineer"))


@pytest.fixture
def read_only_registry():
    path = registry_file()
    mode = path.stat().st_mode
    path.chmod(stat.S_IMODE(mode) & ~0o222)
    yield path
    path.chmod(stat.S_IMODE(mode))
    runtime.refresh()


@pytest.fixture
def missing_registry():
    path = registry_file()
    moved = path.with_name(path.name + ".moved")
    os.replace(path, moved)
    yield path
    if path.exists():
        path.unlink()
    os.replace(moved, path)


def assert_503(answer: tuple, words: str) -> None:
    status, body, headers = answer
    assert status == 503, body
    assert body["error"] == "registry_unavailable" and words in body["detail"], body
    assert set(body) == {"error", "detail", "fields"} and headers["Retry-After"]


def test_a_read_only_registry_answers_503_to_writes_and_health_is_degraded(
    engineer, active_model, waitress_server, read_only_registry
):
    runtime.refresh()
    assert_503(engineer.call("PATCH", "/api/v1/workflow", {"top_k": 7}), "readonly")
    status, body, _ = engineer.post("/api/v1/predict", predict_body())
    assert status == 200 and body["model_version"] == active_model.label
    assert engineer.get("/api/v1/versions")[0] == 200  # reading still works
    health = engineer.get("/api/v1/health")[1]
    assert health["status"] == "degraded" and "read-only" in health["detail"]
    assert health["registry"]["reachable"] is False
    assert engineer.get("/api/v1/workflow")[1]["values"]["top_k"] != 7
    assert Api(waitress_server).get("/api/v1/health")[1] == {"status": "degraded"}


def test_a_missing_registry_answers_503_and_is_not_created_again(
    engineer, active_model, waitress_server, monkeypatch
):
    from accounts_app import cache

    status, _, _ = engineer.post("/api/v1/predict", predict_body())  # credentials now cached
    assert status == 200
    # the credentials' cache entries expire during the outage: the last answer still holds
    monkeypatch.setattr(cache.tokens, "ttl", 0.05)
    monkeypatch.setattr(cache.users, "ttl", 0.05)
    cache.tokens.clear()
    assert engineer.post("/api/v1/predict", predict_body())[0] == 200
    path = registry_file()
    moved = path.with_name(path.name + ".moved")
    os.replace(path, moved)
    try:
        runtime.refresh()
        time.sleep(0.2)  # past the credentials' time in the cache
        assert_503(engineer.get("/api/v1/versions"), "does not exist")
        status, body, _ = engineer.post("/api/v1/predict", predict_body())
        assert status == 200 and body["model_version"] == active_model.label
        health = engineer.get("/api/v1/health")[1]
        assert health["status"] == "degraded" and "does not exist" in health["detail"]
        anonymous = Api(waitress_server)
        assert anonymous.get("/api/v1/health")[1] == {"status": "degraded"}
        assert_503(anonymous.post("/api/v1/auth/login", {"username": "a", "password": "b"}), "")
        assert not path.exists(), "the server created an empty registry database"
    finally:
        os.replace(moved, path)
    runtime.refresh()
    assert engineer.get("/api/v1/health")[1]["status"] == "ok"


def test_pages_answer_503_without_the_registry(waitress_server, missing_registry):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{waitress_server}/admin/", headers={"Cookie": "sessionid=a-session-key"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 503
    assert b"registry_unavailable" in caught.value.read()
    assert not missing_registry.exists()


def test_only_migrate_creates_the_registry_file(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"}
    env.update(ROUTING_VAR_DIR=str(tmp_path / "var"), ROUTING_LOG_DIR=str(tmp_path / "logs"))
    run = subprocess.run(
        [sys.executable, "manage.py", "versions"], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0 and "does not exist; run manage.py migrate" in run.stderr
    assert not (tmp_path / "fresh.sqlite3").exists()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    assert (tmp_path / "fresh.sqlite3").stat().st_size > 0
