"""One training stage alone, on frames extracted once: time it, profile it, keep its output.

    .venv/bin/python scripts/bench/stages.py extract var/bench-325000 var/frames-325000.pkl
    .venv/bin/python scripts/bench/stages.py features var/frames-325000.pkl [--out DIR] [--profile]
    .venv/bin/python scripts/bench/stages.py tables var/frames-325000.pkl [--out DIR] [--profile]
    .venv/bin/python scripts/bench/stages.py evaluate var/frames-325000.pkl --version DIR [--out D]

``extract`` reads the plant database of a bench folder (registry.sqlite3, plant.sqlite) with
the input profile (``--input NAME``, default the active one), merges the saved routings as
training does and pickles the frames, the profile and the workflow settings. ``features``
runs ``FeatureEncoder.fit_transform`` on them as training does; ``tables`` runs
``build_tables`` (``--today`` fixes the date the primary routings are chosen on); ``evaluate``
runs the stored evaluation (``prepare_built``, then its predictions) on a trained version
folder's encoder, index and tables, and writes its figures as ``metrics.json``. Each prints
wall seconds, CPU seconds of the process (every thread) and the process's peak RSS; ``--out``
writes the stage's files (encoder.json, svd_components.npy and vectors.npy; tables/* and the
extract report with the tables' counts) for a byte-for-byte comparison of two versions of the
code; ``--profile`` prints cProfile's 25 most expensive functions, by cumulative and by own
time.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pickle
import pstats
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def _setup(work: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    os.environ["DATABASE_URL"] = f"sqlite:///{(work / 'registry.sqlite3').resolve().as_posix()}"
    os.environ["ROUTING_MODELS_DIR"] = str(work / "models")
    os.environ["ROUTING_LOG_DIR"] = str(work / "logs")
    os.environ["ROUTING_SOURCE"] = f"sqlite:///{(work / 'plant.sqlite').resolve().as_posix()}"
    import django

    django.setup()


def extract_frames(work: Path, target: Path, profile_name: str | None) -> None:
    _setup(work)
    from registry_app.pipeline.extract import extract
    from registry_app.pipeline.feedback import merge_feedback
    from workflow_app.config import current_settings, get_input_profile

    profile, config = get_input_profile(profile_name), current_settings()
    data = extract(profile)
    data, _ = merge_feedback(data, profile, config.get("feedback", "add"))
    items = data.items.sort_values("item_code", kind="stable").reset_index(drop=True)
    frames = {
        "items": items,
        "operations": data.operations,
        "work_results": data.work_results,
        "report": data.report,
        "profile": profile,
        "config": config,
    }
    with target.open("wb") as out:
        pickle.dump(frames, out, protocol=pickle.HIGHEST_PROTOCOL)
    print(f"{len(items)} items, {len(data.operations)} operations → {target}")


def run_features(frames: dict, out: Path | None) -> None:
    import numpy as np

    from routing_core.features import FeatureEncoder
    from routing_core.numbers import number_locale

    profile, config, items = frames["profile"], frames["config"], frames["items"]
    encoder = FeatureEncoder.from_attributes(
        profile["attributes"],
        config.get("feature_weights"),
        config["embedding_dim"],
        locale=number_locale(profile),
    )
    names = [a["name"] for a in profile["attributes"]]
    columns = {name: items[name].to_numpy(dtype=object) for name in names if name in items}
    vectors = encoder.fit_transform(columns, seed=0)
    if out is not None:
        encoder.save(out)
        np.save(out / "vectors.npy", vectors)


def run_tables(frames: dict, out: Path | None, today: str | None) -> None:
    from registry_app.pipeline.tables import build_tables, save_tables

    names = [a["name"] for a in frames["profile"]["attributes"]]
    arrays, strings = build_tables(
        frames["items"],
        frames["operations"],
        frames["work_results"],
        names,
        today=today,
        report=frames["report"],
    )
    if out is not None:
        save_tables(out, arrays, strings)
        report = json.dumps(frames["report"].as_dict(), indent=1, sort_keys=True, default=str)
        (out / "extract_report.json").write_text(report)


def run_evaluate(frames: dict, version: Path, out: Path | None) -> None:
    import numpy as np

    _setup(version.resolve().parents[1])
    from registry_app.pipeline import index as hnsw
    from registry_app.pipeline.evaluation import prepare_built
    from routing_core.features import FeatureEncoder

    profile, config = frames["profile"], frames["config"]
    encoder = FeatureEncoder.load(version)
    arrays = {k: np.load(version / "tables" / f"{k}.npy") for k in ("item_rt_start", "item_rt_end")}
    names = [a["name"] for a in profile["attributes"]]
    index = hnsw.load_index(version, encoder.dim, config["hnsw_ef_search"])
    prepared = time.perf_counter()
    evaluation = prepare_built(
        version, encoder, arrays, names, frames["items"], config, profile["attributes"]
    )
    ran = time.perf_counter()
    metrics = evaluation.run(index)
    done = time.perf_counter()
    print(f"evaluate: preparation {ran - prepared:.2f} s, predictions {done - ran:.2f} s")
    if out is not None:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=("extract", "features", "tables", "evaluate"))
    parser.add_argument("source", type=Path, help="bench folder (extract) or frames pickle")
    parser.add_argument("target", type=Path, nargs="?", help="extract: the pickle to write")
    parser.add_argument("--out", type=Path, help="write the stage's files into this folder")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--input", help="extract: the input profile's name (default: active)")
    parser.add_argument("--version", type=Path, help="evaluate: a trained version's folder")
    parser.add_argument("--today", default="2026-11-30", help="tables: the primary routings' day")
    args = parser.parse_args()
    if args.stage == "extract":
        extract_frames(args.source, args.target or REPO / "var" / "frames.pkl", args.input)
        return
    with args.source.open("rb") as src:
        frames = pickle.load(src)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    profiler = cProfile.Profile() if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    if args.stage == "features":
        run_features(frames, args.out)
    elif args.stage == "evaluate":
        run_evaluate(frames, args.version, args.out)
    else:
        run_tables(frames, args.out, args.today)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"{args.stage}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS {peak:.2f} GB")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
