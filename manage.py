#!/usr/bin/env python
"""Django's command-line utility for the Routing ML console."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    if sys.argv[1:2] == ["serve"]:
        prepare_serving()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


def prepare_serving() -> None:
    """Before Django's set-up: the serving process's interpreter switch interval, and the hash
    check and the index read of the version served last begun beside the set-up (the server
    answers nothing before the check of the version it loads has passed). With Python's 5 ms
    interval those threads would wait for the interpreter lock while the set-up imports."""
    from importlib import import_module
    from pathlib import Path

    from registry_app.pipeline import preload
    from registry_app.pipeline.filehash import start_early

    settings = import_module(os.environ["DJANGO_SETTINGS_MODULE"])
    sys.setswitchinterval(getattr(settings, "SERVE_SWITCH_INTERVAL_US", 5000) / 1e6)
    models_dir = getattr(settings, "MODELS_DIR", None)
    if models_dir:
        start_early(Path(models_dir))
        preload.start(Path(models_dir))


if __name__ == "__main__":
    main()
