"""The console pages in a real browser: Debian's Chromium through Playwright, a real waitress
server, a model trained once for the module on a generated plant with one item held out.

Every test also checks that the page loads nothing from another host and logs no error.
Screenshots go to /tmp/screens/ for a look by eye (they are not part of the repository).
"""

from __future__ import annotations

import re
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import serializers
from django.core.management import call_command
from playwright.sync_api import expect

from accounts_app.testing import PASSWORD, make_user
from tests.conftest import launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENS = Path("/tmp/screens")
# Waits go through Playwright's locators: page.wait_for_function evaluates its expression with
# eval(), which the pages' Content-Security-Policy (no 'unsafe-eval') rightly refuses.
expect.set_options(timeout=15_000)
FORM_ATTRIBUTES = [
    "PART_TYPE",
    "ITEM_MATERIAL",
    "SealTypeGrup",
    "OUTDIAMETER",
    "INDIAMETER",
    "OUTTHICKNESS",
    "ITEM_NM",
]
ITEMS = "dbo_BI_ITEM_INFO_VIEW"
OPERATIONS = "dbo_BI_ROUTING_VIEW"
RESULTS = "dbo_BI_WORK_ORDER_RESULTS"
BAD_REQUEST = "Failed to load resource: the server responded with a status of 400 (Bad Request)"


# -- the plant, the model and the browser: built once for the module -------------------------
def make_plant(path: Path) -> None:
    call_command(
        "make_sample_data", "--items", "1500", "--seed", "3", "--out", str(path), stdout=StringIO()
    )


def hold_out_one_item(path: Path) -> dict:
    """Delete one routed item (with a full set of form attributes) from the plant; its row."""
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    columns = ", ".join(f"i.{c}" for c in ["ITEM_CD", *FORM_ATTRIBUTES])
    row = db.execute(
        f"SELECT {columns} FROM {ITEMS} i WHERE i.OUTDIAMETER > 0 AND i.ITEM_MATERIAL <> '' "
        f"AND (SELECT COUNT(*) FROM {OPERATIONS} o WHERE o.ITEM_CD = i.ITEM_CD) >= 4 "
        "ORDER BY i.ITEM_CD LIMIT 1 OFFSET 40"
    ).fetchone()
    item = dict(row)
    for table in (ITEMS, OPERATIONS, RESULTS):
        db.execute(f"DELETE FROM {table} WHERE ITEM_CD = ?", (item["ITEM_CD"],))
    db.commit()
    db.close()
    return item


@pytest.fixture(scope="module")
def trained(tmp_path_factory, django_db_setup, django_db_blocker):
    """A trained, approved, active version in a module-wide models/ folder.

    The registry rows are kept as serialized JSON: each transactional test empties the database
    when it ends, and :func:`registry` puts them back.
    """
    from registry_app.models import ModelVersion, TrainingRun
    from registry_app.pipeline.training import execute_run, request_run
    from tests.conftest import register_source
    from workflow_app.models import WorkflowConfig

    folder = tmp_path_factory.mktemp("console")
    plant = folder / "plant.sqlite"
    make_plant(plant)
    held_out = hold_out_one_item(plant)
    saved = {k: getattr(django_settings, k) for k in ("MODELS_DIR", "ROUTING_SOURCE")}
    django_settings.MODELS_DIR = folder / "models"
    django_settings.ROUTING_SOURCE = f"sqlite:///{plant.as_posix()}"
    try:
        with django_db_blocker.unblock():
            register_source("default", "sqlite", plant.as_posix())
            WorkflowConfig.apply({"eval_sample": 0})  # the evaluation is tested elsewhere
            version = execute_run(request_run("", trigger="cli").pk)
            version.approve()
            version.activate()
            rows = serializers.serialize(
                "json", [*ModelVersion.objects.all(), *TrainingRun.objects.all()]
            )
    finally:
        for key, value in saved.items():
            setattr(django_settings, key, value)
    return {"models": folder / "models", "rows": rows, "label": version.label, "item": held_out}


@pytest.fixture
def registry(trained, settings, transactional_db):
    """The module's model, active in this test's registry; the runtime loads it on first use."""
    settings.MODELS_DIR = trained["models"]
    settings.RUNTIME_POLL_SECONDS = 0.5
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for obj in serializers.deserialize("json", trained["rows"]):
        obj.save()
    return trained


@pytest.fixture(scope="module")
def browser(trained):
    yield from launched_chromium(SCREENS)


def wait_until(condition, seconds: float = 15.0) -> None:
    """Poll a Python condition on the page (for what a locator assertion cannot say)."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


class Session:
    """One logged-in browser tab that records requests and errors."""

    def __init__(self, browser, base: str, username: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.page.goto(base + "/login/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        with self.page.expect_navigation():
            self.page.click("button[type=submit]")
        assert self.page.url == base + "/", self.page.url
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        outside = [u for u in self.requests if not u.startswith((self.base, "data:"))]
        assert outside == []
        assert self.errors == []

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser, registry, waitress_server):
    make_user("enzo", "engineer")
    tab = Session(browser, waitress_server, "enzo")
    yield tab
    tab.close()


@pytest.fixture
def fresh_install(browser, waitress_server, settings):
    """A console with an empty registry (nothing trained yet)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    make_user("vera", "viewer")
    tab = Session(browser, waitress_server, "vera")
    yield tab
    tab.close()


# -- the pages -----------------------------------------------------------------------------
def test_the_dashboard_draws_its_charts(session, registry):
    page = session.page
    session.open("/")
    expect(page.locator("#v-serving")).to_have_text(registry["label"])
    assert page.inner_text("#v-status") == "ok"
    assert page.is_hidden("#dash-no-model")
    for chart in ("chart-latency", "chart-requests", "chart-training"):
        assert page.locator(f"#{chart} canvas").count() == 1
    expect(page.locator("#runs-table tbody")).to_contain_text(registry["label"])
    assert "succeeded" in page.inner_text("#runs-table tbody")
    session.shot("dashboard")
    session.assert_clean()


def test_the_dashboard_says_how_to_get_a_model_when_none_is_active(fresh_install):
    page = fresh_install.page
    fresh_install.open("/")
    page.wait_for_selector("#dash-no-model:not([hidden])")
    assert "No active model — train one with manage.py train --wait" in page.inner_text(
        "#dash-no-model"
    )
    assert page.inner_text("#v-status") == "unavailable"
    assert page.locator(".runtime-banner[data-status='unavailable']").count() == 1
    assert page.locator("#chart-training canvas").count() == 1  # empty charts still draw
    fresh_install.shot("dashboard-empty")
    fresh_install.assert_clean()


def test_an_engineer_edits_and_saves_a_proposal_for_a_new_item(session, registry):
    from inference_app.models import SavedRouting
    from workflow_app.models import WorkflowConfig

    page, item = session.page, registry["item"]
    session.open("/editor/")
    page.fill("#item-code", item["ITEM_CD"])
    for name in FORM_ATTRIBUTES:
        if item[name] not in (None, "", 0, 0.0):
            page.fill(f"#attr-{name}", str(item[name]))
    page.fill("#quantity", "25")
    page.click("#predict-btn")
    page.wait_for_selector(".candidate-tab")
    assert "candidate" in page.inner_text("#predict-status")
    assert page.locator("#neighbours li").count() > 0

    page.click("#use-candidate")
    rows = page.locator("#ops-body tr[data-index]")
    rows.first.wait_for()
    before = op_codes(page)
    assert len(before) >= 3

    # drag the first operation below the last: the order changes and seq is renumbered
    last = rows.nth(len(before) - 1)
    box = last.bounding_box()
    below_its_middle = {"x": 20, "y": box["height"] - 4}
    rows.first.locator(".drag-handle").drag_to(last, target_position=below_its_middle)
    wait_until(lambda: op_codes(page)[0] == before[1])
    assert op_codes(page) == before[1:] + before[:1]
    assert seqs(page) == [10 * (i + 1) for i in range(len(before))]
    # the rows were rebuilt: the per-operation lead times come back from /time-summary
    without_digit = page.locator("#ops-body .lead").filter(has_not_text=re.compile(r"\d"))
    expect(without_digit).to_have_count(0)
    assert page.inner_text("#lead-line").startswith("Lead time ")

    # an unknown operation code: a red badge on the row and a toast; fixing it clears both
    code = page.locator("#ops-body tr[data-index='0'] [data-field=op_code]")
    original = code.input_value()
    code.fill("NOPE-999")
    code.press("Tab")
    badge = page.locator("#ops-body tr[data-index='0'] .row-badge")
    assert "unknown operation code 'NOPE-999'" in badge.inner_text()
    assert "error" in badge.get_attribute("class")
    page.wait_for_selector(".toast-error:has-text(\"unknown operation code 'NOPE-999'\")")
    assert page.inner_text("#routing-status") == "1 problem"
    session.shot("editor-invalid")
    code.fill(original)
    code.press("Tab")
    assert badge.inner_text() == "OK"
    assert page.inner_text("#routing-status") == "valid"

    # the server is the judge: a rule the page has not heard of yet comes back on the rows
    WorkflowConfig.apply({"routing_rules": {"mandatory_final_ops": ["FINAL-X"]}})
    page.click("#save-btn")
    last_badge = page.locator(f"#ops-body tr[data-index='{len(before) - 1}'] .row-badge")
    expect(page.locator("#routing-status")).not_to_have_text("valid")
    assert "FINAL-X" in last_badge.get_attribute("title")
    assert SavedRouting.objects.count() == 0
    assert session.errors == [BAD_REQUEST]
    session.errors.clear()  # that refusal was the point
    WorkflowConfig.apply({"routing_rules": {"mandatory_final_ops": []}})

    page.fill("#save-comment", "reordered in the browser test")
    page.click("#save-btn")
    page.wait_for_selector("#saved:not([hidden])")
    saved = SavedRouting.objects.get()
    assert saved.item_code == item["ITEM_CD"]
    assert [op["op_code"] for op in saved.operations] == before[1:] + before[:1]
    assert saved.source_model_version == registry["label"]
    href = page.get_attribute("#export-csv", "href")
    assert re.fullmatch(rf"/api/v1/routings/{saved.pk}/export\?format=csv", href)
    export = page.request.get(session.base + href, headers={"Connection": "close"})
    assert export.status == 200
    assert item["ITEM_CD"] in export.text()
    session.shot("editor-saved")

    check_rules_in_the_page(page)
    session.assert_clean()


def op_codes(page) -> list[str]:
    return page.eval_on_selector_all(
        "#ops-body tr[data-index] [data-field=op_code]", "inputs => inputs.map(i => i.value)"
    )


def seqs(page) -> list[int]:
    return [
        int(v)
        for v in page.eval_on_selector_all(
            "#ops-body tr[data-index] [data-field=seq]", "inputs => inputs.map(i => i.value)"
        )
    ]


def check_rules_in_the_page(page) -> None:
    """The browser's checks mirror the server's routing rules."""
    result = page.evaluate("""() => {
        const rules = {allowed_op_codes: {CUT: "Cutting", "INSP-F": "Final"},
                       allowed_work_centers: {W1: "Saw"}, mandatory_final_ops: ["INSP-F"],
                       max_minutes: 1000, min_operations: 1};
        const op = (seq, code, extra) => Object.assign({seq, op_code: code, work_center: "W1",
            setup_min: 1, run_min: 1, run_qty: 1, queue_min: 0, wait_min: 0, move_min: 0},
            extra || {});
        const bad = RoutingRules.check([op(10, "CUT", {setup_min: -1}),
                                        op(10, "ZZZ", {run_qty: 0, wait_min: 5000}),
                                        op(30, "CUT", {work_center: "W9"})], rules);
        const good = RoutingRules.check([op(10, "CUT"), op(20, "INSP-F")], rules);
        return {bad, good};
    }""")
    rows = result["bad"]["rows"]
    assert rows[0]["setup_min"] == ["setup time is negative"]
    assert "duplicate seq 10" in rows[0]["seq"] and "duplicate seq 10" in rows[1]["seq"]
    assert rows[1]["op_code"] == ["unknown operation code 'ZZZ'"]
    assert rows[1]["run_qty"] == ["run qty must be above 0"]
    assert rows[1]["wait_min"] == ["wait time is above 1000 min"]
    assert "unknown work center 'W9'" in rows[2]["work_center"]
    assert result["bad"]["routing"] == ["the last operation must be INSP-F"]
    assert result["good"]["count"] == 0


def test_an_engineer_fixes_a_cycle_and_saves_the_blueprint(session):
    from workflow_app.models import Blueprint, WorkflowConfig

    page = session.page
    session.open("/blueprints/")
    page.wait_for_selector(".bp-node")
    assert page.locator(".bp-node").count() == 8
    assert page.input_value("#bp-name") == "standard pipeline"

    # predictor → runtime closes a loop with runtime → predictor
    page.click('.bp-node[data-id="predictor"]')
    page.select_option("#bp-connect-to", "runtime")
    page.click("#bp-connect")
    page.wait_for_selector("#bp-errors li:has-text('cycle')")
    assert "runtime → predictor → runtime" in page.inner_text("#bp-errors")
    assert "in-error" in page.get_attribute('.bp-node[data-id="runtime"]', "class")
    session.shot("blueprint-cycle")

    page.click('.bp-node[data-id="predictor"]')
    page.click('#bp-connections button[aria-label="Remove connection predictor to runtime"]')
    expect(page.locator("#bp-errors li")).to_have_count(0)
    assert "in-error" not in page.get_attribute('.bp-node[data-id="runtime"]', "class")

    # a setting, and a node moved by dragging
    page.click('.bp-node[data-id="predictor"]')
    page.fill("#bp-set-top_k", "12")
    node = page.locator('.bp-node[data-id="exporter"]')
    box = node.bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 120, box["y"] + 100, steps=6)
    page.mouse.up()
    page.click("#bp-save")
    page.wait_for_selector(".toast-success:has-text('revision 2')")
    blueprint = Blueprint.objects.get(name="standard pipeline")
    assert blueprint.revision == 2
    nodes = {n["id"]: n for n in blueprint.graph["nodes"]}
    assert nodes["predictor"]["settings"]["top_k"] == 12
    assert nodes["exporter"]["position"]["x"] > 700
    assert {"from": "predictor", "to": "runtime"} not in blueprint.graph["edges"]

    page.click("#bp-apply")
    page.wait_for_selector(".toast-success:has-text('Applied revision 2')")
    assert WorkflowConfig.current_values()["top_k"] == 12
    session.shot("blueprint-saved")
    session.assert_clean()


# -- the Content-Security-Policy ---------------------------------------------------------------
ADMIN_PAGES = [
    "/admin/",
    "/admin/registry_app/modelversion/",
    "/admin/registry_app/trainingrun/",
    "/admin/workflow_app/mappingprofile/",
    "/admin/accounts_app/servicetoken/",
]


def test_admin_pages_and_the_api_docs_work_under_the_csp(browser, registry, waitress_server):
    """No page needs inline script or style: Chromium reports every CSP violation as a console
    error, which :meth:`Session.assert_clean` refuses."""
    from registry_app.models import ModelVersion
    from workflow_app.models import MappingProfile

    make_user("olga", "admin")
    tab = Session(browser, waitress_server, "olga")
    try:
        version = ModelVersion.objects.get(label=registry["label"])
        profile = MappingProfile.objects.filter(direction=MappingProfile.OUTPUT).first()
        pages = [*ADMIN_PAGES, f"/admin/registry_app/modelversion/{version.pk}/change/"]
        if profile is not None:
            pages.append(f"/admin/workflow_app/mappingprofile/{profile.pk}/preview/")
        for path in pages:
            response = tab.page.goto(tab.base + path)
            tab.page.wait_for_load_state("networkidle")
            assert response.status == 200, path
            assert "default-src 'self'" in response.headers["content-security-policy"], path
        response = tab.page.goto(tab.base + "/api/v1/docs/")
        tab.page.wait_for_selector(".swagger-ui .opblock-summary-path")
        assert "/api/v1/predict" in tab.page.inner_text(".swagger-ui")
        tab.shot("api-docs")
        tab.assert_clean()
    finally:
        tab.close()
