"""Checking a username and password, for the login API and the login page alike.

No account enumeration: an unknown user and a wrong password get the same message (and cost
the same password hash). Only with the *right* password does the answer say more ("awaiting
approval", "not active").

Throttling: after ``FAILURE_LIMIT`` failures for one username from one address within
``FAILURE_WINDOW_S``, further attempts are refused with 429 and Retry-After without checking
the password, and each refusal is logged on the ``routing`` logger at WARNING. The failures
are counted in Django's cache: per process with the default local-memory cache, shared when a
shared cache (Redis, database) is configured. The address is REMOTE_ADDR; X-Forwarded-For is
not trusted, since any client can send it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework.exceptions import Throttled

from accounts_app.models import AccountStatus
from accounts_app.roles import role_of
from routing_site.errors import DomainError

log = logging.getLogger("routing")

FAILURE_LIMIT = 5
FAILURE_WINDOW_S = 15 * 60
GENERIC_FAILURE = "Unknown username or wrong password."


class InvalidCredentials(DomainError):
    status_code = 401
    code = "invalid_credentials"


class AwaitingApproval(DomainError):
    status_code = 403
    code = "awaiting_approval"


class AccountInactive(DomainError):
    status_code = 403
    code = "account_inactive"


class LoginThrottle:
    """Recent failures of one (username, address) pair, as timestamps in the cache."""

    def __init__(self, username: str, address: str):
        pair = f"{username.strip().lower()}|{address}".encode()
        self.key = "login-failures:" + hashlib.sha256(pair).hexdigest()
        self.username, self.address = username, address

    def _recent(self) -> list[float]:
        horizon = time.time() - FAILURE_WINDOW_S
        return [t for t in cache.get(self.key, []) if t > horizon]

    def check(self) -> None:
        recent = self._recent()
        if len(recent) < FAILURE_LIMIT:
            return
        wait = max(1, math.ceil(recent[-FAILURE_LIMIT] + FAILURE_WINDOW_S - time.time()))
        log.warning(
            "login throttled for %r from %s: %d failures in %d min, retry in %d s",
            self.username,
            self.address,
            len(recent),
            FAILURE_WINDOW_S // 60,
            wait,
            extra={"username": self.username, "client": self.address, "retry_after": wait},
        )
        raise Throttled(wait=wait, detail="Too many failed logins.")

    def failed(self) -> None:
        recent = self._recent()[-FAILURE_LIMIT:] + [time.time()]
        cache.set(self.key, recent, FAILURE_WINDOW_S)

    def reset(self) -> None:
        cache.delete(self.key)


def check_credentials(username: str, password: str, address: str):
    """The user, if the password is right and the account may log in; else a DomainError."""
    throttle = LoginThrottle(username, address)
    throttle.check()
    user = get_user_model().objects.select_related("account").filter(username=username).first()
    if user is None:
        get_user_model()().set_password(password)  # the same cost as checking a real one
    if user is None or not user.check_password(password):
        throttle.failed()
        log.info("login refused for %r from %s", username, address)
        raise InvalidCredentials(GENERIC_FAILURE)
    throttle.reset()
    if role_of(user) is None:
        account = getattr(user, "account", None)
        if account is not None and account.status == AccountStatus.PENDING:
            raise AwaitingApproval(
                "Your account is awaiting approval by an administrator; try again later."
            )
        raise AccountInactive("This account is not active; ask an administrator.")
    return user
