"""SHA-256 of a version's files, and the same hashes started before the serving process is set up.

``manage.py serve`` cannot answer before the full hash check of the version it serves has passed
(``LoadedModel.open``). That check used to start once Django was set up and the registry read — half
a second into the start — and the start then waited for it. :func:`start_early`, called by
``manage.py`` for ``serve`` before Django is imported, hashes the files of the version served or
activated last (``models/active.json``, ``models/activated.json``: nearly always the one served
next, :func:`expected_version`) in a thread, beside Django's set-up. :func:`digest` then answers
from those hashes for a file that was hashed there and has not changed since (same size,
modification time and inode, taken before and after its hashing and again when asked); any other
file is hashed when asked. The verification itself is unchanged: the same manifest, the same
comparisons, nothing served before they pass.

Django-free: imported by ``manage.py`` before the settings are read.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

POINTER = "active.json"  # the runtime's record of the version served last
ACTIVATED = "activated.json"  # the registry's record of the version activated last (a hint)
MANIFEST = "manifest.json"
# hashed last: the early read of the index (``preload``) holds the interpreter lock for its
# whole read, so it begins when the hashing reaches this file and the two run side by side (the
# hashing needs the lock between two files, not within one)
HASHED_LAST = "index.hnsw"


def sha256_of(path: Path, hashing: Callable[[], object] | None = None) -> str:
    """SHA-256 of a file, hashed from a memory map in one call: hashlib releases the
    interpreter lock for the whole file, so a hash thread does not wait for the lock once per
    block while another thread imports (the serving process hashes beside its imports).
    ``hashing`` is called once the file is open and mapped, right before that call."""
    digest_ = hashlib.sha256()
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:  # an empty file cannot be mapped
            return digest_.hexdigest()
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            if hashing is not None:
                hashing()
            digest_.update(mapped)
    return digest_.hexdigest()


def file_identity(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class EarlyWork:
    """Work on one version folder by a thread started at process start: :meth:`work` runs once;
    ``done`` is set and ``seconds`` kept however it ends."""

    thread_name = "early"

    def __init__(self, folder: Path):
        self.folder = folder.resolve()
        self.seconds = 0.0
        self.done = threading.Event()

    def work(self) -> None:
        raise NotImplementedError

    def run(self) -> None:
        started = time.perf_counter()
        try:
            self.work()
        finally:
            self.seconds = time.perf_counter() - started
            self.done.set()

    def start(self) -> EarlyWork:
        threading.Thread(target=self.run, name=self.thread_name, daemon=True).start()
        return self

    def finished_seconds(self) -> float | None:
        """How long the work took (None: not finished yet)."""
        return self.seconds if self.done.is_set() else None


class EarlyHashes(EarlyWork):
    """The hashes of one version folder, computed by a thread started at process start."""

    thread_name = "early-hashes"

    def __init__(self, folder: Path):
        super().__init__(folder)
        self.found: dict[Path, tuple[str, tuple[int, int, int]]] = {}
        # set when every file but ``HASHED_LAST`` is hashed and that one's hashing call begins
        # (or the hashing ended early)
        self.last_file_begun = threading.Event()

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.last_file_begun.set()

    def work(self) -> None:
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
            paths = [MANIFEST, *(str(e["path"]) for e in manifest.get("artifacts", []))]
            for rel in sorted(paths, key=lambda rel: rel == HASHED_LAST):  # stable: last only
                path = (self.folder / rel).resolve()
                if not self.holds(path):
                    continue  # never outside the version folder
                before = file_identity(path)
                # the read may begin once this thread is inside the hashing call, not before: a
                # read that took the lock at this file's opening would hold the hashing back
                begun = self.last_file_begun.set if rel == HASHED_LAST else None
                sha = sha256_of(path, begun)
                if file_identity(path) == before:
                    self.found[path] = (sha, before)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # whatever was not hashed here is hashed when asked

    def holds(self, path: Path) -> bool:
        """Whether the resolved ``path`` lies inside this version folder."""
        return self.folder in path.parents

    def lookup(self, path: Path) -> str | None:
        """The early hash of ``path`` when it was hashed here and is unchanged since."""
        path = path.resolve()
        if not self.holds(path):
            return None
        self.done.wait()
        found = self.found.pop(path, None)  # used once: later checks hash the file again
        try:
            return found[0] if found and file_identity(path) == found[1] else None
        except OSError:
            return None


_early: EarlyHashes | None = None


def _named(path: Path) -> tuple[float, str] | None:
    """(modification time, label) of a pointer file naming a version; None when unreadable."""
    try:
        label = json.loads(path.read_text(encoding="utf-8"))["label"]
        when = path.stat().st_mtime
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(label, str) or not label or Path(label).name != label:
        return None
    return when, label


def expected_version(models_dir: Path) -> Path | None:
    """The folder of the version a starting server most likely loads: the one named last in
    ``models_dir/active.json`` (written by a server that served it) or ``activated.json``
    (written when the registry activates a version, also while no server runs). None: nothing
    served or activated yet, or unreadable pointers. Only a guess for work begun early: the
    load verifies whatever the registry names."""
    found = [f for f in (_named(models_dir / POINTER), _named(models_dir / ACTIVATED)) if f]
    return models_dir / max(found)[1] if found else None


def record_activation(models_dir: Path, label: str) -> None:
    """Write ``models_dir/activated.json`` (see :func:`expected_version`); never fails."""
    target = models_dir / ACTIVATED
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"label": label, "activated_at": time.time()}), "utf-8")
        os.replace(tmp, target)
    except OSError:
        pass  # a hint only: the next start reads the version itself


def start_early(models_dir: Path) -> EarlyHashes | None:
    """Hash the version a start most likely loads (:func:`expected_version`) in a thread."""
    global _early
    folder = expected_version(models_dir)
    if folder is None:
        return None  # hash when asked
    _early = EarlyHashes(folder).start()
    return _early


def early_seconds() -> float | None:
    """How long the early hashing took (None: it did not run or has not finished)."""
    return _early.finished_seconds() if _early is not None else None


def digest(path: Path) -> str:
    """``sha256_of(path)``, from the early hashes when they cover this unchanged file."""
    early = _early
    found = early.lookup(path) if early is not None else None
    return found if found is not None else sha256_of(path)
