"""Inference endpoints: predict, similar, time summary, items, health, metrics.

The hot path: validate with a plain serializer, read the runtime's current model once (a local
reference, so a swap mid-request cannot mix versions), answer with plain dicts. No ORM.
"""

from __future__ import annotations

import time

from django.db import DatabaseError
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts_app.permissions import IsAdminRole, IsViewer
from inference_app import contract, drift, online, prediction_log, schemas, validation
from inference_app.metrics import metrics
from inference_app.runtime import runtime
from inference_app.serializers import PredictInput, SimilarInput, TimeSummaryInput
from routing_core import predictor
from routing_core.timesummary import summarize
from routing_site.errors import DomainError

PREDICT_HELP = (
    "Proposed routings for up to 100 items. Send a known item_code for its own routing "
    "(status existing), or attributes (names and kinds from GET /api/v1/model) for a new item "
    "(status predicted, candidates from similar items), or both. Attribute names are matched "
    "exactly: an unknown name answers 400 naming the closest known ones unless "
    'unknown_attributes is "ignore"; text for a numeric attribute answers 400. One bad item '
    "never fails the batch: it gets status not_found or invalid with its error, and the answer "
    "is 200 with one entry per item in the order sent."
)


def _options(data: dict, values: dict) -> dict:
    return predictor.options(
        values,
        data.get("quantity", 1.0),
        top_k=data.get("top_k"),
        candidates=data.get("candidates"),
        min_similarity=data.get("min_similarity"),
    )


class PredictView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        request=PredictInput,
        responses={200: OpenApiResponse(schemas.PredictOut, description="One answer per item")},
        description=PREDICT_HELP,
    )
    def post(self, request):
        return Response(predict_answer(request._request, request.data))


def predict_answer(request, body) -> dict:
    """The answer of /api/v1/predict to a parsed body (``request``: Django's request, for the
    request id, version and cache headers and the prediction log)."""
    data = validation.predict_input(body)
    model, snapshot = runtime.require_model(), runtime.snapshot  # one of each per request
    request.model_version = model.label
    ignore = data.get("unknown_attributes") == "ignore"
    items = contract.check_items(model, data["items"], ignore)
    opts = _options(data, snapshot.values)
    opts_key = validation.frozen(opts)  # once per request, not per item
    results, hits = [], 0
    for i, item in enumerate(items):
        answer, hit = _predict_item(model, snapshot, item, opts, opts_key, i)
        hits += hit
        results.append(answer)
    request.cache_hit = hits == len(results)
    _log_predictions(request, model.label, opts, data["items"], results)
    return {"model_version": model.label, "items": results}


def _predict_item(model, snapshot, item: dict, opts: dict, opts_key, i: int) -> tuple[dict, bool]:
    """One item's answer (from the cache when seen before); a problem of this item alone is
    answered as its own ``not_found`` / ``invalid`` status, never as the batch's."""
    if validation.INVALID in item:
        return _item_problem(item, "invalid", "invalid", "", item[validation.INVALID]), False
    key = runtime.cache_key(model, snapshot, "predict", validation.frozen(item), opts_key)
    answer = runtime.cache.get(key)
    if answer is not None:
        return answer, True
    try:
        answer = predictor.predict_one(model, item, opts)
    except DomainError as exc:
        fields = {f"items.{i}.{k}": v for k, v in exc.fields.items()}
        status = "not_found" if exc.status_code == 404 else "invalid"
        return _item_problem(item, status, exc.code, exc.detail, fields), False
    runtime.cache.put(key, answer)
    return answer, False


def _item_problem(item: dict, status: str, code: str, detail: str, fields: dict) -> dict:
    detail = detail or next(iter(fields.items()), ("", [""]))[1][0]
    return {
        "item_code": item.get("item_code") or None,
        "status": status,
        "confidence": "none",
        "candidates": [],
        "neighbours": [],
        "error": {"error": code, "detail": detail, "fields": fields},
    }


def _log_predictions(request, label: str, opts: dict, items: list, results: list) -> None:
    started = getattr(request, "started_at", None)
    latency_ms = round((time.perf_counter() - started) * 1000, 2) if started else None
    prediction_log.buffer.append(request.request_id, label, opts, items, results, latency_ms)


class SimilarView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        request=SimilarInput,
        responses={200: OpenApiResponse(schemas.SimilarOut, description="Similar items")},
        description="The top_k existing items most similar to an item (by code, attributes or "
        "both), with their similarity and the attributes that match. Attribute names and kinds "
        "are checked as in predict.",
    )
    def post(self, request):
        return Response(similar_answer(request._request, request.data))


def similar_answer(request, body) -> dict:
    """The answer of /api/v1/similar to a parsed body."""
    data = validation.similar_input(body)
    model, snapshot = runtime.require_model(), runtime.snapshot  # one of each per request
    request.model_version = model.label
    if data.get("attributes"):
        ignore = data.pop("unknown_attributes", None) == "ignore"
        data["attributes"], errors = contract.check_attributes(
            model, data["attributes"], "attributes", ignore
        )
        contract.raise_if_any(errors)
    data.pop("unknown_attributes", None)
    top_k = data.get("top_k") or snapshot.values["top_k"]
    query = validation.frozen({**data, "top_k": top_k})
    key = runtime.cache_key(model, snapshot, "similar", query)
    answer = runtime.cache.get(key)
    request.cache_hit = answer is not None
    if answer is None:
        answer = predictor.similar(model, data, top_k)
        runtime.cache.put(key, answer)
    return {"model_version": model.label, **answer}


class TimeSummaryView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        request=TimeSummaryInput,
        responses={200: OpenApiResponse(schemas.TimeSummaryOut, description="Totals")},
        description="Lead time of a routing for an order quantity, in total and per operation: "
        "setup_min + run_min × quantity / run_qty + queue_min + wait_min + move_min. Call it "
        "after editing a candidate's times.",
    )
    def post(self, request):
        return Response(time_summary_answer(request._request, request.data))


def time_summary_answer(request, body) -> dict:
    """The answer of /api/v1/time-summary to a parsed body."""
    data = validation.time_summary_input(body)
    return summarize(data["operations"], data["quantity"])


class ItemView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        responses={200: OpenApiResponse(schemas.ItemDetailOut, description="The item")},
        description="An existing item's attributes (numbers as numbers) and its routings in "
        "the serving version; 404 when the version does not know the code.",
    )
    def get(self, request, code: str):
        model = runtime.require_model()
        request._request.model_version = model.label
        prefer_actuals = runtime.snapshot.values["prefer_actuals"]
        body = predictor.item_detail(model, code, prefer_actuals)
        body["attributes"] = contract.typed_attributes(model, body["attributes"])
        return Response(body)


class ModelView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        responses={200: OpenApiResponse(schemas.ModelOut, description="The serving version")},
        description="What the serving version accepts: every attribute name to send in "
        "attributes, its kind and JSON type, unit, most frequent values and numeric range, the "
        "quantity convention and an example predict body. Read it when the X-Model-Version "
        "header of an answer changes.",
    )
    def get(self, request):
        model = runtime.require_model()
        request._request.model_version = model.label
        return Response(contract.describe(model))


class HealthView(APIView):
    permission_classes = [AllowAny]

    def perform_authentication(self, request):
        pass  # lazily, in get(): bad credentials only hide the details

    @extend_schema(
        responses={
            200: OpenApiResponse(description="ok or degraded; details only with credentials"),
            503: OpenApiResponse(description="unavailable: no model can serve"),
        }
    )
    def get(self, request):
        """``{"status": ok|degraded|unavailable}``; with a login or token also the active
        version and manifest check, registry, model, cache, task cluster, uptime."""
        body = runtime.health()
        code = 503 if body["status"] == "unavailable" else 200
        if not _identified(request):
            return Response({"status": body["status"]}, status=code)
        body["cluster"] = cluster_heartbeat()
        body["drift"] = drift.safe_drift_report()
        return Response(body, status=code)


def _identified(request) -> bool:
    """Whether valid credentials came with the request; bad ones or a dead registry: no."""
    try:
        return bool(request.user and request.user.is_authenticated)
    except (APIException, DatabaseError):
        return False


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
        text = metrics.render(extra) + "\n".join(online.prometheus_lines(online.online_figures()))
        return HttpResponse(text + "\n", content_type="text/plain; version=0.0.4")


class DashboardDataView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(description="Figures for the dashboard charts")})
    def get(self, request):
        """Latency percentiles (last 15 minutes), cache, active version, training history,
        online figures per version and week, drift check."""
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
                "online": online.online_figures(),
                "drift": drift.safe_drift_report(),
            }
        )
