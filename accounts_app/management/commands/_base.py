"""Shared bits of the account commands."""

from __future__ import annotations

import getpass

from django.core.management.base import CommandError

from accounts_app.models import Account
from routing_site.errors import DomainError


def operator() -> str:
    """How the audit trail names a command-line decision: ``command:<OS user>``."""
    try:
        return f"command:{getpass.getuser()}"
    except Exception:  # no login name (a service or a container)
        return "command"


def account_or_error(username: str) -> Account:
    try:
        return Account.objects.get_by_username(username)
    except DomainError as exc:
        raise CommandError(exc.detail) from None
