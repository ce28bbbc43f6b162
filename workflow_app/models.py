"""Workflow configuration (versioned), mapping profiles and blueprints.

Every state change is a verb on a model that runs in one transaction and leaves its history
row: :meth:`WorkflowConfig.apply` (a new config revision), :meth:`MappingProfileQuerySet.put`
(create or update a profile from its JSON document), :meth:`Blueprint.save_graph` (a new
blueprint revision) and :meth:`Blueprint.apply` (the blueprint's settings become a new config
revision). Validation lives in the plain modules beside this one (``settings_schema``,
``profiles``, ``output_profiles``, ``blueprints``) so the API, the admin and the commands refuse
exactly the same things.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from routing_site.errors import BadInput, NotFound
from routing_site.locks import serialise
from workflow_app import settings_schema

DEFAULT_INPUT_PROFILE = "plant-default"
DEFAULT_OUTPUT_PROFILE = "erp-routing"


class WorkflowConfig(models.Model):
    """Every change is a new row (who, when, what); the newest row is the current config."""

    values = models.JSONField(default=dict)  # the full, validated settings after the change
    changes = models.JSONField(default=dict, blank=True)  # what this row changed
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.CharField(max_length=300, blank=True)
    # The profiles a training and an export use when none is named ("" = the shipped ones).
    # Carried forward by every revision; set by blueprints and the admin's revision form.
    training_profile = models.CharField(
        max_length=100, blank=True, help_text="Input mapping profile used by trainings."
    )
    export_profile = models.CharField(
        max_length=100, blank=True, help_text="Output mapping profile used by routing exports."
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "workflow config revision"

    def __str__(self) -> str:
        return f"config #{self.pk} ({self.created_at:%Y-%m-%d %H:%M})"

    @classmethod
    def current(cls) -> WorkflowConfig | None:
        return cls.objects.order_by("-id").first()

    @classmethod
    def current_values(cls) -> dict:
        row = cls.current()
        return {**settings_schema.defaults(), **(row.values if row else {})}

    @classmethod
    def current_id(cls) -> int:
        return cls.objects.order_by("-id").values_list("id", flat=True).first() or 0

    @classmethod
    def current_profiles(cls) -> dict[str, str]:
        """``{"training_profile", "export_profile"}`` in force (the shipped names by default)."""
        row = cls.objects.order_by("-id").values("training_profile", "export_profile").first()
        row = row or {}
        return {
            "training_profile": row.get("training_profile") or DEFAULT_INPUT_PROFILE,
            "export_profile": row.get("export_profile") or DEFAULT_OUTPUT_PROFILE,
        }

    @classmethod
    def apply(
        cls,
        changes: dict,
        user=None,
        comment: str = "",
        training_profile: str | None = None,
        export_profile: str | None = None,
    ) -> WorkflowConfig:
        """Validate a partial change and store the new full config as one new row.

        ``training_profile`` / ``export_profile`` (None = keep) must name existing profiles.
        """
        weights_for = DEFAULT_INPUT_PROFILE if training_profile == "" else training_profile
        cleaned = settings_schema.validate_changes(changes, weights_for)
        _check_profile_names(training_profile, export_profile)
        with transaction.atomic():
            # one writer at a time, each reading the newest revision after the previous one
            # committed: two concurrent changes both take effect, neither is lost
            serialise("workflow config")
            previous = cls.objects.order_by("-id").first()
            base = {**settings_schema.defaults(), **(previous.values if previous else {})}
            return cls.objects.create(
                values={**base, **cleaned},
                changes=cleaned,
                created_by=user if getattr(user, "pk", None) else None,
                comment=comment[:300],
                training_profile=_carry(training_profile, previous, "training_profile"),
                export_profile=_carry(export_profile, previous, "export_profile"),
            )


def _carry(new: str | None, previous: WorkflowConfig | None, attr: str) -> str:
    if new is not None:
        return new
    return getattr(previous, attr, "") if previous else ""


def _check_profile_names(training: str | None, export: str | None) -> None:
    fields = {}
    for key, name, direction in (
        ("training_profile", training, MappingProfile.INPUT),
        ("export_profile", export, MappingProfile.OUTPUT),
    ):
        if name and not MappingProfile.objects.exists_named(name, direction):
            known = ", ".join(MappingProfile.objects.names(direction))
            fields[key] = [f"no {direction} mapping profile {name!r}; known: {known}"]
    if fields:
        key = next(iter(fields))
        raise BadInput(f"{key}: {fields[key][0]}", fields=fields, code="unknown_profile")


class MappingProfileQuerySet(models.QuerySet):
    def names(self, direction: str) -> list[str]:
        stored = self.filter(direction=direction).values_list("name", flat=True)
        return sorted({*stored, *shipped_profiles(direction)})

    def exists_named(self, name: str, direction: str) -> bool:
        return (
            name in shipped_profiles(direction)
            or self.filter(name=name, direction=direction).exists()
        )

    def get_by_name(self, name: str) -> MappingProfile:
        row = self.filter(name=name).first()
        if row is None:
            known = ", ".join(self.values_list("name", flat=True)) or "(none)"
            raise NotFound(f"No mapping profile {name!r}. Known: {known}.")
        return row

    def put(
        self, document: dict, user=None, name: str | None = None
    ) -> tuple[MappingProfile, bool]:
        """Create or update the profile named in ``document`` (or ``name``); ``(row, created)``.

        ``document`` is the profile JSON as ``dump_profile`` prints it; ``direction`` defaults
        to ``input``. Nothing is written when it is invalid (BadInput names every problem).
        """
        direction, spec = normalise_document(document, name)
        with transaction.atomic():
            row = self.select_for_update().filter(name=spec["name"]).first()
            created = row is None
            row = row or MappingProfile(name=spec["name"])
            row.direction = direction
            row.description = spec.get("description", "")[:300]
            row.spec = {k: v for k, v in spec.items() if k != "name"}
            row.updated_at = timezone.now()
            row.updated_by = user if getattr(user, "pk", None) else None
            row.save()
        return row, created

    def seed_shipped(self) -> list[str]:
        """Create the shipped profiles that are missing; never overwrite an operator's edits."""
        created = []
        for direction in (MappingProfile.INPUT, MappingProfile.OUTPUT):
            for name, spec in shipped_profiles(direction).items():
                _, made = self.get_or_create(
                    name=name,
                    defaults={
                        "direction": direction,
                        "description": spec.get("description", "")[:300],
                        "spec": {k: v for k, v in spec.items() if k != "name"},
                    },
                )
                if made:
                    created.append(name)
        return created


def shipped_profiles(direction: str) -> dict[str, dict]:
    """The profiles shipped in ``workflow_app/defaults/`` for ``direction``, validated."""
    if direction == MappingProfile.INPUT:
        from workflow_app.profiles import load_default_profile

        spec = load_default_profile()
        spec.pop("direction", None)
        return {spec["name"]: spec}
    from workflow_app.output_profiles import load_shipped_output_profile

    spec = load_shipped_output_profile()
    return {spec["name"]: spec}


def normalise_document(document: dict, name: str | None = None) -> tuple[str, dict]:
    """``(direction, validated spec with its name)`` or BadInput naming every problem."""
    from workflow_app.output_profiles import validate_output_profile
    from workflow_app.profiles import validate_profile

    if not isinstance(document, dict):
        raise BadInput(
            "A mapping profile must be a JSON object.", fields={"spec": ["not an object"]}
        )
    doc = dict(document)
    direction = doc.pop("direction", None) or MappingProfile.INPUT
    if direction not in (MappingProfile.INPUT, MappingProfile.OUTPUT):
        raise BadInput(
            "direction must be input or output.", fields={"direction": ["must be input or output"]}
        )
    if name:
        doc["name"] = name
    _check_name(doc.get("name"))
    if direction == MappingProfile.OUTPUT:
        return direction, validate_output_profile(doc)
    # twice: the first pass may fill in defaults in another key order than a second pass
    # gives, and a dumped profile must load back identical
    return direction, validate_profile(validate_profile(doc))


def _check_name(name) -> None:
    from django.core.validators import validate_slug

    message = "required: letters, digits, '-' or '_' (at most 100)"
    if not isinstance(name, str) or not name or len(name) > 100:
        raise BadInput(f"name: {message}", fields={"name": [message]})
    try:
        validate_slug(name)
    except Exception:
        raise BadInput(f"name: {message}", fields={"name": [message]}) from None


class MappingProfile(models.Model):
    INPUT, OUTPUT = "input", "output"

    name = models.SlugField(max_length=100, unique=True)
    direction = models.CharField(
        max_length=8,
        choices=[(INPUT, "Input (source → canonical)"), (OUTPUT, "Output (canonical → ERP)")],
    )
    description = models.CharField(max_length=300, blank=True)
    spec = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = MappingProfileQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.direction})"

    def document(self) -> dict:
        """The profile as one JSON document (what ``dump_profile`` prints, ``put`` accepts)."""
        return {"name": self.name, "direction": self.direction, **self.spec}

    def validated(self) -> dict:
        """The stored spec, validated again (the validators may have grown since it was saved)."""
        return normalise_document(self.document())[1]


class Blueprint(models.Model):
    """A pipeline graph whose node settings are the workflow parameters (DESIGN §6)."""

    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    graph = models.JSONField(default=dict)
    revision = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    applied_revision = models.PositiveIntegerField(null=True, blank=True)
    applied_config = models.ForeignKey(
        WorkflowConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (rev {self.revision})"

    @classmethod
    def create(cls, name: str, graph: dict, description: str = "", user=None) -> Blueprint:
        from workflow_app.blueprints import check_graph

        _check_blueprint_name(name)
        graph = check_graph(graph)
        with transaction.atomic():
            if cls.objects.filter(name=name).exists():
                raise _duplicate_name(name)
            blueprint = cls.objects.create(name=name, description=description[:300])
            blueprint.save_graph(graph, user=user, comment="created")
        return blueprint

    def save_graph(
        self,
        graph: dict | None = None,
        user=None,
        comment: str = "",
        name: str | None = None,
        description: str | None = None,
    ) -> BlueprintRevision:
        """Validate and store a new graph (and/or name, description) as the next revision."""
        from workflow_app.blueprints import check_graph

        graph = check_graph(self.graph if graph is None else graph)
        if name is not None:
            _check_blueprint_name(name)
            if Blueprint.objects.filter(name=name).exclude(pk=self.pk).exists():
                raise _duplicate_name(name)
        with transaction.atomic():
            locked = Blueprint.objects.select_for_update().get(pk=self.pk)
            self.revision = locked.revision + 1
            self.graph = graph
            self.name = name if name is not None else locked.name
            self.description = (description if description is not None else locked.description)[
                :300
            ]
            self.updated_at = timezone.now()
            self.updated_by = user if getattr(user, "pk", None) else None
            self.save()
            return BlueprintRevision.objects.create(
                blueprint=self,
                number=self.revision,
                name=self.name,
                description=self.description,
                graph=graph,
                created_by=self.updated_by,
                comment=comment[:300],
            )

    def apply(self, user=None) -> WorkflowConfig:
        """Write the node settings as one new config revision, with the profiles referenced."""
        from workflow_app.blueprints import check_graph, graph_profiles, graph_settings

        graph = check_graph(self.graph)  # profiles may have been deleted since it was saved
        profiles = graph_profiles(graph)
        with transaction.atomic():
            config = WorkflowConfig.apply(
                graph_settings(graph),
                user=user,
                comment=f"blueprint {self.name} rev {self.revision}",
                training_profile=profiles.get("training_profile"),
                export_profile=profiles.get("export_profile"),
            )
            Blueprint.objects.filter(pk=self.pk).update(
                applied_revision=self.revision, applied_config=config
            )
            self.applied_revision, self.applied_config = self.revision, config
        return config


def _duplicate_name(name: str) -> BadInput:
    return BadInput(
        f"A blueprint named {name!r} exists already.",
        fields={"name": ["already in use"]},
        code="duplicate",
    )


def _check_blueprint_name(name) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        message = "required: a name of at most 100 characters"
        raise BadInput(f"name: {message}", fields={"name": [message]})


class BlueprintRevision(models.Model):
    """One saved state of a blueprint; written by :meth:`Blueprint.save_graph`, never edited."""

    blueprint = models.ForeignKey(Blueprint, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    graph = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["blueprint", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["blueprint", "number"], name="blueprint_revision_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} rev {self.number}"
