"""Attribute weights learned from the plant's own history (profile ``"weights": "learn"``).

A coordinate search over the encoded attributes' weights: starting from the profile's (or the
workflow's) weights, each attribute's weight in turn is multiplied by 0.25 and 4, then by 0.5
and 2, and a change is kept when it raises the score. A weight set's score is the op-code edit
similarity of the model's top candidate under grouped cross-validation: a sample of the
*training* items (whole near-duplicate families, the key of the held-out split) is cut into
folds by family; per fold the encoder, its SVD and the index are fitted on the other folds and
the fold's items are predicted (the predictor's own neighbour search and candidate ranking).
Every weight set is scored on the same items, so the figures compare like with like.

The caller passes the rows it may learn from; training passes the rows outside the stored
evaluation's held-out families, ``manage.py evaluate`` the kept items, so the search never sees
an item the evaluation scores. The budget (profile ``weight_search``: ``seconds``,
``evaluations``, ``items``, ``folds``, ``scored``) bounds it; the search stops after the
evaluation that crosses it and keeps the best weights found.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from registry_app.pipeline import index as hnsw
from registry_app.pipeline.evaluation import edit_similarity, group_keys, stored_holdout
from registry_app.pipeline.tables import RoutingTables, build_tables, save_tables
from routing_core.features import FeatureEncoder
from routing_core.numbers import number_locale
from routing_core.predictor import group_candidates, neighbours_of, options

MODES = ("profile", "learn")
# budget key: (default, lowest, highest)
BUDGET = {
    "seconds": (300, 1, 86_400),
    "evaluations": (24, 1, 1_000),
    "items": (4_000, 50, 200_000),
    "folds": (3, 2, 10),
    "scored": (600, 10, 50_000),
}
FACTORS = ((0.25, 4.0), (0.5, 2.0))
MIN_GAIN = 0.001  # a change of weights must raise the score by more than this to be kept


class WeightSearchError(ValueError):
    """A bad ``weights`` / ``weight_search`` value; ``path`` names the profile field."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def search_budget(profile: dict) -> dict | None:
    """The search budget when the profile says ``"weights": "learn"``, else None.

    Raises :class:`WeightSearchError` for an unknown mode or a bad budget value."""
    mode = profile.get("weights", "profile")
    if mode not in MODES:
        raise WeightSearchError(
            "weights", "must be 'profile' (the attributes' weights) or 'learn' (searched)"
        )
    given = profile.get("weight_search", {})
    if not isinstance(given, dict):
        raise WeightSearchError("weight_search", f"must be an object with {', '.join(BUDGET)}")
    budget = {key: default for key, (default, _, _) in BUDGET.items()}
    for key, value in given.items():
        if key not in BUDGET:
            raise WeightSearchError(
                f"weight_search.{key}", f"unknown key {key!r}; allowed: {', '.join(BUDGET)}"
            )
        _, low, high = BUDGET[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise WeightSearchError(
                f"weight_search.{key}", f"must be a whole number from {low} to {high}"
            )
        budget[key] = value
    return budget if mode == "learn" else None


class FoldScorer:
    """Scores weight sets by grouped cross-validation on ``rows`` of ``items`` only."""

    def __init__(self, items: pd.DataFrame, data, profile: dict, config: dict, budget: dict,
                 rows: np.ndarray, seed: int = 0):  # fmt: skip
        self.profile, self.config, self.seed = profile, config, seed
        self.attributes = profile["attributes"]
        self.names = [a["name"] for a in self.attributes]
        sample = _sample_families(items, self.attributes, rows, budget["items"], seed)
        self.items = items.iloc[sample].reset_index(drop=True)
        self.item_codes = self.items["item_code"].astype(str).tolist()
        self._folder = tempfile.TemporaryDirectory(prefix="weightsearch-")
        self.tables = self._tables(data)
        self.columns = {n: self.items[n].to_numpy(dtype=object) for n in self.names if n in items}
        self.actual = [self._ops(r) for r in range(len(self.items))]
        groups = group_keys(self.items, self.attributes)
        self.folds = _fold_of(groups, budget["folds"], seed)
        self.scored = _scored_rows(self.actual, self.folds, budget["scored"], seed)
        self.opts = _options(config)

    def _tables(self, data) -> RoutingTables:
        codes = set(self.item_codes)

        def mine(frame):
            if frame is None or not len(frame):
                return frame
            return frame[frame["item_code"].astype(str).isin(codes)]

        arrays, strings = build_tables(
            self.items, mine(data.operations), mine(data.work_results), self.names
        )
        save_tables(Path(self._folder.name), arrays, strings)
        return RoutingTables(Path(self._folder.name), self.names)

    def _ops(self, row: int) -> list | None:
        rt = self.tables.primary_routing(row)
        return None if rt is None else [o.op_code for o in self.tables.operations(rt)]

    def close(self) -> None:
        self._folder.cleanup()

    def score(self, weights: dict[str, float]) -> float:
        """Mean op-code edit similarity of the top candidate over the scored items."""
        sims = []
        for fold in np.unique(self.folds[self.scored]).tolist():
            model, vectors = self._fold_model(weights, fold)
            for row in self.scored[self.folds[self.scored] == fold]:
                proposed = self._top_routing(model, vectors[row]) if model else None
                sims.append(edit_similarity(self.actual[row], proposed or []))
        return round(float(np.mean(sims)), 4) if sims else 0.0

    def _fold_model(self, weights: dict, fold: int):
        encoder = FeatureEncoder.from_attributes(
            self.attributes, weights, self.config["embedding_dim"], number_locale(self.profile)
        )
        kept = np.flatnonzero(self.folds != fold)
        if not encoder.codecs or len(kept) < 3:
            return None, None
        encoder.fit_transform({n: v[kept] for n, v in self.columns.items()}, seed=self.seed)
        vectors = encoder.transform(self.columns)
        labels = np.array([r for r in kept if self.actual[r] is not None], dtype=np.int64)
        if not len(labels):
            return None, None
        params = {
            "M": self.config["hnsw_m"],
            "ef_construction": self.config["hnsw_ef_construction"],
            "ef_search": self.config["hnsw_ef_search"],
            "seed": 100,
        }
        index = hnsw.build_index(vectors[labels], labels, params)
        return SimpleNamespace(encoder=encoder, index=index, tables=self.tables), vectors

    def _top_routing(self, model, vector: np.ndarray) -> list | None:
        """The op codes of the predictor's top candidate (its neighbour search, threshold
        fallback and candidate ranking), without the time statistics."""
        if not np.any(vector):
            return None
        found = neighbours_of(model, vector, self.opts["top_k"], None)
        usable = [(r, s) for r, s in found if s >= self.opts["min_similarity"]] or found
        groups = group_candidates(
            model,
            usable,
            1,
            self.opts["support_power"],
            self.opts["cluster_radius"],
            self.opts["vote_share"],
        )
        if not groups:
            return None
        return [o.op_code for o in self.tables.operations(groups[0]["medoid_rt"])]


def learn_weights(
    items: pd.DataFrame,
    data,
    profile: dict,
    config: dict,
    rows: np.ndarray,
    budget: dict,
    progress: Callable[[str, float, str], None] | None = None,
    seed: int = 0,
) -> dict:
    """Search attribute weights on ``rows`` of ``items`` (the training items); returns the
    chosen weights and the search's figures (every tried weight set with its score)."""
    started = time.monotonic()
    scorer = FoldScorer(items, data, profile, config, budget, rows, seed)
    try:
        start = _start_weights(profile["attributes"], config.get("feature_weights") or {})
        search = _Search(scorer, budget, started, progress)
        best, best_score = search.run(start, _searched(profile["attributes"], start))
    finally:
        scorer.close()
    return {
        "weights": best,
        "score": best_score,
        "baseline": {"weights": start, "score": search.trials[0]["score"]},
        "trials": search.trials,
        "evaluations": len(search.trials),
        "stopped": search.stopped,
        "seconds": round(time.monotonic() - started, 1),
        "items": int(len(scorer.items)),
        "scored_items": int(len(scorer.scored)),
        "folds": int(len(np.unique(scorer.folds))),
        "budget": budget,
        "figure": "op-code edit similarity of the top candidate, grouped cross-validation",
    }


class _Search:
    def __init__(self, scorer: FoldScorer, budget: dict, started: float, progress):
        self.scorer, self.budget, self.started, self.progress = scorer, budget, started, progress
        self.trials: list[dict] = []
        self.stopped = "done"

    def _exhausted(self) -> bool:
        if len(self.trials) >= self.budget["evaluations"]:
            self.stopped = "evaluations"
        elif time.monotonic() - self.started >= self.budget["seconds"]:
            self.stopped = "seconds"
        else:
            return False
        return True

    def _try(self, weights: dict) -> float:
        score = self.scorer.score(weights)
        self.trials.append({"weights": dict(weights), "score": score})
        if self.progress:
            share = len(self.trials) / self.budget["evaluations"]
            self.progress("weights", share, f"weight set {len(self.trials)}: score {score:.4f}")
        return score

    def run(self, start: dict, names: list[str]) -> tuple[dict, float]:
        best, best_score = dict(start), self._try(start)
        for factors in FACTORS:
            for name in names:
                for factor in factors:
                    if self._exhausted():
                        return best, best_score
                    trial = {**best, name: round(best[name] * factor, 4)}
                    score = self._try(trial)
                    if score > best_score + MIN_GAIN:
                        best, best_score = trial, score
                        break  # this attribute moved; the next one
        return best, best_score


def _start_weights(attributes: list[dict], overrides: dict) -> dict[str, float]:
    """The weights training would use without the search, for every attribute (0: left out)."""
    return {a["name"]: float(overrides.get(a["name"], a.get("weight", 1.0))) for a in attributes}


def _searched(attributes: list[dict], weights: dict) -> list[str]:
    """The attributes whose weight the search varies: the encoded ones."""
    return sorted(
        a["name"]
        for a in attributes
        if weights[a["name"]] > 0 and a.get("encode", True) is not False
    )


def _options(config: dict) -> dict:
    return options(config)


def _sample_families(items, attributes, rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Up to about ``limit`` of ``rows``, whole families at a time, in item order."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) <= limit:
        return np.sort(rows)
    groups = group_keys(items.iloc[rows].reset_index(drop=True), attributes)
    order = np.random.default_rng(seed).permutation(np.unique(groups))
    sizes = pd.Series(groups).value_counts()
    taken = order[: max(1, int(np.searchsorted(np.cumsum(sizes[order].to_numpy()), limit)))]
    return np.sort(rows[np.isin(groups, taken)])


def _fold_of(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number per row: whole families to one fold, families dealt at random."""
    unique, inverse = np.unique(groups, return_inverse=True)
    dealt = np.random.default_rng(seed + 1).permutation(len(unique)) % max(1, folds)
    return dealt[inverse.reshape(-1)]


def _scored_rows(actual: list, folds: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """The rows with a routing that every weight set is scored on (the same ones each time)."""
    rows = np.array([r for r, ops in enumerate(actual) if ops is not None], dtype=np.int64)
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed + 2).choice(rows, size=limit, replace=False))
    return rows


def weights_line(search: dict) -> str:
    """One line for the training log: baseline score → chosen score."""
    base = search["baseline"]["score"]
    sign = "+" if search["score"] >= base else ""
    gain = search["score"] - base
    return (
        f"{search['evaluations']} weight sets, score {base:.4f} → {search['score']:.4f} "
        f"({sign}{gain:.4f}; stopped: {search['stopped']})"
    )


def training_weights(
    items: pd.DataFrame, data, profile: dict, config: dict, progress, rows: np.ndarray | None = None
) -> tuple[dict | None, dict | None]:
    """(weights, search figures) for the encoder: the workflow's weight overrides and None
    unless the profile says ``"weights": "learn"``; then the search runs, as the run's
    ``weights`` stage, on ``rows`` (default: every item outside the stored evaluation's
    held-out families, :func:`~registry_app.pipeline.evaluation.stored_holdout`)."""
    budget = search_budget(profile)
    if budget is None:
        return config.get("feature_weights"), None
    if rows is None:
        rows = np.flatnonzero(~stored_holdout(items, profile["attributes"])[1])
    progress.stage("weights")
    search = learn_weights(items, data, profile, config, rows, budget, progress.callback("weights"))
    progress.done("weights", weights_line(search))
    return search["weights"], search
