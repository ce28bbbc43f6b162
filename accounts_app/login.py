"""Checking a username and password, for the login API and the login page alike.

No account enumeration: an unknown user and a wrong password get the same message (and cost
the same password hash). Only with the *right* password does the answer say more ("awaiting
approval", "not active").

The check is ``django.contrib.auth.authenticate``, so django-axes counts the failures and
locks a username out from an address after too many (see :mod:`accounts_app.throttle`); the
admin's login form goes the same way.
"""

from __future__ import annotations

from django.contrib.auth import authenticate, user_logged_in
from django.contrib.auth.backends import ModelBackend
from rest_framework.exceptions import Throttled

from accounts_app import throttle
from accounts_app.models import AccountStatus
from accounts_app.roles import role_of
from routing_site.errors import DomainError

GENERIC_FAILURE = "Unknown username or wrong password."
PASSWORD_BACKEND = "accounts_app.login.PasswordBackend"


class InvalidCredentials(DomainError):
    status_code = 401
    code = "invalid_credentials"


class AwaitingApproval(DomainError):
    status_code = 403
    code = "awaiting_approval"


class AccountInactive(DomainError):
    status_code = 403
    code = "account_inactive"


class PasswordBackend(ModelBackend):
    """Django's model backend, except that the password check also answers for inactive
    users (so the login can tell a pending account "awaiting approval"). It never restores
    the session of an inactive user."""

    def user_can_authenticate(self, user) -> bool:
        return True  # the login decides what an inactive account is told

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return user if user is not None and user.is_active else None


def check_credentials(request, username: str, password: str):
    """The user, if the password is right and the account may log in; else a DomainError
    (``Throttled`` while the username is locked out from this address)."""
    django_request = getattr(request, "_request", request)
    try:
        user = authenticate(django_request, username=username, password=password)
    finally:
        throttle.release(django_request)
    if getattr(django_request, "axes_locked_out", False):
        raise Throttled(wait=throttle.retry_after(django_request), detail="Too many failed logins.")
    if user is None:
        raise InvalidCredentials(GENERIC_FAILURE)
    if role_of(user) is None:
        account = getattr(user, "account", None)
        if account is not None and account.status == AccountStatus.PENDING:
            raise AwaitingApproval(
                "Your account is awaiting approval by an administrator; try again later."
            )
        raise AccountInactive("This account is not active; ask an administrator.")
    return user


def logged_in(request, user) -> None:
    """Record a successful API login (last_login; axes forgets the pair's failures)."""
    django_request = getattr(request, "_request", request)
    user_logged_in.send(sender=user.__class__, request=django_request, user=user)
