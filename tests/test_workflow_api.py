"""The workflow config: GET/PATCH through the whitelist, roles, and its admin pages."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts_app.testing import make_user
from routing_site.errors import BadInput
from workflow_app import settings_schema
from workflow_app.models import WorkflowConfig

pytestmark = pytest.mark.django_db


def client_for(role: str | None) -> APIClient:
    client = APIClient()
    if role:
        client.force_authenticate(make_user(f"user-{role}", role))
    return client


def patch(client, body):
    return client.patch("/api/v1/workflow", body, format="json")


def test_it_shows_values_revision_and_the_schema_of_every_key():
    body = client_for("viewer").get("/api/v1/workflow").json()
    assert body["revision"] == WorkflowConfig.current_id()
    assert body["values"] == WorkflowConfig.current_values()
    assert set(body["schema"]) == set(settings_schema.SETTINGS)
    assert body["schema"]["top_k"] == {
        "type": "int", "default": 20, "min": 1, "max": 200, "scope": "runtime",
        "help": "Neighbours consulted per prediction.",
    }  # fmt: skip
    assert body["schema"]["routing_rules"]["default"] == settings_schema.RULE_DEFAULTS
    assert body["training_profile"] == "plant-default" and body["export_profile"] == "erp-routing"


def test_an_engineer_patches_whitelisted_keys_into_a_new_revision():
    engineer = client_for("engineer")
    before = WorkflowConfig.current_id()
    response = patch(engineer, {"top_k": 7, "min_similarity": 1, "percentiles": [90, 50]})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["revision"] > before and body["created_by"] == "user-engineer"
    row = WorkflowConfig.objects.get(pk=body["revision"])
    assert row.changes == {"top_k": 7, "min_similarity": 1.0, "percentiles": [50, 90]}
    assert WorkflowConfig.current_values()["top_k"] == 7
    assert WorkflowConfig.current_values()["candidates"] == 4  # untouched keys carried over


@pytest.mark.parametrize(
    "body, key",
    [
        ({"top_kk": 5}, "top_kk"),  # unknown key
        ({"top_k": "5"}, "top_k"),  # wrong type
        ({"top_k": True}, "top_k"),  # a boolean is not an int
        ({"top_k": 0}, "top_k"),  # below the minimum
        ({"min_similarity": 1.5}, "min_similarity"),  # above the maximum
        ({"percentiles": [0, 50]}, "percentiles"),
        ({"routing_rules": {"max_minutes": -1}}, "routing_rules"),
        ({"top_k": 5, "hnsw_m": 1000}, "hnsw_m"),  # one bad key refuses the whole change
    ],
)
def test_a_bad_patch_is_400_naming_the_key_and_changes_nothing(body, key):
    WorkflowConfig.apply({"top_k": 12})
    rows, values = WorkflowConfig.objects.count(), WorkflowConfig.current_values()
    response = patch(client_for("engineer"), body)
    assert response.status_code == 400
    answer = response.json()
    assert answer["error"] == "invalid_setting" and key in answer["fields"]
    assert WorkflowConfig.objects.count() == rows
    assert WorkflowConfig.current_values() == values


def refused(body: dict) -> dict:
    """PATCH ``body``; assert 400 and that no revision was written; return the error body."""
    WorkflowConfig.apply({"top_k": 12})
    rows, values = WorkflowConfig.objects.count(), WorkflowConfig.current_values()
    response = patch(client_for("engineer"), body)
    assert response.status_code == 400, response.json()
    assert WorkflowConfig.objects.count() == rows and WorkflowConfig.current_values() == values
    return response.json()


def test_it_refuses_feature_weights_that_are_all_zero():
    from workflow_app.profiles import load_default_profile

    names = [a["name"] for a in load_default_profile()["attributes"]]
    answer = refused({"feature_weights": dict.fromkeys(names, 0)})
    assert answer["error"] == "invalid_setting"
    assert "above 0" in answer["fields"]["feature_weights"][0]
    # switching some attributes off is fine while one keeps a weight
    some_off = patch(client_for("admin"), {"feature_weights": dict.fromkeys(names[1:], 0)})
    assert some_off.status_code == 200, some_off.json()


def test_it_refuses_feature_weights_naming_no_attribute_of_the_training_profile():
    answer = refused({"feature_weights": {"PART_TYPE": 2, "NO_SUCH_COLUMN": 3}})
    message = answer["fields"]["feature_weights"][0]
    assert "NO_SUCH_COLUMN" in message and "not an attribute of the training profile" in message
    assert "PART_TYPE" in message.split("known:")[1]  # the known names are listed


@pytest.mark.parametrize(
    "body, key, words",
    [
        ({"feature_weights": {f"A{i}": 1 for i in range(501)}}, "feature_weights", "at most 500"),
        ({"feature_weights": {"PART_TYPE": 1e308}}, "feature_weights", "between 0 and 100"),
        ({"routing_rules": {"allowed_op_codes": ["X" * 65]}}, "routing_rules", "at most 64"),
        ({"routing_rules": {"mandatory_final_ops": ["Q"] * 5001}}, "routing_rules", "at most 5000"),
        ({"support_power": 1e300}, "support_power", "at most"),
    ],
)
def test_it_refuses_oversize_setting_values(body, key, words):
    answer = refused(body)
    assert list(answer["fields"]) == [key] and words in answer["fields"][key][0]


def test_an_empty_or_non_object_patch_is_400():
    engineer = client_for("engineer")
    assert patch(engineer, {}).status_code == 400
    assert patch(engineer, [1, 2]).status_code == 400


def test_roles_viewers_read_engineers_write():
    assert client_for(None).get("/api/v1/workflow").status_code == 401
    assert patch(client_for("viewer"), {"top_k": 5}).status_code == 403
    assert patch(client_for("admin"), {"top_k": 5}).status_code == 200


def test_settings_changes_through_a_blueprint_keep_the_profiles_carried_forward():
    WorkflowConfig.apply({}, training_profile="plant-default", export_profile="erp-routing")
    row = WorkflowConfig.apply({"top_k": 3})
    assert (row.training_profile, row.export_profile) == ("plant-default", "erp-routing")
    with pytest.raises(BadInput) as err:
        WorkflowConfig.apply({}, export_profile="plant-default")  # an input profile
    assert "export_profile" in err.value.fields


# --- admin -------------------------------------------------------------------------------------


def revision_form(**overrides) -> dict:
    values = WorkflowConfig.current_values()
    form = {"comment": "from the admin", "training_profile": "plant-default",
            "export_profile": "erp-routing"}  # fmt: skip
    for key, setting in settings_schema.SETTINGS.items():
        if setting.kind is bool:
            if values[key]:
                form[key] = "on"
        elif setting.kind in (list, dict):
            import json

            form[key] = json.dumps(values[key])
        else:
            form[key] = str(values[key])
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_the_admin_history_lists_revisions_read_only(admin_client):
    row = WorkflowConfig.apply({"top_k": 9}, comment="tuning")
    page = admin_client.get("/admin/workflow_app/workflowconfig/")
    assert page.status_code == 200 and b"tuning" in page.content and b"top_k=9" in page.content
    detail = admin_client.get(f"/admin/workflow_app/workflowconfig/{row.pk}/change/")
    assert detail.status_code == 200
    assert b'name="top_k"' not in detail.content  # nothing editable
    assert (
        admin_client.post(f"/admin/workflow_app/workflowconfig/{row.pk}/delete/").status_code == 403
    )


def test_the_admin_form_makes_a_new_revision(admin_client):
    before = WorkflowConfig.objects.count()
    response = admin_client.post("/admin/workflow_app/workflowconfig/add/",
                                 revision_form(top_k="25", candidates="6"))  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    assert WorkflowConfig.objects.count() == before + 1
    row = WorkflowConfig.current()
    assert row.changes == {"top_k": 25, "candidates": 6}
    assert row.comment == "from the admin" and row.created_by.username == "boss"


def test_the_admin_form_shows_validation_errors_and_saves_nothing(admin_client):
    before = WorkflowConfig.objects.count()
    response = admin_client.post(
        "/admin/workflow_app/workflowconfig/add/",
        revision_form(top_k="0", hnsw_m="many", percentiles="[500]"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"top_k", "hnsw_m", "percentiles"}
    assert "at least 1" in errors["top_k"][0]
    assert WorkflowConfig.objects.count() == before
    unchanged = admin_client.post("/admin/workflow_app/workflowconfig/add/", revision_form())
    assert "Nothing changed" in unchanged.content.decode()


def test_every_workflow_admin_page_renders(admin_client):
    from workflow_app.models import Blueprint, BlueprintRevision, MappingProfile

    bp = Blueprint.objects.get(name="standard pipeline")
    pages = [
        "/admin/workflow_app/workflowconfig/add/",
        "/admin/workflow_app/mappingprofile/",
        "/admin/workflow_app/mappingprofile/add/",
        f"/admin/workflow_app/mappingprofile/{MappingProfile.objects.get(name='plant-default').pk}/change/",
        "/admin/workflow_app/blueprint/",
        "/admin/workflow_app/blueprint/add/",
        f"/admin/workflow_app/blueprint/{bp.pk}/change/",
        f"/admin/workflow_app/blueprintrevision/{BlueprintRevision.objects.get(blueprint=bp).pk}/change/",
    ]
    for url in pages:
        assert admin_client.get(url).status_code == 200, url
    add = admin_client.get(pages[0]).content.decode()
    assert 'name="top_k"' in add and 'value="20"' in add and 'name="export_profile"' in add
