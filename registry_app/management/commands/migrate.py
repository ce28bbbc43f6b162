"""``migrate``, which also creates an absent SQLite registry file (the server never does)."""

from __future__ import annotations

from django.core.management.commands import migrate
from django.db import connections

from routing_site.sqlite.base import create_file, is_file_name


class Command(migrate.Command):
    help = migrate.Command.help + " Creates the SQLite registry file when it does not exist yet."

    def execute(self, *args, **options):
        # before the system checks, which already open a connection
        connection = connections[options.get("database") or "default"]
        name = str(connection.settings_dict["NAME"])
        if connection.vendor == "sqlite" and is_file_name(name):
            create_file(name)
        return super().execute(*args, **options)
