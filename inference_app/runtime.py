"""The process-wide runtime: which model version serves, with which settings, and the swap.

A background thread polls the registry every ``RUNTIME_POLL_SECONDS`` (one tiny query) for the
active version's label and the workflow settings revision. A new active version is opened and
verified *beside* the serving one and swapped in with one reference assignment: requests in
flight keep the object they started with, so nothing fails during a switch. A version that fails
verification is never swapped in; the old one keeps serving and the failure is logged at ERROR
and shown by health and the admin banner. If the registry cannot be read at start, the version
named in ``models/active.json`` (the last one verified and served) is served with an alert.
On shared storage a version's folder may reach this host after its registry row: for the first
``RUNTIME_VERIFY_GRACE_SECONDS`` a version whose folder, manifest or files are missing or
shorter than recorded is retried on every poll while the loaded one keeps serving, with no
"refused" alert; after that it is refused as above. Altered content is refused at once.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from inference_app.loaded import LoadedModel
from routing_site.errors import ServiceUnavailable
from routing_site.sqlite.base import registry_problem
from workflow_app import settings_schema

log = logging.getLogger("routing.runtime")
POINTER = "active.json"
RETRY_REFUSED_S = 30.0  # a refused active version is tried again after this pause
FULL_POLL_SECONDS = 5.0  # the poller reads the registry at least this often, files unchanged
# A file changed this recently may change again within the same tick of the file system's clock
# (a jiffy here, up to 2 s on some file systems) without its status showing it, as git's
# "racily clean" index entries: such a status is not trusted to skip a later read.
RACY_NS = 2_000_000_000


def registry_files() -> tuple | None:
    """The status of an SQLite registry's database file (inode, size, modification and change
    times) and write-ahead log (the same without the change time: SQLite running as root gives
    the log its database's owner again at every open) — None for a missing one; None when the
    registry is not an SQLite file, and on Windows (where a file's modification time may be
    written only when its handle closes, so a commit need not change it)."""
    from django.db import connections

    from routing_site.sqlite.base import is_file_name

    db = connections["default"]
    name = str(db.settings_dict["NAME"])
    if os.name == "nt" or db.vendor != "sqlite" or not is_file_name(name):
        return None
    found = []
    for path in (name, f"{name}-wal"):
        try:
            st = os.stat(path)
        except OSError:
            found.append(None)
            continue
        found.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    if found[1] is not None:
        found[1] = found[1][:3]
    return tuple(found)


def racy(files: tuple, taken_ns: int) -> bool:
    """Whether a status taken at ``taken_ns`` (wall clock) is too recent to show the next
    commit: a file modified within ``RACY_NS`` of it, or in the future of it (a clock set
    back). A commit in the same tick as the last change would leave the status unchanged."""
    newest = max((found[2] for found in files if found is not None), default=None)
    return newest is not None and taken_ns - newest < RACY_NS  # a negative age too


class ResultCache:
    """A bounded LRU of query results, keyed by (version, settings revision, input)."""

    def __init__(self, size: int):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key, value) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def resize(self, size: int) -> None:
        with self._lock:
            self.size = size
            while len(self._data) > max(size, 0):
                self._data.popitem(last=False)

    def stats(self) -> dict:
        total = self.hits + self.misses
        return {
            "size": len(self._data),
            "capacity": self.size,
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / total, 4) if total else 0.0,
        }


@dataclass
class Alert:
    level: str
    message: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SettingsSnapshot:
    """The workflow settings and their revision, replaced as one object: a request reads
    ``runtime.snapshot`` once and computes and caches with that pair only."""

    values: dict
    revision: int


class Runtime:
    def __init__(self):
        self.reset()

    @property
    def settings(self) -> dict:
        return self.snapshot.values

    @property
    def settings_rev(self) -> int:
        return self.snapshot.revision

    def cache_key(self, model: LoadedModel, snapshot: SettingsSnapshot, *parts) -> tuple:
        """What a cached answer depends on: the version, its index's ef, the settings."""
        return (model.label, model.ef_search, snapshot.revision, *parts)

    def reset(self) -> None:
        """Forget everything (tests, and ``serve`` before it starts)."""
        if getattr(self, "_thread", None) is not None:
            self.stop()
        self.model: LoadedModel | None = None
        self.snapshot = SettingsSnapshot(settings_schema.defaults(), -1)
        self.registry_ok = False
        self.registry_error = ""
        self.active_label: str | None = None  # what the registry says, even if not loaded
        self.failed: dict[str, str] = {}  # label -> why it was refused
        self.unverified: dict[str, tuple[float, str]] = {}  # label -> (first try, why), in grace
        self.alerts: list[Alert] = []
        self.cache = ResultCache(self.settings["cache_size"])
        self.started_at = time.time()
        self.swaps = 0
        self._refused_at = 0.0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._hasher: threading.Thread | None = None
        self._stop = threading.Event()
        self._polled: tuple | None = None  # (registry_files(), when) of the last settled poll

    # -- state the request path reads -------------------------------------------------------
    def require_model(self) -> LoadedModel:
        model = self.model
        if model is None:
            raise ServiceUnavailable(self.unavailable_reason())
        return model

    def unavailable_reason(self) -> str:
        if not self.registry_ok and self.registry_error:
            return f"No model loaded: the registry cannot be read ({self.registry_error})."
        if self.active_label and self.active_label in self.failed:
            why = self.failed[self.active_label]
            return f"No model loaded: active version {self.active_label} was refused: {why}"
        if not self.active_label:
            return (
                "No active model version. Train one (manage.py train --wait), then approve and "
                "activate it (manage.py approve V; manage.py activate V)."
            )
        return f"Model {self.active_label} is loading; retry in a moment."

    def alert(self, level: str, message: str) -> None:
        getattr(log, level.lower(), log.error)(message)
        self.alerts = [*self.alerts[-19:], Alert(level, message)]

    # -- polling and swapping ---------------------------------------------------------------
    def start(self, refresh: bool = True) -> None:
        """Start the poller (a no-op once it runs), after one poll here unless ``refresh`` is
        false (``serve``'s workers: the version was loaded moments before, by the process that
        forked them; the poller's first round follows within ``RUNTIME_POLL_SECONDS``)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            if refresh:
                self.refresh()
            self._thread = threading.Thread(target=self._loop, name="runtime-poller", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(settings.RUNTIME_POLL_SECONDS):
            try:
                if self._registry_unchanged():
                    self.check_files()
                else:
                    self.refresh()
            except Exception:  # the poller must never die
                log.exception("runtime refresh failed")

    def _registry_unchanged(self) -> bool:
        """Whether the poller may skip reading the registry this time: an SQLite registry whose
        files are as they were just before the last full poll, which found everything settled,
        less than ``FULL_POLL_SECONDS`` ago. Any commit (an activation, new settings) changes
        the database file or its write-ahead log, so it is read at the next poll as before (a
        log rewritten in place to the same size within one tick of the file system's clock
        would not show: the full read every ``FULL_POLL_SECONDS`` bounds that); a connection
        and two queries cost 2-3 ms of CPU, the files' status a few µs."""
        polled = self._polled
        if polled is None or time.monotonic() - polled[1] >= FULL_POLL_SECONDS:
            return False
        return registry_files() == polled[0]

    def refresh(self) -> None:
        """One poll: read the registry, load a new active version and settings if changed."""
        before = registry_files()  # taken first: a commit after it changes them
        taken_ns = time.time_ns()
        self._polled = None
        self._refresh()
        if before is not None and not racy(before, taken_ns) and self._settled():
            self._polled = (before, time.monotonic())

    def _settled(self) -> bool:
        """Nothing a later poll must retry: the registry was read, the active version (if any)
        serves with the settings' ef, nothing waits in its grace period or was refused."""
        if not self.registry_ok or self.unverified or self.failed:
            return False
        model = self.model
        if self.active_label is None:
            return model is None
        return (
            model is not None
            and model.label == self.active_label
            and model.ef_search == self.settings["hnsw_ef_search"]
        )

    def _refresh(self) -> None:
        try:
            from registry_app.models import ModelVersion, VersionState
            from workflow_app.config import current_settings_and_revision, settings_revision

            row = (
                ModelVersion.objects.filter(state=VersionState.ACTIVE)
                .values_list("label", "manifest_sha256")
                .first()
            )
            if settings_revision() != self.settings_rev:
                self._apply_settings(*current_settings_and_revision())
            self._retry_ef_search()
            self._registry_state(registry_problem())
        except Exception as exc:  # database down, locked, or not migrated
            self._registry_unreadable(exc)
            return
        finally:
            if threading.current_thread().name == "runtime-poller":
                connection.close()  # the poller holds no connection between polls
        self.check_files()
        if row is None:
            self.active_label = None
            return
        label, sha = row
        if label != self.active_label:
            self.failed.clear()  # a new decision in the registry: try everything afresh
            self.unverified.clear()
        self.active_label = label
        current = self.model
        if current is not None and current.label == label:
            return
        if label in self.failed and time.time() - self._refused_at < RETRY_REFUSED_S:
            return  # refused moments ago; an operator may be restoring the folder
        self.failed.pop(label, None)
        self._load_and_swap(label, sha)
        if self.model is None and label in self.failed:
            self._serve_last_verified(f"active version {label} was refused")

    def _serve_last_verified(self, why: str) -> None:
        """With nothing loaded, serve the version this installation last verified and served."""
        pointer = self.read_pointer()
        if not pointer or pointer.get("label") in self.failed:
            return
        self.alert("WARNING", f"Serving {pointer['label']} from models/{POINTER} because {why}.")
        self._load_and_swap(pointer["label"], pointer.get("manifest_sha256"))

    def _registry_unreadable(self, exc: Exception) -> None:
        self.check_files()
        self._registry_state(f"unreadable: {type(exc).__name__}: {exc}".strip())
        if self.model is None:
            self._serve_last_verified("the registry cannot be read")

    def _registry_state(self, problem: str) -> None:
        """Record whether the registry database is usable; alert once when it stops being so."""
        if problem and problem != self.registry_error:
            self.alert("ERROR", f"Registry database {problem}")
        self.registry_ok, self.registry_error = not problem, problem

    # -- the serving version's files, re-checked against the manifest -----------------------
    def check_files(self) -> None:
        """Sizes and mtimes on every poll; full hashes every ``RUNTIME_VERIFY_SECONDS``, in a
        thread of their own so that a long hash never delays a swap."""
        model = self.model
        if model is None:
            return
        self._add_problems(model, model.changed_files())
        due = time.time() - model.hashed_at >= settings.RUNTIME_VERIFY_SECONDS
        if due and not (self._hasher and self._hasher.is_alive()):
            model.hashed_at = time.time()
            self._hasher = threading.Thread(
                target=self._hash_files, args=(model,), name="runtime-hasher", daemon=True
            )
            self._hasher.start()

    def _hash_files(self, model: LoadedModel) -> None:
        self._add_problems(model, model.altered_files())

    def _add_problems(self, model: LoadedModel, found: list[str]) -> None:
        new = sorted(set(found) - set(model.file_problems))
        if new:
            listed = "; ".join(new)
            self.alert("ERROR", f"Files of {model.label} differ from its manifest: {listed}")
            model.file_problems = sorted({*model.file_problems, *new})

    def _load_and_swap(self, label: str, sha: str | None, ef_search: int | None = None) -> None:
        folder = settings.MODELS_DIR / label
        ef_search = ef_search or self.settings.get("hnsw_ef_search")
        try:
            model = LoadedModel.open(folder, ef_search, sha or None)
        except Exception as exc:
            why = getattr(exc, "detail", None) or f"{type(exc).__name__}: {exc}"
            if self._may_still_arrive(folder, exc) and self._in_verify_grace(label, str(why)):
                return  # keep serving the loaded version
            self.unverified.pop(label, None)
            self.failed[label] = str(why)
            self._refused_at = time.time()
            keeping = f"; still serving {self.model.label}" if self.model else ""
            self.alert("ERROR", f"Model version {label} refused: {why}{keeping}")
            return
        previous = self.model
        self.unverified.pop(label, None)
        self.model = model  # the swap: one reference assignment
        self.swaps += 1
        self.write_pointer(model)
        log.info(
            "model version now serving",
            extra={
                "active_version": label,
                "previous": previous.label if previous else None,
                "load_seconds": round(model.load_seconds, 3),
            },
        )

    def _may_still_arrive(self, folder, exc: Exception) -> bool:
        """What a lagging share shows: no folder or manifest yet, files missing or still short.
        Files of the right size with other content, or a library mismatch, are refused at once,
        and so is anything when nothing is loaded (it falls back to ``models/active.json``)."""
        if self.model is None:
            return False
        if not (folder / "manifest.json").is_file():
            return True
        files = (getattr(exc, "fields", None) or {}).get("files") or []
        return bool(files) and all(f.endswith(": missing") or ": size " in f for f in files)

    def _in_verify_grace(self, label: str, why: str) -> bool:
        """True while a version that cannot be verified yet is still within its grace period."""
        first = self.unverified.get(label, (time.time(), why))[0]
        if time.time() - first >= settings.RUNTIME_VERIFY_GRACE_SECONDS:
            return False
        if label not in self.unverified:
            log.warning(
                "version %s cannot be verified yet (%s); retrying for up to %ss",
                label,
                why,
                settings.RUNTIME_VERIFY_GRACE_SECONDS,
            )
        self.unverified[label] = (first, why)
        return True

    def _apply_settings(self, values: dict, rev: int) -> None:
        merged = {**settings_schema.defaults(), **values}
        model = self.model
        if model is not None and merged["hnsw_ef_search"] != model.ef_search:
            # never change a serving index: open the version again with the new ef and swap it
            # in before the new settings are published (cache keys carry the model's own ef)
            self._load_and_swap(model.label, model.manifest_sha256, merged["hnsw_ef_search"])
        self.cache.resize(merged["cache_size"])
        self.snapshot = SettingsSnapshot(merged, rev)

    def _retry_ef_search(self) -> None:
        """A reopen for a new ``hnsw_ef_search`` that failed is tried again (after a pause)."""
        model, wanted = self.model, self.settings["hnsw_ef_search"]
        if model is None or model.ef_search == wanted or model.label != self.active_label:
            return
        if time.time() - self._refused_at >= RETRY_REFUSED_S:
            self.failed.pop(model.label, None)
            self._load_and_swap(model.label, model.manifest_sha256, wanted)

    # -- the last good version, for a start without the registry ----------------------------
    def read_pointer(self) -> dict | None:
        try:
            return json.loads((settings.MODELS_DIR / POINTER).read_text())
        except (OSError, ValueError):
            return None

    def write_pointer(self, model: LoadedModel) -> None:
        target = settings.MODELS_DIR / POINTER
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_text(
                json.dumps(
                    {
                        "label": model.label,
                        "manifest_sha256": model.manifest_sha256,
                        "served_at": time.time(),
                    }
                )
            )
            os.replace(tmp, target)
        except OSError as exc:
            log.warning("could not write models/%s: %s", POINTER, exc)

    # -- reporting --------------------------------------------------------------------------
    def health(self) -> dict:
        model = self.model
        problems = list(getattr(model, "file_problems", []))
        degraded = bool(self.active_label and (model is None or model.label != self.active_label))
        status = "ok"
        if model is None:
            status = "unavailable"
        elif degraded or not self.registry_ok or problems:
            status = "degraded"
        return {
            "status": status,
            "detail": None if status == "ok" else self._health_detail(model),
            "active_version": self.active_label,
            "serving_version": model.label if model else None,
            "manifest": {
                "sha256": model.manifest_sha256 if model else None,
                "verified": model is not None and not problems,
                "loaded_at": model.loaded_at if model else None,
                "load_seconds": round(model.load_seconds, 3) if model else None,
                "problems": problems,
            },
            "registry": {"reachable": self.registry_ok, "error": self.registry_error or None},
            "model_loaded": model is not None,
            "refused_versions": dict(self.failed),
            "cache": self.cache.stats(),
            "settings_revision": self.settings_rev,
            "swaps": self.swaps,
            "alerts": [
                {"level": a.level, "message": a.message, "at": a.at} for a in self.alerts[-5:]
            ],
            "uptime_s": round(time.time() - self.started_at, 1),
            "pid": os.getpid(),
        }

    def _health_detail(self, model) -> str:
        if model is None:
            return self.unavailable_reason()
        problems = getattr(model, "file_problems", [])
        if problems:
            return f"Files of {model.label} changed on disk: {'; '.join(problems)}."
        if not self.registry_ok:
            return f"Registry database {self.registry_error}; serving {model.label}."
        label = self.active_label or ""
        why = self.failed.get(label, "loading")
        if label in self.unverified:
            why = f"its files cannot be verified here yet, retrying: {self.unverified[label][1]}"
        return f"Active version {self.active_label} not served ({why}); serving {model.label}."


runtime = Runtime()
