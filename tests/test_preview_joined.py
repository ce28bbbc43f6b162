"""Preview shows joined and constant fields with the values training will read: an attribute
from a specification table, the run quantity from the order header, a constant."""

from __future__ import annotations

import pytest

from tests.conftest import register_source
from tests.test_joined_fields import profile, shop_floor
from workflow_app.preview import preview_profile
from workflow_app.profiles import validate_profile

pytestmark = pytest.mark.usefixtures("source_roots")


def test_preview_rows_show_the_joined_values_and_where_they_come_from(db, tmp_path):
    register_source("floor", "sqlite", shop_floor(tmp_path / "floor.sqlite"))
    preview = preview_profile(validate_profile(profile()))
    items = preview["tables"]["items"]
    assert items["rows"] == [
        {"item_code": "A1", "family": "ring", "hardness": 45.0},
        {"item_code": "A2", "family": "shaft", "hardness": 58.0},
    ]
    hardness = next(c for c in items["columns"] if c["field"] == "hardness")
    assert hardness["column"] == "specs.HARDNESS"
    assert hardness["joined"] == {"table": "specs", "column": "HARDNESS", "on": {"ITEM": "ART"}}
    assert hardness["expected"] == "number" and hardness["empty_share"] == 0.0
    ops = preview["tables"]["operations"]
    assert [(r["seq"], r["run_min"], r["run_qty"], r["in_house"]) for r in ops["rows"]] == [
        (10, 100.0, 20.0, "Y"), (20, 60.0, 20.0, "Y"), (10, 12.0, 4.0, "Y"), (20, 8.0, None, "Y"),
    ]  # fmt: skip
    run_qty = next(c for c in ops["columns"] if c["field"] == "run_qty")
    assert run_qty["column"] == "orders.QTY" and run_qty["empty_share"] == 0.25
    constant = next(c for c in ops["columns"] if c["field"] == "in_house")
    assert constant["column"] == "= 'Y'" and constant["joined"] == {"value": "Y"}
    unmatched = [p for p in preview["problems"] if p["code"] == "join_values"]
    assert unmatched == [{
        "table": "operations", "field": None, "column": None, "code": "join_values",
        "level": "warning", "message": "no row in orders for QTY: value missing (1 row(s))",
        "count": 1,
    }]  # fmt: skip
    assert preview["valid"]


def test_a_joined_column_the_source_lacks_is_an_error_in_preview(db, tmp_path):
    register_source("floor", "sqlite", shop_floor(tmp_path / "floor.sqlite"))
    wrong = profile()
    wrong["columns"]["operations"]["run_qty"] = {
        "table": "orders", "column": "MENGE", "on": {"ORDER_NO": "ORDER_NO"},
    }  # fmt: skip
    preview = preview_profile(validate_profile(wrong))
    assert not preview["valid"]
    problem = next(p for p in preview["problems"] if p["field"] == "run_qty")
    assert problem["code"] == "missing_column" and "'MENGE'" in problem["message"]
    run_qty = next(c for c in preview["tables"]["operations"]["columns"] if c["field"] == "run_qty")
    assert run_qty["present"] is False
    assert all("run_qty" not in row for row in preview["tables"]["operations"]["rows"])


def test_the_preview_endpoint_shows_joined_values(db, engineer_api, tmp_path):
    from workflow_app.models import MappingProfile

    register_source("floor", "sqlite", shop_floor(tmp_path / "floor.sqlite"))
    MappingProfile.objects.put(profile())
    answer = engineer_api.get("/api/v1/mapping-profiles/shop-floor/preview?rows=2")
    assert answer.status_code == 200
    rows = answer.json()["tables"]["operations"]["rows"]
    assert [r["run_qty"] for r in rows] == [20.0, 20.0]
