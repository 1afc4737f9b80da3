"""The hawkBit Management API under /rest/v1 (namespace ``mgmt``).

Each area lists its routes in its own module (mgmt.routes_*). Paths are hawkBit's, without trailing
slashes, as its clients call them.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from mgmt import routes_rollouts, routes_software, routes_targets
from mgmt.views import system

app_name = "mgmt"

urlpatterns = [
    path(
        "openapi.json",
        SpectacularAPIView.as_view(
            custom_settings={
                "TITLE": "hawkBit Management API (the part goosebit_project answers)",
                "DESCRIPTION": "hawkBit's /rest/v1: see the README's hawkBit Management API section.",
                "PREPROCESSING_HOOKS": ["mgmt.schema.only_management_api"],
            }
        ),
        name="openapi",
    ),
    path("userinfo", system.UserInfoView.as_view(), name="userinfo"),
    path("system/configs", system.SystemConfigsView.as_view(), name="system-configs"),
    path("system/configs/<str:key>", system.SystemConfigView.as_view(), name="system-config"),
    *routes_software.urlpatterns,
    *routes_targets.urlpatterns,
    *routes_rollouts.urlpatterns,
]
