"""Attribute weights learned by grouped cross-validation on the training items only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from registry_app.pipeline import evaluation, weightsearch
from registry_app.pipeline.canonical import (
    OPERATION_COLUMNS,
    WORK_RESULT_COLUMNS,
    ExtractReport,
    PlantData,
)
from routing_site.errors import BadInput
from workflow_app.profiles import validate_profile
from workflow_app.settings_schema import defaults

OPS = ["SAW", "TURN", "MILL", "DRILL", "GRIND", "HONE", "WELD", "BEND", "PAINT", "WASH"]
KINDS = 40
PROFILE = {
    "name": "handmade",
    "tables": {"items": "ITEMS", "operations": "OPS", "work_results": None},
    "columns": {
        "items": {"item_code": "CODE"},
        "operations": {"item_code": "CODE", "seq": "SEQ", "op_code": "OP", "work_center": "WC"},
    },
    "attributes": [
        {"name": "KIND", "column": "KIND", "kind": "categorical", "weight": 1.0},
        {"name": "NOISE", "column": "NOISE", "kind": "categorical", "weight": 3.0},
    ],
}


def handmade_plant(n: int = 600, seed: int = 3) -> PlantData:
    """Routings follow KIND alone (40 kinds, each its own routing); NOISE is a random label
    (6 values) that the profile weighs three times as much."""
    rng = np.random.default_rng(seed)
    routes = {f"K{k}": [*rng.choice(OPS, size=rng.integers(4, 7)), "INSP"] for k in range(KINDS)}
    kinds = rng.choice(sorted(routes), size=n)
    noise = rng.choice([f"N{i}" for i in range(6)], size=n)
    codes = [f"P{i:05d}" for i in range(n)]
    items = pd.DataFrame({"item_code": codes, "KIND": kinds, "NOISE": noise})
    base = {
        "routing_no": "01", "op_name": "", "work_center_name": "", "in_house": True,
        "setup_min": 10.0, "run_min": 2.0, "run_qty": 1.0, "queue_min": 0.0, "wait_min": 0.0,
        "move_min": 0.0, "valid_from": pd.NaT, "valid_to": pd.NaT, "inserted_at": pd.NaT,
    }  # fmt: skip
    rows = [
        {**base, "item_code": code, "seq": 10 * (k + 1), "op_code": op, "work_center": op + "1"}
        for code, kind in zip(codes, kinds, strict=True)
        for k, op in enumerate(routes[kind])
    ]
    ops = pd.DataFrame(rows, columns=OPERATION_COLUMNS)
    return PlantData(items, ops, pd.DataFrame(columns=WORK_RESULT_COLUMNS), ExtractReport())


def config() -> dict:
    return defaults()


def budget(**given) -> dict:
    return weightsearch.search_budget({"weights": "learn", "weight_search": given})


def test_the_search_turns_down_a_noise_attribute_and_records_every_trial():
    data = handmade_plant()
    rows = np.arange(len(data.items))
    found = weightsearch.learn_weights(
        data.items, data, PROFILE, config(), rows, budget(evaluations=6, scored=300)
    )
    assert found["baseline"] == {
        "weights": {"KIND": 1.0, "NOISE": 3.0}, "score": found["trials"][0]["score"],
    }  # fmt: skip
    assert found["weights"]["NOISE"] / found["weights"]["KIND"] < 3.0  # noise turned down
    assert found["score"] >= found["baseline"]["score"] + 0.05  # a clearly better weight set
    assert found["score"] == max(t["score"] for t in found["trials"])
    assert found["evaluations"] == len(found["trials"]) <= 6
    assert found["folds"] == 3 and found["scored_items"] == 300


def test_the_budget_stops_the_search_and_progress_is_reported():
    data = handmade_plant(n=200)
    seen = []
    found = weightsearch.learn_weights(
        data.items, data, PROFILE, config(), np.arange(200), budget(evaluations=2, scored=40),
        progress=lambda stage, share, message: seen.append((stage, share, message)),
    )  # fmt: skip
    assert found["evaluations"] == 2 and found["stopped"] == "evaluations"
    assert [s[:2] for s in seen] == [("weights", 0.5), ("weights", 1.0)]
    assert seen[0][2].startswith("weight set 1: score ")


def test_the_search_reads_only_the_rows_it_is_given(monkeypatch):
    data = handmade_plant(n=300)
    read = []
    real = weightsearch.build_tables

    def spy(items, *args, **kwargs):
        read.extend(items["item_code"].tolist())
        return real(items, *args, **kwargs)

    monkeypatch.setattr(weightsearch, "build_tables", spy)
    rows = np.arange(0, 300, 2)
    weightsearch.learn_weights(data.items, data, PROFILE, config(), rows, budget(evaluations=1))
    assert set(read) == set(data.items["item_code"].iloc[rows])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weights": "sometimes"}, "weights"),
        ({"weights": "learn", "weight_search": {"seconds": 0}}, "weight_search.seconds"),
        ({"weights": "learn", "weight_search": {"evaluations": "5"}}, "weight_search.evaluations"),
        ({"weights": "learn", "weight_search": {"folds": True}}, "weight_search.folds"),
        ({"weights": "learn", "weight_search": {"rounds": 3}}, "weight_search.rounds"),
        ({"weight_search": [60]}, "weight_search"),
    ],
)
def test_profile_validation_refuses_bad_weight_options(change, field):
    with pytest.raises(BadInput) as refused:
        validate_profile({**PROFILE, **change})
    assert field in refused.value.fields


def test_profile_validation_accepts_the_weight_options():
    spec = validate_profile(
        {**PROFILE, "weights": "learn", "weight_search": {"seconds": 60, "evaluations": 10}}
    )
    assert weightsearch.search_budget(spec) == {
        "seconds": 60, "evaluations": 10, "items": 4000, "folds": 3, "scored": 600,
    }  # fmt: skip
    assert weightsearch.search_budget(validate_profile(PROFILE)) is None


def test_a_refused_profile_is_not_stored(db):
    from workflow_app.models import MappingProfile

    with pytest.raises(BadInput):
        MappingProfile.objects.put({**PROFILE, "weights": "learn", "weight_search": {"items": 1}})
    assert not MappingProfile.objects.filter(name="handmade").exists()


def test_training_learns_weights_without_touching_the_held_out_families(
    quick_training, monkeypatch, admin_client
):
    from workflow_app.config import get_input_profile
    from workflow_app.models import MappingProfile

    profile = get_input_profile(None)
    learn = {"weights": "learn", "weight_search": {"evaluations": 3, "scored": 60}}
    MappingProfile.objects.put({**profile, **learn})
    searched, evaluated = [], {}
    real_tables, real_evaluate = weightsearch.build_tables, evaluation.evaluate_model

    def spy_tables(items, *args, **kwargs):
        searched.extend(items["item_code"].tolist())
        return real_tables(items, *args, **kwargs)

    def spy_evaluate(model, rows, groups, *args, **kwargs):
        codes = model.tables.a["item_codes"]
        held = np.isin(groups, groups[rows])  # every item of an evaluated family
        evaluated.update(codes=set(codes[held].tolist()), rows=len(rows))
        return real_evaluate(model, rows, groups, *args, **kwargs)

    monkeypatch.setattr(weightsearch, "build_tables", spy_tables)
    monkeypatch.setattr(evaluation, "evaluate_model", spy_evaluate)
    version = quick_training()
    assert searched and evaluated["rows"] > 0
    assert not set(searched) & evaluated["codes"]
    search = version.metrics["weight_search"]
    assert search["evaluations"] == 3 and search["stopped"] == "evaluations"
    chosen = {a["name"]: a["weight"] for a in version.parameters["attributes"]}
    assert chosen and all(search["weights"][name] == w for name, w in chosen.items())
    page = admin_client.get(f"/admin/registry_app/modelversion/{version.pk}/change/")
    html = page.content.decode()
    assert "Weight search" in html and f"{search['baseline']['score']}" in html
    assert html.count('class="weight-trial"') == 3


def test_evaluate_learns_on_its_kept_items_only(monkeypatch):
    data = handmade_plant(n=400)
    searched, scored = [], []
    real_tables, real_evaluate = weightsearch.build_tables, evaluation.evaluate_model

    def spy_tables(items, *args, **kwargs):
        searched.extend(items["item_code"].tolist())
        return real_tables(items, *args, **kwargs)

    def spy_evaluate(model, rows, groups, *args, **kwargs):
        held = np.isin(groups, groups[rows])
        scored.extend(model.tables.a["item_codes"][held].tolist())
        return real_evaluate(model, rows, groups, *args, **kwargs)

    monkeypatch.setattr(weightsearch, "build_tables", spy_tables)
    monkeypatch.setattr(evaluation, "evaluate_model", spy_evaluate)
    learn = {"weights": "learn", "weight_search": {"evaluations": 2, "scored": 50}}
    result = evaluation.holdout_evaluation(data, {**PROFILE, **learn}, config(), 0.25, seed=5)
    assert searched and scored and not set(searched) & set(scored)
    assert len(set(searched)) + len(set(scored)) == 400  # every kept item is a training item
    assert result["weight_search"]["evaluations"] == 2
    assert "weight_search" not in evaluation.holdout_evaluation(data, PROFILE, config(), 0.25, 5)
