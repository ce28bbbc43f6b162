"""Test database creation: the file is made here, since the backend never creates one."""

from __future__ import annotations

from django.db.backends.sqlite3 import creation


class DatabaseCreation(creation.DatabaseCreation):
    def _create_test_db(self, verbosity, autoclobber, keepdb=False):
        from routing_site.sqlite.base import create_file, is_file_name

        name = super()._create_test_db(verbosity, autoclobber, keepdb)
        if is_file_name(name):
            create_file(name)
        return name
