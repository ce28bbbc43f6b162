"""The registry in the operations console: versions, training runs, the audit trail.

Lifecycle actions go through an intermediate confirmation page that shows the version's
evaluation beside the active version's, then call the model verbs (which write the audit rows).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from registry_app.models import AuditEntry, ModelVersion, TrainingRun
from routing_site.errors import DomainError

METRIC_ROWS = [
    ("top1_exact", "Top-1 exact sequence"),
    ("hit_at_n", "Hit@N (actual among candidates)"),
    ("op_edit_similarity", "Op-code edit similarity"),
    ("wc_edit_similarity", "Work-center edit similarity"),
    ("op_jaccard", "Op-set Jaccard"),
    ("lead_time_mdape", "Lead time MdAPE (lower is better)"),
    ("coverage", "Coverage"),
]


def comparison_rows(version: ModelVersion, active: ModelVersion | None) -> list[dict]:
    """Rows of figures: this version (model, baselines) beside the active version's model."""
    mine = version.metrics or {}
    theirs = (active.metrics or {}) if active else {}
    rows = []
    for key, title in METRIC_ROWS:
        rows.append(
            {
                "title": title,
                "model": mine.get("model", {}).get(key),
                "nearest": mine.get("nearest", {}).get(key),
                "most_frequent": mine.get("most_frequent", {}).get(key),
                "active": theirs.get("model", {}).get(key),
            }
        )
    rows.append(
        {
            "title": "Index recall@10",
            "model": mine.get("index_recall_at_10"),
            "active": theirs.get("index_recall_at_10"),
        }
    )
    return rows


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = (
        "label",
        "state_badge",
        "profile_name",
        "items",
        "top1",
        "hit_at_n",
        "created_at",
        "activated_at",
        "approved_by",
    )
    list_filter = ("state",)
    search_fields = ("label", "status_message")
    readonly_fields = [f.name for f in ModelVersion._meta.fields] + ["evaluation"]
    actions = ["approve_selected", "reject_selected", "activate_selected", "rollback_action"]
    change_form_template = "admin/registry_app/modelversion/change_form.html"

    def has_add_permission(self, request):
        return False  # versions come from training only

    def has_delete_permission(self, request, obj=None):
        return False  # the history stays; reject or retire instead

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj):
        return format_html(
            '<span class="state state-{}">{}</span>', obj.state, obj.get_state_display()
        )

    @admin.display(description="items")
    def items(self, obj):
        return obj.data_counts.get("items", "")

    @admin.display(description="top-1")
    def top1(self, obj):
        return (obj.metrics or {}).get("model", {}).get("top1_exact", "")

    @admin.display(description="hit@N")
    def hit_at_n(self, obj):
        return (obj.metrics or {}).get("model", {}).get("hit_at_n", "")

    @admin.display(description="evaluation beside the active version")
    def evaluation(self, obj):
        from django.template.loader import render_to_string

        active = ModelVersion.objects.active()
        return render_to_string(
            "admin/registry_app/evaluation_table.html",
            {"rows": comparison_rows(obj, active), "version": obj, "active": active},
        )

    def get_urls(self):
        own = [
            path(
                "<int:pk>/confirm/<str:verb>/",
                self.admin_site.admin_view(self.confirm_view),
                name="registry_app_modelversion_confirm",
            ),
            path(
                "rollback/",
                self.admin_site.admin_view(self.rollback_view),
                name="registry_app_modelversion_rollback",
            ),
            path(
                "train/",
                self.admin_site.admin_view(self.train_view),
                name="registry_app_modelversion_train",
            ),
        ]
        return own + super().get_urls()

    def _redirect_confirm(self, request, queryset, verb):
        if queryset.count() != 1:
            self.message_user(request, f"Select exactly one version to {verb}.", messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse("admin:registry_app_modelversion_confirm", args=[queryset.first().pk, verb])
        )

    @admin.action(description="Approve the selected version…")
    def approve_selected(self, request, queryset):
        return self._redirect_confirm(request, queryset, "approve")

    @admin.action(description="Reject the selected version…")
    def reject_selected(self, request, queryset):
        return self._redirect_confirm(request, queryset, "reject")

    @admin.action(description="Activate the selected version…")
    def activate_selected(self, request, queryset):
        return self._redirect_confirm(request, queryset, "activate")

    @admin.action(description="Roll back to the previously active version…")
    def rollback_action(self, request, queryset):
        return HttpResponseRedirect(reverse("admin:registry_app_modelversion_rollback"))

    def confirm_view(self, request, pk: int, verb: str):
        version = ModelVersion.objects.filter(pk=pk).first()
        if version is None or verb not in ("approve", "reject", "activate"):
            self.message_user(request, "No such version or action.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:registry_app_modelversion_changelist"))
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            try:
                getattr(version, verb)(user=request.user, comment=request.POST.get("comment", ""))
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request, f"{version.label} is now {version.state}.", messages.SUCCESS
                )
            return HttpResponseRedirect(reverse("admin:registry_app_modelversion_changelist"))
        return self._confirm_page(request, f"{verb.capitalize()} {version.label}?", version, verb)

    def _confirm_page(self, request, title: str, version, verb: str):
        """The intermediate page: the version's evaluation beside the active one's, then Yes/No."""
        active = ModelVersion.objects.active()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "version": version,
            "verb": verb,
            "active": active,
            "rows": comparison_rows(version, active) if version else [],
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/registry_app/confirm_action.html", context)

    def rollback_view(self, request):
        target = ModelVersion.rollback_target()
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            try:
                version = ModelVersion.rollback(
                    user=request.user, comment=request.POST.get("comment", "")
                )
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request, f"Rolled back: {version.label} is active.", messages.SUCCESS
                )
            return HttpResponseRedirect(reverse("admin:registry_app_modelversion_changelist"))
        return self._confirm_page(request, "Roll back the active version?", target, "rollback")

    def train_view(self, request):
        from registry_app.tasks import enqueue_training

        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:registry_app_trainingrun_changelist"))
        try:
            run = enqueue_training(
                request.POST.get("profile", ""), user=request.user, trigger="admin"
            )
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(reverse("admin:registry_app_trainingrun_changelist"))
        self.message_user(
            request,
            f"Training run {run.pk} queued; the task cluster will start it.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:registry_app_trainingrun_change", args=[run.pk]))


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TrainingRun)
class TrainingRunAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "state",
        "stage",
        "progress_bar",
        "version",
        "trigger",
        "profile_name",
        "created_at",
        "duration_s",
    )
    list_filter = ("state", "trigger")
    readonly_fields = (
        "state",
        "stage",
        "progress_bar",
        "version",
        "trigger",
        "profile_name",
        "requested_by",
        "timings",
        "created_at",
        "started_at",
        "finished_at",
        "pid",
        "task_id",
        "log_text",
        "error_text",
    )
    change_list_template = "admin/registry_app/trainingrun/change_list.html"

    @admin.display(description="progress")
    def progress_bar(self, obj):
        pct = round(obj.progress * 100)
        return format_html('<progress max="100" value="{}"></progress> {}%', pct, pct)

    @admin.display(description="log")
    def log_text(self, obj):
        return format_html("<pre class='run-log'>{}</pre>", obj.log or "—")

    @admin.display(description="error")
    def error_text(self, obj):
        return format_html("<pre class='run-log'>{}</pre>", obj.error or "—")


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "version", "action", "from_state", "to_state", "username", "comment")
    list_filter = ("action", "to_state")
    search_fields = ("version__label", "username", "comment")
