"""Training's stages: the tables built in a process forked beside the features, then the index
in a thread beside the evaluation's preparation; the indexed rows; failures on either side."""

import json
import os
import threading
import time
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from registry_app.models import ModelVersion, RunState, TrainingRun, VersionState
from registry_app.pipeline import forking, training
from registry_app.pipeline import index as hnsw
from registry_app.pipeline.tables import build_tables

STAGES = {"extract", "features", "tables", "index", "evaluate", "package"}


def _log_order(run: TrainingRun) -> list[str]:
    """``stage event`` per log line (``index started``, ``tables done``, ...)."""
    out = []
    for line in run.log.splitlines():
        stage = line.split("[", 1)[1].split("]", 1)[0]
        message = line.split("] ", 1)[1] if "] " in line else ""
        if message == "started" or message.startswith("done in"):
            out.append(f"{stage} {message.split()[0]}")
    return out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _ended_beside(pid: int) -> bool:
    """The tables ran in a process that has ended (a thread of this one where there is no
    fork)."""
    return pid != os.getpid() and _gone(pid) if forking.can_fork() else pid == os.getpid()


def _recorded(path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_the_tables_are_built_in_a_forked_process_while_the_features_are_built(
    quick_training, monkeypatch, tmp_path, settings
):
    tables_file, seen = tmp_path / "tables-pid", {}
    real_features, real_tables = training._features, training.build_tables
    real_build = hnsw.build_repaired

    def features(*args, **kwargs):
        seen["features"] = (os.getpid(), threading.current_thread())
        deadline = time.monotonic() + 60
        while not tables_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        seen["tables began meanwhile"] = tables_file.exists()
        return real_features(*args, **kwargs)

    def tables(*args, **kwargs):
        tables_file.write_text(f"{os.getpid()}\n")  # in the forked process: seen only on disk
        return real_tables(*args, **kwargs)

    def build(*args, **kwargs):
        seen["index"] = threading.current_thread()
        return real_build(*args, **kwargs)

    monkeypatch.setattr(training, "_features", features)
    monkeypatch.setattr(training, "build_tables", tables)
    monkeypatch.setattr(hnsw, "build_repaired", build)
    version = quick_training()
    assert seen["tables began meanwhile"]  # the features waited for the tables and they came
    assert seen["features"] == (os.getpid(), threading.main_thread())
    [tables_pid] = _recorded(tables_file)
    assert _ended_beside(tables_pid)  # no process outlives the run
    assert seen["index"] is not threading.main_thread() and not seen["index"].is_alive()
    run = TrainingRun.objects.get(version=version)
    assert set(run.timings) == STAGES
    assert 0 < run.timings["tables"]
    order = _log_order(run)
    assert order.index("features started") < order.index("tables started")
    assert order.index("tables started") < order.index("features done")
    # the index starts as soon as the vectors are there, not after the tables
    assert order.index("features done") < order.index("index started")
    assert order.index("features done") < order.index("tables done") < order.index("index done")
    assert order.index("index done") < order.index("evaluate started")
    assert "evaluation prepared; waiting for the index" in run.log
    assert version.metrics["index_recall_at_10"] > 0.9


def test_what_the_forked_tables_counted_is_in_the_versions_extract_report(
    quick_training, monkeypatch, settings
):
    real_tables = training.build_tables

    def tables(*args, report=None, **kwargs):
        built = real_tables(*args, report=report, **kwargs)
        report.count("work_results", "no such step (counted by the tables)", 3, "order 7")
        return built

    monkeypatch.setattr(training, "build_tables", tables)
    version = quick_training()
    manifest = json.loads((settings.MODELS_DIR / version.label / "manifest.json").read_text())
    report = manifest["extract_report"]
    assert report["problems"]["work_results"] == {"no such step (counted by the tables)": 3}
    assert report["examples"]["work_results"] == ["order 7"]
    assert report["rows_read"]["items"] == version.data_counts["items"]  # extraction's own kept


def test_train_says_which_stage_ran_beside_which(quick_training):
    out = StringIO()
    call_command("train", "--wait", stdout=out)
    trained = next(ln for ln in out.getvalue().splitlines() if ln.startswith("Trained "))
    stages = trained.split("— ", 1)[1].split(", ")
    assert [s.split()[0] for s in stages] == [
        "extract",
        "features",
        "tables",
        "index",
        "evaluate",
        "package",
    ]
    assert stages[2].endswith("s (beside features)")
    assert "beside" not in stages[1] and "beside" not in stages[3]


def test_the_items_the_island_repair_linked_are_reported_everywhere(
    quick_training, monkeypatch, settings
):
    real_build = hnsw.build_repaired

    def build(*args, **kwargs):
        index, linked = real_build(*args, **kwargs)
        seen.append(linked)
        return index, 17  # a count no small graph gives by chance

    seen = []
    monkeypatch.setattr(hnsw, "build_repaired", build)
    out = StringIO()
    call_command("train", "--wait", stdout=out)
    assert len(seen) == 1 and isinstance(seen[0], int)
    version = ModelVersion.objects.get()
    assert version.metrics["index_islands_linked"] == 17
    manifest = json.loads((settings.MODELS_DIR / version.label / "manifest.json").read_text())
    assert manifest["metrics"]["index_islands_linked"] == 17
    run = TrainingRun.objects.get(version=version)
    assert "items indexed, 17 linked by the island repair, recall@10" in run.log
    trained = next(ln for ln in out.getvalue().splitlines() if ln.startswith("Trained "))
    assert trained.endswith("; index: 17 items linked by the island repair")


def test_the_indexed_rows_are_the_items_with_operations():
    items = pd.DataFrame({"item_code": ["A1", "A2", "B1", "B2", "C1"]})
    ops = pd.DataFrame({"item_code": ["A1", "A1", "B2", "ZZ", "C1"]})  # ZZ: no such item
    assert training.routed_rows(items, ops).tolist() == [0, 3, 4]
    assert training.routed_rows(items, ops.iloc[:0]).tolist() == []


def test_the_indexed_rows_are_the_tables_items_with_routings(plant_source):
    from registry_app.pipeline.extract import extract
    from workflow_app.config import get_input_profile

    profile = get_input_profile(None)
    data = extract(profile)
    items = data.items.sort_values("item_code", kind="stable").reset_index(drop=True)
    names = [a["name"] for a in profile["attributes"]]
    arrays, _ = build_tables(items, data.operations, data.work_results, names)
    routed = training.routed_rows(items, data.operations)
    assert 0 < len(routed) < len(items)  # the sample plant has items without a routing
    has_routing = arrays["item_rt_end"] > arrays["item_rt_start"]
    assert routed.tolist() == np.flatnonzero(has_routing).tolist()


def test_rows_the_tables_disagree_with_fail_the_run_and_keep_nothing(
    quick_training, monkeypatch, settings
):
    real = training.routed_rows
    monkeypatch.setattr(training, "routed_rows", lambda items, ops: real(items, ops)[1:])
    with pytest.raises(RuntimeError, match="items with routings in the tables differ"):
        quick_training()
    run = TrainingRun.objects.get()
    assert run.state == RunState.FAILED and "differ from the items given" in run.error
    assert ModelVersion.objects.get().state == VersionState.FAILED
    assert not list(settings.MODELS_DIR.glob(".tmp-*"))
    assert not list(settings.MODELS_DIR.glob("v*"))


def test_a_failing_tables_stage_waits_for_the_index_thread_and_keeps_nothing(
    quick_training, monkeypatch, settings, tmp_path
):
    tables_file, builds = tmp_path / "tables-pid", []
    real_build = hnsw.build_repaired

    def build(*args, **kwargs):
        builds.append(threading.current_thread())
        return real_build(*args, **kwargs)

    def broken(*args, **kwargs):
        tables_file.write_text(f"{os.getpid()}\n")
        raise ValueError("broken operations table")

    monkeypatch.setattr(hnsw, "build_repaired", build)
    monkeypatch.setattr(training, "build_tables", broken)
    with pytest.raises(ValueError, match="broken operations table"):
        quick_training()
    [tables_pid] = _recorded(tables_file)
    assert _ended_beside(tables_pid)
    assert builds and not builds[0].is_alive()  # no thread outlives the training
    run = TrainingRun.objects.get()
    assert run.state == RunState.FAILED and "broken operations table" in run.error
    order = _log_order(run)
    assert "features done" in order and "tables done" not in order and "index done" not in order
    assert ModelVersion.objects.get().state == VersionState.FAILED
    assert not list(settings.MODELS_DIR.glob(".tmp-*"))
    assert not list(settings.MODELS_DIR.glob("v*"))


def test_a_failing_features_stage_ends_the_tables_process_and_keeps_nothing(
    quick_training, monkeypatch, settings, tmp_path
):
    tables_file = tmp_path / "tables-pid"
    real_tables = training.build_tables

    def tables(*args, **kwargs):
        tables_file.write_text(f"{os.getpid()}\n")
        time.sleep(0.5)  # still busy when the features fail
        return real_tables(*args, **kwargs)

    def broken(*args, **kwargs):
        deadline = time.monotonic() + 30
        while not tables_file.exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # the tables have begun
        raise ValueError("broken attribute column")

    monkeypatch.setattr(training, "build_tables", tables)
    monkeypatch.setattr(training, "_features", broken)
    with pytest.raises(ValueError, match="broken attribute column"):
        quick_training()
    [tables_pid] = _recorded(tables_file)
    assert _ended_beside(tables_pid)  # it ended with the run
    run = TrainingRun.objects.get()
    assert run.state == RunState.FAILED and "broken attribute column" in run.error
    assert ModelVersion.objects.get().state == VersionState.FAILED
    assert not list(settings.MODELS_DIR.glob(".tmp-*"))
    assert not list(settings.MODELS_DIR.glob("v*"))


def _prepared_afresh(quick_training, settings) -> tuple:
    """A trained version, its stored evaluation prepared afresh on its files, and its index."""
    from registry_app.pipeline.evaluation import prepare_built
    from registry_app.pipeline.extract import extract
    from routing_core.features import FeatureEncoder
    from workflow_app.config import current_settings, get_input_profile

    version = quick_training()
    folder = settings.MODELS_DIR / version.label
    profile, config = get_input_profile(None), current_settings()
    encoder = FeatureEncoder.load(folder)
    arrays = {k: np.load(folder / "tables" / f"{k}.npy") for k in ("item_rt_start", "item_rt_end")}
    names = [a["name"] for a in profile["attributes"]]
    items = training.sorted_items(extract(profile).items)
    built = prepare_built(folder, encoder, arrays, names, items, config, profile["attributes"])
    return version, built, hnsw.load_index(folder, encoder.dim, config["hnsw_ef_search"])


def _stored_figures(version) -> dict:
    return {k: v for k, v in version.metrics.items() if not k.startswith("index_")}


def test_the_stored_evaluation_equals_one_prepared_after_the_index(quick_training, settings):
    """The evaluation prepared while the index is built (families, sample, attribute-value
    keys) gives the figures of one prepared afresh on the stored version."""
    version, built, index = _prepared_afresh(quick_training, settings)
    assert built.run(index) == _stored_figures(version)


@pytest.mark.skipif(not forking.can_fork(), reason="forks on Linux with two cores or more")
def test_the_evaluation_split_over_two_processes_gives_the_figures_of_one(
    quick_training, settings, monkeypatch
):
    """With the held-out items split between this process and a forked one, the stored
    evaluation is the same as with all of them here."""
    from registry_app.pipeline import evaluation as ev

    version, built, index = _prepared_afresh(quick_training, settings)
    forks = []

    def counted(work, name):
        forks.append(name)
        return forking.beside(work, name)

    monkeypatch.setattr(ev, "beside", counted)
    monkeypatch.setattr(ev, "FORK_MIN_ROWS", 10)
    split = built.run(index)
    assert forks == ["evaluate"] and len(built.rows) >= 10
    monkeypatch.setattr(ev, "can_fork", lambda: False)
    assert built.run(index) == split and forks == ["evaluate"]  # all rows here, the same
    assert split == _stored_figures(version)


def test_items_sorted_by_code_are_used_as_they_are_and_others_are_sorted():
    ordered = pd.DataFrame({"item_code": ["A", "B", "C"], "x": [1, 2, 3]})
    assert training.sorted_items(ordered) is ordered  # no copy of 325,000 rows
    shuffled = pd.DataFrame({"item_code": ["C", "A", "B", "A"], "x": [1, 2, 3, 4]})
    out = training.sorted_items(shuffled)
    assert out["item_code"].tolist() == ["A", "A", "B", "C"] and out["x"].tolist() == [2, 4, 3, 1]
    assert out.index.tolist() == [0, 1, 2, 3]
    offset = pd.DataFrame({"item_code": ["A", "B"], "x": [1, 2]}, index=[5, 9])
    assert training.sorted_items(offset).index.tolist() == [0, 1]


def test_item_columns_are_made_when_read_and_unknown_names_refused():
    items = pd.DataFrame({"item_code": ["A", "B"], "DESC": ["x", None], "LEN": [1.5, 2.0]})
    columns = training.ItemColumns(items, ["DESC", "LEN", "MISSING"])
    assert list(columns) == ["DESC", "LEN"] and len(columns) == 2
    assert columns["LEN"].dtype == object and columns["LEN"].tolist() == [1.5, 2.0]
    assert columns.get("MISSING") is None
    with pytest.raises(KeyError):
        columns["MISSING"]
