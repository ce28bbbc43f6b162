import json

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Print a mapping profile as JSON on standard output (load it back with load_profile). "
        "The shipped profiles (plant-default, erp-routing) print even when not in the database."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="profile name, e.g. plant-default")

    def handle(self, *args, name, **options):
        from workflow_app.models import MappingProfile, shipped_profiles

        row = MappingProfile.objects.filter(name=name).first()
        if row is not None:
            document = row.document()
        else:
            document = None
            for direction in (MappingProfile.INPUT, MappingProfile.OUTPUT):
                spec = shipped_profiles(direction).get(name)
                if spec is not None:
                    document = {
                        "name": name,
                        "direction": direction,
                        **{k: v for k, v in spec.items() if k != "name"},
                    }
        if document is None:
            known = ", ".join(
                sorted(
                    {
                        *MappingProfile.objects.names("input"),
                        *MappingProfile.objects.names("output"),
                    }
                )
            )
            raise CommandError(f"No mapping profile {name!r}. Known: {known}.")
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))
