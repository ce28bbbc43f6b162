"""Registry endpoints: versions and their lifecycle, training runs."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts_app.permissions import IsAdminRole, IsViewer
from registry_app.models import ModelVersion, TrainingRun
from registry_app.serializers import run_dict, version_dict
from routing_site.errors import NotFound


class CommentInput(serializers.Serializer):
    comment = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class TrainInput(serializers.Serializer):
    profile = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class VersionListView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(description="Model versions, newest first")})
    def get(self, request):
        versions = ModelVersion.objects.select_related("approved_by", "requested_by")
        return Response({"versions": [version_dict(v) for v in versions]})


class VersionActionView(APIView):
    permission_classes = [IsAdminRole]
    verb = ""

    @extend_schema(
        request=CommentInput, responses={200: OpenApiResponse(description="The version")}
    )
    def post(self, request, label: str):
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = ModelVersion.objects.get_by_label(label)
        version = getattr(version, self.verb)(
            user=request.user, comment=data.validated_data["comment"]
        )
        return Response(version_dict(version))


class ApproveView(VersionActionView):
    verb = "approve"


class RejectView(VersionActionView):
    verb = "reject"


class ActivateView(VersionActionView):
    verb = "activate"


class RollbackView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=CommentInput, responses={200: OpenApiResponse(description="Now active")})
    def post(self, request):
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = ModelVersion.rollback(user=request.user, comment=data.validated_data["comment"])
        return Response(version_dict(version))


class TrainingRunListView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=TrainInput, responses={202: OpenApiResponse(description="Queued run")})
    def post(self, request):
        """Queue a training (202), or 409 while one is queued or running."""
        from registry_app.tasks import enqueue_training
        from workflow_app.config import get_input_profile

        data = TrainInput(data=request.data)
        data.is_valid(raise_exception=True)
        profile = data.validated_data["profile"]
        get_input_profile(profile or None)
        run = enqueue_training(profile, user=request.user, trigger="api")
        return Response(
            run_dict(run), status=202, headers={"Location": f"/api/v1/training-runs/{run.pk}"}
        )

    @extend_schema(
        operation_id="training_runs_list",
        responses={200: OpenApiResponse(description="Recent training runs")},
    )
    def get(self, request):
        return Response(
            {"runs": [run_dict(r) for r in TrainingRun.objects.select_related("version")[:50]]}
        )


class TrainingRunView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        responses={200: OpenApiResponse(description="State, stage, progress, timings, error")}
    )
    def get(self, request, pk: int):
        run = TrainingRun.objects.select_related("version").filter(pk=pk).first()
        if run is None:
            raise NotFound(f"No training run {pk}.")
        return Response(run_dict(run))
