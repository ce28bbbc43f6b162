"""Workflow configuration (versioned), mapping profiles and blueprints."""

from __future__ import annotations

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from workflow_app import settings_schema


class WorkflowConfig(models.Model):
    """Every change is a new row (who, when, what); the newest row is the current config."""

    values = models.JSONField(default=dict)  # the full, validated settings after the change
    changes = models.JSONField(default=dict, blank=True)  # what this row changed
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "workflow config revision"

    def __str__(self) -> str:
        return f"config #{self.pk} ({self.created_at:%Y-%m-%d %H:%M})"

    @classmethod
    def current_values(cls) -> dict:
        row = cls.objects.order_by("-id").first()
        return {**settings_schema.defaults(), **(row.values if row else {})}

    @classmethod
    def current_id(cls) -> int:
        return cls.objects.order_by("-id").values_list("id", flat=True).first() or 0

    @classmethod
    def apply(cls, changes: dict, user=None, comment: str = "") -> WorkflowConfig:
        """Validate a partial change and store the new full config as one new row."""
        cleaned = settings_schema.validate_changes(changes)
        with transaction.atomic():
            values = {**cls.current_values(), **cleaned}
            return cls.objects.create(
                values=values,
                changes=cleaned,
                created_by=user if getattr(user, "pk", None) else None,
                comment=comment[:300],
            )


class MappingProfile(models.Model):
    INPUT, OUTPUT = "input", "output"

    name = models.SlugField(max_length=100, unique=True)
    direction = models.CharField(
        max_length=8, choices=[(INPUT, "Input (source → canonical)"), (OUTPUT, "Output (canonical → ERP)")]
    )
    description = models.CharField(max_length=300, blank=True)
    spec = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.direction})"
