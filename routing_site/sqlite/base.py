"""Django's SQLite backend, opening the registry file as it is and never creating it.

SQLite creates a missing file on connect, so a renamed or lost registry used to come back as an
empty database and every request failed later with "no such table". Here a connection opens
the file with ``mode=rw`` (``mode=ro`` when the file has no write permission bits or the process
may not write it) and a missing file is an ``OperationalError`` naming the path. Only
``manage.py migrate`` and the test database setup create the file (see :func:`create_file`).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from django.db import OperationalError
from django.db.backends.sqlite3 import base

from routing_site.sqlite.creation import DatabaseCreation


def create_file(name: str) -> None:
    """Create an empty database file (for ``migrate``); an existing file is left alone."""
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)


def problem(name: str) -> str:
    """Why the registry file cannot serve reads and writes ("" when it can)."""
    path = Path(name)
    if not path.is_file():
        return f"file {path} does not exist; run manage.py migrate"
    if read_only(path):
        return f"file {path} is read-only"
    return ""


def read_only(path: Path) -> bool:
    mode = path.stat().st_mode
    return not stat.S_IMODE(mode) & 0o222 or not os.access(path, os.W_OK)


def is_file_name(name: str) -> bool:
    return bool(name) and name != ":memory:" and not name.startswith("file:")


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def get_connection_params(self) -> dict:
        params = super().get_connection_params()
        name = params["database"]
        if is_file_name(name):
            path = Path(name).resolve()
            if not path.is_file():
                raise OperationalError(problem(name))
            mode = "ro" if read_only(path) else "rw"
            params["database"] = f"{path.as_uri()}?mode={mode}"
        return params


def registry_problem() -> str:
    """Why the default database cannot take writes ("" when it can, or when not SQLite)."""
    from django.db import connection

    name = str(connection.settings_dict["NAME"])
    return problem(name) if connection.vendor == "sqlite" and is_file_name(name) else ""
