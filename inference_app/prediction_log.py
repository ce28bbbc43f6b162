"""The bounded log of live predictions: one cheap append on the request path, batched writes.

``PredictView`` appends a reference to what it already has (request id, the items as sent, the
answers, which are not copied); the rows are built and written by one ``bulk_create`` (the trim in
the same transaction) after the response has gone
out (Django's ``request_finished`` signal, which waitress fires once the body is sent) when
enough have gathered or the oldest waited long enough, and by every reader (:func:`flush`
before the figures, the shadow replay and the routing save read the table). The table keeps
the newest ``prediction_log_size`` rows (a workflow setting; 0 switches logging off).
If the database cannot be written, the pending entries are dropped with a warning: a missing
log line never fails a prediction.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from django.core.signals import request_finished

from routing_site.loop import off_the_loop

log = logging.getLogger("routing.predictions")
BATCH = 50  # write when this many items wait ...
MAX_WAIT_S = 1.0  # ... or when the oldest has waited this long
MAX_PENDING = 20_000  # a database that stays unwritable cannot grow memory without bound


def compact_candidates(answer: dict) -> list[dict]:
    """The candidates as op-code and work-center sequences (what edit similarity compares)."""
    return [
        {
            "rank": c["rank"],
            "ops": [o["op_code"] for o in c["operations"]],
            "wcs": [o["work_center"] for o in c["operations"]],
        }
        for c in answer.get("candidates", [])
    ]


def confidence_of(answer: dict) -> str:
    """The answer's own ``confidence``; without one, ``low`` when the best candidate holds less
    than half of the support (the neighbours disagree) and ``none`` without a candidate."""
    given = answer.get("confidence")
    if given:
        return str(given)[:16]
    candidates = answer.get("candidates") or []
    if not candidates:
        return "none"
    return "low" if candidates[0].get("score", 0.0) < 0.5 else "high"


def row_fields(entry: tuple, index: int, item: dict, answer: dict) -> dict:
    request_id, created, label, options, latency_ms = entry[:5]
    neighbours = answer.get("neighbours") or []
    return {
        "request_id": request_id,
        "item_index": index,
        "created_at": created,
        "model_version": label,
        "inputs": item,
        "options": options,
        "status": answer.get("status", ""),
        "confidence": confidence_of(answer),
        "best_similarity": neighbours[0]["similarity"] if neighbours else None,
        "candidates": compact_candidates(answer),
        "neighbours": [n["item_code"] for n in neighbours[:10]],
        "latency_ms": latency_ms,
    }


class PredictionBuffer:
    def __init__(self):
        self._pending: deque = deque(maxlen=MAX_PENDING)
        self._flushing = threading.Lock()

    def append(self, request_id: str, label: str, options: dict, items, answers, latency_ms):
        """The request path's only cost: one tuple appended (deque appends are thread-safe)."""
        self._pending.append(
            (request_id, time.time(), label, options, latency_ms, items, answers, time.monotonic())
        )

    def pending(self) -> int:
        return len(self._pending)

    def maybe_flush(self, **_signal) -> None:
        """After a response: write when a batch is due; a flush already running is not waited
        for (that thread writes what is pending)."""
        try:
            due = (
                len(self._pending) >= BATCH or time.monotonic() - self._pending[0][7] >= MAX_WAIT_S
            )
        except IndexError:  # nothing pending
            return
        if not due or not self._flushing.acquire(blocking=False):
            return
        # waitress's read loop answered it: the write goes to a thread of its own
        off_the_loop(self._write_and_release, "prediction-log")

    def _write_and_release(self) -> None:
        try:
            self._write_pending()
        finally:
            self._flushing.release()

    def flush(self) -> int:
        """Write every pending entry now (readers call this); returns the rows written."""
        with self._flushing:
            return self._write_pending()

    def discard(self) -> None:
        self._take()

    def _write_pending(self) -> int:
        entries = self._take()
        if not entries:
            return 0
        try:
            return _write(entries)
        except Exception as exc:  # never let the log break a request
            log.warning("prediction log not written (%s items dropped): %s", len(entries), exc)
            return 0

    def _take(self) -> list[tuple]:
        # popleft one by one: safe against appends from other threads meanwhile
        entries = []
        pending = self._pending
        while True:
            try:
                entries.append(pending.popleft())
            except IndexError:
                return entries


def _write(entries: list[tuple]) -> int:
    """The entries' rows, then the trim to the newest ``prediction_log_size``, in one
    transaction (a row already written is skipped)."""
    from datetime import UTC, datetime

    from django.db import transaction
    from django.db.models import Max

    from inference_app.models import PredictionLog
    from inference_app.runtime import runtime

    keep = runtime.settings.get("prediction_log_size", 5000)
    if keep <= 0:
        return 0
    rows = []
    for entry in entries:
        for index, (item, answer) in enumerate(zip(entry[5], entry[6], strict=False)):
            fields = row_fields(entry, index, item, answer)
            fields["created_at"] = datetime.fromtimestamp(fields["created_at"], tz=UTC)
            rows.append(PredictionLog(**fields))
    if not rows:
        return 0
    with transaction.atomic():
        PredictionLog.objects.bulk_create(rows, ignore_conflicts=True)
        newest = PredictionLog.objects.aggregate(newest=Max("id"))["newest"] or 0
        PredictionLog.objects.filter(id__lte=newest - keep).delete()
    return len(rows)


buffer = PredictionBuffer()
flush = buffer.flush
request_finished.connect(buffer.maybe_flush, dispatch_uid="routing-prediction-log")
