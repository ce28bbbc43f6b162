"""API routes of workflow_app."""

urlpatterns: list = []
