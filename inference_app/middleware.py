"""Request id, JSON request log line and metrics for every request."""

from __future__ import annotations

import logging
import os
import re
import time

from inference_app.metrics import metrics
from inference_app.runtime import runtime
from routing_site.logging import quick_record

log = logging.getLogger("routing.requests")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
_API_PREFIX = "/api/v1/"


def endpoint_name(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match and match.url_name:
        return match.url_name
    return "api-other" if request.path.startswith(_API_PREFIX) else "page"


def begin(request, api: bool) -> float:
    """Stamp the request (start time, request id, no cache answer yet); the start time."""
    started = time.perf_counter()
    request.started_at = started  # the prediction log's latency
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")  # not request.headers: no copy
    request.request_id = incoming if _SAFE_ID.match(incoming) else new_request_id()
    request.cache_hit = None
    if api:
        runtime.start()  # no-op once the poller runs
    return started


def new_request_id() -> str:
    """``uuid.uuid4().hex`` without the UUID object (its checks cost 2 µs a request): 16
    random bytes with the version (4) and variant (RFC 4122) bits set, in 32 hex digits."""
    n = int.from_bytes(os.urandom(16), "big")
    n = (n & ~(0xC000 << 48) | 0x8000 << 48) & ~(0xF000 << 64) | 4 << 76
    return f"{n:032x}"


def finish(request, response, started: float, endpoint: str | None = None) -> None:
    """Request id and version headers; for the API and the admin the metrics and the log line
    (``endpoint``: the name when the caller knows it without the URL resolver)."""
    seconds = time.perf_counter() - started
    response["X-Request-ID"] = request.request_id
    version = served_version(request)
    if version:
        response["X-Model-Version"] = version
    path = request.path
    if endpoint is None and not (path.startswith(_API_PREFIX) or path.startswith("/admin/")):
        return
    record(request, endpoint or endpoint_name(request), response.status_code, version, seconds)


def served_version(request) -> str | None:
    """The version that answered the request (or the one serving now)."""
    version = getattr(request, "model_version", None)
    if version:
        return version
    model = runtime.model
    return model.label if model else None


def record(request, endpoint: str, status: int, version: str | None, seconds: float) -> None:
    """The metrics and the request log line of an answered request."""
    metrics.observe(endpoint, status, version, seconds, time.time())
    if not log.isEnabledFor(logging.INFO):
        return
    user = getattr(request, "user", None)
    line = {
        "request_id": request.request_id,
        "method": request.method,
        "path": request.path,
        "endpoint": endpoint,
        "status": status,
        "latency_ms": round(seconds * 1000, 2),
        "active_version": version,
        "cache_hit": request.cache_hit,
        "user": user.get_username() if user is not None and user.is_authenticated else None,
    }
    # log.info without its search of the stack for the caller and with the record's fixed
    # fields made once (a few µs per request each: the request log's lines name no source line)
    log.handle(quick_record(log, logging.INFO, __file__, "request", line))


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = begin(request, request.path.startswith(_API_PREFIX))
        response = self.get_response(request)
        finish(request, response, started)
        return response
