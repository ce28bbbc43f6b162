"""Login lockout: django-axes, with its attempts in the database that every process shares.

Every password check (the API login, ``/login/``, ``/admin/login/``) goes through
``django.contrib.auth.authenticate``, whose first backend is axes'. After
``AXES_FAILURE_LIMIT`` failures for one username from one address within
``AXES_COOLOFF_TIME``, further attempts answer 429 without the password being checked, until the
cool-off ends or an admin unlocks the account (``manage.py axes_reset_username NAME``, or delete
the entry under Admin › Axes › Access attempts).

axes alone counts a failure only after the password was checked, so 20 concurrent wrong
passwords could all pass its "locked?" test before the first failure is written.
:class:`SerialLockoutHandler` closes that gap: "locked?" also claims a slot in a
:class:`~accounts_app.models.LoginGate` row under a row lock, and failures plus checks in
flight never exceed the limit. The slot is released once the check is over.

The address is REMOTE_ADDR; X-Forwarded-For is not trusted, since any client can send it.
"""

from __future__ import annotations

import hashlib
import logging

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from accounts_app.models import LoginGate
from routing_site.errors import error_body

log = logging.getLogger("routing")

CLAIM = "_login_gate_key"  # request attribute: the gate whose slot this request holds


def client_address(request) -> str:
    """AXES_CLIENT_IP_CALLABLE: the TCP peer, never a header the client chooses."""
    return request.META.get("REMOTE_ADDR", "") or ""


class SerialLockoutHandler(AxesDatabaseHandler):
    """axes' database handler whose lock test claims a slot, so concurrent checks cannot race
    past the limit."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        if getattr(request, CLAIM, None):
            return super().is_locked(request, credentials)
        key = _gate_key(request, credentials)
        with transaction.atomic():
            gate = _locked_gate(key)
            failures = self.get_failures(request, credentials)
            if failures + gate.in_flight >= get_failure_limit(request, credentials):
                return True
            gate.in_flight += 1
            gate.changed_at = timezone.now()
            gate.save(update_fields=["in_flight", "changed_at"])
        setattr(request, CLAIM, key)
        return False

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        release(request)  # the failure is recorded: the slot has done its job

    def user_logged_in(self, sender, request, user, **kwargs):
        super().user_logged_in(sender, request, user, **kwargs)
        release(request)


def release(request) -> None:
    """Give back the slot this request claimed (idempotent)."""
    key = getattr(request, CLAIM, None) if request is not None else None
    if not key:
        return
    setattr(request, CLAIM, None)
    LoginGate.objects.filter(key=key, in_flight__gt=0).update(in_flight=F("in_flight") - 1)


def _gate_key(request, credentials: dict | None) -> str:
    username = get_client_username(request, credentials) or ""
    address = getattr(request, "axes_ip_address", None) or client_address(request)
    return hashlib.sha256(f"{username}\n{address}".encode()).hexdigest()


def _locked_gate(key: str) -> LoginGate:
    LoginGate.objects.get_or_create(key=key)  # a concurrent create is re-read, not an error
    gate = LoginGate.objects.select_for_update().get(key=key)
    if gate.in_flight and timezone.now() - gate.changed_at > LoginGate.STALE_AFTER:
        gate.in_flight = 0  # a process died while checking a password
    return gate


def retry_after(request) -> int:
    """Seconds until a locked pair may try again (the whole cool-off: the safe answer)."""
    cool_off = get_cool_off(request)
    return max(1, int(cool_off.total_seconds())) if cool_off else 3600


def lockout_response(
    request: HttpRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the API's error shape under /api/, a page in the browser."""
    username = get_client_username(request, credentials) or ""
    wait = retry_after(request)
    if not getattr(request, "_lockout_logged", False):  # the page and the middleware both ask
        request._lockout_logged = True
        _log_lockout(request, username, wait)
    detail = (
        f"Too many failed logins; try again in {wait // 60 + (wait % 60 > 0)} min "
        "or ask an administrator to unlock the account."
    )
    if request.path.startswith("/api/"):
        response = JsonResponse(error_body("throttled", detail), status=429)
    else:
        response = render(request, "accounts/locked.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _log_lockout(request, username: str, wait: int) -> None:
    address = client_address(request)
    log.warning(
        "login throttled for %r from %s: locked for %d s",
        username,
        address,
        wait,
        extra={"username": username, "client": address, "retry_after": wait},
    )


class ReleaseLoginSlotMiddleware:
    """Gives back a login slot the request still holds when it ends. A login may be refused
    after its password was checked without any signal that releases the slot — e.g. an
    engineer (not staff) with the right password at /admin/login/ — and a leaked slot would
    count as a failure for the next logins of that name and address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        finally:
            release(request)
