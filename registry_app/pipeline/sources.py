"""Where plant data is read from: a SQLite file, an ODBC data source or a folder of CSV files.

``open_source(text)`` understands four kinds. A file kind is its name, three slashes and the
path: ``sqlite:///plant.sqlite`` (relative to the working folder), ``sqlite:////srv/plant.sqlite``
(absolute on Linux: the path's own slash makes four), ``sqlite:///C:/erp/plant.sqlite``
(Windows); fewer slashes are refused with the right form shown.

- ``sqlite:///…`` a SQLite file;
- ``odbc:<connection string>``, e.g. ``odbc:DSN=PLANT`` or, with the Access driver on Windows,
  ``odbc:DRIVER={Microsoft Access Driver (*.mdb, *.accdb)};DBQ=C:\\erp\\plant.accdb``, and on
  Linux ``odbc:DRIVER={MDBTools};DBQ=/srv/erp/plant.mdb``;
- ``csv:///…`` a folder where each table is ``<name>.csv``, its format detected per file
  (:mod:`registry_app.pipeline.csvformat`);
- ``excel:///…`` a workbook (``.xlsx``, ``.xlsm``, ``.xls``) whose sheets are the tables.

Every source answers ``tables()``, ``read_table(name, columns=None)`` (a DataFrame whose
columns carry the requested names) and ``close()``, and is a context manager. Table and column
names are matched exactly first, then ignoring case, as Access and SQLite do.

Reads stay within what mdbtools' ODBC driver accepts (DESIGN §3): one ``SELECT * FROM [t]``
per table, columns picked in Python, no JOIN/ORDER BY/parameters, no ``cursor.columns()``.
Date and time columns come back as ISO-like text (our own output converters), so a date the
driver cannot turn into a Python datetime (year 9999, day 0) is a value for extraction to count,
not an exception that aborts the read. Should a driver still fail mid-table, the table is read
again column by column and the unreadable column is reported in ``issues`` and left empty.

Confinement (see :mod:`registry_app.pipeline.confinement`): every file a source opens is
checked first, symlinks resolved, and a refused location answers one message whether or not it
exists. Table names are taken only from the driver's own listing (``sqlite_master``,
``cursor.tables()``, the folder's ``*.csv`` files) and quoted by the driver's rules.
"""

from __future__ import annotations

import os
import re
import sqlite3
import struct
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from registry_app.pipeline import confinement
from registry_app.pipeline.csvformat import CSV_OPTIONS, CsvFormat, check_csv_options, detect
from routing_site.errors import BadInput

FORMS = (
    "sqlite:///relative/file.sqlite, sqlite:////absolute/file.sqlite, sqlite:///C:/file.sqlite, "
    "odbc:<connection string> (e.g. odbc:DSN=PLANT or odbc:DRIVER={MDBTools};DBQ=/path/file.mdb), "
    "csv:///relative/folder, csv:////absolute/folder, csv:///C:/folder, "
    "excel:///relative/book.xlsx, excel:////absolute/book.xlsx, excel:///C:/book.xlsx"
)
FETCH_ROWS = 50_000
# rows of one ADBC batch: the driver takes each column's type from its batch's values, so a
# column empty in a small first batch would be typed INT64 and refuse the REALs that follow
ADBC_ROWS = 1 << 22
SPLIT_ROWS = 200_000  # a table with more rows is read in rowid ranges side by side
PARALLEL_READS = 4
CSV_BLOCK = 16 * 1024 * 1024  # bytes pyarrow's CSV reader parses at a time (it needs whole rows)

# ODBC SQL type codes whose values we decode ourselves (SQL_TYPE_* and the ODBC 2 names)
SQL_TIMESTAMP_TYPES = (93, 11)
SQL_DATE_TYPES = (91, 9)
SQL_TIME_TYPES = (92, 10)
TABLE_TYPES = ("TABLE", "LINK", "SYNONYM")


# Options a data source of each kind accepts; anything else is refused by name.
OPTIONS: dict[str, tuple[str, ...]] = {
    "sqlite": (),
    "odbc": (),
    "csv": CSV_OPTIONS,
    "excel": (),
}
KINDS = tuple(OPTIONS)
PREFIXES = {"sqlite": "sqlite:///", "csv": "csv:///", "odbc": "odbc:", "excel": "excel:///"}


def source_url(kind: str, location: str) -> str:
    """The source string ``open_source`` reads for a registered ``kind`` and ``location``."""
    return PREFIXES[kind] + location


def check_options(kind: str, options) -> dict:
    """``options`` when every key is one ``kind`` accepts; BadInput naming the allowed ones."""
    if not isinstance(options, dict):
        raise BadInput("options must be a JSON object.", fields={"options": ["not an object"]})
    allowed = OPTIONS.get(kind, ())
    unknown = sorted(k for k in options if k not in allowed)
    if unknown:
        listing = ", ".join(allowed) or "none"
        message = f"unknown option(s) {', '.join(unknown)} for a {kind} source; allowed: {listing}"
        raise BadInput(f"options: {message}", fields={"options": [message]})
    return check_csv_options(options) if kind == "csv" else dict(options)


class SourceError(BadInput):
    """The source cannot be opened or read as the profile says; ``detail`` says what to do."""

    code = "source_error"


_FILE_URL = re.compile(r"^(sqlite|csv|excel):(/*)(.*)$", flags=re.IGNORECASE | re.DOTALL)


def right_forms(scheme: str) -> str:
    """The documented URL forms of a file ``scheme`` (relative, Linux absolute, Windows)."""
    what = "folder" if scheme == "csv" else "file"
    return (
        f"{scheme}:///relative/{what} (from the working folder), {scheme}:////absolute/{what} "
        f"(Linux: four slashes), {scheme}:///C:/{what} (Windows)"
    )


def parse_source(source: str) -> tuple[str, str]:
    """``(scheme, rest)`` for a source string, or SourceError naming the accepted forms."""
    text = (source or "").strip()
    if text.lower().startswith("odbc:"):
        rest = text[len("odbc:") :].strip()
        if not rest:
            raise SourceError(f"Source {source!r} names no odbc target. Use one of: {FORMS}")
        return "odbc", rest
    match = _FILE_URL.match(text)
    if match is None:
        raise SourceError(
            f"Unknown source {source!r}. Use one of: {FORMS}",
            fields={"source": ["unknown scheme"]},
        )
    scheme, slashes, path = match.group(1).lower(), match.group(2), match.group(3).strip()
    if len(slashes) < 3:
        raise SourceError(
            f"Source {source!r} is not in the {scheme} form: write "
            f"{_meant(scheme, slashes, path)}. The forms are {right_forms(scheme)}.",
            fields={"source": ["wrong form"]},
        )
    rest = slashes[3:] + path  # sqlite:////abs/path, sqlite:///rel/path, sqlite:///C:/x
    if not rest.strip():
        raise SourceError(f"Source {source!r} names no {scheme} target. Use one of: {FORMS}")
    return scheme, rest


def _meant(scheme: str, slashes: str, path: str) -> str:
    """The right URL for a wrong one: a drive letter or no slash is kept as written, a leading
    slash meant an absolute path."""
    if re.match(r"^[A-Za-z]:[\\/]", path) or not slashes:
        return f"{scheme}:///{path}"
    return f"{scheme}:////{path}"


def open_source(source: str, default_url: str | None = None, options: dict | None = None) -> Source:
    """Open ``source`` (see the module docstring for the accepted forms) once confinement
    allows it; ``default_url`` is the default source's URL (None: ``ROUTING_SOURCE``);
    ``options`` the registered source's options (checked by :func:`check_options`)."""
    scheme, rest = parse_source(source)
    confinement.check(scheme, rest, default_url)
    if scheme == "sqlite":
        return SqliteSource(rest)
    if scheme == "csv":
        return CsvSource(rest, confinement.policy(default_url), options)
    if scheme == "excel":
        from registry_app.pipeline.excel import ExcelSource

        return ExcelSource(rest)
    return OdbcSource(rest)


class Source:
    """A readable set of tables. Subclasses implement ``_table_names`` and ``_read``."""

    kind = "source"

    def __init__(self, label: str) -> None:
        self.label = label
        self.issues: list[tuple[str, str, int, str]] = []  # (table, reason, count, example)
        self.readers: dict[str, str] = {}  # table -> the reader that read it (extract report)
        self._tables: list[str] | None = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        pass

    def prefetch(self, name: str, columns: list[str]) -> None:
        """A hint that :meth:`read_columns` of ``columns`` of ``name`` follows; a kind that
        can read in the background starts there (SQLite), the others read when asked."""

    def number_locale(self, table: str) -> str | None:
        """The number locale the source says ``table`` is written in (None: not known)."""
        return None

    def formats(self) -> dict[str, str]:
        """What was detected about the tables read so far, by table (for the extract report)."""
        return {}

    def columns(self, name: str) -> list[str]:
        """The column names of table ``name`` (the whole table is read unless overridden)."""
        return list(self.read_columns(name))

    def read_head(self, name: str, n: int) -> pd.DataFrame:
        """At most the first ``n`` rows of table ``name``, all columns (the whole table is
        read unless the kind can stop early)."""
        return self.read_table(name).head(n)

    def tables(self) -> list[str]:
        if self._tables is None:
            self._tables = self._table_names()
        return list(self._tables)

    def read_table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The table ``name`` (all columns, or ``columns`` in that order, named as requested)."""
        data = self.read_columns(name, columns)
        frame = pd.DataFrame(index=pd.RangeIndex(len(next(iter(data.values()), ()))))
        for key, values in data.items():  # one block per column: no consolidation copies
            frame[key] = materialize(values)
        return frame

    def read_columns(self, name: str, columns: list[str] | None = None) -> dict[str, Column]:
        """Like :meth:`read_table`, compact: numbers as numpy arrays, the rest as Categoricals
        over the raw values (what extraction reads: a few bytes a value instead of an object)."""
        table = self._resolve_table(name)
        data = self._read(table, columns)
        if columns is None:
            return data
        actual = _resolve_columns(list(data), columns, table, self.label)
        return {want: data[have] for want, have in zip(columns, actual, strict=True)}

    def _resolve_table(self, name: str) -> str:
        names = self.tables()
        if name in names:
            return name
        folded = [t for t in names if t.lower() == name.lower()]
        if folded:
            return folded[0]
        unlisted = self._readable_unlisted(name)
        if unlisted:
            return unlisted
        listing = ", ".join(names) if names else "(none)"
        raise SourceError(
            f"Table {name!r} is not in {self.label}. Available tables: {listing}. "
            "Fix the table name in the mapping profile.",
            fields={"tables": [f"missing table {name!r}"]},
        )

    def _readable_unlisted(self, name: str) -> str | None:
        """The driver's own name for an object its listing of tables leaves out but can read
        (ODBC overrides this); never a name taken from the profile."""
        return None

    def _table_names(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, table: str, columns: list[str] | None) -> dict[str, Column]:  # pragma: no cover
        """Source column name -> values, for ``columns`` (resolved) or all columns."""
        raise NotImplementedError


def _resolve_columns(available: list[str], wanted: list[str], table: str, label: str) -> list[str]:
    lower = {c.lower(): c for c in reversed(available)}
    out, missing = [], []
    for col in wanted:
        if col in available:
            out.append(col)
        elif col.lower() in lower:
            out.append(lower[col.lower()])
        else:
            missing.append(col)
    if missing:
        raise SourceError(
            f"Column(s) {', '.join(repr(m) for m in missing)} not in table {table!r} of {label}. "
            f"Available columns: {', '.join(available)}. "
            "Fix the column names in the mapping profile.",
            fields={"columns": [f"missing column {m!r} in {table!r}" for m in missing]},
        )
    return out


def _existing_file(path_text: str, what: str) -> Path:
    path = Path(path_text).expanduser()
    if not path.exists():
        raise SourceError(
            f"{what} {path} does not exist. Check the data source's location (an admin "
            "changes it in Admin › Data sources); relative paths start from the working folder "
            f"{Path.cwd()}.",
            fields={"source": [f"missing: {path}"]},
        )
    return path


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class SqliteSource(Source):
    kind = "sqlite"

    def __init__(self, path_text: str) -> None:
        path = _existing_file(path_text, "SQLite file")
        if path.is_dir():
            raise SourceError(
                f"{path} is a folder; sqlite:/// needs a database file (csv:/// reads folders)."
            )
        super().__init__(f"sqlite:///{path}")
        self.path = path
        self.conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        self._ahead: dict[tuple[str, tuple[str, ...]], Future] = {}
        self._ahead_pool: ThreadPoolExecutor | None = None

    def _execute(self, sql: str) -> sqlite3.Cursor:
        try:
            return self.conn.execute(sql)
        except sqlite3.DatabaseError as exc:
            raise SourceError(f"Cannot read {self.path} as a SQLite database: {exc}") from exc

    def _table_names(self) -> list[str]:
        # views count as tables here: a SQLite export may well present the ERP views as views
        sql = (
            "SELECT name FROM sqlite_master "
            "WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'"
        )
        return sorted(r[0] for r in self._execute(sql).fetchall())

    def columns(self, name: str) -> list[str]:
        cur = self._execute(f"SELECT * FROM {_quote(self._resolve_table(name))} LIMIT 0")
        return [d[0] for d in cur.description]

    def read_head(self, name: str, n: int) -> pd.DataFrame:
        cur = self._execute(f"SELECT * FROM {_quote(self._resolve_table(name))} LIMIT {int(n)}")
        names = [d[0] for d in cur.description]
        return pd.DataFrame.from_records(cur.fetchall(), columns=names)

    def prefetch(self, name: str, columns: list[str]) -> None:
        """Start the columnar read of ``columns`` of table ``name`` on a background thread;
        the next :meth:`read_columns` of the same columns takes its result. Requests are read
        one after the other in the order given (each large one in rowid ranges side by side),
        so extraction cleans one table while the driver reads the next. A request the source
        cannot plan (a missing table or column) is left for ``read_columns`` to refuse."""
        try:
            table = self._resolve_table(name)
            plan = self._plan(table, columns)
        except SourceError:
            return
        if plan.numeric is None:
            return
        if self._ahead_pool is None:
            self._ahead_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        args = (self.path, plan.sql, plan.columns, plan.numeric, plan.parts)
        self._ahead[(table, tuple(plan.columns))] = self._ahead_pool.submit(read_arrow, *args)

    def close(self) -> None:
        if self._ahead_pool is not None:
            self._ahead_pool.shutdown(wait=True, cancel_futures=True)
            self._ahead_pool, self._ahead = None, {}
        self.conn.close()

    def _plan(self, table: str, columns: list[str] | None) -> _Plan:
        cur = self._execute(f"SELECT * FROM {_quote(table)} LIMIT 0")
        available = [d[0] for d in cur.description]
        picked = (
            available
            if columns is None
            else _resolve_columns(available, columns, table, self.label)
        )
        unique = list(dict.fromkeys(picked))
        listed = ", ".join(_quote(c) for c in unique)
        rowid = self._rowid(table, available)
        order = f" ORDER BY {rowid}" if rowid else ""
        sql = f"SELECT {listed} FROM {_quote(table)}{order}"
        return _Plan(
            unique, sql, order, self._numeric(table, unique), self._parts(table, listed, rowid)
        )

    def _read(self, table: str, columns: list[str] | None) -> dict[str, Column]:
        plan = self._plan(table, columns)
        unique, sql, order = plan.columns, plan.sql, plan.order
        ahead = self._ahead.pop((table, tuple(unique)), None)
        if ahead is not None:
            columnar = ahead.result()
        elif plan.numeric is not None:
            columnar = read_arrow(self.path, sql, unique, plan.numeric, plan.parts)
        else:
            columnar = None
        if columnar is None:
            self.readers[table] = "sqlite3 rows"
            return encode_rows(_chunks(self._execute(sql)), unique)
        mixed = [c for c, values in columnar.items() if values is None]
        if mixed and not order:  # no row order to put the columns together by: all by rows
            self.readers[table] = "sqlite3 rows (numbers mixed with text)"
            return encode_rows(_chunks(self._execute(sql)), unique)
        self.readers[table] = "adbc (columnar)"
        if mixed:  # in the same row order as the columnar read (both by rowid)
            listed = ", ".join(_quote(c) for c in mixed)
            sql = f"SELECT {listed} FROM {_quote(table)}{order}"
            columnar.update(encode_rows(_chunks(self._execute(sql)), mixed))
            self.readers[table] += f"; sqlite3 rows for {', '.join(mixed)} (numbers and text)"
        return columnar

    def _rowid(self, table: str, columns: list[str]) -> str | None:
        """The name of ``table``'s rowid (None for a view or a WITHOUT ROWID table)."""
        row = self._execute(
            f"SELECT type, sql FROM sqlite_master WHERE name = {_literal(table)}"
        ).fetchone()
        if not row or row[0] != "table" or "WITHOUT ROWID" in (row[1] or "").upper():
            return None
        taken = {c.lower() for c in columns}
        return next((n for n in ("rowid", "_rowid_", "oid") if n not in taken), None)

    def _parts(self, table: str, listed: str, rowid: str | None) -> tuple[str, ...]:
        """For a large table, one statement per rowid range (read side by side, in order)."""
        if not rowid:
            return ()
        # two statements: SQLite answers min() or max() of the rowid from the b-tree's ends,
        # but both in one statement by scanning the whole table
        low = self._execute(f"SELECT min({rowid}) FROM {_quote(table)}").fetchone()[0]
        high = self._execute(f"SELECT max({rowid}) FROM {_quote(table)}").fetchone()[0]
        count = min(PARALLEL_READS, os.cpu_count() or 1)
        if low is None or high - low < SPLIT_ROWS or count < 2:
            return ()
        bounds = [low - 1] + [low + (high - low) * i // count for i in range(1, count)] + [high]
        return tuple(
            f"SELECT {listed} FROM {_quote(table)} "
            f"WHERE {rowid} > {a} AND {rowid} <= {b} ORDER BY {rowid}"
            for a, b in zip(bounds, bounds[1:], strict=False)
        )

    def _numeric(self, table: str, columns: list[str]) -> set[str] | None:
        """The numeric ``columns`` when SQLite's column affinities keep each column to one kind
        of value, so that the columnar reader may read them; None when one may mix anything.
        A TEXT column stores numbers as text; a numeric column may still hold text ("N/A"),
        which the columnar read shows as a text column: it maps to None, for the row reader;
        a column of no declared type may mix anything: the row reader reads the table."""
        rows = self._execute(f"PRAGMA table_info({_quote(table)})").fetchall()
        affinity = {r[1]: _affinity(r[2] or "") for r in rows}
        if any(affinity.get(c, "none") == "none" for c in columns):
            return None
        return {c for c in columns if affinity[c] == "number"}


@dataclass(frozen=True)
class _Plan:
    """How a SQLite table's columns are read: the statement, its ``ORDER BY`` (empty without
    a rowid), the numeric columns (None: not by the columnar reader) and the rowid ranges."""

    columns: list[str]
    sql: str
    order: str
    numeric: set[str] | None
    parts: tuple[str, ...]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _affinity(declared: str) -> str:
    """SQLite's type affinity of a declared column type, as text, number or none."""
    text = declared.upper()
    if "INT" in text:
        return "number"
    if any(word in text for word in ("CHAR", "CLOB", "TEXT")):
        return "text"
    if not text or "BLOB" in text:
        return "none"
    return "number"


# --- columnar reads ------------------------------------------------------------------------------
# Where a driver hands out Arrow columns (the SQLite ADBC driver), a table is read without one
# Python object per value; any refusal (a column whose values change type, a missing driver)
# falls back to the chunked row reads below.


def read_arrow(
    path: Path,
    sql: str,
    names: list[str],
    numeric: set[str] = frozenset(),
    parts: tuple[str, ...] = (),
) -> dict[str, Column] | None:
    """The columns of ``sql`` over the SQLite file ``path`` (read-only) through ADBC, or None;
    a ``numeric`` column that came back as text (it mixes numbers and text) maps to None.
    ``parts``: statements whose results, one after the other, are ``sql``'s; each is read on
    its own connection and thread (the driver releases the interpreter lock), ``sql`` alone
    when they do not fit together; the columns are then made compact side by side."""
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:  # pragma: no cover - a base requirement
        return None
    import pyarrow as pa

    table = _fetch_parts(path, parts) if parts else None
    try:
        table = table if table is not None else _fetch_arrow(path, sql)
    except Exception:  # noqa: BLE001 - any driver refusal: the row reader decides
        return None

    def convert(i: int) -> Column | None:
        kind = table.column(i).type
        text = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        return None if names[i] in numeric and text else arrow_column(table.column(i))

    workers = min(len(names), PARALLEL_READS, os.cpu_count() or 1)
    if workers < 2:
        return {name: convert(i) for i, name in enumerate(names)}
    # column by column side by side: Arrow's dictionary encoding releases the interpreter lock
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="arrow-columns") as pool:
        return dict(zip(names, pool.map(convert, range(len(names))), strict=True))


def _fetch_arrow(path: Path, sql: str):
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(f"{path.resolve().as_uri()}?mode=ro") as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(ADBC_ROWS)})
        cur.execute(sql)
        return cur.fetch_arrow_table()


def _fetch_parts(path: Path, parts: tuple[str, ...]):
    """The parts' tables joined in order (an integer column that holds reals in one part only
    becomes float); None when a part fails or their types do not fit together."""
    import pyarrow as pa

    try:
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            tables = list(pool.map(lambda sql: _fetch_arrow(path, sql), parts))
        return pa.concat_tables(tables, promote_options="permissive")
    except Exception:  # noqa: BLE001 - the whole statement decides
        return None


def arrow_column(chunked) -> Column:
    """An Arrow column as a compact column: numbers as a numpy array, text as a Categorical."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = chunked.type
    if chunked.null_count == len(chunked):  # no values: as the row reader gives it
        return _join([_codes_of(np.full(len(chunked), None, dtype=object))])
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        if chunked.null_count and not pa.types.is_floating(kind):
            return chunked.cast(pa.float64()).to_numpy()
        if pa.types.is_integer(kind):  # as the row reader gives them, whatever the width
            return chunked.cast(pa.int64()).to_numpy()
        return chunked.to_numpy()
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        encoded = pc.dictionary_encode(chunked).combine_chunks()
        codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int32)
        categories = pd.Index(
            np.asarray(encoded.dictionary.to_pylist(), dtype=object), dtype=object
        )
        # the codes index the dictionary they came with: nothing to check
        return pd.Categorical.from_codes(codes, categories=categories, validate=False)
    return _join([_codes_of(np.asarray(chunked.to_pylist() + [None], dtype=object)[:-1])])


# --- rows → compact columns ---------------------------------------------------------------------
# A 2-million-row table held as Python objects (one per value) needs gigabytes. Rows are read in
# chunks and each chunk's columns are packed at once: numbers into float64/int64 arrays, anything
# else into dictionary codes (a pandas Categorical over the distinct raw values).

Column = np.ndarray | pd.Categorical


def _chunks(cur):
    """Chunks of rows. A short chunk is the last: mdbtools' driver does not keep saying "no
    more data" once it has said it, and would hand out rows again on the next call."""
    while True:
        chunk = cur.fetchmany(FETCH_ROWS)
        if chunk:
            yield chunk
        if len(chunk) < FETCH_ROWS:
            return


def encode_rows(chunks, names: list[str]) -> dict[str, Column]:
    """Rows (in chunks of tuples or pyodbc rows) → one compact column per name."""
    parts: dict[str, list] = {n: [] for n in names}
    for rows in chunks:
        table = _object_table(rows, len(names))
        for i, name in enumerate(names):
            parts[name].append(_pack(table[:, i]))
    return {n: _join(parts[n]) for n in names}


def _object_table(rows: list, width: int) -> np.ndarray:
    try:  # pandas' C routine (what DataFrame.from_records uses)
        from pandas._libs import lib

        return lib.to_object_array_tuples(
            rows if type(rows[0]) is tuple else [tuple(r) for r in rows]
        )
    except (ImportError, AttributeError):  # pragma: no cover - other pandas versions
        table = np.empty((len(rows), width), dtype=object)
        table[:] = [tuple(r) for r in rows]
        return table


def _pack(values: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """One chunk of one column: a numeric array when every value is a number, else codes."""
    first = next((v for v in values[:1000] if v is not None), None)
    if isinstance(first, (int, float)):  # bool is an int too
        converted = pd.Series(values, dtype=object).infer_objects().to_numpy()
        if converted.dtype.kind in "ifb":
            return converted
    return _codes_of(values)


def _join(parts: list) -> Column:
    if not parts:
        return np.empty(0, dtype=object)
    numeric = [p for p in parts if isinstance(p, np.ndarray)]
    empty = [p for p in parts if not isinstance(p, np.ndarray) and len(p[1]) == 0]
    if numeric and len(numeric) + len(empty) == len(parts):  # numbers, with all-NULL chunks
        if not empty:
            return np.concatenate(numeric)
        return np.concatenate(
            [
                p.astype(float) if isinstance(p, np.ndarray) else np.full(len(p[0]), np.nan)
                for p in parts
            ]
        )
    coded = [p if not isinstance(p, np.ndarray) else _codes_of(p) for p in parts]
    everything = np.concatenate([u for _, u in coded]) if coded else np.empty(0, dtype=object)
    remap, categories = pd.factorize(everything.astype(object), use_na_sentinel=True)
    offsets = np.cumsum([0] + [len(u) for _, u in coded])
    codes = [
        np.append(remap[o : o + len(u)], -1)[c] for (c, u), o in zip(coded, offsets, strict=False)
    ]
    return pd.Categorical.from_codes(
        np.concatenate(codes),
        categories=pd.Index(np.asarray(categories, dtype=object), dtype=object),
    )


def _codes_of(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values: Access OLE/attachment columns come as bytearray
        frozen = [bytes(v) if isinstance(v, (bytearray, memoryview)) else v for v in values]
        codes, uniques = pd.factorize(np.array(frozen + [None], dtype=object)[:-1])
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


def materialize(column: Column) -> np.ndarray:
    """A column as plain values: numbers stay numeric, the rest objects with None for NULL."""
    if isinstance(column, pd.Categorical):
        table = np.append(np.asarray(column.categories, dtype=object), None)
        return table[column.codes]
    return column


class CsvSource(Source):
    """A folder of ``<table>.csv`` files; each file's format is detected (or given by the
    source's options, see :mod:`registry_app.pipeline.csvformat`) and every value read as text."""

    kind = "csv"

    def __init__(
        self,
        folder_text: str,
        policy: confinement.Policy | None = None,
        options: dict | None = None,
    ) -> None:
        folder = _existing_file(folder_text, "CSV folder")
        if not folder.is_dir():
            raise SourceError(
                f"{folder} is a file; csv:/// needs a folder holding <table>.csv files."
            )
        super().__init__(f"csv:///{folder}")
        self.folder = folder
        self.policy = policy or confinement.policy()
        self.options = check_csv_options(options or {})
        self._formats: dict[str, CsvFormat] = {}

    def _table_names(self) -> list[str]:
        """The folder's ``*.csv`` files, less any that is a link to a refused file."""
        files = self.folder.glob("*.csv")
        return sorted(p.stem for p in files if p.is_file() and self.policy.permits(p))

    def format_of(self, table: str) -> CsvFormat:
        """The detected (or given) format of ``table``'s file."""
        table = self._resolve_table(table)
        if table not in self._formats:
            self._formats[table] = detect(self.folder / f"{table}.csv", self.options)
        return self._formats[table]

    def number_locale(self, table: str) -> str | None:
        return self.format_of(table).number_locale

    def formats(self) -> dict[str, str]:
        return {table: fmt.describe() for table, fmt in self._formats.items()}

    def columns(self, name: str) -> list[str]:
        return self._header(self._resolve_table(name))

    def read_head(self, name: str, n: int) -> pd.DataFrame:
        return self._read_csv(self._resolve_table(name), nrows=n)

    def _header(self, table: str) -> list[str]:
        return list(self._read_csv(table, nrows=0).columns)

    def _read_csv(self, table: str, **kwargs) -> pd.DataFrame:
        path, fmt = self.folder / f"{table}.csv", self.format_of(table)
        try:
            return pd.read_csv(
                path,
                sep=fmt.delimiter,
                quotechar=fmt.quotechar,
                encoding=fmt.encoding,
                encoding_errors="strict",
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                **kwargs,
            )
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"Cannot decode {path} as {fmt.encoding} ({exc.reason} at byte {exc.start}). "
                "Set the source's 'encoding' option (e.g. utf-8, cp1252, cp949).",
                fields={"options.encoding": [f"{table}.csv is not {fmt.encoding}"]},
            ) from exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise SourceError(
                f"Cannot parse {path} as CSV ({fmt.describe()}): {exc}. Set the source's "
                "'delimiter' or 'quotechar' option if the detection is wrong."
            ) from exc

    def _read(self, table: str, columns: list[str] | None) -> dict[str, Column]:
        header = self._header(table)
        picked = header if columns is None else _resolve_columns(header, columns, table, self.label)
        unique = list(dict.fromkeys(picked))
        columnar = self._read_arrow_csv(table, header, unique)
        if columnar is not None:
            return columnar
        frame = self._read_csv(table, usecols=unique)
        values = (frame[c].astype(object).where(frame[c].notna(), None) for c in unique)
        return {c: _join([_codes_of(v.to_numpy())]) for c, v in zip(unique, values, strict=True)}

    def _read_arrow_csv(
        self, table: str, header: list[str], columns: list[str]
    ) -> dict[str, Column] | None:
        """``columns`` read by pyarrow's CSV reader, every value as text (an empty field is
        missing, as pandas reads it); None when pyarrow refuses the file (a ragged row, bytes
        not in the encoding, repeated column names): pandas' reader then reads it and names
        the problem. The reader that ran is kept in ``readers``."""
        import pyarrow as pa
        from pyarrow import csv as pacsv

        path, fmt = self.folder / f"{table}.csv", self.format_of(table)
        parse = pacsv.ParseOptions(
            delimiter=fmt.delimiter, quote_char=fmt.quotechar, newlines_in_values=True
        )
        try:
            with pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=fmt.encoding, block_size=1 << 20),
                parse_options=parse,
            ) as first:
                names = first.schema.names  # as written: pandas' header renames repeats
            if len(set(names)) != len(names) or len(names) != len(header):
                self.readers[table] = "pandas (repeated column names)"
                return None
            wanted = [names[header.index(c)] for c in columns]
            arrow = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=fmt.encoding, block_size=CSV_BLOCK),
                parse_options=parse,
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(wanted, pa.string()),
                    include_columns=wanted,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowException, UnicodeError, LookupError) as exc:
            self.readers[table] = f"pandas (pyarrow refused: {str(exc).splitlines()[0][:200]})"
            return None
        self.readers[table] = "pyarrow.csv (columnar)"
        return {name: arrow_column(arrow.column(i)) for i, name in enumerate(columns)}


# --- ODBC -------------------------------------------------------------------------------------


def _driver_hint() -> str:
    if sys.platform.startswith("win"):
        return (
            "On Windows install the Microsoft Access Database Engine redistributable whose "
            "bitness (32/64-bit) matches this Python's."
        )
    return (
        "On Debian/Ubuntu install the driver package: 'apt-get install unixodbc odbc-mdbtools' "
        "for Access files, 'libsqliteodbc' for SQLite; then check 'odbcinst -q -d'."
    )


def _conn_value(conn: str, key: str) -> str | None:
    match = re.search(rf"(?:^|;)\s*{key}\s*=\s*(\{{[^}}]*\}}|[^;]*)", conn, flags=re.IGNORECASE)
    if not match:
        return None
    return match.group(1).strip().strip("{}").strip()


def _check_database_file(conn_str: str) -> None:
    """File-based drivers (Access DBQ=, SQLite Database=) get a clear "file missing" first."""
    if _conn_value(conn_str, "DSN"):
        return
    targets = [_conn_value(conn_str, "DBQ")]
    if "sqlite" in (_conn_value(conn_str, "DRIVER") or "").lower():
        targets.append(_conn_value(conn_str, "Database"))
    for target in targets:
        if target and target != ":memory:":
            _existing_file(target, "Database file")


def _decode_datetime(raw: bytes | None, sql_kind: str) -> str | None:
    """An ODBC date/time value as text, whatever the driver put in it (never raises)."""
    if raw is None:
        return None
    if all(32 <= b < 127 for b in raw):  # the driver already gave text (e.g. SQLite ODBC)
        return raw.decode("ascii").strip() or None
    try:
        if len(raw) >= 16 and sql_kind == "timestamp":
            y, mo, d, h, mi, s, frac = struct.unpack("<hHHHHHI", raw[:16])
            text = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
            return text + (f".{frac // 1000:06d}" if frac else "")
        if len(raw) >= 6 and sql_kind == "date":
            y, mo, d = struct.unpack("<hHH", raw[:6])
            return f"{y:04d}-{mo:02d}-{d:02d}"
        if len(raw) >= 6 and sql_kind == "time":
            h, mi, s = struct.unpack("<HHH", raw[:6])
            return f"{h:02d}:{mi:02d}:{s:02d}"
    except struct.error:  # pragma: no cover - guarded by the length checks
        pass
    return "0x" + raw.hex()


class OdbcSource(Source):
    kind = "odbc"

    def __init__(self, conn_str: str) -> None:
        super().__init__(f"odbc:{redact(conn_str)}")
        try:
            import pyodbc
        except ImportError as exc:  # pragma: no cover - pyodbc is a base requirement
            raise SourceError(
                f"pyodbc is not installed ({exc}): pip install pyodbc. {_driver_hint()}"
            )
        self.pyodbc = pyodbc
        self.conn_str = conn_str
        self._check_driver(conn_str)
        _check_database_file(conn_str)
        try:
            self.conn = pyodbc.connect(conn_str, autocommit=True)
        except pyodbc.Error as exc:
            raise SourceError(self._connect_message(conn_str, exc)) from exc
        self.quote_char = self._identifier_quote()
        kinds = [
            (SQL_TIMESTAMP_TYPES, "timestamp"),
            (SQL_DATE_TYPES, "date"),
            (SQL_TIME_TYPES, "time"),
        ]
        for codes, kind in kinds:
            for code in codes:
                self.conn.add_output_converter(code, lambda raw, k=kind: _decode_datetime(raw, k))

    def _check_driver(self, conn_str: str) -> None:
        driver = _conn_value(conn_str, "DRIVER")
        installed = self.pyodbc.drivers()
        if driver and driver not in installed:
            listing = ", ".join(installed) if installed else "(none)"
            raise SourceError(
                f"ODBC driver {driver!r} is not installed. Installed drivers: {listing}. "
                + _driver_hint(),
                fields={"source": [f"missing ODBC driver {driver!r}"]},
            )

    def _connect_message(self, conn_str: str, exc: Exception) -> str:
        text = str(exc)
        dsn = _conn_value(conn_str, "DSN")
        if dsn and ("IM002" in text or "not found" in text.lower()):
            known = ", ".join(sorted(self.pyodbc.dataSources())) or "(none)"
            return (
                f"ODBC data source {dsn!r} is not defined. Defined DSNs: {known}. Define it in the "
                "ODBC Data Source Administrator (Windows: the one matching Python's bitness) or in "
                "odbc.ini (Linux), or use a DRIVER=...;DBQ=... connection string instead."
            )
        return f"Cannot connect to {self.label}: {text}. {_driver_hint()}"

    def _identifier_quote(self) -> str:
        """The driver's own identifier quote (SQLite ODBC and mdbtools: ", Access: `)."""
        try:
            char = self.conn.getinfo(self.pyodbc.SQL_IDENTIFIER_QUOTE_CHAR) or ""
        except self.pyodbc.Error:  # pragma: no cover - every driver we know answers it
            char = ""
        return char if char in ('"', "`") else "["

    def _quote(self, name: str) -> str:
        """``name`` quoted by the driver's rules, an embedded quote character doubled."""
        if self.quote_char == "[":
            return "[" + name.replace("]", "]]") + "]"
        return (
            self.quote_char + name.replace(self.quote_char, self.quote_char * 2) + self.quote_char
        )

    def close(self) -> None:
        try:
            self.conn.close()
        except self.pyodbc.Error:  # pragma: no cover - already closed by the driver
            pass

    def _table_names(self) -> list[str]:
        # saved queries come back as VIEW and Access' own tables as SYSTEM TABLE or MSys*;
        # tables linked from the ERP (dbo_…) may be LINK or SYNONYM, depending on the driver
        rows = self.conn.cursor().tables().fetchall()
        names = [
            r.table_name
            for r in rows
            if (r.table_type or "").upper() in TABLE_TYPES and not r.table_name.startswith("MSys")
        ]
        return sorted(dict.fromkeys(names))

    def _readable_unlisted(self, name: str) -> str | None:
        """A profile may name a view the table listing leaves out (a saved query, a SQLite
        view): only a view the driver itself lists, and only when the driver can run it."""
        views = [
            r.table_name
            for r in self.conn.cursor().tables(tableType="VIEW").fetchall()
            if r.table_name == name or r.table_name.lower() == name.lower()
        ]
        for view in sorted(views, key=lambda v: v != name):
            try:
                cur = self.conn.cursor().execute(f"SELECT * FROM {self._quote(view)} WHERE 1 = 0")
                cur.fetchall()
            except self.pyodbc.Error:
                continue
            return view
        return None

    def columns(self, name: str) -> list[str]:
        table = self._resolve_table(name)
        cur = self.conn.cursor()
        try:
            cur.execute(f"SELECT * FROM {self._quote(table)}")  # description only: no fetch
            return [d[0] for d in cur.description]
        except self.pyodbc.Error as exc:
            raise SourceError(f"Cannot read table {table!r} from {self.label}: {exc}") from exc
        finally:
            cur.close()

    def read_head(self, name: str, n: int) -> pd.DataFrame:
        table = self._resolve_table(name)
        cur = self.conn.cursor()
        try:
            cur.execute(f"SELECT * FROM {self._quote(table)}")
            names = [d[0] for d in cur.description]
            rows = [tuple(r) for r in cur.fetchmany(n)]
        except self.pyodbc.Error as exc:
            raise SourceError(f"Cannot read table {table!r} from {self.label}: {exc}") from exc
        finally:
            cur.close()
        return pd.DataFrame.from_records(rows, columns=names)

    def _read(self, table: str, columns: list[str] | None) -> dict[str, Column]:
        cur = self.conn.cursor()
        try:
            cur.execute(f"SELECT * FROM {self._quote(table)}")
        except self.pyodbc.Error as exc:
            raise SourceError(f"Cannot read table {table!r} from {self.label}: {exc}") from exc
        names = [d[0] for d in cur.description]
        picked = names if columns is None else _resolve_columns(names, columns, table, self.label)
        picked = list(dict.fromkeys(picked))
        columnar = self._columnar(table, picked)
        if columnar is not None:
            cur.close()
            return columnar
        index = [names.index(p) for p in picked]
        try:
            data = encode_rows(
                ([tuple(r[i] for i in index) for r in rows] for rows in _chunks(cur)), picked
            )
        except (self.pyodbc.Error, ValueError, OverflowError, UnicodeDecodeError) as exc:
            return self._read_by_column(table, picked, exc)
        return data

    def _columnar(self, table: str, picked: list[str]) -> dict[str, Column] | None:
        """The columns read as Arrow through arrow-odbc when the driver bulk-fetches (see
        :mod:`registry_app.pipeline.odbc_columnar`); None (and why, in ``readers``) if not."""
        from registry_app.pipeline import odbc_columnar

        listed = ", ".join(self._quote(c) for c in picked)
        query = f"SELECT {listed} FROM {self._quote(table)}"
        able = odbc_columnar.capable(self.conn_str, query)
        if able is not True:
            self.readers[table] = f"pyodbc rows ({able})"
            return None
        try:
            arrow = odbc_columnar.read(self.conn_str, query)
        except Exception as exc:  # noqa: BLE001 - any driver refusal: the row reader decides
            self.readers[table] = f"pyodbc rows (arrow-odbc failed: {str(exc)[:200]})"
            return None
        self.readers[table] = "arrow-odbc (columnar)"
        return {name: arrow_column(arrow.column(i)) for i, name in enumerate(picked)}

    def _read_by_column(self, table: str, picked: list[str], first: Exception) -> dict[str, Column]:
        """Re-read one column at a time so one unreadable column cannot sink the table."""
        columns: dict[str, Column | None] = {}
        for name in picked:
            cur = self.conn.cursor()
            try:
                cur.execute(f"SELECT {self._quote(name)} FROM {self._quote(table)}")
                columns[name] = encode_rows(_chunks(cur), [name])[name]
            except (self.pyodbc.Error, ValueError, OverflowError, UnicodeDecodeError) as exc:
                columns[name] = None
                self.issues.append((table, f"unreadable column {name}", 1, f"{name}: {exc}"))
        lengths = {len(v) for v in columns.values() if v is not None}
        if len(lengths) != 1:
            raise SourceError(f"Cannot read table {table!r} from {self.label}: {first}") from first
        rows = lengths.pop()
        return {
            n: v if v is not None else np.full(rows, None, dtype=object) for n, v in columns.items()
        }


def redact(conn_str: str) -> str:
    """``conn_str`` with the value of every PWD= / Password= key masked."""
    # a braced value may hold ";" (PWD={se;cret}): mask the whole braces
    return re.sub(r"(?i)(pwd|password)\s*=\s*(\{[^}]*\}|[^;]*)", r"\1=***", conn_str)
