"""A version's lookup tables: routings told apart, actuals on the right step, missing times."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from registry_app.pipeline.canonical import (
    OPERATION_COLUMNS,
    WORK_RESULT_COLUMNS,
    ExtractReport,
)
from registry_app.pipeline.tables import RoutingTables, StoredValues, build_tables, save_tables
from routing_core.predictor import candidate_operations, own_routing


def operations(rows: list[dict]) -> pd.DataFrame:
    base = {
        "routing_no": "01", "op_name": "", "work_center": "W1", "work_center_name": "",
        "in_house": True, "setup_min": 10.0, "run_min": 2.0, "run_qty": 1.0, "queue_min": 0.0,
        "wait_min": 0.0, "move_min": 0.0, "valid_from": pd.NaT, "valid_to": pd.NaT,
        "inserted_at": pd.NaT,
    }  # fmt: skip
    return pd.DataFrame([{**base, **r} for r in rows], columns=OPERATION_COLUMNS)


def results(rows: list[dict]) -> pd.DataFrame:
    base = {"routing_no": "01", "work_center": None, "reported_at": pd.NaT, "setup_hours": 1.0,
            "run_hours": 1.0, "order_qty": 10.0, "bad_qty": 0.0}  # fmt: skip
    return pd.DataFrame([{**base, **r} for r in rows], columns=WORK_RESULT_COLUMNS)


def items(*codes: str) -> pd.DataFrame:
    return pd.DataFrame({"item_code": list(codes), "PART_TYPE": ["SL"] * len(codes)})


def open_tables(tmp_path, arrays, strings) -> RoutingTables:
    save_tables(tmp_path, arrays, strings)
    return RoutingTables(tmp_path, ["PART_TYPE"])


def test_it_joins_actuals_on_operation_code(tmp_path):
    ops = operations([
        {"item_code": "A", "seq": 10, "op_code": "DEBURR"},  # revised: it was MILL
        {"item_code": "A", "seq": 20, "op_code": "INSP", "work_center": "Q1"},
        {"item_code": "A", "seq": 30, "op_code": "PACK", "work_center": ""},
    ])  # fmt: skip
    wr = results([
        {"item_code": "A", "seq": 10, "op_code": "MILL", "setup_hours": 3.0},  # the old step
        {"item_code": "A", "seq": 20, "op_code": "INSP", "work_center": "Q1", "setup_hours": 0.5},
        {"item_code": "A", "seq": 20, "op_code": "INSP", "work_center": "Q9", "setup_hours": 9},
        {"item_code": "A", "seq": 20, "op_code": None, "setup_hours": 9},
        {"item_code": "A", "seq": 30, "op_code": "PACK", "work_center": "P1", "setup_hours": 0.25},
        {"item_code": "A", "seq": 99, "op_code": "MILL"},  # no such step
    ])  # fmt: skip
    report = ExtractReport()
    arrays, strings = build_tables(items("A"), ops, wr, ["PART_TYPE"], report=report)
    steps = open_tables(tmp_path, arrays, strings).operations(0)
    assert [s.actual_orders for s in steps] == [0, 1, 1]
    assert steps[0].actual_setup is None  # the milling medians stay off the deburring step
    assert steps[1].actual_setup == pytest.approx(30.0)  # 0.5 h, the Q1 result only
    assert steps[2].actual_setup == pytest.approx(15.0)  # the step names no work center
    assert report.problems["work_results"] == {
        "work result for no current (item, routing, seq): not attached": 1,
        "work result without an operation code: not attached": 1,
        "work result's operation code differs from the step's: not attached": 1,
        "work result's work center differs from the step's: not attached": 1,
    }
    assert "A/01/10 MILL" in report.examples["work_results"]
    model = SimpleNamespace(tables=open_tables(tmp_path, arrays, strings))
    answer = own_routing(model, 0, prefer_actuals=True, percentiles=[])
    assert [op["time_source"] for op in answer] == ["standard", "actuals", "actuals"]


def test_it_attaches_actuals_when_one_seq_holds_two_operations(tmp_path):
    ops = operations([
        {"item_code": "A", "seq": 10, "op_code": "MILL"},
        {"item_code": "A", "seq": 10, "op_code": "DRILL"},  # an alternative at the same seq
        {"item_code": "A", "seq": 20, "op_code": "DEBURR"},
    ])  # fmt: skip
    wr = results([
        {"item_code": "A", "seq": 10, "op_code": "DRILL", "setup_hours": 2.0},
        {"item_code": "A", "seq": 20, "op_code": "DEBURR", "setup_hours": 0.5},
    ])  # fmt: skip
    report = ExtractReport()
    arrays, strings = build_tables(items("A"), ops, wr, ["PART_TYPE"], report=report)
    steps = open_tables(tmp_path, arrays, strings).operations(0)
    assert [(s.op_code, s.actual_orders) for s in steps] == [
        ("MILL", 0),
        ("DRILL", 1),
        ("DEBURR", 1),
    ]
    assert steps[1].actual_setup == pytest.approx(120.0)
    assert not report.problems.get("work_results")


def test_it_keeps_missing_standard_times_missing(tmp_path):
    ops = operations([
        {"item_code": "A", "seq": 10, "op_code": "LTH", "setup_min": np.nan, "queue_min": np.nan},
        {"item_code": "B", "seq": 10, "op_code": "LTH", "setup_min": 22.0, "run_min": np.nan},
        {"item_code": "C", "seq": 10, "op_code": "LTH", "setup_min": np.nan, "run_min": 4.0},
    ])  # fmt: skip
    arrays, strings = build_tables(items("A", "B", "C"), ops, None, ["PART_TYPE"])
    assert np.isnan(arrays["op_setup"][0]) and np.isnan(arrays["op_queue"][0])
    assert arrays["op_setup"][1] == 22.0 and np.isnan(arrays["op_run"][1])
    model = SimpleNamespace(tables=open_tables(tmp_path, arrays, strings))
    members = [(0, 0.9), (1, 0.8), (2, 0.7)]  # routing rows of A, B, C
    [op] = candidate_operations(model, 0, members, prefer_actuals=False, percentiles=[90])
    assert op["setup_min"] == 22.0  # the weighted median of {22}, not of {0, 22, 0}
    assert op["run_min"] == 2.0  # the median of {2, 4}: B's missing run time is skipped
    assert op["time_samples"] == {
        "setup_min": 1, "run_min": 2, "queue_min": 0, "wait_min": 1, "move_min": 1
    }  # fmt: skip
    assert op["queue_min"] is None and op["samples"] == 3  # A's own queue time is unknown
    [own] = own_routing(model, 0, prefer_actuals=False, percentiles=[])
    assert own["setup_min"] is None and own["run_min"] == 2.0
    assert own["time_samples"]["setup_min"] == 0 and own["time_samples"]["run_min"] == 1
    assert not any(isinstance(v, float) and math.isnan(v) for v in own.values())


def test_it_keys_routings_beyond_100000_routing_numbers(tmp_path):
    # item A has 100,001 routings; B's first routing shares A's first number: the old key
    # (item row × 100000 + routing code) gave A's last routing and B's first the same key
    n = 100_001
    ops = pd.concat(
        [
            operations([{"item_code": "A", "seq": 10, "op_code": "LTH"}] * n).assign(
                routing_no=[f"R{i:06d}" for i in range(n)]
            ),
            operations([{"item_code": "B", "seq": 10, "op_code": "MILL", "routing_no": "R000000"}]),
        ],
        ignore_index=True,
    )
    arrays, _ = build_tables(items("A", "B"), ops, None, ["PART_TYPE"])
    assert len(arrays["rt_no"]) == n + 1
    assert arrays["item_rt_end"][0] - arrays["item_rt_start"][0] == n
    assert arrays["item_rt_end"][1] - arrays["item_rt_start"][1] == 1
    b_routing = arrays["item_rt_start"][1]
    assert arrays["rt_op_end"][b_routing] - arrays["rt_op_start"][b_routing] == 1


def test_stored_values_come_back_as_written_without_a_string_per_value_at_open(tmp_path):
    values = {
        "NAME": ["Welle Ø 40", "", "품목 A", "line\r\nbreak", "plain"],
        "EMPTY": [],
        "CODE": ["007", "D20x150"],
    }
    arrays = {"item_codes": np.array(["A", "B"]), "item_attrs": np.array([[0, -1, 1], [2, -1, 0]])}
    save_tables(tmp_path, arrays, {"attributes": values, "routing_no": ["01"]})
    stored = json.loads((tmp_path / "tables" / "strings.json").read_text())
    assert "attributes" not in stored and stored["routing_no"] == ["01"]
    tables = RoutingTables(tmp_path, list(values))
    columns = tables.strings["attributes"]
    assert all(type(c) is StoredValues for c in columns.values())
    assert {name: list(c) for name, c in columns.items()} == values
    name = columns["NAME"]
    assert [name[i] for i in range(5)] == values["NAME"] and name[-1] == "plain"
    assert name[1:3] == ["", "품목 A"] and len(columns["EMPTY"]) == 0
    with pytest.raises(IndexError):
        name[5]
    assert tables.attributes(0) == {"NAME": "Welle Ø 40", "EMPTY": None, "CODE": "D20x150"}
    assert tables.attributes(1) == {"NAME": "품목 A", "EMPTY": None, "CODE": "007"}


def older_layout(folder: Path) -> None:
    """Tables of one attribute saved as a version before the packed values stored them: the
    value lists in strings.json."""
    arrays = {"item_codes": np.array(["A"]), "item_attrs": np.array([[1]])}
    save_tables(folder, arrays, {"attributes": {"PART_TYPE": ["SL", "SH"]}})
    tables = folder / "tables"
    for name in ("attr_text", "attr_offsets"):  # the layout before the packed values
        (tables / f"{name}.npy").unlink()
    (tables / "strings.json").write_text(json.dumps({"attributes": {"PART_TYPE": ["SL", "SH"]}}))


def test_a_version_with_value_lists_in_strings_json_still_opens(tmp_path):
    older_layout(tmp_path)
    assert RoutingTables(tmp_path, ["PART_TYPE"]).attributes(0) == {"PART_TYPE": "SH"}


def test_counts_that_do_not_match_the_stored_values_are_refused(tmp_path):
    arrays = {"item_codes": np.array(["A"]), "item_attrs": np.array([[0]])}
    save_tables(tmp_path, arrays, {"attributes": {"PART_TYPE": ["SL", "SH"]}})
    path = tmp_path / "tables" / "strings.json"
    path.write_text(json.dumps({"attribute_counts": [["PART_TYPE", 3]]}))
    with pytest.raises(ValueError, match="does not hold 3 values"):
        RoutingTables(tmp_path, ["PART_TYPE"])


@pytest.mark.parametrize(
    "values",
    [
        ["a", None, "", "b", None, "a"],  # "" after the first missing value
        ["", "a", None, "b", ""],  # "" before it
        ["a", float("nan"), "b", None, "c"],  # no "" at all: missing takes its place
        [None, None],
        ["a", "b", "a"],
        [],
    ],
)
def test_filled_ids_are_those_of_the_filled_column(values):
    from registry_app.pipeline.tables import _factorize_filled

    column = pd.Series(values, dtype=object)
    codes, uniques = pd.factorize(column.fillna(""))
    ids, table = _factorize_filled(column)
    assert ids.tolist() == codes.tolist() and table == [str(u) for u in uniques]


def test_catalog_names_are_the_most_frequent_with_ties_as_value_counts_breaks_them():
    rng = np.random.default_rng(4)
    n = 600  # few codes and names: many (code, name) pairs tie on their count
    codes = rng.choice(["MILL", "DRILL", "LATHE", None], n).tolist()
    names = rng.choice(["Milling", "Drilling", "", None, "Turning"], n).tolist()
    ops = operations(
        [
            {"item_code": "A", "seq": 10 * (i + 1), "op_code": c, "op_name": m}
            for i, (c, m) in enumerate(zip(codes, names, strict=True))
        ]
    )
    arrays, strings = build_tables(items("A"), ops, None, ["PART_TYPE"])
    pairs = ops[["op_code", "op_name"]].fillna("").astype(str).value_counts().reset_index()
    expected = dict(pairs.drop_duplicates("op_code")[["op_code", "op_name"]].to_numpy())
    assert strings["catalog"]["op_code"] == expected
    assert set(expected) == {"MILL", "DRILL", "LATHE", ""}


def test_results_of_unknown_items_or_far_apart_seqs_match_exactly_their_step(tmp_path):
    """A result whose item no operation has, or that names no item, attaches nowhere and is
    counted; seq numbers far apart (ids from a hash pass) still find their step."""
    ops = operations([
        {"item_code": "A", "seq": 10, "op_code": "MILL"},
        {"item_code": "A", "seq": 10**12, "op_code": "PACK"},
        {"item_code": "B", "seq": 10, "op_code": "MILL"},
    ])  # fmt: skip
    wr = results([
        {"item_code": "A", "seq": 10**12, "op_code": "PACK", "setup_hours": 0.5},
        {"item_code": "B", "seq": 10, "op_code": "MILL", "setup_hours": 2},
        {"item_code": "Z", "seq": 10, "op_code": "MILL", "setup_hours": 9},  # no such item
        {"item_code": None, "seq": 10, "op_code": "MILL", "setup_hours": 9},
    ])  # fmt: skip
    report = ExtractReport()
    arrays, strings = build_tables(items("A", "B"), ops, wr, ["PART_TYPE"], report=report)
    assert arrays["op_act_n"].tolist() == [0, 1, 1]
    assert arrays["op_act_setup"][1:].tolist() == [30.0, 120.0]
    assert report.problems["work_results"] == {
        "work result for no current (item, routing, seq): not attached": 2
    }


def test_item_codes_are_found_and_longer_codes_are_not_looked_up(tmp_path, monkeypatch):
    codes = [f"IT{i:04d}" for i in range(50)]
    ops = operations([{"item_code": c, "seq": 10, "op_code": "LTH"} for c in codes])
    arrays, strings = build_tables(items(*codes), ops, None, ["PART_TYPE"])
    tables = open_tables(tmp_path, arrays, strings)
    assert tables.codes.dtype == np.dtype("<U6")
    searched, original = [], np.searchsorted

    def searchsorted(column, value, *args, **kwargs):
        searched.append(np.asarray(value).dtype)
        return original(column, value, *args, **kwargs)

    monkeypatch.setattr("registry_app.pipeline.tables.np.searchsorted", searchsorted)
    assert [tables.row_of(c) for c in ("IT0000", "IT0031", "IT0049")] == [0, 31, 49]
    assert [tables.row_of(c) for c in ("IT0050", "IT003", "", "A")] == [None] * 4
    assert all(dtype.itemsize <= tables.codes.dtype.itemsize for dtype in searched)
    # longer than every stored code: not searched (numpy would copy the whole column into the
    # wider string type first, at every such request)
    searched.clear()
    assert tables.row_of("IT0031-REV-B") is None
    assert tables.row_of("IT0031" + "\u00e9" * 40) is None
    assert searched == []


def test_the_batch_reader_gives_the_one_by_one_readers_values(tmp_path):
    long_code = "D" * 300 + "-Ø40×150-품목"  # longer than any other, multi-byte
    values = {
        "NAME": ["Welle Ø 40", "", "품목 A", "line\r\nbreak", long_code, "plain"],
        "EMPTY": [],
        "CODE": ["007", "D20x150", "x" * 5000],
    }
    arrays = {"item_codes": np.array(["A", "B"]), "item_attrs": np.array([[0, -1, 1], [2, -1, 0]])}
    save_tables(tmp_path, arrays, {"attributes": values, "routing_no": ["01"]})
    tables = RoutingTables(tmp_path, list(values))
    columns = tables.strings["attributes"]
    for name, column in columns.items():
        ids = [*range(len(column)), -1, *reversed(range(len(column))), -1]  # repeats, missing
        one_by_one = [column[i] if i >= 0 else None for i in ids]
        assert column.take(ids) == one_by_one
        assert column.take(np.array(ids, dtype=np.int32)) == one_by_one
        assert tables.attribute_values(name, ids) == one_by_one
        assert column.take([]) == [] and column.take([-1, -1]) == [None, None]
        with pytest.raises(IndexError):
            column.take([0, len(column)])  # beyond the attribute's values
    assert columns["NAME"].take([4]) == [long_code]
    assert columns["CODE"].take([2, 0]) == ["x" * 5000, "007"]
    # several attributes in one call: each part its own values
    parts = [("CODE", [2, -1, 0]), ("EMPTY", [-1]), ("NAME", [4, 1, -1, 0]), ("CODE", [])]
    assert tables.attribute_values_many(parts) == [
        [columns[name][i] if i >= 0 else None for i in ids] for name, ids in parts
    ]
    assert tables.attribute_values_many([]) == []
    with pytest.raises(IndexError):  # an id beyond its own attribute's values
        tables.attribute_values_many([("NAME", [0]), ("CODE", [3])])


def test_the_batch_reader_reads_an_older_versions_value_lists(tmp_path):
    older_layout(tmp_path)
    tables = RoutingTables(tmp_path, ["PART_TYPE"])
    assert tables.attribute_values("PART_TYPE", [1, -1, 0]) == ["SH", None, "SL"]
    parts = [("PART_TYPE", [0]), ("PART_TYPE", [-1, 1])]
    assert tables.attribute_values_many(parts) == [["SL"], [None, "SH"]]


def test_item_codes_and_routings_read_at_once_equal_the_one_by_one_reads(tmp_path):
    arrays = {
        "item_codes": np.array(["A", "B-" + "9" * 80, "C"]),
        "item_attrs": np.array([[0], [0], [0]]),
        "item_rt_start": np.array([0, 1, 1], dtype=np.int32),
        "item_rt_end": np.array([1, 1, 3], dtype=np.int32),
        "rt_primary": np.array([True, False, True]),
    }
    save_tables(tmp_path, arrays, {"attributes": {"PART_TYPE": ["SL"]}})
    tables = RoutingTables(tmp_path, ["PART_TYPE"])
    rows = [2, 0, 1, 1]
    assert tables.codes_of(rows) == [tables.code_of(r) for r in rows] and tables.codes_of([]) == []
    assert all(type(c) is str for c in tables.codes_of(rows))
    assert [tables.has_routing(r) for r in range(3)] == [
        bool(tables.routings_of(r)) for r in range(3)
    ]
