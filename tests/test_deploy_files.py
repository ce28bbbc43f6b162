"""The deployment files: service definitions, units, installer, proxy; offline by construction."""

from __future__ import annotations

import configparser
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
WINSW = {"routing-web": "serve", "routing-cluster": "qcluster"}
UNITS = {"routing-web": "serve", "routing-cluster": "qcluster"}
URL = re.compile(r"https?://([A-Za-z0-9_.\-]+)")
LOCAL_HOSTS = {"localhost", "127.0.0.1"}


def winsw(name: str) -> ET.Element:
    return ET.parse(DEPLOY / "windows" / f"{name}.xml").getroot()


def unit(name: str) -> configparser.ConfigParser:
    # systemd units are INI-like; strict=False because [Unit] may repeat keys such as After=.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keep ExecStart, not execstart
    parser.read(DEPLOY / "linux" / f"{name}.service")
    return parser


@pytest.mark.parametrize("name", WINSW)
def test_it_defines_each_winsw_service(name):
    root = winsw(name)
    assert root.tag == "service"
    assert root.findtext("id") == name
    assert root.findtext("executable").endswith(r"\.venv\Scripts\python.exe")
    command = root.findtext("arguments").split()
    assert command[:2] == ["manage.py", WINSW[name]]
    assert root.findtext("workingdirectory")


def test_it_serves_the_web_on_all_interfaces_port_8000():
    arguments = winsw("routing-web").findtext("arguments")
    assert arguments == "manage.py serve --host 0.0.0.0 --port 8000"


@pytest.mark.parametrize("name", WINSW)
def test_it_rolls_winsw_logs_into_the_install_logs_folder(name):
    root = winsw(name)
    assert root.findtext("logpath").endswith(r"\logs")
    log = root.find("log")
    assert log.get("mode") == "roll-by-size"
    assert int(log.findtext("sizeThreshold")) > 0 and int(log.findtext("keepFiles")) > 0


@pytest.mark.parametrize("name", WINSW)
def test_it_restarts_a_failed_service_with_delays(name):
    actions = winsw(name).findall("onfailure")
    assert actions and all(a.get("action") == "restart" and a.get("delay") for a in actions)


def test_it_gives_a_stopping_training_time_to_be_marked_failed():
    seconds = int(winsw("routing-cluster").findtext("stoptimeout").split()[0])
    assert seconds >= 60  # the failure write may wait for SQLite's 20 s busy timeout
    assert int(unit("routing-cluster")["Service"]["TimeoutStopSec"]) >= 60


@pytest.mark.parametrize("name", WINSW)
def test_it_points_the_services_at_the_install_folders(name):
    env = {e.get("name"): e.get("value") for e in winsw(name).findall("env")}
    folders = {"ROUTING_MODELS_DIR": "models", "ROUTING_LOG_DIR": "logs", "ROUTING_VAR_DIR": "var"}
    for key, folder in folders.items():
        assert env[key].endswith("\\" + folder)


@pytest.mark.parametrize("name", UNITS)
def test_it_defines_each_systemd_unit(name):
    service = unit(name)["Service"]
    assert re.search(rf"\.venv/bin/python manage\.py {UNITS[name]}\b", service["ExecStart"])
    assert service["Restart"] == "on-failure"
    assert service["User"] == "routing"
    assert service["EnvironmentFile"] == "/etc/routing/routing.env"
    assert service["WorkingDirectory"] == "/opt/routing"
    assert "KillSignal" in service and int(service["TimeoutStopSec"]) > 0
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"


def test_it_documents_every_setting_in_the_env_example():
    read = set()
    for module in ("settings.py", "env.py"):  # env.py: what manage.py serve reads before them
        source = (DEPLOY.parent / "routing_site" / module).read_text()
        read |= set(re.findall(r'(?:getenv|envbool|envint|envpath)\("([A-Z_]+)"', source))
    assert {"ROUTING_MODELS_DIR", "ROUTING_SWITCH_INTERVAL_US", "DATABASE_URL"} <= read
    example = (DEPLOY / "linux" / "routing.env.example").read_text()
    documented = set(re.findall(r"^#?([A-Z_]+)=", example, re.MULTILINE))
    assert read - {"Q_SYNC", "RUNTIME_AUTOLOAD"} <= documented  # those two are for tests only


def test_it_installs_offline_and_silently():
    script = (DEPLOY / "windows" / "install.ps1").read_text()
    assert "--no-index" in script and "--find-links" in script
    assert "[switch]$Silent" in script and "-Silent" in script
    for step in ("migrate", "collectstatic", "create_admin", "preflight", "smoke", "py.exe"):
        assert step in script
    for parameter in ("$InstallDir", "$Port", "$Uninstall", "$KeepLogs", "$Wheelhouse"):
        assert parameter in script


def test_it_keeps_logs_models_and_var_on_uninstall_by_default():
    script = (DEPLOY / "windows" / "install.ps1").read_text()
    assert "[switch]$KeepLogs = $true" in script
    assert '$KeptOnUninstall = @("logs", "models", "var"' in script


def test_it_builds_hnswlib_into_the_wheelhouse():
    for path in (DEPLOY / "build-wheelhouse.sh", DEPLOY / "windows" / "build-wheelhouse.ps1"):
        text = path.read_text()
        assert "requirements" in text and "base.txt" in text and "hnswlib" in text
        assert "--no-index" in text  # each proves its wheelhouse installs offline


def test_it_proxies_to_three_local_inference_processes():
    conf = (DEPLOY / "nginx" / "routing.conf").read_text()
    assert re.findall(r"server 127\.0\.0\.1:(\d+)", conf) == ["8001", "8002", "8003"]
    assert "proxy_pass http://routing_inference;" in conf


def test_no_deploy_file_points_to_the_internet():
    nginx = (DEPLOY / "nginx" / "routing.conf").read_text()
    upstreams = set(re.findall(r"upstream\s+(\w+)", nginx))
    offenders = []
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        for host in URL.findall(path.read_text(errors="replace")):
            if host.lower() not in LOCAL_HOSTS | upstreams:
                offenders.append(f"{path.relative_to(DEPLOY)}: {host}")
    assert offenders == []
