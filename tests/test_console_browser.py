"""The operations console in a real browser: Debian's Chromium through Playwright, a real
waitress server, two versions trained once for the module (one active, one pending).

An admin logs in, sees the pending version on the operations home, approves and activates it
from its page, sees the audit rows, and sees a failed run's error. Screenshots of the
operations home and the version page at 1366x768 go to var/screenshots/ for review.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import serializers
from playwright.sync_api import expect

from accounts_app.testing import PASSWORD, make_user
from tests.conftest import REPO, launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENS = REPO / "var" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}
FAILED_ERROR = (
    "SourceError: Cannot connect to odbc:DSN=plant: data source not found. On Debian/Ubuntu "
    "install the driver package: 'apt-get install unixodbc odbc-mdbtools'"
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, django_db_setup, django_db_blocker):
    """Two trained versions in a module-wide models/ folder: v0001 active, v0002 pending.

    The rows are kept as serialized JSON (each transactional test empties the database)."""
    from registry_app.models import AuditEntry, ModelVersion, TrainingRun
    from registry_app.pipeline.sample_data import generate
    from registry_app.pipeline.training import execute_run, request_run
    from workflow_app.models import WorkflowConfig

    folder = tmp_path_factory.mktemp("ops-console")
    plant = folder / "plant.sqlite"
    generate(plant, items=1200, seed=5)
    saved = {k: getattr(django_settings, k) for k in ("MODELS_DIR", "ROUTING_SOURCE")}
    django_settings.MODELS_DIR = folder / "models"
    django_settings.ROUTING_SOURCE = f"sqlite:///{plant.as_posix()}"
    try:
        with django_db_blocker.unblock():
            from tests.conftest import register_source

            register_source("default", "sqlite", plant.as_posix())  # as an admin would
            WorkflowConfig.apply({"eval_sample": 120})
            first = execute_run(request_run("", trigger="cli").pk)
            first.approve()
            first.activate()
            second = execute_run(request_run("", trigger="cli").pk)
            objects = [
                *ModelVersion.objects.all(),
                *TrainingRun.objects.all(),
                *AuditEntry.objects.all(),
            ]
            rows = serializers.serialize("json", objects)
    finally:
        for key, value in saved.items():
            setattr(django_settings, key, value)
    return {
        "models": folder / "models",
        "rows": rows,
        "active": first.label,
        "pending": second.label,
    }


@pytest.fixture
def registry(trained, settings, transactional_db):
    settings.MODELS_DIR = trained["models"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for obj in serializers.deserialize("json", trained["rows"]):
        obj.save()
    return trained


@pytest.fixture(scope="module")
def browser(trained):
    yield from launched_chromium(SCREENS)


class AdminTab:
    """An admin logged in through the admin's own login form; records requests and errors."""

    def __init__(self, browser, base: str, username: str):
        self.base = base
        self.context = browser.new_context(viewport=VIEWPORT)
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(base + "/admin/login/?next=/admin/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("input[type=submit]")
        assert self.page.url == base + "/admin/", self.page.url

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> Path:
        path = SCREENS / f"{name}.png"
        self.page.screenshot(path=str(path))  # the 1366x768 viewport, as a reviewer sees it
        self.page.screenshot(path=str(SCREENS / f"{name}-full.png"), full_page=True)
        return path

    def assert_clean(self) -> None:
        outside = [u for u in self.requests if not u.startswith((self.base, "data:"))]
        assert outside == []
        assert self.errors == []


@pytest.fixture
def admin_tab(browser, registry, waitress_server):
    make_user("olga", "admin")
    tab = AdminTab(browser, waitress_server, "olga")
    yield tab
    tab.context.close()


def test_an_admin_approves_and_activates_the_pending_version_from_its_page(admin_tab, registry):
    from registry_app.models import ModelVersion

    page, pending = admin_tab.page, registry["pending"]
    admin_tab.open("/admin/")
    home = page.locator("#ops-pending")
    assert pending in home.inner_text() and "Pending approval" in home.inner_text()
    assert registry["active"] in page.inner_text("#ops-active")
    assert page.locator("#app-list, .app-registry_app").count() >= 1  # the app list stays below
    shot = admin_tab.shot("operations-home")
    assert shot.exists() and shot.stat().st_size > 10_000

    with page.expect_navigation():
        home.get_by_role("link", name=f"Open {pending}").click()
    assert page.inner_text("#version-state") == "Pending approval"
    assert page.locator("input[name=_save]").count() == 0  # read-only record
    assert page.locator(".field-attribute_table table").count() == 1
    admin_tab.shot("version-page")

    with page.expect_navigation():
        page.click("#do-approve")
    assert f"Approve {pending}?" in page.inner_text("#content")
    assert page.locator("table.evaluation").count() == 1  # the figures beside the active one
    page.fill("input[name=comment]", "figures hold up")
    with page.expect_navigation():
        page.click("#confirm-yes")
    assert page.inner_text("#version-state") == "Approved"
    assert "Approved by olga" in page.inner_text("#version-status")

    with page.expect_navigation():
        page.click("#do-activate")
    with page.expect_navigation():
        page.click("#confirm-yes")
    assert page.inner_text("#version-state") == "Active"
    assert "Active since" in page.inner_text("#version-status")
    assert ModelVersion.objects.active().label == pending

    trail = page.inner_text("#audit-group")
    for action in ("approve", "activate", "trained"):
        assert action in trail
    assert "olga" in trail and "figures hold up" in trail
    admin_tab.shot("version-page-active")
    admin_tab.assert_clean()


def test_a_failed_run_shows_its_error_first(admin_tab, registry):
    from registry_app.models import TrainingRun

    run = TrainingRun.objects.create(trigger="schedule", stage="extract")
    run.report("extract", 0.05, "reading items")
    run.fail(FAILED_ERROR + "\n\nTraceback (most recent call last):\n  File 'sources.py'")
    page = admin_tab.page
    admin_tab.open("/admin/")
    runs = page.locator("#ops-runs")
    assert "Cannot connect to odbc:DSN=plant" in runs.inner_text()
    with page.expect_navigation():
        runs.get_by_role("link", name=f"Run {run.pk}").click()
    error = page.locator("p.run-error")
    assert error.is_visible() and "apt-get install unixodbc odbc-mdbtools" in error.inner_text()
    error_y = error.bounding_box()["y"]
    assert error_y < page.locator("pre.run-log").last.bounding_box()["y"]  # the log comes after
    assert not page.locator("details pre.run-log").first.is_visible()  # traceback folded
    admin_tab.assert_clean()


def test_a_running_run_updates_without_reloading(admin_tab, registry):
    from registry_app.models import TrainingRun

    run = TrainingRun.objects.create(trigger="admin")
    run.start(pid=4242)
    run.report("features", 0.2, "encoding")
    page = admin_tab.page
    admin_tab.open(f"/admin/registry_app/trainingrun/{run.pk}/change/")
    page.evaluate("window.notReloaded = true")
    assert page.get_attribute("progress.run-progress", "value") == "20"
    run.report("index", 0.7, "building the index")
    # locator waits: wait_for_function evaluates a string, which the CSP refuses
    expect(page.locator(".run-progress-text").first).to_have_text("70%")
    assert page.get_attribute("progress.run-progress", "value") == "70"
    assert "index" in page.inner_text(".field-stage .readonly")
    assert "building the index" in page.inner_text(".field-log_text pre")
    assert page.evaluate("window.notReloaded") is True  # the same page, updated in place
    admin_tab.assert_clean()


def test_the_version_list_shows_all_its_columns_at_1366_px(admin_tab, registry):
    page = admin_tab.page
    admin_tab.open("/admin/registry_app/modelversion/")
    last = page.locator("#result_list thead th").last
    assert "approved by" in last.inner_text().lower()
    box = last.bounding_box()
    assert box["x"] + box["width"] <= VIEWPORT["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert registry["pending"] in page.inner_text("#result_list")
    admin_tab.assert_clean()


def test_long_names_on_the_console_pages_have_their_full_text_in_a_tooltip(admin_tab, registry):
    """Dashboard "Slowest p95" and the blueprint node labels: cut by CSS, never without a
    tooltip; a features node prints its weights, not ``weights {0}``."""
    page = admin_tab.page
    admin_tab.open("/api/v1/health")  # at least one measured API request for the dashboard
    admin_tab.open("/")
    expect(page.locator("#r-slowest")).to_contain_text(" ms (")
    slowest = page.locator("#r-slowest")
    assert slowest.get_attribute("title") == "Slowest p95: " + slowest.inner_text()

    admin_tab.open("/blueprints/")
    page.wait_for_selector(".bp-node .node-summary")
    for node in page.locator(".bp-node").all():
        summary = node.locator(".node-summary")
        assert summary.get_attribute("title") == summary.inner_text()
        assert "{0}" not in summary.inner_text()
        assert (
            node.locator(".node-id").get_attribute("title") == node.locator(".node-id").inner_text()
        )
    features = page.locator(".bp-node[data-id=features] .node-summary").inner_text()
    assert features.startswith("weights ") and features != "weights {0}"
    admin_tab.assert_clean()
