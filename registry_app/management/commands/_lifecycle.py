"""Shared plumbing of the approve / reject / activate / rollback commands."""

from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError


def default_operator() -> str:
    """``cli:<OS user>``: who typed the command, when no ``--by`` is given."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli:unknown"


class LifecycleCommand(BaseCommand):
    verb = ""
    takes_label = True

    def add_arguments(self, parser):
        if self.takes_label:
            parser.add_argument("version", help="version label, e.g. v0003")
        parser.add_argument(
            "--by",
            default="",
            help="operator recorded in the audit trail (and as approver): an account name, "
            "which is then linked, or any name; default cli:<OS user>",
        )
        parser.add_argument("--comment", default="", help="comment recorded in the audit trail")

    def handle(self, *args, **options):
        from registry_app.models import ModelVersion, acting_as

        by = options["by"].strip()
        if options["by"] and not by:
            raise CommandError("--by needs a name.")
        user = get_user_model().objects.filter(username=by).first() if by else None
        try:
            with acting_as(by or default_operator()):
                if self.takes_label:
                    version = ModelVersion.objects.get_by_label(options["version"])
                    version = getattr(version, self.verb)(user=user, comment=options["comment"])
                else:
                    version = getattr(ModelVersion, self.verb)(
                        user=user, comment=options["comment"]
                    )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(f"{version.label} is now {version.state}.")
