"""URL map: the REST API under /api/v1/, the admin console, the console pages."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

admin.site.site_header = "Routing ML console"
admin.site.site_title = "Routing ML console"
admin.site.index_title = "Operations"
admin.site.index_template = "admin/operations_home.html"  # panels above the app list

urlpatterns = [
    # the hot inference routes first: Django tries patterns in order on every request
    path("api/v1/", include("inference_app.api_urls")),
    path("api/v1/auth/", include("accounts_app.api_urls")),
    path("api/v1/", include("registry_app.api_urls")),
    path("api/v1/", include("workflow_app.api_urls")),
    path("api/v1/", include("inference_app.routing_urls")),
    path("admin/", admin.site.urls),
    # browsers ask for /favicon.ico on every page, the admin's included
    path(
        "favicon.ico",
        RedirectView.as_view(url=f"/{settings.STATIC_URL.lstrip('/')}favicon.ico", permanent=True),
    ),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # the split view serves its start-up script as a file: no inline script under the CSP
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("", include("accounts_app.page_urls")),
    path("", include("inference_app.page_urls")),
]

handler404 = "routing_site.errors.json_404"
handler500 = "routing_site.errors.json_500"
