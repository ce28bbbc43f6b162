"""A server database over ODBC: the sample plant loaded into PostgreSQL and read through Debian's
odbc-postgresql driver, the generic path a SQL Server (Microsoft's driver, FreeTDS) takes too.

The local PostgreSQL cluster is started here when it is not running (and stopped again after),
as scripts/test-postgres.sh starts it; the database is made and dropped by the tests."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from registry_app.pipeline.extract import extract
from registry_app.pipeline.sources import SourceError, open_source
from workflow_app.profiles import load_default_profile

DATABASE = "routing_plant_odbc"
USER, PASSWORD = "routing_plant", "plant-reader"
DRIVER = "PostgreSQL Unicode"


def _psql(sql: str, database: str = "postgres", stdin: str | None = None) -> str:
    done = subprocess.run(
        ["su", "postgres", "-c", f"psql -v ON_ERROR_STOP=1 -qAt -d {database}"],
        input=sql if stdin is None else sql + "\n" + stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _cluster() -> str:
    return sorted(
        Path("/etc/postgresql").iterdir(), key=lambda p: [int(x) for x in p.name.split(".")]
    )[-1].name


@pytest.fixture(scope="module")
def postgres_plant(plant_db):
    """The generated plant's three tables in a fresh PostgreSQL database; its ODBC string."""
    version = _cluster()
    ready = subprocess.run(["su", "postgres", "-c", "pg_isready -q"]).returncode == 0
    if not ready:
        subprocess.run(["pg_ctlcluster", version, "main", "start"], check=True)
        subprocess.run(["su", "postgres", "-c", "pg_isready -q -t 30"], check=True)
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}; DROP ROLE IF EXISTS {USER};")
    _psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'; CREATE DATABASE {DATABASE};")
    with sqlite3.connect(plant_db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        frames = {t: pd.read_sql(f'SELECT * FROM "{t}"', conn) for t in tables}
    for name, frame in frames.items():
        types = {c: "double precision" if frame[c].dtype.kind == "f" else "text" for c in frame}
        types.update({c: "bigint" for c in frame if frame[c].dtype.kind == "i"})
        columns = ", ".join(f'"{c}" {types[c]}' for c in frame.columns)
        _psql(f'CREATE TABLE "{name}" ({columns}); GRANT SELECT ON "{name}" TO {USER};', DATABASE)
        _psql(
            f'\\copy "{name}" FROM STDIN WITH (FORMAT csv, HEADER true)',
            DATABASE,
            stdin=frame.to_csv(index=False) + "\\.\n",
        )
    yield (
        f"DRIVER={{{DRIVER}}};Server=127.0.0.1;Port=5432;Database={DATABASE};"
        f"Uid={USER};Pwd={PASSWORD}"
    )
    _psql(f"DROP DATABASE IF EXISTS {DATABASE}; DROP ROLE IF EXISTS {USER};")
    if not ready:
        subprocess.run(["pg_ctlcluster", version, "main", "stop"], check=True)


def test_the_plant_read_from_postgresql_over_odbc_equals_the_sqlite_original(
    db, plant_db, postgres_plant, tmp_path, source_roots
):
    from tests.conftest import register_source

    plant = Path(shutil.copy(plant_db, tmp_path / "plant.sqlite"))
    profile = load_default_profile()
    original = extract(profile, f"sqlite:///{plant}")
    register_source("erp-server", "odbc", postgres_plant)
    served = extract({**profile, "source": "erp-server"})
    # a server keeps no row order without ORDER BY: items compare by code; operations and work
    # results come sorted by extraction
    by_code = [f.items.sort_values("item_code", ignore_index=True) for f in (original, served)]
    pd.testing.assert_frame_equal(*by_code)
    for name in ("operations", "work_results"):
        pd.testing.assert_frame_equal(getattr(original, name), getattr(served, name))
    for part in ("rows_read", "rows_kept", "problems"):
        assert getattr(original.report, part) == getattr(served.report, part)
    assert len(served.operations) > 8000
    assert set(served.report.readers.values()) == {"arrow-odbc (columnar)"}


def test_postgresql_lists_only_the_plant_tables_and_masks_the_password(postgres_plant):
    with open_source(f"odbc:{postgres_plant}") as src:
        assert src.tables() == [
            "dbo_BI_ITEM_INFO_VIEW", "dbo_BI_ROUTING_VIEW", "dbo_BI_WORK_ORDER_RESULTS",
        ]  # fmt: skip
        assert PASSWORD not in src.label and "Pwd=***" in src.label


def test_a_wrong_password_is_a_clear_error_without_the_password(postgres_plant):
    wrong = postgres_plant.replace(PASSWORD, "not-the-password")
    with pytest.raises(SourceError) as caught:
        open_source(f"odbc:{wrong}")
    assert "Cannot connect to odbc:" in caught.value.detail
    assert "not-the-password" not in caught.value.detail
