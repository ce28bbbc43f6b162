"""docs/erp.md as it stands: its curl and Python examples run against a real served instance."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from inference_app.models import IdempotencyKey, SavedRouting

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "erp.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
ERP_COLUMNS = {"ITEM_CD", "ROUT_NO", "PROC_SEQ", "JOB_CD", "RES_CD", "SETUP_TIME", "RUN_TIME"}


def blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(GUIDE.read_text()) if lang == language]


def test_the_guide_has_each_step_as_curl_and_python():
    text = GUIDE.read_text()
    for heading in ("service token", "first prediction", "save the routing", "ERP's columns"):
        assert heading.lower() in text.lower(), heading
    assert "## Errors" in text and "## Limits" in text and "## Versioning" in text
    curl = "\n".join(blocks("bash"))
    for path in ("/api/v1/model", "/api/v1/predict", "/api/v1/routings", "/export"):
        assert path in curl and path in "\n".join(blocks("python")), path


@pytest.fixture
def served(waitress_server, active_model, tmp_path) -> dict:
    """The environment of the guide: the server's address and a token issued its way."""
    command = next(line for b in blocks("sh") for line in b.splitlines() if "issue_token" in line)
    args = shlex.split(command)[2:]  # after "scripts/manage issue_token"
    out = StringIO()
    call_command("issue_token", *args, stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    assert token.startswith("rml_")
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "ROUTING_URL": waitress_server,
        "ROUTING_TOKEN": token,
    }


def test_the_curl_walkthrough_runs_as_written(served, tmp_path):
    script = "set -euo pipefail\n" + "\n".join(blocks("bash"))
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=served,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert ERP_COLUMNS <= set(done.stdout.strip().split(","))
    saved = SavedRouting.objects.get()
    assert saved.item_code == "NEW-0001" and saved.status == "accepted"
    assert IdempotencyKey.objects.filter(key="erp-order-4711").count() == 1
    rows = list(csv.DictReader((tmp_path / "routing.csv").open()))
    assert len(rows) == len(saved.operations) and rows[0]["ITEM_CD"] == "NEW-0001"
    again = subprocess.run(  # the ERP's retry: the same key and body save nothing new
        ["bash", "-c", "set -euo pipefail\n" + blocks("bash")[2]],
        cwd=tmp_path,
        env=served,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert SavedRouting.objects.count() == 1


def test_the_python_walkthrough_runs_as_written(served, tmp_path):
    (tmp_path / "guide.py").write_text("\n".join(blocks("python")))
    done = subprocess.run(
        [sys.executable, "guide.py"], cwd=tmp_path, env=served, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr + done.stdout
    saved = SavedRouting.objects.get()
    assert saved.item_code == "NEW-0002" and saved.operations
    assert "serving v" in done.stdout and "ITEM_CD" in done.stdout
