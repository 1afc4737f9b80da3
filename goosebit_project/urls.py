"""URL layout: admin for operators, /api/v1 and hawkBit's /rest/v1 for integrations,
/<tenant>/controller/v1 for devices.
"""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from goosebit_project import metrics, views

admin.site.site_header = "goosebit_project"
admin.site.site_title = "goosebit_project"
admin.site.index_title = "Fleet overview"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("goosebit_project.api_urls")),
    path("rest/v1/", include("mgmt.urls")),
    path("", include("ddi.urls")),
]
