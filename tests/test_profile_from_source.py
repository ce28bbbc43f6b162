"""Admin › Mapping profiles › New profile from source: propose, edit, preview, save as new
(engineers and admins; nothing is saved before the save button)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import register_source
from tests.test_suggest_profile import order_log
from workflow_app.models import MappingProfile

pytestmark = pytest.mark.usefixtures("source_roots")
URL = "/admin/workflow_app/mappingprofile/from-source/"


@pytest.fixture
def engineer_client(db, client):
    from accounts_app.testing import make_user

    client.force_login(make_user("eve", "engineer"))
    return client


@pytest.fixture
def shop(db, tmp_path):
    return register_source("shop", "sqlite", order_log(tmp_path / "shop.sqlite"))


def proposed_spec(page) -> dict:
    return page.context["form"].initial["spec"]


def test_propose_edit_preview_save(engineer_client, shop):
    before = MappingProfile.objects.count()
    picker = engineer_client.get(URL)
    assert picker.status_code == 200 and b'<option value="shop"' in picker.content
    page = engineer_client.get(URL, {"source": "shop"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "RUN_TOTAL is read as the total for the order" in html  # a reason
    assert "orders.ORDER_QTY (joined on ORDER_NO = orders.ORDER_NO)" in html  # a join
    assert "all 50 rows" in html  # what was read
    spec = proposed_spec(page)
    assert spec["tables"]["items"] == "orders"
    spec["attributes"][0]["weight"] = 2.5  # the engineer's edit
    form = {"source": "shop", "name": "shop-log", "description": "", "spec": json.dumps(spec)}
    preview = engineer_client.post(URL, {**form, "action": "preview"})
    assert preview.status_code == 200
    rows = preview.context["preview"]["tables"]["operations"]["rows"]
    assert [r["run_qty"] for r in rows[:3]] == [5.0, 5.0, 6.0]  # the header's quantity
    assert "orders.ORDER_QTY" in preview.content.decode()
    assert MappingProfile.objects.count() == before  # proposing and previewing save nothing
    saved = engineer_client.post(URL, {**form, "action": "save"})
    assert saved.status_code == 302 and saved["Location"].endswith("?saved=shop-log")
    row = MappingProfile.objects.get(name="shop-log")
    assert row.spec["attributes"][0]["weight"] == 2.5 and row.updated_by.username == "eve"
    assert row.spec["columns"]["operations"]["run_qty"]["table"] == "orders"
    again = engineer_client.post(URL, {**form, "action": "save"})  # never overwrites
    assert again.status_code == 200 and "already" in str(again.context["form"].errors["name"])
    assert MappingProfile.objects.count() == before + 1


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ("{not json", "spec", "Enter a valid JSON"),
        ('["a list"]', "spec", "must be a JSON object"),
        ('{"tables": {}, "delimiter": ";"}', "spec", "unknown key 'delimiter'"),
    ],
)
def test_a_bad_edit_is_refused_and_nothing_saved(engineer_client, shop, spec, field, says):
    before = MappingProfile.objects.count()
    form = {"source": "shop", "name": "shop-log", "spec": spec, "action": "save"}
    answer = engineer_client.post(URL, form)
    assert answer.status_code == 200
    assert says in " ".join(answer.context["form"].errors[field])
    assert MappingProfile.objects.count() == before


def test_a_source_that_cannot_be_read_is_a_clear_error(engineer_client, tmp_path):
    broken = tmp_path / "broken.sqlite"
    broken.write_text("this is not a database")
    register_source("broken", "sqlite", broken)
    before = MappingProfile.objects.count()
    answer = engineer_client.get(URL, {"source": "broken"})
    assert answer.status_code == 400
    assert "The source cannot be read: " in answer.content.decode()
    assert "not a database" in answer.context["error"].detail and answer.context["form"] is None
    unknown = engineer_client.get(URL, {"source": "nope"})
    assert (
        unknown.status_code == 400 and "No data source &#x27;nope&#x27;" in unknown.content.decode()
    )
    assert MappingProfile.objects.count() == before


def test_viewers_get_403_and_strangers_the_login(client, db, shop):
    from accounts_app.testing import make_user

    assert client.get(URL)["Location"].startswith("/login/?next=")
    client.force_login(make_user("viv", "viewer"))
    assert client.get(URL, {"source": "shop"}).status_code == 403
    posted = client.post(URL, {"source": "shop", "name": "x", "spec": "{}", "action": "save"})
    assert posted.status_code == 403 and not MappingProfile.objects.filter(name="x").exists()


def test_admins_reach_it_from_the_profile_list(admin_client, shop):
    listing = admin_client.get("/admin/workflow_app/mappingprofile/")
    assert f'href="{URL}"' in listing.content.decode()
    assert admin_client.get(URL, {"source": "shop"}).status_code == 200


@pytest.mark.parametrize(
    ("role", "shown"), [("engineer", True), ("admin", True), ("viewer", False)]
)
def test_console_menu_links_the_page_for_engineers(db, client, role, shown):
    from accounts_app.testing import make_user

    client.force_login(make_user(f"nav-{role}", role))
    page = client.get("/editor/")
    assert page.status_code == 200
    assert (f'href="{URL}"' in page.content.decode()) is shown
