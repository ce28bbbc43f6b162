"""WhiteNoise with its file list made at the first request that reaches it."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.test import RequestFactory

from routing_site.staticfiles import LazyWhiteNoiseMiddleware

ADMIN_CSS = "/static/admin/css/base.css"


def page(request):
    return HttpResponse("page", status=200)


def test_nothing_is_listed_until_a_request_then_static_files_are_served_as_before():
    middleware = LazyWhiteNoiseMiddleware(page)
    assert middleware.files == {}  # no scan when the handler is built
    response = middleware(RequestFactory().get(ADMIN_CSS))
    assert response.status_code == 200
    expected = Path(finders.find("admin/css/base.css")).read_bytes()
    assert b"".join(response.streaming_content) == expected
    assert "immutable" not in response.headers.get("Cache-Control", "")
    assert ADMIN_CSS in middleware.files
    listed = dict(middleware.files)
    middleware.list_files()  # once only
    assert middleware.files == listed


def test_other_paths_and_unknown_static_files_reach_the_next_layer():
    middleware = LazyWhiteNoiseMiddleware(page)
    assert middleware(RequestFactory().get("/api/v1/health")).content == b"page"
    assert middleware(RequestFactory().get("/static/no/such.css")).content == b"page"
    assert middleware.files  # listed by the first request, whatever it asked


def test_concurrent_first_requests_all_find_the_file():
    middleware = LazyWhiteNoiseMiddleware(page)
    requests = [RequestFactory().get(ADMIN_CSS) for _ in range(16)]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda r: middleware(r).status_code, requests))
    assert statuses == [200] * 16
