"""The serving process's start: what it imports before its first answered prediction.

Each check runs in a fresh interpreter (this one has imported everything the other tests use).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent
TRAINING_ONLY = ["pandas", "scipy", "sklearn", "pyarrow"]

SERVING_PATH = """
import json, sys
import django
django.setup()
from django.core.management.base import BaseCommand
BaseCommand().check(display_num_errors=False)   # serve's system checks, URL modules included
import routing_site.wsgi                         # the middleware and the views
from inference_app.loaded import LoadedModel
from routing_core import predictor
from workflow_app.settings_schema import defaults
model = LoadedModel.open(__import__("pathlib").Path(sys.argv[1]))
answer = predictor.predict_one(model, json.loads(sys.argv[2]), predictor.options(defaults()))
names = ("pandas", "scipy", "sklearn", "pyarrow", "psycopg", "requests")
print(json.dumps({"loaded": [n for n in names if n in sys.modules], "answer": answer}))
"""


def run_python(code: str, *args: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "routing_site.settings",
        "DATABASE_URL": f"sqlite:///{settings.VAR_DIR / 'unused.sqlite3'}",
        "ROUTING_VAR_DIR": str(settings.VAR_DIR),
        "ROUTING_LOG_DIR": str(settings.LOG_DIR),
        "ROUTING_MODELS_DIR": str(settings.MODELS_DIR),
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def folder(quick_training) -> Path:
    return settings.MODELS_DIR / quick_training().label


def test_a_prediction_is_answered_without_the_training_libraries(folder):
    item = {"item_code": "__new__", "attributes": {"PART_TYPE": "SEAL", "ITEM_NM": "Shaft D20x150"}}
    found = run_python(SERVING_PATH, str(folder), json.dumps(item))
    assert found["answer"]["neighbours"], found["answer"]  # a real answer from the index
    assert [n for n in found["loaded"] if n in TRAINING_ONLY] == []


def test_the_same_vectors_with_the_training_libraries_loaded_or_not(folder):
    """The serving path (few values, no pandas or scipy) and the training path (whole
    columns: pandas' word tokens, scipy's sparse blocks) give the same vectors."""
    from routing_core.features import FeatureEncoder

    encoder = FeatureEncoder.load(folder)
    records = [
        {"ITEM_NM": f"Shaft D{i}x{150 + i} hardened", "PART_TYPE": "SEAL"} for i in range(100)
    ]
    few = np.vstack([encoder.embed(records[i : i + 10]) for i in range(0, 100, 10)])
    many = encoder.embed(records)  # 100 distinct texts: pandas' word tokens, a sparse block
    assert np.abs(many - few).max() < 1e-5


def test_django_set_up_leaves_out_what_drf_would_import_for_nothing():
    code = """
import json, sys
import django
django.setup()
from rest_framework import compat
unused = ("psycopg", "requests", "django.contrib.postgres.fields", "yaml", "pygments")
before = [n for n in unused if n in sys.modules]
import importlib.util
import requests, yaml, pygments   # still importable for whoever needs them
if importlib.util.find_spec("psycopg") or importlib.util.find_spec("psycopg2"):
    import django.contrib.postgres.fields   # so are these, where a PostgreSQL driver is installed
print(json.dumps({"before": before, "drf uses them": [compat.requests is not None,
                  compat.postgres_fields is not None, compat.yaml is not None,
                  compat.pygments is not None]}))
"""
    found = run_python(code)
    assert found == {"before": [], "drf uses them": [False, False, False, False]}
