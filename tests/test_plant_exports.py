"""Plant data as plants export it: CSV in the desktop's locale, detected per file or given."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from registry_app.pipeline.csvformat import detect
from registry_app.pipeline.extract import extract
from registry_app.pipeline.sources import SourceError, open_source
from routing_site.errors import BadInput
from tests.conftest import register_source
from workflow_app.profiles import load_default_profile

pytestmark = pytest.mark.usefixtures("source_roots")


def sqlite_tables(path: Path) -> dict[str, pd.DataFrame]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {name: pd.read_sql(f'SELECT * FROM "{name}"', conn) for name in names}


def write_german_csv(plant_db: Path, folder: Path) -> Path:
    """The sample plant as a German Excel writes it: ';', decimal comma, cp1252."""
    folder.mkdir()
    for name, frame in sqlite_tables(plant_db).items():
        if name.endswith("ITEM_INFO_VIEW"):
            frame["BEMERKUNG"] = "Maß prüfen, Größe ändern"
        frame.to_csv(folder / f"{name}.csv", sep=";", decimal=",", encoding="cp1252", index=False)
    return folder


def assert_same_data(left, right) -> None:
    for name in ("items", "operations", "work_results"):
        pd.testing.assert_frame_equal(getattr(left, name), getattr(right, name))
    for part in ("rows_read", "rows_kept", "problems"):
        assert getattr(left.report, part) == getattr(right.report, part)


def test_a_german_csv_export_extracts_to_the_same_data_as_the_sqlite_original(
    db, plant_db, tmp_path
):
    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    folder = write_german_csv(plant, tmp_path / "export")
    profile = load_default_profile()
    original = extract(profile, f"sqlite:///{plant}")
    register_source("plant-csv", "csv", folder)
    exported = extract({**profile, "source": "plant-csv"})
    assert_same_data(original, exported)
    assert len(exported.work_results) > 1000
    # hours such as 1,323 are 1.323 hours (a decimal comma), never 1323
    assert exported.work_results["setup_hours"].max() < 100
    formats = exported.report.as_dict()["formats"]
    assert formats["dbo_BI_WORK_ORDER_RESULTS"] == (
        "encoding utf-8 (detected), delimiter ';' (detected), quotechar '\"' (detected), "
        "decimal ',' (detected), thousands 'none' (detected)"
    )
    assert "encoding cp1252 (detected)" in formats["dbo_BI_ITEM_INFO_VIEW"]
    assert set(exported.report.as_dict()["readers"].values()) == {"pyarrow.csv (columnar)"}


@pytest.mark.parametrize(
    ("delimiter", "encoding", "expected_encoding"),
    [
        (",", "utf-8-sig", "utf-8-sig"),
        ("\t", "utf-8", "utf-8"),
        ("|", "cp1252", "cp1252"),
        (";", "cp949", "cp949"),
    ],
)
def test_each_delimiter_and_encoding_is_detected_per_file(
    tmp_path, delimiter, encoding, expected_encoding
):
    names = {
        "utf-8-sig": "Größe",
        "utf-8": "Größe",
        "cp1252": "Größe Maß Ölwanne",
        "cp949": "슬리브 가공 품목 외경",
    }
    rows = [["ITEM_CD", "NAME", "OD"]] + [[f"00{i}", names[encoding], f"{i}.5"] for i in range(40)]
    path = tmp_path / "items.csv"
    path.write_bytes("\n".join(delimiter.join(r) for r in rows).encode(encoding))
    fmt = detect(path)
    assert (fmt.delimiter, fmt.encoding, fmt.decimal) == (delimiter, expected_encoding, ".")
    with open_source(f"csv:///{tmp_path}") as src:
        frame = src.read_table("items")
        reader = src.readers["items"]
    assert frame["ITEM_CD"].tolist()[:2] == ["000", "001"]  # leading zeros kept
    assert frame["NAME"].iloc[0] == names[encoding]
    assert reader == "pyarrow.csv (columnar)"  # transcoded from the detected encoding


def test_a_file_pyarrow_refuses_is_read_by_pandas_and_the_report_says_so(tmp_path):
    # a row with a field missing: pyarrow's reader refuses it, pandas reads it as missing
    (tmp_path / "items.csv").write_text("ITEM_CD;NAME;OD\n007;Welle;1,5\n008;Flansch\n;;\n")
    (tmp_path / "repeated.csv").write_text('A,A,"B\nC"\n1,2,"x\ny"\n3,4,z\n')
    (tmp_path / "quoted.csv").write_text('A,"B\nC"\n01,"x\ny"\n02,""\n')
    with open_source(f"csv:///{tmp_path}") as src:
        frame = src.read_table("items")
        repeated = src.read_table("repeated")
        quoted = src.read_table("quoted")
        readers = src.readers
    assert frame.to_dict("list") == {
        "ITEM_CD": ["007", "008", None], "NAME": ["Welle", "Flansch", None],
        "OD": ["1,5", None, None],
    }  # fmt: skip
    assert readers["items"].startswith("pandas (pyarrow refused: CSV parse error")
    assert repeated.to_dict("list") == {"A": ["1", "3"], "A.1": ["2", "4"], "B\nC": ["x\ny", "z"]}
    assert readers["repeated"] == "pandas (repeated column names)"
    assert quoted.to_dict("list") == {"A": ["01", "02"], "B\nC": ["x\ny", None]}
    assert readers["quoted"] == "pyarrow.csv (columnar)"


def test_quoted_fields_and_thousands_separators_are_read(db, tmp_path):
    text = (
        'ITEM_CD;NAME;WEIGHT\n"0042";"Flansch; groß";"1.234,5"\n"0043";"Welle ""lang""";"12,25"\n'
    )
    (tmp_path / "items.csv").write_bytes(text.encode("cp1252"))
    fmt = detect(tmp_path / "items.csv")
    assert (fmt.delimiter, fmt.quotechar, fmt.decimal, fmt.thousands) == (";", '"', ",", ".")
    with open_source(f"csv:///{tmp_path}") as src:
        frame = src.read_table("items")
    assert frame.to_dict("list") == {
        "ITEM_CD": ["0042", "0043"],
        "NAME": ["Flansch; groß", 'Welle "lang"'],
        "WEIGHT": ["1.234,5", "12,25"],
    }


def test_the_source_options_override_what_is_detected(db, tmp_path):
    # one line of text: nothing to detect from, so the detection alone reads it wrongly
    (tmp_path / "items.csv").write_bytes("A|B\n1,5|x\n".encode("latin-1"))
    options = {"delimiter": "|", "decimal": ",", "encoding": "latin-1", "thousands": ""}
    register_source("given", "csv", tmp_path, options=options)
    from workflow_app.models import DataSource

    with DataSource.objects.get(name="given").open() as src:
        assert src.read_table("items").to_dict("list") == {"A": ["1,5"], "B": ["x"]}
        assert src.number_locale("items") == "comma"
        assert "delimiter '|' (given)" in src.formats()["items"]


@pytest.mark.parametrize(
    ("options", "field", "says"),
    [
        ({"delimiter": "::"}, "options.delimiter", "must be one of ',', ';', '\\t', '|'"),
        ({"decimal": ";"}, "options.decimal", "must be one of '.', ','"),
        ({"encoding": "klingon"}, "options.encoding", "unknown encoding 'klingon'"),
        ({"decimal": ",", "thousands": ","}, "options.thousands", "must differ"),
        ({"separator": ";"}, "options", "allowed: encoding, delimiter, quotechar"),
    ],
)
def test_bad_csv_options_are_refused_by_name_and_nothing_is_registered(
    db, tmp_path, options, field, says
):
    from workflow_app.models import DataSource

    with pytest.raises(BadInput) as caught:
        register_source("bad", "csv", tmp_path, options=options)
    assert says in caught.value.fields[field][0]
    assert not DataSource.objects.filter(name="bad").exists()


def test_a_wrong_encoding_option_says_which_file_and_what_to_set(db, tmp_path):
    (tmp_path / "items.csv").write_bytes("ITEM_CD;NAME\nA1;슬리브\n".encode("cp949"))
    with open_source(f"csv:///{tmp_path}", options={"encoding": "utf-8"}) as src:
        with pytest.raises(SourceError) as caught:
            src.read_table("items")
    assert "as utf-8" in caught.value.detail and "'encoding' option" in caught.value.detail


# --- Excel workbooks --------------------------------------------------------------------------


def write_workbook(plant_db: Path, path: Path) -> Path:
    """The sample plant as an .xlsx workbook, one sheet per table (text stays text)."""
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sqlite_tables(plant_db).items():
            frame.to_excel(writer, sheet_name=name[-31:], index=False)
    return path


def test_an_excel_workbook_extracts_to_the_same_data_as_the_sqlite_original(db, tmp_path):
    from registry_app.pipeline.sample_data import generate

    plant = tmp_path / "plant.sqlite"
    generate(plant, items=300, seed=5)
    book = write_workbook(plant, tmp_path / "plant.xlsx")
    profile = load_default_profile()
    profile["tables"] = {role: name[-31:] for role, name in profile["tables"].items()}
    original = extract(load_default_profile(), f"sqlite:///{plant}")
    register_source("plant-book", "excel", book)
    exported = extract({**profile, "source": "plant-book"})
    assert_same_data(original, exported)
    assert len(exported.operations) > 1000


def test_excel_cells_come_typed_and_hidden_sheets_are_not_tables(tmp_path):
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "items"
    sheet.append(["ITEM_CD", "OD", "MADE", "NOTE"])
    sheet.append(["0042", 12.5, dt.datetime(2024, 3, 1), "first"])
    sheet.append(["0043", None, None, ""])
    sheet.append([None, None, None, None])  # a blank row is no row
    sheet.append(["0044", 7, dt.datetime(2024, 3, 2, 10, 30), "third"])
    book.create_sheet("notes").sheet_state = "hidden"
    book.save(tmp_path / "book.xlsx")
    with open_source(f"excel:///{tmp_path / 'book.xlsx'}") as src:
        assert src.tables() == ["items"]
        frame = src.read_table("items")
    assert frame["ITEM_CD"].tolist() == ["0042", "0043", "0044"]
    assert frame["OD"].dtype == "float64" and frame["OD"].iloc[2] == 7.0
    assert str(frame["MADE"].dtype) == "datetime64[ns]"
    assert frame["MADE"].iloc[2] == pd.Timestamp("2024-03-02 10:30")
    assert pd.isna(frame["MADE"].iloc[1]) and frame["NOTE"].iloc[1] is None


def test_a_file_that_is_not_a_workbook_is_refused_clearly(db, tmp_path):
    (tmp_path / "plant.csv").write_text("A\n1\n")
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    with pytest.raises(SourceError, match="is not an Excel workbook"):
        open_source(f"excel:///{tmp_path / 'plant.csv'}")
    with pytest.raises(SourceError, match="Cannot read .* as an Excel workbook"):
        open_source(f"excel:///{tmp_path / 'broken.xlsx'}")
    with pytest.raises(BadInput, match="excel source; allowed: none"):
        register_source("book", "excel", tmp_path / "broken.xlsx", options={"sheet": "x"})


# --- columnar reads ---------------------------------------------------------------------------


def test_the_columnar_sqlite_read_equals_the_row_read(db, plant_db, tmp_path, monkeypatch):
    from registry_app.pipeline import sources

    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    calls = []
    real = sources.read_arrow
    monkeypatch.setattr(sources, "read_arrow", lambda *a: calls.append(a[1]) or real(*a))
    profile = load_default_profile()
    columnar = extract(profile, f"sqlite:///{plant}")
    assert [c.split(" FROM ")[1] for c in calls] == [
        f'"{t}" ORDER BY rowid'
        for t in ("dbo_BI_ITEM_INFO_VIEW", "dbo_BI_ROUTING_VIEW", "dbo_BI_WORK_ORDER_RESULTS")
    ]
    assert set(columnar.report.readers.values()) == {"adbc (columnar)"}
    monkeypatch.setattr(sources, "read_arrow", lambda *a: None)  # the chunked row reader
    rows = extract(profile, f"sqlite:///{plant}")
    assert_same_data(columnar, rows)


def test_extract_reads_each_table_once_in_the_background_while_it_cleans(
    db, plant_db, tmp_path, monkeypatch
):
    import threading

    from registry_app.pipeline import sources

    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    profile = load_default_profile()
    threads = []
    real = sources._fetch_arrow

    def fetch(path, sql):
        threads.append((sql.split(" FROM ")[1], threading.current_thread().name))
        return real(path, sql)

    monkeypatch.setattr(sources, "_fetch_arrow", fetch)
    ahead = extract(profile, f"sqlite:///{plant}")
    tables = ("dbo_BI_ITEM_INFO_VIEW", "dbo_BI_ROUTING_VIEW", "dbo_BI_WORK_ORDER_RESULTS")
    assert [t for t, _ in threads] == [f'"{t}" ORDER BY rowid' for t in tables]
    assert all(name.startswith("prefetch") for _, name in threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("prefetch")]
    monkeypatch.setattr(sources.SqliteSource, "prefetch", lambda *a: None)  # read when asked
    threads.clear()
    asked = extract(profile, f"sqlite:///{plant}")
    assert [name for _, name in threads] == [threading.current_thread().name] * 3
    assert_same_data(ahead, asked)
    assert ahead.report.readers == asked.report.readers


def test_a_read_ahead_the_source_cannot_plan_leaves_the_error_to_the_read(
    plant_db, tmp_path, monkeypatch
):
    import threading

    from registry_app.pipeline import sources

    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    calls = []
    monkeypatch.setattr(sources, "read_arrow", lambda *a: calls.append(a) or None)
    with open_source(f"sqlite:///{plant}") as src:
        src.prefetch("NO_SUCH_TABLE", ["ITEM_CD"])
        src.prefetch("dbo_BI_ITEM_INFO_VIEW", ["ITEM_CD", "NO_SUCH_COLUMN"])
        assert calls == []
        with pytest.raises(SourceError, match="'NO_SUCH_COLUMN' not in table"):
            src.read_columns("dbo_BI_ITEM_INFO_VIEW", ["ITEM_CD", "NO_SUCH_COLUMN"])
        with pytest.raises(SourceError, match="Table 'NO_SUCH_TABLE' is not in"):
            src.read_columns("NO_SUCH_TABLE", ["ITEM_CD"])
    monkeypatch.undo()
    with open_source(f"sqlite:///{plant}") as src:  # closed with reads still pending
        for table in ("dbo_BI_ROUTING_VIEW", "dbo_BI_WORK_ORDER_RESULTS"):
            src.prefetch(table, ["ITEM_CD", "PROC_SEQ"])
    assert not [t for t in threading.enumerate() if t.name.startswith("prefetch")]


def test_a_numeric_column_holding_text_is_read_by_rows_beside_the_columnar_read(
    db, plant_db, tmp_path, monkeypatch
):
    from registry_app.pipeline import sources

    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    with sqlite3.connect(plant) as conn:  # "N/A" in a REAL column, as ERP exports have it
        conn.execute("UPDATE dbo_BI_ITEM_INFO_VIEW SET OUTDIAMETER = 'N/A' WHERE rowid % 7 = 3")
        # an index that would hand out the column in another order than the table's
        conn.execute("CREATE INDEX od ON dbo_BI_ITEM_INFO_VIEW (OUTDIAMETER)")
        conn.execute("DELETE FROM dbo_BI_ITEM_INFO_VIEW WHERE rowid % 11 = 5")
        conn.execute(
            "CREATE VIEW items_view AS SELECT * FROM dbo_BI_ITEM_INFO_VIEW ORDER BY ITEM_CD DESC"
        )
    profile = load_default_profile()
    mixed = extract(profile, f"sqlite:///{plant}")
    monkeypatch.setattr(sources, "SPLIT_ROWS", 100)  # large tables: rowid ranges side by side
    assert_same_data(mixed, extract(profile, f"sqlite:///{plant}"))
    monkeypatch.undo()
    assert mixed.report.readers["dbo_BI_ITEM_INFO_VIEW"] == (
        "adbc (columnar); sqlite3 rows for OUTDIAMETER (numbers and text)"
    )
    assert mixed.report.problems["items"]["unparseable number in OUTDIAMETER: NaN"] > 100
    monkeypatch.setattr(sources, "read_arrow", lambda *a: None)  # the chunked row reader
    assert_same_data(mixed, extract(profile, f"sqlite:///{plant}"))
    monkeypatch.undo()
    with open_source(f"sqlite:///{plant}") as src:  # a view has no rowid: all by rows
        view = src.read_table("items_view", ["ITEM_CD", "OUTDIAMETER", "OUTTHICKNESS"])
        assert src.readers["items_view"] == "sqlite3 rows (numbers mixed with text)"
    assert view["ITEM_CD"].is_monotonic_decreasing and (view["OUTDIAMETER"] == "N/A").any()


def test_a_large_table_is_read_in_rowid_ranges_that_join_in_order(tmp_path, monkeypatch):
    from registry_app.pipeline import sources

    path = tmp_path / "parts.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (code TEXT, n INTEGER, od REAL)")
        rows = [(f"{i:05d}", i if i < 600 else i + 0.5, None if i < 700 else i) for i in range(900)]
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
        conn.execute("DELETE FROM t WHERE rowid % 5 = 0")
        conn.execute("CREATE INDEX by_n ON t (n DESC)")
    calls = []
    real = sources._fetch_arrow
    monkeypatch.setattr(sources, "_fetch_arrow", lambda p, sql: calls.append(sql) or real(p, sql))
    monkeypatch.setattr(sources, "SPLIT_ROWS", 100)
    monkeypatch.setattr(sources.os, "cpu_count", lambda: 3)
    with open_source(f"sqlite:///{path}") as src:
        frame = src.read_table("t")
    assert len(calls) == 3 and all("rowid >" in c and "ORDER BY rowid" in c for c in calls)
    kept = [r for i, r in enumerate(rows) if (i + 1) % 5]
    assert frame["code"].tolist() == [r[0] for r in kept]
    assert frame["n"].tolist() == [float(r[1]) for r in kept]  # reals in the last part only
    assert frame["od"].isna().sum() == len([r for r in kept if r[2] is None])


def test_a_column_mixing_numbers_and_text_is_read_row_by_row(tmp_path, monkeypatch):
    from registry_app.pipeline import sources

    path = tmp_path / "mixed.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (code, qty)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [("0042", 1), (43, 2.5), (None, None)])
    calls = []
    monkeypatch.setattr(sources, "read_arrow", lambda *a: calls.append(a) or None)
    with open_source(f"sqlite:///{path}") as src:
        frame = src.read_table("t")
    assert calls == []  # no declared types: never offered to the columnar reader
    assert frame["code"].tolist() == ["0042", 43, None]
    assert frame["qty"].tolist()[:2] == [1.0, 2.5]
    with sqlite3.connect(path) as conn:  # a REAL column may still hold text
        conn.execute("CREATE TABLE r (code TEXT, od REAL)")
        conn.executemany("INSERT INTO r VALUES (?, ?)", [("0042", 1.5), ("43", "N/A")])
    monkeypatch.undo()
    with open_source(f"sqlite:///{path}") as src:
        assert src.read_table("r").to_dict("list") == {"code": ["0042", "43"], "od": [1.5, "N/A"]}
