"""What a data source may read: file locations confined to ``ROUTING_SOURCE_ROOTS``.

A file-based source (a SQLite file, a folder of CSV files) is resolved with ``realpath``
(symlinks followed) and must lie inside one of the roots: ``settings.ROUTING_SOURCE_ROOTS``
(``os.pathsep``-separated) or, when that is empty, the folder of the default source and
``<VAR_DIR>/imports``. Refused even inside a root:

- the registry database file and its ``-wal``, ``-shm`` and ``-journal`` companions (also
  when reached through a hard link);
- the generated secrets in ``VAR_DIR`` and its cache folder;
- ``MODELS_DIR`` and ``LOG_DIR``;
- the project folder (``BASE_DIR``), except ``<VAR_DIR>/imports`` and the default source's
  folder when that lies inside ``VAR_DIR``.

ODBC connection strings are held to the same refusals (not to the roots) through their file
keys (``DBQ=``, ``Database=``, ``Data Source=``): a DSN may point anywhere an admin defined.
A refused location always answers :data:`REFUSED`, whether or not the file exists, so the
answer tells nothing about the server's files.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

REFUSED = (
    "This location is not one a data source may read. File sources must lie inside "
    "ROUTING_SOURCE_ROOTS and outside the console's own files (registry database, secrets, "
    "models, logs, program folder); ODBC connection strings may not name those files either."
)
SECRET_FILES = ("secret_key", "jwt_signing_key", "admin-login.txt")
ODBC_FILE_KEYS = ("DBQ", "Database", "Data Source")
# database servers' drivers: their Database= / Data Source= name a database or server, no file
SERVER_DRIVERS = ("postgresql", "sql server", "freetds", "mysql", "mariadb", "oracle")
DB_COMPANIONS = ("", "-wal", "-shm", "-journal")


def real(path: str | Path) -> Path:
    """``path`` with ``~`` expanded, made absolute and every symlink resolved."""
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class Policy:
    """The roots a file source may lie in, and what is refused whatever the roots say."""

    roots: tuple[Path, ...]
    allowed: tuple[Path, ...]  # inside the project folder, yet readable
    refused_files: tuple[Path, ...]
    refused_dirs: tuple[Path, ...]
    project: Path

    def permits(self, path: str | Path, need_root: bool = True) -> bool:
        """Whether ``path`` may be read (``need_root=False``: only the refusals apply)."""
        target = real(path)
        if target in self.refused_files or self._same_file_as_refused(target):
            return False
        if any(_inside(target, d) for d in self.refused_dirs):
            return False
        if _inside(target, self.project) and not any(_inside(target, a) for a in self.allowed):
            return False
        return not need_root or any(_inside(target, r) for r in self.roots)

    def _same_file_as_refused(self, target: Path) -> bool:
        """A hard link to the registry database has another name but the same inode."""
        if not target.is_file():
            return False
        for refused in self.refused_files:
            try:
                if refused.exists() and os.path.samefile(target, refused):
                    return True
            except OSError:  # pragma: no cover - vanished between the checks
                continue
        return False


SQLITE_ENGINES = ("django.db.backends.sqlite3", "routing_site.sqlite")


def _is_sqlite(engine: str) -> bool:
    return engine in SQLITE_ENGINES or engine.endswith("sqlite3")


def registry_files() -> list[Path]:
    """Every file of the SQLite registry database(s) this process uses."""
    from django.db import connections

    configs = [*settings.DATABASES.values()]
    configs += [c.settings_dict for c in connections.all(initialized_only=True)]  # test names
    # Django's own backend or the project's wrapper of it (routing_site.sqlite): any SQLite
    sqlite = [c for c in configs if _is_sqlite(str(c.get("ENGINE", "")))]
    names = {str(c.get("NAME") or "") for c in sqlite}
    names |= {str((c.get("TEST") or {}).get("NAME") or "") for c in sqlite}
    files = []
    for name in names:
        if name and name != ":memory:" and not name.startswith("file:"):
            files += [real(name + suffix) for suffix in DB_COMPANIONS]
    return files


def default_folder(default_url: str | None) -> Path | None:
    """The folder of the default source (a SQLite file's folder, a CSV folder itself)."""
    from registry_app.pipeline.sources import SourceError, parse_source

    try:
        scheme, rest = parse_source(default_url or settings.ROUTING_SOURCE)
    except SourceError:
        return None
    if scheme == "odbc":
        target = odbc_files(rest)
        return real(target[0]).parent if target else None
    return real(rest) if scheme == "csv" else real(rest).parent


def policy(default_url: str | None = None) -> Policy:
    """The confinement in force, with ``default_url`` the default source (None: ROUTING_SOURCE)."""
    var = real(settings.VAR_DIR)
    imports = var / "imports"
    default = default_folder(default_url)
    allowed = [imports] + ([default] if default and _inside(default, var) else [])
    configured = [p for p in str(getattr(settings, "ROUTING_SOURCE_ROOTS", "")).split(os.pathsep)]
    roots = [real(p) for p in configured if p.strip()] or [imports] + ([default] if default else [])
    secrets = [var / name for name in SECRET_FILES]
    return Policy(
        roots=tuple(roots),
        allowed=tuple(allowed),
        refused_files=tuple(registry_files() + secrets),
        refused_dirs=(real(settings.MODELS_DIR), real(settings.LOG_DIR), var / "cache"),
        project=real(settings.BASE_DIR),
    )


def odbc_files(conn_str: str) -> list[str]:
    """Every file an ODBC connection string names through its file keys (each occurrence)."""
    found = []
    driver = re.search(r"(?:^|;)\s*DRIVER\s*=\s*(\{[^}]*\}|[^;]*)", conn_str, flags=re.IGNORECASE)
    server = driver is not None and any(d in driver.group(1).lower() for d in SERVER_DRIVERS)
    for key in ODBC_FILE_KEYS[:1] if server else ODBC_FILE_KEYS:
        pattern = rf"(?:^|;)\s*{re.escape(key)}\s*=\s*(\{{[^}}]*\}}|[^;]*)"
        for match in re.finditer(pattern, conn_str, flags=re.IGNORECASE):
            value = match.group(1).strip().strip("{}").strip()
            if value and value != ":memory:":
                found.append(value)
    return found


def check(scheme: str, rest: str, default_url: str | None = None) -> None:
    """Raise SourceError(REFUSED) unless the source ``scheme``/``rest`` may be read."""
    from registry_app.pipeline.sources import SourceError

    rules = policy(default_url)
    if scheme == "odbc":
        allowed = all(rules.permits(f, need_root=False) for f in odbc_files(rest))
    else:
        allowed = rules.permits(rest)
    if not allowed:
        raise SourceError(REFUSED, fields={"location": ["not allowed"]}, code="source_refused")
