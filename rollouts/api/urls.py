from rest_framework.routers import SimpleRouter

from rollouts.api.device_filters import DeviceFilterViewSet
from rollouts.api.views import ActionViewSet, RolloutViewSet

router = SimpleRouter()
router.register("rollouts", RolloutViewSet, basename="rollout")
router.register("actions", ActionViewSet, basename="action")
router.register("device-filters", DeviceFilterViewSet, basename="device-filter")

urlpatterns = router.urls
