"""Manifest verification: altered files are named, incompatible runtimes are explained."""

import hashlib

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from registry_app.pipeline.manifest import (
    ManifestError,
    RuntimeMismatch,
    check_runtime,
    sha256_of,
    verify_version_dir,
)


def flip_one_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_passes_on_an_untouched_version(quick_training, capsys):
    version = quick_training()
    call_command("verify", version.label)
    assert "OK" in capsys.readouterr().out


def test_one_changed_byte_is_named_and_activation_refused(quick_training, settings):
    version = quick_training()
    version.approve()
    flip_one_byte(settings.MODELS_DIR / version.label / "tables" / "op_setup.npy")
    with pytest.raises(CommandError, match="tables/op_setup.npy: SHA-256 differs"):
        call_command("verify", version.label)
    with pytest.raises(ManifestError, match="op_setup.npy"):
        version.activate()
    version.refresh_from_db()
    assert version.state == "approved"


def test_a_missing_file_and_an_edited_manifest_are_refused(quick_training, settings):
    version = quick_training()
    folder = settings.MODELS_DIR / version.label
    (folder / "index.hnsw").unlink()
    with pytest.raises(ManifestError, match="index.hnsw: missing"):
        verify_version_dir(folder)
    manifest = folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"format": 1', '"format": 1 '))
    with pytest.raises(ManifestError, match="edited after training"):
        verify_version_dir(folder, expected_sha256=version.manifest_sha256)


def test_an_incompatible_runtime_is_explained():
    built = {"python": "3.11.7", "numpy": "1.26.4", "hnswlib": "0.8.0"}
    installed = {"python": "3.11.9", "numpy": "2.3.4", "hnswlib": "0.8.0"}
    with pytest.raises(RuntimeMismatch) as err:
        check_runtime(built, "v0007", installed)
    message = err.value.detail
    assert "v0007 was built with numpy 1.26.4 (installed 2.3.4)" in message
    assert "pip install -r requirements/base.txt" in message and "train --wait" in message
    check_runtime(
        built | {"numpy": "2.3.1"}, "v0007", installed
    )  # same major.minor? no: 2.3 == 2.3


def test_sha256_of_hashes_whole_files_and_empty_ones(tmp_path):
    big = tmp_path / "big.bin"
    data = bytes(range(256)) * 20_000 + b"tail"  # several MB, not a multiple of any block
    big.write_bytes(data)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert sha256_of(big) == hashlib.sha256(data).hexdigest()
    assert sha256_of(empty) == hashlib.sha256(b"").hexdigest()
    big.write_bytes(data[:-1] + b"X")
    assert sha256_of(big) != hashlib.sha256(data).hexdigest()
