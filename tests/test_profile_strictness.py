"""Strict sources and profiles: one URL form per kind, unknown keys refused by name, and a
training that checks the whole profile against its source before it takes a version label."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from registry_app.models import ModelVersion
from registry_app.pipeline.sources import SourceError, parse_source
from routing_site.errors import BadInput
from tests.conftest import register_source
from workflow_app.profiles import load_default_profile, validate_profile


@pytest.mark.parametrize(
    ("text", "right"),
    [
        ("csv:////srv/export", ("csv", "/srv/export")),
        ("csv:///exports", ("csv", "exports")),
        ("csv:///C:/exports", ("csv", "C:/exports")),
        ("excel:////srv/plant.xlsx", ("excel", "/srv/plant.xlsx")),
        ("excel:///D:/erp/plant.xlsm", ("excel", "D:/erp/plant.xlsm")),
        ("sqlite:///C:/erp/plant.sqlite", ("sqlite", "C:/erp/plant.sqlite")),
    ],
)
def test_each_file_kind_has_one_form_for_relative_absolute_and_windows_paths(text, right):
    assert parse_source(text) == right


@pytest.mark.parametrize(
    ("text", "meant"),
    [
        ("csv://srv/export", "csv:////srv/export"),
        ("csv:/srv/export", "csv:////srv/export"),
        ("csv:C:/exports", "csv:///C:/exports"),
        ("csv://C:/exports", "csv:///C:/exports"),
        ("sqlite:/plant.sqlite", "sqlite:////plant.sqlite"),
        ("excel:plant.xlsx", "excel:///plant.xlsx"),
    ],
)
def test_a_wrong_form_is_refused_with_the_right_one(text, meant):
    with pytest.raises(SourceError) as caught:
        parse_source(text)
    detail = caught.value.detail
    assert f"write {meant}." in detail
    assert "(Linux: four slashes)" in detail and ":///C:/" in detail
    assert caught.value.fields == {"source": ["wrong form"]}


@pytest.mark.parametrize(
    ("change", "path", "allowed"),
    [
        ({"delimiter": ";"}, "delimiter", "allowed: name, description, source, tables"),
        ({"attributes": [{"name": "od", "column": "OD", "kind": "numeric", "unit": "mm"}]},
         "attributes.0.unit", "allowed: name, column, kind, weight"),
        ({"time_units": {"default": "min", "days": ["D"]}},
         "time_units.days", "allowed: default, minutes, hours, seconds"),
        ({"tables": {"items": "a", "operations": "b", "orders": "c"}},
         "tables.orders", "known: items, operations, work_results"),
        ({"number_locale": "german"}, "number_locale", "must be one of auto, point, comma"),
    ],
)  # fmt: skip
def test_unknown_keys_anywhere_in_a_profile_are_refused_by_name(change, path, allowed):
    profile = {**load_default_profile(), **change}
    with pytest.raises(BadInput) as caught:
        validate_profile(profile)
    assert allowed in caught.value.fields[path][0]


def test_the_api_answers_400_naming_the_unknown_key(db, engineer_api):
    spec = {**load_default_profile(), "delimiter": ";"}
    spec.pop("name")
    answer = engineer_api.post(
        "/api/v1/mapping-profiles", {"name": "semi", "spec": spec}, format="json"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert "delimiter" in str(body) and "allowed: name, description" in str(body)
    assert engineer_api.get("/api/v1/mapping-profiles/semi").status_code == 404


def test_training_reports_every_misfit_at_once_and_takes_no_version_label(
    db, plant_db, tmp_path, source_roots
):
    from registry_app.pipeline.training import execute_run, request_run
    from workflow_app.models import MappingProfile

    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    register_source("default", "sqlite", plant)
    spec = load_default_profile()
    spec["name"] = "misfit"
    spec["columns"]["items"]["item_code"] = "ArtikelNr"
    spec["columns"]["operations"]["seq"] = "Arbeitsgang"
    spec["tables"]["work_results"] = "Rueckmeldungen"
    spec["attributes"][0]["column"] = "Laenge"
    MappingProfile.objects.put(spec)
    run = request_run("misfit")
    with pytest.raises(SourceError) as caught:
        execute_run(run.pk)
    fields = caught.value.fields
    assert set(fields) == {
        "columns.items.item_code",
        "columns.operations.seq",
        "tables.work_results",
        f"attributes.{spec['attributes'][0]['name']}",
    }
    assert "4 problem(s)" in caught.value.detail
    assert "'ArtikelNr' is not in table" in caught.value.detail
    assert not ModelVersion.objects.exists()  # no label used up
    run.refresh_from_db()
    assert run.state == "failed" and "Arbeitsgang" in run.error


def test_add_source_takes_csv_options_and_refuses_a_bad_one(db, tmp_path, source_roots):
    from workflow_app.models import DataSource

    (tmp_path / "items.csv").write_text("A;B\n1;2\n")
    call_command(
        "add_source", "semi", "--kind", "csv", "--location", str(tmp_path),
        "--option", "delimiter=;", "--option", "decimal=,", "--option", r"quotechar='",
    )  # fmt: skip
    assert DataSource.objects.get(name="semi").options == {
        "delimiter": ";", "decimal": ",", "quotechar": "'",
    }  # fmt: skip
    with pytest.raises(CommandError, match="options.delimiter: must be one of"):
        call_command(
            "add_source", "semi2", "--kind", "csv", "--location", str(tmp_path),
            "--option", "delimiter=::",
        )  # fmt: skip
    with pytest.raises(CommandError, match="write KEY=VALUE"):
        call_command(
            "add_source", "semi3", "--kind", "csv", "--location", str(tmp_path),
            "--option", "delimiter",
        )  # fmt: skip
    assert list(
        DataSource.objects.filter(name__startswith="semi").values_list("name", flat=True)
    ) == ["semi"]


def test_a_server_drivers_database_is_a_name_not_a_file_to_confine():
    from registry_app.pipeline.confinement import odbc_files

    sql_server = "DRIVER={ODBC Driver 18 for SQL Server};SERVER=erp-sql01;DATABASE=ERP;UID=r;PWD=x"
    freetds = "DRIVER={FreeTDS};Data Source=erp-sql01;Database=ERP;DBQ=/srv/x.mdb"
    assert odbc_files(sql_server) == []
    assert odbc_files(freetds) == ["/srv/x.mdb"]  # DBQ is always a file
    assert odbc_files("DRIVER={SQLite3};Database=var/registry.sqlite3") == ["var/registry.sqlite3"]
