"""Inference endpoints: predict, similar, time summary, items, health, metrics.

The hot path: validate with a plain serializer, read the runtime's current model once (a local
reference, so a swap mid-request cannot mix versions), answer with plain dicts. No ORM.
"""

from __future__ import annotations

import json
import time

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts_app.permissions import IsAdminRole, IsViewer
from inference_app import validation
from inference_app.metrics import metrics
from inference_app.runtime import runtime
from inference_app.serializers import PredictInput, SimilarInput, TimeSummaryInput
from routing_core import predictor
from routing_core.timesummary import summarize
from routing_site.errors import DomainError


def _options(data: dict) -> dict:
    return predictor.options(
        runtime.settings,
        data.get("quantity", 1.0),
        top_k=data.get("top_k"),
        candidates=data.get("candidates"),
        min_similarity=data.get("min_similarity"),
    )


class PredictView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        request=PredictInput, responses={200: OpenApiResponse(description="Candidates per item")}
    )
    def post(self, request):
        """Proposed routings for up to 100 items (known codes, new items by attributes, or both)."""
        data = validation.predict_input(request.data)
        model = runtime.require_model()
        request._request.model_version = model.label
        opts = _options(data)
        results, hits = [], 0
        for i, item in enumerate(data["items"]):
            key = (
                model.label,
                runtime.settings_rev,
                "predict",
                json.dumps(item, sort_keys=True),
                json.dumps(opts, sort_keys=True),
            )
            answer = runtime.cache.get(key)
            if answer is None:
                try:
                    answer = predictor.predict_one(model, item, opts)
                except DomainError as exc:  # name the item at fault within the batch
                    exc.fields = {f"items.{i}.{k}": v for k, v in exc.fields.items()}
                    raise
                runtime.cache.put(key, answer)
            else:
                hits += 1
            results.append(answer)
        request._request.cache_hit = hits == len(results)
        return Response({"model_version": model.label, "items": results})


class SimilarView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        request=SimilarInput, responses={200: OpenApiResponse(description="Similar items")}
    )
    def post(self, request):
        """Top-K similar items for a code or attributes, with similarity and matched attributes."""
        data = validation.similar_input(request.data)
        model = runtime.require_model()
        request._request.model_version = model.label
        top_k = data.get("top_k") or runtime.settings["top_k"]
        key = (model.label, runtime.settings_rev, "similar", json.dumps(data, sort_keys=True))
        answer = runtime.cache.get(key)
        request._request.cache_hit = answer is not None
        if answer is None:
            answer = predictor.similar(model, data, top_k)
            runtime.cache.put(key, answer)
        return Response({"model_version": model.label, **answer})


class TimeSummaryView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(request=TimeSummaryInput, responses={200: OpenApiResponse(description="Totals")})
    def post(self, request):
        """Totals and per-operation breakdown: setup + run × qty / run_qty + queue + wait + move."""
        data = validation.time_summary_input(request.data)
        return Response(summarize(data["operations"], data["quantity"]))


class ItemView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(description="Attributes and routings")})
    def get(self, request, code: str):
        """An item's attributes and current routing(s)."""
        model = runtime.require_model()
        request._request.model_version = model.label
        return Response(predictor.item_detail(model, code, runtime.settings["prefer_actuals"]))


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(responses={200: OpenApiResponse(description="Health report")})
    def get(self, request):
        """Active version and manifest check, registry, model, cache, task cluster, uptime."""
        body = runtime.health()
        body["cluster"] = cluster_heartbeat()
        return Response(body, status=503 if body["status"] == "unavailable" else 200)


def cluster_heartbeat() -> dict:
    """django-q cluster state from its ORM-stored stats (None when no cluster runs)."""
    try:
        from django_q.status import Stat

        stats = Stat.get_all()
    except Exception as exc:  # broker unreachable
        return {"running": False, "error": str(exc)}
    if not stats:
        return {"running": False, "clusters": 0}
    newest = max(s.timestamp for s in stats)
    return {
        "running": True,
        "clusters": len(stats),
        "status": [s.status for s in stats],
        "last_heartbeat_age_s": round(time.time() - newest.timestamp(), 1),
    }


class MetricsView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses={200: OpenApiResponse(description="Prometheus text format")})
    def get(self, request):
        """Prometheus text: request counts and latency histograms by endpoint and version."""
        cache = runtime.cache.stats()
        extra = {
            "routing_cache_entries": cache["size"],
            "routing_cache_hits_total": cache["hits"],
            "routing_cache_misses_total": cache["misses"],
            "routing_model_loaded": int(runtime.model is not None),
            "routing_model_swaps_total": runtime.swaps,
            "routing_uptime_seconds": round(time.time() - runtime.started_at, 1),
        }
        return HttpResponse(metrics.render(extra), content_type="text/plain; version=0.0.4")


class DashboardDataView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(description="Figures for the dashboard charts")})
    def get(self, request):
        """Latency percentiles (last 15 minutes), cache, active version, training history."""
        from registry_app.models import TrainingRun
        from registry_app.serializers import run_dict

        runs = [run_dict(r) for r in TrainingRun.objects.select_related("version")[:20]]
        for r in runs:
            r.pop("log", None)
        return Response(
            {
                "health": runtime.health(),
                "latency": metrics.percentiles(time.time() - 900),
                "requests": {f"{e}|{s}|{v}": n for (e, s, v), n in metrics.requests.items()},
                "training_runs": runs,
            }
        )
