import json

from django.core.management.base import BaseCommand

from routing_site.errors import DomainError
from workflow_app.management.commands._errors import command_error


class Command(BaseCommand):
    help = (
        "Propose an input mapping profile for a registered data source: its tables and columns "
        "(type, fill rate, samples; at most 20,000 rows a table are read, and how many is said) "
        "and which table and column is which canonical field, joins included (a specification "
        "table's attributes, an order header's quantity), each with a confidence and a reason. "
        "Prints JSON; saves nothing (check it, then load_profile the edited profile)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, help="the registered data source's name")
        parser.add_argument(
            "--profile-only",
            action="store_true",
            help="print only the proposed profile (ready for load_profile after review)",
        )

    def handle(self, *args, source, profile_only, **options):
        from workflow_app.suggest import suggest_profile

        try:
            answer = suggest_profile(source)
        except DomainError as exc:
            raise command_error(exc) from None
        shown = answer["profile"] if profile_only else answer
        self.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False, default=str))
        for table in answer["tables"]:
            self.stderr.write(f"{table['name']}: {table['sample']['basis']}")
        roles = ", ".join(f"{r}={p['table']}" for r, p in answer["proposal"]["tables"].items())
        self.stderr.write(f"Suggested for {source}: {roles or 'no tables recognised'}; not saved.")
