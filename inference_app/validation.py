"""Fast input checks for the hot endpoints (predict, similar, time summary).

DRF serializers spend about half of a time-summary request validating eight operations; these
plain checks enforce the same rules (types, ranges, lengths, unknown fields refused) in a
fraction of that and raise the project's error shape with the field path at fault
(``items.3.attributes.OUTDIAMETER``). The serializers in ``serializers.py`` stay as the
documented request schema of the OpenAPI page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from routing_site.errors import BadInput

MAX_BATCH = 100
MAX_ATTRIBUTES = 200
MAX_TEXT = 500
MAX_OPERATIONS = 500


@dataclass(frozen=True)
class Num:
    kind: type  # int or float
    low: float
    high: float


@dataclass(frozen=True)
class Text:
    max_length: int


@dataclass(frozen=True)
class Choice:
    values: tuple[str, ...]


BOOL = "bool"
# what to do with attribute names the serving model does not know: refuse (400) or drop them
UNKNOWN_ATTRIBUTES = Choice(("refuse", "ignore"))

OPERATION = {
    "seq": Num(int, 0, 1_000_000),
    "op_code": Text(64),
    "op_name": Text(200),
    "work_center": Text(64),
    "work_center_name": Text(200),
    "in_house": BOOL,
    "setup_min": Num(float, 0, 1e7),
    "run_min": Num(float, 0, 1e7),
    "run_qty": Num(float, 1e-6, 1e9),
    "queue_min": Num(float, 0, 1e7),
    "wait_min": Num(float, 0, 1e7),
    "move_min": Num(float, 0, 1e7),
}
PREDICT = {
    "items": "items",
    "top_k": Num(int, 1, 200),
    "candidates": Num(int, 1, 20),
    "quantity": Num(float, 0, 1e7),
    "min_similarity": Num(float, 0, 1),
    "unknown_attributes": UNKNOWN_ATTRIBUTES,
}
ITEM = {"item_code": Text(64), "attributes": "attributes"}
SIMILAR = {**ITEM, "top_k": Num(int, 1, 200), "unknown_attributes": UNKNOWN_ATTRIBUTES}
TIME_SUMMARY = {"operations": "operations", "quantity": Num(float, 0, 1e7)}


class Errors(dict):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path or "non_field_errors", []).append(message)

    def raise_if_any(self) -> None:
        if self:
            path, messages = next(iter(self.items()))
            raise BadInput(f"{path}: {messages[0]}", fields=dict(self))


_CHECK = object()  # :func:`_at_once`: the value needs the full check


def _at_once(value, spec):
    """The common case, accepted without a field path: a JSON number in range of a number
    field (NaN fails the range; a bool is not an int here: type(), not isinstance), a string
    within a text field's length (stripped); anything else is :data:`_CHECK`."""
    kind = type(value)
    if spec.__class__ is Num:
        if (kind is float and spec.kind is float or kind is int) and spec.low <= value <= spec.high:
            return float(value) if spec.kind is float else value
    elif spec.__class__ is Text and kind is str:
        text = value.strip()
        if len(text) <= spec.max_length:
            return text
    return _CHECK


def _number(value, spec: Num, path: str, errors: Errors):
    accepted = _at_once(value, spec)
    if accepted is not _CHECK:
        return accepted
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, str):
            try:
                value = float(value) if spec.kind is float else int(value)
            except ValueError:
                errors.add(path, f"must be {'an integer' if spec.kind is int else 'a number'}")
                return None
        else:
            errors.add(path, f"must be {'an integer' if spec.kind is int else 'a number'}")
            return None
    if spec.kind is int and isinstance(value, float):
        if not value.is_integer():
            errors.add(path, "must be an integer")
            return None
        value = int(value)
    if isinstance(value, float) and not math.isfinite(value):
        errors.add(path, "must be a finite number")
        return None
    if value < spec.low or value > spec.high:
        errors.add(path, f"must be between {spec.low:g} and {spec.high:g}")
        return None
    return float(value) if spec.kind is float else value


def _value(value, spec, path: str, errors: Errors):
    if isinstance(spec, Num):
        return _number(value, spec, path, errors)
    if isinstance(spec, Choice):
        if value not in spec.values:
            errors.add(path, f"must be one of {', '.join(spec.values)}")
            return None
        return value
    if isinstance(spec, Text):
        if not isinstance(value, str):  # codes are strings: 12345 and "012345" differ
            errors.add(path, 'must be a string (send "12345", not 12345)')
            return None
        value = value.strip()
        if len(value) > spec.max_length:
            errors.add(path, f"at most {spec.max_length} characters")
            return None
        return value
    if spec == BOOL:
        if not isinstance(value, bool):
            errors.add(path, "must be true or false")
            return None
        return value
    return _NESTED[spec](value, path, errors)


def _object(data, fields: dict, path: str, errors: Errors) -> dict:
    prefix = f"{path}." if path else ""
    if not isinstance(data, dict):
        errors.add(path, "must be a JSON object")
        return {}
    out = {}
    for key, value in data.items():
        spec = fields.get(key)
        if spec is None:
            errors.add(f"{prefix}{key}", f"unknown field; allowed: {', '.join(sorted(fields))}")
        elif value is not None:
            accepted = _at_once(value, spec)  # the common case, without the field's path
            if accepted is _CHECK:
                accepted = _value(value, spec, f"{prefix}{key}", errors)
            out[key] = accepted
    return out


def _list(value, path: str, errors: Errors, limit: int) -> list | None:
    if not isinstance(value, list):
        errors.add(path, "must be a list")
        return None
    if not value:
        errors.add(path, "must not be empty")
        return None
    if len(value) > limit:
        errors.add(path, f"at most {limit} entries")
        return None
    return value


def _attributes(value, path: str, errors: Errors) -> dict:
    if not isinstance(value, dict):
        errors.add(path, "must be an object of attribute names to values")
        return {}
    if len(value) > MAX_ATTRIBUTES:
        errors.add(path, f"at most {MAX_ATTRIBUTES} attributes")
        return {}
    for key, v in value.items():
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (str, int, float)):
            errors.add(f"{path}.{key}", "must be a string, a number or null")
        elif isinstance(v, str) and len(v) > MAX_TEXT:
            errors.add(f"{path}.{key}", f"at most {MAX_TEXT} characters")
        elif isinstance(v, (int, float)) and not abs(v) <= 1e15:
            errors.add(f"{path}.{key}", "must be a finite number of at most 1e15")
    return value


EMPTY_ITEM = "give an item_code, attributes, or both"


def _item(data, path: str, errors: Errors, fields: dict = ITEM) -> dict:
    before = len(errors)
    item = _object(data, fields, path, errors)
    if len(errors) == before and _empty(item):
        errors.add(f"{path}.item_code" if path else "item_code", EMPTY_ITEM)
    return item


def _empty(item: dict) -> bool:
    values = (item.get("attributes") or {}).values()
    return not item.get("item_code") and all(v is None for v in values)


def _batch_item(data, path: str, errors: Errors) -> dict:
    """One item of a batch: an empty one is answered ``invalid`` alone, not the whole batch."""
    before = len(errors)
    item = _object(data, ITEM, path, errors)
    if len(errors) == before and _empty(item):
        item[INVALID] = {f"{path}.item_code": [EMPTY_ITEM]}
    return item


INVALID = "__invalid__"  # key of an item's own errors (never a JSON field: refused as unknown)


def _items(value, path: str, errors: Errors) -> list:
    items = _list(value, path, errors, MAX_BATCH)
    return [_batch_item(x, f"{path}.{i}", errors) for i, x in enumerate(items or [])]


def _operations(value, path: str, errors: Errors) -> list:
    ops = _list(value, path, errors, MAX_OPERATIONS)
    return [_object(x, OPERATION, f"{path}.{i}", errors) for i, x in enumerate(ops or [])]


_NESTED = {"items": _items, "attributes": _attributes, "operations": _operations}


def _body(data) -> None:
    if not isinstance(data, dict):
        raise BadInput("Send a JSON object.", fields={"non_field_errors": ["must be an object"]})


def predict_input(data) -> dict:
    _body(data)
    errors = Errors()
    out = _object(data, PREDICT, "", errors)
    if data.get("items") is None:
        errors.add("items", "this field is required")
    errors.raise_if_any()
    return out


def similar_input(data) -> dict:
    _body(data)
    errors = Errors()
    out = _item(data, "", errors, SIMILAR)
    errors.raise_if_any()
    return out


def time_summary_input(data) -> dict:
    _body(data)
    errors = Errors()
    out = _object(data, TIME_SUMMARY, "", errors)
    if data.get("operations") is None:
        errors.add("operations", "this field is required")
    errors.raise_if_any()
    out.setdefault("quantity", 1.0)
    return out


def frozen(value):
    """A hashable, order-independent form of validated input, for cache keys (no JSON text).

    Floats are tagged so that ``1`` and ``1.0`` stay distinct keys, as they are distinct input."""
    if isinstance(value, dict):
        return tuple(sorted((k, frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(frozen(v) for v in value)
    if isinstance(value, float):
        return (float, value)
    return value
