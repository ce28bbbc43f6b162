"""Request bodies of the workflow API, and the plain dicts it answers with.

Bodies are checked for shape here (unknown fields refused); the domain checks (profile specs,
blueprint graphs, settings) are the model verbs', so the admin and the commands refuse the same.
"""

from __future__ import annotations

from rest_framework import serializers

from inference_app.serializers import StrictSerializer
from workflow_app import settings_schema
from workflow_app.blueprints import setting_schema
from workflow_app.models import (
    DEFAULT_INPUT_PROFILE,
    DEFAULT_OUTPUT_PROFILE,
    Blueprint,
    BlueprintRevision,
    DataSource,
    MappingProfile,
    WorkflowConfig,
)


class MappingProfileWrite(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    direction = serializers.ChoiceField(
        choices=[MappingProfile.INPUT, MappingProfile.OUTPUT], required=False
    )
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    spec = serializers.DictField(required=False)


class DataSourceWrite(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    kind = serializers.ChoiceField(choices=[k for k, _ in DataSource.KIND_CHOICES], required=False)
    location = serializers.CharField(max_length=1000, required=False)
    options = serializers.DictField(required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)


class BlueprintWrite(StrictSerializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(max_length=300, required=False, allow_blank=True)
    graph = serializers.DictField(required=False)
    comment = serializers.CharField(max_length=300, required=False, allow_blank=True)


def _user(user) -> str | None:
    return user.get_username() if user is not None else None


def profile_data(row: MappingProfile) -> dict:
    return {
        "name": row.name,
        "direction": row.direction,
        "description": row.description,
        "spec": row.spec,
        "updated_at": row.updated_at.isoformat(),
        "updated_by": _user(row.updated_by),
    }


def source_data(row: DataSource) -> dict:
    return {
        "name": row.name,
        "kind": row.kind,
        "location": row.shown_location(),
        "options": row.options,
        "description": row.description,
        "created_at": row.created_at.isoformat(),
        "created_by": _user(row.created_by),
        "updated_at": row.updated_at.isoformat(),
        "updated_by": _user(row.updated_by),
    }


def blueprint_data(bp: Blueprint, with_graph: bool = True) -> dict:
    data = {
        "id": bp.pk,
        "name": bp.name,
        "description": bp.description,
        "revision": bp.revision,
        "updated_at": bp.updated_at.isoformat(),
        "updated_by": _user(bp.updated_by),
        "applied_revision": bp.applied_revision,
        "applied_config": bp.applied_config_id,
    }
    if with_graph:
        data["graph"] = bp.graph
    return data


def revision_data(rev: BlueprintRevision) -> dict:
    return {
        "number": rev.number,
        "name": rev.name,
        "description": rev.description,
        "graph": rev.graph,
        "created_at": rev.created_at.isoformat(),
        "created_by": _user(rev.created_by),
        "comment": rev.comment,
    }


def workflow_schema() -> dict:
    return {key: setting_schema(key) for key in settings_schema.SETTINGS}


def workflow_data(row: WorkflowConfig | None) -> dict:
    return {
        "revision": row.pk if row else 0,
        "values": {**settings_schema.defaults(), **(row.values if row else {})},
        "schema": workflow_schema(),
        "training_profile": (row.training_profile if row else "") or DEFAULT_INPUT_PROFILE,
        "export_profile": (row.export_profile if row else "") or DEFAULT_OUTPUT_PROFILE,
        "created_at": row.created_at.isoformat() if row else None,
        "created_by": _user(row.created_by) if row else None,
        "comment": row.comment if row else "",
    }
