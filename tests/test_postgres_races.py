"""Concurrent writers: two real connections released together by a barrier.

Written for PostgreSQL (scripts/test-postgres.sh runs it there), where row locks alone let a
second writer work from what it read before the first one committed. It runs on SQLite too,
whose IMMEDIATE transactions serialise writers the same way. Each test widens the window
between a writer's read and its write (a short sleep inside the transaction), so without
serialisation the two would interleave every time.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from registry_app.models import AuditEntry, ModelVersion, RunState, TrainingRun, VersionState
from registry_app.pipeline.manifest import write_manifest
from workflow_app import settings_schema
from workflow_app.models import WorkflowConfig

pytestmark = pytest.mark.django_db(transaction=True)
WINDOW_S = 0.3


def at_once(*calls) -> list:
    """Run each call in its own thread (own database connection), all released together."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(i: int, call) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[i] = call()
        except Exception as exc:  # the outcome the test inspects
            outcomes[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return outcomes


def slowed(monkeypatch, owner, name: str) -> None:
    """``owner.name`` sleeps WINDOW_S after doing its work (inside the caller's transaction)."""
    original = getattr(owner, name)

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(WINDOW_S)
        return result

    monkeypatch.setattr(owner, name, slow)


def make_version(settings, number: int, state: str) -> ModelVersion:
    label = ModelVersion.label_for(number)
    folder = settings.MODELS_DIR / label
    folder.mkdir()
    (folder / "weights.bin").write_bytes(bytes(range(64)))
    sha = write_manifest(folder, ["weights.bin"], {"label": label})
    return ModelVersion.objects.create(number=number, label=label, state=state, manifest_sha256=sha)


def test_it_serialises_concurrent_activations(admin_api, settings, monkeypatch):
    make_version(settings, 1, VersionState.APPROVED).activate()
    make_version(settings, 2, VersionState.APPROVED)
    make_version(settings, 3, VersionState.APPROVED)
    slowed(monkeypatch, AuditEntry, "record")
    answers = at_once(
        lambda: admin_api.post("/api/v1/versions/v0002/activate", {}),
        lambda: admin_api.post("/api/v1/versions/v0003/activate", {}),
    )
    assert [a[0] for a in answers] == [200, 200], answers  # one after the other, never a 500
    states = dict(ModelVersion.objects.values_list("label", "state"))
    assert sorted(states.values()) == ["active", "retired", "retired"]
    active = ModelVersion.objects.get(state=VersionState.ACTIVE)
    retired_by = AuditEntry.objects.filter(to_state="retired").values_list("version__label")
    assert sorted(label for (label,) in retired_by) == sorted(set(states) - {active.label})


def test_it_answers_409_to_the_lifecycle_verb_that_loses(admin_api, settings, monkeypatch):
    make_version(settings, 1, VersionState.APPROVED)
    make_version(settings, 2, VersionState.PENDING)
    slowed(monkeypatch, AuditEntry, "record")
    twice = at_once(*[lambda: admin_api.post("/api/v1/versions/v0001/activate", {})] * 2)
    assert sorted(a[0] for a in twice) == [200, 409], twice
    lost = next(a[1] for a in twice if a[0] == 409)
    assert lost["error"] == "state_conflict" and "v0001" in lost["detail"] and "fields" in lost
    approvals = at_once(*[lambda: admin_api.post("/api/v1/versions/v0002/approve", {})] * 2)
    assert sorted(a[0] for a in approvals) == [200, 409], approvals
    assert AuditEntry.objects.filter(version__label="v0002").count() == 1


def test_it_keeps_both_concurrent_settings_patches(waitress_server, monkeypatch):
    from tests.conftest import Api, issue_token

    engineer = Api(waitress_server, issue_token("eng-race", "engineer"))
    WorkflowConfig.apply({"top_k": 20, "candidates": 4})
    slowed(monkeypatch, settings_schema, "defaults")  # read by apply after the newest revision
    answers = at_once(
        lambda: engineer.call("PATCH", "/api/v1/workflow", {"top_k": 8}),
        lambda: engineer.call("PATCH", "/api/v1/workflow", {"candidates": 6}),
    )
    assert [a[0] for a in answers] == [200, 200], answers
    values = WorkflowConfig.current_values()
    assert (values["top_k"], values["candidates"]) == (8, 6)  # neither change was lost
    revisions = sorted(a[1]["revision"] for a in answers)
    assert revisions[1] == WorkflowConfig.current_id() and revisions[0] < revisions[1]


def test_it_never_queues_two_training_runs(monkeypatch):
    from registry_app.pipeline.training import request_run
    from routing_site.errors import Conflict

    running = TrainingRun.running.__func__
    monkeypatch.setattr(
        TrainingRun,
        "running",
        classmethod(lambda cls: (running(cls), time.sleep(WINDOW_S))[0]),
    )
    outcomes = at_once(lambda: request_run("", trigger="api"), lambda: request_run(""))
    assert TrainingRun.objects.filter(state=RunState.QUEUED).count() == 1
    assert sum(isinstance(o, TrainingRun) for o in outcomes) == 1, outcomes
    lost = next(o for o in outcomes if not isinstance(o, TrainingRun))
    assert isinstance(lost, Conflict) and lost.code == "training_running"
