"""API routes of registry_app."""

urlpatterns: list = []
