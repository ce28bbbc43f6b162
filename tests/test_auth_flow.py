"""Accounts and access, end to end against a real waitress server: signup, approval, login,
cookies and CSRF, refresh, logout, enumeration, throttling, the pages, the admin, the commands.
"""

from __future__ import annotations

import logging
import re
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts_app.cache import clear_auth_cache
from accounts_app.models import Account, AccountAudit, AccountStatus
from accounts_app.testing import PASSWORD, HttpClient, make_user
from accounts_app.views import SIGNUP_RECEIVED

pytestmark = pytest.mark.slow


class EchoView(APIView):
    """Any signed-in role; POST is the unsafe method the CSRF checks are about."""

    def get(self, request):
        return Response({"user": request.user.get_username()})

    def post(self, request):
        return Response({"user": request.user.get_username(), "data": request.data})


# This module is its own URLconf, so these tests do not depend on other apps' routes.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts_app.api_urls")),
    path("api/v1/echo", EchoView.as_view()),
    path("", include("accounts_app.page_urls")),
]


@pytest.fixture(autouse=True)
def _routes_and_caches(settings):
    settings.ROOT_URLCONF = __name__
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    cache.clear()
    clear_auth_cache()
    yield
    cache.clear()


@pytest.fixture
def client_http(waitress_server) -> HttpClient:
    return HttpClient(waitress_server)


@pytest.fixture
def routing_log(caplog):
    """The "routing" logger does not propagate; listen to it directly."""
    logger = logging.getLogger("routing")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


def set_cookie_headers(headers) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in headers.get_all("Set-Cookie") or []}


def signup(client: HttpClient, username: str, **extra):
    body = {"username": username, "password": PASSWORD, **extra}
    return client.post("/api/v1/auth/signup", body)


# Signup, approval, login ------------------------------------------------------------------


def test_it_keeps_a_signup_waiting_for_approval(client_http):
    status, body, _ = signup(client_http, "alice", email="alice@plant.example")
    assert status == 202
    assert body == SIGNUP_RECEIVED

    account = Account.objects.get(user__username="alice")
    assert account.status == AccountStatus.PENDING
    assert not account.user.is_active
    assert AccountAudit.objects.filter(username="alice", action="signup").exists()

    status, body, _ = client_http.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}
    )
    assert status == 403
    assert body["error"] == "awaiting_approval"
    assert "awaiting approval" in body["detail"]


def test_it_logs_in_after_approval_by_command(client_http):
    signup(client_http, "alice")
    out = StringIO()
    call_command("approve_user", "alice", "--role", "engineer", stdout=out)
    assert out.getvalue().strip() == "Approved alice as engineer."

    account = Account.objects.get(user__username="alice")
    assert (account.status, account.role, account.user.is_active) == ("approved", "engineer", True)
    audit = AccountAudit.objects.get(username="alice", action="approve")
    assert audit.role == "engineer" and audit.via.startswith("command")

    assert client_http.login("alice") == {"user": "alice", "role": "engineer"}
    status, body, _ = client_http.get("/api/v1/auth/me")
    assert status == 200
    assert body["username"] == "alice"
    assert (body["role"], body["status"], body["is_service"]) == ("engineer", "approved", False)


def test_it_sets_httponly_samesite_cookies_and_no_tokens_in_the_body(client_http):
    make_user("alice", "viewer")
    status, body, headers = client_http.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}
    )
    assert status == 200
    assert "access" not in body and "refresh" not in body
    cookies = set_cookie_headers(headers)
    for name in ("routing_access", "routing_refresh"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
        assert "Secure" not in cookies[name]
    assert "csrftoken" in cookies
    assert "HttpOnly" not in cookies["csrftoken"]  # the console reads it for X-CSRFToken


def test_it_marks_cookies_secure_when_configured(client_http, settings):
    settings.SECURE_COOKIES = True
    make_user("alice", "viewer")
    _, _, headers = client_http.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD}
    )
    assert "Secure" in set_cookie_headers(headers)["routing_access"]


def test_it_requires_the_csrf_header_with_the_cookie(client_http):
    make_user("alice", "viewer")
    client_http.login("alice")

    status, body, _ = client_http.post("/api/v1/echo", {"n": 1}, csrf=False)
    assert status == 403
    assert body["error"] == "csrf_failed"

    status, body, _ = client_http.post("/api/v1/echo", {"n": 1})
    assert (status, body) == (200, {"user": "alice", "data": {"n": 1}})

    status, _, _ = client_http.get("/api/v1/echo", csrf=False)  # safe methods need none
    assert status == 200


def test_it_accepts_a_bearer_jwt_without_csrf(client_http, waitress_server):
    make_user("alice", "engineer")
    status, body, headers = client_http.post(
        "/api/v1/auth/login", {"username": "alice", "password": PASSWORD, "token": True}
    )
    assert status == 200
    assert set(body) == {"user", "role", "access", "refresh"}
    assert "routing_access" not in set_cookie_headers(headers)

    script = HttpClient(waitress_server)
    auth = {"Authorization": f"Bearer {body['access']}"}
    status, echoed, _ = script.post("/api/v1/echo", {"n": 2}, headers=auth)
    assert (status, echoed["user"]) == (200, "alice")

    status, rotated, _ = script.post("/api/v1/auth/refresh", {"refresh": body["refresh"]})
    assert status == 200 and rotated["refresh"] != body["refresh"]
    status, again, _ = script.post("/api/v1/auth/refresh", {"refresh": body["refresh"]})
    assert (status, again["error"]) == (401, "session_expired")


def test_it_rotates_on_refresh_and_ends_on_logout(client_http):
    make_user("alice", "viewer")
    client_http.login("alice")
    first_refresh = client_http.cookie("routing_refresh").value

    status, _, _ = client_http.post("/api/v1/auth/refresh", csrf=False)
    assert status == 403  # the refresh cookie is a credential too

    status, body, headers = client_http.post("/api/v1/auth/refresh")
    assert (status, body) == (200, {"user": "alice", "role": "viewer"})
    second_refresh = client_http.cookie("routing_refresh").value
    assert second_refresh != first_refresh
    assert {"routing_access", "routing_refresh"} <= set(set_cookie_headers(headers))

    status, body, _ = client_http.post("/api/v1/auth/refresh", {"refresh": first_refresh})
    assert status == 401  # rotated: the old token is blacklisted

    access = client_http.cookie("routing_access").value
    status, body, _ = client_http.post("/api/v1/auth/logout")
    assert (status, body) == (200, {"status": "logged_out"})
    assert client_http.cookie("routing_access") is None
    assert client_http.cookie("routing_refresh") is None
    stolen = HttpClient(client_http.base_url)  # someone who copied the cookie's token
    status, _, _ = stolen.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert status == 401  # at once, not when the token expires

    status, body, _ = client_http.post("/api/v1/auth/refresh", {"refresh": second_refresh})
    assert (status, body["error"]) == (401, "session_expired")
    status, body, _ = client_http.get("/api/v1/auth/me")
    assert (status, body["error"]) == (401, "not_authenticated")


def test_it_approves_and_rejects_through_the_api(client_http, waitress_server):
    make_user("root", "admin")
    for name in ("bob", "carol"):
        signup(client_http, name)
    client_http.login("root")

    status, body, _ = client_http.get("/api/v1/auth/users?status=pending")
    assert status == 200
    assert sorted(row["username"] for row in body["results"]) == ["bob", "carol"]

    status, body, _ = client_http.post("/api/v1/auth/users/bob/approve", {"role": "engineer"})
    assert status == 200
    assert (body["status"], body["role"], body["approved_by"]) == ("approved", "engineer", "root")
    status, body, _ = client_http.post("/api/v1/auth/users/carol/reject")
    assert (status, body["status"]) == (200, "rejected")

    audit = AccountAudit.objects.filter(via="api").values_list("username", "action", "actor_name")
    assert set(audit) == {("bob", "approve", "root"), ("carol", "reject", "root")}

    other = HttpClient(waitress_server)
    assert other.login("bob")["role"] == "engineer"
    status, body, _ = other.post("/api/v1/auth/login", {"username": "carol", "password": PASSWORD})
    assert (status, body["error"]) == (403, "account_inactive")


def test_it_refuses_bad_approval_requests(client_http):
    make_user("root", "admin")
    make_user("eve", "engineer")
    signup(client_http, "bob")
    client_http.login("root")

    status, body, _ = client_http.post("/api/v1/auth/users/bob/approve", {"role": "boss"})
    assert (status, list(body["fields"])) == (400, ["role"])
    status, body, _ = client_http.post("/api/v1/auth/users/nobody/approve", {"role": "viewer"})
    assert (status, body["error"]) == (404, "not_found")
    status, body, _ = client_http.get("/api/v1/auth/users?status=maybe")
    assert (status, list(body["fields"])) == (400, ["status"])
    status, body, _ = client_http.post("/api/v1/auth/users/root/reject")
    assert (status, body["error"]) == (409, "conflict")  # nobody locks themselves out

    client_http.post("/api/v1/auth/logout")
    client_http.login("eve")
    status, body, _ = client_http.post("/api/v1/auth/users/bob/approve", {"role": "admin"})
    assert (status, body["error"]) == (403, "permission_denied")
    assert Account.objects.get(user__username="bob").status == AccountStatus.PENDING


# Bad bodies and enumeration ---------------------------------------------------------------


@pytest.mark.parametrize(
    "body, fields",
    [
        ({}, {"username", "password"}),
        ({"username": "bob", "password": "password"}, {"password"}),
        ({"username": "bob", "password": "48213377"}, {"password"}),
        ({"username": "bob", "password": "short1!"}, {"password"}),
        ({"username": "bobby.tables", "password": "bobby.tables1"}, {"password"}),
        ({"username": "bad name!", "password": PASSWORD}, {"username"}),
        ({"username": "bob", "password": PASSWORD, "email": "not-an-email"}, {"email"}),
        (["bob"], {"non_field_errors"}),
    ],
)
def test_it_refuses_bad_signup_bodies(client_http, body, fields):
    status, answer, _ = client_http.post("/api/v1/auth/signup", body)
    assert status == 400
    assert answer["error"] == "invalid"
    assert set(answer["fields"]) == fields
    assert not get_user_model().objects.exists()


def test_it_refuses_a_body_that_is_not_json(client_http):
    status, body, _ = client_http.post("/api/v1/auth/signup", b"{not json")
    assert (status, body["error"]) == (400, "parse_error")
    status, body, _ = client_http.post("/api/v1/auth/login", {"username": "x"})
    assert (status, list(body["fields"])) == (400, ["password"])


def test_it_answers_a_taken_name_or_email_like_a_new_one(client_http):
    make_user("alice", "viewer", email="alice@plant.example")
    fresh = signup(client_http, "zoe")
    taken_name = signup(client_http, "Alice")
    taken_email = signup(client_http, "alice2", email="ALICE@plant.example")
    assert fresh[:2] == taken_name[:2] == taken_email[:2] == (202, SIGNUP_RECEIVED)
    assert set(get_user_model().objects.values_list("username", flat=True)) == {"alice", "zoe"}


def test_it_gives_one_message_for_unknown_user_and_wrong_password(client_http):
    make_user("alice", "viewer")
    make_user("pat", None)  # pending: its status shows only with the right password
    answers = [
        client_http.post("/api/v1/auth/login", {"username": name, "password": "Wrong-pass-99"})
        for name in ("alice", "nobody", "pat")
    ]
    assert {(status, body["error"], body["detail"]) for status, body, _ in answers} == {
        (401, "invalid_credentials", "Unknown username or wrong password.")
    }


# Throttling -------------------------------------------------------------------------------


def test_it_throttles_repeated_login_failures(client_http, routing_log):
    make_user("alice", "viewer")
    wrong = {"username": "alice", "password": "Wrong-pass-99"}
    for _ in range(4):
        assert client_http.post("/api/v1/auth/login", wrong)[0] == 401

    status, body, headers = client_http.post("/api/v1/auth/login", wrong)  # the fifth locks
    assert (status, body["error"]) == (429, "throttled")
    assert set(body) == {"error", "detail", "fields"} and "administrator" in body["detail"]
    assert 0 < int(headers["Retry-After"]) <= 15 * 60
    right = {"username": "alice", "password": PASSWORD}
    assert client_http.post("/api/v1/auth/login", right)[0] == 429  # no more guesses
    other = {"username": "bob", "password": "Wrong-pass-99"}
    assert client_http.post("/api/v1/auth/login", other)[0] == 401  # per username

    warnings = [
        r for r in routing_log.records if r.name == "routing" and r.levelno == logging.WARNING
    ]
    assert warnings and "login throttled" in warnings[0].getMessage()


def test_it_forgets_failures_after_a_successful_login(client_http):
    make_user("alice", "viewer")
    wrong = {"username": "alice", "password": "Wrong-pass-99"}
    for _ in range(4):
        client_http.post("/api/v1/auth/login", wrong)
    client_http.login("alice")
    for _ in range(4):
        assert client_http.post("/api/v1/auth/login", wrong)[0] == 401


# Pages ------------------------------------------------------------------------------------


def page_form(client: HttpClient, path: str) -> tuple[str, str]:
    status, html, _ = client.get(path, headers={"Accept": "text/html"})
    assert status == 200, html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    return html, token


def test_the_login_page_opens_a_session_and_sets_the_cookies(client_http):
    make_user("alice", "engineer")
    html, token = page_form(client_http, "/login/?next=/editor/")
    assert 'href="/static/css/console.css"' in html and "http" not in html.split("<body")[0]

    form = {"csrfmiddlewaretoken": token, "username": "alice", "password": PASSWORD}
    status, _, headers = client_http.post("/login/", {**form, "next": "/editor/"}, form=True)
    assert (status, headers["Location"]) == (302, "/editor/")
    assert {"sessionid", "routing_access", "routing_refresh"} <= set(set_cookie_headers(headers))

    html, token = page_form(client_http, "/logout/")  # base.html: the user, the role, logout
    assert "alice" in html and ">engineer<" in html and 'action="/logout/"' in html
    access = client_http.cookie("routing_access").value
    status, _, headers = client_http.post("/logout/", {"csrfmiddlewaretoken": token}, form=True)
    assert (status, headers["Location"]) == (302, "/login/")
    assert client_http.cookie("routing_access") is None
    assert client_http.cookie("sessionid") is None
    stolen = HttpClient(client_http.base_url)
    status, _, _ = stolen.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"})
    assert status == 401


def test_the_login_page_says_what_the_api_says(client_http):
    make_user("pat", None)
    _, token = page_form(client_http, "/login/")
    form = {"csrfmiddlewaretoken": token, "username": "pat", "next": "https://evil.example/"}
    status, html, _ = client_http.post("/login/", {**form, "password": "nope"}, form=True)
    assert status == 401 and "Unknown username or wrong password." in html
    status, html, _ = client_http.post("/login/", {**form, "password": PASSWORD}, form=True)
    assert status == 403 and "awaiting approval" in html


def test_the_signup_page_creates_a_pending_account(client_http):
    _, token = page_form(client_http, "/signup/")
    form = {"csrfmiddlewaretoken": token, "username": "zoe", "email": ""}
    status, html, _ = client_http.post(
        "/signup/", {**form, "password": "password", "password2": "password"}, form=True
    )
    assert status == 400 and "too common" in html
    status, html, _ = client_http.post(
        "/signup/", {**form, "password": PASSWORD, "password2": PASSWORD}, form=True
    )
    assert status == 200 and "Request received" in html
    assert Account.objects.get(user__username="zoe").status == AccountStatus.PENDING


# Admin and commands -----------------------------------------------------------------------


def test_the_admin_lists_pending_accounts_and_approves_them(client, db):
    root = make_user("root", "admin")
    make_user("pat", None)
    make_user("quinn", None)
    client.force_login(root)
    page = client.get("/admin/accounts_app/account/?status__exact=pending")
    assert page.status_code == 200 and b"pat" in page.content and b"quinn" in page.content

    ids = Account.objects.filter(status="pending").order_by("user__username")
    pat, quinn = ids.values_list("pk", flat=True)
    url = "/admin/accounts_app/account/"
    client.post(url, {"action": "approve_as_engineer", "_selected_action": [pat]})
    client.post(url, {"action": "reject", "_selected_action": [quinn]})

    assert Account.objects.get(pk=pat).role == "engineer"
    assert Account.objects.get(pk=quinn).status == AccountStatus.REJECTED
    audit = AccountAudit.objects.filter(via="admin").values_list("username", "action", "actor")
    assert set(audit) == {("pat", "approve", root.pk), ("quinn", "reject", root.pk)}


def test_superusers_are_approved_admins(db):
    user = get_user_model().objects.create_superuser("boss", "", PASSWORD)
    account = Account.objects.get(user=user)
    assert (account.status, account.role) == ("approved", "admin")
    assert AccountAudit.objects.filter(username="boss", action="approve", via="superuser").exists()


def test_the_audit_trail_is_append_only(db):
    make_user("alice", "viewer")
    entry = AccountAudit.objects.get(username="alice")
    entry.note = "edited"
    with pytest.raises(Exception, match="append-only"):
        entry.save()
    with pytest.raises(Exception, match="append-only"):
        entry.delete()


def test_create_admin_is_idempotent(db, settings):
    out = StringIO()
    call_command("create_admin", "ops", "--email", "ops@plant.example", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Created admin ops."
    password = lines[1].removeprefix("Password (shown once): ")
    assert lines[2] == f"Log in at http://{settings.SERVE_HOST}:{settings.SERVE_PORT}/login/"
    user = get_user_model().objects.get(username="ops")
    assert user.is_superuser and user.check_password(password)
    assert Account.objects.get(user=user).role == "admin"

    out = StringIO()
    call_command("create_admin", "ops", stdout=out)
    assert "password unchanged" in out.getvalue()
    user.refresh_from_db()
    assert user.check_password(password)
    assert get_user_model().objects.count() == 1

    with pytest.raises(CommandError, match="Password refused"):
        call_command("create_admin", "ops", "--password", "123")


def test_the_commands_refuse_bad_input(db):
    with pytest.raises(CommandError, match="No account named 'ghost'"):
        call_command("approve_user", "ghost", "--role", "viewer")
    with pytest.raises(CommandError, match="No account named 'ghost'"):
        call_command("reject_user", "ghost")
    make_user("pat", None)
    with pytest.raises(CommandError):
        call_command("approve_user", "pat", "--role", "overlord")
    out = StringIO()
    call_command("reject_user", "pat", stdout=out)
    assert out.getvalue().strip() == "Rejected pat; the account cannot log in."


def test_the_site_routes_reach_these_views():
    from django.urls import resolve

    from accounts_app import pages, views

    site = "routing_site.urls"
    assert resolve("/api/v1/auth/login", site).func.view_class is views.LoginView
    assert resolve("/api/v1/auth/users/bob/approve", site).func.view_class is views.ApproveView
    assert resolve("/login/", site).func.view_class is pages.LoginPage


def test_logout_with_a_body_token_still_needs_csrf_in_a_browser_session(client_http):
    make_user("dora", "viewer")
    client_http.login("dora")
    status, body, _ = client_http.post("/api/v1/auth/logout", {"refresh": "junk"}, csrf=False)
    assert status == 403
    assert client_http.cookie("routing_access") is not None  # nothing was ended
