"""Shared test fixtures: a real waitress server on a loopback port, a cast of users."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The customer's shared folder (real Access files); beside the repository clone."""
    import os

    return Path(os.getenv("ROUTING_SHARED_DIR", REPO.parent / "shared"))


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
    from waitress.server import create_server

    from routing_site.wsgi import application

    server = create_server(application, host="127.0.0.1", port=0, threads=6, _start=True)
    port = server.effective_port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        thread.join(timeout=5)
