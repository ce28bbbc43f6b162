"""Encoding on the request path: the API's orjson renderer gives the bytes DRF's JSONRenderer
gives, cache keys come from the input's values (no JSON text), log lines are encoded once."""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from decimal import Decimal

import numpy as np
import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings

from inference_app.validation import frozen
from routing_site.logging import JsonFormatter
from routing_site.renderers import ORJSONRenderer

PAYLOAD = {
    "model_version": "v0001",
    "items": [{"seq": 10, "run_min": 2.5, "matched": ["PART_TYPE"], "note": None, "ok": True}],
    "at": dt.datetime(2026, 11, 30, 11, 52, 3, 123456, tzinfo=dt.UTC),
    "day": dt.date(2026, 11, 30),
    "cost": Decimal("12.50"),
    "id": uuid.UUID(int=7),
    "label": gettext_lazy("Routing"),
    "vector": np.array([0.25, 0.5], dtype=np.float32),
    "score": np.float32(0.1),
    "count": np.int64(3),
    "by_seq": {10: "a", 20: "b"},
    "text": "Bohrung Ø 12 — line\u2028separator\u2029",
}


@pytest.mark.parametrize("payload", [PAYLOAD, [], {}, "x", 1.5, {"big": 2**70}])
def test_same_bytes_as_drf(payload):
    assert ORJSONRenderer().render(payload) == JSONRenderer().render(payload)


def test_nothing_renders_as_an_empty_body():
    assert ORJSONRenderer().render(None) == b""


def test_indented_json_when_asked():
    body = ORJSONRenderer().render({"a": [1]}, "application/json; indent=2")
    assert body == JSONRenderer().render({"a": [1]}, "application/json; indent=2")
    assert b"\n  " in body


def test_a_value_no_encoder_knows_is_an_error():
    with pytest.raises(TypeError):
        ORJSONRenderer().render({"x": object()})


def test_the_api_uses_it():
    assert api_settings.DEFAULT_RENDERER_CLASSES == [ORJSONRenderer]


def test_cache_keys_ignore_order_and_keep_types():
    a = {"item_code": "A-1", "attributes": {"OD": 12, "PART_TYPE": "SEAL", "X": None}}
    b = {"attributes": {"X": None, "PART_TYPE": "SEAL", "OD": 12}, "item_code": "A-1"}
    assert frozen(a) == frozen(b) and hash(frozen(a)) == hash(frozen(b))
    assert frozen({"OD": 12}) != frozen({"OD": 12.0})  # distinct input, distinct key
    assert frozen({"OD": 12}) != frozen({"OD": "12"})
    assert frozen({"p": [10, 90]}) != frozen({"p": [90, 10]})
    assert frozen({"a": {"b": 1}}) != frozen({"a": {"b": 2}})


def test_a_log_line_is_json_encoded_once_per_record(monkeypatch):
    record = logging.makeLogRecord(
        {"name": "routing.requests", "levelname": "INFO", "msg": "request", "created": 0.0}
    )
    record.latency_ms, record.user = 1.25, "jürgen"
    record.at = dt.datetime(2026, 1, 2, 3, 4, 5)
    formatter = JsonFormatter()
    line = formatter.format(record)
    assert json.loads(line) == {
        "ts": "1970-01-01T00:00:00.000+00:00",
        "level": "INFO",
        "logger": "routing.requests",
        "message": "request",
        "latency_ms": 1.25,
        "user": "jürgen",
        "at": "2026-01-02 03:04:05",
    }
    monkeypatch.setattr(JsonFormatter, "_encode", lambda *a: pytest.fail("encoded twice"))
    assert formatter.format(record) == line  # the rollover check and the write share it
