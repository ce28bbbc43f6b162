"""WhiteNoise, its list of static files made at the first request that reaches it.

WhiteNoise's middleware lists and stats every static file (the admin's, Swagger UI's and
ReDoc's, the console's: about 200) when Django builds its request handler: 0.04 s of CPU before
a serving process could answer anything, although the hot API calls never reach it
(``inference_app.fastpath`` answers them first). :class:`LazyWhiteNoiseMiddleware` makes that
same list, with WhiteNoise's own code and settings, when the first request reaches it; the
requests that arrive meanwhile wait for it. Static files are served exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


class LazyWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    def __init__(self, get_response=None, settings=settings):
        self._pending: list[Callable[[], None]] | None = []  # None once the files are listed
        self._lock = threading.Lock()
        super().__init__(get_response, settings)

    def add_files(self, root, prefix=None) -> None:
        if self._pending is None:
            super().add_files(root, prefix)
        else:
            self._pending.append(partial(super().add_files, root, prefix))

    def add_files_from_finders(self) -> None:
        if self._pending is None:
            super().add_files_from_finders()
        else:
            self._pending.append(super().add_files_from_finders)

    def list_files(self) -> None:
        """List the static files now (once; later calls return at once)."""
        if self._pending is None:
            return
        with self._lock:
            if self._pending is None:
                return
            for add in self._pending:
                add()
            self._pending = None

    def __call__(self, request):
        if self._pending is not None:
            self.list_files()
        return super().__call__(request)
