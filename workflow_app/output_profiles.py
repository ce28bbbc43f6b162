"""Output mapping profiles: a saved routing → rows in the ERP's columns (see docs/profiles.md).

A profile is plain JSON (see ``defaults/erp-routing.json``)::

    name         slug
    direction    "output"
    description  free text
    columns      [{"name": ERP column,
                   "field": canonical field  | "constant": a fixed value,
                   "default": value used when the field is empty (optional),
                   "transform": [steps applied in order] (optional)}]

One row is written per operation, in ``seq`` order. Fields a column may read:

- routing level: ``item_code``, ``routing_no``, ``routing_id``, ``status``, ``comment``,
  ``source_model_version``, ``created_at`` (datetime), ``export_date`` (the day of the export);
- operation level: ``seq``, ``op_code``, ``op_name``, ``work_center``, ``work_center_name``,
  ``in_house``, ``setup_min``, ``run_min``, ``run_qty``, ``queue_min``, ``wait_min``,
  ``move_min`` and ``lead_min`` (the operation's lead time for a quantity of 1:
  setup + run / run_qty + queue + wait + move, from ``routing_core.timesummary``).

Transform steps (each a one-key object): ``{"minutes_to": "hours"|"seconds"|"minutes"}``,
``{"round": decimals}``, ``{"bool": [text_if_true, text_if_false]}``, ``{"date": strftime}``,
``{"pad": width}`` (zero-padding), ``{"map": {value: replacement}}``, ``{"upper": true}``.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import re
from datetime import date, datetime
from pathlib import Path

from routing_site.errors import BadInput

SHIPPED_PATH = Path(__file__).resolve().parent / "defaults" / "erp-routing.json"

ROUTING_FIELDS = (
    "item_code",
    "routing_no",
    "routing_id",
    "status",
    "comment",
    "source_model_version",
    "created_at",
    "export_date",
)
OPERATION_FIELDS = (
    "seq",
    "op_code",
    "op_name",
    "work_center",
    "work_center_name",
    "in_house",
    "setup_min",
    "run_min",
    "run_qty",
    "queue_min",
    "wait_min",
    "move_min",
    "lead_min",
)
FIELDS = ROUTING_FIELDS + OPERATION_FIELDS
MINUTES_PER = {"minutes": 1.0, "hours": 60.0, "seconds": 1 / 60}
MAX_COLUMNS = 200
SCALAR = (str, int, float, bool, type(None))


class _Errors(dict):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def load_shipped_output_profile() -> dict:
    """The shipped ``erp-routing`` profile, validated."""
    with SHIPPED_PATH.open(encoding="utf-8") as fh:
        return validate_output_profile(json.load(fh))


def validate_output_profile(spec: dict) -> dict:
    """A normalised copy of ``spec``; raises BadInput listing every problem by field path."""
    if not isinstance(spec, dict):
        raise BadInput(
            "An output profile must be a JSON object.", fields={"spec": ["not an object"]}
        )
    errors = _Errors()
    out = copy.deepcopy(spec)
    out.pop("direction", None)
    out["name"] = spec.get("name") if isinstance(spec.get("name"), str) else "unnamed"
    out["description"] = spec.get("description") or ""
    if not isinstance(out["description"], str):
        errors.add("description", "must be text")
    out["columns"] = _check_columns(spec.get("columns"), errors)
    if errors:
        path, messages = next(iter(errors.items()))
        raise BadInput(f"Invalid output profile: {path}: {messages[0]}", fields=dict(errors))
    return out


def _check_columns(value, errors: _Errors) -> list[dict]:
    if not isinstance(value, list) or not value:
        errors.add("columns", "must be a non-empty list of {name, field | constant, ...}")
        return []
    if len(value) > MAX_COLUMNS:
        errors.add("columns", f"at most {MAX_COLUMNS} columns")
    out, seen = [], set()
    for i, col in enumerate(value):
        path = f"columns.{i}"
        if not isinstance(col, dict):
            errors.add(path, "must be an object with name and field or constant")
            continue
        out.append(_check_column(col, path, seen, errors))
    return out


def _check_column(col: dict, path: str, seen: set, errors: _Errors) -> dict:
    unknown = sorted(set(col) - {"name", "field", "constant", "default", "transform"})
    for key in unknown:
        errors.add(
            f"{path}.{key}", "unknown key; allowed: name, field, constant, default, transform"
        )
    name = col.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.add(f"{path}.name", "required: the ERP column name")
    elif name.strip().upper() in seen:
        errors.add(f"{path}.name", f"duplicate column {name.strip()!r}")
    else:
        seen.add(name.strip().upper())
    has_field, has_constant = "field" in col, "constant" in col
    if has_field == has_constant:
        errors.add(path, "give exactly one of field or constant")
    elif has_field and col["field"] not in FIELDS:
        errors.add(f"{path}.field", f"unknown field {col['field']!r}; known: {', '.join(FIELDS)}")
    for key in ("constant", "default"):
        if key in col and not isinstance(col[key], SCALAR):
            errors.add(f"{path}.{key}", "must be text, a number, true/false or null")
    steps = col.get("transform", [])
    if not isinstance(steps, list):
        errors.add(f"{path}.transform", "must be a list of steps")
        steps = []
    for j, step in enumerate(steps):
        problem = _check_step(step)
        if problem:
            errors.add(f"{path}.transform.{j}", problem)
    clean = {k: col[k] for k in ("name", "field", "constant", "default") if k in col}
    if isinstance(name, str):
        clean["name"] = name.strip()
    if steps:
        clean["transform"] = steps
    return clean


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_step(step) -> str | None:
    if not isinstance(step, dict) or len(step) != 1:
        return "a step is an object with one key: " + ", ".join(STEP_CHECKS)
    ((kind, arg),) = step.items()
    check = STEP_CHECKS.get(kind)
    if check is None:
        return f"unknown step {kind!r}; known: {', '.join(STEP_CHECKS)}"
    return check(arg)


def _check_unit(arg) -> str | None:
    ok = isinstance(arg, str) and arg in MINUTES_PER
    return None if ok else f"minutes_to must be one of {', '.join(MINUTES_PER)}"


def _check_round(arg) -> str | None:
    ok = isinstance(arg, int) and not isinstance(arg, bool) and 0 <= arg <= 10
    return None if ok else "round takes a number of decimals between 0 and 10"


def _check_bool(arg) -> str | None:
    ok = isinstance(arg, list) and len(arg) == 2 and all(isinstance(v, (str, int)) for v in arg)
    return None if ok else 'bool takes two values: [value if true, value if false], e.g. ["Y", "N"]'


def _check_date(arg) -> str | None:
    if not isinstance(arg, str) or not arg or len(arg) > 40:
        return 'date takes a strftime format, e.g. "%Y%m%d"'
    try:
        datetime(2024, 1, 31, 13, 5, 9).strftime(arg)
    except ValueError as exc:
        return f"date format {arg!r} is not valid: {exc}"
    return None


def _check_pad(arg) -> str | None:
    ok = isinstance(arg, int) and not isinstance(arg, bool) and 1 <= arg <= 30
    return None if ok else "pad takes a width between 1 and 30"


def _check_map(arg) -> str | None:
    ok = isinstance(arg, dict) and all(isinstance(v, SCALAR) for v in arg.values())
    return None if ok else "map takes an object {value: replacement}"


def _check_upper(arg) -> str | None:
    return None if arg is True else "upper takes true"


STEP_CHECKS = {
    "minutes_to": _check_unit,
    "round": _check_round,
    "bool": _check_bool,
    "date": _check_date,
    "pad": _check_pad,
    "map": _check_map,
    "upper": _check_upper,
}


# --- rendering --------------------------------------------------------------------------------


def _number(value, column: str) -> float:
    if _is_number(value):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise BadInput(
            f"Column {column}: {value!r} is not a number.", code="export_error"
        ) from None


def _as_date(value, column: str):
    if isinstance(value, (date, datetime)):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        raise BadInput(f"Column {column}: {value!r} is not a date.", code="export_error") from None


def _pad(value, width: int) -> str:
    if _is_number(value) and float(value).is_integer():
        value = int(value)
    return str(value).zfill(width)


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("Y", "YES", "1", "TRUE", "T", "I", "IN")
    return bool(value)


def apply_step(value, step: dict, column: str):
    ((kind, arg),) = step.items()
    if value is None or value == "":
        return value
    if kind == "minutes_to":
        return _number(value, column) / MINUTES_PER[arg]
    if kind == "round":
        rounded = round(_number(value, column), arg)
        return int(rounded) if arg == 0 else rounded
    if kind == "bool":
        return arg[0] if _flag(value) else arg[1]
    if kind == "date":
        return _as_date(value, column).strftime(arg)
    if kind == "pad":
        return _pad(value, arg)
    if kind == "map":
        return arg.get(str(value), value)
    return str(value).upper()  # "upper"


def cell(column: dict, context: dict):
    """One exported value: the field (or constant), its default when empty, then the steps."""
    value = column["constant"] if "constant" in column else context.get(column["field"])
    if (value is None or value == "") and "default" in column:
        value = column["default"]
    for step in column.get("transform", []):
        value = apply_step(value, step, column["name"])
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)  # 2.0 → 2: ERP import tools read "2" more reliably than "2.0"
    return value


def export_rows(profile: dict, routing: dict, operations: list[dict], today: date | None = None):
    """``(column names, rows)`` for one routing: one row per operation, in ``seq`` order."""
    from routing_core.timesummary import operation_minutes

    base = {key: routing.get(key) for key in ROUTING_FIELDS}
    base["export_date"] = today or date.today()
    columns = [c["name"] for c in profile["columns"]]
    rows = []
    for op in sorted(operations, key=lambda o: o.get("seq") or 0):
        context = {**base, **{k: op.get(k) for k in OPERATION_FIELDS}}
        context["lead_min"] = operation_minutes(op, 1.0)["lead_min"]
        rows.append({c["name"]: cell(c, context) for c in profile["columns"]})
    return columns, rows


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def to_csv(columns: list[str], rows: list[dict]) -> str:
    """CSV text with a header row; empty cells for missing values; formula cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(c) for c in columns])
    for row in rows:
        writer.writerow(["" if row[c] is None else safe_cell(row[c]) for c in columns])
    return buffer.getvalue()


def safe_cell(value):
    """A text that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's advice
    on CSV injection); numbers, and texts that are plain numbers such as ``-12.5``, stay."""
    if not isinstance(value, str) or not value.startswith(FORMULA_START) or _is_plain_number(value):
        return value
    return "'" + value


def _is_plain_number(text: str) -> bool:
    return PLAIN_NUMBER.fullmatch(text) is not None


EXAMPLE_ROUTING = {
    "routing_id": 0,
    "item_code": "EXAMPLE-001",
    "routing_no": "01",
    "status": "draft",
    "comment": "example routing for the profile preview",
    "source_model_version": "",
    "created_at": datetime(2024, 1, 31, 9, 30),
}
EXAMPLE_OPERATIONS = [
    {"seq": 10, "op_code": "CUT", "op_name": "Cutting", "work_center": "SAW-01",
     "work_center_name": "Band saw", "in_house": True, "setup_min": 15.0, "run_min": 2.5,
     "run_qty": 1.0, "queue_min": 30.0, "wait_min": 0.0, "move_min": 10.0},
    {"seq": 20, "op_code": "HT", "op_name": "Heat treatment", "work_center": "OUT-HT",
     "work_center_name": "Heat treatment vendor", "in_house": False, "setup_min": 0.0,
     "run_min": 480.0, "run_qty": 50.0, "queue_min": 0.0, "wait_min": 1440.0, "move_min": 60.0},
]  # fmt: skip


def preview(
    profile: dict, routing: dict | None = None, operations: list[dict] | None = None
) -> dict:
    """The profile applied to a routing (the built-in example when none is given)."""
    columns, rows = export_rows(
        profile, routing or EXAMPLE_ROUTING, operations or EXAMPLE_OPERATIONS, date(2024, 2, 1)
    )
    return {"profile": profile["name"], "direction": "output", "columns": columns, "rows": rows}
