"""What the engineer started from when saving a routing: the proposal behind the decision.

A client names the proposal either by the prediction's request id (``X-Request-ID`` of the
``/predict`` answer; the prediction log holds its candidates) or by sending a compact copy
(``model_version`` and the candidates' operation codes). Either way the decision stores the
candidates, the rank the engineer took and the item's attributes (a new item needs them to
become training data). A routing saved without a proposal is recorded as such.
"""

from __future__ import annotations

from rest_framework import serializers

from inference_app.serializers import AttributesField, StrictSerializer
from routing_site.errors import BadInput

CODES = serializers.ListField(
    child=serializers.CharField(max_length=64), max_length=500, allow_empty=True
)


class CompactCandidate(StrictSerializer):
    rank = serializers.IntegerField(min_value=1, max_value=100)
    op_codes = CODES
    work_centers = serializers.ListField(
        child=serializers.CharField(max_length=64, allow_blank=True),
        max_length=500,
        required=False,
    )


class ProposalInput(StrictSerializer):
    request_id = serializers.CharField(max_length=100, required=False)
    item_index = serializers.IntegerField(min_value=0, max_value=99, required=False, default=0)
    candidate_rank = serializers.IntegerField(
        min_value=1, max_value=100, required=False, allow_null=True, default=None
    )
    model_version = serializers.RegexField(r"^v\d{4,8}$", max_length=32, required=False)
    candidates = CompactCandidate(many=True, required=False, max_length=20)

    def validate_model_version(self, value: str) -> str:
        from registry_app.models import ModelVersion

        if not ModelVersion.objects.filter(label=value).exists():
            raise serializers.ValidationError(f"No model version {value!r}.")
        return value

    def validate(self, data: dict) -> dict:
        by_id = "request_id" in data
        by_copy = "candidates" in data or "model_version" in data
        if by_id == by_copy:
            raise serializers.ValidationError(
                "Give either request_id (of the prediction) or model_version with candidates."
            )
        if by_copy and not ("candidates" in data and "model_version" in data):
            raise serializers.ValidationError("A proposal copy needs model_version and candidates.")
        return data


def proposal_field() -> ProposalInput:
    return ProposalInput(required=False, allow_null=True, default=None)


def attributes_field() -> AttributesField:
    return AttributesField(required=False, default=dict)


def resolve(proposal: dict | None, attributes: dict) -> dict:
    """The decision's fields for a validated proposal (None: saved without one); BadInput when
    the request id is not in the prediction log or the rank is not among the candidates."""
    if not proposal:
        return {"has_proposal": False, "attributes": attributes}
    if "request_id" in proposal:
        fields = _from_log(proposal["request_id"], proposal["item_index"])
    else:
        fields = {
            "model_version": proposal["model_version"],
            "proposal": [
                {"rank": c["rank"], "ops": c["op_codes"], "wcs": c.get("work_centers")}
                for c in proposal["candidates"]
            ],
        }
    fields["attributes"] = attributes or fields.pop("logged_attributes", {})
    fields.pop("logged_attributes", None)
    return {**fields, **_chosen(fields["proposal"], proposal["candidate_rank"])}


def _from_log(request_id: str, item_index: int) -> dict:
    from inference_app.models import PredictionLog
    from inference_app.prediction_log import flush

    flush()  # the prediction may still wait in this process's buffer
    row = PredictionLog.objects.filter(request_id=request_id, item_index=item_index).first()
    if row is None:
        raise BadInput(
            f"No logged prediction {request_id!r} (item {item_index}): it is older than the "
            "prediction log keeps, or was never made. Send the proposal's candidates instead.",
            fields={"proposal.request_id": ["unknown prediction request id"]},
            code="unknown_prediction",
        )
    return {
        "model_version": row.model_version,
        "request_id": row.request_id,
        "item_index": row.item_index,
        "proposal": row.candidates,
        "logged_attributes": row.inputs.get("attributes") or {},
    }


def _chosen(candidates: list[dict], rank: int | None) -> dict:
    """The candidate the engineer took; without one, the top candidate is the reference."""
    chosen = next((c for c in candidates if c["rank"] == rank), None)
    if rank is not None and chosen is None:
        ranks = ", ".join(str(c["rank"]) for c in candidates) or "none"
        raise BadInput(
            f"The proposal has no candidate {rank} (ranks: {ranks}).",
            fields={"proposal.candidate_rank": [f"not among the candidates ({ranks})"]},
            code="unknown_candidate",
        )
    reference = chosen or (candidates[0] if candidates else None)
    return {
        "has_proposal": True,
        "chosen_rank": rank,
        "chosen_ops": reference["ops"] if reference else [],
        "chosen_wcs": reference.get("wcs") if reference else None,
    }
