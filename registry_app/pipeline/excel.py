"""Excel workbooks as a source: ``excel:///path/to/book.xlsx`` (also ``.xlsm``, ``.xls``).

Each visible sheet is a table; its first row holds the column names. Cells are read with
python-calamine (a compiled reader: no Python object per cell until the sheet is handed over)
and come typed: numbers as numbers, text as text (a code typed as text keeps its leading
zeros), and a column whose filled cells are all dates or date-times as ``datetime64``. An empty
cell is missing (None / NaN / NaT).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from registry_app.pipeline.sources import (
    Column,
    Source,
    SourceError,
    _existing_file,
    _resolve_columns,
    encode_rows,
)

SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb")


class ExcelSource(Source):
    kind = "excel"

    def __init__(self, path_text: str) -> None:
        from python_calamine import CalamineError, CalamineWorkbook

        path = _existing_file(path_text, "Excel workbook")
        if path.is_dir() or path.suffix.lower() not in SUFFIXES:
            raise SourceError(
                f"{path} is not an Excel workbook; excel:/// needs a {', '.join(SUFFIXES)} file "
                "(csv:/// reads a folder of CSV files).",
                fields={"location": ["not a workbook"]},
            )
        super().__init__(f"excel:///{path}")
        self.path = path
        try:
            self.book = CalamineWorkbook.from_path(str(path))
        except (CalamineError, OSError, ValueError) as exc:
            raise SourceError(f"Cannot read {path} as an Excel workbook: {exc}") from exc
        self._rows: dict[str, list[list]] = {}

    def close(self) -> None:
        self.book.close()

    def _table_names(self) -> list[str]:
        visible = [m.name for m in self.book.sheets_metadata if str(m.visible).endswith("Visible")]
        return visible or list(self.book.sheet_names)

    def _sheet(self, table: str) -> list[list]:
        if table not in self._rows:
            sheet = self.book.get_sheet_by_name(table)
            self._rows[table] = sheet.to_python(skip_empty_area=False)
        return self._rows[table]

    def columns(self, name: str) -> list[str]:
        return _header(self._sheet(self._resolve_table(name)))

    def _read(self, table: str, columns: list[str] | None) -> dict[str, Column]:
        rows = self._sheet(table)
        header = _header(rows)
        picked = header if columns is None else _resolve_columns(header, columns, table, self.label)
        unique = list(dict.fromkeys(picked))
        index = [header.index(name) for name in unique]
        body = [tuple(_cell(row, i) for i in index) for row in rows[1:]]
        body = [row for row in body if any(v is not None for v in row)]
        data = encode_rows([body] if body else [], unique)
        self.readers[table] = "calamine rows"
        self._rows.pop(table, None)  # read once: keep no second copy of a large sheet
        return {name: _typed_dates(values) for name, values in data.items()}


def _header(rows: list[list]) -> list[str]:
    if not rows:
        return []
    return [
        str(v).strip() if v not in ("", None) else f"Column{i + 1}" for i, v in enumerate(rows[0])
    ]


def _cell(row: list, i: int):
    value = row[i] if i < len(row) else None
    return None if value == "" else value


def _typed_dates(values: Column) -> Column:
    """A column whose filled cells are all dates or date-times as datetime64 (NaT when empty)."""
    if not isinstance(values, pd.Categorical) or not len(values.categories):
        return values
    categories = values.categories
    if not all(isinstance(v, dt.date) for v in categories):
        return values
    try:
        stamps = pd.to_datetime(pd.Series(list(categories), dtype=object)).to_numpy(
            dtype="datetime64[ns]"
        )
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        return values  # e.g. 9999-12-31: left as values for extraction to read as open-ended
    table = np.append(stamps, np.datetime64("NaT", "ns"))
    return table[values.codes]
