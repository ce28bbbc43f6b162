"""Decisions recorded with saved routings, the bounded prediction log and the online figures."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts_app.testing import make_user
from inference_app import prediction_log
from inference_app.models import PredictionLog, RoutingDecision, SavedRouting
from inference_app.runtime import runtime
from registry_app.pipeline.evaluation import edit_similarity
from workflow_app.models import WorkflowConfig

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def proposal(active_model, engineer_api):
    """A logged prediction (request id "req-a") for a new item with at least two candidates."""
    tables = runtime.model.tables
    for row in range(tables.n_items):
        attributes = {k: v for k, v in tables.attributes(row).items() if v is not None}
        answer = predict(engineer_api, attributes, f"probe-{row}")
        if len(answer["candidates"]) >= 2:
            answer = predict(engineer_api, attributes, "req-a")
            return {"attributes": attributes, "answer": answer}
    pytest.fail("no item of the sample gets two candidates")


def predict(client, attributes: dict, request_id: str) -> dict:
    response = client.post(
        "/api/v1/predict",
        {"items": [{"attributes": attributes}], "candidates": 4},
        format="json",
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 200, response.json()
    assert response["X-Request-ID"] == request_id
    return response.json()["items"][0]


def save(client, operations, **extra):
    body = {"item_code": "NEW-1", "operations": operations, **extra}
    return client.post("/api/v1/routings", body, format="json")


def ops_of(candidate: dict) -> list[dict]:
    keys = ("seq", "op_code", "work_center", "setup_min", "run_min", "run_qty")
    return [{k: o[k] for k in keys} for o in candidate["operations"]]


def test_it_records_the_candidate_taken_and_the_edit(
    engineer_api, proposal, active_model, admin_client
):
    second = proposal["answer"]["candidates"][1]
    edited = ops_of(second)[:-1]  # the engineer removes the last operation
    response = save(engineer_api, edited, proposal={"request_id": "req-a", "candidate_rank": 2})
    assert response.status_code == 201, response.json()
    body = response.json()
    n = len(second["operations"])
    assert body["decision"] == {
        "model_version": active_model.label,
        "request_id": "req-a",
        "has_proposal": True,
        "chosen_rank": 2,
        "edit_similarity": round(1 - 1 / n, 4),
        "unchanged": False,
    }
    decision = RoutingDecision.objects.get(routing_id=body["id"])
    assert decision.attributes == proposal["attributes"]
    assert [c["rank"] for c in decision.proposal] == [
        c["rank"] for c in proposal["answer"]["candidates"]
    ]
    assert decision.chosen_ops == [o["op_code"] for o in second["operations"]]
    assert decision.final_ops == decision.chosen_ops[:-1]
    assert body["source_model_version"] == active_model.label
    page = admin_client.get(f"/admin/inference_app/savedrouting/{body['id']}/change/")
    assert (
        f"Proposed by {active_model.label} (request req-a); started from candidate 2; "
        f"edit similarity {round(1 - 1 / n, 4)}; edited." in page.content.decode()
    )


def test_a_candidate_saved_as_proposed_counts_as_accepted(engineer_api, proposal):
    first = proposal["answer"]["candidates"][0]
    response = save(
        engineer_api, ops_of(first), proposal={"request_id": "req-a", "candidate_rank": 1}
    )
    assert response.status_code == 201, response.json()
    decision = response.json()["decision"]
    assert decision["unchanged"] is True and decision["edit_similarity"] == 1.0


def test_a_routing_saved_without_a_proposal_is_recorded_as_such(engineer_api, proposal):
    first = proposal["answer"]["candidates"][0]
    response = save(engineer_api, ops_of(first), attributes={"PART_TYPE": "SEAL"})
    assert response.status_code == 201, response.json()
    assert response.json()["decision"] == {
        "model_version": None,
        "request_id": None,
        "has_proposal": False,
        "chosen_rank": None,
        "edit_similarity": None,
        "unchanged": False,
    }
    assert RoutingDecision.objects.get().attributes == {"PART_TYPE": "SEAL"}


def test_a_client_may_send_a_compact_copy_of_the_proposal(engineer_api, active_model):
    operations = [
        {"seq": 10, "op_code": "CUT", "work_center": "SAW"},
        {"seq": 20, "op_code": "INSP", "work_center": "QC"},
    ]
    copy = {
        "model_version": active_model.label,
        "candidate_rank": 1,
        "candidates": [
            {"rank": 1, "op_codes": ["CUT", "LATHE", "INSP"], "work_centers": ["SAW", "L", "QC"]},
            {"rank": 2, "op_codes": ["CUT"]},
        ],
    }
    rules = {"allowed_op_codes": ["CUT", "INSP"], "allowed_work_centers": ["SAW", "QC"]}
    WorkflowConfig.apply({"routing_rules": rules})
    response = save(engineer_api, operations, proposal=copy)
    assert response.status_code == 201, response.json()
    decision = response.json()["decision"]
    assert decision["model_version"] == active_model.label and decision["chosen_rank"] == 1
    assert decision["edit_similarity"] == round(
        edit_similarity(["CUT", "LATHE", "INSP"], ["CUT", "INSP"]), 4
    )


def test_a_copy_without_work_centers_taken_as_it_is_counts_as_unchanged(engineer_api, active_model):
    operations = [
        {"seq": 10, "op_code": "CUT", "work_center": "SAW"},
        {"seq": 20, "op_code": "INSP", "work_center": "QC"},
    ]
    copy = {
        "model_version": active_model.label,
        "candidate_rank": 1,
        "candidates": [{"rank": 1, "op_codes": ["CUT", "INSP"]}],  # no work centers sent
    }
    rules = {"allowed_op_codes": ["CUT", "INSP"], "allowed_work_centers": ["SAW", "QC"]}
    WorkflowConfig.apply({"routing_rules": rules})
    response = save(engineer_api, operations, proposal=copy)
    assert response.status_code == 201, response.json()
    assert response.json()["decision"]["unchanged"] is True


BAD_PROPOSALS = [
    ({"request_id": "never-made", "candidate_rank": 1}, "proposal.request_id"),
    ({"request_id": "req-a", "candidate_rank": 9}, "proposal.candidate_rank"),
    ({"request_id": "req-a", "model_version": "v1", "candidates": []}, "proposal"),
    ({"model_version": "v1"}, "proposal"),
    ({"request_id": "req-a", "rank": 1}, "proposal"),
    ({"request_id": "req-a", "item_index": 100}, "proposal"),
    ({"model_version": "v0009", "candidates": [{"rank": 1, "op_codes": ["CUT"]}]}, "proposal"),
    (
        {"model_version": 'x"} 1\nrouting_fake 9', "candidates": [{"rank": 1, "op_codes": ["X"]}]},
        "proposal.model_version",
    ),
]


def test_a_bad_proposal_answers_400_and_saves_nothing(engineer_api, proposal):
    first = proposal["answer"]["candidates"][0]
    for bad, field in BAD_PROPOSALS:
        response = save(engineer_api, ops_of(first), proposal=bad)
        assert response.status_code == 400, (bad, response.json())
        body = response.json()
        assert any(key.startswith(field) for key in body["fields"]), (bad, body)
        assert SavedRouting.objects.count() == 0 and RoutingDecision.objects.count() == 0


def test_a_viewer_cannot_save_a_decision(viewer_api, proposal):
    first = proposal["answer"]["candidates"][0]
    response = save(viewer_api, ops_of(first), proposal={"request_id": "req-a"})
    assert response.status_code == 403
    assert RoutingDecision.objects.count() == 0


def test_the_prediction_log_keeps_inputs_candidates_and_only_the_newest_rows(
    engineer_api, active_model
):
    WorkflowConfig.apply({"prediction_log_size": 3})
    runtime.refresh()
    attributes = {"PART_TYPE": "SEAL", "ITEM_MATERIAL": "FKM"}
    for n in range(5):
        predict(engineer_api, attributes, f"r{n}")
    prediction_log.flush()
    rows = list(PredictionLog.objects.order_by("id"))
    assert [r.request_id for r in rows] == ["r2", "r3", "r4"]
    row = rows[-1]
    assert row.inputs == {"attributes": attributes}
    assert row.model_version == active_model.label and row.latency_ms > 0
    assert row.status in ("predicted", "no_match")
    assert row.options["candidates"] == 4
    assert prediction_log.buffer.pending() == 0


def test_a_prediction_is_one_append_until_the_batch_is_written(engineer_api, active_model):
    prediction_log.buffer.discard()
    response = engineer_api.post(
        "/api/v1/predict", {"items": [{"attributes": {"PART_TYPE": "SEAL"}}]}, format="json"
    )
    assert response.status_code == 200
    # not written yet: the batch waits for BATCH entries or MAX_WAIT_S, or for a reader
    assert prediction_log.buffer.pending() == 1 and PredictionLog.objects.count() == 0
    assert prediction_log.flush() == 1
    assert PredictionLog.objects.count() == 1 and prediction_log.buffer.pending() == 0


def test_an_item_logged_twice_is_one_row_with_its_time_and_compact_answer(active_model):
    from datetime import UTC, datetime

    prediction_log.buffer.discard()
    answer = {
        "status": "predicted",
        "confidence": "high",
        "neighbours": [{"item_code": "A1", "similarity": 0.9}, {"item_code": "B2"}],
        "candidates": [{"rank": 1, "operations": [{"op_code": "CUT", "work_center": "SAW01"}]}],
    }
    before = datetime.now(UTC)
    for fresh in ("first", "second"):  # the same request id and item index: skipped the second
        # time, and the batch with it still written
        for request_id in ("twice", fresh):
            prediction_log.buffer.append(
                request_id, "v9", {"top_k": 5}, [{"item_code": "X"}], [answer], 1.5
            )
        prediction_log.flush()
    assert PredictionLog.objects.filter(request_id__in=["first", "second"]).count() == 2
    row = PredictionLog.objects.get(request_id="twice")
    assert row.item_index == 0 and row.model_version == "v9" and row.inputs == {"item_code": "X"}
    assert row.candidates == [{"rank": 1, "ops": ["CUT"], "wcs": ["SAW01"]}]
    assert row.neighbours == ["A1", "B2"] and row.best_similarity == 0.9
    assert row.latency_ms == 1.5 and row.options == {"top_k": 5} and row.confidence == "high"
    assert before.replace(microsecond=0) <= row.created_at <= datetime.now(UTC)


def test_logging_off_writes_nothing(engineer_api, active_model):
    WorkflowConfig.apply({"prediction_log_size": 0})
    runtime.refresh()
    predict(engineer_api, {"PART_TYPE": "SEAL"}, "quiet")
    prediction_log.flush()
    assert PredictionLog.objects.count() == 0


def test_the_online_figures_follow_a_scripted_session_of_saves(
    engineer_api, proposal, active_model
):
    candidates = proposal["answer"]["candidates"]
    taken = {"request_id": "req-a", "candidate_rank": 1}
    assert save(engineer_api, ops_of(candidates[0]), proposal=taken).status_code == 201
    edited = ops_of(candidates[1])[:-1]
    taken2 = {"request_id": "req-a", "candidate_rank": 2}
    assert save(engineer_api, edited, proposal=taken2).status_code == 201
    assert save(engineer_api, ops_of(candidates[0])).status_code == 201  # no proposal
    expected_similarity = round((1.0 + round(1 - 1 / len(candidates[1]["operations"]), 4)) / 2, 4)

    admin = APIClient()
    admin.force_authenticate(make_user("ada", "admin"))
    data = admin.get("/api/v1/dashboard-data").json()["online"]
    mine = next(v for v in data["versions"] if v["version"] == active_model.label)
    assert mine["decisions"] == 2
    assert mine["acceptance_rate"] == 0.5
    assert mine["mean_edit_similarity"] == expected_similarity
    logged = PredictionLog.objects.filter(model_version=active_model.label)
    assert mine["answers"] == logged.count()
    low = logged.filter(confidence="low").count()
    assert mine["low_share"] == round(low / logged.count(), 4)
    assert mine["latency_ms_mean"] > 0
    assert [w["version"] for w in data["weeks"]] == [active_model.label]
    assert data["weeks"][0]["acceptance_rate"] == 0.5

    text = admin.get("/api/v1/metrics").content.decode()
    label = active_model.label
    assert f'routing_online_acceptance_rate{{version="{label}"}} 0.5' in text
    assert f'routing_online_mean_edit_similarity{{version="{label}"}} {expected_similarity}' in text
    assert f'routing_online_decisions{{version="{label}"}} 2' in text


def test_the_feedback_setting_accepts_only_its_modes(db):
    from routing_site.errors import BadInput
    from workflow_app.settings_schema import defaults, validate_changes

    assert defaults()["feedback"] == "add"
    assert validate_changes({"feedback": "override"}) == {"feedback": "override"}
    with pytest.raises(BadInput) as caught:
        validate_changes({"feedback": "sometimes"})
    assert "off, add, override" in caught.value.fields["feedback"][0]
