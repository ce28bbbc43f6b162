"""A tiny in-process cache for the authentication path.

Every API request needs its user and role. Looking them up costs one indexed query; caching
the answer for ``AUTH_CACHE_SECONDS`` (5 s) makes bursts from the console and the ERP nearly
free. The price is bounded staleness: in *another* process, an approval, a rejection or a
revoked service token takes effect within 5 s at most. In the process that made the change it
takes effect at once, because the model verbs call :func:`forget_user` / :func:`forget_token`.
Tests that change accounts behind the verbs' back call :func:`clear_auth_cache`.

Ended sessions (logout, :meth:`Account.end_sessions`) must take effect at once in every process,
without a database query per request. :data:`sessions` keeps each process's answers ("is login
session *sid* ended?") for one *generation*: a value in the cache ``AUTH_SESSIONS_CACHE`` that
every process reads (the site's file cache; Redis in the scale-out topology) that
:func:`sessions_changed` replaces after such a change commits. A
request reads that value first (no database); when it differs from the one the process saw, the
process drops its session answers and its user and token caches and asks the database again.
An emptied shared cache starts a new generation, so every process asks again too.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import caches

AUTH_CACHE_SECONDS = 5.0
MISSING = object()


class TTLCache:
    """A dict whose entries expire; bounded, thread-safe, no background thread."""

    def __init__(self, ttl: float, max_entries: int = 2048):
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, stale: bool = False) -> Any:
        """The entry, or MISSING once expired; ``stale`` also returns an expired entry (the
        last answer known, for when the registry database cannot be asked)."""
        entry = self._data.get(key)
        if entry is None or (entry[0] < time.monotonic() and not stale):
            return MISSING
        return entry[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:
                self._data.clear()  # rare; cheaper and simpler than an LRU
            self._data[key] = (time.monotonic() + self.ttl, value)

    def pop(self, key: Any) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


users = TTLCache(AUTH_CACHE_SECONDS)  # user id -> User (with .account) or None
tokens = TTLCache(AUTH_CACHE_SECONDS)  # SHA-256 digest -> (User, ServiceToken) or None


GENERATION_KEY = "routing:auth:sessions-generation"
MAX_SESSIONS = 10_000


class SessionAnswers:
    """Per-process answers about ended sessions, valid while the shared generation holds."""

    def __init__(self):
        self.generation: str | None = None
        self.answers: dict[str, bool] = {}
        self._lock = threading.Lock()

    def current(self) -> dict[str, bool]:
        """The answers of the shared generation now (a throwaway dict when there is none).

        Read the generation *before* the database: a change committed after this read bumps
        the generation, so the answer stored in the returned dict is never used again."""
        try:
            generation = _shared().get(GENERATION_KEY)
            if generation is None:  # first use, or an emptied cache: start a generation
                _shared().add(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
                generation = _shared().get(GENERATION_KEY)
        except Exception:  # the shared cache is unreachable (Redis down): ask the database
            generation = None
        if generation is None:
            return {}
        with self._lock:
            if generation != self.generation:
                self.generation, self.answers = generation, {}
                clear_auth_cache()  # token_version and roles may have changed too
            elif len(self.answers) >= MAX_SESSIONS:
                self.answers = {}
            return self.answers


sessions = SessionAnswers()


def _shared():
    return caches[settings.AUTH_SESSIONS_CACHE]


def sessions_changed() -> None:
    """A session ended or an account's tokens were invalidated: every process re-reads.

    When the cache cannot be written (Redis down), the readers cannot read it either and ask
    the database on every request until it is back."""
    try:
        _shared().set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:
        logging.getLogger("routing").warning("sessions generation not changed: %s", exc)


def forget_user(user_id: int) -> None:
    users.pop(user_id)
    # A service account's tokens carry its user: drop them too (rare, so clear them all).
    tokens.clear()


def forget_token(digest: str) -> None:
    tokens.pop(digest)


def clear_auth_cache() -> None:
    users.clear()
    tokens.clear()
