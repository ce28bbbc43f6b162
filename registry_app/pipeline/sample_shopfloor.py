"""A machine-shop order log, the ``shopfloor`` style of ``make_sample_data``.

Shaped like the logs real job shops keep, not like a tidy ERP item master:

- one row per *order* (``SF_ORDERS``): an order number, the part number, a short free-text
  description as people type it (``Shaft D20x150 stainless``, ``SHAFT Ø20 x 150 SS``,
  ``stainless shaft 20x150``), a material (often missing) and the order quantity — no other
  attributes;
- parts are ordered again and again with a long tail: a few parts have dozens of orders, most
  parts one or two;
- each order's routing (``SF_ORDER_STEPS``) is its part's routing with per-order variation:
  a step repeated (re-work), skipped, two adjacent steps swapped, the alternate machine of the
  same kind; large quantities go to the automatic machines;
- times are the routing's standard minutes; there are no work-order actuals.

The mapping profile ``workflow_app/defaults/shopfloor.json`` reads it (the part number is a
family attribute that is never encoded: a new part's number says nothing). The same seed gives
the same rows.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import numpy as np

from registry_app.pipeline.sample_data import write_atomically

ORDER_TABLE = "SF_ORDERS"
STEP_TABLE = "SF_ORDER_STEPS"

# kind: (words people write, diameter-like size range, length range, base routing)
KINDS = {
    "shaft": (["Shaft", "SHAFT", "shaft", "Shft", "Axle shaft"], (8, 120), (40, 900),
              ["SAW", "TURN", "MILL", "HEAT", "GRIND", "DEBURR", "INSP"]),
    "pin": (["Pin", "PIN", "pin", "Dowel pin"], (3, 30), (10, 120),
            ["SAW", "TURN", "HEAT", "GRIND", "INSP"]),
    "bushing": (["Bushing", "BUSHING", "bush", "Bush"], (10, 150), (10, 200),
                ["SAW", "TURN", "BORE", "DEBURR", "INSP"]),
    "flange": (["Flange", "FLANGE", "flange", "Flg"], (40, 400), (8, 60),
               ["SAW", "TURN", "DRILL", "DEBURR", "INSP"]),
    "plate": (["Plate", "PLATE", "plate", "Base plate"], (20, 600), (3, 40),
              ["CUT", "MILL", "DRILL", "DEBURR", "INSP"]),
    "bracket": (["Bracket", "BRACKET", "bracket", "Brkt"], (20, 300), (2, 15),
                ["CUT", "BEND", "DRILL", "WELD", "PAINT", "INSP"]),
    "housing": (["Housing", "HOUSING", "housing", "Hsg"], (50, 500), (30, 400),
                ["SAW", "MILL", "BORE", "DRILL", "TAP", "DEBURR", "INSP"]),
    "gear": (["Gear", "GEAR", "gear", "Spur gear"], (20, 300), (8, 80),
             ["SAW", "TURN", "HOB", "HEAT", "GRIND", "INSP"]),
    "spacer": (["Spacer", "SPACER", "spacer", "Distance ring"], (6, 200), (2, 50),
               ["SAW", "TURN", "DEBURR", "INSP"]),
    "nozzle": (["Nozzle", "NOZZLE", "nozzle", "Jet nozzle"], (4, 60), (10, 120),
               ["SAW", "TURN", "DRILL", "EDM", "INSP"]),
}  # fmt: skip
# material: (codes as logged, words in descriptions, heat-treatable?, paint?)
MATERIALS = [
    ("1.4301", ["stainless", "SS", "inox", "st.steel", "A2"], False, False),
    ("1.4404", ["316L", "stainless 316", "SS316", "inox 316L"], False, False),
    ("C45", ["C45", "steel", "carbon steel", "CK45"], True, True),
    ("42CrMo4", ["42CrMo4", "alloy steel", "4140", "CrMo"], True, True),
    ("AlMg3", ["alu", "aluminium", "AL", "AlMg3"], False, False),
    ("CuZn39", ["brass", "Ms58", "CuZn"], False, False),
    ("POM", ["POM", "delrin", "plastic"], False, False),
]
# operation: (machines of that kind, the automatic one last; setup, run minutes at size 50)
MACHINES = {
    "SAW": (["SAW1", "SAW2"], 5, 1.5), "CUT": (["LASER1", "PLASMA1"], 8, 1.0),
    "TURN": (["LATHE-M1", "LATHE-M2", "CNC-L1", "CNC-L2"], 30, 6.0),
    "MILL": (["MILL-M1", "CNC-M1", "CNC-M2"], 40, 8.0), "BORE": (["BORE1", "CNC-M2"], 30, 6.0),
    "DRILL": (["DRILL1", "DRILL2", "CNC-M1"], 15, 2.0), "TAP": (["DRILL2", "TAP1"], 10, 1.5),
    "GRIND": (["GRIND-C1", "GRIND-C2"], 35, 7.0), "HEAT": (["OUT-HT"], 0, 30.0),
    "HOB": (["HOB1", "HOB2"], 45, 12.0), "BEND": (["PRESS1", "PRESS2"], 20, 1.0),
    "WELD": (["WELD1", "WELD2"], 15, 9.0), "PAINT": (["PAINT1"], 10, 2.0),
    "DEBURR": (["BENCH1", "BENCH2", "TUMBLE1"], 2, 1.0), "EDM": (["EDM1", "EDM2"], 40, 20.0),
    "INSP": (["QC1", "QC2", "CMM1"], 5, 1.5),
}  # fmt: skip
ORDER_COLUMNS = [("ORDER_NO", "TEXT"), ("PART_NO", "TEXT"), ("DESCRIPTION", "TEXT"),
                 ("MATERIAL", "TEXT"), ("QTY", "REAL"), ("ORDER_DATE", "TEXT")]  # fmt: skip
STEP_COLUMNS = [("ORDER_NO", "TEXT"), ("STEP", "INTEGER"), ("OP", "TEXT"), ("MACHINE", "TEXT"),
                ("SETUP_MIN", "REAL"), ("RUN_MIN", "REAL")]  # fmt: skip


def generate_shopfloor(path: str | Path, items: int, seed: int, progress=None) -> dict:
    """Write the order log to ``path`` (replaced atomically); ``items`` orders; returns counts."""
    started = time.perf_counter()
    report = progress or (lambda stage, fraction, message: None)
    rng = np.random.default_rng(seed)
    report("items", 0.0, f"generating {items} orders")
    parts = _parts(rng, max(1, items // 4))
    orders, steps = _orders(rng, parts, items)
    report("write", 0.5, "writing the order log")
    write_atomically(path, lambda tmp: _write(tmp, orders, steps))
    counts = {
        "items": items,
        "routed_items": items,
        "routings": items,
        "operations": len(steps),
        "work_results": 0,
        "seconds": round(time.perf_counter() - started, 2),
    }
    report("done", 1.0, f"{len(steps)} order steps written")
    return counts


def _parts(rng, n: int) -> list[dict]:
    """``n`` distinct parts: kind, material, sizes, their own routing and order popularity."""
    kinds = list(KINDS)
    out = []
    for p in range(n):
        kind = kinds[rng.integers(len(kinds))]
        words, (d0, d1), (l0, l1), base = KINDS[kind]
        mat = int(rng.integers(len(MATERIALS)))
        d = float(np.round(np.exp(rng.uniform(np.log(d0), np.log(d1)))))
        length = float(np.round(np.exp(rng.uniform(np.log(l0), np.log(l1)))))
        out.append(
            {
                "part_no": f"P{100000 + p * 7 + int(rng.integers(7)):07d}",
                "kind": kind,
                "mat": mat,
                "d": d,
                "l": length,
                "routing": _part_routing(rng, base, mat, d),
                "popularity": float(rng.lognormal(0.0, 1.3)),
                "spelling": int(rng.integers(1 << 30)),
            }
        )
    return out


def _part_routing(rng, base: list[str], mat: int, size: float) -> list[tuple[str, int]]:
    """The part's own routing: (operation, index of its usual machine); optional steps drop."""
    _, _, hardenable, paint = MATERIALS[mat]
    ops = []
    for op in base:
        if op == "HEAT" and not hardenable:
            continue
        if op == "PAINT" and not paint:
            continue
        if op in ("MILL", "GRIND", "DEBURR", "DRILL") and rng.random() < 0.3:
            continue
        machines = MACHINES[op][0]
        usual = int(min(len(machines) - 1, size // 60)) if len(machines) > 2 else 0
        ops.append((op, usual))
    return ops


def _orders(rng, parts: list[dict], n: int) -> tuple[list[tuple], list[tuple]]:
    weights = np.array([p["popularity"] for p in parts])
    first = rng.permutation(len(parts))[: min(len(parts), n)]  # every part ordered at least once
    more = rng.choice(len(parts), size=n - len(first), p=weights / weights.sum())
    chosen = rng.permutation(np.r_[first, more])
    orders, steps = [], []
    for i, p in enumerate(chosen.tolist()):
        part = parts[p]
        order_no = f"WO{200000 + i:07d}"
        qty = float(max(1, round(np.exp(rng.normal(2.5, 1.3)))))
        material = MATERIALS[part["mat"]][0] if rng.random() < 0.6 else None
        date = f"20{20 + i * 6 // n:02d}-{1 + i % 12:02d}-{1 + i % 28:02d}"
        orders.append((order_no, part["part_no"], _description(rng, part), material, qty, date))
        for s, (op, machine) in enumerate(_vary(rng, part["routing"], qty), start=1):
            setup, run = _times(rng, op, part)
            steps.append((order_no, s * 10, op, machine, setup, run))
    return orders, steps


def _vary(rng, routing: list[tuple[str, int]], qty: float) -> list[tuple[str, str]]:
    """This order's routing: the part's with re-work, skips, swaps and alternate machines."""
    ops = list(routing)
    r = rng.random(4)
    if r[0] < 0.15 and len(ops) > 2:  # a step done twice (re-work)
        j = int(rng.integers(1, len(ops) - 1))
        ops.insert(j + 1, ops[j])
    if r[1] < 0.15 and len(ops) > 3:  # a step skipped
        ops.pop(int(rng.integers(1, len(ops) - 1)))
    if r[2] < 0.12 and len(ops) > 3:  # two adjacent steps swapped
        j = int(rng.integers(1, len(ops) - 2))
        ops[j], ops[j + 1] = ops[j + 1], ops[j]
    out = []
    for op, usual in ops:
        machines = MACHINES[op][0]
        m = usual
        if qty >= 100 and len(machines) > 2:
            m = len(machines) - 1  # large lots on the automatic machine
        elif rng.random() < 0.2 and len(machines) > 1:
            m = int(rng.integers(len(machines)))  # the machine that was free
        out.append((op, machines[m]))
    return out


def _times(rng, op: str, part: dict) -> tuple[float, float]:
    _, setup, run = MACHINES[op]
    scale = (part["d"] / 50.0) ** 0.6 * (part["l"] / 100.0) ** 0.3
    noise = np.exp(rng.normal(0, 0.15, 2))
    return round(setup * noise[0], 1), round(run * scale * noise[1], 2)


def _description(rng, part: dict) -> str:
    """The part as somebody typed it on this order: mostly the usual spelling, sometimes not."""
    words = KINDS[part["kind"]][0]
    materials = MATERIALS[part["mat"]][1]
    d, length = f"{part['d']:g}", f"{part['l']:g}"
    usual = np.random.default_rng(part["spelling"])
    pick = usual if rng.random() < 0.6 else rng
    kind = words[int(pick.integers(len(words)))]
    dims = [f"D{d}x{length}", f"Ø{d} x {length}", f"{d}x{length}", f"D{d} L{length}"][
        int(pick.integers(4))
    ]
    material = materials[int(pick.integers(len(materials)))]
    order = int(pick.integers(3))
    parts = [[kind, dims, material], [kind, material, dims], [material, kind, dims]][order]
    if pick.random() < 0.3:
        parts.remove(material)  # the material left out
    return " ".join(parts)


def _write(path: Path, orders: list[tuple], steps: list[tuple]) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        for table, cols, rows in ((ORDER_TABLE, ORDER_COLUMNS, orders),
                                  (STEP_TABLE, STEP_COLUMNS, steps)):  # fmt: skip
            conn.execute(f'CREATE TABLE "{table}" ({", ".join(f"{c} {t}" for c, t in cols)})')
            marks = ", ".join("?" * len(cols))
            conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)
        conn.commit()
    finally:
        conn.close()
