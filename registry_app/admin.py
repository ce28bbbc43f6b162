"""The registry in the operations console: versions, training runs, the audit trail.

Lifecycle actions go through an intermediate confirmation page that shows the version's
evaluation beside the active version's, then call the model verbs (which write the audit rows).
The version page is read-only: state badge, the buttons its state allows, its parameters, data
counts and extract report as tables, and its audit trail inline. The admin index is the
operations home (templates/admin/operations_home.html, panels from registry_app.console).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from registry_app import console
from registry_app.models import AuditEntry, ModelVersion, RunState, TrainingRun
from routing_site.errors import DomainError

METRIC_ROWS = [
    ("top1_exact", "Top-1 exact sequence"),
    ("hit_at_n", "Hit@N (actual among candidates)"),
    ("op_edit_similarity", "Op-code edit similarity"),
    ("best_op_edit_similarity", "Best-of-N op-code edit similarity"),
    ("wc_edit_similarity", "Work-center edit similarity"),
    ("op_jaccard", "Op-set Jaccard"),
    ("lead_time_mdape", "Lead time MdAPE (lower is better)"),
    ("coverage", "Coverage"),
]

BASELINE_TITLES = {
    "most_frequent": "most frequent routing",
    "same_attributes": "same attribute values' most frequent",
    "nearest": "nearest item (1-NN)",
    "knn_medoid": "k-NN medoid",
}


def baseline_columns(metrics: dict) -> list[tuple[str, str]]:
    """(key, title) of every baseline the evaluation stored, the known ones in their order."""
    stored = metrics.get("baselines") or {
        k: metrics[k] for k in BASELINE_TITLES if isinstance(metrics.get(k), dict)
    }
    known = [k for k in BASELINE_TITLES if k in stored]
    return [(k, BASELINE_TITLES.get(k, k)) for k in known + sorted(set(stored) - set(known))]


def evaluation_table(version: ModelVersion | None, active: ModelVersion | None) -> dict:
    """Columns and rows of figures: this version's model and every stored baseline of its
    evaluation (``metrics["baselines"]``), beside the active version's model."""
    mine = (version.metrics or {}) if version else {}
    theirs = (active.metrics or {}) if active else {}
    columns = baseline_columns(mine)
    stored = mine.get("baselines") or mine
    rows = [
        {
            "title": title,
            "model": mine.get("model", {}).get(key),
            "baselines": [stored.get(name, {}).get(key) for name, _ in columns],
            "active": theirs.get("model", {}).get(key),
        }
        for key, title in METRIC_ROWS
    ]
    rows.append(
        {
            "title": "Index recall@10",
            "model": mine.get("index_recall_at_10"),
            "baselines": [None] * len(columns),
            "active": theirs.get("index_recall_at_10"),
        }
    )
    return {"columns": [title for _, title in columns], "rows": rows if version else []}


SUMMARY_FIELDS = (
    "label",
    "state_badge",
    "status",
    "profile_name",
    "created_at",
    "requested_by",
    "approver",
    "approved_at",
    "activated_at",
    "manifest_sha256",
)
TABLE_FIELDS = ("attribute_table", "index_table", "count_table", "report_table")


class ReadOnlyMixin:
    """History is shown, never added to, edited or deleted from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditInline(ReadOnlyMixin, admin.TabularInline):
    """The version's audit trail, newest first, on its own page (append-only: read-only)."""

    model = AuditEntry
    fields = ("at", "action", "from_state", "to_state", "username", "comment")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "audit entry"
    verbose_name_plural = "audit trail"


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Versions come from training only and stay; state changes are the lifecycle buttons."""

    list_display = (
        "label",
        "state_badge",
        "profile_name",
        "items",
        "top1",
        "hit_at_n",
        "created_at",
        "activated_at",
        "approver",
    )
    list_filter = ("state",)
    search_fields = ("label", "status_message")
    fieldsets = [
        (None, {"fields": SUMMARY_FIELDS}),
        ("Evaluation beside the active version", {"fields": ("evaluation",)}),
        ("Weight search", {"fields": ("weight_search",)}),
        ("Parameters and data", {"fields": TABLE_FIELDS}),
    ]
    readonly_fields = [*SUMMARY_FIELDS, "evaluation", "weight_search", *TABLE_FIELDS]
    inlines = [AuditInline]
    actions = ["approve_selected", "reject_selected", "activate_selected", "rollback_action"]
    change_form_template = "admin/registry_app/modelversion/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = ModelVersion.objects.filter(pk=object_id).first()
        extra = {
            "verbs": console.valid_verbs(version) if version else [],
            "status_line": console.status_line(version) if version else "",
        }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    @admin.display(description="status")
    def status(self, obj):
        return console.status_line(obj)

    @admin.display(description="approved by")
    def approver(self, obj):
        return console.approver(obj) or "—"

    @admin.display(description="attributes (kind, weight)")
    def attribute_table(self, obj):
        return _table("admin/registry_app/attribute_table.html", rows=console.attribute_rows(obj))

    @admin.display(description="index settings")
    def index_table(self, obj):
        return _table("admin/registry_app/pairs_table.html", rows=console.index_rows(obj))

    @admin.display(description="data counts")
    def count_table(self, obj):
        return _table("admin/registry_app/pairs_table.html", rows=console.count_rows(obj))

    @admin.display(description="extract report")
    def report_table(self, obj):
        return _table("admin/registry_app/report_table.html", report=console.extract_report(obj))

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
        active = ModelVersion.objects.active()
        return _table(
            "admin/registry_app/evaluation_table.html",
            **evaluation_table(obj, active),
            version=obj,
            active=active,
        )

    @admin.display(description="attribute weights searched at training")
    def weight_search(self, obj):
        search = (obj.metrics or {}).get("weight_search")
        return _table("admin/registry_app/weight_search.html", search=search)

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
            return HttpResponseRedirect(console.version_url(version))
        return self._confirm_page(request, f"{verb.capitalize()} {version.label}?", version, verb)

    def _confirm_page(self, request, title: str, version, verb: str, status: int = 200, **extra):
        """The intermediate page: the version's evaluation beside the active one's, then Yes/No."""
        active = ModelVersion.objects.active()
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "version": version,
            "verb": verb,
            "active": active,
            **evaluation_table(version, active),
            "opts": self.model._meta,
            **extra,
        }
        return TemplateResponse(
            request, "admin/registry_app/confirm_action.html", context, status=status
        )

    def rollback_view(self, request):
        """Roll back to the confirmed target only: the form carries its label, and a POST whose
        label is no longer the rollback target (another admin acted meanwhile) is refused (409)."""
        target = ModelVersion.rollback_target()
        if request.method == "POST" and request.POST.get("confirm") == "yes":
            confirmed = request.POST.get("target", "")
            if target is None or target.label != confirmed:
                return self._rollback_refused(request, confirmed, target)
            try:
                comment = request.POST.get("comment", "") or "rollback"
                target.activate(user=request.user, comment=comment, action="rollback")
            except DomainError as exc:
                self.message_user(request, exc.detail, messages.ERROR)
            else:
                self.message_user(
                    request, f"Rolled back: {target.label} is active.", messages.SUCCESS
                )
            return HttpResponseRedirect(console.version_url(target))
        return self._confirm_page(request, "Roll back the active version?", target, "rollback")

    def _rollback_refused(self, request, confirmed: str, target):
        now = target.label if target else "nothing"
        detail = (
            f"Not rolled back: you confirmed {confirmed or 'no version'}, but the rollback target "
            f"is now {now} (the registry changed since the page was shown). Nothing was changed; "
            "check the figures again."
        )
        self.message_user(request, detail, messages.ERROR)
        return self._confirm_page(
            request, "Roll back the active version?", target, "rollback", status=409, refused=detail
        )

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


def _table(template: str, **context) -> str:
    return render_to_string(template, context)


class ReadOnlyAdmin(ReadOnlyMixin, admin.ModelAdmin):
    pass


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
        "error_text",
        "log_text",
    )
    change_list_template = "admin/registry_app/trainingrun/change_list.html"
    change_form_template = "admin/registry_app/trainingrun/change_form.html"

    def get_fieldsets(self, request, obj=None):
        """A failed run shows its error first; every run its log last."""
        details = tuple(f for f in self.readonly_fields if f not in ("error_text", "log_text"))
        if obj is not None and obj.state == RunState.FAILED:
            return [("Why it failed", {"fields": ("error_text",)}), (None, {"fields": details}),
                    ("Log", {"fields": ("log_text",)})]  # fmt: skip
        return [(None, {"fields": details}), ("Log", {"fields": ("log_text",)})]

    @admin.display(description="progress")
    def progress_bar(self, obj):
        pct = round(obj.progress * 100)
        return format_html(
            '<progress class="run-progress" max="100" value="{}" data-run="{}"></progress> '
            '<span class="run-progress-text">{}%</span>',
            pct,
            obj.pk,
            pct,
        )

    @admin.display(description="log")
    def log_text(self, obj):
        return format_html("<pre class='run-log'>{}</pre>", obj.log or "—")

    @admin.display(description="error")
    def error_text(self, obj):
        summary = console.run_summary(obj)
        if not summary["headline"]:
            return "—"
        return format_html(
            "<p class='run-error'>{}</p><details><summary>Traceback</summary>"
            "<pre class='run-log'>{}</pre></details>",
            summary["headline"],
            summary["trace"] or "—",
        )


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ("at", "version", "action", "from_state", "to_state", "username", "comment")
    list_filter = ("action", "to_state")
    search_fields = ("version__label", "username", "comment")
