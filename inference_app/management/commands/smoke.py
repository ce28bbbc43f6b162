import json
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Call /api/v1/health of a running server and confirm it serves the registry's active "
        "version with the manifest checksum recorded at training."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default=f"http://127.0.0.1:{settings.SERVE_PORT}",
            help="base URL of the running server",
        )
        parser.add_argument("--timeout", type=float, default=10.0)
        parser.add_argument(
            "--token",
            default="",
            help="bearer token for the health details (default: a one-minute access token of "
            "an admin account, signed here)",
        )

    def handle(self, *args, url, timeout, token, **options):
        from registry_app.models import ModelVersion

        target = url.rstrip("/") + "/api/v1/health"
        request = urllib.request.Request(
            target, headers={"Authorization": f"Bearer {token or self.admin_token()}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise CommandError(
                f"{target} did not answer ({exc}). Is the server running (manage.py serve)?"
            ) from None
        active = ModelVersion.objects.active()
        serving, sha = body.get("serving_version"), (body.get("manifest") or {}).get("sha256")
        if active is None:
            raise CommandError("The registry has no active version: activate one first.")
        if serving != active.label:
            raise CommandError(
                f"Server serves {serving or 'nothing'} but the active version is "
                f"{active.label}: {body.get('detail') or 'still loading?'}"
            )
        if sha != active.manifest_sha256:
            raise CommandError(
                f"Manifest checksum of {serving} differs: server {sha}, registry "
                f"{active.manifest_sha256}. Run manage.py verify {serving}."
            )
        self.stdout.write(
            f"OK: {target} serves {serving}, manifest sha256 {sha[:16]}… matches; "
            f"status {body.get('status')}."
        )

    def admin_token(self) -> str:
        """Anonymous health answers only its status: sign a short access token for an admin."""
        from datetime import timedelta

        from django.contrib.auth import get_user_model
        from rest_framework_simplejwt.tokens import AccessToken

        admin = get_user_model().objects.filter(is_superuser=True, is_active=True).first()
        if admin is None:
            raise CommandError("No admin account: run manage.py create_admin, or pass --token.")
        token = AccessToken.for_user(admin)
        token.set_exp(lifetime=timedelta(minutes=1))
        return str(token)
