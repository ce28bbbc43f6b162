"""Shadow comparison: recent live requests replayed on a pending version beside the active one."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inference_app import prediction_log
from inference_app.loaded import LoadedModel
from inference_app.models import PredictionLog, SavedRouting
from inference_app.runtime import runtime
from inference_app.shadow import shadow_report
from registry_app.pipeline.evaluation import edit_similarity
from routing_core import predictor
from workflow_app.models import WorkflowConfig

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
REQUESTS = 30


@pytest.fixture
def live(active_model, engineer_api):
    """The active version answered REQUESTS new-item requests; one got a saved routing."""
    tables = runtime.model.tables
    answers = []
    for n, row in enumerate(range(0, tables.n_items, max(1, tables.n_items // REQUESTS))):
        attributes = {k: v for k, v in tables.attributes(row).items() if v is not None}
        body = {"items": [{"item_code": f"NEW-{n}", "attributes": attributes}]}
        response = engineer_api.post(
            "/api/v1/predict", body, format="json", HTTP_X_REQUEST_ID=f"live-{n}"
        )
        assert response.status_code == 200
        answers.append(response.json()["items"][0])
        if len(answers) == REQUESTS:
            break
    taken = next(n for n, a in enumerate(answers) if a["candidates"])
    ops = (
        answers[taken]["candidates"][0]["operations"][:-1]
        or answers[taken]["candidates"][0]["operations"]
    )
    saved = engineer_api.post(
        "/api/v1/routings",
        {
            "item_code": f"NEW-{taken}",
            "operations": [
                {k: o[k] for k in ("seq", "op_code", "work_center", "setup_min", "run_min")}
                for o in ops
            ],
            "proposal": {"request_id": f"live-{taken}", "candidate_rank": 1},
        },
        format="json",
    )
    assert saved.status_code == 201, saved.json()
    prediction_log.flush()
    return {"answers": answers, "taken": taken, "saved_ops": [o["op_code"] for o in ops]}


def top_ops(answer: dict) -> list[str]:
    cands = answer["candidates"]
    return [o["op_code"] for o in cands[0]["operations"]] if cands else []


def test_it_replays_recent_requests_on_a_version_trained_with_other_weights(
    live, quick_training, active_model
):
    WorkflowConfig.apply({"feature_weights": {"PART_TYPE": 0, "ITEM_MATERIAL": 0, "ITEM_NM": 60}})
    runtime.refresh()
    pending = quick_training()
    report = shadow_report(pending)
    assert report["available"] and report["version"] == pending.label
    assert report["active"] == active_model.label
    assert report["requests"] == REQUESTS == PredictionLog.objects.count()
    assert 0.0 <= report["overlap_at_10"] < 1.0  # other weights: other neighbours
    assert report["top_changed_share"] == round(report["top_changed"] / REQUESTS, 4)
    assert report["flagged"] == (report["top_changed_share"] > 0.5)

    # the saved request: each version's edit similarity to what the engineer saved
    taken = live["answers"][live["taken"]]
    assert report["saved_requests"] == 1
    assert report["active_edit_similarity"] == round(
        edit_similarity(top_ops(taken), live["saved_ops"]), 4
    )
    model = LoadedModel.open(pending.path)
    row = PredictionLog.objects.get(request_id=f"live-{live['taken']}")
    theirs = predictor.predict_one(
        model, row.inputs, predictor.options(runtime.settings, **row.options)
    )
    assert report["candidate_edit_similarity"] == round(
        edit_similarity(top_ops(theirs), live["saved_ops"]), 4
    )
    assert runtime.model.label == active_model.label  # live traffic untouched

    out = StringIO()
    call_command("shadow", pending.label, "--json", stdout=out)
    assert json.loads(out.getvalue()) == report
    out = StringIO()
    call_command("shadow", pending.label, "--limit", "5", stdout=out)
    text = out.getvalue()
    assert f"{pending.label} beside active {active_model.label}:" in text
    assert "requests replayed" in text and " 5\n" in text
    assert text.strip().splitlines()[-1].endswith("5 recent requests.") or "FLAGGED" in text


def test_a_version_that_changes_most_answers_is_flagged_not_blocked(
    live, quick_training, active_model, admin_client
):
    tables = runtime.model.tables
    operations = [
        {"seq": 10, "op_code": "OP-X", "work_center": "WC-X", "in_house": True},
        {"seq": 20, "op_code": "OP-Y", "work_center": "WC-Y", "in_house": True},
    ]
    SavedRouting.objects.bulk_create(
        SavedRouting(item_code=tables.code_of(r), operations=operations, status="accepted")
        for r in range(tables.n_items)
        if tables.routings_of(r)
    )
    WorkflowConfig.apply({"feedback": "override"})
    pending = quick_training()
    report = shadow_report(pending)
    assert report["flagged"] is True
    assert report["top_changed_share"] > 0.5
    assert "review before approving" in report["message"]

    page = admin_client.get(f"/admin/registry_app/modelversion/{pending.pk}/confirm/approve/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Shadow comparison on recent live requests" in html
    assert "Flagged: " + report["message"] in html
    assert "Evaluation beside the active version" in html
    admin_client.post(
        f"/admin/registry_app/modelversion/{pending.pk}/confirm/approve/", {"confirm": "yes"}
    )
    pending.refresh_from_db()
    assert pending.state == "approved"  # flagged, not blocked


def test_what_cannot_be_compared_is_said(live, active_model):
    report = shadow_report(active_model)
    assert report == {
        "version": active_model.label,
        "available": False,
        "flagged": False,
        "message": f"{active_model.label} is the active version.",
    }
    out = StringIO()
    call_command("shadow", active_model.label, stdout=out)
    assert out.getvalue().strip() == f"{active_model.label} is the active version."
    with pytest.raises(CommandError, match="No model version 'v0099'"):
        call_command("shadow", "v0099", stdout=StringIO())
    with pytest.raises(CommandError, match="--limit must be at least 1"):
        call_command("shadow", active_model.label, "--limit", "0", stdout=StringIO())


def test_without_logged_requests_there_is_nothing_to_replay(quick_training, active_model):
    pending = quick_training()
    report = shadow_report(pending)
    assert report["available"] is False
    assert report["message"] == "No live predict requests logged yet: nothing to replay."
