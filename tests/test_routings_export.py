"""Saved routings: the routing rules, save, list, read, live check and the ERP export."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

from inference_app.models import SavedRouting
from workflow_app.models import MappingProfile, WorkflowConfig

# The saved-routing API, included here as well so this module tests it wherever the site's
# URL map includes it (the first match wins, so this changes nothing once it is included).
urlpatterns = [
    path("api/v1/", include("inference_app.routing_urls")),
    path("", include("routing_site.urls")),
]
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


ERP_HEADER = [
    "ITEM_CD", "ROUT_NO", "PROC_SEQ", "JOB_CD", "JOB_NM", "RES_CD", "INSIDE_FLAG", "TIME_UNIT",
    "SETUP_TIME", "RUN_TIME", "RUN_TIME_QTY", "QUEUE_TIME", "WAIT_TIME", "MOVE_TIME", "MFG_LT",
    "VALID_FROM_DT", "VALID_TO_DT",
]  # fmt: skip
RULES = {
    "allowed_op_codes": ["CUT", "LATHE", "INSP-F"],
    "allowed_work_centers": ["SAW-01", "CNC-02", "QC-01"],
    "mandatory_final_ops": ["INSP-F"],
    "max_minutes": 1000,
    "min_operations": 2,
}


def op(seq, code, wc, **times):
    return {"seq": seq, "op_code": code, "work_center": wc, **times}


GOOD = [
    op(10, "CUT", "SAW-01", setup_min=30, run_min=6, run_qty=2, queue_min=60, move_min=15),
    op(20, "LATHE", "CNC-02", setup_min=45, run_min=12, in_house=False, wait_min=120),
    op(30, "INSP-F", "QC-01", run_min=3),
]


@pytest.fixture
def rules():
    WorkflowConfig.apply({"routing_rules": RULES})


def save(client, operations, **extra):
    body = {"item_code": "NEW-100", "operations": operations, **extra}
    return client.post("/api/v1/routings", body, format="json")


def test_it_saves_a_valid_routing_ordered_by_seq(engineer_api, rules):
    shuffled = [GOOD[2], GOOD[0], GOOD[1]]
    response = save(engineer_api, shuffled, comment="from candidate 1")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [o["seq"] for o in body["operations"]] == [10, 20, 30]
    assert body["status"] == "draft" and body["created_by"] == "eng"
    saved = SavedRouting.objects.get(pk=body["id"])
    assert saved.item_code == "NEW-100" and saved.routing_no == "01"
    assert saved.operations[1] == {
        "seq": 20, "op_code": "LATHE", "op_name": "", "work_center": "CNC-02",
        "work_center_name": "", "in_house": False, "setup_min": 45.0, "run_min": 12.0,
        "queue_min": 0.0, "wait_min": 120.0, "move_min": 0.0, "run_qty": 1.0,
    }  # fmt: skip


def test_rule_violations_answer_400_with_field_paths_and_save_nothing(engineer_api, rules):
    bad = [
        op(10, "CUT", "SAW-01", setup_min=-5),
        op(10, "WELD", "SAW-01", run_qty=0),
        op(30, "LATHE", "CNC-99", run_min=5000),
    ]
    response = save(engineer_api, bad)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "routing_rules"
    assert set(body["fields"]) == {
        "operations.0.setup_min",
        "operations.1.seq",
        "operations.1.op_code",
        "operations.1.run_qty",
        "operations.2.work_center",
        "operations.2.run_min",
        "operations.2.op_code",  # the last operation is not the mandatory final inspection
    }
    assert SavedRouting.objects.count() == 0


def test_too_few_operations_and_bad_types(engineer_api, rules):
    response = save(engineer_api, [op(10, "INSP-F", "QC-01", setup_min="soon", colour="red")])
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert "operations.0.setup_min" in fields and "operations.0.colour" in fields
    assert "operations" in fields  # fewer than min_operations
    assert save(engineer_api, "not a list").status_code == 400
    assert SavedRouting.objects.count() == 0


def test_the_live_check_lists_problems_with_codes(viewer_api, rules):
    bad = [op(10, "CUT", "SAW-01"), op(10, "CUT", "SAW-01", queue_min=-1), op(20, "BOGUS", "QC-01")]
    response = viewer_api.post("/api/v1/routings/validate", {"operations": bad}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    codes = {(p["index"], p["field"], p["code"]) for p in body["problems"]}
    assert codes == {
        (1, "queue_min", "negative_time"),
        (1, "seq", "duplicate_seq"),
        (2, "op_code", "unknown_op_code"),
        (2, "op_code", "missing_final_op"),
    }
    assert all(set(p) == {"index", "field", "code", "message"} for p in body["problems"])
    good = viewer_api.post("/api/v1/routings/validate", {"operations": GOOD}, format="json").json()
    assert good == {"valid": True, "problems": []}


def test_the_editor_reads_the_effective_rules(viewer_api, rules):
    body = viewer_api.get("/api/v1/routing-rules").json()
    assert body["allowed_op_codes"] == {"CUT": "", "LATHE": "", "INSP-F": ""}
    assert body["allowed_work_centers"] == {"SAW-01": "", "CNC-02": "", "QC-01": ""}
    assert body["mandatory_final_ops"] == ["INSP-F"]
    assert body["max_minutes"] == 1000 and body["min_operations"] == 2


def test_without_a_model_from_data_rules_answer_none_and_check_nothing(viewer_api):
    body = viewer_api.get("/api/v1/routing-rules").json()
    assert body["allowed_op_codes"] is None and body["sources"]["model_version"] is None
    answer = viewer_api.post("/api/v1/routings/validate", {"operations": [op(10, "ANY", "WC")]},
                         format="json").json()  # fmt: skip
    assert answer["valid"] is True


def test_viewers_may_not_save_and_anonymous_users_are_refused(viewer_api, rules):
    assert save(viewer_api, GOOD).status_code == 403
    assert save(APIClient(), GOOD).status_code == 401
    assert SavedRouting.objects.count() == 0


def test_list_filters_by_item_and_detail_answers_404_for_unknown_ids(engineer_api, rules):
    first = save(engineer_api, GOOD).json()["id"]
    save(engineer_api, GOOD, item_code="OTHER-1")
    listed = engineer_api.get("/api/v1/routings", {"item_code": "NEW-100"}).json()["routings"]
    assert [r["id"] for r in listed] == [first]
    assert len(engineer_api.get("/api/v1/routings").json()["routings"]) == 2
    assert engineer_api.get(f"/api/v1/routings/{first}").json()["item_code"] == "NEW-100"
    missing = engineer_api.get("/api/v1/routings/99999")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def _saved(engineer_api) -> int:
    response = save(engineer_api, GOOD, routing_no="2")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_export_as_csv_in_the_erp_columns(engineer_api, rules):
    pk = _saved(engineer_api)
    response = engineer_api.get(
        f"/api/v1/routings/{pk}/export", {"profile": "erp-routing", "format": "csv"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="routing-NEW-100-{pk}-erp-routing.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert rows[0] == ERP_HEADER
    today = date.today().isoformat()
    # CUT: setup 30 + run 6/2 + queue 60 + move 15 = 108 min = 1.8 h (MFG_LT, quantity 1)
    assert rows[1] == ["NEW-100", "02", "0010", "CUT", "", "SAW-01", "Y", "H", "0.5", "0.1", "2",
                       "1", "0", "0.25", "1.8", today, "2999-12-31"]  # fmt: skip
    assert rows[2][2:7] == ["0020", "LATHE", "", "CNC-02", "N"]
    assert rows[2][14] == "2.95"  # 45 + 12 + 120 = 177 min
    assert len(rows) == 4


def test_export_as_json_and_with_the_default_profile(engineer_api, rules):
    pk = _saved(engineer_api)
    body = engineer_api.get(f"/api/v1/routings/{pk}/export").json()
    assert body["profile"] == "erp-routing" and body["columns"] == ERP_HEADER
    assert [r["PROC_SEQ"] for r in body["rows"]] == ["0010", "0020", "0030"]
    assert body["rows"][0]["SETUP_TIME"] == 0.5 and body["rows"][0]["INSIDE_FLAG"] == "Y"


def test_export_with_an_operator_defined_output_profile(engineer_api, rules):
    MappingProfile.objects.put({
        "name": "erp-minutes", "direction": "output",
        "columns": [
            {"name": "ITEM", "field": "item_code", "transform": [{"upper": True}]},
            {"name": "SEQ", "field": "seq", "transform": [{"pad": 3}]},
            {"name": "OUTSIDE", "field": "in_house", "transform": [{"bool": ["0", "1"]}]},
            {"name": "SETUP_S", "field": "setup_min", "transform": [{"minutes_to": "seconds"}]},
            {"name": "KIND", "field": "op_code", "transform": [{"map": {"CUT": "C"}}]},
            {"name": "PLANT", "constant": "P1"},
            {"name": "SAVED", "field": "created_at", "transform": [{"date": "%Y%m%d"}]},
        ],
    })  # fmt: skip
    pk = _saved(engineer_api)
    response = engineer_api.get(f"/api/v1/routings/{pk}/export?profile=erp-minutes&format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["ITEM", "SEQ", "OUTSIDE", "SETUP_S", "KIND", "PLANT", "SAVED"]
    assert rows[1][:6] == ["NEW-100", "010", "0", "1800", "C", "P1"]
    assert rows[2][2:5] == ["1", "2700", "LATHE"]
    assert len(rows[1][6]) == 8


def test_export_refuses_unknown_profiles_formats_and_input_profiles(engineer_api, rules):
    pk = _saved(engineer_api)
    for query, field in (
        ("?profile=nope", "profile"),
        ("?profile=plant-default", "profile"),
        ("?format=xlsx", "format"),
    ):
        response = engineer_api.get(f"/api/v1/routings/{pk}/export{query}")
        assert response.status_code == 400, query
        assert response["Content-Type"] == "application/json"
        assert field in response.json()["fields"]
    assert engineer_api.get("/api/v1/routings/4242/export").status_code == 404


def test_the_export_profile_follows_the_workflow_config(engineer_api, rules):
    doc = json.loads(json.dumps(MappingProfile.objects.get(name="erp-routing").document()))
    doc["name"] = "erp-short"
    doc["columns"] = doc["columns"][:3]
    MappingProfile.objects.put(doc)
    WorkflowConfig.apply({}, export_profile="erp-short")
    pk = _saved(engineer_api)
    body = engineer_api.get(f"/api/v1/routings/{pk}/export").json()
    assert body["profile"] == "erp-short" and body["columns"] == ["ITEM_CD", "ROUT_NO", "PROC_SEQ"]


def test_csv_export_neutralises_formula_cells_but_keeps_numbers(engineer_api, rules):
    MappingProfile.objects.put({
        "name": "erp-names", "direction": "output",
        "columns": [
            {"name": "NAME", "field": "op_name"},
            {"name": "WC_NAME", "field": "work_center_name"},
            {"name": "NEG", "constant": -12.5},
            {"name": "NEG_TEXT", "constant": "-7"},
            {"name": "TAB", "constant": "\tx"},
            {"name": "CR", "constant": "\r=1"},
        ],
    })  # fmt: skip
    names = ['=HYPERLINK("http://x")', "+SUM(A1)", "@cmd"]
    operations = [{**o, "op_name": n} for o, n in zip(GOOD, names, strict=True)]
    operations[0]["work_center_name"] = "-2+3"
    operations[1]["work_center_name"] = "-"
    operations[2]["work_center_name"] = "Saw - manual"
    response = save(engineer_api, operations)
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    csv_text = engineer_api.get(f"/api/v1/routings/{pk}/export?profile=erp-names&format=csv")
    rows = list(csv.reader(io.StringIO(csv_text.content.decode())))
    assert rows[1] == ['\'=HYPERLINK("http://x")', "'-2+3", "-12.5", "-7", "'\tx", "'\r=1"]
    assert rows[2][:2] == ["'+SUM(A1)", "'-"]
    assert rows[3][:2] == ["'@cmd", "Saw - manual"]
    body = engineer_api.get(f"/api/v1/routings/{pk}/export?profile=erp-names").json()
    assert body["rows"][0]["NAME"] == names[0]  # JSON carries the values unchanged
