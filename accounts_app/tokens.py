"""JWTs for people (djangorestframework-simplejwt) and the cookies that carry them.

Login puts an access token and a refresh token in HttpOnly, SameSite=Lax cookies (Secure over
HTTPS or when ``SECURE_COOKIES`` is on) and refreshes Django's ``csrftoken`` cookie, which the
console sends back in ``X-CSRFToken`` on unsafe requests. A refresh rotates: the old refresh
token is blacklisted and a new pair is issued.

Every token carries two claims of ours: ``sid``, the login session (kept across rotations), and
``tv``, the account's ``token_version`` when the session began. Logout blacklists the refresh
token and records the ``sid`` in :class:`~accounts_app.models.EndedSession`, so the access
token is refused at once in every process; :meth:`Account.end_sessions` raises ``tv``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.middleware.csrf import get_token, rotate_token
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts_app.authentication import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    SESSION_CLAIM,
    VERSION_CLAIM,
    session_of,
)
from accounts_app.models import EndedSession
from accounts_app.roles import role_of
from routing_site.errors import DomainError


class SessionExpired(DomainError):
    status_code = 401
    code = "session_expired"


def issue_pair(user, sid: str | None = None) -> RefreshToken:
    """A new refresh token (recorded as outstanding); ``.access_token`` gives its access token.

    ``sid`` continues a login session (a refresh); None begins a new one (a login).
    """
    refresh = RefreshToken.for_user(user)
    refresh[SESSION_CLAIM] = sid or uuid.uuid4().hex
    refresh[VERSION_CLAIM] = user.account.token_version
    return refresh


def rotate(raw: str) -> tuple:
    """Exchange a refresh token for a new pair: ``(user, RefreshToken)``.

    The old token is blacklisted in the same transaction; when two requests race with the same
    token, the blacklist's unique constraint lets exactly one of them win. The user is read
    from the database, not the cache: an ended session cannot be refreshed, even for 5 s.
    """
    refresh = _valid_refresh(raw)
    user = _current_user(refresh)
    if user is None:
        raise SessionExpired("This account can no longer log in.")
    try:
        with transaction.atomic():
            outstanding = OutstandingToken.objects.get(jti=refresh[jwt_settings.JTI_CLAIM])
            _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    except (OutstandingToken.DoesNotExist, IntegrityError):
        created = False
    if not created:
        raise SessionExpired("This refresh token was already used; log in again.")
    return user, issue_pair(user, sid=session_of(refresh))


def _current_user(refresh: RefreshToken):
    user = (
        get_user_model()
        .objects.select_related("account")
        .filter(pk=refresh.get(jwt_settings.USER_ID_CLAIM))
        .first()
    )
    if user is None or role_of(user) is None:
        return None
    if refresh.get(VERSION_CLAIM, 0) != user.account.token_version:
        return None
    if EndedSession.objects.is_ended(session_of(refresh)):
        return None
    return user


def end_session(raw_refresh: str = "", raw_access: str = "") -> None:
    """Logout: blacklist the refresh token and refuse every access token of its session.

    Tokens that are invalid or expired are ignored (there is nothing left to end).
    """
    # kept as long as a refresh token of the session could live: a logout sent with the access
    # token alone must also keep that session's refresh token from minting new pairs later
    lifetime = jwt_settings.REFRESH_TOKEN_LIFETIME
    for raw, kind in ((raw_refresh, RefreshToken), (raw_access, AccessToken)):
        if not raw:
            continue
        try:
            token = kind(raw)
        except TokenError:
            continue
        EndedSession.objects.end(session_of(token), token.get(jwt_settings.USER_ID_CLAIM), lifetime)
        if kind is RefreshToken:
            blacklist(raw)


def blacklist(raw: str) -> None:
    """Blacklist a refresh token if it is still valid; silently ignore anything else."""
    try:
        RefreshToken(raw).blacklist()
    except (TokenError, IntegrityError):
        pass


def _valid_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError:
        raise SessionExpired("The session has expired or was ended; log in again.") from None


def secure_cookies(request) -> bool:
    return request.is_secure() or settings.SECURE_COOKIES


def set_auth_cookies(response, request, refresh: RefreshToken, login: bool = True) -> None:
    """Put both tokens in HttpOnly cookies; make sure the csrftoken cookie is there.

    At login the CSRF secret is rotated (as Django's own login does, against fixation); at a
    refresh it is kept, or the forms of pages already open would stop working.
    """
    secure = secure_cookies(request)
    for name, value, lifetime in (
        (ACCESS_COOKIE, str(refresh.access_token), jwt_settings.ACCESS_TOKEN_LIFETIME),
        (REFRESH_COOKIE, str(refresh), jwt_settings.REFRESH_TOKEN_LIFETIME),
    ):
        response.set_cookie(
            name,
            value,
            max_age=int(lifetime.total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=secure,
            path="/",
        )
    # CsrfViewMiddleware.process_response then sets the csrftoken cookie on this response.
    django_request = getattr(request, "_request", request)
    if login:
        rotate_token(django_request)
    else:
        get_token(django_request)


def clear_auth_cookies(response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path="/", samesite="Lax")
