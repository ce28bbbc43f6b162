"""Routing proposals from the routings of similar items (DESIGN §4).

Works on a :class:`~inference_app.loaded.LoadedModel` and plain dicts only: no ORM, no file
reads; the evaluation calls the same functions with ``exclude`` so a held-out item (and its
near-duplicates) never sees its own routing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import chain

import numpy as np

from routing_core.candidates import RADIUS, VOTE_SHARE, align, propose
from routing_core.errors import BadInput, NotFound
from routing_core.matching import matcher_of
from routing_core.stats import rounded, rounded_array, weighted_percentiles
from routing_core.timesummary import OperationTimes, summarize, summarize_times


class Routings:
    """Routings read at once from the version's arrays: their steps (canonical operation and
    work center ids, equal when the codes are) and, per operation, the figures the candidates'
    statistics use; operation ``k`` of routing ``i`` is at ``bounds[i] + k`` of the flat
    arrays."""

    def __init__(self, tables, rts: list[int]):
        a = tables.a
        self.tables = tables
        starts = a["rt_op_start"][rts].astype(np.int64)
        lengths = a["rt_op_end"][rts].astype(np.int64) - starts
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        self.bounds = bounds.tolist()
        self.flat = np.repeat(starts - bounds[:-1], lengths) + np.arange(bounds[-1])
        op_key, wc_key = step_keys(tables)
        pairs = list(
            zip(
                op_key[a["op_op_code"][self.flat]].tolist(),
                wc_key[a["op_work_center"][self.flat]].tolist(),
                strict=True,
            )
        )
        self.steps = [tuple(pairs[b : self.bounds[i + 1]]) for i, b in enumerate(self.bounds[:-1])]
        self._values: dict[bool, tuple] = {}

    def column(self, name: str, positions: np.ndarray | None = None) -> np.ndarray:
        """An operations array at the flat ``positions`` (all operations by default)."""
        flat = self.flat if positions is None else self.flat[positions]
        return self.tables.a[name][flat]

    def values(self, prefer_actuals: bool) -> tuple[np.ndarray, ...]:
        """Per operation: setup minutes, run minutes per unit, from actuals?, actual orders."""
        if prefer_actuals not in self._values:
            self._values[prefer_actuals] = self._read_values(prefer_actuals)
        return self._values[prefer_actuals]

    def _read_values(self, prefer_actuals: bool) -> tuple[np.ndarray, ...]:
        setup = self.column("op_setup").astype(np.float64)
        run_qty = self.column("op_run_qty").astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            per_unit = self.column("op_run").astype(np.float64) / np.where(
                run_qty == 0, 1.0, run_qty
            )
        orders = self.column("op_act_n")
        used = np.zeros(len(setup), dtype=bool)
        if prefer_actuals:
            for name, out in (("op_act_setup", setup), ("op_act_run", per_unit)):
                actual = self.column(name).astype(np.float64)
                known = (orders != 0) & ~np.isnan(actual)
                out[known] = actual[known]
                used |= known
        return setup, per_unit, used, orders

    def references(self, positions: list[int]) -> list[tuple]:
        """The fields an answer shows of the operations at the flat ``positions``: seq, codes
        and names, in-house, run quantity (as stored), queue, wait and move minutes (rounded;
        None where missing)."""
        flat = self.flat[np.asarray(positions, dtype=np.int64)]
        a, s = self.tables.a, self.tables.strings
        columns = [a["op_seq"][flat].tolist()]
        for field in ("op_code", "op_name", "work_center", "work_center_name"):
            table = s[field]
            columns.append([table[i] for i in a[f"op_{field}"][flat].tolist()])
        columns.append(a["op_in_house"][flat].tolist())
        columns.append(a["op_run_qty"][flat].tolist())
        times = np.stack([a[f"op_{f}"][flat] for f in ("queue", "wait", "move")])
        columns.extend(answer_minutes(times.astype(np.float64), 3))
        return list(zip(*columns, strict=True))


def answer_minutes(values: np.ndarray, digits: int) -> list:
    """:func:`_minutes` of every value (nested lists): rounded, None where missing (NaN) or
    infinite."""
    return [
        [v if ok else None for v, ok in zip(line, oks, strict=True)]
        for line, oks in zip(rounded(values, digits), np.isfinite(values).tolist(), strict=True)
    ]


def step_keys(tables) -> tuple[np.ndarray, np.ndarray]:
    """Per operation code id and work center id of the version, the first id of the same code
    (made once per loaded version, kept with its tables)."""
    found = tables.__dict__.get("_step_keys")
    if found is None:
        found = tables.__dict__["_step_keys"] = tuple(
            _first_ids(tables.strings[f]) for f in ("op_code", "work_center")
        )
    return found


def _first_ids(strings: list[str]) -> np.ndarray:
    first: dict[str, int] = {}
    return np.array([first.setdefault(v, i) for i, v in enumerate(strings)], dtype=np.int64)


def own_routing(model, rt: int, prefer_actuals: bool, percentiles: list[int]) -> list[dict]:
    """An item's own routing as operations (its standard times, actual medians beside)."""
    routing = Routings(model.tables, [rt])
    setup, per_unit, used, orders = (v.tolist() for v in routing.values(prefer_actuals))
    ops = []
    for k, ref in enumerate(routing.references(list(range(routing.bounds[1])))):
        out = _operation_dict(
            ref,
            _minutes(setup[k], 3),
            _minutes(per_unit[k] * ref[RUN_QTY], 4),
            "actuals" if used[k] else "standard",
            1,
            orders[k],
        )
        out["time_samples"] = _time_samples(
            int(math.isfinite(setup[k])), int(math.isfinite(per_unit[k])), ref
        )
        ops.append(out)
    return ops


def _minutes(value: float | None, digits: int) -> float | None:
    """A time for the answer: None where the source gave none (never a made-up 0)."""
    return round(value, digits) if value is not None and math.isfinite(value) else None


RUN_QTY, QUEUE = 6, 7  # positions in a reference operation (Routings.references)


def _time_samples(setups: int, runs: int, ref: tuple) -> dict:
    """How many reference values each time figure rests on (missing ones are not counted):
    ``setups`` / ``runs`` finite values, and the reference operation's own standard times."""
    counts = {"setup_min": setups, "run_min": runs}
    for j, field in enumerate(("queue", "wait", "move"), start=QUEUE):
        counts[f"{field}_min"] = int(ref[j] is not None)
    return counts


def _operation_dict(ref: tuple, setup_min, run_min, source, samples, orders) -> dict:
    """An operation of the answer from its reference fields and its (answer-ready) setup and
    run minutes."""
    seq, op_code, op_name, wc, wc_name, in_house, run_qty, queue, wait, move = ref
    return {
        "seq": seq,
        "op_code": op_code,
        "op_name": op_name,
        "work_center": wc,
        "work_center_name": wc_name,
        "in_house": in_house,
        "setup_min": setup_min,
        "run_min": run_min,
        "run_qty": run_qty,
        "queue_min": queue,
        "wait_min": wait,
        "move_min": move,
        "time_source": source,
        "samples": samples,
        "actual_orders": orders,
    }


def candidate_operations(
    model,
    medoid_rt: int,
    members: list[tuple[int, float]],
    prefer_actuals: bool,
    percentiles: list[int],
) -> list[dict]:
    """Operations of one candidate: the medoid's steps, with times from every member's step
    aligned to it (same operation and work center, else same operation)."""
    routings = Routings(model.tables, [medoid_rt] + [rt for rt, _ in members])
    members_at = [(i, sim) for i, (_, sim) in enumerate(members, start=1)]
    return candidates_operations(routings, [(0, members_at)], prefer_actuals, percentiles)[0][0]


def candidates_operations(
    routings: Routings,
    candidates: list[tuple[int, list[tuple[int, float]]]],
    prefer_actuals: bool,
    percentiles: list[int],
) -> tuple[list[list[dict]], OperationTimes]:
    """The operations of each candidate (index of its medoid routing in ``routings``, its
    members' (index, similarity), best first), their statistics computed for all at once, and
    their times for :func:`~routing_core.timesummary.summarize_times`."""
    references, entries = _aligned(routings, candidates)
    ps = sorted(set([50, *percentiles]))
    refs = routings.references(references)
    figures = _Figures(routings, references, entries, prefer_actuals, ps)
    out = [figures.operation(row, ref) for row, ref in enumerate(refs)]
    split, first = [], 0
    for medoid, _ in candidates:
        split.append(out[first : first + len(routings.steps[medoid])])
        first += len(routings.steps[medoid])
    return split, figures.times(refs, [ps.index(p) for p in percentiles])


class _Figures:
    """The figures of the candidates' operations (one row per ``entries`` item, its values'
    (flat position, weight); ``references``: the flat positions of the rows' own operations):
    weighted percentiles ``ps`` of the setups and of the run minutes for the reference's run
    quantity, rounded for the answer; how many values, finite ones, actuals, orders."""

    def __init__(
        self,
        routings: Routings,
        references: list[int],
        entries: tuple[list, list],
        prefer_actuals: bool,
        ps: list[int],
    ):
        self.ps, self.median, n = ps, ps.index(50), len(references)
        self.labels = [(j, f"p{p}") for j, p in enumerate(ps) if p != 50]
        setup, per_unit, used, orders = routings.values(prefer_actuals)
        values, weights, rows, at = _matrix(entries, [setup, per_unit])
        figures, known = weighted_percentiles(
            values.reshape(2 * n, values.shape[2]), np.concatenate([weights, weights]), ps
        )
        run_qty = routings.column("op_run_qty", np.asarray(references, dtype=np.int64))
        run_qty = np.where(run_qty == 0, 1.0, run_qty.astype(np.float64))  # run_qty or 1.0
        with np.errstate(over="ignore", invalid="ignore"):
            runs = figures[n:] * run_qty[:, None]
        both = rounded_array(np.concatenate([figures[:n], runs]), [3] * n + [4] * n)
        self.setups, self.runs = both[:n], both[n:]
        self.known_setup, self.known_run = known[:n], known[n:]
        self.run_ok = self.known_run & np.isfinite(runs[:, self.median])
        finite = np.isfinite(values).sum(axis=2)
        self.rows = list(
            zip(
                self.setups.tolist(),
                self.known_setup.tolist(),
                self.runs.tolist(),
                self.known_run.tolist(),
                self.run_ok.tolist(),
                [len(p) for p in entries[0]],
                finite[0].tolist(),
                finite[1].tolist(),
                (np.bincount(rows, used[at], minlength=n) > 0).tolist(),
                np.bincount(rows, orders[at], minlength=n).astype(np.int64).tolist(),
                strict=True,
            )
        )

    def operation(self, row: int, ref: tuple) -> dict:
        """The answer's operation of ``row``, with the fields of its reference operation (the
        fields of :func:`_operation_dict`, the percentiles' figures, :func:`_time_samples`)."""
        setups, has_setup, runs, has_run, run_ok, samples, fs, fr, used, orders = self.rows[row]
        entry = _operation_dict(
            ref,
            setups[self.median] if has_setup else None,
            runs[self.median] if run_ok else None,
            "actuals" if used else "standard",
            samples,
            orders,
        )
        if has_setup and has_run:
            for j, label in self.labels:
                entry[label] = {"setup_min": setups[j], "run_min": runs[j]}
        elif has_setup or has_run:
            key, figures = ("setup_min", setups) if has_setup else ("run_min", runs)
            for j, label in self.labels:
                entry[label] = {key: figures[j]}
        entry["time_samples"] = _time_samples(fs, fr, ref)
        return entry

    def times(self, refs: list[tuple], columns: list[int]) -> OperationTimes:
        """The rows' numbers as the time summary reads them from the operations (a missing
        time as 0, a missing or zero run quantity as 1); ``columns``: the percentiles'."""
        given = np.array([ref[RUN_QTY:] for ref in refs], dtype=np.float64).reshape(-1, 4).T
        given = np.where(np.isfinite(given), given, 0.0)
        run_qty = np.where(given[0] == 0, 1.0, given[0])  # _num(op, "run_qty", 1.0) or 1.0
        setup = np.where(self.known_setup, self.setups[:, self.median], 0.0)
        run = np.where(self.run_ok, self.runs[:, self.median], 0.0)
        with np.errstate(invalid="ignore"):
            runs = np.where(np.isfinite(self.runs), self.runs, 0.0)
        figures = [
            (
                np.where(self.known_setup, self.setups[:, j], setup),
                np.where(self.known_run, runs[:, j], run),
            )
            for j in columns
        ]
        return OperationTimes([setup, run, *given[1:]], run_qty, figures)


def _matrix(entries: tuple[list, list], columns: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """``entries`` (per row, its values' flat positions, and their weights) as matrices: the
    ``columns``' values (columns × rows × most values; NaN beyond a row's values), the weights
    (0 beyond), and each value's row and flat position."""
    positions, weighted = entries
    counts = [len(p) for p in positions]
    rows = np.repeat(np.arange(len(positions)), counts)
    at = np.fromiter(chain.from_iterable(positions), dtype=np.int64, count=len(rows))
    weight = np.fromiter(chain.from_iterable(weighted), dtype=np.float64, count=len(rows))
    cols = np.fromiter(chain.from_iterable(map(range, counts)), dtype=np.int64, count=len(rows))
    values = np.full((len(columns), len(positions), max(counts, default=1)), np.nan)
    weights = np.zeros(values.shape[1:])
    for matrix, column in zip(values, columns, strict=True):
        matrix[rows, cols] = column[at]
    weights[rows, cols] = weight
    return values, weights, rows, at


def _aligned(routings: Routings, candidates: list) -> tuple[list[int], tuple[list, list]]:
    """One row per candidate operation: the flat position of the medoid's operation, and the
    flat positions and weights of every member's operation aligned to it (else the medoid's
    own, weight 1). The members with the medoid's own steps come first, then the others in
    order: a row's values are a set to its statistics (sorted by value and weight first)."""
    mappings: dict[tuple, list] = {}
    references: list[int] = []
    positions: list[list[int]] = []
    weighted: list[list[float]] = []
    steps_of, bounds = routings.steps, routings.bounds
    for medoid, members in candidates:
        steps, base = steps_of[medoid], bounds[medoid]
        same = [(bounds[i], sim) for i, sim in members if steps_of[i] == steps]
        sims = [sim for _, sim in same]
        at = [[start + j for start, _ in same] for j in range(len(steps))]
        weights = [sims.copy() for _ in steps]
        for i, sim in members:
            other = steps_of[i]
            if other == steps:
                continue
            mapping = mappings.get((steps, other))
            if mapping is None:
                mapping = mappings[(steps, other)] = align(steps, other)
            for j, k in enumerate(mapping):
                if k is not None:
                    at[j].append(bounds[i] + k)
                    weights[j].append(sim)
        for j, found in enumerate(at):
            references.append(base + j)
            positions.append(found or [base + j])
            weighted.append(weights[j] if found else [1.0])
    return references, (positions, weighted)


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
    vote_share: float = VOTE_SHARE,
) -> list[dict]:
    """Candidates from clusters of similar routings among the neighbours' primary routings
    (:mod:`routing_core.candidates`): first the routing nearest the neighbours' vote
    (``vote_share`` 0: the best cluster's medoid), then each cluster's medoid routing, ranked by
    support, the sum of the members' similarities raised to ``power`` (above 1, close
    neighbours count for more than many distant ones)."""
    return _grouped(model, neighbours, limit, power, radius, vote_share)[0]


def _grouped(
    model,
    neighbours: list[tuple[int, float]],
    limit: int,
    power: float,
    radius: float,
    vote_share: float = VOTE_SHARE,
) -> tuple[list[dict], Routings]:
    """:func:`group_candidates` and the neighbours' routings it read (``positions`` and
    ``medoid`` of a candidate index them)."""
    members = _members(model.tables, neighbours)
    routings = Routings(model.tables, [m[0] for m in members])
    if not members:
        return [], routings
    weights = [m[1] ** power for m in members]
    proposals = propose(routings.steps, weights, limit, radius, vote_share)
    total = sum(weights) or 1.0
    groups = [
        {
            "members": [members[i] for i in p.members],
            "medoid_rt": members[p.routing][0],
            "support": p.support,
            "share": p.support / total,
            "positions": p.members,
            "medoid": p.routing,
        }
        for p in proposals
    ]
    return groups, routings


def _members(tables, neighbours: list[tuple[int, float]]) -> list[tuple[int, float, int]]:
    """(primary routing, similarity, row) of the neighbours with a routing (most items have
    one routing: no sort then)."""
    rows = [row for row, _ in neighbours]
    starts = tables.a["item_rt_start"][rows].tolist()
    ends = tables.a["item_rt_end"][rows].tolist()
    out = []
    for (row, sim), start, end in zip(neighbours, starts, ends, strict=True):
        rt = start if end - start == 1 else tables.primary_routing(row)
        if rt is not None:
            out.append((rt, sim, row))
    return out


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
        "vote_share": settings.get("vote_share", VOTE_SHARE),
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
    result["candidates"] = candidates_of(model, usable, opts)
    return result


def candidates_of(model, neighbours: list[tuple[int, float]], opts: dict) -> list[dict]:
    """The answer's candidates from the neighbours (row, similarity): each group's operations
    (statistics of all groups at once) and time summary, its members best first."""
    groups, routings = _grouped(
        model,
        neighbours,
        opts["candidates"],
        opts.get("support_power", 1.0),
        opts.get("cluster_radius", RADIUS),
        opts.get("vote_share", VOTE_SHARE),
    )
    percentiles = [p for p in opts["percentiles"] if p != 50]
    tables = model.tables
    ranked = [  # (position in ``routings``, member), best similarity first
        sorted(zip(g["positions"], g["members"], strict=True), key=lambda pm: -pm[1][1])
        for g in groups
    ]
    operations, times = candidates_operations(
        routings,
        [(g["medoid"], [(i, m[1]) for i, m in pm]) for g, pm in zip(groups, ranked, strict=True)],
        opts["prefer_actuals"],
        percentiles,
    )
    labels = tuple(f"p{p}" for p in percentiles)
    summaries = summarize_times(operations, times, opts["quantity"], labels)
    out = []
    for rank, (group, pm, ops, summary) in enumerate(
        zip(groups, ranked, operations, summaries, strict=True), 1
    ):
        members = [m for _, m in pm]
        out.append(
            {
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
                "time_summary": summary,
            }
        )
    return out


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
        neighbours = _neighbours(model, {}, found, own=row)
    return {
        "item_code": code,
        "status": "existing",
        "confidence": "high",
        "candidates": candidates,
        "neighbours": neighbours,
    }


def _neighbours(
    model, attrs: dict, found: list[tuple[int, float]], own: int | None = None
) -> list[dict]:
    """The answer's neighbours; ``own``: the known item whose stored attributes ``attrs`` is."""
    rows = [row for row, _ in found]
    matched = matcher_of(model.encoder, model.tables).matched(attrs, rows, own)
    return [
        {"item_code": code, "similarity": round(sim, 4), "matched_attributes": names}
        for code, (_, sim), names in zip(model.tables.codes_of(rows), found, matched, strict=True)
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
    own = row if row is not None and not given else None  # a known item, unedited
    attrs = {} if own is not None else {**_attributes(model, row), **given}
    vector = _vector(model, row, attrs, given)
    if not np.any(vector):
        return {"item_code": code, "neighbours": []}
    skip = (lambda label: label == row) if row is not None else None
    found = neighbours_of(model, vector, top_k, skip)
    return {"item_code": code, "neighbours": _neighbours(model, attrs, found, own)}


def _attributes(model, row: int | None) -> dict:
    return model.tables.attributes(row) if row is not None else {}


def _vector(model, row: int | None, attrs: dict, given: dict) -> np.ndarray:
    """An indexed item's stored vector when nothing overrides its attributes, else an encoding
    (of ``attrs``, or of the item's stored attributes when ``attrs`` is empty)."""
    if row is not None and not given and model.tables.has_routing(row):
        return np.asarray(model.index.get_items([row]), dtype=np.float32)[0]
    return model.encoder.embed([attrs or _attributes(model, row)])[0]


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
