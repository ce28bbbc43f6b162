"""Whether hnswlib reads an index without the interpreter lock: the pace of a Python loop in
this thread while another thread reads the index, against its pace alone.

    .venv/bin/python scripts/bench/index_lock.py var/bench-325000/models/v0001

Prints the read's seconds and the loop's pace during the read as a share of its pace alone
(100 %: the read leaves the lock to the loop; near 0 %: the loop waits for the whole read).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import hnswlib


def read(folder: Path) -> float:
    started = time.perf_counter()
    dim = int(json.loads((folder / "encoder.json").read_text(encoding="utf-8"))["dim"])
    hnswlib.Index(space="cosine", dim=dim).load_index(str(folder / "index.hnsw"))
    return time.perf_counter() - started


def pace(work) -> float:
    """Rounds per second of a Python loop in this thread while ``work`` runs in another one."""
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    threading.Thread(target=run).start()
    rounds, started = 0, time.perf_counter()
    while not done.is_set():
        rounds += 1
    return rounds / (time.perf_counter() - started)


def main(folder: Path, interval_us: int) -> None:
    sys.setswitchinterval(interval_us / 1e6)
    read(folder)  # the file in the page cache, as at a restart
    seconds = read(folder)
    alone = pace(lambda: time.sleep(seconds))  # the other thread leaves the lock
    beside = pace(lambda: read(folder))
    print(f"index read {seconds:.3f} s; a Python loop beside it: {100 * beside / alone:.0f} %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a version folder (index.hnsw, encoder.json)")
    parser.add_argument("--interval-us", type=int, default=500, help="switch interval (serve's)")
    args = parser.parse_args()
    main(args.folder, args.interval_us)
