"""The OpenAPI schema says what the API answers and accepts, errors included.

A drf-spectacular post-processing hook adds the ``Error`` component (the one shape of
routing_site/errors.py) and, for every operation, the error statuses it can answer, and
tightens the request schemas where a serializer's rule has no OpenAPI keyword of its own
(non-empty lists, codes that are not blank, unknown fields refused). The API fuzzing run
(tests/test_api_fuzz.py) checks that every status the server answers is documented here.
"""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error answer of the API has this shape.",
    "properties": {
        "error": {
            "type": "string",
            "description": "Stable code: invalid, parse_error, not_authenticated, "
            "authentication_failed, permission_denied, not_found, conflict, too_large, "
            "throttled, registry_unavailable, no_model, ...",
        },
        "detail": {"type": "string", "description": "What went wrong and what to do."},
        "fields": {
            "type": "object",
            "description": "Field path (items.3.item_code) to its messages.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["error", "detail", "fields"],
    "example": {"error": "invalid", "detail": "items: must not be empty", "fields": {}},
}

MEANING = {
    "400": "Bad input: the body or a parameter is not valid (fields name each one), or the "
    "JSON does not parse or is nested deeper than 32 levels. Fix the request; do not retry "
    "it unchanged.",
    "401": "No credentials, or an expired / revoked token. Log in again or use a valid "
    "service token (Authorization: Bearer ...).",
    "403": "The account's role may not do this, or the CSRF header is missing on a "
    "cookie-authenticated request.",
    "404": "No such object (the path names one that does not exist).",
    "409": "The request conflicts with the current state (e.g. a lifecycle step that the "
    "version's state does not allow, a name already in use).",
    "413": "The request body is larger than the limit (API_MAX_BODY_BYTES, 1 MB by default).",
    "415": "Send the body as application/json.",
    "429": "Too many attempts; wait for the seconds in Retry-After.",
    "503": "The registry database cannot be used, or no model version is loaded; retry "
    "later (Retry-After) and see /api/v1/health.",
}

UNSAFE = {"post", "put", "patch", "delete"}
# Statuses that an operation's body can lead to beyond what its shape tells.
EXTRA = {
    "/api/v1/predict": {"404": "An item_code is not a known item; send its attributes instead."},
    "/api/v1/similar": {"404": "The item_code is not a known item; send attributes instead."},
}
AUTH_PREFIX = "/api/v1/auth/"
# Operations that answer 400 to a request without a body.
BODY_REQUIRED = {
    "/api/v1/predict",
    "/api/v1/similar",
    "/api/v1/time-summary",
    "/api/v1/routings",
    "/api/v1/routings/validate",
    "/api/v1/blueprints/validate",
    "/api/v1/auth/login",
    "/api/v1/auth/signup",
}

# Rules of the request serializers that drf-spectacular cannot derive by itself.
ATTRIBUTES = {
    "maxProperties": 200,
    "additionalProperties": {
        "nullable": True,
        "anyOf": [
            {"type": "string", "maxLength": 500},
            {"type": "number", "minimum": -1e15, "maximum": 1e15},
        ],
    },
}
OPERATIONS = {"items": {"$ref": "#/components/schemas/OperationInput"}}
TIGHTEN = {
    "PredictInput": {"items": {"minItems": 1, "maxItems": 100}},
    "TimeSummaryInput": {"operations": {"minItems": 1, "maxItems": 500}},
    "ItemInput": {"item_code": {"pattern": r"\S"}, "attributes": ATTRIBUTES},
    "SimilarInput": {"item_code": {"pattern": r"\S"}, "attributes": ATTRIBUTES},
    "RoutingInput": {"operations": OPERATIONS},
    "ValidateInput": {"operations": OPERATIONS},
    "Login": {"username": {"minLength": 1}, "password": {"minLength": 1}},
    "Signup": {"username": {"minLength": 1}, "password": {"minLength": 1}},
}
STRICT = (
    "PredictInput",
    "ItemInput",
    "SimilarInput",
    "TimeSummaryInput",
    "OperationInput",
    "RoutingInput",
    "ValidateInput",
)
CODE_OR_ATTRIBUTES = {
    "anyOf": [
        {"required": ["item_code"]},
        {"required": ["attributes"], "properties": {"attributes": {"minProperties": 1}}},
    ]
}


def error_statuses(path: str, method: str, operation: dict) -> list[str]:
    """The error statuses an operation can answer, from what it takes and who may call it."""
    params = operation.get("parameters", [])
    body = "requestBody" in operation
    anonymous = {} in operation.get("security", [{}])
    statuses = ["503"]
    if body or params:
        statuses.append("400")
    if not anonymous:
        statuses += ["401", "403"]
    if any(p.get("in") == "path" for p in params):
        statuses.append("404")
    if method in UNSAFE:
        statuses += ["400", "403", "409", "413", "415"]
    if method in UNSAFE and path.startswith(AUTH_PREFIX):
        statuses.append("429")
    return sorted(set(statuses))


def error_response(status: str) -> dict:
    return {
        "description": MEANING[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _tighten(schemas: dict) -> None:
    for name, fields in TIGHTEN.items():
        for field, rules in fields.items():
            if name in schemas and field in schemas[name].get("properties", {}):
                schemas[name]["properties"][field].update(rules)
    for name in STRICT:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    for name in ("ItemInput", "SimilarInput"):
        if name in schemas:
            schemas[name].update(CODE_OR_ATTRIBUTES)


def document_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    _tighten(schemas)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if path in BODY_REQUIRED and "requestBody" in operation:
                operation["requestBody"]["required"] = True
            responses = operation.setdefault("responses", {})
            for status in error_statuses(path, method, operation):
                responses.setdefault(status, error_response(status))
            for status, meaning in EXTRA.get(path, {}).items():
                responses.setdefault(status, {**error_response(status), "description": meaning})
    return result
