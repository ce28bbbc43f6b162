"""Saved routings as training truth: the ``feedback`` setting off | add | override."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference_app.loaded import LoadedModel
from inference_app.models import SavedRouting
from registry_app.pipeline import evaluation
from routing_core import predictor
from routing_site.errors import NotFound
from workflow_app.models import WorkflowConfig

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

NEW_OPS = [
    {"seq": 10, "op_code": "OP-A", "work_center": "WC-A", "setup_min": 12, "run_min": 3},
    {"seq": 20, "op_code": "OP-B", "work_center": "WC-B", "run_min": 4, "in_house": False},
]
OPEN_RULES = {"allowed_op_codes": ["OP-A", "OP-B"], "allowed_work_centers": ["WC-A", "WC-B"]}


def saved(code: str, operations=NEW_OPS, attributes=None, status="accepted") -> SavedRouting:
    decision = {"has_proposal": False, "attributes": attributes or {}}
    return SavedRouting.objects.save_checked(
        code, operations, {**_rules(), **OPEN_RULES}, None, decision=decision, status=status
    )


def _rules() -> dict:
    from workflow_app.settings_schema import RULE_DEFAULTS

    return dict(RULE_DEFAULTS)


def opened(version) -> LoadedModel:
    return LoadedModel.open(version.path)


def answer(model, item: dict) -> dict:
    from workflow_app.settings_schema import defaults

    return predictor.predict_one(model, item, predictor.options(defaults()))


def manifest(version) -> dict:
    return json.loads((version.path / "manifest.json").read_text())


def first_routed_code(model) -> str:
    tables = model.tables
    return next(tables.code_of(r) for r in range(tables.n_items) if tables.routings_of(r))


def some_attributes(model) -> dict:
    tables = model.tables
    row = next(r for r in range(tables.n_items) if tables.routings_of(r))
    return {k: v for k, v in tables.attributes(row).items() if v is not None}


def test_a_saved_routing_for_a_new_item_comes_back_as_existing(quick_training, admin_client):
    first = quick_training()
    attributes = some_attributes(opened(first))
    saved("NEW-1", attributes=attributes)
    saved("NEW-2")  # no attributes recorded: cannot be placed in the index
    second = quick_training()
    model = opened(second)
    result = answer(model, {"item_code": "NEW-1"})
    assert result["status"] == "existing"
    ops = result["candidates"][0]["operations"]
    assert [(o["op_code"], o["work_center"], o["in_house"]) for o in ops] == [
        ("OP-A", "WC-A", True),
        ("OP-B", "WC-B", False),
    ]
    assert ops[0]["setup_min"] == 12 and ops[1]["run_min"] == 4
    assert model.tables.attributes(model.tables.row_of("NEW-1"))["PART_TYPE"] == str(
        attributes["PART_TYPE"]
    )
    body = manifest(second)
    assert body["data_counts"]["feedback_routings"] == 1
    assert body["data_counts"]["overridden_items"] == 0
    assert body["feedback"] == {
        "mode": "add",
        "feedback_routings": 1,
        "new_items": 1,
        "overridden_items": 0,
        "ignored_existing": 0,
        "skipped_without_attributes": 1,
    }
    assert second.data_counts["feedback_routings"] == 1
    page = admin_client.get(f"/admin/registry_app/modelversion/{second.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "feedback routings" in html and "overridden items" in html  # the data counts table
    with pytest.raises(NotFound, match="Unknown item code 'NEW-2'"):
        answer(model, {"item_code": "NEW-2"})


def test_add_keeps_an_existing_routing_and_override_replaces_it(quick_training):
    first = quick_training()
    code = first_routed_code(opened(first))
    saved(code)
    added = quick_training()
    model = opened(added)
    ops = answer(model, {"item_code": code})["candidates"][0]["operations"]
    assert [o["op_code"] for o in ops] != ["OP-A", "OP-B"]
    assert manifest(added)["feedback"]["ignored_existing"] == 1
    assert added.data_counts["feedback_routings"] == 0

    WorkflowConfig.apply({"feedback": "override"})
    overridden = quick_training()
    model = opened(overridden)
    result = answer(model, {"item_code": code})
    assert [o["op_code"] for o in result["candidates"][0]["operations"]] == ["OP-A", "OP-B"]
    assert len(result["candidates"]) == 1  # the source's other routings are replaced too
    assert overridden.data_counts["overridden_items"] == 1
    assert overridden.data_counts["feedback_routings"] == 1


def test_off_leaves_the_source_alone(quick_training):
    first = quick_training()
    saved("NEW-1", attributes=some_attributes(opened(first)))
    WorkflowConfig.apply({"feedback": "off"})
    second = quick_training()
    assert opened(second).tables.row_of("NEW-1") is None
    assert manifest(second)["feedback"]["feedback_routings"] == 0
    assert second.data_counts["feedback_routings"] == 0


def test_a_draft_is_never_training_truth(quick_training):
    first = quick_training()
    saved("NEW-1", attributes=some_attributes(opened(first)), status="draft")
    WorkflowConfig.apply({"feedback": "override"})
    second = quick_training()
    assert opened(second).tables.row_of("NEW-1") is None
    assert second.data_counts["feedback_routings"] == 0


def test_feedback_never_leaks_into_the_evaluation_split(quick_training, monkeypatch):
    first = quick_training()
    model = opened(first)
    tables = model.tables
    codes = [tables.code_of(r) for r in range(tables.n_items) if tables.routings_of(r)][:300]
    for code in codes:
        saved(code)
    evaluated: list[str] = []
    would_hold: list[str] = []
    real = evaluation.evaluate_model

    def spy(model, holdout_rows, groups, opts, progress=None, **kwargs):
        evaluated.extend(model.tables.code_of(int(r)) for r in holdout_rows)
        held = np.flatnonzero(evaluation.split_groups(groups, 0.2, seed=7))
        would_hold.extend(model.tables.code_of(int(r)) for r in held)
        return real(model, holdout_rows, groups, opts, progress, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_model", spy)
    WorkflowConfig.apply({"feedback": "override", "eval_sample": 100_000})
    second = quick_training()
    assert second.data_counts["overridden_items"] == len(codes)
    assert evaluated, "the evaluation ran"
    assert not set(evaluated) & set(codes)
    # the same split without the exclusion would have held some of them out
    assert set(would_hold) & set(codes)


def test_an_unknown_mode_is_refused_by_the_merge(db):
    from registry_app.pipeline.feedback import merge_feedback

    with pytest.raises(ValueError, match="off, add, override"):
        merge_feedback(None, {}, "sometimes")
