"""The operator REST API: every app contributes its routes under /api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("devices.api.urls")),
    path("", include("software.api.urls")),
    path("", include("rollouts.api.urls")),
]
