"""Generated secrets (SECRET_KEY, the JWT key, the admin login) are readable by their owner
only from the moment they exist: created with mode 0600, never chmod-ed afterwards."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from routing_site.settings import _secret_from_file

REPO = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """A umask that would leave a plainly written file readable (and writable) by everyone."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def no_chmod(monkeypatch):
    """Fail if anything tries to repair the mode after creating the file."""

    def refuse(*args, **kwargs):
        raise AssertionError("the mode must be right at creation, not chmod-ed afterwards")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(Path, "chmod", refuse)


def test_a_new_secret_file_is_created_0600(tmp_path, open_umask, no_chmod):
    path = tmp_path / "var" / "secret_key"
    secret = _secret_from_file(path)
    assert mode(path) == 0o600
    assert len(secret) >= 50 and path.read_text() == secret


def test_an_existing_secret_is_read_not_replaced(tmp_path):
    path = tmp_path / "jwt_signing_key"
    path.write_text("kept-secret\n")
    assert _secret_from_file(path) == "kept-secret"
    assert _secret_from_file(path) == "kept-secret"


def test_an_empty_secret_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "secret_key"
    path.write_text("")
    with pytest.raises(ImproperlyConfigured, match="delete it"):
        _secret_from_file(path)


def test_a_fresh_start_creates_both_secrets_0600(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "JWT_SIGNING_KEY")}
    env.update(ROUTING_VAR_DIR=str(tmp_path / "var"), ROUTING_LOG_DIR=str(tmp_path / "logs"))
    code = "import django; django.setup()"
    script = f"import os; os.umask(0); {code}"
    subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, check=True,
        env={**env, "DJANGO_SETTINGS_MODULE": "routing_site.settings"},
    )  # fmt: skip
    for name in ("secret_key", "jwt_signing_key"):
        assert mode(tmp_path / "var" / name) == 0o600


def test_create_admin_keeps_the_login_in_a_0600_file(db, tmp_path, open_umask, no_chmod):
    login_file = tmp_path / "var" / "admin-login.txt"
    out = StringIO()
    call_command("create_admin", "ops", "--login-file", str(login_file), stdout=out)
    assert mode(login_file) == 0o600
    first = login_file.read_text()
    assert out.getvalue().startswith(first)  # the file holds what was printed
    assert "Password (shown once): " in first

    call_command("create_admin", "ops", "--login-file", str(login_file), stdout=StringIO())
    assert login_file.read_text() == first  # a re-run keeps the password's file

    new = "Lathe-shift-B-2026"
    call_command(
        "create_admin", "ops", "--password", new, "--login-file", str(login_file), stdout=out
    )
    assert mode(login_file) == 0o600 and "password changed" in login_file.read_text()
    assert [p.name for p in login_file.parent.iterdir()] == ["admin-login.txt"]
