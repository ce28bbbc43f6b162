"""The admin modules are imported when the admin is first used, not in Django's set-up
(routing_site/apps.py), and the admin registers and checks what Django's own AdminConfig does.

Each check runs in a fresh interpreter: this one has long imported every admin module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent

# Django's own AdminConfig (discovery in django.setup()) in place of ours, all else the same
STOCK_SETTINGS = """
from routing_site.settings import *  # noqa: F403

INSTALLED_APPS = [
    "django.contrib.admin" if app == "routing_site.apps.ConsoleAdminConfig" else app
    for app in INSTALLED_APPS  # noqa: F405
]
"""

REGISTRY = """
import json, sys, threading
import django
django.setup()
set_up = sorted(m for m in sys.modules if m.endswith(".admin") and not m.startswith("django."))
from django.contrib import admin
{use}
found = sorted(
    f"{{model._meta.label}}={{type(model_admin).__module__}}.{{type(model_admin).__qualname__}}"
    for model, model_admin in admin.site._registry.items()
)
print(json.dumps({{"set_up": set_up, "registry": found}}))
"""

USES = {
    "its URLs": "admin.site.urls",
    "its system checks": (
        "from django.core import checks\nassert checks.run_checks(tags=['admin']) == []"
    ),
    "a look at its registry": (
        "from django.contrib.auth.models import Group\nassert admin.site.is_registered(Group)"
    ),
    "eight threads at once": (
        "from django.contrib.auth.models import User\n"
        "seen = []\n"
        "threads = [threading.Thread(target=lambda: seen.append(admin.site.is_registered(User)))"
        " for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "assert seen == [True] * 8, seen"
    ),
}

BROKEN_MODELS = """
from django.db import models


class Gadget(models.Model):
    name = models.CharField(max_length=20)

    class Meta:
        app_label = "brokenadmin"
"""

BROKEN_ADMIN = """
from django.contrib import admin

from brokenadmin.models import Gadget


@admin.register(Gadget)
class GadgetAdmin(admin.ModelAdmin):
    list_display = ["no_such_field"]
"""


@pytest.fixture
def env(tmp_path) -> dict:
    (tmp_path / "stock_admin_settings.py").write_text(STOCK_SETTINGS)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "routing_site.settings",
        "DATABASE_URL": f"sqlite:///{settings.VAR_DIR / 'unused.sqlite3'}",
        "ROUTING_VAR_DIR": str(settings.VAR_DIR),
        "ROUTING_LOG_DIR": str(settings.LOG_DIR),
        "ROUTING_MODELS_DIR": str(settings.MODELS_DIR),
        "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)]),
    }


def registry(env: dict, use: str, settings_module: str = "routing_site.settings") -> dict:
    code = REGISTRY.format(use=use)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
        env={**env, "DJANGO_SETTINGS_MODULE": settings_module},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("use", list(USES))
def test_the_first_use_registers_what_djangos_admin_config_registers_at_set_up(env, use):
    stock = registry(env, "pass", "stock_admin_settings")
    ours = registry(env, USES[use])
    assert "registry_app.admin" in stock["set_up"]  # Django's AdminConfig: in django.setup()
    assert ours["set_up"] == []  # ours: none of the admin modules during the set-up
    assert len(stock["registry"]) > 10
    assert ours["registry"] == stock["registry"]


def test_nothing_is_registered_before_the_admin_is_used(env):
    found = registry(env, "pass")
    assert found == {"set_up": [], "registry": []}


@pytest.mark.parametrize("settings_module", ["routing_site.settings", "stock_admin_settings"])
def test_an_admin_error_fails_the_admin_checks_as_with_djangos_admin_config(
    env, tmp_path, settings_module
):
    """``manage.py check --tag admin`` runs no URL check (nothing imports the URL modules):
    the admin's own check discovers the admin modules and reports the broken one."""
    app = tmp_path / "brokenadmin"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(BROKEN_MODELS)
    (app / "admin.py").write_text(BROKEN_ADMIN)
    (tmp_path / "with_broken_admin.py").write_text(
        f"from {settings_module} import *  # noqa: F403\n"
        "INSTALLED_APPS = [*INSTALLED_APPS, 'brokenadmin']  # noqa: F405\n"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--tag", "admin"], cwd=REPO, capture_output=True,
        text=True, env={**env, "DJANGO_SETTINGS_MODULE": "with_broken_admin"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "brokenadmin.admin.GadgetAdmin'>: (admin.E108)" in done.stderr
    assert "'no_such_field'" in done.stderr


def test_the_admin_checks_pass_on_the_product(env):
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--tag", "admin"],
        cwd=REPO, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues" in done.stdout
