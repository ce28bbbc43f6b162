"""Workflow config, mapping profiles and blueprints in the operations console.

Every form runs the same validation as the API (settings whitelist, profile validators, graph
checks) in ``clean()``, so a refusal shows on the form, beside the field it concerns, and
nothing is saved; ``save_model`` then calls the model verb that writes the history row.
"""

from __future__ import annotations

import json
from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from accounts_app.roles import Role, has_role
from routing_site.errors import BadInput, Conflict, DomainError
from workflow_app import settings_schema
from workflow_app.blueprints import validate_graph
from workflow_app.models import (
    Blueprint,
    BlueprintRevision,
    DataSource,
    DataSourceChange,
    MappingProfile,
    WorkflowConfig,
    check_source_registered,
    normalise_document,
)

JSON_WIDGET = forms.Textarea(attrs={"rows": 24, "cols": 110, "class": "json-editor"})


def _copy_into(target, source) -> None:
    """Make the admin's unsaved ``target`` the row a model verb saved (for its redirect)."""
    target.__dict__.update({k: v for k, v in source.__dict__.items() if k != "_state"})
    target._state.adding, target._state.db = False, source._state.db


def _pretty(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


# --- workflow config --------------------------------------------------------------------------


def _setting_field(setting: settings_schema.Setting, initial) -> forms.Field:
    common = {"required": False, "initial": initial, "help_text": setting.help}
    if setting.kind is bool:
        return forms.BooleanField(**common)
    if setting.kind in (list, dict):
        return forms.JSONField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), **common)
    # typed as text so the whitelist's own messages (type, range) are the ones shown
    return forms.CharField(**common)


def _parse_scalar(raw: str):
    text = (raw or "").strip()
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            continue
    return text  # validate_changes names the expected type


class WorkflowRevisionForm(forms.ModelForm):
    """A new revision: every setting prefilled with its current value; changed ones are saved."""

    training_profile = forms.ChoiceField(required=False)
    export_profile = forms.ChoiceField(required=False)

    class Meta:
        model = WorkflowConfig
        fields = ["comment"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = WorkflowConfig.current_values()
        self.current_profiles = WorkflowConfig.current_profiles()
        for key, setting in settings_schema.SETTINGS.items():
            self.fields[key] = _setting_field(setting, self.current[key])
        for key, direction in (("training_profile", "input"), ("export_profile", "output")):
            names = MappingProfile.objects.names(direction)
            self.fields[key].choices = [(n, n) for n in names]
            self.fields[key].initial = self.current_profiles[key]
        self.changes: dict = {}

    def clean(self):
        data = super().clean()
        changes = {}
        for key, setting in settings_schema.SETTINGS.items():
            if key in self.errors:
                continue
            value = data.get(key)
            if setting.kind not in (bool, list, dict):
                value = _parse_scalar(value)
            if value != self.current[key]:
                changes[key] = value
        try:
            self.changes = settings_schema.validate_changes(changes)
        except BadInput as exc:
            for key, messages_ in exc.fields.items():
                self.add_error(key if key in self.fields else None, messages_)
        moved = {
            k: data.get(k)
            for k in ("training_profile", "export_profile")
            if data.get(k) and data.get(k) != self.current_profiles[k]
        }
        self.profiles = moved
        if not self.errors and not changes and not moved:
            raise forms.ValidationError("Nothing changed: edit at least one setting or profile.")
        return data


@admin.register(WorkflowConfig)
class WorkflowConfigAdmin(admin.ModelAdmin):
    list_display = (
        "revision",
        "created_at",
        "created_by",
        "changed",
        "training_profile",
        "export_profile",
        "comment",
    )
    list_display_links = ("revision",)
    readonly_fields = (
        "revision",
        "created_at",
        "created_by",
        "comment",
        "changes_json",
        "values_json",
        "training_profile",
        "export_profile",
    )
    fields = readonly_fields

    @admin.display(description="revision", ordering="id")
    def revision(self, obj):
        return f"#{obj.pk}"

    @admin.display(description="changes")
    def changed(self, obj):
        return (
            ", ".join(f"{k}={json.dumps(v)}" for k, v in (obj.changes or {}).items())[:200] or "—"
        )

    @admin.display(description="changes")
    def changes_json(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.changes))

    @admin.display(description="all values after the change")
    def values_json(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.values))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = WorkflowRevisionForm
            kwargs["fields"] = None
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["comment", *settings_schema.SETTINGS, "training_profile", "export_profile"]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        return False  # history is read-only: a change is a new revision

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        row = WorkflowConfig.apply(
            form.changes,
            user=request.user,
            comment=form.cleaned_data.get("comment") or "admin change",
            training_profile=form.profiles.get("training_profile"),
            export_profile=form.profiles.get("export_profile"),
        )
        _copy_into(obj, row)


# --- data sources -----------------------------------------------------------------------------


class DataSourceForm(forms.ModelForm):
    class Meta:
        model = DataSource
        fields = ["name", "kind", "location", "options", "description"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        row = DataSource(**{k: data.get(k) for k in self.Meta.fields})
        row.name = row.name or self.instance.name
        try:
            row.validate()
        except BadInput as exc:
            for key, messages_ in exc.fields.items():
                for message in messages_:
                    self.add_error(key if key in self.Meta.fields else None, message)
        return data


@admin.register(DataSource)
class DataSourceAdmin(admin.ModelAdmin):
    """Admins only (the whole admin is): engineers name a source, never a location."""

    form = DataSourceForm
    list_display = ("name", "kind", "shown_location", "description", "updated_at", "updated_by")
    search_fields = ("name", "description")

    def get_readonly_fields(self, request, obj=None):
        stamps = ("created_at", "created_by", "updated_at", "updated_by")
        return ("name", *stamps) if obj else stamps

    def save_model(self, request, obj, form, change):
        fields = {k: form.cleaned_data.get(k) for k in ("kind", "location", "options")}
        fields["description"] = form.cleaned_data.get("description") or ""
        if change:
            row = DataSource.objects.get(pk=obj.pk).change(user=request.user, **fields)
        else:
            row = DataSource.objects.register(
                user=request.user, name=form.cleaned_data["name"], **fields
            )
        _copy_into(obj, row)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not (obj and obj.used_by())

    def delete_model(self, request, obj) -> None:
        obj.remove(user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            try:
                row.remove(user=request.user)
            except Conflict as exc:
                self.message_user(request, exc.detail, messages.ERROR)


@admin.register(DataSourceChange)
class DataSourceChangeAdmin(admin.ModelAdmin):
    """The audit trail of data sources: read only."""

    list_display = ("at", "source_name", "action", "by", "before", "after")
    list_filter = ("action",)
    search_fields = ("source_name",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- mapping profiles -------------------------------------------------------------------------


class MappingProfileForm(forms.ModelForm):
    spec = forms.JSONField(widget=JSON_WIDGET, help_text="The profile JSON (see docs/profiles.md).")

    class Meta:
        model = MappingProfile
        fields = ["name", "direction", "description", "spec"]

    def clean(self):
        data = super().clean()
        spec = data.get("spec")
        if self.errors or not isinstance(spec, dict):
            if "spec" not in self.errors and not isinstance(spec, dict):
                self.add_error("spec", "The profile must be a JSON object.")
            return data
        name = data.get("name") or (self.instance.name if self.instance.pk else None)
        document = {**spec, "name": name, "direction": data.get("direction")}
        if data.get("description"):
            document["description"] = data["description"]
        try:
            direction, spec = normalise_document(document)
            check_source_registered(direction, spec)
            self.document = {"direction": data.get("direction"), **spec}
        except BadInput as exc:
            for key, messages_ in exc.fields.items():
                target = key if key in ("name", "direction") else "spec"
                prefix = "" if target != "spec" else f"{key}: "
                for message in messages_:
                    self.add_error(target, f"{prefix}{message}")
        return data


@admin.register(MappingProfile)
class MappingProfileAdmin(admin.ModelAdmin):
    form = MappingProfileForm
    list_display = ("name", "direction", "description", "updated_at", "updated_by", "preview_link")
    list_filter = ("direction",)
    search_fields = ("name", "description")
    change_form_template = "admin/workflow_app/mappingprofile/change_form.html"
    change_list_template = "admin/workflow_app/mappingprofile/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return ("name", "updated_at", "updated_by") if obj else ("updated_at", "updated_by")

    @admin.display(description="preview")
    def preview_link(self, obj):
        url = reverse("admin:workflow_app_mappingprofile_preview", args=[obj.pk])
        return format_html('<a href="{}">preview</a>', url)

    def save_model(self, request, obj, form, change):
        row, _ = MappingProfile.objects.put(form.document, user=request.user)
        _copy_into(obj, row)

    def has_delete_permission(self, request, obj=None) -> bool:
        """The training and export profiles cannot be deleted (their change page says why)."""
        return super().has_delete_permission(request, obj) and not (obj and obj.uses())

    def delete_queryset(self, request, queryset) -> None:
        for row in queryset:
            try:
                row.remove()
            except Conflict as exc:
                self.message_user(request, exc.detail, messages.ERROR)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="workflow_app_mappingprofile_preview",
            ),
            path(
                "from-source/",
                engineer_view(self.from_source_view),
                name="workflow_app_mappingprofile_from_source",
            ),
        ]
        return own + super().get_urls()

    def from_source_view(self, request):
        """New profile from source: propose (GET ?source=), edit, preview, save as new."""
        context = {
            **self.admin_site.each_context(request),
            "title": "New profile from source",
            "opts": self.model._meta,
            "is_nav_sidebar_enabled": False,  # engineers see no admin models beside this page
            "sources": DataSource.objects.names(),
        }
        if request.method == "POST":
            form = FromSourceForm(request.POST)
            saved = _save_or_preview(request, form, context)
            if saved is not None:
                self.message_user(
                    request, f"Saved the new mapping profile {saved.name!r}.", messages.SUCCESS
                )
                url = reverse("admin:workflow_app_mappingprofile_from_source")
                return HttpResponseRedirect(f"{url}?saved={saved.name}")
        else:
            form = _proposal(request.GET.get("source", "").strip(), context)
        context.update(form=form, picked=form["source"].value() if form else "")
        template = "admin/workflow_app/mappingprofile/from_source.html"
        status = 400 if context.get("error") else 200
        return TemplateResponse(request, template, context, status=status)

    def preview_view(self, request, pk: int):
        from workflow_app.output_profiles import preview as output_preview
        from workflow_app.preview import preview_profile

        row = MappingProfile.objects.filter(pk=pk).first()
        if row is None:
            self.message_user(request, "No such profile.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:workflow_app_mappingprofile_changelist"))
        try:
            rows = max(0, min(int(request.GET.get("rows", 10)), 100))
        except ValueError:
            rows = 10
        result, error, tables = None, None, []
        try:
            spec = row.validated()
            result = (
                output_preview(spec) if row.direction == row.OUTPUT else preview_profile(spec, rows)
            )
            # a list of pairs: a dict with an "items" key defeats the template's .items
            tables = _grid(result)
        except DomainError as exc:
            error = exc
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview of {row.name}",
            "profile": row,
            "result": result,
            "tables": tables,
            "error": error,
            "error_fields": sorted(error.fields.items()) if error else [],
            "opts": self.model._meta,
            "original": row,
        }
        return TemplateResponse(request, "admin/workflow_app/mappingprofile/preview.html", context)


def engineer_view(view):
    """An admin-styled page for engineers and admins (the admin site itself admits admins
    only): anonymous → the login page, a lower role → 403; CSRF-checked, never cached."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not has_role(request.user, Role.ENGINEER):
            raise PermissionDenied("This page needs the engineer role or higher.")
        return view(request, *args, **kwargs)

    return never_cache(csrf_protect(wrapped))


class PrettyJSONField(forms.JSONField):
    """A JSON field shown indented, for editing by hand."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False, cls=self.encoder)


class FromSourceForm(forms.Form):
    """The proposed profile as the engineer accepts or edits it; saved only by the save button."""

    source = forms.CharField(widget=forms.HiddenInput)
    name = forms.SlugField(max_length=100, help_text="The new profile's name (a new one).")
    description = forms.CharField(max_length=300, required=False)
    spec = PrettyJSONField(
        widget=forms.Textarea(attrs={"rows": 28, "cols": 110, "class": "json-editor"}),
        help_text="The proposed input profile (see docs/profiles.md); edit it as needed.",
    )

    def document(self) -> dict | None:
        """The validated profile document, or None with every problem added to the form."""
        data = self.cleaned_data
        spec = data.get("spec")
        if not isinstance(spec, dict):
            self.add_error("spec", "The profile must be a JSON object.")
            return None
        document = {**spec, "name": data["name"], "direction": MappingProfile.INPUT}
        if data.get("description"):
            document["description"] = data["description"]
        try:
            direction, spec = normalise_document(document)
            check_source_registered(direction, spec)
        except BadInput as exc:
            for key, messages_ in exc.fields.items():
                target = "name" if key == "name" else "spec"
                for message in messages_:
                    self.add_error(target, message if target == "name" else f"{key}: {message}")
            return None
        return {"direction": direction, **spec}


def _proposal(source: str, context: dict) -> FromSourceForm | None:
    """Propose a profile for ``source`` into ``context``; the form holding it, or None."""
    from workflow_app.suggest import suggest_profile

    if not source:
        return None
    try:
        answer = suggest_profile(source)
    except DomainError as exc:
        context["error"] = exc
        return None
    profile = answer["profile"]
    context["answer"] = answer
    context["roles"] = list(answer["proposal"]["tables"].items())  # a role is named "items"
    context["fields"] = [
        {"role": role, "field": fld, **p, "column": _shown(p["column"])}
        for role, mapping in answer["proposal"]["columns"].items()
        for fld, p in mapping.items()
    ]
    initial = {
        "source": source,
        "name": profile["name"],
        "description": profile["description"],
        "spec": {k: v for k, v in profile.items() if k not in ("name", "description")},
    }
    return FromSourceForm(initial=initial)


def _shown(column) -> str:
    if isinstance(column, str):
        return column
    on = ", ".join(f"{a} = {column['table']}.{b}" for a, b in column["on"].items())
    return f"{column['table']}.{column['column']} (joined on {on})"


def _save_or_preview(request, form: FromSourceForm, context: dict):
    """The saved row (save button, valid form), else None with the preview in ``context``."""
    from workflow_app.preview import preview_profile

    document = form.document() if form.is_valid() else None
    if document is None:
        return None
    if request.POST.get("action") == "save":
        try:
            row, _ = MappingProfile.objects.put(document, user=request.user, new=True)
        except Conflict as exc:
            form.add_error("name", exc.detail)
            return None
        return row
    try:
        spec = {k: v for k, v in document.items() if k != "direction"}
        result = preview_profile(spec, 10)
    except DomainError as exc:
        context["preview_error"] = exc
        return None
    context["preview"] = result
    context["preview_tables"] = _grid(result)
    return None


def _grid(result: dict) -> list:
    """The preview's tables as (role, table) pairs with each table's rows as a grid."""
    tables = list((result.get("tables") or {}).items())
    for _, table in tables:
        for column in table["columns"]:
            joined = column.get("joined")
            if joined:
                column["joined_text"] = "constant" if "value" in joined else _shown(joined)
        fields = [c["field"] for c in table["columns"]]
        table["grid"] = [[r.get(f) for f in fields] for r in table["rows"]]
    return tables


# --- blueprints -------------------------------------------------------------------------------


class BlueprintForm(forms.ModelForm):
    graph = forms.JSONField(widget=JSON_WIDGET, help_text="Nodes and edges (see docs/profiles.md).")
    comment = forms.CharField(
        required=False, max_length=300, help_text="Recorded with the revision."
    )

    class Meta:
        model = Blueprint
        fields = ["name", "description", "graph"]

    def clean_graph(self):
        graph = self.cleaned_data.get("graph")
        errors = validate_graph(graph)
        if errors:
            raise forms.ValidationError([_graph_message(e) for e in errors])
        return graph


def _graph_message(error: dict) -> str:
    node = f"node {error['node']!r}: " if error.get("node") else ""
    return f"{node}{error['message']} ({error['path']})"


class BlueprintRevisionInline(admin.TabularInline):
    model = BlueprintRevision
    fields = ("number", "created_at", "created_by", "comment", "name", "open_link")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-number",)
    show_change_link = False

    @admin.display(description="graph")
    def open_link(self, obj):
        url = reverse("admin:workflow_app_blueprintrevision_change", args=[obj.pk])
        return format_html('<a href="{}">view</a>', url)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Blueprint)
class BlueprintAdmin(admin.ModelAdmin):
    form = BlueprintForm
    list_display = ("name", "revision", "applied_revision", "updated_at", "updated_by")
    readonly_fields = ("revision", "applied_revision", "applied_config", "updated_at", "updated_by")
    inlines = [BlueprintRevisionInline]
    actions = ["apply_selected"]

    def save_model(self, request, obj, form, change):
        comment = form.cleaned_data.get("comment", "")
        data = form.cleaned_data
        if change:
            obj.save_graph(
                data["graph"],
                user=request.user,
                comment=comment or "admin edit",
                name=data["name"],
                description=data.get("description", ""),
            )
        else:
            made = Blueprint.create(
                data["name"], data["graph"], data.get("description", ""), request.user
            )
            _copy_into(obj, made)

    @admin.action(description="Apply the selected blueprint (new workflow config revision)")
    def apply_selected(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one blueprint to apply.", messages.WARNING)
            return
        bp = queryset.first()
        try:
            config = bp.apply(user=request.user)
        except DomainError as exc:
            self.message_user(request, f"{bp.name} was not applied: {exc.detail}", messages.ERROR)
            return
        self.message_user(
            request,
            f"Applied {bp.name} rev {bp.revision}: config revision "
            f"#{config.pk}; running servers pick it up within seconds.",
            messages.SUCCESS,
        )


@admin.register(BlueprintRevision)
class BlueprintRevisionAdmin(admin.ModelAdmin):
    list_display = ("blueprint", "number", "created_at", "created_by", "comment")
    list_filter = ("blueprint",)
    readonly_fields = (
        "blueprint",
        "number",
        "name",
        "description",
        "created_at",
        "created_by",
        "comment",
        "graph_json",
    )
    fields = readonly_fields

    @admin.display(description="graph")
    def graph_json(self, obj):
        return format_html("<pre>{}</pre>", _pretty(obj.graph))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
