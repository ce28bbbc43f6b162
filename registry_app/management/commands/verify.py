from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError


class Command(BaseCommand):
    help = "Check a version's files against its manifest (size, SHA-256) and the installed runtime."

    def add_arguments(self, parser):
        parser.add_argument("version", help="version label, e.g. v0003")

    def handle(self, *args, version, **options):
        from registry_app.models import ModelVersion
        from registry_app.pipeline.manifest import verify_version_dir

        try:
            row = ModelVersion.objects.get_by_label(version)
            manifest = verify_version_dir(row.path, row.manifest_sha256 or None)
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        n = len(manifest["artifacts"])
        size = sum(a["size"] for a in manifest["artifacts"]) / 1e6
        self.stdout.write(
            f"{row.label}: OK — {n} files ({size:.1f} MB) match manifest.json; "
            f"runtime compatible; manifest sha256 {row.manifest_sha256[:16]}…"
        )
