"""Input validation for the inference endpoints: plain serializers, strict about unknown fields.

Outputs are plain dicts built by the predictor (nested output serializers cost ~10× json.dumps
on the hot path, DESIGN §10).
"""

from __future__ import annotations

from rest_framework import serializers

MAX_BATCH = 100
MAX_ATTRIBUTES = 200
MAX_TEXT = 500


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, so a typo never silently falls back to a default."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {
                        key: [f"unknown field; allowed: {', '.join(sorted(self.fields))}"]
                        for key in unknown
                    }
                )
        return super().to_internal_value(data)


class AttributesField(serializers.DictField):
    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if len(data) > MAX_ATTRIBUTES:
            raise serializers.ValidationError(f"at most {MAX_ATTRIBUTES} attributes")
        for key, value in data.items():
            if (
                value is not None
                and not isinstance(value, (str, int, float))
                or isinstance(value, bool)
            ):
                raise serializers.ValidationError({key: "must be a string, a number or null"})
            if isinstance(value, str) and len(value) > MAX_TEXT:
                raise serializers.ValidationError({key: f"at most {MAX_TEXT} characters"})
            if isinstance(value, float) and value != value:
                raise serializers.ValidationError({key: "must be a finite number"})
        return data


def unknown_attributes_field() -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=["refuse", "ignore"],
        required=False,
        help_text='Attribute names the serving model does not know: "refuse" (default, 400 '
        'naming the closest known names) or "ignore" (dropped).',
    )


class ItemInput(StrictSerializer):
    item_code = serializers.CharField(
        max_length=64, required=False, allow_blank=True, trim_whitespace=True
    )
    attributes = AttributesField(required=False)

    def validate(self, data):
        if not data.get("item_code") and not data.get("attributes"):
            raise serializers.ValidationError(
                {"item_code": ["give an item_code, attributes, or both"]}
            )
        return data


class PredictInput(StrictSerializer):
    items = ItemInput(many=True, allow_empty=False, max_length=MAX_BATCH)
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=200)
    candidates = serializers.IntegerField(required=False, min_value=1, max_value=20)
    quantity = serializers.FloatField(required=False, min_value=0.0, max_value=1e7)
    min_similarity = serializers.FloatField(required=False, min_value=0.0, max_value=1.0)
    unknown_attributes = unknown_attributes_field()


class SimilarInput(StrictSerializer):
    item_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    attributes = AttributesField(required=False)
    top_k = serializers.IntegerField(required=False, min_value=1, max_value=200)
    unknown_attributes = unknown_attributes_field()

    def validate(self, data):
        if not data.get("item_code") and not data.get("attributes"):
            raise serializers.ValidationError(
                {"item_code": ["give an item_code, attributes, or both"]}
            )
        return data


class OperationInput(StrictSerializer):
    seq = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000)
    op_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    op_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    work_center = serializers.CharField(max_length=64, required=False, allow_blank=True)
    work_center_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    in_house = serializers.BooleanField(required=False)
    setup_min = serializers.FloatField(required=False, min_value=0.0, max_value=1e7)
    run_min = serializers.FloatField(required=False, min_value=0.0, max_value=1e7)
    run_qty = serializers.FloatField(required=False, min_value=1e-6, max_value=1e9)
    queue_min = serializers.FloatField(required=False, min_value=0.0, max_value=1e7)
    wait_min = serializers.FloatField(required=False, min_value=0.0, max_value=1e7)
    move_min = serializers.FloatField(required=False, min_value=0.0, max_value=1e7)


class TimeSummaryInput(StrictSerializer):
    operations = OperationInput(many=True, allow_empty=False, max_length=500)
    quantity = serializers.FloatField(required=False, min_value=0.0, max_value=1e7, default=1.0)
