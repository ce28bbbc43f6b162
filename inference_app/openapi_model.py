"""The OpenAPI schema names the serving model's attributes, with examples from that model.

A drf-spectacular post-processing hook, run each time the schema is generated (so a newly
activated version shows at the next load of ``/api/v1/docs/``): the ``ModelAttributes``
component lists every attribute key with its JSON type, unit and example; the ``attributes``
of predict and similar refer to it; predict and ``GET /api/v1/model`` carry request and answer
examples computed by the serving model. Without a loaded version the component says where to
look instead.
"""

from __future__ import annotations

from inference_app import contract
from inference_app.runtime import runtime
from routing_core import predictor

REF = {"$ref": "#/components/schemas/ModelAttributes"}
JSON = "application/json"


def serving_model(result: dict, generator, request, public) -> dict:
    model = runtime.model
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ModelAttributes"] = attributes_schema(model)
    for name in ("ItemInput", "SimilarInput"):
        props = schemas.get(name, {}).get("properties", {})
        if "attributes" in props:
            props["attributes"] = {**REF, "description": "Attribute name to value."}
    if model is not None:
        _examples(result.get("paths", {}), model)
    return result


def attributes_schema(model) -> dict:
    if model is None:
        return {
            "type": "object",
            "description": "No version is serving: GET /api/v1/model lists the attribute "
            "names once one is active.",
            "additionalProperties": {"nullable": True},
        }
    props = {a["name"]: _property(a) for a in contract.describe(model)["attributes"]}
    return {
        "type": "object",
        "description": f"Attributes of version {model.label} (GET /api/v1/model): names are "
        'exact; unknown ones answer 400 unless unknown_attributes is "ignore".',
        "properties": props,
    }


def _property(attribute: dict) -> dict:
    text = f"{attribute['kind']}"
    if attribute.get("unit"):
        text += f", unit {attribute['unit']}"
    if attribute.get("range"):
        text += f", {attribute['range']['min']} to {attribute['range']['max']} at training"
    out = {"type": attribute["json_type"], "nullable": True, "description": text}
    if attribute["examples"]:
        out["example"] = attribute["examples"][0]
    return out


def _examples(paths: dict, model) -> None:
    description = contract.describe(model)
    body = description["example_request"]
    opts = predictor.options(runtime.snapshot.values, candidates=1)
    answer = predictor.predict_one(model, body["items"][0], opts)
    answer["candidates"] = answer["candidates"][:1]
    _set(paths, "/api/v1/predict", "post", body, {"model_version": model.label, "items": [answer]})
    _set(paths, "/api/v1/model", "get", None, description)


def _set(paths: dict, path: str, method: str, request_example, answer_example) -> None:
    operation = paths.get(path, {}).get(method)
    if operation is None:
        return
    if request_example is not None:
        content = operation.get("requestBody", {}).get("content", {})
        if JSON in content:
            content[JSON]["example"] = request_example
    ok = operation.get("responses", {}).get("200", {}).get("content", {})
    if JSON in ok:
        ok[JSON]["example"] = answer_example
