"""A synthetic plant database shaped like the plant's ERP export (DESIGN §3).

``generate(path, items, seed)`` writes a SQLite file with ``dbo_BI_ITEM_INFO_VIEW``,
``dbo_BI_ROUTING_VIEW`` and ``dbo_BI_WORK_ORDER_RESULTS`` under the real column names, so the
shipped ``plant-default`` profile reads it unchanged. The same seed gives the same rows.

The data is built so that a similarity model has something true to learn, and something hard:

- a *family* (part type × material class × raw material form × seal type group) picks a
  routing template; outside diameter thresholds pick the machines (Swiss lathe / CNC / vertical
  lathe), a hardenable alloy adds outsourced heat treatment, oil & gas sleeves get an outsourced
  hard coating, a pumping seal type adds milling, pharma/food items get polishing, API682 work
  gets marking and an in-process inspection; a little noise (an alternate machine, an extra
  deburring, a missing final inspection) makes routings of one family differ now and then;
- routing times scale with the true dimensions and the material, and are written in the
  routing's own time unit, spelled the many ways ERP users spell them (MIN, min, M, H, HR,
  hour, SEC, S …); run times are per RUN_TIME_QTY pieces;
- attributes are sparse as real exports are: the dimension the routing depends on is hidden
  (0) for a third of items, several columns are 75–100 % empty, DRAW_NO and ITEM_SPEC have
  thousands of values, and about a fifth of the items are near-duplicates of another (same
  drawing and name stem, another suffix) that mostly share its routing;
- about 5 % of items have no routing yet (new items) and about 10 % have a second one
  (ROUT_NO '02', alternate machines); about 40 % of routed items have work-order actuals whose
  hours scatter around the standard times, with rare outliers.

Everything is vectorised with numpy; one Python loop runs over the distinct routing shapes
(a few thousand), never over items or operations. The file is written under a temporary name
and renamed into place, with SQLite's journal and fsync off while it is being filled.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from registry_app.pipeline.sample_catalogue import (
    ALLOY,
    ALT,
    API,
    APPLICATIONS,
    BAR,
    CARBON,
    CLASSES,
    CST,
    END,
    EPOCH,
    EXTRA_DBR,
    FINISH,
    FRG,
    HARD,
    HARDCOAT,
    INDUSTRIES,
    INSP_M,
    MATERIAL_SPEED,
    MATERIALS,
    MLD,
    NO_FINAL,
    NORAW,
    OPERATIONS,
    OUTSOURCED_DAYS,
    PART_TYPES,
    PIPE,
    PLT,
    PT,
    PUMP,
    RAW_KINDS,
    ROUTE2,
    SEAL_GROUPS,
    SHAFT_SIZES,
    SNT,
    TEMPLATES,
    TIME_UNITS,
    TURN_KINDS,
    WORK_CENTERS,
)

ITEM_TABLE = "dbo_BI_ITEM_INFO_VIEW"
ROUTING_TABLE = "dbo_BI_ROUTING_VIEW"
WORK_ORDER_TABLE = "dbo_BI_WORK_ORDER_RESULTS"

NUMERIC_ITEM_COLUMNS = {
    "OUTDIAMETER",
    "INDIAMETER",
    "OUTTHICKNESS",
    "IN_SEALSIZE",
    "MID_SEALSIZE",
    "OUT_SEALSIZE",
}
ITEM_COLUMNS = [
    "ITEM_CD", "PART_TYPE", "PartNm", "ITEM_SUFFIX", "ITEM_SPEC", "ITEM_NM", "ADDITIONAL_SPEC",
    "ITEM_MATERIAL", "MATERIAL_DESC", "ITEM_ACCT", "ITEM_TYPE", "ITEM_UNIT", "ITEM_GRP1",
    "ITEM_GRP1NM", "STANDARD_YN", "GROUP1", "GROUP2", "DRAW_NO", "DRAW_REV", "DRAW_SHEET_NO",
    "OUTDIAMETER", "INDIAMETER", "OUTTHICKNESS", "OUTDIAMETER_UNIT", "ROTATE_CLOCKWISE",
    "ROTATE_CTRCLOCKWISE", "SealTypeGrup", "IN_SEALTYPE_CD", "MID_SEALTYPE_CD", "OUT_SEALTYPE_CD",
    "IN_SEALSIZE", "MID_SEALSIZE", "OUT_SEALSIZE", "IN_SEALSIZE_UOM", "MID_SEALSIZE_UOM",
    "OUT_SEALSIZE_UOM", "RAW_MATL_KIND", "RAW_MATL_KINDNM",
]  # fmt: skip
ROUTING_COLUMNS = [
    ("ITEM_CD", "TEXT"), ("ROUT_NO", "TEXT"), ("PROC_SEQ", "INTEGER"), ("JOB_CD", "TEXT"),
    ("JOB_NM", "TEXT"), ("RES_CD", "TEXT"), ("RES_DIS", "TEXT"), ("INSIDE_FLAG", "TEXT"),
    ("TIME_UNIT", "TEXT"), ("SETUP_TIME", "REAL"), ("RUN_TIME", "REAL"), ("RUN_TIME_QTY", "REAL"),
    ("QUEUE_TIME", "REAL"), ("WAIT_TIME", "REAL"), ("MOVE_TIME", "REAL"), ("MFG_LT", "REAL"),
    ("INSRT_DT", "TEXT"), ("VALID_FROM_DT", "TEXT"), ("VALID_TO_DT", "TEXT"),
]  # fmt: skip
WORK_ORDER_COLUMNS = [
    ("ITEM_CD", "TEXT"), ("ROUT_NO", "TEXT"), ("PROC_SEQ", "INTEGER"), ("JOB_CD", "TEXT"),
    ("RES_CD", "TEXT"), ("REPORT_DT", "TEXT"), ("SETUP_HOURS", "REAL"),
    ("MACH_WORKED_HOURS", "REAL"), ("ORDER_QTY", "REAL"), ("BAD_QTY", "REAL"),
]  # fmt: skip


Progress = Callable[[str, float, str], None]


STYLES = ("plant", "shopfloor")


def generate(
    path: str | Path,
    items: int,
    seed: int,
    progress: Progress | None = None,
    style: str = "plant",
) -> dict:
    """Write the synthetic plant database to ``path`` (replaced atomically); returns counts.

    ``style="shopfloor"`` writes a machine-shop order log instead
    (:mod:`registry_app.pipeline.sample_shopfloor`)."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, not {style!r}")
    if items < 1:
        raise ValueError("items must be at least 1")
    if style == "shopfloor":
        from registry_app.pipeline.sample_shopfloor import generate_shopfloor

        return generate_shopfloor(path, items, seed, progress)
    started = time.perf_counter()
    report = progress or (lambda stage, fraction, message: None)
    rng = np.random.default_rng(seed)
    report("items", 0.0, f"generating {items} items")
    it = _items(rng, items)
    report("routings", 0.2, "building routings")
    rt = _routings(rng, it)
    report("work_orders", 0.4, "simulating work orders")
    wo = _work_orders(rng, it, rt)
    write_atomically(path, lambda tmp: _write(tmp, it["columns"], rt["columns"], wo, report))
    counts = {
        "items": items,
        "routed_items": int(it["has_routing"].sum()),
        "routings": int(len(rt["r_item"])),
        "operations": int(len(rt["columns"]["ITEM_CD"])),
        "work_results": int(len(wo["ITEM_CD"])),
        "seconds": round(time.perf_counter() - started, 2),
    }
    report("done", 1.0, f"{counts['operations']} operations written")
    return counts


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> None:
    """``write`` a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- items --------------------------------------------------------------------------------------


def _pick(rng, n: int, probs) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _hide(rng, values, share_visible: float) -> np.ndarray:
    """An object array with ``None`` where the export leaves the column empty."""
    out = np.array(values, dtype=object)
    out[rng.random(len(out)) >= share_visible] = None
    return out


def _fmt(template: str, values: np.ndarray) -> np.ndarray:
    return np.array([template.format(v) for v in values.tolist()], dtype=object)


def _g(values: np.ndarray) -> np.ndarray:
    """Numbers as the ERP prints them: 45, 45.5 (never 45.0)."""
    return _fmt("{:g}", values)


def _of(values, index: np.ndarray) -> np.ndarray:
    return np.array(list(values), dtype=object)[index]


def _base_items(rng, n: int) -> dict:
    """Hidden truth of ``n`` distinct designs: family, dimensions, industry, routing flags."""
    pt = _pick(rng, n, [p[2] for p in PART_TYPES])
    mix = np.array([p[7] for p in PART_TYPES])[pt]
    mc = (rng.random(n)[:, None] > np.cumsum(mix / mix.sum(1, keepdims=True), axis=1)).sum(1)
    mat = np.empty(n, dtype=np.int64)
    for c in range(len(CLASSES)):
        idx = np.flatnonzero(mc == c)
        mat[idx] = rng.choice([i for i, m in enumerate(MATERIALS) if m[2] == c], size=len(idx))
    med, sig = (np.array([p[k] for p in PART_TYPES])[pt] for k in (4, 5))
    od = np.clip(np.round(med * np.exp(rng.normal(0, sig)) * 2) / 2, 8, 900)
    idia = np.where(pt != PT["SH"], np.round(od * rng.uniform(0.55, 0.85, n) * 2) / 2, 0.0)
    lo, hi = (np.array([p[6][k] for p in PART_TYPES])[pt] for k in (0, 1))
    seal = np.where(
        np.array([p[3] for p in PART_TYPES])[pt], 1 + _pick(rng, n, [50, 18, 7, 10, 7, 8]), 0
    )
    cartridge = pt == PT["CA"]
    seal[cartridge] = np.array([4, 2, 3])[_pick(rng, int(cartridge.sum()), [5, 3, 2])]
    seal[pt == PT["BL"]] = 6
    in_type = np.where(seal > 0, _pick(rng, n, [35, 30, 12, 10, 13]), -1)  # B U P Q C
    industry = _pick(rng, n, [18, 12, 20, 12, 14, 6, 6, 6, 6])
    oil, r = industry <= 1, rng.random((4, n))
    flags = np.where(in_type == 2, PUMP, 0)
    flags |= np.where((np.isin(industry, [5, 6]) & (r[0] < 0.8)) | (r[1] < 0.03), FINISH, 0)
    flags |= np.where((oil & (r[2] < 0.7)) | (r[1] > 0.97), API, 0)
    sleeve = np.isin(pt, [PT["SL"], PT["SH"]]) & (oil | (industry == 8))
    flags |= np.where(sleeve & (r[3] < 0.6), HARDCOAT, 0)
    return {
        "pt": pt, "mc": mc, "mat": mat, "od": od, "id": idia,
        "len": np.round(od * rng.uniform(lo, hi), 1), "seal": seal, "in_type": in_type,
        "industry": industry, "flags": flags, "application": _pick(rng, n, [45, 12, 10, 8, 5, 5]),
        "name": rng.integers(0, 3, n), "draw": rng.permutation(n) + 10_000,
        "serial": rng.permutation(n) * 7 + rng.integers(0, 7, n) + 100_000,
    }  # fmt: skip


def _variants(rng, base: dict, n_var: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Near-duplicates of random base designs: same stem, another suffix, small changes."""
    of = np.sort(rng.integers(0, len(base["pt"]), n_var))
    var = {k: v[of].copy() for k, v in base.items()}
    starts = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])[: max(n_var, 0)]
    rank = np.arange(n_var) - np.repeat(starts, np.diff(np.r_[starts, n_var]))
    for i in np.flatnonzero(rng.random(n_var) < 0.2):  # another material of the same class
        same = [j for j, m in enumerate(MATERIALS) if m[2] == var["mc"][i]]
        var["mat"][i] = same[rng.integers(0, len(same))]
    scale = np.where(rng.random(n_var) < 0.3, rng.uniform(0.9, 1.1, n_var), 1.0)
    for key in ("od", "id", "len"):
        var[key] = np.round(var[key] * scale * 2) / 2
    return var, of, rank


def _suffix(rank: int) -> str:
    """A, B, … Z, AA, AB …"""
    letters, rank = "", rank + 1
    while rank:
        rank, r = divmod(rank - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _items(rng, n: int) -> dict:
    n_var = int(round(n * 0.22)) if n >= 10 else 0
    base = _base_items(rng, n - n_var)
    var, of, rank = _variants(rng, base, n_var)
    t = {k: np.concatenate([base[k], var[k]]) for k in base}
    t["base_of"] = np.r_[np.arange(n - n_var), of]
    t["suffix"] = np.array([""] * (n - n_var) + [_suffix(int(r)) for r in rank], dtype=object)
    t["raw"] = _raw_kind(rng, t)
    cols = {**_identity(rng, t), **_classification(rng, t), **_dimensions(rng, t), **_seal(rng, t)}
    cols = {
        k: np.asarray(cols[k], dtype=float if k in NUMERIC_ITEM_COLUMNS else object)
        for k in ITEM_COLUMNS
    }
    order = np.argsort(cols["ITEM_CD"].astype(str), kind="stable")  # the export is sorted by code
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    t = {k: v[order] for k, v in t.items()}
    t["base_pos"] = position[t["base_of"]]
    t["columns"] = {k: v[order] for k, v in cols.items()}
    t["has_routing"] = rng.random(n) >= 0.05
    return t


def _identity(rng, t: dict) -> dict:
    """Codes, names, drawing: a near-duplicate repeats its base's stems with its own suffix."""
    n, sfx = len(t["pt"]), t["suffix"]
    dash = np.where(sfx != "", "-", "")
    pt = _of([p[0] for p in PART_TYPES], t["pt"])
    names = [[p[1][k % len(p[1])] for k in range(3)] for p in PART_TYPES]
    part_nm = np.array(names, dtype=object)[t["pt"], t["name"]]
    sheet = np.array([f"-{ord(x[-1]) - 63:02d}" if x else "" for x in sfx.tolist()], dtype=object)
    stem = (
        part_nm
        + " "
        + _g(t["od"])
        + "X"
        + _g(t["id"])
        + " "
        + _of([m[0] for m in MATERIALS], t["mat"])
    )
    return {
        "ITEM_CD": pt + _fmt("{:07d}", t["serial"]) + sfx,
        "PART_TYPE": pt,
        "PartNm": _hide(rng, part_nm, 0.92),
        "ITEM_SUFFIX": np.where(sfx != "", sfx, np.where(rng.random(n) < 0.06, "N", None)),
        "ITEM_SPEC": _hide(rng, _g(t["od"]) + "X" + _g(t["id"]) + "X" + _g(t["len"]), 0.8),
        "ITEM_NM": _hide(rng, stem + dash + sfx, 0.99),
        "DRAW_NO": _hide(rng, pt + "-" + _fmt("{:06d}", t["draw"]) + sheet, 0.7),
        "DRAW_REV": _hide(rng, _of(list("0ABC1D"), _pick(rng, n, [2, 3, 2, 1, 1, 1])), 0.55),
        "DRAW_SHEET_NO": _hide(rng, _of(["1", "2", "3"], _pick(rng, n, [70, 20, 10])), 0.18),
    }  # fmt: skip


def _classification(rng, t: dict) -> dict:
    n, pt, mc = len(t["pt"]), t["pt"], t["mc"]
    product = np.isin(pt, [PT["CA"], PT["BL"]])
    unit = np.where(pt == PT["CA"], np.where(rng.random(n) < 0.85, "SET", "EA"), "EA")
    grp_name = np.array([[f"{p[1][0]} / {c}" for c in CLASSES] for p in PART_TYPES], dtype=object)
    return {
        "ADDITIONAL_SPEC": _additional_spec(rng, t["flags"]),
        "ITEM_MATERIAL": _hide(rng, _of([m[0] for m in MATERIALS], t["mat"]), 0.95),
        "MATERIAL_DESC": _hide(rng, _of([m[1] for m in MATERIALS], t["mat"]), 0.7),
        "ITEM_ACCT": np.where(product, "30", np.where(rng.random(n) < 0.85, "20", "25")),
        "ITEM_TYPE": np.where(rng.random(n) < 0.95, "M", "S"),
        "ITEM_UNIT": np.where(rng.random(n) < 0.03, "PCS", unit),
        "ITEM_GRP1": _hide(rng, "G" + _fmt("{:02d}", pt + 1) + _fmt("{}", mc), 0.9),
        "ITEM_GRP1NM": _hide(rng, grp_name[pt, mc], 0.75),
        "STANDARD_YN": _of(["Y", "N", None], _pick(rng, n, [30, 50, 20])),
        "GROUP1": _hide(rng, _of(APPLICATIONS, t["application"]), 0.65),
        "GROUP2": _hide(rng, _of(INDUSTRIES, t["industry"]), 0.5),
        "RAW_MATL_KIND": _hide(rng, _of([r[0] or None for r in RAW_KINDS], t["raw"]), 0.85),
        "RAW_MATL_KINDNM": _hide(rng, _of([r[1] or None for r in RAW_KINDS], t["raw"]), 0.6),
    }  # fmt: skip


def _dimensions(rng, t: dict) -> dict:
    """Real exports say 0 for a dimension nobody filled in, and now and then NULL."""
    n = len(t["pt"])
    seen = rng.random((3, n)) < np.array([[0.62], [0.5], [0.45]])
    dims = [np.where(s, t[k], 0.0) for s, k in zip(seen, ("od", "id", "len"), strict=True)]
    for d in dims:
        d[rng.random(n) < 0.02] = np.nan
    unit = np.where(
        seen[0] & (rng.random(n) < 0.6), np.where(rng.random(n) < 0.9, "MM", "mm"), None
    )
    return {
        "OUTDIAMETER": dims[0],
        "INDIAMETER": dims[1],
        "OUTTHICKNESS": dims[2],
        "OUTDIAMETER_UNIT": unit,
    }


def _seal(rng, t: dict) -> dict:
    """Seal type and size columns: filled for seal parts only, and not always then."""
    n, seal = len(t["pt"]), t["seal"]
    part, double = seal > 0, np.isin(seal, [2, 3])
    shaft = SHAFT_SIZES[
        np.clip(np.searchsorted(SHAFT_SIZES, np.maximum(t["id"], 16)), 0, len(SHAFT_SIZES) - 1)
    ]
    mid = double & (rng.random(n) < 0.04)
    out_codes = _of("BUP", _pick(rng, n, [5, 3, 2]))
    in_codes = np.where(
        seal == 6, "BW", _of(["B", "U", "P", "Q", "C"], np.maximum(t["in_type"], 0))
    )
    c = {
        "ROTATE_CLOCKWISE": np.where(part & (rng.random(n) < 0.10), "Y", None),
        "ROTATE_CTRCLOCKWISE": np.where(part & (rng.random(n) < 0.06), "Y", None),
        "SealTypeGrup": np.where(part & (rng.random(n) < 0.85), _of(SEAL_GROUPS, seal), None),
        "IN_SEALTYPE_CD": np.where(part & (rng.random(n) < 0.7), in_codes, None),
        "MID_SEALTYPE_CD": np.where(mid, "T", None),
        "OUT_SEALTYPE_CD": np.where(double & (rng.random(n) < 0.8), out_codes, None),
    }  # fmt: skip
    outer = shaft + 10 * rng.integers(1, 4, n)
    sides = (("IN", shaft, part & (rng.random(n) < 0.7)), ("MID", shaft + 5, mid),
             ("OUT", outer, double & (rng.random(n) < 0.75)))  # fmt: skip
    for side, size, seen in sides:
        inch = seen & (rng.random(n) < 0.04)
        c[f"{side}_SEALSIZE"] = np.where(
            seen, np.where(inch, np.round(size / 25.4, 3), size), np.nan
        )
        uom = np.where(inch, "INCH", np.where(rng.random(n) < 0.9, "MM", "mm"))
        c[f"{side}_SEALSIZE_UOM"] = np.where(seen & (side != "MID"), uom, None)
    return c


def _additional_spec(rng, flags: np.ndarray) -> np.ndarray:
    n = len(flags)
    r = rng.random(n)
    misc = _of(
        ["ATEX", "NACE MR0175", "LAPPED 2 LIGHT BANDS", "SPECIAL PACKING"], rng.integers(0, 4, n)
    )
    out = np.where(r < 0.03, misc, None)
    out = np.where((flags & HARDCOAT > 0) & (r < 0.5), "HARD COATING CR2O3", out)
    finish = np.where(r < 0.3, "MIRROR FINISH RA0.05", "FDA COMPLIANT")
    out = np.where((flags & FINISH > 0) & (r < 0.5), finish, out)
    api = np.where(rng.random(n) < 0.5, "API682 CAT2", "API682 CAT3")
    return np.where((flags & API > 0) & (r < 0.45), api, out)


def _raw_kind(rng, t: dict) -> np.ndarray:
    pt, mc, od, r = t["pt"], t["mc"], t["od"], rng.random(len(t["pt"]))
    raw = np.where(r < 0.9, BAR, FRG)
    raw = np.where((pt == PT["SL"]) & (r < 0.4), PIPE, raw)
    raw = np.where(od > 150, np.where(r < 0.5, FRG, np.where(r < 0.8, PIPE, BAR)), raw)
    raw = np.where(pt == PT["HS"], np.where(r < 0.7, CST, FRG), raw)
    raw = np.where(np.isin(pt, [PT["PL"], PT["BL"]]), PLT, raw)
    raw = np.where(mc == HARD, SNT, np.where(mc == CARBON, MLD, raw))
    return np.where(pt == PT["CA"], NORAW, raw)


# --- routings -----------------------------------------------------------------------------------


def _insert(
    ops: list[str], new: str, before: tuple[str, ...] = (), after: tuple[str, ...] = ()
) -> None:
    if new in ops:
        return
    if after:
        hits = [i for i, op in enumerate(ops) if op in after]
        if hits:
            ops.insert(hits[-1] + 1, new)
            return
    hits = [i for i, op in enumerate(ops) if op in before + ("INSP-F",)]
    ops.insert(hits[0] if hits else len(ops), new)


def _shape(pt: int, mc: int, raw: int, seal: int, size: int, flags: int) -> list[tuple[str, str]]:
    """The operation list (op code, work center) of one routing shape."""
    code = PART_TYPES[pt][0]
    ops = list(TEMPLATES.get((code, mc)) or TEMPLATES[(code, None)])
    if raw not in (BAR, PIPE, PLT) and "CUT" in ops:
        ops.remove("CUT")
    if mc == ALLOY and "HT" not in ops:
        _insert(ops, "HT", before=("GRD1", "GRD2"))
    if flags & HARDCOAT:
        _insert(ops, "CTG", before=("GRD1", "GRD2"))
    if flags & PUMP and code in ("SL", "SR", "PR"):
        _insert(ops, "MCT", after=("LTH1", "LTH2"))
    if SEAL_GROUPS[seal] == "SPLIT" and code in ("SR", "SS", "GL"):
        _insert(ops, "EDM", before=("LAP", "DBR", "WSH"))
    if code == "CA" and SEAL_GROUPS[seal] in ("DOUBLE", "TANDEM"):
        _insert(ops, "LKT", after=("PRT",))
    if flags & FINISH:
        _insert(ops, "POL", before=("FLT", "WSH"))
    if flags & API:
        _insert(ops, "MRK")
    if flags & (API | INSP_M) and len(ops) > 3:
        _insert(ops, "INSP-M", after=(ops[1],))
    if flags & EXTRA_DBR:
        _insert(ops, "DBR")
    if flags & NO_FINAL and ops[-1] == "INSP-F":
        ops.pop()
    return _machines(ops, size, flags)


def _machines(ops: list[str], size: int, flags: int) -> list[tuple[str, str]]:
    out = []
    for op in ops:
        if op in ("LTH1", "LTH2") and size == 0:
            if op == "LTH1":
                out.append(("SWS", "SWS01"))
            continue
        if op in ("LTH1", "LTH2") and size == 2:
            op = "VTL"
        if op == "MCT" and flags & ROUTE2 and size == 2:
            op = "OMC"
        primary, alternate = OPERATIONS[op][1], OPERATIONS[op][2]
        wc = alternate if flags & ROUTE2 else primary
        if op == "GRD1" and size == 2:
            wc = "GRD-C02"
        out.append((op, wc))
    if flags & ALT:
        for i, (op, wc) in enumerate(out):
            if OPERATIONS[op][5] in ("turn", "mill") and OPERATIONS[op][2] != wc:
                out[i] = (op, OPERATIONS[op][2])
                break
    return out


def _routings(rng, it: dict) -> dict:
    n = len(it["pt"])
    noise = np.zeros(n, dtype=np.int64)
    for bit, share in ((ALT, 0.12), (EXTRA_DBR, 0.06), (NO_FINAL, 0.04), (INSP_M, 0.05)):
        noise |= np.where(rng.random(n) < share, bit, 0)
    # a near-duplicate was usually created by copying its base item's routing, noise and all
    noise = np.where(rng.random(n) < 0.7, noise[it["base_pos"]], noise)
    size = np.where(it["od"] < 30, 0, np.where(it["od"] > 250, 2, 1))
    has1 = np.flatnonzero(it["has_routing"])
    has2 = has1[rng.random(len(has1)) < 0.10]
    r_item = np.concatenate([has1, has2])
    r_two = np.r_[np.zeros(len(has1), bool), np.ones(len(has2), bool)]
    order = np.lexsort((r_two, r_item))
    r_item, r_two = r_item[order], r_two[order]
    flags = it["flags"][r_item] | noise[r_item] | np.where(r_two, ROUTE2, 0)
    fam = (((it["pt"] * 8 + it["mc"]) * 8 + it["raw"]) * 8 + it["seal"]) * 4 + size
    key = fam[r_item] * 1024 + flags
    uniq, inverse = np.unique(key, return_inverse=True)
    shapes = [_shape(*_unpack(int(k))) for k in uniq.tolist()]
    return _expand(rng, it, r_item, r_two, inverse, shapes, size)


def _unpack(key: int) -> tuple[int, int, int, int, int, int]:
    key, flags = divmod(key, 1024)
    key, size = divmod(key, 4)
    key, seal = divmod(key, 8)
    key, raw = divmod(key, 8)
    pt, mc = divmod(key, 8)
    return pt, mc, raw, seal, size, flags


def _ragged(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of ``lengths``: each row's group number and its position within the group."""
    total = int(lengths.sum())
    group = np.repeat(np.arange(len(lengths)), lengths)
    within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return group, within


def _iso_dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(EPOCH + days.astype("timedelta64[D]"), unit="D").astype(object)


def _expand(rng, it: dict, r_item, r_two, inverse, shapes, size) -> dict:
    """One row per operation of every routing, with times in the routing's own unit."""
    op_codes, wc_codes = list(OPERATIONS), list(WORK_CENTERS)
    lens = np.array([len(s) for s in shapes])[inverse]
    flat_op = np.array([op_codes.index(op) for s in shapes for op, _ in s])
    flat_wc = np.array([wc_codes.index(wc) for s in shapes for _, wc in s])
    row_r, within = _ragged(lens)
    flat = (np.cumsum([len(s) for s in shapes]) - [len(s) for s in shapes])[inverse][row_r] + within
    op, wc, item = flat_op[flat], flat_wc[flat], r_item[row_r]
    std = _standard_times(rng, it, op, item, size)
    cols = {
        "ITEM_CD": it["columns"]["ITEM_CD"][item],
        "ROUT_NO": np.where(r_two, "02", "01").astype(object)[row_r],
        "PROC_SEQ": (within + 1) * 10,
        "JOB_CD": _of(op_codes, op),
        "JOB_NM": _of([OPERATIONS[c][0] for c in op_codes], op),
        "RES_CD": _of(wc_codes, wc),
        "RES_DIS": _of([WORK_CENTERS[c] for c in wc_codes], wc),
        "INSIDE_FLAG": np.where(std["external"], "N", "Y").astype(object),
        "MFG_LT": std["days"].astype(float),
        **_in_units(rng, std, row_r, size[r_item]),
        **_routing_dates(rng, r_two, row_r),
    }
    starts = np.cumsum(lens) - lens
    return {"columns": {c: cols[c] for c, _ in ROUTING_COLUMNS}, "r_item": r_item, "r_two": r_two,
            "r_start": starts, "r_len": lens, "hard": it["mc"][item] == HARD, **std}  # fmt: skip


def _standard_times(rng, it: dict, op: np.ndarray, item: np.ndarray, size: np.ndarray) -> dict:
    """Standard minutes per operation row: they grow with the true size and the material."""
    op_codes, rows = list(OPERATIONS), len(op)
    kind = _of([OPERATIONS[c][5] for c in op_codes], op)
    external = kind == "ext"
    size_f = np.clip((it["od"][item] / 60) ** 0.6, 0.35, 5.0)
    len_f = np.clip((it["len"][item] / 20) ** 0.35, 0.6, 2.5)
    speed = MATERIAL_SPEED[it["mc"][item]]
    scale = np.where(np.isin(kind, TURN_KINDS), size_f * len_f * speed, np.sqrt(size_f))
    run_pc = np.round(
        np.array([OPERATIONS[c][4] for c in op_codes])[op] * scale * rng.lognormal(0, 0.12, rows), 1
    )
    setup = (
        np.array([OPERATIONS[c][3] for c in op_codes])[op]
        * (1 + 0.25 * size[item])
        * rng.lognormal(0, 0.1, rows)
    )
    setup = np.where(setup >= 10, np.round(setup / 5) * 5, np.round(setup))
    days = np.array([OUTSOURCED_DAYS.get(c, 1) for c in op_codes])[op]
    days = days + np.where(external, rng.integers(-1, 4, rows), 0)
    queue = np.array([0.0, 30, 60, 120])[_pick(rng, rows, [60, 20, 10, 10])]
    return {
        "external": external, "days": days, "setup": np.where(external, 0.0, setup),
        "run_pc": np.where(external, 0.0, run_pc), "queue": np.where(external, 0.0, queue),
        "wait": np.where(external, days * 1440.0, 0.0),
        "move": np.array([0.0, 10, 20, 30])[_pick(rng, rows, [50, 25, 15, 10])],
    }  # fmt: skip


def _in_units(rng, std: dict, row_r: np.ndarray, size: np.ndarray) -> dict:
    """The times as the ERP holds them: per RUN_TIME_QTY pieces, in the routing's TIME_UNIT."""
    routings = len(size)
    qty = np.array([1.0, 10, 100, 0, np.nan])[_pick(rng, routings, [83, 10, 4, 1.5, 1.5])]
    qty = np.where((size == 0) & (rng.random(routings) < 0.3), 100.0, qty)
    qty = np.where((size == 2) & (qty > 1), 1.0, qty)  # big parts are timed one by one
    per = np.where(np.nan_to_num(qty) >= 1, np.nan_to_num(qty), 1.0)[row_r]
    unit = _pick(rng, routings, [u[2] for u in TIME_UNITS])
    factor = np.array([u[1] for u in TIME_UNITS])[unit][row_r]
    digits = np.where(factor < 1, 4, np.where(factor > 1, 1, 2))

    def convert(minutes: np.ndarray) -> np.ndarray:
        value = minutes * factor
        return np.select(
            [digits == 4, digits == 1], [np.round(value, 4), np.round(value, 1)], np.round(value, 2)
        )

    return {
        "TIME_UNIT": _of([u[0] for u in TIME_UNITS], unit)[row_r],
        "SETUP_TIME": convert(std["setup"]),
        "RUN_TIME": convert(std["run_pc"] * per),
        "RUN_TIME_QTY": qty[row_r],
        "QUEUE_TIME": convert(std["queue"]),
        "WAIT_TIME": convert(std["wait"]),
        "MOVE_TIME": convert(std["move"]),
    }  # fmt: skip


def _routing_dates(rng, r_two: np.ndarray, row_r: np.ndarray) -> dict:
    routings = len(r_two)
    created = rng.integers(0, int((END - EPOCH).astype(int)) - 30, routings)
    seconds = rng.integers(6 * 3600, 19 * 3600, routings).astype("timedelta64[s]")
    stamp = (EPOCH + created.astype("timedelta64[D]")).astype("datetime64[s]") + seconds
    inserted = np.char.replace(np.datetime_as_string(stamp, unit="s"), "T", " ").astype(object)
    ended = r_two & (rng.random(routings) < 0.2)
    valid_to = np.where(
        ended, _iso_dates(created + rng.integers(200, 2000, routings)), "9999-12-31"
    )
    valid_from = _iso_dates(created)
    valid_from[rng.random(routings) < 2e-5] = "2019-02-30"  # the ERP let a few impossible dates in
    return {
        "INSRT_DT": inserted[row_r],
        "VALID_FROM_DT": valid_from[row_r],
        "VALID_TO_DT": valid_to.astype(object)[row_r],
    }


def _work_orders(rng, it: dict, rt: dict) -> dict:
    """Shop-floor actuals: several orders for ~40 % of routed items, hours around the standard."""
    first = np.flatnonzero(~rt["r_two"])
    second = np.full(len(it["pt"]), -1)
    second[rt["r_item"][rt["r_two"]]] = np.flatnonzero(rt["r_two"])
    chosen = first[rng.random(len(first)) < 0.4]
    per_item = 1 + rng.poisson(1.3, len(chosen))
    routing = np.repeat(chosen, per_item)
    alt = second[rt["r_item"][routing]]
    routing = np.where((alt >= 0) & (rng.random(len(routing)) < 0.3), alt, routing)
    item = rt["r_item"][routing]
    lot = np.select([it["od"][item] < 30, it["od"][item] > 250], [120.0, 2.0], 20.0)
    order_qty = np.maximum(1, np.round(lot * rng.lognormal(0, 0.6, len(routing))))
    order_day = rng.integers(4383, int((END - EPOCH).astype(int)) - 20, len(routing))  # from 2021
    row_o, within = _ragged(rt["r_len"][routing])
    op_row = rt["r_start"][routing][row_o] + within
    keep = ~rt["external"][op_row] & (rng.random(len(op_row)) >= 0.05)
    row_o, within, op_row = row_o[keep], within[keep], op_row[keep]
    n = len(op_row)
    qty = order_qty[row_o]
    outlier = rng.random(n)
    spread = np.where(outlier < 0.015, rng.uniform(3, 10, n), np.where(outlier < 0.02, 0.05, 1.0))
    setup_h = rt["setup"][op_row] / 60 * rng.lognormal(0, 0.25, n) * spread
    run_h = rt["run_pc"][op_row] * qty / 60 * rng.lognormal(0, 0.2, n) * spread
    bad_p = np.where(rt["hard"][op_row], 0.03, 0.01)
    cols = rt["columns"]
    return {
        "ITEM_CD": cols["ITEM_CD"][op_row],
        "ROUT_NO": cols["ROUT_NO"][op_row],
        "PROC_SEQ": cols["PROC_SEQ"][op_row],
        "JOB_CD": cols["JOB_CD"][op_row],
        "RES_CD": cols["RES_CD"][op_row],
        "REPORT_DT": _iso_dates(order_day[row_o] + within // 2),
        "SETUP_HOURS": np.round(setup_h, 3),
        "MACH_WORKED_HOURS": np.round(run_h, 3),
        "ORDER_QTY": qty,
        "BAD_QTY": rng.binomial(qty.astype(np.int64), bad_p).astype(float),
    }


# --- writing ------------------------------------------------------------------------------------


def _python(values: np.ndarray) -> list:
    """A column as Python values for sqlite3 (NaN → NULL)."""
    if values.dtype.kind == "f":
        out = values.astype(object)
        out[np.isnan(values)] = None
        return out.tolist()
    return values.tolist()


def _insert_rows(
    conn, table: str, columns: dict, report: Progress, stage: str, span: tuple
) -> None:
    names = list(columns)
    sql = f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
    total = len(columns[names[0]])
    batch = 200_000
    for start in range(0, total, batch):
        part = [_python(columns[n][start : start + batch]) for n in names]
        conn.executemany(sql, zip(*part, strict=True))
        done = min(start + batch, total) / max(total, 1)
        report(
            stage,
            span[0] + (span[1] - span[0]) * done,
            f"{table}: {min(start + batch, total)} rows",
        )


def _write(path: Path, items: dict, routings: dict, work_orders: dict, report: Progress) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        item_types = [(c, "REAL" if c in NUMERIC_ITEM_COLUMNS else "TEXT") for c in ITEM_COLUMNS]
        for table, types in ((ITEM_TABLE, item_types), (ROUTING_TABLE, ROUTING_COLUMNS),
                             (WORK_ORDER_TABLE, WORK_ORDER_COLUMNS)):  # fmt: skip
            conn.execute(f'CREATE TABLE "{table}" ({", ".join(f"{c} {t}" for c, t in types)})')
        conn.execute("BEGIN")
        _insert_rows(conn, ITEM_TABLE, items, report, "write", (0.45, 0.55))
        _insert_rows(conn, ROUTING_TABLE, routings, report, "write", (0.55, 0.8))
        _insert_rows(conn, WORK_ORDER_TABLE, work_orders, report, "write", (0.8, 0.99))
        conn.execute("COMMIT")
    finally:
        conn.close()
