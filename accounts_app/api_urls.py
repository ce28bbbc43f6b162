"""API routes of accounts_app."""

urlpatterns: list = []
