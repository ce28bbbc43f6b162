"""A verified model version, opened once: encoder, index and lookup tables."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from registry_app.pipeline import filehash, preload
from registry_app.pipeline.manifest import (
    MANIFEST,
    ManifestError,
    read_manifest,
    sha256_of,
    verify_version_dir,
)

if TYPE_CHECKING:
    from registry_app.pipeline.tables import RoutingTables
    from routing_core.features import FeatureEncoder


@dataclass
class LoadedModel:
    label: str
    folder: Path
    manifest: dict
    manifest_sha256: str
    encoder: FeatureEncoder
    index: object
    tables: RoutingTables
    loaded_at: float = field(default_factory=time.time)
    load_seconds: float = 0.0
    files: dict = field(default_factory=dict)  # path -> (size, mtime_ns) when verified
    file_problems: list = field(default_factory=list)  # found by the runtime's re-checks
    hashed_at: float = field(default_factory=time.time)
    ef_search: int = 0  # the index's query ef: answers differ with it, so caches key by it
    stages: dict = field(default_factory=dict)  # seconds per load stage, one after the other
    verify_seconds: float = 0.0  # the full hash check, beside the stages

    @classmethod
    def open(
        cls, folder: Path, ef_search: int | None = None, expected_sha256: str | None = None
    ) -> LoadedModel:
        started = time.perf_counter()
        clock = _Clock()
        manifest = clock.timed("size check", _sizes_checked, folder, expected_sha256)
        with ThreadPoolExecutor(1, thread_name_prefix="verify") as pool:
            # the hashes beside the loads; nothing is returned (served) before they pass
            verified = pool.submit(_timed_verify, folder, expected_sha256)
            try:
                hnsw, RoutingTables, FeatureEncoder = clock.timed("model code", _model_code)
                encoder = clock.timed("encoder", FeatureEncoder.load, folder)
                ef = ef_search or manifest["parameters"]["hnsw"]["ef_search"]
                index = clock.timed("index load", _index, hnsw, folder, encoder.dim, ef)
                names = [c["name"] for c in manifest["parameters"]["attributes"]]
                profile = [a["name"] for a in manifest.get("profile", {}).get("attributes", [])]
                tables = clock.timed("tables", RoutingTables, folder, profile or names)
            except Exception:
                verified.result()  # a file that fails verification explains the failure
                raise
            checked, verify_seconds = clock.timed("verification wait", verified.result)
        if checked != manifest:
            raise ManifestError(f"{folder / MANIFEST} changed while the version was loading.")
        return cls(
            label=folder.name,
            folder=folder,
            manifest=manifest,
            manifest_sha256=expected_sha256 or sha256_of(folder / MANIFEST),  # checked above
            encoder=encoder,
            index=index,
            tables=tables,
            load_seconds=time.perf_counter() - started,
            files=_stats(folder, [e["path"] for e in manifest.get("artifacts", [])]),
            ef_search=int(ef),
            stages=clock.stages,
            verify_seconds=verify_seconds,
        )

    def changed_files(self) -> list[str]:
        """Files whose size or modification time differs from when they were verified."""
        problems = []
        for rel, seen in self.files.items():
            try:
                stat = (self.folder / rel).stat()
            except OSError:
                problems.append(f"{rel}: missing")
                continue
            if (stat.st_size, stat.st_mtime_ns) != seen:
                problems.append(f"{rel}: changed on disk since it was loaded")
        return problems

    def altered_files(self) -> list[str]:
        """Files whose SHA-256 differs from the manifest (reads every file: run it rarely)."""
        expected = {e["path"]: e["sha256"] for e in self.manifest.get("artifacts", [])}
        expected[MANIFEST] = self.manifest_sha256
        return [
            f"{rel}: SHA-256 differs from the manifest"
            for rel, sha in expected.items()
            if not _hash_matches(self.folder / rel, sha)
        ]


def _model_code() -> tuple:
    """The index, tables and encoder modules, imported when the first version opens, not with
    this module: at start the hash check (which runs without the interpreter lock) already
    reads the files while numpy and hnswlib are imported. pandas and scipy are not imported
    at start: only training, evaluation and a batch with more than 64 distinct values of one
    attribute encode through them (imported by the first such call)."""
    from registry_app.pipeline import index
    from registry_app.pipeline.tables import RoutingTables
    from routing_core.features import FeatureEncoder

    return index, RoutingTables, FeatureEncoder


def _index(hnsw, folder: Path, dim: int, ef: int):
    """The index read at process start when it is this folder's and unchanged
    (``preload.take``), else read now."""
    index = preload.take(folder, dim)
    if index is None:
        return hnsw.load_index(folder, dim, ef)
    return hnsw.ready_index(index, ef)


def _sizes_checked(folder: Path, expected_sha256: str | None) -> dict:
    """The manifest, once every artifact exists with its recorded size (the full check, with
    its usual message, runs at once when one does not)."""
    manifest = read_manifest(folder)
    for entry in manifest.get("artifacts", []):
        path = folder / entry["path"]
        if not path.is_file() or path.stat().st_size != entry["size"]:
            verify_version_dir(folder, expected_sha256)  # raises ManifestError
    return manifest


def _timed_verify(folder: Path, expected_sha256: str | None) -> tuple[dict, float]:
    """The full check; a file the process hashed at its start and unchanged since is not read
    twice (``filehash.digest``)."""
    started = time.perf_counter()
    checked = verify_version_dir(folder, expected_sha256, digest=filehash.digest)
    return checked, time.perf_counter() - started


class _Clock:
    def __init__(self):
        self.stages: dict[str, float] = {}

    def timed(self, stage: str, fn, *args):
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.stages[stage] = time.perf_counter() - started


def _stats(folder: Path, paths: list[str]) -> dict:
    found = {}
    for rel in [MANIFEST, *paths]:
        stat = (folder / rel).stat()
        found[rel] = (stat.st_size, stat.st_mtime_ns)
    return found


def _hash_matches(path: Path, sha: str) -> bool:
    try:
        return sha256_of(path) == sha
    except OSError:
        return False
