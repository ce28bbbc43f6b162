"""Prediction quality, measured on held-out items against two baselines (DESIGN §4).

Held-out items are predicted from their attributes alone: the index is searched with a filter
that hides the item itself and every item of its near-duplicate family (item code, drawing and
name stems joined, see :mod:`registry_app.pipeline.families`), so neither its own routing nor a
copy of it can be found. The same predictor code as
the API is used. Baselines, computed in the same run on the same items and stored under
``baselines`` (also top-level, beside ``model``):
- ``most_frequent``: the most frequent routing among the visible items;
- ``same_attributes``: the most frequent routing of visible items with the same categorical and
  text attribute values (normalised), else ``most_frequent``;
- ``nearest``: the routing of the single nearest (visible) neighbour (1-NN);
- ``knn_medoid``: of the 5 nearest neighbours' routings, the one most similar to the others by
  edit similarity over (operation, work center) steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from rapidfuzz.distance import Levenshtein

from registry_app.pipeline.families import family_attributes, family_keys
from registry_app.pipeline.forking import beside, can_fork
from registry_app.pipeline.tables import RoutingTables
from routing_core.candidates import medoid_of


# -- metrics on sequences (exact values are unit-tested) ---------------------------------------
def levenshtein(a: list, b: list) -> int:
    """Edit distance (insert, delete, substitute: 1 each) between two sequences."""
    return Levenshtein.distance(a, b)


def edit_similarity(a: list, b: list) -> float:
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def jaccard(a: list, b: list) -> float:
    sa, sb = set(a), set(b)
    return 1.0 if not sa and not sb else len(sa & sb) / len(sa | sb)


def ape(predicted: float, actual: float) -> float | None:
    return None if actual <= 0 else abs(predicted - actual) / actual


# -- grouping ------------------------------------------------------------------------------


def group_keys(items, attributes: list[dict] | list[str]) -> np.ndarray:
    """Near-duplicate family per item (see :mod:`registry_app.pipeline.families`).

    ``attributes`` are the profile's attribute dicts, or only their names (then the default
    family attributes among them are used)."""
    specs = [a if isinstance(a, dict) else {"name": a} for a in attributes]
    return family_keys(items, family_attributes(specs))


def split_groups(groups: np.ndarray, share: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows: whole groups go to one side."""
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    held = rng.choice(unique, size=max(1, int(round(len(unique) * share))), replace=False)
    return np.isin(groups, held)


# -- evaluation ------------------------------------------------------------------------------
def routing_of(tables: RoutingTables, row: int) -> dict | None:
    rt = tables.primary_routing(row)
    if rt is None:
        return None
    ops = tables.operations(rt)
    return {
        "ops": [o.op_code for o in ops],
        "wcs": [o.work_center for o in ops],
        "sig": tables.signature(rt),
        "rt": rt,
    }


def lead_time(ops: list[dict], quantity: float) -> float:
    from routing_core.timesummary import summarize

    return summarize(ops, quantity)["lead_min"]


def score_item(actual: dict, predicted: list[dict], actual_lead: float, quantity: float) -> dict:
    """Metrics for one item: ``predicted`` = candidates as {ops, wcs, operations}."""
    if not predicted:
        return {"covered": 0.0}
    top = predicted[0]
    out = {
        "covered": 1.0,
        "top1_exact": float(top["ops"] == actual["ops"] and top["wcs"] == actual["wcs"]),
        "op_edit_similarity": edit_similarity(top["ops"], actual["ops"]),
        "wc_edit_similarity": edit_similarity(top["wcs"], actual["wcs"]),
        "op_jaccard": jaccard(top["ops"], actual["ops"]),
        "hit_at_n": float(
            any(c["ops"] == actual["ops"] and c["wcs"] == actual["wcs"] for c in predicted)
        ),
        "best_op_edit_similarity": max(edit_similarity(c["ops"], actual["ops"]) for c in predicted),
    }
    lead = top.get("lead_min")  # a routing's own candidate carries it (computed once)
    if lead is None and top.get("operations"):
        lead = lead_time(top["operations"], quantity)
    error = ape(lead, actual_lead) if lead is not None else None
    if error is not None:
        out["lead_time_ape"] = error
    return out


def summarise(rows: list[dict]) -> dict:
    out: dict = {"items": len(rows)}
    keys = [
        "covered",
        "top1_exact",
        "op_edit_similarity",
        "wc_edit_similarity",
        "op_jaccard",
        "hit_at_n",
        "best_op_edit_similarity",
    ]
    for key in keys:
        values = [r.get(key, 0.0) for r in rows]
        name = "coverage" if key == "covered" else key
        out[name] = round(float(np.mean(values)), 4) if values else 0.0
    apes = [r["lead_time_ape"] for r in rows if "lead_time_ape" in r]
    out["lead_time_mdape"] = round(float(np.median(apes)), 4) if apes else None
    return out


BASELINES = ("most_frequent", "same_attributes", "nearest", "knn_medoid")
KNN_MEDOID_K = 5


def evaluate_model(
    model,
    holdout_rows: np.ndarray,
    groups: np.ndarray,
    opts: dict,
    progress: Callable | None = None,
    value_keys: np.ndarray | None = None,
) -> dict:
    """Model vs baselines on the held-out rows (each hidden with its group). ``value_keys``:
    :func:`_value_keys` of the model when already computed (training does it before its index
    is ready)."""
    from routing_core.predictor import own_routing, predict_one

    tables = model.tables
    visible = np.flatnonzero(~np.isin(groups, groups[holdout_rows]))
    routings = _RoutingCandidates(model, opts)
    keys = value_keys if value_keys is not None else _value_keys(model.encoder, tables)
    lookup = _AttributeLookup(model, visible, routings, keys)
    group_of = groups.tolist()  # the filter runs per visited node: plain ints are cheaper
    quantity = opts["quantity"]

    def score(row: int) -> tuple[dict, dict] | None:
        """(each proposal's scores, the model's answer) for one held-out row."""
        actual = routing_of(tables, row)
        if actual is None:
            return None
        actual_ops = own_routing(model, actual["rt"], opts["prefer_actuals"], [])
        actual_lead = lead_time(actual_ops, quantity)

        def hide(label, g=group_of[row]):
            return group_of[label] == g

        answer = predict_one(model, {"attributes": tables.attributes(row)}, opts, exclude=hide)
        nearest, medoid = _knn_baselines(model, answer, routings)
        proposals = {
            "model": [_as_candidate(c) for c in answer["candidates"]],
            "most_frequent": lookup.frequent,
            "same_attributes": lookup.same_values(row),
            "nearest": nearest,
            "knn_medoid": medoid,
        }
        scores = {
            name: score_item(actual, candidates, actual_lead, quantity)
            for name, candidates in proposals.items()
        }
        return scores, answer

    results = {name: [] for name in ("model", *BASELINES)}
    answers = []  # the live-answer reference the drift check compares with
    for scored in in_two_processes(score, [int(r) for r in holdout_rows], progress):
        if scored is not None:
            for name, scores in scored[0].items():
                results[name].append(scores)
            answers.append(scored[1])
    out = {name: summarise(rows) for name, rows in results.items()}
    out["baselines"] = {name: out[name] for name in BASELINES}
    out["reference"] = reference_distribution(answers)
    return out


FORK_MIN_ROWS = 200  # fewer rows are done faster than a process is forked


def in_two_processes(work: Callable[[int], object], rows: list[int], progress=None) -> list:
    """``[work(row) for row in rows]``, the second half in a forked process beside this one
    (``work`` is Python-bound and holds the interpreter lock: a thread would not help; see
    :mod:`registry_app.pipeline.forking`). Where there is no fork, or for few rows, all rows
    are done here. ``progress`` is called from this process only."""

    def here(part: list[int]) -> list:
        out = []
        for n, row in enumerate(part):
            out.append(work(row))
            if progress and n % 100 == 0:
                progress("evaluate", n / max(1, len(part)), "")
        return out

    if len(rows) < FORK_MIN_ROWS or not can_fork():
        return here(rows)
    half = (len(rows) + 1) // 2
    with beside(lambda: [work(row) for row in rows[half:]], "evaluate") as later:
        return here(rows[:half]) + later.result()


def reference_distribution(answers: list[dict]) -> dict:
    from inference_app.drift import answer_distribution

    return answer_distribution(answers)


def _as_candidate(c: dict) -> dict:
    return {
        "ops": [o["op_code"] for o in c["operations"]],
        "wcs": [o["work_center"] for o in c["operations"]],
        "operations": c["operations"],
    }


class _RoutingCandidates:
    """A routing's own operations as a one-candidate proposal (with its lead time), made once
    per routing and shared by every baseline and item that proposes it."""

    def __init__(self, model, opts: dict):
        self.model, self.opts, self._made = model, opts, {}

    def __call__(self, rt: int) -> list[dict]:
        if rt not in self._made:
            from routing_core.predictor import own_routing

            ops = own_routing(self.model, rt, self.opts["prefer_actuals"], [])
            candidate = _as_candidate({"operations": ops})
            candidate["lead_min"] = lead_time(ops, self.opts["quantity"]) if ops else None
            self._made[rt] = [candidate]
        return self._made[rt]


def _knn_baselines(model, answer: dict, routings: _RoutingCandidates) -> tuple[list, list]:
    """(nearest, knn_medoid): the routing of the single nearest (visible) neighbour, and of the
    ``KNN_MEDOID_K`` nearest neighbours' routings the one most similar to the others by edit
    similarity over (operation, work center) steps."""
    tables = model.tables
    rts, first = [], None
    for position, neighbour in enumerate(answer["neighbours"][:KNN_MEDOID_K]):
        rt = tables.primary_routing(tables.row_of(neighbour["item_code"]))
        if rt is not None:
            rts.append(rt)
            first = rt if position == 0 else first
    if not rts:
        return [], []
    steps = [[(o.op_code, o.work_center) for o in tables.operations(rt)] for rt in rts]
    nearest = routings(first) if first is not None else []
    return nearest, routings(rts[medoid_of(steps)])


class _AttributeLookup:
    """The most frequent routing overall, and per combination of the categorical and text
    attribute values (normalised as the encoder does) among the visible items. Ties go to the
    routing seen first in item order; computed on arrays, one pass over the visible items."""

    def __init__(self, model, visible: np.ndarray, routings: _RoutingCandidates, keys):
        self.routings, self.keys = routings, keys
        rts = primary_routings(model.tables.a)[np.asarray(visible, dtype=np.int64)]
        keep = rts >= 0
        rts, keys = rts[keep], self.keys[np.asarray(visible, dtype=np.int64)[keep]]
        sigs, _ = pd.factorize(np.asarray(model.tables.a["rt_sig"])[rts])
        _, first = np.unique(sigs, return_index=True)
        self.first_rt = rts[first]  # per signature (in order of appearance): its first routing
        self.frequent = self._routing(_most_common(sigs, np.zeros(len(sigs), np.int64)).get(0))
        self.by_values = _most_common(sigs, keys)

    def _routing(self, sig: int | None) -> list[dict]:
        return [] if sig is None else self.routings(int(self.first_rt[sig]))

    def same_values(self, row: int) -> list[dict]:
        """The most frequent routing of items with the same values; else the overall one."""
        sig = self.by_values.get(int(self.keys[row]))
        return self._routing(sig) if sig is not None else self.frequent


def _most_common(sigs: np.ndarray, keys: np.ndarray) -> dict[int, int]:
    """Per key, its most frequent signature code; a tie goes to the one whose first row
    with that key comes first (what ``Counter.most_common`` does with rows counted in order)."""
    if not len(sigs):
        return {}
    pairs, uniques = pd.factorize(keys.astype(np.int64) * (int(sigs.max()) + 1) + sigs)
    counts = np.bincount(pairs)
    pair_key, pair_sig = np.divmod(uniques, int(sigs.max()) + 1)
    order = np.lexsort((np.arange(len(uniques)), -counts, pair_key))
    best = order[np.r_[True, pair_key[order][1:] != pair_key[order][:-1]]]
    return dict(zip(pair_key[best].tolist(), pair_sig[best].tolist(), strict=True))


def primary_routings(a: dict) -> np.ndarray:
    """Per item, the row of its primary routing (its first routing marked primary, else its
    first routing), -1 without one: :meth:`RoutingTables.primary_routing` for every item."""
    start, end = np.asarray(a["item_rt_start"]), np.asarray(a["item_rt_end"])
    marked = np.flatnonzero(np.asarray(a["rt_primary"]).astype(bool))
    if len(marked):
        pos = np.minimum(np.searchsorted(marked, start), len(marked) - 1)
        chosen = np.where((marked[pos] >= start) & (marked[pos] < end), marked[pos], start)
    else:
        chosen = start
    return np.where(end > start, chosen, -1).astype(np.int64)


def _value_keys(encoder, tables: RoutingTables) -> np.ndarray:
    """Per item, one integer for its combination of normalised categorical and text values
    (each attribute's distinct strings are normalised once, then combined row-wise)."""
    from routing_core.features import norm_category, norm_texts

    ids = np.asarray(tables.a["item_attrs"])
    columns = []
    for codec in encoder.codecs:
        if codec.kind == "numeric" or codec.name not in tables.attribute_names:
            continue
        table = tables.strings["attributes"][codec.name]
        if codec.kind == "text":
            normed = norm_texts(table)
        else:
            normed = [norm_category(v) for v in table]
        codes, _ = pd.factorize(pd.Series(normed + [None], dtype=object))
        raw = ids[:, tables.attribute_names.index(codec.name)]
        columns.append(codes[np.where(raw >= 0, raw, len(table))])
    if not columns:
        return np.zeros(tables.n_items, dtype=np.int64)
    keys = np.zeros(tables.n_items, dtype=np.int64)
    for codes in columns:  # combine column by column: equal keys ⇔ equal values everywhere
        keys, _ = pd.factorize(keys * (int(codes.max()) + 2) + codes + 1)  # missing: -1
    return keys.astype(np.int64)


def predictor_options(config: dict, quantity: float = 10.0) -> dict:
    from routing_core.predictor import options

    return options(config, quantity, neighbours_for_existing=False)


def stored_holdout(items, attributes: list[dict] | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(family per row, held-out mask) of the evaluation stored with every trained version:
    20 % of the families; training learns nothing from them (see ``weightsearch``)."""
    groups = group_keys(items, attributes)
    return groups, split_groups(groups, 0.2, seed=7)


@dataclass
class BuiltEvaluation:
    """The stored evaluation of a version being trained, prepared up to the predictions: the
    families, the held-out sample, the tables and the attribute-value keys are ready before the
    index is (training builds the index beside them); :meth:`run` predicts and scores once the
    index is there."""

    folder: Path
    encoder: object
    tables: RoutingTables
    rows: np.ndarray
    groups: np.ndarray
    opts: dict
    keys: np.ndarray  # :func:`_value_keys`: the same-attribute-values baseline's keys

    def run(self, index, progress: Callable | None = None) -> dict:
        model = SimpleNamespace(
            label=self.folder.name, encoder=self.encoder, index=index, tables=self.tables
        )
        result = evaluate_model(
            model, self.rows, self.groups, self.opts, progress, value_keys=self.keys
        )
        result["method"] = {
            "holdout": "grouped 20% (families: item code, drawing and name stems)",
            "evaluated_items": int(len(self.rows)),
            "quantity": 10.0,
        }
        return result


def prepare_built(
    folder: Path,
    encoder,
    arrays: dict,
    names: list[str],
    items,
    config: dict,
    attributes=None,
    never_held=None,
    holdout: tuple | None = None,
) -> BuiltEvaluation:
    """The evaluation stored with every trained version: a sample of grouped held-out items.

    ``never_held``: rows that are never evaluated (routings saved by engineers); ``holdout``:
    :func:`stored_holdout` of these items when already computed."""
    tables = RoutingTables(folder, names)
    groups, held = holdout if holdout is not None else stored_holdout(items, attributes or names)
    held = held.copy()
    has_routing = np.asarray(arrays["item_rt_end"]) > np.asarray(arrays["item_rt_start"])
    held &= has_routing
    if never_held is not None:
        held &= ~never_held
    rows = np.flatnonzero(held)
    rng = np.random.default_rng(7)
    sample = int(config.get("eval_sample", 1500))
    if len(rows) > sample:
        rows = np.sort(rng.choice(rows, size=sample, replace=False))
    keys = _value_keys(encoder, tables)
    return BuiltEvaluation(folder, encoder, tables, rows, groups, predictor_options(config), keys)


def holdout_evaluation(
    data,
    profile: dict,
    config: dict,
    holdout: float = 0.2,
    seed: int = 0,
    limit: int = 5000,
    quantity: float = 10.0,
    progress=None,
) -> dict:
    """``manage.py evaluate``: fit on the kept items only, predict held-out groups by attributes.

    The encoder, its SVD and the index see only the kept items; the held-out items' routings
    are read only to score the predictions.
    """
    import tempfile

    from registry_app.pipeline import index as hnsw
    from registry_app.pipeline.tables import build_tables, save_tables
    from registry_app.pipeline.weightsearch import training_weights
    from routing_core.features import FeatureEncoder
    from routing_core.numbers import number_locale

    names = [a["name"] for a in profile["attributes"]]
    items = data.items.sort_values("item_code", kind="stable").reset_index(drop=True)
    groups = group_keys(items, profile["attributes"])
    held = split_groups(groups, holdout, seed)
    weights, search = training_weights(
        items, data, profile, config, _Stages(progress), rows=np.flatnonzero(~held)
    )
    encoder = FeatureEncoder.from_attributes(
        profile["attributes"],
        weights,
        config["embedding_dim"],
        locale=number_locale(profile),
    )
    columns = {n: items[n].to_numpy(dtype=object) for n in names if n in items}
    kept = np.flatnonzero(~held)
    encoder.fit_transform({n: v[kept] for n, v in columns.items()}, seed=seed)
    vectors = encoder.transform(columns)
    arrays, strings = build_tables(items, data.operations, data.work_results, names)
    has_routing = np.asarray(arrays["item_rt_end"]) > np.asarray(arrays["item_rt_start"])
    labels = np.flatnonzero(has_routing & ~held).astype(np.int64)
    index = hnsw.build_index(vectors[labels], labels, hnsw.parameters(config))
    rows = np.flatnonzero(held & has_routing)
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=limit, replace=False))
    with tempfile.TemporaryDirectory() as tmp:
        save_tables(Path(tmp), arrays, strings)
        tables = RoutingTables(Path(tmp), names)
        model = SimpleNamespace(label="evaluation", encoder=encoder, index=index, tables=tables)
        result = evaluate_model(model, rows, groups, predictor_options(config, quantity), progress)
    result["method"] = {
        "holdout": holdout,
        "seed": seed,
        "grouping": "near-duplicate families (item code, drawing and name stems) kept on one side",
        "items": int(len(items)),
        "held_out_groups": int(len(np.unique(groups[held]))),
        "evaluated_items": int(len(rows)),
        "quantity": quantity,
    }
    if search:
        result["weight_search"] = search
    return result


class _Stages:
    """The stage interface of a training run's progress over a plain progress callback."""

    def __init__(self, progress: Callable | None):
        self.progress = progress

    def stage(self, name: str) -> None:
        self.callback(name)(name, 0.0, "started")

    def done(self, name: str, message: str = "") -> None:
        self.callback(name)(name, 1.0, message)

    def callback(self, name: str) -> Callable:
        return self.progress or (lambda *_args: None)
