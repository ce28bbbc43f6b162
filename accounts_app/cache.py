"""A tiny in-process cache for the authentication path.

Every API request needs its user and role. Looking them up costs one indexed query; caching
the answer for ``AUTH_CACHE_SECONDS`` (5 s) makes bursts from the console and the ERP nearly
free. The price is bounded staleness: in *another* process, an approval, a rejection or a
revoked service token takes effect within 5 s at most. In the process that made the change it
takes effect at once, because the model verbs call :func:`forget_user` / :func:`forget_token`.
Tests that change accounts behind the verbs' back call :func:`clear_auth_cache`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

AUTH_CACHE_SECONDS = 5.0
MISSING = object()


class TTLCache:
    """A dict whose entries expire; bounded, thread-safe, no background thread."""

    def __init__(self, ttl: float, max_entries: int = 2048):
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        entry = self._data.get(key)
        if entry is None or entry[0] < time.monotonic():
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


def forget_user(user_id: int) -> None:
    users.pop(user_id)
    # A service account's tokens carry its user: drop them too (rare, so clear them all).
    tokens.clear()


def forget_token(digest: str) -> None:
    tokens.pop(digest)


def clear_auth_cache() -> None:
    users.clear()
    tokens.clear()
