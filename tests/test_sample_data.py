"""The synthetic plant database: shape, determinism, and the properties the model relies on."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry_app.pipeline.sample_data import (
    ITEM_COLUMNS,
    ITEM_TABLE,
    ROUTING_TABLE,
    WORK_ORDER_TABLE,
    generate,
)

DESIGN_ITEM_ATTRIBUTES = (
    "PART_TYPE, PartNm, ITEM_SUFFIX, ITEM_SPEC, ITEM_NM, ADDITIONAL_SPEC, ITEM_MATERIAL, "
    "MATERIAL_DESC, ITEM_ACCT, ITEM_TYPE, ITEM_UNIT, ITEM_GRP1, ITEM_GRP1NM, STANDARD_YN, GROUP1, "
    "GROUP2, DRAW_NO, DRAW_REV, DRAW_SHEET_NO, OUTDIAMETER, INDIAMETER, OUTTHICKNESS, "
    "OUTDIAMETER_UNIT, ROTATE_CLOCKWISE, ROTATE_CTRCLOCKWISE, SealTypeGrup, IN_SEALTYPE_CD, "
    "MID_SEALTYPE_CD, OUT_SEALTYPE_CD, IN_SEALSIZE, MID_SEALSIZE, OUT_SEALSIZE, IN_SEALSIZE_UOM, "
    "MID_SEALSIZE_UOM, OUT_SEALSIZE_UOM, RAW_MATL_KIND, RAW_MATL_KINDNM"
).split(", ")
DESIGN_ROUTING = (
    "ITEM_CD ROUT_NO PROC_SEQ JOB_CD JOB_NM RES_CD RES_DIS INSIDE_FLAG TIME_UNIT "
    "SETUP_TIME RUN_TIME "
    "RUN_TIME_QTY QUEUE_TIME WAIT_TIME MOVE_TIME MFG_LT INSRT_DT VALID_FROM_DT VALID_TO_DT"
).split()
DESIGN_WORK_ORDERS = (
    "ITEM_CD ROUT_NO PROC_SEQ JOB_CD RES_CD REPORT_DT "
    "SETUP_HOURS MACH_WORKED_HOURS ORDER_QTY BAD_QTY"
).split()


@pytest.fixture(scope="module")
def plant(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plant") / "plant.sqlite"
    generate(path, items=4000, seed=11)
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def table_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for table in (ITEM_TABLE, ROUTING_TABLE, WORK_ORDER_TABLE):
        for row in rows(path, f'SELECT * FROM "{table}" ORDER BY rowid'):
            digest.update(repr(row).encode())
    return digest.hexdigest()


def routing_sequences(path: Path) -> dict[tuple[str, str], str]:
    seqs: dict[tuple[str, str], list[str]] = {}
    for item, rout, op in rows(
        path,
        f"SELECT ITEM_CD, ROUT_NO, JOB_CD FROM {ROUTING_TABLE} ORDER BY ITEM_CD, ROUT_NO, PROC_SEQ",
    ):
        seqs.setdefault((item, rout), []).append(op)
    return {k: "|".join(v) for k, v in seqs.items()}


def test_it_is_deterministic_for_a_seed(tmp_path):
    a, b, c = tmp_path / "a.sqlite", tmp_path / "b.sqlite", tmp_path / "c.sqlite"
    counts_a = generate(a, items=800, seed=5)
    counts_b = generate(b, items=800, seed=5)
    generate(c, items=800, seed=6)
    assert table_digest(a) == table_digest(b)
    assert table_digest(a) != table_digest(c)
    assert {k: v for k, v in counts_a.items() if k != "seconds"} == {
        k: v for k, v in counts_b.items() if k != "seconds"
    }


def test_it_writes_the_design_tables_and_columns(plant):
    tables = {r[0] for r in rows(plant, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {ITEM_TABLE, ROUTING_TABLE, WORK_ORDER_TABLE}

    def columns(table):
        return [r[1] for r in rows(plant, f'PRAGMA table_info("{table}")')]

    assert columns(ITEM_TABLE) == ["ITEM_CD", *DESIGN_ITEM_ATTRIBUTES] == ITEM_COLUMNS
    assert columns(ROUTING_TABLE) == DESIGN_ROUTING
    assert columns(WORK_ORDER_TABLE) == DESIGN_WORK_ORDERS
    profile = json.loads(
        (Path(__file__).parent.parent / "workflow_app/defaults/plant-default.json").read_text()
    )
    assert [a["column"] for a in profile["attributes"]] == DESIGN_ITEM_ATTRIBUTES


def test_it_leaves_no_temporary_file_behind(tmp_path):
    folder = tmp_path / "out"
    generate(folder / "plant.sqlite", items=50, seed=1)
    assert [p.name for p in folder.iterdir()] == ["plant.sqlite"]


def test_item_codes_are_unique_and_dates_are_iso_text(plant):
    ((n, distinct),) = rows(plant, f"SELECT count(*), count(DISTINCT ITEM_CD) FROM {ITEM_TABLE}")
    assert n == distinct == 4000
    dates = rows(
        plant, f"SELECT INSRT_DT, VALID_FROM_DT, VALID_TO_DT FROM {ROUTING_TABLE} LIMIT 50"
    )
    for inserted, valid_from, valid_to in dates:
        assert len(inserted) == 19 and inserted[4] == "-" and inserted[10] == " "
        assert len(valid_from) == 10 and len(valid_to) == 10
    ((report,),) = rows(plant, f"SELECT min(REPORT_DT) FROM {WORK_ORDER_TABLE}")
    assert report >= "2021-01-01"


def test_it_is_as_sparse_as_the_plant_export(plant):
    n = 4000
    empty = {}
    for col in DESIGN_ITEM_ATTRIBUTES:
        ((blank,),) = rows(
            plant,
            f"SELECT count(*) FROM {ITEM_TABLE} WHERE {col} IS NULL OR {col} = '' OR {col} = 0",
        )
        empty[col] = blank / n
    assert sum(share >= 0.75 for share in empty.values()) >= 5
    assert empty["MID_SEALSIZE_UOM"] == 1.0
    assert empty["PART_TYPE"] == 0.0
    for dim in ("OUTDIAMETER", "INDIAMETER", "OUTTHICKNESS"):
        ((zero,),) = rows(plant, f"SELECT avg({dim} = 0) FROM {ITEM_TABLE}")
        assert 0.25 < zero < 0.7
    ((spec,),) = rows(plant, f"SELECT count(DISTINCT ITEM_SPEC) FROM {ITEM_TABLE}")
    ((draw,),) = rows(plant, f"SELECT count(DISTINCT DRAW_NO) FROM {ITEM_TABLE}")
    assert max(spec, draw) > 1000


def test_routings_exist_for_most_items_and_end_with_final_inspection(plant):
    seqs = routing_sequences(plant)
    routed = {item for item, _ in seqs}
    assert 0.02 < 1 - len(routed) / 4000 < 0.09  # new items without a routing
    second = sum(1 for _, rout in seqs if rout == "02")
    assert 0.05 < second / len(routed) < 0.15
    assert {rout for _, rout in seqs} == {"01", "02"}
    final = sum(seq.endswith("INSP-F") for seq in seqs.values())
    assert final / len(seqs) > 0.8
    ((ops, centers),) = rows(
        plant, f"SELECT count(DISTINCT JOB_CD), count(DISTINCT RES_CD) FROM {ROUTING_TABLE}"
    )
    assert 25 <= ops <= 35 and 20 <= centers <= 35
    named = rows(
        plant, f"SELECT count(*) FROM {ROUTING_TABLE} WHERE JOB_NM IS NULL OR RES_DIS IS NULL"
    )
    assert named == [(0,)]
    flags = {r[0] for r in rows(plant, f"SELECT DISTINCT INSIDE_FLAG FROM {ROUTING_TABLE}")}
    assert flags == {"Y", "N"}


def test_time_units_are_spelled_many_ways_and_used_consistently(plant):
    units = {r[0] for r in rows(plant, f"SELECT DISTINCT TIME_UNIT FROM {ROUTING_TABLE}")}
    assert {"MIN", "min", "M", "H", "HR", "hour", "SEC", "S"} <= units
    median = {}
    for unit, factor in (("MIN", 1), ("H", 60), ("SEC", 1 / 60)):
        values = [
            r[0] * factor
            for r in rows(
                plant,
                f"SELECT SETUP_TIME FROM {ROUTING_TABLE} "
                f"WHERE JOB_CD = 'LTH1' AND TIME_UNIT = '{unit}'",
            )
        ]
        median[unit] = float(np.median(values))
    assert median["H"] == pytest.approx(median["MIN"], rel=0.25)
    assert median["SEC"] == pytest.approx(median["MIN"], rel=0.25)


def test_run_times_grow_with_the_diameter(plant):
    data = rows(
        plant,
        f"""SELECT i.OUTDIAMETER, r.RUN_TIME, r.TIME_UNIT, r.RUN_TIME_QTY FROM {ROUTING_TABLE} r
            JOIN {ITEM_TABLE} i ON i.ITEM_CD = r.ITEM_CD
            WHERE r.JOB_CD = 'LTH1' AND i.OUTDIAMETER > 0
              AND r.TIME_UNIT = 'MIN' AND r.RUN_TIME_QTY = 1""",
    )
    od, run = np.array([(d[0], d[1]) for d in data]).T
    assert np.corrcoef(np.log(od), np.log(run))[0, 1] > 0.5


def test_items_of_one_family_share_routings_far_more_than_random_pairs(plant):
    seqs = routing_sequences(plant)
    family = {
        item: (pt, seal, mat)
        for item, pt, seal, mat in rows(
            plant, f"SELECT ITEM_CD, PART_TYPE, SealTypeGrup, ITEM_MATERIAL FROM {ITEM_TABLE}"
        )
    }
    items = sorted(item for item, rout in seqs if rout == "01")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(items), 20000), rng.integers(0, len(items), 20000)
    random_same = np.mean(
        [
            seqs[(items[i], "01")] == seqs[(items[j], "01")]
            for i, j in zip(a, b, strict=True)
            if i != j
        ]
    )
    groups: dict = {}
    for item in items:
        groups.setdefault(family[item], []).append(seqs[(item, "01")])
    pairs = [
        (g[i], g[j])
        for g in groups.values()
        for i, j in zip(range(len(g) - 1), range(1, len(g)), strict=True)
    ]
    family_same = np.mean([x == y for x, y in pairs])
    assert family_same > 5 * random_same
    assert family_same > 0.15


def test_near_duplicates_share_drawing_and_name_stems(plant):
    data = rows(plant, f"SELECT ITEM_CD, ITEM_SUFFIX, DRAW_NO, ITEM_NM FROM {ITEM_TABLE}")
    codes = {r[0] for r in data}
    variants = [r for r in data if r[1] and r[1] != "N" and r[0][: -len(r[1])] in codes]
    assert len(variants) / len(data) > 0.1
    by_code = {r[0]: r for r in data}
    shared = 0
    for code, suffix, draw, name in variants:
        base = by_code[code[: -len(suffix)]]
        if draw and base[2] and draw.startswith(base[2] + "-"):
            shared += 1
        if name and base[3]:
            assert name.startswith(base[3].split(" ")[0])
    assert shared > 0.2 * len(variants)


def test_work_orders_scatter_around_the_standard_times(plant):
    ((share,),) = rows(
        plant,
        f"""SELECT count(DISTINCT w.ITEM_CD) * 1.0
                 / (SELECT count(DISTINCT ITEM_CD) FROM {ROUTING_TABLE})
            FROM {WORK_ORDER_TABLE} w""",
    )
    assert 0.3 < share < 0.5
    pairs = rows(
        plant,
        f"""SELECT w.SETUP_HOURS * 60, r.SETUP_TIME FROM {WORK_ORDER_TABLE} w
            JOIN {ROUTING_TABLE} r
              ON r.ITEM_CD = w.ITEM_CD AND r.ROUT_NO = w.ROUT_NO AND r.PROC_SEQ = w.PROC_SEQ
            WHERE r.TIME_UNIT = 'MIN' AND r.SETUP_TIME > 0""",
    )
    ratio = np.array([actual / standard for actual, standard in pairs])
    assert 0.8 < np.median(ratio) < 1.25
    assert (ratio > 2.5).mean() < 0.05  # outliers exist but are rare
    assert (ratio > 2.5).any()
    ((bad,),) = rows(
        plant, f"SELECT count(*) FROM {WORK_ORDER_TABLE} WHERE BAD_QTY > ORDER_QTY OR ORDER_QTY < 1"
    )
    assert bad == 0


# --- the management command -------------------------------------------------------------------


def test_the_command_writes_the_file_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "plant.sqlite"
    call_command(
        "make_sample_data", "--items", "120", "--seed", "3", "--out", str(out), verbosity=0
    )
    assert out.exists()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Wrote {out}: 120 items")


def test_the_command_refuses_to_overwrite_without_force(tmp_path):
    out = tmp_path / "plant.sqlite"
    out.write_text("keep me")
    with pytest.raises(CommandError, match="--force"):
        call_command("make_sample_data", "--items", "10", "--out", str(out), verbosity=0)
    assert out.read_text() == "keep me"
    call_command("make_sample_data", "--items", "10", "--out", str(out), "--force", verbosity=0)
    assert rows(out, f"SELECT count(*) FROM {ITEM_TABLE}") == [(10,)]


def test_the_command_defaults_to_the_routing_source_file(tmp_path, settings):
    target = tmp_path / "var" / "plant.sqlite"
    settings.ROUTING_SOURCE = f"sqlite:///{target.as_posix()}"
    call_command("make_sample_data", "--items", "20", "--seed", "1", verbosity=0)
    assert target.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--items", "0"], "--items must be between"),
        (["--items", "10", "--seed", "-1"], "--seed must be 0 or more"),
    ],
)
def test_the_command_rejects_bad_arguments(tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("make_sample_data", *args, "--out", str(tmp_path / "x.sqlite"), verbosity=0)


def test_the_command_rejects_a_folder_and_a_non_sqlite_default(tmp_path, settings):
    with pytest.raises(CommandError, match="is a folder"):
        call_command("make_sample_data", "--items", "10", "--out", str(tmp_path), verbosity=0)
    settings.ROUTING_SOURCE = "odbc:DSN=PLANT"
    with pytest.raises(CommandError, match="pass --out"):
        call_command("make_sample_data", "--items", "10", verbosity=0)
