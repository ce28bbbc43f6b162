from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError
from workflow_app.management.commands._errors import command_error


class Command(BaseCommand):
    help = (
        "Register a data source that mapping profiles may name: a SQLite file, a folder of CSV "
        "files, an Excel workbook or an ODBC connection string. The location must lie inside "
        "ROUTING_SOURCE_ROOTS and outside the console's own files (see docs/profiles.md); a "
        "refused or invalid source is reported and nothing is saved. Change or delete sources "
        "in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the name profiles use, e.g. erp (letters, digits, - _)")
        from registry_app.pipeline.sources import KINDS

        parser.add_argument("--kind", required=True, choices=KINDS, help="kind of source")
        parser.add_argument(
            "--location",
            required=True,
            help="the SQLite file, the CSV folder, the Excel workbook or the ODBC connection "
            "string",
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a source option, repeatable; CSV: encoding, delimiter, quotechar, decimal, "
            "thousands (e.g. --option delimiter=';' --option decimal=,)",
        )
        parser.add_argument("--description", default="", help="what the source is")

    def handle(self, *args, name, kind, location, description, option, **options):
        from workflow_app.models import DataSource

        try:
            row = DataSource.objects.register(
                name=name,
                kind=kind,
                location=location,
                description=description,
                options=_options(option),
            )
        except DomainError as exc:
            raise command_error(exc) from None
        where = row.shown_location()
        self.stdout.write(f"Registered {row.kind} data source {row.name!r}: {where}.")


def _options(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs as a dict (``\\t`` stands for a tab); CommandError on another form."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--option {pair!r}: write KEY=VALUE, e.g. delimiter=;")
        out[key.strip()] = "\t" if value == "\\t" else value
    return out
