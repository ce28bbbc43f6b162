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
        "A new account without --password gets a generated one, printed once; "
        "--reset generates a new one for an existing account (the old one stops working)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="Checked against the password rules.")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Generate a new password even if the account exists (printed once).",
        )
        parser.add_argument(
            "--login-file",
            default="",
            help="Write the login there (mode 0600) when a password is set (generated or given); "
            "otherwise leave the file as it is.",
        )

    def handle(
        self,
        username: str,
        password: str | None,
        email: str,
        reset: bool = False,
        login_file: str = "",
        **options,
    ):
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is not None and getattr(getattr(user, "account", None), "is_service", False):
            raise CommandError(f"{username!r} is a service account; choose another name.")
        if reset and password is not None:
            raise CommandError("Give either --password or --reset, not both.")
        generated = None
        if password is None and (user is None or reset):
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
        lines.append(f"Log in at {login_url()}")
        self.stdout.write("\n".join(lines))
        if login_file:
            # a password set now (generated or given) replaces the file; otherwise it is kept
            written = lines if (generated or password) else None
            self._keep_login(Path(login_file), written, username)

    def _keep_login(self, path: Path, lines: list[str] | None, username: str) -> None:
        """Write a generated login to a file only its owner reads; never overwrite it otherwise."""
        if lines is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
            self.stdout.write(f"Login written to {path} (readable by its owner only).")
        elif path.exists():
            self.stdout.write(f"Login kept in {path}.")
        else:
            self.stdout.write(
                f"The password is unchanged and not on file; for a new one: "
                f"manage.py create_admin {username} --reset --login-file {path}"
            )

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
