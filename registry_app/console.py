"""What the operations console shows: the home page's panels, a version's status and tables.

Plain functions returning dicts and lists for the admin templates; they read, never change.
"""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from registry_app.models import ModelVersion, RunState, TrainingRun, VersionState

FIGURES = [
    ("top1_exact", "top-1"),
    ("hit_at_n", "hit@N"),
    ("lead_time_mdape", "lead-time MdAPE"),
]
FAILED_RUNS_DAYS = 7
LIST_LIMIT = 5


def version_url(version: ModelVersion) -> str:
    return reverse("admin:registry_app_modelversion_change", args=[version.pk])


def run_url(run: TrainingRun) -> str:
    return reverse("admin:registry_app_trainingrun_change", args=[run.pk])


def approver(version: ModelVersion) -> str:
    """Who approved it: the recorded operator name, else the linked account."""
    if version.approved_by_name:
        return version.approved_by_name
    return version.approved_by.get_username() if version.approved_by_id else ""


def figures(version: ModelVersion | None) -> dict:
    model = ((version.metrics or {}).get("model") or {}) if version else {}
    return {key: model.get(key) for key, _ in FIGURES}


def status_line(version: ModelVersion) -> str:
    """One sentence true to the version's state (the stored message dates from training)."""
    when = _when
    lines = {
        VersionState.TRAINING: "Training in progress.",
        VersionState.PENDING: "Trained; awaiting approval.",
        VersionState.APPROVED: f"Approved by {approver(version) or 'unknown'} "
        f"{when(version.approved_at)}; ready to activate.",
        VersionState.ACTIVE: f"Active since {when(version.activated_at)}; "
        "the inference service serves it.",
        VersionState.RETIRED: "Retired (was active until a newer version replaced it); "
        "it can be activated again.",
        VersionState.REJECTED: "Rejected"
        + (f": {version.status_message}" if version.status_message else "."),
        VersionState.FAILED: version.status_message or "Training failed.",
    }
    return lines.get(version.state, version.status_message)


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "(time unknown)"


def valid_verbs(version: ModelVersion) -> list[dict]:
    """The lifecycle buttons this version's state allows, each with its confirmation URL."""
    verbs = []
    for verb, states in (
        ("approve", {VersionState.PENDING}),
        ("reject", {VersionState.PENDING, VersionState.APPROVED}),
        ("activate", {VersionState.APPROVED, VersionState.RETIRED}),
    ):
        if version.state in states:
            url = reverse("admin:registry_app_modelversion_confirm", args=[version.pk, verb])
            verbs.append({"verb": verb, "title": f"{verb.capitalize()}…", "url": url})
    if version.state == VersionState.ACTIVE:
        target = ModelVersion.rollback_target()
        if target is not None:
            verbs.append(
                {
                    "verb": "rollback",
                    "title": f"Roll back to {target.label}…",
                    "url": reverse("admin:registry_app_modelversion_rollback"),
                }
            )
    return verbs


def attribute_rows(version: ModelVersion) -> list[dict]:
    return list((version.parameters or {}).get("attributes") or [])


def index_rows(version: ModelVersion) -> list[tuple[str, object]]:
    params = version.parameters or {}
    rows = [(f"hnsw {k}", v) for k, v in (params.get("hnsw") or {}).items()]
    for key in ("embedding_dim", "n_features"):
        if key in params:
            rows.append((key.replace("_", " "), params[key]))
    return rows


def count_rows(version: ModelVersion) -> list[tuple[str, object]]:
    return [(k.replace("_", " "), v) for k, v in (version.data_counts or {}).items()]


def extract_report(version: ModelVersion) -> dict:
    """The manifest's extract report as table rows; empty when the folder is unreadable."""
    from registry_app.pipeline.manifest import read_manifest

    try:
        report = read_manifest(version.path).get("extract_report") or {}
    except Exception:  # noqa: BLE001 - a missing or damaged folder must not break the page
        return {"tables": [], "problems": [], "examples": [], "readable": False}
    read, kept = report.get("rows_read") or {}, report.get("rows_kept") or {}
    tables = [{"table": t, "read": read.get(t), "kept": kept.get(t)} for t in read]
    problems = [
        {"table": t, "reason": reason, "count": n}
        for t, reasons in (report.get("problems") or {}).items()
        for reason, n in reasons.items()
    ]
    examples = [(t, e) for t, ex in (report.get("examples") or {}).items() for e in ex]
    return {"tables": tables, "problems": problems, "examples": examples, "readable": True}


def run_summary(run: TrainingRun) -> dict:
    """A failed run's error headline (with the hint the message carries) before its traceback."""
    error = (run.error or "").strip()
    headline, _, rest = error.partition("\n\n")
    return {"headline": headline, "trace": rest.strip()}


# -- the operations home -------------------------------------------------------------------
def operations_home() -> dict:
    active = ModelVersion.objects.active()
    return {
        "active": _active_panel(active),
        "pending": _pending(active),
        "running": list(TrainingRun.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING])),
        "failed_runs": _failed_runs(),
        "users": _users_waiting(),
        "alerts": _alerts(),
        "train_url": reverse("admin:registry_app_modelversion_train"),
        "runs_url": reverse("admin:registry_app_trainingrun_changelist"),
        "versions_url": reverse("admin:registry_app_modelversion_changelist"),
    }


def _active_panel(active: ModelVersion | None) -> dict | None:
    if active is None:
        return None
    return {
        "version": active,
        "url": version_url(active),
        "figures": figures(active),
        "approver": approver(active),
        "health": _health(),
    }


def _health() -> dict:
    from inference_app.runtime import runtime

    health = runtime.health()
    return {
        "status": health["status"],
        "detail": health["detail"] or "",
        "serving": health["serving_version"],
    }


def _pending(active: ModelVersion | None) -> list[dict]:
    theirs = figures(active)
    rows = []
    waiting = ModelVersion.objects.filter(state__in=[VersionState.PENDING, VersionState.APPROVED])
    for version in waiting.order_by("-number")[:LIST_LIMIT]:
        mine = figures(version)
        rows.append(
            {
                "version": version,
                "url": version_url(version),
                "figures": [
                    {"title": title, "mine": mine[key], "active": theirs[key]}
                    for key, title in FIGURES
                ],
                "verbs": valid_verbs(version),
            }
        )
    return rows


def _failed_runs() -> list[dict]:
    since = timezone.now() - timedelta(days=FAILED_RUNS_DAYS)
    runs = TrainingRun.objects.filter(state=RunState.FAILED, created_at__gte=since)
    return [{"run": r, "url": run_url(r), **run_summary(r)} for r in runs[:LIST_LIMIT]]


def _users_waiting() -> dict:
    from accounts_app.models import Account, AccountStatus

    waiting = Account.objects.filter(status=AccountStatus.PENDING).select_related("user")
    url = reverse("admin:accounts_app_account_changelist") + "?status__exact=pending"
    return {
        "names": [a.user.get_username() for a in waiting[:LIST_LIMIT]],
        "count": waiting.count(),
        "url": url,
    }


def _alerts() -> list[dict]:
    """Refused versions, degraded health, recently rejected versions: each with a link."""
    from inference_app.runtime import runtime

    health = runtime.health()
    alerts = []
    if health["status"] != "ok":
        alerts.append(
            {
                "level": "error",
                "text": f"Inference service {health['status']}: {health['detail']}",
                "url": "/",
            }
        )
    for label, why in (health.get("refused_versions") or {}).items():
        version = ModelVersion.objects.filter(label=label).first()
        url = version_url(version) if version else "/"
        alerts.append(
            {
                "level": "error",
                "text": f"{label} refused by the inference service: {why}",
                "url": url,
            }
        )
    since = timezone.now() - timedelta(days=FAILED_RUNS_DAYS)
    for version in ModelVersion.objects.filter(state=VersionState.FAILED, created_at__gte=since)[
        :LIST_LIMIT
    ]:
        alerts.append(
            {
                "level": "warning",
                "text": f"{version.label} failed: {version.status_message}",
                "url": version_url(version),
            }
        )
    return alerts
