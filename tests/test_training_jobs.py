"""One training at a time, queued runs, killed trainings, the nightly schedule."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from registry_app.models import ModelVersion, RunState, TrainingRun, VersionState
from registry_app.pipeline.training import recover_interrupted, request_run, training_lock
from routing_site.errors import Conflict

REPO = Path(__file__).resolve().parent.parent


def test_a_second_request_is_refused_while_one_is_queued(db):
    first = request_run("", trigger="api")
    with pytest.raises(Conflict, match=f"Training already running \\(run {first.pk}, queued"):
        request_run("", trigger="api")
    assert TrainingRun.objects.count() == 1


def test_a_second_process_cannot_train_while_the_lock_is_held(db, plant_source):
    from registry_app.pipeline.training import execute_run

    run = request_run("")
    with training_lock():
        with pytest.raises(Conflict, match="already running"):
            execute_run(run.pk)
    assert not ModelVersion.objects.exists()  # nothing reserved, nothing written


def test_the_nightly_schedule_is_seeded_once_and_keeps_operator_changes(db):
    from django_q.models import Schedule

    from registry_app.tasks import SCHEDULE_NAME, seed_schedule

    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    schedule.cron = "0 4 * * *"
    schedule.save()
    seed_schedule()
    assert Schedule.objects.filter(name=SCHEDULE_NAME).count() == 1
    assert Schedule.objects.get(name=SCHEDULE_NAME).cron == "0 4 * * *"


def test_the_queued_task_runs_the_training(quick_training, monkeypatch):
    from django_q.conf import Conf

    from registry_app.tasks import enqueue_training

    monkeypatch.setattr(Conf, "SYNC", True)  # the task runs inline, as the cluster would run it

    run = enqueue_training("", trigger="api")
    run.refresh_from_db()
    assert run.state == RunState.SUCCEEDED
    assert run.version.state == VersionState.PENDING


def _env(tmp_path, plant_db):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        ROUTING_MODELS_DIR=str(tmp_path / "models"),
        ROUTING_LOG_DIR=str(tmp_path / "logs"),
        ROUTING_VAR_DIR=str(tmp_path / "var"),
        ROUTING_SOURCE=f"sqlite:///{plant_db.as_posix()}",
    )
    return env


def _manage(env, *args, check=True):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        text=True,
        capture_output=True,
        check=check,
        timeout=300,
    )


def test_a_killed_training_leaves_no_half_version(tmp_path, plant_db):
    """Kill -9 during the index stage; the next start marks run and version failed."""
    env = _env(tmp_path, plant_db)
    _manage(env, "migrate", "-v0")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "train", "--wait"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        seen += line
        if "tables: done" in line or "index: started" in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    models = tmp_path / "models"
    assert list(models.glob(".tmp-*")), f"the kill came too late or too early:\n{seen}"
    assert not (models / "v0001").exists()
    out = _manage(env, "versions", "--json").stdout
    assert json.loads(out)[0]["state"] == "training"
    # the next training request recovers: run failed, version failed, temp folder removed
    _manage(
        env,
        "shell",
        "-c",
        "from registry_app.pipeline.training import recover_interrupted; "
        "print(recover_interrupted())",
    )
    versions = json.loads(_manage(env, "versions", "--json").stdout)
    assert versions[0]["state"] == "failed"
    assert not list(models.glob(".tmp-*")) and not (models / "v0001").exists()


def test_recovery_does_nothing_while_a_training_runs(db):
    run = TrainingRun.objects.create(state=RunState.RUNNING, stage="index")
    with training_lock():
        assert recover_interrupted() == 0
    run.refresh_from_db()
    assert run.state == RunState.RUNNING
    assert recover_interrupted() == 1
    run.refresh_from_db()
    assert run.state == RunState.FAILED and "Interrupted" in run.error


def test_a_queued_run_no_cluster_ever_took_is_failed_and_stops_blocking(db, settings):
    from datetime import timedelta

    from django.utils import timezone

    lost = request_run("", trigger="api")
    TrainingRun.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.Q_CLUSTER["retry"] + 60)
    )
    fresh = request_run("", trigger="api")  # no longer refused: the lost run is failed first
    lost.refresh_from_db()
    assert lost.state == RunState.FAILED and "qcluster" in lost.error
    assert fresh.state == RunState.QUEUED
