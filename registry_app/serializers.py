"""Plain-dict views of registry rows (API, commands and admin share them)."""

from __future__ import annotations


def version_dict(v) -> dict:
    return {
        "label": v.label,
        "number": v.number,
        "state": v.state,
        "profile": v.profile_name,
        "created_at": v.created_at,
        "approved_at": v.approved_at,
        "activated_at": v.activated_at,
        "approved_by": v.approved_by_name
        or (v.approved_by.get_username() if v.approved_by_id else None),
        "requested_by": v.requested_by.get_username() if v.requested_by_id else None,
        "manifest_sha256": v.manifest_sha256,
        "data_counts": v.data_counts,
        "metrics": v.metrics,
        "status_message": v.status_message,
    }


def run_dict(r) -> dict:
    return {
        "id": r.pk,
        "state": r.state,
        "stage": r.stage,
        "progress": round(r.progress, 4),
        "profile": r.profile_name,
        "trigger": r.trigger,
        "version": r.version.label if r.version_id else None,
        "created_at": r.created_at,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "duration_s": r.duration_s,
        "timings": r.timings,
        "error": r.error or None,
        "log": r.log.splitlines()[-50:],
    }
