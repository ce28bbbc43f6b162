"""One JSON error shape for every API failure: ``{"error": code, "detail": ..., "fields": {...}}``.

Domain code raises :class:`DomainError` subclasses (the proposal's own are defined in
``routing_core.errors`` and re-exported here as the same classes); DRF's own exceptions are mapped
here too, and anything unexpected becomes a logged 500 with the same shape (the tests make sure bad
input never reaches that branch).
"""

from __future__ import annotations

import logging
import sys

from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from routing_core.errors import BadInput, DomainError, NotFound

__all__ = ["BadInput", "Conflict", "DomainError", "NotFound", "ServiceUnavailable"]

log = logging.getLogger("routing")


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "no_model"


def error_body(code: str, detail, fields: dict | None = None) -> dict:
    return {"error": code, "detail": detail, "fields": fields or {}}


def _flatten(data) -> dict:
    """DRF validation errors arrive nested; keep field paths readable (``items.0.item_code``)."""
    out: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and all(isinstance(v, (dict, list)) for v in value):
            for i, sub in enumerate(value):
                if sub:
                    walk(f"{prefix}.{i}" if prefix else str(i), sub)
        else:
            msgs = value if isinstance(value, list) else [value]
            out[prefix or "non_field_errors"] = [str(m) for m in msgs]

    walk("", data)
    return out


_DRF_CODES = {
    exceptions.ParseError: "parse_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.NotAcceptable: "not_acceptable",
}


def registry_unavailable(exc: DatabaseError) -> dict:
    """The body of a 503 for a registry database that is missing, read-only or down."""
    log.error("registry database unavailable: %s", exc)
    return error_body(
        "registry_unavailable",
        f"The registry database cannot be used ({exc}). Retry later; /api/v1/health tells "
        "the state.",
    )


def api_exception_handler(exc, context):
    if isinstance(exc, DatabaseError):
        return Response(registry_unavailable(exc), status=503, headers={"Retry-After": "30"})
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.detail, exc.fields), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.items()), ("", ["invalid input"]))
        detail = f"{first[0]}: {first[1][0]}" if first[0] != "non_field_errors" else first[1][0]
        return Response(error_body("invalid", detail, fields), status=400)
    if isinstance(exc, exceptions.APIException):
        code = _DRF_CODES.get(type(exc), getattr(exc, "default_code", "error"))
        headers = {}
        if isinstance(exc, exceptions.Throttled) and exc.wait:
            headers["Retry-After"] = str(int(exc.wait))
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)
    log.exception("unhandled error in %s", context.get("view").__class__.__name__)
    return Response(
        error_body("server_error", "Internal error; see logs/routing.log for the traceback."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_404(request, exception=None):
    return JsonResponse(error_body("not_found", f"No such page: {request.path}"), status=404)


def json_500(request):
    exc = sys.exc_info()[1]  # Django calls this inside its ``except`` block
    if isinstance(exc, DatabaseError):
        return JsonResponse(registry_unavailable(exc), status=503, headers={"Retry-After": "30"})
    return JsonResponse(error_body("server_error", "Internal error; see the logs."), status=500)
