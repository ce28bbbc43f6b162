"""Roles against endpoints of each level, over a real waitress server: 200, 403 or 401."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.core.management import call_command
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts_app.authentication import ACCESS_COOKIE, CookieJWTAuthentication
from accounts_app.cache import clear_auth_cache
from accounts_app.permissions import IsAdminOrService, IsAdminRole, IsEngineer, IsViewer
from accounts_app.roles import has_role, role_of
from accounts_app.testing import PASSWORD, HttpClient, make_user
from accounts_app.tokens import issue_pair

pytestmark = pytest.mark.slow


def level_view(permission):
    class LevelView(APIView):
        permission_classes = [permission]

        def get(self, request):
            return Response({"user": request.user.get_username(), "role": role_of(request.user)})

        def post(self, request):
            return self.get(request)

    return LevelView.as_view()


LEVELS = ["viewer", "engineer", "admin"]

# This module is its own URLconf: one endpoint per level, independent of other apps' routes.
urlpatterns = [
    path("api/v1/auth/", include("accounts_app.api_urls")),
    path("levels/viewer", level_view(IsViewer)),
    path("levels/engineer", level_view(IsEngineer)),
    path("levels/admin", level_view(IsAdminRole)),
    path("levels/metrics", level_view(IsAdminOrService)),
]


@pytest.fixture(autouse=True)
def _routes_and_caches(settings):
    settings.ROOT_URLCONF = __name__
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    clear_auth_cache()


def allowed(role: str, level: str) -> bool:
    return LEVELS.index(role) >= LEVELS.index(level)


@pytest.mark.parametrize("role", LEVELS)
def test_each_role_reaches_exactly_its_levels(waitress_server, role):
    make_user("someone", role)
    client = HttpClient(waitress_server)
    client.login("someone")
    for level in LEVELS:
        status, body, _ = client.get(f"/levels/{level}")
        if allowed(role, level):
            assert (status, body) == (200, {"user": "someone", "role": role}), level
        else:
            assert status == 403, level
            assert body == {
                "error": "permission_denied",
                "detail": f"This needs the {level} role or higher.",
                "fields": {},
            }


def test_a_superuser_counts_as_admin(waitress_server):
    get_user_model().objects.create_superuser("boss", "", PASSWORD)
    client = HttpClient(waitress_server)
    assert client.login("boss")["role"] == "admin"
    assert [client.get(f"/levels/{level}")[0] for level in LEVELS] == [200, 200, 200]


def test_it_answers_401_without_credentials(waitress_server):
    client = HttpClient(waitress_server)
    for level in [*LEVELS, "metrics"]:
        for method in ("GET", "POST"):
            status, body, headers = client.request(method, f"/levels/{level}")
            assert status == 401, (method, level)
            assert body["error"] == "not_authenticated"
            assert headers["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bearer rml_unknown"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer two parts"},
    ],
)
def test_it_answers_401_to_bad_bearer_credentials(waitress_server, headers):
    status, body, _ = HttpClient(waitress_server).get("/levels/viewer", headers=headers)
    assert (status, body["error"]) == (401, "authentication_failed")


def test_a_stale_cookie_counts_as_no_credentials(waitress_server):
    client = HttpClient(waitress_server)
    make_user("someone", "viewer")
    client.login("someone")
    client.cookie("routing_access").value = "expired.or.forged"
    status, body, _ = client.get("/levels/viewer")
    assert (status, body["error"]) == (401, "not_authenticated")
    status, _, _ = client.post("/api/v1/auth/refresh")  # what the console does next
    assert status == 200
    assert client.get("/levels/viewer")[0] == 200


def test_a_role_change_ends_the_session_and_the_next_login_has_the_new_role(waitress_server):
    user = make_user("someone", "engineer")
    client = HttpClient(waitress_server)
    client.login("someone")
    assert client.get("/levels/engineer")[0] == 200

    user.account.approve("viewer", via="test")  # a role change: the verb ends every token
    assert client.get("/levels/viewer")[0] == 401
    assert client.post("/api/v1/auth/refresh")[0] == 401
    client.login("someone")
    assert client.get("/levels/engineer")[0] == 403
    assert client.get("/levels/viewer")[0] == 200
    user.account.reject(via="test")
    assert client.get("/levels/viewer")[0] == 401
    assert client.post("/api/v1/auth/refresh")[0] == 401


def test_service_tokens_have_their_role(waitress_server, capsys):
    call_command("issue_token", "erp", "--role", "engineer")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    client = HttpClient(waitress_server)
    auth = {"Authorization": f"Bearer {token}"}
    statuses = [client.get(f"/levels/{level}", headers=auth)[0] for level in LEVELS]
    assert statuses == [200, 200, 403]
    assert client.post("/levels/engineer", {}, headers=auth)[0] == 200  # no CSRF for headers


def test_metrics_take_an_admin_or_any_service_token(waitress_server, capsys):
    make_user("vic", "viewer")
    make_user("root", "admin")
    call_command("issue_token", "scraper")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    client = HttpClient(waitress_server)
    assert client.get("/levels/metrics", headers={"Authorization": f"Bearer {token}"})[0] == 200
    client.login("vic")
    assert client.get("/levels/metrics")[0] == 403
    client.login("root")
    assert client.get("/levels/metrics")[0] == 200


def test_role_of_refuses_anyone_not_approved(db):
    assert role_of(None) is None
    assert role_of(AnonymousUser()) is None
    pending = make_user("pat", None)
    assert role_of(pending) is None
    engineer = make_user("eve", "engineer")
    assert role_of(engineer) == "engineer"
    assert has_role(engineer, "viewer") and not has_role(engineer, "admin")
    engineer.is_active = False
    assert role_of(engineer) is None


def test_the_auth_path_costs_the_user_and_session_once_then_nothing(db, django_assert_num_queries):
    user = make_user("someone", "engineer")
    factory = APIRequestFactory()
    factory.cookies[ACCESS_COOKIE] = str(issue_pair(user).access_token)
    clear_auth_cache()
    with django_assert_num_queries(2):  # the user and account; is the session logged out?
        authed, _ = CookieJWTAuthentication().authenticate(Request(factory.get("/")))
        assert role_of(authed) == "engineer"
    # both answers cached; a logout still counts at once (the shared sessions generation)
    with django_assert_num_queries(0):
        authed, _ = CookieJWTAuthentication().authenticate(Request(factory.get("/")))
        assert role_of(authed) == "engineer"
