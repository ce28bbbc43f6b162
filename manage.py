#!/usr/bin/env python
"""Django's command-line utility for the Routing ML console."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    if sys.argv[1:2] == ["serve"]:
        hash_last_served_early()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


def hash_last_served_early() -> None:
    """Begin the hash check of the version served last beside Django's set-up (the server
    answers nothing before the check of the version it loads has passed)."""
    from importlib import import_module
    from pathlib import Path

    from registry_app.pipeline.filehash import start_early

    models_dir = getattr(import_module(os.environ["DJANGO_SETTINGS_MODULE"]), "MODELS_DIR", None)
    if models_dir:
        start_early(Path(models_dir))


if __name__ == "__main__":
    main()
