"""Work beside the training's main thread in a forked process, where a thread would not help.

The training's Python-bound work (text features, the tables' pandas steps, the evaluation's
predictions) holds the interpreter lock: two such parts in two threads take turns on one core.
A process forked at the right moment inherits everything the work reads (the extracted
frames, the index, the tables) without copying or pickling it, and only the work's result is
pickled back. Where there is no fork (Windows), a single core, or inside a daemonic process
(a task cluster worker with django-q's default ``daemonize_workers``; the settings turn it
off), the work runs in a thread.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
# the work a forked process runs: set before the fork, so inherited, never pickled
_WORK: list[Callable[[], object]] = []


def can_fork() -> bool:
    """Whether :func:`beside` forks: on Linux (a forked process must end with its parent:
    ``PR_SET_PDEATHSIG``) with more than one core for this process, and not inside a daemonic
    process (django-q's default for its workers), which multiprocessing refuses to give
    children."""
    return (
        sys.platform.startswith("linux")
        and len(os.sched_getaffinity(0)) > 1
        and not multiprocessing.current_process().daemon
    )


@contextmanager
def beside(work: Callable[[], object], name: str = "beside") -> Iterator[Future]:
    """A future of ``work()``, run in a process forked now (a thread where there is no fork,
    or where the fork fails). Leaving the block waits for it; leaving it by an exception (a
    failure, a timeout, a cancel) ends the process at once. ``work`` must not touch the
    database or the run's progress: in a process, what it changes is not seen here; its
    result (or exception) is. A process that ends abruptly (killed, out of memory) is a
    :class:`RuntimeError` that names it."""
    pool = _forked_pool() if can_fork() else None
    future = _forked(pool, work) if pool is not None else None
    if future is None:
        with ThreadPoolExecutor(1, thread_name_prefix=name) as threads:
            yield threads.submit(work)
        return
    try:
        yield _Named(future, name, pool)
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _forked_pool() -> ProcessPoolExecutor | None:
    """A pool of one process forked from this one, or None where it cannot be made (no
    semaphores, for one)."""
    try:
        context = multiprocessing.get_context("fork")
        return ProcessPoolExecutor(1, context, _die_with_parent, (os.getpid(),))
    except (OSError, ValueError, NotImplementedError):
        return None


def _forked(pool: ProcessPoolExecutor, work: Callable[[], object]) -> Future | None:
    """``work`` submitted to ``pool``, whose process is forked now and inherits it; None
    (and the pool shut) where the fork fails (memory, process limits)."""
    _WORK[:] = [work]
    try:
        return pool.submit(_run)
    except OSError:
        pool.shutdown(wait=False, cancel_futures=True)
        return None
    finally:
        _WORK.clear()


class _Named:
    """The forked process's future, with an abrupt end of that process named."""

    def __init__(self, future: Future, name: str, pool: ProcessPoolExecutor):
        self.future, self.name, self.pool = future, name, pool

    def result(self, timeout: float | None = None) -> object:
        try:
            return self.future.result(timeout)
        except BrokenProcessPool as exc:
            codes = [p.exitcode for p in getattr(self.pool, "_processes", {}).values()]
            raise RuntimeError(
                f"The {self.name} process ended abruptly (exit codes {codes or 'unknown'}; "
                "-9 is a kill, often by the system when memory runs out). Free memory or "
                "train fewer items, then train again."
            ) from exc

    def done(self) -> bool:
        return self.future.done()


def _run() -> object:
    """The inherited work; an exception that cannot be sent back as it is (one whose
    arguments do not rebuild it) is sent as a RuntimeError with its type and message."""
    try:
        return _WORK[0]()
    except Exception as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise


def _die_with_parent(parent: int) -> None:
    """In the forked process, first: it ends when this process ends (Linux), so a killed
    training leaves nothing running that holds its lock or writes into its folder."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)
