"""Mapping profile preview: the first rows of each mapped table as the profile maps them.

For an input profile every mapped table of its source is read (the same whole-table read the
extraction makes) and each mapped column checked: present, of the expected kind (numbers,
whole numbers, dates, known time-unit spellings), and how many values are empty. The answer::

    {"profile", "direction": "input", "source", "rows", "valid",
     "tables": {role: {"table", "row_count", "columns": [column report], "rows": [{field: value}]}},
     "problems": [{"table", "field", "column", "code", "level", "message", ...}]}

A column report is ``{"field", "column", "expected", "required", "present", "empty_share",
"bad_values", "bad_examples"}``. Problem codes: ``missing_table``, ``missing_column``,
``bad_values``, ``empty_values``; ``level`` is ``error`` (the extraction would fail or lose
rows) or ``warning``. ``valid`` is true when there is no error. Output profiles preview the
built-in example routing (see :func:`workflow_app.output_profiles.preview`).
"""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
import pandas as pd

from workflow_app.profiles import FIELDS, TABLES, resolve_source

MAX_ROWS = 100
NUMBER_FIELDS = {
    "setup_min", "run_min", "run_qty", "queue_min", "wait_min", "move_min", "lead_time",
    "setup_hours", "run_hours", "order_qty", "bad_qty",
}  # fmt: skip
DATE_FIELDS = {"valid_from", "valid_to", "inserted_at", "reported_at"}
DATE_FORMATS = ("%Y%m%d", "%Y/%m/%d", "%Y.%m.%d", "%d.%m.%Y", "%m/%d/%Y", "%Y%m%d%H%M%S")
EXAMPLES = 5


def expected_kind(role: str, field: str) -> str:
    if field == "seq":
        return "integer"
    if field in NUMBER_FIELDS:
        return "number"
    if field in DATE_FIELDS:
        return "date"
    if field == "time_unit":
        return "time_unit"
    if field == "in_house":
        return "flag"
    return "text"


def _canonical_order(role: str, mapping: dict) -> list[tuple[str, str]]:
    """The mapped fields in canonical order (a JSON column need not keep the profile's order)."""
    order = list(FIELDS[role])
    return sorted(mapping.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 999)


def mapped_columns(profile: dict, role: str) -> list[dict]:
    """What the profile reads from the table of ``role`` itself: field, column, expected,
    required (joined and constant fields: :func:`joined_fields`)."""
    out = [
        {"field": field, "column": column, "expected": expected_kind(role, field),
         "required": FIELDS[role].get(field, False)}
        for field, column in _canonical_order(role, profile["columns"].get(role, {}))
        if isinstance(column, str)
    ]  # fmt: skip
    for join in joined_fields(profile, role):
        if role != "items":
            out.extend(
                {"field": f"{join['field']} (join key)", "column": here, "expected": "text",
                 "required": False}
                for here in join["on"]
            )  # fmt: skip
    if role == "items":
        for attr in profile["attributes"]:
            if attr.get("table"):
                continue
            expected = "number" if attr["kind"] == "numeric" else attr["kind"]
            out.append(
                {
                    "field": attr["name"],
                    "column": attr["column"],
                    "expected": expected,
                    "required": False,
                }
            )
    return out


def preview_profile(profile: dict, rows: int = 10) -> dict:
    """The preview of an input ``profile`` (validated); SourceError when the source won't open."""
    from registry_app.pipeline.sources import SourceError

    rows = max(0, min(int(rows), MAX_ROWS))
    tables, problems = {}, []
    with resolve_source(profile).open() as source:
        label = source.label
        for role in TABLES:
            name = profile["tables"].get(role)
            if not name:
                continue
            try:
                frame = source.read_table(name)
            except SourceError as exc:
                problems.append(_issue(role, None, None, "missing_table", "error", exc.detail))
                tables[role] = {"table": name, "row_count": None, "columns": [], "rows": []}
                continue
            tables[role] = _table_report(profile, role, name, frame, rows, problems)
            _add_joined(source, profile, role, frame, tables[role], problems)
    valid = not any(p["level"] == "error" for p in problems)
    return {
        "profile": profile["name"],
        "direction": "input",
        "source": label,
        "rows": rows,
        "valid": valid,
        "tables": tables,
        "problems": problems,
    }


def _table_report(
    profile: dict, role: str, name: str, frame: pd.DataFrame, rows: int, problems: list
) -> dict:
    columns, sample = [], {}
    for spec in mapped_columns(profile, role):
        actual = _own_column(frame, spec["column"])
        report = {**spec, "present": actual is not None}
        if actual is None:
            report.update(empty_share=None, bad_values=None, bad_examples=[])
            problems.append(
                _issue(
                    role,
                    spec["field"],
                    spec["column"],
                    "missing_column",
                    "error",
                    f"column {spec['column']!r} (for {spec['field']}) is not in table "
                    f"{name!r}; available: {', '.join(map(str, frame.columns))}",
                )
            )
        else:
            series = frame[actual]
            report.update(_column_stats(profile, spec, series))
            problems.extend(_column_problems(role, spec, report))
            sample[spec["field"]] = [_plain(v) for v in series.iloc[:rows].tolist()]
        columns.append(report)
    count = min(rows, len(frame))
    preview_rows = [{field: values[i] for field, values in sample.items()} for i in range(count)]
    return {"table": name, "row_count": int(len(frame)), "columns": columns, "rows": preview_rows}


def _own_column(frame: pd.DataFrame, column: str):
    """``column`` of ``frame`` as the readers match names (exact, else case-insensitive)."""
    if column in frame.columns:
        return column
    return {str(c).lower(): c for c in reversed(list(frame.columns))}.get(column.lower())


def _add_joined(
    source, profile: dict, role: str, frame: pd.DataFrame, report: dict, problems: list
) -> None:
    """The values of the role's joined and constant fields, read by extraction's own code
    (``registry_app.pipeline.extract``): the preview shows what training will use."""
    from registry_app.pipeline.canonical import ExtractReport
    from registry_app.pipeline.sources import SourceError

    counts = ExtractReport()
    for spec, join in _joined_specs(profile, role):
        if any(_own_column(frame, here) is None for here in join.get("on", {})):
            continue  # the key's own column is missing: reported with the table's columns
        try:
            values = _joined_values(source, profile, role, frame, spec["field"], join, counts)
        except SourceError as exc:
            report["columns"].append({**spec, "present": False, "empty_share": None,
                                      "bad_values": None, "bad_examples": []})  # fmt: skip
            problems.append(_issue(role, spec["field"], spec["column"], "missing_column",
                                   "error", exc.detail))  # fmt: skip
            continue
        series = pd.Series(values, dtype=object)
        column = {**spec, "present": True, **_column_stats(profile, spec, series)}
        report["columns"].append(column)
        problems.extend(_column_problems(role, spec, column))
        for i, row in enumerate(report["rows"]):
            row[spec["field"]] = _plain(values[i])
    for reason, n in counts.problems.get(role, {}).items():
        problems.append(_issue(role, None, None, "join_values", "warning",
                               f"{reason} ({n} row(s))", count=n))  # fmt: skip


def _joined_specs(profile: dict, role: str) -> list[tuple[dict, dict]]:
    """A column report's first keys for each joined or constant field of ``role``, and how the
    field is read: ``{table, column, on}`` or ``{value}``."""
    out = []
    own = profile["columns"].get(role, {})
    for field, column in _canonical_order(role, own):
        if not isinstance(column, dict):
            continue
        shown = f"= {column['value']!r}" if "value" in column else (
            f"{column['table']}.{column['column']}")  # fmt: skip
        spec = {"field": field, "column": shown, "expected": expected_kind(role, field),
                "required": FIELDS[role].get(field, False), "joined": column}  # fmt: skip
        out.append((spec, column))
    if role == "items":
        for join in joined_fields(profile, "items"):
            attr = next(a for a in profile["attributes"] if a["name"] == join["field"])
            expected = "number" if attr["kind"] == "numeric" else attr["kind"]
            shown = f"{join['table']}.{join['column']}"
            spec = {
                "field": join["field"],
                "column": shown,
                "expected": expected,
                "required": False,
                "joined": {k: join[k] for k in ("table", "column", "on")},
            }
            out.append((spec, join))
    return out


def _joined_values(source, profile, role, frame, field, join, counts) -> np.ndarray:
    """One value per row of ``frame`` for a joined/constant field, as extraction reads it."""
    from registry_app.pipeline import extract

    raw = extract.RawTable(
        {
            here: frame[_own_column(frame, here)].to_numpy(dtype=object)
            for here in join.get("on", {})
        }
    )
    raw.rows = len(frame)
    if role == "items":
        key = profile["columns"]["items"]["item_code"]
        attr = next(a for a in profile["attributes"] if a["name"] == field)
        return extract.attribute_of(source, raw, key, attr, counts)
    names = extract.joined_fields(source, raw, {field: join}, role, counts)
    return raw[names[field]]


def _empty_mask(series: pd.Series) -> np.ndarray:
    values = series.to_numpy(dtype=object)
    return np.array([_is_empty(v) for v in values], dtype=bool)


def _is_empty(value) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _column_stats(profile: dict, spec: dict, series: pd.Series) -> dict:
    empty = _empty_mask(series)
    n = len(series)
    filled = series[~empty]
    bad = _bad_values(profile, spec["expected"], filled)
    return {
        "empty_share": round(float(empty.sum()) / n, 4) if n else 0.0,
        "bad_values": len(bad),
        "bad_examples": [str(v) for v in list(dict.fromkeys(map(str, bad)))[:EXAMPLES]],
    }


def _bad_values(profile: dict, expected: str, values: pd.Series) -> list:
    if expected in ("number", "integer"):
        numbers = pd.to_numeric(values.map(lambda v: str(v).strip()), errors="coerce")
        bad = numbers.isna() | ~np.isfinite(numbers.fillna(0))
        if expected == "integer":
            bad |= (numbers.fillna(0) % 1) != 0
        return values[bad.to_numpy()].tolist()
    if expected == "date":
        checked = {v: _parses_as_date(v) for v in pd.unique(values.astype(str))}
        return [v for v in values.tolist() if not checked[str(v)]]
    if expected == "time_unit":
        from registry_app.pipeline.extract import minutes_per_unit

        known = {v: minutes_per_unit(profile, v) is not None for v in pd.unique(values.astype(str))}
        return [v for v in values.tolist() if not known[str(v)]]
    return []


def _parses_as_date(text: str) -> bool:
    text = text.strip()
    try:
        datetime.fromisoformat(text)
        return True
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            continue
    return False


def _column_problems(role: str, spec: dict, report: dict) -> list[dict]:
    out = []
    level = "error" if spec["required"] else "warning"
    field, column = spec["field"], spec["column"]
    if report["bad_values"]:
        examples = ", ".join(repr(v) for v in report["bad_examples"])
        out.append(
            _issue(
                role,
                field,
                column,
                "bad_values",
                level,
                f"{report['bad_values']} value(s) of {column!r} are not "
                f"{_describe(spec['expected'])} (e.g. {examples})",
                count=report["bad_values"],
                examples=report["bad_examples"],
            )
        )
    share = report["empty_share"]
    if share and (spec["required"] or share >= 1.0):
        out.append(
            _issue(
                role,
                field,
                column,
                "empty_values",
                level,
                f"{share:.1%} of {column!r} is empty"
                + (" (rows without it are dropped)" if spec["required"] else ""),
                share=share,
            )
        )
    return out


def _describe(expected: str) -> str:
    return {
        "number": "numbers",
        "integer": "whole numbers",
        "date": "dates",
        "time_unit": "time units listed in the profile's time_units or spelled as plants do",
    }.get(expected, expected)


def _issue(table, field, column, code, level, message, **extra) -> dict:
    return {
        "table": table,
        "field": field,
        "column": column,
        "code": code,
        "level": level,
        "message": message,
        **extra,
    }


def _plain(value):
    """A JSON-safe copy of one cell."""
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(value) else float(value)
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value if isinstance(value, (str, int)) else str(value)


def joined_fields(profile: dict, role: str) -> list[dict]:
    """The fields of ``role`` read from another table: ``{field, table, column, on}``."""
    out = [
        {"field": field, **column}
        for field, column in profile["columns"].get(role, {}).items()
        if isinstance(column, dict) and "table" in column
    ]
    if role == "items":
        key = profile["columns"]["items"].get("item_code", "")
        out += [
            {"field": a["name"], "table": a["table"], "column": a["column"],
             "on": {key: a.get("key") or key}}
            for a in profile["attributes"] if a.get("table")
        ]  # fmt: skip
    return out


def check_against_source(profile: dict) -> None:
    """SourceError (400) listing *every* table and column of ``profile`` (validated) that its
    source lacks; reads the tables' column names only. Training calls it before it takes a
    version label, so a profile that cannot fit costs no label."""
    from registry_app.pipeline.sources import SourceError

    fields: dict[str, list[str]] = {}
    with resolve_source(profile).open() as source:
        label = source.label
        for role in TABLES:
            name = profile["tables"].get(role)
            if name:
                _check_table(source, profile, role, name, fields)
                for join in joined_fields(profile, role):
                    _check_join(source, role, join, fields)
    if fields:
        listing = "; ".join(f"{path}: {messages[0]}" for path, messages in fields.items())
        raise SourceError(
            f"The mapping profile {profile['name']!r} does not fit {label} "
            f"({len(fields)} problem(s)): {listing}",
            fields=fields,
        )


def _check_table(source, profile: dict, role: str, name: str, fields: dict) -> None:
    from registry_app.pipeline.sources import SourceError

    try:
        available = source.columns(name)
    except SourceError as exc:
        fields[f"tables.{role}"] = [exc.detail]
        return
    known = set(available) | {c.lower() for c in available}
    for spec in mapped_columns(profile, role):
        if spec["column"] not in known and spec["column"].lower() not in known:
            path = f"columns.{role}.{spec['field']}"
            if spec["field"] not in FIELDS[role]:
                path = f"attributes.{spec['field']}"
            fields.setdefault(path, []).append(
                f"column {spec['column']!r} is not in table {name!r}; available: "
                + ", ".join(map(str, available))
            )


def _check_join(source, role: str, join: dict, fields: dict) -> None:
    from registry_app.pipeline.sources import SourceError

    path = f"columns.{role}.{join['field']}" if role != "items" else f"attributes.{join['field']}"
    try:
        available = source.columns(join["table"])
    except SourceError as exc:
        fields.setdefault(path, []).append(exc.detail)
        return
    known = {c.lower() for c in available}
    for column in [join["column"], *join["on"].values()]:
        if column.lower() not in known:
            fields.setdefault(path, []).append(
                f"column {column!r} is not in table {join['table']!r}; available: "
                + ", ".join(map(str, available))
            )
