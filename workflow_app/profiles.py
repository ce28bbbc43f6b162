"""Input mapping profiles: how one plant's source maps onto the canonical model (DESIGN §3).

A profile is plain JSON (see ``defaults/plant-default.json``)::

    source           the name of a registered data source ("default" when left empty)
    tables           {"items": name, "operations": name, "work_results": name | null}
    columns          per table: canonical field -> source column
    attributes       [{"name", "column", "kind": categorical|numeric|text, "weight"}]
    time_units       {"default": unit, "minutes": [spellings], "hours": [...], "seconds": [...]}
    in_house_values  spellings of the in-house flag (anything else means outsourced)

:func:`validate_profile` returns a normalised copy (spellings upper-cased and stripped,
optional parts filled with their defaults) or raises :class:`BadInput` whose ``fields`` name
every problem by path, e.g. ``{"attributes.3.kind": ["must be one of …"]}``. A key it does not
know, at any level, is refused by name with the allowed ones listed (``"delimiter"`` belongs to
the CSV data source's options, not to a profile).
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

from routing_core.numbers import number_locale
from routing_site.errors import BadInput

DEFAULT_PROFILE_PATH = Path(__file__).resolve().parent / "defaults" / "plant-default.json"

KINDS = ("categorical", "numeric", "text")
# the keys each level of a profile accepts ("direction" is read by the loaders before this)
TOP_KEYS = (
    "name",
    "description",
    "source",
    "tables",
    "columns",
    "attributes",
    "time_units",
    "in_house_values",
    "number_locale",
    "weights",
    "weight_search",
)
# "numbers": numbers read out of a text attribute; "encode": false keeps an identifier out of
# the features; "family": the attribute names near-duplicate families (routing_core/features.py,
# registry_app/pipeline/families.py)
ATTRIBUTE_KEYS = ("name", "column", "kind", "weight", "table", "key", "numbers", "encode", "family")
JOIN_KEYS = ("table", "column", "on")
# fields that identify a row: always a column of the role's own table
KEY_FIELDS = ("item_code", "routing_no", "seq")
TIME_UNIT_KEYS = ("default", "minutes", "hours", "seconds")
DEFAULT_SOURCE = "default"
SOURCE_NAME = re.compile(r"[-a-zA-Z0-9_]{1,100}")
MAX_WEIGHT = 100.0
TABLES = ("items", "operations", "work_results")

# canonical field -> required?  (optional fields fall back to the defaults in extract.py)
FIELDS: dict[str, dict[str, bool]] = {
    "items": {"item_code": True},
    "operations": {
        "item_code": True,
        "routing_no": False,  # absent: every routing is "01"
        "seq": True,
        "op_code": True,
        "op_name": False,
        "work_center": True,
        "work_center_name": False,
        "in_house": False,  # absent: every operation is in-house
        "time_unit": False,  # absent: the profile's default unit
        "setup_min": False,
        "run_min": False,
        "run_qty": False,  # absent: 1
        "queue_min": False,
        "wait_min": False,
        "move_min": False,
        "lead_time": False,  # read by nobody yet; accepted so ERP exports can be mapped fully
        "valid_from": False,
        "valid_to": False,
        "inserted_at": False,
    },
    "work_results": {
        "item_code": True,
        "routing_no": False,
        "seq": True,
        "op_code": False,
        "work_center": False,
        "reported_at": False,
        "setup_hours": False,
        "run_hours": False,
        "order_qty": False,
        "bad_qty": False,
    },
}

UNIT_GROUPS = ("minutes", "hours", "seconds")
DEFAULT_TIME_UNITS = {
    "default": "min",
    "minutes": ["MIN", "M", "MINUTE", "MINUTES", "분"],
    "hours": ["H", "HR", "HRS", "HOUR", "HOURS", "시간"],
    "seconds": ["S", "SEC", "SECS", "SECOND", "SECONDS", "초"],
}
DEFAULT_IN_HOUSE = ["Y", "YES", "1", "TRUE", "I", "IN", "사내"]
# the canonical spelling of each unit group; "default" may be any spelling of any group
CANONICAL_UNIT = {"minutes": "min", "hours": "h", "seconds": "s"}


def load_default_profile() -> dict:
    """The shipped ``plant-default`` profile, validated."""
    with DEFAULT_PROFILE_PATH.open(encoding="utf-8") as fh:
        return validate_profile(json.load(fh))


def resolve_source(profile: dict):
    """The registered DataSource the profile names; SourceError (400) when none is."""
    from workflow_app.models import DataSource

    return DataSource.objects.get_by_name((profile.get("source") or "").strip() or DEFAULT_SOURCE)


def unit_factor(profile: dict, spelling: str) -> float | None:
    """Minutes per one ``spelling`` unit under ``profile`` (None when the spelling is unknown)."""
    key = str(spelling).strip().upper()
    units = profile["time_units"]
    for group, factor in (("minutes", 1.0), ("hours", 60.0), ("seconds", 1 / 60)):
        if key in units[group] or key == CANONICAL_UNIT[group].upper():
            return factor
    return None


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.fields.setdefault(path, []).append(message)

    def raise_if_any(self) -> None:
        if self.fields:
            path, messages = next(iter(self.fields.items()))
            raise BadInput(f"Invalid mapping profile: {path}: {messages[0]}", fields=self.fields)


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def validate_profile(spec: dict) -> dict:
    """A normalised copy of ``spec``; raises BadInput listing every problem by field path."""
    if not isinstance(spec, dict):
        raise BadInput(
            "A mapping profile must be a JSON object.", fields={"profile": ["not an object"]}
        )
    errors = _Errors()
    _unknown_keys(spec, "", TOP_KEYS, errors)
    out = copy.deepcopy(spec)
    out["name"] = _text(spec.get("name")) or "unnamed"
    out["description"] = spec.get("description") or ""
    out["source"] = _check_source(spec.get("source", ""), errors)
    out["tables"] = _check_tables(spec.get("tables"), errors)
    out["columns"] = _check_columns(spec.get("columns"), out["tables"], errors)
    out["attributes"] = _check_attributes(spec.get("attributes"), errors)
    out["time_units"] = _check_time_units(spec.get("time_units"), errors)
    out["in_house_values"] = _check_in_house(spec.get("in_house_values"), errors)
    _check_number_locale(spec, errors)
    _check_weight_search(spec, errors)
    errors.raise_if_any()
    return out


def _unknown_keys(value: dict, path: str, allowed: tuple[str, ...], errors: _Errors) -> None:
    for key in value:
        if key not in allowed:
            errors.add(f"{path}{key}", f"unknown key {key!r}; allowed: {', '.join(allowed)}")


def _check_number_locale(spec: dict, errors: _Errors) -> None:
    try:
        number_locale(spec)
    except ValueError as exc:
        errors.add("number_locale", str(exc))


def _check_weight_search(spec: dict, errors: _Errors) -> None:
    """``weights``: ``profile`` (default) or ``learn``; ``weight_search``: the search budget."""
    from registry_app.pipeline.weightsearch import WeightSearchError, search_budget

    try:
        search_budget(spec)
    except WeightSearchError as exc:
        errors.add(exc.path, exc.message)


def _check_source(value, errors: _Errors) -> str:
    """A source is named, never located: the location belongs to the admin's registration."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_SOURCE
    if not isinstance(value, str) or not SOURCE_NAME.fullmatch(value.strip()):
        errors.add(
            "source",
            "must name a registered data source (letters, digits, '-' or '_', e.g. "
            f"{DEFAULT_SOURCE!r}), not a location; an admin registers locations in "
            "Admin › Data sources, POST /api/v1/sources or manage.py add_source",
        )
        return DEFAULT_SOURCE
    return value.strip()


def _check_tables(value, errors: _Errors) -> dict:
    if not isinstance(value, dict):
        errors.add("tables", "must be an object with items, operations and work_results")
        return {"items": "", "operations": "", "work_results": None}
    for key in value:
        if key not in TABLES:
            errors.add(f"tables.{key}", f"unknown table role; known: {', '.join(TABLES)}")
    out = {}
    for role in ("items", "operations"):
        out[role] = _text(value.get(role)) or ""
        if not out[role]:
            errors.add(f"tables.{role}", "required: the source table name")
    wr = value.get("work_results")
    if wr is not None and not isinstance(wr, str):
        errors.add("tables.work_results", "must be a table name, or null when there is none")
    out["work_results"] = _text(wr) if isinstance(wr, str) else None
    return out


def _check_columns(value, tables: dict, errors: _Errors) -> dict:
    if not isinstance(value, dict):
        errors.add("columns", "must be an object: table role -> {canonical field: source column}")
        value = {}
    for key in value:
        if key not in TABLES:
            errors.add(f"columns.{key}", f"unknown table role; known: {', '.join(TABLES)}")
    out: dict[str, dict[str, str]] = {}
    for role in TABLES:
        if role == "work_results" and not tables.get("work_results"):
            out[role] = {}
            continue
        mapping = value.get(role, {})
        if not isinstance(mapping, dict):
            errors.add(f"columns.{role}", "must be an object: canonical field -> source column")
            mapping = {}
        out[role] = {}
        for fld, column in mapping.items():
            if fld not in FIELDS[role]:
                known = ", ".join(FIELDS[role])
                errors.add(f"columns.{role}.{fld}", f"unknown canonical field; known: {known}")
            elif isinstance(column, dict) and role != "items" and fld not in KEY_FIELDS:
                out[role][fld] = _check_join(column, f"columns.{role}.{fld}", errors)
            elif _text(column) is None:
                errors.add(
                    f"columns.{role}.{fld}",
                    "must be a source column name"
                    + ("" if role == "items" or fld in KEY_FIELDS else JOIN_FORMS),
                )
            else:
                out[role][fld] = column.strip()
        for fld, required in FIELDS[role].items():
            if required and fld not in mapping:
                errors.add(f"columns.{role}.{fld}", "required: map it to a source column")
    return out


def _check_attribute_options(attr: dict, path: str, kind, errors: _Errors) -> None:
    numbers = attr.get("numbers", 0)
    if isinstance(numbers, bool) or not isinstance(numbers, int) or not 0 <= numbers <= 10:
        errors.add(f"{path}.numbers", "must be a whole number from 0 to 10")
    elif numbers and kind != "text":
        errors.add(f"{path}.numbers", "numbers are read out of text attributes only")
    for key in ("encode", "family"):
        if key in attr and not isinstance(attr[key], bool):
            errors.add(f"{path}.{key}", "must be true or false")


def _check_attributes(value, errors: _Errors) -> list[dict]:
    if not isinstance(value, list) or not value:
        errors.add("attributes", "must be a non-empty list of {name, column, kind, weight}")
        return []
    out, seen = [], set()
    for i, attr in enumerate(value):
        path = f"attributes.{i}"
        if not isinstance(attr, dict):
            errors.add(path, "must be an object with name, column, kind, weight")
            continue
        _unknown_keys(attr, f"{path}.", ATTRIBUTE_KEYS, errors)
        name = _text(attr.get("name"))
        if name is None:
            errors.add(f"{path}.name", "required: a non-empty name")
        elif name.lower() in seen or name == "item_code":
            errors.add(f"{path}.name", f"duplicate attribute name {name!r}")
        else:
            seen.add(name.lower())
        column = _text(attr.get("column")) or name
        if column is None:
            errors.add(f"{path}.column", "required: the source column")
        kind = attr.get("kind")
        if kind not in KINDS:
            errors.add(f"{path}.kind", f"must be one of {', '.join(KINDS)} (got {kind!r})")
        weight = attr.get("weight", 1.0)
        ok = isinstance(weight, (int, float)) and not isinstance(weight, bool)
        if not ok or not math.isfinite(weight) or not 0 < weight <= MAX_WEIGHT:
            errors.add(f"{path}.weight", f"must be a number above 0 and at most {MAX_WEIGHT:g}")
            weight = 1.0
        joined = {}
        for key in ("table", "key"):
            if key in attr and _text(attr[key]) is None:
                errors.add(f"{path}.{key}", "must be a name (or left out)")
            elif key in attr:
                joined[key] = attr[key].strip()
        if "key" in joined and "table" not in joined:
            errors.add(f"{path}.key", "is the item code column of 'table': name the table too")
        _check_attribute_options(attr, path, kind, errors)
        out.append(
            {
                **attr,
                **joined,
                "name": name,
                "column": column,
                "kind": kind,
                "weight": float(weight),
            }
        )
    return out


JOIN_FORMS = (
    ', {"table": T, "column": C, "on": {"<column here>": "<column in T>"}} for a value '
    'from a joined table, or {"value": V} for a constant'
)


def _check_join(value: dict, path: str, errors: _Errors) -> dict:
    """A field read from another table joined on columns, or a constant."""
    if set(value) == {"value"}:
        constant = value["value"]
        if isinstance(constant, bool) or not isinstance(constant, (int, float, str)):
            errors.add(f"{path}.value", "must be a number or a text")
        return {"value": constant}
    _unknown_keys(value, f"{path}.", JOIN_KEYS, errors)
    out = {}
    for key in ("table", "column"):
        out[key] = _text(value.get(key)) or ""
        if not out[key]:
            errors.add(f"{path}.{key}", "required: a name" + JOIN_FORMS)
    on = value.get("on")
    pairs = on.items() if isinstance(on, dict) else []
    if not pairs or not all(_text(a) and _text(b) for a, b in pairs):
        errors.add(f"{path}.on", "required: {column of this table: column of the joined table}")
        return {**out, "on": {}}
    return {**out, "on": {a.strip(): b.strip() for a, b in pairs}}


def _spellings(value, path: str, errors: _Errors) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        errors.add(path, "must be a list of spellings")
        return []
    return [str(v).strip().upper() for v in value if str(v).strip()]


def _check_time_units(value, errors: _Errors) -> dict:
    if value is None:
        return copy.deepcopy(DEFAULT_TIME_UNITS)
    if not isinstance(value, dict):
        errors.add("time_units", "must be an object with default, minutes, hours, seconds")
        return copy.deepcopy(DEFAULT_TIME_UNITS)
    _unknown_keys(value, "time_units.", TIME_UNIT_KEYS, errors)
    out: dict = {}
    owner: dict[str, str] = {}
    for group in UNIT_GROUPS:
        out[group] = _spellings(
            value.get(group, DEFAULT_TIME_UNITS[group]), f"time_units.{group}", errors
        )
        for spelling in out[group]:
            if owner.setdefault(spelling, group) != group:
                errors.add(
                    f"time_units.{group}", f"{spelling!r} is also listed under {owner[spelling]}"
                )
    default = str(value.get("default", "min")).strip()
    out["default"] = default
    if unit_factor({"time_units": out}, default) is None:
        errors.add(
            "time_units.default", f"{default!r} is not a listed minutes/hours/seconds spelling"
        )
    return out


def _check_in_house(value, errors: _Errors) -> list[str]:
    if value is None:
        return list(DEFAULT_IN_HOUSE)
    values = _spellings(value, "in_house_values", errors)
    if not values and "in_house_values" not in errors.fields:
        errors.add("in_house_values", "must list at least one spelling of the in-house flag")
    return values
