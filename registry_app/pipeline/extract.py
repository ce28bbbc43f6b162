"""Extraction: a plant's source tables → the canonical frames of ``canonical.py`` (DESIGN §3).

``extract(profile)`` reads the three tables the input mapping profile names, renames the mapped
columns to canonical fields and cleans them, column at a time (no per-row Python loops). It
never stops on a bad value: every repair or dropped row is counted in the ExtractReport (per
table role ``items`` / ``operations`` / ``work_results`` and reason, with a few examples).

Conventions of the output
- Text fields (codes, names, categorical and text attributes) are Python ``str``, stripped, in
  object columns; a missing value is ``None`` (never NaN, "nan" or ""). Integral numbers read
  from a text field are written without ".0" (``45``, not ``45.0``); case is kept as the
  source has it.
- Numeric attributes and times are float64; missing or unparseable values are NaN (the latter
  counted). A 0 stays 0: whether a 0 dimension means "not given" is the feature encoder's call.
- Dates are datetime64 (NaT when missing or unparseable, the latter counted). ERP end dates
  such as 9999-12-31 mean "open-ended" and become NaT without being counted.
- ``seq`` is int64; ``routing_no`` is text ('01' for every row when the profile maps none).
- Times are minutes: each row's TIME_UNIT is looked up, case-insensitively, in the profile's
  spellings, then in the spellings plants write (``STANDARD_UNITS``: MIN, MINS, MINUTE(S), H,
  HR(S), HOUR(S), S, SEC(S), D, DAY(S), German Std, Min, Sek …); hours × 60, seconds ÷ 60,
  days × 1440. A missing unit uses the profile's default unit (counted); an unknown spelling is
  a bad value: that row's times are NaN (counted), never read in the default unit.
  A time column the profile does not map is 0; a mapped but empty value is NaN.
- An operation without a work center keeps its row with ``work_center`` "" (counted).
- ``run_qty`` is > 0: missing, 0 or negative becomes 1 (counted). ``in_house`` is bool: the
  value is one of the profile's ``in_house_values`` (any case); missing means in-house (counted).

Rows dropped: items without a code, duplicate item codes (the first row wins), operations and
work results missing item code, routing number, a whole-number sequence or (operations) an op
code, and repeated (item, routing, seq) operations (the first wins). Operations and work
results are sorted by item, routing and sequence (work results keep one row per order and
operation, so their keys repeat); the source's row order only breaks ties.

Cost: reading dominates (the driver's work per value, see ``sources.py``); the source is asked
for the three tables up front (``Source.prefetch``), so a SQLite plant's next table is read on
a background thread while this one is cleaned. Cleaning works on each column's distinct values
and maps them back by code, so it grows with the distinct values more than with the rows.
"""

from __future__ import annotations

import ctypes
import operator
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from registry_app.pipeline.canonical import (
    ITEM_KEY,
    OPERATION_COLUMNS,
    WORK_RESULT_COLUMNS,
    ExtractReport,
    PlantData,
)
from registry_app.pipeline.sources import Source, materialize, open_source
from routing_core.numbers import number_locale, parse_number
from routing_site.errors import BadInput
from workflow_app.profiles import resolve_source, unit_factor, validate_profile

Progress = Callable[[str, float, str], None]
OPEN_ENDED_YEAR = 2262  # beyond pandas' datetime64[ns] range: an ERP "no end" date
TIME_FIELDS = ("setup_min", "run_min", "queue_min", "wait_min", "move_min")
DATE_FIELDS = ("valid_from", "valid_to", "inserted_at")
# minutes per unit, by the spellings plants write (upper case; a profile's own spellings win)
STANDARD_UNITS: dict[str, float] = {
    **dict.fromkeys(("MIN", "MINS", "MINUTE", "MINUTES", "MINUTEN", "M"), 1.0),
    **dict.fromkeys(("H", "HR", "HRS", "HOUR", "HOURS", "STD", "STUNDE", "STUNDEN"), 60.0),
    **dict.fromkeys(
        ("S", "SEC", "SECS", "SECOND", "SECONDS", "SEK", "SEKUNDE", "SEKUNDEN"), 1 / 60
    ),
    **dict.fromkeys(("D", "DAY", "DAYS", "TAG", "TAGE"), 1440.0),
}
FALLBACK_DATE_FORMATS = (
    "%Y%m%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%m/%d/%Y %H:%M:%S",
)


def extract(
    profile: dict, source: str | None = None, progress: Progress | None = None
) -> PlantData:
    """Read and clean the profile's tables from ``source`` (default: the registered data source
    the profile names)."""
    started = time.perf_counter()
    spec = validate_profile(profile)
    try:
        number_locale(spec)
    except ValueError as exc:
        raise BadInput(str(exc), fields={"number_locale": [str(exc)]}) from None
    say = progress or (lambda stage, fraction, message: None)
    report = ExtractReport()
    with open_source(source) if source else resolve_source(spec).open() as src:
        for table, columns in _table_columns(spec):
            src.prefetch(table, columns)
        say("extract", 0.0, f"reading {spec['tables']['items']} from {src.label}")
        items = _items(src, spec, report)
        say("extract", 0.25, f"{len(items)} items; reading {spec['tables']['operations']}")
        operations = _operations(src, spec, report)
        say("extract", 0.7, f"{len(operations)} operations; reading work results")
        work_results = _work_results(src, spec, report)
        roles = {name.lower(): role for role, name in spec["tables"].items() if name}
        for table, reason, n, example in src.issues:
            report.count(roles.get(table.lower(), table), reason, n, example)
        report.formats = src.formats()
        report.readers = dict(src.readers)
    give_back_freed_memory()
    report.seconds = time.perf_counter() - started
    say(
        "extract",
        1.0,
        f"{len(items)} items, {len(operations)} operations, {len(work_results)} work results",
    )
    return PlantData(items=items, operations=operations, work_results=work_results, report=report)


def give_back_freed_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc on Linux; elsewhere nothing).
    A source reads columns on threads of its own, and glibc keeps memory freed from a
    thread's allocations in that thread's arena, where the main thread never reuses it: at
    325,000 items about 0.3 GB that the stages after extraction would otherwise add to."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # a C library without malloc_trim (musl)
        pass


# --- column cleaners: every one works on the distinct values, then maps back by code ------------


@dataclass
class Text:
    """A cleaned text column, dictionary-encoded: ``codes`` index ``values``; -1 is missing."""

    codes: np.ndarray
    values: np.ndarray  # distinct stripped strings (sorted when asked for)

    @property
    def missing(self) -> np.ndarray:
        return self.codes < 0

    def array(self, rows: np.ndarray | None = None) -> np.ndarray:
        table = np.empty(len(self.values) + 1, dtype=object)
        table[:-1] = self.values
        table[-1] = None
        return table[self.codes if rows is None else self.codes[rows]]


def _scalar_text(value) -> str | None:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "TRUE" if value else "FALSE"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, Decimal) and value == value.to_integral_value():
        text = str(int(value))
    elif isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = str(value)
    return text.strip() or None


def _factorize(values) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct raw values) of a column; a source's Categorical is already that."""
    if isinstance(values, pd.Categorical):
        return values.codes, np.asarray(values.categories, dtype=object)
    codes, uniques = pd.factorize(pd.Series(values, copy=False), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def text_column(series, ranked: bool = False) -> Text:
    """Strip and dictionary-encode a column; blanks are missing. ``ranked``: values sorted."""
    codes, uniques = _factorize(series)
    remap, values = _cleaned_values(uniques)
    if ranked and len(values) > 1:
        order = np.argsort(values, kind="stable")
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        remap = np.where(remap >= 0, rank[np.maximum(remap, 0)], -1)
        values = values[order]
    return Text(codes=np.asarray(remap, dtype=np.int64)[codes], values=values)


def _cleaned_values(uniques: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code of each distinct raw value among the cleaned ones, with -1 appended for a
    missing raw value; the distinct cleaned values) for the distinct raw ``uniques``."""
    raw = uniques.tolist()
    if pd.api.types.infer_dtype(uniques, skipna=False) == "string":
        stripped = [u.strip() for u in raw]
        # str.strip hands back the string itself when there is nothing to strip: distinct
        # values that are all already clean (and not blank) keep their codes
        if all(map(operator.is_, stripped, raw)) and all(stripped):
            values = np.empty(len(stripped), dtype=object)
            values[:] = stripped
            return np.append(np.arange(len(values), dtype=np.int64), -1), values
        cleaned = np.array(stripped + [""], dtype=object)
    else:
        cleaned = np.array([_scalar_text(u) or "" for u in raw] + [""], dtype=object)
    cleaned[cleaned == ""] = None
    # stripping can make two raw values one ("A" and "A "): number the cleaned values anew
    remap, values = pd.factorize(cleaned, use_na_sentinel=True)
    return np.asarray(remap, dtype=np.int64), np.asarray(values, dtype=object)


def clean_text(series) -> pd.Series:
    """Stripped ``str`` values in an object column, ``None`` where missing or blank."""
    return pd.Series(text_column(series).array(), dtype=object)


def _row_counts(codes: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes[codes >= 0], minlength=size)


def clean_number(
    series, report: ExtractReport, table: str, column: str, locale: str = "auto"
) -> np.ndarray:
    """float64; NaN where missing or unparseable (unparseable values are counted).

    Text is read by :func:`routing_core.numbers.parse_number` in the profile's number locale,
    the parser the encoder uses at prediction, so both read ``"160,5"`` alike."""
    if getattr(series, "dtype", None) is not None and series.dtype.kind in "iuf":
        out = np.array(series, dtype="float64")  # a copy: the caller may write into it
        bad_rows, example = 0, None
    else:
        codes, uniques = _factorize(series)
        values = np.array(
            [_number_of(u, locale) for u in uniques], dtype="float64"
        )  # distinct values only
        bad = np.isnan(values) & np.array(
            [_scalar_text(u) is not None for u in uniques], dtype=bool
        )
        bad_rows = int(_row_counts(codes, len(uniques))[bad].sum()) if bad.any() else 0
        example = f"{column}={uniques[np.argmax(bad)]!r}" if bad_rows else None
        values = np.append(values, np.nan)
        out = values[codes]
    infinite = np.isinf(out)
    if infinite.any():
        out[infinite] = np.nan
        bad_rows += int(infinite.sum())
        example = example or f"{column}=inf"
    if bad_rows:
        report.count(table, f"unparseable number in {column}: NaN", bad_rows, example)
    return out


def _number_of(value, locale: str) -> float:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return parse_number(float(value), locale)
    text = _scalar_text(value) if value is not None else None
    return parse_number(text, locale) if text is not None else np.nan


def clean_dates(series, report: ExtractReport, table: str, column: str) -> np.ndarray:
    """datetime64[ns]; NaT where missing, unparseable (counted) or open-ended (9999-12-31)."""
    if not isinstance(series, pd.Categorical) and pd.api.types.is_datetime64_any_dtype(series):
        return pd.Series(series, copy=False).to_numpy(dtype="datetime64[ns]")
    s = series
    text = text_column(s)
    values = pd.Series(text.values, dtype=object)
    parsed = pd.to_datetime(values, errors="coerce", format="ISO8601")
    for fmt in FALLBACK_DATE_FORMATS:
        todo = parsed.isna().to_numpy()
        if not todo.any():
            break
        parsed[todo] = pd.to_datetime(values[todo], errors="coerce", format=fmt)
    failed = parsed.isna().to_numpy()
    if failed.any():
        year = pd.to_numeric(values.str[:4], errors="coerce").to_numpy()
        bad = failed & ~(year >= OPEN_ENDED_YEAR)
        rows = int(_row_counts(text.codes, len(values))[bad].sum()) if bad.any() else 0
        if rows:
            report.count(
                table, f"bad date in {column}: NaT", rows, f"{column}={values[np.argmax(bad)]!r}"
            )
    table_ = np.append(parsed.to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
    return table_[text.codes]


# --- tables -------------------------------------------------------------------------------------


class RawTable:
    """The source columns of one table, by source column name, its row count, and the number
    locale its text numbers are read in."""

    def __init__(self, data: dict[str, np.ndarray], locale: str = "auto") -> None:
        self.data = data
        self.rows = len(next(iter(data.values()))) if data else 0
        self.locale = locale

    def __getitem__(self, column: str) -> np.ndarray:
        return self.data[column]

    def __len__(self) -> int:
        return self.rows


def _table_columns(spec: dict) -> list[tuple[str, list[str]]]:
    """The (table, source columns) extraction reads of each role's own table, in its order."""
    ops = {k: v for k, v in spec["columns"]["operations"].items() if k != "lead_time"}
    key_col = spec["columns"]["items"]["item_code"]
    wanted = [
        (spec["tables"]["items"], [key_col] + _own_attributes(spec)),
        (spec["tables"]["operations"], _own_columns(ops)),
    ]
    if spec["tables"].get("work_results"):
        wanted.append(
            (spec["tables"]["work_results"], _own_columns(spec["columns"]["work_results"]))
        )
    return [(table, list(dict.fromkeys(columns))) for table, columns in wanted]


def _own_attributes(spec: dict) -> list[str]:
    """The attribute columns of the items table itself (not joined from another table)."""
    return [a["column"] for a in spec["attributes"] if not a.get("table")]


def _read(src: Source, spec: dict, table: str, columns: list[str]) -> RawTable:
    """The columns of ``table``; numbers in the profile's locale, else the one the source
    detected for the table (a CSV file's decimal mark), else ``auto``."""
    data = src.read_columns(table, list(dict.fromkeys(columns)))
    locale = number_locale(spec)
    if locale == "auto":
        locale = src.number_locale(table) or "auto"
    return RawTable(data, locale)


def _items(src: Source, spec: dict, report: ExtractReport) -> pd.DataFrame:
    key_col = spec["columns"]["items"]["item_code"]
    attributes = spec["attributes"]
    raw = _read(src, spec, spec["tables"]["items"], [key_col] + _own_attributes(spec))
    report.rows_read["items"] = len(raw)
    code = text_column(raw[key_col])
    keep = ~code.missing
    if not keep.all():
        first = int(np.argmin(keep))
        report.count(
            "items",
            f"missing item code ({key_col}): row dropped",
            int((~keep).sum()),
            f"row {first}",
        )
    dup = (
        keep
        & pd.Series(np.where(keep, code.codes, -1 - np.arange(len(keep)))).duplicated().to_numpy()
    )
    if dup.any():
        example = f"{key_col}={code.values[code.codes[np.argmax(dup)]]!r}"
        report.count("items", "duplicate item code: first row kept", int(dup.sum()), example)
    rows = np.flatnonzero(keep & ~dup)
    data = {ITEM_KEY: code.array(rows)}
    for attr in attributes:
        col = (
            raw[attr["column"]]
            if not attr.get("table")
            else attribute_of(src, raw, key_col, attr, report)
        )
        if attr["kind"] == "numeric":
            data[attr["name"]] = clean_number(col, report, "items", attr["column"], raw.locale)[
                rows
            ]
        else:
            data[attr["name"]] = text_column(col).array(rows)
    items = frame_of(data, list(data))
    report.rows_kept["items"] = len(items)
    return items


def _keys(raw: RawTable, m: dict, report: ExtractReport, role: str, fields: tuple) -> dict:
    """Key columns (dictionary-encoded, ranked for sorting) and the rows that lack one."""
    n = len(raw)
    keys: dict = {}
    drop = np.zeros(n, dtype=bool)
    for fld in fields:
        if fld == "seq":
            seq = clean_number(raw[m["seq"]], report, role, m["seq"], raw.locale)
            absent = ~(seq == np.round(seq))  # NaN or fractional
            keys["seq"] = np.where(absent, 0, seq).astype(np.int64)
            what = f"missing or fractional seq ({m['seq']})"
        elif fld == "routing_no" and fld not in m:
            keys[fld] = Text(
                codes=np.zeros(n, dtype=np.int64), values=np.array(["01"], dtype=object)
            )
            continue
        else:
            keys[fld] = text_column(raw[m[fld]], ranked=True)
            absent = keys[fld].missing
            what = f"missing {fld} ({m[fld]})"
        if absent.any():
            report.count(
                role, f"{what}: row dropped", int(absent.sum()), f"row {int(np.argmax(absent))}"
            )
            drop |= absent
    keys["drop"] = drop
    return keys


def _sorted_unique_rows(keys: dict, report: ExtractReport, role: str, dedupe: bool) -> np.ndarray:
    """Row numbers to keep, sorted by (item, routing, seq); a repeated key keeps its first row."""
    rows = np.flatnonzero(~keys["drop"])
    item, routing, seq = (
        keys["item_code"].codes[rows],
        keys["routing_no"].codes[rows],
        keys["seq"][rows],
    )
    order = _key_order(item, routing, seq)
    rows, item, routing, seq = rows[order], item[order], routing[order], seq[order]
    if dedupe and len(rows) > 1:
        same = (item[1:] == item[:-1]) & (routing[1:] == routing[:-1]) & (seq[1:] == seq[:-1])
        repeated = np.r_[False, same]
        if repeated.any():
            i = int(np.argmax(repeated))
            code, rout = keys["item_code"].values[item[i]], keys["routing_no"].values[routing[i]]
            key = f"{code}/{rout}/{seq[i]}"
            report.count(
                role, "repeated (item, routing, seq): first row kept", int(repeated.sum()), key
            )
            rows = rows[~repeated]
    return rows


def _key_order(item: np.ndarray, routing: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Positions that sort the rows by (item, routing, seq), source order breaking ties. The
    three keys packed into one integer when they fit (a stable sort of one key, quick on rows
    the source already holds in order), else ``np.lexsort`` of the three."""
    if len(item) == 0:
        return np.arange(0)
    low = int(seq.min())
    routes, steps = int(routing.max()) + 1, int(seq.max()) - low + 1
    if (int(item.max()) + 1) * routes * steps >= 1 << 62:
        return np.lexsort((np.arange(len(item)), seq, routing, item))
    return np.argsort((item * routes + routing) * steps + (seq - low), kind="stable")


def _text_or_none(raw: RawTable, m: dict, fld: str, rows: np.ndarray) -> np.ndarray:
    if fld not in m:
        return np.full(len(rows), None, dtype=object)
    return text_column(raw[m[fld]]).array(rows)


def _dates(raw, m, fld, rows, report, role) -> np.ndarray:
    if fld not in m:
        return np.full(len(rows), np.datetime64("NaT", "ns"))
    return clean_dates(raw[m[fld]], report, role, m[fld])[rows]


def minutes_per_unit(spec: dict, spelling: str) -> float | None:
    """Minutes in one ``spelling`` unit: the profile's spellings, then ``STANDARD_UNITS``."""
    factor = unit_factor(spec, spelling)
    return factor if factor is not None else STANDARD_UNITS.get(str(spelling).strip().upper())


def _unit_factors(raw: RawTable, spec: dict, m: dict, report: ExtractReport) -> np.ndarray:
    """Minutes per unit of each row: the default where the unit is missing, NaN where unknown."""
    default = unit_factor(spec, spec["time_units"]["default"])
    if "time_unit" not in m:
        return np.full(len(raw), default)
    col = m["time_unit"]
    units = text_column(raw[col])
    known = [minutes_per_unit(spec, u) for u in units.values]
    factors = np.array([np.nan if f is None else f for f in known] + [default])[units.codes]
    if units.missing.any():
        report.count(
            "operations", f"missing time unit ({col}): default used", int(units.missing.sum())
        )
    unknown = np.isnan(factors)
    if unknown.any():
        seen = sorted(str(u) for u, f in zip(units.values, known, strict=True) if f is None)
        report.count(
            "operations",
            f"unknown time unit ({col}): times missing (NaN)",
            int(unknown.sum()),
            f"{col} in {seen[:5]}",
        )
    return factors


def _in_house(raw: RawTable, spec: dict, m: dict, report: ExtractReport) -> np.ndarray:
    if "in_house" not in m:
        return np.ones(len(raw), dtype=bool)
    flags = text_column(raw[m["in_house"]])
    if flags.missing.any():
        report.count(
            "operations",
            f"missing in-house flag ({m['in_house']}): in-house assumed",
            int(flags.missing.sum()),
        )
    inside = set(spec["in_house_values"])
    per_value = np.array([str(v).upper() in inside for v in flags.values] + [True], dtype=bool)
    return per_value[flags.codes]


def _minutes(raw, m, fld, factors, report) -> np.ndarray:
    if fld not in m:
        return np.zeros(len(raw))
    values = clean_number(raw[m[fld]], report, "operations", m[fld], raw.locale) * factors
    negative = values < 0
    if negative.any():
        report.count("operations", f"negative time in {m[fld]}: NaN", int(negative.sum()))
        values[negative] = np.nan
    return values


def _run_qty(raw, m, report) -> np.ndarray:
    if "run_qty" not in m:
        return np.ones(len(raw))
    qty = clean_number(raw[m["run_qty"]], report, "operations", m["run_qty"], raw.locale)
    bad = ~(qty > 0)
    if bad.any():
        report.count(
            "operations",
            f"run quantity ({m['run_qty']}) missing or not above 0: 1 used",
            int(bad.sum()),
        )
        qty[bad] = 1.0
    return qty


def _own_columns(mapping: dict) -> list[str]:
    """The columns of the role's own table a mapping reads (joins' keys included)."""
    out = []
    for column in mapping.values():
        if isinstance(column, str):
            out.append(column)
        elif "on" in column:
            out.extend(column["on"])
    return out


def joined_fields(src: Source, raw: RawTable, mapping: dict, role: str, report) -> dict:
    """``mapping`` with each joined or constant field read into ``raw`` under a name of its own
    (``table.column`` or ``=value``): one value per row, like a column of the table."""
    out = {}
    for fld, column in mapping.items():
        if isinstance(column, str):
            out[fld] = column
            continue
        if "value" in column:
            name = f"={column['value']}"
            raw.data[name] = np.full(len(raw), column["value"], dtype=object)
        else:
            name = f"{column['table']}.{column['column']}"
            raw.data[name] = lookup(src, raw, column, role, report)
        out[fld] = name
    return out


def lookup(src: Source, raw: RawTable, join: dict, role: str, report: ExtractReport) -> np.ndarray:
    """For each row of ``raw``: ``join["column"]`` of the first row of ``join["table"]`` whose
    ``join["on"]`` columns equal the row's (compared as cleaned text); None where none does."""
    here, there = list(join["on"]), list(join["on"].values())
    other = src.read_columns(join["table"], list(dict.fromkeys([*there, join["column"]])))
    keys = [f"key{i}" for i in range(len(here))]
    left = pd.DataFrame({k: text_column(raw[c]).array() for k, c in zip(keys, here, strict=True)})
    right = pd.DataFrame(
        {k: text_column(other[c]).array() for k, c in zip(keys, there, strict=True)}
    )
    right["value"] = pd.Series(materialize(other[join["column"]]), dtype=object)
    repeated = right.duplicated(keys)
    if repeated.any():
        what = f"repeated key in {join['table']} ({', '.join(there)}): first row used"
        report.count(role, what, int(repeated.sum()))
    merged = left.merge(right[~repeated], how="left", on=keys, sort=False)
    values = merged["value"].astype(object)
    missing = values.isna().to_numpy()
    if missing.any():
        what = f"no row in {join['table']} for {join['column']}: value missing"
        report.count(role, what, int(missing.sum()))
    return values.where(~missing, None).to_numpy(dtype=object)


def attribute_of(src: Source, raw: RawTable, key_col: str, attr: dict, report) -> np.ndarray:
    """An attribute from another table joined on the item code (its own ``key`` column)."""
    on = {key_col: attr.get("key") or key_col}
    join = {"table": attr["table"], "column": attr["column"], "on": on}
    return lookup(src, raw, join, "items", report)


def _operations(src: Source, spec: dict, report: ExtractReport) -> pd.DataFrame:
    m = {k: v for k, v in spec["columns"]["operations"].items() if k != "lead_time"}
    raw = _read(src, spec, spec["tables"]["operations"], _own_columns(m))
    m = joined_fields(src, raw, m, "operations", report)
    report.rows_read["operations"] = len(raw)
    keys = _keys(raw, m, report, "operations", ("item_code", "routing_no", "seq", "op_code"))
    rows = _sorted_unique_rows(keys, report, "operations", dedupe=True)
    work_center = text_column(raw[m["work_center"]])
    no_wc = work_center.missing[rows]
    if no_wc.any():
        report.count(
            "operations", f"missing work center ({m['work_center']}): kept as ''", int(no_wc.sum())
        )
    factors = _unit_factors(raw, spec, m, report)
    data = {
        "item_code": keys["item_code"].array(rows),
        "routing_no": keys["routing_no"].array(rows),
        "seq": keys["seq"][rows],
        "op_code": keys["op_code"].array(rows),
        "op_name": _text_or_none(raw, m, "op_name", rows),
        "work_center": np.where(no_wc, "", work_center.array(rows)).astype(object),
        "work_center_name": _text_or_none(raw, m, "work_center_name", rows),
        "in_house": _in_house(raw, spec, m, report)[rows],
    }
    for fld in TIME_FIELDS:
        data[fld] = _minutes(raw, m, fld, factors, report)[rows]
        if fld == "run_min":
            data["run_qty"] = _run_qty(raw, m, report)[rows]
    for fld in DATE_FIELDS:
        data[fld] = _dates(raw, m, fld, rows, report, "operations")
    report.rows_kept["operations"] = len(rows)
    return frame_of(data, OPERATION_COLUMNS)


def _work_results(src: Source, spec: dict, report: ExtractReport) -> pd.DataFrame:
    table = spec["tables"].get("work_results")
    if not table:
        return empty_work_results()
    m = spec["columns"]["work_results"]
    raw = _read(src, spec, table, _own_columns(m))
    m = joined_fields(src, raw, m, "work_results", report)
    report.rows_read["work_results"] = len(raw)
    keys = _keys(raw, m, report, "work_results", ("item_code", "routing_no", "seq"))
    rows = _sorted_unique_rows(keys, report, "work_results", dedupe=False)
    data = {
        "item_code": keys["item_code"].array(rows),
        "routing_no": keys["routing_no"].array(rows),
        "seq": keys["seq"][rows],
        "op_code": _text_or_none(raw, m, "op_code", rows),
        "work_center": _text_or_none(raw, m, "work_center", rows),
        "reported_at": _dates(raw, m, "reported_at", rows, report, "work_results"),
    }
    for fld in ("setup_hours", "run_hours", "order_qty", "bad_qty"):
        data[fld] = (
            clean_number(raw[m[fld]], report, "work_results", m[fld], raw.locale)[rows]
            if fld in m
            else np.full(len(rows), np.nan)
        )
    report.rows_kept["work_results"] = len(rows)
    return frame_of(data, WORK_RESULT_COLUMNS)


def frame_of(data: dict[str, np.ndarray], columns: list[str]) -> pd.DataFrame:
    """A DataFrame of ``columns``, one block per column and no copies: DataFrame(dict) would
    first copy the object columns into one block (``copy=False`` keeps them apart), and
    setting the columns one by one copies each."""
    rows = len(data[columns[0]]) if columns else 0
    return pd.DataFrame({c: data[c] for c in columns}, index=pd.RangeIndex(rows), copy=False)


def empty_work_results() -> pd.DataFrame:
    """A work-results frame with no rows and the canonical columns and dtypes."""
    dtypes = {"seq": "int64", "reported_at": "datetime64[ns]"}
    for fld in ("setup_hours", "run_hours", "order_qty", "bad_qty"):
        dtypes[fld] = "float64"
    return pd.DataFrame(
        {c: pd.Series([], dtype=dtypes.get(c, object)) for c in WORK_RESULT_COLUMNS}
    )
