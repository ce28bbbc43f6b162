"""Waitress with the short API calls answered by the thread that read them.

Waitress reads every connection in one main thread and hands each complete request to a pool
thread; the pool thread wakes the main thread again (a pipe) once the answer is written. Both
need the interpreter lock, so every request costs two hand-overs of the lock and two wake-ups,
more CPU than a time summary's own work, and two requests of one process share the lock in
turns of the switch interval, so both finish late (docs/benchmarks.md, *Waitress: the short
calls in its main thread*). :class:`InlineServer` answers ``POST /api/v1/similar``,
``/api/v1/time-summary`` and a ``/api/v1/predict`` of a few items (a body of at most 4 KB) in
the main thread right after reading them, and sends the answer at once; everything else
(predict batches, pages, exports, chunked bodies, a connection whose earlier answer is still
being sent) goes to the pool as before. The application, its middleware and the answers are
the same; only the thread differs. The prediction log's batched write, due after some answers,
is not done by the main thread (``routing_site.loop``; ``prediction_log``).

With several serving processes on one listening socket (``manage.py serve --workers N``) the
kernel gives a new connection to whichever process accepts first, so a few keep-alive clients
(an ERP's connections, held for hours) could all land on one process while the others idle.
:class:`WorkerLoads` keeps each process's number of open connections in memory shared across
the fork, and a process polls the listening socket only while it holds no more connections
than the least loaded one (:meth:`BalancedServer.readable`): the connections are spread evenly
(within one); a process held back looks again within ``BalancedServer.HELD_BACK_WAIT``, so a
new connection waits at most that long for a process to poll.
"""

from __future__ import annotations

import mmap
import select
import socket
import threading
import time

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.wasyncore import poll, poll2

from routing_site.loop import enter_loop, leave_loop

# bounded, short calls: path -> the largest body answered inline (a predict of a few items;
# a batch of up to 100 stays on the pool)
INLINE_PATHS = {
    "/api/v1/similar": 1 << 16,
    "/api/v1/time-summary": 1 << 16,
    "/api/v1/predict": 4096,
}


class WorkerLoads:
    """Open connections per serving process, in anonymous shared memory made before the fork:
    each process writes its own slots (8-byte words, no lock needed) and reads the others'.
    Besides its count a process writes the time of its loop's last turn: a process whose loop
    has not turned for ``STALE_SECONDS`` (stopped, or stuck in one long call) is left out of
    the comparison, so it cannot keep the others from accepting."""

    STALE_SECONDS = 5.0  # a live loop turns at least every second (waitress's select timeout)
    NEVER = -(1 << 63)  # the turn of a process that has not run its loop yet

    def __init__(self, workers: int):
        self._memory = mmap.mmap(-1, 16 * workers)  # MAP_SHARED | MAP_ANONYMOUS: kept by fork
        words = memoryview(self._memory).cast("q")
        self.counts, self.turns = words[:workers], words[workers:]
        for slot in range(workers):
            self.turns[slot] = self.NEVER
        self.slot = 0  # this process's; set in each worker after the fork

    def may_accept(self, open_connections: int) -> bool:
        """Record this process's open connections; whether no live process holds fewer."""
        now = time.monotonic_ns() // 1_000_000
        self.counts[self.slot] = open_connections
        self.turns[self.slot] = now
        alive_since = now - int(self.STALE_SECONDS * 1000)
        return all(
            count >= open_connections or turn < alive_since
            for count, turn in zip(self.counts, self.turns, strict=True)
        )


class BalancedServer(TcpWSGIServer):
    """Waitress's server that, given :class:`WorkerLoads`, accepts only as the least loaded
    of the processes sharing its listening socket; without them, waitress's own behaviour.

    A process decides at the start of each turn of its loop whether it polls the listening
    socket, and waits on what it polls for up to waitress's loop timeout (1 s). Other processes'
    counts change meanwhile, so one held back may become the least loaded while it waits: a
    process held back therefore waits at most ``HELD_BACK_WAIT`` before it looks again, and a
    new connection is taken within that time when every process polling has just taken more."""

    loads: WorkerLoads | None = None
    HELD_BACK_WAIT = 0.02  # seconds; a held-back idle process looks 50 times a second
    accepting = True  # this turn's decision (run() makes it before the loop's wait)

    def readable(self) -> bool:
        """Called at every turn of the loop before it waits: polls the listening socket only
        when this turn's decision says so (made by :meth:`run` just before)."""
        return super().readable() and (self.loads is None or self.accepting)

    def run(self):
        if self.loads is None:
            return super().run()
        wait_for = poll2 if self.adj.asyncore_use_poll and hasattr(select, "poll") else poll
        try:
            while self._map:
                # publish this process's open connections; accept only as the least loaded (a
                # tie accepts in both; the loser's accept finds nothing)
                self.accepting = self.loads.may_accept(len(self.active_channels))
                timeout = self.adj.asyncore_loop_timeout if self.accepting else self.HELD_BACK_WAIT
                wait_for(timeout, self._map)
        except (SystemExit, KeyboardInterrupt):
            self.task_dispatcher.shutdown()
        return None


class InlineChannel(HTTPChannel):
    """A connection whose short requests are served in the main thread after the read."""

    inline = False  # set by InlineServer.add_task while this channel's read is handled

    def handle_read(self):
        super().handle_read()
        while self.inline:  # service() may queue this connection's next pipelined request
            self.inline = False
            self.service()
            self.handle_write()  # send it now, not at the next turn of the loop

    def _flush_outbufs_below_high_watermark(self):
        """The pool's thread waits here for the loop to send; the loop's own thread cannot
        wait for itself: it sends what the socket takes now, the loop sends the rest."""
        if not self.server._here():
            return super()._flush_outbufs_below_high_watermark()
        if self.total_outbufs_len > self.adj.outbuf_high_watermark:
            with self.outbuf_lock:
                self._flush_exception(self._flush_some, do_close=False)
        return None


class InlineServer(BalancedServer):
    channel_class = InlineChannel

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.loop_thread: int | None = None  # the thread running the loop (known at run)

    def run(self):
        self.loop_thread = enter_loop()
        try:
            super().run()
        finally:
            leave_loop(self.loop_thread)

    def add_task(self, task) -> None:
        if self._here() and isinstance(task, InlineChannel) and _short(task):
            task.inline = True  # served by handle_read once received() released its lock
        else:
            super().add_task(task)

    def pull_trigger(self) -> None:
        """Wake the loop from another thread; the loop's own thread is awake already."""
        if not self._here():
            super().pull_trigger()

    def _here(self) -> bool:
        return threading.get_ident() == self.loop_thread


def _short(channel: HTTPChannel) -> bool:
    """A lone, well-formed short API call on a connection with nothing left to send."""
    request = channel.requests[0]
    return (
        len(channel.requests) == 1
        and not channel.total_outbufs_len
        and request.error is None
        and request.command == "POST"
        and not request.chunked  # its content_length stays 0: the size is not known here
        and request.content_length <= INLINE_PATHS.get(request.path, -1)
    )


def create_inline_server(
    application, listener: socket.socket, loads: WorkerLoads | None = None, **kw
) -> InlineServer:
    """A waitress server on an open listening socket, with ``kw`` as waitress's adjustments."""
    return _server_on(InlineServer, application, listener, loads, kw)


def _server_on(cls, application, listener: socket.socket, loads: WorkerLoads | None, kw: dict):
    adj = Adjustments(**kw)
    sockinfo = (listener.family, listener.type, listener.proto, listener.getsockname())
    server = cls(application, {}, True, listener, adj=adj, bind_socket=False, sockinfo=sockinfo)
    server.loads = loads
    return server


def make_server(application, listener: socket.socket, loads: WorkerLoads | None = None, **kw):
    """The server ``manage.py serve`` runs on ``listener``: the inline one, or waitress's own
    when ``ROUTING_INLINE`` is false (``kw``: waitress's adjustments, threads included);
    Django's application is served behind :class:`~inference_app.fastpath.LeanApplication`.
    ``loads``: the shared connection counts when several processes share ``listener``."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    from inference_app.fastpath import LeanApplication

    if isinstance(application, WSGIHandler):  # the hot calls before Django's handler
        application = LeanApplication(application)
    cls = InlineServer if settings.SERVE_INLINE else BalancedServer
    return _server_on(cls, application, listener, loads, kw)
