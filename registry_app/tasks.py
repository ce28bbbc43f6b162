"""django-q2 tasks: training runs and the nightly schedule."""

from __future__ import annotations

import logging

from django.conf import settings

log = logging.getLogger("routing.training")
SCHEDULE_NAME = "nightly-training"


def run_training(run_id: int) -> str:
    """The queued task: executes a TrainingRun created by request_run()."""
    from registry_app.pipeline.training import execute_run

    return execute_run(run_id).label


def scheduled_training() -> str | None:
    """The nightly schedule: queues a run unless one is already queued or running."""
    from registry_app.pipeline.training import execute_run, request_run
    from routing_site.errors import Conflict

    try:
        run = request_run("", trigger="schedule")
    except Conflict as exc:
        log.warning("nightly training skipped: %s", exc.detail)
        return None
    return execute_run(run.pk).label


def enqueue_training(profile_name: str = "", user=None, trigger: str = "api"):
    """Create the run row first (our history), then hand its id to the task cluster."""
    from django_q.tasks import async_task

    from registry_app.pipeline.training import request_run
    from routing_site.errors import ServiceUnavailable

    run = request_run(profile_name, user=user, trigger=trigger)
    try:
        task_id = async_task(
            "registry_app.tasks.run_training",
            run.pk,
            task_name=f"training-run-{run.pk}",
            timeout=settings.TRAINING_TIMEOUT_S,
        )
    except Exception as exc:  # the broker (Redis) is down: nothing was queued
        message = (
            f"Not queued: the task broker cannot be reached ({type(exc).__name__}: {exc}). "
            "Start the broker (REDIS_URL) and request the training again."
        )
        run.fail(message)
        log.error("training not queued", extra={"run": run.pk, "error": str(exc)})
        raise ServiceUnavailable(message, code="broker_unavailable") from None
    run.task_id = str(task_id or "")
    run.save(update_fields=["task_id"])
    return run


def seed_schedule() -> None:
    """Create the nightly schedule once; operators may change it in the admin afterwards."""
    from django.db import connection
    from django_q.models import Schedule

    if Schedule._meta.db_table not in connection.introspection.table_names():
        return  # django_q is not migrated yet (a partial migrate); seeded on the next migrate
    Schedule.objects.get_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": "registry_app.tasks.scheduled_training",
            "schedule_type": Schedule.CRON,
            "cron": settings.NIGHTLY_TRAINING_CRON,
            "repeats": -1,
        },
    )
