"""The model registry: versions and their lifecycle, training runs, the audit trail.

State changes are verbs on :class:`ModelVersion`; each runs in one transaction, locks the rows
it changes and writes its :class:`AuditEntry` in that same transaction, so the trail can never
disagree with the registry. The database itself enforces "at most one active version" with a
conditional unique constraint; the verbs make it "exactly one" by swapping in one transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from routing_site.errors import BadInput, Conflict, NotFound
from routing_site.locks import serialise

LABEL_RE = re.compile(r"^v\d{4,}$")

# Who acts when there is no signed-in user (a command line, a scheduled task): recorded in the
# audit trail and as "approved by", so neither is ever blank. Set with ``acting_as``.
_operator: ContextVar[str] = ContextVar("registry_operator", default="system")


@contextmanager
def acting_as(name: str) -> Iterator[None]:
    """Record ``name`` as the operator of the lifecycle verbs called inside the block."""
    token = _operator.set(name or "system")
    try:
        yield
    finally:
        _operator.reset(token)


def operator_name(user=None) -> str:
    """The signed-in user's name, else the operator set by ``acting_as``."""
    return user.get_username() if getattr(user, "pk", None) else _operator.get()


class VersionState(models.TextChoices):
    TRAINING = "training", "Training"
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


# Which states each verb may leave from (the lifecycle graph of DESIGN §5).
ALLOWED = {
    "approve": {VersionState.PENDING},
    "reject": {VersionState.PENDING, VersionState.APPROVED},
    "activate": {VersionState.APPROVED, VersionState.RETIRED},
}


class ModelVersionQuerySet(models.QuerySet):
    def active(self) -> ModelVersion | None:
        return self.filter(state=VersionState.ACTIVE).first()

    def get_by_label(self, label: str) -> ModelVersion:
        try:
            return self.get(label=label)
        except ModelVersion.DoesNotExist:
            known = ", ".join(self.order_by("-number").values_list("label", flat=True)[:5])
            raise NotFound(
                f"No model version {label!r}. Known versions: {known or 'none yet'}.",
                fields={"label": [f"unknown version {label!r}"]},
            ) from None


class ModelVersion(models.Model):
    number = models.PositiveIntegerField(unique=True)
    label = models.CharField(max_length=32, unique=True)
    state = models.CharField(max_length=16, choices=VersionState.choices, db_index=True)
    profile_name = models.CharField(max_length=100, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)  # evaluation figures (holdout)
    data_counts = models.JSONField(default=dict, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    status_message = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True)  # also a cli:<user> operator
    created_at = models.DateTimeField(default=timezone.now)
    approved_at = models.DateTimeField(null=True, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            # The database, not the code, guarantees there is never a second active version.
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="active"), name="one_active_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.state})"

    @property
    def path(self):
        return settings.MODELS_DIR / self.label

    @staticmethod
    def label_for(number: int) -> str:
        return f"v{number:04d}"

    # -- lifecycle verbs -------------------------------------------------------------------
    def _locked(self) -> ModelVersion:
        # lifecycle verbs run one at a time: each sees the states the previous one committed
        # (a row lock alone misses a version another transaction is making active)
        serialise("model registry")
        return ModelVersion.objects.select_for_update().get(pk=self.pk)

    def _check_from(self, verb: str, locked: ModelVersion) -> None:
        if locked.state not in ALLOWED[verb]:
            allowed = " or ".join(sorted(ALLOWED[verb]))
            raise Conflict(
                f"Cannot {verb} {locked.label}: it is {locked.state}; only a version that is "
                f"{allowed} can be {verb}d.",
                code="state_conflict",
            )

    def approve(self, user=None, comment: str = "") -> ModelVersion:
        with transaction.atomic():
            locked = self._locked()
            self._check_from("approve", locked)
            _check_four_eyes(locked, user)
            locked.state = VersionState.APPROVED
            locked.approved_by = user
            locked.approved_by_name = operator_name(user)
            locked.approved_at = timezone.now()
            locked.save(update_fields=["state", "approved_by", "approved_by_name", "approved_at"])
            AuditEntry.record(locked, "approve", VersionState.PENDING, locked.state, user, comment)
        self.refresh_from_db()
        return self

    def reject(self, user=None, comment: str = "") -> ModelVersion:
        with transaction.atomic():
            locked = self._locked()
            self._check_from("reject", locked)
            before = locked.state
            locked.state = VersionState.REJECTED
            locked.status_message = comment or locked.status_message
            locked.save(update_fields=["state", "status_message"])
            AuditEntry.record(locked, "reject", before, locked.state, user, comment)
        self.refresh_from_db()
        return self

    def activate(self, user=None, comment: str = "", action: str = "activate") -> ModelVersion:
        """Make this version the single active one; the previous active one is retired.

        The manifest is verified first (outside the transaction: hashing can take a second),
        so a corrupted or incomplete version is never made active.
        """
        from registry_app.pipeline.filehash import record_activation
        from registry_app.pipeline.manifest import verify_version_dir

        verify_version_dir(self.path, expected_sha256=self.manifest_sha256 or None)
        try:
            self._swap_active(user, comment, action)
        except IntegrityError:  # the database's one_active_version: another writer won
            raise Conflict(
                f"Cannot {action} {self.label}: another version was activated at the same time.",
                code="state_conflict",
            ) from None
        record_activation(self.path.parent, self.label)  # a starting server reads it early
        self.refresh_from_db()
        return self

    def _swap_active(self, user, comment: str, action: str) -> None:
        with transaction.atomic():
            locked = self._locked()
            self._check_from("activate", locked)
            before = locked.state
            previous = ModelVersion.objects.select_for_update().filter(state=VersionState.ACTIVE)
            for old in previous:
                old.state = VersionState.RETIRED
                old.save(update_fields=["state"])
                AuditEntry.record(old, action, VersionState.ACTIVE, old.state, user, comment)
            locked.state = VersionState.ACTIVE
            locked.activated_at = timezone.now()
            locked.save(update_fields=["state", "activated_at"])
            AuditEntry.record(locked, action, before, locked.state, user, comment)

    @classmethod
    def rollback_target(cls) -> ModelVersion | None:
        """The most recently retired version that was active before the current one."""
        current = cls.objects.active()
        retired = cls.objects.filter(state=VersionState.RETIRED, activated_at__isnull=False)
        if current is not None:
            retired = retired.exclude(pk=current.pk)
        return retired.order_by("-activated_at").first()

    @classmethod
    def rollback(cls, user=None, comment: str = "") -> ModelVersion:
        """Re-activate the version that was active before the current one."""
        target = cls.rollback_target()
        if target is None:
            raise Conflict(
                "Nothing to roll back to: no retired version has ever been active.",
                code="state_conflict",
            )
        return target.activate(user=user, comment=comment or "rollback", action="rollback")


def _check_four_eyes(version: ModelVersion, user) -> None:
    """Approver differs from requester where more than one admin exists."""
    if user is None or version.requested_by_id is None or version.requested_by_id != user.pk:
        return
    from django.contrib.auth import get_user_model

    admins = get_user_model().objects.filter(is_active=True, is_superuser=True).count()
    if admins > 1:
        raise BadInput(
            f"{version.label} was requested by {user.get_username()}; "
            "another admin must approve it.",
            code="four_eyes",
        )


class AuditEntry(models.Model):
    """Append-only: the model refuses updates and deletes; the admin shows it read-only."""

    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="audit")
    action = models.CharField(max_length=32)
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)  # kept if the user is deleted
    comment = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.version.label} {self.from_state}→{self.to_state}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only.")

    @classmethod
    def record(cls, version, action, from_state, to_state, user=None, comment="") -> AuditEntry:
        return cls.objects.create(
            version=version,
            action=action,
            from_state=from_state or "",
            to_state=to_state,
            user=user if getattr(user, "pk", None) else None,
            username=operator_name(user),
            comment=comment or "",
        )


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


TERMINAL_RUN_STATES = {RunState.SUCCEEDED, RunState.FAILED}


class TrainingRun(models.Model):
    """Our own record of a training job (django-q's success table is pruned; this is history)."""

    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    stage = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0.0)  # 0..1 over the whole run
    profile_name = models.CharField(max_length=100, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=16, default="manual")  # manual / api / schedule / cli
    version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    timings = models.JSONField(default=dict, blank=True)  # stage -> seconds
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    pid = models.IntegerField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.state})"

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_RUN_STATES

    @property
    def duration_s(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return round((end - self.started_at).total_seconds(), 1)

    def start(self, pid: int) -> None:
        # Claim the run with a conditional update: only a queued run can start, exactly once.
        claimed = TrainingRun.objects.filter(pk=self.pk, state=RunState.QUEUED).update(
            state=RunState.RUNNING, started_at=timezone.now(), pid=pid, stage="starting"
        )
        if not claimed:
            raise Conflict(f"Training run {self.pk} is not queued.", code="state_conflict")
        self.refresh_from_db()

    def report(self, stage: str, progress: float, message: str = "") -> None:
        line = f"{timezone.now():%H:%M:%S} [{stage}] {message}".rstrip()
        self.stage, self.progress = stage, max(0.0, min(1.0, progress))
        self.log = (self.log + "\n" + line).strip() if message else self.log
        TrainingRun.objects.filter(pk=self.pk).update(
            stage=self.stage, progress=self.progress, log=self.log, timings=self.timings
        )

    def finish(self, version: ModelVersion) -> None:
        self.state, self.version, self.progress = RunState.SUCCEEDED, version, 1.0
        self.stage, self.finished_at = "done", timezone.now()
        self.save()

    def fail(self, error: str) -> None:
        self.state, self.error, self.finished_at = RunState.FAILED, error, timezone.now()
        self.save()

    @classmethod
    def running(cls) -> TrainingRun | None:
        return cls.objects.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).first()
