"""The OpenAPI schema as a contract: examples valid against their own schemas, answers against
the documented ones, the serving model's attribute names in the request schema; idempotent saves."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from inference_app.models import IdempotencyKey, SavedRouting
from inference_app.runtime import runtime

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _schema(client) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _jsonschema(node):
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes a null-allowing type."""
    if isinstance(node, list):
        return [_jsonschema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        elif "$ref" in out or "allOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validate(document: dict, pointer: str, value) -> None:
    schema = {**document, "$ref": pointer}
    jsonschema.Draft202012Validator(schema).validate(value)


def _documented_examples(schema: dict):
    """(where, JSON pointer of its schema, example) of every media-type example."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            bodies = [("requestBody", operation.get("requestBody", {}))]
            bodies += [(f"responses/{s}", r) for s, r in operation.get("responses", {}).items()]
            for where, part in bodies:
                media = part.get("content", {}).get(JSON, {})
                parts = ("paths", path, method, *where.split("/"), "content", JSON, "schema")
                examples = [media["example"]] if "example" in media else []
                examples += [e["value"] for e in media.get("examples", {}).values()]
                for example in examples:
                    yield f"{method} {path} {where}", _pointer(*parts), example


def _answer_pointer(path: str, method: str, status: str) -> str:
    return _pointer("paths", path, method, "responses", status, "content", JSON, "schema")


def test_every_documented_example_validates_against_its_own_schema(client, active_model):
    schema = _schema(client)
    document = _jsonschema(schema)
    seen = []
    for where, pointer, example in _documented_examples(schema):
        _validate(document, pointer, example)
        seen.append(where)
    assert "post /api/v1/predict requestBody" in seen
    assert "post /api/v1/predict responses/200" in seen
    assert "get /api/v1/model responses/200" in seen
    broken = copy.deepcopy(schema["paths"]["/api/v1/predict"]["post"]["responses"]["200"])
    example = broken["content"][JSON]["example"]
    example["items"][0]["status"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        _validate(document, _answer_pointer("/api/v1/predict", "post", "200"), example)


def test_the_request_schema_names_the_serving_models_attributes(client, active_model):
    schema = _schema(client)
    components = schema["components"]["schemas"]
    attributes = components["ModelAttributes"]["properties"]
    assert list(attributes) == [c.name for c in runtime.model.encoder.codecs]
    assert attributes["OUTDIAMETER"]["type"] == "number"
    assert attributes["ITEM_MATERIAL"]["type"] == "string"
    ref = {"$ref": "#/components/schemas/ModelAttributes"}
    assert components["ItemInput"]["properties"]["attributes"]["$ref"] == ref["$ref"]
    example = schema["paths"]["/api/v1/predict"]["post"]["requestBody"]["content"][JSON]
    assert set(example["example"]["items"][0]["attributes"]) <= set(attributes)


def test_live_answers_match_their_documented_schemas(client, viewer_api, active_model):
    document = _jsonschema(_schema(client))
    tables = runtime.model.tables
    routed = next(tables.code_of(r) for r in range(tables.n_items) if tables.routings_of(r))
    model = viewer_api.get("/api/v1/model").json()
    batch = {
        "items": [
            {"item_code": routed},
            {"item_code": "NOPE"},
            {},
            model["example_request"]["items"][0],
        ]
    }
    calls = [
        ("get", "/api/v1/model", None, model),
        ("post", "/api/v1/predict", batch, None),
        ("post", "/api/v1/similar", {"item_code": routed}, None),
        ("get", "/api/v1/items/{code}", None, viewer_api.get(f"/api/v1/items/{routed}").json()),
        ("post", "/api/v1/time-summary", {"operations": [{"setup_min": 5, "run_min": 2}]}, None),
    ]
    for method, path, body, answer in calls:
        if answer is None:
            response = viewer_api.post(path, body, format="json")
            assert response.status_code == 200, response.content
            answer = response.json()
        _validate(document, _answer_pointer(path, method, "200"), answer)


ROUTING = {
    "item_code": "NEW-100",
    "operations": [{"seq": 10, "op_code": "CUT", "work_center": "SAW-01", "run_min": 3}],
}


def _post(client, body, key):
    return client.post("/api/v1/routings", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_save_with_the_same_idempotency_key_saves_once(engineer_api):
    first = _post(engineer_api, ROUTING, "order-4711-a")
    assert first.status_code == 201, first.content
    assert first["Idempotent-Replayed"] == "false"
    again = _post(engineer_api, ROUTING, "order-4711-a")
    assert again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert SavedRouting.objects.count() == 1 and IdempotencyKey.objects.count() == 1

    other = _post(engineer_api, {**ROUTING, "comment": "changed"}, "order-4711-a")
    assert other.status_code == 409 and other.json()["error"] == "idempotency_key_reused"
    assert SavedRouting.objects.count() == 1

    assert _post(engineer_api, ROUTING, "order-4711-b").status_code == 201
    assert engineer_api.post("/api/v1/routings", ROUTING, format="json").status_code == 201
    assert SavedRouting.objects.count() == 3


def test_a_refused_save_stores_no_key_and_a_bad_key_is_refused(engineer_api):
    bad = _post(engineer_api, {**ROUTING, "operations": "x"}, "order-1")
    assert bad.status_code == 400 and IdempotencyKey.objects.count() == 0
    assert _post(engineer_api, ROUTING, "order-1").status_code == 201
    for key in ("", " ", "x" * 201):
        answer = _post(engineer_api, ROUTING, key)
        assert answer.status_code == 400 and "Idempotency-Key" in answer.json()["fields"], key
    assert SavedRouting.objects.count() == 1
