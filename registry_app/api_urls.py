"""API routes of the model registry."""

from django.urls import path

from registry_app import api

urlpatterns = [
    path("versions", api.VersionListView.as_view(), name="versions"),
    path("versions/rollback", api.RollbackView.as_view(), name="version-rollback"),
    path("versions/<str:label>/approve", api.ApproveView.as_view(), name="version-approve"),
    path("versions/<str:label>/reject", api.RejectView.as_view(), name="version-reject"),
    path("versions/<str:label>/activate", api.ActivateView.as_view(), name="version-activate"),
    path("training-runs", api.TrainingRunListView.as_view(), name="training-runs"),
    path("training-runs/<int:pk>", api.TrainingRunView.as_view(), name="training-run"),
]
