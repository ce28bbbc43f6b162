"""Island repair: items a search cannot reach from the entry point are linked in the saved file."""

from __future__ import annotations

import hashlib

import hnswlib
import numpy as np
import pytest

from registry_app.pipeline import index as hnsw

# A small graph (M 4, ef_construction 10, one thread: the same graph every time) over two
# groups of a plant-like space: items spread around one direction, and a group of 50 near
# duplicates far from them, added in between. hnswlib prunes every link into the group.
PARAMS = {"M": 4, "ef_construction": 10, "ef_search": 50, "seed": 100}
GROUP = slice(1000, 1050)


@pytest.fixture
def vectors() -> np.ndarray:
    rng = np.random.default_rng(4)
    dim = 16
    spread = rng.normal(size=(3000, dim))
    spread[:, 0] += 4
    group = np.eye(dim)[1] + 0.3 * np.eye(dim)[0] + rng.normal(scale=1e-3, size=(50, dim))
    both = np.vstack([spread[:1000], group, spread[1000:]])
    return (both / np.linalg.norm(both, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vectors: np.ndarray, rows: np.ndarray, k: int) -> list[set]:
    """The exact top k of each row, with every item tied at the k-th similarity."""
    sims = vectors[rows] @ vectors.T
    kth = -np.sort(-sims, axis=1)[:, k - 1 : k]
    return [set(np.flatnonzero(row).tolist()) for row in sims >= kth - 1e-5]


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_links_a_group_no_search_reaches(vectors, tmp_path):
    labels = np.arange(len(vectors), dtype=np.int64)
    raw = hnsw._graph(vectors, labels, PARAMS, threads=1)
    raw.set_ef(PARAMS["ef_search"])
    group = np.arange(len(vectors))[GROUP]
    found, distances = raw.knn_query(vectors[group], k=10)
    assert (distances[:, 0] > 0.2).mean() > 0.9  # the group is an island: its searches end far

    path = tmp_path / hnsw.INDEX_FILE
    index = hnsw.build_index(vectors, labels, PARAMS, threads=1, path=path)
    assert index.ef == PARAMS["ef_search"]
    found, distances = index.knn_query(vectors[group], k=10)
    assert (distances[:, 0] < hnsw.FOUND).all()
    assert set(found.ravel().tolist()) <= set(group.tolist())  # the group's own neighbours
    served = hnswlib.Index(space="cosine", dim=vectors.shape[1])
    served.load_index(str(path))  # the saved file is the repaired graph
    served.set_ef(PARAMS["ef_search"])
    assert (served.knn_query(vectors[group], k=1)[1][:, 0] < hnsw.FOUND).all()


def test_the_repair_says_how_many_items_it_linked(vectors, tmp_path):
    labels = np.arange(len(vectors), dtype=np.int64)
    raw = hnsw._graph(vectors, labels, PARAMS, threads=1)
    rows = np.arange(len(vectors))
    missed, _ = hnsw._missed(raw, vectors, rows, threads=1)
    index, linked = hnsw.build_repaired(vectors, labels, PARAMS, threads=1)
    assert isinstance(linked, int)
    assert 50 <= linked <= len(missed)  # the whole group, each item counted once
    assert (index.knn_query(vectors[GROUP], k=1)[1][:, 0] < hnsw.FOUND).all()
    calm = np.random.default_rng(3).normal(size=(200, 8)).astype(np.float32)
    params = {"M": 16, "ef_construction": 100, "ef_search": 100}
    assert hnsw.build_repaired(calm, np.arange(200), params, threads=1)[1] == 0


def test_the_groups_neighbours_are_those_of_the_exact_search(vectors):
    labels = np.arange(len(vectors), dtype=np.int64)
    repaired = hnsw.build_index(vectors, labels, PARAMS, threads=1)
    raw = hnsw._graph(vectors, labels, PARAMS, threads=1)
    raw.set_ef(PARAMS["ef_search"])
    rows = np.arange(len(vectors))[GROUP]
    exact = exact_top(vectors, rows, 10)

    def recall(index) -> float:
        found = index.knn_query(vectors[rows], k=10)[0]
        return np.mean([len(set(f) & e) / 10 for f, e in zip(found, exact, strict=True)])

    assert recall(raw) < 0.1
    assert recall(repaired) >= 0.99


def test_a_graph_without_islands_is_saved_as_built(tmp_path):
    vectors = np.random.default_rng(3).normal(size=(200, 8)).astype(np.float32)
    labels = np.arange(200, dtype=np.int64) * 7  # labels need not be row numbers
    params = {"M": 16, "ef_construction": 100, "ef_search": 100}
    index = hnsw.build_index(vectors, labels, params, threads=1, path=tmp_path / "a.hnsw")
    hnsw._graph(vectors, labels, params, threads=1).save_index(str(tmp_path / "b.hnsw"))
    assert sha(tmp_path / "a.hnsw") == sha(tmp_path / "b.hnsw")
    assert index.knn_query(vectors[:3], k=1)[0][:, 0].tolist() == [0, 7, 14]


def test_a_full_list_links_from_the_next_result(tmp_path):
    vectors = np.random.default_rng(5).normal(size=(40, 4)).astype(np.float32)
    labels = np.arange(40, dtype=np.int64)
    path = tmp_path / hnsw.INDEX_FILE
    hnsw._graph(vectors, labels, {"M": 2, "ef_construction": 10}, threads=1).save_index(str(path))
    level0, header = hnsw._level0(path)
    counts = level0[:, 0:2].view(np.uint16)[:, 0].copy()
    full, room = int(np.argmax(counts)), int(np.argmin(counts))
    level0[full, 0:2] = np.frombuffer(np.uint16(header["maxM0"]).tobytes(), np.uint8)
    level0.flush()
    del level0
    target = next(t for t in range(40) if t not in (full, room))
    internal = hnsw._internal_ids(*hnsw._level0(path))
    assert hnsw.link_from(path, np.array([target]), np.array([[full, room]])) == 1
    level0, _ = hnsw._level0(path)
    links = level0[:, 4 : 4 + 4 * header["maxM0"]].view(np.uint32)
    count = int(level0[internal(np.array([room]))[0], 0:2].view(np.uint16)[0])
    assert count == counts[room] + 1
    assert links[internal(np.array([room]))[0], count - 1] == internal(np.array([target]))[0]
    assert int(level0[full, 0:2].view(np.uint16)[0]) == header["maxM0"]  # left as it was


def saved_graph(tmp_path, items: int, seed: int):
    """A small graph saved on one thread: internal ids equal the labels 0..items-1."""
    vectors = np.random.default_rng(seed).normal(size=(items, 4)).astype(np.float32)
    path = tmp_path / hnsw.INDEX_FILE
    graph = hnsw._graph(vectors, np.arange(items), {"M": 4, "ef_construction": 10}, threads=1)
    graph.save_index(str(path))
    return path


def _lists(path):
    level0, header = hnsw._level0(path)
    counts = level0[:, 0:2].view(np.uint16)[:, 0].astype(int)
    links = level0[:, 4 : 4 + 4 * header["maxM0"]].view(np.uint32).copy()
    return counts, links, header


def test_a_stale_slot_past_the_lists_size_is_not_a_link(tmp_path):
    path = saved_graph(tmp_path, 40, seed=6)
    counts, links, _ = _lists(path)
    source = int(np.argmax(counts))
    stale = int(links[source, counts[source] - 1])  # drop the last link: it stays in its slot
    level0, _ = hnsw._level0(path)
    level0[source, 0:2] = np.frombuffer(np.uint16(counts[source] - 1).tobytes(), np.uint8)
    level0.flush()
    del level0
    assert hnsw.link_from(path, np.array([stale]), np.array([[source]])) == 1
    after, links_after, _ = _lists(path)
    assert after[source] == counts[source]
    assert links_after[source, counts[source] - 1] == stale


def test_links_from_one_source_fill_its_list_without_gaps(tmp_path):
    path = saved_graph(tmp_path, 60, seed=7)
    counts, links, header = _lists(path)
    source = int(np.argmin(counts))
    held = int(links[source, 0])
    new = next(t for t in range(60) if t != source and t not in links[source, : counts[source]])
    added = hnsw.link_from(path, np.array([held, new]), np.array([[source], [source]]))
    after, links_after, _ = _lists(path)
    assert added == 1
    assert after[source] == counts[source] + 1
    assert links_after[source, counts[source]] == new  # the next slot, no gap before it
    assert after[source] <= header["maxM0"]


def test_zero_vectors_do_not_count_as_islands(tmp_path):
    vectors = np.random.default_rng(3).normal(size=(200, 8)).astype(np.float32)
    vectors[[5, 90]] = 0  # items with no known attribute
    labels = np.arange(200, dtype=np.int64)
    params = {"M": 16, "ef_construction": 100, "ef_search": 100}
    hnsw.build_index(vectors, labels, params, threads=1, path=tmp_path / "a.hnsw")
    hnsw._graph(vectors, labels, params, threads=1).save_index(str(tmp_path / "b.hnsw"))
    assert sha(tmp_path / "a.hnsw") == sha(tmp_path / "b.hnsw")  # nothing linked or rewritten


@pytest.mark.parametrize("damage", ["other bytes", "short header", "cut short"])
def test_a_file_of_another_layout_is_refused_unchanged(tmp_path, damage):
    path = tmp_path / hnsw.INDEX_FILE
    vectors = np.random.default_rng(5).normal(size=(40, 4)).astype(np.float32)
    hnsw._graph(vectors, np.arange(40), {"M": 4, "ef_construction": 10}, threads=1).save_index(
        str(path)
    )
    content = path.read_bytes()
    path.write_bytes(
        {
            "other bytes": bytes(range(256)) * 40,
            "short header": content[:50],
            "cut short": content[: len(content) // 2],
        }[damage]
    )
    before = sha(path)
    with pytest.raises(RuntimeError, match="not an hnswlib 0.8.0 index file"):
        hnsw.link_from(path, np.array([1]), np.array([[2]]))
    assert sha(path) == before


class Answers:
    """An index that answers with fixed labels."""

    def __init__(self, found: np.ndarray):
        self.found = found

    def knn_query(self, data, k):
        return self.found[: len(data), :k], None


def test_recall_counts_found_items_among_the_exact_top_k_ties_included():
    # four items: a, a's twin (tied), b close to a, c far; labels are not row numbers
    vectors = np.array([[1, 0], [1, 0], [0.8, 0.6], [0, 1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([40, 10, 30, 20], dtype=np.int64)
    queries = np.random.default_rng(0).choice(4, size=4, replace=False)  # recall_at_k's sample
    exact = {0: {40, 10}, 1: {10, 40}, 2: {30, 40, 10}, 3: {20, 30}}  # top 2, ties kept
    right = np.array([sorted(exact[q])[:2] for q in queries])
    assert hnsw.recall_at_k(Answers(right), vectors, labels, k=2, sample=4) == 1.0
    wrong = np.array([[20, 20] if q != 3 else [40, 10] for q in queries])
    assert hnsw.recall_at_k(Answers(wrong), vectors, labels, k=2, sample=4) == 0.0
    half = np.array([[sorted(exact[q])[0], 20 if q != 3 else 40] for q in queries])
    assert hnsw.recall_at_k(Answers(half), vectors, labels, k=2, sample=4) == 0.5
