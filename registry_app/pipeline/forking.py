"""Work beside the training's main thread in a forked process, where a thread would not help.

The training's Python-bound work (text features, the tables' pandas steps, the evaluation's
predictions) holds the interpreter lock: two such parts in two threads take turns on one core.
A process forked at the right moment inherits everything the work reads (the extracted
frames, the index, the tables) without copying or pickling it, and only the work's result is
pickled back. Where there is no fork (Windows), a single core, or inside a daemonic process
(a task cluster worker with django-q's default ``daemonize_workers``), the work runs in a
thread.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
# the work a forked process runs: set before the fork, so inherited, never pickled
_WORK: list[Callable[[], object]] = []


def can_fork() -> bool:
    """Whether :func:`beside` forks: on more than one core where the platform forks, and not
    inside a daemonic process (the task cluster's workers, by default), which multiprocessing
    refuses to give children."""
    return (
        (os.cpu_count() or 1) > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


@contextmanager
def beside(work: Callable[[], object], name: str = "beside") -> Iterator[Future]:
    """A future of ``work()``, run in a process forked now (a thread where there is no fork).
    Leaving the block waits for it, also when the block raises. ``work`` must not touch the
    database or the run's progress: in a process, what it changes is not seen here; its
    result (or exception) is."""
    if not can_fork():
        with ThreadPoolExecutor(1, thread_name_prefix=name) as threads:
            yield threads.submit(work)
        return
    context = multiprocessing.get_context("fork")
    parent = os.getpid()
    with ProcessPoolExecutor(1, context, _die_with_parent, (parent,)) as pool:
        _WORK[:] = [work]
        try:
            future = pool.submit(_run)  # the process is forked here and inherits _WORK
        finally:
            _WORK.clear()
        yield future


def _run() -> object:
    return _WORK[0]()


def _die_with_parent(parent: int) -> None:
    """In the forked process, first: it ends when this process ends (Linux), so a killed
    training leaves nothing running that holds its lock or writes into its folder."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)
