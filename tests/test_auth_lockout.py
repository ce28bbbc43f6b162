"""Login lockout (django-axes, database handler) over a real waitress server: one counter for
the API login, /login/ and /admin/login/, that concurrent attempts cannot race past."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.urls import include, path

from accounts_app.models import LoginGate
from accounts_app.testing import PASSWORD, HttpClient, make_user

pytestmark = pytest.mark.slow

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts_app.api_urls")),
    path("", include("accounts_app.page_urls")),
]

WRONG = "Wrong-pass-99"


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast tests) that counts password checks and makes each take a while, so that
    concurrent attempts really overlap."""

    checks = 0
    lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher.lock:
            CountingHasher.checks += 1
        time.sleep(0.2)
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def _routes(settings):
    settings.ROOT_URLCONF = __name__
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    CountingHasher.checks = 0


@pytest.fixture
def alice(db):
    return make_user("alice", "engineer")


def api_login(client: HttpClient, password: str, username: str = "alice") -> tuple:
    return client.post("/api/v1/auth/login", {"username": username, "password": password})


def page_login(client: HttpClient, page: str, password: str, username: str = "alice") -> tuple:
    status, html, _ = client.get(page, headers={"Accept": "text/html"})
    assert status == 200, html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    return client.post(page, form, form=True, headers={"Accept": "text/html"})


def test_twenty_concurrent_wrong_passwords_get_at_most_five_checks(waitress_server, alice):
    def attempt(_):
        return api_login(HttpClient(waitress_server), WRONG)[0]

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(attempt, range(20)))

    assert CountingHasher.checks <= 5
    assert set(statuses) <= {401, 429} and statuses.count(429) >= 15
    assert sum(a.failures_since_start for a in AccessAttempt.objects.all()) >= 5
    assert LoginGate.objects.get().in_flight == 0  # every claimed slot was given back
    assert api_login(HttpClient(waitress_server), PASSWORD)[0] == 429  # even the right one


def test_the_api_the_login_page_and_the_admin_share_one_counter(waitress_server, alice):
    client = HttpClient(waitress_server)
    for _ in range(2):
        assert api_login(client, WRONG)[0] == 401
    for _ in range(2):
        status, html, _ = page_login(client, "/login/", WRONG)
        assert status == 401 and "Unknown username or wrong password." in html
    status, html, _ = page_login(client, "/admin/login/", WRONG)  # the fifth failure
    assert status == 429
    assert "Login locked" in html and "Too many failed logins" in html

    status, html, headers = page_login(client, "/login/", PASSWORD)
    assert status == 429 and "Login locked" in html and int(headers["Retry-After"]) > 0
    status, body, _ = api_login(client, PASSWORD)
    assert (status, body["error"]) == (429, "throttled")
    assert CountingHasher.checks == 5  # no password was checked while locked


def test_a_right_password_refused_by_the_admin_never_locks_the_account(waitress_server, alice):
    """An engineer (not staff) with the right password is turned away by the admin's form
    after the password check: the slot that check claimed is given back each time."""
    client = HttpClient(waitress_server)
    for _ in range(6):
        status, html, _ = page_login(client, "/admin/login/", PASSWORD)
        assert status == 200 and "Login locked" not in html
    assert LoginGate.objects.get().in_flight == 0
    assert api_login(HttpClient(waitress_server), PASSWORD)[0] == 200


def test_the_lockout_is_per_username_and_address(waitress_server, alice):
    make_user("bob", "viewer")
    client = HttpClient(waitress_server)
    for _ in range(5):
        api_login(client, WRONG)
    assert api_login(client, PASSWORD)[0] == 429
    assert api_login(client, PASSWORD, username="bob")[0] == 200


def test_an_admin_unlocks_an_account_with_the_command(waitress_server, alice):
    client = HttpClient(waitress_server)
    for _ in range(5):
        api_login(client, WRONG)
    assert api_login(client, PASSWORD)[0] == 429

    out = StringIO()
    call_command("axes_reset_username", "alice", stdout=out)
    assert api_login(client, PASSWORD)[0] == 200


def test_an_admin_unlocks_an_account_in_the_admin(waitress_server, alice):
    client = HttpClient(waitress_server)
    for _ in range(5):
        api_login(client, WRONG)
    boss = HttpClient(waitress_server)
    make_user("boss", "admin")
    status, html, _ = page_login(boss, "/admin/login/", PASSWORD, username="boss")
    assert status == 302
    status, html, _ = boss.get("/admin/axes/accessattempt/", headers={"Accept": "text/html"})
    assert status == 200 and "alice" in html
    attempt = AccessAttempt.objects.get(username="alice")
    page = f"/admin/axes/accessattempt/{attempt.pk}/delete/"
    status, html, _ = boss.get(page, headers={"Accept": "text/html"})
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    status, _, _ = boss.post(page, {"post": "yes", "csrfmiddlewaretoken": token}, form=True)
    assert status == 302
    assert api_login(client, PASSWORD)[0] == 200


def test_a_successful_login_forgets_earlier_failures(waitress_server, alice):
    client = HttpClient(waitress_server)
    for _ in range(4):
        assert api_login(client, WRONG)[0] == 401
    assert api_login(client, PASSWORD)[0] == 200
    for _ in range(4):
        assert api_login(client, WRONG)[0] == 401


def test_a_stale_slot_of_a_dead_process_does_not_lock_anyone(waitress_server, alice):
    from django.utils import timezone

    client = HttpClient(waitress_server)
    assert api_login(client, WRONG)[0] == 401
    gate = LoginGate.objects.get()
    LoginGate.objects.filter(pk=gate.pk).update(
        in_flight=50, changed_at=timezone.now() - LoginGate.STALE_AFTER * 2
    )
    assert api_login(client, PASSWORD)[0] == 200
