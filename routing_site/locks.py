"""One writer at a time for a named piece of state, across processes and connections.

``serialise(name)`` is called first thing inside ``transaction.atomic()``; it returns once no
other transaction holds ``name`` and keeps it until this transaction ends. Statements after it
see what the previous holder committed, so a check-then-write (one active version, one queued
training run, the newest settings revision) cannot interleave with another.

- PostgreSQL: ``pg_advisory_xact_lock`` on a number derived from the name. A row lock is not
  enough there: ``SELECT … FOR UPDATE`` waits for the rows it saw, but a row another
  transaction inserts or newly turns active meanwhile is not among them.
- SQLite: nothing to do; its transactions begin IMMEDIATE (settings.py), which takes the
  database's write lock at BEGIN.

A holder that keeps the lock longer than ``LOCK_WAIT_S`` makes the waiter give up with a 409
(``busy``) instead of hanging a request thread.
"""

from __future__ import annotations

import hashlib

from django.db import OperationalError, connections

from routing_site.errors import Conflict

LOCK_WAIT_S = 30


def lock_key(name: str) -> int:
    """A stable signed 64-bit number for ``name`` (the advisory lock's key)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def serialise(name: str, using: str = "default") -> None:
    """Wait for, then hold until commit or rollback, the transaction-wide lock ``name``."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError(f"serialise({name!r}) must be called inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_S)}s'")
        try:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key(name)])
        except OperationalError:
            raise Conflict(
                f"Another change of {name} is taking longer than {LOCK_WAIT_S} s; try again.",
                code="busy",
            ) from None
