"""Opening a version: hashes checked beside the loads, and nothing returned unverified."""

from __future__ import annotations

import pytest
from django.conf import settings

from inference_app.loaded import LoadedModel
from registry_app.pipeline.manifest import ManifestError


@pytest.fixture
def folder(quick_training):
    return settings.MODELS_DIR / quick_training().label


def test_open_times_each_stage(folder):
    model = LoadedModel.open(folder)
    assert set(model.stages) == {
        "size check",
        "model code",
        "encoder",
        "index load",
        "tables",
        "verification wait",
    }
    assert model.verify_seconds > 0 and model.index.get_current_count() > 0
    assert sum(model.stages.values()) <= model.load_seconds


def test_a_changed_byte_of_the_index_is_refused(folder):
    path = folder / "index.hnsw"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size: only the full hash, run beside the load, sees it
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="index.hnsw: SHA-256 differs"):
        LoadedModel.open(folder)


def test_a_short_file_is_refused_before_it_is_loaded(folder):
    path = folder / "index.hnsw"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ManifestError, match=r"index.hnsw: size 100, expected"):
        LoadedModel.open(folder)


def test_a_changed_registry_checksum_is_refused(folder):
    with pytest.raises(ManifestError, match="differs from the checksum recorded"):
        LoadedModel.open(folder, expected_sha256="0" * 64)
