"""API routes of workflow_app (included under /api/v1/)."""

from django.urls import path

from workflow_app import api

urlpatterns = [
    path("workflow", api.WorkflowView.as_view(), name="workflow"),
    path("mapping-profiles", api.MappingProfileListView.as_view(), name="mapping-profiles"),
    path(
        "mapping-profiles/<slug:name>",
        api.MappingProfileDetailView.as_view(),
        name="mapping-profile",
    ),
    path(
        "mapping-profiles/<slug:name>/preview",
        api.MappingProfilePreviewView.as_view(),
        name="mapping-profile-preview",
    ),
    path("sources", api.DataSourceListView.as_view(), name="sources"),
    path("sources/<slug:name>", api.DataSourceDetailView.as_view(), name="source"),
    path(
        "sources/<slug:name>/suggest-profile",
        api.SourceSuggestProfileView.as_view(),
        name="source-suggest-profile",
    ),
    path("blueprints", api.BlueprintListView.as_view(), name="blueprints"),
    path("blueprints/validate", api.BlueprintValidateView.as_view(), name="blueprint-validate"),
    path("blueprints/<int:pk>", api.BlueprintDetailView.as_view(), name="blueprint"),
    path(
        "blueprints/<int:pk>/revisions",
        api.BlueprintRevisionsView.as_view(),
        name="blueprint-revisions",
    ),
    path("blueprints/<int:pk>/apply", api.BlueprintApplyView.as_view(), name="blueprint-apply"),
]
