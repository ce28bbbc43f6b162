"""Workflow endpoints: the config, mapping profiles (CRUD + preview) and blueprints (CRUD + apply).

Viewers read, engineers write. Each write calls one model verb; a refused body answers 400 in
the shared error shape and writes nothing.
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts_app.permissions import IsAdminRole, IsEngineer, IsViewer
from routing_site.errors import BadInput, NotFound
from workflow_app.blueprints import node_types, validate_graph
from workflow_app.models import (
    Blueprint,
    DataSource,
    MappingProfile,
    WorkflowConfig,
    normalise_document,
    shipped_profiles,
)
from workflow_app.serializers import (
    BlueprintWrite,
    DataSourceWrite,
    MappingProfileWrite,
    blueprint_data,
    profile_data,
    revision_data,
    source_data,
    workflow_data,
)


def _validated(serializer_class, request, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ViewerReadsEngineerWrites(APIView):
    def get_permissions(self):
        return [IsViewer() if self.request.method in SAFE_METHODS else IsEngineer()]


class ReadsSources(IsEngineer):
    """Reading plant data: a person with the engineer role or higher, never a service token."""

    message = "Reading a data source needs the engineer role or higher; service tokens may not."

    def has_permission(self, request, view) -> bool:
        account = getattr(request.user, "account", None)
        return super().has_permission(request, view) and not getattr(account, "is_service", False)


class EngineerReadsAdminWrites(APIView):
    def get_permissions(self):
        return [ReadsSources() if self.request.method in SAFE_METHODS else IsAdminRole()]


# --- data sources -----------------------------------------------------------------------------


def _source_or_404(name: str) -> DataSource:
    row = DataSource.objects.select_related("created_by", "updated_by").filter(name=name).first()
    if row is None:
        known = ", ".join(DataSource.objects.names()) or "(none)"
        raise NotFound(f"No data source {name!r}. Registered: {known}.")
    return row


class DataSourceListView(EngineerReadsAdminWrites):
    @extend_schema(
        operation_id="sources_list",
        responses={200: OpenApiResponse(description="{sources: [...]}")},
    )
    def get(self, request):
        """Every registered data source (passwords in connection strings masked)."""
        rows = DataSource.objects.select_related("created_by", "updated_by")
        return Response({"sources": [source_data(r) for r in rows]})

    @extend_schema(
        request=DataSourceWrite,
        responses={
            201: OpenApiResponse(description="Source"),
            400: OpenApiResponse(description="Bad field, or a location that may not be read"),
            409: OpenApiResponse(description="The name is taken"),
        },
    )
    def post(self, request):
        """Register a source {name, kind, location, options?, description?} (admins only)."""
        data = _validated(DataSourceWrite, request)
        for key in ("name", "kind", "location"):
            if key not in data:
                raise BadInput(f"{key} is required.", fields={key: ["required"]})
        row = DataSource.objects.register(user=request.user, **data)
        return Response(source_data(row), status=201)


class DataSourceDetailView(EngineerReadsAdminWrites):
    @extend_schema(responses={200: OpenApiResponse(description="Source")})
    def get(self, request, name: str):
        return Response(source_data(_source_or_404(name)))

    @extend_schema(
        request=DataSourceWrite,
        responses={
            200: OpenApiResponse(description="Source"),
            400: OpenApiResponse(description="Bad field, or a location that may not be read"),
        },
    )
    def patch(self, request, name: str):
        """Change some of kind, location, options, description (admins only; no renames)."""
        data = _validated(DataSourceWrite, request, partial=True)
        if data.pop("name", name) != name:
            raise BadInput(
                "The name in the body differs from the URL; sources are not renamed.",
                fields={"name": [f"must be {name!r}"]},
            )
        row = _source_or_404(name)
        return Response(source_data(row.change(user=request.user, **data)))

    @extend_schema(
        responses={204: None, 409: OpenApiResponse(description="Profiles still read it")}
    )
    def delete(self, request, name: str):
        _source_or_404(name).remove(user=request.user)
        return Response(status=204)


# --- workflow config --------------------------------------------------------------------------


class WorkflowView(ViewerReadsEngineerWrites):
    @extend_schema(responses={200: OpenApiResponse(description="revision, values, schema")})
    def get(self, request):
        """The current settings, their revision and the schema of every whitelisted key."""
        return Response(workflow_data(WorkflowConfig.current()))

    @extend_schema(request=dict, responses={200: OpenApiResponse(description="The new revision")})
    def patch(self, request):
        """Change some whitelisted settings: one new revision, or 400 naming the bad key."""
        if not isinstance(request.data, dict) or not request.data:
            raise BadInput('Send a JSON object of settings to change, e.g. {"top_k": 8}.')
        row = WorkflowConfig.apply(dict(request.data), user=request.user, comment="API change")
        return Response(workflow_data(row))


# --- mapping profiles -------------------------------------------------------------------------


def _profile_or_404(name: str) -> MappingProfile:
    row = MappingProfile.objects.filter(name=name).first()
    if row is not None:
        return row
    for direction in (MappingProfile.INPUT, MappingProfile.OUTPUT):
        spec = shipped_profiles(direction).get(name)
        if spec is not None:  # shipped but not (yet) in the database: serve it read-only
            return MappingProfile(
                name=name,
                direction=direction,
                description=spec.get("description", ""),
                spec={k: v for k, v in spec.items() if k != "name"},
            )
    known = ", ".join(MappingProfile.objects.values_list("name", flat=True)) or "(none)"
    raise NotFound(f"No mapping profile {name!r}. Known: {known}.")


def _document(data: dict, base: MappingProfile | None, name: str | None, merge: bool) -> dict:
    """The full profile document from a request body (``merge``: PATCH, top-level spec keys)."""
    spec = dict(base.spec) if merge and base is not None else {}
    spec.update(data.get("spec", {}))
    if "description" in data:
        spec["description"] = data["description"]
    direction = data.get("direction") or (base.direction if base is not None else None)
    return {**spec, "name": name or data.get("name"), "direction": direction}


class MappingProfileListView(ViewerReadsEngineerWrites):
    @extend_schema(
        operation_id="mapping_profiles_list",
        parameters=[OpenApiParameter("direction", str, enum=["input", "output"], required=False)],
        responses={200: OpenApiResponse(description="{profiles: [...]}")},
    )
    def get(self, request):
        """Every mapping profile (``?direction=input|output`` to filter)."""
        rows = MappingProfile.objects.select_related("updated_by")
        direction = request.query_params.get("direction")
        if direction:
            if direction not in (MappingProfile.INPUT, MappingProfile.OUTPUT):
                raise BadInput(
                    "direction must be input or output.",
                    fields={"direction": ["must be input or output"]},
                )
            rows = rows.filter(direction=direction)
        return Response({"profiles": [profile_data(r) for r in rows]})

    @extend_schema(
        request=MappingProfileWrite, responses={201: OpenApiResponse(description="Profile")}
    )
    def post(self, request):
        """Create a profile: {name, direction?, description?, spec}; 400 with field errors."""
        data = _validated(MappingProfileWrite, request)
        if "spec" not in data:
            raise BadInput("spec is required.", fields={"spec": ["required"]})
        row, _ = MappingProfile.objects.put(
            _document(data, None, None, False), user=request.user, new=True
        )
        return Response(profile_data(row), status=201)


class MappingProfileDetailView(ViewerReadsEngineerWrites):
    @extend_schema(responses={200: OpenApiResponse(description="Profile")})
    def get(self, request, name: str):
        return Response(profile_data(_profile_or_404(name)))

    @extend_schema(
        request=MappingProfileWrite, responses={200: OpenApiResponse(description="Profile")}
    )
    def put(self, request, name: str):
        """Replace the profile's spec (the name in the URL is the profile's)."""
        return self._write(request, name, partial=False)

    @extend_schema(
        request=MappingProfileWrite, responses={200: OpenApiResponse(description="Profile")}
    )
    def patch(self, request, name: str):
        """Change some of: description, direction, spec (top-level keys merged)."""
        return self._write(request, name, partial=True)

    def _write(self, request, name: str, partial: bool):
        data = _validated(MappingProfileWrite, request, partial=partial)
        if data.get("name", name) != name:
            raise BadInput(
                "The name in the body differs from the URL; profiles are not renamed.",
                fields={"name": [f"must be {name!r}"]},
            )
        if not partial and "spec" not in data:
            raise BadInput("spec is required.", fields={"spec": ["required"]})
        base = _profile_or_404(name)
        row, _ = MappingProfile.objects.put(
            _document(data, base, name, merge=partial), user=request.user
        )
        return Response(profile_data(row))

    @extend_schema(
        responses={204: None, 409: OpenApiResponse(description="The training or export profile")}
    )
    def delete(self, request, name: str):
        row = MappingProfile.objects.filter(name=name).first()
        if row is None:
            raise NotFound(f"No mapping profile {name!r} in the database.")
        row.remove()
        return Response(status=204)


class PreviewQuery(serializers.Serializer):
    rows = serializers.IntegerField(min_value=0, max_value=100, required=False, default=10)


class MappingProfilePreviewView(APIView):
    permission_classes = [ReadsSources]

    @extend_schema(
        parameters=[
            OpenApiParameter("rows", int, required=False, description="0..100, default 10")
        ],
        responses={200: OpenApiResponse(description="Tables, columns, problems")},
    )
    def get(self, request, name: str):
        """The first rows of each mapped table as the profile maps them, with column problems."""
        query = PreviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        row = _profile_or_404(name)
        direction, spec = normalise_document(row.document())  # 400: the stored spec is invalid
        return Response(_preview(direction, spec, query.validated_data["rows"]))

    @extend_schema(
        operation_id="mapping_profiles_preview_draft",
        parameters=[
            OpenApiParameter("rows", int, required=False, description="0..100, default 10")
        ],
        request={"application/json": {"type": "object"}},
        responses={200: OpenApiResponse(description="Tables, columns, problems")},
    )
    def post(self, request, name: str):
        """The preview of the body's profile (as PUT would store it) — nothing is saved.

        The edit-preview-save loop of a new or changed profile: send the document you would PUT
        (``{"spec": {...}, "direction": ..., "description": ...}``) and read the first rows as it
        maps them; save it with PUT when the preview is right.
        """
        query = PreviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = request.data
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
            raise BadInput("spec is required (a JSON object).", fields={"spec": ["required"]})
        base = MappingProfile.objects.filter(name=name).first()
        direction, spec = normalise_document(_document(data, base, name, merge=False))
        return Response(_preview(direction, spec, query.validated_data["rows"]))


def _preview(direction: str, spec: dict, rows: int) -> dict:
    from workflow_app.output_profiles import preview as output_preview
    from workflow_app.preview import preview_profile

    if direction == MappingProfile.OUTPUT:
        return output_preview(spec)
    return preview_profile(spec, rows)


class SourceSuggestProfileView(APIView):
    permission_classes = [ReadsSources]

    @extend_schema(
        operation_id="sources_suggest_profile",
        responses={200: OpenApiResponse(description="{source, tables, proposal, profile, ...}")},
    )
    def get(self, request, name: str):
        """The source's tables and columns and a proposed input profile (never saved)."""
        from workflow_app.suggest import suggest_profile

        return Response(suggest_profile(name))


# --- blueprints -------------------------------------------------------------------------------


def _blueprint_or_404(pk: int) -> Blueprint:
    bp = Blueprint.objects.select_related("updated_by").filter(pk=pk).first()
    if bp is None:
        raise NotFound(f"No blueprint {pk}.")
    return bp


class BlueprintListView(ViewerReadsEngineerWrites):
    @extend_schema(
        operation_id="blueprints_list",
        responses={200: OpenApiResponse(description="{blueprints: [...], node_types}")},
    )
    def get(self, request):
        rows = Blueprint.objects.select_related("updated_by")
        return Response(
            {"blueprints": [blueprint_data(b) for b in rows], "node_types": node_types()}
        )

    @extend_schema(
        request=BlueprintWrite, responses={201: OpenApiResponse(description="Blueprint")}
    )
    def post(self, request):
        """Create a blueprint {name, description?, graph}; 400 listing every graph problem."""
        data = _validated(BlueprintWrite, request)
        for key in ("name", "graph"):
            if key not in data:
                raise BadInput(f"{key} is required.", fields={key: ["required"]})
        bp = Blueprint.create(
            data["name"], data["graph"], data.get("description", ""), request.user
        )
        return Response(blueprint_data(bp), status=201)


class BlueprintDetailView(ViewerReadsEngineerWrites):
    @extend_schema(responses={200: OpenApiResponse(description="Blueprint")})
    def get(self, request, pk: int):
        return Response(blueprint_data(_blueprint_or_404(pk)))

    @extend_schema(
        request=BlueprintWrite, responses={200: OpenApiResponse(description="Blueprint")}
    )
    def put(self, request, pk: int):
        """Replace name, description and graph: a new revision."""
        return self._write(request, pk, partial=False)

    @extend_schema(
        request=BlueprintWrite, responses={200: OpenApiResponse(description="Blueprint")}
    )
    def patch(self, request, pk: int):
        """Change some of name, description, graph: a new revision."""
        return self._write(request, pk, partial=True)

    def _write(self, request, pk: int, partial: bool):
        data = _validated(BlueprintWrite, request, partial=partial)
        if not partial and "graph" not in data:
            raise BadInput("graph is required.", fields={"graph": ["required"]})
        bp = _blueprint_or_404(pk)
        bp.save_graph(
            data.get("graph"),
            user=request.user,
            comment=data.get("comment", ""),
            name=data.get("name"),
            description=data.get("description"),
        )
        return Response(blueprint_data(bp))

    @extend_schema(responses={204: None})
    def delete(self, request, pk: int):
        _blueprint_or_404(pk).delete()
        return Response(status=204)


class BlueprintRevisionsView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(responses={200: OpenApiResponse(description="{revisions: [...]}, newest first")})
    def get(self, request, pk: int):
        bp = _blueprint_or_404(pk)
        revisions = bp.revisions.select_related("created_by").order_by("-number")
        return Response({"blueprint": bp.pk, "revisions": [revision_data(r) for r in revisions]})


class BlueprintValidateView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(request=dict, responses={200: OpenApiResponse(description="{valid, errors}")})
    def post(self, request):
        """Check a graph without saving it: {"valid", "errors": [{node?, field?, message}]}."""
        errors = validate_graph(request.data)
        return Response({"valid": not errors, "errors": errors})


class BlueprintApplyView(APIView):
    permission_classes = [IsEngineer]

    @extend_schema(request=None, responses={200: OpenApiResponse(description="Blueprint + config")})
    def post(self, request, pk: int):
        """Make the blueprint's settings the current workflow config (one new revision)."""
        with transaction.atomic():
            bp = _blueprint_or_404(pk)
            config = bp.apply(user=request.user)
        return Response(
            {"blueprint": blueprint_data(bp, with_graph=False), "workflow": workflow_data(config)}
        )
