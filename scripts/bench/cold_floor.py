"""The floor of a cold start: the smallest start with the serving libraries imported and the
index loaded, in a fresh interpreter each time, without the product's code.

    .venv/bin/python scripts/bench/cold_floor.py var/bench-325000 --runs 5

Three starts, each in turn within a run, timed from the process's launch to its last step:

- ``index``: the interpreter, numpy and hnswlib imported, the served version's index read;
- ``django``: the interpreter, Django configured with only ``auth`` and ``contenttypes`` and
  ``django.setup()`` run;
- ``floor``: both in one process, one after the other: what any server answering from this
  index with Django costs before its first answer.

The folder is one ``manage.py bench`` made; the version is the one named last in
``models/active.json`` or ``models/activated.json``. Prints each run's seconds and the median
of each kind, and how much of the floor the index read with its imports of numpy and hnswlib
is (what ``manage.py serve``'s start-up line counts as the index load).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KINDS = ("index", "django", "floor")


def read_index(folder: Path) -> float:
    """Import numpy and hnswlib and read ``folder``'s index; its seconds, the imports included
    (as ``manage.py serve``'s start-up line counts its index read)."""
    started = time.perf_counter()
    import hnswlib
    import numpy  # noqa: F401 - what hnswlib needs for its answers

    dim = int(json.loads((folder / "encoder.json").read_text(encoding="utf-8"))["dim"])
    hnswlib.Index(space="cosine", dim=dim).load_index(str(folder / "index.hnsw"))
    return time.perf_counter() - started


def set_up_django() -> None:
    """Django's set-up with the two apps every Django project with users has."""
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        USE_TZ=True,
    )
    django.setup()


def child(kind: str, folder: Path) -> None:
    """One start of ``kind``: prints the index read's seconds (0 without one) when done."""
    read = 0.0
    if kind in ("django", "floor"):
        set_up_django()
    if kind in ("index", "floor"):
        read = read_index(folder)
    print(json.dumps({"read": read}), flush=True)


def one_start(kind: str, folder: Path) -> tuple[float, float]:
    """Seconds from launching a fresh interpreter to the end of ``kind``'s work; the read's."""
    command = [sys.executable, __file__, "--child", kind, str(folder)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=REPO)
    seconds = time.perf_counter() - started
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])["read"]


def served_version(work: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from registry_app.pipeline.filehash import expected_version

    folder = expected_version(work / "models")
    if folder is None or not (folder / "index.hnsw").is_file():
        raise SystemExit(f"no served or activated version with an index under {work / 'models'}")
    return folder


def main(args: argparse.Namespace) -> None:
    folder = served_version(Path(args.folder).resolve())
    found: dict[str, list[float]] = {kind: [] for kind in KINDS}
    reads: list[float] = []
    for number in range(1, args.runs + 1):
        line = []
        for kind in KINDS:
            seconds, read = one_start(kind, folder)
            found[kind].append(seconds)
            if kind == "floor":
                reads.append(read)
            line.append(f"{kind} {seconds:.3f}")
        note = f"index read with its imports {reads[-1]:.3f} s"
        print(f"run {number}: " + ", ".join(line) + f" s ({note})")
    medians = {kind: statistics.median(values) for kind, values in found.items()}
    read, floor = statistics.median(reads), medians["floor"]
    print(
        f"medians ({args.runs} runs, {folder.name}): "
        + ", ".join(f"{kind} {medians[kind]:.3f} s" for kind in KINDS)
        + f"; the read with its imports {read:.3f} s is {100 * read / floor:.0f} % of the floor, "
        f"{100 * (1 - read / floor):.0f} % outside it"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], Path(sys.argv[3]))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a bench folder (models/ with a served version)")
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args())
