"""Console page routes of accounts_app."""

urlpatterns: list = []
