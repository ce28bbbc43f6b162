"""Online figures per model version and per ISO week, from the live service's own records.

- from the saved routings' decisions (kept for good): how many were saved from a proposal,
  the acceptance rate (saved with the same operations and work centers as the candidate taken)
  and the mean op-code edit similarity between that candidate and the saved routing;
- from the prediction log (the newest ``prediction_log_size`` answers): the answers, the share
  of ``low``-confidence and of ``no_match`` answers, the mean and p95 latency of the requests.

Read by the dashboard (``/api/v1/dashboard-data`` → ``online``) and ``/api/v1/metrics``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

WEEKS = 12


def week_of(moment) -> str:
    year, week, _ = timezone.localtime(moment).isocalendar()
    return f"{year}-W{week:02d}"


def _blank() -> dict:
    return {"predictions": [], "decisions": []}


def _collect(since) -> dict:
    from inference_app.models import PredictionLog, RoutingDecision
    from inference_app.prediction_log import flush

    flush()
    buckets: dict = defaultdict(_blank)
    predictions = PredictionLog.objects.filter(created_at__gte=since).values_list(
        "model_version", "created_at", "status", "confidence", "latency_ms", "request_id"
    )
    for version, at, *rest in predictions:
        for key in ((version, None), (version, week_of(at))):
            buckets[key]["predictions"].append(rest)
    decisions = RoutingDecision.objects.filter(created_at__gte=since, has_proposal=True)
    for version, at, *rest in decisions.values_list(
        "model_version", "created_at", "unchanged", "edit_similarity"
    ):
        for key in ((version, None), (version, week_of(at))):
            buckets[key]["decisions"].append(rest)
    return buckets


def _figures(bucket: dict) -> dict:
    predictions, decisions = bucket["predictions"], bucket["decisions"]
    n = len(predictions)
    latencies = sorted(
        {rid: ms for _, _, ms, rid in predictions if ms is not None}.values()
    )  # one latency per request, not per item
    sims = [s for _, s in decisions if s is not None]
    return {
        "answers": n,
        "low_share": _share(sum(c == "low" for _, c, _, _ in predictions), n),
        "no_match_share": _share(sum(s == "no_match" for s, _, _, _ in predictions), n),
        "latency_ms_mean": round(sum(latencies) / len(latencies), 2) if latencies else None,
        "latency_ms_p95": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        if latencies
        else None,
        "decisions": len(decisions),
        "acceptance_rate": _share(sum(u for u, _ in decisions), len(decisions)),
        "mean_edit_similarity": round(sum(sims) / len(sims), 4) if sims else None,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def online_figures(weeks: int = WEEKS) -> dict:
    """{"versions": [{version, ...figures}], "weeks": [{week, version, ...figures}]}."""
    since = timezone.now() - timedelta(weeks=weeks)
    buckets = _collect(since)
    versions, by_week = [], []
    ordered = sorted(buckets.items(), key=lambda kv: (kv[0][1] or "", kv[0][0]))
    for (version, week), bucket in ordered:
        row = {"version": version, **_figures(bucket)}
        if week is None:
            versions.append(row)
        else:
            by_week.append({"week": week, **row})
    return {"versions": versions, "weeks": by_week, "since": since.isoformat()}


PROMETHEUS = {
    "acceptance_rate": "Share of routings saved from a proposal without a change.",
    "mean_edit_similarity": "Mean op-code edit similarity, candidate taken vs routing saved.",
    "low_share": "Share of logged answers with low confidence.",
    "no_match_share": "Share of logged answers without a match.",
    "latency_ms_mean": "Mean latency of logged predict requests (ms).",
    "decisions": "Routings saved from a proposal.",
    "answers": "Logged predict answers.",
}


def prometheus_lines(figures: dict) -> list[str]:
    """The per-version figures as gauges ``routing_online_<figure>{version="…"}``."""
    lines = []
    for key, help_text in PROMETHEUS.items():
        name = f"routing_online_{key}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for row in figures["versions"]:
            if row[key] is not None:
                lines.append(f'{name}{{version="{_label(row["version"])}"}} {row[key]}')
    return lines


def _label(value) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
