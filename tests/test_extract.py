"""Extraction to the canonical frames, and the input mapping profiles that drive it."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from registry_app.pipeline.canonical import OPERATION_COLUMNS, WORK_RESULT_COLUMNS
from registry_app.pipeline.extract import _key_order, clean_text, extract, text_column
from registry_app.pipeline.sample_data import generate
from routing_site.errors import BadInput
from tests.conftest import register_source
from workflow_app.profiles import load_default_profile, resolve_source, validate_profile

pytestmark = pytest.mark.usefixtures("source_roots")

ROUTING_COLS = (
    "ITEM_CD ROUT_NO PROC_SEQ JOB_CD JOB_NM RES_CD RES_DIS INSIDE_FLAG TIME_UNIT SETUP_TIME "
    "RUN_TIME RUN_TIME_QTY QUEUE_TIME WAIT_TIME MOVE_TIME MFG_LT INSRT_DT VALID_FROM_DT VALID_TO_DT"
).split()


def write_db(path: Path, tables: dict[str, tuple[list[str], list[tuple]]]) -> str:
    with sqlite3.connect(path) as conn:
        for name, (columns, rows) in tables.items():
            conn.execute(f'CREATE TABLE "{name}" ({", ".join(columns)})')  # no types: as given
            conn.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(columns))})', rows)
    return f"sqlite:///{path}"


def small_profile(**changes) -> dict:
    """plant-default with four attributes and no work results, unless changed."""
    profile = load_default_profile()
    keep = {"PART_TYPE", "ITEM_NM", "OUTDIAMETER", "ITEM_MATERIAL"}
    profile["attributes"] = [a for a in profile["attributes"] if a["name"] in keep]
    profile["tables"]["work_results"] = None
    profile.update(changes)
    return profile


def op(item, seq, unit="MIN", setup=10.0, run=2.0, qty=1, rout="01", job="LTH1", flag="Y", **kw):
    row = dict(zip(ROUTING_COLS, [None] * len(ROUTING_COLS), strict=True))
    row.update(
        ITEM_CD=item, ROUT_NO=rout, PROC_SEQ=seq, JOB_CD=job, JOB_NM="Turning", RES_CD="CNC-L01"
    )
    row.update(RES_DIS="Lathe", INSIDE_FLAG=flag, TIME_UNIT=unit, SETUP_TIME=setup, RUN_TIME=run)
    row.update(RUN_TIME_QTY=qty, QUEUE_TIME=0, WAIT_TIME=0, MOVE_TIME=0, MFG_LT=1)
    row.update(INSRT_DT="2024-03-01 08:00:00", VALID_FROM_DT="2024-03-01", VALID_TO_DT="9999-12-31")
    row.update(kw)
    return tuple(row[c] for c in ROUTING_COLS)


ITEM_COLS = ["ITEM_CD", "PART_TYPE", "ITEM_NM", "OUTDIAMETER", "ITEM_MATERIAL"]


def plant(tmp_path, items: list[tuple], ops: list[tuple]) -> str:
    return write_db(
        tmp_path / "plant.sqlite",
        {"dbo_BI_ITEM_INFO_VIEW": (ITEM_COLS, items), "dbo_BI_ROUTING_VIEW": (ROUTING_COLS, ops)},
    )


@pytest.fixture
def item_rows() -> list[tuple]:
    return [("A1", "SL", "SLEEVE 45", 45.0, "SS316"), ("A2", "SR", "RING", 0, None)]


def test_times_are_minutes_whatever_the_unit_spelling(tmp_path, item_rows):
    spellings = [("MIN", 1), ("min", 1), ("M", 1), (" Minutes ", 1), ("H", 60), ("HR", 60),
                 ("hour", 60), ("Hrs", 60), ("SEC", 1 / 60), ("S", 1 / 60),
                 ("sec", 1 / 60)]  # fmt: skip
    waits = {"QUEUE_TIME": 2, "WAIT_TIME": 4, "MOVE_TIME": 3}
    ops = [op("A1", 10 * (i + 1), unit=u, setup=1.5, run=0.25, **waits)
           for i, (u, _) in enumerate(spellings)]  # fmt: skip
    data = extract(small_profile(), plant(tmp_path, item_rows, ops))
    frame = data.operations
    for i, (_, minutes) in enumerate(spellings):
        row = frame.iloc[i]
        assert row["setup_min"] == pytest.approx(1.5 * minutes, rel=1e-12)
        assert row["run_min"] == pytest.approx(0.25 * minutes, rel=1e-12)
        assert (row["queue_min"], row["wait_min"], row["move_min"]) == pytest.approx(
            (2 * minutes, 4 * minutes, 3 * minutes), rel=1e-12
        )
    assert frame.loc[4, "setup_min"] == 90.0 and frame.loc[8, "setup_min"] == 0.025
    assert data.report.problems.get("operations", {}) == {}


def test_it_treats_an_unknown_time_unit_as_a_bad_value(tmp_path, item_rows):
    ops = [op("A1", 10, unit=None, setup=2), op("A1", 20, unit="fortnight", setup=2), op("A1", 30)]
    profile = small_profile()
    profile["time_units"]["default"] = "H"
    data = extract(profile, plant(tmp_path, item_rows, ops))
    setup = data.operations["setup_min"].tolist()
    assert setup[0] == 120.0 and np.isnan(setup[1]) and setup[2] == 10.0  # never the default
    assert np.isnan(data.operations.loc[1, "run_min"])
    problems = data.report.problems["operations"]
    assert problems["missing time unit (TIME_UNIT): default used"] == 1
    assert problems["unknown time unit (TIME_UNIT): times missing (NaN)"] == 1
    assert "FORTNIGHT" in " ".join(data.report.examples["operations"]).upper()


def test_it_reads_the_time_unit_spellings_plants_write(tmp_path, item_rows):
    spellings = {"MIN": 1, "mins": 1, "Minute": 1, "MINUTES": 1, "Min": 1, "h": 60, "HR": 60,
                 "hrs": 60, "Hour": 60, "HOURS": 60, "Std": 60, "STD": 60, "s": 1 / 60,
                 "SEC": 1 / 60, "Secs": 1 / 60, "Sek": 1 / 60, "d": 1440, "DAY": 1440,
                 "Days": 1440}  # fmt: skip
    ops = [op("A1", 10 * (i + 1), unit=u, setup=3.0) for i, u in enumerate(spellings)]
    profile = small_profile()  # the profile's own lists lack MINS, Std, Sek and the days
    profile["time_units"] = {"default": "min", "minutes": ["MIN"], "hours": ["H"],
                             "seconds": ["S"]}  # fmt: skip
    data = extract(profile, plant(tmp_path, item_rows, ops))
    expected = [3.0 * minutes for minutes in spellings.values()]
    assert data.operations["setup_min"].tolist() == pytest.approx(expected, rel=1e-12)
    assert data.report.problems.get("operations", {}) == {}


def test_bad_values_are_counted_and_never_fatal(tmp_path, item_rows):
    ops = [
        op("A1", 10, setup="N/A", run="1,5"),  # text in a number column; a decimal comma
        op("A1", 20, qty=0),
        op("A1", 30, qty=None, setup=-5),
        op("A1", 40, VALID_FROM_DT="2019-02-30", INSRT_DT="garbage"),
        op("A1", 50, VALID_FROM_DT="20240105", VALID_TO_DT="2025/12/31"),
        op("A1", 60, flag=None),
    ]
    items = item_rows + [("A3", "SL", "SLEEVE", "45.0mm", "SS316")]
    data = extract(small_profile(), plant(tmp_path, items, ops))
    frame = data.operations
    assert len(frame) == 6
    assert np.isnan(frame.loc[0, "setup_min"]) and frame.loc[0, "run_min"] == 1.5
    assert frame["run_qty"].tolist() == [1.0] * 6
    assert np.isnan(frame.loc[2, "setup_min"])
    assert pd.isna(frame.loc[3, "valid_from"]) and pd.isna(frame.loc[3, "inserted_at"])
    assert frame.loc[4, "valid_from"] == pd.Timestamp("2024-01-05")
    assert frame.loc[4, "valid_to"] == pd.Timestamp("2025-12-31")
    assert frame["valid_to"].isna().sum() == 5  # 9999-12-31: open-ended, not a problem
    assert frame["in_house"].tolist() == [True] * 6
    ops_problems = data.report.problems["operations"]
    assert ops_problems["unparseable number in SETUP_TIME: NaN"] == 1
    assert ops_problems["run quantity (RUN_TIME_QTY) missing or not above 0: 1 used"] == 2
    assert ops_problems["negative time in SETUP_TIME: NaN"] == 1
    assert ops_problems["bad date in VALID_FROM_DT: NaT"] == 1
    assert ops_problems["bad date in INSRT_DT: NaT"] == 1
    assert "bad date in VALID_TO_DT: NaT" not in ops_problems
    assert ops_problems["missing in-house flag (INSIDE_FLAG): in-house assumed"] == 1
    assert data.report.problems["items"] == {"unparseable number in OUTDIAMETER: NaN": 1}
    assert "OUTDIAMETER='45.0mm'" in data.report.examples["items"]
    assert np.isnan(data.items.set_index("item_code").loc["A3", "OUTDIAMETER"])


def test_rows_missing_keys_are_dropped_and_counted(tmp_path, item_rows):
    items = item_rows + [(None, "SL", "X", 1, "Y"), ("   ", "SL", "X", 1, "Y")]
    ops = [
        op("A1", 10),
        op(None, 20),
        op("A1", None),
        op("A1", "x"),
        op("A1", 12.5),
        op("A1", 30, job=" "),
        op("A1", 40, rout=None),
    ]
    data = extract(small_profile(), plant(tmp_path, items, ops))
    assert data.items["item_code"].tolist() == ["A1", "A2"]
    assert data.operations["seq"].tolist() == [10]
    report = data.report
    assert report.rows_read == {"items": 4, "operations": 7}
    assert report.rows_kept == {"items": 2, "operations": 1}
    assert report.problems["items"] == {"missing item code (ITEM_CD): row dropped": 2}
    assert report.problems["operations"] == {
        "missing item_code (ITEM_CD): row dropped": 1,
        "unparseable number in PROC_SEQ: NaN": 1,
        "missing or fractional seq (PROC_SEQ): row dropped": 3,
        "missing op_code (JOB_CD): row dropped": 1,
        "missing routing_no (ROUT_NO): row dropped": 1,
    }


def test_duplicates_keep_their_first_row(tmp_path):
    items = [("A1", "SL", "first", 1.0, "SS316"), ("A1 ", "SR", "second", 2.0, "SS304")]
    ops = [
        op("A1", 20, setup=1),
        op("A1", 10, setup=2),
        op("A1", 20, setup=3),
        op("A1", 10, rout="02"),
    ]
    data = extract(small_profile(), plant(tmp_path, items, ops))
    assert data.items.to_dict("records") == [
        {
            "item_code": "A1",
            "PART_TYPE": "SL",
            "ITEM_NM": "first",
            "OUTDIAMETER": 1.0,
            "ITEM_MATERIAL": "SS316",
        }
    ]
    frame = data.operations
    assert list(zip(frame["routing_no"], frame["seq"], frame["setup_min"], strict=True)) == [
        ("01", 10, 2.0),
        ("01", 20, 1.0),
        ("02", 10, 10.0),
    ]
    assert data.report.problems["items"] == {"duplicate item code: first row kept": 1}
    assert data.report.problems["operations"] == {
        "repeated (item, routing, seq): first row kept": 1
    }
    assert "A1/01/20" in data.report.examples["operations"]


def test_the_output_is_exactly_the_canonical_model(tmp_path, item_rows):
    data = extract(
        small_profile(), plant(tmp_path, item_rows, [op("A2", 10, flag="N"), op("A1", 10)])
    )
    columns = ["item_code", "PART_TYPE", "ITEM_NM", "ITEM_MATERIAL", "OUTDIAMETER"]  # profile order
    assert list(data.items.columns) == columns
    assert list(data.operations.columns) == OPERATION_COLUMNS
    assert list(data.work_results.columns) == WORK_RESULT_COLUMNS and data.work_results.empty
    ops = data.operations
    assert ops["item_code"].tolist() == ["A1", "A2"]  # sorted by item, routing, seq
    assert ops["in_house"].tolist() == [True, False]
    dtypes = ops.dtypes
    assert dtypes["seq"] == np.int64 and dtypes["in_house"] == np.bool_
    assert dtypes["run_qty"] == np.float64
    for col in ("valid_from", "valid_to", "inserted_at"):
        assert str(dtypes[col]) == "datetime64[ns]"
    assert data.items["ITEM_MATERIAL"].tolist() == ["SS316", None]  # missing text is None
    assert data.items["OUTDIAMETER"].tolist() == [45.0, 0.0]  # a 0 stays 0
    assert data.work_results.dtypes["seq"] == np.int64


def test_text_cleaning_strips_blanks_and_writes_whole_numbers_without_decimals():
    raw = pd.Series(["  A ", "", None, 45.0, 45.5, float("nan"), 7, True, "nan"], dtype=object)
    assert clean_text(raw).tolist() == ["A", None, None, "45", "45.5", None, "7", "TRUE", "nan"]


@pytest.mark.parametrize(
    "raw, values, codes",
    [
        (["b", "a", "b", None], ["b", "a"], [0, 1, 0, -1]),  # clean already: codes kept
        (["b ", "b", "", None, " a", "  "], ["b", "a"], [0, 0, -1, -1, 1, -1]),
        (["b", "", "a"], ["b", "a"], [0, -1, 1]),  # clean but blank: missing
    ],
)
def test_text_columns_are_stripped_and_numbered_by_first_appearance(raw, values, codes):
    column = text_column(pd.Series(raw, dtype=object))
    assert column.values.tolist() == values and column.codes.tolist() == codes
    ranked = text_column(pd.Categorical(raw), ranked=True)
    assert ranked.values.tolist() == sorted(values)
    assert ranked.array().tolist() == column.array().tolist()


@pytest.mark.parametrize("seq_high", [40, 1 << 40])  # packed into one key; too wide: lexsort
def test_rows_sort_by_item_routing_and_seq_with_source_order_breaking_ties(seq_high):
    rng = np.random.default_rng(5)
    n = 5_000
    item, routing = rng.integers(0, 300, n), rng.integers(0, 3, n)
    seq = rng.integers(-seq_high, seq_high, n)
    seq[::7] = seq[0]  # ties on every key
    item[::7], routing[::7] = item[0], routing[0]
    expected = np.lexsort((np.arange(n), seq, routing, item))
    assert np.array_equal(_key_order(item, routing, seq), expected)
    assert _key_order(item[:0], routing[:0], seq[:0]).tolist() == []


def test_a_profile_with_other_names_reads_a_csv_export(db, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "parts.csv").write_text('PartNo,Family,Dia\nP-1,ring,"12,5"\nP-2,sleeve,\n')
    (folder / "steps.csv").write_text(
        "Part,Step,Op,Machine,Hours\nP-1,1,TURN,L1,0.5\nP-1,2,INSP,QC,0.1\nP-2,1,TURN,L2,\n"
    )
    profile = {
        "name": "other-plant",
        "source": register_source("other-plant", "csv", folder).name,
        "tables": {"items": "parts", "operations": "steps", "work_results": None},
        "columns": {
            "items": {"item_code": "PartNo"},
            "operations": {"item_code": "Part", "seq": "Step", "op_code": "Op",
                           "work_center": "Machine", "setup_min": "Hours"},
        },
        "attributes": [
            {"name": "family", "column": "Family", "kind": "categorical", "weight": 2},
            {"name": "diameter", "column": "Dia", "kind": "numeric", "weight": 1},
        ],
        "time_units": {"default": "hours"},
    }  # fmt: skip
    data = extract(profile)
    assert data.items.to_dict("list") == {
        "item_code": ["P-1", "P-2"],
        "family": ["ring", "sleeve"],
        "diameter": [12.5, pytest.approx(np.nan, nan_ok=True)],
    }
    ops = data.operations
    assert ops["routing_no"].tolist() == ["01", "01", "01"]  # no routing number column
    assert ops["in_house"].tolist() == [True, True, True]  # no in-house column
    assert ops["setup_min"].tolist()[:2] == [30.0, 6.0]  # hours, the profile's default unit
    assert np.isnan(ops["setup_min"].iloc[2])
    assert ops["run_min"].tolist() == [0.0, 0.0, 0.0] and ops["run_qty"].tolist() == [1.0] * 3
    assert ops["op_name"].tolist() == [None, None, None]
    assert data.work_results.empty


def test_extract_reads_the_default_source_when_the_profile_names_none(db, tmp_path, item_rows):
    url = plant(tmp_path, item_rows, [op("A1", 10)])
    register_source("default", "sqlite", url[len("sqlite:///") :])
    assert resolve_source(small_profile()).name == "default"
    calls = []
    data = extract(
        small_profile(), progress=lambda stage, fraction, msg: calls.append((stage, fraction))
    )
    assert len(data.items) == 2 and len(data.operations) == 1
    assert calls[0] == ("extract", 0.0) and calls[-1] == ("extract", 1.0)
    assert [f for _, f in calls] == sorted(f for _, f in calls)


def test_a_generated_plant_extracts_with_consistent_minutes(tmp_path):
    path = tmp_path / "plant.sqlite"
    generate(path, items=600, seed=4)
    data = extract(load_default_profile(), f"sqlite:///{path}")
    report = data.report
    assert report.rows_kept["items"] == 600 and report.rows_read == report.rows_kept
    assert len(data.work_results) > 0 and data.work_results["reported_at"].notna().all()
    with sqlite3.connect(path) as conn:
        raw = pd.read_sql(
            "SELECT ITEM_CD, ROUT_NO, PROC_SEQ, TIME_UNIT, SETUP_TIME FROM dbo_BI_ROUTING_VIEW",
            conn,
        )
    minutes = {
        "MIN": 1,
        "M": 1,
        "H": 60,
        "HR": 60,
        "HOUR": 60,
        "HRS": 60,
        "SEC": 1 / 60,
        "S": 1 / 60,
    }
    factor = raw["TIME_UNIT"].str.upper().map(minutes)
    expected = raw["SETUP_TIME"] * factor.fillna(1.0)
    merged = data.operations.merge(
        raw.assign(expected=expected),
        left_on=["item_code", "routing_no", "seq"],
        right_on=["ITEM_CD", "ROUT_NO", "PROC_SEQ"],
    )  # fmt: skip
    assert len(merged) == len(data.operations)
    assert np.allclose(merged["setup_min"], merged["expected"])
    lathe = data.operations[data.operations["op_code"] == "LTH1"]["setup_min"]
    assert 20 < lathe.median() < 90  # whatever unit each routing was written in


# --- mapping profiles ---------------------------------------------------------------------------


def test_the_default_profile_is_valid_and_normalised():
    profile = load_default_profile()
    assert profile["name"] == "plant-default" and profile["source"] == "default"
    assert len(profile["attributes"]) == 37
    assert "HR" in profile["time_units"]["hours"] and "Y" in profile["in_house_values"]
    assert validate_profile(profile) == profile


def test_validation_fills_defaults_and_upper_cases_spellings():
    spec = small_profile()
    del spec["time_units"], spec["in_house_values"]
    spec["attributes"][0].pop("weight")
    out = validate_profile(spec)
    assert out["time_units"]["default"] == "min" and "SEC" in out["time_units"]["seconds"]
    assert out["attributes"][0]["weight"] == 1.0
    spec = small_profile(in_house_values=["y", " Inside "])
    assert validate_profile(spec)["in_house_values"] == ["Y", "INSIDE"]


@pytest.mark.parametrize(
    "change, field, message",
    [
        (lambda p: p["attributes"][1].update(kind="fuzzy"), "attributes.1.kind", "must be one of"),
        (lambda p: p["attributes"][0].update(weight=0), "attributes.0.weight", "above 0"),
        (lambda p: p["attributes"][0].update(weight=1e6), "attributes.0.weight", "at most 100"),
        (lambda p: p["attributes"][0].update(weight="3"), "attributes.0.weight", "a number"),
        (lambda p: p["attributes"][2].update(name="PART_TYPE"), "attributes.2.name", "duplicate"),
        (lambda p: p["attributes"].clear(), "attributes", "non-empty list"),
        (lambda p: p["tables"].pop("items"), "tables.items", "required"),
        (lambda p: p["tables"].update(routes="x"), "tables.routes", "unknown table role"),
        (lambda p: p["columns"]["operations"].pop("seq"), "columns.operations.seq", "required"),
        (lambda p: p["columns"]["items"].pop("item_code"), "columns.items.item_code", "required"),
        (lambda p: p["columns"]["operations"].update(colour="X"), "columns.operations.colour",
         "unknown canonical field"),
        (lambda p: p["columns"]["operations"].update(op_name=""), "columns.operations.op_name",
         "source column"),
        (lambda p: p.update(source="mysql://erp"), "source", "not a location"),
        (lambda p: p.update(source="sqlite:////srv/plant.sqlite"), "source", "not a location"),
        (lambda p: p.update(source=["default"]), "source", "must name a registered"),
        (lambda p: p["time_units"].update(default="fortnight"), "time_units.default",
         "not a listed"),
        (lambda p: p["time_units"]["hours"].append("MIN"), "time_units.hours", "also listed"),
        (lambda p: p.update(in_house_values=[]), "in_house_values", "at least one"),
    ],
)  # fmt: skip
def test_validation_names_each_problem_by_field(change, field, message):
    spec = copy.deepcopy(small_profile())
    change(spec)
    with pytest.raises(BadInput) as err:
        validate_profile(spec)
    assert field in err.value.fields, err.value.fields
    assert any(message in m for m in err.value.fields[field]), err.value.fields[field]


def test_validation_reports_every_problem_at_once():
    spec = small_profile()
    spec["attributes"][0]["kind"] = "x"
    spec["attributes"][1]["weight"] = -1
    spec["columns"]["operations"].pop("op_code")
    with pytest.raises(BadInput) as err:
        validate_profile(spec)
    assert set(err.value.fields) == {
        "attributes.0.kind",
        "attributes.1.weight",
        "columns.operations.op_code",
    }
    assert err.value.detail.startswith("Invalid mapping profile: ")


def test_a_profile_must_be_an_object():
    with pytest.raises(BadInput, match="JSON object"):
        validate_profile(["not", "a", "profile"])


def test_reading_in_small_chunks_gives_the_same_frames(tmp_path, monkeypatch):
    from registry_app.pipeline import sources

    path = tmp_path / "plant.sqlite"
    generate(path, items=300, seed=9)
    whole = extract(load_default_profile(), f"sqlite:///{path}")
    monkeypatch.setattr(sources, "FETCH_ROWS", 97)
    chunked = extract(load_default_profile(), f"sqlite:///{path}")
    for name in ("items", "operations", "work_results"):
        pd.testing.assert_frame_equal(getattr(whole, name), getattr(chunked, name))


def test_freed_memory_goes_back_to_the_system_where_the_c_library_can(monkeypatch):
    from registry_app.pipeline import extract as module

    calls = []

    class Libc:
        def malloc_trim(self, pad):
            calls.append(pad)

    monkeypatch.setattr(module.sys, "platform", "linux")
    monkeypatch.setattr(module.ctypes, "CDLL", lambda name: Libc())
    module.give_back_freed_memory()
    assert calls == [0]
    monkeypatch.setattr(module.ctypes, "CDLL", lambda name: object())  # musl: no malloc_trim
    module.give_back_freed_memory()
    monkeypatch.setattr(module.sys, "platform", "win32")
    monkeypatch.setattr(module.ctypes, "CDLL", lambda name: Libc())
    module.give_back_freed_memory()
    assert calls == [0]
