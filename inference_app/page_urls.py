"""Console page routes of inference_app."""

urlpatterns: list = []
