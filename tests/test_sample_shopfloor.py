"""The shop-floor style of the sample data: an order log with per-order routing variation."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry_app.pipeline.sample_data import generate
from registry_app.pipeline.sample_shopfloor import ORDER_TABLE, STEP_TABLE


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def digest(path: Path, tables) -> str:
    h = hashlib.sha256()
    for table in tables:
        for row in rows(path, f'SELECT * FROM "{table}" ORDER BY rowid'):
            h.update(repr(row).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def log(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("shopfloor") / "log.sqlite"
    generate(path, items=4000, seed=3, style="shopfloor")
    return path


def routings(path: Path) -> dict[str, tuple]:
    out: dict[str, list] = {}
    for order, op, machine in rows(
        path, f"SELECT ORDER_NO, OP, MACHINE FROM {STEP_TABLE} ORDER BY ORDER_NO, STEP"
    ):
        out.setdefault(order, []).append((op, machine))
    return {k: tuple(v) for k, v in out.items()}


def test_the_default_style_is_unchanged_for_a_seed(tmp_path):
    path = tmp_path / "plant.sqlite"
    generate(path, items=300, seed=5)
    tables = ("dbo_BI_ITEM_INFO_VIEW", "dbo_BI_ROUTING_VIEW", "dbo_BI_WORK_ORDER_RESULTS")
    assert digest(path, tables) == (
        "323d6ed2c7ee372f41cbbfe8d58f6c3c9f4c5265e1f9874b88a6c7c6d267267e"
    )


def test_same_seed_same_log_and_another_seed_another(tmp_path):
    a, b, c = (tmp_path / f"{n}.sqlite" for n in "abc")
    generate(a, 500, seed=9, style="shopfloor")
    generate(b, 500, seed=9, style="shopfloor")
    generate(c, 500, seed=10, style="shopfloor")
    tables = (ORDER_TABLE, STEP_TABLE)
    assert digest(a, tables) == digest(b, tables) != digest(c, tables)


def test_one_row_per_order_with_few_attributes(log):
    columns = [r[1] for r in rows(log, f"PRAGMA table_info({ORDER_TABLE})")]
    assert columns == ["ORDER_NO", "PART_NO", "DESCRIPTION", "MATERIAL", "QTY", "ORDER_DATE"]
    orders = rows(log, f"SELECT ORDER_NO, DESCRIPTION, MATERIAL, QTY FROM {ORDER_TABLE}")
    assert len(orders) == 4000 == len({o[0] for o in orders})
    assert all(o[1] and o[3] >= 1 for o in orders)
    missing_material = sum(o[2] is None for o in orders) / len(orders)
    assert 0.3 < missing_material < 0.5
    assert len(routings(log)) == 4000  # every order has its routing; no work-order actuals
    assert rows(log, "SELECT name FROM sqlite_master WHERE name LIKE '%RESULT%'") == []


def test_parts_repeat_with_a_long_tail(log):
    per_part = Counter(r[0] for r in rows(log, f"SELECT PART_NO FROM {ORDER_TABLE}"))
    counts = sorted(per_part.values(), reverse=True)
    assert counts[0] >= 20  # a few parts ordered dozens of times
    assert sum(c <= 2 for c in counts) / len(counts) > 0.5  # most parts once or twice


def test_orders_of_one_part_vary_in_routing_and_in_spelling(log):
    steps = routings(log)
    by_part: dict[str, list] = {}
    for order, part, text in rows(log, f"SELECT ORDER_NO, PART_NO, DESCRIPTION FROM {ORDER_TABLE}"):
        by_part.setdefault(part, []).append((steps[order], text))
    frequent = [v for v in by_part.values() if len(v) >= 10]
    assert frequent
    for orders in frequent:
        assert len({r for r, _ in orders}) > 1, "routings of a part differ from order to order"
        assert len({t for _, t in orders}) > 1, "descriptions vary in spelling and word order"
        most = Counter(r for r, _ in orders).most_common(1)[0][1]
        assert most < len(orders)
    ops = [[op for op, _ in r] for r in steps.values()]
    assert any(len(o) != len(set(o)) for o in ops), "some steps are repeated (re-work)"


def test_the_command_takes_the_style_and_refuses_an_unknown_one(tmp_path, capsys):
    out = tmp_path / "log.sqlite"
    call_command(
        "make_sample_data", "--items", "200", "--seed", "1", "--style", "shopfloor",
        "--out", str(out), verbosity=0,
    )  # fmt: skip
    assert capsys.readouterr().out.startswith(f"Wrote {out}: 200 items")
    assert rows(out, f"SELECT COUNT(*) FROM {ORDER_TABLE}") == [(200,)]
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("make_sample_data", "--items", "5", "--style", "erp", "--out", str(out))
    with pytest.raises(ValueError, match="style must be one of"):
        generate(tmp_path / "x.sqlite", 5, seed=1, style="erp")


def test_the_shipped_profile_reads_the_log_and_keeps_the_part_number_out_of_the_features(
    log, settings
):
    import json

    settings.ROUTING_SOURCE_ROOTS = str(log.parent)  # a data source may read the log's folder
    from registry_app.pipeline.evaluation import group_keys
    from registry_app.pipeline.extract import extract
    from routing_core.features import FeatureEncoder

    profile = json.loads(
        (Path(__file__).parents[1] / "registry_app/pipeline/shopfloor_profile.json").read_text()
    )
    data = extract(profile, source=f"sqlite:///{log}")
    assert len(data.items) == 4000 and data.work_results.empty
    encoder = FeatureEncoder.from_attributes(profile["attributes"], None, 16)
    assert [c.name for c in encoder.codecs] == ["DESCRIPTION", "MATERIAL", "QTY"]
    assert encoder.codecs[0].numbers == 2 and encoder.codecs[0].words
    families = group_keys(data.items, profile["attributes"])
    parts = data.items["PART_NO"].to_numpy()
    assert len(set(families.tolist())) == len(set(parts.tolist()))  # one family per part
