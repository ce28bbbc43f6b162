"""A first mapping made for the engineer: suggest_profile on the shipped schema and on foreign
schemas of the tests' own making; never saves."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from registry_app.pipeline.extract import extract
from tests.conftest import register_source
from workflow_app.profiles import load_default_profile
from workflow_app.suggest import normalise, suggest_profile

pytestmark = pytest.mark.usefixtures("source_roots")


def make_db(path: Path, tables: dict[str, tuple[list[str], list[tuple]]]) -> Path:
    with sqlite3.connect(path) as conn:
        for name, (columns, rows) in tables.items():
            conn.execute(f'CREATE TABLE "{name}" ({", ".join(columns)})')
            marks = ", ".join("?" * len(columns))
            conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
    return path


def german_plant(path: Path) -> Path:
    """German column names, and the hardness and surface in a specification table beside the
    item master (one row per item, keyed by its own item-number column)."""
    items, specs, steps, reports = [], [], [], []
    for i in range(60):
        code = f"0{4711 + i}"  # leading zero: a code, never a number
        items.append(
            (code, f"Welle Typ {i % 7}", ["S235", "C45", "1.4301"][i % 3], 20 + i, 100.5 + i)
        )
        specs.append((code, 40.5 + i % 20, ["blank", "verzinkt", "pulverbeschichtet"][i % 3]))
        for n, (op, place) in enumerate([("SAEG", "SAE01"), ("DREH", "DRE02"), ("PRUEF", "QS")]):
            steps.append((code, (n + 1) * 10, op, place, 15.0 + n, 2.5 * (n + 1), "Min"))
            reports.append((code, (n + 1) * 10, f"2024-03-{1 + i % 28:02d}", 0.25 + n, 12))
    return make_db(path, {
        "Artikelstamm": (["ArtikelNr", "Bezeichnung", "Werkstoff", "Durchmesser", "Laenge"], items),
        "Artikelmerkmale": (["Sachnummer", "Haerte", "Oberflaeche"], specs[::-1]),
        "Arbeitsplan": (["ArtikelNr", "Arbeitsgang", "Taetigkeit", "Arbeitsplatz", "Ruestzeit",
                         "Bearbeitungszeit", "Zeiteinheit"], steps),
        "Rueckmeldungen": (["ArtikelNr", "Arbeitsgang", "Buchungsdatum", "RuestzeitIst",
                            "Menge"], reports),
    })  # fmt: skip


def order_log(path: Path) -> Path:
    """A shop whose items are its orders: one header row per order with the order quantity,
    the steps logged per order with run times that are totals for the order."""
    orders, steps = [], []
    for i in range(50):
        order = f"FA-{2024000 + i}"
        qty = 5 + i % 4
        orders.append((order, ["PUMP", "VALVE"][i % 2], 40.5 + i % 9, qty))
        for n, (op, machine) in enumerate([("CUT", "SAW1"), ("MILL", "MC2")]):
            steps.append((order, n + 1, op, machine, 30.0, (4.0 + i % 3) * qty, "MIN"))
    return make_db(path, {
        "orders": (["ORDER_NO", "PRODUCT", "DIAMETER", "ORDER_QTY"], orders),
        "order_steps": (["ORDER_NO", "STEP_NO", "OPERATION", "MACHINE", "SETUP", "RUN_TOTAL",
                         "UNIT"], steps),
    })  # fmt: skip


def korean_work_log(path: Path) -> Path:
    """Korean names; the steps are logged per work order with run times that are totals for
    the order, and the order quantity is only in the work-order header (several orders an
    item)."""
    items, orders, log = [], [], []
    for i in range(40):
        code = f"P{1000 + i}"
        items.append((code, f"플랜지 {i % 5}", ["SUS304", "SS400"][i % 2], 50.5 + i))
        for k in range(2):
            order, qty = f"WO-{i:03d}-{k}", 10 * (k + 1)
            orders.append((order, code, qty))
            for n, (op, machine) in enumerate([("CUT", "M01"), ("LATHE", "M02"), ("QC", "Q1")]):
                log.append((order, code, (n + 1) * 10, op, machine, 12.0, 1.5 * (n + 1) * qty,
                            "분"))  # fmt: skip
    return make_db(path, {
        "품목마스터": (["품목코드", "품목명", "재질", "외경"], items),
        "작업지시": (["지시번호", "품목코드", "지시수량"], orders),
        "공정실적": (["지시번호", "품목코드", "공정순서", "공정코드", "설비코드", "준비시간",
                      "가공시간합계", "시간단위"], log),
    })  # fmt: skip


def attributes(*specs: tuple, table: str | None = None, key: str | None = None) -> list[dict]:
    """Proposed attributes as the profile writes them: (column, kind) -> a full entry."""
    joined = {"table": table, "key": key} if table else {}
    return [
        {"name": normalise(column), "column": column, "kind": kind, "weight": 1.0, **joined}
        for column, kind in specs
    ]


def test_the_shipped_plant_schema_is_mapped_as_plant_default_maps_it(db, plant_db, tmp_path):
    from workflow_app.models import MappingProfile

    register_source("plant", "sqlite", shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    before = MappingProfile.objects.count()
    answer = suggest_profile("plant")
    shipped = load_default_profile()
    assert answer["profile"] == {
        "name": "plant-suggested",
        "description": "Suggested from the data source 'plant'; check before use.",
        "source": "plant",
        "tables": shipped["tables"],
        "columns": shipped["columns"],
        "attributes": attributes(
            ("PART_TYPE", "categorical"), ("ITEM_NM", "text"), ("ITEM_ACCT", "categorical"),
            ("ITEM_TYPE", "categorical"), ("ITEM_UNIT", "categorical"), ("OUTDIAMETER", "numeric"),
            ("INDIAMETER", "numeric"), ("OUTTHICKNESS", "numeric"),
            ("ITEM_MATERIAL", "categorical"), ("PartNm", "categorical"),
            ("ITEM_GRP1", "categorical"), ("ITEM_SPEC", "text"), ("STANDARD_YN", "categorical"),
            ("RAW_MATL_KIND", "categorical"), ("ITEM_GRP1NM", "categorical"),
            ("MATERIAL_DESC", "categorical"), ("DRAW_NO", "text"), ("GROUP1", "categorical"),
            ("SealTypeGrup", "categorical"), ("DRAW_REV", "categorical"),
            ("RAW_MATL_KINDNM", "categorical"), ("IN_SEALSIZE", "numeric"),
            ("IN_SEALSIZE_UOM", "categorical"), ("IN_SEALTYPE_CD", "categorical"),
            ("GROUP2", "categorical"), ("OUTDIAMETER_UNIT", "categorical"),
            ("ITEM_SUFFIX", "categorical"), ("ADDITIONAL_SPEC", "categorical"),
            ("DRAW_SHEET_NO", "categorical"), ("OUT_SEALTYPE_CD", "categorical"),
            ("OUT_SEALSIZE", "numeric"), ("OUT_SEALSIZE_UOM", "categorical"),
        ),
    }  # fmt: skip
    proposal = answer["proposal"]
    assert proposal["tables"]["items"]["confidence"] >= 0.9
    assert "unique" in proposal["columns"]["items"]["item_code"]["reason"]
    seq = proposal["columns"]["operations"]["seq"]
    assert seq["column"] == "PROC_SEQ" and 0.5 < seq["confidence"] <= 1
    assert proposal["joins"] == []  # the shipped schema needs none
    columns = {c["name"]: c for t in answer["tables"] for c in t["columns"]}
    assert columns["PROC_SEQ"]["type"] == "integer" and columns["ITEM_CD"]["unique"] is False
    assert columns["VALID_TO_DT"]["type"] == "date" and 0 < columns["OUTDIAMETER"]["fill_rate"] <= 1
    assert columns["OUTDIAMETER"]["fill_rate_of"] == "all 1200 rows"
    assert answer["saved"] is False and answer["problems"] == []
    assert MappingProfile.objects.count() == before  # never saves


def test_a_german_schema_with_a_specification_table_is_mapped_with_no_edits(db, tmp_path):
    register_source("werk", "sqlite", german_plant(tmp_path / "werk.sqlite"))
    answer = suggest_profile("werk")
    assert answer["profile"] == {
        "name": "werk-suggested",
        "description": "Suggested from the data source 'werk'; check before use.",
        "source": "werk",
        "tables": {
            "items": "Artikelstamm", "operations": "Arbeitsplan", "work_results": "Rueckmeldungen",
        },
        "columns": {
            "items": {"item_code": "ArtikelNr"},
            "operations": {
                "item_code": "ArtikelNr", "seq": "Arbeitsgang", "op_code": "Taetigkeit",
                "work_center": "Arbeitsplatz", "time_unit": "Zeiteinheit",
                "setup_min": "Ruestzeit", "run_min": "Bearbeitungszeit",
            },
            "work_results": {
                "item_code": "ArtikelNr", "seq": "Arbeitsgang", "reported_at": "Buchungsdatum",
                "setup_hours": "RuestzeitIst", "order_qty": "Menge",
            },
        },
        "attributes": attributes(
            ("Bezeichnung", "categorical"), ("Werkstoff", "categorical"),
            ("Durchmesser", "numeric"), ("Laenge", "numeric"),
        ) + attributes(
            ("Haerte", "numeric"), ("Oberflaeche", "categorical"),
            table="Artikelmerkmale", key="Sachnummer",
        ),
    }  # fmt: skip
    hardness = next(a for a in answer["proposal"]["attributes"] if a["column"] == "Haerte")
    assert hardness["reason"].startswith("from Artikelmerkmale, one row per item joined on ")
    assert answer["proposal"]["joins"][0]["table"] == "Artikelmerkmale"
    data = extract(answer["profile"])
    assert len(data.items) == 60 and len(data.operations) == 180
    assert data.items["item_code"].iloc[0] == "04711"
    assert data.items["haerte"].iloc[:3].tolist() == [40.5, 41.5, 42.5]  # joined, not shifted
    assert data.report.problems == {}


def test_an_order_log_whose_quantity_is_in_the_header_is_mapped_with_no_edits(db, tmp_path):
    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    answer = suggest_profile("shop")
    assert answer["profile"] == {
        "name": "shop-suggested",
        "description": "Suggested from the data source 'shop'; check before use.",
        "source": "shop",
        "tables": {"items": "orders", "operations": "order_steps", "work_results": None},
        "columns": {
            "items": {"item_code": "ORDER_NO"},
            "operations": {
                "item_code": "ORDER_NO", "seq": "STEP_NO", "op_code": "OPERATION",
                "work_center": "MACHINE", "time_unit": "UNIT", "setup_min": "SETUP",
                "run_min": "RUN_TOTAL",
                "run_qty": {
                    "table": "orders", "column": "ORDER_QTY", "on": {"ORDER_NO": "ORDER_NO"},
                },
            },
        },
        "attributes": attributes(("PRODUCT", "categorical"), ("DIAMETER", "numeric")),
    }  # fmt: skip
    proposal = answer["proposal"]
    assert (
        "100% of another table's key values" in proposal["columns"]["items"]["item_code"]["reason"]
    )
    run_qty = proposal["columns"]["operations"]["run_qty"]
    assert "RUN_TOTAL is read as the total for the order" in run_qty["reason"]
    assert [(j["table"], j["key"], j["role"]) for j in proposal["joins"]] == [
        ("orders", "ORDER_NO", "operations.run_qty")
    ]
    assert 0.5 < run_qty["confidence"] <= 1
    ops = extract(answer["profile"]).operations
    assert len(ops) == 100
    per_unit = (ops["run_min"] / ops["run_qty"]).tolist()
    assert per_unit[:4] == [4.0, 4.0, 5.0, 5.0]  # the totals divided by the order's quantity


def test_a_korean_log_with_a_separate_order_header_is_mapped_with_no_edits(db, tmp_path):
    register_source("kr", "sqlite", korean_work_log(tmp_path / "kr.sqlite"))
    answer = suggest_profile("kr")
    assert answer["profile"] == {
        "name": "kr-suggested",
        "description": "Suggested from the data source 'kr'; check before use.",
        "source": "kr",
        "tables": {"items": "품목마스터", "operations": "공정실적", "work_results": None},
        "columns": {
            "items": {"item_code": "품목코드"},
            "operations": {
                "item_code": "품목코드", "seq": "공정순서", "op_code": "공정코드",
                "work_center": "설비코드", "time_unit": "시간단위", "setup_min": "준비시간",
                "run_min": "가공시간합계",
                "run_qty": {
                    "table": "작업지시", "column": "지시수량", "on": {"지시번호": "지시번호"},
                },
            },
        },
        "attributes": attributes(("품목명", "categorical"), ("재질", "categorical"),
                                 ("외경", "numeric")),
    }  # fmt: skip
    ops = extract(answer["profile"]).operations
    assert len(ops) == 120  # the first order of each item (its key repeats in the second)
    assert (ops["run_min"] / ops["run_qty"]).tolist()[:3] == [1.5, 3.0, 4.5]


def test_sampling_says_how_many_rows_it_read_and_stops_within_its_budget(db, tmp_path, monkeypatch):
    from workflow_app import suggest

    register_source("werk", "sqlite", german_plant(tmp_path / "werk.sqlite"))
    monkeypatch.setattr(suggest, "SAMPLE_ROWS", 50)
    samples = {t["name"]: t["sample"] for t in suggest_profile("werk")["tables"]}
    assert samples["Arbeitsplan"]["rows_read"] == 50
    assert samples["Arbeitsplan"]["whole_table"] is False
    assert samples["Arbeitsplan"]["basis"] == "a sample: the first 50 rows (the table has more)"
    assert samples["Artikelstamm"]["basis"] == "a sample: the first 50 rows (the table has more)"
    monkeypatch.setattr(suggest, "TIME_BUDGET", 0.0)
    tables = suggest_profile("werk")["tables"]
    assert [t["sample"]["rows_read"] for t in tables] == [50, 0, 0, 0]
    assert tables[1]["sample"]["whole_table"] is None and tables[1]["columns"] == []
    assert "budget was used up" in tables[1]["sample"]["basis"]


def test_the_command_prints_the_proposal_and_refuses_an_unknown_source(db, tmp_path, capsys):
    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    call_command("suggest_profile", "--source", "shop", "--profile-only")
    out, err = capsys.readouterr()
    assert json.loads(out)["tables"]["items"] == "orders"
    assert err.splitlines() == [
        "order_steps: all 100 rows",
        "orders: all 50 rows",
        "Suggested for shop: items=orders, operations=order_steps; not saved.",
    ]
    with pytest.raises(CommandError, match="No data source 'nope' is registered"):
        call_command("suggest_profile", "--source", "nope")
    broken = tmp_path / "broken.sqlite"
    broken.write_text("not a database at all")
    register_source("broken", "sqlite", broken)
    with pytest.raises(CommandError, match="Cannot read .*broken.sqlite as a SQLite database"):
        call_command("suggest_profile", "--source", "broken")


def test_the_endpoint_answers_engineers_only(db, engineer_api, viewer_api, tmp_path):
    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    answer = engineer_api.get("/api/v1/sources/shop/suggest-profile")
    assert answer.status_code == 200
    assert answer.json()["profile"]["tables"]["operations"] == "order_steps"
    assert viewer_api.get("/api/v1/sources/shop/suggest-profile").status_code == 403
    missing = engineer_api.get("/api/v1/sources/nope/suggest-profile")
    assert missing.status_code == 400 and "No data source 'nope'" in missing.json()["detail"]


def write_csv_folder(db_path: Path, folder: Path) -> Path:
    """The tables of ``db_path`` as a German Excel would export them: ';', cp1252, decimal
    commas."""
    folder.mkdir()
    with sqlite3.connect(db_path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for name in names:
            frame = pd.read_sql_query(f'SELECT * FROM "{name}"', conn)
            frame.to_csv(folder / f"{name}.csv", sep=";", decimal=",", index=False,
                         encoding="cp1252")  # fmt: skip
    return folder


@pytest.mark.parametrize("kind", ["csv", "odbc"])
def test_csv_and_odbc_sources_are_sampled_and_mapped_alike(db, tmp_path, kind, monkeypatch):
    from workflow_app import suggest

    plant = german_plant(tmp_path / "werk.sqlite")
    register_source("werk", "sqlite", plant)
    expected = suggest_profile("werk")["profile"]
    if kind == "csv":
        register_source("werk", "csv", write_csv_folder(plant, tmp_path / "export"))
    else:
        register_source("werk", "odbc", f"DRIVER={{SQLite3}};Database={plant}")
    assert suggest_profile("werk")["profile"] == expected
    monkeypatch.setattr(suggest, "SAMPLE_ROWS", 100)
    samples = {t["name"]: t["sample"] for t in suggest_profile("werk")["tables"]}
    assert samples["Arbeitsplan"]["rows_read"] == 100
    assert samples["Arbeitsplan"]["whole_table"] is False
    assert samples["Artikelstamm"] == {**samples["Artikelstamm"], "rows_read": 60,
                                       "whole_table": True}  # fmt: skip
