"""Lead-time arithmetic for a routing and an order quantity.

Per operation: ``setup + run × quantity / run_qty + queue + wait + move`` minutes. The totals add
the operations up; where an operation carries percentile figures (``p80``, ``p90`` …) the same
sum is made with them, falling back to the operation's central figures where a percentile is not
known, so a P90 total is never lower than the P50 one and a P10 total never higher. A time
the operation does not give (null) adds nothing.
"""

from __future__ import annotations

import math

PARTS = ("setup_min", "run_min", "queue_min", "wait_min", "move_min")


def _num(op: dict, key: str, default: float = 0.0) -> float:
    value = op.get(key)
    if value is None:
        return default
    value = float(value)
    return value if math.isfinite(value) else default


def operation_minutes(op: dict, quantity: float, figures: dict | None = None) -> dict:
    """Breakdown of one operation; ``figures`` overrides setup/run with percentile values."""
    src = {**op, **(figures or {})}
    run_qty = _num(op, "run_qty", 1.0) or 1.0
    setup = _num(src, "setup_min")
    run = _num(src, "run_min") * quantity / run_qty
    queue, wait, move = _num(src, "queue_min"), _num(src, "wait_min"), _num(src, "move_min")
    return {
        "setup_min": setup,
        "run_min": run,
        "queue_min": queue,
        "wait_min": wait,
        "move_min": move,
        "lead_min": setup + run + queue + wait + move,
    }


def summarize(operations: list[dict], quantity: float, percentiles: tuple[str, ...] = ()) -> dict:
    breakdown, totals = [], dict.fromkeys((*PARTS, "lead_min"), 0.0)
    extra = dict.fromkeys(percentiles, 0.0)
    for op in operations:
        row = operation_minutes(op, quantity)
        for key in totals:
            totals[key] += row[key]
        entry = {"seq": op.get("seq"), "op_code": op.get("op_code"), **_rounded(row)}
        for p in percentiles:
            lead = _bounded(p, operation_minutes(op, quantity, op.get(p))["lead_min"], row)
            extra[p] += lead
            entry[f"{p}_lead_min"] = round(lead, 3)
        breakdown.append(entry)
    summary = {
        "quantity": quantity,
        **_rounded(totals),
        "lead_hours": round(totals["lead_min"] / 60, 3),
    }
    for p in percentiles:
        summary[f"{p}_lead_min"] = round(extra[p], 3)
    summary["operations"] = breakdown
    return summary


def _bounded(label: str, lead: float, central: dict) -> float:
    """A percentile's lead time on the right side of the central one: ``p10`` ≤ P50 ≤ ``p90``."""
    below_median = int(label.lstrip("p")) < 50
    return min(lead, central["lead_min"]) if below_median else max(lead, central["lead_min"])


def _rounded(values: dict) -> dict:
    return {k: round(v, 3) for k, v in values.items()}
