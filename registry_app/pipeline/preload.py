"""The index of the version served last, read from disk while the serving process sets up.

Reading a 325,000-item index takes a quarter of a second, and hnswlib holds the interpreter
lock for the whole read. :func:`start`, called by ``manage.py`` for ``serve`` before Django is
imported (after :func:`filehash.start_early`), reads the index of the version served or activated
last (``models/active.json``, ``models/activated.json``) in a thread while Django's set-up
imports. Given the early hashes of that folder it begins the read when their thread reaches the
index file, hashed last: the hashing of the other files then runs beside the imports, and the
index file's own hashing (which leaves the lock while it hashes) beside its read, instead of
stalling at the first file boundary after the read began.
``LoadedModel.open`` then takes it with :func:`take` when it opens that same folder, the index file
has not changed since it was read (same size, modification time and inode, before and after the read
and when taken) and the dimension is the encoder's; otherwise, and for every later load, it reads
the file itself. The verification is unchanged: the version's hashes (this file's included) are
checked against its manifest before anything is served, whichever thread read the file.

Django-free: imported by ``manage.py`` before the settings are read.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from registry_app.pipeline.filehash import (
    HASHED_LAST,
    EarlyHashes,
    EarlyWork,
    expected_version,
    file_identity,
)

INDEX_FILE = HASHED_LAST  # registry_app.pipeline.index.INDEX_FILE, without importing numpy here
ENCODER_FILE = "encoder.json"


class EarlyIndex(EarlyWork):
    """One version folder's index, read by a thread started at process start."""

    thread_name = "early-index"

    def __init__(self, folder: Path, after: threading.Event | None = None):
        super().__init__(folder)
        self.after = after  # the read begins once it is set (the hashing reached the index)
        self.waited = 0.0  # seconds spent waiting for it: no part of the read
        self.index = None
        self.dim = 0
        self.identity: tuple[int, int, int] | None = None

    def work(self) -> None:
        try:
            import hnswlib

            path = self.folder / INDEX_FILE
            dim = int(json.loads((self.folder / ENCODER_FILE).read_text(encoding="utf-8"))["dim"])
            if self.after is not None:
                began = time.perf_counter()
                self.after.wait()
                self.waited = time.perf_counter() - began
            before = file_identity(path)
            index = hnswlib.Index(space="cosine", dim=dim)
            index.load_index(str(path))
            if file_identity(path) == before:
                self.index, self.dim, self.identity = index, dim, before
        except Exception:  # noqa: BLE001 - whatever fails here is read (and reported) when asked
            self.index = None

    def take(self, folder: Path, dim: int):
        """The index read here when it is ``folder``'s, unchanged and of ``dim``; once."""
        if folder.resolve() != self.folder:
            return None
        self.done.wait()
        index, self.index = self.index, None  # handed out once; later loads read the file
        try:
            unchanged = self.identity == file_identity(self.folder / INDEX_FILE)
        except OSError:
            return None
        return index if index is not None and unchanged and dim == self.dim else None


_early: EarlyIndex | None = None


def start(models_dir: Path, hashes: EarlyHashes | None = None) -> EarlyIndex | None:
    """Read the index of the version a start most likely loads (``filehash.expected_version``)
    in a background thread; when ``hashes`` hash that folder, from the moment they reach its
    index file."""
    global _early
    folder = expected_version(models_dir)
    if folder is None or not (folder / INDEX_FILE).is_file():
        return None
    same = hashes is not None and hashes.folder == folder.resolve()
    _early = EarlyIndex(folder, hashes.last_file_begun if same else None).start()
    return _early


def take(folder: Path, dim: int):
    """The early-read index of ``folder`` (see :meth:`EarlyIndex.take`), or None."""
    early = _early
    return early.take(folder, dim) if early is not None else None


def discard() -> None:
    """Drop an early-read index no load took (another version became active meanwhile)."""
    early = _early
    if early is not None:
        early.done.wait()
        early.index = None


def early_seconds() -> float | None:
    """How long the early read took, its imports included and the wait for the hashing left
    out (None: it did not run or has not finished)."""
    seconds = _early.finished_seconds() if _early is not None else None
    return None if seconds is None else seconds - _early.waited


def early_wait_seconds() -> float:
    """How long the early read waited for the hashing to reach the index file."""
    return _early.waited if _early is not None and _early.done.is_set() else 0.0
