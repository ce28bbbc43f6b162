"""The console pages: dashboard, routing editor, blueprint editor.

Each page is a shell: its script reads and writes everything through the REST API with the
session's cookies, so the pages and the ERP see the same rules and the same errors.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts_app.roles import Role, has_role

# The attributes engineers fill in most often for a new item, in the order they think of them;
# any other attribute of the source goes through "Add attribute".
EDITOR_ATTRIBUTES = [
    {"name": "PART_TYPE", "label": "Part type", "kind": "text"},
    {"name": "ITEM_MATERIAL", "label": "Material", "kind": "text"},
    {"name": "SealTypeGrup", "label": "Seal type group", "kind": "text"},
    {"name": "OUTDIAMETER", "label": "Outer diameter", "kind": "number"},
    {"name": "INDIAMETER", "label": "Inner diameter", "kind": "number"},
    {"name": "OUTTHICKNESS", "label": "Thickness", "kind": "number"},
    {"name": "ITEM_NM", "label": "Item name", "kind": "text"},
]


@require_safe
@never_cache
@login_required
def dashboard(request):
    return render(request, "console/dashboard.html", {})


@require_safe
@never_cache
@login_required
def editor(request):
    context = {
        "attributes": EDITOR_ATTRIBUTES,
        "can_save": has_role(request.user, Role.ENGINEER),
        "initial_item": request.GET.get("item", "")[:64],
    }
    return render(request, "console/editor.html", context)


@require_safe
@never_cache
@login_required
def blueprints(request):
    context = {"can_edit": has_role(request.user, Role.ENGINEER)}
    return render(request, "console/blueprints.html", context)
