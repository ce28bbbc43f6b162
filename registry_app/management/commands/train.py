from django.core.management.base import BaseCommand, CommandError

from routing_site.errors import DomainError


class Command(BaseCommand):
    help = (
        "Train a new model version from the source database. Without --wait the training is "
        "queued for the task cluster (manage.py qcluster); with --wait it runs in this process, "
        "showing each stage, and the last line printed is the new version's label."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--profile", default="", help="input mapping profile (default: plant-default)"
        )
        parser.add_argument(
            "--wait", action="store_true", help="run here and now, no cluster needed"
        )

    def handle(self, *args, profile, wait, **options):
        from registry_app.pipeline.training import execute_run, request_run
        from registry_app.tasks import enqueue_training
        from workflow_app.config import get_input_profile
        from workflow_app.sources import ignored_environment_source

        if warning := ignored_environment_source():
            self.stderr.write(f"Warning: {warning}")
        try:
            get_input_profile(profile or None)  # fail fast on an unknown or invalid profile
            if not wait:
                run = enqueue_training(profile, trigger="cli")
                self.stdout.write(
                    f"Queued training run {run.pk}; the task cluster will pick it up "
                    "(manage.py qcluster). Follow it in the admin under Training runs."
                )
                return
            run = request_run(profile, trigger="cli")
            self.stdout.write(f"Training run {run.pk} started in this process.")
            version = execute_run(run.pk, echo=self.stdout.write)
        except DomainError as exc:
            raise CommandError(exc.detail) from None
        except KeyboardInterrupt:
            raise CommandError(
                "Interrupted: the run is marked failed and no version was kept."
            ) from None
        except Exception as exc:
            raise CommandError(f"Training failed: {type(exc).__name__}: {exc}") from None
        timings = run.__class__.objects.get(pk=run.pk).timings
        self.stdout.write(
            f"Trained {version.label} (pending approval) — {stage_line(timings)}"
            f"{index_note(version.metrics)}"
        )
        self.stdout.write(version.label)


def stage_line(timings: dict) -> str:
    """Seconds per stage; a stage that ran beside another says so (their seconds overlap)."""
    from registry_app.pipeline.training import BESIDE

    return ", ".join(
        f"{k} {v:.1f}s" + (f" (beside {BESIDE[k]})" if BESIDE.get(k) in timings else "")
        for k, v in timings.items()
    )


def index_note(metrics: dict) -> str:
    """The index's own figures for the summary line: the items its island repair linked."""
    linked = metrics.get("index_islands_linked")
    return "" if linked is None else f"; index: {linked} items linked by the island repair"
