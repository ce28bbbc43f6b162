"""Saved routings in the operations console: read, filter, accept; edits go through the API."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from inference_app.models import RoutingStatus, SavedRouting


@admin.register(SavedRouting)
class SavedRoutingAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "item_code",
        "routing_no",
        "status",
        "operation_count",
        "source_model_version",
        "created_at",
        "created_by",
    )
    list_filter = ("status",)
    search_fields = ("item_code", "comment")
    readonly_fields = (
        "item_code",
        "routing_no",
        "operations_table",
        "source_model_version",
        "decision_summary",
        "created_at",
        "created_by",
    )
    fields = (
        "item_code",
        "routing_no",
        "status",
        "comment",
        "operations_table",
        "source_model_version",
        "decision_summary",
        "created_at",
        "created_by",
    )
    actions = ["accept_selected"]

    def has_add_permission(self, request):
        return False  # saved through the API, where the routing rules are checked

    @admin.display(description="operations")
    def operation_count(self, obj):
        return len(obj.operations or [])

    @admin.display(description="operations")
    def operations_table(self, obj):
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    op.get("seq"),
                    op.get("op_code"),
                    op.get("op_name"),
                    op.get("work_center"),
                    "in-house" if op.get("in_house") else "outsourced",
                )
                for op in obj.operations or []
            ),
        )
        return format_html(
            "<table><tr><th>seq</th><th>op</th><th>name</th><th>work center</th>"
            "<th></th></tr>{}</table>",
            rows,
        )

    @admin.display(description="decision")
    def decision_summary(self, obj):
        decision = getattr(obj, "decision", None)
        if decision is None or not decision.has_proposal:
            return "Saved without a proposal."
        taken = f"candidate {decision.chosen_rank}" if decision.chosen_rank else "no candidate"
        return (
            f"Proposed by {decision.model_version} (request {decision.request_id or 'copy'}); "
            f"started from {taken}; edit similarity {decision.edit_similarity}; "
            + ("saved unchanged." if decision.unchanged else "edited.")
        )

    @admin.action(description="Mark the selected routings accepted")
    def accept_selected(self, request, queryset):
        n = queryset.update(status=RoutingStatus.ACCEPTED)
        self.message_user(request, f"{n} routing(s) accepted.", messages.SUCCESS)
