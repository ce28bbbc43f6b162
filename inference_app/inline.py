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
"""

from __future__ import annotations

import socket
import threading

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from routing_site.loop import enter_loop, leave_loop

# bounded, short calls: path -> the largest body answered inline (a predict of a few items;
# a batch of up to 100 stays on the pool)
INLINE_PATHS = {
    "/api/v1/similar": 1 << 16,
    "/api/v1/time-summary": 1 << 16,
    "/api/v1/predict": 4096,
}


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


class InlineServer(TcpWSGIServer):
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


def create_inline_server(application, listener: socket.socket, **kw) -> InlineServer:
    """A waitress server on an open listening socket, with ``kw`` as waitress's adjustments."""
    adj = Adjustments(**kw)
    sockinfo = (listener.family, listener.type, listener.proto, listener.getsockname())
    return InlineServer(
        application, {}, True, listener, adj=adj, bind_socket=False, sockinfo=sockinfo
    )


def make_server(application, listener: socket.socket, **kw):
    """The server ``manage.py serve`` runs on ``listener``: the inline one, or waitress's own
    when ``ROUTING_INLINE`` is false (``kw``: waitress's adjustments, threads included);
    Django's application is served behind :class:`~inference_app.fastpath.LeanApplication`."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from waitress.server import create_server

    from inference_app.fastpath import LeanApplication

    if isinstance(application, WSGIHandler):  # the hot calls before Django's handler
        application = LeanApplication(application)
    if settings.SERVE_INLINE:
        return create_inline_server(application, listener, **kw)
    return create_server(application, sockets=[listener], **kw)
