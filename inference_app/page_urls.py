"""Console page routes of inference_app, included at the site root."""

from django.urls import path

from inference_app import pages

urlpatterns = [
    path("", pages.dashboard, name="dashboard"),
    path("editor/", pages.editor, name="editor"),
    path("blueprints/", pages.blueprints, name="blueprints"),
]
