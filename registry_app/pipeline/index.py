"""The hnswlib cosine index over the embedding vectors of items that have routings.

An index is built once, saved, and never mutated while it serves (hnswlib's ``add_items`` is
not safe beside ``knn_query``): a new version brings a new index and the runtime swaps the
reference. ``ef`` is not stored in the file, so :func:`load_index` sets it after every load.

A built graph has *islands*: items that a search for their own vector does not reach, because
the greedy search settles in another region first (raising ``ef`` does not help; about 1 % of
the items at M 24, more at a smaller M). :func:`build_index` finds them with one cheap search
per item and :func:`repair_islands` links each one from where its search ended, in the saved
file, so a serving query pays nothing for the repair.
"""

from __future__ import annotations

import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

INDEX_FILE = "index.hnsw"
# The repair's own search: cheap (ef 10), three results to link from (the first with room in
# its list), then the items still not found checked again, at most three times.
ISLAND_EF, ISLAND_CANDIDATES, ISLAND_ROUNDS = 10, 3, 3
FOUND = 1e-5  # cosine distance at which a search counts as having found the item itself
# hnswlib 0.8.0's saved header: offsetLevel0, max_elements, cur_element_count,
# size_data_per_element, label_offset, offsetData (size_t), maxlevel (int), enterpoint (uint32),
# maxM, maxM0, M (size_t), mult (double), ef_construction (size_t); then the level-0 block.
_HEADER = struct.Struct("<6QiI3QdQ")


def parameters(config: dict) -> dict:
    """The build and search parameters of a version's index from the workflow settings."""
    return {
        "M": config["hnsw_m"],
        "ef_construction": config["hnsw_ef_construction"],
        "ef_search": config["hnsw_ef_search"],
        "seed": 100,
    }


def build_index(
    vectors: np.ndarray,
    labels: np.ndarray,
    params: dict,
    threads: int = 2,
    path: Path | None = None,
):
    """The index of ``vectors`` (row i under ``labels[i]``), its islands repaired
    (:func:`repair_islands`), saved at ``path`` when given (else in a temporary file), ready to
    search with ``threads``."""
    return build_repaired(vectors, labels, params, threads, path)[0]


def build_repaired(
    vectors: np.ndarray,
    labels: np.ndarray,
    params: dict,
    threads: int = 2,
    path: Path | None = None,
) -> tuple:
    """(:func:`build_index`'s index, how many items its island repair linked)."""
    with _saved_at(path) as file:
        index = _graph(vectors, labels, params, threads)
        index.save_index(str(file))
        # a zero vector (an item with no known attribute) has no direction: no search finds it
        rows = np.flatnonzero(np.any(vectors != 0, axis=1))
        missed, found = _missed(index, vectors, rows, threads)
        linked = 0
        if len(missed):
            del index  # the repaired graph is read from the file: never two copies at once
            index, linked = repair_islands(file, vectors, labels, rows[missed], found, threads)
        index.set_ef(int(params["ef_search"]))
        return index, linked


@contextmanager
def _saved_at(path: Path | None):
    if path is not None:
        yield Path(path)
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp) / INDEX_FILE


def _graph(vectors: np.ndarray, labels: np.ndarray, params: dict, threads: int):
    import hnswlib

    index = hnswlib.Index(space="cosine", dim=int(vectors.shape[1]))
    index.init_index(
        max_elements=max(1, len(labels)),
        M=int(params["M"]),
        ef_construction=int(params["ef_construction"]),
        random_seed=int(params.get("seed", 100)),
    )
    index.set_num_threads(threads)
    if len(labels):
        index.add_items(vectors, labels.astype(np.int64))
    return index


def _missed(index, vectors: np.ndarray, rows: np.ndarray, threads: int) -> tuple:
    """(positions in ``rows`` whose own vector a search at ``ISLAND_EF`` does not find, the
    labels that search returned for each of them)."""
    if not len(rows):
        return rows, np.empty((0, 1), np.uint64)
    index.set_ef(ISLAND_EF)
    index.set_num_threads(threads)
    k = min(ISLAND_CANDIDATES, index.get_current_count())
    found, distances = index.knn_query(vectors[rows], k=k)
    missed = np.flatnonzero(distances[:, 0] > FOUND)
    return missed, found[missed]


def repair_islands(
    path: Path,
    vectors: np.ndarray,
    labels: np.ndarray,
    rows: np.ndarray,
    found: np.ndarray,
    threads: int = 2,
) -> tuple:
    """(the index saved at ``path`` read again, how many distinct items were linked) once each
    item of ``rows`` (rows of ``vectors`` and ``labels``) that a search for its own vector
    missed has a link from the first of that search's results (``found``, one row of labels
    per item) with room in its level-0 list; the items linked are searched again and linked
    again, at most ``ISLAND_ROUNDS`` rounds."""
    dim, linked = int(vectors.shape[1]), np.empty(0, np.int64)
    for _ in range(ISLAND_ROUNDS - 1):
        linked = np.union1d(linked, _link(path, labels[rows], found))
        index = _read(path, dim, threads)
        missed, found = _missed(index, vectors, rows, threads)
        if not len(missed):
            return index, len(linked)
        rows = rows[missed]
        del index  # the file is linked again and read again
    linked = np.union1d(linked, _link(path, labels[rows], found))
    return _read(path, dim, threads), len(linked)


def _read(path: Path, dim: int, threads: int):
    import hnswlib

    index = hnswlib.Index(space="cosine", dim=dim)
    index.load_index(str(path))
    index.set_num_threads(threads)
    return index


def link_from(path: Path, targets: np.ndarray, sources: np.ndarray) -> int:
    """Links added in the saved index ``path``: to each label of ``targets`` from the first
    label of its row of ``sources`` whose level-0 list has room (and does not hold it yet).
    Returns how many were added."""
    return len(_link(path, targets, sources))


def _link(path: Path, targets: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """:func:`link_from`, returning the internal ids of the targets given a link (the same
    for a file linked again: its elements are never reordered)."""
    level0, header = _level0(path)
    width = header["maxM0"]
    internal = _internal_ids(level0, header)
    counts_view = level0[:, 0:2].view(np.uint16)[:, 0]  # the list's size: its first two bytes
    links = level0[:, 4 : 4 + 4 * width].view(np.uint32)
    counts = counts_view.astype(np.int64)
    target, source = internal(targets), internal(sources)
    pending, linked = np.arange(len(target)), []
    for column in range(source.shape[1]):
        if not len(pending):
            break
        src, dst = source[pending, column], target[pending]
        order = np.argsort(src, kind="stable")
        src, dst = src[order], dst[order]
        live = np.arange(width) < counts[src][:, None]  # slots past a list's size are stale
        held = ((links[src] == dst[:, None]) & live).any(axis=1)
        eligible = np.flatnonzero((src != dst) & ~held)
        slot = np.full(len(src), width)  # ranked among the eligible only: no gaps in a list
        slot[eligible] = counts[src[eligible]] + _rank_within_runs(src[eligible])
        ok = slot < width
        links[src[ok], slot[ok]] = dst[ok]
        np.add.at(counts, src[ok], 1)
        linked.append(dst[ok])
        pending = np.sort(pending[order][~ok])
    changed = np.flatnonzero(counts != counts_view)
    counts_view[changed] = counts[changed]
    level0.flush()
    return np.concatenate(linked) if linked else np.empty(0, np.int64)


def _level0(path: Path) -> tuple[np.ndarray, dict]:
    """The level-0 block of a saved index, writable in place, as (elements × bytes), and its
    header; a layout other than hnswlib 0.8.0's is refused."""
    with open(path, "rb") as f:
        head = f.read(_HEADER.size)
    keys = (
        "offset_level0 max_elements count size offset_label offset_data max_level enter_point"
        " maxM maxM0 M mult ef_construction"
    ).split()
    header = dict(zip(keys, _HEADER.unpack(head), strict=True)) if len(head) == _HEADER.size else {}
    shape = (header.get("count", 0), header.get("size", 0))
    if not (
        header
        and header["offset_level0"] == 0
        and header["offset_data"] == 4 + 4 * header["maxM0"]  # the level-0 links, then the vector
        and header["offset_label"] == header["size"] - 8  # and the label last
        and Path(path).stat().st_size >= _HEADER.size + shape[0] * shape[1]
    ):
        raise RuntimeError(f"{path}: not an hnswlib 0.8.0 index file; islands not repaired")
    return np.memmap(path, dtype=np.uint8, mode="r+", offset=_HEADER.size, shape=shape), header


def _internal_ids(level0: np.ndarray, header: dict):
    """A function from labels (any shape) to the internal ids of the saved level-0 block."""
    at = header["offset_label"]
    stored = level0[:, at : at + 8].view(np.int64)[:, 0]
    order = np.argsort(stored)
    ordered = stored[order]

    def internal(labels: np.ndarray) -> np.ndarray:
        return order[np.searchsorted(ordered, np.asarray(labels, dtype=np.int64))]

    return internal


def _rank_within_runs(values: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of a sorted array."""
    if not len(values):
        return values
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return np.arange(len(values)) - np.repeat(starts, np.diff(np.r_[starts, len(values)]))


def load_index(folder: Path, dim: int, ef_search: int):
    import hnswlib

    index = hnswlib.Index(space="cosine", dim=dim)
    index.load_index(str(folder / INDEX_FILE))
    return ready_index(index, ef_search)


def ready_index(index, ef_search: int):
    """A loaded index set up for serving: its query ``ef`` (not stored in the file)."""
    index.set_ef(int(ef_search))
    index.set_num_threads(1)  # queries come from many request threads; one thread each
    return index


def recall_at_k(
    index, vectors: np.ndarray, labels: np.ndarray, k: int = 10, sample: int = 1000, seed: int = 0
) -> float:
    """Share of the exact top-k (brute-force cosine) that the index returns, on a sample.

    Where several items tie at the k-th similarity (identical attribute vectors are common in
    a plant), any of the tied labels counts as a hit.
    """
    n = len(labels)
    if n == 0:
        return 1.0
    k = min(k, n)
    rng = np.random.default_rng(seed)
    rows = rng.choice(n, size=min(sample, n), replace=False)
    found, _ = index.knn_query(vectors[rows], k=k)
    order = np.argsort(labels, kind="stable")
    at = order[np.searchsorted(labels[order], found.astype(np.int64))]  # the found items' rows
    hits = 0
    for chunk in range(0, len(rows), 64):
        sims = vectors[rows[chunk : chunk + 64]] @ vectors.T  # one query a row: contiguous
        kth = np.partition(sims, n - k, axis=1)[:, n - k : n - k + 1]
        # a found item is one of the exact top k when it is at least as similar as the k-th
        hits += int((np.take_along_axis(sims, at[chunk : chunk + 64], axis=1) >= kth - 1e-5).sum())
    return hits / (len(rows) * k)
