"""Console pages: login required, rendered for each role, offline, and the runtime banner."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from accounts_app.testing import make_user
from inference_app.runtime import runtime

PAGES = ["/", "/editor/", "/blueprints/"]
REPO = Path(__file__).resolve().parent.parent
# a URL with a scheme or a protocol-relative one, anywhere a page could load something from
EXTERNAL = re.compile(
    r"""(?:src|href|action|url)\s*[=(]\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.IGNORECASE
)
ANY_URL = re.compile(r"https?://", re.I)
STATIC_REF = re.compile(r"""(?:src|href)="(/static/[^"]+)\"""")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _runtime_set_by_the_test(settings):
    # Pages start the runtime when RUNTIME_AUTOLOAD is on; here each test sets its state itself.
    settings.RUNTIME_AUTOLOAD = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    runtime.reset()
    yield
    runtime.reset()


@pytest.fixture
def viewer(client):
    client.force_login(make_user("vera", "viewer"))
    return client


@pytest.fixture
def engineer(client):
    client.force_login(make_user("enzo", "engineer"))
    return client


@pytest.fixture
def operator(client):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("olga", "olga@example.com", "x-Plant-2024!")
    client.force_login(user)
    return client


def serving(label: str, active: str | None = None, registry_ok: bool = True) -> None:
    """Put the runtime in a state: ``label`` loaded, the registry naming ``active``."""
    runtime.model = SimpleNamespace(
        label=label, manifest_sha256="ab" * 32, loaded_at=time.time(), load_seconds=0.1
    )
    runtime.active_label = active or label
    runtime.registry_ok = registry_ok
    runtime.registry_error = "" if registry_ok else "OperationalError: database is locked"


class TestAccess:
    @pytest.mark.parametrize("path", PAGES)
    def test_it_sends_strangers_to_the_login_page(self, client, path):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={path}"

    @pytest.mark.parametrize(
        ("path", "marker"),
        [
            ("/", 'id="chart-latency"'),
            ("/editor/", 'id="ops-table"'),
            ("/blueprints/", 'id="bp-canvas"'),
        ],
    )
    def test_it_renders_each_page_for_a_viewer(self, viewer, path, marker):
        response = viewer.get(path)
        assert response.status_code == 200
        html = response.content.decode()
        assert marker in html
        assert "js/auth.js" in html  # the shared API helper from base.html

    def test_the_editor_offers_saving_to_engineers_only(self, client):
        client.force_login(make_user("vera", "viewer"))
        html = client.get("/editor/").content.decode()
        assert 'data-can-save="false"' in html
        assert re.search(r'id="save-btn"[^>]*disabled', html)
        client.force_login(make_user("enzo", "engineer"))
        html = client.get("/editor/").content.decode()
        assert 'data-can-save="true"' in html
        assert not re.search(r'id="save-btn"[^>]*disabled', html)

    def test_the_editor_takes_an_item_code_from_the_query(self, viewer):
        html = viewer.get("/editor/?item=AD0100000").content.decode()
        assert 'value="AD0100000"' in html

    def test_pages_answer_only_get(self, viewer):
        assert viewer.post("/").status_code in (403, 405)


class TestOffline:
    @pytest.mark.parametrize("path", PAGES)
    def test_a_page_loads_nothing_from_another_host(self, viewer, path):
        html = viewer.get(path).content.decode()
        assert not EXTERNAL.findall(html)
        assert not ANY_URL.findall(html)

    @pytest.mark.parametrize("path", PAGES)
    def test_every_script_and_style_a_page_names_is_served(self, viewer, path):
        html = viewer.get(path).content.decode()
        refs = STATIC_REF.findall(html)
        assert any(ref.endswith(".js") for ref in refs)
        for ref in refs:
            response = viewer.get(ref)
            assert response.status_code == 200, ref
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)  # close the file WhiteNoise opened

    def test_our_scripts_and_styles_name_no_outside_address(self):
        files = [
            *REPO.glob("static/js/*.js"),
            *REPO.glob("static/css/*.css"),
            *REPO.glob("templates/console/*.html"),
            REPO / "templates/admin/base_site.html",
        ]
        assert files
        offenders = [f.name for f in files if ANY_URL.search(f.read_text(encoding="utf-8"))]
        assert offenders == []

    def test_echarts_is_vendored_with_its_licence(self):
        folder = REPO / "static/vendor/echarts"
        assert (folder / "echarts.min.js").stat().st_size > 500_000
        assert "Apache License" in (folder / "LICENSE").read_text(encoding="utf-8")


class TestRuntimeBanner:
    def test_the_admin_shows_the_banner_when_the_runtime_is_degraded(self, operator):
        serving("v0001", active="v0002")
        runtime.failed["v0002"] = "manifest.json: sha256 mismatch for index.bin"
        html = operator.get("/admin/").content.decode()
        assert 'class="messagelist runtime-banner" data-status="degraded"' in html
        assert "Active version v0002 not served" in html
        assert "sha256 mismatch for index.bin" in html
        assert '<a href="/">Open the dashboard</a>' in html

    def test_the_admin_shows_the_registry_alerts(self, operator):
        serving("v0001", registry_ok=False)
        runtime.alert("ERROR", "Registry database unreadable: database is locked")
        html = operator.get("/admin/").content.decode()
        assert 'data-status="degraded"' in html
        assert "Registry database unreadable: database is locked" in html

    def test_the_admin_shows_no_banner_when_all_is_well(self, operator):
        serving("v0001")
        html = operator.get("/admin/").content.decode()
        assert "runtime-banner" not in html
        assert '<a href="/">Dashboard</a>' in html  # the way back to the console

    @pytest.mark.parametrize("path", PAGES)
    def test_console_pages_show_the_banner_when_no_model_serves(self, viewer, path):
        html = viewer.get(path).content.decode()
        assert 'runtime-banner" role="alert" data-status="unavailable"' in html
        assert "No active model version" in html

    @pytest.mark.parametrize("path", PAGES)
    def test_console_pages_show_no_banner_when_all_is_well(self, viewer, path):
        serving("v0001")
        assert "runtime-banner" not in viewer.get(path).content.decode()

    def test_strangers_see_no_banner_on_the_login_page(self, client):
        html = client.get("/login/").content.decode()
        assert "runtime-banner" not in html

    def test_a_page_starts_the_runtime_when_autoload_is_on(self, viewer, settings):
        settings.RUNTIME_AUTOLOAD = True
        settings.RUNTIME_POLL_SECONDS = 3600  # one read at start; the poller then sleeps
        html = viewer.get("/").content.decode()
        assert runtime._thread is not None and runtime._thread.is_alive()
        assert runtime.registry_ok  # it read the registry: no active version yet
        assert "No active model version" in html
