"""Neighbour search without a Python filter in the common case (the item itself left out)."""

from __future__ import annotations

from types import SimpleNamespace

import hnswlib
import numpy as np
import pytest

from routing_core.predictor import neighbours_of


class CountingIndex:
    def __init__(self, index):
        self.index, self.filtered = index, 0

    def get_current_count(self):
        return self.index.get_current_count()

    def knn_query(self, data, k, filter=None):
        self.filtered += filter is not None
        return self.index.knn_query(data, k=k, filter=filter)


@pytest.fixture
def model():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(200, 8)).astype(np.float32)
    index = hnswlib.Index(space="cosine", dim=8)
    index.init_index(max_elements=200, ef_construction=100, M=16)
    index.add_items(vectors, np.arange(200))
    index.set_ef(100)
    return SimpleNamespace(index=CountingIndex(index), vectors=vectors)


def test_the_item_itself_is_left_out_without_a_filter(model):
    found = neighbours_of(model, model.vectors[7], 5, lambda label: label == 7)
    assert len(found) == 5 and 7 not in [label for label, _ in found]
    assert all(isinstance(label, int) and 0 <= s <= 1 for label, s in found)
    assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
    assert model.index.filtered == 0


def test_many_left_out_fall_back_to_the_filtered_search(model):
    found = neighbours_of(model, model.vectors[7], 5, lambda label: label % 2 == 1)
    assert len(found) == 5 and all(label % 2 == 0 for label, _ in found)
    assert model.index.filtered == 1


def test_nothing_left_out_and_k_above_the_count(model):
    assert len(neighbours_of(model, model.vectors[0], 500, None)) == 200
    assert neighbours_of(model, model.vectors[0], 3, lambda label: True) == []
