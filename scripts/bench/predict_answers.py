"""The full answers of ``predict_one`` for a version's new items, to compare two codes byte
for byte.

    .venv/bin/python scripts/bench/predict_answers.py MODEL_FOLDER OUT.jsonl [--items 1000]
    .venv/bin/python scripts/bench/predict_answers.py MODEL_FOLDER NEW.jsonl --compare OLD.jsonl

MODEL_FOLDER is a version's folder (``models/v0001``). The items are the version's items
without a routing (new items, their stored attributes) and, for every tenth, a routed item
(its own routing, or its attributes sent as a new item: its own routing is left out); a
version without new items (an order log) sends its routed items' attributes instead;
each one is predicted with the default workflow settings and with one of a few variants
(quantity, top_k, candidates, threshold, percentiles, actuals, support power, radius), the same
for the same folder. One answer per line (``json.dumps`` in the answer's own key order).
``--compare`` prints the first differing lines and exits 1 when any line differs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")

VARIANTS = [
    {},
    {"quantity": 37.0},
    {"top_k": 5, "candidates": 1},
    {"top_k": 50, "candidates": 8, "quantity": 250.0},
    {"min_similarity": 0.95},
    {"percentiles": [10, 50, 95]},
    {"prefer_actuals": False, "quantity": 3.0},
    {"support_power": 1.0},
    {"cluster_radius": 0.5},
    {"cluster_radius": 1.0, "percentiles": [50]},
]


def items_of(tables, count: int) -> list[dict]:
    """``count`` request items of the version: new items, and every tenth a routed one."""
    import numpy as np

    start, end = np.asarray(tables.a["item_rt_start"]), np.asarray(tables.a["item_rt_end"])
    new, routed = np.flatnonzero(end <= start), np.flatnonzero(end > start)
    new = new if len(new) else routed  # an order log: every item has its routing
    out = []
    for i in range(count):
        if i % 10 == 9 and len(routed):
            row = int(routed[(i * 7919) % len(routed)])
            kind = ("code", "attributes")[i // 10 % 2]
        else:
            row, kind = int(new[i % len(new)]), "attributes"
        attrs = {k: v for k, v in tables.attributes(row).items() if v is not None}
        out.append({"item_code": tables.code_of(row)} if kind == "code" else {"attributes": attrs})
    return out


def answers(folder: Path, count: int) -> list[str]:
    import django

    django.setup()
    from inference_app.loaded import LoadedModel
    from routing_core.predictor import options, predict_one
    from workflow_app.settings_schema import defaults

    model = LoadedModel.open(folder)
    lines = []
    started = time.process_time()
    for i, item in enumerate(items_of(model.tables, count)):
        opts = options(defaults(), **VARIANTS[i % len(VARIANTS)])
        lines.append(json.dumps(predict_one(model, item, opts)))
    cpu = time.process_time() - started
    print(f"{len(lines)} answers, {1000 * cpu / len(lines):.2f} ms CPU each", file=sys.stderr)
    return lines


def compare(new: list[str], old: list[str]) -> int:
    differing = [i for i, (a, b) in enumerate(zip(new, old, strict=False)) if a != b]
    if len(new) != len(old):
        print(f"{len(new)} answers against {len(old)}")
    for i in differing[:3]:
        print(f"line {i + 1} differs:\n  new {new[i][:400]}\n  old {old[i][:400]}")
    same = not differing and len(new) == len(old)
    verdict = " (byte for byte equal)" if same else ""
    print(f"{len(new)} answers, {len(differing)} differ{verdict}")
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a version's folder")
    parser.add_argument("out", type=Path, help="the answers, one JSON per line")
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--compare", type=Path, help="answers of the other code")
    args = parser.parse_args()
    lines = answers(args.folder, args.items)
    args.out.write_text("\n".join(lines) + "\n")
    if args.compare:
        return compare(lines, args.compare.read_text().splitlines())
    return 0


if __name__ == "__main__":
    sys.exit(main())
