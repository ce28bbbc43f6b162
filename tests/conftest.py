"""Shared test fixtures: a real waitress server on a loopback port, a cast of users."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = REPO / "tests" / "data"  # small public files the tests read (see its README)


@pytest.fixture(autouse=True)
def _isolated_dirs(settings, tmp_path):
    """Every test gets its own artifact store and log folder."""
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    yield


@pytest.fixture
def waitress_server(transactional_db):
    """Serve the project with waitress on 127.0.0.1:<free port>; yields the base URL."""
    from inference_app.inline import make_server
    from routing_site.wsgi import application

    # the server manage.py serve runs (short API calls answered by waitress's main thread)
    server = make_server(application, socket.create_server(("127.0.0.1", 0)), threads=6)
    port = server.effective_port

    def serve():
        try:
            server.run()
        except OSError:  # the listening socket was closed under the loop at teardown
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def plant_db(tmp_path_factory) -> Path:
    """A small generated plant database (SQLite, the three source tables), made once."""
    from registry_app.pipeline.sample_data import generate

    path = tmp_path_factory.mktemp("plant") / "plant.sqlite"
    generate(path, items=1200, seed=11)
    return path


def register_source(name: str, kind: str, location, **fields):
    """Register (or re-point) the data source ``name`` as an admin would; returns the row."""
    from workflow_app.models import DataSource

    row = DataSource.objects.filter(name=name).first()
    if row is None:
        return DataSource.objects.register(name=name, kind=kind, location=str(location), **fields)
    return row.change(kind=kind, location=str(location), **fields)


@pytest.fixture
def plant_source(db, settings, plant_db):
    """The generated plant registered as the ``default`` data source (its folder a root)."""
    settings.ROUTING_SOURCE = f"sqlite:///{plant_db.as_posix()}"
    return register_source("default", "sqlite", plant_db.as_posix())


@pytest.fixture
def source_roots(settings, tmp_path) -> None:
    """Lets a test's data sources read the files of its own tmp_path."""
    settings.ROUTING_SOURCE_ROOTS = str(tmp_path)


@pytest.fixture
def quick_training(db, plant_source):
    """Train a version in-process (small evaluation sample to keep tests quick)."""
    from workflow_app.models import WorkflowConfig

    WorkflowConfig.apply({"eval_sample": 150})

    def train():
        from registry_app.pipeline.training import execute_run, request_run

        run = request_run("", trigger="cli")
        return execute_run(run.pk)

    return train


@pytest.fixture(autouse=True)
def _fresh_runtime():
    from inference_app.runtime import runtime

    runtime.reset()
    yield
    runtime.reset()


class Api:
    """A tiny JSON client for the waitress server (urllib: what an ERP script would use)."""

    def __init__(self, base: str, token: str | None = None):
        self.base, self.token = base, token

    def call(self, method: str, path: str, body=None, raw: bytes | None = None, headers=None):
        import json
        import urllib.error
        import urllib.request

        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload, head = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, payload, head = exc.code, exc.read(), exc.headers
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode("utf-8", "replace")
        return status, parsed, head

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)


def issue_token(username: str, role: str) -> str:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("issue_token", username, "--role", role, stdout=out)
    return out.getvalue().strip().splitlines()[-1]


@pytest.fixture
def active_model(quick_training):
    """A trained, approved and active version, loaded by this process's runtime."""
    from inference_app.runtime import runtime

    version = quick_training()
    version.approve()
    version.activate()
    runtime.refresh()
    assert runtime.model is not None and runtime.model.label == version.label
    return version


@pytest.fixture
def two_versions(quick_training):
    """An active version and a newer pending one (both really trained)."""
    first, second = quick_training(), quick_training()
    first.approve()
    first.activate()
    return first, second


@pytest.fixture
def api(waitress_server):
    return Api(waitress_server, issue_token("erp-test", "viewer"))


@pytest.fixture
def admin_api(waitress_server):
    return Api(waitress_server, issue_token("ops-test", "admin"))


@pytest.fixture(autouse=True)
def _own_cache(settings, request):
    """Each test gets an empty in-memory cache (the site's file cache outlives test runs)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": request.node.nodeid,
        }
    }


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _quiet_poller(request, settings):
    """An API request starts the runtime poller. Outside transactional tests its thread would
    read tables that the test's open transaction holds (SQLite: "table is locked"), so it polls
    only at start there; tests of the live swap use transactional_db and their own interval."""
    if "transactional_db" not in request.fixturenames:
        settings.RUNTIME_POLL_SECONDS = 3600


@pytest.fixture
def engineer_api():
    from rest_framework.test import APIClient

    from accounts_app.testing import make_user

    client = APIClient()
    client.force_authenticate(make_user("eng", "engineer"))
    return client


@pytest.fixture
def viewer_api():
    from rest_framework.test import APIClient

    from accounts_app.testing import make_user

    client = APIClient()
    client.force_authenticate(make_user("viv", "viewer"))
    return client


@pytest.fixture
def admin_client(db, client):
    """A logged-in admin (approved account with the admin role), for admin pages."""
    from accounts_app.testing import make_user

    client.force_login(make_user("boss", "admin"))
    return client


CHROMIUM = "/usr/bin/chromium"  # Debian's Chromium, driven by Playwright
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-background-networking", "--disable-gpu"]


def launched_chromium(screens: Path):
    """Yield Debian's Chromium under Playwright (for a module-scoped ``browser`` fixture).

    Playwright's sync API keeps an event loop in this thread, which makes Django refuse ORM
    calls here; the tests' own queries are plain synchronous reads, so they are allowed."""
    import os

    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (scripts/test.sh does)")
    screens.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def served_version(quick_training, settings):
    """A trained version and its folder, named in ``models/active.json`` as the one served last
    (what a serving process's start reads early)."""
    version = quick_training()
    (settings.MODELS_DIR / "active.json").write_text(json.dumps({"label": version.label}))
    return version, settings.MODELS_DIR / version.label
