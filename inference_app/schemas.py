"""Documented answers of the inference and routing endpoints (OpenAPI components only).

The views answer plain dicts (DESIGN §10: output serializers cost too much on the hot path);
these serializers exist so the schema names every field with its type and meaning. A test
checks that the live answers match them (tests/test_erp_contract.py).
"""

from __future__ import annotations

from rest_framework import serializers as s

STATUS_HELP = (
    "existing: a known item, its own routing(s) as candidates; predicted: a new item, candidates "
    "from similar items; no_match: no attribute the model can compare; not_found: an unknown "
    "item_code without attributes (send its attributes); invalid: this item cannot be read "
    "(see error)."
)


class ItemErrorOut(s.Serializer):
    error = s.CharField(help_text="Stable code: not_found, invalid, ...")
    detail = s.CharField(help_text="What is wrong with this item and what to do.")
    fields = s.DictField(
        child=s.ListField(child=s.CharField()), help_text="Field path to its messages."
    )


class PercentileOut(s.Serializer):
    setup_min = s.FloatField(required=False, help_text="Setup minutes at this percentile.")
    run_min = s.FloatField(required=False, help_text="Run minutes (for run_qty) at it.")


class OperationOut(s.Serializer):
    seq = s.IntegerField(help_text="Sequence number of the operation in the routing.")
    op_code = s.CharField(help_text="Operation code (the ERP's).")
    op_name = s.CharField(allow_blank=True, help_text="Operation name.")
    work_center = s.CharField(help_text="Work center code.")
    work_center_name = s.CharField(allow_blank=True, help_text="Work center name.")
    in_house = s.BooleanField(help_text="false: an outsourced operation.")
    setup_min = s.FloatField(allow_null=True, help_text="Setup minutes (weighted median).")
    run_min = s.FloatField(allow_null=True, help_text="Run minutes for run_qty pieces.")
    run_qty = s.FloatField(help_text="Pieces that run_min covers.")
    queue_min = s.FloatField(allow_null=True, help_text="Queue minutes before the operation.")
    wait_min = s.FloatField(allow_null=True, help_text="Wait minutes after it.")
    move_min = s.FloatField(allow_null=True, help_text="Move minutes to the next operation.")
    time_source = s.ChoiceField(
        ["standard", "actuals"], help_text="Times from standards or reported actuals."
    )
    samples = s.IntegerField(help_text="Reference routings this operation's times rest on.")
    actual_orders = s.IntegerField(help_text="Reported production orders behind the actuals.")
    time_samples = s.DictField(
        child=s.IntegerField(), help_text="Values each time figure rests on, per field."
    )


class ReferenceOut(s.Serializer):
    item_code = s.CharField(help_text="A similar existing item.")
    routing_no = s.CharField(help_text="Its routing number.")
    similarity = s.FloatField(help_text="Cosine similarity 0..1 to the requested item.")
    medoid = s.BooleanField(required=False, help_text="true: the routing proposed as is.")


class TimeSummaryOut(s.Serializer):
    quantity = s.FloatField(help_text="Pieces the totals are for.")
    lead_min = s.FloatField(help_text="Total lead minutes for the quantity.")
    lead_hours = s.FloatField(help_text="The same in hours.")
    setup_min = s.FloatField(help_text="Sum of setup minutes.")
    run_min = s.FloatField(help_text="Sum of run minutes for the quantity.")
    queue_min = s.FloatField(help_text="Sum of queue minutes.")
    wait_min = s.FloatField(help_text="Sum of wait minutes.")
    move_min = s.FloatField(help_text="Sum of move minutes.")
    operations = s.ListField(child=s.DictField(), help_text="Per-operation breakdown.")


class CandidateOut(s.Serializer):
    rank = s.IntegerField(help_text="1 = the best candidate.")
    score = s.FloatField(help_text="Share of the neighbours' support 0..1.")
    support = s.IntegerField(help_text="Similar items whose routing backs this candidate.")
    max_similarity = s.FloatField(help_text="Best similarity among them.")
    routing_no = s.CharField(required=False, help_text="existing items: the routing number.")
    reference_items = ReferenceOut(many=True, help_text="The items behind the candidate.")
    operations = OperationOut(many=True, help_text="The proposed operations in order.")
    time_summary = s.DictField(help_text="Totals for the request's quantity (see time-summary).")


class NeighbourOut(s.Serializer):
    item_code = s.CharField(help_text="A similar existing item.")
    similarity = s.FloatField(help_text="Cosine similarity 0..1.")
    matched_attributes = s.ListField(
        child=s.CharField(), help_text="Attributes whose values match the request's."
    )


class PredictItemOut(s.Serializer):
    item_code = s.CharField(allow_null=True, help_text="The code sent (null when none).")
    status = s.ChoiceField(
        ["existing", "predicted", "no_match", "not_found", "invalid"], help_text=STATUS_HELP
    )
    confidence = s.ChoiceField(["high", "low", "none"], help_text="How far to trust it.")
    detail = s.CharField(required=False, help_text="Why the confidence is low or none.")
    candidates = CandidateOut(many=True, help_text="Proposed routings, best first.")
    neighbours = NeighbourOut(many=True, help_text="The most similar items.")
    error = ItemErrorOut(required=False, help_text="not_found / invalid: what is wrong.")


class PredictOut(s.Serializer):
    model_version = s.CharField(help_text="The version that answered (also X-Model-Version).")
    items = PredictItemOut(many=True, help_text="One answer per item sent, in the same order.")


class SimilarOut(s.Serializer):
    model_version = s.CharField(help_text="The version that answered.")
    item_code = s.CharField(allow_null=True, help_text="The code sent (null when none).")
    neighbours = NeighbourOut(many=True, help_text="The most similar items, best first.")


class RoutingOut(s.Serializer):
    routing_no = s.CharField(help_text="Routing number.")
    primary = s.BooleanField(help_text="true: the routing the ERP uses by default.")
    operations = OperationOut(many=True, help_text="Its operations in order.")


class ItemDetailOut(s.Serializer):
    item_code = s.CharField(help_text="The item's code.")
    attributes = s.DictField(help_text="Attributes in their kind's JSON type (GET /model).")
    routings = RoutingOut(many=True, help_text="Its routings, the primary one first.")
    model_version = s.CharField(help_text="The version that answered.")


class AttributeOut(s.Serializer):
    name = s.CharField(help_text="The key to send in attributes (exact spelling).")
    kind = s.ChoiceField(["categorical", "numeric", "text"], help_text="How it is compared.")
    json_type = s.ChoiceField(["number", "string"], help_text="The JSON type to send.")
    unit = s.CharField(allow_null=True, help_text="Unit of a measure, when known.")
    weight = s.FloatField(help_text="Its weight in the similarity.")
    items_with_value = s.IntegerField(help_text="Training items that have a value.")
    range = s.DictField(
        required=False, allow_null=True, help_text="numeric: {min, max} seen at training."
    )
    examples = s.ListField(child=s.JSONField(), help_text="Most frequent values, first = most.")


class ModelOut(s.Serializer):
    model_version = s.CharField(help_text="The serving version's label.")
    profile = s.CharField(allow_blank=True, help_text="The input mapping profile it was built on.")
    created_at = s.CharField(allow_null=True, help_text="When it was trained (ISO 8601).")
    items = s.IntegerField(help_text="Items it was trained on.")
    attributes = AttributeOut(many=True, help_text="Every attribute the model compares.")
    quantity = s.DictField(help_text="{default, convention}: how quantity scales run times.")
    limits = s.DictField(child=s.IntegerField(), help_text="Size limits of one predict request.")
    example_request = s.DictField(help_text="A predict body built from frequent values.")


class SavedRoutingOut(s.Serializer):
    id = s.IntegerField(help_text="The saved routing's id (for GET and export).")
    item_code = s.CharField(help_text="The item it is for.")
    routing_no = s.CharField(help_text="Routing number.")
    status = s.ChoiceField(["draft", "accepted"], help_text="draft or accepted.")
    operations = s.ListField(child=s.DictField(), help_text="The operations as saved.")
    source_model_version = s.CharField(allow_blank=True, help_text="Version it came from.")
    comment = s.CharField(allow_blank=True, help_text="The engineer's comment.")
    created_by = s.CharField(allow_null=True, help_text="Who saved it.")
    created_at = s.CharField(help_text="When (ISO 8601).")
    decision = s.DictField(
        required=False, help_text="POST only: the proposal it started from, as recorded."
    )


class ExportOut(s.Serializer):
    routing_id = s.IntegerField(help_text="The saved routing's id.")
    item_code = s.CharField(help_text="The item.")
    profile = s.CharField(help_text="The output mapping profile used.")
    columns = s.ListField(child=s.CharField(), help_text="The ERP's column names in order.")
    rows = s.ListField(child=s.DictField(), help_text="One row per operation, by column.")
