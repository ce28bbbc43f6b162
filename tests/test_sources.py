"""Sources: SQLite files, CSV folders and ODBC connection strings, and every refusal's message."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from registry_app.pipeline.sources import (
    CsvSource,
    OdbcSource,
    SourceError,
    SqliteSource,
    open_source,
    parse_source,
)
from routing_site.errors import BadInput

pytestmark = pytest.mark.usefixtures("source_roots")


@pytest.fixture
def plant_db(tmp_path) -> Path:
    path = tmp_path / "plant.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (ITEM_CD TEXT, OD REAL, QTY INTEGER, NOTE TEXT)")
        conn.executemany(
            "INSERT INTO items VALUES (?, ?, ?, ?)",
            [("A1", 45.5, 1, "first"), ("A2", None, 2, None), ("A3", 12.0, 3, "  padded  ")],
        )
        conn.execute("CREATE VIEW big_items AS SELECT * FROM items WHERE OD > 20")
    return path


@pytest.fixture
def csv_folder(tmp_path) -> Path:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "items.csv").write_text("ITEM_CD,OD,NOTE\nA1,45.5,first\nA2,,\n", encoding="utf-8")
    (folder / "korean.csv").write_bytes("ITEM_CD,NAME\nK1,슬리브\n".encode("cp949"))
    (folder / "readme.txt").write_text("not a table")
    return folder


def test_parse_source_accepts_the_three_forms():
    assert parse_source("sqlite:////srv/plant.sqlite") == ("sqlite", "/srv/plant.sqlite")
    assert parse_source("sqlite:///var/plant.sqlite") == ("sqlite", "var/plant.sqlite")
    assert parse_source("sqlite:///C:/erp/plant.sqlite") == ("sqlite", "C:/erp/plant.sqlite")
    assert parse_source("csv:////srv/export") == ("csv", "/srv/export")
    assert parse_source("csv:///export") == ("csv", "export")
    assert parse_source("odbc:DSN=PLANT") == ("odbc", "DSN=PLANT")


@pytest.mark.parametrize("text", ["", "postgres://db/plant", "plant.mdb"])
def test_an_unknown_scheme_lists_the_accepted_forms(text):
    with pytest.raises(SourceError) as err:
        open_source(text)
    for form in ("sqlite:///", "odbc:", "csv:///"):
        assert form in err.value.detail
    assert isinstance(err.value, BadInput)


def test_a_scheme_without_a_target_is_refused():
    with pytest.raises(SourceError, match="names no sqlite target"):
        parse_source("sqlite:///")


def test_sqlite_lists_tables_and_views_and_reads_typed_columns(plant_db):
    with open_source(f"sqlite:///{plant_db}") as src:
        assert isinstance(src, SqliteSource)
        assert src.tables() == ["big_items", "items"]
        frame = src.read_table("items")
        assert list(frame.columns) == ["ITEM_CD", "OD", "QTY", "NOTE"]
        assert frame["QTY"].dtype == np.int64
        assert frame["OD"].dtype == np.float64 and np.isnan(frame["OD"][1])
        assert frame["NOTE"].tolist() == ["first", None, "  padded  "]  # raw: cleaning is extract's
        assert src.read_table("big_items")["ITEM_CD"].tolist() == ["A1"]


def test_sqlite_picks_columns_ignoring_case_and_names_them_as_asked(plant_db):
    with open_source(f"sqlite:///{plant_db}") as src:
        frame = src.read_table("ITEMS", ["note", "ITEM_CD", "item_cd"])
        assert list(frame.columns) == ["note", "ITEM_CD", "item_cd"]
        assert frame["item_cd"].tolist() == ["A1", "A2", "A3"]


def test_a_missing_sqlite_file_says_where_it_looked(tmp_path):
    with pytest.raises(SourceError, match="does not exist") as err:
        open_source(f"sqlite:///{tmp_path / 'nope.sqlite'}")
    assert str(tmp_path / "nope.sqlite") in err.value.detail


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    bogus = tmp_path / "plant.sqlite"
    bogus.write_text("this is not a database" * 100)
    with pytest.raises(SourceError, match="Cannot read .* as a SQLite database"):
        open_source(f"sqlite:///{bogus}").tables()


def test_a_folder_is_not_a_sqlite_file(tmp_path):
    with pytest.raises(SourceError, match="is a folder"):
        open_source(f"sqlite:///{tmp_path}")


def test_a_missing_table_lists_the_available_ones(plant_db):
    with open_source(f"sqlite:///{plant_db}") as src, pytest.raises(SourceError) as err:
        src.read_table("dbo_BI_ITEM_INFO_VIEW")
    assert "Table 'dbo_BI_ITEM_INFO_VIEW' is not in" in err.value.detail
    assert "Available tables: big_items, items" in err.value.detail


def test_a_missing_column_lists_the_available_ones(plant_db):
    with open_source(f"sqlite:///{plant_db}") as src, pytest.raises(SourceError) as err:
        src.read_table("items", ["ITEM_CD", "PART_TYPE", "ROUT_NO"])
    assert "'PART_TYPE', 'ROUT_NO' not in table 'items'" in err.value.detail
    assert "Available columns: ITEM_CD, OD, QTY, NOTE" in err.value.detail
    assert err.value.fields["columns"] == [
        "missing column 'PART_TYPE' in 'items'",
        "missing column 'ROUT_NO' in 'items'",
    ]


def test_an_empty_table_reads_as_an_empty_frame(tmp_path):
    path = tmp_path / "empty.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (a TEXT, b REAL)")
    with open_source(f"sqlite:///{path}") as src:
        frame = src.read_table("t", ["b", "a"])
    assert list(frame.columns) == ["b", "a"] and len(frame) == 0


def test_csv_folders_hold_one_table_per_file(csv_folder):
    with open_source(f"csv:///{csv_folder}") as src:
        assert isinstance(src, CsvSource)
        assert src.tables() == ["items", "korean"]
        frame = src.read_table("items", ["ITEM_CD", "OD"])
        assert frame["ITEM_CD"].tolist() == ["A1", "A2"]
        assert frame["OD"].tolist() == ["45.5", None]  # text as written; extract parses numbers
        assert src.read_table("korean")["NAME"].tolist() == ["슬리브"]  # a CP949 export


def test_csv_errors_name_the_folder_table_and_columns(csv_folder, tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(f"csv:///{tmp_path / 'missing'}")
    with pytest.raises(SourceError, match="is a file"):
        open_source(f"csv:///{csv_folder / 'items.csv'}")
    with open_source(f"csv:///{csv_folder}") as src:
        with pytest.raises(SourceError, match="Available tables: items, korean"):
            src.read_table("routings")
        with pytest.raises(SourceError, match="Available columns: ITEM_CD, OD, NOTE"):
            src.read_table("items", ["PART_TYPE"])


@pytest.mark.odbc
def test_a_missing_odbc_driver_lists_the_installed_ones_and_the_package():
    import pyodbc

    with pytest.raises(SourceError) as err:
        open_source("odbc:DRIVER={Routing Test No Such Driver};DBQ=/tmp/plant.mdb")
    detail = err.value.detail
    assert "ODBC driver 'Routing Test No Such Driver' is not installed" in detail
    for driver in pyodbc.drivers():
        assert driver in detail
    assert "odbc-mdbtools" in detail and "libsqliteodbc" in detail


@pytest.mark.odbc
def test_a_missing_odbc_database_file_or_dsn_is_explained(tmp_path):
    with pytest.raises(SourceError, match="Database file .*plant.mdb does not exist"):
        open_source(f"odbc:DRIVER={{MDBTools}};DBQ={tmp_path / 'plant.mdb'}")
    with pytest.raises(SourceError, match="ODBC data source 'ROUTING_NO_SUCH_DSN' is not defined"):
        open_source("odbc:DSN=ROUTING_NO_SUCH_DSN")


@pytest.mark.odbc
def test_odbc_reads_a_sqlite_file_through_the_sqlite_driver(plant_db):
    with open_source(f"odbc:DRIVER={{SQLite3}};Database={plant_db}") as src:
        assert isinstance(src, OdbcSource)
        assert "items" in src.tables()
        frame = src.read_table("items", ["ITEM_CD", "QTY"])
    assert frame["ITEM_CD"].tolist() == ["A1", "A2", "A3"]
    assert frame["QTY"].tolist() == [1, 2, 3]


def test_passwords_never_reach_messages():
    from registry_app.pipeline.sources import redact

    assert redact("DSN=PLANT;UID=erp;PWD=s3cret;") == "DSN=PLANT;UID=erp;PWD=***;"
    assert redact("DSN=PLANT;Password={se;cret};UID=erp") == "DSN=PLANT;Password=***;UID=erp"


def test_chunked_reads_join_numbers_nulls_and_text_across_chunks(tmp_path, monkeypatch):
    from registry_app.pipeline import sources

    path = tmp_path / "mixed.sqlite"
    rows = [(1.5, "A", 1), (2.0, "B", 2), (None, None, None), (None, None, None), (3.0, 7, 5)]
    rows += [(4.0, "A ", None), ("N/A", "B", 6)]
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (num, txt, qty)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", rows)
    with open_source(f"sqlite:///{path}") as src:
        whole = src.read_table("t")
    monkeypatch.setattr(sources, "FETCH_ROWS", 2)  # chunks: numbers | NULLs | mixed | text
    with open_source(f"sqlite:///{path}") as src:
        chunked = src.read_table("t")
        compact = src.read_columns("t")
    assert (
        chunked["num"].tolist() == whole["num"].tolist() == [1.5, 2.0, None, None, 3.0, 4.0, "N/A"]
    )
    assert chunked["txt"].tolist() == ["A", "B", None, None, 7, "A ", "B"]
    assert np.allclose(
        chunked["qty"].to_numpy(dtype=float), [1, 2, np.nan, np.nan, 5, np.nan, 6], equal_nan=True
    )
    assert compact["qty"].dtype == np.float64  # numbers stay numbers, NULL chunks and all
    assert isinstance(compact["txt"], pd.Categorical)


def test_read_head_stops_after_n_rows_and_refuses_an_unknown_table(plant_db, csv_folder):
    with open_source(f"sqlite:///{plant_db}") as src:
        head = src.read_head("ITEMS", 2)  # table names as for read_table: case ignored
        assert list(head.columns) == ["ITEM_CD", "OD", "QTY", "NOTE"]
        assert head["ITEM_CD"].tolist() == ["A1", "A2"]
        assert src.read_head("big_items", 10)["ITEM_CD"].tolist() == ["A1"]
        with pytest.raises(SourceError, match="nope"):
            src.read_head("nope", 2)
    (csv_folder / "codes.csv").write_text("CODE,QTY\n007,1\n010,2\n011,3\n", encoding="utf-8")
    with open_source(f"csv:///{csv_folder}") as src:
        head = src.read_head("codes", 2)
        assert head["CODE"].tolist() == ["007", "010"]  # text as written: leading zeros kept
        with pytest.raises(SourceError, match="nope"):
            src.read_head("nope", 2)
