from django.urls import path
from rest_framework.routers import SimpleRouter

from devices.api.tags import DeviceTagViewSet
from devices.api.tenant_settings import TenantSettingsView, TenantSettingView
from devices.api.views import DeviceViewSet

router = SimpleRouter()
router.register("devices", DeviceViewSet, basename="device")
router.register("device-tags", DeviceTagViewSet, basename="device-tag")

urlpatterns = [
    *router.urls,
    path("tenant-settings/", TenantSettingsView.as_view(), name="tenant-settings"),
    path("tenant-settings/<str:key>/", TenantSettingView.as_view(), name="tenant-setting"),
]
