"""routing_core is plain Python: it imports without Django, and its refusals are the API's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import routing_core.errors as core_errors
import routing_site.errors as site_errors

REPO = Path(__file__).resolve().parent.parent
CORE_MODULES = (
    "candidates", "errors", "features", "matching", "numbers", "predictor", "stats", "text",
    "timesummary",
)  # fmt: skip


def test_routing_core_imports_without_django():
    imports = "; ".join(f"import routing_core.{name}" for name in CORE_MODULES)
    check = "import sys; bad = [m for m in sys.modules if m.split('.')[0] in " \
            "('django', 'rest_framework', 'routing_site')]; assert not bad, bad"  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", f"{imports}; {check}"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_the_api_error_classes_are_the_core_ones():
    assert site_errors.BadInput is core_errors.BadInput
    assert site_errors.NotFound is core_errors.NotFound
    assert site_errors.DomainError is core_errors.DomainError
    assert issubclass(site_errors.Conflict, core_errors.DomainError)


def test_a_core_refusal_gets_the_api_error_shape():
    response = site_errors.api_exception_handler(
        core_errors.NotFound("No item X.", fields={"item_code": ["unknown"]}), {"view": None}
    )
    assert response.status_code == 404
    assert response.data == {
        "error": "not_found", "detail": "No item X.", "fields": {"item_code": ["unknown"]},
    }  # fmt: skip
    response = site_errors.api_exception_handler(core_errors.BadInput("Give one."), {})
    assert response.status_code == 400 and response.data["error"] == "invalid"
