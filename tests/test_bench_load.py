"""The bench's Python load clients: a refused or cut-off answer is a failed request, and a
client that dies ends the load with an error instead of a wait forever; the per-worker split
of a load counts each process's connections on the port and its CPU."""

from __future__ import annotations

import multiprocessing as mp
import socket
import threading
import time

import psutil
import pytest
from django.core.management import CommandError

from inference_app.management.commands.bench import WorkerSplit, _collect, run_load


def cutting_server() -> tuple[int, threading.Event]:
    """Answers every request with a chunked body cut off in its first chunk, then closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    done = threading.Event()

    def serve():
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n400\r\n" + b"x" * 100
                )
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], done


def test_a_cut_off_answer_counts_as_a_failed_request():
    port, done = cutting_server()
    try:
        latencies, errors, count = run_load(port, "t", "/api/v1/similar", _body, 1, 1.0)
    finally:
        done.set()
    assert count > 0 and errors == count


def _body(i: int) -> dict:
    return {"item_code": str(i)}


def _dies(results) -> None:
    raise SystemExit(3)


def test_a_client_that_dies_ends_the_load_with_an_error():
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_dies, args=(results,))]
    procs[0].start()
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"1 load client\(s\) died \(exit codes \[3\]\)"):
        _collect(results, procs)
    assert time.monotonic() - started < 10


def test_the_per_worker_split_counts_the_ports_connections_and_the_cpu_of_the_load():
    listener = socket.create_server(("127.0.0.1", 0))
    other = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    clients.append(socket.create_connection(other.getsockname()))  # another port: not counted
    accepted = [listener.accept()[0] for _ in range(3)] + [other.accept()[0]]
    split = WorkerSplit([psutil.Process()], port, seconds=0.2)
    busy_until = time.process_time() + 0.3
    while time.process_time() < busy_until:
        pass
    found = split.done()
    # this process holds both ends; only the accepted ends have the port as their own
    assert found["connections"] == [3]
    assert found["cpu_s"][0] >= 0.25
    for sock in [*clients, *accepted, listener, other]:
        sock.close()
