"""The auth API under /api/v1/auth/: signup, login, refresh, logout, me, password, approval.

Cookie mode (the console): login sets HttpOnly cookies and answers ``{"user", "role"}``;
refresh and logout read the refresh cookie and then require the CSRF header, like every other
cookie-authenticated unsafe request. Token mode (scripts): ``{"token": true}`` at login
answers the tokens in the body and sets no cookie; refresh and logout then take
``{"refresh": "..."}`` in the body and need no CSRF header.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout as end_page_session
from django.contrib.auth import update_session_auth_hash
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.authentication import get_authorization_header
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from accounts_app import tokens
from accounts_app.authentication import (
    ACCESS_COOKIE,
    REFRESH_COOKIE,
    BearerTokenAuthentication,
    enforce_csrf,
)
from accounts_app.login import check_credentials, logged_in
from accounts_app.models import TOKEN_PREFIX, Account
from accounts_app.permissions import IsAdminRole
from accounts_app.roles import role_of
from accounts_app.serializers import (
    ApproveSerializer,
    LoginSerializer,
    PasswordChangeSerializer,
    RefreshSerializer,
    SignupSerializer,
    UserListQuerySerializer,
    account_body,
    me_body,
)
from accounts_app.throttle import client_address

SIGNUP_RECEIVED = {
    "status": "pending",
    "detail": "Request received. An administrator will review it; "
    "you can log in once it is approved.",
}


class SignupThrottle(AnonRateThrottle):
    """At most 20 signup requests per hour from one address (REMOTE_ADDR, not X-Forwarded-For)."""

    scope = "signup"
    rate = "20/hour"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


class PublicAPIView(APIView):
    """Endpoints reached without credentials: a stale cookie must not get in the way."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class SignupView(PublicAPIView):
    throttle_classes = [SignupThrottle]

    @extend_schema(request=SignupSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        """Ask for an account. The answer is the same whether or not the name was free."""
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        Account.objects.request_signup(**serializer.validated_data)
        return Response(SIGNUP_RECEIVED, status=status.HTTP_202_ACCEPTED)


class LoginView(PublicAPIView):
    @extend_schema(request=LoginSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = check_credentials(request, data["username"], data["password"])
        logged_in(request, user)
        refresh = tokens.issue_pair(user)
        return _session_response(request, user, refresh, in_body=data["token"], login=True)


class RefreshView(PublicAPIView):
    @extend_schema(request=RefreshSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        raw, from_cookie = _refresh_token(request)
        if not raw:
            raise tokens.SessionExpired("No refresh token was sent; log in again.")
        user, refresh = tokens.rotate(raw)
        return _session_response(request, user, refresh, in_body=not from_cookie, login=False)


class LogoutView(PublicAPIView):
    @extend_schema(request=RefreshSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        """End the login session: its refresh token is blacklisted and its access tokens are
        refused at once, in every process; clear the cookies, end the page session.
        Idempotent."""
        raw, from_cookie = _refresh_token(request)
        cookies = (settings.SESSION_COOKIE_NAME, ACCESS_COOKIE, REFRESH_COOKIE)
        if not from_cookie and any(name in request.COOKIES for name in cookies):
            enforce_csrf(request)  # a browser session is being ended: same rule as any POST
        tokens.end_session(raw, _access_token(request))
        end_page_session(request._request)
        response = Response({"status": "logged_out"})
        tokens.clear_auth_cookies(response)
        return response


class MeView(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(me_body(request.user))


class PasswordView(APIView):
    @extend_schema(request=PasswordChangeSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        """Change your password (the password rules apply). Every other session and token of
        yours ends; this client gets a new pair (cookies, or in the body for a bearer JWT)."""
        serializer = PasswordChangeSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        user = request.user.account.change_password(serializer.validated_data["password"])
        update_session_auth_hash(request._request, user)  # this browser stays logged in
        in_body = isinstance(request.successful_authenticator, BearerTokenAuthentication)
        return _session_response(
            request, user, tokens.issue_pair(user), in_body=in_body, login=False
        )


class UserListView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(parameters=[UserListQuerySerializer], responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """Accounts, newest first; ``?status=pending|approved|rejected|all`` (default all)."""
        query = UserListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        accounts = Account.objects.select_related("user", "approved_by")
        if query.validated_data["status"] != "all":
            accounts = accounts.filter(status=query.validated_data["status"])
        return Response({"results": [account_body(a) for a in accounts]})


class ApproveView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=ApproveSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, username: str):
        """Approve the account with a role (default viewer), or change its role."""
        serializer = ApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        account = Account.objects.get_by_username(username)
        account.approve(serializer.validated_data["role"], by=request.user, via="api")
        return Response(account_body(account))


class RejectView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    def post(self, request, username: str):
        """Refuse a pending account, or withdraw an approved one's access."""
        account = Account.objects.get_by_username(username)
        account.reject(by=request.user, via="api")
        return Response(account_body(account))


def _refresh_token(request) -> tuple[str, bool]:
    """The refresh token from the body, else from the cookie (then CSRF is required)."""
    serializer = RefreshSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    if serializer.validated_data.get("refresh"):
        return serializer.validated_data["refresh"], False
    raw = request.COOKIES.get(REFRESH_COOKIE, "")
    if raw:
        enforce_csrf(request)
    return raw, bool(raw)


def _access_token(request) -> str:
    """The access JWT this request carries (header or cookie), if any."""
    parts = get_authorization_header(request).split()
    if len(parts) == 2 and parts[0].lower() == b"bearer":
        raw = parts[1].decode("ascii", "replace")
        return "" if raw.startswith(TOKEN_PREFIX) else raw
    return request.COOKIES.get(ACCESS_COOKIE, "")


def _session_response(request, user, refresh, in_body: bool, login: bool) -> Response:
    body = {"user": user.get_username(), "role": role_of(user)}
    if in_body:
        body.update(access=str(refresh.access_token), refresh=str(refresh))
        return Response(body)
    response = Response(body)
    tokens.set_auth_cookies(response, request, refresh, login=login)
    return response
