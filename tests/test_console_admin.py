"""The operations console: the home page, the version page that operates, the training runs
page, the lifecycle commands' operator, the favicon. Django's test client on real trained
versions (quick_training) and real rows."""

from __future__ import annotations

import getpass
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts_app.testing import make_user
from registry_app.models import AuditEntry, ModelVersion, TrainingRun

CHANGE = "/admin/registry_app/modelversion/{}/change/"


def failed_run(error: str) -> TrainingRun:
    run = TrainingRun.objects.create(trigger="cli", stage="extract")
    run.fail(error)
    return run


def test_the_operations_home_shows_what_needs_doing_with_links(admin_client, two_versions):
    first, second = two_versions
    make_user("newbie", role=None)
    run = failed_run(
        "SourceError: Cannot connect to plant. On Debian install odbc-mdbtools.\n\nTrace"
    )
    html = admin_client.get("/admin/").content.decode()
    assert 'id="operations-home"' in html
    assert f'href="{CHANGE.format(first.pk)}"><strong>{first.label}</strong>' in html  # active
    assert f'href="{CHANGE.format(second.pk)}"><strong>{second.label}</strong>' in html  # pending
    top1 = second.metrics["model"]["top1_exact"]
    assert f"<strong>{top1}</strong>" in html  # its figures beside the active one's
    assert f"/admin/registry_app/modelversion/{second.pk}/confirm/approve/" in html
    assert f"/admin/registry_app/trainingrun/{run.pk}/change/" in html
    assert "Cannot connect to plant. On Debian install odbc-mdbtools." in html
    assert "1 waiting: newbie" in html and "status__exact=pending" in html
    review = admin_client.get("/admin/accounts_app/account/?status__exact=pending")
    assert review.status_code == 200 and "newbie" in review.content.decode()
    assert 'id="app-list"' in html or "app-registry_app" in html  # the app list stays below


def test_the_operations_home_on_an_empty_registry_says_what_to_do(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "No active version: train one" in html and "No version awaits approval." in html
    assert "Nobody is waiting." in html


def test_the_version_page_is_read_only_with_tables_and_the_buttons_its_state_allows(
    admin_client, two_versions
):
    first, second = two_versions
    html = admin_client.get(CHANGE.format(second.pk)).content.decode()
    assert 'name="_save"' not in html and 'name="_continue"' not in html  # nothing to edit
    assert 'class="state state-pending" id="version-state"' in html
    assert 'id="do-approve"' in html and 'id="do-reject"' in html and 'id="do-activate"' not in html
    assert "Trained; awaiting approval." in html
    for attribute in second.parameters["attributes"]:
        assert f"<td>{attribute['name']}</td><td>{attribute['kind']}</td>" in html
    assert "hnsw ef_search" in html and "rows read" in html and "indexed items" in html
    for blob in ("&quot;hnsw&quot;", "&quot;attributes&quot;", "&quot;indexed_items&quot;"):
        assert blob not in html  # no raw JSON blobs
    assert "audit trail" in html.lower() and "trained" in html

    active = admin_client.get(CHANGE.format(first.pk)).content.decode()
    assert "Active since" in active and "awaiting approval" not in active
    assert 'id="do-approve"' not in active and 'id="do-rollback"' not in active  # nothing before


def test_approve_then_activate_from_the_version_page_lands_back_on_it(admin_client, two_versions):
    _, second = two_versions
    base = f"/admin/registry_app/modelversion/{second.pk}/confirm"
    page = admin_client.post(f"{base}/approve/", {"confirm": "yes", "comment": "ok"})
    assert page.status_code == 302 and page["Location"] == CHANGE.format(second.pk)
    html = admin_client.get(CHANGE.format(second.pk)).content.decode()
    assert (
        "Approved by boss" in html and 'id="do-activate"' in html and 'id="do-approve"' not in html
    )
    admin_client.post(f"{base}/activate/", {"confirm": "yes"})
    second.refresh_from_db()
    assert second.state == "active" and second.approved_by_name == "boss"


def test_admin_rollback_may_not_activate_another_version_than_the_one_confirmed(
    admin_client, quick_training
):
    """Issue 17 point 10: the confirmed label travels in the form; a stale one is refused."""
    first, second, third = quick_training(), quick_training(), quick_training()
    for version in (first, second):
        version.approve()
        version.activate()
    page = admin_client.get("/admin/registry_app/modelversion/rollback/").content.decode()
    assert f'name="target" value="{first.label}"' in page  # the admin confirms first
    third.approve()
    third.activate()  # meanwhile another admin activates third: the target is now second
    assert ModelVersion.rollback_target() == second
    refused = admin_client.post(
        "/admin/registry_app/modelversion/rollback/", {"confirm": "yes", "target": first.label}
    )
    assert refused.status_code == 409
    assert f"you confirmed {first.label}, but the rollback target is now {second.label}" in (
        refused.content.decode()
    )
    assert ModelVersion.objects.active() == third  # nothing changed
    assert not AuditEntry.objects.filter(action="rollback").exists()

    missing = admin_client.post("/admin/registry_app/modelversion/rollback/", {"confirm": "yes"})
    assert missing.status_code == 409 and ModelVersion.objects.active() == third

    done = admin_client.post(
        "/admin/registry_app/modelversion/rollback/", {"confirm": "yes", "target": second.label}
    )
    assert done.status_code == 302 and ModelVersion.objects.active() == second


def test_the_active_version_page_offers_rollback_to_the_previous_one(admin_client, two_versions):
    first, second = two_versions
    second.approve()
    second.activate()
    html = admin_client.get(CHANGE.format(second.pk)).content.decode()
    assert f"Roll back to {first.label}…" in html


def test_a_failed_run_shows_its_error_and_hint_before_its_log(admin_client, db):
    run = failed_run(
        "SourceError: Cannot connect to odbc:DSN=plant: no driver. On Debian/Ubuntu install "
        "the driver package.\n\nTraceback (most recent call last):\n  File x"
    )
    TrainingRun.objects.filter(pk=run.pk).update(log="10:00:00 [extract] reading items")
    html = admin_client.get(f"/admin/registry_app/trainingrun/{run.pk}/change/").content.decode()
    error = html.index("On Debian/Ubuntu install the driver package.")
    assert error < html.index("reading items") and error < html.index("Traceback (most recent")
    assert "run-error" in html and 'id="run-live"' not in html  # a finished run is not polled


def test_a_running_run_page_polls_the_api_without_a_cdn(admin_client, db):
    run = TrainingRun.objects.create(trigger="cli")
    run.start(pid=1)
    run.report("features", 0.4, "encoding")
    html = admin_client.get(f"/admin/registry_app/trainingrun/{run.pk}/change/").content.decode()
    assert f'id="run-live" data-run="{run.pk}"' in html and "js/admin-runs.js" in html
    assert 'value="40" data-run' in html
    assert "//cdn" not in html and "https://" not in html.split("<body")[1]
    api = admin_client.get(f"/api/v1/training-runs/{run.pk}")  # what the page polls
    assert api.status_code == 200 and api.json()["stage"] == "features"


def run_command(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_lifecycle_commands_record_the_operator(quick_training):
    version = quick_training()
    run_command("approve", version.label)
    version.refresh_from_db()
    me = f"cli:{getpass.getuser()}"
    assert version.approved_by_name == me and version.approved_by is None
    run_command("activate", version.label, "--by", "night-shift", "--comment", "go")
    rows = AuditEntry.objects.filter(version=version).order_by("at", "id")
    assert [(r.action, r.username) for r in rows][-2:] == [
        ("approve", me),
        ("activate", "night-shift"),
    ]
    assert all(r.username for r in rows)


def test_a_blank_operator_is_refused_and_nothing_changes(quick_training):
    version = quick_training()
    with pytest.raises(CommandError, match="--by needs a name"):
        run_command("approve", version.label, "--by", "  ")
    version.refresh_from_db()
    assert version.state == "pending" and not AuditEntry.objects.filter(action="approve").exists()


def test_an_operator_named_like_an_account_is_linked_to_it(quick_training):
    version = quick_training()
    boss = make_user("boss", "admin")
    run_command("approve", version.label, "--by", "boss")
    version.refresh_from_db()
    assert version.approved_by == boss and version.approved_by_name == "boss"


def test_the_favicon_is_served_for_the_console_and_the_admin(admin_client):
    answer = admin_client.get("/favicon.ico", follow=True)
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert "favicon.ico" in admin_client.get("/admin/").content.decode()
    assert "favicon.ico" in admin_client.get("/").content.decode()
