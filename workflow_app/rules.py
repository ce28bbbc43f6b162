"""Routing rules: what an engineer-edited routing must satisfy before it is saved.

The rules themselves are the ``routing_rules`` workflow setting (see
``settings_schema.RULE_DEFAULTS``). :func:`validate_routing` answers a list of problems, each
``{"index", "field", "code", "message"}`` where ``index`` is the operation's position in the list
as sent (``None`` for the routing as a whole) and ``field`` the canonical field (or ``None``).
The routing editor shows them as badges; the API refuses a save that has any.

Operation order: the saved routing is ordered by ``seq``, so seqs out of order are reordered,
not refused; two operations with the same seq are refused. Operations without any seq are
numbered 10, 20, 30 … in the order sent; a list where only some have a seq is refused.
"""

from __future__ import annotations

import math

from workflow_app.settings_schema import RULE_DEFAULTS, validate_rules

TIME_FIELDS = ("setup_min", "run_min", "queue_min", "wait_min", "move_min")
REQUIRED_FIELDS = ("op_code", "work_center")
MAX_OPERATIONS = 500
FROM_DATA = "from_data"
CATALOG_KEYS = {"allowed_op_codes": "op_code", "allowed_work_centers": "work_center"}


def effective_rules(values: dict | None) -> dict:
    """The ``routing_rules`` setting with every rule present (the defaults filled in)."""
    return validate_rules(dict((values or {}).get("routing_rules") or {}))


def allowed(rules: dict, key: str, vocabulary: dict | None) -> dict[str, str] | None:
    """{code: name} allowed by rule ``key``; None when nothing can be checked.

    ``from_data`` means the serving model's catalogue; with no model loaded it cannot be checked.
    """
    catalog = (vocabulary or {}).get(CATALOG_KEYS[key]) or {}
    rule = rules.get(key, RULE_DEFAULTS[key])
    if rule == FROM_DATA:
        return dict(catalog) if vocabulary else None
    return {code: catalog.get(code, "") for code in rule}


def _problem(index, field, code: str, message: str) -> dict:
    return {"index": index, "field": field, "code": code, "message": message}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_problems(i: int, op: dict, rules: dict) -> list[dict]:
    """Negative, too large and non-positive quantities, with codes the editor can badge."""
    out = []
    limit = rules["max_minutes"]
    for key in TIME_FIELDS:
        value = op.get(key)
        if not _is_number(value) or not math.isfinite(value):
            continue
        if value < 0:
            out.append(
                _problem(i, key, "negative_time", f"{key} must not be negative (got {value})")
            )
        elif value > limit:
            out.append(
                _problem(i, key, "too_large", f"{key} is above the maximum of {limit:g} minutes")
            )
    qty = op.get("run_qty")
    if _is_number(qty) and qty <= 0:
        out.append(
            _problem(i, "run_qty", "non_positive_qty", f"run_qty must be above 0 (got {qty})")
        )
    return out


def _typed(i: int, op) -> tuple[dict | None, list[dict]]:
    """The operation through the API's OperationInput serializer (types, unknown fields).

    Fields it refuses are reported and left out, so the rest of the operation is still checked.
    """
    from inference_app.serializers import OperationInput

    if not isinstance(op, dict):
        return None, [_problem(i, None, "invalid", "an operation must be an object")]
    known = OperationInput().fields
    allowed_names = ", ".join(sorted(known))
    problems = [
        _problem(i, key, "unknown_field", f"unknown field; allowed: {allowed_names}")
        for key in op
        if key not in known
    ]
    data = {k: v for k, v in op.items() if k in known}
    serializer = OperationInput(data=data)
    if serializer.is_valid():
        return dict(serializer.validated_data), problems
    for key, messages in serializer.errors.items():
        field = None if key == "non_field_errors" else key
        problems.append(_problem(i, field, "invalid", str(messages[0])))
    rest = OperationInput(data={k: v for k, v in data.items() if k not in serializer.errors})
    return (dict(rest.validated_data) if rest.is_valid() else None), problems


def check_routing(
    operations, rules: dict, vocabulary: dict | None
) -> tuple[list[dict], list[dict]]:
    """``(cleaned operations ordered by seq, problems)``; valid when there is no problem."""
    if not isinstance(operations, list):
        return [], [_problem(None, None, "invalid", "operations must be a list")]
    if len(operations) > MAX_OPERATIONS:
        return [], [_problem(None, None, "too_many", f"at most {MAX_OPERATIONS} operations")]
    rules = {**RULE_DEFAULTS, **rules}
    problems: list[dict] = []
    typed: list[tuple[int, dict]] = []
    for i, op in enumerate(operations):
        ranged = _range_problems(i, op, rules) if isinstance(op, dict) else []
        flagged = {p["field"] for p in ranged}
        rest = {k: v for k, v in op.items() if k not in flagged} if ranged else op
        clean, type_problems = _typed(i, rest)
        problems += ranged + type_problems
        if clean is not None:
            typed.append((i, clean))
            problems += _field_problems(i, clean, rules, vocabulary)
    problems += _seq_problems(operations, typed)
    if len(operations) < rules["min_operations"]:
        problems.append(
            _problem(
                None,
                None,
                "too_few_operations",
                f"a routing needs at least {rules['min_operations']} operation(s)",
            )
        )
    ordered = _cleaned(typed, vocabulary)
    problems += _final_problems(ordered, rules)
    return [op for _, op in ordered], problems


def validate_routing(operations, rules: dict, vocabulary: dict | None) -> list[dict]:
    """Every problem of the routing ``operations`` under ``rules`` (empty when valid)."""
    return check_routing(operations, rules, vocabulary)[1]


def _field_problems(i: int, op: dict, rules: dict, vocabulary: dict | None) -> list[dict]:
    out = []
    for key in REQUIRED_FIELDS:
        if not (op.get(key) or "").strip():
            out.append(_problem(i, key, "required", f"{key} is required"))
    for rule, key in CATALOG_KEYS.items():
        codes = allowed(rules, rule, vocabulary)
        value = (op.get(key) or "").strip()
        if codes is not None and value and value not in codes:
            what = "operation code" if key == "op_code" else "work center"
            source = "the serving model's data" if rules[rule] == FROM_DATA else "the rule's list"
            out.append(
                _problem(i, key, f"unknown_{key}", f"unknown {what} {value!r} (not in {source})")
            )
    return out


def _seq_problems(operations: list, typed: list[tuple[int, dict]]) -> list[dict]:
    with_seq = [(i, op["seq"]) for i, op in typed if op.get("seq") is not None]
    if with_seq and len(with_seq) < len(typed):
        return [
            _problem(
                i, "seq", "required", "give every operation a seq, or none (numbered 10, 20 …)"
            )
            for i, op in typed
            if op.get("seq") is None
        ]
    first: dict[int, int] = {}
    out = []
    for i, seq in with_seq:
        if seq in first:
            out.append(
                _problem(
                    i, "seq", "duplicate_seq", f"seq {seq} is also used by operation {first[seq]}"
                )
            )
        else:
            first[seq] = i
    return out


def _cleaned(typed: list[tuple[int, dict]], vocabulary: dict | None) -> list[tuple[int, dict]]:
    """``(index as sent, operation with every field)`` pairs, ordered by seq."""
    vocab = vocabulary or {}
    ops = []
    for position, (i, op) in enumerate(typed, start=1):
        op_code = (op.get("op_code") or "").strip()
        work_center = (op.get("work_center") or "").strip()
        seq = op.get("seq")
        ops.append((i, {
            "seq": seq if seq is not None else position * 10,
            "op_code": op_code,
            "op_name": op.get("op_name") or vocab.get("op_code", {}).get(op_code, ""),
            "work_center": work_center,
            "work_center_name": (op.get("work_center_name")
                                 or vocab.get("work_center", {}).get(work_center, "")),
            "in_house": op.get("in_house", True),
            **{key: float(op.get(key, 0.0)) for key in TIME_FIELDS},
            "run_qty": float(op.get("run_qty", 1.0)),
        }))  # fmt: skip
    ops.sort(key=lambda pair: pair[1]["seq"])  # stable: equal seqs keep the order sent
    return ops


def _final_problems(ops: list[tuple[int, dict]], rules: dict) -> list[dict]:
    """The last operation (by seq) must be a mandatory final one; the badge goes on it."""
    finals = rules["mandatory_final_ops"]
    if not finals or not ops:
        return []
    index, last = ops[-1]
    if last["op_code"] in finals:
        return []
    return [
        _problem(
            index,
            "op_code",
            "missing_final_op",
            f"the last operation must be one of {', '.join(finals)} "
            f"(it is {last['op_code']!r}, seq {last['seq']})",
        )
    ]


def field_errors(problems: list[dict]) -> dict[str, list[str]]:
    """Problems as the API's ``fields``: ``operations.2.op_code``, ``operations`` for the whole."""
    fields: dict[str, list[str]] = {}
    for p in problems:
        path = "operations"
        if p["index"] is not None:
            path += f".{p['index']}"
        if p["field"] is not None and p["index"] is not None:
            path += f".{p['field']}"
        fields.setdefault(path, []).append(p["message"])
    return fields
