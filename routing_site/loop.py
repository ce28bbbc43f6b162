"""Which threads run a server's read loop, and work kept off them.

The serving process answers its short API calls in the thread that reads every connection
(``inference_app.inline``); a wait there (a database write waiting for SQLite's lock) would
stall every connection of the process. Work that may wait is handed to a thread of its own
when it falls due on such a thread (:func:`off_the_loop`)."""

from __future__ import annotations

import threading
from collections.abc import Callable

_LOOP_THREADS: set[int] = set()  # the threads running a server's read loop


def enter_loop() -> int:
    """Mark the calling thread as a read loop's; returns its id for :func:`leave_loop`."""
    ident = threading.get_ident()
    _LOOP_THREADS.add(ident)
    return ident


def leave_loop(ident: int) -> None:
    _LOOP_THREADS.discard(ident)


def in_loop_thread() -> bool:
    """Whether this thread runs a server's read loop (work that may block waits for no one else)."""
    return threading.get_ident() in _LOOP_THREADS


def off_the_loop(work: Callable[[], None], name: str) -> None:
    """Run ``work`` now, or in a thread of its own (named ``name``; its database connections
    closed when it ends) when called on a read loop's thread."""
    if not in_loop_thread():
        work()
        return

    def run() -> None:
        from django.db import connections

        try:
            work()
        finally:
            connections.close_all()  # this thread's own connection ends with it

    threading.Thread(target=run, name=name).start()  # not a daemon: a started write ends
