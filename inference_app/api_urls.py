"""API routes of the inference service."""

from django.urls import path

from inference_app import api

urlpatterns = [
    path("predict", api.PredictView.as_view(), name="predict"),
    path("similar", api.SimilarView.as_view(), name="similar"),
    path("time-summary", api.TimeSummaryView.as_view(), name="time-summary"),
    path("items/<str:code>", api.ItemView.as_view(), name="item"),
    path("model", api.ModelView.as_view(), name="model"),
    path("health", api.HealthView.as_view(), name="health"),
    path("metrics", api.MetricsView.as_view(), name="metrics"),
    path("dashboard-data", api.DashboardDataView.as_view(), name="dashboard-data"),
]
