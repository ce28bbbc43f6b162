"""What the serving model accepts, told to an integrator and enforced on every request.

:func:`describe` builds the description of ``GET /api/v1/model`` (attribute names, kinds, units,
example values, the quantity convention) once per loaded version and keeps it on the model
object; :func:`check_attributes` refuses attribute names the model does not know (with the
closest known names) and values of the wrong kind, with the field path at fault. Both read the
loaded model only: no ORM, no file reads on the request path.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter

import numpy as np

from routing_core.features import is_missing
from routing_core.numbers import parse_number
from routing_site.errors import BadInput

QUANTITY_CONVENTION = (
    "quantity is the number of pieces of one order (default 1). Each operation's total is "
    "setup_min + run_min × quantity / run_qty + queue_min + wait_min + move_min minutes; "
    "run_min is the run time of run_qty pieces."
)
EXAMPLES = 5
UNIT_SUFFIXES = ("_UNIT", "_UOM")


def attribute_kinds(model) -> dict[str, tuple[str, str]]:
    """``{name: (kind, number locale)}`` of the attributes the model was trained on."""
    cached = getattr(model, "_attribute_kinds", None)
    if cached is None:
        cached = {c.name: (c.kind, c.locale) for c in model.encoder.codecs}
        model._attribute_kinds = cached
    return cached


def closest(name: str, known: list[str]) -> list[str]:
    """Known names closest to ``name`` (case-insensitive), best first."""
    lower = {k.lower(): k for k in known}
    return [lower[m] for m in difflib.get_close_matches(name.lower(), list(lower), 3, 0.5)]


def _unknown_message(name: str, known: list[str]) -> str:
    near = closest(name, known)
    if near:
        return f"unknown attribute {name!r}: did you mean {' or '.join(map(repr, near))}?"
    return f"unknown attribute {name!r}; GET /api/v1/model lists the known names"


def _kind_problem(value, kind: str, locale: str) -> str | None:
    if value is None or kind != "numeric":
        return None
    if isinstance(value, (int, float)):
        return None
    if is_missing(value) or not math.isnan(parse_number(value, locale)):
        return None
    return f"must be a number: {kind} attribute (got {value!r})"


def check_attributes(model, attributes: dict, path: str, ignore: bool) -> tuple[dict, dict]:
    """(attributes to use, errors by field path) for one item's ``attributes``."""
    kinds = attribute_kinds(model)
    kept, errors = {}, {}
    for name, value in attributes.items():
        spec = kinds.get(name)
        if spec is None:
            if not ignore:
                errors[f"{path}.{name}"] = [_unknown_message(name, list(kinds))]
            continue
        problem = _kind_problem(value, *spec)
        if problem:
            errors[f"{path}.{name}"] = [problem]
        kept[name] = value
    return kept, errors


def check_items(model, items: list[dict], ignore: bool) -> list[dict]:
    """The items with their attributes checked; raises 400 naming every field at fault."""
    errors: dict = {}
    out = []
    for i, item in enumerate(items):
        if item.get("attributes"):
            kept, found = check_attributes(
                model, item["attributes"], f"items.{i}.attributes", ignore
            )
            item = {**item, "attributes": kept}
            errors.update(found)
        out.append(item)
    raise_if_any(errors)
    return out


def raise_if_any(errors: dict) -> None:
    if errors:
        path, messages = next(iter(errors.items()))
        raise BadInput(f"{path}: {messages[0]}", fields=errors, code="invalid_attributes")


def typed_attributes(model, attributes: dict) -> dict:
    """An item's stored attributes in their kind's JSON type (numbers as numbers)."""
    kinds = attribute_kinds(model)
    out = {}
    for name, value in attributes.items():
        if value is None:
            continue
        kind, locale = kinds.get(name, ("text", "auto"))
        out[name] = _typed(value, kind, locale)
    return out


def _typed(value, kind: str, locale: str):
    if kind != "numeric":
        return value
    number = parse_number(value, locale)
    if math.isnan(number):
        return value
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def describe(model) -> dict:
    """The serving version for an integrator; built once per loaded version."""
    cached = getattr(model, "_description", None)
    if cached is None:
        cached = _build_description(model)
        model._description = cached
    return cached


def _build_description(model) -> dict:
    profile = model.manifest.get("profile", {})
    columns = _columns(model)
    attributes = [_attribute(model, codec, columns) for codec in model.encoder.codecs]
    return {
        "model_version": model.label,
        "profile": profile.get("name", ""),
        "created_at": model.manifest.get("created_at"),
        "items": int(model.manifest.get("data_counts", {}).get("items", model.tables.n_items)),
        "attributes": attributes,
        "quantity": {"default": 1, "convention": QUANTITY_CONVENTION},
        "limits": {"items_per_request": 100, "attributes_per_item": 200, "text_length": 500},
        "example_request": _example_request(model, attributes),
    }


def _columns(model) -> dict[str, Counter]:
    """Value counts of each stored attribute over the model's items."""
    tables = model.tables
    ids = np.asarray(tables.a["item_attrs"])
    strings = tables.strings["attributes"]
    out = {}
    for j, name in enumerate(tables.attribute_names):
        if j >= ids.shape[1]:
            break
        column = ids[:, j]
        values = list(strings[name])  # all at once: stored values decode one by one otherwise
        counts = np.bincount(column[column >= 0], minlength=len(values))
        out[name] = Counter({values[k]: int(n) for k, n in enumerate(counts) if n})
    return out


def _attribute(model, codec, columns: dict[str, Counter]) -> dict:
    counts = columns.get(codec.name, Counter())
    entry = {
        "name": codec.name,
        "kind": codec.kind,
        "json_type": "number" if codec.kind == "numeric" else "string",
        "unit": _unit(model, codec.name, columns),
        "weight": codec.weight,
        "items_with_value": sum(counts.values()),
    }
    if codec.kind == "numeric":
        numbers = [_typed(v, "numeric", codec.locale) for v in counts]
        numbers = [n for n in numbers if isinstance(n, (int, float))]
        entry["range"] = {"min": min(numbers), "max": max(numbers)} if numbers else None
        entry["examples"] = [
            _typed(v, "numeric", codec.locale) for v, _ in counts.most_common(EXAMPLES)
        ]
    else:
        entry["examples"] = [v for v, _ in counts.most_common(EXAMPLES)]
    return entry


def _unit(model, name: str, columns: dict[str, Counter]) -> str | None:
    """The profile's ``unit`` of the attribute, else the usual value of its NAME_UNIT column."""
    for spec in model.manifest.get("profile", {}).get("attributes", []):
        if spec.get("name") == name and spec.get("unit"):
            return str(spec["unit"])
    for suffix in UNIT_SUFFIXES:
        usual = columns.get(name + suffix)
        if usual:
            return str(usual.most_common(1)[0][0])
    return None


def _example_request(model, attributes: list[dict]) -> dict:
    """A predict body for a new item: each attribute's most frequent value."""
    values = {a["name"]: a["examples"][0] for a in attributes if a["examples"]}
    return {"items": [{"item_code": "NEW-0001", "attributes": values}], "candidates": 3}
