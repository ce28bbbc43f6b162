#!/usr/bin/env python
"""Django's command-line utility for the Routing ML console."""

import gc
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routing_site.settings")
    if sys.argv[1:2] == ["serve"]:
        prepare_serving()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


def prepare_serving() -> None:
    """Before the settings and Django's set-up import: the serving process's interpreter switch
    interval, and the hash check and the index read of the version served last begun beside
    them (the server answers nothing before the check of the version it loads has passed). With
    Python's 5 ms interval those threads would wait for the interpreter lock while they import.
    The cyclic garbage collector is off until the version is loaded (``serve`` turns it on
    again). A bad environment value is left for the settings to report.

    The bytecode of the modules it imports is cached even under ``PYTHONDONTWRITEBYTECODE``:
    without it every start compiles the project's modules again (about 0.1 s of the start,
    holding the interpreter lock), and after an update the stale files would never be
    replaced."""
    sys.dont_write_bytecode = False
    gc.disable()
    from django.core.exceptions import ImproperlyConfigured

    from registry_app.pipeline import preload
    from registry_app.pipeline.filehash import start_early
    from routing_site.env import models_dir, switch_interval_us

    try:
        sys.setswitchinterval(switch_interval_us() / 1e6)
        folder = models_dir()
    except ImproperlyConfigured:
        return
    preload.start(folder, start_early(folder))


if __name__ == "__main__":
    main()
