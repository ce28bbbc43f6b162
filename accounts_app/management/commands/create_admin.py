import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create an admin account for the installer, or make an existing one an active admin. "
        "Idempotent: an existing account keeps its password unless --password is given. "
        "A new account without --password gets a generated one, printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="Checked against the password rules.")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--login-file",
            help="Also keep what is printed in this file, created readable by its owner only "
            "(mode 0600). Written only when a password was set, so a re-run keeps it.",
        )

    def handle(self, username: str, password: str | None, email: str, **options):
        lines = self._create_or_promote(username, password, email)
        for line in lines:
            self.stdout.write(line)
        password_set = password is not None or lines[0].startswith("Created")
        if options["login_file"] and password_set:
            write_private(Path(options["login_file"]), "\n".join(lines) + "\n")

    def _create_or_promote(self, username: str, password: str | None, email: str) -> list[str]:
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is not None and getattr(getattr(user, "account", None), "is_service", False):
            raise CommandError(f"{username!r} is a service account; choose another name.")
        generated = None
        if password is None and user is None:
            password = generated = secrets.token_urlsafe(12)
        if password is not None:
            self._check(password, user or get_user_model()(username=username, email=email))
        if user is None:
            users.create_superuser(username, email, password)  # the signal approves it as admin
            summary = f"Created admin {username}."
        else:
            self._promote(user, password, email)
            summary = f"Admin {username} already existed; it is an active admin" + (
                "; password changed." if password else "; password unchanged."
            )
        lines = [summary]
        if generated:
            lines.append(f"Password (shown once): {generated}")
        return [*lines, f"Log in at {login_url()}"]

    def _check(self, password: str, user) -> None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from None

    def _promote(self, user, password: str | None, email: str) -> None:
        user.is_superuser = user.is_staff = user.is_active = True
        if email:
            user.email = email
        if password:
            user.set_password(password)
        user.save()  # the signal approves the account as admin (audited)


def login_url() -> str:
    host = settings.SERVE_HOST
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    return f"http://{host}:{settings.SERVE_PORT}/login/"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 from the first byte: a new file is created
    with that mode (``O_CREAT|O_EXCL``) beside the target, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
