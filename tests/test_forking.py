"""Work beside the main thread: in a forked process where there is fork, else in a thread; the
evaluation's predictions split in two halves, in order."""

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from registry_app.pipeline import evaluation, forking

needs_fork = pytest.mark.skipif(
    not forking.can_fork(), reason="forks on Linux with two cores or more"
)


class TwoArguments(Exception):
    """An exception that pickles but does not rebuild from its pickle."""

    def __init__(self, what: str, why: str):
        super().__init__(f"{what}: {why}")


def where(row: int) -> tuple[int, int, str]:
    return row * row, os.getpid(), threading.current_thread().name


@needs_fork
def test_the_second_half_runs_in_a_forked_process_and_the_results_keep_their_order():
    rows = list(range(evaluation.FORK_MIN_ROWS + 11))
    calls = []
    out = evaluation.in_two_processes(where, rows, lambda *a: calls.append(a))
    assert [r for r, _, _ in out] == [row * row for row in rows]
    half = (len(rows) + 1) // 2
    assert {pid for _, pid, _ in out[:half]} == {os.getpid()}
    assert {pid for _, pid, _ in out[half:]} - {os.getpid()}  # another process did these
    assert calls and all(stage == "evaluate" and 0 <= f < 1 for stage, f, _ in calls)


def test_few_rows_are_done_here():
    rows = list(range(evaluation.FORK_MIN_ROWS - 1))
    out = evaluation.in_two_processes(where, rows)
    assert {pid for _, pid, _ in out} == {os.getpid()}
    assert [r for r, _, _ in out] == [row * row for row in rows]


def test_an_error_in_the_forked_half_reaches_the_caller():
    def failing(row: int) -> int:
        if row == evaluation.FORK_MIN_ROWS:  # in the second half
            raise ValueError(f"row {row} has no routing")
        return row

    with pytest.raises(ValueError, match="has no routing"):
        evaluation.in_two_processes(failing, list(range(evaluation.FORK_MIN_ROWS + 50)))


@needs_fork
def test_what_the_forked_work_changes_is_not_seen_here_its_result_is():
    state = {"value": 1}

    def work():
        state["value"] = 2
        return os.getpid(), state["value"]

    with forking.beside(work) as future:
        pid, value = future.result()
    assert pid != os.getpid() and value == 2
    assert state["value"] == 1  # the process had its own copy
    assert not forking._WORK  # nothing kept for a later fork


def test_without_fork_the_work_runs_in_a_thread(monkeypatch):
    monkeypatch.setattr(forking, "can_fork", lambda: False)
    monkeypatch.setattr(evaluation, "can_fork", lambda: False)
    with forking.beside(lambda: (os.getpid(), threading.current_thread().name), "tables") as f:
        pid, name = f.result()
    assert pid == os.getpid() and name.startswith("tables")
    rows = list(range(evaluation.FORK_MIN_ROWS + 5))
    assert {p for _, p, _ in evaluation.in_two_processes(where, rows)} == {os.getpid()}


def _in_a_daemon(queue) -> None:
    with forking.beside(lambda: (os.getpid(), threading.current_thread().name), "tables") as f:
        queue.put((os.getpid(), forking.can_fork(), *f.result()))


@needs_fork
def test_inside_a_daemonic_process_the_work_runs_in_a_thread():
    """multiprocessing gives a daemonic process (a task cluster worker) no children."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    worker = context.Process(target=_in_a_daemon, args=(queue,), daemon=True)
    worker.start()
    pid, could_fork, work_pid, thread = queue.get(timeout=60)
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert pid == worker.pid and not could_fork
    assert work_pid == pid and thread.startswith("tables")


@needs_fork
def test_a_task_cluster_worker_forks_the_work():
    """The cluster's workers are started as the settings say (django-q's daemonize_workers), so
    a training run by the cluster forks its tables and evaluation too."""
    from django.conf import settings

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    daemonic = settings.Q_CLUSTER.get("daemonize_workers", True)  # django-q's default: True
    worker = context.Process(target=_in_a_daemon, args=(queue,), daemon=daemonic)
    worker.start()
    pid, could_fork, work_pid, _ = queue.get(timeout=60)
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert could_fork and work_pid != pid


@needs_fork
def test_leaving_by_an_exception_ends_the_forked_process_at_once():
    """A failure, a timeout or a cancel in the training does not wait for the forked work."""
    started = time.monotonic()
    with pytest.raises(ValueError, match="the training failed"):
        with forking.beside(lambda: time.sleep(60), "tables") as future:
            [pid] = list(future.pool._processes)
            raise ValueError("the training failed")
    assert time.monotonic() - started < 30
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_fork
def test_a_forked_process_that_ends_abruptly_is_a_clear_error():
    with pytest.raises(RuntimeError, match="The tables process ended abruptly .*-9"):
        with forking.beside(lambda: os.kill(os.getpid(), signal.SIGKILL), "tables") as future:
            future.result()


@needs_fork
def test_an_exception_that_does_not_rebuild_is_sent_back_by_its_type_and_message():
    def work():
        raise TwoArguments("operations table", "no sequence column")

    with pytest.raises(RuntimeError, match="TwoArguments: operations table: no sequence"):
        with forking.beside(work, "tables") as future:
            future.result()


def test_where_the_fork_fails_the_work_runs_in_a_thread(monkeypatch):
    def no_memory(self, fn, /, *args, **kwargs):
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(forking, "can_fork", lambda: True)
    monkeypatch.setattr(ProcessPoolExecutor, "submit", no_memory)
    with forking.beside(lambda: (os.getpid(), threading.current_thread().name), "tables") as f:
        pid, name = f.result()
    assert pid == os.getpid() and name.startswith("tables")
    assert not forking._WORK
