"""JSON log lines: one object per line, with whatever ``extra`` fields the caller gave.

Encoded with orjson, once per record: ``RotatingFileHandler`` formats a record twice (once to
see whether the file must roll over, once to write it), so the line is kept on the record.
"""

from __future__ import annotations

import logging
import logging.handlers
from datetime import UTC, datetime

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME  # str(), as json.dumps
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = record.__dict__.get("_json_line")
        if line is None:
            line = record._json_line = self._encode(record)
        return line

    def _encode(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        # JSON escapes \n and \r, not these: a reader splitting lines on them (Python's
        # str.splitlines) would cut a request line whose path or user holds one
        line = orjson.dumps(payload, default=str, option=_OPTIONS).decode()
        # translate() looks up every character (5 µs for a request line): only when needed
        return line.translate(LINE_BREAKS) if _has_line_break(line) else line


def _has_line_break(line: str) -> bool:
    return "\x85" in line or "\u2028" in line or "\u2029" in line


class RotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The standard rotating handler, asking the file for its size once every ``CHECK_EVERY``
    records instead of on each (a stat, an existence check and a flush per request line): the
    file may pass ``maxBytes`` by at most that many lines before it rolls over."""

    CHECK_EVERY = 32

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._unchecked = 0

    def shouldRollover(self, record: logging.LogRecord) -> bool:  # noqa: N802 (logging's name)
        self._unchecked += 1
        if self._unchecked < self.CHECK_EVERY:
            return False
        self._unchecked = 0
        return bool(super().shouldRollover(record))
