"""manage.py serve: waitress on a real port, one or several worker processes, clear refusals."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(tmp_path) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'registry.sqlite3'}",
        ROUTING_MODELS_DIR=str(tmp_path / "models"),
        ROUTING_LOG_DIR=str(tmp_path / "logs"),
        ROUTING_VAR_DIR=str(tmp_path / "var"),
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True)
    return env


def issue_token(env: dict) -> str:
    """A viewer's service token in the server's registry: the health details need one."""
    command = [sys.executable, "manage.py", "issue_token", "probe", "--role", "viewer"]
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return run.stdout.strip().splitlines()[-1]


def health(port: int, token: str = "") -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/health", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for_health(port: int, token: str = "") -> tuple[int, dict]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            return health(port, token)
        except OSError:
            time.sleep(0.1)
    pytest.fail("the server did not answer within 30 s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork")
def test_two_workers_share_the_port_and_stop_together(tmp_path):
    env, port = env_for(tmp_path), free_port()
    env["ROUTING_SWITCH_INTERVAL_US"] = "300"
    token = issue_token(env)
    out = tmp_path / "serve.out"
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
        cwd=REPO, env=env, stdout=out.open("w"), stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        status, body = wait_for_health(port, token)
        # no model yet: the service runs and says why
        assert status == 503 and body["status"] == "unavailable"
        assert "No active model" in body["detail"]
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        assert health(port) == (503, {"status": "unavailable"})  # anonymous: the status only
        pids = {health(port, token)[1]["pid"] for _ in range(40)}
        assert pids <= {w.pid for w in workers}
        # the supervisor's system checks at a lower CPU priority than the workers' answers
        nice = {w.nice() for w in workers}
        assert len(nice) == 1
        wanted, deadline = min(19, nice.pop() + 10), time.monotonic() + 30
        while psutil.Process(server.pid).nice() != wanted and time.monotonic() < deadline:
            time.sleep(0.05)  # the supervisor lowers it right after the fork
        assert psutil.Process(server.pid).nice() == wanted
        deadline = time.monotonic() + 60  # the checks, at that priority, on a busy machine
        while "System checks passed in " not in out.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert all(not w.is_running() or w.status() == psutil.STATUS_ZOMBIE for w in workers)
    output = out.read_text().splitlines()
    # the interval the process really runs with, read back from the interpreter
    assert any("2 process(es) × 8 threads, switch interval 0.3 ms" in x for x in output)
    # the start-up stages, one after the other; beside the load the WSGI application's import,
    # and the system checks once the workers served
    line = next(x for x in output if x.startswith("Start-up "))
    found = json.loads(line.removeprefix("Start-up "))
    assert list(found["stages"])[:3] == ["imports", "Django setup", "registry read"]
    assert "imports after the load" in found["stages"]
    assert found["beside"]["WSGI application import"] > 0
    assert "system checks and URL imports" not in found["beside"]
    served = next(i for i, x in enumerate(output) if x.startswith("Serving on"))
    assert any(x.startswith("System checks passed in ") for x in output[served:])


def test_one_worker_runs_the_system_checks_beside_the_load(tmp_path):
    env, port = env_for(tmp_path), free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        wait_for_health(port)
    finally:
        server.terminate()
        server.wait(timeout=20)
    output = server.stdout.read().splitlines()
    found = json.loads(next(x for x in output if x.startswith("Start-up ")).split(" ", 1)[1])
    assert "checks after the load" in found["stages"]
    assert found["beside"]["system checks and URL imports"] > 0


NEEDS_FORK = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork")


@pytest.mark.parametrize("workers", [1, pytest.param(2, marks=NEEDS_FORK)])
def test_a_system_check_error_stops_the_service_with_its_message(tmp_path, workers):
    """One worker: before anything is served. Several: the checks run while the workers answer;
    the error stops them all (the port is free again) and the service, with the message."""
    env, port = env_for(tmp_path), free_port()
    env["CSRF_TRUSTED_ORIGINS"] = "console.example"  # Django's check 4_0.E001: no scheme
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "SystemCheckError" in result.stderr
    assert "CSRF_TRUSTED_ORIGINS setting must start with a scheme" in result.stderr
    assert "System checks passed" not in result.stdout
    assert ("Serving on" in result.stdout) == (workers > 1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # no worker left listening on it


def test_a_port_in_use_is_refused_with_the_fix(tmp_path):
    env = env_for(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "choose another port with --port" in result.stderr


def test_serve_caches_the_bytecode_of_its_modules_other_commands_follow_the_environment(
    tmp_path,
):
    """A start compiles the project's modules once, not at every start, even when the
    environment says not to write bytecode; the other commands keep to the environment."""
    env = env_for(tmp_path)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cached = {}
    for name, command in (("serve", ["serve", "--port"]), ("versions", ["versions"])):
        env["PYTHONPYCACHEPREFIX"] = str(tmp_path / f"pyc-{name}")
        with socket.socket() as busy:  # serve stops at the port, after its imports
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            port = str(busy.getsockname()[1])
            result = subprocess.run(
                [sys.executable, "manage.py", *command, *([port] if name == "serve" else [])],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        assert ("Cannot listen on" in result.stderr) == (name == "serve"), result.stderr
        cached[name] = {p.name for p in (tmp_path / f"pyc-{name}").rglob("*.pyc")}
    tag = sys.implementation.cache_tag
    assert {f"settings.{tag}.pyc", f"serve.{tag}.pyc", f"filehash.{tag}.pyc"} <= cached["serve"]
    assert cached["versions"] == set()


def test_a_bad_switch_interval_is_reported_by_the_settings_not_a_traceback_of_the_start(tmp_path):
    env = env_for(tmp_path)
    env["ROUTING_SWITCH_INTERVAL_US"] = "fast"
    result = subprocess.run(
        [sys.executable, "manage.py", "serve", "--port", str(free_port())],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ROUTING_SWITCH_INTERVAL_US must be an integer, not 'fast'" in result.stderr
    assert "prepare_serving" not in result.stderr


def test_answers_below_and_above_send_bytes_arrive_whole_on_one_keep_alive_connection():
    """waitress with serve's options (small answers sent by its main thread): every size of
    answer arrives complete and at once, one after another on the same connection."""
    import http.client
    import threading

    from waitress.server import create_server

    from inference_app.management.commands.serve import SEND_BYTES, waitress_options

    def app(environ, start_response):
        size = int(environ["PATH_INFO"].strip("/"))
        body = (b"0123456789" * (size // 10 + 1))[:size]
        start_response("200 OK", [("Content-Length", str(size))])
        return [body]

    options = waitress_options()
    assert options["send_bytes"] == SEND_BYTES and options["ident"] == "routing-ml"
    server = create_server(app, host="127.0.0.1", port=0, threads=2, **options)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=2)
        for size in (12, SEND_BYTES - 1, SEND_BYTES, 100_000, 12):
            started = time.perf_counter()
            conn.request("GET", f"/{size}")
            response = conn.getresponse()
            body = response.read()
            assert len(body) == size and body[:10] == b"0123456789"[: min(10, size)]
            assert time.perf_counter() - started < 1.0  # not held back waiting for more bytes
        conn.close()
    finally:
        server.close()
        thread.join(timeout=5)


def test_a_waitress_without_send_bytes_is_served_without_it(monkeypatch):
    from waitress.adjustments import Adjustments

    from inference_app.management.commands.serve import WAITRESS_OPTIONS, waitress_options

    known = {k: v for k, v in Adjustments._param_map.items() if k != "send_bytes"}
    monkeypatch.setattr(Adjustments, "_param_map", known)
    assert waitress_options() == WAITRESS_OPTIONS
