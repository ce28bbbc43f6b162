"""A plant with its own schema: trained end to end through a profile alone, read over ODBC.

The fixture writes a SQLite database whose tables and columns share no name with the ERP
export (one routing table, an item table with five attributes, no work results); the profile
maps it, the real SQLite ODBC driver reads it, and the trained model proposes the right
routing for a new item of a known family.
"""

from __future__ import annotations

import random
import sqlite3

import pytest
from rest_framework.test import APIClient

from accounts_app.testing import make_user
from inference_app.runtime import runtime
from registry_app.pipeline.training import execute_run, request_run
from tests.conftest import register_source
from workflow_app.models import MappingProfile, WorkflowConfig

# the saved-routing API through the URL map of test_routings_export (see there)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.odbc,
    pytest.mark.django_db,
    pytest.mark.urls("tests.test_routings_export"),
]


# family -> (kind, alloys, diameter range, routing [(task, cell, setup, run, unit)])
FAMILIES = {
    "ring": ("O-RING", ["NBR", "FKM"], (5, 60),
             [("CUT", "SAW-1", 5, 0.2, "MIN"), ("MOLD", "PRESS-2", 20, 1.5, "MIN"),
              ("TRIM", "BENCH", 0, 0.3, "MIN"), ("INSP", "QC", 0, 0.1, "MIN")]),
    "sleeve": ("SLEEVE", ["SS316", "DUPLEX"], (40, 200),
               [("SAW", "SAW-1", 0.1, 0.05, "HR"), ("LATHE", "CNC-7", 0.5, 0.2, "HR"),
                ("GRIND", "GRD-3", 0.25, 0.1, "HR"), ("INSP", "QC", 0, 0.05, "HR")]),
    "face": ("SEAL FACE", ["SIC", "CARBON"], (20, 120),
             [("PRESS", "PRESS-2", 600, 30, "SEC"), ("SINTER", "OVEN-1", 0, 720, "MIN"),
              ("LAP", "LAP-4", 15, 4, "MIN"), ("INSP", "QC", 0, 0.2, "MIN")]),
    "spring": ("SPRING", ["HASTELLOY", "INCONEL"], (10, 80),
               [("WIND", "COIL-1", 10, 0.5, "MIN"), ("HEAT", "VENDOR-HT", 0, 240, "MIN"),
                ("INSP", "QC", 0, 0.2, "MIN")]),
}  # fmt: skip
HELD_OUT = "A-0005"  # a sleeve (index 5 → families cycle ring, sleeve, face, spring)


def odbc_driver() -> str | None:
    try:
        import pyodbc
    except ImportError:
        return None
    return next((d for d in ("SQLite3", "SQLite") if d in pyodbc.drivers()), None)


@pytest.fixture
def shop_db(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "shop.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE ARTICLES (ARTICLE TEXT, KIND TEXT, ALLOY TEXT, DIA REAL, DESCR TEXT,
                               LINE TEXT);
        CREATE TABLE WORK_STEPS (ARTICLE TEXT, STEP_NO INTEGER, TASK TEXT, TASK_TEXT TEXT,
                                 CELL TEXT, PREP REAL, CYCLE REAL, LOT REAL, UNIT TEXT, MAKE TEXT);
    """)
    families = list(FAMILIES.values())
    articles, steps = [], []
    for i in range(600):
        kind, alloys, (lo, hi), route = families[i % len(families)]
        code = f"A-{i:04d}"
        alloy = rng.choice(alloys)
        dia = round(rng.uniform(lo, hi), 1)
        line = rng.choice(["L1", "L2", "L3", None])
        articles.append((code, kind, alloy, dia, f"{kind} {alloy} D{dia:g}", line))
        if code == HELD_OUT:
            continue  # a new item: attributes, no routing yet
        for n, (task, cell, setup, run, unit) in enumerate(route, start=1):
            make = "N" if cell.startswith("VENDOR") else "Y"
            steps.append((code, n * 10, task, task.title(), cell, setup, run, 1, unit, make))
    conn.executemany("INSERT INTO ARTICLES VALUES (?, ?, ?, ?, ?, ?)", articles)
    conn.executemany("INSERT INTO WORK_STEPS VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", steps)
    conn.commit()
    conn.close()
    return path, dict((a[0], a) for a in articles)


def shop_profile(path, driver: str) -> dict:
    """The profile, its source registered as an admin would (an ODBC connection string)."""
    register_source("odbc-shop", "odbc", f"DRIVER={{{driver}}};Database={path}")
    return {
        "name": "odbc-shop",
        "direction": "input",
        "source": "odbc-shop",
        "tables": {"items": "ARTICLES", "operations": "WORK_STEPS", "work_results": None},
        "columns": {
            "items": {"item_code": "ARTICLE"},
            "operations": {
                "item_code": "ARTICLE",
                "seq": "STEP_NO",
                "op_code": "TASK",
                "op_name": "TASK_TEXT",
                "work_center": "CELL",
                "setup_min": "PREP",
                "run_min": "CYCLE",
                "run_qty": "LOT",
                "time_unit": "UNIT",
                "in_house": "MAKE",
            },
        },  # fmt: skip
        "attributes": [
            {"name": "kind", "column": "KIND", "kind": "categorical", "weight": 3},
            {"name": "alloy", "column": "ALLOY", "kind": "categorical", "weight": 2},
            {"name": "diameter", "column": "DIA", "kind": "numeric", "weight": 1},
            {"name": "description", "column": "DESCR", "kind": "text", "weight": 1},
            {"name": "line", "column": "LINE", "kind": "categorical", "weight": 0.2},
        ],
        "time_units": {"default": "min", "minutes": ["MIN"], "hours": ["HR"], "seconds": ["SEC"]},
        "in_house_values": ["Y"],
    }


def test_a_model_trained_from_another_schema_over_odbc_predicts_a_new_item(shop_db, settings):
    driver = odbc_driver()
    if driver is None:
        pytest.fail("no SQLite ODBC driver: apt-get install libsqliteodbc (scripts/test.sh does)")
    path, articles = shop_db
    MappingProfile.objects.put(shop_profile(path, driver))
    WorkflowConfig.apply({"eval_sample": 100})

    client = APIClient()
    client.force_authenticate(make_user("eve", "engineer"))  # previews read the source
    preview = client.get("/api/v1/mapping-profiles/odbc-shop/preview?rows=3").json()
    assert preview["valid"] is True, preview["problems"]
    assert preview["source"].startswith("odbc:")
    assert preview["tables"]["operations"]["rows"][0]["op_code"] == "CUT"

    version = execute_run(request_run("odbc-shop").pk)
    assert version.profile_name == "odbc-shop"
    assert version.data_counts["items"] == 600 and version.data_counts["work_results"] == 0
    version.approve()
    version.activate()
    runtime.refresh()
    assert runtime.model.label == version.label

    _, kind, alloy, dia, descr, line = articles[HELD_OUT]
    attrs = {"kind": kind, "alloy": alloy, "diameter": dia, "description": descr, "line": line}
    answer = client.post(
        "/api/v1/predict", {"items": [{"attributes": attrs}]}, format="json"
    ).json()
    item = answer["items"][0]
    assert item["status"] == "predicted"
    best = item["candidates"][0]
    assert [o["op_code"] for o in best["operations"]] == ["SAW", "LATHE", "GRIND", "INSP"]
    lathe = best["operations"][1]
    assert lathe["work_center"] == "CNC-7" and lathe["setup_min"] == pytest.approx(30)  # 0.5 HR
    assert all(r["item_code"] in articles for r in best["reference_items"])
    assert all(articles[r["item_code"]][1] == "SLEEVE" for r in best["reference_items"])

    rules = client.get("/api/v1/routing-rules").json()  # "from_data": the model's catalogue
    assert rules["allowed_op_codes"]["LATHE"] == "Lathe"
    assert set(rules["allowed_work_centers"]) == {
        "SAW-1", "PRESS-2", "BENCH", "QC", "CNC-7", "GRD-3", "OVEN-1", "LAP-4", "COIL-1",
        "VENDOR-HT",
    }  # fmt: skip
    check = client.post("/api/v1/routings/validate",
                        {"operations": [{"seq": 10, "op_code": "WELD", "work_center": "QC"}]},
                        format="json").json()  # fmt: skip
    assert [p["code"] for p in check["problems"]] == ["unknown_op_code"]
