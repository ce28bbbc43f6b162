"""Quality measurement: metric values, a grouped split that never leaks, stored figures."""

import json
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry_app.pipeline.evaluation import (
    ape,
    edit_similarity,
    group_keys,
    jaccard,
    levenshtein,
    score_item,
    split_groups,
    stem,
)


def test_levenshtein_and_edit_similarity_on_hand_made_sequences():
    a = ["CUT", "LTH1", "GRD1", "INSP-F"]
    assert levenshtein(a, a) == 0
    assert levenshtein(a, ["CUT", "LTH1", "INSP-F"]) == 1  # one deletion
    assert levenshtein(a, ["CUT", "LTH2", "GRD1", "INSP-F"]) == 1  # one substitution
    assert levenshtein([], ["A", "B"]) == 2
    assert edit_similarity(a, ["CUT", "LTH1", "INSP-F"]) == pytest.approx(0.75)
    assert edit_similarity(["A", "B"], ["B", "A"]) == 0.0
    assert edit_similarity([], []) == 1.0


def test_jaccard_and_percentage_error():
    assert jaccard(["A", "B", "C"], ["B", "C", "D"]) == pytest.approx(0.5)
    assert jaccard(["A", "A"], ["A"]) == 1.0
    assert ape(90.0, 100.0) == pytest.approx(0.1)
    assert ape(10.0, 0.0) is None


def test_score_item_counts_top1_and_hit_at_n():
    actual = {"ops": ["CUT", "LTH1"], "wcs": ["SAW", "LTH"]}
    wrong = {"ops": ["CUT", "GRD1"], "wcs": ["SAW", "GRD"], "operations": []}
    right = {"ops": ["CUT", "LTH1"], "wcs": ["SAW", "LTH"], "operations": []}
    scored = score_item(actual, [wrong, right], actual_lead=100.0, quantity=1)
    assert scored["top1_exact"] == 0.0 and scored["hit_at_n"] == 1.0
    assert scored["op_edit_similarity"] == pytest.approx(0.5)
    assert scored["best_op_edit_similarity"] == 1.0
    assert score_item(actual, [], 100.0, 1) == {"covered": 0.0}


def test_near_duplicates_share_a_group_and_never_straddle_the_split():
    items = pd.DataFrame(
        {
            "item_code": [f"I{i}" for i in range(8)],
            "DRAW_NO": [
                "AD-1000-01",
                "AD-1000-02",
                "AD-2000-01",
                None,
                None,
                "BX-7",
                "BX-7A",
                None,
            ],
            "PartNm": [None, None, None, "RING 40", "RING 41", None, None, None],
        }
    )
    groups = group_keys(items, ["DRAW_NO", "PartNm"])
    assert groups[0] == groups[1] != groups[2]
    assert stem("AD-1000-01") == stem("AD-1000-02") == "AD-1000"
    assert groups[3] == groups[4] != groups[0]  # "RING 40" / "RING 41": same name stem
    assert groups[5] == groups[6]  # "BX-7" / "BX-7A": same drawing stem
    assert groups[7] not in set(groups[:7].tolist())  # nothing to group by: its own group
    rng_groups = np.repeat(np.arange(200), 3)
    for seed in range(5):
        held = split_groups(rng_groups, 0.2, seed)
        for g in range(200):
            assert len(set(held[rng_groups == g].tolist())) == 1
        assert 0.15 < held.mean() < 0.25


def test_every_trained_version_stores_its_evaluation(quick_training):
    version = quick_training()
    metrics = version.metrics
    for side in ("model", "nearest", "most_frequent"):
        assert {
            "top1_exact",
            "hit_at_n",
            "op_edit_similarity",
            "wc_edit_similarity",
            "op_jaccard",
            "lead_time_mdape",
            "coverage",
        } <= set(metrics[side])
    assert metrics["method"]["evaluated_items"] > 0
    assert metrics["index_recall_at_10"] > 0.9
    assert metrics["model"]["top1_exact"] > metrics["most_frequent"]["top1_exact"]


def test_evaluate_prints_one_json_object_with_model_and_baselines(db, plant_source):
    out = StringIO()
    call_command("evaluate", "--holdout", "0.25", "--seed", "3", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert set(result) >= {"model", "nearest", "most_frequent", "method", "profile"}
    assert result["method"]["holdout"] == 0.25 and result["method"]["seed"] == 3
    assert result["method"]["evaluated_items"] > 50
    model, frequent = result["model"], result["most_frequent"]
    assert model["top1_exact"] > frequent["top1_exact"]
    assert model["op_edit_similarity"] > frequent["op_edit_similarity"]


def test_evaluate_refuses_bad_arguments(db, plant_source):
    with pytest.raises(CommandError, match="--holdout must be between 0 and 1"):
        call_command("evaluate", "--holdout", "1.5")
