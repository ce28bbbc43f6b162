"""Extraction through real ODBC drivers: SQLite's for a generated plant, mdbtools' for Access."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from registry_app.pipeline import sources
from registry_app.pipeline.extract import extract
from registry_app.pipeline.sample_data import generate
from registry_app.pipeline.sources import open_source
from tests.conftest import TEST_DATA
from workflow_app.profiles import load_default_profile

pytestmark = [pytest.mark.odbc, pytest.mark.usefixtures("source_roots", "access_copies")]

_COPIES: dict[str, Path] = {}


@pytest.fixture
def access_copies(tmp_path):
    """The sample Access files copied into the test's own folder: a data source may not read
    inside the program folder, where tests/data lies."""
    folder = tmp_path / "access"
    folder.mkdir()
    for path in TEST_DATA.iterdir():
        if path.suffix in (".mdb", ".accdb"):
            _COPIES[path.name] = Path(shutil.copy(path, folder / path.name))
    yield folder
    _COPIES.clear()


def access(name: str) -> str:
    assert (TEST_DATA / name).exists(), f"tests/data/{name} is missing (see tests/data/README.md)"
    return f"odbc:DRIVER={{MDBTools}};DBQ={_COPIES[name]}"


def registered(name: str, file: str) -> str:
    """Register the Access file as a data source (as an admin would); its name for a profile."""
    from tests.conftest import register_source

    register_source(name, "odbc", access(file)[len("odbc:") :])
    return name


def test_a_plant_read_over_odbc_equals_the_same_file_read_directly(tmp_path):
    path = tmp_path / "plant.sqlite"
    generate(path, items=1500, seed=21)
    profile = load_default_profile()
    direct = extract(profile, f"sqlite:///{path}")
    via_odbc = extract(profile, f"odbc:DRIVER={{SQLite3}};Database={path}")
    for name in ("items", "operations", "work_results"):
        pd.testing.assert_frame_equal(getattr(direct, name), getattr(via_odbc, name))
    ignore = {"seconds", "readers"}
    assert {k: v for k, v in direct.report.as_dict().items() if k not in ignore} == {
        k: v for k, v in via_odbc.report.as_dict().items() if k not in ignore
    }
    assert len(via_odbc.operations) > 8000
    assert set(via_odbc.report.readers.values()) == {"arrow-odbc (columnar)"}
    assert set(direct.report.readers.values()) == {"adbc (columnar)"}


def test_a_driver_without_bulk_fetch_is_read_row_by_row_and_says_so():
    with open_source(access("nwind.mdb")) as src:
        products = src.read_table("Products", ["ProductID", "ProductName"])
        reader = src.readers["Products"]
    assert len(products) == 77 and products["ProductName"].iloc[0] == "Chai"
    # mdbtools refuses block cursors; arrow-odbc would stop this process, so a child tried it
    assert reader.startswith("pyodbc rows (driver refuses bulk fetch:")
    assert "SQLSetStmtAttr" in reader


def test_a_value_too_long_for_the_column_buffers_falls_back_to_the_row_reader(tmp_path):
    import sqlite3

    from registry_app.pipeline import odbc_columnar

    path = tmp_path / "long.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (code TEXT, note TEXT, n INTEGER)")
        long_note = "x" * (odbc_columnar.MAX_TEXT * 20)
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?)", [("0042", long_note, 1), ("0043", "short", None)]
        )
    with open_source(f"odbc:DRIVER={{SQLite3}};Database={path}") as src:
        frame = src.read_table("t")
        reader = src.readers["t"]
    assert reader.startswith("pyodbc rows (arrow-odbc failed:") and "too large" in reader
    assert frame["note"].str.len().tolist() == [len(long_note), 5]  # nothing cut off
    assert frame["code"].tolist() == ["0042", "0043"]  # leading zeros kept
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE t SET note = 'short again'")
    with open_source(f"odbc:DRIVER={{SQLite3}};Database={path}") as src:
        frame = src.read_table("t")
        assert src.readers["t"] == "arrow-odbc (columnar)"
    assert frame["code"].tolist() == ["0042", "0043"] and frame["note"].nunique() == 1
    assert frame["n"].iloc[0] == 1.0 and pd.isna(frame["n"].iloc[1])


def test_northwind_lists_its_tables_without_system_tables_or_saved_queries():
    with open_source(access("nwind.mdb")) as src:
        tables = src.tables()
    assert tables == [
        "Categories", "Customers", "Employees", "Order Details", "Orders", "Products",
        "Shippers", "Suppliers", "Umsätze",
    ]  # fmt: skip
    assert not [t for t in tables if t.startswith("MSys")]
    assert "Invoices" not in tables and "Product Sales for 1995" not in tables  # saved queries


def test_a_saved_query_or_missing_table_is_refused_with_the_table_list():
    with open_source(access("nwind.mdb")) as src, pytest.raises(sources.SourceError) as err:
        src.read_table("Invoices")  # a saved query: mdbtools cannot run it
    assert "Table 'Invoices' is not in" in err.value.detail
    assert "Available tables: Categories, Customers" in err.value.detail


def test_a_table_the_listing_leaves_out_is_still_read_when_the_driver_can(tmp_path):
    import sqlite3

    path = tmp_path / "plant.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE parts (code TEXT)")
        conn.execute("INSERT INTO parts VALUES ('P-1')")
        conn.execute("CREATE VIEW linked_parts AS SELECT code FROM parts")  # listed as a VIEW
    with open_source(f"odbc:DRIVER={{SQLite3}};Database={path}") as src:
        assert src.tables() == ["parts"]
        assert src.read_table("linked_parts")["code"].tolist() == ["P-1"]


def test_northwind_tables_read_with_their_types():
    with open_source(access("nwind.mdb")) as src:
        products = src.read_table(
            "Products", ["ProductID", "ProductName", "UnitPrice", "Discontinued"]
        )
        orders = src.read_table("orders")  # Access names ignore case
        details = src.read_table("Order Details")
        umsaetze = src.read_table("Umsätze", ["OrderID"])
    assert len(products) == 77 and len(orders) == 830 and len(details) == 2155
    assert len(umsaetze) == 830
    chai = products[products["ProductID"] == 1].iloc[0]
    assert chai["ProductName"] == "Chai" and chai["UnitPrice"] == Decimal("18.0000")
    assert products["ProductID"].dtype == "int64"
    first = orders[orders["OrderID"] == 10330].iloc[0]
    assert first["CustomerID"] == "LILAS" and first["OrderDate"] == "1994-11-16 00:00:00"


def test_whole_tables_with_pictures_read_too():
    with open_source(access("nwind.mdb")) as src:
        categories = src.read_table("Categories")
        employees = src.read_table("Employees")
    assert len(categories) == 8 and len(employees) == 9
    assert categories.loc[0, "CategoryName"] == "Beverages"
    assert (
        isinstance(categories.loc[0, "Picture"], bytes) and len(categories.loc[0, "Picture"]) > 1000
    )


def test_a_profile_alone_extracts_northwind_as_items_and_operations(db):
    profile = {
        "name": "northwind",
        "source": registered("northwind", "nwind.mdb"),
        "tables": {"items": "Products", "operations": "Order Details", "work_results": None},
        "columns": {
            "items": {"item_code": "ProductID"},
            "operations": {"item_code": "ProductID", "seq": "OrderID", "op_code": "OrderID",
                           "work_center": "Quantity", "run_qty": "Quantity"},
        },
        "attributes": [
            {"name": "name", "column": "ProductName", "kind": "text", "weight": 1},
            {"name": "category", "column": "CategoryID", "kind": "categorical", "weight": 1},
            {"name": "price", "column": "UnitPrice", "kind": "numeric", "weight": 1},
            {"name": "discontinued", "column": "Discontinued", "kind": "categorical", "weight": 1},
        ],
    }  # fmt: skip
    data = extract(profile)
    items = data.items.set_index("item_code")
    assert len(items) == 77
    assert items.loc["1"].to_dict() == {
        "name": "Chai",
        "category": "1",
        "price": 18.0,
        "discontinued": "FALSE",
    }
    assert len(data.operations) == 2155 and data.report.problems == {}
    assert data.operations["run_qty"].min() >= 1


def test_an_access_2007_file_reads_through_mdbtools():
    with open_source(access("ASampleDatabase.accdb")) as src:
        assert src.tables() == ["Asset Items"]
        assets = src.read_table("Asset Items")
    assert len(assets) == 65
    assert (
        assets.loc[0, "Asset No"] == "30050" and assets.loc[0, "Acquired"] == "1997-09-02 00:00:00"
    )


def date_test_profile() -> dict:
    return {
        "name": "date-test",
        "source": registered("date-test", "DateTestDatabase.mdb"),
        "tables": {"items": "DateTest", "operations": "DateTest", "work_results": None},
        "columns": {
            "items": {"item_code": "IDCol"},
            "operations": {"item_code": "IDCol", "seq": "IDCol", "op_code": "ShortTextCol",
                           "work_center": "LongTextCol", "valid_from": "DateTimeCol",
                           "valid_to": "DateCol", "inserted_at": "TimeCol"},
        },
        "attributes": [{"name": "text", "column": "ShortTextCol", "kind": "text", "weight": 1}],
    }  # fmt: skip


def test_bad_access_dates_are_counted_and_the_read_completes(db):
    with open_source(access("DateTestDatabase.mdb")) as src:
        raw = src.read_table("DateTest")
    assert len(raw) == 6  # pyodbc alone stops at "day is out of range for month"
    data = extract(date_test_profile())
    ops = data.operations
    assert len(data.items) == 6 and len(ops) == 6
    assert ops["valid_from"].notna().tolist() == [True, False, False, False, True, True]
    assert ops.loc[0, "valid_from"] == pd.Timestamp("2021-12-02")
    problems = data.report.problems["operations"]
    assert problems["bad date in DateTimeCol: NaT"] == 3
    assert problems["bad date in DateCol: NaT"] == 3
    assert problems["bad date in TimeCol: NaT"] == 2
    assert any("1900-01-00" in e for e in data.report.examples["operations"])


def test_a_column_the_driver_cannot_deliver_is_reported_and_left_empty(db, monkeypatch):
    real = sources._decode_datetime

    def fussy(raw, kind):  # a driver that raises on the day-0 dates, as pyodbc itself does
        text = real(raw, kind)
        if text and "-00 " in text:
            raise ValueError("day is out of range for month")
        return text

    monkeypatch.setattr(sources, "_decode_datetime", fussy)
    data = extract(date_test_profile())
    assert len(data.operations) == 6
    assert data.operations["valid_from"].isna().all()  # the whole column was unreadable
    assert data.operations["work_center"].tolist()[0] == "Hello"  # the others were read
    problems = data.report.problems["operations"]
    assert problems["unreadable column DateTimeCol"] == 1
