"""API authentication: the console's JWT cookie, and bearer tokens for scripts and the ERP.

Order in ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``: cookie, bearer, then DRF's
session (a person logged in to the admin or the console pages).

* :class:`CookieJWTAuthentication` reads the access JWT from the HttpOnly cookie. simplejwt only
  reads the ``Authorization`` header, and a cookie is sent by the browser on its own, so this
  class enforces CSRF on unsafe methods exactly as DRF's ``SessionAuthentication`` does. An
  expired or invalid cookie counts as no credentials (the console then refreshes or falls
  back to its session); an ``Authorization`` header, when present, takes precedence.
* :class:`BearerTokenAuthentication` reads ``Authorization: Bearer <token>``: a service token
  (``rml_…``, looked up by its SHA-256) or an access JWT. No CSRF: a header is never ambient.

Cost per request: one JWT signature check or one SHA-256, then at most one indexed query for
the user and account, cached in-process for 5 s (see :mod:`accounts_app.cache`). An access JWT
also needs to know whether its login session ended (logout stops the token at once in every
process): one read of the shared sessions generation, and the indexed look-up among the ended
sessions only the first time a process sees the session in that generation.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck, get_authorization_header
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts_app import cache
from accounts_app.models import TOKEN_PREFIX, EndedSession, ServiceToken, token_digest
from accounts_app.roles import role_of
from routing_site.loop import off_the_loop

ACCESS_COOKIE = "routing_access"
REFRESH_COOKIE = "routing_refresh"
WWW_AUTHENTICATE = 'Bearer realm="api"'
SESSION_CLAIM = "sid"  # the login session, kept across refreshes
VERSION_CLAIM = "tv"  # the account's token_version when the session began


def session_of(token) -> str:
    """The login session of a JWT (tokens from before sessions had ids: their own jti)."""
    return str(token.get(SESSION_CLAIM) or token[jwt_settings.JTI_CLAIM])


class CsrfFailed(exceptions.PermissionDenied):
    default_code = "csrf_failed"


def load_user(user_id) -> object | None:
    """The user with this id if they may use the console now (cached 5 s), else None."""
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    user = cache.users.get(key)
    if user is cache.MISSING:
        try:
            user = get_user_model().objects.select_related("account").filter(pk=key).first()
        except DatabaseError as exc:
            return _last_known(cache.users, key, exc)
        if user is not None and role_of(user) is None:
            user = None
        cache.users.put(key, user)
    return user


def _last_known(store, key, error: DatabaseError):
    """While the registry database cannot be read, the last answer this process had for
    ``key`` (expired or not) keeps prediction serving; no answer: the outage shows (503)."""
    found = store.get(key, stale=True)
    if found is cache.MISSING:
        raise error
    return found


def user_for_access_token(raw: str) -> tuple:
    """``(user, AccessToken)`` for a valid access JWT of a permitted user, else ``(None, None)``."""
    try:
        token = AccessToken(raw)
    except TokenError:
        return None, None
    answers = cache.sessions.current()  # before the user: a change re-reads both
    user = load_user(token.get(jwt_settings.USER_ID_CLAIM))
    if user is None or token.get(VERSION_CLAIM, 0) != user.account.token_version:
        return None, None  # the account's sessions were ended after this token was issued
    sid = session_of(token)
    ended = answers.get(sid)
    if ended is None:
        try:
            ended = answers[sid] = EndedSession.objects.is_ended(sid)
        except DatabaseError:
            # registry unreadable: a session not known to have ended is taken as it was
            # when its user was last read (docs/security.md, "The registry database")
            ended = False
    if ended:
        return None, None  # logged out
    return user, token


def user_for_service_token(raw: str) -> tuple:
    """``(user, ServiceToken)`` for a live token of a permitted account, else ``(None, None)``."""
    digest = token_digest(raw)
    found = cache.tokens.get(digest)
    if found is cache.MISSING:
        try:
            token = ServiceToken.objects.by_digest(digest)
        except DatabaseError as exc:
            return _last_known(cache.tokens, digest, exc) or (None, None)
        found = None
        if token is not None and role_of(token.user) is not None:
            # a write that may wait for the database's lock: never on a server's read loop
            off_the_loop(token.touch, "token-touch")
            found = (token.user, token)
        cache.tokens.put(digest, found)
    return found or (None, None)


class CookieJWTAuthentication(BaseAuthentication):
    def authenticate(self, request):
        if request.META.get("HTTP_AUTHORIZATION"):
            return None
        raw = request.COOKIES.get(ACCESS_COOKIE)
        if not raw:
            return None
        user, token = user_for_access_token(raw)
        if user is None:
            return None
        enforce_csrf(request)
        return user, token

    def authenticate_header(self, request) -> str:
        # Defining this makes DRF answer 401 (not 403) to a request without credentials.
        return WWW_AUTHENTICATE


class BearerTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <token>'.")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The bearer token is not valid.") from None
        if raw.startswith(TOKEN_PREFIX):
            user, token = user_for_service_token(raw)
            if user is None:
                raise exceptions.AuthenticationFailed("The service token is not valid or revoked.")
        else:
            user, token = user_for_access_token(raw)
            if user is None:
                raise exceptions.AuthenticationFailed("The access token is not valid or expired.")
        return user, token

    def authenticate_header(self, request) -> str:
        return WWW_AUTHENTICATE


def enforce_csrf(request) -> None:
    """The check DRF's SessionAuthentication makes (views are csrf_exempt under DRF)."""
    check = CSRFCheck(lambda req: None)
    check.process_request(request)  # populates request.META["CSRF_COOKIE"]
    reason = check.process_view(request, None, (), {})
    if reason:
        raise CsrfFailed(
            f"CSRF check failed: {reason} Send the csrftoken cookie's value in X-CSRFToken."
        )
