"""The candidates' figures: array statistics equal to the plain per-operation rules, and the
full candidates of a hand-made plant equal, byte for byte, to those the per-operation code gave
(``tests/data/candidates_golden.json``)."""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from registry_app.pipeline.tables import RoutingTables, save_tables
from routing_core.predictor import Routings, candidates_of, candidates_operations, options
from routing_core.stats import rounded, rounded_array, weighted_percentiles
from routing_core.timesummary import summarize, summarize_times

GOLDEN = Path(__file__).parent / "data" / "candidates_golden.json"
GOLDEN_VOTE = Path(__file__).parent / "data" / "candidates_golden_vote.json"

# (operation, work center) steps: a family with repeats, skips, swaps and another machine
A = [("SAW", "S1"), ("TURN", "L1"), ("MILL", "M1"), ("DEBURR", "B1"), ("INSP", "Q1")]
ROUTINGS = [
    A,
    A,
    A[:2] + [("TURN", "L1")] + A[2:],  # turning repeated
    A[:2] + A[3:],  # no milling
    [A[0], ("TURN", "L2"), *A[2:]],  # turning on another lathe
    [A[0], A[2], A[1], *A[3:]],  # milling before turning
    A,
    [("CUT", "X1"), ("BEND", "P1"), ("WELD", "W1"), ("PAINT", "P2"), ("INSP", "Q1")],
    [("CUT", "X1"), ("WELD", "W1"), ("BEND", "P1"), ("PAINT", "P2"), ("INSP", "Q1")],
    [("CUT", "X1"), ("BEND", "P1"), ("WELD", "W1"), ("INSP", "Q1")],
    A[:3],
    [("SAW", "S1")],
]
NEIGHBOURS = [
    [(i, round(1.0 - 0.04 * i, 2)) for i in range(12)],
    [(3, 0.9), (0, 0.9), (8, 0.85), (7, 0.85), (5, 0.5), (11, 0.31)],
    [(9, 0.12), (10, 0.0), (2, 0.05)],  # below any threshold: the low-confidence path
    [(12, 0.99), (4, 0.7)],  # item 12 has two routings: the primary one (the second) counts
]
VOTED = [  # the nearest item's routing skips a step the others keep
    [(3, 0.95), (2, 0.9), (4, 0.9), (5, 0.85), (10, 0.8), (6, 0.5)],
    [(9, 0.97), (8, 0.9), (7, 0.88), (11, 0.6), (0, 0.4)],
]
VARIANTS = [
    {},
    {"quantity": 37.5, "percentiles": [10, 50, 95]},
    {"prefer_actuals": False, "support_power": 1.0},
    {"cluster_radius": 0.5, "candidates": 8},
    {"cluster_radius": 1.0, "candidates": 2, "percentiles": [50]},
    {"quantity": 3.0, "percentiles": [80, 90], "support_power": 16.0},
]


def _times(op: int) -> dict:
    """Standard and actual times of the ``op``-th operation of the plant: varied, with
    missing values, a zero run quantity, outliers and operations without actuals."""
    return {
        "op_setup": np.nan if op % 7 == 3 else 5.0 + (op * 37 % 23) * 1.25,
        "op_run": np.nan if op % 11 == 5 else 0.5 + (op * 13 % 17) * 0.3 + (40 if op == 9 else 0),
        "op_run_qty": [1.0, 10.0, 0.0, 2.5][op % 4],
        "op_queue": np.nan if op % 5 == 1 else 60.0 + op % 3,
        "op_wait": 0.0 if op % 2 else 5.125,
        "op_move": np.nan if op % 9 == 8 else 12.0005 + op,
        "op_act_n": 0 if op % 3 == 0 else op % 5 + 1,
        "op_act_setup": np.nan if op % 4 == 1 else 4.0 + (op * 7 % 9),
        "op_act_run": np.inf if op == 14 else 0.25 + (op * 5 % 8) * 0.125,
    }


def plant_tables(folder: Path) -> RoutingTables:
    """Tables of 13 items: one routing each (the ``ROUTINGS``), item 12 two (its second the
    primary, a copy of the fifth)."""
    routings = [*ROUTINGS, ROUTINGS[0], ROUTINGS[4]]
    steps = [step for r in routings for step in r]
    codes = sorted({o for o, _ in steps})
    centers = sorted({w for _, w in steps})
    times = [_times(k) for k in range(len(steps))]
    bounds = np.cumsum([0] + [len(r) for r in routings])
    arrays = {
        "item_codes": np.array([f"I{i:02d}" for i in range(13)]),
        "item_attrs": np.zeros((13, 1), dtype=np.int32),
        "item_rt_start": np.array([*range(12), 12], dtype=np.int32),
        "item_rt_end": np.array([*range(1, 13), 14], dtype=np.int32),
        "rt_op_start": bounds[:-1].astype(np.int32),
        "rt_op_end": bounds[1:].astype(np.int32),
        "rt_primary": np.array([True] * 12 + [False, True]),
        "rt_no": np.array([0] * 13 + [1], dtype=np.int32),
        "rt_sig": np.zeros(len(routings), dtype=np.int32),
        "op_seq": np.array([10 * (k + 1) for r in routings for k in range(len(r))], np.int32),
        "op_op_code": np.array([codes.index(o) for o, _ in steps], dtype=np.int32),
        "op_op_name": np.array([codes.index(o) for o, _ in steps], dtype=np.int32),
        "op_work_center": np.array([centers.index(w) for _, w in steps], dtype=np.int32),
        "op_work_center_name": np.array([centers.index(w) for _, w in steps], dtype=np.int32),
        "op_in_house": np.array([k % 6 != 4 for k in range(len(steps))]),
    }
    for name in times[0]:
        dtype = np.int32 if name == "op_act_n" else np.float32
        arrays[name] = np.array([t[name] for t in times], dtype=dtype)
    strings = {
        "attributes": {"PART_TYPE": ["SL"]},
        "op_code": codes,
        "op_name": [f"{c.title()} operation" for c in codes],
        "work_center": centers,
        "work_center_name": [f"Center {w}" for w in centers],
        "routing_no": ["01", "02"],
        "catalog": {},
    }
    save_tables(folder, arrays, strings)
    return RoutingTables(folder, ["PART_TYPE"])


def plant_candidates(model, vote_share: float, neighbour_sets: list | None = None) -> list[str]:
    """The JSON of the candidates of every neighbour set under every option variant."""
    settings = {"top_k": 20, "candidates": 4, "min_similarity": 0.3, "percentiles": [50, 80, 90],
                "prefer_actuals": True, "support_power": 4.0, "cluster_radius": 0.75,
                "vote_share": vote_share}  # fmt: skip
    out = []
    for neighbours in NEIGHBOURS if neighbour_sets is None else neighbour_sets:
        for variant in VARIANTS:
            opts = options(settings, **{"quantity": 1.0, **variant})
            out.append(json.dumps(candidates_of(model, neighbours, opts)))
    return out


def test_the_candidates_of_a_hand_made_plant_are_the_recorded_ones(tmp_path):
    """``vote_share`` 0: the best cluster's medoid first, as before the vote."""
    model = SimpleNamespace(tables=plant_tables(tmp_path))
    answers = plant_candidates(model, 0.0)
    golden = json.loads(GOLDEN.read_text())
    assert len(answers) == len(golden) == len(NEIGHBOURS) * len(VARIANTS)
    for i, (mine, recorded) in enumerate(zip(answers, golden, strict=True)):
        assert mine == recorded, f"answer {i} differs"
    assert '"time_source": "actuals"' in answers[0] and '"time_source": "standard"' in answers[0]
    assert '"setup_min": null' in "".join(answers)  # a step whose setups are all missing


def _sequence(candidate: dict) -> tuple:
    return tuple((o["op_code"], o["work_center"]) for o in candidate["operations"])


def test_with_the_vote_the_routing_nearest_it_comes_first_then_the_others_in_order(tmp_path):
    """The default ``vote_share`` (0.4): recorded answers (``candidates_golden_vote.json``,
    pinned with the evaluation figures in docs/model.md), each the answer of ``vote_share`` 0
    with the voted routing moved first and not repeated."""
    model = SimpleNamespace(tables=plant_tables(tmp_path))
    voted = plant_candidates(model, 0.4, VOTED + NEIGHBOURS)
    assert voted == json.loads(GOLDEN_VOTE.read_text())
    moved = 0
    for mine, before in zip(voted, plant_candidates(model, 0.0, VOTED + NEIGHBOURS), strict=True):
        mine, before = json.loads(mine), json.loads(before)
        sequences = [_sequence(c) for c in mine]
        assert len(set(sequences)) == len(sequences), "no routing twice"
        assert [c["rank"] for c in mine] == list(range(1, len(mine) + 1))
        rest = [s for s in map(_sequence, before) if s != sequences[0]]
        assert sequences[1:] == rest[: len(mine) - 1]
        first = mine[0]
        assert sum(r["medoid"] for r in first["reference_items"]) >= 1  # an existing routing
        assert first["support"] == len(first["reference_items"])
        moved += sequences[0] != _sequence(before[0])
    assert moved >= 3  # the vote changes the first candidate of several neighbour sets


def test_the_candidates_time_summaries_are_summarize_of_their_operations(tmp_path):
    routings = Routings(plant_tables(tmp_path), list(range(12)))
    members = [(i, 1.0 - 0.05 * i) for i in range(12)]
    for percentiles in ([80, 90], [10, 95], []):
        candidates = [(0, members[:7]), (7, members[7:10]), (11, members[10:])]
        operations, times = candidates_operations(routings, candidates, True, percentiles)
        labels = tuple(f"p{p}" for p in percentiles)
        for quantity in (1.0, 7.0, 250.0):
            expected = [summarize(ops, quantity, labels) for ops in operations]
            assert summarize_times(operations, times, quantity, labels) == expected


def test_no_candidate_gives_no_operation(tmp_path):
    routings = Routings(plant_tables(tmp_path), [])
    operations, times = candidates_operations(routings, [], True, [80])
    assert operations == [] and summarize_times(operations, times, 1.0, ("p80",)) == []


def plain_percentiles(values: list, weights: list, percentiles: list) -> dict:
    """The per-operation rule: weighted percentiles after dropping Tukey outliers."""
    pairs = sorted(
        (v, w) for v, w in zip(values, weights, strict=True) if w > 0 and math.isfinite(v)
    )
    if not pairs:
        return {}
    if len(pairs) >= 4:
        ordered = [v for v, _ in pairs]

        def at(q):
            pos = q * (len(ordered) - 1)
            low = int(pos)
            high = min(low + 1, len(ordered) - 1)
            return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

        q1, q3 = at(0.25), at(0.75)
        fence = 1.5 * (q3 - q1)
        pairs = [(v, w) for v, w in pairs if q1 - fence <= v <= q3 + fence] or pairs
    out = {}
    for p in percentiles:
        total = sum(w for _, w in pairs)
        target, running, found = p / 100.0 * total - 1e-12, 0.0, pairs[-1][0]
        for value, weight in pairs:
            running += weight
            if running >= target:
                found = value
                break
        out[p] = found
    return out


def _value(rng: random.Random, special: list) -> float:
    """A time: mostly rounded log-normal, sometimes missing, infinite, zero or huge."""
    if rng.random() < 0.1:
        return rng.choice(special)
    return round(rng.lognormvariate(2, 1), rng.randint(0, 3))


def _weight(rng: random.Random) -> float:
    """A similarity: mostly 1, 0.5 or random, sometimes zero, negative or tiny."""
    if rng.random() < 0.1:
        return rng.choice([0.0, -1.0, 1e-13])
    return rng.choice([1.0, 0.5, rng.random()])


def test_weighted_percentiles_follow_the_plain_rule_row_by_row():
    rng = random.Random(11)
    special = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e9]
    rows = []
    for _ in range(400):
        n = rng.randint(1, 22)
        values = [_value(rng, special) for _ in range(n)]
        weights = [_weight(rng) for _ in range(n)]
        rows.append((values, weights))
    width = max(len(v) for v, _ in rows)
    values = np.full((len(rows), width), np.nan)
    weights = np.zeros((len(rows), width))
    for i, (v, w) in enumerate(rows):
        values[i, : len(v)], weights[i, : len(w)] = v, w
    for ps in ([10, 50, 80, 90, 99], [1, 50, 100], [50, 100, 150]):  # beyond 100: the last
        figures, known = weighted_percentiles(values, weights, ps)
        for (v, w), row, has in zip(rows, figures.tolist(), known.tolist(), strict=True):
            expected = plain_percentiles(v, w, ps)
            assert has == bool(expected)
            if has:
                assert row == [expected[p] for p in ps]


def test_rounded_gives_the_floats_of_round():
    rng = random.Random(5)
    values = [rng.uniform(-1e4, 1e4) for _ in range(3000)]
    values += [k / 2000 for k in range(-3000, 3000)]  # exact ties at three digits
    values += [round(rng.uniform(0, 50), 3) + 0.0005 for _ in range(2000)]  # near ties
    values += [struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0] for _ in range(2000)]
    values += [0.0, -0.0, -0.0001, math.inf, -math.inf, math.nan, 1e300, 2.675, 1.0005, 2.0**60]
    for digits in (3, 4):
        got = rounded(np.array(values), digits)
        for value, mine in zip(values, got, strict=True):
            expected = round(value, digits)
            assert struct.pack("d", mine) == struct.pack("d", expected) or (
                math.isnan(mine) and math.isnan(expected)
            ), (value, digits)


def test_rounded_with_digits_per_row_gives_each_rows_round():
    rng = random.Random(7)
    base = [k / 2000 for k in range(-40, 40)] + [k / 20000 for k in range(-40, 40)]  # ties
    base += [math.inf, -math.inf, math.nan, 2.675, 1.0005, 1e300, -0.0]
    rows = [[rng.uniform(-1e4, 1e4) for _ in range(60)] + base for _ in range(4)]
    digits = [3, 4, 4, 3]
    got = rounded_array(np.array(rows), digits).tolist()
    for row, d, mine in zip(rows, digits, got, strict=True):
        for value, m in zip(row, mine, strict=True):
            expected = round(value, d)
            assert struct.pack("d", m) == struct.pack("d", expected) or (
                math.isnan(m) and math.isnan(expected)
            ), (value, d)


def test_a_candidate_needs_its_neighbours_with_routings(tmp_path):
    model = SimpleNamespace(tables=plant_tables(tmp_path))
    opts = options({"top_k": 20, "candidates": 4, "min_similarity": 0.3, "percentiles": [50],
                    "prefer_actuals": True})  # fmt: skip
    assert candidates_of(model, [], opts) == []
    with pytest.raises(IndexError):
        candidates_of(model, [(99, 1.0)], opts)  # a row the version does not have
