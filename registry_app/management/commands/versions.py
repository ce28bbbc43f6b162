import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "List model versions with their state, data counts and evaluation figures."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON array")

    def handle(self, *args, **options):
        from registry_app.models import ModelVersion
        from registry_app.serializers import version_dict

        versions = [version_dict(v) for v in ModelVersion.objects.order_by("-number")]
        if options["json"]:
            self.stdout.write(json.dumps(versions, indent=2, default=str))
            return
        if not versions:
            self.stdout.write("No model versions yet. Train one: manage.py train --wait")
            return
        self.stdout.write(
            f"{'version':8} {'state':9} {'items':>8} {'top1':>6} {'hit@N':>6}  created"
        )
        for v in versions:
            model = (v["metrics"] or {}).get("model", {})
            self.stdout.write(
                f"{v['label']:8} {v['state']:9} {v['data_counts'].get('items', ''):>8} "
                f"{model.get('top1_exact', ''):>6} {model.get('hit_at_n', ''):>6}  "
                f"{v['created_at']:%Y-%m-%d %H:%M}"
            )
        active = [v["label"] for v in versions if v["state"] == "active"]
        self.stdout.write(f"{len(versions)} versions; active: {active[0] if active else 'none'}")
