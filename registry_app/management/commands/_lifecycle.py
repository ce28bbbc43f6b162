"""Shared plumbing of the approve / reject / activate / rollback commands."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError


class LifecycleCommand(BaseCommand):
    verb = ""
    takes_label = True

    def add_arguments(self, parser):
        if self.takes_label:
            parser.add_argument("version", help="version label, e.g. v0003")
        parser.add_argument("--user", default="", help="username recorded in the audit trail")
        parser.add_argument("--comment", default="", help="comment recorded in the audit trail")

    def handle(self, *args, **options):
        from registry_app.models import ModelVersion

        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}.")
        try:
            if self.takes_label:
                version = ModelVersion.objects.get_by_label(options["version"])
                version = getattr(version, self.verb)(user=user, comment=options["comment"])
            else:
                version = getattr(ModelVersion, self.verb)(user=user, comment=options["comment"])
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"{version.label} is now {version.state}.")
