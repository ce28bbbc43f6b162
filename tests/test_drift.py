"""Drift warning: live new-item answers against the active version's training distribution."""

from __future__ import annotations

import pytest

from inference_app import drift
from inference_app.runtime import runtime
from workflow_app.models import WorkflowConfig

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
WINDOW = 60


def routed_rows(n: int) -> list[int]:
    tables = runtime.model.tables
    return [r for r in range(tables.n_items) if tables.routings_of(r)][:n]


def _shifted(value):
    """A number 7.3 times as large (numeric attributes stay numbers), a text mangled."""
    try:
        return float(value) * 7.3
    except (TypeError, ValueError):
        return f"zz{value}q"


def ask(client, rows: list[int], shift: bool) -> None:
    tables = runtime.model.tables
    for r in rows:
        attrs = {k: v for k, v in tables.attributes(r).items() if v is not None}
        if shift:  # another plant's items: other sizes, other names
            attrs = {k: _shifted(v) for k, v in attrs.items()}
        item = (
            {"attributes": attrs}
            if shift
            else {"item_code": tables.code_of(r), "attributes": attrs}
        )
        response = client.post("/api/v1/predict", {"items": [item]}, format="json")
        assert response.status_code == 200


@pytest.fixture
def windowed(active_model):
    WorkflowConfig.apply({"drift_window": WINDOW})
    runtime.refresh()
    return active_model


def test_the_training_distribution_is_recorded_with_the_evaluation(windowed):
    reference = windowed.metrics["reference"]
    assert reference["answers"] > 50
    assert 0.0 < reference["mean_best_similarity"] <= 1.0
    assert 0.0 <= reference["low_share"] <= 1.0
    assert sum(reference["best_similarity_histogram"]) == reference["answers"]


def test_requests_like_the_training_data_raise_no_warning(windowed, engineer_api, client):
    ask(engineer_api, routed_rows(WINDOW), shift=False)
    report = drift.drift_report()
    assert report["checked"] is True and report["warning"] is False
    assert report["live"]["answers"] == WINDOW
    assert report["message"] == f"No drift on {windowed.label}."
    health = engineer_api.get("/api/v1/health").json()  # the details need credentials
    assert health["drift"]["warning"] is False


def test_requests_from_a_shifted_distribution_raise_the_warning(windowed, engineer_api, client):
    ask(engineer_api, routed_rows(WINDOW), shift=False)
    ask(engineer_api, routed_rows(WINDOW), shift=True)  # the window now holds only these
    report = drift.drift_report()
    assert report["warning"] is True
    live, reference = report["live"], report["reference"]
    assert live["mean_best_similarity"] < reference["mean_best_similarity"] - 0.10
    assert report["deltas"]["mean_best_similarity"] == round(
        live["mean_best_similarity"] - reference["mean_best_similarity"], 4
    )
    assert report["message"].startswith(f"Drift on {windowed.label}: ")
    assert (
        f"mean best similarity {live['mean_best_similarity']:.3f} live vs "
        f"{reference['mean_best_similarity']:.3f} at training" in report["message"]
    )
    assert "threshold ±0.1)" in report["message"]

    health = engineer_api.get("/api/v1/health").json()  # the details need credentials
    assert health["status"] == "ok"  # a warning, the service still serves
    assert health["drift"]["warning"] is True and health["drift"]["live"] == live
    from accounts_app.testing import make_user

    client.force_login(make_user("dan", "viewer"))
    data = client.get("/api/v1/dashboard-data").json()
    assert data["drift"]["warning"] is True and data["drift"]["message"] == report["message"]


def test_a_wider_threshold_silences_it(windowed, engineer_api):
    ask(engineer_api, routed_rows(WINDOW), shift=True)
    WorkflowConfig.apply({"drift_similarity_delta": 0.9, "drift_low_share_delta": 0.9})
    runtime.refresh()
    report = drift.drift_report()
    assert report["checked"] is True and report["warning"] is False


def test_too_few_answers_or_no_reference_say_why_nothing_is_checked(windowed, engineer_api):
    ask(engineer_api, routed_rows(5), shift=True)
    report = drift.drift_report()
    assert report["checked"] is False and report["warning"] is False
    assert report["message"] == f"5 live new-item answers so far; {drift.MIN_LIVE} needed."
    windowed.metrics.pop("reference")
    windowed.save(update_fields=["metrics"])
    report = drift.drift_report()
    assert report["message"] == (
        f"{windowed.label} has no training distribution recorded (retrain it)."
    )
