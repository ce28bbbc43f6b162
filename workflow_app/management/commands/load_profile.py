import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError
from workflow_app.management.commands._errors import command_error


class Command(BaseCommand):
    help = (
        "Create or update a mapping profile from a JSON file (as dump_profile prints it). The "
        "profile's name is taken from the file; 'direction' is input (default) or output. An "
        "invalid profile is refused with every problem listed, and nothing is saved."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the profile JSON file")

    def handle(self, *args, file, **options):
        from workflow_app.models import MappingProfile

        path = Path(file)
        try:
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from None
        try:
            row, created = MappingProfile.objects.put(document)
        except DomainError as exc:
            raise command_error(exc) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} {row.direction} mapping profile {row.name!r} from {path}.")
