"""A time summary reads each operation's five figures at once when they are plain finite floats
(routing_core/timesummary.py): the same answers as reading them one by one."""

from __future__ import annotations

import json
import random

from routing_core import timesummary
from routing_core.timesummary import parts_one_by_one, summarize

ODD = [None, 0, 7, 2.5, "12.5", float("inf"), float("-inf"), float("nan"), 1e308, -3.0, True]


def random_routing(rng: random.Random) -> list[dict]:
    ops = []
    for seq in range(rng.randint(1, 9)):
        op = {"seq": seq * 10, "op_code": f"OP{seq}", "run_qty": rng.choice([1.0, 4.0, 0, None])}
        for key in timesummary.PARTS:
            if rng.random() < 0.85:
                op[key] = round(rng.uniform(0, 500), 2) if rng.random() < 0.8 else rng.choice(ODD)
        if rng.random() < 0.2:
            op["p90"] = {"setup_min": rng.uniform(0, 600), "run_min": rng.uniform(0, 9)}
        ops.append(op)
    return ops


def test_the_summaries_equal_those_of_the_figures_read_one_by_one(monkeypatch):
    rng = random.Random(15)
    cases = [(random_routing(rng), rng.choice([1, 3.5, 250.0])) for _ in range(3000)]
    fast = [json.dumps(summarize(ops, q, ("p90",))) for ops, q in cases]
    monkeypatch.setattr(timesummary, "_parts", parts_one_by_one)
    assert fast == [json.dumps(summarize(ops, q, ("p90",))) for ops, q in cases]


def test_plain_floats_take_the_short_way_and_anything_else_the_checks():
    op = {"setup_min": 30.0, "run_min": 2.5, "run_qty": 2.0, "queue_min": 60.0,
          "wait_min": 5.0, "move_min": 10.0}  # fmt: skip
    assert summarize([op], 4)["lead_min"] == 110.0
    assert summarize([{**op, "setup_min": float("inf")}], 4)["lead_min"] == 80.0
    assert summarize([{**op, "setup_min": "30"}], 4)["lead_min"] == 110.0
    assert summarize([{**op, "setup_min": None, "move_min": 10}], 4)["lead_min"] == 80.0
