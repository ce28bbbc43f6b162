"""The request log's rotating handler checks the file's size every 32 lines, not on each."""

from __future__ import annotations

import json
import logging

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
