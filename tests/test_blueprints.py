"""Blueprints: graph validation, CRUD with revision history, apply, the shipped one, the admin."""

from __future__ import annotations

import copy

import pytest
from rest_framework.test import APIClient

from accounts_app.testing import make_user
from workflow_app.blueprints import DEFAULT_NAME, NODE_SETTINGS, default_graph, validate_graph
from workflow_app.models import Blueprint, BlueprintRevision, MappingProfile, WorkflowConfig
from workflow_app.settings_schema import SETTINGS, defaults

pytestmark = pytest.mark.django_db


def graph(**node_settings) -> dict:
    """The standard graph with some node settings replaced, e.g. predictor={"top_k": 5}."""
    g = default_graph()
    for node in g["nodes"]:
        node["settings"].update(node_settings.get(node["type"], {}))
    return g


def node(g: dict, kind: str) -> dict:
    return next(n for n in g["nodes"] if n["type"] == kind)


def messages(g) -> list[str]:
    return [e["message"] for e in validate_graph(g)]


def test_the_standard_graph_is_valid():
    assert validate_graph(graph()) == []


def test_a_cycle_is_refused_naming_it():
    g = graph()
    g["edges"].append({"from": "registry", "to": "features"})
    errors = validate_graph(g)
    assert len(errors) == 1 and errors[0]["path"] == "graph.edges"
    assert errors[0]["message"].startswith("the graph has a cycle: ")
    assert "features → embedding → index → registry → features" in errors[0]["message"]


def test_an_unknown_node_type_is_refused_on_its_node():
    g = graph()
    g["nodes"].append({"id": "x1", "type": "teleporter", "settings": {}})
    errors = validate_graph(g)
    assert errors == [{
        "message": "unknown node type 'teleporter'; known: source, features, embedding, index, "
                   "registry, runtime, predictor, exporter",
        "path": "graph.nodes.8.type", "node": "x1", "field": "type",
    }]  # fmt: skip


def test_a_missing_source_is_refused():
    g = graph()
    g["nodes"] = [n for n in g["nodes"] if n["type"] != "source"]
    g["edges"] = [e for e in g["edges"] if "source" not in (e["from"], e["to"])]
    assert messages(g) == ["a source node is required"]


def test_node_settings_are_checked_by_the_whitelist():
    g = graph(predictor={"top_k": 0, "colour": "red"}, index={"hnsw_m": "16"})
    errors = {(e["node"], e["field"]) for e in validate_graph(g)}
    assert errors == {("predictor", "settings.top_k"), ("predictor", "settings.colour"),
                      ("index", "settings.hnsw_m")}  # fmt: skip


def test_ids_edges_and_profiles_are_checked():
    g = graph(source={"profile": "nope"}, exporter={"profile": "plant-default"})
    g["nodes"].append(copy.deepcopy(node(g, "runtime")))  # duplicate id and second runtime
    g["edges"] += [{"from": "source", "to": "ghost"}, {"from": "index", "to": "index"}]
    found = messages(g)
    assert "duplicate node id 'runtime'" in found
    assert any(m.startswith("profile: no input mapping profile 'nope'") for m in found)
    assert any(m.startswith("profile: no output mapping profile 'plant-default'") for m in found)
    assert "edge 'source' → 'ghost' names no existing node 'ghost'" in found
    assert "edge from 'index' to itself" in found


def test_the_validate_endpoint_answers_valid_and_errors():
    client = APIClient()
    client.force_authenticate(make_user("viv", "viewer"))
    ok = client.post("/api/v1/blueprints/validate", graph(), format="json").json()
    assert ok == {"valid": True, "errors": []}
    bad = client.post("/api/v1/blueprints/validate", {"nodes": []}, format="json").json()
    assert bad["valid"] is False and bad["errors"][0]["path"] == "graph.nodes"


def test_the_standard_pipeline_is_seeded_once():
    shipped = Blueprint.objects.get(name=DEFAULT_NAME)
    assert shipped.revision == 1 and validate_graph(shipped.graph) == []
    assert node(shipped.graph, "predictor")["settings"]["top_k"] == defaults()["top_k"]
    from workflow_app.apps import seed_shipped

    Blueprint.objects.filter(pk=shipped.pk).update(description="edited by the plant")
    seed_shipped(sender=None)
    assert Blueprint.objects.filter(name=DEFAULT_NAME).count() == 1
    assert Blueprint.objects.get(name=DEFAULT_NAME).description == "edited by the plant"


def test_crud_writes_a_revision_on_every_save(engineer_api):
    created = engineer_api.post(
        "/api/v1/blueprints", {"name": "fast", "graph": graph()}, format="json"
    )
    assert created.status_code == 201, created.json()
    pk = created.json()["id"]
    assert created.json()["revision"] == 1
    changed = engineer_api.patch(f"/api/v1/blueprints/{pk}",
                             {"graph": graph(predictor={"top_k": 4}), "comment": "fewer"},
                             format="json")  # fmt: skip
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    renamed = engineer_api.put(
        f"/api/v1/blueprints/{pk}",
        {"name": "faster", "description": "d", "graph": graph()},
        format="json",
    )
    assert renamed.json()["name"] == "faster" and renamed.json()["revision"] == 3
    revisions = engineer_api.get(f"/api/v1/blueprints/{pk}/revisions").json()["revisions"]
    assert [r["number"] for r in revisions] == [3, 2, 1]
    assert revisions[1]["comment"] == "fewer" and revisions[1]["created_by"] == "eng"
    assert node(revisions[1]["graph"], "predictor")["settings"]["top_k"] == 4
    listed = engineer_api.get("/api/v1/blueprints").json()
    assert {b["name"] for b in listed["blueprints"]} == {DEFAULT_NAME, "faster"}
    assert "predictor" in listed["node_types"]
    assert engineer_api.delete(f"/api/v1/blueprints/{pk}").status_code == 204
    assert not BlueprintRevision.objects.filter(blueprint_id=pk).exists()


def test_an_invalid_graph_is_400_and_saves_nothing(engineer_api):
    bp = Blueprint.objects.get(name=DEFAULT_NAME)
    g = graph()
    g["edges"].append({"from": "exporter", "to": "source"})
    g["edges"].append({"from": "source", "to": "predictor"})
    bad = engineer_api.put(
        f"/api/v1/blueprints/{bp.pk}", {"name": bp.name, "graph": g}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_blueprint" and "graph.edges" in bad.json()["fields"]
    bp.refresh_from_db()
    assert bp.revision == 1 and bp.revisions.count() == 1
    dup = engineer_api.post(
        "/api/v1/blueprints", {"name": DEFAULT_NAME, "graph": graph()}, format="json"
    )
    assert dup.status_code == 400 and "name" in dup.json()["fields"]
    assert engineer_api.post("/api/v1/blueprints", {"name": "x"}, format="json").status_code == 400
    assert engineer_api.get("/api/v1/blueprints/999").status_code == 404


def test_viewers_may_not_write_or_apply(viewer_api):
    bp = Blueprint.objects.get(name=DEFAULT_NAME)
    assert viewer_api.get(f"/api/v1/blueprints/{bp.pk}").status_code == 200
    assert (
        viewer_api.post(
            "/api/v1/blueprints", {"name": "n", "graph": graph()}, format="json"
        ).status_code
        == 403
    )
    assert viewer_api.post(f"/api/v1/blueprints/{bp.pk}/apply").status_code == 403


def test_apply_writes_the_node_settings_as_one_config_revision(engineer_api):
    MappingProfile.objects.put({**MappingProfile.objects.get(name="erp-routing").document(),
                                "name": "erp-other"})  # fmt: skip
    g = graph(
        predictor={"top_k": 5, "candidates": 2},
        index={"hnsw_ef_search": 64},
        features={"feature_weights": {"PART_TYPE": 5}},
        exporter={"profile": "erp-other"},
    )
    bp = Blueprint.create("tuned", g)
    before = WorkflowConfig.objects.count()
    response = engineer_api.post(f"/api/v1/blueprints/{bp.pk}/apply")
    assert response.status_code == 200, response.json()
    assert WorkflowConfig.objects.count() == before + 1
    row = WorkflowConfig.current()
    assert row.comment == "blueprint tuned rev 1" and row.created_by.username == "eng"
    assert row.values["top_k"] == 5 and row.values["candidates"] == 2
    assert row.values["hnsw_ef_search"] == 64 and row.values["feature_weights"] == {
        "PART_TYPE": 5.0
    }
    assert (row.training_profile, row.export_profile) == ("plant-default", "erp-other")
    assert response.json()["workflow"]["revision"] == row.pk
    assert response.json()["workflow"]["export_profile"] == "erp-other"
    bp.refresh_from_db()
    assert bp.applied_revision == 1 and bp.applied_config_id == row.pk


def test_it_lets_a_blueprint_carry_support_power(engineer_api):
    owned = [key for keys in NODE_SETTINGS.values() for key in keys if key != "profile"]
    assert sorted(owned) == sorted(SETTINGS)  # every whitelisted setting has exactly one node
    assert node(default_graph(), "predictor")["settings"]["support_power"] == 4.0
    assert any("support_power" in m for m in messages(graph(predictor={"support_power": -1})))
    bp = Blueprint.create("sharper", graph(predictor={"support_power": 8}))
    response = engineer_api.post(f"/api/v1/blueprints/{bp.pk}/apply")
    assert response.status_code == 200, response.json()
    assert WorkflowConfig.current_values()["support_power"] == 8.0


def test_it_refuses_feature_weights_the_source_profile_does_not_have():
    from workflow_app.profiles import load_default_profile

    names = [a["name"] for a in load_default_profile()["attributes"]]
    refused = messages(graph(features={"feature_weights": {"NOPE": 2}}))
    assert any("NOPE" in m and "not an attribute of the training profile" in m for m in refused)
    all_zero = graph(features={"feature_weights": dict.fromkeys(names, 0)})
    assert any("above 0" in m for m in messages(all_zero))
    assert messages(graph(features={"feature_weights": {"PART_TYPE": 0}})) == []
    odd = graph()
    node(odd, "source")["settings"] = ["not", "an", "object"]
    assert any("settings must be an object" in m for m in messages(odd))  # no crash


def test_apply_refuses_a_blueprint_whose_profile_is_gone(engineer_api):
    MappingProfile.objects.put({**MappingProfile.objects.get(name="erp-routing").document(),
                                "name": "erp-temp"})  # fmt: skip
    bp = Blueprint.create("temp", graph(exporter={"profile": "erp-temp"}))
    MappingProfile.objects.filter(name="erp-temp").delete()
    before = WorkflowConfig.objects.count()
    response = engineer_api.post(f"/api/v1/blueprints/{bp.pk}/apply")
    assert response.status_code == 400
    assert "graph.nodes.7.settings.profile" in response.json()["fields"]
    assert WorkflowConfig.objects.count() == before


# --- admin -------------------------------------------------------------------------------------


def test_the_admin_form_shows_graph_errors_and_saves_nothing(admin_client):
    import json

    g = graph(predictor={"top_k": 0})
    response = admin_client.post("/admin/workflow_app/blueprint/add/", {
        "name": "bad", "description": "", "graph": json.dumps(g), "comment": "",
        "revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0",
    })  # fmt: skip
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["graph"]
    assert errors == ["node 'predictor': top_k: must be at least 1 (graph.nodes.6.settings.top_k)"]
    assert not Blueprint.objects.filter(name="bad").exists()


def test_the_admin_edits_with_history_and_applies(admin_client):
    import json

    bp = Blueprint.objects.get(name=DEFAULT_NAME)
    response = admin_client.post(f"/admin/workflow_app/blueprint/{bp.pk}/change/", {
        "name": bp.name, "description": "tuned", "comment": "smaller K",
        "graph": json.dumps(graph(predictor={"top_k": 6})),
        "revisions-TOTAL_FORMS": "1", "revisions-INITIAL_FORMS": "1",
        "revisions-0-id": str(bp.revisions.get().pk), "revisions-0-blueprint": str(bp.pk),
    })  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    bp.refresh_from_db()
    assert bp.revision == 2 and bp.revisions.get(number=2).comment == "smaller K"
    page = admin_client.get(f"/admin/workflow_app/blueprint/{bp.pk}/change/")
    assert b"smaller K" in page.content
    applied = admin_client.post(
        "/admin/workflow_app/blueprint/", {"action": "apply_selected", "_selected_action": [bp.pk]}
    )
    assert applied.status_code == 302
    assert WorkflowConfig.current().values["top_k"] == 6
