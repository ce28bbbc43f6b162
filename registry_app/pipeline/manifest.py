"""``manifest.json``: what a version folder holds, proven by size and SHA-256, and what built it.

:func:`verify_version_dir` is the one gate every loader and every activation goes through: a
missing, extra-sized or altered artifact refuses the version with a message naming the file, and
a runtime whose library versions cannot read the artifacts is refused with what to do.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from registry_app.pipeline.filehash import sha256_of
from routing_site.errors import DomainError

MANIFEST = "manifest.json"
FORMAT = 1
# Libraries whose major.minor must match between training and serving: their files (numpy
# arrays, hnswlib's index layout) are read by the runtime. python only needs the same major.
RUNTIME_PACKAGES = ("numpy", "scikit-learn", "joblib", "hnswlib", "scipy")
STRICT = {"numpy": 1, "hnswlib": 2}  # compared on this many leading version parts


class ManifestError(DomainError):
    status_code = 409
    code = "manifest_invalid"


class RuntimeMismatch(DomainError):
    status_code = 409
    code = "runtime_incompatible"


def runtime_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in RUNTIME_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_manifest(folder: Path, files: list[str], body: dict) -> str:
    """Hash every artifact, write ``manifest.json`` last; return the manifest's own SHA-256."""
    artifacts = []
    for rel in sorted(files):
        path = folder / rel
        artifacts.append({"path": rel, "size": path.stat().st_size, "sha256": sha256_of(path)})
    manifest = {"format": FORMAT, **body, "artifacts": artifacts, "runtime": runtime_versions()}
    target = folder / MANIFEST
    target.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str))
    return sha256_of(target)


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ManifestError(f"Version folder {folder} does not exist.", code="version_missing")
    if not path.is_file():
        raise ManifestError(f"{path} is missing: the version folder is incomplete.")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path} is not valid JSON ({exc}).") from None


def verify_version_dir(
    folder: Path, expected_sha256: str | None = None, digest: Callable[[Path], str] = sha256_of
) -> dict:
    """Check the manifest against the files and the runtime; return the manifest.
    ``digest``: how a file's SHA-256 is had (the serving process passes the one that answers
    from the hashes begun at its start, ``filehash.digest``)."""
    manifest = read_manifest(folder)
    if expected_sha256 and digest(folder / MANIFEST) != expected_sha256:
        raise ManifestError(
            f"{folder / MANIFEST} differs from the checksum recorded in the registry: the manifest "
            "was edited after training. Retrain, or restore the folder from backup."
        )
    problems = []
    for entry in manifest.get("artifacts", []):
        path = folder / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(
                f"{entry['path']}: size {path.stat().st_size}, expected {entry['size']}"
            )
        elif digest(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: SHA-256 differs from the manifest")
    if problems:
        raise ManifestError(
            f"Version {folder.name} failed verification: "
            + "; ".join(problems)
            + ". Restore the folder from backup or train a new version.",
            fields={"files": problems},
        )
    check_runtime(manifest.get("runtime", {}), folder.name)
    return manifest


def _parts(version: str, n: int) -> tuple:
    return tuple(version.split("+")[0].split(".")[:n])


def check_runtime(built: dict, label: str = "this version", installed: dict | None = None) -> None:
    installed = installed or runtime_versions()
    problems = []
    if _parts(built.get("python", ""), 1) != _parts(installed["python"], 1):
        problems.append(f"python {built.get('python')} (installed {installed['python']})")
    for name, depth in STRICT.items():
        want, have = built.get(name), installed.get(name)
        if want and _parts(want, depth) != _parts(have or "", depth):
            problems.append(f"{name} {want} (installed {have})")
    if problems:
        raise RuntimeMismatch(
            f"{label} was built with " + ", ".join(problems) + ". Install the versions pinned in "
            "requirements/base.txt (pip install -r requirements/base.txt), or retrain the model "
            "with the installed libraries (manage.py train --wait).",
            fields={"runtime": problems},
        )
