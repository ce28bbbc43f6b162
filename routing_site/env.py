"""The typed environment helpers of the settings, and the two values ``manage.py serve`` needs
before the settings are imported (where the models are, the switch interval).

Django-free but for its exception: ``manage.py`` imports this module to begin the hash check and
the index read of the version served last while the settings and Django's set-up import.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: str, minimum: int = 0) -> int:
    raw = os.getenv(name, default)
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def envpath(name: str, default: Path) -> Path:
    raw = os.getenv(name)
    path = Path(raw) if raw else default
    return path if path.is_absolute() else BASE_DIR / path


def models_dir() -> Path:
    """``MODELS_DIR``: the version folders and ``active.json``."""
    return envpath("ROUTING_MODELS_DIR", BASE_DIR / "models")


def switch_interval_us() -> int:
    """``SERVE_SWITCH_INTERVAL_US``: how long a serving thread may hold the interpreter lock
    while another waits for it (``sys.setswitchinterval``). Python's 5 ms default makes
    waitress's I/O thread wait up to 5 ms for each request it hands over or answers while a
    request is computed: docs/benchmarks.md."""
    return envint("ROUTING_SWITCH_INTERVAL_US", "500", minimum=50)
