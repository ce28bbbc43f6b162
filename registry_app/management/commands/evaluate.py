import json

from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError

ROWS = [
    ("coverage", "coverage"),
    ("top1_exact", "top-1 exact sequence"),
    ("hit_at_n", "hit@N"),
    ("op_edit_similarity", "op-code edit similarity"),
    ("wc_edit_similarity", "work-center edit similarity"),
    ("op_jaccard", "op-set Jaccard"),
    ("best_op_edit_similarity", "best-of-N op edit similarity"),
    ("lead_time_mdape", "lead-time MdAPE (lower is better)"),
]


HEADS = {
    "model": "model",
    "most_frequent": "frequent",
    "same_attributes": "same-attr",
    "nearest": "1-NN",
    "knn_medoid": "5-NN med",
}


class Command(BaseCommand):
    help = (
        "Hold out a share of items (near-duplicates grouped on one side), train on the rest with "
        "the current workflow settings, predict the held-out items from their attributes alone, "
        "and report quality beside four baselines: most frequent routing, most frequent routing "
        "of items with the same attribute values, nearest item (1-NN), 5-NN medoid."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--profile", default="", help="input mapping profile (default plant-default)"
        )
        parser.add_argument(
            "--holdout", type=float, default=0.2, help="share of item groups held out"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--limit", type=int, default=5000, help="at most this many held-out items scored"
        )
        parser.add_argument(
            "--quantity", type=float, default=10.0, help="order quantity for lead times"
        )
        parser.add_argument(
            "--weights",
            choices=("profile", "learn"),
            default="",
            help="override the profile's weights option (learn: search them on the kept items)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **o):
        from registry_app.pipeline.evaluation import BASELINES, holdout_evaluation
        from registry_app.pipeline.extract import extract
        from workflow_app.config import current_settings, get_input_profile

        if not 0 < o["holdout"] < 1:
            raise CommandError("--holdout must be between 0 and 1 (e.g. 0.2).")
        if o["limit"] < 1 or o["quantity"] <= 0:
            raise CommandError("--limit must be at least 1 and --quantity positive.")
        from workflow_app.sources import ignored_environment_source

        if warning := ignored_environment_source():
            self.stderr.write(f"Warning: {warning}")
        try:
            profile = get_input_profile(o["profile"] or None)
            if o["weights"]:
                profile = {**profile, "weights": o["weights"]}
            data = extract(profile)
            result = holdout_evaluation(
                data,
                profile,
                current_settings(),
                o["holdout"],
                o["seed"],
                o["limit"],
                o["quantity"],
            )
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        result["profile"] = profile["name"]
        if o["json"]:
            self.stdout.write(json.dumps(result))
            return
        m = result["method"]
        self.stdout.write(
            f"Profile {profile['name']}: {m['items']} items, {m['evaluated_items']} held-out "
            f"items scored (holdout {m['holdout']}, seed {m['seed']}, quantity {m['quantity']})"
        )
        sides = ("model", *BASELINES)
        self.stdout.write(f"{'figure':36} " + " ".join(f"{HEADS[k]:>9}" for k in sides))
        for key, title in ROWS:
            vals = [result[k].get(key) for k in sides]
            self.stdout.write(
                f"{title:36} " + " ".join(f"{'—' if v is None else v:>9}" for v in vals)
            )
        best = max(BASELINES, key=lambda k: result[k]["op_edit_similarity"])
        self.stdout.write(
            f"Model op-code edit similarity {result['model']['op_edit_similarity']} vs the best "
            f"baseline ({best}) {result[best]['op_edit_similarity']}."
        )
        if result.get("weight_search"):
            from registry_app.pipeline.weightsearch import weights_line

            search = result["weight_search"]
            self.stdout.write(f"Weights learned: {weights_line(search)}: {search['weights']}")
