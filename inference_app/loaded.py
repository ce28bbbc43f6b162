"""A verified model version, opened once: encoder, index and lookup tables."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from registry_app.pipeline import index as hnsw
from registry_app.pipeline.manifest import sha256_of, verify_version_dir
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
        )
