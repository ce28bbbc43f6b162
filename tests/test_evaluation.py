"""Quality measurement: metric values, a grouped split that never leaks, stored figures."""

import json
import sqlite3
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
)
from registry_app.pipeline.families import family_attributes, family_stem


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


def test_family_stem_strips_known_variant_suffixes_only():
    assert family_stem("AD-012040") == "AD-012040"  # the number itself is never cut
    assert family_stem("AD-012040-02") == "AD-012040"
    assert family_stem("ad-012040 / 3") == "AD-012040"
    assert family_stem("SR0100023A") == "SR0100023"
    assert (
        family_stem("RING 40X20 SS316-A") == family_stem("ring  40x20 ss316") == "RING 40X20 SS316"
    )
    assert family_stem("BX-7 REV B") == "BX-7"
    assert family_stem("BX-7") == "BX-7"  # "BX" alone would hold no digit: kept whole
    assert family_stem("BX-7A") == "BX-7"
    assert family_stem("AD-012041") != family_stem("AD-012040")
    assert (
        family_stem(None) is None and family_stem(" ") is None and family_stem(float("nan")) is None
    )


def test_families_join_code_drawing_and_name_stems_transitively():
    items = pd.DataFrame(
        {
            "item_code": ["SR0000001", "SR0000001A", "SR0000002", "SR0000003", "SR0000004", "X9"],
            "DRAW_NO": ["SR-012040", None, "SR-012040-02", None, "SR-077777", None],
            "ITEM_NM": [None, "RING 40X20 SS316-A", None, "RING 40X20 SS316", None, None],
            "PartNm": ["SEAL RING"] * 6,
        }
    )
    attrs = [{"name": n} for n in ("DRAW_NO", "ITEM_NM", "PartNm")]
    groups = group_keys(items, attrs)
    # 0~1 by code, 0~2 by drawing, 1~3 by name: one family; 4 and 5 are their own
    assert len(set(groups[:4].tolist())) == 1
    assert groups[4] != groups[0] and groups[5] not in set(groups[:5].tolist())
    # the generic part name is not a family attribute unless the profile marks it
    marked = group_keys(items, [{"name": "PartNm", "family": True}])
    assert len(set(marked.tolist())) == 1
    assert family_attributes(attrs) == ["DRAW_NO", "ITEM_NM"]
    assert family_attributes([{"name": "DESC"}, {"name": "PART_NO", "family": True}]) == ["PART_NO"]


def test_split_keeps_whole_families_on_one_side():
    rng_groups = np.repeat(np.arange(200), 3)
    for seed in range(5):
        held = split_groups(rng_groups, 0.2, seed)
        for g in range(200):
            assert len(set(held[rng_groups == g].tolist())) == 1
        assert 0.15 < held.mean() < 0.25


def test_sample_plant_variants_fall_in_their_base_family(tmp_path):
    from registry_app.pipeline.sample_data import generate

    path = tmp_path / "plant.sqlite"
    generate(path, 1500, seed=1)
    with sqlite3.connect(path) as con:
        items = pd.read_sql(
            "SELECT ITEM_CD AS item_code, DRAW_NO, ITEM_NM FROM dbo_BI_ITEM_INFO_VIEW", con
        )
    groups = group_keys(items, ["DRAW_NO", "ITEM_NM"])
    base = items["item_code"].str.replace(r"[A-Z]+$", "", regex=True)
    variants = np.flatnonzero(base != items["item_code"])
    assert len(variants) > 100
    row_of = {code: i for i, code in enumerate(items["item_code"])}
    split = [v for v in variants if groups[v] != groups[row_of[base[v]]]]
    assert split == []  # every variant shares its base item's family


def test_every_trained_version_stores_its_evaluation(quick_training):
    version = quick_training()
    metrics = version.metrics
    assert set(metrics["baselines"]) == {
        "most_frequent",
        "same_attributes",
        "nearest",
        "knn_medoid",
    }
    for side in ("model", *metrics["baselines"]):
        figures = metrics["baselines"].get(side, metrics[side])
        assert {
            "top1_exact",
            "hit_at_n",
            "op_edit_similarity",
            "wc_edit_similarity",
            "op_jaccard",
            "lead_time_mdape",
            "coverage",
        } <= set(figures)
        assert figures["coverage"] == 1.0
    assert metrics["method"]["evaluated_items"] > 0
    assert metrics["index_recall_at_10"] > 0.9
    assert metrics["model"]["top1_exact"] > metrics["most_frequent"]["top1_exact"]


def test_evaluate_prints_one_json_object_with_model_and_baselines(db, plant_source):
    out = StringIO()
    call_command("evaluate", "--holdout", "0.25", "--seed", "3", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert set(result) >= {"model", "baselines", "method", "profile"}
    assert list(result["baselines"]) == [
        "most_frequent",
        "same_attributes",
        "nearest",
        "knn_medoid",
    ]
    assert result["method"]["holdout"] == 0.25 and result["method"]["seed"] == 3
    assert result["method"]["evaluated_items"] > 50
    model, baselines = result["model"], result["baselines"]
    frequent = baselines["most_frequent"]
    assert model["top1_exact"] > frequent["top1_exact"]
    assert model["op_edit_similarity"] > frequent["op_edit_similarity"]
    # the 5-NN medoid uses more evidence than the single nearest item
    assert (
        baselines["knn_medoid"]["op_edit_similarity"]
        >= baselines["nearest"]["op_edit_similarity"] - 0.02
    )
    assert model["best_op_edit_similarity"] >= model["op_edit_similarity"]


def test_evaluate_refuses_bad_arguments(db, plant_source):
    with pytest.raises(CommandError, match="--holdout must be between 0 and 1"):
        call_command("evaluate", "--holdout", "1.5")


def test_family_stems_of_a_column_are_the_stems_of_each_value():
    from registry_app.pipeline.families import family_stems

    values = [
        "AD-012040-02",
        "AD-012040-02",
        None,
        float("nan"),
        "  ",
        "VERY LONG SPECIFICATION TEXT FOR A SEAL RING BX-7 REV B",
        "VERY LONG SPECIFICATION TEXT FOR A SEAL RING 40X20 SS316-A",
        "SR0100023A",
        "sr0100023a",
        "BX-7",
        "PLAIN NAME WITHOUT DIGITS-A",
        "X12 REV B",
    ]
    stems = family_stems(np.array(values, dtype=object))
    assert stems.tolist() == [family_stem(v) for v in values]
    assert stems[5] == "VERY LONG SPECIFICATION TEXT FOR A SEAL RING BX-7"
    assert stems[11] == "X12"


@pytest.mark.parametrize(
    ("value", "stem"),
    [
        ("ab-12\t-3 ", "AB-12"),  # "-3" goes; "-12" stays: "AB" would hold no digit
        ("ab1-12-3", "AB1"),
        ("x\x1c12 -  a", "X 12"),  # str.split() separators beyond the blank: \x1c, tabs
        ("12\x0b-A", "12"),
        ("straße 12-a", "STRASSE 12"),  # not ASCII: Python's own upper-casing (ß → SS)
        ("Ｗ１２-A", "Ｗ１２"),  # full-width digits are digits
        ("BX²-A", "BX²"),  # so is a superscript two (str.isdigit)
        ("A\u00a012-3", "A 12"),  # a no-break space is spacing
        ("ref\n12-A", "REF 12"),
        ("1REV.-A", "1REV."),
        ("rev1", "REV1"),  # nothing before REV holds a digit
        ("none", None),
        ("  NaN ", None),
        (12, "12"),
        (3.5, "3"),  # a number is its text: ".5" is a sheet suffix
        ("A1/B", "A1"),
    ],
)
def test_family_stems_of_unusual_values_match_the_stem_of_each(value, stem):
    from registry_app.pipeline.families import family_stems

    assert family_stem(value) == stem
    column = np.array([value, "AD-012040-02", value, None], dtype=object)
    assert family_stems(column).tolist() == [stem, "AD-012040", stem, None]


def test_primary_routing_of_every_item_is_the_tables_choice():
    from registry_app.pipeline.evaluation import primary_routings

    # item 0: routings 0-2, the second marked; item 1: none; item 2: routings 3-4, none
    # marked; item 3: routing 5 marked; item 4: routings 6-7, the first marked
    a = {
        "item_rt_start": np.array([0, 3, 3, 5, 6]),
        "item_rt_end": np.array([3, 3, 5, 6, 8]),
        "rt_primary": np.array([0, 1, 1, 0, 0, 1, 1, 1], dtype=bool),
    }
    assert primary_routings(a).tolist() == [1, -1, 3, 5, 6]
    a["rt_primary"][:] = False
    assert primary_routings(a).tolist() == [0, -1, 3, 5, 6]


def test_most_common_routing_per_key_breaks_ties_like_a_counter():
    from collections import Counter

    from registry_app.pipeline.evaluation import _most_common

    rng = np.random.default_rng(3)
    sigs, keys = rng.integers(0, 5, 400), rng.integers(0, 30, 400)
    expected: dict[int, Counter] = {}
    for k, s in zip(keys.tolist(), sigs.tolist(), strict=True):
        expected.setdefault(k, Counter())[s] += 1
    got = _most_common(sigs, keys)
    assert got == {k: c.most_common(1)[0][0] for k, c in expected.items()}
    assert _most_common(np.array([2, 1, 1, 2]), np.zeros(4, np.int64)) == {0: 2}
    assert _most_common(np.zeros(0, np.int64), np.zeros(0, np.int64)) == {}
