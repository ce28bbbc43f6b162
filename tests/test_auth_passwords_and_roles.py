"""Password rules on signup and password change, and one source of truth for the role."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import include, path
from rest_framework.test import APIClient

from accounts_app.authentication import user_for_access_token
from accounts_app.cache import clear_auth_cache
from accounts_app.models import Account, AccountAudit
from accounts_app.roles import role_of
from accounts_app.testing import PASSWORD, HttpClient, make_user
from accounts_app.tokens import issue_pair

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts_app.api_urls")),
]

NEW_PASSWORD = "Deburring-bench-42"


@pytest.fixture(autouse=True)
def _routes(settings):
    settings.ROOT_URLCONF = __name__


# Password rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Sh0rt-pw", "at least 10 characters"),
        ("1234567890123", "entirely numeric"),
        ("password1234", "too common"),
        ("maximilian-welder", "too similar to the username"),
    ],
)
def test_signup_refuses_weak_passwords_with_the_reasons(db, password, reason):
    body = {"username": "maximilian-welder", "password": password}
    response = APIClient().post("/api/v1/auth/signup", body, format="json")
    assert response.status_code == 400
    data = response.json()
    assert data["error"] == "invalid" and set(data) == {"error", "detail", "fields"}
    assert any(reason in message for message in data["fields"]["password"])
    assert not get_user_model().objects.filter(username="maximilian-welder").exists()


def _password_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_pair(user).access_token}")
    return client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": "Not-my-password-1", "password": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD, "password": "short"}, "password"),
        ({"current_password": PASSWORD, "password": "1234567890123"}, "password"),
        ({"current_password": PASSWORD, "password": "eve-the-engineer"}, "password"),
        ({"current_password": PASSWORD}, "password"),
        ({"password": NEW_PASSWORD}, "current_password"),
    ],
)
def test_a_refused_password_change_says_why_and_changes_nothing(db, body, field):
    user = make_user("eve-the-engineer", "engineer", email="eve@plant.example")
    version = user.account.token_version
    response = _password_client(user).post("/api/v1/auth/password", body, format="json")
    assert response.status_code == 400
    assert response.json()["fields"][field]
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert Account.objects.get(user=user).token_version == version


def test_a_password_change_needs_a_login(db):
    response = APIClient().post(
        "/api/v1/auth/password", {"current_password": PASSWORD, "password": NEW_PASSWORD}
    )
    assert response.status_code == 401


def test_a_password_change_through_the_admin_form_ends_the_tokens(db, admin_client):
    user = make_user("eve", "engineer")
    access = str(issue_pair(user).access_token)
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    response = admin_client.post(f"/admin/auth/user/{user.pk}/password/", form)
    assert response.status_code == 302, response.content[:2000]
    clear_auth_cache()
    assert user_for_access_token(access) == (None, None)
    ended = AccountAudit.objects.filter(username="eve", action="sessions_ended")
    assert [a.note for a in ended] == ["password changed"]


def test_the_admin_form_applies_the_password_rules(db, admin_client):
    user = make_user("eve", "engineer")
    form = {"password1": "1234567890123", "password2": "1234567890123", "usable_password": "true"}
    response = admin_client.post(f"/admin/auth/user/{user.pk}/password/", form)
    assert response.status_code == 200 and b"entirely numeric" in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_a_password_change_over_http_keeps_this_browser_logged_in(waitress_server):
    make_user("eve", "engineer")
    browser, other = HttpClient(waitress_server), HttpClient(waitress_server)
    browser.login("eve")
    other.login("eve")
    body = {"current_password": PASSWORD, "password": NEW_PASSWORD}
    status, answer, _ = browser.post("/api/v1/auth/password", body)
    assert (status, answer) == (200, {"user": "eve", "role": "engineer"})
    assert browser.get("/api/v1/auth/me")[0] == 200  # new cookies came with the answer
    assert other.get("/api/v1/auth/me")[0] == 401  # same process: at once
    assert other.post("/api/v1/auth/refresh")[0] == 401


# 17.9: one source of truth for the role ------------------------------------------------------


def _admin_user_form(user) -> dict:
    """What Admin › Users posts for ``user`` with Staff and Superuser unticked."""
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-05",
        "date_joined_1": "08:00:00",
        "account-TOTAL_FORMS": "1",
        "account-INITIAL_FORMS": "1",
        "account-MIN_NUM_FORMS": "0",
        "account-MAX_NUM_FORMS": "1",
        "account-0-id": str(user.account.pk),
        "account-0-user": str(user.pk),
        "_save": "Save",
    }


def test_17_9_unticking_staff_and_superuser_in_admin_users_leaves_no_api_admin(db, admin_client):
    ops = make_user("ops", "admin")
    assert ops.is_superuser and role_of(ops) == "admin"
    access = str(issue_pair(ops).access_token)

    response = admin_client.post(f"/admin/auth/user/{ops.pk}/change/", _admin_user_form(ops))
    assert response.status_code == 302, response.content[:3000]

    ops = get_user_model().objects.select_related("account").get(pk=ops.pk)
    assert not ops.is_superuser and not ops.is_staff
    assert (ops.account.role, role_of(ops)) == ("viewer", "viewer")
    change = AccountAudit.objects.get(username="ops", action="role_changed")
    assert (change.role, change.via) == ("viewer", "user flags")
    assert "unticked" in change.note
    clear_auth_cache()
    assert user_for_access_token(access) == (None, None)  # the admin's tokens ended


def test_17_9_a_superuser_flag_alone_is_not_the_admin_role(db):
    user = make_user("eve", "engineer")
    get_user_model().objects.filter(pk=user.pk).update(is_superuser=True)  # behind the verbs
    user.refresh_from_db()
    assert user.is_superuser and role_of(user) == "engineer"


def test_17_9_role_changes_happen_in_one_audited_method(db):
    boss = make_user("boss", "admin")
    user = make_user("eve", "engineer")
    version = user.account.token_version
    assert user.account.change_role("admin", by=boss, via="api")
    user.refresh_from_db()
    assert user.is_superuser and user.is_staff and role_of(user) == "admin"
    assert user.account.token_version == version + 1
    change = AccountAudit.objects.get(username="eve", action="role_changed")
    assert (change.role, change.actor_name, change.note) == ("admin", "boss", "was engineer")
    assert not user.account.change_role("admin", by=boss)  # nothing to change, nothing ended
    assert Account.objects.get(user=user).token_version == version + 1


def test_17_9_change_role_refuses_bad_input_and_changes_nothing(db):
    boss = make_user("boss", "admin")
    pending = make_user("pat", None)
    with pytest.raises(Exception, match="approve it first"):
        pending.account.change_role("engineer", by=boss)
    with pytest.raises(Exception, match="Unknown role"):
        boss.account.change_role("owner")
    with pytest.raises(Exception, match="your own account"):
        boss.account.change_role("viewer", by=boss)
    assert Account.objects.get(user=pending).role == ""
    assert role_of(get_user_model().objects.get(pk=boss.pk)) == "admin"
    assert not AccountAudit.objects.filter(action="role_changed").exists()
