"""Request limits: a bounded body (413) and bounded JSON nesting (400), in the error shape.

The middleware refuses a declared ``Content-Length`` over the limit before anything reads the
body; the parser reads at most the limit (a chunked body declares no length) and refuses JSON
nested deeper than ``API_MAX_JSON_DEPTH``: Python's parser would otherwise recurse until a
``RecursionError`` (a 500) on a body of a few kilobytes of brackets.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions, parsers

from routing_site.errors import error_body


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"


def too_large_detail() -> str:
    return f"The request body is larger than {settings.API_MAX_BODY_BYTES} bytes."


def json_depth(value) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children)
    return deepest


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser with the body size and nesting limits of the API."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(too_large_detail())
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_no_constant)
        except RecursionError:
            raise exceptions.ParseError(_too_deep()) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if json_depth(data) > settings.API_MAX_JSON_DEPTH:
            raise exceptions.ParseError(_too_deep())
        return data


def _too_deep() -> str:
    return f"JSON nested deeper than {settings.API_MAX_JSON_DEPTH} levels."


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class BodyLimitMiddleware:
    """413 for an API request whose declared body is over the limit, before it is read."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and _declared_length(request) > (
            settings.API_MAX_BODY_BYTES
        ):
            return JsonResponse(error_body("too_large", too_large_detail()), status=413)
        return self.get_response(request)


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
