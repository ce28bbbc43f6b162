"""Saved routings: what an engineer reviewed and edited, ready for the ERP export."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from routing_site.errors import BadInput


class RoutingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACCEPTED = "accepted", "Accepted"


class SavedRoutingQuerySet(models.QuerySet):
    def save_checked(
        self,
        item_code: str,
        operations: list,
        rules: dict,
        vocabulary: dict | None,
        user=None,
        **meta,
    ) -> SavedRouting:
        """Validate ``operations`` by the routing rules and save them; BadInput otherwise.

        ``fields`` name each problem (``operations.2.op_code``) and ``problems`` lists them as
        the editor's live check does; nothing is written when there is any.
        """
        from workflow_app.rules import check_routing, field_errors

        cleaned, problems = check_routing(operations, rules, vocabulary)
        if problems:
            first = problems[0]
            error = BadInput(
                f"The routing breaks {len(problems)} rule(s); first: {first['message']}",
                fields=field_errors(problems),
                code="routing_rules",
            )
            error.problems = problems
            raise error
        return self.create(
            item_code=item_code,
            operations=cleaned,
            created_by=user if getattr(user, "pk", None) else None,
            **meta,
        )


class SavedRouting(models.Model):
    item_code = models.CharField(max_length=64, db_index=True)
    routing_no = models.CharField(max_length=16, default="01")
    # canonical operations, ordered by seq: seq, op_code, op_name, work_center,
    # work_center_name, in_house, setup_min, run_min, run_qty, queue_min, wait_min, move_min
    operations = models.JSONField(default=list)
    source_model_version = models.CharField(max_length=32, blank=True)
    comment = models.CharField(max_length=1000, blank=True)
    status = models.CharField(
        max_length=16, choices=RoutingStatus.choices, default=RoutingStatus.DRAFT, db_index=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SavedRoutingQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["item_code", "-id"], name="routing_item_newest")]

    def __str__(self) -> str:
        return f"{self.item_code} / {self.routing_no} #{self.pk} ({self.status})"

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "item_code": self.item_code,
            "routing_no": self.routing_no,
            "status": self.status,
            "operations": self.operations,
            "source_model_version": self.source_model_version,
            "comment": self.comment,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by.get_username() if self.created_by_id else None,
        }

    def export_context(self) -> dict:
        """The routing-level fields an output profile may read."""
        return {
            "routing_id": self.pk,
            "item_code": self.item_code,
            "routing_no": self.routing_no,
            "status": self.status,
            "comment": self.comment,
            "source_model_version": self.source_model_version,
            "created_at": timezone.localtime(self.created_at),
        }
