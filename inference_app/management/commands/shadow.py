import json

from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError

FIGURES = [
    ("requests", "requests replayed"),
    ("overlap_at_10", "overlap@10 of similar items"),
    ("top_changed_share", "share whose top candidate changes"),
    ("saved_requests", "requests with a saved routing"),
    ("active_edit_similarity", "edit similarity to saved, active"),
    ("candidate_edit_similarity", "edit similarity to saved, this version"),
]


class Command(BaseCommand):
    help = (
        "Replay recent live predict requests on a version beside the active one (no effect on "
        "live traffic): overlap@10, share of changed top candidates, edit similarity to saved "
        "routings. A version that would change most answers is flagged."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", help="version label, e.g. v0003")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--limit", type=int, default=None, help="requests to replay (default: the setting)"
        )

    def handle(self, *args, version, **options):
        from inference_app.shadow import shadow_report
        from registry_app.models import ModelVersion

        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        try:
            row = ModelVersion.objects.get_by_label(version)
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        report = shadow_report(row, options["limit"])
        if options["json"]:
            self.stdout.write(json.dumps(report))
            return
        if report["available"]:
            self.stdout.write(f"{report['version']} beside active {report['active']}:")
            for key, title in FIGURES:
                value = report[key]
                self.stdout.write(f"  {title:<42} {'—' if value is None else value}")
        self.stdout.write(("FLAGGED: " if report["flagged"] else "") + report["message"])
