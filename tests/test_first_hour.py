"""The first hour on a fresh clone: the admin login kept safe, one way to run manage.py."""

from __future__ import annotations

import os
import stat
import subprocess
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.conftest import REPO


def create_admin(*args: str) -> str:
    out = StringIO()
    call_command("create_admin", *args, stdout=out)
    return out.getvalue()


def password_in(text: str) -> str:
    (line,) = [x for x in text.splitlines() if x.startswith("Password (shown once): ")]
    return line.removeprefix("Password (shown once): ")


def test_the_generated_login_is_written_once_readable_by_its_owner_only(db, tmp_path):
    login = tmp_path / "var" / "admin-login.txt"
    first = create_admin("admin", "--login-file", str(login))
    password = password_in(first)
    assert password in login.read_text()
    assert stat.S_IMODE(os.stat(login).st_mode) == 0o600

    again = create_admin("admin", "--login-file", str(login))  # a second scripts/up.sh
    assert "password unchanged" in again and f"Login kept in {login}." in again
    assert password in login.read_text() and "unchanged" not in login.read_text()
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_reset_gives_a_new_password_and_rewrites_the_file(db, tmp_path):
    login = tmp_path / "admin-login.txt"
    old = password_in(create_admin("admin", "--login-file", str(login)))
    login.chmod(0o644)  # a file left readable by an older install is tightened on rewrite
    out = create_admin("admin", "--reset", "--login-file", str(login))
    new = password_in(out)
    assert new != old and "password changed" in out
    assert new in login.read_text() and old not in login.read_text()
    assert stat.S_IMODE(os.stat(login).st_mode) == 0o600
    user = get_user_model().objects.get(username="admin")
    assert user.check_password(new) and not user.check_password(old)


def test_a_lost_file_is_not_filled_with_an_unchanged_password(db, tmp_path):
    create_admin("admin")
    login = tmp_path / "admin-login.txt"
    out = create_admin("admin", "--login-file", str(login))
    assert not login.exists()
    assert f"create_admin admin --reset --login-file {login}" in out


def test_reset_with_a_password_is_refused_and_changes_nothing(db, tmp_path):
    password = password_in(create_admin("admin"))
    login = tmp_path / "admin-login.txt"
    with pytest.raises(CommandError, match="either --password or --reset"):
        create_admin(
            "admin", "--reset", "--password", "a-Long-new-pass-99", "--login-file", str(login)
        )
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert not login.exists()


def test_scripts_manage_runs_manage_py_with_the_venv_from_any_folder(tmp_path):
    result = subprocess.run(
        [str(REPO / "scripts" / "manage"), "help", "approve"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | {"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "Approve a pending version" in result.stdout


def test_no_test_reads_a_folder_beside_the_clone():
    beside = ("ROUTING_" + "SHARED_DIR", "/ " + '"shared"', "../" + "shared")
    for path in (REPO / "tests").glob("*.py"):
        text = path.read_text()
        assert not [b for b in beside if b in text], path.name
    assert (REPO / "tests" / "data" / "nwind.mdb").exists()
