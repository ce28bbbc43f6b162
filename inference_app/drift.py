"""Drift warning: live answers for new items against the active version's training distribution.

At training, the stored evaluation predicts held-out items by their attributes alone, as the
live service answers a new item; :func:`answer_distribution` of those answers is kept in the
manifest's evaluation (``metrics["reference"]``). Here the newest ``drift_window`` logged live
answers of the active version for items predicted from attributes (status ``predicted`` or
``no_match``) are summarised the same way. When the share of ``low``-confidence answers or the
mean best similarity moves by more than its threshold (workflow settings
``drift_low_share_delta`` / ``drift_similarity_delta``), health and the dashboard warn.
"""

from __future__ import annotations

from inference_app.prediction_log import confidence_of

NEW_ITEM_STATUSES = ("predicted", "no_match")
MIN_LIVE = 30  # fewer live answers than this say nothing yet
BINS = 10


def summarise(rows: list[tuple[str, str, float | None]]) -> dict:
    """(status, confidence, best similarity) of new-item answers → the compared figures."""
    rows = [r for r in rows if r[0] in NEW_ITEM_STATUSES]
    n = len(rows)
    sims = [r[2] for r in rows if r[2] is not None]
    histogram = [0] * BINS
    for s in sims:
        histogram[min(BINS - 1, max(0, int(s * BINS)))] += 1
    return {
        "answers": n,
        "low_share": round(sum(r[1] == "low" for r in rows) / n, 4) if n else None,
        "no_match_share": round(sum(r[0] == "no_match" for r in rows) / n, 4) if n else None,
        "mean_best_similarity": round(sum(sims) / len(sims), 4) if sims else None,
        "best_similarity_histogram": histogram,
    }


def answer_distribution(answers: list[dict]) -> dict:
    """The reference recorded at training from the evaluation's answers."""
    rows = []
    for a in answers:
        neighbours = a.get("neighbours") or []
        best = neighbours[0]["similarity"] if neighbours else None
        rows.append((a.get("status", ""), confidence_of(a), best))
    return summarise(rows)


def live_distribution(label: str, window: int) -> dict:
    from inference_app.models import PredictionLog
    from inference_app.prediction_log import flush

    flush()
    rows = PredictionLog.objects.filter(
        model_version=label, status__in=NEW_ITEM_STATUSES
    ).values_list("status", "confidence", "best_similarity")[:window]
    return summarise(list(rows))


def drift_report(settings: dict | None = None) -> dict:
    """The drift check of the active version (``warning`` True with the figures when it moved)."""
    from registry_app.models import ModelVersion, VersionState
    from workflow_app.config import current_settings

    settings = settings or current_settings()
    active = (
        ModelVersion.objects.filter(state=VersionState.ACTIVE)
        .values_list("label", "metrics")
        .first()
    )
    if active is None:
        return _unchecked(None, "No active version.")
    label, metrics = active
    reference = (metrics or {}).get("reference")
    if not reference or reference.get("answers", 0) == 0:
        return _unchecked(label, f"{label} has no training distribution recorded (retrain it).")
    live = live_distribution(label, settings["drift_window"])
    if live["answers"] < MIN_LIVE:
        return _unchecked(
            label, f"{live['answers']} live new-item answers so far; {MIN_LIVE} needed.", live
        )
    return compare(label, reference, live, settings)


def compare(label: str, reference: dict, live: dict, settings: dict) -> dict:
    limits = {
        "low_share": settings["drift_low_share_delta"],
        "mean_best_similarity": settings["drift_similarity_delta"],
    }
    deltas, moved = {}, []
    for key, limit in limits.items():
        if reference.get(key) is None or live.get(key) is None:
            continue
        deltas[key] = round(live[key] - reference[key], 4)
        if abs(deltas[key]) > limit:
            moved.append(
                f"{key.replace('_', ' ')} {live[key]:.3f} live vs {reference[key]:.3f} at "
                f"training (change {deltas[key]:+.3f}, threshold ±{limit})"
            )
    message = (
        f"Drift on {label}: " + "; ".join(moved) + ". Check the new items or retrain."
        if moved
        else f"No drift on {label}."
    )
    return {
        "version": label,
        "checked": True,
        "warning": bool(moved),
        "message": message,
        "live": live,
        "reference": reference,
        "deltas": deltas,
        "thresholds": limits,
    }


def _unchecked(label, message: str, live: dict | None = None) -> dict:
    return {"version": label, "checked": False, "warning": False, "message": message, "live": live}


def safe_drift_report() -> dict:
    """For health: a database problem is reported, never raised."""
    try:
        return drift_report()
    except Exception as exc:  # the registry may be down; health says so elsewhere
        return {"checked": False, "warning": False, "message": f"drift not checked: {exc}"}
