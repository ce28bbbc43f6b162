"""Routing proposals from the routings of similar items (DESIGN §4).

Works on a :class:`~inference_app.loaded.LoadedModel` and plain dicts only: no ORM, no file
reads; the evaluation calls the same functions with ``exclude`` so a held-out item (and its
near-duplicates) never sees its own routing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from routing_core.candidates import RADIUS, align, propose
from routing_core.errors import BadInput, NotFound
from routing_core.matching import matcher_of
from routing_core.timesummary import summarize


def weighted_quantile(pairs: list[tuple[float, float]], q: float) -> float:
    """Weighted quantile of (value, weight) pairs sorted by value (lower weighted median)."""
    total = sum(w for _, w in pairs)
    target, running = q * total - 1e-12, 0.0
    for value, weight in pairs:
        running += weight
        if running >= target:
            return value
    return pairs[-1][0]


def _quartiles(values: list[float]) -> tuple[float, float]:
    """Q1 and Q3 by linear interpolation (numpy's default), for a sorted list."""

    def at(q: float) -> float:
        pos = q * (len(values) - 1)
        low = int(pos)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (pos - low)

    return at(0.25), at(0.75)


def trimmed_stats(values: list[float], weights: list[float], percentiles: list[int]) -> dict:
    """Weighted percentiles after dropping Tukey outliers (when there are enough values).

    Plain Python on purpose: a candidate has at most top-K values per operation, where numpy's
    per-call overhead would cost more than the arithmetic.
    """
    pairs = sorted(
        (v, w) for v, w in zip(values, weights, strict=True) if w > 0 and math.isfinite(v)
    )
    if not pairs:
        return {}
    if len(pairs) >= 4:
        q1, q3 = _quartiles([v for v, _ in pairs])
        fence = 1.5 * (q3 - q1)
        inside = [(v, w) for v, w in pairs if q1 - fence <= v <= q3 + fence]
        pairs = inside or pairs
    return {p: weighted_quantile(pairs, p / 100.0) for p in percentiles}


def _op_values(op, prefer_actuals: bool) -> tuple[float, float, bool]:
    """(setup minutes, run minutes per unit, from actuals?) for one reference operation."""
    run_qty = op.times["run_qty"] or 1.0
    setup, per_unit = op.times["setup"], op.times["run"] / run_qty
    used = False
    if prefer_actuals and op.actual_orders:
        if op.actual_setup is not None:
            setup, used = op.actual_setup, True
        if op.actual_run_per_unit is not None:
            per_unit, used = op.actual_run_per_unit, True
    return setup, per_unit, used


def own_routing(model, rt: int, prefer_actuals: bool, percentiles: list[int]) -> list[dict]:
    """An item's own routing as operations (its standard times, actual medians beside)."""
    ops = []
    for op in model.tables.operations(rt):
        setup, per_unit, used = _op_values(op, prefer_actuals)
        out = _operation_dict(
            op,
            setup,
            per_unit * op.times["run_qty"],
            {},
            "actuals" if used else "standard",
            1,
            op.actual_orders,
        )
        out["time_samples"] = _time_samples([setup], [per_unit], op)
        ops.append(out)
    return ops


def _minutes(value: float | None, digits: int) -> float | None:
    """A time for the answer: None where the source gave none (never a made-up 0)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


def _time_samples(setups: list[float], runs: list[float], op) -> dict:
    """How many reference values each time figure rests on (missing ones are not counted)."""
    counts = {"setup_min": _count_finite(setups), "run_min": _count_finite(runs)}
    for field in ("queue", "wait", "move"):  # the reference operation's own standard times
        counts[f"{field}_min"] = _count_finite([op.times[field]])
    return counts


def _count_finite(values: list[float]) -> int:
    return sum(1 for v in values if math.isfinite(v))


def _operation_dict(op, setup, run, stats_by_p, source, samples, orders) -> dict:
    out = {
        "seq": op.seq,
        "op_code": op.op_code,
        "op_name": op.op_name,
        "work_center": op.work_center,
        "work_center_name": op.work_center_name,
        "in_house": op.in_house,
        "setup_min": _minutes(setup, 3),
        "run_min": _minutes(run, 4),
        "run_qty": op.times["run_qty"],
        "queue_min": _minutes(op.times["queue"], 3),
        "wait_min": _minutes(op.times["wait"], 3),
        "move_min": _minutes(op.times["move"], 3),
        "time_source": source,
        "samples": samples,
        "actual_orders": orders,
    }
    out.update(stats_by_p)
    return out


def candidate_operations(
    model,
    medoid_rt: int,
    members: list[tuple[int, float]],
    prefer_actuals: bool,
    percentiles: list[int],
    read: Callable | None = None,
) -> list[dict]:
    """Operations of one candidate: the medoid's steps, with times from every member's step
    aligned to it (same operation and work center, else same operation). ``read`` reads a
    routing's operations (a request passes a memoised reader)."""
    read = read or model.tables.operations
    reference = read(medoid_rt)
    steps = [(op.op_code, op.work_center) for op in reference]
    per_step: list[list[tuple[object, float]]] = [[] for _ in reference]
    for rt, sim in members:
        ops = read(rt)
        mapping = align(steps, [(o.op_code, o.work_center) for o in ops])
        for j, k in enumerate(mapping):
            if k is not None:
                per_step[j].append((ops[k], sim))
    out = []
    for op, found in zip(reference, per_step, strict=True):
        out.append(_step_statistics(op, found or [(op, 1.0)], prefer_actuals, percentiles))
    return out


def _percentile_figures(setups: dict, runs: dict, run_qty: float, ps: list[int]) -> dict:
    """``{"p80": {"setup_min", "run_min"}, …}`` with the figures that rest on any value."""
    out = {}
    for p in ps:
        figures = {}
        if p in setups:
            figures["setup_min"] = round(setups[p], 3)
        if p in runs:
            figures["run_min"] = round(runs[p] * run_qty, 4)
        if p != 50 and figures:
            out[f"p{p}"] = figures
    return out


def _step_statistics(op, found: list, prefer_actuals: bool, percentiles: list[int]) -> dict:
    setups, runs, weights, used_any, orders = [], [], [], False, 0
    for member_op, sim in found:
        s, r, used = _op_values(member_op, prefer_actuals)
        setups.append(s)
        runs.append(r)
        weights.append(sim)
        used_any |= used
        orders += member_op.actual_orders
    ps = sorted(set([50, *percentiles]))
    st, rn = trimmed_stats(setups, weights, ps), trimmed_stats(runs, weights, ps)
    run_qty = op.times["run_qty"] or 1.0
    entry = _operation_dict(
        op,
        st.get(50),
        rn[50] * run_qty if 50 in rn else None,
        _percentile_figures(st, rn, run_qty, ps),
        "actuals" if used_any else "standard",
        len(found),
        orders,
    )
    entry["time_samples"] = _time_samples(setups, runs, op)
    return entry


def neighbours_of(model, vector: np.ndarray, k: int, exclude: Callable[[int], bool] | None):
    n = model.index.get_current_count()
    if n == 0:
        return []
    k = min(k, n)
    if exclude and k < n:  # a Python filter doubles the search's CPU: ask for one more first
        labels, distances = model.index.knn_query(vector.reshape(1, -1), k=k + 1)
        pairs = zip(labels[0].tolist(), distances[0].tolist(), strict=True)
        kept = [(lb, max(0.0, 1.0 - d)) for lb, d in pairs if not exclude(lb)]
        if len(kept) >= k:
            return kept[:k]
    flt = (lambda label: not exclude(label)) if exclude else None
    while True:
        try:
            labels, distances = model.index.knn_query(vector.reshape(1, -1), k=k, filter=flt)
            break
        except RuntimeError:  # fewer than k items pass the filter: ask for fewer
            if k == 1:
                return []
            k = max(1, k // 2)
    return [
        (int(lb), max(0.0, 1.0 - float(d))) for lb, d in zip(labels[0], distances[0], strict=True)
    ]


def group_candidates(
    model,
    neighbours: list[tuple[int, float]],
    limit: int,
    power: float = 1.0,
    radius: float = RADIUS,
) -> list[dict]:
    """Candidates from clusters of similar routings among the neighbours' primary routings
    (:mod:`routing_core.candidates`): each proposes its medoid routing, ranked by support, the
    sum of the members' similarities raised to ``power`` (above 1, close neighbours count for
    more than many distant ones)."""
    members, sequences = [], []
    for row, sim in neighbours:
        rt = model.tables.primary_routing(row)
        if rt is None:
            continue
        members.append((rt, sim, row))
        sequences.append(tuple((o.op_code, o.work_center) for o in model.tables.operations(rt)))
    if not members:
        return []
    weights = [m[1] ** power for m in members]
    proposals = propose(sequences, weights, limit, radius)
    total = sum(weights) or 1.0
    return [
        {
            "members": [members[i] for i in p.members],
            "medoid_rt": members[p.routing][0],
            "support": p.support,
            "share": p.support / total,
        }
        for p in proposals
    ]


def _steps(tables, rt: int) -> tuple:
    """A routing's (operation code id, work center id) steps, read from the arrays directly."""
    a = tables.a
    start, end = int(a["rt_op_start"][rt]), int(a["rt_op_end"][rt])
    return tuple(
        zip(
            a["op_op_code"][start:end].tolist(),
            a["op_work_center"][start:end].tolist(),
            strict=True,
        )
    )


def options(settings: dict, quantity: float = 1.0, **overrides) -> dict:
    """The predictor's options from workflow settings; a request may override some of them."""
    opts = {
        "top_k": settings["top_k"],
        "candidates": settings["candidates"],
        "min_similarity": settings["min_similarity"],
        "percentiles": settings["percentiles"],
        "prefer_actuals": settings["prefer_actuals"],
        "support_power": settings.get("support_power", 1.0),
        "cluster_radius": settings.get("cluster_radius", RADIUS),
        "quantity": quantity,
    }
    opts.update({k: v for k, v in overrides.items() if v is not None})
    return opts


def predict_one(
    model, item: dict, opts: dict, exclude: Callable[[int], bool] | None = None
) -> dict:
    code = (item.get("item_code") or "").strip() or None
    given = item.get("attributes") or {}
    tables = model.tables
    row = tables.row_of(code) if code else None
    percentiles = [p for p in opts["percentiles"] if p != 50]
    if row is not None and exclude is None:
        rts = tables.routings_of(row)
        if rts and not given:
            return _existing(model, code, row, rts, opts, percentiles)
    if code and row is None and not given:
        raise NotFound(
            f"Unknown item code {code!r} and no attributes given: send the item's attributes to "
            "get a proposal for a new item.",
            fields={"item_code": [f"unknown item {code!r}"]},
        )
    attrs = {**(tables.attributes(row) if row is not None else {}), **given}
    vector = model.encoder.embed([attrs])[0]
    result = {
        "item_code": code,
        "status": "no_match",
        "confidence": "none",
        "candidates": [],
        "neighbours": [],
    }
    if not np.any(vector):
        result["detail"] = "None of the given attributes is known to the model."
        return result
    own = (lambda label: label == row) if row is not None else None
    skip = exclude or own
    found = neighbours_of(model, vector, opts["top_k"], skip)
    result["neighbours"] = _neighbours(model, attrs, found)
    if not found:
        result["detail"] = "The model has no item with a routing to compare with."
        return result
    usable = [(r, s) for r, s in found if s >= opts["min_similarity"]]
    result["status"], result["confidence"] = "predicted", "high"
    if not usable:
        usable = found
        result["confidence"] = "low"
        result["detail"] = (
            f"No similar item above the similarity threshold {opts['min_similarity']} "
            f"(best {found[0][1]:.2f}): the closest items' routings, to be checked."
        )
    groups = group_candidates(
        model,
        usable,
        opts["candidates"],
        opts.get("support_power", 1.0),
        opts.get("cluster_radius", RADIUS),
    )
    read = functools.lru_cache(maxsize=None)(model.tables.operations)
    for rank, group in enumerate(groups, start=1):
        result["candidates"].append(_candidate(model, rank, group, opts, percentiles, read))
    return result


def _candidate(
    model, rank: int, group: dict, opts: dict, percentiles: list[int], read: Callable
) -> dict:
    tables = model.tables
    members = sorted(group["members"], key=lambda m: -m[1])
    ops = candidate_operations(
        model,
        group["medoid_rt"],
        [(rt, s) for rt, s, _ in members],
        opts["prefer_actuals"],
        percentiles,
        read,
    )
    return {
        "rank": rank,
        "score": round(group["share"], 4),
        "support": len(members),
        "max_similarity": round(members[0][1], 4),
        "reference_items": [
            {
                "item_code": tables.code_of(r),
                "routing_no": tables.routing_no(rt),
                "similarity": round(s, 4),
                "medoid": rt == group["medoid_rt"],
            }
            for rt, s, r in members
        ],
        "operations": ops,
        "time_summary": summarize(ops, opts["quantity"], tuple(f"p{p}" for p in percentiles)),
    }


def _existing(model, code, row, rts, opts, percentiles) -> dict:
    tables = model.tables
    candidates = []
    for rank, rt in enumerate(rts[: opts["candidates"]], start=1):
        ops = own_routing(model, rt, opts["prefer_actuals"], percentiles)
        candidates.append(
            {
                "rank": rank,
                "score": 1.0,
                "support": 1,
                "max_similarity": 1.0,
                "routing_no": tables.routing_no(rt),
                "reference_items": [
                    {"item_code": code, "routing_no": tables.routing_no(rt), "similarity": 1.0}
                ],
                "operations": ops,
                "time_summary": summarize(ops, opts["quantity"]),
            }
        )
    neighbours = []
    if opts.get("neighbours_for_existing", True):
        vector = np.asarray(model.index.get_items([row]), dtype=np.float32)[0]
        found = neighbours_of(model, vector, opts["top_k"], lambda label: label == row)
        attrs = tables.attributes(row)
        neighbours = _neighbours(model, attrs, found)
    return {
        "item_code": code,
        "status": "existing",
        "confidence": "high",
        "candidates": candidates,
        "neighbours": neighbours,
    }


def _neighbours(model, attrs: dict, found: list[tuple[int, float]]) -> list[dict]:
    matched = matcher_of(model.encoder, model.tables).matched(attrs, [row for row, _ in found])
    return [
        {
            "item_code": model.tables.code_of(row),
            "similarity": round(sim, 4),
            "matched_attributes": names,
        }
        for (row, sim), names in zip(found, matched, strict=True)
    ]


def similar(model, item: dict, top_k: int) -> dict:
    code = (item.get("item_code") or "").strip() or None
    given = item.get("attributes") or {}
    row = model.tables.row_of(code) if code else None
    if row is None and not given:
        if code:
            raise NotFound(
                f"Unknown item code {code!r}; send attributes instead.",
                fields={"item_code": [f"unknown item {code!r}"]},
            )
        raise BadInput("Give an item_code or attributes.", fields={"item_code": ["required"]})
    attrs = {**(model.tables.attributes(row) if row is not None else {}), **given}
    vector = _vector(model, row, attrs, given)
    if not np.any(vector):
        return {"item_code": code, "neighbours": []}
    skip = (lambda label: label == row) if row is not None else None
    found = neighbours_of(model, vector, top_k, skip)
    return {"item_code": code, "neighbours": _neighbours(model, attrs, found)}


def _vector(model, row: int | None, attrs: dict, given: dict) -> np.ndarray:
    """An indexed item's stored vector when nothing overrides its attributes, else an encoding."""
    if row is not None and not given and model.tables.routings_of(row):
        return np.asarray(model.index.get_items([row]), dtype=np.float32)[0]
    return model.encoder.embed([attrs])[0]


def item_detail(model, code: str, prefer_actuals: bool = True) -> dict:
    row = model.tables.row_of(code)
    if row is None:
        raise NotFound(
            f"Unknown item code {code!r}.", fields={"item_code": [f"unknown item {code!r}"]}
        )
    routings = [
        {
            "routing_no": model.tables.routing_no(rt),
            "primary": i == 0,
            "operations": own_routing(model, rt, prefer_actuals, []),
        }
        for i, rt in enumerate(model.tables.routings_of(row))
    ]
    return {
        "item_code": code,
        "attributes": {k: v for k, v in model.tables.attributes(row).items() if v is not None},
        "routings": routings,
        "model_version": model.label,
    }
