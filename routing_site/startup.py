"""Process start: what every process of the product imports before its first request, and what
the serving process leaves until it is used.

Django-free: ``manage.py`` imports it for ``serve`` before the settings."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

# rest_framework.compat imports these when they are installed, for features this product does
# not use: Django's PostgreSQL model fields for ModelSerializer's field map (no model has one;
# they also import psycopg on a SQLite installation), DRF's test client that sends real HTTP
# (requests), DRF's own OpenAPI renderers (YAML; the schema pages use drf-spectacular's,
# which import yaml themselves when the URL modules load) and the syntax highlighting of its
# browsable API's templates (pygments; the API renders JSON only). Together about an eighth of
# a second of every start of every process.
DRF_UNUSED_EXTRAS = ("django.contrib.postgres.fields", "requests", "yaml", "pygments")


def import_drf_without_unused_extras() -> None:
    """Import ``rest_framework.compat`` with its optional imports of ``DRF_UNUSED_EXTRAS``
    answered "not installed". Only during that import: afterwards they import as usual (the
    PostgreSQL backend, a command that needs requests). A no-op once DRF is imported."""
    if "rest_framework.compat" in sys.modules:
        return
    hidden = [name for name in DRF_UNUSED_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # an import of it raises ImportError
    try:
        importlib.import_module("rest_framework.compat")
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


# Imported during Django's set-up by an installed app for work a serving process does not do
# before its first answer: django-q's configuration imports psutil (about 0.01 s) to count the
# task cluster's CPUs when none is configured and to watch its workers (Q_CLUSTER names its
# workers; the cluster runs in its own process). Only modules bound by a plain ``import name``
# qualify: ``from name import x`` reads the module at once.
SERVING_DEFERRED = ("psutil",)


class DeferredModule(types.ModuleType):
    """A lazy module (``importlib.util.LazyLoader``'s) that an ``import`` statement leaves
    unread: the statement reads the module's ``__spec__`` (to see whether it is still being
    initialised), and the standard lazy module runs itself at any read, so a package's own
    ``import name`` would run it at once. Any other read hands the module back to the standard
    lazy module's class, which runs it (with its own locking where the Python version has it)."""

    def __getattribute__(self, attr: str):
        if attr == "__spec__":
            return types.ModuleType.__getattribute__(self, attr)
        self.__class__ = importlib.util._LazyModule  # the class LazyLoader gave it
        return getattr(self, attr)


def defer_imports(names: tuple[str, ...] = SERVING_DEFERRED) -> list[str]:
    """Make each of ``names`` that is installed and not yet imported a lazy module
    (``importlib.util.LazyLoader``): importing it binds the module, which runs at the first
    attribute read. For the serving process, before Django's set-up; nothing there reads the
    modules named from two threads at once (Python 3.11's lazy module is not safe for that).
    Returns the names made lazy."""
    deferred = []
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue  # not installed: its import fails as before
        spec.loader = importlib.util.LazyLoader(spec.loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)  # makes it LazyLoader's lazy module
        module.__class__ = DeferredModule
        deferred.append(name)
    return deferred
