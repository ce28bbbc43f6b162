"""The runtime poller reads an unchanged SQLite registry only every few seconds (the files'
status is checked on every poll), and a commit is still read at the next poll."""

from __future__ import annotations

import time

import pytest

from inference_app import runtime as runtime_module
from inference_app.runtime import registry_files, runtime
from tests.test_hot_swap import wait_for


@pytest.fixture
def counted(monkeypatch):
    """How many polls read the registry and how many checked the version's files."""
    counts = {"reads": 0, "files": 0}
    read, files = runtime._refresh, runtime.check_files

    def counted_read():
        counts["reads"] += 1
        read()

    def counted_files():
        counts["files"] += 1
        files()

    monkeypatch.setattr(runtime, "_refresh", counted_read)
    monkeypatch.setattr(runtime, "check_files", counted_files)
    yield counts
    runtime.stop()


@pytest.mark.parametrize("poll", [0.05])
def test_an_unchanged_registry_is_read_every_few_seconds_and_a_commit_at_the_next_poll(
    transactional_db, active_model, settings, monkeypatch, counted, poll
):
    from workflow_app.models import WorkflowConfig

    settings.RUNTIME_POLL_SECONDS = poll
    monkeypatch.setattr(runtime_module, "FULL_POLL_SECONDS", 0.5)
    monkeypatch.setattr(runtime_module, "RACY_NS", 0)  # the fixtures wrote it just now
    assert registry_files() is not None  # the tests' registry is an SQLite file
    started = time.monotonic()
    runtime.start()
    assert wait_for(lambda: counted["files"] >= 15, 20.0)  # the version's files on every poll
    assert wait_for(lambda: counted["reads"] >= 2, 5.0)  # the start, then every 0.5 s
    elapsed = time.monotonic() - started
    assert counted["reads"] <= 2 + elapsed / 0.5  # not at every poll
    assert counted["reads"] < counted["files"]

    reads = counted["reads"]
    WorkflowConfig.apply({"top_k": 9})  # a commit: the next poll reads it
    assert wait_for(lambda: runtime.settings["top_k"] == 9, 4 * poll)
    assert counted["reads"] > reads


@pytest.mark.parametrize("poll", [0.05])
def test_an_activation_is_swapped_in_at_the_next_poll(
    transactional_db, quick_training, settings, monkeypatch, counted, poll
):
    from registry_app.models import ModelVersion

    first, second = quick_training(), quick_training()
    for version in (first, second):
        version.approve()
    first.activate()
    settings.RUNTIME_POLL_SECONDS = poll
    monkeypatch.setattr(runtime_module, "FULL_POLL_SECONDS", 60.0)  # files only, unless changed
    monkeypatch.setattr(runtime_module, "RACY_NS", 0)  # the fixtures wrote it just now
    runtime.start()
    assert wait_for(lambda: runtime.model and runtime.model.label == first.label, 5.0)
    # settled: the polls check the files' status only
    assert wait_for(lambda: runtime._polled is not None, 5.0)
    ModelVersion.objects.get(pk=second.pk).activate(comment="next")
    assert wait_for(lambda: runtime.model.label == second.label, 5.0)


def test_a_poll_that_leaves_work_for_the_next_reads_the_registry_again(
    transactional_db, active_model, monkeypatch
):
    monkeypatch.setattr(runtime_module, "RACY_NS", 0)  # the fixtures wrote it just now
    runtime.refresh()
    assert runtime._polled is not None
    runtime.failed["v9999"] = "refused"  # a refused version is retried by a later read
    runtime.refresh()
    assert runtime._polled is None and not runtime._registry_unchanged()
    runtime.failed.clear()
    runtime.refresh()
    assert runtime._registry_unchanged()


def test_a_status_taken_within_the_clock_tick_margin_of_a_change_is_not_trusted(
    transactional_db, active_model, settings, monkeypatch, counted
):
    """A commit in the same tick of the file system's clock as the change before it leaves the
    files' status as it was; a status that recent never lets a poll skip the read."""
    from inference_app.runtime import RACY_NS, racy

    now = time.time_ns()
    fresh = ((1, 10, now - RACY_NS // 4, now), None)
    old = ((1, 10, now - 2 * RACY_NS, now - 2 * RACY_NS), (2, 0, now - 3 * RACY_NS))
    future = ((1, 10, now + RACY_NS, now), None)  # a clock set back since
    assert racy(fresh, now) and racy(future, now)
    assert not racy(old, now) and not racy((None, None), now)

    settings.RUNTIME_POLL_SECONDS = 60.0  # no poll of its own: refresh() called here
    monkeypatch.setattr(runtime_module, "FULL_POLL_SECONDS", 60.0)
    monkeypatch.setattr(runtime_module, "registry_files", lambda: fresh)
    runtime.refresh()
    assert runtime._polled is None and not runtime._registry_unchanged()
    monkeypatch.setattr(runtime_module, "registry_files", lambda: old)
    runtime.refresh()
    assert runtime._polled is not None and runtime._registry_unchanged()
