"""Saved routings as training truth: the workflow setting ``feedback`` (off | add | override).

After extraction, the newest saved routing of each item is merged into the canonical frames:
- an item the source does not know (a new item) is added with the attributes its decision
  recorded (from the logged prediction or sent with the save); without attributes it cannot be
  placed in the index and is skipped (counted);
- an item the source knows but has no routing for gets the saved routing (``add`` and
  ``override``);
- an item with a routing in the source keeps it under ``add`` (counted as ignored) and gets the
  saved routing instead under ``override`` (its old routings and their work-order actuals are
  dropped: the actuals belonged to the old operations).
The merged item codes are returned so the stored evaluation never holds them out: a routing an
engineer saved after seeing the model's proposal would otherwise grade the model on itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from registry_app.pipeline.canonical import OPERATION_COLUMNS, PlantData

MODES = ("off", "add", "override")


def newest_saved_routings() -> list:
    """The newest *accepted* saved routing per item code, with its decision (one query).
    Drafts are work in progress: they never become training truth."""
    from inference_app.models import RoutingStatus, SavedRouting

    newest: dict = {}
    accepted = SavedRouting.objects.filter(status=RoutingStatus.ACCEPTED)
    for routing in accepted.select_related("decision").order_by("item_code", "-id"):
        newest.setdefault(routing.item_code, routing)
    return list(newest.values())


def merge_feedback(data: PlantData, profile: dict, mode: str) -> tuple[PlantData, dict]:
    """``data`` with the saved routings merged as ``mode`` says, and the counts."""
    if mode not in MODES:
        raise ValueError(f"feedback mode must be one of {', '.join(MODES)}, not {mode!r}")
    counts = {"mode": mode, "feedback_routings": 0, "new_items": 0, "overridden_items": 0}
    counts.update({"ignored_existing": 0, "skipped_without_attributes": 0, "items": []})
    saved = newest_saved_routings() if mode != "off" else []
    if not saved:
        return data, counts
    known = set(data.items["item_code"].tolist())
    routed = set(pd.unique(data.operations["item_code"]).tolist())  # unique first: ~8 ops/item
    new_items, replaced, taken = [], [], []
    for routing in saved:
        code = routing.item_code
        if code in routed and mode == "add":
            counts["ignored_existing"] += 1
            continue
        if code not in known:
            attributes = _attributes(routing)
            if not attributes:
                counts["skipped_without_attributes"] += 1
                continue
            new_items.append({"item_code": code, **attributes})
        if code in routed:
            replaced.append(code)
        taken.append(routing)
    counts.update(
        feedback_routings=len(taken),
        new_items=len(new_items),
        overridden_items=len(replaced),
        items=sorted(r.item_code for r in taken),
    )
    if not taken:
        return data, counts
    merged = PlantData(
        items=_with_items(data.items, new_items, profile),
        operations=_with_operations(data.operations, taken, set(replaced)),
        work_results=data.work_results[~data.work_results["item_code"].isin(set(replaced))],
        report=data.report,
    )
    return merged, counts


def _attributes(routing) -> dict:
    decision = getattr(routing, "decision", None)
    return dict(decision.attributes) if decision is not None and decision.attributes else {}


def _with_items(items: pd.DataFrame, rows: list[dict], profile: dict) -> pd.DataFrame:
    if not rows:
        return items
    kinds = {a["name"]: a["kind"] for a in profile["attributes"]}
    added = pd.DataFrame(index=pd.RangeIndex(len(rows)))
    for column in items.columns:
        values = [r.get(column) for r in rows]
        if kinds.get(column) == "numeric":
            added[column] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
        else:
            added[column] = pd.Series([_text(v) for v in values], dtype=object)
    return pd.concat([items, added], ignore_index=True)


def _text(value) -> str | None:
    """The extraction's text convention: stripped str, integral numbers without '.0', None."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _with_operations(operations: pd.DataFrame, taken: list, replaced: set) -> pd.DataFrame:
    rows = [_operation_row(r, op) for r in taken for op in r.operations]
    added = pd.DataFrame(rows, columns=OPERATION_COLUMNS)
    for column in OPERATION_COLUMNS:
        added[column] = added[column].astype(operations[column].dtype)
    kept = operations[~operations["item_code"].isin(replaced)]
    merged = pd.concat([kept, added], ignore_index=True)
    return merged.sort_values(["item_code", "routing_no", "seq"], kind="stable").reset_index(
        drop=True
    )


def _operation_row(routing, op: dict) -> dict:
    return {
        "item_code": routing.item_code,
        "routing_no": routing.routing_no,
        "seq": int(op["seq"]),
        "op_code": op["op_code"],
        "op_name": op.get("op_name") or None,
        "work_center": op.get("work_center") or "",
        "work_center_name": op.get("work_center_name") or None,
        "in_house": bool(op.get("in_house", True)),
        "setup_min": float(op.get("setup_min", 0.0)),
        "run_min": float(op.get("run_min", 0.0)),
        "run_qty": float(op.get("run_qty") or 1.0),
        "queue_min": float(op.get("queue_min", 0.0)),
        "wait_min": float(op.get("wait_min", 0.0)),
        "move_min": float(op.get("move_min", 0.0)),
        "valid_from": pd.NaT,
        "valid_to": pd.NaT,
        "inserted_at": pd.Timestamp(routing.created_at).tz_localize(None)
        if routing.created_at.tzinfo is None
        else pd.Timestamp(routing.created_at).tz_convert(None),
    }


def never_held_out(items: pd.DataFrame, codes: list[str]) -> np.ndarray:
    """Boolean mask over ``items`` (in their training order) of the merged feedback items."""
    return items["item_code"].isin(set(codes)).to_numpy()
