"""Where training and the runtime read workflow settings and mapping profiles from."""

from __future__ import annotations

from routing_site.errors import NotFound

DEFAULT_PROFILE = "plant-default"


def current_settings() -> dict:
    from workflow_app.models import WorkflowConfig

    return WorkflowConfig.current_values()


def settings_revision() -> int:
    from workflow_app.models import WorkflowConfig

    return WorkflowConfig.current_id()


def current_settings_and_revision() -> tuple[dict, int]:
    """The settings in force and their revision, read from one row (never from two moments)."""
    from workflow_app import settings_schema
    from workflow_app.models import WorkflowConfig

    row = WorkflowConfig.current()
    values = {**settings_schema.defaults(), **(row.values if row else {})}
    return values, row.pk if row else 0


def get_input_profile(name: str | None) -> dict:
    """The validated input profile ``name`` (the shipped default when absent from the DB)."""
    from workflow_app.models import MappingProfile, WorkflowConfig
    from workflow_app.profiles import load_default_profile, validate_profile

    name = name or WorkflowConfig.current_profiles()["training_profile"] or DEFAULT_PROFILE
    row = MappingProfile.objects.filter(name=name, direction=MappingProfile.INPUT).first()
    if row is not None:
        return validate_profile({**row.spec, "name": row.name})
    if name == DEFAULT_PROFILE:
        return load_default_profile()
    known = list(
        MappingProfile.objects.filter(direction=MappingProfile.INPUT).values_list("name", flat=True)
    )
    raise NotFound(
        f"No input mapping profile {name!r}. Known: {', '.join([DEFAULT_PROFILE, *known])}. "
        "Load one with manage.py load_profile FILE.json.",
        fields={"profile": [f"unknown profile {name!r}"]},
    )
