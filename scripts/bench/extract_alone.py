"""Extraction alone: ``extract(profile)`` once on a plant database, timed per table.

    .venv/bin/python scripts/bench/extract_alone.py var/bench-325000/plant.sqlite
    .venv/bin/python scripts/bench/extract_alone.py var/plant.sqlite --save var/frames-before
    .venv/bin/python scripts/bench/extract_alone.py var/plant.sqlite --compare var/frames-before
    .venv/bin/python scripts/bench/extract_alone.py var/shop.sqlite --profile shopfloor

The source is a SQLite file or any source string ``open_source`` reads (``csv:///folder``,
``excel:///book.xlsx``). For each table role it prints the wall and CPU seconds of the whole
step (reading and cleaning), of the reads alone (``Source.read_columns``, joined tables
included), the process's peak RSS so far, and the reader the extract report names; then the
totals. ``--save DIR`` writes the three frames and the report (pickles); ``--compare DIR``
checks the frames and the report against saved ones, column by column (values, dtypes, order)
and exits 1 on the first difference.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
ROLES = ("items", "operations", "work_results")
SHOPFLOOR_PROFILE = REPO / "registry_app/pipeline/shopfloor_profile.json"


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _rss_gb() -> float:
    """The process's resident set now (what the stages after extraction start from)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**3


class Clock:
    """Wall and CPU seconds of the extract stages (from its progress calls) and of the reads."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float, float]] = []
        self.reads: list[tuple[float, float]] = []
        self.role = 0

    def mark(self, *_args) -> None:
        self.marks.append((time.perf_counter(), time.process_time(), _peak_gb()))

    def wrap_reads(self, source_class) -> None:
        original = source_class.read_columns
        clock = self

        def timed(self, name, columns=None):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(self, name, columns)
            finally:
                clock.reads.append((time.perf_counter() - wall, time.process_time() - cpu))

        source_class.read_columns = timed


def _source(text: str) -> str:
    return text if ":" in text.split("/")[0] else f"sqlite:///{Path(text).resolve()}"


def _profile(name: str) -> dict:
    from workflow_app.profiles import load_default_profile, validate_profile

    if name == "plant-default":
        return load_default_profile()
    path = SHOPFLOOR_PROFILE if name == "shopfloor" else Path(name)
    return validate_profile(json.loads(path.read_text(encoding="utf-8")))


def _report_of(data) -> dict:
    report = vars(data.report).copy()
    report.pop("seconds", None)
    return report


def _compare(data, folder: Path) -> list[str]:
    import numpy as np
    import pandas as pd

    problems = []
    for role in ROLES:
        saved = pd.read_pickle(folder / f"{role}.pkl")
        frame = getattr(data, role)
        if list(saved.columns) != list(frame.columns) or len(saved) != len(frame):
            problems.append(f"{role}: columns or rows differ")
            continue
        for col in frame.columns:
            a, b = saved[col], frame[col]
            if a.dtype != b.dtype:
                problems.append(f"{role}.{col}: dtype {a.dtype} != {b.dtype}")
            elif a.dtype == object:
                same = [type(x) is type(y) and (x == y) for x, y in zip(a, b, strict=True)]
                if not all(same):
                    i = int(np.argmin(same))
                    problems.append(f"{role}.{col}: row {i} {a.iloc[i]!r} != {b.iloc[i]!r}")
            elif not a.equals(b):  # NaN and NaT equal where both are missing
                problems.append(f"{role}.{col}: values differ")
    with (folder / "report.pkl").open("rb") as fh:
        saved_report = pickle.load(fh)
    if saved_report != _report_of(data):
        problems.append(f"report differs:\n{saved_report}\n{_report_of(data)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a SQLite file or a source string (csv:///, excel:///)")
    parser.add_argument(
        "--profile", default="plant-default", help="plant-default, shopfloor or a JSON file"
    )
    parser.add_argument("--save", type=Path, help="write the frames and the report here")
    parser.add_argument("--compare", type=Path, help="compare with the frames saved here")
    args = parser.parse_args()
    source = _source(args.source)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    os.environ["ROUTING_SOURCE"] = source  # the default source's folder may be read
    import django

    django.setup()
    from registry_app.pipeline.extract import extract
    from registry_app.pipeline.sources import Source

    clock = Clock()
    clock.wrap_reads(Source)
    clock.mark()
    data = extract(_profile(args.profile), source, progress=clock.mark)
    clock.mark()
    # marks: start, extract's 0.0, 0.25, 0.7, 1.0, end; items read at 0.0 → 0.25, etc.
    steps = list(zip(clock.marks[1:4], clock.marks[2:5], strict=True))
    for role, ((w0, c0, _), (w1, c1, peak)) in zip(ROLES, steps, strict=True):
        rows = data.report.rows_read.get(role, 0)
        print(
            f"{role:13s} wall {w1 - w0:6.2f} s  CPU {c1 - c0:6.2f} s  "
            f"peak RSS {peak:.2f} GB  rows {rows:>9,}"
        )
    for table, reader in data.report.readers.items():
        print(f"reader of {table}: {reader}")
    reads_wall = sum(w for w, _ in clock.reads)
    reads_cpu = sum(c for _, c in clock.reads)
    (w0, c0, _), (w1, c1, peak) = clock.marks[0], clock.marks[-1]
    print(f"reads ({len(clock.reads)} calls): wall {reads_wall:.2f} s  CPU {reads_cpu:.2f} s")
    print(
        f"extract total: wall {w1 - w0:.2f} s  CPU {c1 - c0:.2f} s  peak RSS {peak:.2f} GB  "
        f"RSS after {_rss_gb():.2f} GB"
    )
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        for role in ROLES:
            getattr(data, role).to_pickle(args.save / f"{role}.pkl")
        with (args.save / "report.pkl").open("wb") as fh:
            pickle.dump(_report_of(data), fh)
        print(f"saved to {args.save}")
    if args.compare:
        problems = _compare(data, args.compare)
        for problem in problems:
            print("DIFFERENT", problem)
        if problems:
            return 1
        print(f"identical to {args.compare}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
