"""Saved routings: save (validated by the routing rules), list, read, live check, ERP export.

Not the hot prediction path: these read the rules from the workflow config in the database
(always the newest revision) and the catalogue of the model this process serves.
"""

from __future__ import annotations

import json
import re

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from accounts_app.permissions import IsEngineer, IsViewer
from inference_app import feedback
from inference_app.models import IdempotencyKey, RoutingStatus, SavedRouting
from inference_app.runtime import runtime
from inference_app.schemas import ExportOut, SavedRoutingOut
from inference_app.serializers import StrictSerializer
from routing_site.errors import BadInput, NotFound
from workflow_app import rules as routing_rules
from workflow_app.config import current_settings

MAX_LIST = 200


class RoutingInput(StrictSerializer):
    item_code = serializers.CharField(max_length=64, trim_whitespace=True)
    routing_no = serializers.CharField(max_length=16, required=False, default="01")
    operations = serializers.ListField(allow_empty=True, max_length=routing_rules.MAX_OPERATIONS)
    source_model_version = serializers.CharField(max_length=32, required=False, allow_blank=True)
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(
        choices=RoutingStatus.choices, required=False, default=RoutingStatus.DRAFT
    )
    proposal = feedback.proposal_field()
    attributes = feedback.attributes_field()


class ValidateInput(StrictSerializer):
    operations = serializers.ListField(allow_empty=True, max_length=routing_rules.MAX_OPERATIONS)
    item_code = serializers.CharField(max_length=64, required=False, allow_blank=True)


class ExportQuery(serializers.Serializer):
    profile = serializers.CharField(max_length=100, required=False, allow_blank=True)
    format = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")


def _vocabulary() -> tuple[dict | None, str | None]:
    model = runtime.model
    if model is None:
        return None, None
    return model.tables.vocabulary(), model.label


def _rules() -> dict:
    return routing_rules.effective_rules(current_settings())


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RoutingListView(APIView):
    def get_permissions(self):
        return [IsViewer() if self.request.method == "GET" else IsEngineer()]

    @extend_schema(
        operation_id="routings_list",
        parameters=[OpenApiParameter("item_code", str, required=False)],
        responses={200: OpenApiResponse(description="{routings: [...]}, newest first")},
    )
    def get(self, request):
        """Saved routings, newest first (``?item_code=`` for one item's), at most 200."""
        rows = SavedRouting.objects.select_related("created_by")
        code = (request.query_params.get("item_code") or "").strip()
        if code:
            rows = rows.filter(item_code=code)
        return Response({"routings": [r.as_dict() for r in rows[:MAX_LIST]]})

    @extend_schema(
        request=RoutingInput,
        responses={201: OpenApiResponse(SavedRoutingOut, description="The saved routing")},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Any unique string (a UUID) per routing to save: a retry with the "
                "same key and body answers the first answer again (header Idempotent-Replayed: "
                "true) and saves nothing; the same key with another body answers 409.",
            )
        ],
        description="Save a routing (engineers; a service token needs the engineer role). "
        "Operations are checked by the routing rules: 400 with operations.<i>.<field> when one "
        "fails, nothing saved. Send an Idempotency-Key header so a retry after a timeout never "
        "saves twice.",
    )
    def post(self, request):
        """Save an edited routing; 400 with ``operations.<i>.<field>`` errors when a rule fails.

        ``proposal`` names what the engineer started from: ``{"request_id", "item_index",
        "candidate_rank"}`` of a logged prediction, or a compact copy ``{"model_version",
        "candidates": [{"rank", "op_codes", "work_centers"}], "candidate_rank"}``.
        """
        key = _idempotency_key(request)
        if key is None:
            status, body = _save(request)
            return Response(body, status=status)
        owner = f"user:{request.user.pk}"
        status, body, replayed = IdempotencyKey.objects.replay_or_run(
            owner, key, request.data, lambda: _save(request)
        )
        return Response(body, status=status, headers={"Idempotent-Replayed": str(replayed).lower()})


MAX_KEY = 200


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise BadInput(
            f"Idempotency-Key must be 1 to {MAX_KEY} printable characters (a UUID is usual).",
            fields={"Idempotency-Key": ["1 to 200 printable characters"]},
        )
    return key


def _save(request) -> tuple[int, dict]:
    """Validate and save the routing of a POST /routings body: (201, the saved routing)."""
    data = _validated(RoutingInput, request.data)
    vocabulary, label = _vocabulary()
    decision = feedback.resolve(data.get("proposal"), data.get("attributes") or {})
    routing = SavedRouting.objects.save_checked(
        data["item_code"],
        data["operations"],
        _rules(),
        vocabulary,
        user=request.user,
        routing_no=data["routing_no"],
        source_model_version=(
            data.get("source_model_version") or decision.get("model_version") or label or ""
        ),
        comment=data["comment"],
        status=data["status"],
        decision=decision,
    )
    body = {**routing.as_dict(), "decision": routing.decision.as_dict()}
    return 201, json.loads(json.dumps(body, cls=JSONEncoder))  # as sent, and as stored for retries


def _routing_or_404(pk: int) -> SavedRouting:
    routing = SavedRouting.objects.select_related("created_by").filter(pk=pk).first()
    if routing is None:
        raise NotFound(f"No saved routing {pk}.")
    return routing


class RoutingDetailView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(SavedRoutingOut, description="Saved routing")})
    def get(self, request, pk: int):
        return Response(_routing_or_404(pk).as_dict())


class RoutingValidateView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        request=ValidateInput, responses={200: OpenApiResponse(description="{valid, problems}")}
    )
    def post(self, request):
        """The editor's live check: {"valid", "problems": [{index, field, code, message}]}."""
        data = _validated(ValidateInput, request.data)
        vocabulary, _ = _vocabulary()
        problems = routing_rules.validate_routing(data["operations"], _rules(), vocabulary)
        return Response({"valid": not problems, "problems": problems})


class RoutingRulesView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(description="The effective routing rules")})
    def get(self, request):
        """The rules in force, with the allowed codes spelled out for the editor."""
        rules = _rules()
        vocabulary, label = _vocabulary()
        body = {
            "allowed_op_codes": routing_rules.allowed(rules, "allowed_op_codes", vocabulary),
            "allowed_work_centers": routing_rules.allowed(
                rules, "allowed_work_centers", vocabulary
            ),
            "mandatory_final_ops": rules["mandatory_final_ops"],
            "max_minutes": rules["max_minutes"],
            "min_operations": rules["min_operations"],
            "sources": {
                "op_codes": "list" if isinstance(rules["allowed_op_codes"], list) else "from_data",
                "work_centers": (
                    "list" if isinstance(rules["allowed_work_centers"], list) else "from_data"
                ),
                "model_version": label,
            },
        }
        return Response(body)


class RoutingExportView(APIView):
    permission_classes = [IsViewer]

    def perform_content_negotiation(self, request, force=False):
        # ?format=csv is ours, not DRF's renderer override: errors are always JSON and the CSV
        # is written directly below.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter("profile", str, required=False, description="output profile name"),
            OpenApiParameter("format", str, enum=["json", "csv"], required=False),
        ],
        responses={
            200: OpenApiResponse(ExportOut, description="Rows in the ERP columns (JSON or CSV)")
        },
        description="A saved routing in the columns of the ERP's output mapping profile "
        "(?profile=, default the workflow's export profile), as JSON rows or ?format=csv.",
    )
    def get(self, request, pk: int):
        """The routing in the ERP columns of an output mapping profile."""
        from workflow_app.models import MappingProfile, WorkflowConfig
        from workflow_app.output_profiles import export_rows, to_csv

        query = _validated(ExportQuery, request.query_params)
        routing = _routing_or_404(pk)
        name = query.get("profile") or WorkflowConfig.current_profiles()["export_profile"]
        profile = _output_profile(name, MappingProfile)
        columns, rows = export_rows(profile, routing.export_context(), routing.operations)
        if query["format"] == "csv":
            response = HttpResponse(to_csv(columns, rows), content_type="text/csv; charset=utf-8")
            filename = _safe(f"routing-{routing.item_code}-{routing.pk}-{name}.csv")
            response["Content-Disposition"] = f'attachment; filename="{filename}"'
            return response
        return Response(
            {
                "routing_id": routing.pk,
                "item_code": routing.item_code,
                "profile": name,
                "columns": columns,
                "rows": rows,
            }
        )


def _output_profile(name: str, model) -> dict:
    from workflow_app.models import normalise_document, shipped_profiles

    row = model.objects.filter(name=name).first()
    if row is not None and row.direction == model.OUTPUT:
        return normalise_document(row.document())[1]
    shipped = shipped_profiles(model.OUTPUT).get(name)
    if row is None and shipped is not None:
        return shipped
    known = ", ".join(model.objects.names(model.OUTPUT))
    raise BadInput(
        f"No output mapping profile {name!r}. Known: {known}.",
        fields={"profile": [f"unknown output profile {name!r}"]},
        code="unknown_profile",
    )


def _safe(filename: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", filename)
