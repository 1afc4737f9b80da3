"""The hawkBit Management API under /rest/v1 (namespace ``mgmt``).

Each area lists its routes in its own module (mgmt.routes_*). Paths are hawkBit's, without trailing
slashes, as its clients call them.
"""

from django.urls import path

from mgmt import routes_software, routes_targets
from mgmt.views import system

app_name = "mgmt"

urlpatterns = [
    path("userinfo", system.UserInfoView.as_view(), name="userinfo"),
    path("system/configs", system.SystemConfigsView.as_view(), name="system-configs"),
    path("system/configs/<str:key>", system.SystemConfigView.as_view(), name="system-config"),
    *routes_software.urlpatterns,
    *routes_targets.urlpatterns,
]
