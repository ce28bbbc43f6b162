from django.core.management.base import BaseCommand

from routing_site.errors import DomainError
from workflow_app.management.commands._errors import command_error


class Command(BaseCommand):
    help = (
        "Register a data source that mapping profiles may name: a SQLite file, a folder of CSV "
        "files or an ODBC connection string. The location must lie inside ROUTING_SOURCE_ROOTS "
        "and outside the console's own files (see docs/profiles.md); a refused or invalid "
        "source is reported and nothing is saved. Change or delete sources in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the name profiles use, e.g. erp (letters, digits, - _)")
        parser.add_argument(
            "--kind", required=True, choices=["sqlite", "odbc", "csv"], help="kind of source"
        )
        parser.add_argument(
            "--location",
            required=True,
            help="the SQLite file, the CSV folder or the ODBC connection string",
        )
        parser.add_argument("--description", default="", help="what the source is")

    def handle(self, *args, name, kind, location, description, **options):
        from workflow_app.models import DataSource

        try:
            row = DataSource.objects.register(
                name=name, kind=kind, location=location, description=description
            )
        except DomainError as exc:
            raise command_error(exc) from None
        where = row.shown_location()
        self.stdout.write(f"Registered {row.kind} data source {row.name!r}: {where}.")
