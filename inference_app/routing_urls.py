"""API routes of saved routings (included under /api/v1/)."""

from django.urls import path

from inference_app import routings

urlpatterns = [
    path("routings", routings.RoutingListView.as_view(), name="routings"),
    path("routings/validate", routings.RoutingValidateView.as_view(), name="routing-validate"),
    path("routings/<int:pk>", routings.RoutingDetailView.as_view(), name="routing"),
    path("routings/<int:pk>/export", routings.RoutingExportView.as_view(), name="routing-export"),
    path("routing-rules", routings.RoutingRulesView.as_view(), name="routing-rules"),
]
