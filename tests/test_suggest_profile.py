"""A first mapping made for the engineer: suggest_profile on the shipped schema and on foreign
schemas of the tests' own making; never saves."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from registry_app.pipeline.extract import extract
from tests.conftest import register_source
from workflow_app.profiles import load_default_profile, validate_profile
from workflow_app.suggest import suggest_profile

pytestmark = pytest.mark.usefixtures("source_roots")


def make_db(path: Path, tables: dict[str, tuple[list[str], list[tuple]]]) -> Path:
    with sqlite3.connect(path) as conn:
        for name, (columns, rows) in tables.items():
            conn.execute(f'CREATE TABLE "{name}" ({", ".join(columns)})')
            marks = ", ".join("?" * len(columns))
            conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
    return path


def german_plant(path: Path) -> Path:
    items, steps, reports = [], [], []
    for i in range(60):
        code = f"0{4711 + i}"  # leading zero: a code, never a number
        items.append(
            (code, f"Welle Typ {i % 7}", ["S235", "C45", "1.4301"][i % 3], 20 + i, 100.5 + i)
        )
        for n, (op, place) in enumerate([("SAEG", "SAE01"), ("DREH", "DRE02"), ("PRUEF", "QS")]):
            steps.append((code, (n + 1) * 10, op, place, 15.0 + n, 2.5 * (n + 1), "Min"))
            reports.append((code, (n + 1) * 10, f"2024-03-{1 + i % 28:02d}", 0.25 + n, 12))
    return make_db(path, {
        "Artikelstamm": (["ArtikelNr", "Bezeichnung", "Werkstoff", "Durchmesser", "Laenge"], items),
        "Arbeitsplan": (["ArtikelNr", "Arbeitsgang", "Taetigkeit", "Arbeitsplatz", "Ruestzeit",
                         "Bearbeitungszeit", "Zeiteinheit"], steps),
        "Rueckmeldungen": (["ArtikelNr", "Arbeitsgang", "Buchungsdatum", "RuestzeitIst",
                            "Menge"], reports),
    })  # fmt: skip


def order_log(path: Path) -> Path:
    """A shop whose items are its orders: one row per order, the steps logged per order."""
    orders, steps = [], []
    for i in range(50):
        order = f"FA-{2024000 + i}"
        orders.append((order, ["PUMP", "VALVE"][i % 2], 40 + i % 9, 5 + i % 4))
        for n, (op, machine) in enumerate([("CUT", "SAW1"), ("MILL", "MC2")]):
            steps.append((order, n + 1, op, machine, 30.0, 4.0 + i % 3, "MIN"))
    return make_db(path, {
        "orders": (["ORDER_NO", "PRODUCT", "DIAMETER", "QTY"], orders),
        "order_steps": (["ORDER_NO", "STEP_NO", "OPERATION", "MACHINE", "SETUP", "RUN", "UNIT"],
                        steps),
    })  # fmt: skip


def test_the_shipped_plant_schema_is_mapped_as_plant_default_maps_it(db, plant_db, tmp_path):
    from workflow_app.models import MappingProfile

    register_source("plant", "sqlite", shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    before = MappingProfile.objects.count()
    answer = suggest_profile("plant")
    shipped = load_default_profile()
    profile = validate_profile(answer["profile"])
    assert profile["tables"] == shipped["tables"]
    assert profile["columns"] == shipped["columns"]
    kinds = {a["column"]: a["kind"] for a in profile["attributes"]}
    assert kinds["OUTDIAMETER"] == "numeric" and kinds["PART_TYPE"] == "categorical"
    assert "ITEM_CD" not in kinds
    proposal = answer["proposal"]
    assert proposal["tables"]["items"]["confidence"] >= 0.9
    assert "unique" in proposal["columns"]["items"]["item_code"]["reason"]
    seq = proposal["columns"]["operations"]["seq"]
    assert seq["column"] == "PROC_SEQ" and 0.5 < seq["confidence"] <= 1
    columns = {c["name"]: c for t in answer["tables"] for c in t["columns"]}
    assert columns["PROC_SEQ"]["type"] == "integer" and columns["ITEM_CD"]["unique"] is False
    assert columns["VALID_TO_DT"]["type"] == "date" and 0 < columns["OUTDIAMETER"]["fill_rate"] <= 1
    assert answer["saved"] is False and answer["problems"] == []
    assert MappingProfile.objects.count() == before  # never saves


def test_a_german_schema_is_mapped_and_extracts_with_no_edits(db, tmp_path):
    register_source("werk", "sqlite", german_plant(tmp_path / "werk.sqlite"))
    profile = validate_profile(suggest_profile("werk")["profile"])
    assert profile["tables"] == {
        "items": "Artikelstamm", "operations": "Arbeitsplan", "work_results": "Rueckmeldungen",
    }  # fmt: skip
    assert profile["columns"]["operations"] == {
        "item_code": "ArtikelNr", "seq": "Arbeitsgang", "op_code": "Taetigkeit",
        "work_center": "Arbeitsplatz", "time_unit": "Zeiteinheit", "setup_min": "Ruestzeit",
        "run_min": "Bearbeitungszeit",
    }  # fmt: skip
    assert profile["columns"]["work_results"] == {
        "item_code": "ArtikelNr", "seq": "Arbeitsgang", "reported_at": "Buchungsdatum",
        "setup_hours": "RuestzeitIst", "order_qty": "Menge",
    }  # fmt: skip
    kinds = {a["column"]: a["kind"] for a in profile["attributes"]}
    assert kinds == {
        "Bezeichnung": "categorical", "Werkstoff": "categorical",
        "Durchmesser": "numeric", "Laenge": "numeric",
    }  # fmt: skip
    data = extract(profile)
    assert len(data.items) == 60 and len(data.operations) == 180
    assert data.items["item_code"].iloc[0] == "04711"
    assert data.report.problems == {}


def test_an_order_log_where_the_item_is_the_order_is_mapped(db, tmp_path):
    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    answer = suggest_profile("shop")
    profile = validate_profile(answer["profile"])
    assert profile["tables"] == {
        "items": "orders",
        "operations": "order_steps",
        "work_results": None,
    }
    assert profile["columns"]["items"] == {"item_code": "ORDER_NO"}
    assert profile["columns"]["operations"] == {
        "item_code": "ORDER_NO", "seq": "STEP_NO", "op_code": "OPERATION", "work_center": "MACHINE",
        "time_unit": "UNIT", "setup_min": "SETUP", "run_min": "RUN",
    }  # fmt: skip
    assert (
        "100% of another table's key values"
        in answer["proposal"]["columns"]["items"]["item_code"]["reason"]
    )
    assert len(extract(profile).operations) == 100


def test_the_command_prints_the_proposal_and_refuses_an_unknown_source(db, tmp_path, capsys):
    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    call_command("suggest_profile", "--source", "shop", "--profile-only")
    out, err = capsys.readouterr()
    assert json.loads(out)["tables"]["items"] == "orders"
    assert "items=orders, operations=order_steps; not saved." in err
    with pytest.raises(CommandError, match="No data source 'nope' is registered"):
        call_command("suggest_profile", "--source", "nope")


def test_the_endpoint_answers_engineers_only(db, engineer_api, viewer_api, tmp_path):
    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    answer = engineer_api.get("/api/v1/sources/shop/suggest-profile")
    assert answer.status_code == 200
    assert answer.json()["profile"]["tables"]["operations"] == "order_steps"
    assert viewer_api.get("/api/v1/sources/shop/suggest-profile").status_code == 403
    missing = engineer_api.get("/api/v1/sources/nope/suggest-profile")
    assert missing.status_code == 400 and "No data source 'nope'" in missing.json()["detail"]
