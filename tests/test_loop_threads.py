"""Work that may wait (a database write) is kept off a server's read loop thread."""

from __future__ import annotations

import threading

from routing_site.loop import enter_loop, in_loop_thread, leave_loop, off_the_loop


def run_in_thread(target) -> None:
    thread = threading.Thread(target=target)
    thread.start()
    thread.join(5)


def test_work_runs_at_once_off_a_read_loop():
    ran = []
    off_the_loop(lambda: ran.append(threading.get_ident()), "test-work")
    assert ran == [threading.get_ident()]


def test_work_due_on_a_read_loop_runs_in_a_thread_of_its_own():
    loop_thread, ran, done = [], [], threading.Event()

    def loop():
        ident = enter_loop()
        loop_thread.append(ident)
        try:
            assert in_loop_thread()
            off_the_loop(lambda: (ran.append(threading.current_thread().name), done.set()), "w")
        finally:
            leave_loop(ident)
        assert not in_loop_thread()

    run_in_thread(loop)
    assert done.wait(5)
    assert ran == ["w"]
    assert not in_loop_thread()  # only the loop's own thread was marked
