"""A verified model version, opened once: encoder, index and lookup tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from registry_app.pipeline import index as hnsw
from registry_app.pipeline.manifest import MANIFEST, sha256_of, verify_version_dir
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

    @classmethod
    def open(
        cls, folder: Path, ef_search: int | None = None, expected_sha256: str | None = None
    ) -> LoadedModel:
        started = time.perf_counter()
        manifest = verify_version_dir(folder, expected_sha256)
        encoder = FeatureEncoder.load(folder)
        ef = ef_search or manifest["parameters"]["hnsw"]["ef_search"]
        index = hnsw.load_index(folder, encoder.dim, ef)
        names = [c["name"] for c in manifest["parameters"]["attributes"]]
        profile_names = [a["name"] for a in manifest.get("profile", {}).get("attributes", [])]
        tables = RoutingTables(folder, profile_names or names)
        return cls(
            label=folder.name,
            folder=folder,
            manifest=manifest,
            manifest_sha256=sha256_of(folder / "manifest.json"),
            encoder=encoder,
            index=index,
            tables=tables,
            load_seconds=time.perf_counter() - started,
            files=_stats(folder, [e["path"] for e in manifest.get("artifacts", [])]),
            ef_search=int(ef),
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
