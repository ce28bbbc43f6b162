from django.core.management.base import BaseCommand, CommandError

from accounts_app.management.commands._base import account_or_error, operator
from accounts_app.roles import Role
from routing_site.errors import DomainError


class Command(BaseCommand):
    help = "Approve an account awaiting approval (or change an approved account's role)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=Role.values, default=Role.VIEWER.value)

    def handle(self, username: str, role: str, **options):
        account = account_or_error(username)
        try:
            changed = account.approve(role, via=operator())
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        verb = "Approved" if changed else "Already approved:"
        self.stdout.write(f"{verb} {account.username} as {role}.")
