"""Serving processes sharing one listening socket spread its connections evenly
(inference_app/inline.py's WorkerLoads and BalancedServer; manage.py serve --workers N)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import psutil
import pytest

from inference_app.inline import BalancedServer, InlineServer, WorkerLoads, make_server
from tests.test_hot_swap import wait_for
from tests.test_inline_server import recording_app
from tests.test_serve import REPO, env_for, free_port, issue_token, wait_for_health


def slot_of(loads: WorkerLoads, slot: int) -> WorkerLoads:
    """Another process's view of the same shared counts (what the fork gives each worker)."""
    view = WorkerLoads.__new__(WorkerLoads)
    view.counts, view.turns, view.slot = loads.counts, loads.turns, slot
    return view


class Worker:
    """A serving loop in a thread of this process, on a shared listening socket."""

    def __init__(self, listener: socket.socket, loads: WorkerLoads | None):
        own = listener.dup()  # each forked process holds its own descriptor of the socket
        self.server = make_server(recording_app([]), own, loads=loads, threads=2)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> Worker:
        self.thread.start()
        return self

    def open_connections(self) -> int:
        return len(self.server.active_channels)

    def stop(self) -> None:
        def close_all() -> None:  # in the loop's thread: the loop ends with an empty map
            for dispatcher in list(self.server._map.values()):
                dispatcher.close()

        self.server.trigger.pull_trigger(close_all)
        self.thread.join(timeout=5)
        self.server.task_dispatcher.shutdown(timeout=5)
        assert not self.thread.is_alive()


@pytest.fixture
def listener():
    sock = socket.create_server(("127.0.0.1", 0), backlog=128)
    yield sock
    sock.close()


def connect_all(port: int, n: int) -> list[http.client.HTTPConnection]:
    """``n`` keep-alive connections opened at once, then one request answered on each."""
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(n)]
    for conn in conns:
        conn.connect()
    for conn in conns:
        conn.request("POST", "/api/v1/similar", body=b"{}")
    for conn in conns:
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    return conns


def settled(workers: list[Worker], total: int) -> list[int]:
    """Each worker's open connections once they add up to ``total`` (closes are seen a turn
    later)."""
    deadline = time.monotonic() + 5
    while sum(split := [w.open_connections() for w in workers]) != total:
        assert time.monotonic() < deadline, split
        time.sleep(0.01)
    return split


def test_the_least_loaded_live_process_may_accept_ties_included():
    loads = WorkerLoads(3)
    first, second, third = (slot_of(loads, slot) for slot in range(3))
    assert first.may_accept(0)  # the others have not turned their loops yet: left out
    assert second.may_accept(2) is False  # the first holds fewer
    assert third.may_accept(0)  # a tie with the first
    assert first.may_accept(1) is False
    assert list(loads.counts) == [1, 2, 0]
    # a process whose loop has not turned for STALE_SECONDS keeps no one from accepting
    loads.turns[2] -= int(WorkerLoads.STALE_SECONDS * 1000) + 1
    assert first.may_accept(1)
    assert WorkerLoads(1).may_accept(500)  # one process: always


def test_connections_opened_at_once_are_split_evenly_and_all_answered(listener):
    loads = WorkerLoads(2)
    workers = [Worker(listener, slot_of(loads, slot)).start() for slot in range(2)]
    port = listener.getsockname()[1]
    try:
        for n in (2, 4, 7, 9):  # more connections than processes, an odd number too
            conns = connect_all(port, n)
            split = settled(workers, n)
            assert max(split) - min(split) <= 1, (n, split)
            for conn in conns:
                conn.close()
            settled(workers, 0)
    finally:
        for worker in workers:
            worker.stop()


def test_a_process_holding_idle_connections_takes_no_more_until_the_other_catches_up(listener):
    loads = WorkerLoads(2)
    busy = Worker(listener, slot_of(loads, 0)).start()
    port = listener.getsockname()[1]
    idle = connect_all(port, 6)  # the other process's loop has not started: all to the first
    assert settled([busy], 6) == [6]
    other = Worker(listener, slot_of(loads, 1)).start()
    try:
        conns = connect_all(port, 8)  # each answered: none waits for the loaded process
        assert settled([busy, other], 14) == [7, 7]
        for conn in [*idle, *conns]:
            conn.close()
    finally:
        busy.stop()
        other.stop()


def test_a_process_held_back_looks_again_soon_so_no_connection_waits_for_its_loop(listener):
    """A holds an idle connection, B none: A is held back, waiting on its connection only. B
    then takes two new connections and holds more than A: a third must not wait for A's loop
    timeout (1 s) before A polls the socket again."""
    loads = WorkerLoads(2)
    first = Worker(listener, slot_of(loads, 0)).start()
    port = listener.getsockname()[1]
    held = connect_all(port, 1)  # the other process has not started: to the first
    second = Worker(listener, slot_of(loads, 1)).start()
    opened = []
    try:
        assert wait_for(lambda: first.server.accepting is False)  # held back: 1 against 0
        turns_seen = set()
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:  # its loop keeps turning while held back
            turns_seen.add(loads.turns[0])
            time.sleep(0.005)
        assert len(turns_seen) >= 5, turns_seen
        for _ in range(3):
            opened += connect_all(port, 2)
            started = time.monotonic()
            opened += connect_all(port, 1)
            assert time.monotonic() - started < 0.5
        split = settled([first, second], 1 + len(opened))
        assert max(split) - min(split) <= 1, split
        for conn in [*held, *opened]:
            conn.close()
    finally:
        first.stop()
        second.stop()


def test_a_process_whose_loop_stopped_turning_does_not_hold_up_the_others(listener):
    loads = WorkerLoads(2)
    stuck = slot_of(loads, 1)
    stuck.may_accept(0)  # it holds the fewest connections, then its loop stops turning
    worker = Worker(listener, slot_of(loads, 0)).start()
    port = listener.getsockname()[1]
    try:
        first = connect_all(port, 1)  # a tie at 0: accepted
        assert wait_for(lambda: worker.server.accepting is False)  # defers to the least loaded
        assert worker.server.readable() is False
        loads.turns[1] -= int(WorkerLoads.STALE_SECONDS * 1000)
        conns = connect_all(port, 3)  # answered: the stuck process is left out
        assert settled([worker], 4) == [4]
        for conn in [*first, *conns]:
            conn.close()
    finally:
        worker.stop()


def test_one_process_without_shared_counts_accepts_as_waitress_does(listener, settings):
    for inline in (True, False):
        settings.SERVE_INLINE = inline
        worker = Worker(listener, None)
        assert isinstance(worker.server, BalancedServer)
        assert isinstance(worker.server, InlineServer) is inline
        worker.start()
        try:
            conns = connect_all(listener.getsockname()[1], 5)
            assert settled([worker], 5) == [5]
            for conn in conns:
                conn.close()
        finally:
            worker.stop()


def health_pid(conn: http.client.HTTPConnection, token: str) -> int:
    conn.request("GET", "/api/v1/health", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    assert response.status == 503, body  # no model in this registry: the status says why
    return json.loads(body)["pid"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork")
def test_serve_splits_keep_alive_connections_evenly_and_a_worker_ending_ends_it(tmp_path):
    env, port = env_for(tmp_path), free_port()
    token = issue_token(env)
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_health(port, token)
        workers = psutil.Process(server.pid).children()
        seen: set[int] = set()
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:  # both loops turning
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            seen.add(health_pid(conn, token))
            conn.close()
        assert seen == {w.pid for w in workers}
        time.sleep(0.3)  # the closes are seen
        for n in (4, 7):  # opened at once, each answered, then a second request on each
            conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(n)]
            for conn in conns:
                conn.connect()
            pids = [health_pid(conn, token) for conn in conns]
            assert [health_pid(conn, token) for conn in conns] == pids  # kept alive
            split = Counter(pids)
            assert set(split) == {w.pid for w in workers}
            assert max(split.values()) - min(split.values()) <= 1, split
            for conn in conns:
                conn.close()
            time.sleep(0.3)  # the closes are seen before the next round opens its connections
        os.kill(workers[0].pid, signal.SIGKILL)
        assert server.wait(timeout=20) == 0  # the supervisor stops the other and ends
        psutil.wait_procs(workers[1:], timeout=10)
        assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=20)
