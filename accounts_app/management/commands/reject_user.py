from django.core.management.base import BaseCommand, CommandError

from accounts_app.management.commands._base import account_or_error, operator
from routing_site.errors import DomainError


class Command(BaseCommand):
    help = "Reject an account awaiting approval, or withdraw an approved account's access."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, username: str, **options):
        account = account_or_error(username)
        try:
            changed = account.reject(via=operator())
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        verb = "Rejected" if changed else "Already rejected:"
        self.stdout.write(f"{verb} {account.username}; the account cannot log in.")
