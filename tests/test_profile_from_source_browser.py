"""New profile from source in a real browser (Debian's Chromium through Playwright, a real
waitress server): an engineer proposes, breaks and mends the JSON, previews, saves. The page's
script and style are static files under the Content-Security-Policy: any violation would be a
console error, and nothing is loaded from another host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts_app.testing import PASSWORD, make_user
from tests.conftest import launched_chromium, register_source
from tests.test_suggest_profile import order_log

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.usefixtures("source_roots")]
SCREENS = Path("/tmp/screens")
PAGE = "/admin/workflow_app/mappingprofile/from-source/"
expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium(SCREENS)


def test_an_engineer_proposes_edits_previews_and_saves(browser, waitress_server, tmp_path):
    from workflow_app.models import MappingProfile

    register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))
    make_user("enzo", "engineer")
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(waitress_server + "/login/?next=" + PAGE)
        page.fill("#id_username", "enzo")
        page.fill("#id_password", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(waitress_server + PAGE)
        page.select_option("#id_pick", "shop")
        page.click("#pick-source button")
        expect(page.locator("#proposal-fields")).to_contain_text("RUN_TOTAL")
        expect(page.locator("#proposal-fields")).to_contain_text("read as the total for the order")
        page.screenshot(path=str(SCREENS / "profile-from-source-proposal.png"), full_page=True)
        status, save = page.locator("#json-status"), page.locator("#save-button")
        expect(status).to_have_text("The profile is valid JSON.")  # the static script ran
        editor = page.locator("textarea.json-editor")
        spec = json.loads(editor.input_value())
        editor.fill("{ broken")
        expect(status).to_contain_text("Not valid JSON")
        expect(save).to_be_disabled()
        spec["attributes"][0]["weight"] = 3.0
        editor.fill(json.dumps(spec, indent=2))
        expect(save).to_be_enabled()
        page.fill("#id_name", "shop-log")
        page.click("button[value=preview]")
        preview = page.locator("#preview")
        expect(preview).to_contain_text("orders.ORDER_QTY (joined on ORDER_NO = orders.ORDER_NO)")
        expect(preview.locator("table.preview-table").nth(1)).to_contain_text("RUN_TOTAL")
        assert not MappingProfile.objects.filter(name="shop-log").exists()  # preview saves nothing
        page.screenshot(path=str(SCREENS / "profile-from-source.png"), full_page=True)
        page.click("#save-button")
        expect(page.locator(".messagelist li.success")).to_contain_text(
            "Saved the new mapping profile"
        )
        row = MappingProfile.objects.get(name="shop-log")
        assert row.spec["attributes"][0]["weight"] == 3.0
        assert [u for u in requests if not u.startswith(waitress_server)] == []
        assert errors == []
    finally:
        context.close()
