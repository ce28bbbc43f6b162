"""The lookup tables of a version: items, their attributes and their routings, column-wise.

Written once at training as plain ``.npy`` arrays (plus small JSON string tables) and opened by
the runtime with ``mmap_mode="r"``: the inference process starts in milliseconds whatever the
plant's size, touches only the pages a request needs, and never parses 2 million operations.

Layout (rows of ``items`` are sorted by item code, so a code is found by binary search):
- ``item_codes``      (n_items,) unicode — sorted
- ``item_rt_start``   (n_items,) int32 — first row of the item's routings in ``rt_*``
- ``item_rt_end``     (n_items,) int32
- ``item_attrs``      (n_items, n_attrs) int32 — index into the attribute's distinct values,
  -1 when missing. The values of all attributes are ``attr_text`` (uint8, UTF-8, one after the
  other) cut by ``attr_offsets`` (int64, n + 1 byte offsets), with each attribute's count in
  ``strings.json["attribute_counts"]``: a value is decoded when asked (:class:`StoredValues`),
  so opening a version creates no string per stored value (older versions hold them as lists in
  ``strings.json["attributes"]`` and still open)
- ``rt_no``           (n_routings,) int32 → strings ``routing_no``; ``rt_primary`` (bool),
  ``rt_sig`` (int32, id of the routing's (op_code, work_center) sequence), ``rt_op_start/end``
- ``op_*``            per operation, in routing order: ids into the string tables (op_code,
  op_name, work_center, work_center_name), ``op_seq`` int32, ``op_in_house`` bool, standard
  times ``op_setup/op_run/op_run_qty/op_queue/op_wait/op_move`` (float32 minutes; NaN where the
  source gave none or a bad one: a missing time is never 0), work-order actuals ``op_act_setup``
  (min per order), ``op_act_run`` (min per unit), ``op_act_n`` (int32)

Routings are told apart by (item row, routing number) itself, never by a number folded from
them. Work-order actuals belong to a step only when item, routing, seq and operation code agree
(and the work center too where the result names one); a result that matches no current step —
the step was revised since, or never existed — is counted in the extract report, not attached.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

STRING_FIELDS = ("op_code", "op_name", "work_center", "work_center_name", "routing_no")
TIME_FIELDS = ("setup", "run", "run_qty", "queue", "wait", "move")
_OP_ARRAYS = (
    "op_seq",
    "op_op_code",
    "op_op_name",
    "op_work_center",
    "op_work_center_name",
    "op_in_house",
    "op_act_n",
    "op_act_setup",
    "op_act_run",
)
FOLDER = "tables"


def _factorize(series) -> tuple[np.ndarray, list[str]]:
    """(ids, distinct values as text) of a column, -1 where missing (pandas' factorize gives
    every missing spelling, None, NaN or NaT, the -1 itself: no missing-value pass first)."""
    import pandas as pd

    codes, uniques = pd.factorize(series.astype(object))
    return codes.astype(np.int32), [str(u) for u in uniques]


def _factorize_filled(series) -> tuple[np.ndarray, list[str]]:
    """:func:`_factorize` of the column with its missing values read as ``""``: the same ids
    as factorising ``series.fillna("")``, without filling 2 million rows first — a missing
    value takes the id of ``""``, numbered where the first of the two appears."""
    codes, table = _factorize(series)
    missing = codes < 0
    if not missing.any():
        return codes, table
    first_missing = int(np.argmax(missing))
    at = int(codes[:first_missing].max(initial=-1)) + 1  # the id "" takes: ids seen before
    empty = table.index("") if "" in table else len(table)
    if empty < at:  # "" appeared before the first missing value: it keeps its id
        codes[missing] = empty
        return codes, table
    shift = (codes >= at) & (codes < empty)  # ids between move up by one to make room
    codes[codes == empty] = at
    codes[shift] += 1
    codes[missing] = at
    table = table[:at] + [""] + [v for i, v in enumerate(table[at:], at) if i != empty]
    return codes, table


def build_tables(
    items, operations, work_results, attribute_names: list[str], today=None, report=None
):
    """Column arrays + string tables from the canonical frames. Returns (arrays, strings).

    ``report`` (an ExtractReport) counts the work results that match no current step.
    """
    import pandas as pd

    # copy-on-write: assign / reset_index / filtering of 2.4 M operation rows stay views
    with pd.option_context("mode.copy_on_write", True):
        return _build_tables(items, operations, work_results, attribute_names, today, report)


def _build_tables(items, operations, work_results, attribute_names, today, report):
    import pandas as pd

    items = items.drop_duplicates("item_code").sort_values("item_code", kind="stable")
    codes = items["item_code"].astype(str).to_numpy()
    arrays: dict[str, np.ndarray] = {"item_codes": codes.astype(str)}
    strings: dict = {"attributes": {}}
    attr_cols = []
    for name in attribute_names:
        col = items[name] if name in items else pd.Series([None] * len(items))
        ids, values = _factorize(col.reset_index(drop=True))
        attr_cols.append(ids)
        strings["attributes"][name] = values
    arrays["item_attrs"] = (
        np.stack(attr_cols, axis=1) if attr_cols else np.zeros((len(items), 0), np.int32)
    )

    # codes are sorted and unique: one hash lookup per operation finds its item's row and
    # drops the operations of unknown items (-1)
    item_index = pd.Index(codes)
    item_row = item_index.get_indexer(operations["item_code"])
    known = item_row >= 0
    ops = operations[known].assign(item_row=item_row[known])
    if not _sorted(ops):  # extraction already sorts by item, routing, seq: skip the big sort
        ops = ops.sort_values(["item_row", "routing_no", "seq"], kind="stable")
    ops = ops.reset_index(drop=True)
    ops = _attach_actuals(ops, work_results, report, item_index)

    # routings: one row per (item, routing_no); a new one starts wherever either changes
    starts = _routing_starts(ops["item_row"].to_numpy(), ops["routing_no"].to_numpy(dtype=object))
    ends = np.r_[starts[1:], len(ops)]
    rt_item = ops["item_row"].to_numpy()[starts]
    for field in STRING_FIELDS:
        values = ops[field] if field in ops else pd.Series([""] * len(ops))
        ids, table = _factorize_filled(values)
        arrays[f"op_{field}"] = ids
        strings[field] = table
    strings["catalog"] = {
        "op_code": _catalog(ops, arrays, strings, "op_code", "op_name"),
        "work_center": _catalog(ops, arrays, strings, "work_center", "work_center_name"),
    }
    arrays["rt_no"] = arrays.pop("op_routing_no")[starts]
    arrays["rt_op_start"] = starts.astype(np.int32)
    arrays["rt_op_end"] = ends.astype(np.int32)
    arrays["rt_sig"] = _signatures(arrays["op_op_code"], arrays["op_work_center"], starts, ends)
    arrays["rt_primary"] = _primary_routings(ops, starts, rt_item, today)

    n = len(codes)
    first = np.full(n, 0, np.int32)
    count = np.bincount(rt_item, minlength=n).astype(np.int32)
    first[:] = np.r_[0, np.cumsum(count)[:-1]]
    arrays["item_rt_start"] = first
    arrays["item_rt_end"] = (first + count).astype(np.int32)

    arrays["op_seq"] = ops["seq"].to_numpy(dtype=np.int32)
    arrays["op_in_house"] = ops["in_house"].fillna(True).to_numpy(dtype=bool)
    for field in TIME_FIELDS:  # a missing time stays NaN: the statistics skip it, never read 0
        col = "run_qty" if field == "run_qty" else f"{field}_min"
        values = ops[col].fillna(1.0) if field == "run_qty" else ops[col]
        arrays[f"op_{field}"] = values.to_numpy(dtype=np.float32, na_value=np.nan)
    arrays["op_act_setup"] = ops["act_setup"].to_numpy(dtype=np.float32)
    arrays["op_act_run"] = ops["act_run"].to_numpy(dtype=np.float32)
    arrays["op_act_n"] = ops["act_n"].to_numpy(dtype=np.int32)
    return arrays, strings


def _routing_starts(item_rows: np.ndarray, routing_nos: np.ndarray) -> np.ndarray:
    """First operation row of each (item, routing) run of the sorted operations."""
    changed = (item_rows[1:] != item_rows[:-1]) | (routing_nos[1:] != routing_nos[:-1])
    return np.flatnonzero(np.r_[True, changed]) if len(item_rows) else np.zeros(0, np.int64)


def _sorted(ops) -> bool:
    rows, seq = ops["item_row"].to_numpy(), ops["seq"].to_numpy()
    routing = ops["routing_no"].to_numpy(dtype=object)
    same_item = rows[1:] == rows[:-1]
    same_routing = same_item & (routing[1:] == routing[:-1])
    return bool(
        np.all(rows[1:] >= rows[:-1])
        and np.all(~same_item | (routing[1:] >= routing[:-1]))
        and np.all(~same_routing | (seq[1:] > seq[:-1]))
    )


def _catalog(ops, arrays: dict, strings: dict, code: str, name: str) -> dict[str, str]:
    """Each code with its most frequent name (the editor's pick lists, the routing rules).

    Counted on the operations' ids (missing read as ``""``, as in their string tables), then
    ordered as ``DataFrame.value_counts`` orders the (code, name) pairs: by the pairs' text,
    then by count, descending, with pandas' own sort, so ties go the same way."""
    import pandas as pd

    if name not in ops:
        return {str(c): "" for c in ops[code].dropna().unique()}
    code_ids, name_ids = arrays[f"op_{code}"], arrays[f"op_{name}"]
    width = max(len(strings[name]), 1)
    counts = np.bincount(code_ids.astype(np.int64) * width + name_ids)
    pairs = np.flatnonzero(counts)
    codes_text = np.array(strings[code], dtype=object)[pairs // width]
    names_text = np.array(strings[name], dtype=object)[pairs % width]
    frame = pd.DataFrame({code: codes_text, name: names_text, "count": counts[pairs]})
    frame = frame.sort_values([code, name], kind="stable", ignore_index=True)
    frame = frame.iloc[frame["count"].sort_values(ascending=False).index]
    return dict(frame.drop_duplicates(code)[[code, name]].itertuples(index=False, name=None))


def _signatures(op_ids, wc_ids, starts, ends) -> np.ndarray:
    """Equal (op_code, work_center) sequences get equal ids: one candidate per sequence."""
    sigs: dict[bytes, int] = {}
    out = np.empty(len(starts), np.int32)
    pairs = (op_ids.astype(np.int64) << 20) | wc_ids.astype(np.int64)
    for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
        out[i] = sigs.setdefault(pairs[s:e].tobytes(), len(sigs))
    return out


def _primary_routings(ops, starts, rt_item, today) -> np.ndarray:
    """Per item, the routing valid today with the latest insert; ties → lowest routing_no."""
    import pandas as pd

    today = pd.Timestamp(today or pd.Timestamp.now()).normalize()
    head = ops.iloc[starts]
    valid_to = pd.to_datetime(head["valid_to"], errors="coerce")
    valid_from = pd.to_datetime(head["valid_from"], errors="coerce")
    valid = (valid_to.isna() | (valid_to >= today)) & (valid_from.isna() | (valid_from <= today))
    inserted = pd.to_datetime(head["inserted_at"], errors="coerce").fillna(pd.Timestamp(0))
    frame = pd.DataFrame(
        {
            "item": rt_item,
            "valid": valid.to_numpy(),
            "inserted": inserted.to_numpy(),
            "order": np.arange(len(starts)),
        }
    )
    frame = frame.sort_values(
        ["item", "valid", "inserted", "order"], ascending=[True, False, False, True]
    )
    primary = np.zeros(len(starts), bool)
    primary[frame.drop_duplicates("item")["order"].to_numpy()] = True
    return primary


def _attach_actuals(ops, work_results, report=None, item_index=None):
    """Median work-order actuals per current step, in minutes (see the module docstring)."""
    n = len(ops)
    act_setup, act_run, act_n = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, np.int32)
    if work_results is not None and not work_results.empty:
        import pandas as pd

        qty = work_results["order_qty"].where(work_results["order_qty"] > 0)
        step = _step_of(work_results, ops, report, item_index)
        keep = step >= 0
        per_result = pd.DataFrame(
            {
                "step": step[keep],
                "setup": (work_results["setup_hours"] * 60.0).to_numpy()[keep],
                "run": (work_results["run_hours"] * 60.0 / qty).to_numpy()[keep],
            }
        )
        stats = per_result.groupby("step", sort=False).agg(
            setup=("setup", "median"), run=("run", "median"), n=("setup", "size")
        )
        rows = stats.index.to_numpy()
        act_setup[rows], act_run[rows] = stats["setup"].to_numpy(), stats["run"].to_numpy()
        act_n[rows] = stats["n"].to_numpy()
    return ops.assign(act_setup=act_setup, act_run=act_run, act_n=act_n)


def _step_of(wr, ops, report, item_index=None) -> np.ndarray:
    """Each work result's operation row, -1 where it matches no current step (counted)."""
    keys = _step_keys(wr, ops, item_index)
    n = len(ops)
    # A step key may hold several operations (alternatives at one seq): a result joins the one
    # with its operation code (the first such row), so a result never matches twice.
    step = _first_rows(keys["step_op"][:n], keys["op"][:n] >= 0, keys["step_op"][n:])
    has_step = np.zeros(int(keys["step"].max(initial=-1)) + 1, bool)
    has_step[keys["step"][:n]] = True
    has_step = has_step[keys["step"][n:]]
    no_step = ~has_step
    no_op = has_step & (keys["op"][n:] < 0)
    other_op = has_step & ~no_op & (step < 0)
    wc, empty = keys["wc"], keys["empty_wc"]
    step_wc = np.where(step >= 0, wc[:n][np.maximum(step, 0)], empty)
    other_wc = ~(no_step | no_op | other_op) & (wc[n:] != empty) & (step_wc != empty)
    other_wc &= wc[n:] != step_wc
    if report is not None:
        for mask, reason in (
            (no_step, "work result for no current (item, routing, seq): not attached"),
            (no_op, "work result without an operation code: not attached"),
            (other_op, "work result's operation code differs from the step's: not attached"),
            (other_wc, "work result's work center differs from the step's: not attached"),
        ):
            if mask.any():
                i = int(np.argmax(mask))
                row = wr.iloc[i]
                example = f"{row['item_code']}/{row['routing_no']}/{row['seq']} {row['op_code']}"
                report.count("work_results", reason, int(mask.sum()), example)
    return np.where(no_step | no_op | other_op | other_wc, -1, step)


def _first_rows(keys: np.ndarray, usable: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Per ``wanted`` key, the first row whose key it is among the ``usable`` rows, else -1."""
    first = np.full(int(max(keys.max(initial=-1), wanted.max(initial=-1))) + 1, len(keys))
    rows = np.flatnonzero(usable)
    np.minimum.at(first, keys[rows], rows)
    found = first[wanted]
    return np.where(found < len(keys), found, -1)


def _step_keys(wr, ops, item_index=None) -> dict[str, np.ndarray]:
    """The step keys of operations (first ``len(ops)`` entries) and work results (the rest)
    as integers: ``step`` (item, routing, seq), ``step_op`` (the same and the operation code),
    ``op`` (-1 where missing) and ``wc`` (the work center as text, a missing one as ``""``,
    whose number is ``empty_wc``). The same text gets the same number on both sides, a missing
    one -1 (a work result's item that no operation has gets its own number: it matches no
    step); missing matches missing, as in a join on the texts. ``item_index``: the item codes
    whose positions ``ops["item_row"]`` holds, in which the results' items are looked up."""
    import pandas as pd

    def both(column: str) -> np.ndarray:
        joined = pd.concat([ops[column], wr[column]], ignore_index=True).astype(object)
        return pd.factorize(joined)[0]

    if item_index is None:
        item = both("item_code")
    else:  # an unknown or missing item: -1, which no operation has
        item = np.r_[ops["item_row"].to_numpy(np.int64), item_index.get_indexer(wr["item_code"])]
    routing, op = both("routing_no"), both("op_code")
    seq = np.r_[ops["seq"].to_numpy(np.int64), wr["seq"].to_numpy(np.int64)]
    low, high = (int(seq.min()), int(seq.max())) if len(seq) else (0, 0)
    seq = seq - low if high - low < len(seq) else pd.factorize(seq)[0]  # ids from 0 either way
    step = _pair(_pair(item, routing), seq)
    wc_codes, wc_values = pd.factorize(
        pd.concat([ops["work_center"], wr["work_center"]], ignore_index=True).astype(object)
    )
    # as text, the way the step's and the result's work centers are compared; "" last, for -1
    wc_text = pd.factorize(np.array([str(v) for v in wc_values] + [""], dtype=object))[0]
    return {
        "step": step,
        "step_op": _pair(step, op),
        "op": op,
        "wc": wc_text[wc_codes],
        "empty_wc": wc_text[-1],
    }


def _pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One number ≥ 0 per distinct (a, b) pair of ids ≥ -1; renumbered from 0 (by one sort,
    faster here than a hash pass) only where the plain product would leave most numbers
    unused."""
    key = (a.astype(np.int64) + 1) * (int(b.max(initial=-1)) + 2) + (b.astype(np.int64) + 1)
    if key.max(initial=0) <= 4 * len(key):
        return key
    return np.unique(key, return_inverse=True)[1].reshape(-1)


def save_tables(folder: Path, arrays: dict, strings: dict) -> list[str]:
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    files = []
    strings = dict(strings)
    values = strings.pop("attributes", {})
    strings["attribute_counts"] = [[name, len(column)] for name, column in values.items()]
    text, offsets = _packed([v for column in values.values() for v in column])
    for name, array in {**arrays, "attr_text": text, "attr_offsets": offsets}.items():
        np.save(target / f"{name}.npy", np.ascontiguousarray(array))
        files.append(f"{FOLDER}/{name}.npy")
    (target / "strings.json").write_text(json.dumps(strings, ensure_ascii=False))
    files.append(f"{FOLDER}/strings.json")
    return files


def _packed(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Values as one UTF-8 byte array and the n + 1 offsets that cut it."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


class StoredValues(Sequence):
    """One attribute's distinct values over a version's memory-mapped text, each decoded when
    asked: opening a version creates none of them (hundreds of thousands of strings at a large
    plant: a tenth of a second at start and tens of megabytes in every serving process)."""

    __slots__ = ("_text", "_offsets", "_first", "_n")

    def __init__(self, text: np.ndarray, offsets: np.ndarray, first: int, n: int):
        self._text = memoryview(text)
        self._offsets = memoryview(offsets)  # plain ints on indexing, no numpy scalars
        self._first, self._n = first, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self._n))]
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"value {i} of {self._n}")
        k = self._first + i
        return str(self._text[self._offsets[k] : self._offsets[k + 1]], "utf-8")

    def __iter__(self):
        return iter(self.tolist())

    def take(self, ids) -> list[str | None]:
        """The values at the stored ids ``ids`` (any negative id: a missing value, None) in one
        pass: the values ``self[i]`` gives, without its checks and conversions per value (the
        neighbours of an answer bring a few dozen values seen for the first time; for so few,
        plain integers from the offsets' memory view beat a numpy gather)."""
        text, cuts, first, n = self._text, self._offsets, self._first, self._n
        if not isinstance(ids, list):  # an array of ids: plain integers
            ids = np.asarray(ids, dtype=np.int64).ravel().tolist()
        out: list[str | None] = []
        for i in ids:
            if i < 0:
                out.append(None)
            elif i < n:
                k = first + i
                out.append(str(text[cuts[k] : cuts[k + 1]], "utf-8"))
            else:
                raise IndexError(f"value {i} of {n}")
        return out

    def tolist(self) -> list[str]:
        """All values at once (one slice of the text, cut in Python)."""
        if not self._n:
            return []
        cuts = self._offsets[self._first : self._first + self._n + 1].tolist()
        data, base = bytes(self._text[cuts[0] : cuts[-1]]), cuts[0]
        return [
            data[a - base : b - base].decode("utf-8") for a, b in zip(cuts, cuts[1:], strict=False)
        ]


def take_many(columns: list, id_lists: list[list[int]]) -> list[list[str | None]]:
    """``take_values(columns[k], id_lists[k])`` for every k."""
    return [take_values(c, ids) for c, ids in zip(columns, id_lists, strict=True)]


def take_values(column: Sequence[str], ids) -> list[str | None]:
    """The values of one attribute's ``column`` at the stored ids ``ids`` (negative: missing,
    None): :meth:`StoredValues.take`, or one by one for an older version's list of values."""
    if isinstance(column, StoredValues):
        return column.take(ids)
    return [None if i < 0 else column[i] for i in np.asarray(ids, dtype=np.int64).tolist()]


def _stored_values(a: dict[str, np.ndarray], counts: list) -> dict[str, StoredValues]:
    out, first = {}, 0
    for name, n in counts:
        out[str(name)] = StoredValues(a["attr_text"], a["attr_offsets"], first, int(n))
        first += int(n)
    if first + 1 != len(a["attr_offsets"]):
        raise ValueError(f"{FOLDER}/attr_offsets.npy does not hold {first} values.")
    return out


@dataclass
class Operation:
    seq: int
    op_code: str
    op_name: str
    work_center: str
    work_center_name: str
    in_house: bool
    times: dict  # setup/run/run_qty/queue/wait/move (standard, minutes)
    actual_setup: float | None
    actual_run_per_unit: float | None
    actual_orders: int


class RoutingTables:
    """Read-only view over a version's tables (memory-mapped; safe to share across threads)."""

    def __init__(self, folder: Path, attribute_names: list[str]):
        base = folder / FOLDER
        # memory-mapped, viewed as plain arrays: np.memmap's per-item bookkeeping costs more
        # than the lookups themselves on the request path
        self.a = {p.stem: np.asarray(np.load(p, mmap_mode="r")) for p in base.glob("*.npy")}
        self.strings = json.loads((base / "strings.json").read_text())
        counts = self.strings.pop("attribute_counts", None)
        if counts is not None:  # else an older version's lists in "attributes"
            self.strings["attributes"] = _stored_values(self.a, counts)
        self.attribute_names = attribute_names
        self.codes = self.a["item_codes"]

    @property
    def n_items(self) -> int:
        return len(self.codes)

    def row_of(self, code: str) -> int | None:
        """The row of an item code; None when the version does not hold it. A code longer than
        the stored ones is not looked up: numpy would first copy the whole column (13 MB at
        325,000 items) into the wider string type, 10-35 ms for every such code."""
        if self.codes.dtype.kind == "U" and len(code) > self.codes.dtype.itemsize // 4:
            return None
        i = int(np.searchsorted(self.codes, code))
        return i if i < len(self.codes) and self.codes[i] == code else None

    def code_of(self, row: int) -> str:
        return str(self.codes[row])

    def codes_of(self, rows: list[int]) -> list[str]:
        """The item codes of ``rows``, gathered at once."""
        return self.codes[rows].tolist() if rows else []

    def attributes(self, row: int) -> dict:
        ids = self.a["item_attrs"][row]
        table = self.strings["attributes"]
        return {
            name: (table[name][i] if i >= 0 else None)
            for name, i in zip(self.attribute_names, ids.tolist(), strict=False)
        }

    def attribute_values(self, name: str, ids) -> list[str | None]:
        """The stored values of attribute ``name`` at the ids ``ids`` (negative: missing,
        None), read in one batch."""
        return take_values(self.strings["attributes"][name], ids)

    def attribute_values_many(self, parts: list[tuple[str, list[int]]]) -> list[list]:
        """:meth:`attribute_values` of each (attribute name, ids) of ``parts``, all read in
        one batch."""
        table = self.strings["attributes"]
        return take_many([table[name] for name, _ in parts], [ids for _, ids in parts])

    def routings_of(self, row: int) -> list[int]:
        """Routing rows of an item, the primary one first."""
        start, end = int(self.a["item_rt_start"][row]), int(self.a["item_rt_end"][row])
        rows = list(range(start, end))
        rows.sort(key=lambda r: not bool(self.a["rt_primary"][r]))
        return rows

    def has_routing(self, row: int) -> bool:
        """Whether the item has a routing (``routings_of(row)`` is not empty)."""
        return bool(self.a["item_rt_end"][row] > self.a["item_rt_start"][row])

    def primary_routing(self, row: int) -> int | None:
        rows = self.routings_of(row)
        return rows[0] if rows else None

    def routing_no(self, rt: int) -> str:
        return self.strings["routing_no"][int(self.a["rt_no"][rt])]

    def signature(self, rt: int) -> int:
        return int(self.a["rt_sig"][rt])

    def operations(self, rt: int) -> list[Operation]:
        a, s = self.a, self.strings
        start, end = int(a["rt_op_start"][rt]), int(a["rt_op_end"][rt])
        col = {name: a[name][start:end].tolist() for name in _OP_ARRAYS}
        times = {f: a[f"op_{f}"][start:end].tolist() for f in TIME_FIELDS}
        out = []
        for i in range(end - start):
            n_act = col["op_act_n"][i]
            act_setup, act_run = col["op_act_setup"][i], col["op_act_run"][i]
            out.append(
                Operation(
                    seq=col["op_seq"][i],
                    op_code=s["op_code"][col["op_op_code"][i]],
                    op_name=s["op_name"][col["op_op_name"][i]],
                    work_center=s["work_center"][col["op_work_center"][i]],
                    work_center_name=s["work_center_name"][col["op_work_center_name"][i]],
                    in_house=col["op_in_house"][i],
                    times={f: times[f][i] for f in TIME_FIELDS},
                    actual_setup=act_setup if n_act and act_setup == act_setup else None,
                    actual_run_per_unit=act_run if n_act and act_run == act_run else None,
                    actual_orders=n_act,
                )
            )
        return out

    def vocabulary(self) -> dict[str, list[str]]:
        """{"op_code": {code: name}, "work_center": {code: name}} as seen in the data."""
        return self.strings["catalog"]
