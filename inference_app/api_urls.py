"""API routes of inference_app."""

urlpatterns: list = []
