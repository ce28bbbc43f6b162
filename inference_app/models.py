"""Saved routings: what an engineer reviewed and edited, ready for the ERP export."""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from routing_site.errors import BadInput, Conflict


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
        decision: dict | None = None,
        **meta,
    ) -> SavedRouting:
        """Validate ``operations`` by the routing rules and save them; BadInput otherwise.

        ``fields`` name each problem (``operations.2.op_code``) and ``problems`` lists them as
        the editor's live check does; nothing is written when there is any. The routing and
        its :class:`RoutingDecision` (``decision``: the resolved proposal, or None for a routing
        saved without one) are written in one transaction.
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
        with transaction.atomic():
            routing = self.create(
                item_code=item_code,
                operations=cleaned,
                created_by=user if getattr(user, "pk", None) else None,
                **meta,
            )
            RoutingDecision.record(routing, decision or {})
        return routing


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


class PredictionLog(models.Model):
    """One answered item of a live ``/predict`` request, kept for the shadow replay, the online
    figures and the drift check. Bounded: the newest ``prediction_log_size`` rows are kept.

    Written in batches off the request path by :mod:`inference_app.prediction_log`.
    """

    request_id = models.CharField(max_length=100, db_index=True)
    item_index = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    model_version = models.CharField(max_length=32, db_index=True)
    inputs = models.JSONField(default=dict)  # the item as sent: item_code and/or attributes
    options = models.JSONField(default=dict)  # top_k, candidates, quantity, min_similarity
    status = models.CharField(max_length=16)
    confidence = models.CharField(max_length=16, blank=True)
    best_similarity = models.FloatField(null=True, blank=True)
    # compact copy of the answer: [{"rank", "ops": [op_code...], "wcs": [work_center...]}]
    candidates = models.JSONField(default=list)
    neighbours = models.JSONField(default=list)  # item codes, most similar first
    latency_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["request_id", "item_index"], name="prediction_once")
        ]

    def __str__(self) -> str:
        return f"{self.request_id}#{self.item_index} {self.model_version} {self.status}"

    def candidate(self, rank: int) -> dict | None:
        return next((c for c in self.candidates if c.get("rank") == rank), None)


class RoutingDecision(models.Model):
    """What an engineer did with a proposal: saved with the routing, in the same transaction.

    ``proposal`` is the compact list of candidates the model offered (copied from the
    prediction log or sent by the client); ``chosen_rank`` the one the engineer started from;
    ``edit_similarity`` the op-code edit similarity of that candidate to the saved routing.
    A routing saved without a proposal has ``has_proposal`` False and no similarity.
    """

    routing = models.OneToOneField(SavedRouting, on_delete=models.CASCADE, related_name="decision")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    model_version = models.CharField(max_length=32, blank=True, db_index=True)
    request_id = models.CharField(max_length=100, blank=True, db_index=True)
    item_index = models.PositiveSmallIntegerField(default=0)
    has_proposal = models.BooleanField(default=False)
    proposal = models.JSONField(default=list)
    chosen_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    chosen_ops = models.JSONField(default=list)
    final_ops = models.JSONField(default=list)
    edit_similarity = models.FloatField(null=True, blank=True)
    unchanged = models.BooleanField(default=False)
    # the item's attributes (from the logged prediction or the client): a new item needs them
    # to be indexed when the routing becomes training data
    attributes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"decision on routing #{self.routing_id} ({self.model_version or 'no proposal'})"

    @classmethod
    def record(cls, routing: SavedRouting, proposal: dict) -> RoutingDecision:
        """The decision behind ``routing`` (call inside the routing's transaction)."""
        from registry_app.pipeline.evaluation import edit_similarity

        final_ops = [o["op_code"] for o in routing.operations]
        final_wcs = [o["work_center"] for o in routing.operations]
        fields = {k: v for k, v in proposal.items() if k != "chosen_wcs"}
        decision = cls(routing=routing, final_ops=final_ops, **fields)
        if decision.has_proposal and decision.chosen_ops:
            decision.edit_similarity = round(edit_similarity(decision.chosen_ops, final_ops), 4)
            decision.unchanged = decision.chosen_rank is not None and (
                decision.chosen_ops == final_ops
                # a proposal copy may leave out work centers: compare them only when given
                and proposal.get("chosen_wcs") in (None, final_wcs)
            )
        decision.save()
        return decision

    def as_dict(self) -> dict:
        return {
            "model_version": self.model_version or None,
            "request_id": self.request_id or None,
            "has_proposal": self.has_proposal,
            "chosen_rank": self.chosen_rank,
            "edit_similarity": self.edit_similarity,
            "unchanged": self.unchanged,
        }


class IdempotencyKeyQuerySet(models.QuerySet):
    def replay_or_run(self, owner: str, key: str, body, action) -> tuple[int, dict, bool]:
        """``(status, answer, replayed)``: the first answer to ``key`` when the same body comes
        again, else ``action()`` run and its answer stored with the key in one transaction.

        The same key with another body is a :class:`Conflict`. Only successes are stored, so a
        refused request may be retried with the same key once corrected.
        """
        fingerprint = _fingerprint(body)
        found = self.filter(owner=owner, key=key).first()
        if found is not None:
            return found.replay(fingerprint)
        try:
            with transaction.atomic():
                status, answer = action()
                self.create(
                    owner=owner, key=key, fingerprint=fingerprint, status=status, answer=answer
                )
        except IntegrityError:  # a concurrent retry with this key won: answer as it did
            return self.get(owner=owner, key=key).replay(fingerprint)
        return status, answer, False


def _fingerprint(body) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class IdempotencyKey(models.Model):
    """The first answer to a save sent with an ``Idempotency-Key`` header (kept for retries)."""

    owner = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    answer = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = IdempotencyKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key")
        ]

    def __str__(self) -> str:
        return f"{self.owner}: {self.key}"

    def replay(self, fingerprint: str) -> tuple[int, dict, bool]:
        if fingerprint != self.fingerprint:
            raise Conflict(
                f"Idempotency-Key {self.key!r} was used for another request body; send a new "
                "key for a new routing.",
                fields={"Idempotency-Key": ["already used with another body"]},
                code="idempotency_key_reused",
            )
        return self.status, self.answer, True
