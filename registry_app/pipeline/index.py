"""The hnswlib cosine index over the embedding vectors of items that have routings.

An index is built once, saved, and never mutated while it serves (hnswlib's ``add_items`` is
not safe beside ``knn_query``): a new version brings a new index and the runtime swaps the
reference. ``ef`` is not stored in the file, so :func:`load_index` sets it after every load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INDEX_FILE = "index.hnsw"
DEFAULTS = {"M": 16, "ef_construction": 120, "ef_search": 96}


def parameters(config: dict) -> dict:
    """The build and search parameters of a version's index from the workflow settings."""
    return {
        "M": config["hnsw_m"],
        "ef_construction": config["hnsw_ef_construction"],
        "ef_search": config["hnsw_ef_search"],
        "seed": 100,
    }


def build_index(vectors: np.ndarray, labels: np.ndarray, params: dict, threads: int = 2):
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
    index.set_ef(int(params["ef_search"]))
    return index


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
    hits = 0
    for chunk in range(0, len(rows), 64):
        part = rows[chunk : chunk + 64]
        sims = vectors @ vectors[part].T  # (n, len(part))
        for j in range(len(part)):
            col = sims[:, j]
            kth = np.partition(col, n - k)[n - k]
            exact = set(labels[col >= kth - 1e-5].tolist())
            hits += min(k, sum(1 for f in found[chunk + j].tolist() if f in exact))
    return hits / (len(rows) * k)
