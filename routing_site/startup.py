"""Process start: what every process of the product imports before its first request."""

from __future__ import annotations

import importlib
import sys

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
