"""Hashes begun at the serving process's start: the same digests, and never a stale one."""

import hashlib
import json
import os

import pytest

from inference_app.loaded import LoadedModel
from registry_app.pipeline import filehash
from registry_app.pipeline.manifest import ManifestError


@pytest.fixture
def early_reset():
    filehash._early = None
    yield
    filehash._early = None


def small_version(models_dir, label="v0007"):
    folder = models_dir / label
    folder.mkdir(parents=True)
    (folder / "index.hnsw").write_bytes(b"index" * 100_000)
    (folder / "empty.npy").write_bytes(b"")
    artifacts = [{"path": p, "size": 0, "sha256": ""} for p in ("index.hnsw", "empty.npy")]
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    (models_dir / "active.json").write_text(json.dumps({"label": label}))
    return folder


def test_early_hashes_equal_the_files_and_are_used_once(tmp_path, early_reset, monkeypatch):
    folder = small_version(tmp_path)
    early = filehash.start_early(tmp_path)
    assert early is not None and early.done.wait(10)
    assert filehash.early_seconds() is not None
    read = []
    monkeypatch.setattr(filehash, "sha256_of", lambda p: read.append(p.name) or "re-read")
    index = folder / "index.hnsw"
    assert filehash.digest(index) == hashlib.sha256(index.read_bytes()).hexdigest()
    assert filehash.digest(folder / "empty.npy") == hashlib.sha256(b"").hexdigest()
    assert read == []  # answered from the early hashes, no file read again
    assert filehash.digest(index) == "re-read"  # a second check reads the file itself
    assert read == ["index.hnsw"]


def test_a_file_changed_after_the_early_hash_is_hashed_again(tmp_path, early_reset):
    folder = small_version(tmp_path)
    assert filehash.start_early(tmp_path).done.wait(10)
    index = folder / "index.hnsw"
    index.write_bytes(b"tampered" * 100_000)  # another size and modification time
    assert filehash.digest(index) == hashlib.sha256(b"tampered" * 100_000).hexdigest()


def test_no_pointer_a_bad_label_or_another_version_hash_when_asked(tmp_path, early_reset):
    assert filehash.start_early(tmp_path) is None  # nothing served yet
    (tmp_path / "active.json").write_text("{not json")
    assert filehash.start_early(tmp_path) is None
    for label in ("../outside", "", 7):
        (tmp_path / "active.json").write_text(json.dumps({"label": label}))
        assert filehash.start_early(tmp_path) is None
    other = small_version(tmp_path / "b", "v0002")
    small_version(tmp_path / "a", "v0001")
    assert filehash.start_early(tmp_path / "a").done.wait(10)
    data = (other / "index.hnsw").read_bytes()
    assert filehash.digest(other / "index.hnsw") == hashlib.sha256(data).hexdigest()
    assert filehash._early.lookup(other / "index.hnsw") is None


def test_a_version_altered_after_the_early_hash_is_refused(served_version, settings, early_reset):
    version, folder = served_version
    assert filehash.start_early(settings.MODELS_DIR).done.wait(30)
    target = folder / "tables" / "op_setup.npy"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match="op_setup.npy: SHA-256 differs"):
        LoadedModel.open(folder, expected_sha256=version.manifest_sha256)


def test_an_untouched_version_opens_from_the_early_hashes(
    served_version, settings, early_reset, monkeypatch
):
    version, folder = served_version
    assert filehash.start_early(settings.MODELS_DIR).done.wait(30)
    read = []
    original = filehash.sha256_of
    monkeypatch.setattr(filehash, "sha256_of", lambda p: read.append(p) or original(p))
    model = LoadedModel.open(folder, expected_sha256=version.manifest_sha256)
    assert model.label == version.label and read == []


def test_the_version_expected_is_the_one_served_or_activated_last(tmp_path):
    assert filehash.expected_version(tmp_path) is None
    served, activated = tmp_path / "active.json", tmp_path / "activated.json"
    served.write_text(json.dumps({"label": "v0001"}))
    assert filehash.expected_version(tmp_path) == tmp_path / "v0001"
    filehash.record_activation(tmp_path, "v0002")
    os.utime(served, (1_000_000, 1_000_000))  # served long before the activation
    assert json.loads(activated.read_text())["label"] == "v0002"
    assert filehash.expected_version(tmp_path) == tmp_path / "v0002"
    os.utime(activated, (500_000, 500_000))  # a server has served another one since
    assert filehash.expected_version(tmp_path) == tmp_path / "v0001"
    served.write_text("{not json")
    assert filehash.expected_version(tmp_path) == tmp_path / "v0002"
    activated.write_text(json.dumps({"label": "../outside"}))
    assert filehash.expected_version(tmp_path) is None


def test_an_activation_names_its_version_for_the_next_start(quick_training, settings, early_reset):
    version = quick_training()
    (settings.MODELS_DIR / "active.json").write_text(json.dumps({"label": "v9999"}))
    os.utime(settings.MODELS_DIR / "active.json", (1_000_000, 1_000_000))
    version.approve()
    version.activate()
    early = filehash.start_early(settings.MODELS_DIR)
    assert early is not None and early.folder == (settings.MODELS_DIR / version.label).resolve()
    assert early.done.wait(30)
