import os
import platform
import socket
import struct
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Check the installation before starting: ODBC driver and source database, writable "
        "folders, database, service port, task broker. Prints each check with a fix hint; exits "
        "non-zero when any check fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--profile", default="", help="input profile whose source is checked")
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument(
            "--host", default=settings.SERVE_HOST, help="address the server will listen on"
        )
        parser.add_argument(
            "--skip-port", action="store_true", help="the server is already running"
        )

    def handle(self, *args, profile, port, host, skip_port, **options):
        checks = [
            ("allowed host names", lambda: self.check_hosts(host)),
            ("source database readable", lambda: self.check_source(profile)),
            ("folders writable", self.check_folders),
            ("registry database", self.check_database),
            ("task broker (django-q)", self.check_broker),
        ]
        if not skip_port:
            checks.append((f"port {port} free", lambda: self.check_port(port)))
        failed = 0
        for name, check in checks:
            try:
                detail = check()
            except Exception as exc:  # every failure becomes a line with its hint
                failed += 1
                self.stdout.write(self.style.ERROR(f"FAIL  {name}: {exc}"))
            else:
                self.stdout.write(
                    self.style.SUCCESS(f"ok    {name}") + (f": {detail}" if detail else "")
                )
        if failed:
            raise CommandError(
                f"{failed} of {len(checks)} checks failed; fix them and run preflight again."
            )
        self.stdout.write(f"All {len(checks)} checks passed.")

    def check_source(self, profile_name: str) -> str:
        from workflow_app.config import get_input_profile
        from workflow_app.profiles import resolve_source

        profile = get_input_profile(profile_name or None)
        registered = resolve_source(profile)
        source = f"{registered.name} ({registered.kind}:{registered.shown_location()})"
        if registered.kind == "odbc":
            self._check_odbc_driver(registered.location)
        with registered.open() as src:
            tables = set(src.tables())
        wanted = [t for t in profile["tables"].values() if t]
        missing = [t for t in wanted if t not in tables]
        if missing:
            raise RuntimeError(
                f"{source}: missing table(s) {', '.join(missing)}; fix the profile's "
                "table names (manage.py dump_profile / load_profile)."
            )
        return f"{source} ({len(wanted)} tables found)"

    def _check_odbc_driver(self, source: str) -> None:
        import pyodbc

        drivers = pyodbc.drivers()
        bits = struct.calcsize("P") * 8
        if not drivers:
            hint = (
                (
                    "install the Microsoft Access Database Engine with the same bitness as Python "
                    f"({bits}-bit)"
                )
                if platform.system() == "Windows"
                else "apt-get install unixodbc odbc-mdbtools libsqliteodbc"
            )
            raise RuntimeError(f"no ODBC driver installed: {hint}")
        upper = source.upper()
        if "DRIVER=" in upper:
            wanted = upper.split("DRIVER=", 1)[1].split(";", 1)[0].strip("{}")
            if wanted not in (d.upper() for d in drivers):
                raise RuntimeError(
                    f"ODBC driver {wanted!r} not installed ({bits}-bit Python sees: "
                    f"{', '.join(drivers)}). On Windows the Access driver's bitness "
                    "must match Python's."
                )

    def check_hosts(self, host: str) -> str:
        hosts = settings.ALLOWED_HOSTS
        if settings.DEBUG or host in ("127.0.0.1", "localhost", "::1"):
            return ", ".join(hosts)
        if "*" in hosts:
            raise RuntimeError(
                f"ALLOWED_HOSTS is '*' while the server listens on {host}: any Host header is "
                "accepted. Set ALLOWED_HOSTS to the names clients use (comma-separated)."
            )
        if not set(hosts) - set(settings.LOOPBACK_HOSTS):
            raise RuntimeError(
                f"ALLOWED_HOSTS lists only loopback names while the server listens on {host}: "
                "clients on other machines would get 400. Set ALLOWED_HOSTS to their names."
            )
        return ", ".join(hosts)

    def check_folders(self) -> str:
        folders = [settings.MODELS_DIR, settings.LOG_DIR, settings.VAR_DIR]
        db = settings.DATABASES["default"]
        if "sqlite" in db["ENGINE"]:
            folders.append(Path(db["NAME"]).parent)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder):
                pass
        return ", ".join(str(f) for f in folders)

    def check_database(self) -> str:
        from django.db import connection
        from django.db.migrations.executor import MigrationExecutor

        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            raise RuntimeError(f"{len(pending)} migration(s) not applied: run manage.py migrate")
        return connection.vendor

    def check_broker(self) -> str:
        from django_q.brokers import get_broker

        broker = get_broker()
        if not broker.ping():
            raise RuntimeError("broker not reachable: check REDIS_URL or the database")
        return type(broker).__name__

    def check_port(self, port: int) -> str:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((settings.SERVE_HOST, port)) == 0:
                raise RuntimeError(
                    f"something already listens on {settings.SERVE_HOST}:{port}; stop "
                    "it or set ROUTING_PORT"
                )
        return f"{settings.SERVE_HOST}:{port} (pid {os.getpid()} checked)"
