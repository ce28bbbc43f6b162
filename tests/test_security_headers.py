"""Headers and files: a Content-Security-Policy on every response without inline code in the
templates, ALLOWED_HOSTS checked by preflight, secret files private from their first byte."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from routing_site import settings as site_settings
from tests.conftest import REPO, Api

CSP_DIRECTIVES = ("default-src 'self'", "object-src 'none'", "frame-ancestors 'none'")


def policy(response) -> str:
    return response.headers["Content-Security-Policy"]


@pytest.mark.slow
def test_every_kind_of_response_carries_the_policy(waitress_server):
    anonymous = Api(waitress_server)
    for path in ("/api/v1/health", "/api/v1/schema/", "/login/", "/api/v1/nowhere"):
        status, _, headers = anonymous.get(path)
        assert status in (200, 404, 503), path  # 503: no model trained here
        header = headers["Content-Security-Policy"]
        assert all(d in header for d in CSP_DIRECTIVES), (path, header)
        assert "unsafe-inline" not in header and "unsafe-eval" not in header


def test_templates_hold_no_inline_script_or_style():
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=\"|\son[a-z]+=\"", re.I)
    found = [
        f"{path.relative_to(REPO)}: {match.group(0)}"
        for path in (REPO / "templates").rglob("*.html")
        for match in inline.finditer(path.read_text())
    ]
    assert found == []


@pytest.mark.django_db
def test_the_docs_page_loads_its_start_script_from_a_file(client):
    response = client.get("/api/v1/docs/")
    html = response.content.decode()
    assert response.status_code == 200 and "<style" not in html
    assert re.search(r'<script src="[^"]*\?script=?"', html)
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


# -- ALLOWED_HOSTS -------------------------------------------------------------------------------
def preflight(*args: str) -> str:
    out = StringIO()
    call_command("preflight", "--skip-port", *args, stdout=out)
    return out.getvalue()


def host_line(output: str) -> str:
    return next(line for line in output.splitlines() if "allowed host names" in line)


@pytest.mark.django_db
def test_preflight_fails_on_a_wildcard_host_list_off_loopback(settings, plant_source):
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["*"]
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("preflight", "--skip-port", "--host", "0.0.0.0", stdout=out)
    assert "FAIL  allowed host names: ALLOWED_HOSTS is '*' while the server listens on 0.0.0.0" in (
        out.getvalue()
    )


@pytest.mark.django_db
def test_preflight_fails_on_loopback_names_only_off_loopback(settings, plant_source):
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["localhost", "127.0.0.1"]
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("preflight", "--skip-port", "--host", "10.1.2.3", stdout=out)
    assert "only loopback names while the server listens on 10.1.2.3" in out.getvalue()


@pytest.mark.django_db
def test_preflight_accepts_named_hosts_and_loopback_serving(settings, plant_source):
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["console.plant.example"]
    assert host_line(preflight("--host", "0.0.0.0")).startswith("ok")
    settings.ALLOWED_HOSTS = ["*"]
    assert host_line(preflight("--host", "127.0.0.1")).startswith("ok")


def test_outside_debug_the_default_is_loopback_only(tmp_path):
    code = "from django.conf import settings as s; print(','.join(s.ALLOWED_HOSTS))"
    for debug, expected in (("false", "localhost,127.0.0.1,[::1]"), ("true", "*")):
        env = {k: v for k, v in os.environ.items() if k != "ALLOWED_HOSTS"}
        env.update(DEBUG=debug, DJANGO_SETTINGS_MODULE="routing_site.settings")
        env.update(ROUTING_VAR_DIR=str(tmp_path), ROUTING_LOG_DIR=str(tmp_path))
        run = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=REPO, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert run.stdout.strip() == expected


# -- secret files --------------------------------------------------------------------------------
def test_a_secret_file_is_private_from_the_start(tmp_path):
    previous = os.umask(0)  # the most permissive umask: the mode must not depend on it
    try:
        secret = site_settings._secret_from_file(tmp_path / "var" / "secret_key")
    finally:
        os.umask(previous)
    path = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(secret) > 40
    assert site_settings._secret_from_file(path) == secret  # kept, not regenerated
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left
