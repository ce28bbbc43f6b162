"""The request log's rotating handler checks the file's size every 32 lines, not on each; its
records and timestamps made with their fixed parts once are those of the logging module."""

from __future__ import annotations

import json
import logging

import pytest

from routing_site.logging import JsonFormatter, RotatingFileHandler


def test_it_rolls_over_within_32_lines_of_the_limit(tmp_path):
    (tmp_path / "logs").mkdir()
    path = tmp_path / "logs" / "requests.log"
    handler = RotatingFileHandler(path, maxBytes=2000, backupCount=3, encoding="utf-8", delay=True)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("test.request-log")
    log.addHandler(handler)
    log.propagate = False
    try:
        for i in range(200):
            log.warning("request", extra={"request_id": f"r{i:04d}", "status": 200})
    finally:
        log.removeHandler(handler)
        handler.close()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == [
        "requests.log",
        "requests.log.1",
        "requests.log.2",
        "requests.log.3",
    ]
    line = len((path.read_text().splitlines() or ["x"])[0]) + 1
    for f in files:
        assert f.stat().st_size <= 2000 + 32 * line, f.name
    newest = [json.loads(x)["request_id"] for x in path.read_text().splitlines()]
    assert newest[-1] == "r0199"  # nothing lost at the newest end, lines whole


def test_a_quick_record_is_the_record_make_record_makes():
    from routing_site.logging import quick_record

    log = logging.getLogger("test.quick-record")
    extra = {"request_id": "r1", "status": 200, "user": None}
    made = log.makeRecord(log.name, logging.INFO, __file__, 0, "request", None, None, extra=extra)
    for _ in range(2):  # the first call makes the fixed fields, the second copies them
        quick = quick_record(log, logging.INFO, __file__, "request", extra)
        assert list(vars(quick)) == list(vars(made))  # the same fields in the same order
        varying = {"created", "msecs", "relativeCreated"}
        assert {k: v for k, v in vars(quick).items() if k not in varying} == {
            k: v for k, v in vars(made).items() if k not in varying
        }
        assert abs(quick.created - made.created) < 5
        assert JsonFormatter().format(quick).startswith('{"ts":')
    for clash in ({"msg": "x"}, {"message": "x"}, {"asctime": "x"}):  # as makeRecord refuses
        with pytest.raises(KeyError):
            quick_record(log, logging.INFO, __file__, "request", clash)


def test_a_quick_record_in_another_thread_names_that_thread():
    import threading

    from routing_site.logging import quick_record

    log = logging.getLogger("test.quick-record")
    quick_record(log, logging.INFO, __file__, "request", {})  # fixed fields made here
    found = []
    worker = threading.Thread(
        target=lambda: found.append(quick_record(log, logging.INFO, __file__, "request", {})),
        name="answer-thread",
    )
    worker.start()
    worker.join()
    assert found[0].threadName == "answer-thread" and found[0].thread == worker.ident


def test_the_line_timestamp_is_datetimes_to_the_millisecond():
    import random
    from datetime import UTC, datetime

    from routing_site.logging import timestamp

    rng = random.Random(3)
    edges = [0.0, 0.0004999, 0.0005, 0.9994999, 0.9995, 0.99999949, 0.9999995, 0.9999999]
    stamps = [rng.uniform(0, 4e9) for _ in range(20_000)]
    stamps += [int(rng.uniform(0, 4e9)) + e for e in edges for _ in range(200)]
    for t in stamps + [1e9 + 0.5, 1_796_104_293.2464297]:
        assert timestamp(t) == datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def test_a_request_id_is_a_random_uuid4_in_hex():
    import uuid

    from inference_app.middleware import new_request_id

    ids = [new_request_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert parsed.hex == value and len(value) == 32
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    assert {value[12] for value in ids} == {"4"} and {value[16] for value in ids} == set("89ab")
    assert len({value[0] for value in ids}) == 16  # every digit of the rest turns up
