"""Lead-time arithmetic for a routing and an order quantity.

Per operation: ``setup + run × quantity / run_qty + queue + wait + move`` minutes. The totals add
the operations up; where an operation carries percentile figures (``p80``, ``p90`` …) the same
sum is made with them, falling back to the operation's central figures where a percentile is not
known, so a P90 total is never lower than the P50 one and a P10 total never higher. A time
the operation does not give (null) adds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing_core.stats import rounded_array

PARTS = ("setup_min", "run_min", "queue_min", "wait_min", "move_min")


def _num(op: dict, key: str, default: float = 0.0) -> float:
    value = op.get(key)
    if value is None:
        return default
    value = float(value)
    return value if _isfinite(value) else default


_isfinite = math.isfinite
_FLOAT = {float}


def operation_minutes(op: dict, quantity: float, figures: dict | None = None) -> dict:
    """Breakdown of one operation; ``figures`` overrides setup/run with percentile values."""
    parts = _parts(op, quantity, _run_qty(op))
    if figures:
        parts = _with_figures(parts, figures, quantity, _run_qty(op))
    return {**dict(zip(PARTS, parts, strict=True)), "lead_min": _lead(parts)}


def _run_qty(op: dict) -> float:
    return _num(op, "run_qty", 1.0) or 1.0


def _parts(op: dict, quantity: float, run_qty: float) -> tuple[float, ...]:
    """setup, run (for ``quantity``), queue, wait, move minutes of one operation."""
    get = op.get
    setup, run = get("setup_min", 0.0), get("run_min", 0.0)
    queue, wait, move = get("queue_min", 0.0), get("wait_min", 0.0), get("move_min", 0.0)
    # the common case at once: five floats whose sum is finite (so each is: an infinity or a
    # NaN among them makes the sum one), which _num would return as they are
    kinds = {setup.__class__, run.__class__, queue.__class__, wait.__class__, move.__class__}
    if kinds == _FLOAT and _isfinite(setup + run + queue + wait + move):
        return setup, run * quantity / run_qty, queue, wait, move
    return parts_one_by_one(op, quantity, run_qty)


def parts_one_by_one(op: dict, quantity: float, run_qty: float) -> tuple[float, ...]:
    """:func:`_parts` with each figure read by :func:`_num` (any JSON value)."""
    return (
        _num(op, "setup_min"),
        _num(op, "run_min") * quantity / run_qty,
        _num(op, "queue_min"),
        _num(op, "wait_min"),
        _num(op, "move_min"),
    )


def _with_figures(parts: tuple, figures: dict, quantity: float, run_qty: float) -> tuple:
    """``parts`` with the ones ``figures`` names taken from it (a percentile's figures)."""
    out = list(parts)
    for j, key in enumerate(PARTS):
        if key in figures:
            out[j] = _num(figures, key)
    if "run_min" in figures:
        out[1] = out[1] * quantity / run_qty
    return tuple(out)


def _lead(parts: tuple) -> float:
    setup, run, queue, wait, move = parts
    return setup + run + queue + wait + move


def summarize(operations: list[dict], quantity: float, percentiles: tuple[str, ...] = ()) -> dict:
    # the totals as six running sums (the same additions, in the same order, as a list of them)
    t_setup = t_run = t_queue = t_wait = t_move = t_lead = 0.0
    extra = [0.0] * len(percentiles)
    labels = [(p, f"{p}_lead_min", int(p.lstrip("p")) < 50) for p in percentiles]
    breakdown = []
    for op in operations:
        run_qty = _run_qty(op)
        parts = _parts(op, quantity, run_qty)
        setup, run, queue, wait, move = parts
        lead = setup + run + queue + wait + move
        t_setup += setup
        t_run += run
        t_queue += queue
        t_wait += wait
        t_move += move
        t_lead += lead
        entry = {
            "seq": op.get("seq"),
            "op_code": op.get("op_code"),
            "setup_min": round(setup, 3),
            "run_min": round(run, 3),
            "queue_min": round(queue, 3),
            "wait_min": round(wait, 3),
            "move_min": round(move, 3),
            "lead_min": round(lead, 3),
        }
        for j, (label, key, below) in enumerate(labels):
            figures = op.get(label)
            mine = _lead(_with_figures(parts, figures, quantity, run_qty)) if figures else lead
            mine = min(mine, lead) if below else max(mine, lead)  # p10 <= P50 <= p90
            extra[j] += mine
            entry[key] = round(mine, 3)
        breakdown.append(entry)
    totals = (t_setup, t_run, t_queue, t_wait, t_move, t_lead)
    summary = {"quantity": quantity}
    summary.update(zip(KEYS, _rounded(totals), strict=True))
    summary["lead_hours"] = round(t_lead / 60, 3)
    for (_, key, _), value in zip(labels, extra, strict=True):
        summary[key] = round(value, 3)
    summary["operations"] = breakdown
    return summary


KEYS = (*PARTS, "lead_min")


def _rounded(values) -> list[float]:
    return [round(v, 3) for v in values]


@dataclass
class OperationTimes:
    """What :func:`summarize` reads of many operations, as arrays: each number as ``_num``
    reads it from the operation's dict (a missing one as its default)."""

    minutes: list[np.ndarray]  # setup, run (for run_qty), queue, wait, move
    run_qty: np.ndarray  # never 0
    figures: list[tuple[np.ndarray, np.ndarray]]  # per percentile label: its setup and run
    # (the operation's own where the label gives none)


def summarize_times(
    routings: list[list[dict]], times: OperationTimes, quantity: float, percentiles: tuple
) -> list[dict]:
    """:func:`summarize` of each routing (its operations, one after the other, are the rows
    of ``times``; the dicts give seq and op_code): the same additions in the same order as
    arrays, so the same floats."""
    setup, run, queue, wait, move = times.minutes
    run = run * quantity / times.run_qty
    lead = setup + run + queue + wait + move
    table = [setup, run, queue, wait, move, lead]
    for p, (p_setup, p_run) in zip(percentiles, times.figures, strict=True):
        mine = p_setup + p_run * quantity / times.run_qty + queue + wait + move
        if int(p.lstrip("p")) < 50:  # p10 <= P50 <= p90, as Python's min / max choose
            table.append(np.where(lead < mine, lead, mine))
        else:
            table.append(np.where(lead > mine, lead, mine))
    table = np.stack(table)
    bounds = np.cumsum([0] + [len(r) for r in routings]).tolist()
    totals = _running_totals(table, bounds)
    ends = np.concatenate([totals, totals[:, 5:6] / 60], axis=1)
    both = rounded_array(np.concatenate([table.T.ravel(), ends.ravel()]), 3)  # one pass
    per_op = both[: table.size].reshape(table.shape[::-1]).tolist()
    ends = both[table.size :].reshape(ends.shape).tolist()
    keys = (*PARTS, "lead_min", *(f"{p}_lead_min" for p in percentiles))
    op_keys = ("seq", "op_code", *keys)
    out = []
    for g, routing in enumerate(routings):
        total = ends[g]
        summary = {"quantity": quantity, **dict(zip(keys[:6], total[:6], strict=True))}
        summary["lead_hours"] = total[-1]
        summary.update(zip(keys[6:], total[6:-1], strict=True))
        summary["operations"] = [
            dict(zip(op_keys, (op.get("seq"), op.get("op_code"), *row), strict=True))
            for op, row in zip(routing, per_op[bounds[g] : bounds[g + 1]], strict=True)
        ]
        out.append(summary)
    return out


def _running_totals(rows: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Per routing (rows' columns ``bounds[g]:bounds[g + 1]``), each row's sum from 0.0 in
    the operations' order: a cumulative sum, sequential like ``+=`` (``np.sum`` is pairwise)."""
    lengths = np.diff(bounds)
    padded = np.zeros((len(lengths), rows.shape[0], 1 + int(lengths.max(initial=0))))
    for g, (start, n) in enumerate(zip(bounds[:-1], lengths.tolist(), strict=True)):
        padded[g, :, 1 : 1 + n] = rows[:, start : start + n]
    return np.cumsum(padded, axis=2)[:, :, -1]
