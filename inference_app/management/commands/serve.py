import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Serve the console and the API with waitress (static files included). Loads the active "
        "model version before accepting requests and follows the registry from then on."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.SERVE_HOST)
        parser.add_argument("--port", type=int, default=settings.SERVE_PORT)
        parser.add_argument("--threads", type=int, default=settings.SERVE_THREADS)

    def handle(self, *args, host, port, threads, **options):
        from waitress import serve

        from inference_app.runtime import runtime
        from routing_site.wsgi import application

        if not 0 < port < 65536 or threads < 1:
            raise CommandError("--port must be 1..65535 and --threads at least 1.")
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if probe.connect_ex((host if host != "0.0.0.0" else "127.0.0.1", port)) == 0:
                raise CommandError(
                    f"Port {port} on {host} is already in use: stop the other server "
                    "or choose another port with --port."
                )
        runtime.start()
        health = runtime.health()
        self.stdout.write(
            f"Model: {health['serving_version'] or 'none'} ({health['status']})"
            + (f" — {health['detail']}" if health["detail"] else "")
        )
        self.stdout.write(
            f"Serving on http://{host}:{port}/ with {threads} threads (Ctrl+C stops)."
        )
        serve(
            application,
            host=host,
            port=port,
            threads=threads,
            ident="routing-ml",
            channel_timeout=60,
            connection_limit=200,
        )
