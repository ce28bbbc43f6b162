"""The index read at the serving process's start: taken only for its own unchanged file."""

import json
import os

import hnswlib
import numpy as np
import pytest

from inference_app.loaded import LoadedModel
from registry_app.pipeline import filehash, preload
from registry_app.pipeline.manifest import ManifestError

DIM = 8


@pytest.fixture
def early_reset():
    preload._early = filehash._early = None
    yield
    preload._early = filehash._early = None


def index_version(models_dir, label="v0003", n=50):
    folder = models_dir / label
    folder.mkdir(parents=True)
    vectors = np.random.default_rng(1).normal(size=(n, DIM)).astype(np.float32)
    index = hnswlib.Index(space="cosine", dim=DIM)
    index.init_index(max_elements=n, M=8, ef_construction=50)
    index.add_items(vectors, np.arange(n))
    index.save_index(str(folder / "index.hnsw"))
    (folder / "encoder.json").write_text(json.dumps({"dim": DIM, "codecs": []}))
    (models_dir / "active.json").write_text(json.dumps({"label": label}))
    return folder, vectors


def test_the_early_index_answers_like_the_file_and_is_handed_out_once(tmp_path, early_reset):
    folder, vectors = index_version(tmp_path)
    early = preload.start(tmp_path)
    assert early is not None and early.done.wait(10)
    assert preload.early_seconds() is not None
    assert preload.take(tmp_path / "elsewhere", DIM) is None  # another folder: not this one
    index = preload.take(folder, DIM)
    assert index is not None
    labels, _ = index.knn_query(vectors[:5], k=1)
    assert labels[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert preload.take(folder, DIM) is None  # a second load reads the file itself


def test_a_changed_file_or_another_dimension_is_not_taken(tmp_path, early_reset):
    folder, _ = index_version(tmp_path)
    assert preload.start(tmp_path).done.wait(10)
    assert preload.take(folder, DIM + 1) is None  # not the encoder's dimension
    assert preload.start(tmp_path).done.wait(10)
    stat = (folder / "index.hnsw").stat()
    os.utime(folder / "index.hnsw", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert preload.take(folder, DIM) is None  # rewritten after the early read


def test_nothing_served_yet_or_no_index_starts_nothing(tmp_path, early_reset):
    assert preload.start(tmp_path) is None
    (tmp_path / "active.json").write_text(json.dumps({"label": "../outside"}))
    assert preload.start(tmp_path) is None
    (tmp_path / "v0001").mkdir()
    (tmp_path / "active.json").write_text(json.dumps({"label": "v0001"}))
    assert preload.start(tmp_path) is None
    assert preload.take(tmp_path / "v0001", DIM) is None


def test_an_unreadable_index_is_read_again_and_reported_by_the_load(tmp_path, early_reset):
    folder, _ = index_version(tmp_path)
    (folder / "index.hnsw").write_bytes(b"not an index")
    assert preload.start(tmp_path).done.wait(10)
    assert preload.take(folder, DIM) is None


def test_a_version_opens_with_the_early_index_and_still_checks_every_hash(
    served_version, settings, early_reset, monkeypatch
):
    version, folder = served_version
    assert preload.start(settings.MODELS_DIR).done.wait(30)
    from registry_app.pipeline import index as hnsw

    monkeypatch.setattr(hnsw, "load_index", lambda *a: pytest.fail("the file was read again"))
    model = LoadedModel.open(folder, expected_sha256=version.manifest_sha256)
    assert model.index.get_current_count() > 0
    assert model.index.ef == model.manifest["parameters"]["hnsw"]["ef_search"]

    # the same early read of a version whose index was altered: refused by the hash check
    assert preload.start(settings.MODELS_DIR).done.wait(30)
    data = bytearray((folder / "index.hnsw").read_bytes())
    data[len(data) // 2] ^= 0x01
    stat = (folder / "index.hnsw").stat()
    (folder / "index.hnsw").write_bytes(bytes(data))
    os.utime(folder / "index.hnsw", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same identity
    with pytest.raises(ManifestError, match="index.hnsw: SHA-256 differs"):
        LoadedModel.open(folder, expected_sha256=version.manifest_sha256)


def with_manifest(folder) -> list[str]:
    """A manifest naming the version's files, the index among them (not last); their names."""
    for name in ("a.npy", "z.npy"):
        (folder / name).write_bytes(name.encode() * 10_000)
    names = ["a.npy", "encoder.json", "index.hnsw", "z.npy"]
    artifacts = [{"path": p, "size": 0, "sha256": ""} for p in names]
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return names


def test_the_read_begins_when_the_hashing_reaches_the_index_file_hashed_last(
    tmp_path, early_reset, monkeypatch
):
    folder, vectors = index_version(tmp_path)
    names = with_manifest(folder)
    events, held, sha256_of = [], [], filehash.sha256_of

    def hashing(path, begun=None):
        events.append(f"hash {path.name}")
        if path.name == "index.hnsw":  # the read still held back when its hashing is called
            held.append(begun is not None and not begun.__self__.is_set())  # Event.set
        return sha256_of(path, begun)

    def reading(self, path, *args):
        events.append("read")
        return load_index(self, path, *args)

    load_index = hnswlib.Index.load_index
    monkeypatch.setattr(filehash, "sha256_of", hashing)
    monkeypatch.setattr(hnswlib.Index, "load_index", reading)
    hashes = filehash.start_early(tmp_path)
    early = preload.start(tmp_path, hashes)
    assert early.after is hashes.last_file_begun
    assert hashes.done.wait(10) and early.done.wait(10)
    hashed = [e.removeprefix("hash ") for e in events if e != "read"]
    assert hashed == ["manifest.json", *[n for n in names if n != "index.hnsw"], "index.hnsw"]
    assert events.index("read") > events.index("hash z.npy")  # every other file hashed first
    assert held == [True]
    index = preload.take(folder, DIM)
    assert index.knn_query(vectors[:3], k=1)[0][:, 0].tolist() == [0, 1, 2]
    assert filehash.digest(folder / "index.hnsw") == sha256_of(folder / "index.hnsw")
    # the read's own seconds, without the wait for the hashing
    assert preload.early_wait_seconds() == early.waited > 0
    assert preload.early_seconds() == pytest.approx(early.seconds - early.waited)


def test_the_read_is_not_held_back_by_hashes_that_ended_early_or_hash_another_folder(
    tmp_path, early_reset
):
    folder, _ = index_version(tmp_path)
    (folder / "manifest.json").write_text("{not json")  # the early hashing gives up at once
    hashes = filehash.start_early(tmp_path)
    assert hashes.last_file_begun.wait(10) and hashes.done.wait(10)
    assert preload.start(tmp_path, hashes).done.wait(10)
    assert preload.take(folder, DIM) is not None
    other = filehash.EarlyHashes(tmp_path / "v0009")  # never started: its event never set
    early = preload.start(tmp_path, other)
    assert early.after is None and early.done.wait(10)
