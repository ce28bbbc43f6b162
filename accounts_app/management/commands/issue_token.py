from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts_app.management.commands._base import operator
from accounts_app.models import Account, ServiceToken
from accounts_app.roles import Role
from routing_site.errors import DomainError


class Command(BaseCommand):
    help = (
        "Issue a bearer token for a service account (the ERP), creating the account if needed "
        "(approved, no password). The token is printed once, on the last line; only its "
        "SHA-256 is stored. Use it as 'Authorization: Bearer <token>'; revoke it in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--role",
            choices=Role.values,
            help="Role of the service account (new accounts: viewer; existing: unchanged).",
        )
        parser.add_argument("--name", default="", help="What uses the token, e.g. 'ERP export'.")

    def handle(self, username: str, role: str | None, name: str, **options):
        try:
            UnicodeUsernameValidator()(username)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        try:
            account = Account.objects.ensure_service(username, role, via=operator())
            token, raw = ServiceToken.issue(account, name=name, via=operator())
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        self.stdout.write(
            f"Service account {username} ({account.role}): token {token.prefix}… issued. "
            "Store it now; it cannot be shown again."
        )
        self.stdout.write(raw)
