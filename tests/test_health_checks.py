"""Health re-checks the serving version's files against its manifest: sizes and mtimes on every
poll, full SHA-256 every RUNTIME_VERIFY_SECONDS; a changed file turns health ``degraded`` naming
the file. Anonymous callers get only the status; the details need a login or a token."""

from __future__ import annotations

import os
import time

import pytest

from inference_app.runtime import runtime
from tests.conftest import Api

pytestmark = pytest.mark.slow


def artifact(model, suffix: str = ".npy"):
    entry = next(e for e in model.manifest["artifacts"] if e["path"].endswith(suffix))
    return model.folder / entry["path"], entry["path"]


def wait_for_hashes() -> None:
    hasher = runtime._hasher
    if hasher is not None:
        hasher.join(timeout=60)


def test_anonymous_health_answers_only_the_status(api, active_model, waitress_server):
    status, body, _ = Api(waitress_server).get("/api/v1/health")
    assert status == 200 and body == {"status": "ok"}
    status, body, _ = Api(waitress_server, "rml_not-a-token").get("/api/v1/health")
    assert status == 200 and body == {"status": "ok"}
    status, body, _ = api.get("/api/v1/health")
    assert body["serving_version"] == active_model.label and "cluster" in body


def test_a_file_changed_in_size_degrades_health_at_the_next_poll(api, active_model):
    path, name = artifact(runtime.model)
    with open(path, "ab") as fh:
        fh.write(b"\0")
    runtime.refresh()
    status, body, _ = api.get("/api/v1/health")
    assert status == 200 and body["status"] == "degraded"
    assert name in body["detail"] and body["manifest"]["verified"] is False
    assert any(name in p for p in body["manifest"]["problems"])
    status, answer, _ = api.post("/api/v1/similar", {"item_code": runtime.model.tables.code_of(0)})
    assert status == 200  # the loaded model keeps serving


def test_a_removed_file_is_named(api, active_model):
    path, name = artifact(runtime.model, ".json")
    path.unlink()
    runtime.refresh()
    body = api.get("/api/v1/health")[1]
    assert body["status"] == "degraded" and f"{name}: missing" in body["detail"]


def test_same_size_and_mtime_is_caught_by_the_full_hash_when_due(api, active_model, settings):
    settings.RUNTIME_VERIFY_SECONDS = 3600
    model = runtime.model
    path, name = artifact(model)
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    runtime.refresh()
    wait_for_hashes()
    assert api.get("/api/v1/health")[1]["status"] == "ok"  # not due yet: stat alone can't see it
    model.hashed_at = time.time() - 3601
    runtime.refresh()
    wait_for_hashes()
    body = api.get("/api/v1/health")[1]
    assert body["status"] == "degraded" and f"{name}: SHA-256 differs" in body["detail"]


def test_untouched_files_stay_ok_through_a_full_check(api, active_model, settings):
    settings.RUNTIME_VERIFY_SECONDS = 1
    runtime.model.hashed_at = 0
    runtime.refresh()
    wait_for_hashes()
    body = api.get("/api/v1/health")[1]
    assert body["status"] == "ok" and body["manifest"]["problems"] == []


def test_smoke_reads_the_details_with_an_admin_token_it_signs(active_model, waitress_server):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from accounts_app.testing import make_user

    with pytest.raises(CommandError, match="No admin account"):
        call_command("smoke", "--url", waitress_server, stdout=StringIO())
    make_user("boss", "admin")
    out = StringIO()
    call_command("smoke", "--url", waitress_server, stdout=out)
    assert f"serves {active_model.label}" in out.getvalue() and "status ok" in out.getvalue()
