"""A first mapping profile made from a registered source: ``manage.py suggest_profile``.

``suggest_profile(name)`` lists the source's tables and columns (type, fill rate, distinct
values, samples, numeric range, text length) and proposes which table holds the items, the
operations and the work results, which column is each canonical field, and which other item
columns become attributes of which kind. Each proposal carries a ``confidence`` (0..1) and a
``reason``. Evidence comes from names (English, German and Korean ERP vocabularies, compared
without case, spaces, ``_`` or ``-``) and from content: a unique column is a key, a column whose
values all occur in another table's key shares that key, a whole-number column that increases
within each item is a step number, time columns are non-negative numbers, a time unit column
has few short values. Nothing is saved: the engineer edits, previews and saves the ``profile``.

Joins are proposed too: a table that holds one row per item code beside the items table (a
specification table) gives attributes with ``table`` and ``key``; when the operations table has
no run quantity of its own but a column that is the unique key of another table holding a
quantity (an order header, or the items table of a log whose "item" is the order), ``run_qty``
is that quantity joined on that key: the log's run times are then read as totals for the order.

Sampling is honest and bounded: at most ``SAMPLE_ROWS`` rows of each table are read (a
``LIMIT`` in SQLite, ``fetchmany`` over ODBC, ``nrows`` for CSV; an Excel sheet is read whole),
each table's ``sample`` says how many rows were read and whether that was the whole table, and
every fill rate, distinct count and uniqueness is of those rows only. Once ``TIME_BUDGET``
seconds are spent, the tables left are listed by their column names only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import pandas as pd

from workflow_app.profiles import FIELDS, validate_profile

SAMPLE_ROWS = 20_000
TIME_BUDGET = 30.0  # seconds of reading; later tables are listed by their column names only
SAMPLES = 5
ATTRIBUTE_LIMIT = 40
FEW_CODES = 12  # a whole-number column with at most this many values holds codes
DATE_SHAPE = (
    r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{4}|\d{8})(?:[ T][\d:.]+)?$"
)

# canonical field -> spellings (normalised: lower case, no spaces, "_" or "-")
NAMES: dict[str, tuple[str, ...]] = {
    "item_code": (
        "itemcd",
        "itemcode",
        "itemno",
        "itemnumber",
        "itemid",
        "partno",
        "partnumber",
        "partcd",
        "artikelnr",
        "artikelnummer",
        "artnr",
        "materialnr",
        "matnr",
        "sachnummer",
        "teilenr",
        "품목코드",
        "품번",
        "품목번호",
        "자재코드",
        "item",
        "part",
        "artikel",
        "material",
    ),
    "routing_no": ("routno", "routingno", "routingnumber", "plannr", "arbeitsplannr", "라우팅번호"),
    "seq": (
        "procseq",
        "seq",
        "seqno",
        "step",
        "stepno",
        "opno",
        "opseq",
        "operationno",
        "vornr",
        "vorgang",
        "vorgangsnr",
        "arbeitsgang",
        "arbeitsgangnr",
        "agnr",
        "공정순서",
        "순서",
        "공정순번",
    ),
    "op_code": (
        "jobcd",
        "jobcode",
        "opcode",
        "opcd",
        "operation",
        "operationcode",
        "procd",
        "proccd",
        "taetigkeit",
        "tätigkeit",
        "agschluessel",
        "steuerschluessel",
        "공정코드",
        "작업코드",
        "공정",
    ),
    "op_name": (
        "jobnm",
        "jobname",
        "opname",
        "operationname",
        "opdesc",
        "vorgangstext",
        "agtext",
        "arbeitsgangtext",
        "kurztext",
        "공정명",
        "작업명",
    ),
    "work_center": (
        "rescd",
        "resource",
        "workcenter",
        "wc",
        "wccd",
        "machine",
        "station",
        "arbeitsplatz",
        "maschine",
        "anlage",
        "설비코드",
        "작업장",
        "설비",
        "작업장코드",
    ),
    "work_center_name": (
        "resdis",
        "resnm",
        "wcname",
        "arbeitsplatztext",
        "maschinenname",
        "설비명",
    ),
    "in_house": ("insideflag", "inhouse", "makebuy", "eigenfertigung", "inside", "사내구분"),
    "time_unit": ("timeunit", "uom", "unit", "zeiteinheit", "einheit", "시간단위", "단위"),
    "setup_min": ("setuptime", "setup", "setupmin", "ruestzeit", "rüstzeit", "ruesten", "준비시간"),
    "run_min": (
        "runtime",
        "run",
        "runmin",
        "cycletime",
        "bearbeitungszeit",
        "stueckzeit",
        "stückzeit",
        "ausfuehrungszeit",
        "가공시간",
        "작업시간",
    ),
    "run_qty": (
        "runtimeqty",
        "runqty",
        "baseqty",
        "basismenge",
        "lotsize",
        "losgroesse",
        "기준수량",
    ),
    "queue_min": ("queuetime", "queue", "liegezeit", "대기시간"),
    "wait_min": ("waittime", "wait", "wartezeit"),
    "move_min": ("movetime", "move", "transportzeit", "이동시간"),
    "lead_time": ("mfglt", "leadtime", "durchlaufzeit"),
    "valid_from": ("validfromdt", "validfrom", "gueltigab", "gültigab", "유효시작일"),
    "valid_to": ("validtodt", "validto", "gueltigbis", "gültigbis", "유효종료일"),
    "inserted_at": (
        "insrtdt",
        "insertedat",
        "created",
        "createdat",
        "erstellt",
        "anlagedatum",
        "등록일",
    ),
    "reported_at": (
        "reportdt",
        "reportedat",
        "reportdate",
        "rueckmeldedatum",
        "buchungsdatum",
        "실적일",
    ),
    "setup_hours": ("setuphours", "setuphrs", "ruestzeitist", "준비실적"),
    "run_hours": ("machworkedhours", "runhours", "workedhours", "bearbeitungszeitist", "가동시간"),
    "order_qty": ("orderqty", "qty", "quantity", "auftragsmenge", "menge", "지시수량", "수량"),
    "bad_qty": ("badqty", "scrapqty", "ausschuss", "ausschussmenge", "불량수량"),
}
TABLE_NAMES = {
    "items": ("item", "part", "artikel", "material", "teil", "품목", "자재"),
    "operations": ("rout", "oper", "step", "arbeitsplan", "vorgang", "arbeitsgang", "공정"),
    "work_results": ("result", "report", "log", "rueckmeld", "rückmeld", "order", "실적"),
}
# a table of properties beside the item master (not the item master itself)
SPEC_WORDS = ("spec", "merkmal", "eigenschaft", "attrib", "prop", "charac", "사양", "특성", "속성")
# a run time column so named holds the total for the order
TOTAL_WORDS = ("total", "gesamt", "summe", "합계", "총")
TIME_FIELDS = ("setup_min", "run_min", "queue_min", "wait_min", "move_min")
NUMBER_FIELDS = {*TIME_FIELDS, "run_qty", "lead_time", "setup_hours", "run_hours", "order_qty",
                 "bad_qty"}  # fmt: skip
DATE_FIELDS = {"valid_from", "valid_to", "inserted_at", "reported_at"}


def normalise(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name)).lower()


@dataclass
class ColumnInfo:
    """What a column holds, from its first ``SAMPLE_ROWS`` values."""

    name: str
    type: str  # integer | number | date | text | empty
    fill_rate: float
    distinct: int
    unique: bool
    samples: list
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    values: set = field(default_factory=set, repr=False)

    def as_dict(self) -> dict:
        out = {
            "name": self.name,
            "type": self.type,
            "fill_rate": round(self.fill_rate, 3),
            "distinct": self.distinct,
            "unique": self.unique,
            "samples": self.samples,
        }
        if self.type in ("integer", "number"):
            out.update(min=self.minimum, max=self.maximum)
        if self.type == "text":
            out["max_length"] = self.max_length
        return out


def describe_column(name: str, values: pd.Series) -> ColumnInfo:
    """Type, fill rate, distinct values, samples and range of one column."""
    filled = values[values.map(lambda v: v is not None and str(v).strip() != "")].dropna()
    rate = len(filled) / len(values) if len(values) else 0.0
    text = filled.map(lambda v: str(v).strip())
    numbers = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    info = ColumnInfo(
        name=name,
        type="empty",
        fill_rate=rate,
        distinct=int(text.nunique()),
        unique=bool(len(text)) and text.is_unique,
        samples=[str(v) for v in text.drop_duplicates().head(SAMPLES)],
        values=set(text.head(SAMPLE_ROWS)),
    )
    if not len(text):
        return info
    if numbers.notna().all() and not text.str.match(r"^0\d").any():
        whole = bool((numbers == numbers.round()).all())
        info.type = "integer" if whole else "number"
        info.minimum, info.maximum = float(numbers.min()), float(numbers.max())
    elif text.str.match(DATE_SHAPE).all():
        info.type = "date"
    else:
        info.type = "text"
        info.max_length = int(text.str.len().max())
    return info


def describe_table(source, table: str) -> tuple[list[ColumnInfo], dict]:
    """The columns of ``table`` described from its first rows, and what was read."""
    started = time.perf_counter()
    frame, whole = read_sample(source, table)
    columns = [describe_column(str(c), frame[c].astype(object)) for c in frame.columns]
    return columns, _sample_note(len(frame), whole, time.perf_counter() - started)


def _sample_note(rows: int, whole: bool | None, seconds: float) -> dict:
    if whole is None:
        basis = f"not read: the {TIME_BUDGET:g} s reading budget was used up by earlier tables"
    elif whole:
        basis = f"all {rows} rows"
    else:
        basis = f"a sample: the first {rows} rows (the table has more)"
    return {"rows_read": rows, "whole_table": whole, "seconds": round(seconds, 3), "basis": basis}


def read_sample(source, table: str, limit: int | None = None) -> tuple[pd.DataFrame, bool]:
    """At most ``limit`` (default ``SAMPLE_ROWS``) first rows of ``table``, read as such where
    the driver can stop early, and whether they are the whole table."""
    limit = SAMPLE_ROWS if limit is None else limit
    frame = source.read_head(table, limit + 1)
    return frame.head(limit), len(frame) <= limit


def describe_source(source) -> tuple[dict[str, list[ColumnInfo]], dict[str, dict]]:
    """Every table's columns and sample note; tables past ``TIME_BUDGET`` are not read."""
    described, notes = {}, {}
    started = time.perf_counter()
    for table in source.tables():
        if described and time.perf_counter() - started > TIME_BUDGET:
            described[table], notes[table] = [], _sample_note(0, None, 0.0)
            continue
        described[table], notes[table] = describe_table(source, table)
    return described, notes


def name_score(column: str, fld: str) -> float:
    """1.0 for a known spelling, 0.6 when a known spelling is part of the name, else 0."""
    key = normalise(column)
    spellings = NAMES.get(fld, ())
    if fld in TIME_FIELDS:  # "RUN_TOTAL", "Bearbeitungszeit gesamt": a total is still a time
        key = re.sub("|".join(TOTAL_WORDS), "", key) or key
    if key in spellings:
        return 1.0
    if any(len(s) >= 4 and s in key for s in spellings):
        return 0.6
    return 0.0


def content_fits(info: ColumnInfo, fld: str) -> bool:
    """Whether a column's content can be ``fld`` at all."""
    if info.type == "empty":
        return False
    if fld == "seq":
        return info.type == "integer" and (info.minimum or 0) >= 0
    if fld in NUMBER_FIELDS:
        return info.type in ("integer", "number") and (info.minimum or 0) >= 0
    if fld in DATE_FIELDS:
        return info.type == "date"
    if fld == "time_unit":
        return info.type == "text" and info.distinct <= 12 and (info.max_length or 0) <= 10
    if fld == "in_house":
        return info.distinct <= 4
    return True


def _best(columns: list[ColumnInfo], fld: str, taken: set[str]) -> tuple[ColumnInfo, float] | None:
    scored = [
        (c, name_score(c.name, fld))
        for c in columns
        if c.name not in taken and content_fits(c, fld)
    ]
    scored = [(c, s) for c, s in scored if s > 0]
    return max(scored, key=lambda cs: cs[1]) if scored else None


def _item_key(columns: list[ColumnInfo], others: list[list[ColumnInfo]]) -> tuple | None:
    """The items table's key: a unique text/integer column whose values other tables share."""
    best, best_score, reason = None, 0.0, ""
    for c in columns:
        if not c.unique or c.fill_rate < 0.95 or c.type not in ("text", "integer"):
            continue
        shared = max((_overlap(c, o) for table in others for o in table), default=0.0)
        score = 0.5 * shared + 0.4 * name_score(c.name, "item_code") + 0.1
        if score > best_score:
            best, best_score = c, score
            reason = f"unique ({c.distinct} values), {shared:.0%} of another table's key values"
    return (best, min(best_score + 0.1, 1.0), reason) if best else None


def _overlap(key: ColumnInfo, other: ColumnInfo) -> float:
    """The share of ``other``'s values that are values of ``key``."""
    if not other.values or other.type != key.type:
        return 0.0
    return len(other.values & key.values) / len(other.values)


def _increasing(frame_seq: pd.Series, frame_item: pd.Series) -> bool:
    numbers = pd.to_numeric(frame_seq, errors="coerce")
    keys = pd.DataFrame({"item": frame_item.astype(str), "seq": numbers}).dropna()
    return bool(len(keys)) and not keys.duplicated(["item", "seq"]).any()


# --- the proposal -------------------------------------------------------------------------------


def _table_score(role: str, table: str, columns: list[ColumnInfo]) -> tuple[float, str]:
    named = any(word in normalise(table) for word in TABLE_NAMES[role])
    seq = _best(columns, "seq", set())
    reasons = [f"name {table!r} reads as {role}"] if named else []
    score = 0.3 if named else 0.0
    if role == "items":
        unique = [c.name for c in columns if c.unique and c.fill_rate >= 0.95]
        if unique:
            score += 0.4
            reasons.append(f"a unique key column ({unique[0]})")
        if seq is None:
            score += 0.3
            reasons.append("no step numbers")
        if any(word in normalise(table) for word in SPEC_WORDS):
            score -= 0.3
            reasons.append("but the name reads as a specification table")
        return score, "; ".join(reasons)
    if seq is not None:
        score += 0.3
        reasons.append(f"step numbers in {seq[0].name}")
    if role == "operations":
        for fld in ("op_code", "work_center"):
            found = _best(columns, fld, set())
            if found:
                score += 0.2
                reasons.append(f"{fld} in {found[0].name}")
    else:
        facts = [f for f in ("run_hours", "setup_hours", "order_qty", "reported_at")
                 if _best(columns, f, set())]  # fmt: skip
        score += 0.15 * len(facts)
        if facts:
            reasons.append("reported " + ", ".join(facts))
    return min(score, 1.0), "; ".join(reasons)


def _assign_tables(described: dict[str, list[ColumnInfo]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    left = dict(described)
    for role, floor in (("items", 0.4), ("operations", 0.5), ("work_results", 0.6)):
        scored = [(name, *_table_score(role, name, cols)) for name, cols in left.items()]
        scored = [s for s in scored if s[1] >= floor]
        if not scored:
            continue
        name, score, reason = max(scored, key=lambda s: s[1])
        out[role] = {"table": name, "confidence": round(score, 2), "reason": reason}
        left.pop(name)
    return out


def _map_columns(role: str, columns: list[ColumnInfo], key: ColumnInfo | None) -> dict:
    mapping: dict[str, dict] = {}
    taken: set[str] = set()
    if key is not None and role != "items":
        shared = sorted(columns, key=lambda c: (_overlap(key, c), name_score(c.name, "item_code")))
        if shared and _overlap(key, shared[-1]) > 0.5:
            c = shared[-1]
            mapping["item_code"] = {
                "column": c.name,
                "confidence": round(min(0.5 + _overlap(key, c) / 2, 1.0), 2),
                "reason": f"{_overlap(key, c):.0%} of its values are item codes ({key.name})",
            }
            taken.add(c.name)
    for fld in FIELDS[role]:
        if fld in mapping or (role == "items" and fld == "item_code"):
            continue
        found = _best(columns, fld, taken)
        if found is None:
            continue
        column, score = found
        mapping[fld] = {
            "column": column.name,
            "confidence": round(0.5 + score / 2, 2),
            "reason": f"name {column.name!r} is a spelling of {fld}; content {column.type}",
        }
        taken.add(column.name)
    return mapping


def _attributes(
    columns: list[ColumnInfo], key: ColumnInfo, rows: int, skip: frozenset = frozenset()
) -> list[dict]:
    out = []
    for c in columns:
        if c is key or c.name in skip or c.type in ("empty", "date") or c.fill_rate < 0.05:
            continue
        if c.distinct < 2:
            continue
        if c.type == "integer" and c.distinct <= FEW_CODES:
            kind, reason = "categorical", f"whole numbers with {c.distinct} values: codes"
        elif c.type in ("integer", "number"):
            kind, reason = "numeric", f"numbers {c.minimum:g}..{c.maximum:g}"
        elif c.type == "text" and (c.unique or c.distinct > max(50, rows // 2)):
            if (c.max_length or 0) < 12:
                continue  # another identifier (a drawing number), not a property
            kind, reason = "text", f"free text up to {c.max_length} characters"
        else:
            kind, reason = "categorical", f"{c.distinct} distinct values"
        confidence = round(0.4 + 0.5 * c.fill_rate, 2)
        out.append(
            {
                "name": normalise(c.name)[:40] or c.name,
                "column": c.name,
                "kind": kind,
                "weight": 1.0,
                "confidence": confidence,
                "reason": f"{reason}; {c.fill_rate:.0%} filled",
            }
        )
    out.sort(key=lambda a: -a["confidence"])
    return out[:ATTRIBUTE_LIMIT]


def _spec_table(
    described: dict[str, list[ColumnInfo]], taken: set[str], key: ColumnInfo
) -> tuple[str, ColumnInfo, float] | None:
    """A table beside the items table with one row per item code: ``(table, key, share)``."""
    best = None
    for table, columns in described.items():
        if table in taken:
            continue
        for c in columns:
            share = _overlap(key, c)
            if not c.unique or c.fill_rate < 0.95 or share < 0.8:
                continue
            rank = (share, name_score(c.name, "item_code"))
            if best is None or rank > best[3]:
                best = (table, c, share, rank)
    return best[:3] if best else None


def _joined_attributes(table: str, columns: list[ColumnInfo], key: ColumnInfo, share: float,
                       used: set[str]) -> list[dict]:  # fmt: skip
    """The attributes of a specification table, joined on its item-code column ``key``."""
    rows = len(key.values) or 1
    out = []
    for attr in _attributes(columns, key, rows):
        if attr["name"].lower() in used:
            attr["name"] = f"{normalise(table)}{attr['name']}"[:40]
        used.add(attr["name"].lower())
        attr.update(table=table, key=key.name)
        attr["reason"] = (
            f"from {table}, one row per item joined on {key.name} ({share:.0%} of its codes are "
            f"item codes); {attr['reason']}"
        )
        out.append(attr)
    return out


def _quantity_score(column: ColumnInfo) -> float:
    if column.type not in ("integer", "number") or (column.minimum or 0) <= 0:
        return 0.0
    return max(name_score(column.name, "order_qty"), name_score(column.name, "run_qty"))


def _headers(here: ColumnInfo, table: str, columns: list[ColumnInfo]):
    """``(score, table, key, here, quantity, share)`` for each unique key of ``table`` that
    holds ``here``'s values, with the table's best-named positive quantity column."""
    quantities = [(q, _quantity_score(q)) for q in columns]
    for key in columns:
        share = _overlap(key, here)
        if not key.unique or key.fill_rate < 0.95 or share < 0.8:
            continue
        named = [(score, q) for q, score in quantities if q is not key and score > 0]
        if named:
            score, qty = max(named, key=lambda sq: sq[0])
            yield 0.3 * score + 0.2 * share, table, key, here, qty, share


def _header_join(
    ops_table: str, mapping: dict, described: dict[str, list[ColumnInfo]]
) -> dict | None:
    """``run_qty`` from a header table: the operations table has no run quantity but a column
    that is the unique key of another table holding a positive quantity."""
    if "run_qty" in mapping or "run_min" not in mapping:
        return None
    found = [
        header
        for here in described[ops_table]
        if here.type in ("text", "integer")
        for table, columns in described.items()
        if table != ops_table
        for header in _headers(here, table, columns)
    ]
    if not found:
        return None
    score, table, key, here, qty, share = max(found, key=lambda h: h[0])
    run = mapping["run_min"]["column"]
    total = any(word in normalise(run) for word in TOTAL_WORDS)
    return {
        "column": {"table": table, "column": qty.name, "on": {here.name: key.name}},
        "confidence": round(min(0.45 + score + (0.2 if total else 0.0), 1.0), 2),
        "reason": (
            f"{ops_table} has no run quantity; {here.name} is the key of {table} ({share:.0%} of "
            f"its values, one row each), whose {qty.name} is a quantity: the order's quantity, so "
            f"{run} is read as the total for the order"
            + (" (its name says total)" if total else "; check that it is a total")
        ),
    }


def suggest_profile(source_name: str) -> dict:
    """The tables of the registered source ``source_name`` and a proposed input profile."""
    from workflow_app.models import DataSource

    row = DataSource.objects.get_by_name(source_name)
    with row.open() as source:
        described, notes = describe_source(source)
    roles = _assign_tables(described)
    proposal: dict = {"tables": roles, "columns": {}, "attributes": [], "joins": []}
    key = None
    if "items" in roles:
        others = [cols for t, cols in described.items() if t != roles["items"]["table"]]
        found = _item_key(described[roles["items"]["table"]], others)
        if found:
            key, confidence, reason = found
            proposal["columns"]["items"] = {
                "item_code": {
                    "column": key.name,
                    "confidence": round(confidence, 2),
                    "reason": reason,
                }
            }
    for role in ("operations", "work_results"):
        if role in roles:
            proposal["columns"][role] = _map_columns(role, described[roles[role]["table"]], key)
    if "operations" in proposal["columns"]:
        ops = proposal["columns"]["operations"]
        header = _header_join(roles["operations"]["table"], ops, described)
        if header:
            ops["run_qty"] = header
            join = header["column"]
            proposal["joins"].append(
                {"table": join["table"], "key": next(iter(join["on"].values())),
                 "role": "operations.run_qty", "reason": header["reason"]}
            )  # fmt: skip
    if key is not None:
        proposal["attributes"] = _all_attributes(described, roles, proposal, key)
    profile = _profile(source_name, proposal)
    return {
        "source": source_name,
        "tables": [
            {
                "name": t,
                "sample": notes[t],
                "columns": [{**c.as_dict(), "fill_rate_of": notes[t]["basis"]} for c in cols],
            }
            for t, cols in described.items()
        ],  # fmt: skip
        "proposal": proposal,
        "profile": profile,
        "problems": _problems(profile),
        "saved": False,
    }


def _all_attributes(described: dict, roles: dict, proposal: dict, key: ColumnInfo) -> list[dict]:
    """The items table's attributes (less columns a join reads), then a specification
    table's, most confident first."""
    items = roles["items"]["table"]
    skip = {
        p["column"]["column"]
        for p in proposal["columns"].get("operations", {}).values()
        if isinstance(p["column"], dict) and p["column"]["table"] == items
    }
    rows = len(key.values) or 1
    out = _attributes(described[items], key, rows, frozenset(skip))
    taken = {r["table"] for r in roles.values()}
    spec = _spec_table(described, taken, key)
    if spec:
        table, spec_key, share = spec
        used = {a["name"].lower() for a in out}
        out += _joined_attributes(table, described[table], spec_key, share, used)
        proposal["joins"].append(
            {"table": table, "key": spec_key.name, "role": "attributes",
             "reason": f"one row per item code ({share:.0%} of {spec_key.name} are item codes)"}
        )  # fmt: skip
    out.sort(key=lambda a: -a["confidence"])
    return out[:ATTRIBUTE_LIMIT]


def _problems(profile: dict) -> list[str]:
    try:
        validate_profile(profile)
    except Exception as exc:  # noqa: BLE001 - reported, never raised: the engineer edits
        return [f"{p}: {m[0]}" for p, m in getattr(exc, "fields", {}).items()]
    return []


def _profile(source_name: str, proposal: dict) -> dict:
    tables = {role: proposal["tables"].get(role, {}).get("table", "") for role in FIELDS}
    return {
        "name": f"{source_name}-suggested",
        "description": f"Suggested from the data source {source_name!r}; check before use.",
        "source": source_name,
        "tables": {**tables, "work_results": tables["work_results"] or None},
        "columns": {
            role: {fld: p["column"] for fld, p in mapping.items()}
            for role, mapping in proposal["columns"].items()
        },
        "attributes": [
            {k: a[k] for k in ("name", "column", "kind", "weight", "table", "key") if k in a}
            for a in proposal["attributes"]
        ],
    }
