"""ODBC tables read as Arrow columns through arrow-odbc (bulk fetch into column buffers).

arrow-odbc binds column buffers and fetches many rows per call, which needs a driver that
accepts block cursors (``SQL_ATTR_ROW_ARRAY_SIZE``). The SQLite ODBC driver and the server
drivers (PostgreSQL's, Microsoft's and FreeTDS for SQL Server) do; mdbtools' Access driver does
not, and arrow-odbc then stops the whole process instead of raising. So before the first
columnar read of a connection, :func:`capable` runs that read's first batch in a child process;
only a driver that passes it is read here, any other is read by pyodbc's chunked rows
(:class:`registry_app.pipeline.sources.OdbcSource`). The answer is kept per connection string
for the life of the process.

Dates, times and timestamps are fetched as the driver's text, as the row reader hands them on:
a date no calendar has (day 0, year 0) is a value for extraction to count, not an error.
"""

from __future__ import annotations

import json
import subprocess
import sys

BATCH_BYTES = 64 * 1024 * 1024  # column buffers of one fetch (arrow-odbc zeroes them)
MAX_TEXT = 4096  # bytes kept of a text column the driver declares unbounded (TEXT, VARCHAR(MAX))
MAX_BINARY = 1024 * 1024
PROBE_SECONDS = 120
_CAPABLE: dict[str, bool | str] = {}

_PROBE = """
import json, sys
spec = json.loads(sys.stdin.read())
from arrow_odbc import Error, read_arrow_batches_from_odbc
try:
    reader = read_arrow_batches_from_odbc(
        spec["query"], spec["conn"], batch_size=16, max_text_size=spec["text"],
        max_binary_size=spec["binary"], fetch_concurrently=False,
    )
    next(iter(reader), None)
except Error:
    pass  # an error the driver reports (a value too long): the read itself falls back
"""


def available() -> bool:
    """Whether arrow-odbc is installed."""
    try:
        import arrow_odbc  # noqa: F401
    except ImportError:  # pragma: no cover - a base requirement
        return False
    return True


def capable(conn_str: str, query: str) -> bool | str:
    """True when the driver behind ``conn_str`` survives a bulk fetch of ``query``'s first rows
    in a child process (an error it reports counts as surviving: the read itself then falls
    back); else the reason it cannot (kept per connection string)."""
    if conn_str not in _CAPABLE:
        _CAPABLE[conn_str] = _probe(conn_str, query) if available() else "arrow-odbc missing"
    return _CAPABLE[conn_str]


def _probe(conn_str: str, query: str) -> bool | str:
    spec = {"conn": conn_str, "query": query, "text": MAX_TEXT, "binary": MAX_BINARY}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            input=json.dumps(spec),  # stdin, not argv: a connection string may hold a password
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"probe failed: {type(exc).__name__}"
    if done.returncode == 0:
        return True
    lines = [line for line in done.stderr.splitlines() if "Message:" in line or "Error" in line]
    return "driver refuses bulk fetch: " + (lines[-1].strip() if lines else "probe stopped")[:200]


def read(conn_str: str, query: str):
    """The result of ``query`` as one pyarrow Table (dates and times as text); raises
    ``arrow_odbc.Error`` when the driver fails mid-read."""
    import pyarrow as pa
    from arrow_odbc import read_arrow_batches_from_odbc

    reader = read_arrow_batches_from_odbc(
        query,
        conn_str,
        max_bytes_per_batch=BATCH_BYTES,
        max_text_size=MAX_TEXT,
        max_binary_size=MAX_BINARY,
        map_schema=_dates_as_text,
    )
    return pa.Table.from_batches(list(reader), schema=reader.schema)


def _dates_as_text(schema):
    import pyarrow as pa

    return pa.schema(
        [pa.field(f.name, pa.string()) if pa.types.is_temporal(f.type) else f for f in schema]
    )
