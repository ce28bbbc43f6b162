"""Mapping profiles: CRUD through the API, preview, the shipped ones, the commands, the admin."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts_app.testing import HttpClient, make_user
from tests.conftest import register_source
from workflow_app.models import MappingProfile
from workflow_app.profiles import load_default_profile

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop_db(tmp_path, source_roots):
    """A small plant database under other names, with a few deliberately bad columns,
    registered as the data source ``shop``."""
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE PARTS (PART_NO TEXT, CATEGORY TEXT, OD_MM REAL, NOTE TEXT, OD_TXT TEXT);
        CREATE TABLE ROUTE_STEPS (PART_NO TEXT, STEP INTEGER, OPERATION TEXT, STATION TEXT,
                                  SETUP REAL, UOM TEXT, SETUP_TXT TEXT, UOM_RAW TEXT,
                                  STEP_TXT TEXT);
    """)
    conn.executemany("INSERT INTO PARTS VALUES (?, ?, ?, ?, ?)", [
        ("P-1", "ring", 10.0, None, "10"), ("P-2", "ring", 12.5, None, "n/a"),
        ("P-3", "sleeve", 40.0, None, "40"), ("P-4", "sleeve", 42.0, None, "?"),
    ])  # fmt: skip
    conn.executemany("INSERT INTO ROUTE_STEPS VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        ("P-1", 10, "CUT", "SAW", 5.0, "MIN", "5", "MIN", "10"),
        ("P-1", 20, "INSP", "QC", 1.0, "H", "abc", "fortnight", "20"),
        ("P-3", 10, "LATHE", "CNC", 0.5, "HR", "", "HR", "1.5"),
    ])  # fmt: skip
    conn.commit()
    conn.close()
    register_source("shop", "sqlite", path.as_posix())
    return path


def shop_profile(db, name="shop", source="shop") -> dict:
    return {
        "name": name,
        "description": "the shop's own schema",
        "source": source,
        "tables": {"items": "PARTS", "operations": "ROUTE_STEPS", "work_results": None},
        "columns": {
            "items": {"item_code": "PART_NO"},
            "operations": {
                "item_code": "PART_NO",
                "seq": "STEP",
                "op_code": "OPERATION",
                "work_center": "STATION",
                "setup_min": "SETUP",
                "time_unit": "UOM",
            },
        },  # fmt: skip
        "attributes": [
            {"name": "category", "column": "CATEGORY", "kind": "categorical", "weight": 2},
            {"name": "od", "column": "OD_MM", "kind": "numeric", "weight": 1},
        ],
    }


def broken_profile(db) -> dict:
    spec = shop_profile(db, "shop-broken")
    ops = spec["columns"]["operations"]
    ops.update(op_code="OPCODE", setup_min="SETUP_TXT", time_unit="UOM_RAW", seq="STEP_TXT")
    spec["attributes"][1]["column"] = "OD_TXT"
    spec["attributes"].append({"name": "width", "column": "WIDTH", "kind": "numeric"})
    spec["attributes"].append({"name": "note", "column": "NOTE", "kind": "text"})
    return spec


# --- CRUD ---------------------------------------------------------------------------------------


def test_an_engineer_creates_reads_updates_and_deletes_a_profile(engineer_api, shop_db):
    spec = shop_profile(shop_db)
    body = {"name": "shop", "description": "ours", "spec": spec}
    created = engineer_api.post("/api/v1/mapping-profiles", body, format="json")
    assert created.status_code == 201, created.json()
    answer = created.json()
    assert answer["name"] == "shop" and answer["direction"] == "input"
    assert answer["description"] == "ours" and answer["updated_by"] == "eng"
    assert answer["spec"]["time_units"]["default"] == "min"  # normalised: defaults filled in
    assert "name" not in answer["spec"]
    assert engineer_api.get("/api/v1/mapping-profiles/shop").json()["spec"] == answer["spec"]

    patched = engineer_api.patch(
        "/api/v1/mapping-profiles/shop", {"spec": {"in_house_values": ["make"]}}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["spec"]["in_house_values"] == ["MAKE"]
    assert patched.json()["spec"]["tables"]["items"] == "PARTS"  # PATCH merges the spec

    spec["tables"]["items"] = "PARTS_V2"
    put = engineer_api.put("/api/v1/mapping-profiles/shop", {"spec": spec}, format="json")
    assert put.status_code == 200 and put.json()["spec"]["tables"]["items"] == "PARTS_V2"
    assert put.json()["spec"]["in_house_values"] != ["MAKE"]  # PUT replaces the spec

    names = [
        p["name"]
        for p in engineer_api.get("/api/v1/mapping-profiles?direction=input").json()["profiles"]
    ]
    assert names == ["plant-default", "shop"]
    assert engineer_api.delete("/api/v1/mapping-profiles/shop").status_code == 204
    assert engineer_api.get("/api/v1/mapping-profiles/shop").status_code == 404


def test_an_invalid_profile_is_400_with_field_errors_and_saves_nothing(engineer_api, shop_db):
    spec = shop_profile(shop_db)
    spec["attributes"][0]["kind"] = "colour"
    del spec["columns"]["operations"]["seq"]
    spec["source"] = "ftp://nowhere"
    response = engineer_api.post(
        "/api/v1/mapping-profiles", {"name": "shop", "spec": spec}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {"attributes.0.kind", "columns.operations.seq", "source"} <= set(fields)
    assert not MappingProfile.objects.filter(name="shop").exists()

    body = {"name": "shop", "spec": shop_profile(shop_db)}
    good = engineer_api.post("/api/v1/mapping-profiles", body, format="json")
    assert good.status_code == 201
    before = MappingProfile.objects.get(name="shop").spec
    bad = engineer_api.patch(
        "/api/v1/mapping-profiles/shop", {"spec": {"tables": {}}}, format="json"
    )
    assert bad.status_code == 400 and "tables.items" in bad.json()["fields"]
    assert MappingProfile.objects.get(name="shop").spec == before


def test_bad_bodies_names_and_roles(engineer_api, viewer_api, shop_db):
    spec = shop_profile(shop_db)
    assert engineer_api.post("/api/v1/mapping-profiles", {"name": "a b", "spec": spec},
                         format="json").json()["fields"] == {"name": [
                             "required: letters, digits, '-' or '_' (at most 100)"]}  # fmt: skip
    dup = engineer_api.post(
        "/api/v1/mapping-profiles", {"name": "plant-default", "spec": spec}, format="json"
    )
    assert dup.status_code == 409 and dup.json()["error"] == "duplicate"
    unknown = engineer_api.post(
        "/api/v1/mapping-profiles", {"name": "x", "spec": spec, "colour": 1}, format="json"
    )
    assert unknown.status_code == 400 and "colour" in unknown.json()["fields"]
    assert viewer_api.get("/api/v1/mapping-profiles").status_code == 200
    assert viewer_api.post("/api/v1/mapping-profiles", {"name": "x", "spec": spec},
                       format="json").status_code == 403  # fmt: skip
    assert viewer_api.delete("/api/v1/mapping-profiles/plant-default").status_code == 403
    assert APIClient().get("/api/v1/mapping-profiles").status_code == 401


def test_output_profiles_are_validated_by_their_own_rules(engineer_api):
    spec = {
        "columns": [
            {"name": "A", "field": "nope"},
            {"name": "B", "constant": 1, "field": "seq"},
            {"name": "C", "field": "seq", "transform": [{"pad": 0}, {"explode": 1}]},
        ]
    }
    response = engineer_api.post(
        "/api/v1/mapping-profiles",
        {"name": "erp-x", "direction": "output", "spec": spec},
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "columns.0.field", "columns.1", "columns.2.transform.0", "columns.2.transform.1",
    }  # fmt: skip
    listed = engineer_api.get("/api/v1/mapping-profiles?direction=output").json()["profiles"]
    assert [p["name"] for p in listed] == ["erp-routing"]


def test_the_shipped_profiles_are_seeded_without_overwriting_edits():
    from workflow_app.apps import seed_shipped

    row = MappingProfile.objects.get(name="plant-default")
    assert row.direction == "input" and row.spec["tables"]["items"] == "dbo_BI_ITEM_INFO_VIEW"
    assert MappingProfile.objects.get(name="erp-routing").direction == "output"
    MappingProfile.objects.filter(pk=row.pk).update(description="edited on site")
    seed_shipped(sender=None)
    assert MappingProfile.objects.filter(name="plant-default").count() == 1
    assert MappingProfile.objects.get(name="plant-default").description == "edited on site"


# --- preview ------------------------------------------------------------------------------------


def test_preview_of_a_good_profile(engineer_api, shop_db):
    MappingProfile.objects.put(shop_profile(shop_db))
    response = engineer_api.get("/api/v1/mapping-profiles/shop/preview?rows=2")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["valid"] is True and body["problems"] == [] and body["rows"] == 2
    items = body["tables"]["items"]
    assert items["table"] == "PARTS" and items["row_count"] == 4
    assert items["rows"] == [
        {"item_code": "P-1", "category": "ring", "od": 10.0},
        {"item_code": "P-2", "category": "ring", "od": 12.5},
    ]
    ops = body["tables"]["operations"]
    assert [c["field"] for c in ops["columns"]] == ["item_code", "seq", "op_code", "work_center",
                                                     "time_unit", "setup_min"]  # fmt: skip
    assert ops["rows"][1] == {"item_code": "P-1", "seq": 20, "op_code": "INSP", "work_center": "QC",
                              "setup_min": 1.0, "time_unit": "H"}  # fmt: skip
    assert "work_results" not in body["tables"]


def test_preview_of_a_broken_profile_names_each_column_problem(engineer_api, shop_db):
    MappingProfile.objects.put(broken_profile(shop_db))
    body = engineer_api.get("/api/v1/mapping-profiles/shop-broken/preview").json()
    assert body["valid"] is False
    found = sorted(
        (p["table"], p["field"], p["column"], p["code"], p["level"]) for p in body["problems"]
    )
    assert found == [
        ("items", "note", "NOTE", "empty_values", "warning"),
        ("items", "od", "OD_TXT", "bad_values", "warning"),
        ("items", "width", "WIDTH", "missing_column", "error"),
        ("operations", "op_code", "OPCODE", "missing_column", "error"),
        ("operations", "seq", "STEP_TXT", "bad_values", "error"),
        ("operations", "setup_min", "SETUP_TXT", "bad_values", "warning"),
        ("operations", "time_unit", "UOM_RAW", "bad_values", "warning"),
    ]
    by_field = {p["field"]: p for p in body["problems"]}
    assert by_field["od"]["count"] == 2 and by_field["od"]["examples"] == ["n/a", "?"]
    assert by_field["seq"]["examples"] == ["1.5"]
    assert by_field["time_unit"]["examples"] == ["fortnight"]
    assert by_field["note"]["share"] == 1.0
    assert "available: PART_NO, STEP" in by_field["op_code"]["message"]
    setup = next(c for c in body["tables"]["operations"]["columns"] if c["field"] == "setup_min")
    assert setup["empty_share"] == pytest.approx(1 / 3, abs=1e-4) and setup["bad_values"] == 1


def test_preview_of_a_missing_table_and_of_a_source_that_cannot_be_opened(
    engineer_api, shop_db, tmp_path
):
    spec = shop_profile(shop_db, "shop-gone")
    spec["tables"]["operations"] = "ROUTES"
    MappingProfile.objects.put(spec)
    body = engineer_api.get("/api/v1/mapping-profiles/shop-gone/preview").json()
    assert [(p["table"], p["code"]) for p in body["problems"]] == [("operations", "missing_table")]
    assert "Available tables: PARTS, ROUTE_STEPS" in body["problems"][0]["message"]

    register_source("nofile", "sqlite", tmp_path / "missing.sqlite")
    spec = shop_profile(None, "shop-nofile", source="nofile")
    MappingProfile.objects.put(spec)
    response = engineer_api.get("/api/v1/mapping-profiles/shop-nofile/preview")
    assert response.status_code == 400
    assert response.json()["error"] == "source_error"
    assert "does not exist" in response.json()["detail"]


def test_preview_rows_bounds_and_invalid_stored_profiles(engineer_api, shop_db):
    MappingProfile.objects.put(shop_profile(shop_db))
    assert engineer_api.get("/api/v1/mapping-profiles/shop/preview?rows=101").status_code == 400
    assert engineer_api.get("/api/v1/mapping-profiles/shop/preview?rows=x").status_code == 400
    MappingProfile.objects.filter(name="shop").update(spec={"tables": "nope"})
    response = engineer_api.get("/api/v1/mapping-profiles/shop/preview")
    assert response.status_code == 400 and "tables" in response.json()["fields"]
    assert engineer_api.get("/api/v1/mapping-profiles/none/preview").status_code == 404


def test_preview_of_an_unsaved_draft_saves_nothing(engineer_api, viewer_api, shop_db):
    MappingProfile.objects.put(shop_profile(shop_db))
    before = list(MappingProfile.objects.values_list("name", "spec"))
    draft = shop_profile(shop_db, "shop-draft")
    del draft["name"]
    new = engineer_api.post("/api/v1/mapping-profiles/shop-draft/preview?rows=2",
                            {"spec": draft}, format="json")  # fmt: skip
    assert new.status_code == 200, new.json()
    saved = engineer_api.get("/api/v1/mapping-profiles/shop/preview?rows=2").json()
    assert new.json()["tables"] == saved["tables"] and new.json()["valid"] is True
    edited = dict(draft, columns={**draft["columns"], "items": {"item_code": "NOPE"}})
    changed = engineer_api.post("/api/v1/mapping-profiles/shop/preview", {"spec": edited},
                                format="json").json()  # fmt: skip
    assert changed["valid"] is False
    assert [(p["field"], p["code"]) for p in changed["problems"]] == [
        ("item_code", "missing_column")
    ]
    bad = engineer_api.post("/api/v1/mapping-profiles/x/preview", {"spec": {"tables": "nope"}},
                            format="json")  # fmt: skip
    assert bad.status_code == 400 and "tables" in bad.json()["fields"]
    assert engineer_api.post("/api/v1/mapping-profiles/x/preview", ["spec"],
                             format="json").status_code == 400  # fmt: skip
    assert viewer_api.post("/api/v1/mapping-profiles/shop/preview", {"spec": draft},
                           format="json").status_code == 403  # fmt: skip
    assert APIClient().post("/api/v1/mapping-profiles/shop/preview", {"spec": draft},
                            format="json").status_code == 401  # fmt: skip
    assert list(MappingProfile.objects.values_list("name", "spec")) == before


def test_preview_of_an_output_profile_renders_the_example_routing(engineer_api):
    body = engineer_api.get("/api/v1/mapping-profiles/erp-routing/preview").json()
    assert body["columns"][:3] == ["ITEM_CD", "ROUT_NO", "PROC_SEQ"]
    assert body["rows"][1]["INSIDE_FLAG"] == "N" and body["rows"][1]["RUN_TIME"] == 8


# --- commands -----------------------------------------------------------------------------------


def dump(name: str) -> str:
    out = StringIO()
    call_command("dump_profile", name, stdout=out)
    return out.getvalue()


def test_dump_then_load_gives_the_identical_profile(tmp_path, shop_db):
    MappingProfile.objects.put(shop_profile(shop_db))
    for name in ("shop", "plant-default", "erp-routing"):
        first = dump(name)
        path = tmp_path / f"{name}.json"
        path.write_text(first, encoding="utf-8")
        MappingProfile.objects.filter(name=name).delete()
        out = StringIO()
        call_command("load_profile", str(path), stdout=out)
        assert out.getvalue().startswith(
            f"Created {json.loads(first)['direction']} mapping profile"
        )
        assert dump(name) == first


def test_dump_prints_the_shipped_default_even_when_not_in_the_database():
    MappingProfile.objects.all().delete()
    document = json.loads(dump("plant-default"))
    assert document["direction"] == "input"
    assert {k: v for k, v in document.items() if k != "direction"} == load_default_profile()
    with pytest.raises(CommandError, match="No mapping profile 'nope'"):
        dump("nope")


def test_load_profile_updates_by_name_and_refuses_invalid_files(tmp_path, shop_db):
    path = tmp_path / "p.json"
    spec = shop_profile(shop_db)
    path.write_text(json.dumps(spec))
    call_command("load_profile", str(path), stdout=StringIO())
    spec["description"] = "second"
    path.write_text(json.dumps(spec))
    out = StringIO()
    call_command("load_profile", str(path), stdout=out)
    assert out.getvalue().startswith("Updated input mapping profile 'shop'")
    assert MappingProfile.objects.get(name="shop").description == "second"

    bad = copy.deepcopy(spec)
    bad["attributes"][0]["weight"] = -1
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError) as err:
        call_command("load_profile", str(path), stdout=StringIO())
    assert "attributes.0.weight: must be a number above 0" in str(err.value)
    assert MappingProfile.objects.get(name="shop").description == "second"
    path.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("load_profile", str(path))
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("load_profile", str(tmp_path / "absent.json"))


# --- admin --------------------------------------------------------------------------------------


def test_the_admin_form_shows_profile_errors_and_saves_nothing(admin_client, shop_db):
    spec = shop_profile(shop_db)
    spec["attributes"][1]["kind"] = "colour"
    response = admin_client.post("/admin/workflow_app/mappingprofile/add/", {
        "name": "shop", "direction": "input", "description": "", "spec": json.dumps(spec),
    })  # fmt: skip
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["spec"] == ["attributes.1.kind: must be one of categorical, numeric, text "
                              "(got 'colour')"]  # fmt: skip
    assert not MappingProfile.objects.filter(name="shop").exists()
    spec["attributes"][1]["kind"] = "numeric"
    saved = admin_client.post("/admin/workflow_app/mappingprofile/add/", {
        "name": "shop", "direction": "input", "description": "", "spec": json.dumps(spec),
    })  # fmt: skip
    assert saved.status_code == 302
    row = MappingProfile.objects.get(name="shop")
    assert row.updated_by.username == "boss" and row.spec["time_units"]["default"] == "min"


def test_the_admin_preview_page(admin_client, shop_db):
    row, _ = MappingProfile.objects.put(broken_profile(shop_db))
    change = admin_client.get(f"/admin/workflow_app/mappingprofile/{row.pk}/change/")
    preview_url = f"/admin/workflow_app/mappingprofile/{row.pk}/preview/"
    assert preview_url.encode() in change.content
    page = admin_client.get(preview_url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "missing_column" in html and "OPCODE" in html and "fortnight" in html
    out = MappingProfile.objects.get(name="erp-routing")
    page = admin_client.get(f"/admin/workflow_app/mappingprofile/{out.pk}/preview/")
    assert "EXAMPLE-001" in page.content.decode()


def test_two_concurrent_creates_of_one_name_give_one_201_and_one_409(waitress_server, shop_db):
    make_user("eng", "engineer")
    clients = [HttpClient(waitress_server) for _ in range(2)]
    for client in clients:
        client.login("eng")
    barrier, answers = threading.Barrier(2), []

    def create(client: HttpClient) -> None:
        barrier.wait()
        status, body, _ = client.post(
            "/api/v1/mapping-profiles", {"name": "twin", "spec": shop_profile(shop_db, "twin")}
        )
        answers.append((status, body.get("error") if isinstance(body, dict) else body))

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [(201, None), (409, "duplicate")]
    assert MappingProfile.objects.filter(name="twin").count() == 1
