"""In a real browser: propose, take candidate 2, edit one operation, save; the dashboard's
acceptance panel shows the decision. The model, the browser and the logged-in tab are the
console tests' own fixtures (tests/test_pages_browser.py)."""

from __future__ import annotations

import pytest

from inference_app.models import RoutingDecision
from tests.test_pages_browser import (  # noqa: F401 - fixtures used by name
    FORM_ATTRIBUTES,
    browser,
    op_codes,
    registry,
    session,
    trained,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def propose(page, item: dict) -> None:
    page.fill("#item-code", item["ITEM_CD"])
    for name in FORM_ATTRIBUTES:
        if item[name] not in (None, "", 0, 0.0):
            page.fill(f"#attr-{name}", str(item[name]))
    page.click("#predict-btn")
    page.wait_for_selector(".candidate-tab")


def test_a_decision_from_the_editor_reaches_the_acceptance_panel(session, registry):  # noqa: F811
    page, item = session.page, registry["item"]
    session.open("/editor/")
    propose(page, item)
    assert page.locator(".candidate-tab").count() >= 2, "the held-out item has two candidates"
    page.click("#cand-tab-1")
    page.click("#use-candidate")
    page.locator("#ops-body tr[data-index]").first.wait_for()
    taken = op_codes(page)
    other = next(code for code in taken if code != taken[0])
    code = page.locator("#ops-body tr[data-index='0'] [data-field=op_code]")
    code.fill(other)  # the engineer changes one operation
    code.press("Tab")
    assert page.inner_text("#routing-status") == "valid"
    page.click("#save-btn")
    page.wait_for_selector("#saved:not([hidden])")

    decision = RoutingDecision.objects.get()
    n = len(taken)
    assert decision.has_proposal and decision.chosen_rank == 2
    assert decision.model_version == registry["label"]
    assert decision.chosen_ops == taken and decision.final_ops == [other, *taken[1:]]
    assert decision.edit_similarity == round(1 - 1 / n, 4) and decision.unchanged is False
    assert decision.attributes["PART_TYPE"] == item["PART_TYPE"]

    session.open("/")
    page.wait_for_function("document.getElementById('acc-decisions').textContent === '1'")
    assert page.inner_text("#acc-version") == f"({registry['label']})"
    assert page.inner_text("#acc-rate") == "0.0 %"
    assert page.inner_text("#acc-similarity") == f"{1 - 1 / n:.3f}"
    assert page.inner_text("#acc-latency").endswith(" ms")
    row = page.locator("#online-table tbody tr").first
    assert row.locator("td").first.inner_text() == registry["label"]
    assert page.locator("#chart-online canvas").count() == 1
    assert page.is_hidden("#dash-drift")
    session.shot("dashboard-acceptance")
    session.assert_clean()
