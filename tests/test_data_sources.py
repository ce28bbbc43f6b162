"""Data sources: registered by admins, named by profiles, confined to ROUTING_SOURCE_ROOTS."""

from __future__ import annotations

import json
import os
import sqlite3
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from accounts_app.testing import HttpClient, make_user
from registry_app.pipeline import confinement
from registry_app.pipeline.confinement import REFUSED
from registry_app.pipeline.sources import SourceError, open_source
from routing_site.errors import BadInput
from tests.conftest import Api, issue_token, register_source
from workflow_app.models import DataSource, DataSourceChange, MappingProfile, WorkflowConfig


def write_plant(path: Path, extra_tables: dict | None = None) -> Path:
    """A tiny plant: PARTS and ROUTE_STEPS (and any ``extra_tables`` name -> rows of (a,))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE PARTS (PART_NO TEXT, CATEGORY TEXT)")
        conn.execute(
            "CREATE TABLE ROUTE_STEPS (PART_NO TEXT, STEP INTEGER, OPERATION TEXT, STATION TEXT)"
        )
        conn.executemany("INSERT INTO PARTS VALUES (?, ?)", [("P-1", "ring"), ("P-2", "sleeve")])
        conn.execute("INSERT INTO ROUTE_STEPS VALUES ('P-1', 10, 'CUT', 'SAW')")
        for name, rows in (extra_tables or {}).items():
            quoted = '"' + name.replace('"', '""') + '"'
            conn.execute(f"CREATE TABLE {quoted} (a TEXT)")
            conn.executemany(f"INSERT INTO {quoted} VALUES (?)", rows)
    return path


def profile(name: str, source: str, items: str = "PARTS", operations: str = "ROUTE_STEPS"):
    return {
        "name": name,
        "source": source,
        "tables": {"items": items, "operations": operations, "work_results": None},
        "columns": {
            "items": {"item_code": "PART_NO"},
            "operations": {
                "item_code": "PART_NO",
                "seq": "STEP",
                "op_code": "OPERATION",
                "work_center": "STATION",
            },
        },  # fmt: skip
        "attributes": [{"name": "category", "column": "CATEGORY", "kind": "categorical"}],
    }


@pytest.fixture
def plant(tmp_path, source_roots) -> Path:
    return write_plant(tmp_path / "plant" / "plant.sqlite")


def refused(text: str) -> str:
    with pytest.raises(SourceError) as err:
        open_source(text)
    return err.value.detail


def registry_path() -> Path:
    return Path(connection.settings_dict["NAME"])


# --- the registry: admins register, profiles name ----------------------------------------------


def test_an_admin_registers_changes_and_deletes_a_source_over_http(
    waitress_server, plant, tmp_path
):
    make_user("boss", "admin")
    admin = HttpClient(waitress_server)
    admin.login("boss")
    body = {"name": "shop", "kind": "sqlite", "location": str(plant), "description": "ERP copy"}
    status, created, _ = admin.post("/api/v1/sources", body)
    assert status == 201, created
    assert created["created_by"] == "boss" and created["location"] == str(plant)
    status, listing, _ = admin.get("/api/v1/sources")
    assert status == 200 and {"default", "shop"} <= {s["name"] for s in listing["sources"]}

    status, again, _ = admin.post("/api/v1/sources", body)
    assert status == 409 and again["error"] == "duplicate"
    status, bad, _ = admin.post("/api/v1/sources", {**body, "name": "x", "options": {"sep": ";"}})
    assert status == 400 and "allowed: none" in bad["fields"]["options"][0]
    status, bad, _ = admin.post("/api/v1/sources", {"name": "y", "kind": "mysql", "location": "x"})
    assert status == 400 and "kind" in bad["fields"]
    status, bad, _ = admin.post("/api/v1/sources", {"name": "z", "kind": "sqlite"})
    assert status == 400 and bad["fields"] == {"location": ["required"]}
    assert set(DataSource.objects.names()) == {"default", "shop"}

    outside = write_plant(tmp_path.parent / f"{tmp_path.name}-outside" / "plant.sqlite")
    status, bad, _ = admin.request("PATCH", "/api/v1/sources/shop", {"location": str(outside)})
    assert status == 400 and bad["fields"]["location"] == [REFUSED]
    status, changed, _ = admin.request("PATCH", "/api/v1/sources/shop", {"description": "v2"})
    assert status == 200 and changed["description"] == "v2" and changed["updated_by"] == "boss"
    assert DataSource.objects.get(name="shop").location == str(plant)  # the refusal changed none

    MappingProfile.objects.put(profile("shop-profile", "shop"))
    status, busy, _ = admin.request("DELETE", "/api/v1/sources/shop")
    assert status == 409 and "shop-profile" in busy["detail"]
    MappingProfile.objects.filter(name="shop-profile").delete()
    assert admin.request("DELETE", "/api/v1/sources/shop")[0] == 204
    assert admin.get("/api/v1/sources/shop")[0] == 404
    trail = DataSourceChange.objects.filter(source_name="shop").order_by("id")
    assert [(c.action, c.by.username) for c in trail] == [
        ("created", "boss"), ("changed", "boss"), ("deleted", "boss"),
    ]  # fmt: skip
    assert trail[1].before["description"] == "ERP copy" and trail[1].after["description"] == "v2"
    assert trail[2].before["location"] == str(plant) and trail[2].after == {}


def test_only_admins_write_sources_and_only_people_with_the_engineer_role_read_them(
    waitress_server, plant
):
    register_source("shop", "sqlite", plant)
    make_user("eng", "engineer")
    make_user("viv", "viewer")
    engineer, viewer = HttpClient(waitress_server), HttpClient(waitress_server)
    engineer.login("eng")
    viewer.login("viv")
    body = {"name": "mine", "kind": "sqlite", "location": str(plant)}
    assert engineer.post("/api/v1/sources", body)[0] == 403
    assert engineer.request("PATCH", "/api/v1/sources/shop", {"location": "/etc"})[0] == 403
    assert engineer.request("DELETE", "/api/v1/sources/shop")[0] == 403
    assert engineer.get("/api/v1/sources")[0] == 200
    assert viewer.get("/api/v1/sources")[0] == 403
    assert Api(waitress_server, issue_token("erp", "engineer")).get("/api/v1/sources")[0] == 403
    assert Api(waitress_server).get("/api/v1/sources")[0] == 401
    assert DataSource.objects.get(name="shop").location == str(plant)
    assert not DataSource.objects.filter(name="mine").exists()


@pytest.mark.django_db
def test_add_source_registers_a_source_and_refuses_bad_input(plant, tmp_path):
    out = StringIO()
    call_command("add_source", "erp", "--kind", "sqlite", "--location", str(plant), stdout=out)
    assert out.getvalue().strip() == f"Registered sqlite data source 'erp': {plant}."
    with pytest.raises(CommandError, match="named 'erp' exists already"):
        call_command("add_source", "erp", "--kind", "sqlite", "--location", str(plant))
    with pytest.raises(CommandError, match="not one a data source may read"):
        call_command("add_source", "etc", "--kind", "csv", "--location", "/etc")
    with pytest.raises(CommandError, match="name: required: letters"):
        call_command("add_source", "a b", "--kind", "sqlite", "--location", str(plant))
    with pytest.raises(CommandError):
        call_command("add_source", "x", "--kind", "mysql", "--location", str(plant))
    assert DataSource.objects.names() == ["default", "erp"]


@pytest.mark.django_db
def test_the_admin_form_registers_a_source_and_shows_a_refusal(admin_client, plant):
    form = {"name": "shop", "kind": "sqlite", "location": "/etc/passwd", "options": "{}"}
    page = admin_client.post("/admin/workflow_app/datasource/add/", {**form, "description": ""})
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["location"] == [REFUSED]
    assert not DataSource.objects.filter(name="shop").exists()
    form["location"] = str(plant)
    saved = admin_client.post("/admin/workflow_app/datasource/add/", {**form, "description": ""})
    assert saved.status_code == 302
    row = DataSource.objects.get(name="shop")
    assert row.created_by.username == "boss" and row.location == str(plant)


@pytest.mark.django_db
def test_routing_source_seeds_the_default_source_once(settings, tmp_path):
    from workflow_app.apps import seed_shipped

    DataSource.objects.filter(name="default").delete()
    settings.ROUTING_SOURCE = f"csv:///{tmp_path / 'export'}"
    seed_shipped(sender=None)
    row = DataSource.objects.get(name="default")
    assert (row.kind, row.location) == ("csv", str(tmp_path / "export"))
    settings.ROUTING_SOURCE = "sqlite:///elsewhere.sqlite"
    seed_shipped(sender=None)
    assert DataSource.objects.get(name="default").location == str(tmp_path / "export")


@pytest.mark.django_db
def test_a_routing_source_the_registry_ignores_is_named_by_train_and_evaluate(
    monkeypatch, plant, tmp_path
):
    from workflow_app.sources import ignored_environment_source

    register_source("default", "sqlite", plant)
    monkeypatch.delenv("ROUTING_SOURCE", raising=False)
    assert ignored_environment_source() is None
    monkeypatch.setenv("ROUTING_SOURCE", f"sqlite:///{plant}")
    assert ignored_environment_source() is None  # the same file: nothing to say
    other = tmp_path / "other plant.sqlite"
    monkeypatch.setenv("ROUTING_SOURCE", f"sqlite:///{other}")
    warning = ignored_environment_source()
    assert str(plant) in warning and str(other) in warning
    assert "PATCH /api/v1/sources/default" in warning
    for command in (
        ["train", "--profile", "no-such-profile"],
        ["evaluate", "--profile", "no-such-profile"],
    ):
        err = StringIO()
        with pytest.raises(CommandError):  # the command's own refusal comes after the warning
            call_command(*command, stderr=err)
        assert err.getvalue().startswith("Warning: ROUTING_SOURCE is ")


@pytest.mark.django_db
def test_profiles_name_a_registered_source_never_a_location(engineer_api, plant, tmp_path):
    register_source("shop", "sqlite", plant)
    for source, message in (
        (f"sqlite:///{registry_path()}", "not a location"),
        ("odbc:DRIVER={SQLite3};Database=/etc/passwd", "not a location"),
        ("csv:///../../..", "not a location"),
        ("nope", "no data source 'nope' is registered; registered: default, shop"),
    ):
        body = {"name": "shop", "spec": profile("shop", source)}
        answer = engineer_api.post("/api/v1/mapping-profiles", body, format="json")
        assert answer.status_code == 400 and message in answer.json()["fields"]["source"][0]
    assert not MappingProfile.objects.filter(name="shop").exists()

    body = {"name": "shop", "spec": profile("shop", "shop")}
    assert engineer_api.post("/api/v1/mapping-profiles", body, format="json").status_code == 201
    moved = engineer_api.patch(
        "/api/v1/mapping-profiles/shop", {"spec": {"source": f"sqlite:///{plant}"}}, format="json"
    )
    assert moved.status_code == 400
    assert MappingProfile.objects.get(name="shop").spec["source"] == "shop"

    out = StringIO()
    call_command("dump_profile", "shop", stdout=out)
    document = json.loads(out.getvalue())
    assert document["source"] == "shop"
    document["source"] = f"sqlite:///{plant}"
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="source: must name a registered data source"):
        call_command("load_profile", str(path))


# --- confinement --------------------------------------------------------------------------------


def test_outside_the_roots_is_refused_alike_whether_or_not_the_file_exists(plant, tmp_path):
    outside = write_plant(tmp_path.parent / f"{tmp_path.name}-out" / "plant.sqlite")
    missing = outside.parent / "missing.sqlite"
    assert refused(f"sqlite:///{outside}") == refused(f"sqlite:///{missing}") == REFUSED
    assert refused(f"csv:///{outside.parent}") == refused(f"csv:///{missing}") == REFUSED
    with open_source(f"sqlite:///{plant}") as src:  # inside the root: read
        assert src.tables() == ["PARTS", "ROUTE_STEPS"]
    detail = refused(f"sqlite:///{plant.parent / 'missing.sqlite'}")
    assert "does not exist" in detail  # inside a root the usual help is given


def test_symlinks_are_followed_before_the_check(plant, tmp_path):
    secret = tmp_path.parent / f"{tmp_path.name}-out" / "secret.csv"
    secret.parent.mkdir()
    secret.write_text("user,hash\nroot,x\n")
    link = tmp_path / "plant" / "link.sqlite"
    link.symlink_to(write_plant(secret.parent / "other.sqlite"))
    assert refused(f"sqlite:///{link}") == REFUSED
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "parts.csv").write_text("PART_NO\nP-1\n")
    (folder / "users.csv").symlink_to(secret)
    with open_source(f"csv:///{folder}") as src:
        assert src.tables() == ["parts"]
        with pytest.raises(SourceError, match="Table 'users' is not in"):
            src.read_table("users")


def test_the_registry_database_is_refused_even_inside_a_root(settings, tmp_path):
    registry = registry_path()
    settings.BASE_DIR = tmp_path / "project"  # only the registry rule can refuse it now
    # whichever SQLite backend the settings name (Django's or the project's wrapper)
    assert registry.resolve() in confinement.registry_files()
    settings.ROUTING_SOURCE_ROOTS = str(registry.parent)
    for name in (registry, f"{registry}-wal", f"{registry}-shm"):
        assert refused(f"sqlite:///{name}") == REFUSED
    assert refused(f"csv:///{registry.parent}/../{registry.parent.name}/{registry.name}") == REFUSED
    for conn in (
        f"odbc:DRIVER={{SQLite3}};Database={registry}",
        f"odbc:Driver={{SQLite3}}; database = {{{registry}}} ;",
        f"odbc:DRIVER={{MDBTools}};DBQ={registry}",
        f"odbc:DRIVER={{SQLite3}};Database=/tmp/x.sqlite;Database={registry}",
    ):
        assert refused(conn) == REFUSED


def test_secrets_models_logs_and_the_project_are_refused_inside_a_root(settings, tmp_path):
    project = tmp_path / "project"
    settings.BASE_DIR, settings.VAR_DIR = project, project / "var"
    settings.MODELS_DIR, settings.LOG_DIR = tmp_path / "models", tmp_path / "logs"
    settings.ROUTING_SOURCE = f"sqlite:///{project / 'var' / 'plant.sqlite'}"
    settings.ROUTING_SOURCE_ROOTS = str(tmp_path)
    for secret in ("secret_key", "jwt_signing_key"):
        (project / "var").mkdir(parents=True, exist_ok=True)
        (project / "var" / secret).write_text("s3cret")
        assert refused(f"sqlite:///{project / 'var' / secret}") == REFUSED
    for path in (
        tmp_path / "models" / "v0001" / "index.sqlite",
        tmp_path / "logs" / "routing.sqlite",
        project / "var" / "cache" / "x.sqlite",
        project / "routing_site" / "plant.sqlite",
    ):
        write_plant(path)
        assert refused(f"sqlite:///{path}") == REFUSED
    assert refused(f"csv:///{project}") == REFUSED
    for allowed in (project / "var" / "imports" / "plant.sqlite", project / "var" / "plant.sqlite"):
        write_plant(allowed)
        with open_source(f"sqlite:///{allowed}") as src:  # var/imports and the default's folder
            assert "PARTS" in src.tables()


@pytest.mark.django_db
def test_without_roots_the_default_sources_folder_and_var_imports_are_readable(settings, tmp_path):
    settings.ROUTING_SOURCE_ROOTS = ""
    default = write_plant(tmp_path / "erp" / "plant.sqlite")
    register_source("default", "sqlite", default)
    beside = register_source("beside", "sqlite", write_plant(tmp_path / "erp" / "copy.sqlite"))
    imported = write_plant(Path(settings.VAR_DIR) / "imports" / "plant.sqlite")
    assert register_source("imported", "sqlite", imported).open().tables() == [
        "PARTS",
        "ROUTE_STEPS",
    ]
    assert beside.open().tables() == ["PARTS", "ROUTE_STEPS"]
    with pytest.raises(BadInput, match="not one a data source may read"):
        register_source("away", "sqlite", write_plant(tmp_path / "away" / "plant.sqlite"))
    assert [str(r) for r in confinement.policy(DataSource.objects.default_url()).roots] == [
        os.path.realpath(Path(settings.VAR_DIR) / "imports"),
        os.path.realpath(tmp_path / "erp"),
    ]


@pytest.mark.django_db
def test_a_source_row_planted_past_validation_is_refused_when_opened(settings, tmp_path):
    settings.ROUTING_SOURCE_ROOTS = str(tmp_path)
    row = DataSource.objects.create(name="planted", kind="csv", location="/etc")
    with pytest.raises(SourceError) as err:
        row.open()
    assert err.value.detail == REFUSED


# --- table names --------------------------------------------------------------------------------

HOSTILE = 'PARTS" ; DROP TABLE PARTS; --'
ODD = 'od]d"x'


@pytest.mark.django_db
def test_table_names_come_only_from_the_listing_and_are_quoted(
    engineer_api, tmp_path, source_roots
):
    path = write_plant(tmp_path / "plant.sqlite", {ODD: [("odd",)]})
    register_source("shop", "sqlite", path)
    MappingProfile.objects.put(profile("hostile", "shop", items=HOSTILE, operations=ODD))
    body = engineer_api.get("/api/v1/mapping-profiles/hostile/preview").json()
    assert [(p["table"], p["code"]) for p in body["problems"]][0] == ("items", "missing_table")
    assert f"Table {HOSTILE!r} is not in" in body["problems"][0]["message"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM PARTS").fetchone() == (2,)
    with DataSource.objects.get(name="shop").open() as src:
        assert src.read_table(ODD)["a"].tolist() == ["odd"]


@pytest.mark.odbc
@pytest.mark.django_db
def test_odbc_table_names_come_only_from_the_listing_and_are_quoted(tmp_path, source_roots):
    path = write_plant(tmp_path / "plant.sqlite", {ODD: [("odd",)]})
    register_source("shop", "odbc", f"DRIVER={{SQLite3}};Database={path}")
    with DataSource.objects.get(name="shop").open() as src:
        assert src.read_table(ODD)["a"].tolist() == ["odd"]
        for hostile in (HOSTILE, "PARTS]; DROP TABLE PARTS; --", "sqlite_master"):
            with pytest.raises(SourceError, match="is not in"):
                src.read_table(hostile)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM PARTS").fetchone() == (2,)


# --- who may read: preview needs the engineer role, in person -------------------------------


def test_preview_answers_engineers_and_admins_not_viewers_or_service_tokens(waitress_server, plant):
    register_source("shop", "sqlite", plant)
    MappingProfile.objects.put(profile("shop", "shop"))
    url = "/api/v1/mapping-profiles/shop/preview"
    for name, role in (("eng", "engineer"), ("boss", "admin"), ("viv", "viewer")):
        make_user(name, role)
        client = HttpClient(waitress_server)
        client.login(name)
        status, body, _ = client.get(url)
        assert status == (403 if role == "viewer" else 200), body
    for role in ("viewer", "engineer", "admin"):
        status, body, _ = Api(waitress_server, issue_token(f"svc-{role}", role)).get(url)
        assert status == 403 and body["error"] == "permission_denied"
        assert "PART_NO" not in json.dumps(body)


def test_the_attack_on_the_registry_database_returns_nothing(waitress_server, settings):
    """The reported attack: a profile aimed at the registry database's auth tables."""
    make_user("eng", "engineer")
    make_user("boss", "admin")
    engineer = HttpClient(waitress_server)
    engineer.login("eng")
    registry = registry_path()
    settings.ROUTING_SOURCE_ROOTS = str(registry.parent)
    spec = profile(
        "steal", f"sqlite:///{registry}", "auth_user", "token_blacklist_outstandingtoken"
    )
    status, body, _ = engineer.post("/api/v1/mapping-profiles", {"name": "steal", "spec": spec})
    assert status == 400 and "not a location" in body["fields"]["source"][0]

    admin = HttpClient(waitress_server)
    admin.login("boss")
    for kind, location in (
        ("sqlite", str(registry)),
        ("odbc", f"DRIVER={{SQLite3}};DBQ={registry}"),
    ):
        status, body, _ = admin.post(
            "/api/v1/sources", {"name": "registry", "kind": kind, "location": location}
        )
        assert status == 400 and body["fields"]["location"] == [REFUSED]
    assert not DataSource.objects.filter(name="registry").exists()

    # even a row that bypassed validation (or a root that grew) is refused when read
    DataSource.objects.create(name="registry", kind="sqlite", location=str(registry))
    MappingProfile.objects.put(profile("steal", "registry", "auth_user", "django_session"))
    status, body, _ = engineer.get("/api/v1/mapping-profiles/steal/preview?rows=100")
    assert status == 400 and body["detail"] == REFUSED
    for leaked in ("md5$", "pbkdf2", "boss", "password"):
        assert leaked not in json.dumps(body)


# --- profiles in use, and racing creates --------------------------------------------------------


@pytest.mark.django_db
def test_the_training_and_export_profiles_cannot_be_deleted(engineer_api, plant):
    register_source("shop", "sqlite", plant)
    MappingProfile.objects.put(profile("shop", "shop"))
    config = WorkflowConfig.apply({}, training_profile="shop")
    answer = engineer_api.delete("/api/v1/mapping-profiles/shop")
    assert answer.status_code == 409 and answer.json()["error"] == "in_use"
    assert f"training profile of workflow config revision #{config.pk}" in answer.json()["detail"]
    answer = engineer_api.delete("/api/v1/mapping-profiles/erp-routing")
    assert answer.status_code == 409 and "export profile" in answer.json()["detail"]
    assert MappingProfile.objects.filter(name__in=["shop", "erp-routing"]).count() == 2
    WorkflowConfig.apply({}, training_profile="plant-default")
    assert engineer_api.delete("/api/v1/mapping-profiles/shop").status_code == 204


@pytest.mark.django_db
def test_the_admin_does_not_offer_to_delete_the_training_profile(admin_client):
    row = MappingProfile.objects.get(name="plant-default")
    page = admin_client.post(
        f"/admin/workflow_app/mappingprofile/{row.pk}/delete/", {"post": "yes"}
    )
    assert page.status_code == 403
    assert MappingProfile.objects.filter(name="plant-default").exists()


@pytest.mark.django_db
def test_the_migration_names_the_sources_of_profiles_stored_with_locations():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("workflow_app.migrations.0003_data_sources")
    for name, source in (("empty", ""), ("erp", "odbc:DSN=PLANT"), ("file", "sqlite:///p.db")):
        MappingProfile.objects.create(name=name, direction="input", spec={"source": source})
    migration.sources_by_name(apps, None)
    sources = {r.name: r.spec["source"] for r in MappingProfile.objects.filter(direction="input")}
    assert sources["empty"] == "default" and sources["plant-default"] == "default"
    assert (sources["erp"], sources["file"]) == ("erp-source", "file-source")
    assert DataSource.objects.get(name="erp-source").location == "DSN=PLANT"
    assert DataSource.objects.get(name="file-source").kind == "sqlite"
    assert DataSource.objects.get(name="file-source").location == "p.db"


@pytest.mark.django_db
def test_passwords_in_connection_strings_are_masked_when_sources_are_listed(engineer_api):
    register_source("erp", "odbc", "DSN=PLANT;UID=erp;PWD=s3cret")
    listed = engineer_api.get("/api/v1/sources").json()["sources"]
    assert {s["name"]: s["location"] for s in listed}["erp"] == "DSN=PLANT;UID=erp;PWD=***"
    assert "s3cret" not in json.dumps(engineer_api.get("/api/v1/sources/erp").json())
    assert DataSource.objects.get(name="erp").location.endswith("PWD=s3cret")
    assert DataSourceChange.objects.get(source_name="erp").after["location"].endswith("PWD=***")
