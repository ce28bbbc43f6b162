"""Helpers for the project's tests: users with a role, and an HTTP client for a live server.

    from accounts_app.testing import HttpClient, make_user

    def test_it_saves_a_routing(waitress_server):
        make_user("eve", "engineer")
        client = HttpClient(waitress_server)
        client.login("eve")
        status, body, headers = client.post("/api/v1/routings", {...})

``HttpClient`` behaves like the console in a browser: it keeps cookies and sends the
``csrftoken`` cookie back in ``X-CSRFToken`` on unsafe methods (``csrf=False`` to leave it
out). Only the standard library is used.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import Cookie, CookieJar

from django.contrib.auth import get_user_model

from accounts_app.cache import clear_auth_cache
from accounts_app.models import Account

PASSWORD = "Plant-floor-2024!"


def make_user(username: str, role: str | None = "viewer", password: str = PASSWORD, **fields):
    """A person with ``role`` (approved), or a pending account when ``role`` is None."""
    user = get_user_model().objects.create_user(username, password=password, **fields)
    account = Account.objects.get(user=user)
    if role:
        account.approve(role, via="test")
    else:
        user.is_active = False
        user.save(update_fields=["is_active"])
    clear_auth_cache()
    user.refresh_from_db()
    return user


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # hand 3xx answers back to the test


class HttpClient:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def cookie(self, name: str) -> Cookie | None:
        return next((c for c in self.cookies if c.name == name), None)

    def request(
        self,
        method: str,
        path: str,
        body=None,
        headers: dict | None = None,
        csrf: bool = True,
        form: bool = False,
    ) -> tuple:
        """``(status, body, headers)``: the body parsed when it is JSON; the headers an
        ``http.client.HTTPMessage`` (``headers.get_all("Set-Cookie")``)."""
        headers = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            else:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers.setdefault("Content-Type", "application/json")
        token = self.cookie("csrftoken")
        if csrf and token and method not in ("GET", "HEAD"):
            headers.setdefault("X-CSRFToken", token.value)
        req = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, _decode(resp), resp.headers
        except urllib.error.HTTPError as err:
            with err:
                return err.code, _decode(err), err.headers

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        return self.request("POST", path, {} if body is None else body, **kwargs)

    def login(self, username: str, password: str = PASSWORD) -> dict:
        status, body, _ = self.post(
            "/api/v1/auth/login", {"username": username, "password": password}
        )
        assert status == 200, (status, body)
        return body


def _decode(resp):
    raw = resp.read()
    if "json" in (resp.headers.get("Content-Type") or ""):
        return json.loads(raw or b"null")
    return raw.decode("utf-8", "replace")
