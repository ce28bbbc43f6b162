"""Versions: training into pending, approve / reject / activate / rollback, audit, constraints."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from registry_app.models import AuditEntry, ModelVersion, RunState, TrainingRun, VersionState
from routing_site.errors import BadInput, Conflict


def run_command(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_trains_a_pending_version_with_a_complete_manifest(quick_training, settings):
    version = quick_training()
    assert version.state == VersionState.PENDING
    folder = settings.MODELS_DIR / version.label
    manifest = json.loads((folder / "manifest.json").read_text())
    paths = {a["path"] for a in manifest["artifacts"]}
    assert {"encoder.json", "svd_components.npy", "index.hnsw", "tables/strings.json"} <= paths
    assert all(len(a["sha256"]) == 64 and a["size"] > 0 for a in manifest["artifacts"])
    assert set(manifest["runtime"]) >= {"python", "numpy", "scikit-learn", "joblib", "hnswlib"}
    assert manifest["profile"]["name"] == "plant-default"
    assert manifest["workflow"]["eval_sample"] == 150
    assert manifest["data_counts"]["items"] == 1200
    assert not list(settings.MODELS_DIR.glob(".tmp-*"))
    run = TrainingRun.objects.get(version=version)
    assert run.state == RunState.SUCCEEDED and run.progress == 1.0
    assert set(run.timings) == {"extract", "features", "tables", "index", "evaluate", "package"}
    trail = list(version.audit.order_by("id").values_list("from_state", "to_state"))
    assert trail == [("", "training"), ("training", "pending")]


def test_train_command_prints_the_label_last(quick_training, settings):
    out = run_command("train", "--wait")
    label = out.strip().splitlines()[-1]
    assert label == "v0001"
    assert ModelVersion.objects.get(label=label).state == VersionState.PENDING
    assert "[" in out and "extract" in out and "index" in out  # stage progress was shown


def test_it_approves_activates_and_rolls_back_with_one_active_at_a_time(quick_training):
    first, second = quick_training(), quick_training()
    first.approve()
    first.activate()
    second.approve()
    second.activate(comment="better")
    first.refresh_from_db()
    assert (first.state, second.state) == (VersionState.RETIRED, VersionState.ACTIVE)
    assert ModelVersion.objects.filter(state=VersionState.ACTIVE).count() == 1
    back = ModelVersion.rollback(comment="regression in v2")
    second.refresh_from_db()
    assert back.label == first.label and back.state == VersionState.ACTIVE
    assert second.state == VersionState.RETIRED
    rollback_rows = AuditEntry.objects.filter(action="rollback")
    assert {(r.version.label, r.from_state, r.to_state) for r in rollback_rows} == {
        (first.label, "retired", "active"),
        (second.label, "active", "retired"),
    }


def test_lifecycle_commands_and_versions_json(quick_training):
    label = quick_training().label
    assert "approved" in run_command("approve", label)
    assert "active" in run_command("activate", label)
    listed = json.loads(run_command("versions", "--json"))
    assert [v["label"] for v in listed if v["state"] == "active"] == [label]
    with pytest.raises(CommandError, match="Nothing to roll back"):
        run_command("rollback")
    with pytest.raises(CommandError, match="No model version 'v9999'"):
        run_command("approve", "v9999")


def test_activating_a_version_that_is_not_approved_is_refused(quick_training):
    version = quick_training()
    with pytest.raises(Conflict, match="only a version that is approved or retired"):
        version.activate()
    version.refresh_from_db()
    assert version.state == VersionState.PENDING
    assert not AuditEntry.objects.filter(action="activate").exists()


def test_the_database_refuses_a_second_active_version(quick_training):
    first, second = quick_training(), quick_training()
    first.approve()
    first.activate()
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=second.pk).update(state=VersionState.ACTIVE)


def test_audit_entries_cannot_be_edited_or_deleted(quick_training):
    entry = quick_training().audit.first()
    entry.comment = "rewritten"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_requester_cannot_approve_their_own_version_when_another_admin_exists(
    quick_training, django_user_model
):
    alice = django_user_model.objects.create_superuser("alice", "a@example.com", "x-Pass-1234")
    bob = django_user_model.objects.create_superuser("bob", "b@example.com", "x-Pass-1234")
    version = quick_training()
    ModelVersion.objects.filter(pk=version.pk).update(requested_by=alice)
    version.refresh_from_db()
    with pytest.raises(BadInput, match="another admin must approve"):
        version.approve(user=alice)
    version.approve(user=bob)
    assert version.state == VersionState.APPROVED and version.approved_by == bob


def test_a_training_whose_source_fails_its_check_takes_no_label_and_leaves_no_folder(
    db, settings, tmp_path
):
    from registry_app.pipeline.training import execute_run, request_run
    from tests.conftest import register_source

    settings.ROUTING_SOURCE_ROOTS = str(tmp_path)
    register_source("default", "sqlite", (tmp_path / "missing.sqlite").as_posix())
    run = request_run("")
    with pytest.raises(Exception, match="missing.sqlite"):
        execute_run(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.FAILED and "missing.sqlite" in run.error
    # the source is checked before a version label is taken: a failed check uses up none
    assert not ModelVersion.objects.exists()
    assert [p.name for p in settings.MODELS_DIR.iterdir()] == [".training.lock"]
