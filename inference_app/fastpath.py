"""A lean handler for the three hot API calls: POST /api/v1/predict, /similar, /time-summary.

The page middleware (CSP header building, WhiteNoise, sessions, CSRF, messages, axes) and DRF's
request wrapping, content negotiation and parsers cost more CPU than a time summary itself.
:class:`ApiFastPathMiddleware` sits first in ``MIDDLEWARE`` and answers these calls itself when
they carry what a script or the ERP sends: ``Authorization: Bearer <token>``, a JSON body with a
declared length within ``API_MAX_BODY_BYTES``, an allowed host name. It keeps what the full stack
guarantees on the way (the same token checks, ended sessions refused at once; the role check;
JSON nesting limit; request id, metrics and the request log line; the error shape of input
errors; the security headers and the Content-Security-Policy of every response).

Anything else — no bearer header, a cookie login, a bad or missing token, too low a role, a
body that is too large, chunked, not JSON or nested too deep, an unexpected error — is handed to
the full stack untouched (the body, once read, stays readable), which answers it exactly as
before. ``API_FAST_PATH=false`` turns the lean handler off.

Under ``manage.py serve`` (``inference_app.inline.make_server``) the same calls are answered one
step earlier, by :class:`LeanApplication` in front of Django's WSGI handler: the same checks and
answers without the handler's signals, exception wrapping and response object.
"""

from __future__ import annotations

import functools
import io
import threading
import time
from http.client import responses

import orjson
from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connections
from django.db.backends.signals import connection_created
from django.http import HttpResponse
from django.utils.log import log_response
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer

from accounts_app.authentication import BearerTokenAuthentication
from accounts_app.roles import Role, has_role
from inference_app import api, prediction_log
from inference_app.middleware import begin, finish, record, served_version
from routing_site.errors import DomainError, error_body
from routing_site.limits import json_depth
from routing_site.renderers import encode

HOT = {
    "/api/v1/predict": ("predict", api.predict_answer),
    "/api/v1/similar": ("similar", api.similar_answer),
    "/api/v1/time-summary": ("time-summary", api.time_summary_answer),
}
# what DRF's APIView adds to every answer of these views (no "Vary: Accept": one renderer)
VIEW_HEADERS = {"Allow": "POST, OPTIONS"}
_BEARER = ("bearer ", "Bearer ")
_ACCEPT = ("*/*", "application/json", "application/json,*/*", "")
_JSON = ("application/json", "application/json;charset=utf-8")  # orjson reads UTF-8 only
_AUTH = BearerTokenAuthentication()


class ApiFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._headers: dict[bool, dict[str, tuple[str, str]]] = {}  # by request.is_secure()

    def __call__(self, request):
        route = HOT.get(request.path_info)
        if route is None or not settings.API_FAST_PATH or not _eligible(request):
            return self.get_response(request)
        started = begin(request, api=True)
        answered = _answer(request, route[1])
        if answered is None:  # the full stack answers (and logs) it
            return self.get_response(request)
        status, content = answered
        response = HttpResponse(content, status=status, content_type="application/json")
        # as CommonMiddleware adds it on the full stack: without it waitress sends the answer
        # chunked (more work per request, and a cut answer is harder for a client to tell)
        response["Content-Length"] = str(len(content))
        # checked once by Django when the probe answer took them (ResponseHeaders' own store:
        # ten header assignments, each encoding and checking its name and value, cost 20 µs)
        response.headers._store.update(self.fixed_headers(request))
        finish(request, response, started, route[0])
        return response

    def fixed_headers(self, request) -> dict[str, tuple[str, str]]:
        """The headers the skipped middleware would add to a JSON answer (the same for every
        one: the CSP without a nonce, nosniff, referrer, opener and frame policies), computed
        once by the middleware classes themselves; as ``ResponseHeaders`` stores them (by the
        lower-case name: the name and the value)."""
        secure = request.is_secure()
        if secure not in self._headers:
            from csp.middleware import CSPMiddleware
            from django.middleware.clickjacking import XFrameOptionsMiddleware
            from django.middleware.security import SecurityMiddleware

            probe = HttpResponse(content_type="application/json")
            for layer in (XFrameOptionsMiddleware, SecurityMiddleware, CSPMiddleware):
                probe = layer(self.get_response).process_response(request, probe)
            fixed = HttpResponse(headers=VIEW_HEADERS)  # in the order they were set before
            for response in (fixed, probe):
                response.headers.pop("Content-Type")
            self._headers[secure] = {**fixed.headers._store, **probe.headers._store}
        return self._headers[secure]


class LeanApplication:
    """The WSGI application with the hot calls answered before Django's request handler.

    Django's handler wraps every request in its signals, its exception handling and a response
    object whose headers it converts back into a list: 60–100 µs per call, more than a time
    summary's own work. This answers the same calls as :class:`ApiFastPathMiddleware` (the
    same checks, answer, headers, log line and metrics) straight to the server; whatever it
    does not answer — including a call whose body it read and then left to the full parser —
    goes to Django's application with the body as sent. The end-of-request work of Django's
    ``request_finished`` (closing a database connection the call opened; the prediction log's
    due write) runs when the server closes the answer, as Django's does.
    """

    def __init__(self, application):
        self.application = application  # Django's WSGIHandler
        self._lean = ApiFastPathMiddleware(application)  # for its fixed headers

    def __call__(self, environ, start_response):
        route = HOT.get(environ.get("PATH_INFO"))
        if route is None or environ["REQUEST_METHOD"] != "POST" or not settings.API_FAST_PATH:
            return self.application(environ, start_response)
        request = WSGIRequest(environ)
        if request.path_info not in HOT or not _eligible(request):
            return self.application(environ, start_response)
        started = begin(request, api=True)
        try:
            answered = _answer(request, route[1])
        except Exception as exc:  # Django's answer to an unexpected error (500, logged)
            return _django_answer(response_for_exception(request, exc), start_response)
        if answered is None:  # the full stack answers (and logs) it, from the body as sent
            if hasattr(request, "_body"):  # read here; else the stream is still untouched
                environ["wsgi.input"] = io.BytesIO(request._body)
            return self.application(environ, start_response)
        status, content = answered
        seconds = time.perf_counter() - started
        version = served_version(request)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(content))),
            *self._lean.fixed_headers(request).values(),
            ("X-Request-ID", request.request_id),
        ]
        if version:
            headers.append(("X-Model-Version", version))
        record(request, route[0], status, version, seconds)
        if status >= 400:  # as Django's handler logs it ("Bad Request: /api/v1/similar")
            problem = HttpResponse(status=status)
            log_response(
                "%s: %s", problem.reason_phrase, request.path, response=problem, request=request
            )
        start_response(f"{status} {responses[status]}", headers)
        return _Answer(content)


class _Answer(list):
    """The body of a lean answer; the server's ``close()`` ends the request as Django's
    response does."""

    def __init__(self, content: bytes):
        super().__init__((content,))

    def close(self) -> None:
        if _connections_open():  # CONN_MAX_AGE's rule for a connection the call opened
            signals.request_finished.send(sender=LeanApplication)
        else:  # the other receivers have nothing to do after a lean call
            prediction_log.buffer.maybe_flush()


def _connections_open() -> bool:
    """Whether this thread may hold an open database connection: one was opened in it since
    the last check (an authentication cache refresh opens one every few seconds; nothing else
    of a lean call does), or connections persist (``CONN_MAX_AGE``), whose age and health
    Django checks at every request's end."""
    opened = getattr(_opened, "flag", False)
    if not (opened or _persistent()):
        return False
    _opened.flag = False
    return any(c.connection is not None for c in connections.all(initialized_only=True))


@functools.cache
def _persistent() -> bool:
    """Whether a database keeps its connections between requests (``CONN_MAX_AGE`` not 0;
    ``None``: without limit)."""
    return any(db.get("CONN_MAX_AGE", 0) != 0 for db in settings.DATABASES.values())


_opened = threading.local()


def _connection_created(**_signal) -> None:
    _opened.flag = True


connection_created.connect(_connection_created, dispatch_uid="routing-lean-connections")


def _django_answer(response: HttpResponse, start_response):
    """A Django response sent as Django's WSGI handler sends it."""
    status = f"{response.status_code} {response.reason_phrase}"
    cookies = (("Set-Cookie", c.output(header="")) for c in response.cookies.values())
    start_response(status, [*response.items(), *cookies])
    return response


def _answer(request, view) -> tuple[int, bytes] | None:
    """The status and JSON body of a hot call, or None when the full stack must answer it
    (not a token of a caller with a role, a body the full parser must judge, DRF's errors)."""
    user = _user(request)
    if user is None:
        return None
    body = _parsed(request.body)
    if body is None:
        return None
    request.user = user
    try:
        answer, status = view(request, body), 200
    except DomainError as exc:
        answer, status = error_body(exc.code, exc.detail, exc.fields), exc.status_code
    except (APIException, DatabaseError):
        return None
    return status, _encoded(answer)


def _eligible(request) -> bool:
    """A bearer-token JSON POST with a declared body within the limit, to an allowed host."""
    meta = request.META
    if request.method != "POST" or not meta.get("HTTP_AUTHORIZATION", "").startswith(_BEARER):
        return False
    if meta.get("CONTENT_TYPE", "").lower().replace(" ", "") not in _JSON:
        return False
    if meta.get("HTTP_ACCEPT", "*/*").replace(" ", "") not in _ACCEPT:
        return False  # DRF negotiates it (indented JSON, or 406)
    if settings.SECURE_SSL_REDIRECT and not request.is_secure():
        return False  # SecurityMiddleware redirects it
    try:
        length = int(meta.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return False
    return 0 <= length <= settings.API_MAX_BODY_BYTES and _host_allowed(request)


_hosts: dict[tuple, bool] = {}  # (Host header, ALLOWED_HOSTS, DEBUG) -> allowed
HOSTS_KEPT = 64  # answers kept (a client may send any Host header: the rest are checked each time)


def _host_allowed(request) -> bool:
    """Whether ``request.get_host()`` accepts the request's host: its answer for a plain Host
    header (no X-Forwarded-Host) kept by the header and the settings it reads (the host name's
    parsing and the allowed-hosts patterns: 4-5 µs per call)."""
    host = request.META.get("HTTP_HOST")
    if host is None or "HTTP_X_FORWARDED_HOST" in request.META:
        return _get_host_passes(request)
    key = (host, tuple(settings.ALLOWED_HOSTS), settings.DEBUG)
    allowed = _hosts.get(key)
    if allowed is None:
        allowed = _get_host_passes(request)
        if len(_hosts) < HOSTS_KEPT:
            _hosts[key] = allowed
    return allowed


def _get_host_passes(request) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return True


def _encoded(answer: dict) -> bytes:
    try:
        return encode(answer)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the standard library's way
        return JSONRenderer().render(answer)


def _user(request):
    """The bearer token's user when they may call the inference API, else None."""
    try:
        found = _AUTH.authenticate(request)
    except (APIException, DatabaseError):
        return None
    if found is None or not has_role(found[0], Role.VIEWER):
        return None
    return found[0]


def _parsed(raw: bytes):
    """The JSON body, or None for anything the full parser must answer (bad JSON, numbers
    beyond 64 bits, nesting over the limit: nesting cannot exceed the count of brackets)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    limit = settings.API_MAX_JSON_DEPTH
    if raw.count(b"[") + raw.count(b"{") > limit and json_depth(data) > limit:
        return None
    return data
