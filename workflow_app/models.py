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
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from routing_site.errors import BadInput, Conflict, NotFound
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
        with transaction.atomic():
            # one writer at a time, each reading the newest revision after the previous one
            # committed: two concurrent changes both take effect, neither is lost; the profile
            # names are checked under the lock, so a concurrent delete cannot slip between
            serialise("workflow config")
            _check_profile_names(training_profile, export_profile)
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


class DataSourceQuerySet(models.QuerySet):
    def names(self) -> list[str]:
        return list(self.order_by("name").values_list("name", flat=True))

    def get_by_name(self, name: str) -> DataSource:
        """The source ``name``; SourceError (400) naming the registered ones when unknown."""
        from registry_app.pipeline.sources import SourceError

        row = self.filter(name=name).first()
        if row is None:
            known = ", ".join(self.names()) or "(none)"
            raise SourceError(
                f"No data source {name!r} is registered. Registered: {known}. An admin "
                "registers one in Admin › Data sources, POST /api/v1/sources or manage.py "
                "add_source.",
                fields={"source": [f"unknown data source {name!r}"]},
            )
        return row

    def default_url(self) -> str | None:
        row = self.filter(name=DataSource.DEFAULT).first()
        return row.url() if row else None

    def register(self, user=None, **fields) -> DataSource:
        """Create a source from ``name, kind, location[, options, description]`` (validated);
        Conflict (409) when the name is taken, also by a concurrent create."""
        row = DataSource(**fields)
        row.created_by = row.updated_by = user if getattr(user, "pk", None) else None
        row.validate()
        if self.filter(name=row.name).exists():
            raise _taken("data source", row.name)
        try:
            with transaction.atomic():
                row.save()
                DataSourceChange.record(row, DataSourceChange.CREATED, user, after=row.snapshot())
        except IntegrityError:
            raise _taken("data source", row.name) from None
        return row

    def seed_default(self) -> bool:
        """Register ``ROUTING_SOURCE`` as the source named ``default`` when there is none."""
        from registry_app.pipeline.sources import SourceError, parse_source

        if self.filter(name=DataSource.DEFAULT).exists():
            return False
        try:
            kind, location = parse_source(settings.ROUTING_SOURCE)
        except SourceError:
            return False  # preflight reports the setting; nothing sensible to register
        with transaction.atomic():
            row, made = self.get_or_create(
                name=DataSource.DEFAULT,
                defaults={
                    "kind": kind,
                    "location": location,
                    "description": "From ROUTING_SOURCE.",
                },
            )
            if made:
                DataSourceChange.record(row, DataSourceChange.CREATED, after=row.snapshot())
        return made


def _taken(what: str, name: str) -> Conflict:
    return Conflict(
        f"A {what} named {name!r} exists already.",
        fields={"name": ["already in use"]},
        code="duplicate",
    )


class DataSource(models.Model):
    """Where plant data may be read from; registered and changed by admins only.

    Mapping profiles name a source (``"source": "default"``) and never carry a location, so an
    engineer who edits tables and columns cannot point a read anywhere else. Every open goes
    through the confinement of ``registry_app.pipeline.confinement``.
    """

    DEFAULT = "default"
    KIND_CHOICES = [
        ("sqlite", "SQLite file"),
        ("odbc", "ODBC connection string"),
        ("csv", "Folder of CSV files"),
        ("excel", "Excel workbook (sheets are tables)"),
    ]

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=KIND_CHOICES)
    location = models.CharField(
        max_length=1000, help_text="A file or folder path, or the ODBC connection string."
    )
    options = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = DataSourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def url(self) -> str:
        from registry_app.pipeline.sources import source_url

        return source_url(self.kind, self.location)

    def shown_location(self) -> str:
        """The location with any password in a connection string masked."""
        from registry_app.pipeline.sources import redact

        return redact(self.location) if self.kind == "odbc" else self.location

    def validate(self) -> None:
        """BadInput naming every bad field; the location must be one confinement allows."""
        from workflow_app.sources import check_source

        self.location = (self.location or "").strip()
        self.options = check_source(self)

    def open(self):
        """The opened source (a context manager); SourceError when it cannot be read."""
        from registry_app.pipeline.sources import open_source

        return open_source(self.url(), self._default_url(), self.options)

    def _default_url(self) -> str | None:
        if self.name == self.DEFAULT:
            return self.url()
        return DataSource.objects.default_url()

    def snapshot(self) -> dict:
        """What an audit row keeps of the source (a connection string's password masked)."""
        return {
            "kind": self.kind,
            "location": self.shown_location(),
            "options": self.options,
            "description": self.description,
        }

    def change(self, user=None, **fields) -> DataSource:
        """Change some of kind, location, options, description (validated), stamped who/when
        and audited (before and after) in the same transaction."""
        for key, value in fields.items():
            setattr(self, key, value)
        self.validate()
        with transaction.atomic():
            before = DataSource.objects.select_for_update().get(pk=self.pk).snapshot()
            self.updated_at = timezone.now()
            self.updated_by = user if getattr(user, "pk", None) else None
            self.save()
            DataSourceChange.record(self, DataSourceChange.CHANGED, user, before, self.snapshot())
        return self

    def used_by(self) -> list[str]:
        """The input mapping profiles that read this source."""
        rows = MappingProfile.objects.filter(direction=MappingProfile.INPUT)
        return [r.name for r in rows if (r.spec.get("source") or DataSource.DEFAULT) == self.name]

    def remove(self, user=None) -> None:
        """Delete the source (audited); Conflict (409) naming the profiles that still read it."""
        users = self.used_by()
        if users:
            raise Conflict(
                f"Data source {self.name!r} is read by mapping profile(s) {', '.join(users)}; "
                "point them at another source first.",
                fields={"name": [f"used by {', '.join(users)}"]},
                code="in_use",
            )
        with transaction.atomic():
            DataSourceChange.record(self, DataSourceChange.DELETED, user, before=self.snapshot())
            self.delete()


class DataSourceChange(models.Model):
    """One registration, change or deletion of a data source: who, when, before and after."""

    CREATED, CHANGED, DELETED = "created", "changed", "deleted"

    source_name = models.CharField(max_length=100)
    action = models.CharField(
        max_length=16, choices=[(CREATED, "created"), (CHANGED, "changed"), (DELETED, "deleted")]
    )
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = "data source change"

    def __str__(self) -> str:
        return f"{self.source_name} {self.action} ({self.at:%Y-%m-%d %H:%M})"

    @classmethod
    def record(
        cls, source: DataSource, action: str, user=None, before=None, after=None
    ) -> DataSourceChange:
        return cls.objects.create(
            source_name=source.name,
            action=action,
            before=before or {},
            after=after or {},
            by=user if getattr(user, "pk", None) else None,
        )


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
        self, document: dict, user=None, name: str | None = None, new: bool = False
    ) -> tuple[MappingProfile, bool]:
        """Create or update the profile named in ``document`` (or ``name``); ``(row, created)``.

        ``document`` is the profile JSON as ``dump_profile`` prints it; ``direction`` defaults
        to ``input``. Nothing is written when it is invalid (BadInput names every problem), nor
        when ``new`` and the name is taken (Conflict, 409; also when a concurrent create wins).
        """
        direction, spec = normalise_document(document, name)
        check_source_registered(direction, spec)
        try:
            with transaction.atomic():
                row = self.select_for_update().filter(name=spec["name"]).first()
                if new and row is not None:
                    raise _taken("profile", spec["name"])
                created = row is None
                row = row or MappingProfile(name=spec["name"])
                row.direction = direction
                row.description = spec.get("description", "")[:300]
                row.spec = {k: v for k, v in spec.items() if k != "name"}
                row.updated_at = timezone.now()
                row.updated_by = user if getattr(user, "pk", None) else None
                row.save()
        except IntegrityError:  # a concurrent create of the same name won the race
            raise _taken("profile", spec["name"]) from None
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


def check_source_registered(direction: str, spec: dict) -> None:
    """BadInput unless the data source an input profile names is registered."""
    if direction != MappingProfile.INPUT:
        return
    name = spec.get("source") or DataSource.DEFAULT
    if not DataSource.objects.filter(name=name).exists():
        known = ", ".join(DataSource.objects.names()) or "(none)"
        message = f"no data source {name!r} is registered; registered: {known}"
        raise BadInput(f"source: {message}", fields={"source": [message]})


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

    def uses(self) -> list[str]:
        """Where the workflow reads this profile (the current config's training / export)."""
        config = WorkflowConfig.current()
        revision = f"workflow config revision #{config.pk}" if config else "the shipped workflow"
        return [
            f"{key.replace('_', ' ')} of {revision}"
            for key, name in WorkflowConfig.current_profiles().items()
            if name == self.name
        ]

    def remove(self) -> None:
        """Delete the profile; Conflict (409) naming where it is used when it is in use."""
        with transaction.atomic():
            # the config writers' lock: a concurrent revision cannot adopt the profile meanwhile
            serialise("workflow config")
            uses = self.uses()
            if uses:
                raise Conflict(
                    f"Mapping profile {self.name!r} is the {' and the '.join(uses)}; choose "
                    "another profile there first (admin › Workflow config or a blueprint).",
                    fields={"name": [f"in use: {u}" for u in uses]},
                    code="in_use",
                )
            self.delete()


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
