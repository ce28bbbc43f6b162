"""Service accounts and their bearer tokens: issue, use, revoke, over a real waitress server."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.contrib import admin
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import include, path
from django.utils import timezone

from accounts_app import cache as auth_cache
from accounts_app.models import Account, AccountAudit, ServiceToken
from accounts_app.testing import HttpClient, make_user

pytestmark = pytest.mark.slow

# This module is its own URLconf, independent of other apps' routes.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts_app.api_urls")),
]


@pytest.fixture(autouse=True)
def _routes_and_caches(settings):
    settings.ROOT_URLCONF = __name__
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    auth_cache.clear_auth_cache()


def issue(*args: str) -> tuple[list[str], str]:
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    return lines, lines[-1]


def me(server: str, token: str):
    client = HttpClient(server)
    return client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_it_issues_a_token_for_a_new_service_account(db):
    lines, raw = issue("erp", "--name", "ERP export")
    assert raw.startswith("rml_") and len(raw) > 40
    assert "cannot be shown again" in lines[0]

    account = Account.objects.select_related("user").get(user__username="erp")
    assert account.is_service and account.status == "approved" and account.role == "viewer"
    assert not account.user.has_usable_password() and not account.user.is_staff

    token = ServiceToken.objects.get(user=account.user)
    assert token.digest == hashlib.sha256(raw.encode()).hexdigest()
    assert token.prefix == raw[:12] and token.name == "ERP export"
    assert raw not in {str(value) for row in ServiceToken.objects.values_list() for value in row}
    assert AccountAudit.objects.filter(username="erp", action="token_issued").exists()


def test_a_bearer_service_token_authenticates(waitress_server):
    _, raw = issue("erp")
    status, body, _ = me(waitress_server, raw)
    assert status == 200
    assert (body["username"], body["role"], body["is_service"]) == ("erp", "viewer", True)
    assert ServiceToken.objects.get().last_used_at is not None


def test_it_reuses_the_service_account_and_changes_its_role(waitress_server):
    _, first = issue("erp")
    _, second = issue("erp", "--role", "engineer")
    assert first != second
    assert Account.objects.filter(user__username="erp").count() == 1
    assert me(waitress_server, first)[1]["role"] == "engineer"
    assert me(waitress_server, second)[0] == 200


def test_a_revoked_token_stops_working(waitress_server, client):
    _, raw = issue("erp")
    assert me(waitress_server, raw)[0] == 200

    root = make_user("root", "admin")
    client.force_login(root)
    token = ServiceToken.objects.get()
    page = client.get("/admin/accounts_app/servicetoken/", {"q": token.prefix})
    assert page.status_code == 200 and token.prefix.encode() in page.content
    client.post(
        "/admin/accounts_app/servicetoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AccountAudit.objects.filter(action="token_revoked", actor=root).exists()
    status, body, _ = me(waitress_server, raw)
    assert (status, body["error"]) == (401, "authentication_failed")


def test_a_token_revoked_elsewhere_stops_within_the_cache_window(waitress_server, monkeypatch):
    _, raw = issue("erp")
    assert me(waitress_server, raw)[0] == 200
    # Another process revokes it: this process only learns when its cache entry expires.
    ServiceToken.objects.update(revoked_at=timezone.now())
    assert me(waitress_server, raw)[0] == 200

    real = auth_cache.time.monotonic
    monkeypatch.setattr(
        auth_cache.time, "monotonic", lambda: real() + auth_cache.AUTH_CACHE_SECONDS + 0.1
    )
    assert me(waitress_server, raw)[0] == 401


def test_a_rejected_service_account_loses_its_tokens(waitress_server):
    _, raw = issue("erp")
    Account.objects.get(user__username="erp").reject(via="test")
    assert me(waitress_server, raw)[0] == 401
    with pytest.raises(CommandError, match="was rejected"):
        issue("erp")
    _, fresh = issue("erp", "--role", "viewer")  # an explicit role approves it again
    assert me(waitress_server, raw)[0] == 200 and me(waitress_server, fresh)[0] == 200


def test_a_service_account_cannot_log_in_with_a_password(waitress_server):
    issue("erp")
    client = HttpClient(waitress_server)
    status, body, _ = client.post("/api/v1/auth/login", {"username": "erp", "password": ""})
    assert status == 400  # blank password
    status, body, _ = client.post("/api/v1/auth/login", {"username": "erp", "password": "x!"})
    assert (status, body["error"]) == (401, "invalid_credentials")


def test_it_refuses_tokens_for_people_and_bad_names(db):
    make_user("alice", "engineer")
    with pytest.raises(CommandError, match="person's account"):
        issue("alice")
    with pytest.raises(CommandError):
        issue("bad name!")
    with pytest.raises(CommandError):
        issue("erp", "--role", "root")
    assert not ServiceToken.objects.exists()


def test_a_logout_with_the_access_token_alone_outlives_the_access_lifetime(db):
    """The ended session is remembered as long as its refresh token could live: once the
    access lifetime has passed, that refresh token still mints nothing."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework_simplejwt.settings import api_settings as jwt_settings

    from accounts_app import tokens
    from accounts_app.models import EndedSession

    user = get_user_model().objects.create_user("scripted", password="Plant-floor-2024!")
    refresh = tokens.issue_pair(user)
    tokens.end_session(raw_access=str(refresh.access_token))
    row = EndedSession.objects.get()
    assert row.expires_at >= timezone.now() + jwt_settings.REFRESH_TOKEN_LIFETIME - timedelta(
        minutes=1
    )
    later = timezone.now() + jwt_settings.ACCESS_TOKEN_LIFETIME + timedelta(minutes=1)
    assert not EndedSession.objects.filter(expires_at__lt=later).exists()  # not pruned then
    with pytest.raises(tokens.SessionExpired):
        tokens.rotate(str(refresh))
