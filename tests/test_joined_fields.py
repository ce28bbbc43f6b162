"""Fields from more than one table: an attribute from a table joined on the item code, an
operation's run quantity from the order header (run times that are totals for the order), and
constants."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from registry_app.pipeline.extract import extract
from registry_app.pipeline.sources import SourceError
from routing_site.errors import BadInput
from tests.conftest import register_source
from workflow_app.preview import check_against_source, preview_profile
from workflow_app.profiles import validate_profile

pytestmark = pytest.mark.usefixtures("source_roots")


def shop_floor(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (ITEM TEXT, FAMILY TEXT)")
        conn.execute("CREATE TABLE specs (ART TEXT, HARDNESS REAL)")
        conn.execute("CREATE TABLE orders (ORDER_NO TEXT, QTY REAL)")
        conn.execute("CREATE TABLE log (ORDER_NO TEXT, ITEM TEXT, STEP INT, OP TEXT, WC TEXT, "
                     "RUN_TOTAL REAL)")  # fmt: skip
        conn.executemany("INSERT INTO items VALUES (?, ?)", [("A1", "ring"), ("A2", "shaft")])
        conn.executemany("INSERT INTO specs VALUES (?, ?)", [("A2", 58.0), ("A1", 45.0)])
        conn.executemany("INSERT INTO orders VALUES (?, ?)", [("FA-1", 20), ("FA-2", 4)])
        conn.executemany(
            "INSERT INTO log VALUES (?, ?, ?, ?, ?, ?)",
            [("FA-1", "A1", 10, "TURN", "L1", 100.0), ("FA-1", "A1", 20, "MILL", "M1", 60.0),
             ("FA-2", "A2", 10, "TURN", "L1", 12.0), ("FA-9", "A2", 20, "GRIND", "G1", 8.0)],
        )  # fmt: skip
    return path


def profile(**changes) -> dict:
    spec = {
        "name": "shop-floor",
        "source": "floor",
        "tables": {"items": "items", "operations": "log", "work_results": None},
        "columns": {
            "items": {"item_code": "ITEM"},
            "operations": {
                "item_code": "ITEM", "seq": "STEP", "op_code": "OP", "work_center": "WC",
                "run_min": "RUN_TOTAL",
                "run_qty": {"table": "orders", "column": "QTY", "on": {"ORDER_NO": "ORDER_NO"}},
                "in_house": {"value": "Y"},
            },
        },
        "attributes": [
            {"name": "family", "column": "FAMILY", "kind": "categorical"},
            {"name": "hardness", "column": "HARDNESS", "kind": "numeric", "table": "specs",
             "key": "ART"},
        ],
    }  # fmt: skip
    spec.update(changes)
    return spec


def test_run_totals_for_the_order_read_the_order_quantity_and_attributes_join(db, tmp_path):
    register_source("floor", "sqlite", shop_floor(tmp_path / "floor.sqlite"))
    data = extract(profile())
    assert data.items.to_dict("list") == {
        "item_code": ["A1", "A2"], "family": ["ring", "shaft"], "hardness": [45.0, 58.0],
    }  # fmt: skip
    ops = data.operations
    assert ops["run_min"].tolist() == [100.0, 60.0, 12.0, 8.0]  # totals for the order
    assert ops["run_qty"].tolist() == [20.0, 20.0, 4.0, 1.0]  # FA-9 has no header: 1, counted
    assert (ops["run_min"] / ops["run_qty"]).tolist()[:3] == [5.0, 3.0, 3.0]  # per unit
    assert ops["in_house"].tolist() == [True] * 4  # the constant
    problems = data.report.problems["operations"]
    assert problems["no row in orders for QTY: value missing"] == 1
    check_against_source(validate_profile(profile()))  # fits: no error
    preview = preview_profile(validate_profile(profile()))
    fields = [c["field"] for c in preview["tables"]["operations"]["columns"]]
    assert "run_qty (join key)" in fields and preview["valid"]


def test_a_join_the_source_cannot_serve_is_reported_before_training(db, tmp_path):
    register_source("floor", "sqlite", shop_floor(tmp_path / "floor.sqlite"))
    wrong = profile()
    wrong["columns"]["operations"]["run_qty"] = {
        "table": "orders", "column": "MENGE", "on": {"ORDER_NO": "AUFNR"},
    }  # fmt: skip
    wrong["attributes"][1]["table"] = "specifications"
    with pytest.raises(SourceError) as caught:
        check_against_source(validate_profile(wrong))
    fields = caught.value.fields
    assert [m[:26] for m in fields["columns.operations.run_qty"]] == [
        "column 'MENGE' is not in t", "column 'AUFNR' is not in t",
    ]  # fmt: skip
    assert "specifications" in fields["attributes.hardness"][0]


@pytest.mark.parametrize(
    ("field", "value", "path", "says"),
    [
        ("run_qty", {"table": "orders", "column": "QTY"}, "columns.operations.run_qty.on",
         "required"),
        ("run_qty", {"table": "orders", "column": "QTY", "on": {"A": "B"}, "how": "left"},
         "columns.operations.run_qty.how", "allowed: table, column, on"),
        ("seq", {"value": 10}, "columns.operations.seq", "must be a source column name"),
        ("run_qty", {"value": [1]}, "columns.operations.run_qty.value", "number or a text"),
        ("run_qty", 5, "columns.operations.run_qty", '{"value": V} for a constant'),
    ],
)  # fmt: skip
def test_bad_joins_and_constants_are_refused_by_path(field, value, path, says):
    spec = profile()
    spec["columns"]["operations"][field] = value
    with pytest.raises(BadInput) as caught:
        validate_profile(spec)
    assert says in caught.value.fields[path][0]
