"""Shadow comparison: recent live predict requests replayed on a version beside the active one.

Both versions are opened here, in the caller's process (the admin's approve page or
``manage.py shadow``), never swapped into the runtime, so live traffic is untouched. The
requests come from the prediction log (the newest ``shadow_requests`` items, each replayed with
the options it was sent with). Reported:
- ``overlap_at_10``: mean share of the ten most similar items both versions find;
- ``top_changed_share``: share of requests whose top candidate (operation and work-center
  sequence, or the status) differs;
- on requests that later got a saved routing, each version's op-code edit similarity of its top
  candidate to what the engineer saved.
A version that would change the top candidate of most requests is flagged, not blocked.
"""

from __future__ import annotations

from routing_site.errors import DomainError

FLAG_SHARE = 0.5  # "most answers"
K = 10


def _top(answer: dict | None) -> tuple | None:
    if answer is None:
        return None
    candidates = answer.get("candidates") or []
    if not candidates:
        return (answer.get("status"),)
    ops = candidates[0]["operations"]
    return tuple((o["op_code"], o["work_center"]) for o in ops)


def _replay(model, row, settings: dict) -> dict | None:
    from routing_core import predictor

    options = predictor.options(settings, **(row.options or {}))
    try:
        return predictor.predict_one(model, row.inputs, options)
    except DomainError:  # e.g. an item code this version does not know
        return None


def overlap(a: dict | None, b: dict | None) -> float | None:
    first = [n["item_code"] for n in (a or {}).get("neighbours", [])[:K]]
    second = [n["item_code"] for n in (b or {}).get("neighbours", [])[:K]]
    k = max(len(first), len(second))
    return len(set(first) & set(second)) / k if k else None


def _saved_ops(rows) -> dict:
    from inference_app.models import RoutingDecision

    ids = {r.request_id for r in rows}
    decisions = RoutingDecision.objects.filter(request_id__in=ids).order_by("id")
    return {(d.request_id, d.item_index): d.final_ops for d in decisions}


def _edit_to(answer: dict | None, saved: list[str]) -> float:
    from registry_app.pipeline.evaluation import edit_similarity

    candidates = (answer or {}).get("candidates") or []
    ops = [o["op_code"] for o in candidates[0]["operations"]] if candidates else []
    return edit_similarity(ops, saved)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def compare(active_model, candidate_model, rows, settings: dict) -> dict:
    """The figures of replaying ``rows`` (PredictionLog) on both models."""
    saved = _saved_ops(rows)
    overlaps, changed, edits_active, edits_candidate = [], 0, [], []
    for row in rows:
        a = _replay(active_model, row, settings)
        b = _replay(candidate_model, row, settings)
        value = overlap(a, b)
        if value is not None:
            overlaps.append(value)
        changed += _top(a) != _top(b)
        final = saved.get((row.request_id, row.item_index))
        if final is not None:
            edits_active.append(_edit_to(a, final))
            edits_candidate.append(_edit_to(b, final))
    n = len(rows)
    return {
        "requests": n,
        "overlap_at_10": _mean(overlaps),
        "top_changed": changed,
        "top_changed_share": round(changed / n, 4) if n else None,
        "saved_requests": len(edits_active),
        "active_edit_similarity": _mean(edits_active),
        "candidate_edit_similarity": _mean(edits_candidate),
    }


def _unavailable(label: str, message: str, **extra) -> dict:
    return {"version": label, "available": False, "flagged": False, "message": message, **extra}


def _open(version, runtime_model=None):
    from inference_app.loaded import LoadedModel

    if runtime_model is not None and runtime_model.label == version.label:
        return runtime_model
    return LoadedModel.open(version.path, None, version.manifest_sha256 or None)


def recent_requests(limit: int) -> list:
    from inference_app.models import PredictionLog
    from inference_app.prediction_log import flush

    flush()
    return list(PredictionLog.objects.order_by("-id")[:limit])


def shadow_report(version, limit: int | None = None) -> dict:
    """The shadow comparison of ``version`` (a ModelVersion) against the active version."""
    from inference_app.runtime import runtime
    from registry_app.models import ModelVersion
    from workflow_app.config import current_settings

    settings = current_settings()  # this process may not run the runtime's poller
    active = ModelVersion.objects.active()
    if active is None:
        return _unavailable(version.label, "No active version to compare with.")
    if active.pk == version.pk:
        return _unavailable(version.label, f"{version.label} is the active version.")
    rows = recent_requests(limit or settings["shadow_requests"])
    if not rows:
        return _unavailable(
            version.label, "No live predict requests logged yet: nothing to replay."
        )
    try:
        models = _open(active, runtime.model), _open(version)
    except DomainError as exc:
        return _unavailable(version.label, f"Cannot open a version: {exc.detail}")
    figures = compare(*models, rows, settings)
    return {
        "version": version.label,
        "active": active.label,
        "available": True,
        **figures,
        **_verdict(version.label, figures),
    }


def _verdict(label: str, figures: dict) -> dict:
    share = figures["top_changed_share"] or 0.0
    if share > FLAG_SHARE:
        return {
            "flagged": True,
            "message": f"{label} would change the top candidate of {share:.0%} of "
            f"{figures['requests']} recent requests: review before approving.",
        }
    return {
        "flagged": False,
        "message": f"{label} changes the top candidate of {share:.0%} of "
        f"{figures['requests']} recent requests.",
    }
